//! The data path (RFC 8656 §9 permissions, §11 Send and Data indications,
//! §12 channels): what is relayed, what is dropped and why, expiry in
//! virtual time, the channel rebinding rules, the peer address policy
//! (403), 443, the permission limit (508) and the bandwidth cap.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod turn_support;

use std::net::SocketAddr;
use std::time::Duration;

use stun_proto::attr::{Data, XorPeerAddress};
use stun_proto::{ChannelData, Class, Message, Method, Transport};
use turn_server::TurnDropped;
use turn_server::turn::{Bandwidth, PeerRefusal, Prefix, TurnTransmit};
use turn_support::*;

/// An allocation for an hour, so that the tests below outlive their
/// permissions and channels, not the allocation.
fn setup() -> (Harness, Client, SocketAddr) {
    let mut h = Harness::default();
    let mut c = Client::alice();
    let a = c.allocate_with(&mut h, |w| {
        w.add(&stun_proto::attr::Lifetime(3600)).unwrap();
    });
    let relay = a
        .msg()
        .get::<stun_proto::attr::XorRelayedAddress>()
        .unwrap()
        .unwrap()
        .0;
    (h, c, relay)
}

fn one(out: Vec<TurnTransmit>) -> TurnTransmit {
    assert_eq!(out.len(), 1, "{out:?}");
    out.into_iter().next().unwrap()
}

fn channel_data(channel: u16, data: &[u8], transport: Transport) -> Vec<u8> {
    let mut out = Vec::new();
    ChannelData::new(channel, data)
        .unwrap()
        .write(&mut out, transport);
    out
}

#[test]
fn send_indication_needs_a_permission_for_the_peer_ip() {
    let (mut h, mut c, relay) = setup();
    let peer = addr(PEER);
    let send = c.send_indication(peer, b"hello");
    assert_eq!(
        c.relay(&mut h, &send).unwrap_err(),
        TurnDropped::NoPermission { peer }
    );
    assert!(c.create_permission(&mut h, &[peer]).is_success());
    let t = one(c.relay(&mut h, &send).unwrap());
    assert_eq!(
        (t.from, t.to, t.transport, t.data.as_slice()),
        (relay, peer, Transport::Datagram, &b"hello"[..])
    );
    // Ports do not count: another port of the same IP is covered.
    let other_port = SocketAddr::new(peer.ip(), 9999);
    assert_eq!(
        one(c
            .relay(&mut h, &c.send_indication(other_port, b"x"))
            .unwrap())
        .to,
        other_port
    );
    // Another IP is not.
    let other = addr(PEER2);
    assert_eq!(
        c.relay(&mut h, &c.send_indication(other, b"x"))
            .unwrap_err(),
        TurnDropped::NoPermission { peer: other }
    );
    let stats = h.server.stats();
    assert_eq!(stats.to_peers, (2, 6));
}

#[test]
fn peer_data_comes_back_in_a_data_indication() {
    let (mut h, mut c, relay) = setup();
    let peer = addr(PEER);
    assert_eq!(
        h.peer_sends(relay, peer, b"early").unwrap_err(),
        TurnDropped::NoPermission { peer }
    );
    c.create_permission(&mut h, &[peer]);
    let t = one(h
        .peer_sends(relay, SocketAddr::new(peer.ip(), 1234), b"pong")
        .unwrap());
    assert_eq!((t.from, t.to), (addr(SERVER), addr(CLIENT)));
    let m = Message::parse(&t.data).unwrap();
    assert_eq!((m.method(), m.class()), (Method::DATA, Class::Indication));
    assert_eq!(
        m.get::<XorPeerAddress>().unwrap().unwrap().0,
        SocketAddr::new(peer.ip(), 1234)
    );
    assert_eq!(m.get::<Data>().unwrap().unwrap().0, b"pong");
    assert_eq!(h.server.stats().to_clients, (1, 4));
}

#[test]
fn permissions_last_300_s_unless_refreshed() {
    let (mut h, mut c, relay) = setup();
    let peer = addr(PEER);
    c.create_permission(&mut h, &[peer]);
    h.advance(Duration::from_secs(299));
    assert!(h.peer_sends(relay, peer, b"x").is_ok());
    // Data does not refresh a permission.
    c.relay(&mut h, &c.send_indication(peer, b"x")).unwrap();
    h.advance(Duration::from_secs(1));
    assert_eq!(
        h.peer_sends(relay, peer, b"x").unwrap_err(),
        TurnDropped::NoPermission { peer }
    );
    // CreatePermission again, refreshed before expiry, lives on.
    c.create_permission(&mut h, &[peer]);
    h.advance(Duration::from_secs(200));
    c.create_permission(&mut h, &[peer]);
    h.advance(Duration::from_secs(200));
    assert!(h.peer_sends(relay, peer, b"x").is_ok());
}

