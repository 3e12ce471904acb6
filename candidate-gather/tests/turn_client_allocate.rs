//! Allocation (RFC 8656 §7) with long-term credentials (RFC 8489 §9.2),
//! redirects (RFC 8489 §10) and every refusal's typed error.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod turn_client_server;

use std::time::Duration;

use candidate_gather::turn::{Handled, Operation, TurnError, TurnEvent, TurnState, UsageError};
use stun_proto::attr::{
    AddressFamily, AlternateServer, DontFragment, ErrorCode, Lifetime, Nonce, PasswordAlgorithm,
    PasswordAlgorithms, Realm, RequestedAddressFamily, RequestedTransport, Software,
    UnknownAttributes, Userhash, Username,
};
use stun_proto::{
    AttributeType, Class, IntegrityAlgorithm, IntegrityKey, LongTermAlgorithm, Message, Method,
};
use turn_client_server::*;

fn allocated_event(net: &Net) -> Option<TurnEvent> {
    net.events
        .iter()
        .find(|e| matches!(e, TurnEvent::Allocated { .. }))
        .cloned()
}

#[test]
fn rfc8656_7_1_first_allocate_has_no_credentials_then_401_then_md5_credentials() {
    let mut net = Net::new(Net::config(), Server::new());
    net.pump();
    let allocs = net.server.requests(Method::ALLOCATE);
    assert_eq!(allocs.len(), 2, "the first, then the one with credentials");

    // RFC 8489 §9.2.3.1: the first request carries no credentials.
    let first = Message::parse(&allocs[0]).unwrap();
    assert_eq!(
        first.require::<RequestedTransport>().unwrap(),
        RequestedTransport::UDP
    );
    assert_eq!(first.require::<Lifetime>().unwrap(), Lifetime(600));
    for t in [
        AttributeType::USERNAME,
        AttributeType::REALM,
        AttributeType::NONCE,
        AttributeType::MESSAGE_INTEGRITY,
        AttributeType::MESSAGE_INTEGRITY_SHA256,
        AttributeType::REQUESTED_ADDRESS_FAMILY,
        AttributeType::DONT_FRAGMENT,
    ] {
        assert!(first.get_raw(t).is_none(), "{t} in the first Allocate");
    }

    // §9.2.5: USERNAME, REALM and NONCE copied from the 401, and
    // MESSAGE-INTEGRITY with the MD5 key (no algorithms were offered).
    let second = Message::parse(&allocs[1]).unwrap();
    assert_ne!(
        first.transaction_id(),
        second.transaction_id(),
        "a new transaction"
    );
    assert_eq!(second.require::<Username>().unwrap().as_str(), USER);
    assert_eq!(second.require::<Realm>().unwrap().as_str(), REALM);
    assert_eq!(second.require::<Nonce>().unwrap().as_str(), "f00dcafe");
    assert!(second.get_raw(AttributeType::PASSWORD_ALGORITHM).is_none());
    let md5 = IntegrityKey::long_term(USER, REALM, PASS, LongTermAlgorithm::Md5).unwrap();
    assert_eq!(second.verify_integrity(&md5), Ok(IntegrityAlgorithm::Sha1));

    assert_eq!(
        allocated_event(&net),
        Some(TurnEvent::Allocated {
            relayed: addr(RELAYED),
            mapped: addr(MAPPED),
            lifetime: Duration::from_secs(600),
        })
    );
    assert_eq!(net.client.state(), TurnState::Allocated);
    assert_eq!(net.client.relayed(), Some(addr(RELAYED)));
    assert_eq!(net.client.mapped(), Some(addr(MAPPED)));
    assert_eq!(net.client.lifetime(), Some(Duration::from_secs(600)));
}

