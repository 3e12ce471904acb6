//! What can go wrong, typed by who must act (DESIGN.md principle 6).
//!
//! - [`TurnError`]: the server refused, did not answer, or answered in a way
//!   that breaks RFC 8656 / RFC 8489; reported in events. Its `Display` says
//!   what failed, why, and what to try.
//! - [`UsageError`]: the caller asked for something the client cannot do
//!   now (no allocation yet, a full queue); returned by the API.

use std::fmt;
use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use stun_proto::{CredentialError, FramingError};

/// Which request an error is about.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Operation {
    /// Allocate (RFC 8656 §7).
    Allocate,
    /// Refresh of the allocation (RFC 8656 §8).
    Refresh,
    /// Refresh with LIFETIME 0: releasing the allocation (RFC 8656 §8).
    Release,
    /// CreatePermission for one peer IP (RFC 8656 §9).
    CreatePermission(IpAddr),
    /// ChannelBind (RFC 8656 §12).
    ChannelBind {
        /// The peer.
        peer: SocketAddr,
        /// The channel number.
        channel: u16,
    },
}

impl fmt::Display for Operation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Operation::Allocate => f.write_str("Allocate"),
            Operation::Refresh => f.write_str("Refresh"),
            Operation::Release => f.write_str("Refresh (LIFETIME 0, release)"),
            Operation::CreatePermission(ip) => write!(f, "CreatePermission for {ip}"),
            Operation::ChannelBind { peer, channel } => {
                write!(f, "ChannelBind of channel {channel:#06x} to {peer}")
            }
        }
    }
}

/// Why the server, the network or the answers failed a request.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum TurnError {
    /// 401 (Unauthenticated) again after the request carried credentials
    /// for the realm the server named (RFC 8489 §9.2.5: the client must not
    /// retry with the same credentials).
    Unauthorized {
        /// The realm the server asked for.
        realm: String,
    },
    /// 441 (Wrong Credentials, RFC 8656 §7.2): the credentials differ from
    /// those the allocation was created with.
    WrongCredentials {
        /// The request.
        operation: Operation,
    },
    /// The configured username, password or the server's realm is not a
    /// valid RFC 8265 OpaqueString, so no key can be derived.
    InvalidCredentials(CredentialError),
    /// A 401 or 438 whose nonce cookie announces PASSWORD-ALGORITHMS but
    /// that carries none: a bid-down attempt (RFC 8489 §9.2.1, §9.2.5).
    AuthDowngrade,
    /// The server offers only password algorithms this client does not
    /// implement (RFC 8489 §9.2.5: do not retry).
    NoSupportedPasswordAlgorithm {
        /// The algorithm numbers offered.
        offered: Vec<u16>,
    },
    /// 438 (Stale Nonce) more than [`MAX_STALE_NONCE_RETRIES`] times in a
    /// row for one request.
    ///
    /// [`MAX_STALE_NONCE_RETRIES`]: super::MAX_STALE_NONCE_RETRIES
    StaleNonceLoop {
        /// The request.
        operation: Operation,
    },
    /// A second 300 (Try Alternate), or one that points back to the server
    /// itself or to another address family (RFC 8489 §10, §14.15).
    BadRedirect {
        /// The server that redirected.
        from: SocketAddr,
        /// Where it pointed, if it said.
        to: Option<SocketAddr>,
    },
    /// 437 (Allocation Mismatch) on Allocate: this local address already
    /// has an allocation on the server (RFC 8656 §7.4).
    AllocationMismatch,
    /// 440 (Address Family not Supported, RFC 8656 §7.4).
    AddressFamilyNotSupported,
    /// 442 (Unsupported Transport Protocol, RFC 8656 §7.4).
    UnsupportedTransport,
    /// 443 (Peer Address Family Mismatch, RFC 8656 §9.1, §12.1).
    PeerAddressFamilyMismatch {
        /// The request.
        operation: Operation,
    },
    /// 403 (Forbidden, RFC 8656 §7.4, §9.2): the server's policy refuses.
    Forbidden {
        /// The request.
        operation: Operation,
        /// The server's reason phrase.
        reason: String,
    },
    /// 486 (Allocation Quota Reached, RFC 8656 §7.4).
    AllocationQuotaReached,
    /// 508 (Insufficient Capacity, RFC 8656 §7.4, §9.2, §12.2).
    InsufficientCapacity {
        /// The request.
        operation: Operation,
    },
    /// Any other error response.
    Rejected {
        /// The request.
        operation: Operation,
        /// The error code.
        code: u16,
        /// The server's reason phrase.
        reason: String,
    },
    /// No answer within the transaction timeout (RFC 8489 §6.2.1).
    Timeout {
        /// The request.
        operation: Operation,
        /// The server asked.
        server: SocketAddr,
        /// How long the client waited.
        after: Duration,
    },
    /// Answers came, but none passed the integrity check (RFC 8489 §9.2.5:
    /// "signal that the integrity protection was violated").
    IntegrityViolated {
        /// The request.
        operation: Operation,
    },
    /// An authentic answer that breaks RFC 8656 (a missing attribute, a
    /// relayed address of another family).
    ProtocolViolation {
        /// The request.
        operation: Operation,
        /// What is wrong.
        what: &'static str,
    },
    /// The allocation expired: refreshes failed until its lifetime ran out.
    AllocationExpired {
        /// Why the last refresh failed, if one did.
        last_refresh_error: Option<Box<TurnError>>,
    },
    /// A permission or channel binding expired because its refreshes failed.
    Expired {
        /// The refresh that kept failing.
        operation: Operation,
    },
    /// The TCP byte stream cannot be framed (RFC 8656 §12.5); the
    /// connection, and with it the allocation, is lost.
    StreamBroken(FramingError),
}

