//! Topology and routing: networks, the hosts on them, and the middleboxes
//! (NATs, firewalls, routers) that join them into a tree.
//!
//! The root is the Internet. Every middlebox joins an outside network to an
//! inside network of its own, so the networks form a tree and routing needs
//! no tables. A datagram on network N addressed to IP d goes:
//!
//! 1. to the host on N holding d, if any;
//! 2. else down into a middlebox attached to N that claims d: a NAT claims
//!    its external addresses (RFC 4787 §4), a non-translating box claims
//!    whatever is reachable behind it;
//! 3. else up through the middlebox whose inside network N is (for a NAT,
//!    after translation, and back down if it hairpins, RFC 4787 §6);
//! 4. else, on the Internet, it is dropped as unroutable.
//!
//! Addresses are unique per network, not globally: two home networks may
//! both hold 192.168.1.10 (RFC 1918 §3).
//!
//! Step 2 is a lookup, not a scan of the network's middleboxes: each network
//! keeps an index (`Network::claimed`) of the addresses its middleboxes
//! claim, updated whenever a host or a NAT is added (the only changes to
//! what a box claims). Since an address may be claimed only once where it is
//! visible (`Topology::claim`), the box the index names is the one a scan of
//! the middleboxes in creation order would have found, so routing with
//! thousands of NATs on the Internet costs O(log n) per hop.

use std::collections::BTreeMap;
use std::fmt;
use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use rand_core::Rng;

use super::DropReason;
use super::firewall::Firewall;
use super::link::Link;
use super::nat::{Nat, Outbound};
use super::pcap::Capture;

/// A network (subnet) of the simulation.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct NetworkId(pub(crate) usize);

/// A host: one endpoint attached to a network with one or more IPs.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct HostId(pub(crate) usize);

/// A middlebox: a NAT, a firewall or a router, joining its outside network
/// to an inside network of its own.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct NatId(pub(crate) usize);

impl fmt::Display for NetworkId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "net{}", self.0)
    }
}

impl fmt::Display for HostId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "host{}", self.0)
    }
}

impl fmt::Display for NatId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "box{}", self.0)
    }
}

/// A UDP datagram in flight.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Packet {
    pub(crate) src: SocketAddr,
    pub(crate) dst: SocketAddr,
    pub(crate) data: Vec<u8>,
    /// Networks entered so far (a guard against routing loops).
    pub(crate) hops: u8,
}

impl Packet {
    pub(crate) fn new(src: SocketAddr, dst: SocketAddr, data: Vec<u8>) -> Packet {
        Packet {
            src,
            dst,
            data,
            hops: 0,
        }
    }
}

/// The most networks a datagram may enter (the IPv4 TTL of RFC 791 §3.2).
pub(crate) const MAX_HOPS: u8 = 64;

pub(crate) struct Network {
    pub(crate) link: Link,
    /// The middlebox whose inside this network is; `None` for the Internet.
    pub(crate) parent: Option<NatId>,
    pub(crate) hosts: BTreeMap<IpAddr, HostId>,
    /// Middleboxes whose outside network this is, in creation order.
    pub(crate) children: Vec<NatId>,
    /// Every address a box in `children` claims, with that box: the
    /// external addresses of a NAT, and whatever is reachable behind a
    /// firewall or router (its inside network's hosts and `claimed`, and so
    /// on down). `Topology::claim` keeps an address from being claimed
    /// twice, so the box is unique.
    pub(crate) claimed: BTreeMap<IpAddr, NatId>,
    pub(crate) capture: Option<Capture>,
}

pub(crate) enum BoxKind {
    Nat(Nat),
    Firewall(Firewall),
}

pub(crate) struct Middlebox {
    pub(crate) outside: NetworkId,
    pub(crate) inside: NetworkId,
    pub(crate) kind: BoxKind,
}

/// Where a datagram on a network goes next.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Route {
    Host(HostId),
    Down(NatId),
    Up(NatId),
    Unroutable,
}

pub(crate) struct Topology {
    pub(crate) networks: Vec<Network>,
    pub(crate) boxes: Vec<Middlebox>,
}

impl Topology {
    /// A topology with only the Internet, `NetworkId(0)`.
    pub(crate) fn new() -> Topology {
        let mut t = Topology {
            networks: Vec::new(),
            boxes: Vec::new(),
        };
        t.push_network(None);
        t
    }

    fn push_network(&mut self, parent: Option<NatId>) -> NetworkId {
        self.networks.push(Network {
            link: Link::default(),
            parent,
            hosts: BTreeMap::new(),
            children: Vec::new(),
            claimed: BTreeMap::new(),
            capture: None,
        });
        NetworkId(self.networks.len() - 1)
    }

