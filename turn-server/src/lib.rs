//! A small STUN and TURN server for development and tests.
//!
//! - [`StunServer`], a sans-IO STUN server: Binding requests (RFC 8489),
//!   NAT behaviour discovery from four sockets (RFC 5780) and classic
//!   RFC 3489 clients. The [`stun`] module documents the RFC sections, the
//!   choices made where the RFCs leave room, and the amplification bound.
//! - [`TurnServer`], a sans-IO TURN server (RFC 8656): allocations,
//!   permissions, channels, Send and Data indications and ChannelData over
//!   UDP and TCP, long-term credentials (RFC 8489 §9.2) from a user list or
//!   coturn's shared secret, expiring nonces, quotas, a bandwidth cap, a
//!   peer address policy, and the relay sockets asked of the driver. It
//!   answers Binding requests through [`StunServer`]. The [`turn`] module
//!   documents the receive order, the relay-socket protocol, the decisions
//!   and the amplification factor.
//! - With the `tokio` feature (on by default), [`front`]: the tokio driver
//!   that binds the UDP and TCP listeners and the relay sockets and runs
//!   the core on tokio's timers.
//!
//! Both cores follow the stack's verb grammar: `handle_*` in, then drain
//! `poll_event` and `poll_transmit`, and wake at `poll_timeout`.
//! Production relays should use coturn, which the front is tested against.

#[cfg(feature = "tokio")]
pub mod front;
pub mod stun;
pub mod turn;

pub use stun::{ConfigError, Dropped, StunServer, StunServerConfig, StunServerStats};
pub use turn::{
    FiveTuple, TurnConfigError, TurnDropped, TurnEvent, TurnServer, TurnServerConfig,
    TurnServerStats, TurnTransmit,
};
