//! NAT behaviour discovery support (RFC 5780 §6, §6.1 Table 1, §7.2-§7.6):
//! four sockets, CHANGE-REQUEST, RESPONSE-ORIGIN, OTHER-ADDRESS,
//! RESPONSE-PORT, PADDING and its bounds.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::net::SocketAddr;

use common::*;
use stun_proto::attr::{
    ChangeRequest, MappedAddress, OtherAddress, ResponseOrigin, ResponsePort, XorMappedAddress,
};
use stun_proto::{AttributeType, Class, Message};
use turn_server::StunServer;
use turn_server::stun::{DEFAULT_MAX_RESPONSE_LEN, MIN_RESPONSE_PORT};

#[test]
fn rfc5780_server_asks_for_four_sockets_plain_server_for_one() {
    assert_eq!(
        rfc5780_v4().local_addresses(),
        [
            "192.0.2.1:3478",
            "192.0.2.1:3479",
            "192.0.2.2:3478",
            "192.0.2.2:3479"
        ]
        .map(addr)
    );
    assert_eq!(
        rfc5780_v6().local_addresses(),
        [
            "[2001:db8::1]:3478",
            "[2001:db8::1]:3479",
            "[2001:db8::2]:3478",
            "[2001:db8::2]:3479"
        ]
        .map(addr)
    );
    assert_eq!(plain_v4().local_addresses(), [addr(V4_PRIMARY)]);
}

/// RFC 5780 §6.1 Table 1, from each of the four sockets, for every
/// combination of flags (and no CHANGE-REQUEST at all).
fn table1(mut server: StunServer, client: SocketAddr) {
    let sockets = server.local_addresses();
    for &arrived in &sockets {
        let (da, dp) = (arrived.ip(), arrived.port());
        let ca = sockets.iter().map(|s| s.ip()).find(|ip| *ip != da).unwrap();
        let cp = sockets.iter().map(|s| s.port()).find(|p| *p != dp).unwrap();
        let cases = [
            (None, SocketAddr::new(da, dp)),
            (Some((false, false)), SocketAddr::new(da, dp)),
            (Some((true, false)), SocketAddr::new(ca, dp)),
            (Some((false, true)), SocketAddr::new(da, cp)),
            (Some((true, true)), SocketAddr::new(ca, cp)),
        ];
        for (flags, expected_from) in cases {
            let request = binding(|w| {
                if let Some((change_ip, change_port)) = flags {
                    w.add(&ChangeRequest {
                        change_ip,
                        change_port,
                    })
                    .unwrap();
                }
                w.add_fingerprint().unwrap();
            });
            let t = exchange(&mut server, arrived, client, &request);
            let what = format!("arrived on {arrived}, flags {flags:?}");
            assert_eq!(t.from, expected_from, "{what}");
            assert_eq!(t.to, client, "{what}");
            let msg = answer_to(&t, &request);
            assert_eq!(msg.class(), Class::Success);
            assert_eq!(
                types(&msg),
                [
                    AttributeType::XOR_MAPPED_ADDRESS,
                    AttributeType::MAPPED_ADDRESS,
                    AttributeType::RESPONSE_ORIGIN,
                    AttributeType::OTHER_ADDRESS,
                    AttributeType::SOFTWARE,
                    AttributeType::FINGERPRINT
                ],
                "{what}"
            );
            // "MUST include both MAPPED-ADDRESS and XOR-MAPPED-ADDRESS".
            assert_eq!(msg.require::<XorMappedAddress>().unwrap().0, client);
            assert_eq!(msg.require::<MappedAddress>().unwrap().0, client);
            assert_eq!(
                msg.require::<ResponseOrigin>().unwrap().0,
                t.from,
                "{what}: RESPONSE-ORIGIN is the socket actually used"
            );
            assert_eq!(
                msg.require::<OtherAddress>().unwrap().0,
                SocketAddr::new(ca, cp),
                "{what}: OTHER-ADDRESS is Ca:Cp whatever the flags"
            );
        }
    }
}

#[test]
fn change_request_table1_ipv4() {
    table1(rfc5780_v4(), addr(V4_CLIENT));
}

#[test]
fn change_request_table1_ipv6() {
    table1(rfc5780_v6(), addr(V6_CLIENT));
}

#[test]
fn change_request_reserved_bits_are_ignored() {
    let mut server = rfc5780_v4();
    let request = binding(|w| {
        w.add_raw(AttributeType::CHANGE_REQUEST, &[0xFF, 0xFF, 0xFF, 0xF9])
            .unwrap();
    });
    let t = exchange(&mut server, addr(V4_PRIMARY), addr(V4_CLIENT), &request);
    assert_eq!(answer_to(&t, &request).class(), Class::Success);
    assert_eq!(t.from, addr(V4_PRIMARY), "A and B clear: no change");
}

#[test]
fn response_port_sends_to_the_source_ip_at_that_port() {
    let client = addr(V4_CLIENT);
    // The 4-byte encoding (RFC 5780 §7.5), and the 2-byte one deployed
    // clients send.
    for raw in [vec![0xC3, 0x50, 0, 0], vec![0xC3, 0x50]] {
        let mut server = rfc5780_v4();
        let request = binding(|w| {
            w.add_raw(AttributeType::RESPONSE_PORT, &raw).unwrap();
        });
        let t = exchange(&mut server, addr(V4_PRIMARY), client, &request);
        assert_eq!(t.to, SocketAddr::new(client.ip(), 50000));
        assert_eq!(t.from, addr(V4_PRIMARY));
        let msg = answer_to(&t, &request);
        assert_eq!(
            msg.require::<XorMappedAddress>().unwrap().0,
            client,
            "the mapped address is still the request's source"
        );
    }
}

