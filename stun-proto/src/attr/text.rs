//! Text attributes and error reporting.
//!
//! - RFC 8489 §14.3 USERNAME: UTF-8, fewer than 509 bytes when sent; up to
//!   763 bytes accepted (RFC 5389 compatibility).
//! - RFC 8489 §14.9 REALM, §14.10 NONCE, §14.14 SOFTWARE, and the §14.8
//!   reason phrase: fewer than 128 characters; at most 509 bytes sent and
//!   763 bytes accepted.
//! - RFC 8489 §14.16 ALTERNATE-DOMAIN: 255 or fewer ASCII characters.
//! - RFC 8489 §14.8 ERROR-CODE: class 3..=6 and number 0..=99, reserved bits
//!   ignored. RFC 8656 §18.12 ADDRESS-ERROR-CODE adds a family byte.
//! - RFC 8489 §14.13 UNKNOWN-ATTRIBUTES: a list of 16-bit types (RFC 3489's
//!   padding by repetition is accepted as extra entries).
//!
//! On decode only the byte limits are enforced (the RFCs' "when decoding"
//! bounds); character counts are enforced when building.

use super::{Attribute, AttributeType, Context, error, put};
use crate::error::{AttributeError, AttributeErrorKind};

/// Bytes a receiver must accept for REALM, NONCE, SOFTWARE, USERNAME and
/// reason phrases (RFC 8489 §14.3, §14.8-14.10, §14.14).
pub const MAX_DECODED_TEXT: usize = 763;
/// Bytes a sender may use for REALM, NONCE, SOFTWARE and reason phrases.
pub const MAX_ENCODED_TEXT: usize = 509;
/// Characters allowed in REALM, NONCE, SOFTWARE and reason phrases (fewer
/// than 128).
pub const MAX_TEXT_CHARS: usize = 127;
/// USERNAME bytes a sender may use (fewer than 509, RFC 8489 §14.3).
pub const MAX_ENCODED_USERNAME: usize = 508;
/// ALTERNATE-DOMAIN length (RFC 8489 §14.16).
pub const MAX_ALTERNATE_DOMAIN: usize = 255;

fn decode_text<'a, A: Attribute<'a>>(value: &'a [u8]) -> Result<&'a str, AttributeError> {
    if value.len() > MAX_DECODED_TEXT {
        return Err(error::<A>(AttributeErrorKind::TooLong {
            len: value.len(),
            max: MAX_DECODED_TEXT,
        }));
    }
    core::str::from_utf8(value).map_err(|_| error::<A>(AttributeErrorKind::NotUtf8))
}

fn check_encoded_text<'a, A: Attribute<'a>>(s: &str) -> Result<(), AttributeError> {
    if s.len() > MAX_ENCODED_TEXT {
        return Err(error::<A>(AttributeErrorKind::TooLong {
            len: s.len(),
            max: MAX_ENCODED_TEXT,
        }));
    }
    let chars = s.chars().count();
    if chars > MAX_TEXT_CHARS {
        return Err(error::<A>(AttributeErrorKind::TooManyChars { chars }));
    }
    Ok(())
}

macro_rules! text_attribute {
    ($(#[$doc:meta])* $name:ident, $type:ident, check = $check:expr) => {
        $(#[$doc])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
        pub struct $name<'a>(&'a str);

        impl<'a> $name<'a> {
            /// Checks `text` against the limits for sending.
            pub fn new(text: &'a str) -> Result<Self, AttributeError> {
                let check: fn(&str) -> Result<(), AttributeError> = $check;
                check(text)?;
                Ok($name(text))
            }

            /// The text.
            pub fn as_str(&self) -> &'a str {
                self.0
            }
        }

        impl<'a> Attribute<'a> for $name<'a> {
            const TYPE: AttributeType = AttributeType::$type;

            fn decode(value: &'a [u8], _: &Context) -> Result<Self, AttributeError> {
                decode_text::<Self>(value).map($name)
            }

            fn encoded_len(&self) -> usize {
                self.0.len()
            }

            fn encode(&self, out: &mut [u8], _: &Context) {
                put(out, 0, self.0.as_bytes())
            }
        }
    };
}

