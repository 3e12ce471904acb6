//! The amplification bound of the TURN server: what a source that knows
//! no password (a spoofer) can draw, answer bytes per request byte,
//! measured over every kind of request such a source can send (the
//! numbers the module documentation of `turn_server::turn` states).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod turn_support;

use stun_proto::attr::{Nonce, Realm, RequestedTransport, Username, XorPeerAddress};
use stun_proto::{
    AttributeType, Class, MessageType, MessageWriter, Method, TransactionId, Transport,
};
use turn_support::*;

fn request(method: Method, build: impl FnOnce(&mut MessageWriter<'_>)) -> Vec<u8> {
    let mut buf = Vec::new();
    let mut w = MessageWriter::new(
        &mut buf,
        MessageType::new(method, Class::Request),
        TransactionId::Rfc5389([5; 12]),
    );
    build(&mut w);
    buf
}

struct Case {
    what: &'static str,
    request: Vec<u8>,
    expected: (usize, usize),
}

fn cases() -> Vec<Case> {
    let fake_nonce = "obMatJos2AAAAAAAAAAAAAAAAAAAAAAAA";
    vec![
        Case {
            what: "Allocate, empty (401)",
            request: request(Method::ALLOCATE, |_| {}),
            expected: (20, 152),
        },
        Case {
            what: "Allocate, REQUESTED-TRANSPORT (401)",
            request: request(Method::ALLOCATE, |w| {
                w.add(&RequestedTransport::UDP).unwrap();
            }),
            expected: (28, 152),
        },
        Case {
            what: "Refresh, empty (401)",
            request: request(Method::REFRESH, |_| {}),
            expected: (20, 152),
        },
        Case {
            what: "CreatePermission (401)",
            request: request(Method::CREATE_PERMISSION, |w| {
                w.add(&XorPeerAddress(addr(PEER))).unwrap();
            }),
            expected: (32, 152),
        },
        Case {
            what: "Connect, empty (401)",
            request: request(Method::CONNECT, |_| {}),
            expected: (20, 152),
        },
        Case {
            what: "forged credentials (401)",
            request: request(Method::ALLOCATE, |w| {
                w.add(&Username::new("u").unwrap()).unwrap();
                w.add(&Realm::new(REALM).unwrap()).unwrap();
                w.add(&Nonce::new(fake_nonce).unwrap()).unwrap();
                w.add_raw(AttributeType::MESSAGE_INTEGRITY, &[0; 20])
                    .unwrap();
            }),
            expected: (108, 152),
        },
        Case {
            what: "integrity without USERNAME (400)",
            request: request(Method::ALLOCATE, |w| {
                w.add_raw(AttributeType::MESSAGE_INTEGRITY, &[0; 20])
                    .unwrap();
            }),
            expected: (44, 80),
        },
        Case {
            what: "Binding (STUN server)",
            request: request(Method::BINDING, |_| {}),
            expected: (20, 72),
        },
    ]
}

#[test]
fn unauthenticated_answers_are_measured_and_bounded() {
    assert_eq!(REALM.len(), 11, "the numbers assume an 11-character realm");
    let mut worst = (1, 0, "");
    for case in cases() {
        for transport in [Transport::Datagram, Transport::Stream] {
            let mut h = Harness::default();
            let out = h
                .feed(addr(SERVER), addr(CLIENT), transport, &case.request)
                .unwrap();
            assert_eq!(out.len(), 1, "{}", case.what);
            let measured = (case.request.len(), out[0].data.len());
            println!(
                "{:<40} {:>4} -> {:>4} bytes  x{:.2}",
                case.what,
                measured.0,
                measured.1,
                measured.1 as f64 / measured.0 as f64
            );
            assert_eq!(measured, case.expected, "{}", case.what);
            if measured.1 * worst.0 > worst.1 * measured.0 {
                worst = (measured.0, measured.1, case.what);
            }
        }
    }
    assert_eq!(
        worst,
        (20, 152, "Allocate, empty (401)"),
        "the largest factor: 7.6"
    );
    // Nothing was allocated or bound for any of them.
}

#[test]
fn without_software_the_challenge_is_120_bytes() {
    let mut h = Harness::new(config().without_software());
    let out = h
        .feed(
            addr(SERVER),
            addr(CLIENT),
            Transport::Datagram,
            &request(Method::ALLOCATE, |_| {}),
        )
        .unwrap();
    assert_eq!(out[0].data.len(), 120);
}

#[test]
fn nothing_is_relayed_or_bound_for_an_unauthenticated_source() {
    let mut h = Harness::default();
    for case in cases() {
        let _ = h.feed(
            addr(SERVER),
            addr(CLIENT),
            Transport::Datagram,
            &case.request,
        );
    }
    let c = Client::alice();
    assert!(
        c.relay(&mut h, &c.send_indication(addr(PEER), &[0; 1000]))
            .is_err()
    );
    assert!(h.events.is_empty());
    assert_eq!(h.server.stats().allocations, 0);
}
