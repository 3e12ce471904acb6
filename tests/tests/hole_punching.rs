//! UDP hole punching, NAT pair by NAT pair, against what theory predicts.
//!
//! Two clients register with a rendezvous server, learn each other's public
//! and private addresses, and punch at the same time (see `punch.rs`). For
//! every pair of the nine RFC 4787 NATs, open Internet and a UDP-blocking
//! firewall, the simulated outcome must equal the prediction below, and the
//! table of outcomes is the one in the README (regenerate it with
//! `UPDATE_README=1 cargo test -p ice-tests --test hole_punching`).
//!
//! The prediction is `ice_tests::theory::predict`; its derivation is in
//! that module's documentation.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::fmt::Write as _;
use std::net::{IpAddr, SocketAddr};
use std::path::Path;
use std::time::Duration;

use ice_tests::netsim::{self, Link, NatConfig, Sim, seed};
use ice_tests::punch::{PathKind, PunchClient, PunchState, Rendezvous};
use ice_tests::theory::{Kind, predict};

const RENDEZVOUS: &str = "198.51.100.50:9999";

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
    sim.add_host(
        inet,
        &[RENDEZVOUS.parse::<SocketAddr>().unwrap().ip()],
        Rendezvous::new(),
    );
    sim
}

/// Runs two clients to the end; returns their states.
fn punch(
    sim: &mut Sim,
    a: (netsim::NetworkId, SocketAddr),
    b: (netsim::NetworkId, SocketAddr),
    use_private: bool,
) -> (PunchState, PunchState) {
    let r: SocketAddr = RENDEZVOUS.parse().unwrap();
    let now = sim.now();
    let ha = sim.add_host(
        a.0,
        &[a.1.ip()],
        PunchClient::new(now, "a", "room", a.1, r, use_private),
    );
    let hb = sim.add_host(
        b.0,
        &[b.1.ip()],
        PunchClient::new(now, "b", "room", b.1, r, use_private),
    );
    sim.run_until_condition(Duration::from_secs(120), |s| {
        s.endpoint::<PunchClient>(ha).state() != PunchState::Pending
            && s.endpoint::<PunchClient>(hb).state() != PunchState::Pending
    });
    (
        sim.endpoint::<PunchClient>(ha).state(),
        sim.endpoint::<PunchClient>(hb).state(),
    )
}

fn connected(s: PunchState) -> Option<PathKind> {
    match s {
        PunchState::Connected { path, .. } => Some(path),
        _ => None,
    }
}

#[test]
fn every_nat_pair_punches_exactly_as_predicted() {
    let kinds = Kind::all();
    let mut table = String::new();
    let _ = write!(table, "| A \\ B |");
    for b in &kinds {
        let _ = write!(table, " {} |", b.label());
    }
    table.push_str("\n|---|");
    for _ in &kinds {
        table.push_str("---|");
    }
    table.push('\n');
    let mut mismatches = Vec::new();
    let (mut yes, mut no) = (0, 0);
    for (i, a) in kinds.iter().enumerate() {
        let _ = write!(table, "| **{}** |", a.label());
        for (j, b) in kinds.iter().enumerate() {
            // Three seeds (jitter orders the punches differently): each must
            // agree with the prediction; the table shows the first.
            let mut first = None;
            for run in 0..3 {
                let s = seed::derive_seed(run, (i * kinds.len() + j) as u64);
                let result = seed::with_seed(s, |s| {
                    let mut sim = world(s);
                    let pa = a.place(&mut sim, ip("203.0.113.1"), ip("192.168.1.10"));
                    let pb = b.place(&mut sim, ip("203.0.113.2"), ip("192.168.2.20"));
                    punch(
                        &mut sim,
                        (pa.0, SocketAddr::new(pa.1, 7000)),
                        (pb.0, SocketAddr::new(pb.1, 7000)),
                        true,
                    )
                });
                let got = connected(result.0).is_some() && connected(result.1).is_some();
                if got != predict(*a, *b) {
                    mismatches.push(format!(
                        "{} with {}: simulated {got} ({:?} / {:?}), predicted {} (seed {s})",
                        a.label(),
                        b.label(),
                        result.0,
                        result.1,
                        !got
                    ));
                }
                first.get_or_insert(result);
            }
            let result = first.unwrap();
            let (ca, cb) = (connected(result.0), connected(result.1));
            let got = ca.is_some() && cb.is_some();
            if got {
                yes += 1;
            } else {
                no += 1;
            }
            let cell = match (ca, cb) {
                (Some(PathKind::PeerReflexive), Some(_))
                | (Some(_), Some(PathKind::PeerReflexive)) => "✓ (new mapping)",
                (Some(_), Some(_)) => "✓",
                _ => "✗",
            };
            let _ = write!(table, " {cell} |");
        }
        table.push('\n');
    }
    eprintln!("{table}");
    assert!(
        mismatches.is_empty(),
        "simulation and theory disagree:\n{}",
        mismatches.join("\n")
    );
    assert!(yes > 0 && no > 0, "a table of one outcome tests nothing");
    check_readme(&table);
}