#[test]
fn rfc8489_9_2_5_sha256_chosen_from_password_algorithms_and_echoed() {
    let mut server = Server::new();
    server.algorithms = Some(vec![0x0002, 0x0001]);
    server.nonce = cookie_nonce(true, false, "abcdef");
    let mut net = Net::new(Net::config(), server);
    net.pump();
    assert!(allocated_event(&net).is_some(), "{:?}", net.events);
    let allocs = net.server.requests(Method::ALLOCATE);
    let req = Message::parse(&allocs[1]).unwrap();
    assert_eq!(
        req.require::<PasswordAlgorithm>().unwrap(),
        PasswordAlgorithm::SHA256
    );
    let echoed: Vec<u16> = req
        .require::<PasswordAlgorithms>()
        .unwrap()
        .iter()
        .map(|a| a.algorithm)
        .collect();
    assert_eq!(echoed, [2, 1]);
    // Signed with the SHA-256 key, as MESSAGE-INTEGRITY-SHA256 only.
    let sha = IntegrityKey::long_term(USER, REALM, PASS, LongTermAlgorithm::Sha256).unwrap();
    assert!(!req.has_message_integrity());
    assert_eq!(req.verify_integrity(&sha), Ok(IntegrityAlgorithm::Sha256));
    let md5 = IntegrityKey::long_term(USER, REALM, PASS, LongTermAlgorithm::Md5).unwrap();
    assert!(req.verify_integrity(&md5).is_err());
}

#[test]
fn rfc8489_9_2_5_first_supported_algorithm_wins_unknown_ones_skipped() {
    let mut server = Server::new();
    server.algorithms = Some(vec![0x7FFF, 0x0001, 0x0002]);
    server.nonce = cookie_nonce(true, false, "x");
    let mut net = Net::new(Net::config(), server);
    net.pump();
    assert!(allocated_event(&net).is_some(), "{:?}", net.events);
    let allocs = net.server.requests(Method::ALLOCATE);
    let req = Message::parse(&allocs[1]).unwrap();
    assert_eq!(
        req.require::<PasswordAlgorithm>().unwrap(),
        PasswordAlgorithm::MD5
    );
    let md5 = IntegrityKey::long_term(USER, REALM, PASS, LongTermAlgorithm::Md5).unwrap();
    assert_eq!(req.verify_integrity(&md5), Ok(IntegrityAlgorithm::Sha256));
}

#[test]
fn rfc8489_9_2_5_userhash_when_the_nonce_cookie_asks_for_anonymity() {
    let mut server = Server::new();
    server.nonce = cookie_nonce(false, true, "anon");
    let mut net = Net::new(Net::config(), server);
    net.pump();
    assert!(allocated_event(&net).is_some(), "{:?}", net.events);
    let allocs = net.server.requests(Method::ALLOCATE);
    let req = Message::parse(&allocs[1]).unwrap();
    assert!(req.get_raw(AttributeType::USERNAME).is_none());
    assert_eq!(
        *req.require::<Userhash>().unwrap().0,
        stun_proto::auth::userhash(USER, REALM).unwrap()
    );
}

#[test]
fn rfc8489_9_2_5_no_supported_algorithm_is_not_retried() {
    let mut server = Server::new();
    server.algorithms = Some(vec![0x7FFF]);
    server.nonce = cookie_nonce(true, false, "x");
    let mut net = Net::new(Net::config(), server);
    net.pump();
    assert_eq!(net.server.requests(Method::ALLOCATE).len(), 1);
    let err = net.failed().unwrap();
    assert_eq!(
        *err,
        TurnError::NoSupportedPasswordAlgorithm {
            offered: vec![0x7FFF]
        }
    );
    assert!(err.to_string().contains("MD5 (1) and SHA-256 (2)"), "{err}");
    assert_eq!(net.client.state(), TurnState::Failed);
    assert_eq!(net.client.poll_timeout(), None);
}

#[test]
fn rfc8489_9_2_1_bid_down_cookie_without_password_algorithms_fails() {
    let mut server = Server::new();
    server.nonce = cookie_nonce(true, false, "stripped");
    // The cookie says algorithms, but the list was removed on the path.
    let mut net = Net::new(Net::config(), server);
    net.pump();
    assert_eq!(
        net.server.requests(Method::ALLOCATE).len(),
        1,
        "not retried"
    );
    assert_eq!(net.failed(), Some(&TurnError::AuthDowngrade));
}

