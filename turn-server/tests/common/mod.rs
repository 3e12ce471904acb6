//! Helpers shared by the STUN server tests: servers on documentation
//! addresses (RFC 5737, RFC 3849), hand-built requests, one exchange at a
//! time.

#![allow(dead_code)]
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::net::SocketAddr;
use std::time::Instant;

use stun_proto::attr::ErrorCode;
use stun_proto::{
    AttributeType, Class, Message, MessageType, MessageWriter, Method, TransactionId, Transmit,
};
use turn_server::{Dropped, StunServer, StunServerConfig};

/// A1:P1 of the IPv4 servers.
pub const V4_PRIMARY: &str = "192.0.2.1:3478";
/// A2 and P2 of the IPv4 RFC 5780 server.
pub const V4_ALT: (&str, u16) = ("192.0.2.2", 3479);
/// A1:P1 of the IPv6 servers.
pub const V6_PRIMARY: &str = "[2001:db8::1]:3478";
/// A2 and P2 of the IPv6 RFC 5780 server.
pub const V6_ALT: (&str, u16) = ("2001:db8::2", 3479);
/// A client behind a NAT, as the server sees it.
pub const V4_CLIENT: &str = "198.51.100.7:40000";
/// An IPv6 client.
pub const V6_CLIENT: &str = "[2001:db8:cafe::7]:40000";

pub fn addr(s: &str) -> SocketAddr {
    s.parse().unwrap()
}

/// The server ignores the time; any instant will do.
pub fn now() -> Instant {
    #[allow(clippy::disallowed_methods)]
    Instant::now()
}

pub fn plain_v4() -> StunServer {
    StunServer::new(StunServerConfig::new(addr(V4_PRIMARY)))
}

pub fn plain_v6() -> StunServer {
    StunServer::new(StunServerConfig::new(addr(V6_PRIMARY)))
}

pub fn rfc5780_config_v4() -> StunServerConfig {
    StunServerConfig::new(addr(V4_PRIMARY))
        .with_alternate(V4_ALT.0.parse().unwrap(), V4_ALT.1)
        .unwrap()
}

pub fn rfc5780_v4() -> StunServer {
    StunServer::new(rfc5780_config_v4())
}

pub fn rfc5780_v6() -> StunServer {
    StunServer::new(
        StunServerConfig::new(addr(V6_PRIMARY))
            .with_alternate(V6_ALT.0.parse().unwrap(), V6_ALT.1)
            .unwrap(),
    )
}

pub const ID: TransactionId = TransactionId::Rfc5389([
    0xb7, 0xe7, 0xa7, 0x01, 0xbc, 0x34, 0xd6, 0x86, 0xfa, 0x87, 0xdf, 0xae,
]);
pub const LEGACY_ID: TransactionId = TransactionId::Rfc3489([
    0x0f, 0x1e, 0x2d, 0x3c, 0x4b, 0x5a, 0x69, 0x78, 0x87, 0x96, 0xa5, 0xb4, 0xc3, 0xd2, 0xe1, 0xf0,
]);

/// A message of `msg_type` with id `id`, attributes added by `build`.
pub fn message(
    msg_type: MessageType,
    id: TransactionId,
    build: impl FnOnce(&mut MessageWriter<'_>),
) -> Vec<u8> {
    let mut buf = Vec::new();
    let mut w = MessageWriter::new(&mut buf, msg_type, id);
    build(&mut w);
    buf
}

/// A Binding request with id [`ID`].
pub fn binding(build: impl FnOnce(&mut MessageWriter<'_>)) -> Vec<u8> {
    message(MessageType::BINDING_REQUEST, ID, build)
}

/// A Binding request with the legacy id [`LEGACY_ID`] (no magic cookie).
pub fn legacy_binding(build: impl FnOnce(&mut MessageWriter<'_>)) -> Vec<u8> {
    message(MessageType::BINDING_REQUEST, LEGACY_ID, build)
}

/// Feeds one packet and drains the queue: the answers, or why none.
pub fn feed(
    server: &mut StunServer,
    local: SocketAddr,
    remote: SocketAddr,
    data: &[u8],
) -> Result<Vec<Transmit>, Dropped> {
    server.handle_packet(now(), local, remote, data)?;
    Ok(std::iter::from_fn(|| server.poll_transmit()).collect())
}

/// Feeds a request that must be answered exactly once.
pub fn exchange(
    server: &mut StunServer,
    local: SocketAddr,
    remote: SocketAddr,
    data: &[u8],
) -> Transmit {
    let answers = feed(server, local, remote, data).expect("answered");
    assert_eq!(answers.len(), 1, "one answer per request");
    answers.into_iter().next().unwrap()
}

/// Feeds a packet that must get no answer, and returns why.
pub fn silence(
    server: &mut StunServer,
    local: SocketAddr,
    remote: SocketAddr,
    data: &[u8],
) -> Dropped {
    let dropped = server
        .handle_packet(now(), local, remote, data)
        .expect_err("silence");
    assert!(server.poll_transmit().is_none());
    dropped
}

/// Parses an answer and checks what every answer to `request` shares: a
/// Binding response with the request's transaction id, FINGERPRINT last and
/// valid exactly when the request had the magic cookie.
pub fn answer_to<'a>(t: &'a Transmit, request: &[u8]) -> Message<'a> {
    let req = Message::parse(request).unwrap();
    let msg = Message::parse(&t.data).unwrap();
    assert_eq!(msg.method(), Method::BINDING);
    assert!(msg.class().is_response());
    assert_eq!(msg.transaction_id(), req.transaction_id());
    assert_eq!(
        t.data[4..20],
        request[4..20],
        "cookie and id copied byte for byte"
    );
    if req.is_rfc3489() {
        assert!(!types(&msg).contains(&AttributeType::FINGERPRINT));
    } else {
        assert_eq!(types(&msg).last(), Some(&AttributeType::FINGERPRINT));
        msg.verify_fingerprint().unwrap();
    }
    msg
}

/// Every attribute type on the wire, in order.
pub fn types(msg: &Message<'_>) -> Vec<AttributeType> {
    msg.all_attributes().map(|a| a.attr_type).collect()
}

/// The error code of an error response (checking its reason phrase is the
/// recommended one).
pub fn error_code(msg: &Message<'_>) -> u16 {
    assert_eq!(msg.class(), Class::Error);
    let e = msg.require::<ErrorCode>().unwrap();
    assert_eq!(
        Some(e.reason()),
        stun_proto::attr::reason_phrase(e.code()),
        "standard reason phrase"
    );
    e.code()
}