impl fmt::Display for TurnError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TurnError::Unauthorized { realm } => write!(
                f,
                "the TURN server rejected the username/password (401 after sending credentials for realm {realm:?}): check the TURN username and password and that they belong to this realm"
            ),
            TurnError::WrongCredentials { operation } => write!(
                f,
                "the TURN server refused {operation} because the credentials differ from those the allocation was made with (441 Wrong Credentials): keep one username and password for the allocation's life"
            ),
            TurnError::InvalidCredentials(e) => write!(
                f,
                "cannot derive the TURN long-term key: {e}; fix the configured TURN username or password"
            ),
            TurnError::AuthDowngrade => f.write_str(
                "the TURN server's nonce announces password algorithms but none were sent (RFC 8489 §9.2.5): possible downgrade attack on the path; not retrying",
            ),
            TurnError::NoSupportedPasswordAlgorithm { offered } => write!(
                f,
                "the TURN server offers only password algorithms {offered:?}, and this client implements MD5 (1) and SHA-256 (2): enable one of them on the server"
            ),
            TurnError::StaleNonceLoop { operation } => write!(
                f,
                "the TURN server answered {operation} with 438 Stale Nonce {} times in a row: the server's nonces expire at once; check its clock and nonce lifetime",
                super::MAX_STALE_NONCE_RETRIES + 1
            ),
            TurnError::BadRedirect { from, to: Some(to) } => write!(
                f,
                "the TURN server {from} redirected to {to} (300 Try Alternate), which is a loop, a second redirect or another address family: configure the server to use directly"
            ),
            TurnError::BadRedirect { from, to: None } => write!(
                f,
                "the TURN server {from} answered 300 Try Alternate without a usable ALTERNATE-SERVER: check the server's alternate-server setting"
            ),
            TurnError::AllocationMismatch => f.write_str(
                "the TURN server already holds an allocation for this local address (437 Allocation Mismatch): allocate from another local port, or wait for the old allocation to expire",
            ),
            TurnError::AddressFamilyNotSupported => f.write_str(
                "the TURN server cannot relay the requested address family (440 Address Family not Supported): ask for IPv4, or use a server with IPv6 relays",
            ),
            TurnError::UnsupportedTransport => f.write_str(
                "the TURN server does not relay UDP for this client (442 Unsupported Transport Protocol): check the server's relay settings",
            ),
            TurnError::PeerAddressFamilyMismatch { operation } => write!(
                f,
                "the TURN server refused {operation}: the peer's address family differs from the relayed address's (443 Peer Address Family Mismatch); allocate a relay of the peer's family"
            ),
            TurnError::Forbidden { operation, reason } => write!(
                f,
                "the TURN server forbids {operation} (403 {reason:?}): its policy refuses this user or peer address"
            ),
            TurnError::AllocationQuotaReached => f.write_str(
                "the TURN server refused a new allocation: this user has too many (486 Allocation Quota Reached); release unused allocations or wait before retrying",
            ),
            TurnError::InsufficientCapacity { operation } => write!(
                f,
                "the TURN server is out of capacity for {operation} (508 Insufficient Capacity): try another server or later"
            ),
            TurnError::Rejected {
                operation,
                code,
                reason,
            } => write!(
                f,
                "the TURN server rejected {operation} with {code} {reason:?}: see the server's logs"
            ),
            TurnError::Timeout {
                operation,
                server,
                after,
            } => write!(
                f,
                "no answer from the TURN server {server} to {operation} within {:.1} s: check the server address and port, and that the path to it is open",
                after.as_secs_f64()
            ),
            TurnError::IntegrityViolated { operation } => write!(
                f,
                "answers to {operation} failed the MESSAGE-INTEGRITY check (RFC 8489 §9.2.5): the password is wrong for the server's realm, or something on the path alters or forges answers"
            ),
            TurnError::ProtocolViolation { operation, what } => write!(
                f,
                "the TURN server's answer to {operation} breaks RFC 8656: {what}; report it to the server's operator"
            ),
            TurnError::AllocationExpired {
                last_refresh_error: Some(e),
            } => write!(
                f,
                "the TURN allocation expired because refreshing it failed ({e}); allocate again"
            ),
            TurnError::AllocationExpired {
                last_refresh_error: None,
            } => f.write_str("the TURN allocation expired; allocate again"),
            TurnError::Expired { operation } => write!(
                f,
                "refreshing with {operation} kept failing and it expired; ask for it again"
            ),
            TurnError::StreamBroken(e) => write!(
                f,
                "the TCP stream from the TURN server is out of step ({e}); the allocation is lost with the connection, connect and allocate again"
            ),
        }
    }
}