#[test]
fn response_port_combines_with_change_request() {
    let mut server = rfc5780_v6();
    let client = addr(V6_CLIENT);
    let request = binding(|w| {
        w.add(&ChangeRequest {
            change_ip: true,
            change_port: true,
        })
        .unwrap()
        .add(&ResponsePort(MIN_RESPONSE_PORT))
        .unwrap();
    });
    let t = exchange(&mut server, addr(V6_PRIMARY), client, &request);
    assert_eq!(t.from, addr("[2001:db8::2]:3479"));
    assert_eq!(t.to, SocketAddr::new(client.ip(), 1024));
}

#[test]
fn response_port_below_1024_gets_400_sent_to_the_source() {
    for port in [0, 53, 123, MIN_RESPONSE_PORT - 1] {
        let mut server = rfc5780_v4();
        let request = binding(|w| {
            w.add(&ResponsePort(port)).unwrap();
        });
        let t = exchange(&mut server, addr(V4_PRIMARY), addr(V4_CLIENT), &request);
        assert_eq!(t.to, addr(V4_CLIENT), "port {port}");
        assert_eq!(error_code(&answer_to(&t, &request)), 400);
    }
}

#[test]
fn response_port_with_padding_gets_400() {
    // RFC 5780 §6.1: "If the Request also contains the RESPONSE-PORT
    // attribute the server MUST return an error response of type 400."
    for padding_first in [false, true] {
        let mut server = rfc5780_v4();
        let request = binding(|w| {
            if padding_first {
                w.add_raw(AttributeType::PADDING, &[0; 8]).unwrap();
            }
            w.add(&ResponsePort(50000)).unwrap();
            if !padding_first {
                w.add_raw(AttributeType::PADDING, &[0; 8]).unwrap();
            }
        });
        let t = exchange(&mut server, addr(V4_PRIMARY), addr(V4_CLIENT), &request);
        assert_eq!(t.to, addr(V4_CLIENT));
        assert_eq!(error_code(&answer_to(&t, &request)), 400);
    }
}

/// A Binding request padded to `len` bytes in total (a multiple of 4, at
/// least 24).
fn padded_request(len: usize, legacy: bool) -> Vec<u8> {
    let build = |w: &mut stun_proto::MessageWriter<'_>| {
        w.add_raw(AttributeType::PADDING, &vec![0xAA; len - 24])
            .unwrap();
    };
    let request = if legacy {
        legacy_binding(build)
    } else {
        binding(build)
    };
    assert_eq!(request.len(), len);
    request
}

#[test]
fn padding_answer_is_as_long_as_the_request_and_no_longer() {
    for (server, local, client) in [
        (rfc5780_v4(), V4_PRIMARY, V4_CLIENT),
        (rfc5780_v6(), V6_PRIMARY, V6_CLIENT),
        (plain_v4(), V4_PRIMARY, V4_CLIENT),
    ] {
        let mut server = server;
        for legacy in [false, true] {
            for len in (24..=1600).step_by(4) {
                let request = padded_request(len, legacy);
                let t = exchange(&mut server, addr(local), addr(client), &request);
                let msg = answer_to(&t, &request);
                assert_eq!(msg.class(), Class::Success);
                let padding = msg
                    .get_raw(AttributeType::PADDING)
                    .expect("PADDING MUST be included");
                assert!(padding.value.iter().all(|&b| b == 0), "zeros, not an echo");
                let unpadded = t.data.len() - 4 - padding.value.len();
                let expected = if len >= unpadded + 4 {
                    len.min(DEFAULT_MAX_RESPONSE_LEN)
                } else {
                    unpadded + 4
                };
                assert_eq!(t.data.len(), expected, "request of {len} bytes");
                assert!(t.data.len() <= len.max(unpadded + 4));
                assert!(t.data.len() <= DEFAULT_MAX_RESPONSE_LEN);
            }
        }
    }
}

#[test]
fn padding_is_capped_by_the_configured_ceiling() {
    let config = rfc5780_config_v4().with_max_response_len(600).unwrap();
    let mut server = StunServer::new(config);
    for len in [600, 604, 1500, 9000, 65_000] {
        let request = padded_request(len, false);
        let t = exchange(&mut server, addr(V4_PRIMARY), addr(V4_CLIENT), &request);
        assert_eq!(t.data.len(), 600, "request of {len} bytes");
        assert!(
            Message::parse(&t.data)
                .unwrap()
                .verify_fingerprint()
                .is_ok()
        );
    }
    // And by the default ceiling.
    let mut server = rfc5780_v4();
    let request = padded_request(9000, false);
    let t = exchange(&mut server, addr(V4_PRIMARY), addr(V4_CLIENT), &request);
    assert_eq!(t.data.len(), DEFAULT_MAX_RESPONSE_LEN);
}

#[test]
fn a_request_too_small_to_pad_gets_empty_padding() {
    let mut server = rfc5780_v4();
    let request = padded_request(24, false);
    let t = exchange(&mut server, addr(V4_PRIMARY), addr(V4_CLIENT), &request);
    let msg = answer_to(&t, &request);
    assert_eq!(msg.get_raw(AttributeType::PADDING).unwrap().value.len(), 0);
    assert_eq!(t.data.len(), 108 + 4);
}

#[test]
fn other_ports_of_the_alternate_ip_are_not_ours() {
    let mut server = rfc5780_v4();
    let request = binding(|_| {});
    let foreign = addr("192.0.2.2:5000");
    assert_eq!(
        silence(&mut server, foreign, addr(V4_CLIENT), &request),
        turn_server::Dropped::NotOurSocket { local: foreign }
    );
}
