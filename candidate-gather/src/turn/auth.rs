//! The long-term credential mechanism from the client's side (RFC 8489
//! §9.2).
//!
//! - §9.2.3.1: the first request to a server carries no credentials.
//! - §9.2.5, 401: take REALM and NONCE; if the nonce cookie (§9.2) sets the
//!   "Password algorithms" bit, PASSWORD-ALGORITHMS must be present or the
//!   client gives up (bid-down, §9.2.1); the first supported algorithm of
//!   that list is chosen (MD5 or SHA-256, §18.5) and both attributes are
//!   echoed; USERHASH replaces USERNAME when the "Username anonymity" bit
//!   is set (§14.4). A 401 to a request that already carried credentials is
//!   retried only if the realm changed; otherwise the credentials are wrong.
//! - §9.2.5, 438: retry with the new NONCE (bounded by the caller).
//! - §9.2.3.2: later requests carry the cached USERNAME/USERHASH, REALM,
//!   NONCE and PASSWORD-ALGORITHM(S), and one integrity attribute:
//!   MESSAGE-INTEGRITY-SHA256 when the server negotiated algorithms (an
//!   RFC 8489 server, which answers with it, §9.2.4), MESSAGE-INTEGRITY
//!   otherwise (RFC 5389 servers know only that one).
//!
//! REALM and NONCE are echoed byte for byte as received (they decode up to
//! 763 bytes, RFC 8489 §14.9-14.10).

use stun_proto::attr::{Nonce, PasswordAlgorithm, PasswordAlgorithms, Realm, Userhash, Username};
use stun_proto::auth::{opaque_string, userhash};
use stun_proto::error::AttributeError;
use stun_proto::{
    Attribute, BuildError, CredentialError, IntegrityAlgorithm, IntegrityKey, LongTermAlgorithm,
    Message, MessageWriter,
};

use super::error::{Operation, TurnError};

/// What a 401 or 438 carries, checked.
struct Challenge {
    realm: Option<String>,
    nonce: String,
    offered: Option<Vec<(u16, Vec<u8>)>>,
    anonymity: bool,
}

/// The state agreed with one server after its first 401.
#[derive(Clone)]
pub(super) struct Session {
    pub(super) realm: String,
    nonce: String,
    algorithm: LongTermAlgorithm,
    /// PASSWORD-ALGORITHMS as the server sent it, to echo.
    offered: Option<Vec<(u16, Vec<u8>)>>,
    /// Whether PASSWORD-ALGORITHM is written (with the list, §9.2.5).
    algorithm_attr: bool,
    /// The chosen entry's parameters, echoed in PASSWORD-ALGORITHM so that
    /// it matches the entry (§9.2.4; MD5 and SHA-256 define none).
    algorithm_params: Vec<u8>,
    /// USERHASH in place of USERNAME (§14.4).
    userhash: Option<[u8; 32]>,
    /// The OpaqueString-prepared username.
    username: String,
    key: IntegrityKey,
    integrity: IntegrityAlgorithm,
}

/// The credentials and, once challenged, the session.
pub(super) struct Auth {
    username: String,
    password: String,
    session: Option<Session>,
}

impl Auth {
    pub(super) fn new(username: &str, password: &str) -> Self {
        Auth {
            username: username.to_owned(),
            password: password.to_owned(),
            session: None,
        }
    }

    /// Forgets the session (a redirect: the next request is a first one).
    pub(super) fn reset(&mut self) {
        self.session = None;
    }

    /// The key answers to credentialed requests are checked with.
    pub(super) fn key(&self) -> Option<&IntegrityKey> {
        self.session.as_ref().map(|s| &s.key)
    }

    /// A 401. `credentialed` says whether the request carried credentials;
    /// `realm_retries` counts the retries allowed by a changed realm. `Ok`
    /// means: retry with the new session.
    pub(super) fn unauthenticated(
        &mut self,
        msg: &Message<'_>,
        operation: Operation,
        credentialed: bool,
        realm_retries: &mut u32,
    ) -> Result<(), TurnError> {
        let c = read_challenge(msg, operation)?;
        let realm = c.realm.clone().ok_or(TurnError::ProtocolViolation {
            operation,
            what: "401 without REALM",
        })?;
        if credentialed {
            let same = self.session.as_ref().is_none_or(|s| s.realm == realm);
            if same || *realm_retries >= 1 {
                return Err(TurnError::Unauthorized { realm });
            }
            *realm_retries += 1;
        }
        let session = self.derive(realm, c)?;
        self.session = Some(session);
        Ok(())
    }

