//! Allocations (RFC 8656 §5, §7): lifetimes, Refresh and expiry in
//! virtual time, the 5-tuple, retransmissions, every Allocate error the
//! RFC names, EVEN-PORT and reservations, dual allocations, quotas, the
//! relay-bind protocol, TCP connections, and Binding.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod turn_support;

use std::net::SocketAddr;
use std::time::Duration;

use stun_proto::attr::{
    AdditionalAddressFamily, AddressErrorCode, AddressFamily, AlternateServer, EvenPort, Lifetime,
    RequestedAddressFamily, RequestedTransport, ReservationToken, UnknownAttributes,
    XorMappedAddress, XorRelayedAddress,
};
use stun_proto::{AttributeType, MessageType, MessageWriter, Method, TransactionId, Transport};
use turn_server::TurnDropped;
use turn_server::turn::{DeallocReason, TurnEvent};
use turn_support::*;

fn relays(a: &Answer) -> Vec<SocketAddr> {
    let m = a.msg();
    m.attributes()
        .filter(|x| x.attr_type == AttributeType::XOR_RELAYED_ADDRESS)
        .map(|x| {
            <XorRelayedAddress as stun_proto::Attribute>::decode(x.value, &m.context())
                .unwrap()
                .0
        })
        .collect()
}

fn lifetime(a: &Answer) -> u32 {
    a.msg().get::<Lifetime>().unwrap().unwrap().0
}

#[test]
fn lifetime_is_clamped_between_default_and_max() {
    let mut h = Harness::default();
    for (i, (asked, granted)) in [
        (None, 600),
        (Some(30), 600),
        (Some(1800), 1800),
        (Some(100_000), 3600),
    ]
    .into_iter()
    .enumerate()
    {
        let mut c = Client::new(&format!("198.51.100.7:{}", 1000 + i), USER, PASSWORD);
        let a = c.allocate_with(&mut h, |w| {
            if let Some(l) = asked {
                w.add(&Lifetime(l)).unwrap();
            }
        });
        assert_eq!(lifetime(&a), granted, "asked {asked:?}");
    }
}

#[test]
fn allocation_expires_in_virtual_time_and_refresh_extends_it() {
    let mut h = Harness::default();
    let mut c = Client::alice();
    let relay = c.allocate(&mut h);
    h.advance(Duration::from_secs(599));
    let a = c.refresh(&mut h, Some(1200));
    assert_eq!(lifetime(&a), 1200);
    h.advance(Duration::from_secs(1199));
    assert_eq!(h.server.stats().allocations, 1, "refreshed to 1200 s");
    assert!(h.bound.contains(&relay));
    h.advance(Duration::from_secs(1));
    assert_eq!(h.server.stats().allocations, 0, "expired");
    assert!(!h.bound.contains(&relay), "relay released");
    assert!(h.events.iter().any(|e| matches!(
        e,
        TurnEvent::Deallocated {
            reason: DeallocReason::Expired,
            ..
        }
    )));
    assert_eq!(c.refresh(&mut h, None).code(), Some(437));
    // The 5-tuple is free again.
    assert!(c.allocate_with(&mut h, |_| {}).is_success());
}

#[test]
fn refresh_with_lifetime_zero_deletes() {
    let mut h = Harness::default();
    let mut c = Client::alice();
    let relay = c.allocate(&mut h);
    let a = c.refresh(&mut h, Some(0));
    assert!(a.is_success());
    assert_eq!(lifetime(&a), 0);
    assert_eq!(h.server.stats().allocations, 0);
    assert!(!h.bound.contains(&relay));
    assert!(h.events.iter().any(|e| matches!(
        e,
        TurnEvent::Deallocated {
            reason: DeallocReason::Refreshed,
            ..
        }
    )));
    assert_eq!(c.refresh(&mut h, Some(0)).code(), Some(437));
}

