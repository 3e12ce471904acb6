//! Long-term credentials (RFC 8489 §9.2): who may allocate, and the checks
//! of §9.2.4 in the order the RFC gives them.
//!
//! Two sources of users:
//! - **A user list**: names and passwords from the configuration. Their MD5
//!   and SHA-256 keys (§9.2.2, §18.5.1) and their USERHASH (§14.4) are
//!   computed once, when the server is made.
//! - **A shared secret** (coturn's `use-auth-secret`, the "TURN REST API"
//!   draft-uberti-behave-turn-rest): the username is
//!   `<expiry unix time>[:<user>]`, the password is
//!   `base64(HMAC-SHA1(secret, username))`, and a username whose expiry is
//!   in the past (by the wall-clock time the driver passes in) is refused
//!   with 401. The list is asked first; a name it does not know and that
//!   starts with digits is tried as a shared-secret name.
//!
//! RFC 8489 §9.2.4, for a request of a method that needs authentication:
//! 1. no MESSAGE-INTEGRITY(-SHA256): **401** with REALM, NONCE and
//!    PASSWORD-ALGORITHMS;
//! 2. integrity but no USERNAME or USERHASH, REALM or NONCE (or one that
//!    does not decode): **400**;
//! 3. a NONCE with the nonce cookie and the "Password algorithms" bit:
//!    without PASSWORD-ALGORITHM and PASSWORD-ALGORITHMS the algorithm is
//!    MD5; otherwise both must be present, PASSWORD-ALGORITHMS must be the
//!    list this server sends, and PASSWORD-ALGORITHM one of its entries:
//!    else **400** (this is the bid-down protection);
//! 4. an unknown user (or an expired shared-secret username): **401**;
//! 5. MESSAGE-INTEGRITY-SHA256 if present, else MESSAGE-INTEGRITY, does not
//!    verify with the user's key: **401**;
//! 6. the nonce is not valid (stale, or not this server's): **438** with a
//!    fresh NONCE, REALM and PASSWORD-ALGORITHMS, signed with the
//!    request's key.
//!
//! A request that passes is answered with the integrity attribute it used
//! (MESSAGE-INTEGRITY-SHA256 or MESSAGE-INTEGRITY, §9.2.4 "the same
//! algorithm").

use core::net::IpAddr;
use std::collections::BTreeMap;
use std::time::Instant;

use hmac::{Hmac, KeyInit, Mac};
use sha1::Sha1;
use stun_proto::attr::{Nonce, PasswordAlgorithm, PasswordAlgorithms, Realm, Userhash, Username};
use stun_proto::{AttributeType, IntegrityAlgorithm, IntegrityKey, LongTermAlgorithm, Message};

use super::config::TurnServerConfig;
use super::nonce::{NonceCheck, Nonces};

