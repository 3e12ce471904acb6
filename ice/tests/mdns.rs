//! Remote host candidates hidden behind mDNS names (`<uuid>.local`, as
//! browsers signal them): the agent accepts them without failing, and
//! until a name resolves the connection comes through the peer-reflexive
//! candidate its checks reveal (RFC 8445 §7.3.1.3). Resolving the name
//! later merges with that candidate instead of adding a pair.

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
    Agent, AgentConfig, Candidate, CandidateAddress, CandidateType, ConnectionState, Event, Role,
    StreamConfig, StreamId,
};

fn sa(s: &str) -> SocketAddr {
    s.parse().unwrap()
}

const NAME: &str = "1f9d3c2e-7b7a-4c1e-9a51-2f4b8e0c6d11.local";

struct Side {
    agent: Agent,
    stream: StreamId,
    /// Hide this side's host candidates behind [`NAME`].
    hidden: bool,
    selected: Option<(Candidate, Candidate)>,
    states: Vec<ConnectionState>,
    data: Vec<Vec<u8>>,
}

impl Side {
    fn new(role: Role, seed: u64, host: &str, hidden: bool, now: Instant) -> Side {
        let mut agent = Agent::new(AgentConfig::new(role, seed), now);
        let stream = agent
            .add_stream(now, StreamConfig::single(vec![sa(host)]))
            .unwrap();
        Side {
            agent,
            stream,
            hidden,
            selected: None,
            states: Vec::new(),
            data: Vec::new(),
        }
    }
}

/// Carries `me`'s events (names instead of host addresses if hidden) and
/// datagrams to `peer`. Returns whether there was anything to carry.
fn step(me: &mut Side, peer: &mut Side, now: Instant) -> bool {
    let mut busy = false;
    while let Some(e) = me.agent.poll_event() {
        busy = true;
        match e {
            Event::LocalCandidate { mut candidate, .. } => {
                if me.hidden && candidate.kind == CandidateType::Host {
                    let port = candidate.socket_addr().unwrap().port();
                    candidate.address = CandidateAddress::Name {
                        name: NAME.into(),
                        port,
                    };
                }
                peer.agent
                    .add_remote_candidate(peer.stream, candidate)
                    .unwrap();
            }
            Event::GatheringComplete { .. } => {
                peer.agent.end_of_remote_candidates(peer.stream).unwrap()
            }
            Event::SelectedPair { local, remote, .. } => me.selected = Some((local, remote)),
            Event::StateChanged { state, .. } => me.states.push(state),
            Event::Data { data, .. } => me.data.push(data),
            _ => {}
        }
    }
    while let Some(t) = me.agent.poll_transmit() {
        busy = true;
        peer.agent.handle_packet(now, t.to, t.from, &t.data);
    }
    busy
}

/// Runs both agents, carrying everything at once, until `until`.
fn run(a: &mut Side, b: &mut Side, now: &mut Instant, until: Instant) {
    loop {
        while step(a, b, *now) | step(b, a, *now) {}
        if *now >= until {
            return;
        }
        let next = [a.agent.poll_timeout(), b.agent.poll_timeout()]
            .into_iter()
            .flatten()
            .min()
            .unwrap_or(until);
        *now = next.max(*now).min(until);
        a.agent.handle_timeout(*now);
        b.agent.handle_timeout(*now);
    }
}

#[test]
fn a_peer_behind_an_mdns_name_is_reached_through_its_peer_reflexive_candidate() {
    // Either side may hide its address: the controlling agent learns the
    // controlled one's from its checks, and the other way round.
    for hidden_is_controlled in [true, false] {
        let t0 = Instant::now();
        let mut now = t0;
        let mut a = Side::new(
            Role::Controlling,
            1,
            "192.0.2.1:5000",
            !hidden_is_controlled,
            now,
        );
        let mut b = Side::new(
            Role::Controlled,
            2,
            "192.0.2.2:5000",
            hidden_is_controlled,
            now,
        );
        let (ca, cb) = (
            a.agent.local_credentials(a.stream).unwrap(),
            b.agent.local_credentials(b.stream).unwrap(),
        );
        a.agent.set_remote_credentials(a.stream, cb).unwrap();
        b.agent.set_remote_credentials(b.stream, ca).unwrap();
        run(&mut a, &mut b, &mut now, t0 + Duration::from_secs(5));
        let (seer, hider, hider_addr) = if hidden_is_controlled {
            (&mut a, &mut b, sa("192.0.2.2:5000"))
        } else {
            (&mut b, &mut a, sa("192.0.2.1:5000"))
        };
        eprintln!(
            "seer {:?} {:?}\nhider {:?} {:?}",
            seer.states,
            seer.selected.as_ref().map(|s| (s.0.kind, s.1.kind)),
            hider.states,
            hider.selected.as_ref().map(|s| (s.0.kind, s.1.kind))
        );
        for side in [&*seer, &*hider] {
            assert!(
                !side.states.contains(&ConnectionState::Failed),
                "{:?}",
                side.states
            );
            assert_eq!(
                side.states.last(),
                Some(&ConnectionState::Completed),
                "hidden_is_controlled {hidden_is_controlled}: {:?} {:?}",
                side.states,
                side.selected
            );
        }
        let (_, remote) = seer.selected.clone().expect("the seer selected a pair");
        assert_eq!(remote.kind, CandidateType::PeerReflexive);
        assert_eq!(remote.socket_addr(), Some(hider_addr));
        // The name resolves late: same address, nothing new to check.
        let stream = seer.stream;
        seer.agent
            .resolve_name(stream, NAME, hider_addr.ip())
            .unwrap();
        // The pair keeps carrying data.
        seer.agent.send(stream, 1, b"\x80still here").unwrap();
        run(&mut a, &mut b, &mut now, t0 + Duration::from_secs(40));
        let (seer, hider) = if hidden_is_controlled {
            (&a, &b)
        } else {
            (&b, &a)
        };
        assert_eq!(hider.data, vec![b"\x80still here".to_vec()]);
        assert_eq!(seer.states.last(), Some(&ConnectionState::Completed));
        assert_eq!(hider.states.last(), Some(&ConnectionState::Completed));
    }
}
