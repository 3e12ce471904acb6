//! NAT boxes with every UDP behaviour of RFC 4787.
//!
//! - §4.1 mapping behaviour: a mapping from an internal endpoint X:x to an
//!   external endpoint is reused for every destination
//!   ([`MappingBehavior::EndpointIndependent`]), for destinations with the
//!   same IP ([`MappingBehavior::AddressDependent`]) or for exactly one
//!   destination endpoint ([`MappingBehavior::AddressAndPortDependent`]).
//! - §4.1 IP address pooling: "paired" (REQ-2): every mapping of one
//!   internal IP uses the same external IP, assigned round-robin on first
//!   use.
//! - §4.2 port assignment: [`PortAssignment::Preserving`] keeps the internal
//!   port when it is free and falls back to sequential; no port overloading
//!   (REQ-4: a taken port is never shared by two mappings).
//! - §4.3 mapping refresh: a mapping idle for [`NatConfig::mapping_lifetime`]
//!   expires (REQ-5: at least two minutes by default); outbound packets
//!   always refresh it (REQ-6), inbound ones only when
//!   [`NatConfig::inbound_refresh`] is set.
//! - §5 filtering behaviour: an inbound packet to a mapping is accepted from
//!   anyone ([`FilteringBehavior::EndpointIndependent`]), from an IP the
//!   mapping has sent to ([`FilteringBehavior::AddressDependent`]), or from
//!   an endpoint it has sent to ([`FilteringBehavior::AddressAndPortDependent`]).
//!   The "has sent to" set belongs to the mapping, so with
//!   address(-and-port)-dependent mapping a mapping admits only the
//!   destinations it was created for.
//! - §6 hairpinning: a packet from inside to one of the NAT's own external
//!   endpoints has its source translated (REQ-9b: the receiver sees the
//!   sender's external endpoint) and is then treated as inbound to the
//!   destination mapping, filtering included; with hairpinning off it is
//!   dropped.
//!
//! Expiry is evaluated lazily against virtual time at each use, which keeps
//! the box free of timers and the run deterministic.

use std::collections::{BTreeMap, BTreeSet};
use std::net::{IpAddr, SocketAddr};
use std::ops::RangeInclusive;
use std::time::{Duration, Instant};

use rand_core::Rng;

use super::DropReason;
use super::topology::Packet;

/// RFC 4787 REQ-5: a UDP mapping MUST NOT expire in less than two minutes
/// (unless the port range says otherwise); the default lifetime.
pub const DEFAULT_MAPPING_LIFETIME: Duration = Duration::from_secs(120);

/// RFC 4787 §4.1: when a mapping is reused. (The RFC's list is closed, so
/// these behaviour enums are exhaustive: tests may match on them.)
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum MappingBehavior {
    /// One mapping per internal endpoint, whatever the destination.
    EndpointIndependent,
    /// One mapping per internal endpoint and destination IP.
    AddressDependent,
    /// One mapping per internal endpoint and destination endpoint.
    AddressAndPortDependent,
}

/// RFC 4787 §5: which inbound packets reach a mapping.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum FilteringBehavior {
    /// Anyone may send to the mapping.
    EndpointIndependent,
    /// Only IPs the mapping has sent to (any port).
    AddressDependent,
    /// Only endpoints (IP and port) the mapping has sent to.
    AddressAndPortDependent,
}

/// RFC 4787 §4.2: how a new mapping's external port is chosen.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum PortAssignment {
    /// Keep the internal port if it is free on the external IP, else fall
    /// back to [`PortAssignment::Sequential`].
    Preserving,
    /// The next free port of [`NatConfig::port_range`], wrapping around.
    Sequential,
    /// A port drawn from the simulator's RNG within the range.
    Random,
}

/// The behaviour of one NAT box.
///
/// Start from a classic name and override fields:
/// `NatConfig { hairpinning: false, ..NatConfig::full_cone() }`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NatConfig {
    /// RFC 4787 §4.1 mapping behaviour.
    pub mapping: MappingBehavior,
    /// RFC 4787 §5 filtering behaviour.
    pub filtering: FilteringBehavior,
    /// RFC 4787 §4.2 port assignment.
    pub port_assignment: PortAssignment,
    /// The external ports sequential and random assignment draw from
    /// (RFC 4787 REQ-3: 1024-65535 for internal ports above 1023).
    pub port_range: RangeInclusive<u16>,
    /// RFC 4787 §4.3: an idle mapping expires after this long.
    pub mapping_lifetime: Duration,
    /// RFC 4787 §4.3: whether accepted inbound packets refresh a mapping
    /// (outbound packets always do).
    pub inbound_refresh: bool,
    /// RFC 4787 §6: whether packets from inside to the NAT's own external
    /// endpoints are looped back.
    pub hairpinning: bool,
}