const B64: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/// Standard base64 (RFC 4648 §4) with `=` padding.
pub fn base64_encode(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let b = [
            chunk.first().copied().unwrap_or(0),
            chunk.get(1).copied().unwrap_or(0),
            chunk.get(2).copied().unwrap_or(0),
        ];
        let v = u32::from_be_bytes([0, b[0], b[1], b[2]]);
        for i in 0..4 {
            if i <= chunk.len() {
                let sextet = (v >> (18 - 6 * i)) & 0x3F;
                out.push(char::from(
                    B64.get(sextet as usize).copied().unwrap_or(b'A'),
                ));
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// The password of a shared-secret username: `base64(HMAC-SHA1(secret,
/// username))` (what coturn's `turnutils_uclient -W` computes).
pub fn shared_secret_password(secret: &[u8], username: &str) -> String {
    let mut tag = [0u8; 20];
    if let Ok(mut m) = <Hmac<Sha1> as KeyInit>::new_from_slice(secret) {
        m.update(username.as_bytes());
        for (o, t) in tag.iter_mut().zip(m.finalize().into_bytes().iter()) {
            *o = *t;
        }
    }
    base64_encode(&tag)
}

/// The expiry of a shared-secret username: its leading decimal digits,
/// up to the end or a `:`.
fn shared_secret_expiry(username: &str) -> Option<u64> {
    let stamp = username.split(':').next()?;
    if stamp.is_empty() || !stamp.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    stamp.parse().ok()
}

#[derive(Clone, Copy)]
struct UserKeys {
    md5: IntegrityKey,
    sha256: IntegrityKey,
}

/// Who passed the checks, and how to sign the answer.
#[derive(Clone, Debug)]
pub(crate) struct Authenticated {
    pub username: String,
    pub key: IntegrityKey,
    pub integrity: IntegrityAlgorithm,
}

/// Why authentication failed; each maps to one error code.
#[derive(Clone, Debug)]
pub(crate) enum AuthFailure {
    /// No integrity attribute (401, the challenge).
    Challenge,
    /// Integrity without USERNAME/USERHASH, REALM or NONCE (400).
    MissingAttribute,
    /// PASSWORD-ALGORITHM(S) fail the §9.2.4 checks (400).
    PasswordAlgorithms,
    /// Unknown user (401).
    UnknownUser,
    /// A shared-secret username whose expiry has passed, or no wall-clock
    /// time to judge it by (401).
    Expired,
    /// The integrity attribute does not verify (401).
    Integrity,
    /// The nonce is stale or not ours; the request is otherwise authentic
    /// (438, signed).
    StaleNonce(Box<Authenticated>),
}

impl AuthFailure {
    pub(crate) fn code(&self) -> u16 {
        match self {
            AuthFailure::MissingAttribute | AuthFailure::PasswordAlgorithms => 400,
            AuthFailure::StaleNonce(_) => 438,
            _ => 401,
        }
    }
}

/// The server's credentials.
pub(crate) struct Credentials {
    realm: String,
    users: BTreeMap<String, UserKeys>,
    by_hash: BTreeMap<[u8; 32], String>,
    secret: Option<Vec<u8>>,
    algorithms: [LongTermAlgorithm; 2],
}

impl core::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Credentials")
            .field("realm", &self.realm)
            .field("users", &self.users.len())
            .field("shared_secret", &self.secret.is_some())
            .finish()
    }
}

impl Credentials {
    pub(crate) fn new(config: &TurnServerConfig) -> Credentials {
        let realm = config.realm.clone();
        let mut users = BTreeMap::new();
        let mut by_hash = BTreeMap::new();
        for (name, password) in &config.users {
            let key = |alg| IntegrityKey::long_term(name, &realm, password, alg);
            // The configuration checked these already.
            if let (Ok(md5), Ok(sha256)) =
                (key(LongTermAlgorithm::Md5), key(LongTermAlgorithm::Sha256))
            {
                users.insert(name.clone(), UserKeys { md5, sha256 });
            }
            if let Ok(hash) = stun_proto::auth::userhash(name, &realm) {
                by_hash.insert(hash, name.clone());
            }
        }
        let algorithms = if config.sha256_first {
            [LongTermAlgorithm::Sha256, LongTermAlgorithm::Md5]
        } else {
            [LongTermAlgorithm::Md5, LongTermAlgorithm::Sha256]
        };
        Credentials {
            realm,
            users,
            by_hash,
            secret: config.shared_secret.clone(),
            algorithms,
        }
    }

    pub(crate) fn realm(&self) -> &str {
        &self.realm
    }

    /// Whether USERHASH can be looked up (the "Username anonymity" bit).
    pub(crate) fn has_user_list(&self) -> bool {
        !self.users.is_empty()
    }

    /// PASSWORD-ALGORITHMS as this server sends it.
    pub(crate) fn password_algorithms(&self) -> [PasswordAlgorithm<'static>; 2] {
        self.algorithms.map(|a| match a {
            LongTermAlgorithm::Sha256 => PasswordAlgorithm::SHA256,
            _ => PasswordAlgorithm::MD5,
        })
    }

    /// Step 3: the algorithm the request's key uses.
    fn algorithm(
        &self,
        msg: &Message<'_>,
        nonce: &Nonce<'_>,
    ) -> Result<LongTermAlgorithm, AuthFailure> {
        let offered = nonce
            .security_features()
            .is_some_and(|f| f.password_algorithms());
        let chosen = msg.get::<PasswordAlgorithm>();
        let list = msg.get::<PasswordAlgorithms>();
        if !offered {
            // Without the cookie the PASSWORD-ALGORITHM(S) attributes have
            // no meaning (§9.2.4 applies the checks "if" the cookie is
            // there): MD5, as RFC 5389.
            return Ok(LongTermAlgorithm::Md5);
        }
        match (chosen, list) {
            (Ok(None), Ok(None)) => Ok(LongTermAlgorithm::Md5),
            (Ok(Some(chosen)), Ok(Some(list))) => {
                let ours = self.password_algorithms();
                let same = list.iter().eq(ours.iter().copied());
                if !same || !chosen.params.is_empty() {
                    return Err(AuthFailure::PasswordAlgorithms);
                }
                LongTermAlgorithm::from_number(chosen.algorithm)
                    .filter(|a| self.algorithms.contains(a))
                    .ok_or(AuthFailure::PasswordAlgorithms)
            }
            _ => Err(AuthFailure::PasswordAlgorithms),
        }
    }

    /// Steps 4 and 5's key: the user's name and key for `algorithm`.
    fn key(
        &self,
        msg: &Message<'_>,
        algorithm: LongTermAlgorithm,
        unix_now: Option<u64>,
    ) -> Result<(String, IntegrityKey), AuthFailure> {
        let name = match msg.get::<Username>() {
            Ok(Some(u)) => u.as_str().to_owned(),
            Ok(None) => match msg.get::<Userhash>() {
                Ok(Some(hash)) => self
                    .by_hash
                    .get(hash.0)
                    .cloned()
                    .ok_or(AuthFailure::UnknownUser)?,
                _ => return Err(AuthFailure::MissingAttribute),
            },
            Err(_) => return Err(AuthFailure::MissingAttribute),
        };
        let prepared = stun_proto::auth::opaque_string(&name).ok_or(AuthFailure::UnknownUser)?;
        if let Some(keys) = self.users.get(prepared.as_ref()) {
            let key = match algorithm {
                LongTermAlgorithm::Sha256 => keys.sha256,
                _ => keys.md5,
            };
            return Ok((name, key));
        }
        let (Some(secret), Some(expiry)) = (&self.secret, shared_secret_expiry(&name)) else {
            return Err(AuthFailure::UnknownUser);
        };
        match unix_now {
            Some(now) if expiry >= now => {}
            _ => return Err(AuthFailure::Expired),
        }
        let password = shared_secret_password(secret, &name);
        let key = IntegrityKey::long_term(&name, &self.realm, &password, algorithm)
            .map_err(|_| AuthFailure::UnknownUser)?;
        Ok((name, key))
    }

    /// RFC 8489 §9.2.4 (see the module documentation).
    pub(crate) fn authenticate(
        &self,
        msg: &Message<'_>,
        now: Instant,
        client: IpAddr,
        nonces: &Nonces,
        unix_now: Option<u64>,
    ) -> Result<Authenticated, AuthFailure> {
        let Some(integrity) = msg.integrity_algorithm() else {
            return Err(AuthFailure::Challenge);
        };
        let has_user = msg.get_raw(AttributeType::USERNAME).is_some()
            || msg.get_raw(AttributeType::USERHASH).is_some();
        if !has_user {
            return Err(AuthFailure::MissingAttribute);
        }
        match msg.get::<Realm>() {
            Ok(Some(_)) => {}
            _ => return Err(AuthFailure::MissingAttribute),
        }
        let nonce = match msg.get::<Nonce>() {
            Ok(Some(n)) => n,
            _ => return Err(AuthFailure::MissingAttribute),
        };
        let algorithm = self.algorithm(msg, &nonce)?;
        let (username, key) = self.key(msg, algorithm, unix_now)?;
        msg.verify_integrity(&key)
            .map_err(|_| AuthFailure::Integrity)?;
        let ok = Authenticated {
            username,
            key,
            integrity,
        };
        match nonces.check(now, client, nonce.as_str()) {
            NonceCheck::Valid => Ok(ok),
            NonceCheck::Stale | NonceCheck::Foreign => Err(AuthFailure::StaleNonce(Box::new(ok))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_rfc4648_vectors() {
        for (raw, b64) in [
            ("", ""),
            ("f", "Zg=="),
            ("fo", "Zm8="),
            ("foo", "Zm9v"),
            ("foob", "Zm9vYg=="),
            ("fooba", "Zm9vYmE="),
            ("foobar", "Zm9vYmFy"),
        ] {
            assert_eq!(base64_encode(raw.as_bytes()), b64);
        }
    }

    #[test]
    fn shared_secret_scheme() {
        // HMAC-SHA1("secret", "1700000000:alice"), computed independently
        // with `printf %s 1700000000:alice | openssl dgst -sha1 -hmac secret -binary | base64`.
        assert_eq!(
            shared_secret_password(b"secret", "1700000000:alice"),
            "d8soP47RbdIKLDUOpnJPVQyq5Ts="
        );
        assert_eq!(
            shared_secret_expiry("1700000000:alice"),
            Some(1_700_000_000)
        );
        assert_eq!(shared_secret_expiry("1700000000"), Some(1_700_000_000));
        assert_eq!(shared_secret_expiry("alice:1700000000"), None);
        assert_eq!(shared_secret_expiry(":x"), None);
        assert_eq!(shared_secret_expiry("99999999999999999999999"), None);
    }
}
