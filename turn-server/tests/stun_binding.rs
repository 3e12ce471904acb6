//! Binding requests, RFC 3489 clients, error answers and silence (RFC 8489
//! §6.3, §7, §11, §14; RFC 3489 §8.1, §11.2).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::*;
use stun_proto::attr::{
    ChangeRequest, ChangedAddress, IceControlling, MappedAddress, OtherAddress, Priority,
    ResponseOrigin, ResponsePort, Software, SourceAddress, UnknownAttributes, UseCandidate,
    Username, XorMappedAddress,
};
use stun_proto::{
    AttributeType, Class, FingerprintError, IntegrityKey, Message, MessageType, Method, ParseError,
    TransactionId,
};
use turn_server::stun::DEFAULT_SOFTWARE;
use turn_server::{Dropped, StunServer, StunServerConfig};

#[test]
fn rfc8489_binding_from_ipv4_gets_xor_mapped_address_software_fingerprint() {
    let mut server = plain_v4();
    let request = binding(|_| {});
    let t = exchange(&mut server, addr(V4_PRIMARY), addr(V4_CLIENT), &request);
    assert_eq!((t.from, t.to), (addr(V4_PRIMARY), addr(V4_CLIENT)));
    let msg = answer_to(&t, &request);
    assert_eq!(
        msg.msg_type(),
        MessageType::new(Method::BINDING, Class::Success)
    );
    assert_eq!(
        types(&msg),
        [
            AttributeType::XOR_MAPPED_ADDRESS,
            AttributeType::SOFTWARE,
            AttributeType::FINGERPRINT
        ]
    );
    assert_eq!(
        msg.require::<XorMappedAddress>().unwrap().0,
        addr(V4_CLIENT)
    );
    assert_eq!(
        msg.require::<Software>().unwrap().as_str(),
        DEFAULT_SOFTWARE
    );
}

#[test]
fn rfc8489_binding_from_ipv6() {
    let mut server = plain_v6();
    let request = binding(|w| {
        w.add_fingerprint().unwrap();
    });
    let t = exchange(&mut server, addr(V6_PRIMARY), addr(V6_CLIENT), &request);
    assert_eq!((t.from, t.to), (addr(V6_PRIMARY), addr(V6_CLIENT)));
    let msg = answer_to(&t, &request);
    assert_eq!(
        msg.require::<XorMappedAddress>().unwrap().0,
        addr(V6_CLIENT)
    );
    assert_eq!(msg.get::<MappedAddress>().unwrap(), None, "no alternate");
}

#[test]
fn ipv4_mapped_source_on_dual_stack_socket_is_reported_as_ipv4() {
    let local = addr("[::]:3478");
    let mut server = StunServer::new(StunServerConfig::new(local));
    let remote = addr("[::ffff:198.51.100.7]:40000");
    let request = binding(|_| {});
    let t = exchange(&mut server, local, remote, &request);
    assert_eq!(t.to, remote, "sent back the way it came");
    let msg = answer_to(&t, &request);
    assert_eq!(
        msg.require::<XorMappedAddress>().unwrap().0,
        addr(V4_CLIENT)
    );
}

#[test]
fn ice_check_attributes_and_integrity_are_accepted_and_ignored() {
    let mut server = plain_v4();
    let key = IntegrityKey::short_term("the password").unwrap();
    let request = binding(|w| {
        w.add(&Username::new("remote:local").unwrap())
            .unwrap()
            .add(&Priority(0x6e7f_00ff))
            .unwrap()
            .add(&IceControlling(42))
            .unwrap()
            .add(&UseCandidate)
            .unwrap()
            .add_message_integrity(&key)
            .unwrap()
            .add_message_integrity_sha256(&key)
            .unwrap()
            .add_fingerprint()
            .unwrap();
    });
    let t = exchange(&mut server, addr(V4_PRIMARY), addr(V4_CLIENT), &request);
    let msg = answer_to(&t, &request);
    assert_eq!(msg.class(), Class::Success);
    assert!(
        !msg.has_message_integrity(),
        "a basic server adds no integrity"
    );
}