impl NatConfig {
    /// A NAT with the given behaviours and the defaults of [`Default`]:
    /// preserving ports 1024-65535, 120 s lifetime, outbound-only refresh,
    /// hairpinning on (RFC 4787 REQ-9).
    pub fn new(mapping: MappingBehavior, filtering: FilteringBehavior) -> NatConfig {
        NatConfig {
            mapping,
            filtering,
            port_assignment: PortAssignment::Preserving,
            port_range: 1024..=65535,
            mapping_lifetime: DEFAULT_MAPPING_LIFETIME,
            inbound_refresh: false,
            hairpinning: true,
        }
    }

    /// "Full cone": endpoint-independent mapping and filtering.
    pub fn full_cone() -> NatConfig {
        NatConfig::new(
            MappingBehavior::EndpointIndependent,
            FilteringBehavior::EndpointIndependent,
        )
    }

    /// "Restricted cone": endpoint-independent mapping, address-dependent
    /// filtering.
    pub fn restricted_cone() -> NatConfig {
        NatConfig::new(
            MappingBehavior::EndpointIndependent,
            FilteringBehavior::AddressDependent,
        )
    }

    /// "Port-restricted cone": endpoint-independent mapping,
    /// address-and-port-dependent filtering.
    pub fn port_restricted_cone() -> NatConfig {
        NatConfig::new(
            MappingBehavior::EndpointIndependent,
            FilteringBehavior::AddressAndPortDependent,
        )
    }

    /// "Symmetric": address-and-port-dependent mapping and filtering.
    pub fn symmetric() -> NatConfig {
        NatConfig::new(
            MappingBehavior::AddressAndPortDependent,
            FilteringBehavior::AddressAndPortDependent,
        )
    }
}

impl Default for NatConfig {
    /// The behaviour RFC 4787 recommends: a port-restricted cone.
    fn default() -> Self {
        NatConfig::port_restricted_cone()
    }
}

/// What, beyond the internal endpoint, a mapping is keyed by
/// (RFC 4787 §4.1).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum MappingScope {
    /// Endpoint-independent: any destination.
    Any,
    /// Address-dependent: this destination IP.
    Address(IpAddr),
    /// Address-and-port-dependent: this destination endpoint.
    Endpoint(SocketAddr),
}

/// A snapshot of one live NAT mapping, for assertions.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NatMapping {
    /// The internal endpoint X:x.
    pub internal: SocketAddr,
    /// The external endpoint it is mapped to.
    pub external: SocketAddr,
    /// The destinations the mapping is reused for.
    pub scope: MappingScope,
    /// The remote endpoints the mapping has sent to (what filtering admits).
    pub sent_to: Vec<SocketAddr>,
    /// When the mapping expires unless refreshed.
    pub expires_at: Instant,
}

/// One mapping's state.
#[derive(Clone, Debug)]
struct Entry {
    internal: SocketAddr,
    scope: MappingScope,
    sent_to: BTreeSet<SocketAddr>,
    refreshed: Duration,
}

/// Where a packet from inside goes after translation.
#[derive(Debug)]
pub(crate) enum Outbound {
    /// Out to the outside network.
    Forward(Packet),
    /// Back to the inside network (RFC 4787 §6 hairpinning).
    Hairpin(Packet),
}

/// The state of one NAT box.
#[derive(Clone, Debug)]
pub(crate) struct Nat {
    config: NatConfig,
    public_ips: Vec<IpAddr>,
    by_external: BTreeMap<SocketAddr, Entry>,
    by_internal: BTreeMap<(SocketAddr, MappingScope), SocketAddr>,
    /// Paired pooling: the external IP of each internal IP.
    pool: BTreeMap<IpAddr, IpAddr>,
    pool_next: usize,
    /// Offset into the port range where the sequential search resumes.
    cursor: u32,
}

impl Nat {
    pub(crate) fn new(config: NatConfig, public_ips: Vec<IpAddr>) -> Nat {
        Nat {
            config,
            public_ips,
            by_external: BTreeMap::new(),
            by_internal: BTreeMap::new(),
            pool: BTreeMap::new(),
            pool_next: 0,
            cursor: 0,
        }
    }

    pub(crate) fn config(&self) -> &NatConfig {
        &self.config
    }

    pub(crate) fn public_ips(&self) -> &[IpAddr] {
        &self.public_ips
    }

    /// Whether `ip` is one of the box's external addresses.
    pub(crate) fn owns(&self, ip: IpAddr) -> bool {
        self.public_ips.contains(&ip)
    }

