//! Interop with aioice (issue 8): Debian's `python3-aioice`, run by
//! `/usr/bin/python3` as `interop/peers/aioice_peer.py`, on 127.0.0.1,
//! against our agent in both roles (RFC 8445 §6.1.1: the peer takes the
//! other role). Candidates cross over the child's stdin and stdout; the run
//! passes when both sides name the same pair and a datagram crosses it each
//! way. A second pair of runs puts our agent behind our TURN server,
//! relay-only (RFC 8656). Each run records its row of the interop table.

mod child;

use std::path::PathBuf;

use child::{Peer, opposite, record_and_check, role_name, run, run_through_our_relay};
use ice::Role;
use ice_interop::ours::Options;

const PYTHON: &str = "/usr/bin/python3";

fn script() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("peers/aioice_peer.py")
}

/// Fails with what to install when aioice is missing: a skipped interop
/// run must not count as a pass.
fn require_aioice() {
    let ok = std::process::Command::new(PYTHON)
        .args(["-c", "import aioice"])
        .status()
        .map(|s| s.success())
        .unwrap_or(false);
    assert!(
        ok,
        "{PYTHON} cannot import aioice: install Debian's python3-aioice \
         (apt-get install python3-aioice); scripts/test does"
    );
}

/// The aioice peer in the role opposite to ours.
fn spawn(role: Role) -> Peer {
    require_aioice();
    let script = script();
    let script = script.to_str().expect("the workspace path is UTF-8");
    Peer::spawn(
        "aioice",
        PYTHON,
        &[script, "--role", role_name(opposite(role))],
    )
    .expect("python3 starts")
}

async fn against_aioice(role: Role, seed: u64) {
    let peer = spawn(role);
    let outcome = run(peer, &Options::new(role, seed)).await;
    record_and_check("aioice", "direct", role, seed, outcome);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn aioice_controlled_against_our_controlling_agent() {
    against_aioice(Role::Controlling, 0x0a10_1ce1).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn aioice_controlling_against_our_controlled_agent() {
    against_aioice(Role::Controlled, 0x0a10_1ce2).await;
}

/// Our agent relay-only through our TURN server (RFC 8656), aioice
/// direct. (aioice's own relay-only policy is not used: aioice 0.8 still
/// checks from its host sockets under it.)
async fn through_our_relay(role: Role, seed: u64) {
    let peer = spawn(role);
    let outcome = run_through_our_relay(peer, role, seed).await;
    record_and_check("aioice", "relay (our TURN)", role, seed, outcome);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn aioice_controlled_through_our_relay() {
    through_our_relay(Role::Controlling, 0x0a10_1ce3).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn aioice_controlling_through_our_relay() {
    through_our_relay(Role::Controlled, 0x0a10_1ce4).await;
}
