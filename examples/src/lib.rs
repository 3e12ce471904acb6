//! `icectl`: the command-line face of the ICE stack.
//!
//! | command | what | module |
//! |---|---|---|
//! | `icectl serve` | our STUN/TURN server, RFC 5780 capable with `--alt-ip` | [`serve`] |
//! | `icectl signal` | the rendezvous server `connect` peers meet on | [`signal`] |
//! | `icectl nat-type` | RFC 5780 and RFC 3489 NAT discovery against a server | [`nat_type`] |
//! | `icectl demo` | two agents live on loopback, then behind simulated NATs | [`demo`] |
//! | `icectl gather` | this machine's candidates as they trickle, per-server errors | [`gather`] |
//! | `icectl connect` | ICE netcat: stdin to the peer, the peer to stdout | [`connect`] |
//!
//! Shared by all: [`error`] (what failed, why, what to try; exit codes),
//! [`output`] (`--json` or a table on stdout), [`progress`] (a spinner on
//! a terminal's stderr), [`url`] (`stun:` and `turn:` URLs),
//! [`clock`] (time and seeds), [`servers`] (`--stun`/`--turn` flags), [`reliable`] (the byte stream
//! of `connect`), [`duration`] and [`shutdown`] (Ctrl-C).
//!
//! The command line is an edge of the stack: it owns sockets and reads
//! the clock, and drives the sans-IO crates with them.

pub mod cli;
pub mod clock;
pub mod connect;
pub mod demo;
pub mod duration;
pub mod error;
pub mod gather;
pub mod nat_type;
pub mod output;
pub mod progress;
pub mod reliable;
pub mod serve;
pub mod servers;
pub mod shutdown;
pub mod signal;
pub mod url;
