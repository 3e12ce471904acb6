//! Structured round trip: build a message from arbitrary typed attributes
//! with `MessageWriter`, parse it, and check that every attribute decodes
//! back to what was added, in order, and that integrity and fingerprint
//! verify.

#![no_main]

use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr};

use arbitrary::Arbitrary;
use libfuzzer_sys::fuzz_target;
use stun_proto::attr::{
    AdditionalAddressFamily, AddressErrorCode, AddressFamily, AlternateDomain, AlternateServer,
    CacheTimeout, ChangeRequest, ChangedAddress, ChannelNumber, ConnectionId, Data, DontFragment,
    ErrorCode, EvenPort, IceControlled, IceControlling, Icmp, Lifetime, MappedAddress, Nonce,
    OtherAddress, Padding, PasswordAlgorithm, PasswordAlgorithms, Priority, Realm, ReflectedFrom,
    RequestedAddressFamily, RequestedTransport, ReservationToken, ResponseOrigin, ResponsePort,
    Software, SourceAddress, UnknownAttributes, UseCandidate, Userhash, Username, XorMappedAddress,
    XorPeerAddress, XorRelayedAddress,
};
use stun_proto::{
    Attribute, AttributeType, BuildError, ChannelData, Class, IntegrityAlgorithm, IntegrityError,
    IntegrityKey, MAGIC_COOKIE_BYTES, Message, MessageType, MessageWriter, Method, TransactionId,
    Transport,
};
use stun_proto_fuzz::{Typed, decode};

#[derive(Arbitrary, Debug)]
enum Addr {
    V4([u8; 4], u16),
    V6([u8; 16], u16),
}

impl Addr {
    fn socket(&self) -> SocketAddr {
        match *self {
            Addr::V4(ip, port) => SocketAddr::from((Ipv4Addr::from(ip), port)),
            Addr::V6(ip, port) => SocketAddr::from((Ipv6Addr::from(ip), port)),
        }
    }
}

/// An attribute to add. Text goes through the checked constructors; values
/// they refuse are skipped.
#[derive(Arbitrary, Debug)]
enum Attr {
    XorMapped(Addr),
    XorPeer(Addr),
    XorRelayed(Addr),
    Mapped(Addr),
    AlternateServer(Addr),
    ResponseOrigin(Addr),
    OtherAddress(Addr),
    ChangedAddress(Addr),
    SourceAddress(Addr),
    ReflectedFrom(Addr),
    Username(String),
    Realm(String),
    Nonce(String),
    Software(String),
    AlternateDomain(String),
    ErrorCode(u16, String),
    AddressErrorCode(bool, u16, String),
    UnknownAttributes(Vec<u16>),
    Priority(u32),
    IceControlled(u64),
    IceControlling(u64),
    UseCandidate,
    Lifetime(u32),
    ConnectionId(u32),
    CacheTimeout(u32),
    ChannelNumber(u16),
    Data(Vec<u8>),
    RequestedTransport(u8),
    EvenPort(bool),
    DontFragment,
    ReservationToken([u8; 8]),
    RequestedAddressFamily(u8),
    AdditionalAddressFamily(u8),
    Icmp(u8, u8, u32),
    ChangeRequest(bool, bool),
    ResponsePort(u16),
    Padding(Vec<u8>),
    PasswordAlgorithm(u16, Vec<u8>),
    PasswordAlgorithms(Vec<(u16, Vec<u8>)>),
    Userhash([u8; 32]),
    /// Any type but the three the writer computes, with any value.
    Raw(u16, Vec<u8>),
}

#[derive(Arbitrary, Debug)]
enum Id {
    Rfc5389([u8; 12]),
    Rfc3489([u8; 16]),
}

#[derive(Arbitrary, Debug)]
struct Input {
    class: u8,
    method: u16,
    id: Id,
    attrs: Vec<Attr>,
    key: Vec<u8>,
    message_integrity: bool,
    /// MESSAGE-INTEGRITY-SHA256 truncated to 16 + 4 * (n % 5) bytes.
    message_integrity_sha256: Option<u8>,
    fingerprint: bool,
    channel_data: Option<(u16, Vec<u8>)>,
}

