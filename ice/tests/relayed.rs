//! Relayed candidates handed over by the driver (RFC 8445 §5.1.1.2): they
//! are signalled with type `relay` and the TURN server's mapped address as
//! related address, they hold gathering completion back while pending, and
//! when the direct path is blocked the agents connect through them.
//!
//! The "relay" here is the test's delivery loop: a datagram the agent sends
//! from its relayed address reaches the peer from that address, and what
//! the peer sends to it comes back to the agent as received on it, which is
//! what a TURN client driver does with Send indications and Data
//! indications (RFC 8656 §10, §11).

// Any instant will do as the origin: only differences from it matter.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::disallowed_methods
)]

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use ice::{
    Agent, AgentConfig, AgentError, CandidatePolicy, CandidateType, Event, Relayed, Role,
    StreamConfig, StreamId,
};

fn sa(s: &str) -> SocketAddr {
    s.parse().unwrap()
}

const A_HOST: &str = "10.0.0.1:5000";
const B_HOST: &str = "10.1.0.1:5000";
const A_RELAYED: &str = "198.51.100.7:49152";
const A_MAPPED: &str = "203.0.113.1:40000";

fn agent(role: Role, seed: u64, host: &str, relays: usize, now: Instant) -> (Agent, StreamId) {
    let mut a = Agent::new(AgentConfig::new(role, seed), now);
    let s = a
        .add_stream(
            now,
            StreamConfig {
                pending_relays: relays,
                ..StreamConfig::single(vec![sa(host)])
            },
        )
        .unwrap();
    (a, s)
}

fn events(a: &mut Agent) -> Vec<Event> {
    std::iter::from_fn(|| a.poll_event()).collect()
}

#[test]
fn a_relayed_candidate_is_signalled_as_relay_and_holds_gathering_back() {
    let now = Instant::now();
    let (mut a, s) = agent(Role::Controlling, 1, A_HOST, 1, now);
    let first = events(&mut a);
    assert!(
        !first
            .iter()
            .any(|e| matches!(e, Event::GatheringComplete { .. })),
        "gathering waits for the pending relay: {first:?}"
    );
    a.add_relayed_candidate(
        s,
        Relayed {
            component: 1,
            relayed: sa(A_RELAYED),
            mapped: sa(A_MAPPED),
        },
    )
    .unwrap();
    let later = events(&mut a);
    let relay = later
        .iter()
        .find_map(|e| match e {
            Event::LocalCandidate { candidate, .. } => Some(candidate.clone()),
            _ => None,
        })
        .expect("the relayed candidate is signalled");
    assert_eq!(relay.kind, CandidateType::Relayed);
    assert_eq!(relay.socket_addr(), Some(sa(A_RELAYED)));
    assert_eq!(relay.related, Some(sa(A_MAPPED)));
    // Type preference 0 (RFC 8445 §5.1.2.2): below every other type.
    assert_eq!(relay.priority >> 24, 0);
    assert!(matches!(
        later.last(),
        Some(Event::GatheringComplete { .. })
    ));
    // A failed allocation settles gathering too; an unknown component
    // and a lite agent are refused.
    let (mut b, sb) = agent(Role::Controlled, 2, B_HOST, 1, now);
    events(&mut b);
    b.relay_failed(sb).unwrap();
    assert!(matches!(
        events(&mut b).as_slice(),
        [Event::GatheringComplete { .. }]
    ));
    let bad = Relayed {
        component: 2,
        relayed: sa(A_RELAYED),
        mapped: sa(A_MAPPED),
    };
    assert_eq!(
        b.add_relayed_candidate(sb, bad),
        Err(AgentError::UnknownComponent)
    );
    let mut lite = AgentConfig::new(Role::Controlled, 3);
    lite.lite = true;
    let mut l = Agent::new(lite, now);
    let ls = l
        .add_stream(now, StreamConfig::single(vec![sa(B_HOST)]))
        .unwrap();
    assert_eq!(
        l.add_relayed_candidate(
            ls,
            Relayed {
                component: 1,
                ..bad
            }
        ),
        Err(AgentError::Lite)
    );
}

type Pair = (ice::Candidate, ice::Candidate);

/// Carries `me`'s events to `peer` and its datagrams through the "relay";
/// datagrams between the two host addresses are dropped (a firewall).
fn step(
    me: &mut Agent,
    peer: &mut Agent,
    peer_stream: StreamId,
    now: Instant,
    selected: &mut Option<Pair>,
    direct_blocked: &mut usize,
) {
    for e in events(me) {
        match e {
            Event::LocalCandidate { candidate, .. } => {
                peer.add_remote_candidate(peer_stream, candidate).unwrap()
            }
            Event::GatheringComplete { .. } => peer.end_of_remote_candidates(peer_stream).unwrap(),
            Event::SelectedPair { local, remote, .. } => *selected = Some((local, remote)),
            _ => {}
        }
    }
    while let Some(t) = me.poll_transmit() {
        let relayed = sa(A_RELAYED);
        if t.from != relayed && t.to != relayed {
            *direct_blocked += 1;
            continue;
        }
        peer.handle_packet(now, t.to, t.from, &t.data);
    }
}

