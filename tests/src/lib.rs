//! Cross-crate test support.
//!
//! This crate will hold `netsim`, the deterministic network simulator of
//! DESIGN.md (virtual clock, seeded RNG, links with loss and delay, RFC 4787
//! NATs), and the simulation and interop suites that run the agent, the
//! discovery client and the servers in it.
//!
//! Nothing is implemented yet; the codec's own tests live in
//! `stun-proto/tests`.