#[test]
fn refresh_for_a_family_the_allocation_lacks_is_443() {
    let mut h = Harness::default();
    let mut c = Client::alice();
    c.allocate(&mut h);
    let a = c.transact(&mut h, Method::REFRESH, |w| {
        w.add(&RequestedAddressFamily::new(AddressFamily::V6))
            .unwrap();
    });
    assert_eq!(a.code(), Some(443));
    let a = c.transact(&mut h, Method::REFRESH, |w| {
        w.add_raw(AttributeType::LIFETIME, &[0, 0]).unwrap();
    });
    assert_eq!(a.code(), Some(400), "malformed LIFETIME");
}

#[test]
fn second_allocate_on_a_5_tuple_is_437_but_a_retransmission_is_answered_again() {
    let mut h = Harness::default();
    let mut c = Client::alice();
    c.allocate(&mut h);
    let id = c.next_id();
    let bytes = c.request_with_id(Method::ALLOCATE, id, |w| {
        w.add(&RequestedTransport::UDP).unwrap();
    });
    assert_eq!(c.send(&mut h, &bytes).code(), Some(437));
    // Retransmission of the first Allocate: the client's second request
    // had transaction id counter 2 (after the 401).
    let mut again = Client::alice();
    again.realm = c.realm.clone();
    again.nonce = c.nonce.clone();
    again.counter = 1;
    let first_relay = h.bound[0];
    let a = again.allocate_with(&mut h, |_| {});
    assert!(a.is_success());
    assert_eq!(relays(&a), [first_relay]);
    assert_eq!(h.server.stats().allocations, 1);
}

#[test]
fn requested_transport_is_required_and_must_be_udp() {
    let mut h = Harness::default();
    let mut c = Client::alice();
    assert_eq!(
        c.transact(&mut h, Method::ALLOCATE, |_| {}).code(),
        Some(400)
    );
    let a = c.transact(&mut h, Method::ALLOCATE, |w| {
        w.add(&RequestedTransport::TCP).unwrap();
    });
    assert_eq!(a.code(), Some(442));
    c.verify(&a);
    let a = c.transact(&mut h, Method::ALLOCATE, |w| {
        w.add_raw(AttributeType::REQUESTED_TRANSPORT, &[17])
            .unwrap();
    });
    assert_eq!(a.code(), Some(400));
}

#[test]
fn address_family_rules() {
    let mut h = Harness::default();
    let mut c = Client::alice();
    let v6 = |w: &mut MessageWriter<'_>| {
        w.add(&RequestedAddressFamily::new(AddressFamily::V6))
            .unwrap();
    };
    assert_eq!(
        c.allocate_with(&mut h, v6).code(),
        Some(440),
        "no IPv6 relay"
    );
    let a = c.allocate_with(&mut h, |w| {
        w.add(&RequestedAddressFamily(0x07)).unwrap();
    });
    assert_eq!(a.code(), Some(440), "unknown family");
    let a = c.allocate_with(&mut h, |w| {
        w.add(&RequestedAddressFamily::new(AddressFamily::V4))
            .unwrap();
        w.add(&AdditionalAddressFamily::new(AddressFamily::V6))
            .unwrap();
    });
    assert_eq!(a.code(), Some(400), "both family attributes");
    let a = c.allocate_with(&mut h, |w| {
        w.add(&AdditionalAddressFamily::new(AddressFamily::V4))
            .unwrap();
    });
    assert_eq!(
        a.code(),
        Some(400),
        "ADDITIONAL-ADDRESS-FAMILY must be IPv6"
    );
    let a = c.allocate_with(&mut h, |w| {
        w.add(&EvenPort { reserve: true }).unwrap();
        w.add(&AdditionalAddressFamily::new(AddressFamily::V6))
            .unwrap();
    });
    assert_eq!(a.code(), Some(400), "R bit with a dual allocation");
    // Dual without an IPv6 relay: IPv4 only, ADDRESS-ERROR-CODE 440.
    let a = c.allocate_with(&mut h, |w| {
        w.add(&AdditionalAddressFamily::new(AddressFamily::V6))
            .unwrap();
    });
    assert!(a.is_success());
    assert_eq!(relays(&a).len(), 1);
    let e = a.msg().get::<AddressErrorCode>().unwrap().unwrap();
    assert_eq!((e.family(), e.code()), (2, 440));
}