/// The README shows the table this test generates, between markers.
fn check_readme(table: &str) {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../README.md");
    let readme = std::fs::read_to_string(&path).unwrap();
    let (start, end) = (
        "<!-- hole-punching-table:start -->\n",
        "<!-- hole-punching-table:end -->",
    );
    let (Some(i), Some(j)) = (readme.find(start), readme.find(end)) else {
        panic!("README.md lacks the {start:?} and {end:?} markers");
    };
    let current = &readme[i + start.len()..j];
    if current != table {
        if std::env::var_os("UPDATE_README").is_some() {
            let updated = format!("{}{table}{}", &readme[..i + start.len()], &readme[j..]);
            std::fs::write(&path, updated).unwrap();
        } else {
            panic!(
                "the hole-punching table in README.md is stale; regenerate it with \
                 UPDATE_README=1 cargo test -p ice-tests --test hole_punching"
            );
        }
    }
}

#[test]
fn same_nat_punches_over_private_addresses() {
    for kind in [
        NatConfig::symmetric(),
        NatConfig::port_restricted_cone(),
        NatConfig::full_cone(),
    ] {
        seed::for_each_seed(2, |s| {
            let mut sim = world(s);
            let n = sim.add_nat(sim.internet(), kind.clone(), &[ip("203.0.113.1")]);
            let lan = sim.nat_inside(n);
            let (a, b) = punch(
                &mut sim,
                (lan, "192.168.1.10:7000".parse().unwrap()),
                (lan, "192.168.1.11:7000".parse().unwrap()),
                true,
            );
            assert_eq!(connected(a), Some(PathKind::Private), "{kind:?}: {a:?}");
            assert_eq!(connected(b), Some(PathKind::Private), "{kind:?}: {b:?}");
        });
    }
}

#[test]
fn same_nat_punches_through_hairpinning_only_when_the_nat_hairpins() {
    for hairpinning in [true, false] {
        seed::for_each_seed(2, |s| {
            let mut sim = world(s);
            let config = NatConfig {
                hairpinning,
                ..NatConfig::full_cone()
            };
            let n = sim.add_nat(sim.internet(), config, &[ip("203.0.113.1")]);
            let lan = sim.nat_inside(n);
            let (a, b) = punch(
                &mut sim,
                (lan, "192.168.1.10:7000".parse().unwrap()),
                (lan, "192.168.1.11:7000".parse().unwrap()),
                false,
            );
            if hairpinning {
                assert_eq!(connected(a), Some(PathKind::Public), "{a:?}");
                assert_eq!(connected(b), Some(PathKind::Public), "{b:?}");
            } else {
                assert_eq!((a, b), (PunchState::Failed, PunchState::Failed));
                assert!(sim.stats().dropped(netsim::DropReason::HairpinOff) > 0);
            }
        });
    }
}

#[test]
fn two_homes_behind_one_carrier_nat_punch_through_the_carrier() {
    for carrier_hairpins in [true, false] {
        seed::for_each_seed(2, |s| {
            let mut sim = world(s);
            let carrier = NatConfig {
                hairpinning: carrier_hairpins,
                ..NatConfig::full_cone()
            };
            let c = sim.add_nat(sim.internet(), carrier, &[ip("203.0.113.1")]);
            let cgn = sim.nat_inside(c);
            let home_a = sim.add_nat(cgn, NatConfig::full_cone(), &[ip("100.64.0.2")]);
            let home_b = sim.add_nat(cgn, NatConfig::full_cone(), &[ip("100.64.0.3")]);
            let (la, lb) = (sim.nat_inside(home_a), sim.nat_inside(home_b));
            let (a, b) = punch(
                &mut sim,
                (la, "192.168.1.10:7000".parse().unwrap()),
                (lb, "192.168.2.20:7000".parse().unwrap()),
                true,
            );
            if carrier_hairpins {
                assert_eq!(connected(a), Some(PathKind::Public), "{a:?}");
                assert_eq!(connected(b), Some(PathKind::Public), "{b:?}");
            } else {
                assert_eq!((a, b), (PunchState::Failed, PunchState::Failed));
            }
        });
    }
}

#[test]
fn double_nats_on_different_carriers_punch_when_all_are_cones() {
    seed::for_each_seed(2, |s| {
        let mut sim = world(s);
        let inet = sim.internet();
        let peer = |sim: &mut Sim, carrier_ip: &str, home_ip: &str, lan: &str| {
            let c = sim.add_nat(inet, NatConfig::full_cone(), &[ip(carrier_ip)]);
            let h = sim.add_nat(
                sim.nat_inside(c),
                NatConfig::restricted_cone(),
                &[ip(home_ip)],
            );
            (sim.nat_inside(h), lan.parse::<SocketAddr>().unwrap())
        };
        let pa = peer(&mut sim, "203.0.113.1", "100.64.0.2", "192.168.1.10:7000");
        let pb = peer(&mut sim, "203.0.113.2", "100.64.0.2", "192.168.1.10:7000");
        let (a, b) = punch(&mut sim, pa, pb, true);
        assert_eq!(connected(a), Some(PathKind::Public), "{a:?}");
        assert_eq!(connected(b), Some(PathKind::Public), "{b:?}");
    });
}
