//! NAT behaviour discovery behind real Linux NATs and firewalls, built in
//! network namespaces with nftables (`ice_tests::kernel_nat`), checked
//! against the configuration, against the NAT's own flow table
//! (`conntrack`), and against Debian's classic `stun` client.
//!
//! Every test builds its own lab (client, middlebox, server namespaces; see
//! `NatLab`), starts our RFC 5780 STUN server (203.0.113.10:3478 and
//! 203.0.113.11:3479) and Debian's `stund` (same addresses, ports 3480 and
//! 3481) in the server namespace, and runs five clients at once in the
//! client namespace (their local ports all differ, so the NAT keeps their
//! flows apart):
//!
//! 1. our `Rfc5780Discovery` against our server: must report exactly the
//!    middlebox's mapping, filtering, port preservation, hairpinning (when
//!    RFC 5780 can see it) and classic name;
//! 2. Debian's `stun` against our server, and 3. against `stund`: must
//!    name the same classic type (and agree on port preservation and
//!    hairpinning behind a NAT);
//! 4. our `ClassicDiscovery` against our server, and 5. against `stund`:
//!    must give the same classic name (`classic_flow` explains the two
//!    kernel traps that made an RFC 3489-literal flow name ADM/APDM with
//!    open filtering Full Cone and a firewall-less masquerade Symmetric,
//!    found by these tests and fixed in the flow).
//!
//! For NATs the flow table is read too: the flows of the mapping-test
//! socket must carry 1 (EIM), 2 (ADM) or 3 (APDM) distinct external
//! addresses, whatever STUN says.
//!
//! Measured on Linux 6.18 (every row is a test below):
//!
//! | middlebox | RFC 5780 (ours) | Debian `stun` (ours / stund) | `ClassicDiscovery` (ours / stund) |
//! |---|---|---|---|
//! | router | NoNat, EIF, Open Internet | Open | Open Internet |
//! | firewall ADF | NoNat, ADF, Symmetric UDP Firewall | Firewall | Symmetric UDP Firewall |
//! | firewall APDF | NoNat, APDF, Symmetric UDP Firewall | Firewall | Symmetric UDP Firewall |
//! | UDP blocked | UDP blocked | Blocked | UDP Blocked |
//! | EIM + EIF | EIM, EIF, preserving, no hairpin, Full Cone | Independent Filter | Full Cone |
//! | EIM + EIF + hairpinning | same, hairpinning | Independent Filter, will hairpin | Full Cone |
//! | EIM + ADF | EIM, ADF, Restricted Cone | Address Dependent Filter | Restricted Cone |
//! | EIM + APDF | EIM, APDF, Port Restricted Cone | Port Dependent Filter | Port Restricted Cone |
//! | EIM + APDF, no input firewall | EIM, APDF, Port Restricted Cone | Port Dependent Filter | Port Restricted Cone |
//! | ADM + EIF | ADM, EIF, preserving, Symmetric | Dependent Mapping | Symmetric |
//! | ADM + ADF / APDF | ADM, ADF / APDF, Symmetric | Dependent Mapping | Symmetric |
//! | APDM (random) + EIF | APDM, EIF, not preserving, Symmetric | Dependent Mapping | Symmetric |
//! | APDM (random) + ADF / APDF | APDM, ADF / APDF, Symmetric | Dependent Mapping | Symmetric |
//! | APDM (fully-random) + APDF | APDM, APDF, Symmetric | Dependent Mapping | Symmetric |
//!
//! The facts about the kernel itself (a random port per flow with `random`
//! and `fully-random`, one mapping per socket with plain `masquerade`) and
//! the harness's own cleanup are the last tests.
//!
//! Behind `random` NATs a run fails if two of its random ports happen to
//! coincide (about 1 in 20,000 per configuration): the mapping then really
//! looks less dependent than it is, to any client.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use candidate_gather::nat::{
    ClassicNat, FilteringBehavior as F, MappingBehavior as M, PortAssignment,
};
use ice_tests::debian_stun::{
    StunClientReport, four_sockets, parse_stun_client, stun_client_args, stund_args,
};
use ice_tests::kernel_nat::conntrack::{self, Flow};
use ice_tests::kernel_nat::require::program;
use ice_tests::kernel_nat::{
    CLIENT_IP, KernelNat, Mapping, Middlebox, NatLab, Need, NodeReport, Nsnode, Randomization,
    SERVER_ALT_IP, SERVER_IP, require,
};
use ice_tests::realnet::tasks::DiscoveryOptions;