text_attribute!(
    /// USERNAME (RFC 8489 §14.3). The sender applies OpaqueString first
    /// ([`crate::auth::opaque_string`]).
    Username, USERNAME, check = |s| {
        if s.len() > MAX_ENCODED_USERNAME {
            return Err(error::<Username>(AttributeErrorKind::TooLong {
                len: s.len(),
                max: MAX_ENCODED_USERNAME,
            }));
        }
        Ok(())
    }
);
text_attribute!(
    /// REALM (RFC 8489 §14.9).
    Realm, REALM, check = check_encoded_text::<Realm>
);
text_attribute!(
    /// NONCE (RFC 8489 §14.10). See [`Nonce::security_features`] for the
    /// RFC 8489 §9.2 nonce cookie.
    Nonce, NONCE, check = check_encoded_text::<Nonce>
);
text_attribute!(
    /// SOFTWARE (RFC 8489 §14.14): the sender's name and version.
    Software, SOFTWARE, check = check_encoded_text::<Software>
);

/// The nonce cookie prefix of RFC 8489 §9.2.
pub const NONCE_COOKIE_PREFIX: &str = "obMatJos2";

impl Nonce<'_> {
    /// The 24 STUN Security Feature bits of the RFC 8489 §9.2 nonce cookie
    /// (`"obMatJos2"` and 4 base64 characters), if the nonce has one. Bit 0
    /// (the most significant) is "Password algorithms", bit 1 "Username
    /// anonymity" (RFC 8489 §18.1); see [`SecurityFeatures`].
    pub fn security_features(&self) -> Option<SecurityFeatures> {
        let rest = self.0.strip_prefix(NONCE_COOKIE_PREFIX)?;
        let b64 = rest.as_bytes().get(..4)?;
        let mut bits = 0u32;
        for &c in b64 {
            let v = match c {
                b'A'..=b'Z' => c - b'A',
                b'a'..=b'z' => c - b'a' + 26,
                b'0'..=b'9' => c - b'0' + 52,
                b'+' => 62,
                b'/' => 63,
                _ => return None,
            };
            bits = (bits << 6) | u32::from(v);
        }
        Some(SecurityFeatures(bits))
    }
}

/// The 24-bit STUN Security Features set (RFC 8489 §18.1).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub struct SecurityFeatures(pub u32);

impl SecurityFeatures {
    /// "Password algorithms": the server supports PASSWORD-ALGORITHMS.
    pub const PASSWORD_ALGORITHMS: u32 = 1 << 23;
    /// "Username anonymity": the server supports USERHASH.
    pub const USERNAME_ANONYMITY: u32 = 1 << 22;

    /// Whether the server offers PASSWORD-ALGORITHMS (bid-down protection).
    pub fn password_algorithms(self) -> bool {
        self.0 & Self::PASSWORD_ALGORITHMS != 0
    }

    /// Whether the server offers USERHASH.
    pub fn username_anonymity(self) -> bool {
        self.0 & Self::USERNAME_ANONYMITY != 0
    }

    /// The 13-character nonce cookie announcing these features.
    pub fn cookie(self) -> [u8; 13] {
        const B64: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
        let mut out = [0u8; 13];
        put(&mut out, 0, NONCE_COOKIE_PREFIX.as_bytes());
        for i in 0..4 {
            let sextet = (self.0 >> (18 - 6 * i)) & 0x3F;
            let c = B64.get(sextet as usize).copied().unwrap_or(b'A');
            put(&mut out, 9 + i, &[c]);
        }
        out
    }
}

/// ALTERNATE-DOMAIN (RFC 8489 §14.16): the name that authenticates the
/// ALTERNATE-SERVER over (D)TLS.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct AlternateDomain<'a>(&'a str);

