//! Credentials and keys (RFC 8489 §9, RFC 8265).
//!
//! - §9.1.1 short-term key: `OpaqueString(password)`.
//! - §9.2.2 long-term key: `MD5(username ":" OpaqueString(realm) ":"
//!   OpaqueString(password))`, or SHA-256 of the same string when
//!   PASSWORD-ALGORITHM selects it (§18.5.1). The username is prepared with
//!   OpaqueString as well (§14.3 requires it of what is sent; preparation is
//!   idempotent, so a username read from a USERNAME attribute is unchanged).
//! - §14.4 USERHASH: `SHA-256(OpaqueString(username) ":" OpaqueString(realm))`.
//! - RFC 8265 §4.2 OpaqueString: non-ASCII spaces become U+0020, NFC, and the
//!   PRECIS FreeformClass rejects control, unassigned and other disallowed
//!   code points and the empty string.
//!
//! An [`IntegrityKey`] holds the HMAC-SHA1 and HMAC-SHA256 states after the
//! key pads are absorbed (RFC 2104 §4), so verifying or signing a message
//! costs only the message's own compression rounds. Prepare it once per peer
//! (or per user/realm) and reuse it: it is a 104-byte `Copy` value and using
//! it allocates nothing.

use std::borrow::Cow;

use md5::Md5;
use precis_core::profile::PrecisFastInvocation;
use precis_profiles::OpaqueString;
use sha2::{Digest, Sha256};

use crate::error::CredentialError;
use crate::prepared_hmac::{Prepared, Sha1Hash, Sha256Hash};

/// Applies the RFC 8265 OpaqueString profile (enforcement rules); `None`
/// if the string is not allowed.
pub fn opaque_string(s: &str) -> Option<Cow<'_, str>> {
    OpaqueString::enforce(s).ok()
}

fn prepare(s: &str, what: CredentialError) -> Result<Cow<'_, str>, CredentialError> {
    opaque_string(s).ok_or(what)
}

/// The long-term password algorithms of RFC 8489 §18.5.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum LongTermAlgorithm {
    /// MD5 (0x0001): 16-byte key, the RFC 5389 default.
    Md5,
    /// SHA-256 (0x0002): 32-byte key.
    Sha256,
}

impl LongTermAlgorithm {
    /// The PASSWORD-ALGORITHM number.
    pub const fn number(self) -> u16 {
        match self {
            LongTermAlgorithm::Md5 => 0x0001,
            LongTermAlgorithm::Sha256 => 0x0002,
        }
    }

    /// From a PASSWORD-ALGORITHM number.
    pub const fn from_number(n: u16) -> Option<Self> {
        match n {
            0x0001 => Some(LongTermAlgorithm::Md5),
            0x0002 => Some(LongTermAlgorithm::Sha256),
            _ => None,
        }
    }
}

/// Which integrity attribute protects (or should protect) a message.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum IntegrityAlgorithm {
    /// MESSAGE-INTEGRITY, HMAC-SHA1 (RFC 8489 §14.5).
    Sha1,
    /// MESSAGE-INTEGRITY-SHA256, HMAC-SHA256 (RFC 8489 §14.6).
    Sha256,
}

/// A prepared message-integrity key: HMAC-SHA1 and HMAC-SHA256 with the key
/// blocks already absorbed (RFC 2104 §4), 104 bytes, `Copy`.
#[derive(Clone, Copy)]
pub struct IntegrityKey {
    pub(crate) sha1: Prepared<Sha1Hash>,
    pub(crate) sha256: Prepared<Sha256Hash>,
}

impl core::fmt::Debug for IntegrityKey {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str("IntegrityKey(..)")
    }
}

impl IntegrityKey {
    /// A key from its raw bytes, as already derived (for example a stored
    /// long-term `H(A1)` value).
    pub fn from_bytes(key: &[u8]) -> IntegrityKey {
        IntegrityKey {
            sha1: Prepared::new(key),
            sha256: Prepared::new(key),
        }
    }

    /// The short-term key of RFC 8489 §9.1.1 (ICE uses the peer's `pwd`).
    pub fn short_term(password: &str) -> Result<IntegrityKey, CredentialError> {
        let p = prepare(password, CredentialError::Password)?;
        Ok(IntegrityKey::from_bytes(p.as_bytes()))
    }

    /// The long-term key of RFC 8489 §9.2.2 and §18.5.1.
    pub fn long_term(
        username: &str,
        realm: &str,
        password: &str,
        algorithm: LongTermAlgorithm,
    ) -> Result<IntegrityKey, CredentialError> {
        let key = long_term_key(username, realm, password, algorithm)?;
        Ok(IntegrityKey::from_bytes(&key))
    }
}

/// The raw long-term key bytes (16 for MD5, 32 for SHA-256).
pub fn long_term_key(
    username: &str,
    realm: &str,
    password: &str,
    algorithm: LongTermAlgorithm,
) -> Result<Vec<u8>, CredentialError> {
    let u = prepare(username, CredentialError::Username)?;
    let r = prepare(realm, CredentialError::Realm)?;
    let p = prepare(password, CredentialError::Password)?;
    let parts: [&[u8]; 5] = [u.as_bytes(), b":", r.as_bytes(), b":", p.as_bytes()];
    Ok(match algorithm {
        LongTermAlgorithm::Md5 => {
            let mut h = Md5::new();
            parts.iter().for_each(|p| h.update(p));
            h.finalize().to_vec()
        }
        LongTermAlgorithm::Sha256 => {
            let mut h = Sha256::new();
            parts.iter().for_each(|p| h.update(p));
            h.finalize().to_vec()
        }
    })
}

/// USERHASH of RFC 8489 §14.4.
pub fn userhash(username: &str, realm: &str) -> Result<[u8; 32], CredentialError> {
    let u = prepare(username, CredentialError::Username)?;
    let r = prepare(realm, CredentialError::Realm)?;
    let mut h = Sha256::new();
    h.update(u.as_bytes());
    h.update(b":");
    h.update(r.as_bytes());
    let mut out = [0u8; 32];
    out.iter_mut()
        .zip(h.finalize().iter())
        .for_each(|(o, d)| *o = *d);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc8489_9_2_2_md5_example() {
        // "user:realm:pass" hashes to 0x8493fbc53ba582fb4c044c456bdc40eb.
        let key = long_term_key("user", "realm", "pass", LongTermAlgorithm::Md5).unwrap();
        assert_eq!(
            key,
            [
                0x84, 0x93, 0xfb, 0xc5, 0x3b, 0xa5, 0x82, 0xfb, 0x4c, 0x04, 0x4c, 0x45, 0x6b, 0xdc,
                0x40, 0xeb
            ]
        );
    }

    #[test]
    fn opaque_string_rules() {
        // Non-ASCII space maps to U+0020; NFC composes; ASCII is unchanged.
        assert_eq!(opaque_string("a\u{00A0}b").unwrap(), "a b");
        assert_eq!(opaque_string("e\u{0301}").unwrap(), "\u{00E9}");
        assert_eq!(
            opaque_string("VOkJxbRl1RmTxUk/WvJxBt").unwrap(),
            "VOkJxbRl1RmTxUk/WvJxBt"
        );
        // Empty, control characters and the soft hyphen (default-ignorable)
        // are disallowed.
        assert!(opaque_string("").is_none());
        assert!(opaque_string("a\u{0007}").is_none());
        assert!(opaque_string("The\u{00AD}M\u{00AA}tr\u{2168}").is_none());
        assert_eq!(
            IntegrityKey::short_term("").unwrap_err(),
            CredentialError::Password
        );
    }
}
