//! Our `icectl serve` (STUN/TURN, RFC 8656) as a child process: the TURN
//! server of the browser's relayed runs.
//!
//! The binary is `icectl` next to this test's own profile directory
//! (`target/<profile>/icectl`, from `std::env::current_exe()`). Under
//! `cargo test` (which sets `CARGO`) it is first brought up to date with
//! `$CARGO build -p icectl` into that same target directory, so a stale or
//! missing binary is never used; run outside cargo, it must already exist.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;

use serde_json::Value;
use tokio::io::{AsyncBufReadExt as _, BufReader, Lines};
use tokio::process::{Child, ChildStdout, Command};

/// The TURN user of the runs.
pub const USER: &str = "interop";
/// Its password.
pub const PASSWORD: &str = "interop-password";
const REALM: &str = "interop";

/// A running `icectl serve`, killed on drop.
pub struct IcectlServe {
    child: Child,
    out: Lines<BufReader<ChildStdout>>,
    /// Its UDP listener.
    pub udp: SocketAddr,
}

impl IcectlServe {
    /// Builds (if needed) and starts `icectl serve` on a free port of
    /// 127.0.0.1, relaying to loopback peers.
    pub async fn start() -> Result<IcectlServe, String> {
        let bin = icectl().await?;
        let mut child = Command::new(&bin)
            .args([
                "serve",
                "--listen",
                "127.0.0.1:0",
                "--realm",
                REALM,
                "--json",
            ])
            .args(["--user", &format!("{USER}:{PASSWORD}")])
            .args(["--allow-peer", "127.0.0.0/8"])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .map_err(|e| format!("cannot start {}: {e}", bin.display()))?;
        let stdout = child.stdout.take().ok_or("icectl serve: no stdout")?;
        let mut out = BufReader::new(stdout).lines();
        let line = tokio::time::timeout(Duration::from_secs(10), out.next_line())
            .await
            .map_err(|_| "icectl serve printed nothing within 10 s".to_owned())?
            .map_err(|e| format!("icectl serve: {e}"))?
            .ok_or("icectl serve exited before announcing its address")?;
        let announced: Value = serde_json::from_str(&line)
            .map_err(|e| format!("icectl serve printed {line:?}: {e}"))?;
        let udp = announced["udp"][0]
            .as_str()
            .and_then(|a| a.parse().ok())
            .ok_or_else(|| format!("no UDP address in {line}"))?;
        Ok(IcectlServe { child, out, udp })
    }

    /// The `turn:` URL of its UDP listener.
    pub fn turn_url(&self) -> String {
        format!("turn:{}?transport=udp", self.udp)
    }

    /// Stops it with SIGTERM (by its process id) and returns the counters
    /// it prints when stopping.
    pub async fn stop(mut self) -> Result<Value, String> {
        let pid = self.child.id().ok_or("icectl serve already exited")?;
        std::process::Command::new("kill")
            .args(["-TERM", &pid.to_string()])
            .status()
            .map_err(|e| format!("cannot run kill: {e}"))?;
        let read = async {
            while let Ok(Some(line)) = self.out.next_line().await {
                if let Ok(v) = serde_json::from_str::<Value>(&line)
                    && v["event"] == "stopped"
                {
                    return Ok(v);
                }
            }
            Err("icectl serve exited without its counters".to_owned())
        };
        tokio::time::timeout(Duration::from_secs(10), read)
            .await
            .map_err(|_| "icectl serve did not stop within 10 s".to_owned())?
    }
}

/// `icectl serve` counted datagrams relayed both ways.
pub fn relayed_both_ways(counters: &Value) -> Result<(), String> {
    let count = |k: &str| counters[k][0].as_u64().unwrap_or(0);
    if counters["allocations"].as_u64().unwrap_or(0) > 0
        && count("to_peers") > 0
        && count("to_clients") > 0
    {
        Ok(())
    } else {
        Err(format!(
            "icectl serve relayed nothing both ways: {counters}"
        ))
    }
}

/// The `icectl` binary of this build, built first when run by cargo.
async fn icectl() -> Result<PathBuf, String> {
    let exe = std::env::current_exe().map_err(|e| format!("current_exe: {e}"))?;
    // target/<profile>/deps/chromium-<hash>
    let profile_dir = exe
        .parent()
        .and_then(|deps| deps.parent())
        .ok_or_else(|| format!("no profile directory above {}", exe.display()))?;
    let bin = profile_dir.join("icectl");
    if let Some(cargo) = std::env::var_os("CARGO") {
        let target_dir = profile_dir
            .parent()
            .ok_or("no target directory above the profile directory")?;
        let mut build = Command::new(cargo);
        build
            .args(["build", "--quiet", "-p", "icectl", "--target-dir"])
            .arg(target_dir);
        match profile_dir.file_name().and_then(|n| n.to_str()) {
            Some("debug") => {}
            Some(profile) => {
                build.args(["--profile", profile]);
            }
            None => return Err("the profile directory has no name".to_owned()),
        }
        let status = build
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .status()
            .await
            .map_err(|e| format!("cannot run cargo build -p icectl: {e}"))?;
        if !status.success() {
            return Err(format!("cargo build -p icectl failed: {status}"));
        }
    }
    if bin.exists() {
        Ok(bin)
    } else {
        Err(format!(
            "{} is missing: build it with `cargo build -p icectl`",
            bin.display()
        ))
    }
}
