//! Hostile bytes from the server's address: every prefix and every
//! single-bit flip of every message the scripted server sends, and random
//! datagrams and streams. Nothing panics, and nothing changes an
//! established allocation unless it is authentic (RFC 8489 §9.2.5: the
//! long-term integrity covers the whole answer, so any flip breaks it).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod turn_client_server;

use std::net::SocketAddr;
use std::time::Duration;

use candidate_gather::turn::{Handled, TurnConfig, TurnEvent, TurnState, TurnTransport};
use rand_chacha::ChaCha8Rng;
use rand_core::{Rng, SeedableRng};
use stun_proto::attr::Lifetime;
use stun_proto::{Class, Message, Transport};
use turn_client_server::*;

const PEER: &str = "198.51.100.20:7000";
const PEER2: &str = "198.51.100.21:7000";
const NEW_PEER: &str = "198.51.100.30:7000";
const NEW_CHANNEL_PEER: &str = "198.51.100.31:7000";

/// Every prefix (shorter than the message) and every single-bit flip.
fn mutants(msg: &[u8]) -> Vec<Vec<u8>> {
    let mut out: Vec<Vec<u8>> = (0..msg.len()).map(|n| msg[..n].to_vec()).collect();
    for byte in 0..msg.len() {
        for bit in 0..8 {
            let mut m = msg.to_vec();
            m[byte] ^= 1 << bit;
            out.push(m);
        }
    }
    out
}

/// An allocated client with a permission (PEER), a channel (PEER2), and,
/// at 480 s, six requests awaiting answers: the refreshes of the
/// allocation, the channel and both permissions, a new permission and a
/// new channel. Returns it with
/// every message the server sent so far, the genuine answers still held
/// back, and authentic refusals and challenges of the pending requests.
struct Scene {
    net: Net,
    old: Vec<Vec<u8>>,
    pending: Vec<Vec<u8>>,
    /// Signed refusals other than 401 and 438.
    refusals: Vec<Vec<u8>>,
    /// 401 and 438, signed and unsigned.
    challenges: Vec<Vec<u8>>,
}

fn scene(config: TurnConfig) -> Scene {
    let mut net = Net::new(config, Server::new());
    net.pump();
    let now = net.now;
    net.client.create_permission(now, addr(PEER).ip()).unwrap();
    net.client.bind_channel(now, addr(PEER2)).unwrap();
    net.pump();
    // The server rotates its nonce once: the permission refreshes at 240 s
    // meet a 438, which joins the script.
    net.run_until(Duration::from_secs(100));
    net.server.nonce = "rotated".to_owned();
    net.run_until(Duration::from_millis(479_500));
    net.now = net.t0 + Duration::from_secs(480);
    net.client.handle_timeout(net.now);
    let now = net.now;
    net.client
        .create_permission(now, addr(NEW_PEER).ip())
        .unwrap();
    net.client
        .bind_channel(now, addr(NEW_CHANNEL_PEER))
        .unwrap();
    let out = net.take();
    // The allocation's and the channel's refreshes, both permissions'
    // refreshes (80 % of 300 s, twice), the new permission and bind.
    assert_eq!(out.len(), 6);
    let mut pending = Vec::new();
    let mut refusals = Vec::new();
    let mut challenges = Vec::new();
    for t in &out {
        let req = Message::parse(&t.data).unwrap();
        for code in [437, 486, 508, 403, 441, 500] {
            refusals.push(net.server.error(&req, code, true));
        }
        for code in [401, 438] {
            challenges.push(net.server.error(&req, code, true));
            challenges.push(net.server.challenge(&req, code));
        }
        refusals.push(net.server.respond(&req, Class::Success, true, |w| {
            w.add(&Lifetime(0)).unwrap();
        }));
        pending.push(net.server.handle(net.now, &t.data).unwrap());
    }
    let mut old = net.answers.clone();
    old.push(net.server.data_indication(addr(PEER), b"peer data"));
    old.push(
        net.server
            .channel_data(0x4000, b"channel data", Transport::Datagram),
    );
    old.push(
        net.server
            .channel_data(0x4000, b"channel data", Transport::Stream),
    );
    let stale = |m: &Vec<u8>| {
        Message::parse(m).is_ok_and(|m| {
            m.get::<stun_proto::attr::ErrorCode>()
                .is_ok_and(|e| e.is_some_and(|e| e.code() == 438))
        })
    };
    assert!(old.iter().any(stale), "a 438 in the script");
    assert!(
        pending
            .iter()
            .all(|m| Message::parse(m).unwrap().class() == Class::Success)
    );
    Scene {
        net,
        old,
        pending,
        refusals,
        challenges,
    }
}