    /// A 438: the same credentials with the new nonce.
    pub(super) fn stale_nonce(
        &mut self,
        msg: &Message<'_>,
        operation: Operation,
    ) -> Result<(), TurnError> {
        let mut c = read_challenge(msg, operation)?;
        let Some(old) = self.session.clone() else {
            // 438 to a request without a nonce cannot be right.
            return Err(TurnError::ProtocolViolation {
                operation,
                what: "438 Stale Nonce to a request that carried no nonce",
            });
        };
        let realm = c.realm.take().unwrap_or(old.realm);
        if c.offered.is_none() {
            c.offered = old.offered;
        }
        self.session = Some(self.derive(realm, c)?);
        Ok(())
    }

    fn derive(&self, realm: String, c: Challenge) -> Result<Session, TurnError> {
        let (algorithm, algorithm_params) = match &c.offered {
            None => (LongTermAlgorithm::Md5, Vec::new()),
            Some(list) => list
                .iter()
                .find_map(|(n, params)| {
                    LongTermAlgorithm::from_number(*n).map(|a| (a, params.clone()))
                })
                .ok_or_else(|| TurnError::NoSupportedPasswordAlgorithm {
                    offered: list.iter().map(|(n, _)| *n).collect(),
                })?,
        };
        let key = IntegrityKey::long_term(&self.username, &realm, &self.password, algorithm)
            .map_err(TurnError::InvalidCredentials)?;
        let username = opaque_string(&self.username)
            .ok_or(TurnError::InvalidCredentials(CredentialError::Username))?
            .into_owned();
        if Username::new(&username).is_err() {
            return Err(TurnError::InvalidCredentials(CredentialError::Username));
        }
        let userhash = if c.anonymity {
            Some(userhash(&self.username, &realm).map_err(TurnError::InvalidCredentials)?)
        } else {
            None
        };
        let integrity = if c.offered.is_some() {
            IntegrityAlgorithm::Sha256
        } else {
            IntegrityAlgorithm::Sha1
        };
        Ok(Session {
            realm,
            nonce: c.nonce,
            algorithm,
            algorithm_attr: c.offered.is_some(),
            algorithm_params,
            offered: c.offered,
            userhash,
            username,
            key,
            integrity,
        })
    }

    /// Appends the credential attributes and the integrity attribute, if
    /// there is a session; nothing otherwise (§9.2.3.1).
    pub(super) fn sign(&self, w: &mut MessageWriter<'_>) -> Result<(), BuildError> {
        match &self.session {
            Some(s) => s.sign(w),
            None => Ok(()),
        }
    }
}

impl Session {
    fn sign(&self, w: &mut MessageWriter<'_>) -> Result<(), BuildError> {
        let ctx = w.context();
        // USERNAME was checked when the session was made, NONCE and REALM
        // decoded when they arrived: decoding them again cannot fail, and
        // echoes them byte for byte (up to the 763 bytes a receiver takes).
        let echo_err = |_: AttributeError| BuildError::MessageTooLong { len: usize::MAX };
        match &self.userhash {
            Some(hash) => w.add(&Userhash(hash))?,
            None => w.add(&Username::decode(self.username.as_bytes(), &ctx).map_err(echo_err)?)?,
        };
        w.add(&Nonce::decode(self.nonce.as_bytes(), &ctx).map_err(echo_err)?)?;
        w.add(&Realm::decode(self.realm.as_bytes(), &ctx).map_err(echo_err)?)?;
        if let Some(offered) = &self.offered {
            let list: Vec<PasswordAlgorithm<'_>> = offered
                .iter()
                .map(|(algorithm, params)| PasswordAlgorithm {
                    algorithm: *algorithm,
                    params,
                })
                .collect();
            w.add(&PasswordAlgorithms::new(&list))?;
        }
        if self.algorithm_attr {
            w.add(&PasswordAlgorithm {
                algorithm: self.algorithm.number(),
                params: &self.algorithm_params,
            })?;
        }
        match self.integrity {
            IntegrityAlgorithm::Sha256 => w.add_message_integrity_sha256(&self.key)?,
            IntegrityAlgorithm::Sha1 => w.add_message_integrity(&self.key)?,
        };
        Ok(())
    }
}

/// Reads REALM, NONCE and PASSWORD-ALGORITHMS and applies the bid-down
/// rule of RFC 8489 §9.2.5.
fn read_challenge(msg: &Message<'_>, operation: Operation) -> Result<Challenge, TurnError> {
    let bad = |what| TurnError::ProtocolViolation { operation, what };
    let nonce = msg
        .get::<Nonce>()
        .map_err(|_| bad("NONCE does not decode"))?
        .ok_or(bad("401/438 without NONCE"))?;
    let realm = msg
        .get::<Realm>()
        .map_err(|_| bad("REALM does not decode"))?;
    let offered = msg
        .get::<PasswordAlgorithms>()
        .map_err(|_| bad("PASSWORD-ALGORITHMS does not decode"))?;
    let features = nonce.security_features();
    if features.is_some_and(|f| f.password_algorithms()) && offered.is_none() {
        return Err(TurnError::AuthDowngrade);
    }
    Ok(Challenge {
        realm: realm.map(|r| r.as_str().to_owned()),
        nonce: nonce.as_str().to_owned(),
        offered: offered.map(|list| {
            list.iter()
                .map(|e| (e.algorithm, e.params.to_vec()))
                .collect()
        }),
        anonymity: features.is_some_and(|f| f.username_anonymity()),
    })
}

