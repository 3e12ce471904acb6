//! Counters and the event trace: what tests assert on and what a failing
//! seed prints.
//!
//! Every datagram that does not reach an endpoint is counted under one
//! [`DropReason`]. The optional trace records deliveries, drops and timer
//! firings with their virtual time (elapsed since the start, never the wall
//! clock), so two runs with the same seed have equal traces.

use std::collections::BTreeMap;
use std::fmt;
use std::net::SocketAddr;
use std::time::Duration;

use super::topology::{HostId, NetworkId};

/// Why a datagram did not reach an endpoint.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[non_exhaustive]
pub enum DropReason {
    /// Lost by a link's `loss` probability.
    Loss,
    /// Larger than a link's MTU.
    Mtu,
    /// No host or box holds the destination address (or the address
    /// families of source and destination differ, or the hop limit ran out).
    Unroutable,
    /// Reached a NAT's external address with no live mapping there
    /// (RFC 4787 §4.3: never created, or expired).
    NatNoMapping,
    /// Refused by a NAT's filtering behaviour (RFC 4787 §5).
    NatFiltered,
    /// Addressed from inside to the NAT's own external address while
    /// hairpinning is off (RFC 4787 §6).
    HairpinOff,
    /// The NAT had no free external port for a new mapping.
    NatPortsExhausted,
    /// Refused by a firewall.
    Firewall,
    /// An endpoint sent from an address its host does not hold.
    BadSource,
}

impl DropReason {
    /// Every reason, in a fixed order.
    pub const ALL: [DropReason; 9] = [
        DropReason::Loss,
        DropReason::Mtu,
        DropReason::Unroutable,
        DropReason::NatNoMapping,
        DropReason::NatFiltered,
        DropReason::HairpinOff,
        DropReason::NatPortsExhausted,
        DropReason::Firewall,
        DropReason::BadSource,
    ];

    /// A short kebab-case name, as in logs.
    pub fn name(self) -> &'static str {
        match self {
            DropReason::Loss => "loss",
            DropReason::Mtu => "mtu",
            DropReason::Unroutable => "unroutable",
            DropReason::NatNoMapping => "nat-no-mapping",
            DropReason::NatFiltered => "nat-filtered",
            DropReason::HairpinOff => "hairpin-off",
            DropReason::NatPortsExhausted => "nat-ports-exhausted",
            DropReason::Firewall => "firewall",
            DropReason::BadSource => "bad-source",
        }
    }
}

impl fmt::Display for DropReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Counters over a whole run.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Stats {
    /// Datagrams accepted from endpoints (and [`super::Sim::inject`]).
    pub sent: u64,
    /// Datagrams handed to endpoints.
    pub delivered: u64,
    /// Extra copies made by links' duplication.
    pub duplicated: u64,
    /// Copies held back by links' reordering.
    pub reordered: u64,
    /// Timer firings (`handle_timeout` calls).
    pub timeouts: u64,
    drops: BTreeMap<DropReason, u64>,
}

impl Stats {
    /// How many datagrams were dropped for `reason`.
    pub fn dropped(&self, reason: DropReason) -> u64 {
        self.drops.get(&reason).copied().unwrap_or(0)
    }

    /// How many datagrams were dropped for any reason.
    pub fn total_dropped(&self) -> u64 {
        self.drops.values().sum()
    }

    pub(crate) fn count_drop(&mut self, reason: DropReason) {
        *self.drops.entry(reason).or_insert(0) += 1;
    }
}

/// One entry of the trace.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TraceEvent {
    /// Virtual time since the simulation started.
    pub at: Duration,
    /// What happened.
    pub kind: TraceKind,
}

/// What a [`TraceEvent`] records.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum TraceKind {
    /// An endpoint's datagram entered its network.
    Sent {
        /// The sending host.
        host: HostId,
        /// Source socket address.
        from: SocketAddr,
        /// Destination socket address.
        to: SocketAddr,
        /// Payload length.
        len: usize,
    },
    /// A datagram reached an endpoint.
    Delivered {
        /// The receiving host.
        host: HostId,
        /// The destination, as the endpoint saw it (`local`).
        local: SocketAddr,
        /// The source, as the endpoint saw it (`remote`).
        remote: SocketAddr,
        /// Payload length.
        len: usize,
    },
    /// A datagram was dropped.
    Dropped {
        /// Why.
        reason: DropReason,
        /// The network it was on (or entering).
        network: NetworkId,
        /// Its source at that point.
        src: SocketAddr,
        /// Its destination at that point.
        dst: SocketAddr,
        /// Payload length.
        len: usize,
    },
    /// A host's timer fired.
    Timeout {
        /// The host.
        host: HostId,
    },
}

impl fmt::Display for TraceEvent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "[{:>5}.{:06}s] ",
            self.at.as_secs(),
            self.at.subsec_micros()
        )?;
        match &self.kind {
            TraceKind::Sent {
                host,
                from,
                to,
                len,
            } => write!(f, "{host} sent {from} -> {to} ({len} bytes)"),
            TraceKind::Delivered {
                host,
                local,
                remote,
                len,
            } => write!(f, "{host} got  {remote} -> {local} ({len} bytes)"),
            TraceKind::Dropped {
                reason,
                network,
                src,
                dst,
                len,
            } => write!(
                f,
                "drop {reason} on {network}: {src} -> {dst} ({len} bytes)"
            ),
            TraceKind::Timeout { host } => write!(f, "{host} timeout"),
        }
    }
}
