//! Long-term credentials (RFC 8489 §9.2.4) at the TURN server: the 401
//! challenge, MD5 and SHA-256 keys, USERHASH, the bid-down checks, nonce
//! expiry (438), coturn's shared-secret usernames, and 441.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod turn_support;

use std::time::Duration;

use stun_proto::attr::{
    Lifetime, Nonce, PasswordAlgorithm, PasswordAlgorithms, Realm, RequestedTransport,
    SecurityFeatures, Userhash, Username, XorMappedAddress, XorRelayedAddress,
};
use stun_proto::{
    AttributeType, Class, IntegrityAlgorithm, IntegrityKey, LongTermAlgorithm, MessageType,
    MessageWriter, Method,
};
use turn_server::turn::auth::shared_secret_password;
use turn_support::*;

fn types(a: &Answer) -> Vec<AttributeType> {
    a.msg().all_attributes().map(|x| x.attr_type).collect()
}

#[test]
fn unauthenticated_request_is_challenged_with_realm_nonce_and_algorithms() {
    let mut h = Harness::default();
    let mut c = Client::alice();
    let bytes = c.request(Method::ALLOCATE, |w| {
        w.add(&RequestedTransport::UDP).unwrap();
    });
    let a = c.send(&mut h, &bytes);
    assert_eq!(a.code(), Some(401));
    assert_eq!(a.class(), Class::Error);
    let m = a.msg();
    assert_eq!(m.get::<Realm>().unwrap().unwrap().as_str(), REALM);
    let nonce = m.get::<Nonce>().unwrap().unwrap();
    let features = nonce.security_features().expect("nonce cookie");
    assert!(features.password_algorithms());
    assert!(
        features.username_anonymity(),
        "a user list: USERHASH offered"
    );
    let algs: Vec<u16> = m
        .get::<PasswordAlgorithms>()
        .unwrap()
        .unwrap()
        .iter()
        .map(|a| a.algorithm)
        .collect();
    assert_eq!(algs, [2, 1], "SHA-256 preferred, MD5 offered");
    assert!(!m.has_message_integrity() && !m.has_message_integrity_sha256());
    assert!(!types(&a).contains(&AttributeType::USERNAME));
    assert_eq!(h.server.stats().allocations, 0);
    assert!(h.events.is_empty(), "nothing bound before authentication");
}

#[test]
fn md5_allocate_succeeds_and_is_signed() {
    let mut h = Harness::default();
    let mut c = Client::alice();
    let a = c.allocate_with(&mut h, |_| {});
    assert!(a.is_success());
    let m = a.msg();
    assert!(m.has_message_integrity() && !m.has_message_integrity_sha256());
    m.verify_message_integrity(&c.key()).unwrap();
    let relay = m.get::<XorRelayedAddress>().unwrap().unwrap().0;
    assert_eq!(relay.ip(), addr(SERVER).ip());
    assert!(relay.port() >= 49152);
    assert_eq!(
        m.get::<XorMappedAddress>().unwrap().unwrap().0,
        addr(CLIENT)
    );
    assert_eq!(m.get::<Lifetime>().unwrap(), Some(Lifetime(600)));
    assert_eq!(
        types(&a),
        [
            AttributeType::XOR_RELAYED_ADDRESS,
            AttributeType::LIFETIME,
            AttributeType::XOR_MAPPED_ADDRESS,
            AttributeType::SOFTWARE,
            AttributeType::MESSAGE_INTEGRITY,
            AttributeType::FINGERPRINT
        ]
    );
    assert_eq!(h.server.stats().allocations, 1);
}

#[test]
fn sha256_key_with_message_integrity_sha256() {
    let mut h = Harness::default();
    let mut c = Client::alice();
    c.algorithm = LongTermAlgorithm::Sha256;
    c.integrity = IntegrityAlgorithm::Sha256;
    let a = c.allocate_with(&mut h, |_| {});
    assert!(a.is_success(), "{:?}", a.code());
    let m = a.msg();
    assert!(m.has_message_integrity_sha256() && !m.has_message_integrity());
    // The MD5 key does not verify it: the SHA-256 key was used.
    let md5 = IntegrityKey::long_term(USER, REALM, PASSWORD, LongTermAlgorithm::Md5).unwrap();
    assert!(m.verify_message_integrity_sha256(&md5).is_err());
}

#[test]
fn md5_key_chosen_explicitly_from_the_offered_list() {
    let mut h = Harness::default();
    let mut c = Client::alice();
    c.send_algorithms = true;
    assert!(c.allocate_with(&mut h, |_| {}).is_success());
}

