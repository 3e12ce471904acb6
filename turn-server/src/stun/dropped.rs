//! Why the server stayed silent: every packet [`handle_packet`] does not
//! answer gets a typed reason, and the reason says who must act.
//!
//! - The remote (or nobody: it was not meant for us): not STUN, a
//!   FINGERPRINT that does not verify, an indication, a response, a method
//!   other than Binding, an unanswerable source. RFC 8489 §6.3: "If any
//!   errors are detected, the message is silently discarded."
//! - The driver: a packet from a socket the server did not ask for, or a
//!   queue it has not drained.
//! - This crate: an answer that could not be built (a bug, reported instead
//!   of a panic).
//!
//! Answering with an error response is not a drop: `handle_packet` returns
//! `Ok(())` and the answer waits in `poll_transmit`.
//!
//! [`handle_packet`]: super::StunServer::handle_packet

use core::fmt;
use core::net::SocketAddr;

use stun_proto::{AttributeError, BuildError, Class, FingerprintError, Method, ParseError};

/// Why a packet got no answer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Dropped {
    /// `local` is not one of
    /// [`local_addresses`](super::StunServer::local_addresses). The driver
    /// handed in a packet from a socket the server did not ask for.
    NotOurSocket {
        /// The address the packet arrived on.
        local: SocketAddr,
    },
    /// The source cannot be answered: port 0, or an unspecified, multicast
    /// or limited-broadcast address. Such a source is spoofed; answering a
    /// group address would multiply the answer.
    UnanswerableSource {
        /// The packet's source.
        remote: SocketAddr,
    },
    /// Not a STUN message: the framing check that failed (RFC 8489 §6.3).
    /// A driver sharing the port with other protocols may try them.
    NotStun(ParseError),
    /// A FINGERPRINT that does not match (RFC 8489 §7, §14.7): damaged, or
    /// another protocol that happens to frame like STUN.
    BadFingerprint(FingerprintError),
    /// An indication. Indications are never answered (RFC 8489 §6.3.2);
    /// Binding indications are keepalives.
    Indication {
        /// Its method.
        method: Method,
    },
    /// A success or error response. This server starts no transactions, so
    /// none matches (RFC 8489 §6.3).
    Response {
        /// Its method.
        method: Method,
        /// Success or error.
        class: Class,
    },
    /// A request of a method other than Binding. RFC 8489 §6.3: a message
    /// whose method is not "a supported method" is silently
    /// discarded; neither 400 nor 420 is the answer (420 is about
    /// attributes).
    UnsupportedMethod {
        /// The method.
        method: Method,
    },
    /// A request without the magic cookie while RFC 3489 answers are
    /// switched off ([`StunServerConfig::with_rfc3489`]).
    ///
    /// [`StunServerConfig::with_rfc3489`]: super::StunServerConfig::with_rfc3489
    Rfc3489Disabled,
    /// The outgoing queue is full: the driver has not drained
    /// [`poll_transmit`](super::StunServer::poll_transmit). The request is
    /// refused, not an older answer (clients retransmit, RFC 8489 §6.2.1).
    QueueFull {
        /// The queue's capacity.
        capacity: usize,
    },
    /// The answer could not be built: a bug in this crate, reported instead
    /// of a panic.
    Internal(InternalError),
}

/// What went wrong building an answer; each is a bug in this crate.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum InternalError {
    /// The writer refused the message.
    Build(BuildError),
    /// An attribute value was refused.
    Attribute(AttributeError),
    /// The answer came out larger than the configured ceiling.
    TooLarge {
        /// Its length.
        len: usize,
        /// The ceiling.
        max: usize,
    },
}

impl From<BuildError> for InternalError {
    fn from(e: BuildError) -> Self {
        InternalError::Build(e)
    }
}

impl From<AttributeError> for InternalError {
    fn from(e: AttributeError) -> Self {
        InternalError::Attribute(e)
    }
}

impl fmt::Display for Dropped {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Dropped::NotOurSocket { local } => {
                write!(f, "packet arrived on {local}, which is not a server socket")
            }
            Dropped::UnanswerableSource { remote } => {
                write!(f, "source {remote} cannot be answered")
            }
            Dropped::NotStun(e) => fmt::Display::fmt(e, f),
            Dropped::BadFingerprint(e) => write!(f, "dropped: {e}"),
            Dropped::Indication { method } => write!(f, "{method} indication: never answered"),
            Dropped::Response { method, class } => {
                write!(f, "{method} {class:?} response: no transaction of ours")
            }
            Dropped::UnsupportedMethod { method } => {
                write!(f, "{method} request: only Binding is supported")
            }
            Dropped::Rfc3489Disabled => {
                f.write_str("RFC 3489 request (no magic cookie): answers switched off")
            }
            Dropped::QueueFull { capacity } => write!(
                f,
                "outgoing queue full ({capacity} answers): drain poll_transmit"
            ),
            Dropped::Internal(e) => write!(f, "bug: answer not built: {e}"),
        }
    }
}

impl fmt::Display for InternalError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            InternalError::Build(e) => fmt::Display::fmt(e, f),
            InternalError::Attribute(e) => fmt::Display::fmt(e, f),
            InternalError::TooLarge { len, max } => {
                write!(f, "answer of {len} bytes exceeds the {max}-byte ceiling")
            }
        }
    }
}

impl std::error::Error for Dropped {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Dropped::NotStun(e) => Some(e),
            Dropped::BadFingerprint(e) => Some(e),
            Dropped::Internal(e) => Some(e),
            _ => None,
        }
    }
}

impl std::error::Error for InternalError {}