#[test]
fn a_permission_ignores_the_port_even_0_but_a_channel_needs_one() {
    // RFC 8656 §9.1: the server ignores the port of XOR-PEER-ADDRESS in
    // CreatePermission; clients that know no port yet (ours, coturn's
    // uclient) send 0. A channel is bound to a transport address.
    let (mut h, mut c, relay) = setup();
    let ip = addr(PEER).ip();
    assert!(
        c.create_permission(&mut h, &[SocketAddr::new(ip, 0)])
            .is_success()
    );
    let t = one(c
        .relay(&mut h, &c.send_indication(addr(PEER), b"hi"))
        .unwrap());
    assert_eq!((t.from, t.to), (relay, addr(PEER)));
    // Port 0 of a refused IP is still refused.
    assert_eq!(
        c.create_permission(&mut h, &[addr("10.0.0.1:0")]).code(),
        Some(403)
    );
    assert_eq!(
        c.channel_bind(&mut h, 0x4000, SocketAddr::new(ip, 0))
            .code(),
        Some(403)
    );
}

#[test]
fn create_permission_is_all_or_nothing() {
    let (mut h, mut c, relay) = setup();
    let a = c.create_permission(&mut h, &[addr(PEER), addr("127.0.0.1:80")]);
    assert_eq!(a.code(), Some(403));
    assert!(
        h.peer_sends(relay, addr(PEER), b"x").is_err(),
        "the good peer was not installed either"
    );
    assert_eq!(
        c.transact(&mut h, Method::CREATE_PERMISSION, |_| {}).code(),
        Some(400)
    );
    let a = c.transact(&mut h, Method::CREATE_PERMISSION, |w| {
        w.add_raw(stun_proto::AttributeType::XOR_PEER_ADDRESS, &[0, 1, 0])
            .unwrap();
    });
    assert_eq!(a.code(), Some(400));
    assert_eq!(
        c.create_permission(&mut h, &[addr("[2001:db8::9]:1")])
            .code(),
        Some(443)
    );
}

#[test]
fn dangerous_peers_are_refused_with_403_unless_allowed() {
    let (mut h, mut c, _) = setup();
    for peer in [
        "127.0.0.1:22",
        "0.0.0.0:80",
        "10.0.0.1:80",
        "192.168.1.1:80",
        "172.16.5.4:80",
        "169.254.169.254:80",
        "224.0.0.251:5353",
        "255.255.255.255:9",
    ] {
        assert_eq!(
            c.create_permission(&mut h, &[addr(peer)]).code(),
            Some(403),
            "{peer}"
        );
        assert_eq!(
            c.channel_bind(&mut h, 0x4000, addr(peer)).code(),
            Some(403),
            "{peer}"
        );
        assert_eq!(
            c.relay(&mut h, &c.send_indication(addr(peer), b"x"))
                .unwrap_err(),
            TurnDropped::PeerRefused {
                peer: addr(peer),
                why: turn_server::turn::PeerPolicy::new()
                    .check(addr(peer))
                    .unwrap_err()
            }
        );
    }
    // An IPv6 allocation refuses mapped, loopback and ULA peers.
    let mut h6 = Harness::new(
        config()
            .with_relay_ip("2001:db8::1".parse().unwrap())
            .unwrap(),
    );
    let mut c6 = Client::alice();
    c6.allocate_with(&mut h6, |w| {
        w.add(&stun_proto::attr::RequestedAddressFamily::new(
            stun_proto::attr::AddressFamily::V6,
        ))
        .unwrap();
    });
    for peer in [
        "[::ffff:127.0.0.1]:22",
        "[::1]:22",
        "[fd00::1]:1",
        "[fe80::1]:1",
        "[::]:1",
    ] {
        assert_eq!(
            c6.create_permission(&mut h6, &[addr(peer)]).code(),
            Some(403),
            "{peer}"
        );
    }
    assert!(
        c6.create_permission(&mut h6, &[addr("[2001:db8:1::1]:1")])
            .is_success()
    );
    // Allowing loopback lets a test on 127.0.0.1 relay.
    let cfg = config().allow_peers(Prefix::new("127.0.0.0".parse().unwrap(), 8).unwrap());
    let mut h = Harness::new(cfg);
    let mut c = Client::alice();
    c.allocate(&mut h);
    assert!(
        c.create_permission(&mut h, &[addr("127.0.0.1:5000")])
            .is_success()
    );
    assert_eq!(
        c.create_permission(&mut h, &[addr("10.0.0.1:5000")]).code(),
        Some(403)
    );
    assert_eq!(
        PeerRefusal::Private,
        turn_server::turn::PeerPolicy::new()
            .check(addr("10.0.0.1:1"))
            .unwrap_err()
    );
}