    pub(crate) fn network(&self, id: NetworkId) -> &Network {
        &self.networks[id.0]
    }

    pub(crate) fn network_mut(&mut self, id: NetworkId) -> &mut Network {
        &mut self.networks[id.0]
    }

    pub(crate) fn middlebox(&self, id: NatId) -> &Middlebox {
        &self.boxes[id.0]
    }

    /// Panics if `ip` is already in use where it would be visible from
    /// `net`: held on `net` or behind it, or, when `net` is behind
    /// firewalls or routers, on the networks they face. That is a mistake in
    /// the test's topology, not a condition to simulate.
    fn claim(&self, net: NetworkId, ip: IpAddr) {
        assert!(
            !self.reachable_below(net, ip),
            "netsim: address {ip} is already in use on {net}"
        );
        if let Some(parent) = self.network(net).parent {
            let b = self.middlebox(parent);
            if let BoxKind::Firewall(_) = b.kind {
                self.claim(b.outside, ip);
            }
        }
    }

    /// Records in the indexes that `ip`, just claimed with
    /// [`Topology::claim`], is reachable on `net` (held there or claimed by a
    /// box below it): the firewalls and routers `net` is behind now claim it
    /// on the networks they face, up to the first NAT or the Internet.
    fn index_up(&mut self, mut net: NetworkId, ip: IpAddr) {
        while let Some(parent) = self.network(net).parent {
            let b = self.middlebox(parent);
            let BoxKind::Firewall(_) = b.kind else {
                break;
            };
            net = b.outside;
            self.network_mut(net).claimed.insert(ip, parent);
        }
    }

    /// Attaches a middlebox to `outside` and creates its inside network.
    pub(crate) fn add_box(&mut self, outside: NetworkId, kind: BoxKind) -> NatId {
        // A firewall or router claims nothing yet: its inside is empty.
        let public_ips = match &kind {
            BoxKind::Nat(nat) => nat.public_ips().to_vec(),
            BoxKind::Firewall(_) => Vec::new(),
        };
        for ip in &public_ips {
            self.claim(outside, *ip);
        }
        let id = NatId(self.boxes.len());
        let inside = self.push_network(Some(id));
        self.boxes.push(Middlebox {
            outside,
            inside,
            kind,
        });
        self.network_mut(outside).children.push(id);
        for ip in public_ips {
            self.network_mut(outside).claimed.insert(ip, id);
            self.index_up(outside, ip);
        }
        id
    }

    /// Gives `host` the addresses `ips` on `net`.
    pub(crate) fn attach_host(&mut self, net: NetworkId, ips: &[IpAddr], host: HostId) {
        for ip in ips {
            self.claim(net, *ip);
            self.network_mut(net).hosts.insert(*ip, host);
            self.index_up(net, *ip);
        }
    }

    /// The next hop of a datagram on `net` addressed to `ip`.
    pub(crate) fn route(&self, net: NetworkId, ip: IpAddr) -> Route {
        let n = self.network(net);
        if let Some(h) = n.hosts.get(&ip) {
            return Route::Host(*h);
        }
        if let Some(b) = n.claimed.get(&ip) {
            return Route::Down(*b);
        }
        match n.parent {
            Some(b) => Route::Up(b),
            None => Route::Unroutable,
        }
    }

    /// Whether `ip` is held on `net` or claimed by a box below it.
    fn reachable_below(&self, net: NetworkId, ip: IpAddr) -> bool {
        let n = self.network(net);
        n.hosts.contains_key(&ip) || n.claimed.contains_key(&ip)
    }

    /// Passes a datagram from a box's outside to its inside.
    pub(crate) fn forward_down(
        &mut self,
        id: NatId,
        now: Duration,
        pkt: Packet,
    ) -> Result<(NetworkId, Packet), DropReason> {
        let b = &mut self.boxes[id.0];
        let pkt = match &mut b.kind {
            BoxKind::Nat(nat) => nat.inbound(now, pkt)?,
            BoxKind::Firewall(fw) => fw.inbound(now, pkt)?,
        };
        Ok((b.inside, pkt))
    }