/// The established allocation's observable state.
fn snapshot(
    net: &Net,
) -> (
    TurnState,
    Option<SocketAddr>,
    Option<SocketAddr>,
    Option<Duration>,
    usize,
) {
    (
        net.client.state(),
        net.client.relayed(),
        net.client.mapped(),
        net.client.lifetime(),
        net.events.len(),
    )
}

/// Peer data may only come from peers with a permission or channel.
fn assert_delivered_only_from_known_peers(net: &Net) {
    for (peer, _) in &net.delivered {
        assert!(
            [
                addr(PEER).ip(),
                addr(PEER2).ip(),
                addr(NEW_PEER).ip(),
                addr(NEW_CHANNEL_PEER).ip()
            ]
            .contains(&peer.ip()),
            "data from {peer}"
        );
    }
}

#[test]
fn rfc8489_9_2_5_no_mutant_of_any_server_message_changes_an_established_allocation() {
    let Scene {
        mut net,
        old,
        pending,
        refusals,
        ..
    } = scene(Net::config());
    let before = snapshot(&net);
    let mut tried = 0;
    for msg in old.iter().chain(&pending).chain(&refusals) {
        for m in mutants(msg) {
            net.deliver(&m);
            tried += 1;
            assert_eq!(snapshot(&net), before, "after mutant {m:02x?}");
        }
    }
    assert!(tried > 30_000, "{tried} mutants");
    // Verbatim repeats of old messages are no one's (their transactions
    // are done) or plain peer data.
    for msg in &old {
        net.deliver(msg);
        assert_eq!(snapshot(&net), before);
    }
    assert_delivered_only_from_known_peers(&net);
    assert!(net.take().is_empty(), "nothing provoked a request");

    // The pending transactions were not disturbed: the genuine answers
    // still finish them.
    for msg in &pending {
        assert_eq!(net.deliver(msg), Handled::Consumed);
    }
    let new: Vec<&TurnEvent> = net.events[before.4..].iter().collect();
    assert!(new.contains(&&TurnEvent::Refreshed {
        lifetime: Duration::from_secs(600)
    }));
    assert!(new.contains(&&TurnEvent::PermissionCreated(addr(NEW_PEER).ip())));
    assert!(new.iter().any(
        |e| matches!(e, TurnEvent::ChannelBound { peer, .. } if *peer == addr(NEW_CHANNEL_PEER))
    ));
    assert_eq!(net.client.relayed(), Some(addr(RELAYED)));
    assert!(net.failed().is_none());
}

/// 401 and 438 are the answers RFC 8489 §9.2.5 acts on without integrity
/// (a server cannot sign a challenge to credentials it rejects). Their
/// mutants may make a pending request retry or fail, but never touch the
/// allocation itself: no new address, no reallocation, no failure.
#[test]
fn rfc8489_9_2_5_mutated_challenges_never_touch_the_allocation() {
    let Scene {
        mut net,
        challenges,
        ..
    } = scene(Net::config());
    let mut tried = 0;
    for msg in &challenges {
        for m in mutants(msg) {
            net.deliver(&m);
            tried += 1;
            // Retries go to the server, which answers them genuinely.
            net.pump();
            assert_eq!(net.client.state(), TurnState::Allocated);
            assert_eq!(net.client.relayed(), Some(addr(RELAYED)));
            assert_eq!(net.client.mapped(), Some(addr(MAPPED)));
        }
    }
    assert!(tried > 10_000, "{tried}");
    for e in &net.events {
        assert!(
            !matches!(
                e,
                TurnEvent::Failed(_) | TurnEvent::Reallocated { .. } | TurnEvent::Released { .. }
            ),
            "{e:?}"
        );
    }
    net.run_until(Duration::from_secs(3000));
    assert_eq!(
        net.client.state(),
        TurnState::Allocated,
        "{:?}",
        net.failed()
    );
}