#[test]
fn rfc3489_client_gets_mapped_and_source_address_and_its_128_bit_id() {
    let mut server = plain_v4();
    let request = legacy_binding(|_| {});
    let t = exchange(&mut server, addr(V4_PRIMARY), addr(V4_CLIENT), &request);
    assert_eq!((t.from, t.to), (addr(V4_PRIMARY), addr(V4_CLIENT)));
    let msg = answer_to(&t, &request);
    assert_eq!(msg.transaction_id(), LEGACY_ID);
    assert!(msg.is_rfc3489());
    assert_eq!(
        types(&msg),
        [
            AttributeType::MAPPED_ADDRESS,
            AttributeType::SOURCE_ADDRESS,
            AttributeType::SOFTWARE
        ],
        "no XOR-MAPPED-ADDRESS, no CHANGED-ADDRESS without alternate, no FINGERPRINT"
    );
    assert_eq!(msg.require::<MappedAddress>().unwrap().0, addr(V4_CLIENT));
    assert_eq!(msg.require::<SourceAddress>().unwrap().0, addr(V4_PRIMARY));
}

#[test]
fn rfc3489_client_of_rfc5780_server_gets_changed_address_and_change_request_works() {
    let mut server = rfc5780_v4();
    // Arrives on A2:P1; asks for a change of port: sent from A2:P2, and
    // CHANGED-ADDRESS is Ca:Cp = A1:P2.
    let local = addr("192.0.2.2:3478");
    let request = legacy_binding(|w| {
        w.add(&ChangeRequest {
            change_ip: false,
            change_port: true,
        })
        .unwrap();
    });
    let t = exchange(&mut server, local, addr(V4_CLIENT), &request);
    assert_eq!((t.from, t.to), (addr("192.0.2.2:3479"), addr(V4_CLIENT)));
    let msg = answer_to(&t, &request);
    assert_eq!(
        types(&msg),
        [
            AttributeType::MAPPED_ADDRESS,
            AttributeType::SOURCE_ADDRESS,
            AttributeType::CHANGED_ADDRESS,
            AttributeType::SOFTWARE
        ],
        "the classic attributes, not RESPONSE-ORIGIN/OTHER-ADDRESS"
    );
    assert_eq!(msg.require::<SourceAddress>().unwrap().0, t.from);
    assert_eq!(
        msg.require::<ChangedAddress>().unwrap().0,
        addr("192.0.2.1:3479")
    );
}

#[test]
fn rfc3489_client_of_wildcard_server_gets_no_source_address() {
    let local = addr("0.0.0.0:3478");
    let mut server = StunServer::new(StunServerConfig::new(local));
    let request = legacy_binding(|_| {});
    let t = exchange(&mut server, local, addr(V4_CLIENT), &request);
    let msg = answer_to(&t, &request);
    assert_eq!(
        types(&msg),
        [AttributeType::MAPPED_ADDRESS, AttributeType::SOFTWARE]
    );
}

#[test]
fn rfc3489_answers_can_be_switched_off() {
    let mut server = StunServer::new(StunServerConfig::new(addr(V4_PRIMARY)).with_rfc3489(false));
    let request = legacy_binding(|_| {});
    assert_eq!(
        silence(&mut server, addr(V4_PRIMARY), addr(V4_CLIENT), &request),
        Dropped::Rfc3489Disabled
    );
}

#[test]
fn unknown_comprehension_required_attributes_get_420_listing_each_once() {
    let mut server = plain_v4();
    let request = binding(|w| {
        w.add_raw(AttributeType(0x7F01), b"x")
            .unwrap()
            .add_raw(AttributeType(0x0031), &[])
            .unwrap()
            .add_raw(AttributeType(0x7F01), b"again")
            .unwrap()
            .add_raw(AttributeType(0xC001), b"optional")
            .unwrap();
    });
    let t = exchange(&mut server, addr(V4_PRIMARY), addr(V4_CLIENT), &request);
    assert_eq!((t.from, t.to), (addr(V4_PRIMARY), addr(V4_CLIENT)));
    let msg = answer_to(&t, &request);
    assert_eq!(error_code(&msg), 420);
    let listed: Vec<_> = msg.require::<UnknownAttributes>().unwrap().iter().collect();
    assert_eq!(listed, [AttributeType(0x7F01), AttributeType(0x0031)]);
    assert_eq!(
        types(&msg),
        [
            AttributeType::ERROR_CODE,
            AttributeType::UNKNOWN_ATTRIBUTES,
            AttributeType::SOFTWARE,
            AttributeType::FINGERPRINT
        ]
    );
    // The 2-entry list fills its word: no padding bytes needed.
    assert_eq!(
        msg.get_raw(AttributeType::UNKNOWN_ATTRIBUTES)
            .unwrap()
            .value
            .len(),
        4
    );
}

