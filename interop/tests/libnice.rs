//! Interop with libnice (issue 8): `interop/peers/libnice_peer.c`, compiled
//! by this test with the system compiler and `pkg-config nice` (Debian's
//! `libnice-dev`), in RFC 5245 compatibility on 127.0.0.1, against our
//! agent in both roles. libnice nominates either way RFC 5245 allows:
//! regular nomination, and aggressive nomination (USE-CANDIDATE on every
//! check, §8.1.1.2 of RFC 5245), which RFC 8445 dropped but a controlled
//! RFC 8445 agent still meets in the wild. A last pair of runs puts our
//! agent behind our TURN server, relay-only. Each run records its row.

mod child;

use std::path::PathBuf;
use std::process::Command;
use std::sync::OnceLock;

use child::{Peer, opposite, record_and_check, role_name, run, run_through_our_relay};
use ice::Role;
use ice_interop::ours::Options;

/// The compiled peer, built once per test binary, and libnice's version.
fn peer_program() -> &'static (PathBuf, String) {
    static BUILT: OnceLock<(PathBuf, String)> = OnceLock::new();
    BUILT.get_or_init(|| build().unwrap_or_else(|e| panic!("{e}")))
}

fn pkg_config(args: &[&str]) -> Result<String, String> {
    let out = Command::new("pkg-config")
        .args(args)
        .output()
        .map_err(|e| format!("cannot run pkg-config ({e}): apt-get install pkg-config"))?;
    if !out.status.success() {
        return Err(format!(
            "pkg-config {args:?} failed ({}): install libnice-dev (apt-get install \
             libnice-dev); scripts/test does",
            String::from_utf8_lossy(&out.stderr).trim()
        ));
    }
    Ok(String::from_utf8_lossy(&out.stdout).trim().to_owned())
}

fn build() -> Result<(PathBuf, String), String> {
    let version = pkg_config(&["--modversion", "nice"])?;
    let flags = pkg_config(&["--cflags", "--libs", "nice"])?;
    let source = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("peers/libnice_peer.c");
    let out = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("libnice_peer");
    let cc = std::env::var("CC").unwrap_or_else(|_| "cc".into());
    let status = Command::new(&cc)
        .args(["-std=c11", "-O1", "-Wall", "-Wextra", "-Werror", "-o"])
        .arg(&out)
        .arg(&source)
        .arg(format!("-DPEER_VERSION=\"{version}\""))
        .args(flags.split_whitespace())
        .status()
        .map_err(|e| format!("cannot run the C compiler {cc:?} ({e}): apt-get install gcc"))?;
    if !status.success() {
        return Err(format!("{cc} could not compile {}", source.display()));
    }
    Ok((out, version))
}

fn spawn(role: Role, nomination: &str) -> Peer {
    let (program, _) = peer_program();
    let program = program.to_str().expect("the target path is UTF-8");
    Peer::spawn(
        "libnice",
        program,
        &[
            "--role",
            role_name(opposite(role)),
            "--nomination",
            nomination,
        ],
    )
    .expect("the compiled peer starts")
}

async fn against_libnice(role: Role, nomination: &str, seed: u64) {
    let peer = spawn(role, nomination);
    let outcome = run(peer, &Options::new(role, seed)).await;
    let variant = format!("{nomination} nomination");
    record_and_check("libnice", &variant, role, seed, outcome);
}

/// Our agent relay-only through our TURN server; libnice direct, regular
/// nomination.
async fn through_our_relay(role: Role, seed: u64) {
    let outcome = run_through_our_relay(spawn(role, "regular"), role, seed).await;
    record_and_check("libnice", "relay (our TURN)", role, seed, outcome);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn libnice_controlled_regular_nomination() {
    against_libnice(Role::Controlling, "regular", 0x0a1c_e001).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn libnice_controlling_regular_nomination() {
    against_libnice(Role::Controlled, "regular", 0x0a1c_e002).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn libnice_controlled_aggressive_nomination() {
    against_libnice(Role::Controlling, "aggressive", 0x0a1c_e003).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn libnice_controlling_aggressive_nomination() {
    against_libnice(Role::Controlled, "aggressive", 0x0a1c_e004).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn libnice_controlled_through_our_relay() {
    through_our_relay(Role::Controlling, 0x0a1c_e005).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn libnice_controlling_through_our_relay() {
    through_our_relay(Role::Controlled, 0x0a1c_e006).await;
}
