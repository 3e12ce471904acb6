//! A sans-IO ICE agent (RFC 8445) for WebRTC-like stacks.
//!
//! [`Agent`] gathers host, server-reflexive and relayed candidates, pairs them with
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
//! - [`agent`]: the agent itself;
//! - [`driver`]: the tokio driver (feature `tokio`).
//!
//! # Driving an agent
//!
//! Two agents wired back to back in memory (a real driver puts UDP sockets
//! and a clock where the loop below hands datagrams over):
//!
//! ```
//! use std::time::{Duration, Instant};
//! use ice::{Agent, AgentConfig, ConnectionState, Event, Role, StreamConfig, StreamId};
//!
//! /// Carries `me`'s events to `peer` (the signalling channel) and its
//! /// datagrams (the network). Returns whether `me` is connected.
//! fn step(me: &mut Agent, peer: &mut Agent, peer_stream: StreamId, now: Instant)
//!     -> Result<bool, ice::AgentError>
//! {
//!     let mut connected = false;
//!     while let Some(event) = me.poll_event() {
//!         match event {
//!             Event::LocalCandidate { candidate, .. } => {
//!                 peer.add_remote_candidate(peer_stream, candidate)?
//!             }
//!             Event::GatheringComplete { .. } => peer.end_of_remote_candidates(peer_stream)?,
//!             Event::StateChanged { state: ConnectionState::Connected, .. } => connected = true,
//!             _ => {}
//!         }
//!     }
//!     while let Some(t) = me.poll_transmit() {
//!         // Sending `t.data` from `t.from` to `t.to`.
//!         peer.handle_packet(now, t.to, t.from, &t.data);
//!     }
//!     Ok(connected)
//! }
//!
//! let t0 = Instant::now();
//! let mut now = t0;
//! let mut a = Agent::new(AgentConfig::new(Role::Controlling, 1), now);
//! let mut b = Agent::new(AgentConfig::new(Role::Controlled, 2), now);
//! let sa = a.add_stream(now, StreamConfig::single(vec!["192.0.2.1:5000".parse()?]))?;
//! let sb = b.add_stream(now, StreamConfig::single(vec!["192.0.2.2:5000".parse()?]))?;
//! a.set_remote_credentials(sa, b.local_credentials(sb)?)?;
//! b.set_remote_credentials(sb, a.local_credentials(sa)?)?;
//! let mut connected = [false, false];
//! while now < t0 + Duration::from_secs(5) && connected != [true, true] {
//!     connected[0] |= step(&mut a, &mut b, sb, now)?;
//!     connected[1] |= step(&mut b, &mut a, sa, now)?;
//!     // Sleep until the earliest timer, then fire it.
//!     let next = [a.poll_timeout(), b.poll_timeout()].into_iter().flatten().min();
//!     now = next.unwrap_or(now).max(now);
//!     a.handle_timeout(now);
//!     b.handle_timeout(now);
//! }
//! assert_eq!(connected, [true, true]);
//! a.send(sa, 1, b"\x80hello")?; // RFC 7983: not STUN, so application data
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! Relayed candidates come from the TURN servers of
//! [`AgentConfig::turn_servers`] (the agent runs a sans-IO TURN client per
//! base and server), or from a driver that allocates them itself
//! ([`Agent::add_relayed_candidate`]). [`driver`] (feature `tokio`, on by
//! default) runs the agent on tokio sockets and timers and hands out an
//! async connection for the selected pair.

pub mod agent;
pub mod candidate;
pub mod credentials;
#[cfg(feature = "tokio")]
pub mod driver;
pub mod sdp;

pub use agent::{
    Agent, AgentConfig, AgentError, CandidatePairState, CandidatePolicy, ConnectionState, Event,
    MAX_REMOTE_CANDIDATES, PairStats, Relayed, Role, SelectedPath, StreamConfig, StreamId,
    StunError, TurnServer,
};
pub use candidate::{Candidate, CandidateAddress, CandidateType, TransportProtocol};
/// The typed error of a failed TURN allocation ([`Event::RelayFailed`]).
pub use candidate_gather::turn::TurnError;
pub use credentials::Credentials;

/// The README's Rust blocks, compiled and run as doctests: here, because
/// `ice` depends on every crate they use (`stun-proto` for the codec
/// block, tokio for the driver's).
#[cfg(doctest)]
#[doc = include_str!("../../README.md")]
pub struct ReadmeDoctests;
