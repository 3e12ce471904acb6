//! RFC 4787 §6 hairpinning, and NATs behind NATs (a home NAT behind a
//! carrier-grade NAT, RFC 6888).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::*;
use ice_tests::netsim::{DropReason, Echo, NatConfig, Probe, Sim};

/// Clients A (.10) and B (.11) behind one NAT; both have contacted S1, so
/// both have mappings. Returns the setup, B's host id, and A's and B's
/// external endpoints.
fn two_clients(config: NatConfig) -> (Setup, ice_tests::netsim::HostId, String, String) {
    let mut t = Setup::new(1, config);
    let b = t.sim.add_host(t.lan, &[ip("192.168.1.11")], Probe::new());
    t.send(t.client, "192.168.1.10:5000", "198.51.100.1:3478");
    t.send(b, "192.168.1.11:6000", "198.51.100.1:3478");
    let seen = t.remotes(t.s1);
    (t, b, seen[0].to_string(), seen[1].to_string())
}

#[test]
fn hairpinning_delivers_with_the_external_source() {
    let (mut t, b, ea, eb) = two_clients(NatConfig::full_cone());
    t.send(t.client, "192.168.1.10:5000", &eb);
    let got = &t.sim.endpoint::<Probe>(b).received;
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].local, sa("192.168.1.11:6000"));
    assert_eq!(
        got[0].remote,
        sa(&ea),
        "RFC 4787 REQ-9b: the external source"
    );
    assert_eq!(t.remotes(t.s1).len(), 2, "nothing left the NAT");
}

#[test]
fn hairpinning_off_drops() {
    let config = NatConfig {
        hairpinning: false,
        ..NatConfig::full_cone()
    };
    let (mut t, b, _, eb) = two_clients(config);
    t.send(t.client, "192.168.1.10:5000", &eb);
    assert!(t.sim.endpoint::<Probe>(b).received.is_empty());
    assert_eq!(t.sim.stats().dropped(DropReason::HairpinOff), 1);
}

#[test]
fn hairpinning_to_a_port_without_mapping_drops() {
    let (mut t, b, _, _) = two_clients(NatConfig::full_cone());
    t.send(t.client, "192.168.1.10:5000", "203.0.113.1:9");
    assert!(t.sim.endpoint::<Probe>(b).received.is_empty());
    assert_eq!(t.sim.stats().dropped(DropReason::NatNoMapping), 1);
}

#[test]
fn hairpinned_packets_are_filtered_like_inbound_ones() {
    let (mut t, b, ea, eb) = two_clients(NatConfig::port_restricted_cone());
    t.send(t.client, "192.168.1.10:5000", &eb);
    assert!(t.sim.endpoint::<Probe>(b).received.is_empty());
    assert_eq!(t.sim.stats().dropped(DropReason::NatFiltered), 1);
    // Once B has sent to A's external endpoint, each can reach the other.
    t.send(b, "192.168.1.11:6000", &ea);
    t.send(t.client, "192.168.1.10:5000", &eb);
    assert_eq!(t.sim.endpoint::<Probe>(b).remotes(), vec![sa(&ea)]);
    assert_eq!(t.remotes(t.client), vec![sa(&eb)]);
}

/// A carrier NAT (203.0.113.1) whose inside holds two home NATs
/// (100.64.0.2 and 100.64.0.3), each with a client at 192.168.1.10.
struct Carrier {
    sim: Sim,
    cgn: ice_tests::netsim::NatId,
    home1: ice_tests::netsim::NatId,
    a: ice_tests::netsim::HostId,
    b: ice_tests::netsim::HostId,
    server: ice_tests::netsim::HostId,
}