#[test]
fn rfc8489_9_2_5_438_stale_nonce_is_retried_with_the_new_nonce() {
    let mut net = Net::allocated();
    net.server.nonce = "fresh-nonce".to_owned();
    net.run_until(Duration::from_secs(481));
    let refreshes = net.server.requests(Method::REFRESH);
    assert_eq!(refreshes.len(), 2, "refused with 438, then retried");
    let retry = Message::parse(&refreshes[1]).unwrap();
    assert_eq!(retry.require::<Nonce>().unwrap().as_str(), "fresh-nonce");
    assert_eq!(net.server.refreshes.len(), 1, "the retry was accepted");
    assert!(net.events.contains(&TurnEvent::Refreshed {
        lifetime: Duration::from_secs(600)
    }));
    assert_eq!(net.client.state(), TurnState::Allocated);
}

#[test]
fn rfc8489_9_2_5_438_retries_are_bounded() {
    let mut net = Net::new(Net::config(), Server::new());
    // Answer the first request with 401, then every later one with 438.
    let mut rounds = 0;
    loop {
        let out = net.take();
        if out.is_empty() {
            break;
        }
        for t in out {
            let req = Message::parse(&t.data).unwrap();
            let answer = if rounds == 0 {
                net.server.challenge(&req, 401)
            } else {
                net.server.nonce = format!("nonce-{rounds}");
                net.server.challenge(&req, 438)
            };
            rounds += 1;
            assert_eq!(net.deliver(&answer), Handled::Consumed);
        }
    }
    // 1 unauthenticated + 1 credentialed + 3 retries after 438.
    assert_eq!(rounds, 5);
    let err = net.failed().unwrap();
    assert_eq!(
        *err,
        TurnError::StaleNonceLoop {
            operation: Operation::Allocate
        }
    );
    assert!(err.to_string().contains("438 Stale Nonce 4 times"), "{err}");
}

#[test]
fn rfc8489_9_2_5_401_after_credentials_is_wrong_credentials() {
    let mut server = Server::new();
    server.password = "the-servers-idea".to_owned();
    let mut net = Net::new(Net::config(), server);
    net.pump();
    assert_eq!(
        net.server.requests(Method::ALLOCATE).len(),
        2,
        "no third try"
    );
    let err = net.failed().unwrap();
    assert_eq!(
        *err,
        TurnError::Unauthorized {
            realm: REALM.to_owned()
        }
    );
    let text = err.to_string();
    assert!(text.contains("rejected the username/password"), "{text}");
    assert!(text.contains("401 after sending credentials"), "{text}");
    assert!(text.contains("example.org"), "{text}");
}

#[test]
fn rfc8489_10_300_try_alternate_redirects_once_with_the_same_credentials() {
    let alternate = addr("203.0.113.9:3478");
    let mut net = Net::new(Net::config(), Server::new());
    let first = net.take();
    assert_eq!(first.len(), 1);
    let req = Message::parse(&first[0].data).unwrap();
    let redirect = net.server.respond(&req, Class::Error, false, |w| {
        w.add(&ErrorCode::from_code(300).unwrap()).unwrap();
        w.add(&AlternateServer(alternate)).unwrap();
    });
    assert_eq!(net.deliver(&redirect), Handled::Consumed);
    assert!(net.events.contains(&TurnEvent::Redirected {
        from: addr(SERVER),
        to: alternate
    }));
    assert_eq!(net.client.server(), alternate);
    // The alternate server takes over; answers from the old one no longer
    // count.
    net.server.addr = alternate;
    net.pump();
    assert!(allocated_event(&net).is_some(), "{:?}", net.events);
    let to_alternate: Vec<_> = net.wire.iter().filter(|(_, t)| t.to == alternate).collect();
    assert_eq!(to_alternate.len(), 2, "a first request, then credentials");
    let first_there = Message::parse(&to_alternate[0].1.data).unwrap();
    assert!(first_there.get_raw(AttributeType::USERNAME).is_none());
    let second_there = Message::parse(&to_alternate[1].1.data).unwrap();
    assert_eq!(second_there.require::<Username>().unwrap().as_str(), USER);
}