#[test]
fn channels_carry_data_both_ways_unpadded_over_udp() {
    let (mut h, mut c, relay) = setup();
    let peer = addr(PEER);
    assert_eq!(
        c.relay(&mut h, &channel_data(0x4000, b"abc", Transport::Datagram))
            .unwrap_err(),
        TurnDropped::ChannelNotBound { channel: 0x4000 }
    );
    assert!(c.channel_bind(&mut h, 0x4000, peer).is_success());
    let t = one(c
        .relay(&mut h, &channel_data(0x4000, b"abc", Transport::Datagram))
        .unwrap());
    assert_eq!(
        (t.from, t.to, t.data.as_slice()),
        (relay, peer, &b"abc"[..])
    );
    // From the bound peer: ChannelData, 4 + 5 bytes, no padding over UDP.
    let t = one(h.peer_sends(relay, peer, b"hello").unwrap());
    assert_eq!(
        t.data,
        [0x40, 0x00, 0x00, 0x05, b'h', b'e', b'l', b'l', b'o']
    );
    // The same IP on another port has the permission but no channel.
    let t = one(h
        .peer_sends(relay, SocketAddr::new(peer.ip(), 5001), b"hello")
        .unwrap());
    assert_eq!(Message::parse(&t.data).unwrap().method(), Method::DATA);
}

#[test]
fn channels_over_tcp_are_padded() {
    let mut h = Harness::default();
    let mut c = Client::on(CLIENT, SERVER, Transport::Stream, USER, PASSWORD);
    let relay = c.allocate(&mut h);
    let peer = addr(PEER);
    assert!(c.channel_bind(&mut h, 0x4FFF, peer).is_success());
    // Unpadded ChannelData does not frame on a stream.
    let unpadded = channel_data(0x4FFF, b"abcde", Transport::Datagram);
    assert!(matches!(
        c.relay(&mut h, &unpadded).unwrap_err(),
        TurnDropped::BadChannelData(_)
    ));
    let t = one(c
        .relay(&mut h, &channel_data(0x4FFF, b"abcde", Transport::Stream))
        .unwrap());
    assert_eq!(
        (t.transport, t.data.as_slice()),
        (Transport::Datagram, &b"abcde"[..])
    );
    let t = one(h.peer_sends(relay, peer, b"hello").unwrap());
    assert_eq!(t.transport, Transport::Stream);
    assert_eq!(
        t.data,
        [
            0x4F, 0xFF, 0x00, 0x05, b'h', b'e', b'l', b'l', b'o', 0, 0, 0
        ]
    );
}

#[test]
fn channel_and_permission_expiry() {
    let (mut h, mut c, relay) = setup();
    let peer = addr(PEER);
    c.channel_bind(&mut h, 0x4001, peer);
    let cd = channel_data(0x4001, b"x", Transport::Datagram);
    // The binding installed a 300 s permission.
    h.advance(Duration::from_secs(300));
    assert_eq!(
        c.relay(&mut h, &cd).unwrap_err(),
        TurnDropped::NoPermission { peer }
    );
    // CreatePermission brings it back; the channel still lives (600 s).
    c.create_permission(&mut h, &[peer]);
    assert!(c.relay(&mut h, &cd).is_ok());
    h.advance(Duration::from_secs(299));
    assert!(c.relay(&mut h, &cd).is_ok(), "599 s: bound");
    h.advance(Duration::from_secs(1));
    assert_eq!(
        c.relay(&mut h, &cd).unwrap_err(),
        TurnDropped::ChannelNotBound { channel: 0x4001 }
    );
    // Refreshing the binding before expiry keeps it (and its permission).
    c.channel_bind(&mut h, 0x4001, peer);
    h.advance(Duration::from_secs(290));
    c.channel_bind(&mut h, 0x4001, peer);
    h.advance(Duration::from_secs(290));
    assert!(c.relay(&mut h, &cd).is_ok());
    let t = one(h.peer_sends(relay, peer, b"y").unwrap());
    assert_eq!(t.data[0], 0x40);
}