#[test]
fn dual_and_ipv6_allocations() {
    let mut h = Harness::new(
        config()
            .with_relay_ip("2001:db8::1".parse().unwrap())
            .unwrap(),
    );
    let mut c = Client::alice();
    let a = c.allocate_with(&mut h, |w| {
        w.add(&AdditionalAddressFamily::new(AddressFamily::V6))
            .unwrap();
    });
    assert!(a.is_success());
    let r = relays(&a);
    assert_eq!(r.len(), 2);
    assert!(r[0].is_ipv4() && r[1].is_ipv6());
    // A peer of each family is reachable, each from its own relay.
    assert!(
        c.create_permission(&mut h, &[addr(PEER), addr("[2001:db8:99::1]:7")])
            .is_success()
    );
    let out = c
        .relay(&mut h, &c.clone_send(addr("[2001:db8:99::1]:7")))
        .unwrap();
    assert_eq!(out[0].from, r[1]);
    let mut d = Client::new(CLIENT2, USER, PASSWORD);
    let a = d.allocate_with(&mut h, |w| {
        w.add(&RequestedAddressFamily::new(AddressFamily::V6))
            .unwrap();
    });
    assert!(relays(&a)[0].is_ipv6());
    assert_eq!(d.create_permission(&mut h, &[addr(PEER)]).code(), Some(443));
}

trait CloneSend {
    fn clone_send(&self, peer: SocketAddr) -> Vec<u8>;
}

impl CloneSend for Client {
    fn clone_send(&self, peer: SocketAddr) -> Vec<u8> {
        let mut buf = Vec::new();
        let mut w = MessageWriter::new(
            &mut buf,
            MessageType::new(Method::SEND, stun_proto::Class::Indication),
            TransactionId::Rfc5389([9; 12]),
        );
        w.add(&stun_proto::attr::XorPeerAddress(peer)).unwrap();
        w.add(&stun_proto::attr::Data(b"x")).unwrap();
        buf
    }
}

#[test]
fn even_port_and_reservations() {
    let mut h = Harness::default();
    let mut c = Client::alice();
    let a = c.allocate_with(&mut h, |w| {
        w.add(&EvenPort { reserve: false }).unwrap();
    });
    assert_eq!(relays(&a)[0].port() % 2, 0);
    assert!(a.msg().get::<ReservationToken>().unwrap().is_none());

    let mut rtp = Client::new(CLIENT2, USER, PASSWORD);
    let a = rtp.allocate_with(&mut h, |w| {
        w.add(&EvenPort { reserve: true }).unwrap();
    });
    let n = relays(&a)[0];
    assert_eq!(n.port() % 2, 0);
    let token = a.msg().get::<ReservationToken>().unwrap().unwrap();
    let reserved = SocketAddr::new(n.ip(), n.port() + 1);
    assert!(h.bound.contains(&reserved), "N+1 bound and held");
    // Nothing is relayed on the reserved address yet.
    assert_eq!(
        h.peer_sends(reserved, addr(PEER), b"x").unwrap_err(),
        TurnDropped::NoAllocation
    );

    let mut rtcp = Client::new("198.51.100.8:40003", USER, PASSWORD);
    let with_token_and_even = rtcp.allocate_with(&mut h, |w| {
        w.add(&token).unwrap();
        w.add(&EvenPort { reserve: false }).unwrap();
    });
    assert_eq!(with_token_and_even.code(), Some(400));
    let binds_before = h.events.len();
    let a = rtcp.allocate_with(&mut h, |w| {
        w.add(&token).unwrap();
    });
    assert!(a.is_success());
    assert_eq!(relays(&a), [reserved]);
    assert!(
        !h.events[binds_before..]
            .iter()
            .any(|e| matches!(e, TurnEvent::BindRelay { .. })),
        "the reserved socket is used as it is"
    );
    // A token is good once.
    let mut late = Client::new("198.51.100.8:40005", USER, PASSWORD);
    assert_eq!(
        late.allocate_with(&mut h, |w| {
            w.add(&token).unwrap();
        })
        .code(),
        Some(508)
    );
}

