//! Two ICE agents behind every pair of NATs, with a STUN server only: the
//! pairs that connect are exactly those the hole-punching theory predicts
//! (`ice_tests::theory::predict_ice`: the punching table, less the three
//! cells where both NATs map address-and-port-dependently, which punching
//! crosses on asymmetric paths that ICE rightly refuses), and the selected pair uses the expected candidate
//! types: host on a shared LAN or the open Internet, server-reflexive or
//! peer-reflexive across NATs.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use ice::{AgentConfig, CandidateType, ConnectionState, Role};
use ice_tests::ice_pair::{IcePair, Peer, Signalling};
use ice_tests::netsim::{Link, NatConfig, NetworkId, Sim, seed};
use ice_tests::theory::{Kind, predict_ice};
use turn_server::{StunServer, StunServerConfig};

const STUN: &str = "198.51.100.1:3478";

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

fn world(seed: u64) -> Sim {
    let mut sim = Sim::new(seed);
    let inet = sim.internet();
    sim.set_link(
        inet,
        Link {
            latency: Duration::from_millis(20),
            jitter: Duration::from_millis(5),
            ..Link::default()
        },
    );
    let stun: SocketAddr = STUN.parse().unwrap();
    sim.add_host(
        inet,
        &[stun.ip()],
        StunServer::new(StunServerConfig::new(stun)),
    );
    sim
}

fn agent(role: Role, seed: u64) -> AgentConfig {
    let mut c = AgentConfig::new(role, seed);
    c.stun_servers = vec![STUN.parse().unwrap()];
    c
}

