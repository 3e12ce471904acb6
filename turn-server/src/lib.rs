//! A small STUN and TURN server for development and tests.
//!
//! Implemented: [`StunServer`], a sans-IO STUN server. It answers Binding
//! requests (RFC 8489), takes part in NAT behaviour discovery from four
//! sockets (RFC 5780: CHANGE-REQUEST, RESPONSE-ORIGIN, OTHER-ADDRESS,
//! RESPONSE-PORT, PADDING) and answers classic RFC 3489 clients. The
//! [`stun`] module documents the RFC sections, the choices made where the
//! RFCs leave room, and the amplification bound. Drive it with the stack's
//! verb grammar: `handle_packet`, then drain `poll_transmit`.
//!
//! Still to come: the TURN server (RFC 8656 allocations, permissions and
//! channels), sans-IO like the STUN server, and the thin tokio front that
//! binds the sockets and runs both. Production relays should use coturn,
//! which our TURN client is tested against.

pub mod stun;

pub use stun::{ConfigError, Dropped, StunServer, StunServerConfig, StunServerStats};
