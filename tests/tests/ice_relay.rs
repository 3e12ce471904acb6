//! Relays in netsim (RFC 8445 §5.1.1.2 with RFC 8656): two agents, each
//! behind any of the situations of the hole-punching matrix, with our
//! STUN/TURN server on the Internet.
//!
//! - Every pair that cannot connect directly (`theory::predict_ice` says
//!   no) now connects through the relay, on a selected pair with a relayed
//!   candidate; pairs that can connect directly still select a direct
//!   pair. A client whose UDP is blocked cannot reach the relay either.
//!   The server refuses permissions for the peers' private host addresses
//!   (its default peer policy); each agent asks for one at most once, and
//!   the pairs towards it fail instead of retransmitting into the refusal.
//! - With the relay-only policy both agents use relayed candidates only,
//!   whatever the NATs, and data flows through the relays.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use ice::{
    AgentConfig, CandidatePairState, CandidatePolicy, CandidateType, ConnectionState, Event, Role,
    TurnServer,
};
use ice_tests::adapters::SimTurnServer;
use ice_tests::ice_pair::{IcePair, Peer, Signalling};
use ice_tests::netsim::{HostId, NetworkId, Sim, seed};
use ice_tests::theory::{Kind, predict_ice};

const SERVER: &str = "198.51.100.1:3478";
const USER: &str = "alice";
const PASS: &str = "correct horse";

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

/// The netsim Internet with our TURN server, and the server's host.
fn world(s: u64) -> (Sim, HostId) {
    SimTurnServer::on_internet(s, SERVER.parse().unwrap(), USER, PASS).unwrap()
}

fn config(role: Role, s: u64, policy: CandidatePolicy) -> AgentConfig {
    let mut c = AgentConfig::new(role, s);
    let server: SocketAddr = SERVER.parse().unwrap();
    c.stun_servers = vec![server];
    c.turn_servers = vec![TurnServer::new(server, USER, PASS)];
    c.policy = policy;
    c
}

type Outcome = [(ConnectionState, Option<(CandidateType, CandidateType)>); 2];

/// Runs two agents until both have completed or failed (90 s at most).
fn run(
    sim: &mut Sim,
    a: (NetworkId, IpAddr),
    b: (NetworkId, IpAddr),
    s: u64,
    policy: CandidatePolicy,
) -> (IcePair, Outcome) {
    let now = sim.now();
    let pa = Peer::new(
        config(Role::Controlling, seed::derive_seed(s, 1), policy),
        now,
        vec![SocketAddr::new(a.1, 5000)],
    );
    let pb = Peer::new(
        config(Role::Controlled, seed::derive_seed(s, 2), policy),
        now,
        vec![SocketAddr::new(b.1, 5000)],
    );
    let mut pair = IcePair::new(
        sim,
        (a.0, pa, &[a.1]),
        (b.0, pb, &[b.1]),
        Signalling::default(),
    );
    let settled = |sim: &Sim, p: &IcePair| {
        [p.a, p.b].iter().all(|h| {
            matches!(
                sim.endpoint::<Peer>(*h).state(),
                ConnectionState::Completed | ConnectionState::Failed
            )
        })
    };
    pair.run(sim, Duration::from_secs(90), settled);
    let outcome = [pair.a, pair.b].map(|h| {
        let p = sim.endpoint::<Peer>(h);
        (p.state(), p.selected().map(|(l, r)| (l.kind, r.kind)))
    });
    (pair, outcome)
}

fn relayed(kinds: (CandidateType, CandidateType)) -> bool {
    kinds.0 == CandidateType::Relayed || kinds.1 == CandidateType::Relayed
}

