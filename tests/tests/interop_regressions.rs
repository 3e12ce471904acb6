//! Peer behaviours the interop suite (`interop/tests/`) met, replayed in
//! netsim so that what went wrong against a real peer stays fixed without
//! that peer.
//!
//! - webrtc-ice, trickling: its check reaches us before its candidate does.
//!   We learn its address as peer-reflexive (RFC 8445 §7.3.1.3), it
//!   nominates that pair, then the candidate arrives: the selected pair
//!   must then name the signalled host candidate, not keep the guess.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::net::IpAddr;
use std::time::Duration;

use ice::{AgentConfig, CandidateType, Event, Role};
use ice_tests::ice_pair::{IcePair, Peer, Signalling};
use ice_tests::netsim::{Link, Sim, seed};

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

/// The remote candidate types of `peer`'s SelectedPair events, in order.
fn selected_remote_kinds(peer: &Peer) -> Vec<CandidateType> {
    peer.log
        .iter()
        .filter_map(|(_, e)| match e {
            Event::SelectedPair { remote, .. } => Some(remote.kind),
            _ => None,
        })
        .collect()
}

#[test]
fn rfc8445_7_3_1_3_a_check_before_its_candidate_then_the_candidate_names_the_selected_pair() {
    seed::for_each_seed(20, |s| {
        let mut sim = Sim::new(s);
        let inet = sim.internet();
        sim.set_link(
            inet,
            Link {
                latency: Duration::from_millis(10),
                ..Link::default()
            },
        );
        let now = sim.now();
        let a = Peer::new(
            AgentConfig::new(Role::Controlling, seed::derive_seed(s, 1)),
            now,
            vec!["192.0.2.1:5000".parse().unwrap()],
        );
        let b = Peer::new(
            AgentConfig::new(Role::Controlled, seed::derive_seed(s, 2)),
            now,
            vec!["192.0.2.2:5000".parse().unwrap()],
        );
        // A's candidate reaches B a second after A's checks do.
        let late = Duration::from_secs(1);
        let mut pair = IcePair::new(
            &mut sim,
            (inet, a, &[ip("192.0.2.1")]),
            (inet, b, &[ip("192.0.2.2")]),
            Signalling {
                extra_delay_to_b: late,
                ..Signalling::default()
            },
        );
        assert!(
            pair.run(&mut sim, Duration::from_millis(900), IcePair::connected),
            "did not connect before the candidate arrived"
        );
        let hb = pair.b;
        // The scenario holds: B selected the pair knowing A only as
        // peer-reflexive.
        assert_eq!(
            selected_remote_kinds(sim.endpoint::<Peer>(hb)),
            [CandidateType::PeerReflexive],
            "B's first selection"
        );

        pair.run(&mut sim, late, |_, _| false);
        let pb = sim.endpoint::<Peer>(hb);
        // The event says so, once, for the same addresses…
        assert_eq!(
            selected_remote_kinds(pb),
            [CandidateType::PeerReflexive, CandidateType::Host],
            "B's selections after A's candidate arrived"
        );
        // …and the agent's selected path names the host candidate with the
        // priority A signalled.
        let path = pb.agent.selected_path(pb.stream, 1).unwrap().unwrap();
        assert_eq!(path.remote.kind, CandidateType::Host);
        assert_eq!(path.remote_addr, "192.0.2.1:5000".parse().unwrap());
        let a_host = sim
            .endpoint::<Peer>(pair.a)
            .log
            .iter()
            .find_map(|(_, e)| match e {
                Event::LocalCandidate { candidate, .. } => Some(candidate.clone()),
                _ => None,
            })
            .unwrap();
        assert_eq!(path.remote.priority, a_host.priority);
        assert_eq!(path.remote.foundation, a_host.foundation);
    });
}