#[test]
fn rfc8489_9_2_5_no_mutant_of_the_allocate_success_allocates() {
    let mut net = Net::new(Net::config(), Server::new());
    let out = net.take();
    let req = Message::parse(&out[0].data).unwrap();
    let challenge = net.server.challenge(&req, 401);
    net.deliver(&challenge);
    let out = net.take();
    let genuine = net.server.handle(net.now, &out[0].data).unwrap();
    let req = Message::parse(&out[0].data).unwrap();
    let mut hostile = mutants(&genuine);
    for code in [437, 486, 508, 441, 442, 440, 403, 500, 300] {
        hostile.extend(mutants(&net.server.error(&req, code, true)));
    }
    for m in &hostile {
        net.deliver(m);
        assert_eq!(net.client.state(), TurnState::Allocating);
        assert!(net.events.is_empty(), "{:?}", net.events);
    }
    assert!(
        net.take().is_empty(),
        "no mutant made the client send anything"
    );
    assert_eq!(net.deliver(&genuine), Handled::Consumed);
    assert_eq!(net.client.relayed(), Some(addr(RELAYED)));
}

#[test]
fn random_datagrams_from_the_server_change_nothing() {
    let Scene { mut net, .. } = scene(Net::config());
    let before = snapshot(&net);
    let mut rng = ChaCha8Rng::seed_from_u64(8656);
    for i in 0..30_000u32 {
        let len = (rng.next_u32() % 160) as usize;
        let mut bytes = vec![0u8; len];
        rng.fill_bytes(&mut bytes);
        match i % 4 {
            // STUN-looking: leading bits clear, the magic cookie, a length
            // that matches, so parsing goes deep.
            0 if len >= 20 => {
                bytes[0] &= 0x01;
                bytes[2..4].copy_from_slice(&(((len - 20) & !3) as u16).to_be_bytes());
                bytes[4..8].copy_from_slice(&stun_proto::MAGIC_COOKIE_BYTES);
                bytes.truncate(20 + ((len - 20) & !3));
            }
            // ChannelData-looking, on our channel numbers.
            1 if len >= 4 => {
                bytes[0] = 0x40;
                bytes[1] &= 0x03;
            }
            _ => {}
        }
        net.deliver(&bytes);
        assert_eq!(snapshot(&net), before);
    }
    assert_delivered_only_from_known_peers(&net);
}

#[test]
fn random_and_mutated_streams_never_panic_over_tcp() {
    let mut config = Net::config();
    config.transport = TurnTransport::Tcp;
    let Scene {
        net: reference,
        old,
        pending,
        ..
    } = scene(config.clone());
    assert_eq!(reference.client.relayed(), Some(addr(RELAYED)));
    let stream: Vec<u8> = old.iter().chain(&pending).flatten().copied().collect();
    let mut rng = ChaCha8Rng::seed_from_u64(6062);
    // The genuine stream in random pieces, with one byte flipped in some
    // runs, and random bytes after it.
    for run in 0..300 {
        let Scene { mut net, .. } = scene(config.clone());
        let mut bytes = stream.clone();
        if run % 2 == 1 {
            let at = rng.next_u32() as usize % bytes.len();
            bytes[at] ^= 1 << (rng.next_u32() % 8);
        }
        let mut tail = vec![0u8; (rng.next_u32() % 64) as usize];
        rng.fill_bytes(&mut tail);
        bytes.extend(tail);
        let mut rest = &bytes[..];
        while !rest.is_empty() {
            let n = 1 + rng.next_u32() as usize % rest.len().min(97);
            net.deliver(&rest[..n]);
            rest = &rest[n..];
        }
        // Either still allocated with the same address, or failed because
        // the stream went out of step (a framing error closes TCP).
        match net.client.state() {
            TurnState::Allocated => assert_eq!(net.client.relayed(), Some(addr(RELAYED))),
            TurnState::Failed => assert!(
                matches!(
                    net.failed(),
                    Some(candidate_gather::turn::TurnError::StreamBroken(_))
                        | Some(candidate_gather::turn::TurnError::IntegrityViolated { .. })
                ),
                "{:?}",
                net.events
            ),
            other => panic!("{other:?}: {:?}", net.events),
        }
        assert_delivered_only_from_known_peers(&net);
    }
}
