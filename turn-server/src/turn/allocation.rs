//! Allocations (RFC 8656 §2.2, §5, §7): keyed by the 5-tuple of the client
//! (client address, server address, transport), each with its relayed
//! transport address(es), the user who made it, an expiry, and its
//! permissions and channels.
//!
//! - §5: "the 5-tuple ... uniquely identifies an allocation"; every
//!   request on it other than Allocate must come from the user who made it
//!   (441 Wrong Credentials otherwise).
//! - §7.2: the lifetime granted is the requested one clamped to
//!   [default, maximum]; §7.3 (Refresh) the same, and 0 deletes.
//! - A dual allocation (ADDITIONAL-ADDRESS-FAMILY, §7.2 item 9) has an
//!   IPv4 and an IPv6 relayed address; a peer is reached from the one of
//!   its family.
//! - Over TCP the allocation dies with the connection
//!   ([`TurnServer::handle_connection_closed`](super::TurnServer::handle_connection_closed)).

use core::net::SocketAddr;
use core::time::Duration;
use std::time::Instant;

use stun_proto::attr::AddressFamily;
use stun_proto::{TransactionId, Transport};

use super::channel::Channels;
use super::permission::Permissions;
use super::quota::TokenBucket;

/// The 5-tuple of an allocation: the client's transport address, the
/// server's, and the transport between them (RFC 8656 §2.2).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct FiveTuple {
    /// The client's address as the server sees it.
    pub client: SocketAddr,
    /// The server address the client talks to.
    pub server: SocketAddr,
    /// UDP ([`Transport::Datagram`]) or TCP ([`Transport::Stream`]).
    pub transport: Transport,
}

/// Something the driver must do, or may want to know.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum TurnEvent {
    /// Bind a UDP socket at exactly `relay`, feed its datagrams to
    /// [`handle_packet`](super::TurnServer::handle_packet), and report with
    /// [`handle_relay_bound`](super::TurnServer::handle_relay_bound).
    BindRelay {
        /// The address to bind.
        relay: SocketAddr,
    },
    /// Close the socket bound at `relay`: its allocation or reservation
    /// has ended (or the bind is no longer wanted).
    ReleaseRelay {
        /// The address.
        relay: SocketAddr,
    },
    /// An allocation was made.
    Allocated {
        /// Its 5-tuple.
        five_tuple: FiveTuple,
        /// Its relayed transport addresses.
        relays: Vec<SocketAddr>,
        /// The user who made it.
        username: String,
    },
    /// An allocation ended.
    Deallocated {
        /// Its 5-tuple.
        five_tuple: FiveTuple,
        /// Why.
        reason: DeallocReason,
    },
}

/// Why an allocation ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum DeallocReason {
    /// Its lifetime ran out.
    Expired,
    /// A Refresh with LIFETIME 0.
    Refreshed,
    /// Its TCP connection closed.
    ConnectionClosed,
}

/// One allocation.
#[derive(Debug)]
pub(crate) struct Allocation {
    pub five: FiveTuple,
    pub relays: Vec<SocketAddr>,
    pub username: String,
    pub expires: Instant,
    /// The Allocate's transaction id, so that a retransmission gets the
    /// success again (§7.2).
    pub txid: TransactionId,
    /// What the success said, for a retransmission.
    pub granted: Duration,
    pub token: Option<[u8; 8]>,
    pub address_error: Option<(AddressFamily, u16)>,
    pub permissions: Permissions,
    pub channels: Channels,
    pub bucket: Option<TokenBucket>,
}

impl Allocation {
    /// The relayed address of `peer`'s family, as the address is written
    /// (an IPv4-mapped IPv6 peer is of the IPv6 family, and the peer
    /// policy refuses it).
    pub(crate) fn relay_for(&self, peer: SocketAddr) -> Option<SocketAddr> {
        self.relays
            .iter()
            .copied()
            .find(|r| r.is_ipv4() == peer.is_ipv4())
    }

    /// Whether the allocation can still carry data.
    pub(crate) fn live(&self, now: Instant) -> bool {
        self.expires > now
    }

    /// Takes `n` bytes from the bandwidth cap, if any.
    pub(crate) fn spend(&mut self, now: Instant, n: usize) -> bool {
        match &mut self.bucket {
            Some(b) => b.take(now, n),
            None => true,
        }
    }

    /// The next instant a permission or channel changes state.
    pub(crate) fn next_sweep(&self, now: Instant) -> Option<Instant> {
        let p = self.permissions.next_expiry();
        let c = self.channels.next_deadline(now);
        match (p, c) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }
}

/// RFC 8656 §7.2 (Allocate) and §7.3 (Refresh): the lifetime to grant for
/// a requested one.
pub(crate) fn granted_lifetime(
    requested: Option<u32>,
    default: Duration,
    max: Duration,
) -> Duration {
    match requested {
        None => default,
        Some(secs) => Duration::from_secs(u64::from(secs)).min(max).max(default),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lifetimes_clamp_to_default_and_max() {
        let (d, m) = (Duration::from_secs(600), Duration::from_secs(3600));
        assert_eq!(granted_lifetime(None, d, m), d);
        assert_eq!(granted_lifetime(Some(30), d, m), d);
        assert_eq!(
            granted_lifetime(Some(1200), d, m),
            Duration::from_secs(1200)
        );
        assert_eq!(granted_lifetime(Some(u32::MAX), d, m), m);
    }
}
