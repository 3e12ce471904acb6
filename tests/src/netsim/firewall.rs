//! Firewalls and routers: middleboxes that filter but never translate.
//!
//! A firewall sits between an outside network and an inside network whose
//! hosts hold addresses routable from outside. It applies the filtering
//! behaviours of RFC 4787 §5 without the mapping of §4:
//!
//! - [`FirewallConfig::router`]: endpoint-independent filtering, i.e. a
//!   plain router that forwards everything.
//! - [`FirewallConfig::replies_only`]: address-and-port-dependent filtering;
//!   an inside endpoint X:x receives only from endpoints it has sent to
//!   within [`FirewallConfig::session_lifetime`], the stateful UDP rule of
//!   RFC 6092 §3.2.2 (REC-11 ff.) and the UDP analogue of RFC 5382's
//!   connection tracking.
//! - [`FirewallConfig::block_udp`]: drops all UDP in both directions, the
//!   network ICE meets when only TURN over TCP/TLS gets through (RFC 8445
//!   §1, RFC 6062).
//!
//! Sessions refresh like RFC 4787 §4.3 mappings: outbound always, inbound
//! only if configured; expiry is evaluated lazily against virtual time.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::time::Duration;

use super::DropReason;
use super::nat::{DEFAULT_MAPPING_LIFETIME, FilteringBehavior};
use super::topology::Packet;

/// The behaviour of one firewall (or router) box.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FirewallConfig {
    /// Drop every UDP datagram in both directions.
    pub block_udp: bool,
    /// RFC 4787 §5 filtering of inbound datagrams.
    pub filtering: FilteringBehavior,
    /// An idle session (inside endpoint, remote endpoint) is forgotten after
    /// this long.
    pub session_lifetime: Duration,
    /// Whether admitted inbound datagrams refresh the session.
    pub inbound_refresh: bool,
}

impl FirewallConfig {
    /// A plain router: forwards everything both ways.
    pub fn router() -> FirewallConfig {
        FirewallConfig {
            block_udp: false,
            filtering: FilteringBehavior::EndpointIndependent,
            session_lifetime: DEFAULT_MAPPING_LIFETIME,
            inbound_refresh: false,
        }
    }

    /// Outbound always allowed; inbound only from a remote endpoint the
    /// inside endpoint has recently sent to.
    pub fn replies_only() -> FirewallConfig {
        FirewallConfig {
            filtering: FilteringBehavior::AddressAndPortDependent,
            ..FirewallConfig::router()
        }
    }

    /// Drops all UDP both ways.
    pub fn block_udp() -> FirewallConfig {
        FirewallConfig {
            block_udp: true,
            ..FirewallConfig::router()
        }
    }
}

/// The state of one firewall box.
#[derive(Clone, Debug)]
pub(crate) struct Firewall {
    config: FirewallConfig,
    /// (inside endpoint, remote endpoint) -> last refresh.
    sessions: BTreeMap<(SocketAddr, SocketAddr), Duration>,
}

impl Firewall {
    pub(crate) fn new(config: FirewallConfig) -> Firewall {
        Firewall {
            config,
            sessions: BTreeMap::new(),
        }
    }

    pub(crate) fn config(&self) -> &FirewallConfig {
        &self.config
    }

    /// A datagram from inside going out.
    pub(crate) fn outbound(&mut self, now: Duration, pkt: Packet) -> Result<Packet, DropReason> {
        if self.config.block_udp {
            return Err(DropReason::Firewall);
        }
        if self.config.filtering != FilteringBehavior::EndpointIndependent {
            self.purge(now);
            self.sessions.insert((pkt.src, pkt.dst), now);
        }
        Ok(pkt)
    }

    /// A datagram from outside coming in.
    pub(crate) fn inbound(&mut self, now: Duration, pkt: Packet) -> Result<Packet, DropReason> {
        if self.config.block_udp {
            return Err(DropReason::Firewall);
        }
        let key = match self.config.filtering {
            FilteringBehavior::EndpointIndependent => return Ok(pkt),
            FilteringBehavior::AddressDependent => {
                self.purge(now);
                self.sessions
                    .keys()
                    .find(|(inside, remote)| *inside == pkt.dst && remote.ip() == pkt.src.ip())
                    .copied()
            }
            FilteringBehavior::AddressAndPortDependent => {
                self.purge(now);
                let key = (pkt.dst, pkt.src);
                self.sessions.contains_key(&key).then_some(key)
            }
        };
        let Some(key) = key else {
            return Err(DropReason::Firewall);
        };
        if self.config.inbound_refresh {
            self.sessions.insert(key, now);
        }
        Ok(pkt)
    }

    fn purge(&mut self, now: Duration) {
        let lifetime = self.config.session_lifetime;
        self.sessions
            .retain(|_, refreshed| now < refreshed.saturating_add(lifetime));
    }
}