impl<'a> AlternateDomain<'a> {
    /// Checks a domain: ASCII, 255 characters or fewer.
    pub fn new(domain: &'a str) -> Result<Self, AttributeError> {
        check_domain(domain.as_bytes())?;
        Ok(AlternateDomain(domain))
    }

    /// The domain.
    pub fn as_str(&self) -> &'a str {
        self.0
    }
}

fn check_domain(b: &[u8]) -> Result<(), AttributeError> {
    if b.len() > MAX_ALTERNATE_DOMAIN {
        return Err(error::<AlternateDomain>(AttributeErrorKind::TooLong {
            len: b.len(),
            max: MAX_ALTERNATE_DOMAIN,
        }));
    }
    if !b.is_ascii() {
        return Err(error::<AlternateDomain>(AttributeErrorKind::NotAscii));
    }
    Ok(())
}

impl<'a> Attribute<'a> for AlternateDomain<'a> {
    const TYPE: AttributeType = AttributeType::ALTERNATE_DOMAIN;

    fn decode(value: &'a [u8], _: &Context) -> Result<Self, AttributeError> {
        check_domain(value)?;
        core::str::from_utf8(value)
            .map(AlternateDomain)
            .map_err(|_| error::<Self>(AttributeErrorKind::NotAscii))
    }

    fn encoded_len(&self) -> usize {
        self.0.len()
    }

    fn encode(&self, out: &mut [u8], _: &Context) {
        put(out, 0, self.0.as_bytes())
    }
}

/// The recommended reason phrase of an error code (IANA "STUN Error Codes";
/// RFC 8489 §14.8, RFC 8656 §19, RFC 8445 §16.2, RFC 6062 §6.3, and the
/// RFC 3489 §11.2.9 codes since retired).
pub const fn reason_phrase(code: u16) -> Option<&'static str> {
    Some(match code {
        300 => "Try Alternate",
        400 => "Bad Request",
        401 => "Unauthenticated",
        403 => "Forbidden",
        420 => "Unknown Attribute",
        430 => "Stale Credentials",
        431 => "Integrity Check Failure",
        432 => "Missing Username",
        433 => "Use TLS",
        437 => "Allocation Mismatch",
        438 => "Stale Nonce",
        440 => "Address Family not Supported",
        441 => "Wrong Credentials",
        442 => "Unsupported Transport Protocol",
        443 => "Peer Address Family Mismatch",
        446 => "Connection Already Exists",
        447 => "Connection Timeout or Failure",
        486 => "Allocation Quota Reached",
        487 => "Role Conflict",
        500 => "Server Error",
        508 => "Insufficient Capacity",
        600 => "Global Failure",
        _ => return None,
    })
}

fn decode_code_and_reason<'a, A: Attribute<'a>>(
    class: u8,
    number: u8,
    reason: &'a [u8],
) -> Result<(u16, &'a str), AttributeError> {
    let code = u16::from(class & 0x07) * 100 + u16::from(number);
    if !(3..=6).contains(&(class & 0x07)) || number > 99 {
        return Err(error::<A>(AttributeErrorKind::ErrorCodeRange { code }));
    }
    if reason.len() > MAX_DECODED_TEXT {
        return Err(error::<A>(AttributeErrorKind::TooLong {
            len: reason.len(),
            max: MAX_DECODED_TEXT,
        }));
    }
    // The reason phrase is diagnostic text (RFC 8489 §14.8); a sender's bad
    // UTF-8 must not hide the code, so keep the valid prefix.
    let reason = match core::str::from_utf8(reason) {
        Ok(s) => s,
        Err(e) => core::str::from_utf8(reason.get(..e.valid_up_to()).unwrap_or_default())
            .unwrap_or_default(),
    };
    Ok((code, reason))
}

fn check_code<'a, A: Attribute<'a>>(code: u16, reason: &str) -> Result<(), AttributeError> {
    if !(300..=699).contains(&code) {
        return Err(error::<A>(AttributeErrorKind::ErrorCodeRange { code }));
    }
    check_encoded_text::<A>(reason)
}

