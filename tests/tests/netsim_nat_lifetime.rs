//! RFC 4787 §4.3 mapping refresh and lifetime in the simulator's NAT.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::*;
use ice_tests::netsim::{DEFAULT_MAPPING_LIFETIME, DropReason, NatConfig, PortAssignment};

const FROM: &str = "192.168.1.10:5000";
const TO: &str = "198.51.100.1:3478";

/// A full-cone NAT with a 30 s lifetime; the client has sent once at t=0.
fn setup(inbound_refresh: bool) -> (Setup, String) {
    let config = NatConfig {
        mapping_lifetime: secs(30),
        inbound_refresh,
        port_assignment: PortAssignment::Sequential,
        ..NatConfig::full_cone()
    };
    let mut t = Setup::new(1, config);
    t.send(t.client, FROM, TO);
    let external = t.remotes(t.s1)[0].to_string();
    (t, external)
}

/// Sends from S1 to `external` at virtual time `at_ms`; returns whether the
/// client got it.
fn inbound_at(t: &mut Setup, external: &str, at_ms: u64) -> bool {
    let deadline = t.sim.at(ms(at_ms));
    t.sim.run_until(deadline);
    let before = t.remotes(t.client).len();
    t.send(t.s1, TO, external);
    t.remotes(t.client).len() > before
}

#[test]
fn default_lifetime_is_at_least_two_minutes() {
    assert!(DEFAULT_MAPPING_LIFETIME >= secs(120), "RFC 4787 REQ-5");
}

#[test]
fn idle_mapping_expires_after_its_lifetime() {
    let (mut t, e) = setup(false);
    let expires = t.sim.nat_mappings(t.nat)[0].expires_at;
    assert_eq!(expires, t.sim.at(secs(30)));
    assert!(inbound_at(&mut t, &e, 29_000));
    assert!(
        !inbound_at(&mut t, &e, 30_000),
        "inbound did not refresh it"
    );
    assert_eq!(t.sim.stats().dropped(DropReason::NatNoMapping), 1);
    assert!(t.sim.nat_mappings(t.nat).is_empty());
}

#[test]
fn outbound_traffic_refreshes_the_mapping() {
    let (mut t, e) = setup(false);
    t.sim.run_until(t.sim.at(secs(20)));
    t.send(t.client, FROM, TO);
    assert_eq!(
        t.sim.nat_mappings(t.nat)[0].expires_at,
        t.sim.at(ms(50_000))
    );
    assert!(inbound_at(&mut t, &e, 45_000));
    assert!(!inbound_at(&mut t, &e, 50_001));
}

#[test]
fn inbound_traffic_refreshes_only_when_configured() {
    let (mut t, e) = setup(true);
    assert!(inbound_at(&mut t, &e, 29_000));
    assert!(inbound_at(&mut t, &e, 58_000), "refreshed at 29 s");
    assert!(inbound_at(&mut t, &e, 87_000), "refreshed at 58 s");
    assert!(!inbound_at(&mut t, &e, 118_000));
}

#[test]
fn filtered_inbound_does_not_refresh() {
    let config = NatConfig {
        mapping_lifetime: secs(30),
        inbound_refresh: true,
        ..NatConfig::port_restricted_cone()
    };
    let mut t = Setup::new(1, config);
    t.send(t.client, FROM, TO);
    let e = t.remotes(t.s1)[0].to_string();
    t.sim.run_until(t.sim.at(secs(20)));
    t.send(t.s2, "198.51.100.2:3478", &e); // filtered
    assert_eq!(t.sim.stats().dropped(DropReason::NatFiltered), 1);
    assert_eq!(t.sim.nat_mappings(t.nat)[0].expires_at, t.sim.at(secs(30)));
}

#[test]
fn an_expired_mapping_is_replaced_by_a_new_one() {
    let (mut t, e) = setup(false);
    t.sim.run_until(t.sim.at(secs(31)));
    t.send(t.client, FROM, TO);
    let seen = t.remotes(t.s1);
    assert_eq!(seen.len(), 2);
    assert_ne!(seen[1].to_string(), e, "sequential assignment moved on");
    assert!(
        !inbound_at(&mut t, &e, 32_000),
        "the old external port is closed"
    );
    assert!(inbound_at(&mut t, &seen[1].to_string(), 33_000));
}
