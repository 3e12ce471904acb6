//! Hostile input: every prefix and every single-bit flip of a few requests,
//! random bytes and random well-framed messages, from a deterministic RNG.
//! Nothing panics, and every answer is a valid STUN response to the packet
//! that caused it, sent from one of our sockets to the packet's own source
//! IP, no larger than the ceiling and never padded beyond the request.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::collections::BTreeMap;
use std::net::SocketAddr;

use common::*;
use stun_proto::attr::{
    ChangeRequest, ErrorCode, IceControlling, MappedAddress, Priority, ResponsePort, Software,
    UseCandidate, Username, XorMappedAddress,
};
use stun_proto::{
    AttributeType, Class, IntegrityKey, Message, MessageType, MessageWriter, Method, TransactionId,
    Transmit,
};
use turn_server::{StunServer, StunServerConfig};

/// SplitMix64: a small deterministic generator, so that a failure replays.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    fn chance(&mut self, one_in: usize) -> bool {
        self.below(one_in) == 0
    }

    fn bytes(&mut self, n: usize) -> Vec<u8> {
        (0..n).map(|_| self.next() as u8).collect()
    }
}

/// The largest answer to a request without PADDING, with the default
/// SOFTWARE (IPv6, alternate), plus an empty PADDING attribute.
const MAX_UNPADDED_PLUS_EMPTY_PADDING: usize = 156 + 4;

/// Sources no answer may go to; drawn now and then.
const UNANSWERABLE: [&str; 4] = ["0.0.0.0:1", "198.51.100.7:0", "224.0.0.1:9", "[ff02::1]:9"];

struct Target {
    server: StunServer,
    max_response_len: usize,
    clients: Vec<SocketAddr>,
}

fn targets() -> Vec<Target> {
    let v4_clients = ["198.51.100.7:40000", "198.51.100.8:1", "203.0.113.5:65535"];
    let v6_clients = ["[2001:db8:cafe::7]:40000", "[::ffff:198.51.100.9]:5000"];
    let clients = |list: &[&str]| list.iter().map(|s| addr(s)).collect::<Vec<_>>();
    vec![
        Target {
            server: plain_v4(),
            max_response_len: 1500,
            clients: clients(&v4_clients),
        },
        Target {
            server: rfc5780_v4(),
            max_response_len: 1500,
            clients: clients(&v4_clients),
        },
        Target {
            server: rfc5780_v6(),
            max_response_len: 1500,
            clients: clients(&v6_clients),
        },
        Target {
            server: StunServer::new(rfc5780_config_v4().with_max_response_len(548).unwrap()),
            max_response_len: 548,
            clients: clients(&v4_clients),
        },
        Target {
            server: StunServer::new(StunServerConfig::new(addr("[::]:3478"))),
            max_response_len: 1500,
            clients: clients(&v6_clients),
        },
    ]
}

#[derive(Default)]
struct Tally(BTreeMap<String, usize>);

impl Tally {
    fn count(&mut self, what: impl Into<String>) {
        *self.0.entry(what.into()).or_default() += 1;
    }
}

/// Feeds `input` to every target from a client and socket the RNG picks,
/// and checks each answer.
fn feed_all(targets: &mut [Target], rng: &mut Rng, input: &[u8], tally: &mut Tally) {
    for target in targets.iter_mut() {
        let sockets = target.server.local_addresses();
        let local = sockets[rng.below(sockets.len())];
        let remote = if rng.chance(16) {
            addr(UNANSWERABLE[rng.below(UNANSWERABLE.len())])
        } else {
            target.clients[rng.below(target.clients.len())]
        };
        match target.server.handle_packet(now(), local, remote, input) {
            Ok(()) => {}
            Err(dropped) => {
                let name = format!("{dropped:?}");
                tally.count(name.split([' ', '(']).next().unwrap_or("?"));
            }
        }
        while let Some(t) = target.server.poll_transmit() {
            check_answer(&t, input, &sockets, remote, target.max_response_len, tally);
        }
    }
}