#[test]
fn unknown_attributes_list_is_bounded() {
    let mut server = plain_v4();
    let request = binding(|w| {
        for t in 0x7F00..0x7F40 {
            w.add_raw(AttributeType(t), &[]).unwrap();
        }
    });
    let t = exchange(&mut server, addr(V4_PRIMARY), addr(V4_CLIENT), &request);
    let msg = answer_to(&t, &request);
    assert_eq!(error_code(&msg), 420);
    let listed = msg.require::<UnknownAttributes>().unwrap().iter().count();
    assert_eq!(listed, turn_server::stun::MAX_UNKNOWN_LISTED);
    assert!(t.data.len() < request.len());
}

#[test]
fn rfc3489_420_repeats_an_entry_to_fill_the_word() {
    let mut server = plain_v4();
    let request = legacy_binding(|w| {
        w.add_raw(AttributeType(0x7F01), &[]).unwrap();
    });
    let t = exchange(&mut server, addr(V4_PRIMARY), addr(V4_CLIENT), &request);
    let msg = answer_to(&t, &request);
    assert_eq!(error_code(&msg), 420);
    let listed: Vec<_> = msg.require::<UnknownAttributes>().unwrap().iter().collect();
    assert_eq!(listed, [AttributeType(0x7F01), AttributeType(0x7F01)]);
    assert_eq!(
        types(&msg),
        [
            AttributeType::ERROR_CODE,
            AttributeType::UNKNOWN_ATTRIBUTES,
            AttributeType::SOFTWARE
        ]
    );
}

#[test]
fn unknown_comprehension_optional_attributes_are_ignored() {
    let mut server = plain_v4();
    let request = binding(|w| {
        w.add_raw(AttributeType(0xC0DE), b"whatever")
            .unwrap()
            .add_raw(AttributeType::ALTERNATE_DOMAIN, b"example.org")
            .unwrap();
    });
    let t = exchange(&mut server, addr(V4_PRIMARY), addr(V4_CLIENT), &request);
    assert_eq!(answer_to(&t, &request).class(), Class::Success);
}

#[test]
fn attributes_after_message_integrity_are_ignored_not_refused() {
    // RFC 8489 §9: only MESSAGE-INTEGRITY-SHA256 and FINGERPRINT count after
    // MESSAGE-INTEGRITY. An unknown one placed there is raw-copied.
    let mut server = plain_v4();
    let key = IntegrityKey::short_term("pw").unwrap();
    let mut request = binding(|w| {
        w.add_message_integrity(&key).unwrap();
    });
    // Append an unknown comprehension-required attribute after it.
    request.extend_from_slice(&[0x7F, 0x01, 0x00, 0x00]);
    let len = u16::from_be_bytes([request[2], request[3]]) + 4;
    request[2..4].copy_from_slice(&len.to_be_bytes());
    assert!(Message::parse(&request).is_ok());
    let t = exchange(&mut server, addr(V4_PRIMARY), addr(V4_CLIENT), &request);
    assert_eq!(answer_to(&t, &request).class(), Class::Success);
}