#[test]
fn rfc8489_10_a_second_redirect_a_loop_or_no_alternate_fails() {
    let alternate = addr("203.0.113.9:3478");
    let redirect_to = |net: &mut Net, to: Option<std::net::SocketAddr>| {
        let out = net.take();
        let req = Message::parse(&out[0].data).unwrap();
        let answer = net.server.respond(&req, Class::Error, false, |w| {
            w.add(&ErrorCode::from_code(300).unwrap()).unwrap();
            if let Some(to) = to {
                w.add(&AlternateServer(to)).unwrap();
            }
        });
        net.deliver(&answer);
    };
    // Two redirects.
    let mut net = Net::new(Net::config(), Server::new());
    redirect_to(&mut net, Some(alternate));
    net.server.addr = alternate;
    redirect_to(&mut net, Some(addr("203.0.113.10:3478")));
    assert_eq!(
        net.failed(),
        Some(&TurnError::BadRedirect {
            from: alternate,
            to: Some(addr("203.0.113.10:3478"))
        })
    );
    // To itself.
    let mut net = Net::new(Net::config(), Server::new());
    redirect_to(&mut net, Some(addr(SERVER)));
    assert!(matches!(net.failed(), Some(TurnError::BadRedirect { .. })));
    // To another family.
    let mut net = Net::new(Net::config(), Server::new());
    redirect_to(&mut net, Some(addr("[2001:db8::1]:3478")));
    assert!(matches!(net.failed(), Some(TurnError::BadRedirect { .. })));
    // Without ALTERNATE-SERVER.
    let mut net = Net::new(Net::config(), Server::new());
    redirect_to(&mut net, None);
    let err = net.failed().unwrap();
    assert_eq!(
        *err,
        TurnError::BadRedirect {
            from: addr(SERVER),
            to: None
        }
    );
    assert!(
        err.to_string()
            .contains("without a usable ALTERNATE-SERVER")
    );
}

/// Answers the credentialed Allocate with `code`, signed.
fn refused_with(code: u16) -> Net {
    let mut net = Net::new(Net::config(), Server::new());
    let first = net.take();
    let req = Message::parse(&first[0].data).unwrap();
    let challenge = net.server.challenge(&req, 401);
    net.deliver(&challenge);
    let second = net.take();
    let req = Message::parse(&second[0].data).unwrap();
    let refusal = net.server.error(&req, code, true);
    assert_eq!(net.deliver(&refusal), Handled::Consumed);
    net
}

#[test]
fn rfc8656_7_4_each_refusal_is_a_typed_error_saying_what_to_try() {
    let cases: Vec<(u16, TurnError, &str)> = vec![
        (
            437,
            TurnError::AllocationMismatch,
            "allocate from another local port",
        ),
        (
            440,
            TurnError::AddressFamilyNotSupported,
            "440 Address Family not Supported",
        ),
        (
            441,
            TurnError::WrongCredentials {
                operation: Operation::Allocate,
            },
            "441 Wrong Credentials",
        ),
        (
            442,
            TurnError::UnsupportedTransport,
            "442 Unsupported Transport Protocol",
        ),
        (
            486,
            TurnError::AllocationQuotaReached,
            "486 Allocation Quota Reached",
        ),
        (
            508,
            TurnError::InsufficientCapacity {
                operation: Operation::Allocate,
            },
            "try another server or later",
        ),
        (
            403,
            TurnError::Forbidden {
                operation: Operation::Allocate,
                reason: "Forbidden".to_owned(),
            },
            "403",
        ),
        (
            500,
            TurnError::Rejected {
                operation: Operation::Allocate,
                code: 500,
                reason: "Server Error".to_owned(),
            },
            "rejected Allocate with 500",
        ),
    ];
    for (code, expected, phrase) in cases {
        let net = refused_with(code);
        let err = net
            .failed()
            .unwrap_or_else(|| panic!("{code}: {:?}", net.events));
        assert_eq!(*err, expected, "code {code}");
        assert!(err.to_string().contains(phrase), "{code}: {err}");
        assert_eq!(net.client.state(), TurnState::Failed);
        assert_eq!(net.client.relayed(), None);
    }
}