#[test]
fn unclaimed_reservation_expires_after_30_s() {
    let mut h = Harness::default();
    let mut c = Client::alice();
    let a = c.allocate_with(&mut h, |w| {
        w.add(&EvenPort { reserve: true }).unwrap();
    });
    let n = relays(&a)[0];
    let token = a.msg().get::<ReservationToken>().unwrap().unwrap();
    let reserved = SocketAddr::new(n.ip(), n.port() + 1);
    h.advance(Duration::from_secs(29));
    assert!(h.bound.contains(&reserved));
    h.advance(Duration::from_secs(1));
    assert!(!h.bound.contains(&reserved), "released at 30 s");
    let mut d = Client::new(CLIENT2, USER, PASSWORD);
    assert_eq!(
        d.allocate_with(&mut h, |w| {
            w.add(&token).unwrap();
        })
        .code(),
        Some(508)
    );
}

#[test]
fn quotas_per_user_486_and_in_total_508() {
    let mut h = Harness::new(config().with_quotas(2, 3).unwrap());
    let client = |i: u16, user: &str, pass: &str| {
        Client::new(&format!("198.51.100.7:{}", 2000 + i), user, pass)
    };
    assert!(
        client(0, USER, PASSWORD)
            .allocate_with(&mut h, |_| {})
            .is_success()
    );
    assert!(
        client(1, USER, PASSWORD)
            .allocate_with(&mut h, |_| {})
            .is_success()
    );
    let mut third = client(2, USER, PASSWORD);
    let a = third.allocate_with(&mut h, |_| {});
    assert_eq!(a.code(), Some(486));
    third.verify(&a);
    assert!(
        client(3, "bob", "bob-secret")
            .allocate_with(&mut h, |_| {})
            .is_success()
    );
    assert_eq!(
        client(4, "bob", "bob-secret")
            .allocate_with(&mut h, |_| {})
            .code(),
        Some(508)
    );
    // Deleting one frees room.
    let mut first = client(0, USER, PASSWORD);
    first.realm = third.realm.clone();
    first.nonce = third.nonce.clone();
    assert!(first.refresh(&mut h, Some(0)).is_success());
    assert!(
        client(5, "bob", "bob-secret")
            .allocate_with(&mut h, |_| {})
            .is_success()
    );
}

#[test]
fn alternate_server_redirects_with_300() {
    let alt = addr("192.0.2.50:3478");
    let mut h = Harness::new(config().with_alternate_server(alt));
    let mut c = Client::alice();
    let a = c.allocate_with(&mut h, |_| {});
    assert_eq!(a.code(), Some(300));
    assert_eq!(
        a.msg().get::<AlternateServer>().unwrap(),
        Some(AlternateServer(alt))
    );
    c.verify(&a);
}

#[test]
fn unknown_comprehension_required_attribute_is_420_after_authentication() {
    let mut h = Harness::default();
    let mut c = Client::alice();
    // Before authentication: the challenge, not a 420.
    let bytes = c.request(Method::ALLOCATE, |w| {
        w.add_raw(AttributeType(0x7F01), &[]).unwrap();
    });
    assert_eq!(c.send(&mut h, &bytes).code(), Some(401));
    let a = c.allocate_with(&mut h, |w| {
        w.add_raw(AttributeType(0x7F01), &[]).unwrap();
        w.add_raw(AttributeType::DONT_FRAGMENT, &[]).unwrap();
        w.add_raw(AttributeType(0xC001), &[]).unwrap();
    });
    assert_eq!(a.code(), Some(420));
    c.verify(&a);
    let listed: Vec<_> = a
        .msg()
        .get::<UnknownAttributes>()
        .unwrap()
        .unwrap()
        .iter()
        .collect();
    assert_eq!(
        listed,
        [AttributeType(0x7F01), AttributeType::DONT_FRAGMENT]
    );
    // With DF support, DONT-FRAGMENT is understood.
    let mut h = Harness::new(config().with_dont_fragment(true));
    let mut c = Client::alice();
    let a = c.allocate_with(&mut h, |w| {
        w.add_raw(AttributeType::DONT_FRAGMENT, &[]).unwrap();
    });
    assert!(a.is_success());
}

