//! Why the TURN server sent nothing for a packet: every packet
//! [`handle_packet`](super::TurnServer::handle_packet) neither answers nor
//! relays gets a typed reason, and the reason says who must act.
//!
//! - The remote: bytes that are not STUN or ChannelData, a FINGERPRINT that
//!   does not verify, a response, an indication other than Send, data for
//!   an allocation, channel or permission that does not exist, a peer the
//!   policy refuses, more bytes than the bandwidth cap allows. RFC 8489
//!   §6.3 and RFC 8656 §11, §12: silently discarded.
//! - The driver: a packet on a socket the server did not ask for, a bind
//!   result for an address it did not ask to bind, a queue not drained.
//! - This crate: an answer that could not be built (a bug, reported
//!   instead of a panic).
//!
//! Answering with an error response is not a drop: `handle_packet`
//! returns `Ok(())` and the answer waits in `poll_transmit`.

use core::fmt;
use core::net::SocketAddr;

use stun_proto::{
    AttributeError, BuildError, ChannelDataError, Class, FingerprintError, Method, ParseError,
    Transport,
};

use super::policy::PeerRefusal;

/// Why a packet was neither answered nor relayed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum TurnDropped {
    /// `local` is neither a listening socket of this transport nor a relay.
    NotOurSocket {
        /// The address the packet arrived on.
        local: SocketAddr,
        /// How it arrived.
        transport: Transport,
    },
    /// A client source that cannot be answered: port 0, an unspecified,
    /// multicast or broadcast address.
    UnanswerableSource {
        /// The source.
        remote: SocketAddr,
    },
    /// Not a STUN message (and not ChannelData).
    NotStun(ParseError),
    /// A STUN message without the magic cookie for a TURN method (TURN
    /// needs RFC 5389 framing; RFC 3489 clients only do Binding).
    NoMagicCookie,
    /// A ChannelData message that does not frame.
    BadChannelData(ChannelDataError),
    /// A FINGERPRINT that does not match.
    BadFingerprint(FingerprintError),
    /// A success or error response: the server starts no transactions.
    Response {
        /// Its method.
        method: Method,
        /// Success or error.
        class: Class,
    },
    /// An indication other than Send (a Binding indication is a
    /// keepalive).
    Indication {
        /// Its method.
        method: Method,
    },
    /// A request of a method this server does not implement (RFC 8489
    /// §6.3: silently discarded).
    UnsupportedMethod {
        /// The method.
        method: Method,
    },
    /// The Binding request went to the STUN server, which dropped it.
    Binding(crate::stun::Dropped),
    /// Send indication or ChannelData from a 5-tuple without allocation, or
    /// a datagram on a relay address without allocation (a reservation).
    NoAllocation,
    /// An Allocate retransmitted while its relay address is being bound;
    /// the answer follows the bind.
    AllocationPending,
    /// ChannelData on a channel not bound (or expired).
    ChannelNotBound {
        /// The channel number.
        channel: u16,
    },
    /// No permission for the peer's IP (RFC 8656 §9, §11.2, §11.3).
    NoPermission {
        /// The peer.
        peer: SocketAddr,
    },
    /// A Send indication to a peer the policy refuses.
    PeerRefused {
        /// The peer.
        peer: SocketAddr,
        /// Why.
        why: PeerRefusal,
    },
    /// A Send indication without a valid XOR-PEER-ADDRESS or DATA, or with
    /// an unknown comprehension-required attribute (RFC 8656 §11.2).
    BadSendIndication,
    /// A Send indication to a peer of a family the allocation has no relay
    /// address of.
    PeerFamilyMismatch {
        /// The peer.
        peer: SocketAddr,
    },
    /// The allocation's bandwidth cap has no room for the packet.
    BandwidthExceeded {
        /// The packet's application bytes.
        len: usize,
    },
    /// The driver reported a bind for an address the server did not ask
    /// for (or no longer waits for).
    UnknownRelay {
        /// The address.
        relay: SocketAddr,
    },
    /// The outgoing queue is full: drain `poll_transmit`.
    QueueFull {
        /// Its capacity.
        capacity: usize,
    },
    /// An answer could not be built: a bug in this crate.
    Internal(TurnInternalError),
}

