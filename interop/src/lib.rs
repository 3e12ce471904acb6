//! Interop with real ICE peers (issue 8), and the interop table.
//!
//! Each test in `tests/` starts the real peer (a headless Chromium, an
//! in-process webrtc-ice 0.17 agent, an aioice script, a libnice program
//! compiled by the test), runs our agent (the tokio driver of `ice`) against
//! it in both roles, and records one [`table::Row`] per run. The
//! `interop-table` binary turns the rows into `INTEROP.md` and the README's
//! table, so no row is written by hand.
//!
//! - [`ours`]: our side, one [`ours::OurPeer`] per run, on loopback.
//! - [`relay`]: our TURN server on loopback for the relayed runs.
//! - [`table`]: the rows and the table.

pub mod ours;
pub mod relay;
pub mod table;