#[test]
fn tcp_relaying_methods_are_refused() {
    let mut h = Harness::default();
    let mut c = Client::alice();
    c.allocate(&mut h);
    let a = c.transact(&mut h, Method::CONNECT, |w| {
        w.add(&stun_proto::attr::XorPeerAddress(addr(PEER)))
            .unwrap();
    });
    assert_eq!(a.code(), Some(437));
    let a = c.transact(&mut h, Method::CONNECTION_BIND, |w| {
        w.add(&stun_proto::attr::ConnectionId(7)).unwrap();
    });
    assert_eq!(a.code(), Some(400));
    // Methods the server does not implement at all are dropped.
    let bytes = c.request(Method::new(0x0FF).unwrap(), |_| {});
    let e = h
        .feed(c.five.server, c.five.client, Transport::Datagram, &bytes)
        .unwrap_err();
    assert!(matches!(e, TurnDropped::UnsupportedMethod { .. }));
}

#[test]
fn a_taken_port_is_retried_and_a_full_range_gets_508() {
    let cfg = config().with_relay_ports(50000, 50003).unwrap();
    let mut h = Harness::new(cfg);
    let ip = addr(SERVER).ip();
    h.taken = vec![
        SocketAddr::new(ip, 50000),
        SocketAddr::new(ip, 50001),
        SocketAddr::new(ip, 50002),
    ];
    let mut c = Client::alice();
    assert_eq!(c.allocate(&mut h), SocketAddr::new(ip, 50003));
    // Every port is taken or held now: 508, and nothing is left bound.
    let mut d = Client::new(CLIENT2, USER, PASSWORD);
    let a = d.allocate_with(&mut h, |_| {});
    assert_eq!(a.code(), Some(508));
    assert_eq!(h.bound, [SocketAddr::new(ip, 50003)]);
    // A bind result the server did not ask for is refused.
    let stray = SocketAddr::new(ip, 50002);
    assert_eq!(
        h.server.handle_relay_bound(h.now, stray, Ok(())),
        Err(TurnDropped::UnknownRelay { relay: stray })
    );
}

#[test]
fn allocate_waits_for_the_driver_to_bind() {
    let mut h = Harness::default();
    let mut c = Client::alice();
    let bytes = c.request(Method::ALLOCATE, |w| {
        w.add(&RequestedTransport::UDP).unwrap();
    });
    let challenge = c.send(&mut h, &bytes);
    c.learn(&challenge);
    let bytes = c.request(Method::ALLOCATE, |w| {
        w.add(&RequestedTransport::UDP).unwrap();
    });
    // Drive by hand: no answer until the bind is reported.
    h.server
        .handle_packet(
            h.now,
            c.five.server,
            c.five.client,
            Transport::Datagram,
            &bytes,
        )
        .unwrap();
    assert!(h.server.poll_transmit().is_none());
    let Some(TurnEvent::BindRelay { relay }) = h.server.poll_event() else {
        panic!("a bind request")
    };
    // The retransmission while binding is dropped.
    assert_eq!(
        h.server.handle_packet(
            h.now,
            c.five.server,
            c.five.client,
            Transport::Datagram,
            &bytes
        ),
        Err(TurnDropped::AllocationPending)
    );
    h.server
        .handle_relay_bound(h.now, relay, Err(std::io::ErrorKind::AddrInUse))
        .unwrap();
    let Some(TurnEvent::BindRelay { relay: second }) = h.server.poll_event() else {
        panic!("another port")
    };
    assert_ne!(relay, second);
    h.server.handle_relay_bound(h.now, second, Ok(())).unwrap();
    let answer = h.server.poll_transmit().unwrap();
    let a = Answer {
        bytes: answer.data,
        from: answer.from,
        to: answer.to,
        transport: answer.transport,
    };
    assert!(a.is_success());
    assert_eq!(relays(&a), [second]);
}