#[test]
fn channel_rebinding_rules() {
    let (mut h, mut c, _) = setup();
    let (p1, p2) = (addr(PEER), addr(PEER2));
    assert!(c.channel_bind(&mut h, 0x4000, p1).is_success());
    assert_eq!(
        c.channel_bind(&mut h, 0x4000, p2).code(),
        Some(400),
        "number taken"
    );
    assert_eq!(
        c.channel_bind(&mut h, 0x4001, p1).code(),
        Some(400),
        "peer taken"
    );
    assert!(c.channel_bind(&mut h, 0x4000, p1).is_success(), "refresh");
    // After expiry, 5 minutes during which neither may be rebound elsewhere.
    h.advance(Duration::from_secs(600));
    assert_eq!(c.channel_bind(&mut h, 0x4000, p2).code(), Some(400));
    assert_eq!(c.channel_bind(&mut h, 0x4002, p1).code(), Some(400));
    h.advance(Duration::from_secs(300));
    assert!(c.channel_bind(&mut h, 0x4000, p2).is_success());
    assert!(c.channel_bind(&mut h, 0x4002, p1).is_success());
}

#[test]
fn channel_numbers_out_of_range_are_400_unless_legacy() {
    let (mut h, mut c, _) = setup();
    for n in [0x3FFF, 0x5000, 0x7FFF, 0x8000, 0xFFFF] {
        assert_eq!(
            c.channel_bind(&mut h, n, addr(PEER)).code(),
            Some(400),
            "{n:#x}"
        );
    }
    let a = c.transact(&mut h, Method::CHANNEL_BIND, |w| {
        w.add(&XorPeerAddress(addr(PEER))).unwrap();
    });
    assert_eq!(a.code(), Some(400), "no CHANNEL-NUMBER");
    assert_eq!(
        c.channel_bind(&mut h, 0x4000, addr("[2001:db8::1]:1"))
            .code(),
        Some(443)
    );

    let mut h = Harness::new(config().with_legacy_channel_numbers(true));
    let mut c = Client::alice();
    let relay = c.allocate(&mut h);
    assert!(c.channel_bind(&mut h, 0x7FFF, addr(PEER)).is_success());
    assert_eq!(
        c.channel_bind(&mut h, 0x8000, addr(PEER2)).code(),
        Some(400)
    );
    let legacy = [0x7F, 0xFF, 0x00, 0x02, b'h', b'i'];
    let t = one(c.relay(&mut h, &legacy).unwrap());
    assert_eq!(t.data, b"hi");
    let t = one(h.peer_sends(relay, addr(PEER), b"yo").unwrap());
    assert_eq!(t.data, [0x7F, 0xFF, 0x00, 0x02, b'y', b'o']);
}

#[test]
fn permission_limit_is_508() {
    let mut h = Harness::new(config().with_max_permissions(2).unwrap());
    let mut c = Client::alice();
    c.allocate(&mut h);
    assert!(
        c.create_permission(&mut h, &[addr("203.0.113.1:1"), addr("203.0.113.2:1")])
            .is_success()
    );
    assert!(
        c.create_permission(&mut h, &[addr("203.0.113.1:9")])
            .is_success(),
        "a refresh needs no room"
    );
    assert_eq!(
        c.create_permission(&mut h, &[addr("203.0.113.3:1")]).code(),
        Some(508)
    );
    assert_eq!(
        c.channel_bind(&mut h, 0x4000, addr("203.0.113.3:1")).code(),
        Some(508)
    );
    // Expired permissions make room.
    h.advance(Duration::from_secs(300));
    assert!(
        c.create_permission(&mut h, &[addr("203.0.113.3:1")])
            .is_success()
    );
}

