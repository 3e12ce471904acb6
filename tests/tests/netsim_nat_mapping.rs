//! RFC 4787 §4.1 mapping behaviour, §4.1 IP address pooling and §4.2 port
//! assignment in the simulator's NAT.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::*;
use ice_tests::netsim::seed::for_each_seed;
use ice_tests::netsim::{
    FilteringBehavior, MappingBehavior, MappingScope, NatConfig, PortAssignment, Probe, Sim,
};

/// The client sends from one socket to S1:3478, S1:3479 and S2:3478; returns
/// the external endpoints the servers saw, in that order.
fn observed(config: NatConfig) -> (Setup, [std::net::SocketAddr; 3]) {
    let mut t = Setup::new(1, config);
    let from = "192.168.1.10:5000";
    t.send(t.client, from, "198.51.100.1:3478");
    t.send(t.client, from, "198.51.100.1:3479");
    t.send(t.client, from, "198.51.100.2:3478");
    let r1 = t.remotes(t.s1);
    let r2 = t.remotes(t.s2);
    assert_eq!((r1.len(), r2.len()), (2, 1));
    let seen = [r1[0], r1[1], r2[0]];
    for e in seen {
        assert_eq!(e.ip(), ip(NAT_IP), "translated to the NAT's address");
    }
    (t, seen)
}

fn with_mapping(mapping: MappingBehavior) -> NatConfig {
    NatConfig::new(mapping, FilteringBehavior::EndpointIndependent)
}

#[test]
fn endpoint_independent_mapping_reuses_one_port_for_all_destinations() {
    let (t, [a, b, c]) = observed(with_mapping(MappingBehavior::EndpointIndependent));
    assert_eq!(a, b);
    assert_eq!(a, c);
    let mappings = t.sim.nat_mappings(t.nat);
    assert_eq!(mappings.len(), 1);
    assert_eq!(mappings[0].internal, sa("192.168.1.10:5000"));
    assert_eq!(mappings[0].scope, MappingScope::Any);
    assert_eq!(mappings[0].sent_to.len(), 3);
}

#[test]
fn address_dependent_mapping_reuses_per_destination_ip() {
    let (t, [a, b, c]) = observed(with_mapping(MappingBehavior::AddressDependent));
    assert_eq!(a, b, "same destination IP, other port: same mapping");
    assert_ne!(a, c, "other destination IP: new mapping");
    let scopes: Vec<_> = t.sim.nat_mappings(t.nat).iter().map(|m| m.scope).collect();
    assert!(scopes.contains(&MappingScope::Address(ip(S1))));
    assert!(scopes.contains(&MappingScope::Address(ip(S2))));
    assert_eq!(scopes.len(), 2);
}

#[test]
fn address_and_port_dependent_mapping_is_new_for_every_destination() {
    let (t, [a, b, c]) = observed(with_mapping(MappingBehavior::AddressAndPortDependent));
    assert_ne!(a, b);
    assert_ne!(a, c);
    assert_ne!(b, c);
    assert_eq!(t.sim.nat_mappings(t.nat).len(), 3);
}

#[test]
fn classic_names_map_to_rfc4787_behaviours() {
    use FilteringBehavior as F;
    use MappingBehavior as M;
    let pairs = [
        (
            NatConfig::full_cone(),
            M::EndpointIndependent,
            F::EndpointIndependent,
        ),
        (
            NatConfig::restricted_cone(),
            M::EndpointIndependent,
            F::AddressDependent,
        ),
        (
            NatConfig::port_restricted_cone(),
            M::EndpointIndependent,
            F::AddressAndPortDependent,
        ),
        (
            NatConfig::symmetric(),
            M::AddressAndPortDependent,
            F::AddressAndPortDependent,
        ),
    ];
    for (config, mapping, filtering) in pairs {
        assert_eq!((config.mapping, config.filtering), (mapping, filtering));
        assert!(config.mapping_lifetime >= secs(120), "RFC 4787 REQ-5");
        assert!(config.hairpinning, "RFC 4787 REQ-9");
        assert!(!config.inbound_refresh);
    }
}

#[test]
fn preserving_assignment_keeps_the_internal_port() {
    let (_, [a, ..]) = observed(NatConfig::symmetric());
    assert_eq!(a.port(), 5000);
}