/// ERROR-CODE (RFC 8489 §14.8).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct ErrorCode<'a> {
    code: u16,
    reason: &'a str,
}

impl<'a> ErrorCode<'a> {
    /// 300 Try Alternate.
    pub const TRY_ALTERNATE: u16 = 300;
    /// 400 Bad Request.
    pub const BAD_REQUEST: u16 = 400;
    /// 401 Unauthenticated.
    pub const UNAUTHENTICATED: u16 = 401;
    /// 403 Forbidden (RFC 8656).
    pub const FORBIDDEN: u16 = 403;
    /// 420 Unknown Attribute.
    pub const UNKNOWN_ATTRIBUTE: u16 = 420;
    /// 437 Allocation Mismatch (RFC 8656).
    pub const ALLOCATION_MISMATCH: u16 = 437;
    /// 438 Stale Nonce.
    pub const STALE_NONCE: u16 = 438;
    /// 440 Address Family not Supported (RFC 8656).
    pub const ADDRESS_FAMILY_NOT_SUPPORTED: u16 = 440;
    /// 441 Wrong Credentials (RFC 8656).
    pub const WRONG_CREDENTIALS: u16 = 441;
    /// 442 Unsupported Transport Protocol (RFC 8656).
    pub const UNSUPPORTED_TRANSPORT_PROTOCOL: u16 = 442;
    /// 443 Peer Address Family Mismatch (RFC 8656).
    pub const PEER_ADDRESS_FAMILY_MISMATCH: u16 = 443;
    /// 446 Connection Already Exists (RFC 6062).
    pub const CONNECTION_ALREADY_EXISTS: u16 = 446;
    /// 447 Connection Timeout or Failure (RFC 6062).
    pub const CONNECTION_TIMEOUT_OR_FAILURE: u16 = 447;
    /// 486 Allocation Quota Reached (RFC 8656).
    pub const ALLOCATION_QUOTA_REACHED: u16 = 486;
    /// 487 Role Conflict (RFC 8445).
    pub const ROLE_CONFLICT: u16 = 487;
    /// 500 Server Error.
    pub const SERVER_ERROR: u16 = 500;
    /// 508 Insufficient Capacity (RFC 8656).
    pub const INSUFFICIENT_CAPACITY: u16 = 508;

    /// An error code with a reason phrase of the caller's.
    pub fn new(code: u16, reason: &'a str) -> Result<Self, AttributeError> {
        check_code::<Self>(code, reason)?;
        Ok(ErrorCode { code, reason })
    }

    /// The numeric code, 300..=699.
    pub fn code(&self) -> u16 {
        self.code
    }

    /// The reason phrase (its valid UTF-8 prefix, if the sender's was not).
    pub fn reason(&self) -> &'a str {
        self.reason
    }
}

impl ErrorCode<'static> {
    /// An error code with its recommended reason phrase (empty for codes
    /// without one).
    pub fn from_code(code: u16) -> Result<Self, AttributeError> {
        ErrorCode::new(code, reason_phrase(code).unwrap_or(""))
    }
}

impl<'a> Attribute<'a> for ErrorCode<'a> {
    const TYPE: AttributeType = AttributeType::ERROR_CODE;

    fn decode(value: &'a [u8], _: &Context) -> Result<Self, AttributeError> {
        let [_, _, class, number, reason @ ..] = value else {
            return Err(error::<Self>(AttributeErrorKind::Length {
                len: value.len(),
            }));
        };
        let (code, reason) = decode_code_and_reason::<Self>(*class, *number, reason)?;
        Ok(ErrorCode { code, reason })
    }

    fn encoded_len(&self) -> usize {
        4 + self.reason.len()
    }

    fn encode(&self, out: &mut [u8], _: &Context) {
        put(out, 2, &[(self.code / 100) as u8, (self.code % 100) as u8]);
        put(out, 4, self.reason.as_bytes());
    }
}

