//! Interop with Debian's classic STUN tools (Vovida 0.97, RFC 3489):
//!
//! - Debian's `stun` client (package `stun-client`) against our RFC 5780
//!   server on plain loopback, 127.0.0.1 and 127.0.0.2: no NAT, so "Open",
//!   with every one of its tests answered;
//! - our `ClassicDiscovery` (RFC 3489 and RFC 5389 requests) and our
//!   `Rfc5780Discovery` against `stund` (package `stun-server`) on the
//!   loopback of a namespace of their own (two addresses, no port clashes
//!   with anything): Open Internet; and Debian's client against `stund`
//!   there, as the baseline.
//!
//! Behind real NATs both tools are exercised for every configuration in
//! `kernel_nat.rs`.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::net::{IpAddr, SocketAddr, UdpSocket};
use std::process::Command;
use std::time::Duration;

use candidate_gather::nat::ClassicNat;
use ice_tests::debian_stun::{
    StunNatType, four_sockets, parse_stun_client, stun_client_args, stund_args,
};
use ice_tests::kernel_nat::process::Background;
use ice_tests::kernel_nat::require::program;
use ice_tests::kernel_nat::{Need, Netns, Nsnode, require};
use ice_tests::realnet::RealNet;
use ice_tests::realnet::tasks::{self, DiscoveryOptions};
use turn_server::StunServer;

const LIMIT: Duration = Duration::from_secs(20);

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

/// A port P such that P and P + 1 are free for UDP on `ip` (Debian's
/// client binds both without retrying). Another process could take them
/// before the client does; that window is short.
fn free_port_pair(ip: IpAddr) -> u16 {
    for _ in 0..100 {
        let a = UdpSocket::bind((ip, 0)).unwrap();
        let p = a.local_addr().unwrap().port();
        if p < u16::MAX && UdpSocket::bind((ip, p + 1)).is_ok() {
            return p;
        }
    }
    panic!("no two consecutive free UDP ports");
}

#[test]
fn debian_stun_client_finds_our_loopback_server_open() {
    require(&[Need::StunClient]);
    let mut net = RealNet::new();
    let (server, primary, _) =
        tasks::add_stun_server_any_ports(&mut net, ip("127.0.0.1"), ip("127.0.0.2")).unwrap();
    // Its sockets on 127.0.0.1 (`-i`): nothing leaves loopback.
    let port = free_port_pair(ip("127.0.0.1"));
    let mut cmd = Command::new(program(Need::StunClient));
    cmd.args(stun_client_args(primary, port, Some(ip("127.0.0.1"))));
    let mut client = Background::spawn("stun", &mut cmd).unwrap();
    // Serve until the client exits.
    let exited = net.run_until(LIMIT, |_| !client.is_running());
    let out = client.finish(Duration::from_secs(1));
    let all = format!("{}\n{}", out.stdout, out.stderr);
    assert!(exited, "stun did not finish within {LIMIT:?}:\n{all}");
    let r = parse_stun_client(&all).unwrap_or_else(|| panic!("no `Primary:` line:\n{all}"));
    eprintln!(
        "Debian stun against our loopback server: {}",
        r.primary_line
    );
    assert_eq!(r.nat, StunNatType::Open, "{all}");
    assert_eq!(r.nat.classic(), Some(ClassicNat::OpenInternet));
    assert_eq!(
        r.mapped,
        Some(SocketAddr::new(ip("127.0.0.1"), port)),
        "{all}"
    );
    // Tests I, II (change IP), III (change port) and I(2) (other IP) were
    // all answered by our server.
    for test in ["test I", "test II", "test III", "test I(2)"] {
        assert_eq!(r.tests.get(test), Some(&true), "{test}\n{all}");
    }
    let stats = net.endpoint::<StunServer>(server).stats();
    assert!(stats.successes >= 4, "{stats:?}");
    assert_eq!(stats.errors, 0, "{stats:?}");
}

#[test]
fn our_discovery_against_stund_on_loopback_finds_open_internet() {
    require(&[Need::Root, Need::Netns, Need::Stund, Need::StunClient]);
    let ns = Netns::new("stund").unwrap();
    let primary: SocketAddr = "127.0.0.1:3478".parse().unwrap();
    let alternate: SocketAddr = "127.0.0.2:3479".parse().unwrap();
    let args = stund_args(primary, alternate);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let _stund = ns.spawn("stund", program(Need::Stund), &args).unwrap();
    ns.wait_udp_bound(&four_sockets(primary, alternate), Duration::from_secs(10))
        .unwrap_or_else(|e| panic!("stund did not start: {e}"));
    let node = Nsnode::new(env!("CARGO_BIN_EXE_nsnode"));
    let local = ip("127.0.0.1");

    for rfc3489_requests in [true, false] {
        let o = DiscoveryOptions {
            rfc3489_requests,
            limit: LIMIT,
            max_transactions: 3,
            ..DiscoveryOptions::default()
        };
        let c = node.classic(&ns, primary, local, &o).unwrap();
        eprintln!(
            "ClassicDiscovery (RFC 3489 requests: {rfc3489_requests}) against stund:\n{}",
            c.raw
        );
        assert_eq!(c.known("classic"), Some("OpenInternet"), "{}", c.raw);
        assert_eq!(c.mapped(), c.sockets().first().copied(), "{}", c.raw);

        // stund knows nothing of RFC 5780, but its CHANGED-ADDRESS and
        // CHANGE-REQUEST are what RFC 5780 discovery needs on an open path.
        let r = node.rfc5780(&ns, primary, local, &o).unwrap();
        eprintln!(
            "Rfc5780Discovery (RFC 3489 requests: {rfc3489_requests}) against stund:\n{}",
            r.raw
        );
        assert_eq!(r.known("mapping"), Some("NoNat"), "{}", r.raw);
        assert_eq!(
            r.known("filtering"),
            Some("EndpointIndependent"),
            "{}",
            r.raw
        );
        assert_eq!(r.known("classic"), Some("OpenInternet"), "{}", r.raw);
    }

    // The baseline: Debian's client against Debian's server.
    let args = stun_client_args(primary, 20000, None);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let out = ns.run(program(Need::StunClient), &args, LIMIT).unwrap();
    let all = format!("{}\n{}", out.stdout, out.stderr);
    let r = parse_stun_client(&all).unwrap_or_else(|| panic!("no `Primary:` line:\n{all}"));
    assert_eq!(r.nat, StunNatType::Open, "{all}");
}
