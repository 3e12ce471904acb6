//! Cross-crate test support.
//!
//! - [`netsim`]: the deterministic network simulator of DESIGN.md (virtual
//!   clock, one seeded RNG, links with delay, loss, duplication and
//!   reordering, RFC 4787 NATs, firewalls, pcap capture). Its own tests live
//!   in `tests/netsim_*.rs`.
//!
//! The simulation and interop suites that run the agent, the discovery
//! client and the servers in it will live here too; the codec's own tests
//! live in `stun-proto/tests`.

pub mod netsim;