fn ours() -> (SocketAddr, SocketAddr) {
    (
        SocketAddr::new(IpAddr::V4(SERVER_IP), 3478),
        SocketAddr::new(IpAddr::V4(SERVER_ALT_IP), 3479),
    )
}

fn stund() -> (SocketAddr, SocketAddr) {
    (
        SocketAddr::new(IpAddr::V4(SERVER_IP), 3480),
        SocketAddr::new(IpAddr::V4(SERVER_ALT_IP), 3481),
    )
}

fn client_ip() -> IpAddr {
    IpAddr::V4(CLIENT_IP)
}

fn nsnode() -> Nsnode {
    Nsnode::new(env!("CARGO_BIN_EXE_nsnode"))
}

/// Generous for namespaces (answers take microseconds) and a busy machine;
/// on a clean path one transaction per test decides.
fn options() -> DiscoveryOptions {
    DiscoveryOptions {
        max_transactions: 3,
        limit: Duration::from_secs(40),
        ..DiscoveryOptions::default()
    }
}

/// The longest a Debian `stun` run may take (it needs about a second).
const STUN_CLIENT_LIMIT: Duration = Duration::from_secs(20);

fn needs() {
    require(&[
        Need::Root,
        Need::Netns,
        Need::Nft,
        Need::Conntrack,
        Need::StunClient,
        Need::Stund,
    ]);
}

/// Everything the five clients reported.
struct Observed {
    rfc5780: NodeReport,
    classic_ours: NodeReport,
    classic_stund: NodeReport,
    debian_ours: StunClientReport,
    debian_stund: StunClientReport,
    /// The NAT's flows of the RFC 5780 mapping socket to the server.
    mapping_flows: Vec<Flow>,
}

fn debian(out: ice_tests::kernel_nat::Output, what: &str) -> StunClientReport {
    let all = format!("{}\n{}", out.stdout, out.stderr);
    assert!(
        out.status.is_some(),
        "{what}: `stun` did not finish within {STUN_CLIENT_LIMIT:?}:\n{all}"
    );
    parse_stun_client(&all)
        .unwrap_or_else(|| panic!("{what}: no `Primary:` line from `stun`:\n{all}"))
}

