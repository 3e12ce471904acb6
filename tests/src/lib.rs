//! Cross-crate test support.
//!
//! - [`netsim`]: the deterministic network simulator of DESIGN.md (virtual
//!   clock, one seeded RNG, links with delay, loss, duplication and
//!   reordering, RFC 4787 NATs, firewalls, pcap capture). Its own tests live
//!   in `tests/netsim_*.rs`.
//! - [`adapters`]: the stack's sans-IO components (STUN server, NAT
//!   discovery) as netsim endpoints.
//! - [`punch`]: UDP hole punching through a rendezvous server, for the
//!   hole-punching table (`tests/hole_punching.rs`).
//! - [`theory`]: which NAT pairs can punch, derived from RFC 4787.
//! - [`ice_pair`]: two ICE agents in netsim and the signalling between
//!   them.
//!
//! The simulation suites live in `tests/`: `nat_discovery.rs` (RFC 5780
//! and RFC 3489 discovery behind every NAT, with and without loss) and
//! `hole_punching.rs`; the codec's own tests live in `stun-proto/tests`.

pub mod adapters;
pub mod coturn;
pub mod debian_stun;
pub mod ice_pair;
pub mod kernel_nat;
pub mod netsim;
pub mod punch;
pub mod realnet;
pub mod theory;
