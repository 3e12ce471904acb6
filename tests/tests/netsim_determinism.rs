//! A run is a function of its seed: the same seed gives the same captures
//! and the same trace, byte for byte; another seed gives another run.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::collections::hash_map::DefaultHasher;
use std::hash::{Hash, Hasher};
use std::panic;

use common::*;
use ice_tests::netsim::seed::{self, for_each_seed};
use ice_tests::netsim::{Echo, Link, NatConfig, PortAssignment, Probe, Sim, TraceKind};

/// Everything observable about a run: both captures and the trace.
#[derive(PartialEq, Eq, Debug)]
struct Run {
    internet_pcap: Vec<u8>,
    lan_pcap: Vec<u8>,
    trace: Vec<String>,
    received: usize,
}

/// Two clients behind a random-port symmetric NAT exchange 200 datagrams
/// each with an echo server over a lossy, jittery, duplicating, reordering
/// Internet: every random decision of the simulator is exercised.
fn scenario(seed: u64) -> Run {
    let mut sim = Sim::new(seed);
    sim.enable_trace();
    let inet = sim.internet();
    sim.set_link(
        inet,
        Link {
            latency: ms(15),
            jitter: ms(10),
            loss: 0.05,
            duplicate: 0.02,
            reorder: 0.05,
            ..Link::default()
        },
    );
    let config = NatConfig {
        port_assignment: PortAssignment::Random,
        ..NatConfig::symmetric()
    };
    let nat = sim.add_nat(inet, config, &[ip(NAT_IP)]);
    let lan = sim.nat_inside(nat);
    sim.set_link(
        lan,
        Link {
            latency: ms(1),
            jitter: ms(1),
            ..Link::default()
        },
    );
    sim.capture(inet);
    sim.capture(lan);
    sim.add_host(inet, &[ip(S1)], Echo::new());
    let mut clients = Vec::new();
    for (n, addr) in ["192.168.1.10", "192.168.1.11"].into_iter().enumerate() {
        let mut probe = Probe::new();
        for i in 0..200u32 {
            let from = sa(&format!("{addr}:{}", 5000 + i % 7));
            let at = sim.at(ms(u64::from(i) * 5 + n as u64));
            probe.send_at(at, from, sa("198.51.100.1:3478"), i.to_be_bytes());
        }
        clients.push(sim.add_host(lan, &[ip(addr)], probe));
    }
    sim.run_for(secs(5));
    let received = clients
        .iter()
        .map(|c| sim.endpoint::<Probe>(*c).received.len())
        .sum();
    Run {
        internet_pcap: sim.pcap(inet).unwrap().to_vec(),
        lan_pcap: sim.pcap(lan).unwrap().to_vec(),
        trace: sim.trace().iter().map(ToString::to_string).collect(),
        received,
    }
}

/// A digest of the captures and the trace (SipHash with fixed keys).
fn digest(run: &Run) -> u64 {
    let mut h = DefaultHasher::new();
    run.internet_pcap.hash(&mut h);
    run.lan_pcap.hash(&mut h);
    run.trace.hash(&mut h);
    h.finish()
}

#[test]
fn the_same_seed_reproduces_the_run_byte_for_byte() {
    for_each_seed(3, |seed| {
        let a = scenario(seed);
        let b = scenario(seed);
        assert!(
            a.received > 300 && a.received < 420,
            "{} echoes",
            a.received
        );
        assert!(a.trace.len() > 1000);
        assert_eq!(digest(&a), digest(&b));
        assert_eq!(a, b);
    });
}

#[test]
fn another_seed_gives_another_run() {
    let a = scenario(1);
    let b = scenario(2);
    assert_ne!(a.internet_pcap, b.internet_pcap);
    assert_ne!(a.lan_pcap, b.lan_pcap);
    assert_ne!(a.trace, b.trace);
}

#[test]
fn the_trace_records_drops_with_their_reason() {
    let mut t = Setup::new(9, NatConfig::port_restricted_cone());
    t.sim.enable_trace();
    t.send(t.s2, "198.51.100.2:1", "203.0.113.1:5000");
    let drops: Vec<_> = t
        .sim
        .trace()
        .iter()
        .filter(|e| matches!(e.kind, TraceKind::Dropped { .. }))
        .map(ToString::to_string)
        .collect();
    assert_eq!(
        drops,
        vec![
            "[    0.000000s] drop nat-no-mapping on net0: 198.51.100.2:1 -> 203.0.113.1:5000 (5 bytes)"
        ]
    );
}

#[test]
fn for_each_seed_runs_every_seed_and_passes_panics_on() {
    let mut seen = Vec::new();
    for_each_seed(5, |s| seen.push(s));
    assert_eq!(seen, seed::seeds(5));
    if seed::env_seed().is_none() {
        assert_eq!(seen, vec![0, 1, 2, 3, 4]);
    }
    let result = panic::catch_unwind(|| for_each_seed(5, |s| assert!(s < 2, "seed {s} fails")));
    assert_eq!(result.is_err(), seed::seeds(5).iter().any(|s| *s >= 2));
}

#[test]
fn the_sim_remembers_its_seed() {
    assert_eq!(Sim::new(1234).seed(), 1234);
}