/// Builds the lab, runs the five clients at once, and collects.
fn observe(middlebox: Middlebox) -> (NatLab, Observed) {
    needs();
    let lab = NatLab::new(middlebox).unwrap_or_else(|e| panic!("{middlebox}: lab: {e}"));
    let node = nsnode();
    let (p, a) = ours();
    let (sp, sa) = stund();
    let _server = node
        .stun_server(&lab.server, p, a)
        .unwrap_or_else(|e| panic!("{middlebox}: our server: {e}"));
    let stund_args = stund_args(sp, sa);
    let stund_args: Vec<&str> = stund_args.iter().map(String::as_str).collect();
    let _stund = lab
        .server
        .spawn("stund", program(Need::Stund), &stund_args)
        .unwrap();
    lab.server
        .wait_udp_bound(&four_sockets(sp, sa), Duration::from_secs(10))
        .unwrap_or_else(|e| panic!("{middlebox}: stund did not start: {e}"));

    let o = options();
    let rfc5780 = node.start_rfc5780(&lab.client, p, client_ip(), &o).unwrap();
    let classic_ours = node.start_classic(&lab.client, p, client_ip(), &o).unwrap();
    let classic_stund = node
        .start_classic(
            &lab.client,
            sp,
            client_ip(),
            &DiscoveryOptions {
                rfc3489_requests: true,
                ..o.clone()
            },
        )
        .unwrap();
    // Ports below the ephemeral range, so they never meet our sockets'.
    let stun = program(Need::StunClient);
    let args1 = stun_client_args(p, 20000, None);
    let args2 = stun_client_args(sp, 20010, None);
    let debian_ours = lab
        .client
        .spawn(
            "stun",
            &stun,
            &args1.iter().map(String::as_str).collect::<Vec<_>>(),
        )
        .unwrap();
    let debian_stund = lab
        .client
        .spawn(
            "stun",
            &stun,
            &args2.iter().map(String::as_str).collect::<Vec<_>>(),
        )
        .unwrap();

    let rfc5780 = rfc5780
        .finish()
        .unwrap_or_else(|e| panic!("{middlebox}: RFC 5780 discovery: {e}"));
    let mapping_flows = match rfc5780.sockets().first() {
        Some(&socket) if middlebox.is_nat() => conntrack::flows_from(&lab.nat, socket)
            .unwrap()
            .into_iter()
            .filter(|f| four_sockets(p, a).contains(&f.original.1))
            .collect(),
        _ => Vec::new(),
    };
    let observed = Observed {
        rfc5780,
        classic_ours: classic_ours
            .finish()
            .unwrap_or_else(|e| panic!("{middlebox}: classic discovery: {e}")),
        classic_stund: classic_stund
            .finish()
            .unwrap_or_else(|e| panic!("{middlebox}: classic discovery against stund: {e}")),
        debian_ours: debian(debian_ours.finish(STUN_CLIENT_LIMIT), "stun against ours"),
        debian_stund: debian(debian_stund.finish(STUN_CLIENT_LIMIT), "stun against stund"),
        mapping_flows,
    };
    (lab, observed)
}

/// The name our single-socket classic flow gets behind `m`: the
/// configuration's. It checks the mapping at the changed IP and the
/// primary port, because connection tracking keeps test II's answer
/// (admitted or not) as a flow from the changed IP *and port*:
///
/// - behind endpoint-independent filtering the admitted answer is a
///   tracked flow, and a check to that same address rode it back out with
///   the first mapping, so ADM and APDM looked like Full Cone;
/// - without an input firewall the refused answer became an unreplied
///   flow holding the tuple, and a check to that address could not keep
///   its port, so a port-restricted cone looked Symmetric.
///
/// Both happened when the flow followed RFC 3489 to the letter (the check
/// to CHANGED-ADDRESS itself); a check at the primary port avoids them, as
/// Debian's `stun` does (see `candidate_gather::nat::classic`).
fn classic_flow(m: &Middlebox) -> ClassicNat {
    m.expected().classic
}

fn field(r: &NodeReport, key: &str) -> Option<String> {
    r.known(key).map(str::to_owned)
}