#[test]
fn bid_down_attempts_get_400() {
    let mut h = Harness::default();
    let mut c = Client::alice();
    let first = c.request(Method::ALLOCATE, |_| {});
    let challenge = c.send(&mut h, &first);
    c.learn(&challenge);
    // The list as an attacker would rewrite it: MD5 only.
    c.offered = vec![1];
    c.send_algorithms = true;
    let bytes = c.request(Method::ALLOCATE, |w| {
        w.add(&RequestedTransport::UDP).unwrap();
    });
    let a = c.send(&mut h, &bytes);
    assert_eq!(a.code(), Some(400));
    assert!(!a.msg().has_message_integrity());
    // PASSWORD-ALGORITHM without PASSWORD-ALGORITHMS.
    let nonce = c.nonce.clone().unwrap();
    let key = c.key();
    let mut buf = Vec::new();
    let mut w = MessageWriter::new(
        &mut buf,
        MessageType::new(Method::ALLOCATE, Class::Request),
        c.next_id(),
    );
    w.add(&RequestedTransport::UDP).unwrap();
    w.add(&Username::new(USER).unwrap()).unwrap();
    w.add(&Realm::new(REALM).unwrap()).unwrap();
    w.add(&Nonce::new(&nonce).unwrap()).unwrap();
    w.add(&PasswordAlgorithm::MD5).unwrap();
    w.add_message_integrity(&key).unwrap();
    assert_eq!(c.send(&mut h, &buf).code(), Some(400));
    // An algorithm the server does not offer.
    c.offered = vec![2, 1];
    c.send_algorithms = true;
    let mut bytes = c.request(Method::ALLOCATE, |_| {});
    // Rewrite PASSWORD-ALGORITHM 0x0001 into 0x0003 (the integrity no
    // longer matters: the 400 comes first).
    let m = stun_proto::Message::parse(&bytes).unwrap();
    let at = m.get_raw(AttributeType::PASSWORD_ALGORITHM).unwrap().offset;
    bytes[at + 5] = 3;
    let mut strip = bytes.clone();
    strip.truncate(bytes.len() - 8);
    let len = (strip.len() - 20) as u16;
    strip[2..4].copy_from_slice(&len.to_be_bytes());
    assert_eq!(c.send(&mut h, &strip).code(), Some(400));
    assert_eq!(h.server.stats().allocations, 0);
}

#[test]
fn userhash_identifies_the_user() {
    let mut h = Harness::default();
    let mut c = Client::alice();
    let first = c.request(Method::ALLOCATE, |_| {});
    let challenge = c.send(&mut h, &first);
    c.learn(&challenge);
    let hash = stun_proto::auth::userhash(USER, REALM).unwrap();
    let key = c.key();
    let mut buf = Vec::new();
    let mut w = MessageWriter::new(
        &mut buf,
        MessageType::new(Method::ALLOCATE, Class::Request),
        c.next_id(),
    );
    w.add(&RequestedTransport::UDP).unwrap();
    w.add(&Userhash(&hash)).unwrap();
    w.add(&Realm::new(REALM).unwrap()).unwrap();
    w.add(&Nonce::new(c.nonce.as_deref().unwrap()).unwrap())
        .unwrap();
    w.add_message_integrity(&key).unwrap();
    w.add_fingerprint().unwrap();
    let a = c.send(&mut h, &buf);
    assert!(a.is_success(), "{:?}", a.code());
    c.verify(&a);
}

#[test]
fn wrong_password_and_unknown_user_get_401_with_a_new_challenge() {
    let mut h = Harness::default();
    for (user, password) in [(USER, "wrong"), ("mallory", "x")] {
        let mut c = Client::new(CLIENT, user, password);
        let a = c.allocate_with(&mut h, |_| {});
        assert_eq!(a.code(), Some(401), "{user}");
        let m = a.msg();
        assert!(m.get::<Nonce>().unwrap().is_some() && m.get::<Realm>().unwrap().is_some());
        assert!(!m.has_message_integrity());
    }
    assert_eq!(h.server.stats().allocations, 0);
}

#[test]
fn integrity_without_username_realm_or_nonce_is_400() {
    let mut h = Harness::default();
    let mut c = Client::alice();
    let first = c.request(Method::ALLOCATE, |_| {});
    let challenge = c.send(&mut h, &first);
    c.learn(&challenge);
    let key = c.key();
    let nonce = c.nonce.clone().unwrap();
    for skip in 0..3 {
        let mut buf = Vec::new();
        let mut w = MessageWriter::new(
            &mut buf,
            MessageType::new(Method::ALLOCATE, Class::Request),
            c.next_id(),
        );
        w.add(&RequestedTransport::UDP).unwrap();
        if skip != 0 {
            w.add(&Username::new(USER).unwrap()).unwrap();
        }
        if skip != 1 {
            w.add(&Realm::new(REALM).unwrap()).unwrap();
        }
        if skip != 2 {
            w.add(&Nonce::new(&nonce).unwrap()).unwrap();
        }
        w.add_message_integrity(&key).unwrap();
        let a = c.send(&mut h, &buf);
        assert_eq!(a.code(), Some(400), "missing #{skip}");
        assert!(
            a.msg().get::<Nonce>().unwrap().is_none(),
            "400 carries no challenge"
        );
    }
}

