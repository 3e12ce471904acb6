//! Hostile input: every prefix and every single-bit flip of each kind of
//! packet the server handles (signed requests, indications, ChannelData,
//! peer data, over UDP and TCP), random bytes from a deterministic RNG, and
//! proptest's arbitrary bytes. Nothing panics; every packet is dropped
//! with a reason or answered; answers go back to the packet's source as
//! well-formed STUN, and relayed data only leaves from a relay address to
//! a peer the client gave a permission.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod turn_support;

use std::collections::BTreeMap;
use std::net::SocketAddr;

use proptest::prelude::*;
use stun_proto::attr::{Lifetime, XorPeerAddress};
use stun_proto::{
    ChannelData, Message, MessageType, MessageWriter, Method, TransactionId, Transport,
};
use turn_server::turn::TurnTransmit;
use turn_support::*;

/// SplitMix64: a failure replays.
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
}

/// A server with alice's UDP and TCP allocations, a permission for PEER
/// and channel 0x4000 on each; and the packets to damage.
struct World {
    h: Harness,
    udp: Client,
    tcp: Client,
    relays: Vec<SocketAddr>,
    samples: Vec<(&'static str, Vec<u8>)>,
}

fn world() -> World {
    let mut h = Harness::default();
    let mut udp = Client::alice();
    let mut tcp = Client::on(CLIENT, SERVER, Transport::Stream, USER, PASSWORD);
    let relays = vec![udp.allocate(&mut h), tcp.allocate(&mut h)];
    for c in [&mut udp, &mut tcp] {
        assert!(c.channel_bind(&mut h, 0x4000, addr(PEER)).is_success());
    }
    let mut samples = vec![
        (
            "allocate",
            udp.request(Method::ALLOCATE, |w| {
                w.add(&stun_proto::attr::RequestedTransport::UDP).unwrap();
                w.add(&Lifetime(1200)).unwrap();
            }),
        ),
        (
            "refresh",
            udp.request(Method::REFRESH, |w| {
                w.add(&Lifetime(1200)).unwrap();
            }),
        ),
        (
            "create-permission",
            udp.request(Method::CREATE_PERMISSION, |w| {
                w.add(&XorPeerAddress(addr(PEER2))).unwrap();
            }),
        ),
        (
            "channel-bind",
            udp.request(Method::CHANNEL_BIND, |w| {
                w.add_raw(stun_proto::AttributeType::CHANNEL_NUMBER, &[0x40, 1, 0, 0])
                    .unwrap();
                w.add(&XorPeerAddress(addr(PEER))).unwrap();
            }),
        ),
        ("send", udp.send_indication(addr(PEER), b"payload")),
    ];
    let mut binding = Vec::new();
    let mut w = MessageWriter::new(
        &mut binding,
        MessageType::BINDING_REQUEST,
        TransactionId::Rfc5389([4; 12]),
    );
    w.add_fingerprint().unwrap();
    samples.push(("binding", binding));
    let mut cd = Vec::new();
    ChannelData::new(0x4000, b"abcdefg")
        .unwrap()
        .write(&mut cd, Transport::Stream);
    samples.push(("channel-data", cd));
    World {
        h,
        udp,
        tcp,
        relays,
        samples,
    }
}

/// Feeds `data` from `source` and checks every transmit.
fn feed_checked(
    w: &mut World,
    local: SocketAddr,
    source: SocketAddr,
    transport: Transport,
    data: &[u8],
    tally: &mut BTreeMap<String, usize>,
) {
    let h = &mut w.h;
    let r = h
        .server
        .handle_packet(h.now, local, source, transport, data);
    h.drain_events();
    let out: Vec<TurnTransmit> = h.transmits();
    match r {
        Ok(()) => *tally.entry("answered or relayed".into()).or_default() += 1,
        Err(e) => {
            assert!(out.is_empty(), "dropped ({e}) yet sent {out:?}");
            let name = format!("{e:?}");
            *tally
                .entry(name.split([' ', '(']).next().unwrap().to_string())
                .or_default() += 1;
        }
    }
    let from_peer = w.relays.contains(&local) && transport == Transport::Datagram;
    for t in out {
        if from_peer {
            assert_eq!(t.from, addr(SERVER));
            assert_eq!(t.to, addr(CLIENT));
            let first = t.data[0];
            assert!(first < 4 || (0x40..=0x4F).contains(&first), "{:?}", t);
        } else if w.relays.contains(&t.from) {
            assert_eq!(t.transport, Transport::Datagram);
            assert!(
                t.to.ip() == addr(PEER).ip() || t.to.ip() == addr(PEER2).ip(),
                "relayed to {}",
                t.to
            );
        } else {
            assert_eq!(
                (t.from, t.to, t.transport),
                (local, source, transport),
                "answer goes back"
            );
            let m = Message::parse(&t.data).expect("answers are STUN");
            assert!(m.class().is_response());
            assert!(t.data.len() <= 200, "small answers: {}", t.data.len());
        }
    }
}

#[test]
fn every_prefix_and_bit_flip_is_handled() {
    let mut w = world();
    let mut tally = BTreeMap::new();
    let samples = w.samples.clone();
    let udp = w.udp.five;
    let tcp = w.tcp.five;
    for (what, sample) in &samples {
        for five in [udp, tcp] {
            for len in 0..=sample.len() {
                feed_checked(
                    &mut w,
                    five.server,
                    five.client,
                    five.transport,
                    &sample[..len],
                    &mut tally,
                );
            }
            for bit in 0..sample.len() * 8 {
                let mut flipped = sample.clone();
                flipped[bit / 8] ^= 1 << (bit % 8);
                feed_checked(
                    &mut w,
                    five.server,
                    five.client,
                    five.transport,
                    &flipped,
                    &mut tally,
                );
            }
        }
        // The same bytes as peer data on each relay.
        for relay in w.relays.clone() {
            feed_checked(
                &mut w,
                relay,
                addr(PEER),
                Transport::Datagram,
                sample,
                &mut tally,
            );
        }
        let _ = what;
    }
    println!("{tally:#?}");
    assert!(tally.len() > 10, "many kinds of drops: {tally:?}");
}

#[test]
fn random_bytes_are_dropped_or_answered() {
    let mut w = world();
    let mut tally = BTreeMap::new();
    let mut rng = Rng(0x5EED);
    let sources = [
        addr(CLIENT),
        addr(CLIENT2),
        addr("0.0.0.0:1"),
        addr("[2001:db8::7]:9"),
    ];
    for _ in 0..20_000 {
        let len = rng.below(120);
        let mut data: Vec<u8> = (0..len).map(|_| rng.next() as u8).collect();
        if let Some(first) = data.first_mut() {
            *first = match rng.below(3) {
                0 => *first & 0x03,
                1 => 0x40 | (*first & 0x0F),
                _ => *first,
            };
        }
        if data.len() >= 8 && rng.below(2) == 0 {
            // Plausible STUN: right length and cookie.
            let body = (data.len() - 20.min(data.len())) as u16 & !3;
            data.truncate(20 + usize::from(body));
            if data.len() >= 20 {
                data[2..4].copy_from_slice(&body.to_be_bytes());
                data[4..8].copy_from_slice(&stun_proto::MAGIC_COOKIE_BYTES);
            }
        }
        let transport = if rng.below(2) == 0 {
            Transport::Datagram
        } else {
            Transport::Stream
        };
        let (local, source) = match rng.below(4) {
            0 => (w.relays[rng.below(2)], addr(PEER)),
            _ => (addr(SERVER), sources[rng.below(sources.len())]),
        };
        feed_checked(&mut w, local, source, transport, &data, &mut tally);
    }
    println!("{tally:#?}");
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn arbitrary_bytes_never_panic(data in proptest::collection::vec(any::<u8>(), 0..200), to_relay in any::<bool>(), stream in any::<bool>()) {
        let mut w = world();
        let mut tally = BTreeMap::new();
        let transport = if stream { Transport::Stream } else { Transport::Datagram };
        let (local, source) = if to_relay { (w.relays[0], addr(PEER)) } else { (addr(SERVER), addr(CLIENT)) };
        feed_checked(&mut w, local, source, transport, &data, &mut tally);
    }
}
