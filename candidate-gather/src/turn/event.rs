//! What the client tells its owner: events, states, and what became of an
//! input.

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use super::error::TurnError;

/// Where the client is in its life.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum TurnState {
    /// The first Allocate (with its 401 exchange, retries and redirect) is
    /// under way.
    Allocating,
    /// The relayed address is usable.
    Allocated,
    /// The server lost the allocation (437 on a refresh, RFC 8656 §8) and a
    /// new one is being made; data waits.
    Reallocating,
    /// Releasing the allocation (Refresh with LIFETIME 0).
    Closing,
    /// Closed by the owner; nothing more happens.
    Closed,
    /// Failed for good; the error came as [`TurnEvent::Failed`].
    Failed,
}

/// Something the owner should know. Drain with `poll_event` after every
/// input.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum TurnEvent {
    /// The allocation exists (RFC 8656 §7.3): `relayed` is the relayed
    /// candidate's address and `mapped` its related address.
    Allocated {
        /// XOR-RELAYED-ADDRESS.
        relayed: SocketAddr,
        /// XOR-MAPPED-ADDRESS: this client as the server sees it.
        mapped: SocketAddr,
        /// The lifetime the server granted.
        lifetime: Duration,
    },
    /// The server had lost the allocation (437) and a new one replaced it:
    /// the relayed address changed, so the relayed candidate must be
    /// replaced (an ICE restart, for an agent). Permissions and channels
    /// are being installed again.
    Reallocated {
        /// The relayed address that is gone.
        previous: SocketAddr,
        /// The new XOR-RELAYED-ADDRESS.
        relayed: SocketAddr,
        /// The new XOR-MAPPED-ADDRESS.
        mapped: SocketAddr,
        /// The lifetime the server granted.
        lifetime: Duration,
    },
    /// A refresh succeeded (RFC 8656 §8).
    Refreshed {
        /// The lifetime the server granted.
        lifetime: Duration,
    },
    /// The server answered 300 Try Alternate (RFC 8489 §10): requests now go
    /// to `to`. Over TCP the owner must connect to `to` and feed that
    /// connection's bytes from now on.
    Redirected {
        /// The server that redirected.
        from: SocketAddr,
        /// The alternate server.
        to: SocketAddr,
    },
    /// A permission for this peer IP is installed (RFC 8656 §9); queued data
    /// to it has been sent.
    PermissionCreated(IpAddr),
    /// A permission could not be installed or kept; data queued for it was
    /// dropped.
    PermissionFailed(IpAddr, TurnError),
    /// A channel is bound (RFC 8656 §12): data to `peer` now goes as
    /// ChannelData.
    ChannelBound {
        /// The peer.
        peer: SocketAddr,
        /// The channel number.
        channel: u16,
    },
    /// A channel could not be bound or kept; data to the peer goes as Send
    /// indications while its permission lasts.
    ChannelBindFailed {
        /// The peer.
        peer: SocketAddr,
        /// The channel number (not reused).
        channel: u16,
        /// Why.
        error: TurnError,
    },
    /// The client failed for good.
    Failed(TurnError),
    /// The client is closed. `confirmed`: the server acknowledged that it
    /// holds no allocation for us (a release answered, or an Allocate
    /// refused); otherwise it expires on its own.
    Released {
        /// Whether the server confirmed.
        confirmed: bool,
    },
}

/// Why a datagram or frame from the server was dropped. Nothing changed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum DropReason {
    /// It does not decode (or has an unknown comprehension-required
    /// attribute, or a bad FINGERPRINT).
    Malformed,
    /// An answer to our request failed the integrity rules of RFC 8489
    /// §9.2.5; the transaction goes on (over UDP).
    Integrity,
    /// An answer whose method is not the request's.
    UnexpectedMethod,
    /// Peer data from an IP without a permission (RFC 8656 §10.4).
    NoPermission,
    /// ChannelData on a channel that is not ours (RFC 8656 §12.6).
    UnknownChannel,
    /// Peer data while there is no allocation.
    NotAllocated,
}

/// What became of a datagram given to `handle_datagram`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Handled<'a> {
    /// Not from the server, or not TURN (the owner handles it: a direct
    /// packet, or a STUN answer to someone else's request).
    NotMine,
    /// Taken by the client (an answer, an indication).
    Consumed,
    /// Application data a peer sent through the relay.
    Data {
        /// The peer's address (XOR-PEER-ADDRESS, or the channel's peer).
        peer: SocketAddr,
        /// The data, borrowed from the datagram.
        payload: &'a [u8],
    },
    /// From the server and for the client, but dropped.
    Dropped(DropReason),
}

/// Application data a peer sent, read from the TCP stream.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PeerData {
    /// The peer.
    pub peer: SocketAddr,
    /// The data.
    pub data: Vec<u8>,
}