#[test]
fn tcp_allocation_dies_with_its_connection() {
    let mut h = Harness::default();
    let mut c = Client::on(CLIENT, SERVER, Transport::Stream, USER, PASSWORD);
    let relay = c.allocate(&mut h);
    // The UDP 5-tuple with the same addresses is another allocation.
    let mut u = Client::alice();
    u.allocate(&mut h);
    assert_eq!(h.server.stats().allocations, 2);
    h.server
        .handle_connection_closed(h.now, addr(SERVER), addr(CLIENT));
    h.drain_events();
    assert_eq!(h.server.stats().allocations, 1);
    assert!(!h.bound.contains(&relay));
    assert!(h.events.iter().any(|e| matches!(
        e,
        TurnEvent::Deallocated {
            reason: DeallocReason::ConnectionClosed,
            ..
        }
    )));
}

#[test]
fn binding_requests_are_answered_over_udp_and_tcp() {
    let mut h = Harness::default();
    for transport in [Transport::Datagram, Transport::Stream] {
        let mut buf = Vec::new();
        let mut w = MessageWriter::new(
            &mut buf,
            MessageType::BINDING_REQUEST,
            TransactionId::Rfc5389([3; 12]),
        );
        w.add_fingerprint().unwrap();
        let out = h.feed(addr(SERVER), addr(CLIENT), transport, &buf).unwrap();
        assert_eq!(out.len(), 1);
        assert_eq!(out[0].transport, transport);
        let m = stun_proto::Message::parse(&out[0].data).unwrap();
        assert_eq!(
            m.get::<XorMappedAddress>().unwrap(),
            Some(XorMappedAddress(addr(CLIENT)))
        );
    }
    assert_eq!(h.server.stats().successes, 2);
}

#[test]
fn rfc5780_binding_on_the_primary_listener() {
    let cfg = config()
        .with_stun_alternate("192.0.2.2".parse().unwrap(), 3479)
        .unwrap();
    let mut h = Harness::new(cfg);
    assert_eq!(h.server.udp_addresses().len(), 4);
    assert_eq!(h.server.tcp_addresses(), [addr(SERVER)]);
    let mut buf = Vec::new();
    let mut w = MessageWriter::new(
        &mut buf,
        MessageType::BINDING_REQUEST,
        TransactionId::Rfc5389([3; 12]),
    );
    w.add(&stun_proto::attr::ChangeRequest {
        change_ip: true,
        change_port: true,
    })
    .unwrap();
    let out = h
        .feed(addr(SERVER), addr(CLIENT), Transport::Datagram, &buf)
        .unwrap();
    assert_eq!(out[0].from, addr("192.0.2.2:3479"));
    // Over TCP there is no alternate: 420.
    let out = h
        .feed(addr(SERVER), addr(CLIENT), Transport::Stream, &buf)
        .unwrap();
    let m = stun_proto::Message::parse(&out[0].data).unwrap();
    assert_eq!(
        m.get::<stun_proto::attr::ErrorCode>()
            .unwrap()
            .unwrap()
            .code(),
        420
    );
}

#[test]
fn same_seed_same_bytes() {
    let run = || {
        let mut h = Harness::default();
        let mut c = Client::alice();
        let a = c.allocate_with(&mut h, |_| {});
        (a.bytes, h.bound.clone())
    };
    assert_eq!(run(), run());
}