    /// Passes a datagram from a box's inside to its outside, or back inside
    /// when a NAT hairpins it.
    pub(crate) fn forward_up<R: Rng + ?Sized>(
        &mut self,
        id: NatId,
        now: Duration,
        rng: &mut R,
        pkt: Packet,
    ) -> Result<(NetworkId, Packet), DropReason> {
        let b = &mut self.boxes[id.0];
        match &mut b.kind {
            BoxKind::Nat(nat) => match nat.outbound(now, rng, pkt)? {
                Outbound::Forward(p) => Ok((b.outside, p)),
                Outbound::Hairpin(p) => Ok((b.inside, p)),
            },
            BoxKind::Firewall(fw) => Ok((b.outside, fw.outbound(now, pkt)?)),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::net::Ipv4Addr;
    use std::panic::{AssertUnwindSafe, catch_unwind};

    use rand_chacha::ChaCha8Rng;
    use rand_core::SeedableRng;

    use super::super::firewall::FirewallConfig;
    use super::super::nat::NatConfig;
    use super::*;

    // The routing of the simulator before the indexes: a scan of every
    // network's middleboxes in creation order, recursing through firewalls.

    fn scan_claims(t: &Topology, id: NatId, ip: IpAddr) -> bool {
        let b = t.middlebox(id);
        match &b.kind {
            BoxKind::Nat(nat) => nat.owns(ip),
            BoxKind::Firewall(_) => scan_reachable_below(t, b.inside, ip),
        }
    }

    fn scan_reachable_below(t: &Topology, net: NetworkId, ip: IpAddr) -> bool {
        let n = t.network(net);
        n.hosts.contains_key(&ip) || n.children.iter().any(|b| scan_claims(t, *b, ip))
    }

    fn scan_route(t: &Topology, net: NetworkId, ip: IpAddr) -> Route {
        let n = t.network(net);
        if let Some(h) = n.hosts.get(&ip) {
            return Route::Host(*h);
        }
        if let Some(b) = n.children.iter().find(|b| scan_claims(t, **b, ip)) {
            return Route::Down(*b);
        }
        match n.parent {
            Some(b) => Route::Up(b),
            None => Route::Unroutable,
        }
    }

    /// Whether `Topology::claim` must panic for `ip` on `net`.
    fn scan_in_use(t: &Topology, net: NetworkId, ip: IpAddr) -> bool {
        if scan_reachable_below(t, net, ip) {
            return true;
        }
        match t.network(net).parent.map(|p| t.middlebox(p)) {
            Some(b) if matches!(b.kind, BoxKind::Firewall(_)) => scan_in_use(t, b.outside, ip),
            _ => false,
        }
    }

    fn below(rng: &mut ChaCha8Rng, n: usize) -> usize {
        rng.next_u32() as usize % n
    }

    /// Random trees of NATs, firewalls and hosts drawing on a few addresses
    /// (so that many additions collide): after every addition the indexed
    /// routing agrees with the scan everywhere, and an addition panics
    /// exactly when the scan says an address is in use.
    #[test]
    fn indexed_routing_matches_a_scan_of_the_boxes() {
        let pool: Vec<IpAddr> = (1..=10)
            .map(|i| IpAddr::V4(Ipv4Addr::new(10, 0, 0, i)))
            .chain(["fd00::1".parse().unwrap()])
            .collect();
        for seed in 0..24 {
            let mut rng = ChaCha8Rng::seed_from_u64(seed);
            let mut t = Topology::new();
            let mut hosts = 0;
            for _ in 0..80 {
                let net = NetworkId(below(&mut rng, t.networks.len()));
                let a = pool[below(&mut rng, pool.len())];
                let b = pool[below(&mut rng, pool.len())];
                match below(&mut rng, 5) {
                    0 => {
                        t.add_box(
                            net,
                            BoxKind::Firewall(Firewall::new(FirewallConfig::router())),
                        );
                    }
                    1 | 2 => {
                        // May repeat an address: a NAT may list one twice.
                        let ips = if below(&mut rng, 2) == 0 {
                            vec![a]
                        } else {
                            vec![a, b]
                        };
                        let expect_panic = ips.iter().any(|ip| scan_in_use(&t, net, *ip));
                        let nat = Nat::new(NatConfig::full_cone(), ips);
                        let r = catch_unwind(AssertUnwindSafe(|| {
                            t.add_box(net, BoxKind::Nat(nat));
                        }));
                        assert_eq!(r.is_err(), expect_panic, "seed {seed}: NAT on {net}");
                    }
                    _ => {
                        let ips = if a == b { vec![a] } else { vec![a, b] };
                        let expect_panic = ips.iter().any(|ip| scan_in_use(&t, net, *ip));
                        let r = catch_unwind(AssertUnwindSafe(|| {
                            t.attach_host(net, &ips, HostId(hosts));
                        }));
                        assert_eq!(r.is_err(), expect_panic, "seed {seed}: host on {net}");
                        hosts += 1;
                    }
                }
                for n in 0..t.networks.len() {
                    let net = NetworkId(n);
                    for ip in &pool {
                        assert_eq!(
                            t.route(net, *ip),
                            scan_route(&t, net, *ip),
                            "seed {seed}: {ip} on {net}"
                        );
                        assert_eq!(
                            t.reachable_below(net, *ip),
                            scan_reachable_below(&t, net, *ip)
                        );
                    }
                }
            }
        }
    }
}