#[test]
fn preserving_assignment_falls_back_to_sequential_when_taken() {
    let config = NatConfig {
        port_range: 40000..=40100,
        ..NatConfig::full_cone()
    };
    let mut t = Setup::new(1, config);
    let other = t.sim.add_host(t.lan, &[ip("192.168.1.11")], Probe::new());
    t.send(t.client, "192.168.1.10:5000", "198.51.100.1:3478");
    t.send(other, "192.168.1.11:5000", "198.51.100.1:3478");
    t.send(other, "192.168.1.11:5001", "198.51.100.1:3478");
    let seen: Vec<u16> = t.remotes(t.s1).iter().map(|r| r.port()).collect();
    assert_eq!(seen, vec![5000, 40000, 5001]);
}

#[test]
fn sequential_assignment_counts_up_from_the_base() {
    let config = NatConfig {
        port_assignment: PortAssignment::Sequential,
        port_range: 40000..=40100,
        ..NatConfig::symmetric()
    };
    let (_, seen) = observed(config);
    let ports: Vec<u16> = seen.iter().map(|e| e.port()).collect();
    assert_eq!(ports, vec![40000, 40001, 40002]);
}

#[test]
fn exhausted_port_range_drops_new_mappings() {
    let config = NatConfig {
        port_assignment: PortAssignment::Sequential,
        port_range: 40000..=40001,
        ..NatConfig::symmetric()
    };
    let mut t = Setup::new(1, config);
    for port in [3478, 3479, 3480] {
        t.send(
            t.client,
            "192.168.1.10:5000",
            &format!("198.51.100.1:{port}"),
        );
    }
    assert_eq!(t.remotes(t.s1).len(), 2);
    use ice_tests::netsim::DropReason;
    assert_eq!(t.sim.stats().dropped(DropReason::NatPortsExhausted), 1);
}

fn random_ports(seed: u64) -> Vec<u16> {
    let config = NatConfig {
        port_assignment: PortAssignment::Random,
        port_range: 20000..=29999,
        ..NatConfig::symmetric()
    };
    let mut t = Setup::new(seed, config);
    for port in 3000..3020 {
        t.send(
            t.client,
            "192.168.1.10:5000",
            &format!("198.51.100.1:{port}"),
        );
    }
    t.remotes(t.s1).iter().map(|r| r.port()).collect()
}

#[test]
fn random_assignment_stays_in_range_and_follows_the_seed() {
    for_each_seed(8, |seed| {
        let ports = random_ports(seed);
        assert_eq!(ports.len(), 20);
        assert!(
            ports.iter().all(|p| (20000..=29999).contains(p)),
            "{ports:?}"
        );
        let mut unique = ports.clone();
        unique.sort_unstable();
        unique.dedup();
        assert_eq!(unique.len(), 20, "no port shared: {ports:?}");
        let sequential = ports.windows(2).all(|w| w[1] == w[0] + 1);
        assert!(!sequential, "looks sequential: {ports:?}");
        assert_eq!(ports, random_ports(seed), "same seed, same ports");
    });
    assert_ne!(random_ports(1), random_ports(2), "the seed matters");
}

#[test]
fn paired_pooling_keeps_one_external_ip_per_internal_ip() {
    let mut sim = Sim::new(3);
    let inet = sim.internet();
    let pool = [ip("203.0.113.1"), ip("203.0.113.2")];
    let nat = sim.add_nat(inet, NatConfig::symmetric(), &pool);
    let lan = sim.nat_inside(nat);
    let a = sim.add_host(lan, &[ip("192.168.1.10")], Probe::new());
    let b = sim.add_host(lan, &[ip("192.168.1.11")], Probe::new());
    let s1 = sim.add_host(inet, &[ip(S1)], Probe::new());
    for (host, from) in [(a, "192.168.1.10"), (b, "192.168.1.11")] {
        for port in [1000, 2000, 3000] {
            sim.inject(host, udp(&format!("{from}:{port}"), "198.51.100.1:9", b"x"));
            sim.inject(
                host,
                udp(&format!("{from}:{port}"), "198.51.100.1:10", b"x"),
            );
        }
    }
    sim.run_for(ms(1));
    let seen = sim.endpoint::<Probe>(s1).remotes();
    assert_eq!(seen.len(), 12);
    assert!(seen[..6].iter().all(|r| r.ip() == pool[0]), "{seen:?}");
    assert!(seen[6..].iter().all(|r| r.ip() == pool[1]), "{seen:?}");
}