#[test]
fn stale_nonce_gets_438_signed_with_a_fresh_nonce() {
    let mut h = Harness::new(
        config()
            .with_nonce_lifetime(Duration::from_secs(60))
            .unwrap(),
    );
    let mut c = Client::alice();
    c.allocate(&mut h);
    let old = c.nonce.clone().unwrap();
    h.advance(Duration::from_secs(59));
    assert!(c.refresh(&mut h, None).is_success(), "still valid at 59 s");
    h.advance(Duration::from_secs(1));
    let bytes = c.request(Method::REFRESH, |_| {});
    let a = c.send(&mut h, &bytes);
    assert_eq!(a.code(), Some(438));
    c.verify(&a);
    let fresh = a.msg().get::<Nonce>().unwrap().unwrap().as_str().to_owned();
    assert_ne!(fresh, old);
    assert!(a.msg().get::<PasswordAlgorithms>().unwrap().is_some());
    // The usual client retries with the new nonce.
    assert!(c.refresh(&mut h, None).is_success());
    assert_eq!(c.nonce.as_deref(), Some(fresh.as_str()));
}

#[test]
fn nonce_is_bound_to_the_client_ip() {
    let mut h = Harness::default();
    let mut c = Client::alice();
    c.allocate(&mut h);
    // Another host replays the nonce with the right password: 438.
    let mut other = Client::new("198.51.100.99:40000", USER, PASSWORD);
    other.realm = c.realm.clone();
    other.nonce = c.nonce.clone();
    let bytes = other.request(Method::ALLOCATE, |w| {
        w.add(&RequestedTransport::UDP).unwrap();
    });
    assert_eq!(other.send(&mut h, &bytes).code(), Some(438));
    // The same IP from another port shares it.
    let mut port = Client::new("198.51.100.7:40002", USER, PASSWORD);
    port.realm = c.realm.clone();
    port.nonce = c.nonce.clone();
    let bytes = port.request(Method::ALLOCATE, |w| {
        w.add(&RequestedTransport::UDP).unwrap();
    });
    assert!(port.send(&mut h, &bytes).is_success());
}

fn rest_user(expiry: u64) -> String {
    format!("{expiry}:carol")
}

#[test]
fn shared_secret_credentials_are_accepted_until_they_expire() {
    let mut h = Harness::default();
    let unix = 1_700_000_000;
    h.server.handle_unix_time(h.now, unix);
    let name = rest_user(unix + 100);
    let mut c = Client::new(CLIENT, &name, &shared_secret_password(SECRET, &name));
    assert!(c.allocate_with(&mut h, |_| {}).is_success());
    // The wall clock advances with virtual time: 101 s later it has expired.
    h.advance(Duration::from_secs(101));
    let a = c.refresh(&mut h, None);
    assert_eq!(a.code(), Some(401));
    // An expired username from the start.
    let old = rest_user(unix - 1);
    let mut d = Client::new(CLIENT2, &old, &shared_secret_password(SECRET, &old));
    assert_eq!(d.allocate_with(&mut h, |_| {}).code(), Some(401));
    // A username with only the timestamp, and the wrong secret.
    let bare = format!("{}", unix + 1000);
    let mut e = Client::new(
        "198.51.100.9:1",
        &bare,
        &shared_secret_password(SECRET, &bare),
    );
    assert!(e.allocate_with(&mut h, |_| {}).is_success());
    let mut f = Client::new(
        "198.51.100.9:2",
        &bare,
        &shared_secret_password(b"other", &bare),
    );
    assert_eq!(f.allocate_with(&mut h, |_| {}).code(), Some(401));
}

#[test]
fn shared_secret_needs_the_wall_clock() {
    let mut h = Harness::default();
    let name = rest_user(u64::MAX / 2);
    let mut c = Client::new(CLIENT, &name, &shared_secret_password(SECRET, &name));
    assert_eq!(c.allocate_with(&mut h, |_| {}).code(), Some(401));
}

#[test]
fn another_user_on_the_5_tuple_gets_441() {
    let mut h = Harness::default();
    let mut c = Client::alice();
    c.allocate(&mut h);
    let mut bob = Client::new(CLIENT, "bob", "bob-secret");
    let a = bob.refresh(&mut h, None);
    assert_eq!(a.code(), Some(441));
    bob.verify(&a);
    let a = bob.create_permission(&mut h, &[addr(PEER)]);
    assert_eq!(a.code(), Some(441));
    assert!(c.refresh(&mut h, None).is_success());
}

#[test]
fn nonce_cookie_without_user_list_offers_no_anonymity() {
    let cfg = turn_server::TurnServerConfig::new(addr(SERVER), REALM)
        .unwrap()
        .with_shared_secret(SECRET);
    let mut h = Harness::new(cfg);
    let mut c = Client::alice();
    let bytes = c.request(Method::ALLOCATE, |_| {});
    let a = c.send(&mut h, &bytes);
    let m = a.msg();
    let f: SecurityFeatures = m
        .get::<Nonce>()
        .unwrap()
        .unwrap()
        .security_features()
        .unwrap();
    assert!(f.password_algorithms() && !f.username_anonymity());
}
