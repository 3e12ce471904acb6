//! A sans-IO ICE agent (RFC 8445) for WebRTC-like stacks.
//!
//! [`Agent`] gathers host and server-reflexive candidates, pairs them with
//! the peer's, runs connectivity checks in the controlling or controlled
//! role, nominates, and hands the application the selected pair of each
//! component, then keeps it alive with consent freshness (RFC 7675). It
//! takes `now` and a seed, owns all its state and never touches a socket or
//! the clock: drivers (tokio, or the `netsim` simulator) feed it datagrams
//! and timeouts and send what it returns.
//!
//! - [`candidate`]: candidates, priorities (RFC 8445 §5.1.2, RFC 8421),
//!   foundations;
//! - [`sdp`]: `a=candidate` and the other ICE SDP attributes (RFC 8839);
//! - [`credentials`]: ufrag and pwd (RFC 8445 §5.3);
//! - [`agent`]: the agent itself.
//!
//! To come (later issues): relayed candidates through TURN, and the tokio
//! driver with an async connection for the selected pair.

pub mod agent;
pub mod candidate;
pub mod credentials;
pub mod sdp;

pub use agent::{
    Agent, AgentConfig, AgentError, ConnectionState, Event, Role, StreamConfig, StreamId,
};
pub use candidate::{Candidate, CandidateAddress, CandidateType, TransportProtocol};
pub use credentials::Credentials;