#[test]
fn response_address_is_refused_with_420() {
    // RFC 3489 §11.2.2 RESPONSE-ADDRESS would reflect answers to any third
    // party; RFC 8489 §11 lets a server treat it as unknown.
    let value = [0, 1, 0x1F, 0x90, 203, 0, 113, 9];
    for request in [
        binding(|w| {
            w.add_raw(AttributeType::RESPONSE_ADDRESS, &value).unwrap();
        }),
        legacy_binding(|w| {
            w.add_raw(AttributeType::RESPONSE_ADDRESS, &value).unwrap();
        }),
    ] {
        let mut server = rfc5780_v4();
        let t = exchange(&mut server, addr(V4_PRIMARY), addr(V4_CLIENT), &request);
        assert_eq!(t.to, addr(V4_CLIENT), "never to 203.0.113.9:8080");
        let msg = answer_to(&t, &request);
        assert_eq!(error_code(&msg), 420);
        assert_eq!(
            msg.require::<UnknownAttributes>().unwrap().iter().next(),
            Some(AttributeType::RESPONSE_ADDRESS)
        );
    }
}

#[test]
fn turn_and_long_term_credential_attributes_are_unknown_here() {
    let mut server = plain_v4();
    let request = binding(|w| {
        w.add_raw(AttributeType::REQUESTED_TRANSPORT, &[17, 0, 0, 0])
            .unwrap()
            .add_raw(AttributeType::USERHASH, &[0; 32])
            .unwrap();
    });
    let t = exchange(&mut server, addr(V4_PRIMARY), addr(V4_CLIENT), &request);
    let msg = answer_to(&t, &request);
    assert_eq!(error_code(&msg), 420);
    let listed: Vec<_> = msg.require::<UnknownAttributes>().unwrap().iter().collect();
    assert_eq!(
        listed,
        [AttributeType::REQUESTED_TRANSPORT, AttributeType::USERHASH]
    );
}

#[test]
fn change_request_without_alternate_gets_420() {
    // RFC 5780 §6.1: "MUST generate an error response of type 420", even
    // with no flag set.
    for flags in [(false, false), (true, false), (false, true), (true, true)] {
        let mut server = plain_v4();
        let request = binding(|w| {
            w.add(&ChangeRequest {
                change_ip: flags.0,
                change_port: flags.1,
            })
            .unwrap();
        });
        let t = exchange(&mut server, addr(V4_PRIMARY), addr(V4_CLIENT), &request);
        assert_eq!((t.from, t.to), (addr(V4_PRIMARY), addr(V4_CLIENT)));
        let msg = answer_to(&t, &request);
        assert_eq!(error_code(&msg), 420);
        let listed: Vec<_> = msg.require::<UnknownAttributes>().unwrap().iter().collect();
        assert_eq!(listed, [AttributeType::CHANGE_REQUEST]);
        assert_eq!(msg.get::<OtherAddress>().unwrap(), None);
    }
}

#[test]
fn forbidden_attribute_values_get_400() {
    let cases: Vec<(&str, Vec<u8>)> = vec![
        (
            "CHANGE-REQUEST of 2 bytes",
            binding(|w| {
                w.add_raw(AttributeType::CHANGE_REQUEST, &[0, 6]).unwrap();
            }),
        ),
        (
            "CHANGE-REQUEST of 0 bytes",
            binding(|w| {
                w.add_raw(AttributeType::CHANGE_REQUEST, &[]).unwrap();
            }),
        ),
        (
            "RESPONSE-PORT of 3 bytes",
            binding(|w| {
                w.add_raw(AttributeType::RESPONSE_PORT, &[0x9c, 0x40, 0])
                    .unwrap();
            }),
        ),
        (
            "RESPONSE-PORT 80",
            binding(|w| {
                w.add(&ResponsePort(80)).unwrap();
            }),
        ),
        (
            "RESPONSE-PORT 0",
            binding(|w| {
                w.add(&ResponsePort(0)).unwrap();
            }),
        ),
        (
            "RESPONSE-PORT 1023, RFC 3489 client",
            legacy_binding(|w| {
                w.add(&ResponsePort(1023)).unwrap();
            }),
        ),
        (
            "RESPONSE-PORT with PADDING",
            binding(|w| {
                w.add(&ResponsePort(50000))
                    .unwrap()
                    .add_raw(AttributeType::PADDING, &[0; 64])
                    .unwrap();
            }),
        ),
    ];
    for (what, request) in cases {
        let mut server = rfc5780_v4();
        let local = addr("192.0.2.1:3479");
        let t = exchange(&mut server, local, addr(V4_CLIENT), &request);
        assert_eq!(
            (t.from, t.to),
            (local, addr(V4_CLIENT)),
            "{what}: errors go back the way the request came"
        );
        let msg = answer_to(&t, &request);
        assert_eq!(error_code(&msg), 400, "{what}");
        assert_eq!(msg.get_raw(AttributeType::UNKNOWN_ATTRIBUTES), None);
        assert_eq!(msg.get::<ResponseOrigin>().unwrap(), None);
    }
}