/// ADDRESS-ERROR-CODE (RFC 8656 §18.12): why one family of a dual
/// allocation failed (440 or 508).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct AddressErrorCode<'a> {
    family: u8,
    code: u16,
    reason: &'a str,
}

impl<'a> AddressErrorCode<'a> {
    /// An address error for `family` (0x01 IPv4, 0x02 IPv6).
    pub fn new(
        family: super::AddressFamily,
        code: u16,
        reason: &'a str,
    ) -> Result<Self, AttributeError> {
        check_code::<Self>(code, reason)?;
        Ok(AddressErrorCode {
            family: family.to_u8(),
            code,
            reason,
        })
    }

    /// The family byte as sent.
    pub fn family(&self) -> u8 {
        self.family
    }

    /// The numeric code.
    pub fn code(&self) -> u16 {
        self.code
    }

    /// The reason phrase.
    pub fn reason(&self) -> &'a str {
        self.reason
    }
}

impl<'a> Attribute<'a> for AddressErrorCode<'a> {
    const TYPE: AttributeType = AttributeType::ADDRESS_ERROR_CODE;

    fn decode(value: &'a [u8], _: &Context) -> Result<Self, AttributeError> {
        let [family, _, class, number, reason @ ..] = value else {
            return Err(error::<Self>(AttributeErrorKind::Length {
                len: value.len(),
            }));
        };
        let (code, reason) = decode_code_and_reason::<Self>(*class, *number, reason)?;
        Ok(AddressErrorCode {
            family: *family,
            code,
            reason,
        })
    }

    fn encoded_len(&self) -> usize {
        4 + self.reason.len()
    }

    fn encode(&self, out: &mut [u8], _: &Context) {
        put(
            out,
            0,
            &[
                self.family,
                0,
                (self.code / 100) as u8,
                (self.code % 100) as u8,
            ],
        );
        put(out, 4, self.reason.as_bytes());
    }
}

/// UNKNOWN-ATTRIBUTES (RFC 8489 §14.13): the comprehension-required types a
/// server did not understand, in a 420 answer.
#[derive(Clone, Copy, Debug)]
pub struct UnknownAttributes<'a>(Repr<'a>);

/// Equal when the entries are, whether built or decoded (padding and
/// representation do not count).
impl PartialEq for UnknownAttributes<'_> {
    fn eq(&self, other: &Self) -> bool {
        self.iter().eq(other.iter())
    }
}

impl Eq for UnknownAttributes<'_> {}

impl core::hash::Hash for UnknownAttributes<'_> {
    fn hash<H: core::hash::Hasher>(&self, state: &mut H) {
        self.iter().for_each(|e| e.hash(state));
    }
}

#[derive(Clone, Copy, Debug)]
enum Repr<'a> {
    Wire(&'a [u8]),
    List(&'a [AttributeType]),
}

impl<'a> UnknownAttributes<'a> {
    /// The attribute for these types.
    pub fn new(types: &'a [AttributeType]) -> Self {
        UnknownAttributes(Repr::List(types))
    }

    /// The types, in order.
    pub fn iter(&self) -> UnknownAttributesIter<'a> {
        UnknownAttributesIter {
            repr: self.0,
            pos: 0,
        }
    }
}

/// Iterator over [`UnknownAttributes`].
#[derive(Clone, Debug)]
pub struct UnknownAttributesIter<'a> {
    repr: Repr<'a>,
    pos: usize,
}

impl Iterator for UnknownAttributesIter<'_> {
    type Item = AttributeType;

    fn next(&mut self) -> Option<AttributeType> {
        let item = match self.repr {
            Repr::Wire(b) => {
                let pair = b.get(self.pos * 2..self.pos * 2 + 2)?;
                AttributeType(u16::from_be_bytes([*pair.first()?, *pair.get(1)?]))
            }
            Repr::List(l) => *l.get(self.pos)?,
        };
        self.pos += 1;
        Some(item)
    }
}

