//! Property tests: every typed attribute, and random messages of them with
//! any combination of integrity and fingerprint, encode and decode back to
//! what was written. A failing case prints its minimal input; proptest
//! persists the seed under `proptest-regressions/`.

// Integration tests: a panic here is a failed assertion, not a crash on input.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::net::{IpAddr, SocketAddr};

use proptest::prelude::*;
use stun_proto::attr::*;
use stun_proto::*;

/// One attribute with owned values.
#[derive(Clone, Debug)]
enum Spec {
    Addr(u8, SocketAddr),
    Text(u8, String),
    Error(u16, String),
    AddressError(bool, u16, String),
    Unknown(Vec<u16>),
    U32(u8, u32),
    U64(bool, u64),
    Flag(bool),
    Bytes(bool, Vec<u8>),
    Channel(u16),
    Family(bool, u8),
    EvenPort(bool),
    Transport(u8),
    Token([u8; 8]),
    Icmp(u8, u8, u32),
    Change(bool, bool),
    Port(u16),
    Algorithm(u16, Vec<u8>),
    Algorithms(Vec<(u16, Vec<u8>)>),
    Userhash([u8; 32]),
    Domain(String),
    Raw(u16, Vec<u8>),
}

fn socket_addr() -> impl Strategy<Value = SocketAddr> {
    (any::<bool>(), any::<[u8; 16]>(), any::<u16>()).prop_map(|(v6, b, port)| {
        let ip = if v6 {
            IpAddr::from(b)
        } else {
            IpAddr::from([b[0], b[1], b[2], b[3]])
        };
        SocketAddr::new(ip, port)
    })
}

fn text() -> impl Strategy<Value = String> {
    prop::string::string_regex("[a-zA-Z0-9 :/+=\u{e9}\u{30de}\u{1f600}]{0,127}").unwrap()
}

fn spec() -> impl Strategy<Value = Spec> {
    prop_oneof![
        (0u8..10, socket_addr()).prop_map(|(k, a)| Spec::Addr(k, a)),
        (0u8..4, text()).prop_map(|(k, t)| Spec::Text(k, t)),
        (300u16..700, text()).prop_map(|(c, t)| Spec::Error(c, t)),
        (any::<bool>(), 300u16..700, text()).prop_map(|(f, c, t)| Spec::AddressError(f, c, t)),
        prop::collection::vec(any::<u16>(), 0..20).prop_map(Spec::Unknown),
        (0u8..4, any::<u32>()).prop_map(|(k, v)| Spec::U32(k, v)),
        (any::<bool>(), any::<u64>()).prop_map(|(k, v)| Spec::U64(k, v)),
        any::<bool>().prop_map(Spec::Flag),
        (any::<bool>(), prop::collection::vec(any::<u8>(), 0..300))
            .prop_map(|(k, b)| Spec::Bytes(k, b)),
        (0x4000u16..=0x4FFF).prop_map(Spec::Channel),
        (any::<bool>(), any::<u8>()).prop_map(|(k, f)| Spec::Family(k, f)),
        any::<bool>().prop_map(Spec::EvenPort),
        any::<u8>().prop_map(Spec::Transport),
        any::<[u8; 8]>().prop_map(Spec::Token),
        (any::<u8>(), any::<u8>(), any::<u32>()).prop_map(|(t, c, d)| Spec::Icmp(t, c, d)),
        (any::<bool>(), any::<bool>()).prop_map(|(a, b)| Spec::Change(a, b)),
        any::<u16>().prop_map(Spec::Port),
        (any::<u16>(), prop::collection::vec(any::<u8>(), 0..12))
            .prop_map(|(a, p)| Spec::Algorithm(a, p)),
        prop::collection::vec(
            (any::<u16>(), prop::collection::vec(any::<u8>(), 0..9)),
            0..5
        )
        .prop_map(Spec::Algorithms),
        any::<[u8; 32]>().prop_map(Spec::Userhash),
        prop::string::string_regex("[a-z0-9.-]{0,255}")
            .unwrap()
            .prop_map(Spec::Domain),
        // Unknown types only: known ones are covered by their typed specs.
        (
            0xC000u16..=0xFFFF,
            prop::collection::vec(any::<u8>(), 0..64)
        )
            .prop_map(|(t, v)| Spec::Raw(t, v)),
    ]
}