/// Runs every client behind `m` and checks every result.
fn check(m: Middlebox) -> (NatLab, Observed) {
    let (lab, o) = observe(m);
    let e = m.expected();
    let r = &o.rfc5780;
    let ctx = format!("{m}\nRFC 5780 report:\n{}", r.raw);
    eprintln!(
        "{m}: RFC 5780 {} {} {} port={} hairpinning={} classic={} | stun/ours {:?} | stun/stund {:?} | classic/ours {} | classic/stund {} | {} ms",
        r.get("udp").unwrap_or("-"),
        r.get("mapping").unwrap_or("-"),
        r.get("filtering").unwrap_or("-"),
        r.get("port").unwrap_or("-"),
        r.get("hairpinning").unwrap_or("-"),
        r.get("classic").unwrap_or("-"),
        o.debian_ours.primary_line,
        o.debian_stund.primary_line,
        o.classic_ours.get("classic").unwrap_or("-"),
        o.classic_stund.get("classic").unwrap_or("-"),
        r.get("elapsed_ms").unwrap_or("-"),
    );

    // 1. RFC 5780 discovery reports the configuration.
    assert_eq!(field(r, "udp"), Some(e.udp.to_string()), "{ctx}");
    assert_eq!(
        field(r, "classic"),
        Some(format!("{:?}", e.classic)),
        "{ctx}"
    );
    if e.udp {
        assert_eq!(
            field(r, "mapping"),
            Some(format!("{:?}", e.mapping)),
            "{ctx}"
        );
        assert_eq!(
            field(r, "filtering"),
            Some(format!("{:?}", e.filtering)),
            "{ctx}"
        );
        assert_eq!(field(r, "port"), e.port.map(|p| format!("{p:?}")), "{ctx}");
        assert_eq!(
            field(r, "hairpinning"),
            e.hairpinning.map(|h| h.to_string()),
            "{ctx}"
        );
        assert_eq!(r.known("bad_source"), Some("0"), "{ctx}");
    }
    if m.is_nat() {
        assert_eq!(
            r.mapped().map(|a| a.ip()),
            Some(IpAddr::V4(ice_tests::kernel_nat::EXTERNAL_IP)),
            "{ctx}"
        );
    }

    // The NAT's flow table agrees on the mapping, without any STUN.
    if m.is_nat() {
        let mut external: Vec<SocketAddr> = o.mapping_flows.iter().map(Flow::mapped).collect();
        external.sort();
        external.dedup();
        let want = match e.mapping {
            M::EndpointIndependent => 1,
            M::AddressDependent => 2,
            _ => 3,
        };
        assert_eq!(
            external.len(),
            want,
            "{ctx}\nflows of the mapping socket: {:#?}",
            o.mapping_flows
        );
    }

    // 2, 3. Debian's client names the same type, against both servers.
    for (d, server) in [(&o.debian_ours, "ours"), (&o.debian_stund, "stund")] {
        let what = format!("{m}: Debian stun against {server}: {}", d.primary_line);
        assert_eq!(d.nat.classic(), Some(e.classic), "{what}");
        if m.is_nat() {
            let preserving = e.port == Some(PortAssignment::Preserving);
            assert_eq!(d.preserves_ports, Some(preserving), "{what}");
            let hairpin = matches!(
                m,
                Middlebox::Nat(KernelNat {
                    hairpinning: true,
                    ..
                })
            );
            assert_eq!(d.hairpin, Some(hairpin), "{what}");
        }
    }
    // Debian's mapped address is what our discovery saw (same NAT IP; the
    // port is per socket).
    if m.is_nat() {
        assert_eq!(
            o.debian_ours.mapped.map(|a| a.ip()),
            r.mapped().map(|a| a.ip())
        );
    }

    // 4, 5. The classic flow, against ours and against stund.
    let want = format!("{:?}", classic_flow(&m));
    assert_eq!(
        field(&o.classic_ours, "classic"),
        Some(want.clone()),
        "{m}: classic flow against ours\n{}",
        o.classic_ours.raw
    );
    assert_eq!(
        field(&o.classic_stund, "classic"),
        Some(want),
        "{m}: classic flow against stund\n{}",
        o.classic_stund.raw
    );
    (lab, o)
}

fn nat(mapping: Mapping, filtering: F) -> Middlebox {
    Middlebox::nat(mapping, filtering)
}

const EIM: Mapping = Mapping::EndpointIndependent;
const ADM: Mapping = Mapping::AddressDependent;
const APDM: Mapping = Mapping::AddressAndPortDependent(Randomization::Random);

// ----- no NAT -----

#[test]
fn router_is_open_internet() {
    check(Middlebox::Router);
}

#[test]
fn firewall_address_dependent() {
    check(Middlebox::Firewall(F::AddressDependent));
}

#[test]
fn firewall_address_and_port_dependent() {
    check(Middlebox::Firewall(F::AddressAndPortDependent));
}

#[test]
fn udp_blocked() {
    check(Middlebox::BlockUdp);
}

// ----- endpoint-independent mapping: masquerade -----

#[test]
fn masquerade_full_cone() {
    check(nat(EIM, F::EndpointIndependent));
}

#[test]
fn masquerade_full_cone_hairpinning() {
    check(Middlebox::Nat(KernelNat {
        mapping: EIM,
        filtering: F::EndpointIndependent,
        hairpinning: true,
        input_firewall: true,
    }));
}

#[test]
fn masquerade_restricted_cone() {
    check(nat(EIM, F::AddressDependent));
}

#[test]
fn masquerade_port_restricted_cone() {
    check(nat(EIM, F::AddressAndPortDependent));
}

