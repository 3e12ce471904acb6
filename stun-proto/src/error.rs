//! Errors, typed by who must act (DESIGN.md principle 6).
//!
//! - [`ParseError`]: the bytes are not a well-framed STUN message. The
//!   sender is at fault; drop the datagram (RFC 8489 §6.3).
//! - [`AttributeError`]: a framed attribute has a value its RFC forbids. A
//!   server answers 400 (Bad Request).
//! - [`IntegrityError`] and [`FingerprintError`]: the message is well formed
//!   but fails a check; RFC 8489 §9 says what to answer.
//! - [`BuildError`]: the caller asked the writer for something the RFCs do
//!   not allow (an API misuse, never caused by remote input).
//! - [`CredentialError`]: a username, realm or password that RFC 8265
//!   OpaqueString rejects.
//!
//! Every error names the check that failed and, for wire errors, the byte
//! offset where it failed. `Display` never fails and never allocates.

use core::fmt;

use crate::attr::AttributeType;

/// Why bytes are not a STUN message (RFC 8489 §6, §14).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum ParseError {
    /// Fewer than the 20 bytes of a header.
    TooShort {
        /// Bytes available.
        len: usize,
    },
    /// One of the two leading bits is set (RFC 8489 §6): not STUN.
    LeadingBitsSet {
        /// The first byte.
        first_byte: u8,
    },
    /// The length field is not a multiple of 4 (RFC 8489 §6).
    LengthNotAligned {
        /// The length field.
        length: u16,
    },
    /// The length field does not match the bytes given.
    LengthMismatch {
        /// 20 + the length field.
        declared: usize,
        /// Bytes given.
        actual: usize,
    },
    /// An attribute's length runs past the end of the message.
    AttributeOverrun {
        /// Offset of the attribute header.
        offset: usize,
        /// The attribute's type.
        attribute: AttributeType,
        /// The attribute's length field.
        length: u16,
    },
    /// An attribute follows FINGERPRINT, which must be last (RFC 8489 §14.7).
    AttributeAfterFingerprint {
        /// Offset of the offending attribute header.
        offset: usize,
        /// Its type.
        attribute: AttributeType,
    },
    /// MESSAGE-INTEGRITY is not 20 bytes, MESSAGE-INTEGRITY-SHA256 is not
    /// 16..=32 bytes in steps of 4, or FINGERPRINT is not 4 bytes
    /// (RFC 8489 §14.5-14.7).
    BadCheckLength {
        /// Offset of the attribute header.
        offset: usize,
        /// Its type.
        attribute: AttributeType,
        /// Its length field.
        length: u16,
    },
}

impl ParseError {
    /// The byte offset at which the check failed.
    pub fn offset(&self) -> usize {
        match *self {
            ParseError::TooShort { len } => len,
            ParseError::LeadingBitsSet { .. } => 0,
            ParseError::LengthNotAligned { .. } | ParseError::LengthMismatch { .. } => 2,
            ParseError::AttributeOverrun { offset, .. }
            | ParseError::AttributeAfterFingerprint { offset, .. }
            | ParseError::BadCheckLength { offset, .. } => offset,
        }
    }

    /// A short name of the check that failed.
    pub fn check(&self) -> &'static str {
        match self {
            ParseError::TooShort { .. } => "header length",
            ParseError::LeadingBitsSet { .. } => "leading zero bits",
            ParseError::LengthNotAligned { .. } => "length multiple of 4",
            ParseError::LengthMismatch { .. } => "length matches datagram",
            ParseError::AttributeOverrun { .. } => "attribute within message",
            ParseError::AttributeAfterFingerprint { .. } => "FINGERPRINT last",
            ParseError::BadCheckLength { .. } => "integrity/fingerprint length",
        }
    }
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "not a STUN message: {} check failed at byte {}: ",
            self.check(),
            self.offset()
        )?;
        match *self {
            ParseError::TooShort { len } => write!(f, "{len} bytes, a header needs 20"),
            ParseError::LeadingBitsSet { first_byte } => {
                write!(f, "first byte {first_byte:#04x} has a leading bit set")
            }
            ParseError::LengthNotAligned { length } => {
                write!(f, "length field {length} is not a multiple of 4")
            }
            ParseError::LengthMismatch { declared, actual } => {
                write!(f, "header says {declared} bytes, got {actual}")
            }
            ParseError::AttributeOverrun {
                attribute, length, ..
            } => {
                write!(f, "{attribute} of length {length} runs past the end")
            }
            ParseError::AttributeAfterFingerprint { attribute, .. } => {
                write!(f, "{attribute} follows FINGERPRINT")
            }
            ParseError::BadCheckLength {
                attribute, length, ..
            } => {
                write!(f, "{attribute} has invalid length {length}")
            }
        }
    }
}