/// Adds `s` to `w` and returns its expected typed decode (as `Debug`).
fn add(w: &mut MessageWriter<'_>, s: &Spec) -> (AttributeType, String) {
    fn put<'a, A: Attribute<'a> + core::fmt::Debug>(
        w: &mut MessageWriter<'_>,
        a: A,
    ) -> (AttributeType, String) {
        w.add(&a).unwrap();
        (A::TYPE, format!("{a:?}"))
    }
    match s {
        Spec::Addr(k, a) => match k {
            0 => put(w, MappedAddress(*a)),
            1 => put(w, XorMappedAddress(*a)),
            2 => put(w, XorPeerAddress(*a)),
            3 => put(w, XorRelayedAddress(*a)),
            4 => put(w, AlternateServer(*a)),
            5 => put(w, ResponseOrigin(*a)),
            6 => put(w, OtherAddress(*a)),
            7 => put(w, ChangedAddress(*a)),
            8 => put(w, SourceAddress(*a)),
            _ => put(w, ReflectedFrom(*a)),
        },
        Spec::Text(k, t) => match k {
            0 => put(w, Username::new(t).unwrap()),
            1 => put(w, Realm::new(t).unwrap()),
            2 => put(w, Nonce::new(t).unwrap()),
            _ => put(w, Software::new(t).unwrap()),
        },
        Spec::Error(c, t) => put(w, ErrorCode::new(*c, t).unwrap()),
        Spec::AddressError(v6, c, t) => {
            let f = if *v6 {
                AddressFamily::V6
            } else {
                AddressFamily::V4
            };
            put(w, AddressErrorCode::new(f, *c, t).unwrap())
        }
        Spec::Unknown(list) => {
            let types: Vec<AttributeType> = list.iter().map(|t| AttributeType(*t)).collect();
            w.add(&UnknownAttributes::new(&types)).unwrap();
            (AttributeType::UNKNOWN_ATTRIBUTES, format!("{types:?}"))
        }
        Spec::U32(k, v) => match k {
            0 => put(w, Lifetime(*v)),
            1 => put(w, ConnectionId(*v)),
            2 => put(w, CacheTimeout(*v)),
            _ => put(w, Priority(*v)),
        },
        Spec::U64(k, v) => {
            if *k {
                put(w, IceControlled(*v))
            } else {
                put(w, IceControlling(*v))
            }
        }
        Spec::Flag(k) => {
            if *k {
                put(w, UseCandidate)
            } else {
                put(w, DontFragment)
            }
        }
        Spec::Bytes(k, b) => {
            if *k {
                put(w, Data(b))
            } else {
                put(w, Padding(b))
            }
        }
        Spec::Channel(c) => put(w, ChannelNumber::new(*c).unwrap()),
        Spec::Family(k, f) => {
            if *k {
                put(w, RequestedAddressFamily(*f))
            } else {
                put(w, AdditionalAddressFamily(*f))
            }
        }
        Spec::EvenPort(r) => put(w, EvenPort { reserve: *r }),
        Spec::Transport(p) => put(w, RequestedTransport { protocol: *p }),
        Spec::Token(t) => put(w, ReservationToken(*t)),
        Spec::Icmp(t, c, d) => put(
            w,
            Icmp {
                icmp_type: *t,
                icmp_code: *c,
                error_data: *d,
            },
        ),
        Spec::Change(a, b) => put(
            w,
            ChangeRequest {
                change_ip: *a,
                change_port: *b,
            },
        ),
        Spec::Port(p) => put(w, ResponsePort(*p)),
        Spec::Algorithm(a, p) => put(
            w,
            PasswordAlgorithm {
                algorithm: *a,
                params: p,
            },
        ),
        Spec::Algorithms(list) => {
            let entries: Vec<PasswordAlgorithm<'_>> = list
                .iter()
                .map(|(a, p)| PasswordAlgorithm {
                    algorithm: *a,
                    params: p,
                })
                .collect();
            w.add(&PasswordAlgorithms::new(&entries)).unwrap();
            (AttributeType::PASSWORD_ALGORITHMS, format!("{entries:?}"))
        }
        Spec::Userhash(h) => put(w, Userhash(h)),
        Spec::Domain(d) => put(w, AlternateDomain::new(d).unwrap()),
        Spec::Raw(t, v) => {
            w.add_raw(AttributeType(*t), v).unwrap();
            (AttributeType(*t), format!("{v:?}"))
        }
    }
}

#[derive(Clone, Debug)]
struct MessageSpec {
    class: u8,
    method: u16,
    id: [u8; 16],
    legacy: bool,
    attrs: Vec<Spec>,
    integrity: bool,
    sha256: Option<usize>,
    fingerprint: bool,
}

