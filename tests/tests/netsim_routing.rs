//! Routing, firewalls and routers (no translation), source checks and IPv6.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::*;
use ice_tests::netsim::{
    DropReason, Echo, FilteringBehavior, FirewallConfig, NatConfig, Probe, Sim,
};

/// A host 198.51.100.50 behind a firewall, and servers S1, S2 on the
/// Internet. Returns (sim, firewall, inside host, s1, s2).
fn behind_firewall(
    config: FirewallConfig,
) -> (
    Sim,
    ice_tests::netsim::NatId,
    ice_tests::netsim::HostId,
    ice_tests::netsim::HostId,
    ice_tests::netsim::HostId,
) {
    let mut sim = Sim::new(2);
    let inet = sim.internet();
    let fw = sim.add_firewall(inet, config);
    let inside = sim.nat_inside(fw);
    let h = sim.add_host(inside, &[ip("198.51.100.50")], Probe::new());
    let s1 = sim.add_host(inet, &[ip(S1)], Probe::new());
    let s2 = sim.add_host(inet, &[ip(S2)], Probe::new());
    (sim, fw, h, s1, s2)
}

fn send(sim: &mut Sim, host: ice_tests::netsim::HostId, from: &str, to: &str) {
    sim.inject(host, udp(from, to, b"x"));
    sim.run_for(ms(1));
}

#[test]
fn router_forwards_both_ways_without_translation() {
    let (mut sim, fw, h, s1, _) = behind_firewall(FirewallConfig::router());
    send(&mut sim, s1, "198.51.100.1:3478", "198.51.100.50:5000");
    send(&mut sim, h, "198.51.100.50:5000", "198.51.100.1:3478");
    assert_eq!(
        sim.endpoint::<Probe>(h).remotes(),
        vec![sa("198.51.100.1:3478")]
    );
    assert_eq!(
        sim.endpoint::<Probe>(s1).remotes(),
        vec![sa("198.51.100.50:5000")]
    );
    assert!(sim.nat_mappings(fw).is_empty());
    assert!(sim.nat_public_ips(fw).is_empty());
    assert_eq!(sim.stats().total_dropped(), 0);
}

#[test]
fn block_udp_firewall_drops_both_directions() {
    let (mut sim, _, h, s1, _) = behind_firewall(FirewallConfig::block_udp());
    send(&mut sim, h, "198.51.100.50:5000", "198.51.100.1:3478");
    send(&mut sim, s1, "198.51.100.1:3478", "198.51.100.50:5000");
    assert!(sim.endpoint::<Probe>(h).received.is_empty());
    assert!(sim.endpoint::<Probe>(s1).received.is_empty());
    assert_eq!(sim.stats().dropped(DropReason::Firewall), 2);
}

#[test]
fn replies_only_firewall_admits_only_contacted_endpoints() {
    let (mut sim, _, h, s1, s2) = behind_firewall(FirewallConfig::replies_only());
    send(&mut sim, s1, "198.51.100.1:3478", "198.51.100.50:5000");
    assert!(sim.endpoint::<Probe>(h).received.is_empty(), "unsolicited");
    send(&mut sim, h, "198.51.100.50:5000", "198.51.100.1:3478");
    assert_eq!(
        sim.endpoint::<Probe>(s1).remotes(),
        vec![sa("198.51.100.50:5000")]
    );
    send(&mut sim, s1, "198.51.100.1:3478", "198.51.100.50:5000");
    send(&mut sim, s1, "198.51.100.1:3479", "198.51.100.50:5000");
    send(&mut sim, s2, "198.51.100.2:3478", "198.51.100.50:5000");
    send(&mut sim, s1, "198.51.100.1:3478", "198.51.100.50:5001");
    assert_eq!(
        sim.endpoint::<Probe>(h).remotes(),
        vec![sa("198.51.100.1:3478")]
    );
    assert_eq!(sim.stats().dropped(DropReason::Firewall), 4);
}