impl std::error::Error for ParseError {}

/// What is wrong with an attribute's value.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum AttributeErrorKind {
    /// The value has a length its RFC does not allow.
    Length {
        /// The value's length.
        len: usize,
    },
    /// The value is longer than its RFC allows.
    TooLong {
        /// The value's length in bytes.
        len: usize,
        /// The limit in bytes.
        max: usize,
    },
    /// An address family other than 0x01 (IPv4) or 0x02 (IPv6).
    UnknownFamily {
        /// The family byte.
        family: u8,
    },
    /// Text that is not UTF-8.
    NotUtf8,
    /// Text with more characters than allowed (fewer than 128 for REALM,
    /// NONCE, SOFTWARE and reason phrases).
    TooManyChars {
        /// Characters in the text.
        chars: usize,
    },
    /// ALTERNATE-DOMAIN that is not ASCII.
    NotAscii,
    /// An error code outside 300..=699.
    ErrorCodeRange {
        /// The decoded code.
        code: u16,
    },
    /// A CHANNEL-NUMBER outside 0x4000..=0x4FFF (RFC 8656 §12).
    ChannelRange {
        /// The channel number.
        channel: u16,
    },
    /// Inner structure (PASSWORD-ALGORITHMS entries, parameter lengths) that
    /// runs past the value.
    Structure,
    /// The attribute is not present.
    Missing,
}

/// An attribute whose value its RFC forbids.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AttributeError {
    /// Which attribute.
    pub attribute: AttributeType,
    /// What is wrong.
    pub kind: AttributeErrorKind,
}

impl AttributeError {
    pub(crate) const fn new(attribute: AttributeType, kind: AttributeErrorKind) -> Self {
        AttributeError { attribute, kind }
    }
}

impl fmt::Display for AttributeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "invalid {}: ", self.attribute)?;
        match self.kind {
            AttributeErrorKind::Length { len } => write!(f, "value length {len} not allowed"),
            AttributeErrorKind::TooLong { len, max } => {
                write!(f, "{len} bytes, at most {max} allowed")
            }
            AttributeErrorKind::UnknownFamily { family } => {
                write!(f, "unknown address family {family:#04x}")
            }
            AttributeErrorKind::NotUtf8 => f.write_str("text is not UTF-8"),
            AttributeErrorKind::TooManyChars { chars } => {
                write!(f, "{chars} characters, fewer than 128 allowed")
            }
            AttributeErrorKind::NotAscii => f.write_str("domain is not ASCII"),
            AttributeErrorKind::ErrorCodeRange { code } => {
                write!(f, "error code {code} outside 300..=699")
            }
            AttributeErrorKind::ChannelRange { channel } => {
                write!(f, "channel {channel:#06x} outside 0x4000..=0x4FFF")
            }
            AttributeErrorKind::Structure => f.write_str("inner lengths run past the value"),
            AttributeErrorKind::Missing => f.write_str("attribute missing"),
        }
    }
}

impl std::error::Error for AttributeError {}

/// Why a message-integrity check did not pass (RFC 8489 §9.1.3, §9.2.4).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum IntegrityError {
    /// Neither MESSAGE-INTEGRITY nor MESSAGE-INTEGRITY-SHA256 is present
    /// (a server answers 400, RFC 8489 §9.1.3).
    Missing,
    /// The HMAC does not match (a server answers 401).
    Mismatch {
        /// Which attribute was checked.
        attribute: AttributeType,
    },
}

impl fmt::Display for IntegrityError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            IntegrityError::Missing => f.write_str("message carries no MESSAGE-INTEGRITY"),
            IntegrityError::Mismatch { attribute } => {
                write!(
                    f,
                    "{attribute} does not match: wrong password or altered message"
                )
            }
        }
    }
}