/// What went wrong building an answer; each is a bug in this crate.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum TurnInternalError {
    /// The writer refused the message.
    Build(BuildError),
    /// An attribute value was refused.
    Attribute(AttributeError),
}

impl From<BuildError> for TurnInternalError {
    fn from(e: BuildError) -> Self {
        TurnInternalError::Build(e)
    }
}

impl From<AttributeError> for TurnInternalError {
    fn from(e: AttributeError) -> Self {
        TurnInternalError::Attribute(e)
    }
}

impl From<TurnInternalError> for TurnDropped {
    fn from(e: TurnInternalError) -> Self {
        TurnDropped::Internal(e)
    }
}

impl fmt::Display for TurnDropped {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TurnDropped::NotOurSocket { local, transport } => {
                write!(
                    f,
                    "{transport:?} packet on {local}, not a server or relay socket"
                )
            }
            TurnDropped::UnanswerableSource { remote } => {
                write!(f, "source {remote} cannot be answered")
            }
            TurnDropped::NotStun(e) => fmt::Display::fmt(e, f),
            TurnDropped::NoMagicCookie => f.write_str("TURN message without the magic cookie"),
            TurnDropped::BadChannelData(e) => fmt::Display::fmt(e, f),
            TurnDropped::BadFingerprint(e) => write!(f, "dropped: {e}"),
            TurnDropped::Response { method, class } => {
                write!(f, "{method} {class:?} response: no transaction of ours")
            }
            TurnDropped::Indication { method } => {
                write!(f, "{method} indication: only Send is relayed")
            }
            TurnDropped::UnsupportedMethod { method } => {
                write!(f, "{method} request: not implemented")
            }
            TurnDropped::Binding(e) => write!(f, "Binding: {e}"),
            TurnDropped::NoAllocation => f.write_str("no allocation for this 5-tuple or relay"),
            TurnDropped::AllocationPending => {
                f.write_str("Allocate retransmitted while its relay is being bound")
            }
            TurnDropped::ChannelNotBound { channel } => {
                write!(f, "channel {channel:#06x} is not bound")
            }
            TurnDropped::NoPermission { peer } => write!(f, "no permission for {peer}"),
            TurnDropped::PeerRefused { peer, why } => {
                write!(f, "peer {peer} refused by policy: {why:?}")
            }
            TurnDropped::BadSendIndication => f.write_str(
                "Send indication without XOR-PEER-ADDRESS and DATA, or with an unknown attribute",
            ),
            TurnDropped::PeerFamilyMismatch { peer } => {
                write!(f, "no relay address of the family of {peer}")
            }
            TurnDropped::BandwidthExceeded { len } => {
                write!(f, "{len} bytes over the allocation's bandwidth cap")
            }
            TurnDropped::UnknownRelay { relay } => {
                write!(
                    f,
                    "bind result for {relay}, which the server did not ask for"
                )
            }
            TurnDropped::QueueFull { capacity } => {
                write!(f, "outgoing queue full ({capacity}): drain poll_transmit")
            }
            TurnDropped::Internal(e) => write!(f, "bug: answer not built: {e}"),
        }
    }
}

impl fmt::Display for TurnInternalError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TurnInternalError::Build(e) => fmt::Display::fmt(e, f),
            TurnInternalError::Attribute(e) => fmt::Display::fmt(e, f),
        }
    }
}

impl std::error::Error for TurnDropped {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            TurnDropped::NotStun(e) => Some(e),
            TurnDropped::BadFingerprint(e) => Some(e),
            TurnDropped::Binding(e) => Some(e),
            TurnDropped::Internal(e) => Some(e),
            _ => None,
        }
    }
}

impl std::error::Error for TurnInternalError {}