fn message_spec() -> impl Strategy<Value = MessageSpec> {
    (
        0u8..4,
        0u16..0x1000,
        any::<[u8; 16]>(),
        prop::bool::weighted(0.1),
        prop::collection::vec(spec(), 0..12),
        any::<bool>(),
        prop::option::of(prop::sample::select(vec![16usize, 20, 24, 28, 32])),
        any::<bool>(),
    )
        .prop_map(
            |(class, method, id, legacy, attrs, integrity, sha256, fingerprint)| MessageSpec {
                class,
                method,
                id,
                legacy,
                attrs,
                integrity,
                sha256,
                fingerprint,
            },
        )
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, .. ProptestConfig::default() })]

    #[test]
    fn every_attribute_round_trips(s in spec(), id in any::<[u8; 12]>()) {
        let mut buf = Vec::new();
        let mut w = MessageWriter::new(&mut buf, MessageType::BINDING_REQUEST, TransactionId::Rfc5389(id));
        let (t, expected) = add(&mut w, &s);
        let msg = Message::parse(w.finish()).unwrap();
        let raw = msg.get_raw(t).unwrap();
        let got = common::touch::decode_one(t, raw.value, &msg.context());
        let got = match got {
            Some(r) => r.unwrap(),
            None => format!("{:?}", raw.value),
        };
        prop_assert_eq!(got, expected);
    }

    #[test]
    fn random_messages_round_trip(m in message_spec()) {
        let class = [Class::Request, Class::Indication, Class::Success, Class::Error][m.class as usize];
        let msg_type = MessageType::new(Method::new(m.method).unwrap(), class);
        let id = if m.legacy {
            TransactionId::Rfc3489(m.id)
        } else {
            TransactionId::Rfc5389(m.id[..12].try_into().unwrap())
        };
        let key = IntegrityKey::from_bytes(&m.id);
        let mut buf = Vec::new();
        let mut w = MessageWriter::new(&mut buf, msg_type, id);
        // At most 12 attributes of at most ~600 bytes: far below the 64 KiB
        // limit, which has its own test below.
        let expected: Vec<_> = m.attrs.iter().map(|s| add(&mut w, s)).collect();
        if m.integrity {
            w.add_message_integrity(&key).unwrap();
        }
        if let Some(len) = m.sha256 {
            match w.add_message_integrity_sha256_truncated(&key, len) {
                Ok(_) => prop_assert!(!m.legacy),
                Err(e) => {
                    let legacy_refusal = m.legacy && matches!(e, BuildError::NotInRfc3489 { .. });
                    prop_assert!(legacy_refusal, "unexpected {:?}", e);
                }
            }
        }
        if m.fingerprint && !m.legacy {
            w.add_fingerprint().unwrap();
        }
        let bytes = w.finish();
        let msg = Message::parse(bytes).unwrap();
        prop_assert_eq!(msg.msg_type(), msg_type);
        prop_assert_eq!(msg.transaction_id(), id);
        let ctx = msg.context();
        let body: Vec<(AttributeType, String)> = msg
            .attributes()
            .filter(|a| !matches!(
                a.attr_type,
                AttributeType::MESSAGE_INTEGRITY | AttributeType::MESSAGE_INTEGRITY_SHA256 | AttributeType::FINGERPRINT
            ))
            .map(|a| {
                let d = common::touch::decode_one(a.attr_type, a.value, &ctx)
                    .map(|r| r.unwrap())
                    .unwrap_or_else(|| format!("{:?}", a.value));
                (a.attr_type, d)
            })
            .collect();
        prop_assert_eq!(body, expected);
        if m.sha256.is_some() && !m.legacy {
            prop_assert_eq!(msg.verify_integrity(&key), Ok(IntegrityAlgorithm::Sha256));
        }
        if m.integrity {
            prop_assert_eq!(msg.verify_message_integrity(&key), Ok(()));
        }
        if !m.integrity && (m.sha256.is_none() || m.legacy) {
            prop_assert_eq!(msg.verify_integrity(&key), Err(IntegrityError::Missing));
        }
        if m.fingerprint && !m.legacy {
            prop_assert_eq!(msg.verify_fingerprint(), Ok(()));
        }
    }
}

#[test]
fn the_length_field_limit_is_enforced() {
    let mut buf = Vec::new();
    let mut w = MessageWriter::new(
        &mut buf,
        MessageType::BINDING_REQUEST,
        TransactionId::Rfc5389([0; 12]),
    );
    let big = vec![0u8; 0xFFFF];
    assert_eq!(
        w.add(&Data(&big)).unwrap_err(),
        BuildError::MessageTooLong { len: 4 + 0x10000 }
    );
    let fits = vec![0u8; 0xFFFC - 4];
    w.add(&Data(&fits)).unwrap();
    assert_eq!(
        w.add(&UseCandidate).unwrap_err(),
        BuildError::MessageTooLong { len: 0xFFFC + 4 }
    );
    let msg = Message::parse(w.finish()).unwrap();
    assert_eq!(msg.as_bytes().len(), MAX_MESSAGE_LEN);
    assert_eq!(msg.require::<Data>().unwrap().0.len(), 0xFFFC - 4);
    let huge = vec![0u8; 0x10000];
    let mut buf = Vec::new();
    let mut w = MessageWriter::new(
        &mut buf,
        MessageType::BINDING_REQUEST,
        TransactionId::Rfc5389([0; 12]),
    );
    assert_eq!(
        w.add(&Data(&huge)).unwrap_err(),
        BuildError::ValueTooLong {
            attribute: AttributeType::DATA,
            len: 0x10000
        }
    );
}

#[test]
fn computed_attributes_cannot_be_added_as_values() {
    let mut buf = Vec::new();
    let mut w = MessageWriter::new(
        &mut buf,
        MessageType::BINDING_REQUEST,
        TransactionId::Rfc5389([0; 12]),
    );
    assert_eq!(
        w.add(&Fingerprint(0)).unwrap_err(),
        BuildError::ComputedAttribute {
            attribute: AttributeType::FINGERPRINT
        }
    );
    assert_eq!(
        w.add(&MessageIntegrity(&[0; 20])).unwrap_err(),
        BuildError::ComputedAttribute {
            attribute: AttributeType::MESSAGE_INTEGRITY
        }
    );
}
