//! What can go wrong in the driver, typed by who must act.

use std::fmt;
use std::io;
use std::net::SocketAddr;

use crate::AgentError;

/// Setting the driver up, or a call on it.
#[derive(Debug)]
#[non_exhaustive]
pub enum DriverError {
    /// Listing the local interfaces failed.
    Interfaces(io::Error),
    /// No local address to bind: every interface is down, or loopback
    /// only while the agent excludes loopback.
    NoAddresses,
    /// Binding a socket failed.
    Bind {
        /// The address.
        addr: SocketAddr,
        /// The operating system's error.
        source: io::Error,
    },
    /// The agent refused the call.
    Agent(AgentError),
    /// The agent's task has ended (closed, or the runtime shut down).
    Gone,
}

impl fmt::Display for DriverError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DriverError::Interfaces(e) => write!(f, "cannot list the network interfaces: {e}"),
            DriverError::NoAddresses => f.write_str(
                "no local address to use: every interface is down or loopback; \
                 set AgentConfig::include_loopback to use loopback, or name the addresses",
            ),
            DriverError::Bind { addr, source } => write!(
                f,
                "cannot bind a UDP socket on {addr}: {source}; choose another address or port"
            ),
            DriverError::Agent(e) => write!(f, "the ICE agent refused: {e}"),
            DriverError::Gone => f.write_str("the ICE agent has stopped (closed)"),
        }
    }
}

impl std::error::Error for DriverError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            DriverError::Interfaces(e) | DriverError::Bind { source: e, .. } => Some(e),
            DriverError::Agent(e) => Some(e),
            _ => None,
        }
    }
}

impl From<AgentError> for DriverError {
    fn from(e: AgentError) -> Self {
        DriverError::Agent(e)
    }
}

/// Why [`IceAgent::connect`](super::IceAgent::connect) gave no connection.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ConnectError {
    /// Every candidate pair failed (RFC 8445 §8.1.2): no path to the peer.
    Failed {
        /// What was tried, for the person reading the error.
        pairs_tried: usize,
    },
    /// The agent was closed before a pair was selected.
    Closed,
    /// `connect` was already called: the connection was handed out.
    AlreadyConnected,
}

impl fmt::Display for ConnectError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ConnectError::Failed { pairs_tried } => write!(
                f,
                "ICE failed: none of the {pairs_tried} candidate pairs reached the peer; \
                 check that both sides exchanged candidates, or add a TURN server"
            ),
            ConnectError::Closed => f.write_str("the ICE agent was closed before connecting"),
            ConnectError::AlreadyConnected => {
                f.write_str("connect was already called on this agent: use that connection")
            }
        }
    }
}

impl std::error::Error for ConnectError {}

/// Why a datagram could not be sent or received on a [`Connection`](super::Connection).
#[derive(Debug)]
#[non_exhaustive]
pub enum ConnectionError {
    /// No usable selected pair: consent expired (RFC 7675) or the
    /// connection failed.
    NotConnected(AgentError),
    /// The socket refused the datagram.
    Io(io::Error),
    /// The agent is closed.
    Closed,
}

impl fmt::Display for ConnectionError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ConnectionError::NotConnected(e) => write!(f, "cannot send: {e}"),
            ConnectionError::Io(e) => write!(f, "the socket refused the datagram: {e}"),
            ConnectionError::Closed => f.write_str("the connection is closed"),
        }
    }
}

impl std::error::Error for ConnectionError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            ConnectionError::NotConnected(e) => Some(e),
            ConnectionError::Io(e) => Some(e),
            ConnectionError::Closed => None,
        }
    }
}
