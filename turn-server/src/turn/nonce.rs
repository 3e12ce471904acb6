//! Nonces that expire, kept by no table (RFC 8489 §9.2, §9.2.4; RFC 8656
//! §7.1 on 438).
//!
//! A nonce is the RFC 8489 §9.2 nonce cookie (`obMatJos2` and the four
//! base64 characters of the STUN Security Features: "Password algorithms"
//! always, "Username anonymity" when the server has a user list to look
//! USERHASH up in) followed by 20 base64 characters of 15 bytes: the
//! expiry, in milliseconds since the server was made (6 bytes), and the
//! first 9 bytes of HMAC-SHA1 over the expiry and the client's IP address,
//! keyed with 20 bytes drawn from the seeded RNG when the server is made.
//! 33 characters in all.
//!
//! So the server stores nothing per nonce, a nonce is only good from the IP
//! address it was issued to (RFC 8489 §9.2: the nonce "could" encode the
//! client's address; binding the IP rather than the port lets a client
//! open several allocations from several ports with one nonce), and a
//! nonce past its expiry, or one this server never issued, is answered
//! with 438 (Stale Nonce) once the request's integrity checks out.

use core::net::IpAddr;
use core::time::Duration;
use std::time::Instant;

use hmac::{Hmac, KeyInit, Mac};
use sha1::Sha1;
use stun_proto::attr::SecurityFeatures;

use super::auth::base64_encode;
use super::rng::Rng;

/// The length of every nonce this server issues.
pub const NONCE_LEN: usize = 33;

/// How a request's nonce fares.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum NonceCheck {
    Valid,
    /// Issued here, to this IP, but past its expiry.
    Stale,
    /// Not issued by this server to this IP (or damaged).
    Foreign,
}

#[derive(Clone)]
pub(crate) struct Nonces {
    key: [u8; 20],
    lifetime: Duration,
    epoch: Instant,
    features: SecurityFeatures,
}

impl core::fmt::Debug for Nonces {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Nonces")
            .field("lifetime", &self.lifetime)
            .finish_non_exhaustive()
    }
}

impl Nonces {
    pub(crate) fn new(
        rng: &mut Rng,
        lifetime: Duration,
        epoch: Instant,
        anonymity: bool,
    ) -> Nonces {
        let mut key = [0u8; 20];
        rng.fill(&mut key);
        let mut bits = SecurityFeatures::PASSWORD_ALGORITHMS;
        if anonymity {
            bits |= SecurityFeatures::USERNAME_ANONYMITY;
        }
        Nonces {
            key,
            lifetime,
            epoch,
            features: SecurityFeatures(bits),
        }
    }

    fn millis(&self, t: Instant) -> u64 {
        u64::try_from(t.saturating_duration_since(self.epoch).as_millis()).unwrap_or(u64::MAX)
    }

    fn mac(&self, expiry: [u8; 6], client: IpAddr) -> [u8; 9] {
        let ip = match client.to_canonical() {
            IpAddr::V4(v4) => v4.to_ipv6_mapped().octets(),
            IpAddr::V6(v6) => v6.octets(),
        };
        let mut out = [0u8; 9];
        if let Ok(mut m) = <Hmac<Sha1> as KeyInit>::new_from_slice(&self.key) {
            m.update(&expiry);
            m.update(&ip);
            let tag = m.finalize().into_bytes();
            for (o, t) in out.iter_mut().zip(tag.iter()) {
                *o = *t;
            }
        }
        out
    }

    /// A fresh nonce for `client`, valid until `now` + the lifetime.
    pub(crate) fn issue(&self, now: Instant, client: IpAddr) -> String {
        let expiry = self
            .millis(now)
            .saturating_add(u64::try_from(self.lifetime.as_millis()).unwrap_or(u64::MAX));
        let e = expiry.min((1 << 48) - 1).to_be_bytes();
        let expiry6 = [e[2], e[3], e[4], e[5], e[6], e[7]];
        let mut raw = [0u8; 15];
        for (o, b) in raw
            .iter_mut()
            .zip(expiry6.iter().chain(self.mac(expiry6, client).iter()))
        {
            *o = *b;
        }
        let mut s = String::with_capacity(NONCE_LEN);
        s.extend(self.features.cookie().iter().map(|b| char::from(*b)));
        s.push_str(&base64_encode(&raw));
        s
    }

