//! `icectl nat-type` against `icectl serve --alt-ip` with the kernel's own
//! NAT in between (issue 7's proof): the lab of `ice_tests::kernel_nat`
//! (client namespace behind an nftables middlebox, server namespace with
//! two addresses), the two commands run as processes inside it, and the
//! reported mapping, filtering, port preservation, hairpinning and classic
//! names must be what the middlebox is configured to do
//! (`Middlebox::expected`).
//!
//! Needs root, `ip` and `nft` (checked first with `require`: a missing
//! one fails the test with its name and package).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use candidate_gather::nat::{FilteringBehavior as F, MappingBehavior as M, PortAssignment};
use common::{LINE, Running};
use ice_tests::kernel_nat::{
    EXTERNAL_IP, Mapping, Middlebox, NatLab, Need, Randomization, SERVER_ALT_IP, SERVER_IP, require,
};

/// Namespaces answer in microseconds: RTO 20 ms (as the harness's own
/// discovery tests use).
const TIMEOUT: &str = "1.58s";
/// The longest a nat-type run may take.
const RUN: Duration = Duration::from_secs(120);

fn mapping_name(m: M) -> &'static str {
    match m {
        M::NoNat => "no-nat",
        M::EndpointIndependent => "endpoint-independent",
        M::AddressDependent => "address-dependent",
        M::AddressAndPortDependent => "address-and-port-dependent",
    }
}

fn filtering_name(f: F) -> &'static str {
    match f {
        F::EndpointIndependent => "endpoint-independent",
        F::AddressDependent => "address-dependent",
        F::AddressAndPortDependent => "address-and-port-dependent",
    }
}

/// Builds the lab, serves, discovers, and checks the report.
fn check(middlebox: Middlebox) {
    require(&[Need::Root, Need::Netns, Need::Nft]);
    let lab = NatLab::new(middlebox).unwrap_or_else(|e| panic!("{middlebox}: lab: {e}"));
    let icectl = env!("CARGO_BIN_EXE_icectl");
    let listen = SocketAddr::new(IpAddr::V4(SERVER_IP), 3478);
    // Declared after the lab: killed before the namespaces are deleted.
    let mut server = Running::from_command(lab.server.command(icectl).args([
        "serve",
        "--listen",
        &listen.to_string(),
        "--alt-ip",
        &SERVER_ALT_IP.to_string(),
        "--json",
    ]));
    let announced = server.json(LINE);
    assert_eq!(
        announced["rfc5780"]["primary"],
        listen.to_string(),
        "{announced}"
    );
    assert_eq!(
        announced["rfc5780"]["alternate"],
        format!("{SERVER_ALT_IP}:3479"),
        "{announced}"
    );

    let out = lab
        .client
        .run(
            icectl,
            &[
                "nat-type",
                "--server",
                &listen.to_string(),
                "--timeout",
                TIMEOUT,
                "--json",
            ],
            RUN,
        )
        .unwrap_or_else(|e| panic!("{middlebox}: nat-type: {e}"));
    assert!(
        out.success(),
        "{middlebox}: nat-type failed ({:?}):\n{}{}",
        out.status,
        out.stderr,
        out.stdout
    );
    let r: serde_json::Value = serde_json::from_str(out.stdout.trim())
        .unwrap_or_else(|e| panic!("{middlebox}: not one JSON object ({e}):\n{}", out.stdout));
    let e = middlebox.expected();
    let ctx = format!("{middlebox}: {r:#}");
    eprintln!(
        "{middlebox}: mapping {} filtering {} port_preservation {} hairpinning {} classic {} / {} in {:?}",
        r["mapping"],
        r["filtering"],
        r["port_preservation"],
        r["hairpinning"],
        r["classic"],
        r["rfc3489_flow"],
        out.elapsed
    );
    assert_eq!(r["mapping"], mapping_name(e.mapping), "{ctx}");
    assert_eq!(r["filtering"], filtering_name(e.filtering), "{ctx}");
    assert_eq!(
        r["port_preservation"].as_bool(),
        e.port.map(|p| p == PortAssignment::Preserving),
        "{ctx}"
    );
    assert_eq!(r["hairpinning"].as_bool(), e.hairpinning, "{ctx}");
    assert_eq!(r["classic"], e.classic.to_string(), "{ctx}");
    assert_eq!(r["rfc3489_flow"], e.classic.to_string(), "{ctx}");
    assert_eq!(r["server_has_alternate"], true, "{ctx}");
    let nat = middlebox.is_nat();
    assert_eq!(r["behind_nat"], nat, "{ctx}");
    if nat {
        let mapped: SocketAddr = r["mapped_address"].as_str().unwrap().parse().unwrap();
        assert_eq!(mapped.ip(), IpAddr::V4(EXTERNAL_IP), "{ctx}");
    }

    // The text form names the same behaviour for people.
    let text = lab
        .client
        .run(
            icectl,
            &[
                "nat-type",
                "--server",
                &listen.to_string(),
                "--timeout",
                TIMEOUT,
            ],
            RUN,
        )
        .unwrap_or_else(|e| panic!("{middlebox}: nat-type: {e}"));
    assert!(text.success(), "{middlebox}: {}", text.stderr);
    eprintln!("{}", text.stdout);
    let wanted = match e.mapping {
        M::NoNat => "mapping            no NAT".to_owned(),
        m => format!("mapping            {}", mapping_name(m)),
    };
    assert!(
        text.stdout.contains(&wanted),
        "{middlebox}: {}",
        text.stdout
    );
    assert!(
        text.stdout
            .contains(&format!("classic name       {}", e.classic)),
        "{middlebox}: {}",
        text.stdout
    );
    assert!(text.stdout.contains("What this means: "), "{}", text.stdout);
    drop(server);
}

#[test]
fn port_preserving_masquerade_with_port_restricted_filtering() {
    check(Middlebox::nat(
        Mapping::EndpointIndependent,
        F::AddressAndPortDependent,
    ));
}

#[test]
fn random_ports_are_address_and_port_dependent_mapping() {
    check(Middlebox::nat(
        Mapping::AddressAndPortDependent(Randomization::Random),
        F::AddressAndPortDependent,
    ));
}

#[test]
fn masquerade_with_open_filtering_is_a_full_cone() {
    check(Middlebox::nat(
        Mapping::EndpointIndependent,
        F::EndpointIndependent,
    ));
}

#[test]
fn address_dependent_mapping_with_address_dependent_filtering() {
    check(Middlebox::nat(
        Mapping::AddressDependent,
        F::AddressDependent,
    ));
}

#[test]
fn a_plain_router_is_open_internet() {
    check(Middlebox::Router);
}