#[test]
fn every_pair_that_cannot_punch_connects_through_the_relay_and_the_others_stay_direct() {
    let kinds = Kind::all();
    let mut wrong = Vec::new();
    for (i, a) in kinds.iter().enumerate() {
        for (j, b) in kinds.iter().enumerate() {
            let s = seed::derive_seed(11, (i * kinds.len() + j) as u64);
            let (outcome, refused, open_to_private) = seed::with_seed(s, |s| {
                let (mut sim, turn) = world(s);
                let pa = a.place(&mut sim, ip("203.0.113.1"), ip("192.168.1.10"));
                let pb = b.place(&mut sim, ip("203.0.113.2"), ip("192.168.2.20"));
                let (pair, outcome) = run(&mut sim, pa, pb, s, CandidatePolicy::All);
                let refused = sim
                    .endpoint::<SimTurnServer>(turn)
                    .permissions_refused
                    .clone();
                // Pairs from a relayed candidate to a private address the
                // server refused must have stopped.
                let open_to_private: Vec<String> = [pair.a, pair.b]
                    .iter()
                    .flat_map(|h| {
                        let p = sim.endpoint::<Peer>(*h);
                        p.agent.pair_stats(p.stream).unwrap()
                    })
                    .filter(|st| {
                        st.local.kind == CandidateType::Relayed
                            && matches!(st.remote_addr.ip(), IpAddr::V4(v4) if v4.is_private())
                            && matches!(
                                st.state,
                                CandidatePairState::Waiting | CandidatePairState::InProgress
                            )
                    })
                    .map(|st| format!("{} -> {} {:?}", st.base, st.remote_addr, st.state))
                    .collect();
                (outcome, refused, open_to_private)
            });
            let blocked = matches!(a, Kind::Blocked) || matches!(b, Kind::Blocked);
            let direct = predict_ice(*a, *b);
            let ok = if blocked {
                outcome.iter().all(|(st, _)| *st == ConnectionState::Failed)
            } else {
                outcome.iter().all(|(st, sel)| {
                    *st == ConnectionState::Completed && sel.is_some_and(|k| relayed(k) != direct)
                })
            };
            // One refusal per agent at most: its peer's private host address.
            let only_private = refused.iter().all(|(peer, code)| {
                *code == 403 && matches!(peer, Some(p) if matches!(p.ip(), IpAddr::V4(v4) if v4.is_private()))
            });
            let ok = ok && refused.len() <= 2 && only_private && open_to_private.is_empty();
            if !ok {
                wrong.push(format!(
                    "{} / {}: direct possible {direct}, got {outcome:?}, permissions refused {refused:?}, still checking {open_to_private:?} (seed {s})",
                    a.label(),
                    b.label()
                ));
            }
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

#[test]
fn with_the_relay_policy_every_pair_connects_on_relayed_candidates_and_carries_data() {
    let kinds: Vec<Kind> = Kind::all()
        .into_iter()
        .filter(|k| *k != Kind::Blocked)
        .collect();
    let mut wrong = Vec::new();
    for (i, a) in kinds.iter().enumerate() {
        for (j, b) in kinds.iter().enumerate() {
            let s = seed::derive_seed(12, (i * kinds.len() + j) as u64);
            let result = seed::with_seed(s, |s| {
                let (mut sim, _) = world(s);
                let pa = a.place(&mut sim, ip("203.0.113.1"), ip("192.168.1.10"));
                let pb = b.place(&mut sim, ip("203.0.113.2"), ip("192.168.2.20"));
                let (mut pair, outcome) = run(&mut sim, pa, pb, s, CandidatePolicy::Relay);
                // Only relayed candidates were offered.
                let offered: Vec<CandidateType> = [pair.a, pair.b]
                    .iter()
                    .flat_map(|h| sim.endpoint::<Peer>(*h).log.clone())
                    .filter_map(|(_, e)| match e {
                        Event::LocalCandidate { candidate, .. } => Some(candidate.kind),
                        _ => None,
                    })
                    .collect();
                // Data both ways through the relays.
                let (ha, hb) = (pair.a, pair.b);
                sim.with_endpoint::<Peer, _>(ha, |p, _| {
                    let _ = p.agent.send(p.stream, 1, b"\x80to b");
                });
                sim.with_endpoint::<Peer, _>(hb, |p, _| {
                    let _ = p.agent.send(p.stream, 1, b"\x80to a");
                });
                pair.run(&mut sim, Duration::from_millis(500), |_, _| false);
                let got = [
                    sim.endpoint::<Peer>(ha).received(),
                    sim.endpoint::<Peer>(hb).received(),
                ];
                (outcome, offered, got)
            });
            let (outcome, offered, got) = result;
            let ok = outcome.iter().all(|(st, sel)| {
                *st == ConnectionState::Completed
                    && *sel == Some((CandidateType::Relayed, CandidateType::Relayed))
            }) && !offered.is_empty()
                && offered.iter().all(|k| *k == CandidateType::Relayed)
                && got == [vec![b"\x80to a".to_vec()], vec![b"\x80to b".to_vec()]];
            if !ok {
                wrong.push(format!(
                    "{} / {}: {outcome:?}, offered {offered:?}, received {got:?} (seed {s})",
                    a.label(),
                    b.label()
                ));
            }
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}