#[test]
fn with_the_direct_path_blocked_the_agents_connect_through_the_relay() {
    let t0 = Instant::now();
    let mut now = t0;
    let (mut a, sa_) = agent(Role::Controlling, 11, A_HOST, 1, now);
    let (mut b, sb) = agent(Role::Controlled, 12, B_HOST, 0, now);
    a.set_remote_credentials(sa_, b.local_credentials(sb).unwrap())
        .unwrap();
    b.set_remote_credentials(sb, a.local_credentials(sa_).unwrap())
        .unwrap();
    a.add_relayed_candidate(
        sa_,
        Relayed {
            component: 1,
            relayed: sa(A_RELAYED),
            mapped: sa(A_MAPPED),
        },
    )
    .unwrap();
    let mut selected = [None, None];
    let mut direct_blocked = 0;
    while now < t0 + Duration::from_secs(10) && selected.iter().any(Option::is_none) {
        step(
            &mut a,
            &mut b,
            sb,
            now,
            &mut selected[0],
            &mut direct_blocked,
        );
        step(
            &mut b,
            &mut a,
            sa_,
            now,
            &mut selected[1],
            &mut direct_blocked,
        );
        let next = [a.poll_timeout(), b.poll_timeout()]
            .into_iter()
            .flatten()
            .min()
            .unwrap();
        now = next.max(now);
        a.handle_timeout(now);
        b.handle_timeout(now);
    }
    assert!(direct_blocked > 0, "the direct path was tried");
    let (al, ar) = selected[0].clone().expect("A selected a pair");
    let (bl, br) = selected[1].clone().expect("B selected a pair");
    assert_eq!(al.kind, CandidateType::Relayed);
    assert_eq!(al.socket_addr(), Some(sa(A_RELAYED)));
    assert_eq!(ar.socket_addr(), Some(sa(B_HOST)));
    assert_eq!(br.socket_addr(), Some(sa(A_RELAYED)));
    assert_eq!(
        br.kind,
        CandidateType::Relayed,
        "B knows it from signalling"
    );
    assert_eq!(bl.socket_addr(), Some(sa(B_HOST)));
    // Data goes out from the relayed address.
    a.send(sa_, 1, b"\x80media").unwrap();
    let t = std::iter::from_fn(|| a.poll_transmit())
        .find(|t| t.data == b"\x80media")
        .expect("the data leaves");
    assert_eq!((t.from, t.to), (sa(A_RELAYED), sa(B_HOST)));
    b.handle_packet(now, t.to, t.from, &t.data);
    assert!(events(&mut b).iter().any(|e| matches!(
        e,
        Event::Data { data, .. } if data == b"\x80media"
    )));
}

#[test]
fn with_the_relay_policy_only_the_relayed_candidate_is_offered_and_used() {
    let t0 = Instant::now();
    let mut now = t0;
    let mut config = AgentConfig::new(Role::Controlling, 21);
    config.policy = CandidatePolicy::Relay;
    let mut a = Agent::new(config, now);
    let sa_ = a
        .add_stream(
            now,
            StreamConfig {
                pending_relays: 1,
                ..StreamConfig::single(vec![sa(A_HOST)])
            },
        )
        .unwrap();
    let (mut b, sb) = agent(Role::Controlled, 22, B_HOST, 0, now);
    a.set_remote_credentials(sa_, b.local_credentials(sb).unwrap())
        .unwrap();
    b.set_remote_credentials(sb, a.local_credentials(sa_).unwrap())
        .unwrap();
    assert!(
        events(&mut a).is_empty(),
        "nothing offered before the relay is there"
    );
    a.add_relayed_candidate(
        sa_,
        Relayed {
            component: 1,
            relayed: sa(A_RELAYED),
            mapped: sa(A_MAPPED),
        },
    )
    .unwrap();
    // The direct path works here, yet only the relay is used.
    let mut selected = [None, None];
    let mut offered = Vec::new();
    let mut sent_from = Vec::new();
    while now < t0 + Duration::from_secs(10) && selected.iter().any(Option::is_none) {
        for e in events(&mut a) {
            match e {
                Event::LocalCandidate { candidate, .. } => {
                    offered.push(candidate.kind);
                    b.add_remote_candidate(sb, candidate).unwrap()
                }
                Event::GatheringComplete { .. } => b.end_of_remote_candidates(sb).unwrap(),
                Event::SelectedPair { local, remote, .. } => selected[0] = Some((local, remote)),
                _ => {}
            }
        }
        while let Some(t) = a.poll_transmit() {
            sent_from.push(t.from);
            b.handle_packet(now, t.to, t.from, &t.data);
        }
        let mut unused = 0;
        step(&mut b, &mut a, sa_, now, &mut selected[1], &mut unused);
        let next = [a.poll_timeout(), b.poll_timeout()]
            .into_iter()
            .flatten()
            .min()
            .unwrap();
        now = next.max(now);
        a.handle_timeout(now);
        b.handle_timeout(now);
    }
    assert_eq!(offered, [CandidateType::Relayed]);
    assert!(
        sent_from.iter().all(|f| *f == sa(A_RELAYED)),
        "{sent_from:?}"
    );
    let (al, _) = selected[0].clone().expect("A selected");
    assert_eq!(al.kind, CandidateType::Relayed);
    // A check that reaches the host socket directly is not answered.
    let (mut c, sc) = agent(Role::Controlled, 23, "10.2.0.1:5000", 0, now);
    c.set_remote_credentials(sc, a.local_credentials(sa_).unwrap())
        .unwrap();
    c.add_remote_candidate(
        sc,
        ice::Candidate {
            address: ice::CandidateAddress::Ip(sa(A_HOST)),
            ..al.clone()
        },
    )
    .unwrap();
    let mut reached = 0;
    for _ in 0..20 {
        now += Duration::from_millis(100);
        c.handle_timeout(now);
        while let Some(t) = c.poll_transmit() {
            if t.to == sa(A_HOST) {
                reached += 1;
                a.handle_packet(now, t.to, t.from, &t.data);
                let answers: Vec<_> = std::iter::from_fn(|| a.poll_transmit())
                    .filter(|x| x.from == sa(A_HOST))
                    .collect();
                assert!(answers.is_empty(), "answered on the host socket");
            }
        }
    }
    assert!(reached > 0, "the stranger's checks reached the host socket");
}
