//! RFC 4787 §5 filtering behaviour in the simulator's NAT.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::net::SocketAddr;

use common::*;
use ice_tests::netsim::{DropReason, FilteringBehavior, MappingBehavior, NatConfig};

/// The client sends from 192.168.1.10:5000 to S1:3478, creating a mapping
/// E; then S1:3478, S1:3479 and S2:3478 each send to E. Returns the
/// setup and which of the three reached the client.
fn probe_filter(config: NatConfig) -> (Setup, [bool; 3]) {
    let mut t = Setup::new(1, config);
    t.send(t.client, "192.168.1.10:5000", "198.51.100.1:3478");
    let external = t.remotes(t.s1)[0].to_string();
    let senders = [
        (t.s1, "198.51.100.1:3478"),
        (t.s1, "198.51.100.1:3479"),
        (t.s2, "198.51.100.2:3478"),
    ];
    for (host, from) in senders {
        t.send(host, from, &external);
    }
    let got = t.remotes(t.client);
    let seen = senders.map(|(_, from)| got.contains(&sa(from)));
    for r in &t
        .sim
        .endpoint::<ice_tests::netsim::Probe>(t.client)
        .received
    {
        assert_eq!(
            r.local,
            sa("192.168.1.10:5000"),
            "translated back to the internal endpoint"
        );
    }
    (t, seen)
}

fn with_filtering(filtering: FilteringBehavior) -> NatConfig {
    NatConfig::new(MappingBehavior::EndpointIndependent, filtering)
}

#[test]
fn endpoint_independent_filtering_admits_anyone() {
    let (t, seen) = probe_filter(with_filtering(FilteringBehavior::EndpointIndependent));
    assert_eq!(seen, [true, true, true]);
    assert_eq!(t.sim.stats().dropped(DropReason::NatFiltered), 0);
}

#[test]
fn address_dependent_filtering_admits_any_port_of_a_contacted_ip() {
    let (t, seen) = probe_filter(with_filtering(FilteringBehavior::AddressDependent));
    assert_eq!(seen, [true, true, false]);
    assert_eq!(t.sim.stats().dropped(DropReason::NatFiltered), 1);
}

#[test]
fn address_and_port_dependent_filtering_admits_only_the_contacted_endpoint() {
    let (t, seen) = probe_filter(with_filtering(FilteringBehavior::AddressAndPortDependent));
    assert_eq!(seen, [true, false, false]);
    assert_eq!(t.sim.stats().dropped(DropReason::NatFiltered), 2);
}

#[test]
fn classic_cones_filter_as_named() {
    let cases = [
        (NatConfig::full_cone(), [true, true, true]),
        (NatConfig::restricted_cone(), [true, true, false]),
        (NatConfig::port_restricted_cone(), [true, false, false]),
        (NatConfig::symmetric(), [true, false, false]),
    ];
    for (config, expected) in cases {
        let name = format!("{:?}/{:?}", config.mapping, config.filtering);
        assert_eq!(probe_filter(config).1, expected, "{name}");
    }
}

#[test]
fn filtering_opens_for_each_new_destination() {
    let mut t = Setup::new(1, NatConfig::port_restricted_cone());
    t.send(t.client, "192.168.1.10:5000", "198.51.100.1:3478");
    let e = t.remotes(t.s1)[0].to_string();
    t.send(t.s2, "198.51.100.2:3478", &e);
    assert!(t.remotes(t.client).is_empty());
    // The client now sends to S2 through the same (EIM) mapping.
    t.send(t.client, "192.168.1.10:5000", "198.51.100.2:3478");
    assert_eq!(t.remotes(t.s2), vec![t.remotes(t.s1)[0]], "one mapping");
    t.send(t.s2, "198.51.100.2:3478", &e);
    assert_eq!(t.remotes(t.client), vec![sa("198.51.100.2:3478")]);
}

#[test]
fn symmetric_mapping_admits_only_its_own_destination() {
    // APDM with address-dependent filtering: the filtering state belongs to
    // each mapping, so S2 may use only the mapping made for it (any port).
    let config = NatConfig::new(
        MappingBehavior::AddressAndPortDependent,
        FilteringBehavior::AddressDependent,
    );
    let mut t = Setup::new(1, config);
    t.send(t.client, "192.168.1.10:5000", "198.51.100.1:3478");
    t.send(t.client, "192.168.1.10:5000", "198.51.100.2:3478");
    let to_s1: SocketAddr = t.remotes(t.s1)[0];
    let to_s2: SocketAddr = t.remotes(t.s2)[0];
    assert_ne!(to_s1, to_s2);
    // S2 may not use the mapping made for S1: filtering state is per mapping.
    t.send(t.s2, "198.51.100.2:3478", &to_s1.to_string());
    assert!(t.remotes(t.client).is_empty());
    t.send(t.s2, "198.51.100.2:9999", &to_s2.to_string());
    assert_eq!(t.remotes(t.client), vec![sa("198.51.100.2:9999")]);
}

#[test]
fn unsolicited_inbound_without_a_mapping_is_dropped() {
    let mut t = Setup::new(1, NatConfig::full_cone());
    t.send(t.s1, "198.51.100.1:3478", "203.0.113.1:5000");
    assert!(t.remotes(t.client).is_empty());
    assert_eq!(t.sim.stats().dropped(DropReason::NatNoMapping), 1);
    // The private address is not routable from the Internet at all.
    t.send(t.s1, "198.51.100.1:3478", "192.168.1.10:5000");
    assert_eq!(t.sim.stats().dropped(DropReason::Unroutable), 1);
}
