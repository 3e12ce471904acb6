//! A small STUN and TURN server for development and tests.
//!
//! This crate will hold a sans-IO STUN server (RFC 8489 Binding, RFC 5780
//! behaviour discovery, RFC 3489 classic attributes) and TURN server
//! (RFC 8656 allocations, permissions, channels), and a thin tokio front.
//! Production relays should use coturn, which our TURN client is tested
//! against.
//!
//! Nothing is implemented yet; the issues that build it are listed in the
//! README.