#[test]
fn replies_only_sessions_expire() {
    let config = FirewallConfig {
        session_lifetime: secs(30),
        ..FirewallConfig::replies_only()
    };
    let (mut sim, _, h, s1, _) = behind_firewall(config);
    send(&mut sim, h, "198.51.100.50:5000", "198.51.100.1:3478");
    sim.run_until(sim.at(secs(29)));
    send(&mut sim, s1, "198.51.100.1:3478", "198.51.100.50:5000");
    sim.run_until(sim.at(secs(31)));
    send(&mut sim, s1, "198.51.100.1:3478", "198.51.100.50:5000");
    assert_eq!(sim.endpoint::<Probe>(h).received.len(), 1);
}

#[test]
fn address_dependent_firewall_admits_any_port_of_a_contacted_ip() {
    let config = FirewallConfig {
        filtering: FilteringBehavior::AddressDependent,
        ..FirewallConfig::replies_only()
    };
    let (mut sim, _, h, s1, s2) = behind_firewall(config);
    send(&mut sim, h, "198.51.100.50:5000", "198.51.100.1:3478");
    send(&mut sim, s1, "198.51.100.1:9", "198.51.100.50:5000");
    send(&mut sim, s2, "198.51.100.2:3478", "198.51.100.50:5000");
    assert_eq!(
        sim.endpoint::<Probe>(h).remotes(),
        vec![sa("198.51.100.1:9")]
    );
}

#[test]
fn nat_behind_a_firewall_is_reachable_through_it() {
    let mut sim = Sim::new(2);
    let inet = sim.internet();
    let router = sim.add_router(inet);
    let dmz = sim.nat_inside(router);
    let nat = sim.add_nat(dmz, NatConfig::full_cone(), &[ip("198.51.100.60")]);
    let lan = sim.nat_inside(nat);
    let client = sim.add_host(lan, &[ip(CLIENT)], Probe::new());
    let server = sim.add_host(inet, &[ip(S1)], Echo::new());
    send(&mut sim, client, "192.168.1.10:5000", "198.51.100.1:3478");
    assert_eq!(
        sim.endpoint::<Echo>(server).received[0].remote,
        sa("198.51.100.60:5000")
    );
    assert_eq!(
        sim.endpoint::<Probe>(client).remotes(),
        vec![sa("198.51.100.1:3478")]
    );
}

#[test]
fn hosts_on_one_network_talk_directly() {
    let mut t = Setup::new(1, NatConfig::symmetric());
    let other = t.sim.add_host(t.lan, &[ip("192.168.1.11")], Probe::new());
    t.send(t.client, "192.168.1.10:5000", "192.168.1.11:6000");
    assert_eq!(
        t.sim.endpoint::<Probe>(other).remotes(),
        vec![sa("192.168.1.10:5000")]
    );
    assert!(
        t.sim.nat_mappings(t.nat).is_empty(),
        "never reached the NAT"
    );
}

#[test]
fn unknown_destinations_are_unroutable() {
    let mut t = Setup::new(1, NatConfig::full_cone());
    t.send(t.s1, "198.51.100.1:1", "192.0.2.99:1");
    t.send(t.client, "192.168.1.10:1", "192.168.1.99:1"); // not on the LAN: out, then nowhere
    assert_eq!(t.sim.stats().dropped(DropReason::Unroutable), 2);
}

#[test]
fn sending_from_an_address_the_host_does_not_hold_is_dropped() {
    let mut t = Setup::new(1, NatConfig::full_cone());
    t.send(t.client, "10.0.0.1:5000", "198.51.100.1:3478");
    assert!(t.remotes(t.s1).is_empty());
    assert_eq!(t.sim.stats().dropped(DropReason::BadSource), 1);
    assert_eq!(t.sim.stats().sent, 0);
}

#[test]
#[should_panic(expected = "already in use")]
fn duplicate_addresses_on_one_network_are_refused() {
    let mut t = Setup::new(1, NatConfig::full_cone());
    t.sim.add_host(t.lan, &[ip(CLIENT)], Probe::new());
}