#[test]
fn values_the_server_does_not_act_on_are_not_validated() {
    let mut server = plain_v4();
    let request = binding(|w| {
        w.add_raw(AttributeType::PRIORITY, &[1, 2])
            .unwrap()
            .add_raw(AttributeType::USERNAME, &[0xFF, 0xFE])
            .unwrap();
    });
    let t = exchange(&mut server, addr(V4_PRIMARY), addr(V4_CLIENT), &request);
    assert_eq!(answer_to(&t, &request).class(), Class::Success);
}

#[test]
fn other_methods_are_dropped_as_unsupported() {
    // RFC 8489 §6.3: a method that is not supported is silently discarded.
    let mut server = plain_v4();
    for method in [
        Method::ALLOCATE,
        Method::REFRESH,
        Method::new(0x0FF).unwrap(),
    ] {
        let request = message(MessageType::new(method, Class::Request), ID, |w| {
            w.add_fingerprint().unwrap();
        });
        assert_eq!(
            silence(&mut server, addr(V4_PRIMARY), addr(V4_CLIENT), &request),
            Dropped::UnsupportedMethod { method }
        );
    }
}

#[test]
fn indications_and_responses_are_dropped() {
    let mut server = plain_v4();
    let local = addr(V4_PRIMARY);
    let remote = addr(V4_CLIENT);
    let indication = message(
        MessageType::new(Method::BINDING, Class::Indication),
        ID,
        |w| {
            w.add_fingerprint().unwrap();
        },
    );
    assert_eq!(
        silence(&mut server, local, remote, &indication),
        Dropped::Indication {
            method: Method::BINDING
        }
    );
    let send = message(
        MessageType::new(Method::SEND, Class::Indication),
        ID,
        |_| {},
    );
    assert_eq!(
        silence(&mut server, local, remote, &send),
        Dropped::Indication {
            method: Method::SEND
        }
    );
    for class in [Class::Success, Class::Error] {
        let response = message(MessageType::new(Method::BINDING, class), ID, |w| {
            w.add(&XorMappedAddress(remote)).unwrap();
        });
        assert_eq!(
            silence(&mut server, local, remote, &response),
            Dropped::Response {
                method: Method::BINDING,
                class
            }
        );
    }
    // Our own answer, reflected back at us, is not answered either.
    let answer = exchange(&mut server, local, remote, &binding(|_| {}));
    assert!(matches!(
        silence(&mut server, local, remote, &answer.data),
        Dropped::Response { .. }
    ));
}

#[test]
fn bytes_that_are_not_stun_are_dropped_with_the_failed_check() {
    let mut server = plain_v4();
    let local = addr(V4_PRIMARY);
    let remote = addr(V4_CLIENT);
    let mut request = binding(|_| {});
    let cases: Vec<(Vec<u8>, ParseError)> = vec![
        (vec![], ParseError::TooShort { len: 0 }),
        (request[..19].to_vec(), ParseError::TooShort { len: 19 }),
        (
            // An RTP packet: version 2 sets the leading bits.
            vec![
                0x80, 0x60, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 1, 2, 3, 4, 5, 6, 7, 8,
            ],
            ParseError::LeadingBitsSet { first_byte: 0x80 },
        ),
        (
            [&request[..], &[0, 0, 0, 0]].concat(),
            ParseError::LengthMismatch {
                declared: 20,
                actual: 24,
            },
        ),
    ];
    for (bytes, expected) in cases {
        assert_eq!(
            silence(&mut server, local, remote, &bytes),
            Dropped::NotStun(expected)
        );
    }
    request[3] = 2;
    assert!(matches!(
        silence(&mut server, local, remote, &request),
        Dropped::NotStun(ParseError::LengthNotAligned { length: 2 })
    ));
}