#[test]
fn bandwidth_cap_is_a_token_bucket_in_virtual_time() {
    let cap = Bandwidth {
        bytes_per_second: 10_000,
        burst: 2_000,
    };
    let mut h = Harness::new(config().with_bandwidth(cap).unwrap());
    let mut c = Client::alice();
    let relay = c.allocate(&mut h);
    let peer = addr(PEER);
    c.channel_bind(&mut h, 0x4000, peer);
    let cd = channel_data(0x4000, &[7; 1000], Transport::Datagram);
    assert!(c.relay(&mut h, &cd).is_ok());
    assert!(
        h.peer_sends(relay, peer, &[7; 1000]).is_ok(),
        "both directions share the bucket"
    );
    assert_eq!(
        c.relay(&mut h, &cd).unwrap_err(),
        TurnDropped::BandwidthExceeded { len: 1000 }
    );
    h.advance(Duration::from_millis(99));
    assert!(c.relay(&mut h, &cd).is_err(), "990 bytes earned");
    h.advance(Duration::from_millis(1));
    assert!(c.relay(&mut h, &cd).is_ok(), "1000 bytes earned at 100 ms");
    // Over 10 virtual seconds at most rate * time + burst gets through.
    let mut sent = 0u64;
    for _ in 0..1000 {
        h.advance(Duration::from_millis(10));
        for _ in 0..3 {
            if c.relay(&mut h, &cd).is_ok() {
                sent += 1000;
            }
        }
    }
    assert!(sent <= 10_000 * 10 + 2_000, "{sent}");
    assert!(sent >= 10_000 * 10 - 1_000, "{sent}");
    assert!(h.server.stats().over_bandwidth > 0);
}

#[test]
fn data_without_allocation_or_on_unknown_sockets_is_dropped() {
    let mut h = Harness::default();
    let c = Client::alice();
    assert_eq!(
        c.relay(&mut h, &channel_data(0x4000, b"x", Transport::Datagram))
            .unwrap_err(),
        TurnDropped::NoAllocation
    );
    let c2 = Client::alice();
    assert_eq!(
        c.relay(&mut h, &c2.send_indication(addr(PEER), b"x"))
            .unwrap_err(),
        TurnDropped::NoAllocation
    );
    let e = h
        .feed(
            addr("192.0.2.99:3478"),
            addr(CLIENT),
            Transport::Datagram,
            b"x",
        )
        .unwrap_err();
    assert!(matches!(e, TurnDropped::NotOurSocket { .. }));
    let e = h
        .feed(addr(SERVER), addr("0.0.0.0:1"), Transport::Datagram, b"x")
        .unwrap_err();
    assert!(matches!(e, TurnDropped::UnanswerableSource { .. }));
}

#[test]
fn send_indication_rules() {
    let (mut h, mut c, _) = setup();
    let peer = addr(PEER);
    c.create_permission(&mut h, &[peer]);
    let mut id = 0u8;
    let mut send = |build: &dyn Fn(&mut stun_proto::MessageWriter<'_>)| {
        id += 1;
        let mut buf = Vec::new();
        let mut w = stun_proto::MessageWriter::new(
            &mut buf,
            stun_proto::MessageType::new(Method::SEND, Class::Indication),
            stun_proto::TransactionId::Rfc5389([id; 12]),
        );
        build(&mut w);
        buf
    };
    let no_data = send(&|w| {
        w.add(&XorPeerAddress(peer)).unwrap();
    });
    assert_eq!(
        c.relay(&mut h, &no_data).unwrap_err(),
        TurnDropped::BadSendIndication
    );
    let no_peer = send(&|w| {
        w.add(&Data(b"x")).unwrap();
    });
    assert_eq!(
        c.relay(&mut h, &no_peer).unwrap_err(),
        TurnDropped::BadSendIndication
    );
    let df = send(&|w| {
        w.add(&XorPeerAddress(peer)).unwrap();
        w.add(&Data(b"x")).unwrap();
        w.add_raw(stun_proto::AttributeType::DONT_FRAGMENT, &[])
            .unwrap();
    });
    assert_eq!(
        c.relay(&mut h, &df).unwrap_err(),
        TurnDropped::BadSendIndication,
        "DF unsupported"
    );
    let v6 = send(&|w| {
        w.add(&XorPeerAddress(addr("[2001:db8::5]:1"))).unwrap();
        w.add(&Data(b"x")).unwrap();
    });
    assert!(matches!(
        c.relay(&mut h, &v6).unwrap_err(),
        TurnDropped::PeerFamilyMismatch { .. }
    ));
    let empty = send(&|w| {
        w.add(&XorPeerAddress(peer)).unwrap();
        w.add(&Data(b"")).unwrap();
    });
    assert_eq!(one(c.relay(&mut h, &empty).unwrap()).data, b"");
}
