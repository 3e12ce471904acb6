//! Link impairments: latency per hop, jitter, loss, duplication,
//! reordering and MTU, checked statistically over many datagrams with loose
//! bounds (deterministic per seed).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::time::Duration;

use common::*;
use ice_tests::netsim::seed::for_each_seed;
use ice_tests::netsim::{DropReason, Echo, Link, NatConfig, Probe, Sim};

const N: u32 = 4000;

/// Sends `N` numbered datagrams from A to B on the Internet, one every
/// `spacing`, over `link`. Returns the sim, B's host id and the send times.
fn blast(seed: u64, link: Link, spacing: Duration) -> (Sim, ice_tests::netsim::HostId) {
    let mut sim = Sim::new(seed);
    let inet = sim.internet();
    sim.set_link(inet, link);
    let mut probe = Probe::new();
    for i in 0..N {
        let at = sim.at(spacing * i);
        probe.send_at(at, sa("192.0.2.1:1"), sa("192.0.2.2:2"), i.to_be_bytes());
    }
    sim.add_host(inet, &[ip("192.0.2.1")], probe);
    let b = sim.add_host(inet, &[ip("192.0.2.2")], Probe::new());
    sim.run_for(spacing * N + secs(10));
    (sim, b)
}

/// (sequence number, one-way delay) of everything B received, assuming
/// datagram i was sent at `i * spacing`.
fn arrivals(sim: &Sim, b: ice_tests::netsim::HostId, spacing: Duration) -> Vec<(u32, Duration)> {
    sim.endpoint::<Probe>(b)
        .received
        .iter()
        .map(|r| {
            let i = u32::from_be_bytes(r.data[..4].try_into().unwrap());
            (i, r.at - sim.at(spacing * i))
        })
        .collect()
}

#[test]
fn latency_adds_up_per_hop() {
    let mut sim = Sim::new(0);
    let inet = sim.internet();
    sim.set_link(inet, Link::with_latency(ms(20)));
    let nat = sim.add_nat(inet, NatConfig::full_cone(), &[ip(NAT_IP)]);
    let lan = sim.nat_inside(nat);
    sim.set_link(lan, Link::with_latency(ms(2)));
    let client = sim.add_host(lan, &[ip(CLIENT)], Probe::new());
    let server = sim.add_host(inet, &[ip(S1)], Echo::new());
    sim.inject(
        client,
        udp("192.168.1.10:5000", "198.51.100.1:3478", b"ping"),
    );
    sim.run_for(secs(1));
    assert_eq!(sim.endpoint::<Echo>(server).received[0].at, sim.at(ms(22)));
    assert_eq!(sim.endpoint::<Probe>(client).received[0].at, sim.at(ms(44)));
    assert_eq!(sim.elapsed(), secs(1));
}

#[test]
fn jitter_is_uniform_on_top_of_latency() {
    for_each_seed(3, |seed| {
        let link = Link {
            latency: ms(10),
            jitter: ms(5),
            ..Link::default()
        };
        let (sim, b) = blast(seed, link, ms(1));
        let got = arrivals(&sim, b, ms(1));
        assert_eq!(got.len(), N as usize);
        assert!(got.iter().all(|(_, d)| (ms(10)..=ms(15)).contains(d)));
        let mean = got.iter().map(|(_, d)| d.as_secs_f64()).sum::<f64>() / f64::from(N);
        assert!((0.0122..0.0128).contains(&mean), "mean delay {mean}");
        let out_of_order = got.windows(2).filter(|w| w[1].0 < w[0].0).count();
        assert!(out_of_order > 0, "jitter wider than the spacing reorders");
    });
}

#[test]
fn loss_drops_about_the_configured_fraction() {
    for_each_seed(3, |seed| {
        let link = Link {
            loss: 0.1,
            ..Link::default()
        };
        let (sim, b) = blast(seed, link, ms(1));
        let got = sim.endpoint::<Probe>(b).received.len() as u64;
        let lost = sim.stats().dropped(DropReason::Loss);
        assert_eq!(got + lost, u64::from(N));
        assert!((320..=480).contains(&lost), "lost {lost} of {N}");
    });
}

