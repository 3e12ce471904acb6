//! First light: two agents connect on the open Internet and behind NATs.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use ice::{AgentConfig, CandidateType, ConnectionState, Role};
use ice_tests::ice_pair::{IcePair, Peer, Signalling};
use ice_tests::netsim::{Link, NatConfig, Sim, seed};

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

#[test]
fn two_agents_on_the_internet_connect_and_exchange_data() {
    seed::for_each_seed(3, |s| {
        let mut sim = Sim::new(s);
        let inet = sim.internet();
        sim.set_link(
            inet,
            Link {
                latency: Duration::from_millis(20),
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
        let mut pair = IcePair::new(
            &mut sim,
            (inet, a, &[ip("192.0.2.1")]),
            (inet, b, &[ip("192.0.2.2")]),
            Signalling::default(),
        );
        assert!(
            pair.run(&mut sim, Duration::from_secs(10), IcePair::connected),
            "did not connect"
        );
        let pa = sim.endpoint::<Peer>(pair.a);
        let (l, r) = pa.selected().unwrap();
        assert_eq!((l.kind, r.kind), (CandidateType::Host, CandidateType::Host));
        // Data both ways.
        let (ha, hb) = (pair.a, pair.b);
        sim.with_endpoint::<Peer, _>(ha, |p, _| p.agent.send(p.stream, 1, b"\x80hello").unwrap());
        sim.with_endpoint::<Peer, _>(hb, |p, _| p.agent.send(p.stream, 1, b"\x80world").unwrap());
        pair.run(&mut sim, Duration::from_millis(200), |_, _| false);
        assert_eq!(
            sim.endpoint::<Peer>(hb).received(),
            vec![b"\x80hello".to_vec()]
        );
        assert_eq!(
            sim.endpoint::<Peer>(ha).received(),
            vec![b"\x80world".to_vec()]
        );
        // Settles to completed.
        pair.run(&mut sim, Duration::from_secs(5), |_, _| false);
        assert_eq!(sim.endpoint::<Peer>(ha).state(), ConnectionState::Completed);
    });
}

#[test]
fn two_agents_behind_cone_nats_connect_through_srflx() {
    seed::for_each_seed(3, |s| {
        let mut sim = Sim::new(s);
        let inet = sim.internet();
        sim.set_link(
            inet,
            Link {
                latency: Duration::from_millis(20),
                ..Link::default()
            },
        );
        let stun: SocketAddr = "198.51.100.1:3478".parse().unwrap();
        sim.add_host(
            inet,
            &[stun.ip()],
            turn_server::StunServer::new(turn_server::StunServerConfig::new(stun)),
        );
        let na = sim.add_nat(
            inet,
            NatConfig::port_restricted_cone(),
            &[ip("203.0.113.1")],
        );
        let nb = sim.add_nat(
            inet,
            NatConfig::port_restricted_cone(),
            &[ip("203.0.113.2")],
        );
        let (la, lb) = (sim.nat_inside(na), sim.nat_inside(nb));
        let now = sim.now();
        let mut ca = AgentConfig::new(Role::Controlling, seed::derive_seed(s, 1));
        ca.stun_servers = vec![stun];
        let mut cb = AgentConfig::new(Role::Controlled, seed::derive_seed(s, 2));
        cb.stun_servers = vec![stun];
        let a = Peer::new(ca, now, vec!["192.168.1.10:5000".parse().unwrap()]);
        let b = Peer::new(cb, now, vec!["192.168.2.20:5000".parse().unwrap()]);
        let mut pair = IcePair::new(
            &mut sim,
            (la, a, &[ip("192.168.1.10")]),
            (lb, b, &[ip("192.168.2.20")]),
            Signalling::default(),
        );
        assert!(
            pair.run(&mut sim, Duration::from_secs(10), IcePair::connected),
            "did not connect"
        );
        let (l, r) = sim.endpoint::<Peer>(pair.a).selected().unwrap();
        assert!(
            matches!(
                l.kind,
                CandidateType::ServerReflexive | CandidateType::PeerReflexive
            ),
            "{l:?}"
        );
        assert!(
            matches!(
                r.kind,
                CandidateType::ServerReflexive | CandidateType::PeerReflexive
            ),
            "{r:?}"
        );
    });
}