fn check_answer(
    t: &Transmit,
    input: &[u8],
    sockets: &[SocketAddr],
    remote: SocketAddr,
    max_len: usize,
    tally: &mut Tally,
) {
    let ctx = || format!("answer {t:?} to {input:02x?} from {remote}");
    assert!(sockets.contains(&t.from), "{}", ctx());
    assert_eq!(t.to.ip(), remote.ip(), "{}", ctx());
    assert!(
        t.to.port() == remote.port() || t.to.port() >= 1024,
        "{}",
        ctx()
    );
    assert!(t.data.len() <= max_len, "{}", ctx());
    assert!(
        t.data.len() <= input.len().max(MAX_UNPADDED_PLUS_EMPTY_PADDING),
        "amplified: {}",
        ctx()
    );
    let request = Message::parse(input).expect("only STUN is answered");
    assert_eq!(request.class(), Class::Request);
    assert_eq!(request.method(), Method::BINDING);
    let msg = Message::parse(&t.data).unwrap_or_else(|e| panic!("{e}: {}", ctx()));
    assert_eq!(msg.method(), Method::BINDING, "{}", ctx());
    assert_eq!(msg.transaction_id(), request.transaction_id(), "{}", ctx());
    if request.is_rfc3489() {
        assert!(
            msg.all_attributes()
                .all(|a| a.attr_type != AttributeType::FINGERPRINT),
            "{}",
            ctx()
        );
    } else {
        msg.verify_fingerprint()
            .unwrap_or_else(|e| panic!("{e}: {}", ctx()));
    }
    assert!(msg.unknown_comprehension_required().next().is_none());
    let mapped = SocketAddr::new(remote.ip().to_canonical(), remote.port());
    match msg.class() {
        Class::Success => {
            if request.is_rfc3489() {
                assert_eq!(msg.require::<MappedAddress>().unwrap().0, mapped);
            } else {
                assert_eq!(msg.require::<XorMappedAddress>().unwrap().0, mapped);
            }
            tally.count("answered: success");
        }
        Class::Error => {
            assert_eq!(t.to, remote, "errors go back to the source");
            let code = msg.require::<ErrorCode>().unwrap().code();
            assert!(code == 400 || code == 420, "{}", ctx());
            tally.count(format!("answered: {code}"));
        }
        class => panic!("{class:?}: {}", ctx()),
    }
}

fn seeds() -> Vec<Vec<u8>> {
    let key = IntegrityKey::short_term("pass").unwrap();
    vec![
        binding(|_| {}),
        binding(|w| {
            w.add_fingerprint().unwrap();
        }),
        binding(|w| {
            w.add(&Username::new("a:b").unwrap())
                .unwrap()
                .add(&Priority(1))
                .unwrap()
                .add(&IceControlling(7))
                .unwrap()
                .add(&UseCandidate)
                .unwrap()
                .add_message_integrity(&key)
                .unwrap()
                .add_fingerprint()
                .unwrap();
        }),
        legacy_binding(|w| {
            w.add(&ChangeRequest {
                change_ip: true,
                change_port: false,
            })
            .unwrap()
            .add(&Software::new("classic").unwrap())
            .unwrap();
        }),
        binding(|w| {
            w.add(&ChangeRequest {
                change_ip: true,
                change_port: true,
            })
            .unwrap()
            .add(&ResponsePort(50000))
            .unwrap();
        }),
        binding(|w| {
            w.add_raw(AttributeType::PADDING, &[0x55; 200]).unwrap();
        }),
        binding(|w| {
            w.add_raw(AttributeType(0x7F01), b"x")
                .unwrap()
                .add_raw(AttributeType::RESPONSE_ADDRESS, &[0, 1, 0, 80, 10, 0, 0, 1])
                .unwrap()
                .add_fingerprint()
                .unwrap();
        }),
    ]
}

#[test]
fn every_prefix_and_bit_flip_of_valid_requests() {
    let mut targets = targets();
    let mut rng = Rng(0x5EED_0001);
    let mut tally = Tally::default();
    for seed in seeds() {
        for end in 0..=seed.len() {
            feed_all(&mut targets, &mut rng, &seed[..end], &mut tally);
        }
        for bit in 0..seed.len() * 8 {
            let mut flipped = seed.clone();
            flipped[bit / 8] ^= 1 << (bit % 8);
            feed_all(&mut targets, &mut rng, &flipped, &mut tally);
        }
    }
    println!("{:#?}", tally.0);
    for outcome in ["answered: success", "answered: 400", "answered: 420"] {
        assert!(tally.0.contains_key(outcome), "{outcome} never reached");
    }
    for dropped in [
        "NotStun",
        "BadFingerprint",
        "UnsupportedMethod",
        "Indication",
        "Response",
        "UnanswerableSource",
    ] {
        assert!(tally.0.contains_key(dropped), "{dropped} never reached");
    }
}