impl<'a> Attribute<'a> for UnknownAttributes<'a> {
    const TYPE: AttributeType = AttributeType::UNKNOWN_ATTRIBUTES;

    fn decode(value: &'a [u8], _: &Context) -> Result<Self, AttributeError> {
        if value.len() % 2 != 0 {
            return Err(error::<Self>(AttributeErrorKind::Length {
                len: value.len(),
            }));
        }
        Ok(UnknownAttributes(Repr::Wire(value)))
    }

    fn encoded_len(&self) -> usize {
        match self.0 {
            Repr::Wire(b) => b.len(),
            Repr::List(l) => l.len() * 2,
        }
    }

    fn encode(&self, out: &mut [u8], _: &Context) {
        for (i, t) in self.iter().enumerate() {
            put(out, i * 2, &t.0.to_be_bytes());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::TransactionId;

    fn ctx() -> Context {
        Context::new(&TransactionId::Rfc5389([0; 12]))
    }

    #[test]
    fn text_limits_match_rfc8489() {
        let ok = "a".repeat(MAX_ENCODED_TEXT / 4);
        assert!(Realm::new(&ok).is_ok());
        let many = "a".repeat(128);
        assert_eq!(
            Software::new(&many).unwrap_err().kind,
            AttributeErrorKind::TooManyChars { chars: 128 }
        );
        // 127 four-byte characters are 508 bytes: allowed.
        assert!(Nonce::new(&"\u{1F600}".repeat(127)).is_ok());
        assert!(Username::new(&"u".repeat(508)).is_ok());
        assert!(Username::new(&"u".repeat(509)).is_err());
        // Decoding accepts up to 763 bytes and no more.
        assert!(Realm::decode("r".repeat(763).as_bytes(), &ctx()).is_ok());
        assert!(Realm::decode("r".repeat(764).as_bytes(), &ctx()).is_err());
        assert_eq!(
            Username::decode(&[0xFF, 0xFE], &ctx()).unwrap_err().kind,
            AttributeErrorKind::NotUtf8
        );
    }

    #[test]
    fn error_code_class_and_number() {
        let e = ErrorCode::decode(&[0xFF, 0xF8, 0x04, 20, b'x'], &ctx()).unwrap();
        assert_eq!(
            (e.code(), e.reason()),
            (420, "x"),
            "reserved bits are ignored"
        );
        assert!(ErrorCode::decode(&[0, 0, 2, 0], &ctx()).is_err(), "class 2");
        assert!(ErrorCode::decode(&[0, 0, 7, 0], &ctx()).is_err(), "class 7");
        assert!(
            ErrorCode::decode(&[0, 0, 4, 100], &ctx()).is_err(),
            "number 100"
        );
        assert!(ErrorCode::new(299, "").is_err());
        let bad_utf8 = ErrorCode::decode(&[0, 0, 4, 1, b'o', b'k', 0xFF], &ctx()).unwrap();
        assert_eq!((bad_utf8.code(), bad_utf8.reason()), (401, "ok"));
        assert_eq!(ErrorCode::from_code(487).unwrap().reason(), "Role Conflict");
    }

    #[test]
    fn nonce_cookie_features() {
        let n = Nonce::decode(b"obMatJos2AAACf//499k954d6OL34oL9FSTvy64sA", &ctx()).unwrap();
        // RFC 8489 B.1's cookie "AAAC" is the 24-bit value 2: neither defined
        // feature bit (bit 0 and bit 1 counted from the most significant).
        let f = n.security_features().unwrap();
        assert_eq!(f, SecurityFeatures(2));
        assert!(!f.password_algorithms());
        assert!(!f.username_anonymity());
        let both = SecurityFeatures(
            SecurityFeatures::PASSWORD_ALGORITHMS | SecurityFeatures::USERNAME_ANONYMITY,
        );
        let cookie = both.cookie();
        let s = core::str::from_utf8(&cookie).unwrap();
        assert_eq!(s, "obMatJos2wAAA");
        assert_eq!(Nonce::new(s).unwrap().security_features(), Some(both));
        assert_eq!(Nonce::new("plain").unwrap().security_features(), None);
    }
}