impl std::error::Error for TurnError {}

/// A request the client cannot carry out now.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum UsageError {
    /// There is no allocation (not yet, or no longer): wait for
    /// `TurnEvent::Allocated`.
    NotAllocated,
    /// The client is closed or failed.
    Closed,
    /// The peer's family differs from the relayed address's (RFC 8656 §9.1:
    /// the server would answer 443).
    PeerFamilyMismatch {
        /// The peer.
        peer: SocketAddr,
    },
    /// Too much data is already waiting for this peer's permission; the
    /// datagram was dropped.
    QueueFull {
        /// The peer.
        peer: SocketAddr,
    },
    /// More application data than a Send indication or ChannelData carries.
    DataTooLong {
        /// The length.
        len: usize,
    },
    /// All 4096 channel numbers (0x4000-0x4FFF, RFC 8656 §12) are used.
    ChannelsExhausted,
    /// The call belongs to the other transport (`handle_stream` on a UDP
    /// client).
    WrongTransport,
    /// The server refused (or never answered) the permission for this
    /// peer's IP a moment ago; the datagram was dropped without asking
    /// again (see `PERMISSION_REFUSAL_HOLD`).
    PermissionRefused {
        /// The peer.
        peer: SocketAddr,
    },
}

impl fmt::Display for UsageError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            UsageError::NotAllocated => f.write_str(
                "no TURN allocation yet (or any more): wait for the Allocated event before sending",
            ),
            UsageError::Closed => f.write_str("the TURN client is closed or failed"),
            UsageError::PeerFamilyMismatch { peer } => write!(
                f,
                "peer {peer} is of another address family than the relayed address: use a relay of its family"
            ),
            UsageError::QueueFull { peer } => write!(
                f,
                "datagram to {peer} dropped: the queue waiting for its TURN permission is full"
            ),
            UsageError::DataTooLong { len } => write!(
                f,
                "{len} bytes do not fit in one relayed datagram (at most 65535, less in a Send indication)"
            ),
            UsageError::ChannelsExhausted => {
                f.write_str("all TURN channel numbers 0x4000-0x4FFF are in use")
            }
            UsageError::WrongTransport => {
                f.write_str("this call is for the other transport to the TURN server")
            }
            UsageError::PermissionRefused { peer } => write!(
                f,
                "datagram to {peer} dropped: the TURN server refused a permission for {} (its peer policy may forbid that address); create_permission asks again",
                peer.ip()
            ),
        }
    }
}

impl std::error::Error for UsageError {}