/// Runs a pair until both connect or both give up; returns both peers'
/// final (state, selected kinds).
fn run_pair(
    sim: &mut Sim,
    a: (NetworkId, IpAddr),
    b: (NetworkId, IpAddr),
    s: u64,
) -> [(ConnectionState, Option<(CandidateType, CandidateType)>); 2] {
    let now = sim.now();
    let pa = Peer::new(
        agent(Role::Controlling, seed::derive_seed(s, 1)),
        now,
        vec![SocketAddr::new(a.1, 5000)],
    );
    let pb = Peer::new(
        agent(Role::Controlled, seed::derive_seed(s, 2)),
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
    [pair.a, pair.b].map(|h| {
        let p = sim.endpoint::<Peer>(h);
        (p.state(), p.selected().map(|(l, r)| (l.kind, r.kind)))
    })
}

fn reflexive(k: CandidateType) -> bool {
    matches!(
        k,
        CandidateType::ServerReflexive | CandidateType::PeerReflexive
    )
}

#[test]
fn agents_connect_exactly_where_punching_works() {
    let kinds = Kind::all();
    let mut mismatches = Vec::new();
    for (i, a) in kinds.iter().enumerate() {
        for (j, b) in kinds.iter().enumerate() {
            let s = seed::derive_seed(7, (i * kinds.len() + j) as u64);
            let result = seed::with_seed(s, |s| {
                let mut sim = world(s);
                let pa = a.place(&mut sim, ip("203.0.113.1"), ip("192.168.1.10"));
                let pb = b.place(&mut sim, ip("203.0.113.2"), ip("192.168.2.20"));
                run_pair(&mut sim, pa, pb, s)
            });
            let connected = result
                .iter()
                .all(|(st, _)| *st == ConnectionState::Completed);
            let expected = predict_ice(*a, *b);
            if connected != expected {
                mismatches.push(format!(
                    "{} / {}: connected {connected}, predicted {expected}: {result:?} (seed {s})",
                    a.label(),
                    b.label()
                ));
                continue;
            }
            if !connected {
                // Both gave up (end-of-candidates, every pair failed).
                assert!(
                    result.iter().all(|(st, _)| *st == ConnectionState::Failed),
                    "{} / {}: {result:?}",
                    a.label(),
                    b.label()
                );
                continue;
            }
            for (side, (me, peer)) in [(0, (*a, *b)), (1, (*b, *a))] {
                let (local, remote) = result[side].1.unwrap();
                let local_ok = if me == Kind::Open {
                    local == CandidateType::Host
                } else {
                    reflexive(local)
                };
                let remote_ok = if peer == Kind::Open {
                    remote == CandidateType::Host
                } else {
                    reflexive(remote)
                };
                assert!(
                    local_ok && remote_ok,
                    "{} / {} side {side}: selected {local:?} -> {remote:?}",
                    a.label(),
                    b.label()
                );
            }
        }
    }
    assert!(
        mismatches.is_empty(),
        "ICE and theory disagree:\n{}",
        mismatches.join("\n")
    );
}

#[test]
fn agents_on_one_lan_select_host_candidates_whether_or_not_the_nat_hairpins() {
    for hairpinning in [true, false] {
        seed::for_each_seed(3, |s| {
            let mut sim = world(s);
            let config = NatConfig {
                hairpinning,
                ..NatConfig::symmetric()
            };
            let n = sim.add_nat(sim.internet(), config, &[ip("203.0.113.1")]);
            let lan = sim.nat_inside(n);
            let result = run_pair(
                &mut sim,
                (lan, ip("192.168.1.10")),
                (lan, ip("192.168.1.11")),
                s,
            );
            for (state, kinds) in result {
                assert_eq!(state, ConnectionState::Completed);
                assert_eq!(
                    kinds,
                    Some((CandidateType::Host, CandidateType::Host)),
                    "hairpinning {hairpinning}"
                );
            }
        });
    }
}

#[test]
fn agents_behind_one_carrier_nat_connect_only_if_it_hairpins() {
    for hairpinning in [true, false] {
        seed::for_each_seed(3, |s| {
            let mut sim = world(s);
            let carrier = NatConfig {
                hairpinning,
                ..NatConfig::full_cone()
            };
            let c = sim.add_nat(sim.internet(), carrier, &[ip("203.0.113.1")]);
            let cgn = sim.nat_inside(c);
            let ha = sim.add_nat(cgn, NatConfig::full_cone(), &[ip("100.64.0.2")]);
            let hb = sim.add_nat(cgn, NatConfig::full_cone(), &[ip("100.64.0.3")]);
            let (la, lb) = (sim.nat_inside(ha), sim.nat_inside(hb));
            let result = run_pair(
                &mut sim,
                (la, ip("192.168.1.10")),
                (lb, ip("192.168.2.20")),
                s,
            );
            for (state, kinds) in result {
                if hairpinning {
                    assert_eq!(state, ConnectionState::Completed);
                    let (l, r) = kinds.unwrap();
                    assert!(reflexive(l) && reflexive(r), "{kinds:?}");
                } else {
                    assert_eq!(state, ConnectionState::Failed);
                }
            }
        });
    }
}

#[test]
fn agents_behind_two_level_nats_on_different_carriers_connect() {
    seed::for_each_seed(3, |s| {
        let mut sim = world(s);
        let inet = sim.internet();
        let mut lans = Vec::new();
        for (carrier_ip, home) in [
            ("203.0.113.1", NatConfig::port_restricted_cone()),
            ("203.0.113.2", NatConfig::restricted_cone()),
        ] {
            let c = sim.add_nat(inet, NatConfig::full_cone(), &[ip(carrier_ip)]);
            let h = sim.add_nat(sim.nat_inside(c), home, &[ip("100.64.0.2")]);
            lans.push(sim.nat_inside(h));
        }
        let result = run_pair(
            &mut sim,
            (lans[0], ip("192.168.1.10")),
            (lans[1], ip("192.168.1.10")),
            s,
        );
        for (state, kinds) in result {
            assert_eq!(state, ConnectionState::Completed);
            let (l, r) = kinds.unwrap();
            assert!(reflexive(l) && reflexive(r), "{kinds:?}");
        }
    });
}