/// An attribute as built, kept to compare with what is decoded.
enum Built<'a> {
    Typed(Typed<'a>),
    Raw(AttributeType, &'a [u8]),
}

/// Adds a typed attribute; the writer may only refuse it for size.
fn add_typed<'a, A>(
    w: &mut MessageWriter<'_>,
    attr: A,
    wrap: fn(A) -> Typed<'a>,
) -> Option<Built<'a>>
where
    A: Attribute<'a> + Copy,
{
    let before = w.as_bytes().to_vec();
    match w.add(&attr) {
        Ok(_) => Some(Built::Typed(wrap(attr))),
        Err(e) => {
            size_refusal(e);
            assert_eq!(
                w.as_bytes(),
                before,
                "a refused attribute left bytes behind"
            );
            None
        }
    }
}

/// The only refusals a body attribute may get before integrity.
fn size_refusal(e: BuildError) {
    assert!(
        matches!(
            e,
            BuildError::MessageTooLong { .. } | BuildError::ValueTooLong { .. }
        ),
        "unexpected writer error: {e}"
    );
}

fn build<'a>(w: &mut MessageWriter<'_>, attr: &'a Attr, lists: &'a Lists<'a>) -> Option<Built<'a>> {
    use Typed as T;
    match attr {
        Attr::XorMapped(a) => add_typed(w, XorMappedAddress(a.socket()), |v| {
            T::XorMappedAddress(Ok(v))
        }),
        Attr::XorPeer(a) => add_typed(w, XorPeerAddress(a.socket()), |v| T::XorPeerAddress(Ok(v))),
        Attr::XorRelayed(a) => add_typed(w, XorRelayedAddress(a.socket()), |v| {
            T::XorRelayedAddress(Ok(v))
        }),
        Attr::Mapped(a) => add_typed(w, MappedAddress(a.socket()), |v| T::MappedAddress(Ok(v))),
        Attr::AlternateServer(a) => add_typed(w, AlternateServer(a.socket()), |v| {
            T::AlternateServer(Ok(v))
        }),
        Attr::ResponseOrigin(a) => {
            add_typed(w, ResponseOrigin(a.socket()), |v| T::ResponseOrigin(Ok(v)))
        }
        Attr::OtherAddress(a) => add_typed(w, OtherAddress(a.socket()), |v| T::OtherAddress(Ok(v))),
        Attr::ChangedAddress(a) => {
            add_typed(w, ChangedAddress(a.socket()), |v| T::ChangedAddress(Ok(v)))
        }
        Attr::SourceAddress(a) => {
            add_typed(w, SourceAddress(a.socket()), |v| T::SourceAddress(Ok(v)))
        }
        Attr::ReflectedFrom(a) => {
            add_typed(w, ReflectedFrom(a.socket()), |v| T::ReflectedFrom(Ok(v)))
        }
        Attr::Username(s) => add_typed(w, Username::new(s).ok()?, |v| T::Username(Ok(v))),
        Attr::Realm(s) => add_typed(w, Realm::new(s).ok()?, |v| T::Realm(Ok(v))),
        Attr::Nonce(s) => add_typed(w, Nonce::new(s).ok()?, |v| T::Nonce(Ok(v))),
        Attr::Software(s) => add_typed(w, Software::new(s).ok()?, |v| T::Software(Ok(v))),
        Attr::AlternateDomain(s) => add_typed(w, AlternateDomain::new(s).ok()?, |v| {
            T::AlternateDomain(Ok(v))
        }),
        Attr::ErrorCode(code, reason) => add_typed(w, ErrorCode::new(*code, reason).ok()?, |v| {
            T::ErrorCode(Ok(v))
        }),
        Attr::AddressErrorCode(v6, code, reason) => {
            let family = if *v6 {
                AddressFamily::V6
            } else {
                AddressFamily::V4
            };
            let attr = AddressErrorCode::new(family, *code, reason).ok()?;
            add_typed(w, attr, |v| T::AddressErrorCode(Ok(v)))
        }
        Attr::UnknownAttributes(_) => add_typed(w, UnknownAttributes::new(&lists.unknown), |v| {
            T::UnknownAttributes(Ok(v))
        }),
        Attr::Priority(n) => add_typed(w, Priority(*n), |v| T::Priority(Ok(v))),
        Attr::IceControlled(n) => add_typed(w, IceControlled(*n), |v| T::IceControlled(Ok(v))),
        Attr::IceControlling(n) => add_typed(w, IceControlling(*n), |v| T::IceControlling(Ok(v))),
        Attr::UseCandidate => add_typed(w, UseCandidate, |v| T::UseCandidate(Ok(v))),
        Attr::Lifetime(n) => add_typed(w, Lifetime(*n), |v| T::Lifetime(Ok(v))),
        Attr::ConnectionId(n) => add_typed(w, ConnectionId(*n), |v| T::ConnectionId(Ok(v))),
        Attr::CacheTimeout(n) => add_typed(w, CacheTimeout(*n), |v| T::CacheTimeout(Ok(v))),
        Attr::ChannelNumber(n) => {
            add_typed(w, ChannelNumber::new(*n).ok()?, |v| T::ChannelNumber(Ok(v)))
        }
        Attr::Data(d) => add_typed(w, Data(d), |v| T::Data(Ok(v))),
        Attr::RequestedTransport(p) => add_typed(w, RequestedTransport { protocol: *p }, |v| {
            T::RequestedTransport(Ok(v))
        }),
        Attr::EvenPort(r) => add_typed(w, EvenPort { reserve: *r }, |v| T::EvenPort(Ok(v))),
        Attr::DontFragment => add_typed(w, DontFragment, |v| T::DontFragment(Ok(v))),
        Attr::ReservationToken(t) => {
            add_typed(w, ReservationToken(*t), |v| T::ReservationToken(Ok(v)))
        }
        Attr::RequestedAddressFamily(f) => add_typed(w, RequestedAddressFamily(*f), |v| {
            T::RequestedAddressFamily(Ok(v))
        }),
        Attr::AdditionalAddressFamily(f) => add_typed(w, AdditionalAddressFamily(*f), |v| {
            T::AdditionalAddressFamily(Ok(v))
        }),
        Attr::Icmp(icmp_type, icmp_code, error_data) => {
            let icmp = Icmp {
                icmp_type: *icmp_type,
                icmp_code: *icmp_code,
                error_data: *error_data,
            };
            add_typed(w, icmp, |v| T::Icmp(Ok(v)))
        }
        Attr::ChangeRequest(change_ip, change_port) => {
            let cr = ChangeRequest {
                change_ip: *change_ip,
                change_port: *change_port,
            };
            add_typed(w, cr, |v| T::ChangeRequest(Ok(v)))
        }
        Attr::ResponsePort(p) => add_typed(w, ResponsePort(*p), |v| T::ResponsePort(Ok(v))),
        Attr::Padding(d) => add_typed(w, Padding(d), |v| T::Padding(Ok(v))),
        Attr::PasswordAlgorithm(algorithm, params) => {
            let pa = PasswordAlgorithm {
                algorithm: *algorithm,
                params,
            };
            add_typed(w, pa, |v| T::PasswordAlgorithm(Ok(v)))
        }
        Attr::PasswordAlgorithms(_) => {
            add_typed(w, PasswordAlgorithms::new(&lists.algorithms), |v| {
                T::PasswordAlgorithms(Ok(v))
            })
        }
        Attr::Userhash(h) => add_typed(w, Userhash(h), |v| T::Userhash(Ok(v))),
        Attr::Raw(t, value) => {
            let t = AttributeType(*t);
            if matches!(
                t,
                AttributeType::MESSAGE_INTEGRITY
                    | AttributeType::MESSAGE_INTEGRITY_SHA256
                    | AttributeType::FINGERPRINT
            ) {
                return None;
            }
            let before = w.as_bytes().to_vec();
            match w.add_raw(t, value) {
                Ok(_) => Some(Built::Raw(t, value)),
                Err(e) => {
                    size_refusal(e);
                    assert_eq!(w.as_bytes(), before);
                    None
                }
            }
        }
    }
}

