//! Helpers shared by the netsim suites: address parsing and the standard
//! topology of RFC 4787 tests (a client behind one NAT, two servers).
#![allow(dead_code, clippy::unwrap_used)]

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use ice_tests::netsim::{HostId, NatConfig, NatId, NetworkId, Probe, Sim};
use stun_proto::Transmit;

/// Server 1 (TEST-NET-2, RFC 5737).
pub const S1: &str = "198.51.100.1";
/// Server 2.
pub const S2: &str = "198.51.100.2";
/// The NAT's external address (TEST-NET-3).
pub const NAT_IP: &str = "203.0.113.1";
/// The client's private address (RFC 1918).
pub const CLIENT: &str = "192.168.1.10";

pub fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

pub fn sa(s: &str) -> SocketAddr {
    s.parse().unwrap()
}

pub fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

pub fn secs(n: u64) -> Duration {
    Duration::from_secs(n)
}

pub fn udp(from: &str, to: &str, data: &[u8]) -> Transmit {
    Transmit {
        from: sa(from),
        to: sa(to),
        data: data.to_vec(),
    }
}

/// The Internet with servers S1 and S2 (probes), and a client (a probe)
/// at 192.168.1.10 behind a NAT at 203.0.113.1. All links ideal.
pub struct Setup {
    pub sim: Sim,
    pub nat: NatId,
    pub lan: NetworkId,
    pub client: HostId,
    pub s1: HostId,
    pub s2: HostId,
}

impl Setup {
    pub fn new(seed: u64, config: NatConfig) -> Setup {
        let mut sim = Sim::new(seed);
        let inet = sim.internet();
        let nat = sim.add_nat(inet, config, &[ip(NAT_IP)]);
        let lan = sim.nat_inside(nat);
        let client = sim.add_host(lan, &[ip(CLIENT)], Probe::new());
        let s1 = sim.add_host(inet, &[ip(S1)], Probe::new());
        let s2 = sim.add_host(inet, &[ip(S2)], Probe::new());
        Setup {
            sim,
            nat,
            lan,
            client,
            s1,
            s2,
        }
    }

    /// Sends from `host` and lets the datagram travel (1 ms of virtual time).
    pub fn send(&mut self, host: HostId, from: &str, to: &str) {
        self.sim.inject(host, udp(from, to, b"probe"));
        self.sim.run_for(ms(1));
    }

    /// The remote endpoints `host` has received from, in order.
    pub fn remotes(&self, host: HostId) -> Vec<SocketAddr> {
        self.sim.endpoint::<Probe>(host).remotes()
    }
}