    /// The live mappings at `now`, sorted by external endpoint.
    pub(crate) fn mappings(&self, now: Duration, base: Instant) -> Vec<NatMapping> {
        self.by_external
            .iter()
            .filter(|(_, e)| self.alive(e, now))
            .map(|(ext, e)| NatMapping {
                internal: e.internal,
                external: *ext,
                scope: e.scope,
                sent_to: e.sent_to.iter().copied().collect(),
                expires_at: base + e.refreshed.saturating_add(self.config.mapping_lifetime),
            })
            .collect()
    }

    /// Translates a packet from inside (RFC 4787 §4) and, if it is addressed
    /// to the box itself, hairpins it (§6).
    pub(crate) fn outbound<R: Rng + ?Sized>(
        &mut self,
        now: Duration,
        rng: &mut R,
        mut pkt: Packet,
    ) -> Result<Outbound, DropReason> {
        self.purge(now);
        let hairpin = self.owns(pkt.dst.ip());
        if hairpin && !self.config.hairpinning {
            return Err(DropReason::HairpinOff);
        }
        let external = self.map_outbound(now, rng, pkt.src, pkt.dst)?;
        pkt.src = external;
        if hairpin {
            pkt.dst = self.admit(now, pkt.dst, external)?;
            return Ok(Outbound::Hairpin(pkt));
        }
        Ok(Outbound::Forward(pkt))
    }

    /// Translates a packet from outside addressed to one of the box's
    /// external endpoints (RFC 4787 §5 filtering).
    pub(crate) fn inbound(&mut self, now: Duration, mut pkt: Packet) -> Result<Packet, DropReason> {
        self.purge(now);
        pkt.dst = self.admit(now, pkt.dst, pkt.src)?;
        Ok(pkt)
    }

    fn alive(&self, e: &Entry, now: Duration) -> bool {
        now < e.refreshed.saturating_add(self.config.mapping_lifetime)
    }

    /// Forgets expired mappings (RFC 4787 §4.3), freeing their ports.
    fn purge(&mut self, now: Duration) {
        let lifetime = self.config.mapping_lifetime;
        let expired: Vec<SocketAddr> = self
            .by_external
            .iter()
            .filter(|(_, e)| now >= e.refreshed.saturating_add(lifetime))
            .map(|(ext, _)| *ext)
            .collect();
        for ext in expired {
            if let Some(e) = self.by_external.remove(&ext) {
                self.by_internal.remove(&(e.internal, e.scope));
            }
        }
    }

    /// The external endpoint for `internal` sending to `remote`, creating
    /// the mapping if needed; refreshes it and records `remote`.
    fn map_outbound<R: Rng + ?Sized>(
        &mut self,
        now: Duration,
        rng: &mut R,
        internal: SocketAddr,
        remote: SocketAddr,
    ) -> Result<SocketAddr, DropReason> {
        let scope = match self.config.mapping {
            MappingBehavior::EndpointIndependent => MappingScope::Any,
            MappingBehavior::AddressDependent => MappingScope::Address(remote.ip()),
            MappingBehavior::AddressAndPortDependent => MappingScope::Endpoint(remote),
        };
        let external = match self.by_internal.get(&(internal, scope)) {
            Some(ext) => *ext,
            None => {
                let ip = self.external_ip(internal.ip())?;
                let port = self
                    .allocate_port(ip, internal.port(), rng)
                    .ok_or(DropReason::NatPortsExhausted)?;
                let ext = SocketAddr::new(ip, port);
                self.by_internal.insert((internal, scope), ext);
                self.by_external.insert(
                    ext,
                    Entry {
                        internal,
                        scope,
                        sent_to: BTreeSet::new(),
                        refreshed: now,
                    },
                );
                ext
            }
        };
        if let Some(e) = self.by_external.get_mut(&external) {
            e.refreshed = now; // RFC 4787 REQ-6: outbound refresh
            e.sent_to.insert(remote);
        }
        Ok(external)
    }

    /// Applies the filtering behaviour to a packet from `remote` for the
    /// mapping at `external`; returns the internal endpoint.
    fn admit(
        &mut self,
        now: Duration,
        external: SocketAddr,
        remote: SocketAddr,
    ) -> Result<SocketAddr, DropReason> {
        let filtering = self.config.filtering;
        let refresh = self.config.inbound_refresh;
        let e = self
            .by_external
            .get_mut(&external)
            .ok_or(DropReason::NatNoMapping)?;
        let allowed = match filtering {
            FilteringBehavior::EndpointIndependent => true,
            FilteringBehavior::AddressDependent => e.sent_to.iter().any(|r| r.ip() == remote.ip()),
            FilteringBehavior::AddressAndPortDependent => e.sent_to.contains(&remote),
        };
        if !allowed {
            return Err(DropReason::NatFiltered);
        }
        if refresh {
            e.refreshed = now;
        }
        Ok(e.internal)
    }