impl std::error::Error for IntegrityError {}

/// Why a FINGERPRINT check did not pass (RFC 8489 §14.7).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum FingerprintError {
    /// No FINGERPRINT attribute.
    Missing,
    /// The CRC does not match: not STUN, or damaged.
    Mismatch {
        /// The value in the message.
        found: u32,
        /// The value computed over the message.
        computed: u32,
    },
}

impl fmt::Display for FingerprintError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FingerprintError::Missing => f.write_str("message carries no FINGERPRINT"),
            FingerprintError::Mismatch { found, computed } => {
                write!(
                    f,
                    "FINGERPRINT {found:#010x} does not match computed {computed:#010x}"
                )
            }
        }
    }
}

impl std::error::Error for FingerprintError {}

/// A message the writer refuses to build.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum BuildError {
    /// The message would exceed the 16-bit length field.
    MessageTooLong {
        /// The attributes' length the message would have.
        len: usize,
    },
    /// An attribute value longer than 65535 bytes.
    ValueTooLong {
        /// The attribute.
        attribute: AttributeType,
        /// Its length.
        len: usize,
    },
    /// An attribute after MESSAGE-INTEGRITY(-SHA256) that receivers would
    /// ignore (RFC 8489 §9), or a second integrity attribute in the wrong
    /// order.
    AfterIntegrity {
        /// The attribute.
        attribute: AttributeType,
    },
    /// Anything after FINGERPRINT (RFC 8489 §14.7).
    AfterFingerprint {
        /// The attribute.
        attribute: AttributeType,
    },
    /// MESSAGE-INTEGRITY, MESSAGE-INTEGRITY-SHA256 and FINGERPRINT are
    /// computed by their own writer methods, not added as values.
    ComputedAttribute {
        /// The attribute.
        attribute: AttributeType,
    },
    /// MESSAGE-INTEGRITY-SHA256 truncated to other than 16..=32 bytes in
    /// steps of 4 (RFC 8489 §14.6).
    Sha256Length {
        /// The length asked for.
        len: usize,
    },
    /// FINGERPRINT or MESSAGE-INTEGRITY-SHA256 in an RFC 3489 message.
    NotInRfc3489 {
        /// The attribute.
        attribute: AttributeType,
    },
}

impl fmt::Display for BuildError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            BuildError::MessageTooLong { len } => {
                write!(
                    f,
                    "message attributes would be {len} bytes; at most 65532 fit"
                )
            }
            BuildError::ValueTooLong { attribute, len } => {
                write!(f, "{attribute} value of {len} bytes exceeds 65535")
            }
            BuildError::AfterIntegrity { attribute } => write!(
                f,
                "{attribute} after MESSAGE-INTEGRITY would be ignored by receivers; add it before"
            ),
            BuildError::AfterFingerprint { attribute } => {
                write!(f, "{attribute} after FINGERPRINT; FINGERPRINT must be last")
            }
            BuildError::ComputedAttribute { attribute } => {
                write!(
                    f,
                    "{attribute} is computed; use the writer's dedicated method"
                )
            }
            BuildError::Sha256Length { len } => {
                write!(
                    f,
                    "MESSAGE-INTEGRITY-SHA256 of {len} bytes; use 16..=32 in steps of 4"
                )
            }
            BuildError::NotInRfc3489 { attribute } => {
                write!(f, "{attribute} does not exist in RFC 3489 messages")
            }
        }
    }
}

impl std::error::Error for BuildError {}

/// A credential string that RFC 8265 OpaqueString preparation rejects (for
/// example an empty password, or a control character).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum CredentialError {
    /// The username.
    Username,
    /// The realm.
    Realm,
    /// The password.
    Password,
}

impl fmt::Display for CredentialError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let what = match self {
            CredentialError::Username => "username",
            CredentialError::Realm => "realm",
            CredentialError::Password => "password",
        };
        write!(
            f,
            "{what} is not a valid RFC 8265 OpaqueString (empty, or contains control or unassigned characters)"
        )
    }
}

impl std::error::Error for CredentialError {}