#[test]
#[should_panic(expected = "already in use on net0")]
fn addresses_behind_a_router_must_be_unique_on_the_outside_too() {
    let mut sim = Sim::new(0);
    let inet = sim.internet();
    sim.add_host(inet, &[ip(S1)], Probe::new());
    let router = sim.add_router(inet);
    let inside = sim.nat_inside(router);
    sim.add_host(inside, &[ip(S1)], Probe::new());
}

#[test]
fn the_same_private_address_may_exist_in_two_networks() {
    let mut t = Setup::new(1, NatConfig::full_cone());
    let inet = t.sim.internet();
    let nat2 = t
        .sim
        .add_nat(inet, NatConfig::full_cone(), &[ip("203.0.113.2")]);
    let lan2 = t.sim.nat_inside(nat2);
    let twin = t.sim.add_host(lan2, &[ip(CLIENT)], Probe::new());
    t.send(twin, "192.168.1.10:5000", "198.51.100.1:3478");
    t.send(t.client, "192.168.1.10:5000", "198.51.100.1:3478");
    assert_eq!(
        t.remotes(t.s1),
        vec![sa("203.0.113.2:5000"), sa("203.0.113.1:5000")]
    );
}

#[test]
fn ipv6_hosts_exchange_datagrams() {
    let mut sim = Sim::new(4);
    let inet = sim.internet();
    let a = sim.add_host(inet, &[ip("2001:db8::a"), ip("192.0.2.10")], Probe::new());
    let b = sim.add_host(inet, &[ip("2001:db8::b")], Echo::new());
    send(&mut sim, a, "[2001:db8::a]:5000", "[2001:db8::b]:3478");
    let got = &sim.endpoint::<Probe>(a).received;
    assert_eq!(got[0].remote, sa("[2001:db8::b]:3478"));
    assert_eq!(got[0].local, sa("[2001:db8::a]:5000"));
    // A v4 source with a v6 destination cannot form a packet.
    send(&mut sim, a, "192.0.2.10:5000", "[2001:db8::b]:3478");
    assert_eq!(sim.stats().dropped(DropReason::Unroutable), 1);
    assert_eq!(sim.endpoint::<Echo>(b).received.len(), 1);
}

#[test]
fn ipv6_nat_translates_v6_and_leaves_v4_to_its_v4_address() {
    let mut sim = Sim::new(4);
    let inet = sim.internet();
    let nat = sim.add_nat(
        inet,
        NatConfig::port_restricted_cone(),
        &[ip("203.0.113.1"), ip("2001:db8:1::1")],
    );
    let lan = sim.nat_inside(nat);
    let client = sim.add_host(lan, &[ip("192.168.1.10"), ip("fd00::10")], Probe::new());
    let server = sim.add_host(inet, &[ip(S1), ip("2001:db8::53")], Echo::new());
    send(&mut sim, client, "[fd00::10]:5000", "[2001:db8::53]:3478");
    send(&mut sim, client, "192.168.1.10:5000", "198.51.100.1:3478");
    let seen: Vec<_> = sim
        .endpoint::<Echo>(server)
        .received
        .iter()
        .map(|r| r.remote)
        .collect();
    assert_eq!(
        seen,
        vec![sa("[2001:db8:1::1]:5000"), sa("203.0.113.1:5000")]
    );
    assert_eq!(
        sim.endpoint::<Probe>(client).remotes(),
        vec![sa("[2001:db8::53]:3478"), sa("198.51.100.1:3478")]
    );
}

#[test]
fn v4_only_nat_drops_v6_traffic() {
    let mut t = Setup::new(1, NatConfig::full_cone());
    let inet = t.sim.internet();
    let v6 = t.sim.add_host(t.lan, &[ip("fd00::10")], Probe::new());
    t.sim.add_host(inet, &[ip("2001:db8::53")], Echo::new());
    t.send(v6, "[fd00::10]:5000", "[2001:db8::53]:3478");
    assert_eq!(t.sim.stats().dropped(DropReason::Unroutable), 1);
}