#[test]
fn a_fingerprint_that_does_not_verify_is_dropped() {
    let mut server = plain_v4();
    let mut request = binding(|w| {
        w.add(&Software::new("client").unwrap())
            .unwrap()
            .add_fingerprint()
            .unwrap();
    });
    request[24] ^= 0x20; // 'c' -> 'C' in SOFTWARE
    let dropped = silence(&mut server, addr(V4_PRIMARY), addr(V4_CLIENT), &request);
    assert!(
        matches!(
            dropped,
            Dropped::BadFingerprint(FingerprintError::Mismatch { .. })
        ),
        "{dropped:?}"
    );
}

#[test]
fn packets_on_foreign_sockets_or_from_unanswerable_sources_are_dropped() {
    let mut server = rfc5780_v4();
    let request = binding(|_| {});
    let foreign = addr("192.0.2.1:9999");
    assert_eq!(
        silence(&mut server, foreign, addr(V4_CLIENT), &request),
        Dropped::NotOurSocket { local: foreign }
    );
    for remote in [
        "0.0.0.0:40000",
        "198.51.100.7:0",
        "255.255.255.255:40000",
        "239.1.2.3:40000",
    ] {
        let remote = addr(remote);
        assert_eq!(
            silence(&mut server, addr(V4_PRIMARY), remote, &request),
            Dropped::UnanswerableSource { remote }
        );
    }
}

#[test]
fn full_queue_refuses_new_requests_and_counts_them() {
    let config = StunServerConfig::new(addr(V4_PRIMARY))
        .with_queue_capacity(2)
        .unwrap();
    let mut server = StunServer::new(config);
    let local = addr(V4_PRIMARY);
    let ids = [[1u8; 12], [2; 12], [3; 12]];
    let requests: Vec<_> = ids
        .iter()
        .map(|id| {
            message(
                MessageType::BINDING_REQUEST,
                TransactionId::Rfc5389(*id),
                |_| {},
            )
        })
        .collect();
    server
        .handle_packet(now(), local, addr(V4_CLIENT), &requests[0])
        .unwrap();
    server
        .handle_packet(now(), local, addr(V4_CLIENT), &requests[1])
        .unwrap();
    assert_eq!(
        server.handle_packet(now(), local, addr(V4_CLIENT), &requests[2]),
        Err(Dropped::QueueFull { capacity: 2 })
    );
    let drained: Vec<_> = std::iter::from_fn(|| server.poll_transmit()).collect();
    let drained_ids: Vec<_> = drained
        .iter()
        .map(|t| Message::parse(&t.data).unwrap().transaction_id())
        .collect();
    assert_eq!(
        drained_ids,
        [
            TransactionId::Rfc5389(ids[0]),
            TransactionId::Rfc5389(ids[1])
        ],
        "oldest first; the refused request got nothing"
    );
    server
        .handle_packet(now(), local, addr(V4_CLIENT), &requests[2])
        .unwrap();
    let stats = server.stats();
    assert_eq!((stats.successes, stats.errors), (3, 0));
    assert_eq!((stats.dropped, stats.queue_full), (1, 1));
}

#[test]
fn stats_count_answers_and_drops() {
    let mut server = plain_v4();
    let local = addr(V4_PRIMARY);
    let remote = addr(V4_CLIENT);
    exchange(&mut server, local, remote, &binding(|_| {}));
    exchange(
        &mut server,
        local,
        remote,
        &binding(|w| {
            w.add_raw(AttributeType(0x7F00), &[]).unwrap();
        }),
    );
    silence(&mut server, local, remote, b"hello");
    let stats = server.stats();
    assert_eq!(
        (
            stats.successes,
            stats.errors,
            stats.dropped,
            stats.queue_full
        ),
        (1, 1, 1, 0)
    );
}

#[test]
fn no_timers() {
    let mut server = rfc5780_v4();
    assert_eq!(server.poll_timeout(), None);
    server.handle_timeout(now());
    assert!(server.poll_transmit().is_none());
    assert_eq!(server.poll_timeout(), None);
}