/// Plain `masquerade` with nothing else: a port-restricted cone for every
/// client. The flow table shows the trap the classic flow avoids: the
/// refused test II answer is an unreplied flow from CHANGED-ADDRESS to the
/// mapped address, so a request to CHANGED-ADDRESS itself would get
/// another port; the mapping check at the changed IP and the primary port
/// keeps the mapping.
#[test]
fn masquerade_without_input_firewall() {
    let m = Middlebox::Nat(KernelNat {
        mapping: EIM,
        filtering: F::AddressAndPortDependent,
        hairpinning: false,
        input_firewall: false,
    });
    let (lab, o) = check(m);
    let socket = *o.classic_ours.sockets().first().unwrap();
    let mapped = o.classic_ours.mapped().unwrap();
    let (primary, changed) = ours();
    let flows = conntrack::udp_flows(&lab.nat).unwrap();
    let refused = flows
        .iter()
        .find(|f| f.original == (changed, mapped))
        .unwrap_or_else(|| panic!("no tracked flow {changed} -> {mapped}: {flows:#?}"));
    assert!(!refused.replied, "{refused:?}");
    let check_to = SocketAddr::new(changed.ip(), primary.port());
    let out = flows
        .iter()
        .find(|f| f.original == (socket, check_to))
        .unwrap_or_else(|| panic!("no flow {socket} -> {check_to}: {flows:#?}"));
    assert_eq!(out.mapped(), mapped, "{out:?}");
}

// ----- address-dependent mapping: snat per destination address -----

#[test]
fn address_dependent_mapping_open_filter() {
    check(nat(ADM, F::EndpointIndependent));
}

#[test]
fn address_dependent_mapping_address_dependent_filter() {
    check(nat(ADM, F::AddressDependent));
}

#[test]
fn address_dependent_mapping_port_dependent_filter() {
    check(nat(ADM, F::AddressAndPortDependent));
}

// ----- address- and port-dependent mapping: masquerade random -----

#[test]
fn random_ports_open_filter() {
    check(nat(APDM, F::EndpointIndependent));
}

#[test]
fn random_ports_address_dependent_filter() {
    check(nat(APDM, F::AddressDependent));
}

#[test]
fn random_ports_symmetric() {
    check(nat(APDM, F::AddressAndPortDependent));
}

#[test]
fn fully_random_ports_symmetric() {
    check(nat(
        Mapping::AddressAndPortDependent(Randomization::FullyRandom),
        F::AddressAndPortDependent,
    ));
}

// ----- the harness -----

/// A test that fails half-way (here: panics with a lab built and our
/// server running in it) leaves no namespace and no process behind.
#[test]
fn a_panicking_test_leaves_nothing_behind() {
    needs();
    let mut names = Vec::new();
    let mut pid = 0;
    let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        let lab = NatLab::new(nat(EIM, F::AddressAndPortDependent)).unwrap();
        names = [&lab.client, &lab.nat, &lab.server]
            .map(|ns| ns.name().to_owned())
            .to_vec();
        let (p, a) = ours();
        let server = nsnode().stun_server(&lab.server, p, a).unwrap();
        pid = server.pid();
        panic!("on purpose, with the lab up");
    }));
    assert!(outcome.is_err());
    let list = std::process::Command::new(program(Need::Netns))
        .args(["netns", "list"])
        .output()
        .unwrap();
    let list = String::from_utf8_lossy(&list.stdout);
    for name in &names {
        assert!(
            !list.contains(name.as_str()),
            "{name} is still there:\n{list}"
        );
    }
    // Killed and reaped: its /proc entry is gone (or, if the pid was
    // reused in between, it is not our server).
    let cmdline = std::fs::read_to_string(format!("/proc/{pid}/cmdline")).unwrap_or_default();
    assert!(
        !cmdline.contains("nsnode"),
        "server {pid} still runs: {cmdline}"
    );
}

// ----- the kernel itself -----