/// The borrowed lists of one list attribute (rebuilt per attribute).
#[derive(Default)]
struct Lists<'a> {
    unknown: Vec<AttributeType>,
    algorithms: Vec<PasswordAlgorithm<'a>>,
}

fn lists(attr: &Attr) -> Lists<'_> {
    match attr {
        Attr::UnknownAttributes(types) => Lists {
            unknown: types.iter().copied().map(AttributeType).collect(),
            ..Lists::default()
        },
        Attr::PasswordAlgorithms(list) => Lists {
            algorithms: list
                .iter()
                .map(|(algorithm, params)| PasswordAlgorithm {
                    algorithm: *algorithm,
                    params,
                })
                .collect(),
            ..Lists::default()
        },
        _ => Lists::default(),
    }
}

fn class(n: u8) -> Class {
    match n % 4 {
        0 => Class::Request,
        1 => Class::Indication,
        2 => Class::Success,
        _ => Class::Error,
    }
}

fuzz_target!(|input: Input| {
    let method = Method::new(input.method & 0x0FFF).expect("12 bits fit");
    let msg_type = MessageType::new(method, class(input.class));
    let id = match input.id {
        Id::Rfc5389(id) => TransactionId::Rfc5389(id),
        Id::Rfc3489(id) => TransactionId::Rfc3489(id),
    };
    // An RFC 3489 id that starts with the magic cookie is, on the wire, an
    // RFC 5389 message; the writer frames it as one.
    let id = match id {
        TransactionId::Rfc3489(raw) if raw.starts_with(&MAGIC_COOKIE_BYTES) => {
            let mut rest = [0u8; 12];
            rest.copy_from_slice(&raw[4..]);
            TransactionId::Rfc5389(rest)
        }
        other => other,
    };
    let key = IntegrityKey::from_bytes(&input.key);

    let all_lists: Vec<Lists<'_>> = input.attrs.iter().map(lists).collect();
    let mut buf = Vec::new();
    let mut w = MessageWriter::new(&mut buf, msg_type, id);
    let mut built = Vec::new();
    for (attr, lists) in input.attrs.iter().zip(&all_lists) {
        if let Some(b) = build(&mut w, attr, lists) {
            built.push(b);
        }
        // The message so far is always complete.
        assert!(Message::parse(w.as_bytes()).is_ok());
    }

    let rfc3489 = id.is_rfc3489();
    let mut with_sha1 = false;
    if input.message_integrity {
        match w.add_message_integrity(&key) {
            Ok(_) => with_sha1 = true,
            Err(e) => assert!(matches!(e, BuildError::MessageTooLong { .. }), "{e}"),
        }
    }
    let mut with_sha256 = false;
    if let Some(n) = input.message_integrity_sha256 {
        let len = 16 + 4 * usize::from(n % 5);
        match w.add_message_integrity_sha256_truncated(&key, len) {
            Ok(_) => with_sha256 = true,
            Err(BuildError::NotInRfc3489 { .. }) if rfc3489 => {}
            Err(e) => assert!(matches!(e, BuildError::MessageTooLong { .. }), "{e}"),
        }
    }
    let mut with_fingerprint = false;
    if input.fingerprint {
        match w.add_fingerprint() {
            Ok(_) => with_fingerprint = true,
            Err(BuildError::NotInRfc3489 { .. }) if rfc3489 => {}
            Err(e) => assert!(matches!(e, BuildError::MessageTooLong { .. }), "{e}"),
        }
    }
    let bytes = w.finish();

    let msg = match Message::parse(bytes) {
        Ok(m) => m,
        Err(e) => panic!("the writer built an unparseable message: {e}"),
    };
    assert_eq!(msg.msg_type(), msg_type);
    assert_eq!(msg.transaction_id(), id);
    assert_eq!(msg.is_rfc3489(), rfc3489);

    // Every attribute comes back, in order, and nothing is ignored.
    let ctx = msg.context();
    let all: Vec<_> = msg.all_attributes().collect();
    let processed: Vec<_> = msg.attributes().collect();
    assert_eq!(all, processed);
    let checks = usize::from(with_sha1) + usize::from(with_sha256) + usize::from(with_fingerprint);
    assert_eq!(processed.len(), built.len() + checks);
    for (raw, b) in processed.iter().zip(&built) {
        match b {
            Built::Typed(expected) => {
                let got = decode(raw, &ctx);
                assert!(
                    got.same_value(expected),
                    "added {expected:?}, decoded {got:?}"
                );
            }
            Built::Raw(t, value) => {
                assert_eq!((raw.attr_type, raw.value), (*t, *value));
            }
        }
    }
    let unknown: Vec<AttributeType> = built
        .iter()
        .filter_map(|b| match b {
            Built::Raw(t, _) if t.is_comprehension_required() && !t.is_known() => Some(*t),
            _ => None,
        })
        .collect();
    assert!(msg.unknown_comprehension_required().eq(unknown));

    // The check attributes follow, in order, and verify.
    let mut tail = processed[built.len()..].iter().map(|a| a.attr_type);
    if with_sha1 {
        assert_eq!(tail.next(), Some(AttributeType::MESSAGE_INTEGRITY));
    }
    if with_sha256 {
        assert_eq!(tail.next(), Some(AttributeType::MESSAGE_INTEGRITY_SHA256));
    }
    if with_fingerprint {
        assert_eq!(tail.next(), Some(AttributeType::FINGERPRINT));
    }
    assert_eq!(msg.has_message_integrity(), with_sha1);
    assert_eq!(msg.has_message_integrity_sha256(), with_sha256);
    assert_eq!(msg.has_fingerprint(), with_fingerprint);
    let mut other_key = input.key.clone();
    other_key.push(1);
    let other_key = IntegrityKey::from_bytes(&other_key);
    if with_sha1 {
        assert_eq!(msg.verify_message_integrity(&key), Ok(()));
        assert!(matches!(
            msg.verify_message_integrity(&other_key),
            Err(IntegrityError::Mismatch { .. })
        ));
    }
    if with_sha256 {
        assert_eq!(msg.verify_message_integrity_sha256(&key), Ok(()));
        assert!(matches!(
            msg.verify_message_integrity_sha256(&other_key),
            Err(IntegrityError::Mismatch { .. })
        ));
    }
    let expected = if with_sha256 {
        Ok(IntegrityAlgorithm::Sha256)
    } else if with_sha1 {
        Ok(IntegrityAlgorithm::Sha1)
    } else {
        Err(IntegrityError::Missing)
    };
    assert_eq!(msg.verify_integrity(&key), expected);
    if with_fingerprint {
        assert_eq!(msg.verify_fingerprint(), Ok(()));
    }

    if let Some((channel, data)) = &input.channel_data {
        channel_data(*channel, data);
    }
});

fn channel_data(channel: u16, data: &[u8]) {
    let Ok(cd) = ChannelData::new(channel, data) else {
        return;
    };
    let mut buf = Vec::new();
    for transport in [Transport::Datagram, Transport::Stream] {
        cd.write(&mut buf, transport);
        assert_eq!(buf.len(), cd.encoded_len(transport));
        assert_eq!(ChannelData::parse(&buf, transport), Ok(cd));
    }
    // A padded message is valid as a datagram too.
    assert_eq!(ChannelData::parse(&buf, Transport::Datagram), Ok(cd));
}
