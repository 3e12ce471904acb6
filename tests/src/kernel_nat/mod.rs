//! `kernel_nat`: real NATs and firewalls from the Linux kernel, in network
//! namespaces this harness makes and deletes itself.
//!
//! - [`mod@require`]: what the tests need (root, `ip`, `nft`, `conntrack`,
//!   `stun`, `stund`); a missing piece fails the test with its name and
//!   how to install it.
//! - [`Netns`], [`veth`]: namespaces with unique names (parallel test
//!   threads and processes never collide), deleted on drop, also when a
//!   test panics; commands and background processes inside them
//!   ([`Netns::command`], [`Netns::run`], [`Netns::spawn`]); nftables
//!   rulesets and sysctls.
//! - [`process`]: bounded waits for child processes; [`Background`] kills
//!   its process (by its pid) when dropped.
//! - [`rules`]: the middleboxes the kernel can be (NAT mapping and
//!   filtering behaviours, hairpinning, firewalls, UDP blocked) as
//!   nftables rulesets, each with the behaviour discovery must report.
//! - [`NatLab`]: client, middlebox and a two-address server, joined by
//!   veth pairs.
//! - [`conntrack`]: the NAT's flow table, an independent view of its
//!   mappings.
//! - [`Nsnode`]: runs our sans-IO components inside a namespace through
//!   the `nsnode` helper binary and reads back their reports.
//! - [`TwoNatLab`]: two clients behind two NATs and a server on the
//!   internet between them; [`IceCall`]: an ICE agent in each client
//!   namespace (`nsnode ice-agent`) and the signalling between them.
//!
//! Other set-ups are built from the same pieces, as [`TwoNatLab`] is:
//! more [`Netns`], more [`veth`] pairs, a ruleset per NAT, and any binary
//! started with [`Netns::spawn`] whose stdout the test reads.

pub mod conntrack;
pub mod ice_call;
mod lab;
mod netns;
mod node;
pub mod process;
pub mod require;
pub mod rules;
pub mod two_nats;

pub use ice_call::{AgentView, IceCall, SelectedLine, Transcript};
pub use lab::{CLIENT_IP, EXTERNAL_IP, EXTERNAL_IP2, GATEWAY_IP, NatLab, SERVER_ALT_IP, SERVER_IP};
pub use netns::{Netns, veth};
pub use node::{NodeReport, Nsnode, Pending, classic_report_lines, nat_report_lines};
pub use process::{Background, CommandError, Output};
pub use require::{Need, require};
pub use rules::{Expected, KernelNat, Mapping, Middlebox, Randomization};
pub use two_nats::TwoNatLab;