/// Sends one datagram from `from` to each of `to`, inside `lab`'s client.
fn udp_send(lab: &NatLab, from: SocketAddr, to: &[SocketAddr]) {
    let mut args = vec!["udp-send".to_owned(), "--bind".into(), from.to_string()];
    for t in to {
        args.extend(["--to".to_owned(), t.to_string()]);
    }
    nsnode()
        .run(&lab.client, &args, Duration::from_secs(10))
        .unwrap();
}

/// nft(8): "random: In kernel 5.0 and newer this is the same as
/// fully-random. In earlier kernels the port mapping will be randomized
/// using a seeded MD5 hash mix using source and destination address and
/// destination port." The folklore that `random` gives each destination
/// its own but stable port (a hash) is about those old kernels: here the
/// same flow, made again after its conntrack entry is gone, gets a new
/// port, as with `fully-random`; and neither keeps the local port even
/// when it is free. Plain `masquerade` keeps it for every destination.
#[test]
fn random_and_fully_random_draw_a_new_port_for_every_flow() {
    needs();
    let from = SocketAddr::new(client_ip(), 41000);
    let (p, a) = ours();
    let destinations = [p, SocketAddr::new(p.ip(), a.port()), a];
    for (mapping, fresh) in [
        (
            Mapping::AddressAndPortDependent(Randomization::Random),
            true,
        ),
        (
            Mapping::AddressAndPortDependent(Randomization::FullyRandom),
            true,
        ),
        (Mapping::EndpointIndependent, false),
    ] {
        let lab = NatLab::new(nat(mapping, F::AddressAndPortDependent)).unwrap();
        let mut ports = Vec::new();
        for _round in 0..3 {
            conntrack::flush(&lab.nat).unwrap();
            udp_send(&lab, from, &destinations);
            let flows = conntrack::flows_from(&lab.nat, from).unwrap();
            assert_eq!(flows.len(), 3, "{mapping:?}: {flows:#?}");
            ports.extend(flows.iter().map(|f| f.mapped().port()));
        }
        let kept = ports.iter().filter(|&&port| port == from.port()).count();
        let mut distinct = ports.clone();
        distinct.sort_unstable();
        distinct.dedup();
        eprintln!("{mapping:?}: mapped ports of 3 rounds x 3 destinations: {ports:?}");
        if fresh {
            // Nine draws from ~64k ports: two coincidences are one in
            // several million.
            assert!(distinct.len() >= 8, "{mapping:?}: {ports:?}");
            assert!(kept <= 1, "{mapping:?}: {ports:?}");
        } else {
            assert_eq!(kept, 9, "{mapping:?}: {ports:?}");
        }
    }
}

/// Masquerade's endpoint independence is by design, not a side effect of
/// keeping ports: `nf_nat_core` first looks up the mapping the same inside
/// address and port already has ("If this srcip/proto/src-proto-part is
/// currently mapped, and that same mapping gives a unique tuple within the
/// given range, use that"), and only then tries the local port, then any.
/// So a second inside host whose port is taken towards one server gets
/// another port there, and keeps that same port towards another server
/// where its own would have been free. (`random` and `fully-random` skip
/// the lookup, hence a new port per flow.)
#[test]
fn masquerade_reuses_a_sockets_mapping_even_when_its_port_was_taken() {
    needs();
    let lab = NatLab::new(nat(EIM, F::AddressAndPortDependent)).unwrap();
    lab.client
        .ip(&["addr", "add", "10.0.0.3/24", "dev", "lan"])
        .unwrap();
    let first = SocketAddr::new(client_ip(), 41000);
    let second: SocketAddr = "10.0.0.3:41000".parse().unwrap();
    let (p, a) = ours();
    udp_send(&lab, first, &[p]);
    udp_send(&lab, second, &[p, a]);
    let mapped = |from: SocketAddr, to: SocketAddr| {
        conntrack::flows_from(&lab.nat, from)
            .unwrap()
            .into_iter()
            .find(|f| f.original.1 == to)
            .unwrap()
            .mapped()
    };
    assert_eq!(mapped(first, p).port(), 41000);
    let taken = mapped(second, p);
    assert_ne!(taken.port(), 41000);
    assert_eq!(mapped(second, a), taken);
}