    /// Checks a nonce a request from `client` carries.
    pub(crate) fn check(&self, now: Instant, client: IpAddr, nonce: &str) -> NonceCheck {
        let cookie = self.features.cookie();
        let Some(rest) = nonce.as_bytes().strip_prefix(&cookie[..]) else {
            return NonceCheck::Foreign;
        };
        let Some(raw) = base64_decode_15(rest) else {
            return NonceCheck::Foreign;
        };
        let (expiry6, tag) = raw.split_at(6);
        let Ok(expiry6) = <[u8; 6]>::try_from(expiry6) else {
            return NonceCheck::Foreign;
        };
        // Not secret-dependent timing worth hiding: the tag only proves the
        // nonce is ours; integrity was checked before.
        if self.mac(expiry6, client) != tag {
            return NonceCheck::Foreign;
        }
        let mut e = [0u8; 8];
        for (o, b) in e.iter_mut().skip(2).zip(expiry6) {
            *o = b;
        }
        if self.millis(now) >= u64::from_be_bytes(e) {
            NonceCheck::Stale
        } else {
            NonceCheck::Valid
        }
    }
}

/// Decodes exactly 20 base64 characters (no padding) into 15 bytes.
fn base64_decode_15(s: &[u8]) -> Option<[u8; 15]> {
    if s.len() != 20 {
        return None;
    }
    let mut out = [0u8; 15];
    for (quad, triple) in s.chunks(4).zip(out.chunks_mut(3)) {
        let mut v = 0u32;
        for &c in quad {
            let d = match c {
                b'A'..=b'Z' => c - b'A',
                b'a'..=b'z' => c - b'a' + 26,
                b'0'..=b'9' => c - b'0' + 52,
                b'+' => 62,
                b'/' => 63,
                _ => return None,
            };
            v = (v << 6) | u32::from(d);
        }
        let b = v.to_be_bytes();
        for (o, x) in triple.iter_mut().zip(&b[1..]) {
            *o = *x;
        }
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn issued_nonces_expire_and_are_bound_to_the_ip() {
        let epoch = Instant::now_for_tests();
        let n = Nonces::new(&mut Rng::new(1), Duration::from_secs(60), epoch, true);
        let ip: IpAddr = "198.51.100.7".parse().unwrap();
        let nonce = n.issue(epoch, ip);
        assert_eq!(nonce.len(), NONCE_LEN);
        assert!(nonce.starts_with("obMatJos2"));
        let features = stun_proto::attr::Nonce::new(&nonce)
            .unwrap()
            .security_features()
            .unwrap();
        assert!(features.password_algorithms() && features.username_anonymity());
        assert_eq!(
            n.check(epoch + Duration::from_secs(59), ip, &nonce),
            NonceCheck::Valid
        );
        assert_eq!(
            n.check(epoch + Duration::from_secs(60), ip, &nonce),
            NonceCheck::Stale
        );
        let other: IpAddr = "198.51.100.8".parse().unwrap();
        assert_eq!(n.check(epoch, other, &nonce), NonceCheck::Foreign);
        let mapped: IpAddr = "::ffff:198.51.100.7".parse().unwrap();
        assert_eq!(n.check(epoch, mapped, &nonce), NonceCheck::Valid);
        let mut bad = nonce.clone().into_bytes();
        bad[20] ^= 1;
        let bad = String::from_utf8(bad).unwrap();
        assert_eq!(n.check(epoch, ip, &bad), NonceCheck::Foreign);
        assert_eq!(n.check(epoch, ip, "obMatJos2AAAA"), NonceCheck::Foreign);
        assert_eq!(n.check(epoch, ip, ""), NonceCheck::Foreign);
        let other_server = Nonces::new(&mut Rng::new(2), Duration::from_secs(60), epoch, true);
        assert_eq!(other_server.check(epoch, ip, &nonce), NonceCheck::Foreign);
    }

    trait NowForTests {
        fn now_for_tests() -> Instant;
    }

    impl NowForTests for Instant {
        #[allow(clippy::disallowed_methods)]
        fn now_for_tests() -> Instant {
            Instant::now()
        }
    }
}