    /// Paired pooling (RFC 4787 §4.1 REQ-2): one external IP of the same
    /// family per internal IP, handed out round-robin.
    fn external_ip(&mut self, internal: IpAddr) -> Result<IpAddr, DropReason> {
        if let Some(ip) = self.pool.get(&internal) {
            return Ok(*ip);
        }
        let same_family: Vec<IpAddr> = self
            .public_ips
            .iter()
            .copied()
            .filter(|ip| ip.is_ipv4() == internal.is_ipv4())
            .collect();
        if same_family.is_empty() {
            return Err(DropReason::Unroutable);
        }
        let ip = same_family[self.pool_next % same_family.len()];
        self.pool_next += 1;
        self.pool.insert(internal, ip);
        Ok(ip)
    }

    fn port_free(&self, ip: IpAddr, port: u16) -> bool {
        port != 0 && !self.by_external.contains_key(&SocketAddr::new(ip, port))
    }

    /// RFC 4787 §4.2 port assignment on external IP `ip`.
    fn allocate_port<R: Rng + ?Sized>(
        &mut self,
        ip: IpAddr,
        internal_port: u16,
        rng: &mut R,
    ) -> Option<u16> {
        match self.config.port_assignment {
            PortAssignment::Preserving if self.port_free(ip, internal_port) => Some(internal_port),
            PortAssignment::Preserving | PortAssignment::Sequential => self.sequential_port(ip),
            PortAssignment::Random => {
                let (start, len) = self.range()?;
                for _ in 0..64 {
                    let offset = rng.next_u32() % len;
                    let port = u16::try_from(start + offset).ok()?;
                    if self.port_free(ip, port) {
                        return Some(port);
                    }
                }
                self.sequential_port(ip)
            }
        }
    }

    /// The next free port at or after the cursor, wrapping around.
    fn sequential_port(&mut self, ip: IpAddr) -> Option<u16> {
        let (start, len) = self.range()?;
        for i in 0..len {
            let offset = (self.cursor + i) % len;
            let port = u16::try_from(start + offset).ok()?;
            if self.port_free(ip, port) {
                self.cursor = (offset + 1) % len;
                return Some(port);
            }
        }
        None
    }

    /// The port range as (first port, number of ports); `None` if empty.
    fn range(&self) -> Option<(u32, u32)> {
        let start = u32::from(*self.config.port_range.start());
        let end = u32::from(*self.config.port_range.end());
        (end >= start).then(|| (start, end - start + 1))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand_chacha::ChaCha8Rng;
    use rand_core::SeedableRng;

    fn sa(s: &str) -> SocketAddr {
        s.parse().unwrap()
    }

    fn packet(src: &str, dst: &str) -> Packet {
        Packet::new(sa(src), sa(dst), b"x".to_vec())
    }

    #[test]
    fn sequential_wraps_and_skips_taken_ports() {
        let cfg = NatConfig {
            port_assignment: PortAssignment::Sequential,
            port_range: 5000..=5001,
            ..NatConfig::symmetric()
        };
        let mut nat = Nat::new(cfg, vec!["203.0.113.1".parse().unwrap()]);
        let mut rng = ChaCha8Rng::seed_from_u64(0);
        let t = Duration::ZERO;
        let a = nat
            .outbound(t, &mut rng, packet("10.0.0.1:1", "192.0.2.1:1"))
            .unwrap();
        let b = nat
            .outbound(t, &mut rng, packet("10.0.0.1:1", "192.0.2.1:2"))
            .unwrap();
        let (Outbound::Forward(a), Outbound::Forward(b)) = (a, b) else {
            panic!("not forwarded")
        };
        assert_eq!((a.src.port(), b.src.port()), (5000, 5001));
        let c = nat.outbound(t, &mut rng, packet("10.0.0.1:1", "192.0.2.1:3"));
        assert_eq!(c.unwrap_err(), DropReason::NatPortsExhausted);
    }

    #[test]
    fn no_public_ip_of_the_family_is_unroutable() {
        let mut nat = Nat::new(NatConfig::full_cone(), vec!["203.0.113.1".parse().unwrap()]);
        let mut rng = ChaCha8Rng::seed_from_u64(0);
        let r = nat.outbound(
            Duration::ZERO,
            &mut rng,
            packet("[fd00::1]:1", "[2001:db8::1]:1"),
        );
        assert_eq!(r.unwrap_err(), DropReason::Unroutable);
    }
}