#[test]
fn random_bytes() {
    let mut targets = targets();
    let mut rng = Rng(0x5EED_0002);
    let mut tally = Tally::default();
    for _ in 0..20_000 {
        let len = rng.below(160);
        let mut bytes = rng.bytes(len);
        // Half of them get a plausible header, so the attribute walk runs.
        if len >= 20 && rng.chance(2) {
            let body = (len - 20) & !3;
            bytes.truncate(20 + body);
            bytes[0] &= 0x01;
            bytes[2..4].copy_from_slice(&(body as u16).to_be_bytes());
            if rng.chance(2) {
                bytes[4..8].copy_from_slice(&stun_proto::MAGIC_COOKIE_BYTES);
            }
        }
        feed_all(&mut targets, &mut rng, &bytes, &mut tally);
    }
    println!("{:#?}", tally.0);
    assert!(tally.0.contains_key("NotStun"));
}

/// Attribute types worth drawing: everything the server reads or refuses,
/// and a random one now and then.
const TYPES: &[AttributeType] = &[
    AttributeType::CHANGE_REQUEST,
    AttributeType::RESPONSE_PORT,
    AttributeType::PADDING,
    AttributeType::RESPONSE_ADDRESS,
    AttributeType::USERNAME,
    AttributeType::PRIORITY,
    AttributeType::USE_CANDIDATE,
    AttributeType::ICE_CONTROLLING,
    AttributeType::XOR_MAPPED_ADDRESS,
    AttributeType::MAPPED_ADDRESS,
    AttributeType::SOFTWARE,
    AttributeType::REQUESTED_TRANSPORT,
    AttributeType::UNKNOWN_ATTRIBUTES,
    AttributeType::ERROR_CODE,
];

fn random_message(rng: &mut Rng) -> Vec<u8> {
    let class = match rng.below(8) {
        0 => Class::Indication,
        1 => Class::Success,
        2 => Class::Error,
        _ => Class::Request,
    };
    let method = if rng.chance(6) {
        Method::new(rng.below(0x1000) as u16).unwrap()
    } else {
        Method::BINDING
    };
    let id = if rng.chance(4) {
        let mut id = [0u8; 16];
        id.copy_from_slice(&rng.bytes(16));
        TransactionId::Rfc3489(id)
    } else {
        let mut id = [0u8; 12];
        id.copy_from_slice(&rng.bytes(12));
        TransactionId::Rfc5389(id)
    };
    let mut buf = Vec::new();
    let mut w = MessageWriter::new(&mut buf, MessageType::new(method, class), id);
    for _ in 0..rng.below(6) {
        let t = if rng.chance(8) {
            AttributeType(rng.next() as u16)
        } else {
            TYPES[rng.below(TYPES.len())]
        };
        let len = match rng.below(4) {
            0 => 4,
            1 => 2,
            2 => rng.below(300),
            _ => rng.below(12),
        };
        let mut value = rng.bytes(len);
        if t == AttributeType::RESPONSE_PORT && rng.chance(2) && len >= 2 {
            value[0] |= 0x04; // mostly >= 1024
        }
        // Integrity and fingerprint types are refused as raw body
        // attributes; anything else is fine.
        let _ = w.add_raw(t, &value);
    }
    if rng.chance(3) {
        let _ = w.add_message_integrity(&IntegrityKey::short_term("pw").unwrap());
    }
    if rng.chance(2) {
        let _ = w.add_fingerprint();
    }
    buf
}

#[test]
fn random_well_framed_messages() {
    let mut targets = targets();
    let mut rng = Rng(0x5EED_0003);
    let mut tally = Tally::default();
    for _ in 0..20_000 {
        let message = random_message(&mut rng);
        feed_all(&mut targets, &mut rng, &message, &mut tally);
    }
    println!("{:#?}", tally.0);
    for outcome in ["answered: success", "answered: 400", "answered: 420"] {
        assert!(tally.0.contains_key(outcome), "{outcome} never reached");
    }
}