#[test]
fn duplication_delivers_about_the_configured_extra_copies() {
    for_each_seed(3, |seed| {
        let link = Link {
            duplicate: 0.05,
            ..Link::default()
        };
        let (sim, b) = blast(seed, link, ms(1));
        let got = sim.endpoint::<Probe>(b).received.len() as u64;
        let dups = sim.stats().duplicated;
        assert_eq!(got, u64::from(N) + dups);
        assert!((140..=260).contains(&dups), "duplicated {dups} of {N}");
    });
}

#[test]
fn reordering_holds_back_about_the_configured_fraction() {
    for_each_seed(3, |seed| {
        let link = Link {
            latency: ms(10),
            reorder: 0.1,
            ..Link::default()
        };
        let (sim, b) = blast(seed, link, ms(1));
        let got = arrivals(&sim, b, ms(1));
        assert_eq!(got.len(), N as usize, "reordering loses nothing");
        let late = got.iter().filter(|(_, d)| *d == ms(20)).count();
        let on_time = got.iter().filter(|(_, d)| *d == ms(10)).count();
        assert_eq!(
            late + on_time,
            got.len(),
            "held back by exactly one latency"
        );
        assert_eq!(late as u64, sim.stats().reordered);
        assert!((320..=480).contains(&late), "reordered {late} of {N}");
        let overtaken = got.windows(2).filter(|w| w[1].0 < w[0].0).count();
        assert!(
            overtaken >= late / 2,
            "later datagrams overtake: {overtaken}"
        );
    });
}

#[test]
fn datagrams_over_the_mtu_are_dropped() {
    let mut sim = Sim::new(0);
    let inet = sim.internet();
    sim.set_link(
        inet,
        Link {
            mtu: 1280,
            ..Link::default()
        },
    );
    let a = sim.add_host(inet, &[ip("192.0.2.1"), ip("2001:db8::1")], Probe::new());
    let b = sim.add_host(inet, &[ip("192.0.2.2"), ip("2001:db8::2")], Probe::new());
    // IPv4: 20 + 8 + 1252 = 1280 fits; one more byte does not.
    sim.inject(a, udp("192.0.2.1:1", "192.0.2.2:2", &[0; 1252]));
    sim.inject(a, udp("192.0.2.1:1", "192.0.2.2:2", &[0; 1253]));
    // IPv6: 40 + 8 + 1232 = 1280.
    sim.inject(a, udp("[2001:db8::1]:1", "[2001:db8::2]:2", &[0; 1232]));
    sim.inject(a, udp("[2001:db8::1]:1", "[2001:db8::2]:2", &[0; 1233]));
    sim.run_for(ms(1));
    let sizes: Vec<usize> = sim
        .endpoint::<Probe>(b)
        .received
        .iter()
        .map(|r| r.data.len())
        .collect();
    assert_eq!(sizes, vec![1252, 1232]);
    assert_eq!(sim.stats().dropped(DropReason::Mtu), 2);
}

#[test]
fn the_mtu_of_every_hop_applies() {
    let mut t = Setup::new(0, NatConfig::full_cone());
    t.sim.set_link(
        t.lan,
        Link {
            mtu: 576,
            ..Link::default()
        },
    );
    t.sim.inject(
        t.client,
        udp("192.168.1.10:5000", "198.51.100.1:3478", &[0; 548]),
    );
    t.sim.inject(
        t.client,
        udp("192.168.1.10:5000", "198.51.100.1:3478", &[0; 549]),
    );
    t.sim.run_for(ms(1));
    assert_eq!(t.remotes(t.s1).len(), 1);
    assert_eq!(t.sim.stats().dropped(DropReason::Mtu), 1);
}