fn carrier(cgn_config: NatConfig) -> Carrier {
    let mut sim = Sim::new(5);
    let inet = sim.internet();
    let cgn = sim.add_nat(inet, cgn_config, &[ip("203.0.113.1")]);
    let shared = sim.nat_inside(cgn);
    let home1 = sim.add_nat(shared, NatConfig::full_cone(), &[ip("100.64.0.2")]);
    let home2 = sim.add_nat(shared, NatConfig::full_cone(), &[ip("100.64.0.3")]);
    let (lan1, lan2) = (sim.nat_inside(home1), sim.nat_inside(home2));
    let a = sim.add_host(lan1, &[ip("192.168.1.10")], Probe::new());
    let b = sim.add_host(lan2, &[ip("192.168.1.10")], Probe::new());
    let server = sim.add_host(inet, &[ip(S1)], Echo::new());
    Carrier {
        sim,
        cgn,
        home1,
        a,
        b,
        server,
    }
}

#[test]
fn nat_behind_nat_translates_twice_and_back() {
    let mut c = carrier(NatConfig::port_restricted_cone());
    c.sim
        .inject(c.a, udp("192.168.1.10:5000", "198.51.100.1:3478", b"hi"));
    c.sim.run_for(ms(1));
    let seen = c.sim.endpoint::<Echo>(c.server).received[0].remote;
    assert_eq!(seen.ip(), ip("203.0.113.1"));
    let reply = &c.sim.endpoint::<Probe>(c.a).received;
    assert_eq!(reply.len(), 1, "the echo came back through both NATs");
    assert_eq!(reply[0].remote, sa("198.51.100.1:3478"));
    assert_eq!(reply[0].local, sa("192.168.1.10:5000"));
    let home = c.sim.nat_mappings(c.home1);
    let cgn = c.sim.nat_mappings(c.cgn);
    assert_eq!(home.len(), 1);
    assert_eq!(home[0].external.ip(), ip("100.64.0.2"));
    assert_eq!(
        cgn[0].internal, home[0].external,
        "the home NAT's outside is the CGN's inside"
    );
    assert_eq!(cgn[0].external, seen);
    assert!(c.sim.endpoint::<Probe>(c.b).received.is_empty());
}

#[test]
fn two_homes_behind_one_carrier_nat_reach_each_other_by_hairpinning() {
    let mut c = carrier(NatConfig::full_cone());
    c.sim
        .inject(c.a, udp("192.168.1.10:5000", "198.51.100.1:3478", b"a"));
    c.sim
        .inject(c.b, udp("192.168.1.10:5000", "198.51.100.1:3478", b"b"));
    c.sim.run_for(ms(1));
    let seen: Vec<_> = c
        .sim
        .endpoint::<Echo>(c.server)
        .received
        .iter()
        .map(|r| r.remote)
        .collect();
    assert_ne!(seen[0], seen[1], "the same private endpoint, two mappings");
    c.sim
        .inject(c.a, udp("192.168.1.10:5000", &seen[1].to_string(), b"to b"));
    c.sim.run_for(ms(1));
    let got = c
        .sim
        .endpoint::<Probe>(c.b)
        .received
        .last()
        .unwrap()
        .clone();
    assert_eq!(got.data, b"to b");
    assert_eq!(
        got.remote, seen[0],
        "B sees A's carrier-side external endpoint"
    );
}

#[test]
fn carrier_nat_without_hairpinning_separates_the_homes() {
    let config = NatConfig {
        hairpinning: false,
        ..NatConfig::full_cone()
    };
    let mut c = carrier(config);
    c.sim
        .inject(c.b, udp("192.168.1.10:5000", "198.51.100.1:3478", b"b"));
    c.sim.run_for(ms(1));
    let eb = c.sim.endpoint::<Echo>(c.server).received[0].remote;
    let before = c.sim.endpoint::<Probe>(c.b).received.len();
    c.sim
        .inject(c.a, udp("192.168.1.10:5000", &eb.to_string(), b"to b"));
    c.sim.run_for(ms(1));
    assert_eq!(c.sim.endpoint::<Probe>(c.b).received.len(), before);
    assert_eq!(c.sim.stats().dropped(DropReason::HairpinOff), 1);
}