#[test]
fn rfc8489_6_2_1_no_answer_is_a_timeout_after_39_5_s() {
    let mut server = Server::new();
    server.silent = true;
    let mut net = Net::new(Net::config(), server);
    net.run_until(Duration::from_secs(100));
    let sent: Vec<u128> = net
        .sent_at(Method::ALLOCATE)
        .iter()
        .map(|d| d.as_millis())
        .collect();
    assert_eq!(sent, [0, 500, 1500, 3500, 7500, 15500, 31500]);
    let err = net.failed().unwrap();
    assert_eq!(
        *err,
        TurnError::Timeout {
            operation: Operation::Allocate,
            server: addr(SERVER),
            after: Duration::from_millis(39_500),
        }
    );
    assert!(
        err.to_string()
            .contains("no answer from the TURN server 192.0.2.1:3478")
    );
    assert_eq!(net.client.poll_timeout(), None);
}

#[test]
fn rfc8656_7_1_ipv6_relay_asked_with_requested_address_family_and_checked() {
    let mut config = Net::config();
    config.family = Some(AddressFamily::V6);
    let mut server = Server::new();
    server.relayed = addr("[2001:db8::7]:49152");
    let mut net = Net::new(config.clone(), server);
    net.pump();
    let allocs = net.server.requests(Method::ALLOCATE);
    let req = Message::parse(&allocs[0]).unwrap();
    assert_eq!(
        req.require::<RequestedAddressFamily>().unwrap().family(),
        Some(AddressFamily::V6)
    );
    assert_eq!(net.client.relayed(), Some(addr("[2001:db8::7]:49152")));

    // An IPv4 relay for an IPv6 request breaks §7.3.
    let mut net = Net::new(config, Server::new());
    net.pump();
    assert!(matches!(
        net.failed(),
        Some(TurnError::ProtocolViolation {
            operation: Operation::Allocate,
            ..
        })
    ));
}

#[test]
fn rfc8656_7_4_dont_fragment_dropped_after_a_420_naming_it() {
    let mut config = Net::config();
    config.dont_fragment = true;
    config.software = Some("turn-test/1.0".to_owned());
    let mut net = Net::new(config, Server::new());
    let first = net.take();
    let req = Message::parse(&first[0].data).unwrap();
    assert!(req.get::<DontFragment>().unwrap().is_some());
    assert_eq!(req.require::<Software>().unwrap().as_str(), "turn-test/1.0");
    let challenge = net.server.challenge(&req, 401);
    net.deliver(&challenge);
    let second = net.take();
    let req = Message::parse(&second[0].data).unwrap();
    assert!(req.get::<DontFragment>().unwrap().is_some());
    let types = [AttributeType::DONT_FRAGMENT];
    let refusal = net.server.respond(&req, Class::Error, true, |w| {
        w.add(&ErrorCode::from_code(420).unwrap()).unwrap();
        w.add(&UnknownAttributes::new(&types)).unwrap();
    });
    net.deliver(&refusal);
    net.pump();
    let allocs = net.sent(Method::ALLOCATE);
    assert_eq!(allocs.len(), 3);
    let third = Message::parse(&allocs[2]).unwrap();
    assert!(
        third.get::<DontFragment>().unwrap().is_none(),
        "retried without it"
    );
    assert!(allocated_event(&net).is_some());
}

#[test]
fn api_refuses_data_before_the_allocation_and_other_families() {
    let mut net = Net::new(Net::config(), Server::new());
    let now = net.now;
    assert_eq!(
        net.client.send_to(now, addr("198.51.100.1:9"), b"x"),
        Err(UsageError::NotAllocated)
    );
    assert_eq!(
        net.client.bind_channel(now, addr("198.51.100.1:9")),
        Err(UsageError::NotAllocated)
    );
    net.pump();
    let v6 = addr("[2001:db8::2]:9");
    assert_eq!(
        net.client.send_to(now, v6, b"x"),
        Err(UsageError::PeerFamilyMismatch { peer: v6 })
    );
    assert_eq!(
        net.client.handle_stream(now, b"\x00"),
        Err(UsageError::WrongTransport)
    );
    let too_long = vec![0u8; 70_000];
    assert_eq!(
        net.client.send_to(now, addr("198.51.100.1:9"), &too_long),
        Err(UsageError::DataTooLong { len: 70_000 })
    );
}
