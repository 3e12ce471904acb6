//! Dual-stack agents (RFC 8421, RFC 8445 §5.1.2.2): IPv6 and IPv4 host
//! candidates interleave in priority with IPv6 first, pairs never mix the
//! families, an IPv6 path wins when both work, and IPv4 carries the
//! connection when IPv6 does not reach.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use ice::{AgentConfig, Event, Role};
use ice_tests::ice_pair::{IcePair, Peer, Signalling};
use ice_tests::netsim::{Link, NatConfig, NetworkId, Sim, seed};
use turn_server::{StunServer, StunServerConfig};

const STUN: &str = "198.51.100.1:3478";

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

fn world(s: u64) -> Sim {
    let mut sim = Sim::new(s);
    let inet = sim.internet();
    sim.set_link(
        inet,
        Link {
            latency: Duration::from_millis(20),
            jitter: Duration::from_millis(5),
            ..Link::default()
        },
    );
    let stun: SocketAddr = STUN.parse().unwrap();
    sim.add_host(
        inet,
        &[stun.ip()],
        StunServer::new(StunServerConfig::new(stun)),
    );
    sim
}

fn peer(role: Role, s: u64, index: u64, ips: &[&str], sim: &Sim) -> Peer {
    let mut c = AgentConfig::new(role, seed::derive_seed(s, index));
    c.stun_servers = vec![STUN.parse().unwrap()];
    Peer::new(
        c,
        sim.now(),
        ips.iter().map(|a| SocketAddr::new(ip(a), 5000)).collect(),
    )
}

/// Two agents at `a` and `b` (network, addresses); runs until both
/// are connected and returns the selected pair of each, as addresses.
fn connect(
    sim: &mut Sim,
    s: u64,
    a: (NetworkId, &[&str]),
    b: (NetworkId, &[&str]),
) -> [(SocketAddr, SocketAddr); 2] {
    let pa = peer(Role::Controlling, s, 1, a.1, sim);
    let pb = peer(Role::Controlled, s, 2, b.1, sim);
    // Both families are announced, IPv6 first (RFC 8421 §4).
    for p in [&pa, &pb] {
        let hosts: Vec<(bool, u32)> = p
            .log
            .iter()
            .filter_map(|(_, e)| match e {
                Event::LocalCandidate { candidate, .. } => candidate
                    .socket_addr()
                    .map(|s| (s.is_ipv6(), candidate.priority)),
                _ => None,
            })
            .collect();
        let best = hosts.iter().max_by_key(|(_, prio)| *prio);
        if hosts.iter().any(|(v6, _)| *v6) {
            assert!(best.is_some_and(|(v6, _)| *v6), "IPv6 first: {hosts:?}");
        }
    }
    let ipa: Vec<IpAddr> = a.1.iter().map(|x| ip(x)).collect();
    let ipb: Vec<IpAddr> = b.1.iter().map(|x| ip(x)).collect();
    let mut pair = IcePair::new(sim, (a.0, pa, &ipa), (b.0, pb, &ipb), Signalling::default());
    // Connected, not completed: the IPv6 checks that go nowhere run out
    // their 39.5 s before the checklist completes.
    assert!(
        pair.run(sim, Duration::from_secs(10), IcePair::connected),
        "did not connect"
    );
    [pair.a, pair.b].map(|h| {
        let (l, r) = sim.endpoint::<Peer>(h).selected().unwrap();
        (l.socket_addr().unwrap(), r.socket_addr().unwrap())
    })
}

#[test]
fn dual_stack_agents_on_the_internet_select_ipv6() {
    seed::for_each_seed(5, |s| {
        let mut sim = world(s);
        let inet = sim.internet();
        let sel = connect(
            &mut sim,
            s,
            (inet, &["2001:db8::a", "192.0.2.1"]),
            (inet, &["2001:db8::b", "192.0.2.2"]),
        );
        for (l, r) in sel {
            assert!(l.is_ipv6() && r.is_ipv6(), "{l} -> {r}");
        }
    });
}

#[test]
fn a_dual_stack_agent_reaches_an_ipv4_only_peer_over_ipv4() {
    seed::for_each_seed(5, |s| {
        let mut sim = world(s);
        let inet = sim.internet();
        let sel = connect(
            &mut sim,
            s,
            (inet, &["2001:db8::a", "192.0.2.1"]),
            (inet, &["192.0.2.2"]),
        );
        for (l, r) in sel {
            assert!(l.is_ipv4() && r.is_ipv4(), "{l} -> {r}");
        }
    });
}

/// B's IPv6 address is a ULA behind an IPv4-only NAT: IPv6 checks go
/// nowhere, and the agents settle on IPv4 through B's NAT.
#[test]
fn when_ipv6_does_not_reach_ipv4_carries_the_connection() {
    seed::for_each_seed(5, |s| {
        let mut sim = world(s);
        let inet = sim.internet();
        let n = sim.add_nat(
            inet,
            NatConfig::port_restricted_cone(),
            &[ip("203.0.113.2")],
        );
        let lan = sim.nat_inside(n);
        sim.set_link(lan, Link::with_latency(Duration::from_millis(1)));
        let sel = connect(
            &mut sim,
            s,
            (inet, &["2001:db8::a", "192.0.2.1"]),
            (lan, &["fd00::20", "192.168.2.20"]),
        );
        for (l, r) in sel {
            assert!(l.is_ipv4() && r.is_ipv4(), "{l} -> {r}");
        }
    });
}
