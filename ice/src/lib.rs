//! The ICE agent (RFC 8445): a sans-IO core that gathers, pairs, checks,
//! nominates and hands over the selected pair, plus a tokio driver.
//!
//! This crate will hold the `Agent` of `DESIGN.md`: `handle_packet`,
//! `handle_timeout`, `poll_transmit`, `poll_event` and `poll_timeout` over
//! checklists, roles, nomination, consent freshness (RFC 7675), trickle
//! (RFC 8838) and SDP candidate lines (RFC 8839).
//!
//! Nothing is implemented yet; the issues that build it are listed in the
//! README.