/// RFC 8489 §9.2.5: "if the NONCE attribute starts with the nonce cookie
/// with the 'Password algorithms' bit set to 1 but PASSWORD-ALGORITHMS is
/// not present, the response MUST be ignored" (responses other than 401
/// and 438).
pub(super) fn downgraded(msg: &Message<'_>) -> bool {
    let bit = matches!(msg.get::<Nonce>(), Ok(Some(n))
        if n.security_features().is_some_and(|f| f.password_algorithms()));
    bit && !matches!(msg.get::<PasswordAlgorithms>(), Ok(Some(_)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use stun_proto::{MessageType, TransactionId};

    /// RFC 8489 Appendix B.1 as corrected by verified erratum 6268 (length
    /// 0x90): a request signed with the SHA-256 long-term key, USERHASH,
    /// PASSWORD-ALGORITHM SHA-256 and MESSAGE-INTEGRITY-SHA256. A session
    /// signs a request with the vector's transaction id into exactly the
    /// vector's bytes. B.1 has PASSWORD-ALGORITHM without
    /// PASSWORD-ALGORITHMS, which no 401 leads to, so the session is set up
    /// by hand; the password is the prepared "TheMatrIX" the RFC's own
    /// computation used (the printed one has a soft hyphen, which RFC 8265
    /// OpaqueString rejects).
    #[test]
    fn rfc8489_b1_erratum_6268_is_what_a_session_signs() {
        let username = "\u{30DE}\u{30C8}\u{30EA}\u{30C3}\u{30AF}\u{30B9}";
        let realm = "example.org";
        let nonce = "obMatJos2AAACf//499k954d6OL34oL9FSTvy64sA";
        let tid = [
            0x78, 0xad, 0x34, 0x33, 0xc6, 0xad, 0x72, 0xc0, 0x29, 0xda, 0x41, 0x2e,
        ];
        let session = Session {
            realm: realm.to_owned(),
            nonce: nonce.to_owned(),
            algorithm: LongTermAlgorithm::Sha256,
            offered: None,
            algorithm_attr: true,
            algorithm_params: Vec::new(),
            userhash: Some(userhash(username, realm).unwrap()),
            username: username.to_owned(),
            key: IntegrityKey::long_term(username, realm, "TheMatrIX", LongTermAlgorithm::Sha256)
                .unwrap(),
            integrity: IntegrityAlgorithm::Sha256,
        };
        let mut buf = Vec::new();
        let mut w = MessageWriter::new(
            &mut buf,
            MessageType::BINDING_REQUEST,
            TransactionId::Rfc5389(tid),
        );
        session.sign(&mut w).unwrap();
        let ours = w.finish().to_vec();

        // The vector, typed in from the RFC and the erratum.
        let mut vector = vec![0x00, 0x01, 0x00, 0x90, 0x21, 0x12, 0xa4, 0x42];
        vector.extend_from_slice(&tid);
        vector.extend_from_slice(&[0x00, 0x1e, 0x00, 0x20]);
        vector.extend_from_slice(&[
            0x4a, 0x3c, 0xf3, 0x8f, 0xef, 0x69, 0x92, 0xbd, 0xa9, 0x52, 0xc6, 0x78, 0x04, 0x17,
            0xda, 0x0f, 0x24, 0x81, 0x94, 0x15, 0x56, 0x9e, 0x60, 0xb2, 0x05, 0xc4, 0x6e, 0x41,
            0x40, 0x7f, 0x17, 0x04,
        ]);
        vector.extend_from_slice(&[0x00, 0x15, 0x00, 0x29]);
        vector.extend_from_slice(nonce.as_bytes());
        vector.extend_from_slice(&[0, 0, 0]);
        vector.extend_from_slice(&[0x00, 0x14, 0x00, 0x0b]);
        vector.extend_from_slice(b"example.org\0");
        vector.extend_from_slice(&[0x00, 0x1d, 0x00, 0x04, 0x00, 0x02, 0x00, 0x00]);
        vector.extend_from_slice(&[0x00, 0x1c, 0x00, 0x20]);
        vector.extend_from_slice(&[
            0xb5, 0xc7, 0xbf, 0x00, 0x5b, 0x6c, 0x52, 0xa2, 0x1c, 0x51, 0xc5, 0xe8, 0x92, 0xf8,
            0x19, 0x24, 0x13, 0x62, 0x96, 0xcb, 0x92, 0x7c, 0x43, 0x14, 0x93, 0x09, 0x27, 0x8c,
            0xc6, 0x51, 0x8e, 0x65,
        ]);
        assert_eq!(ours, vector);
    }
}
