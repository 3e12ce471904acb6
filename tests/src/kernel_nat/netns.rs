//! Network namespaces with unique names, deleted when dropped.
//!
//! Names are `icet-<pid>-<n>-<role>`: unique per process and per
//! namespace, so tests can run in parallel threads and in parallel
//! processes. A process killed outright (SIGKILL) cannot run its drops;
//! the first namespace a later process makes first removes the namespaces
//! whose `<pid>` no longer runs, and only those.

use std::net::SocketAddr;
use std::path::Path;
use std::process::Command;
use std::sync::Once;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use super::process::{self, Background, CommandError, Output};
use super::require::{Need, program};
use crate::realnet::RealNet;

/// The prefix of every namespace this harness makes.
const PREFIX: &str = "icet-";

/// How long a configuration command may take.
const COMMAND_TIMEOUT: Duration = Duration::from_secs(10);

static NEXT: AtomicU32 = AtomicU32::new(0);

/// A network namespace of its own, with `lo` up. Dropping it deletes it;
/// drop (kill) the processes running in it first, or it lives on until
/// they exit.
#[derive(Debug)]
pub struct Netns {
    name: String,
}

impl Netns {
    /// Makes a namespace; `role` ends its name (at most 12 characters are
    /// kept, for readability in `ip netns list`).
    pub fn new(role: &str) -> Result<Netns, CommandError> {
        reap_stale();
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let role: String = role.chars().take(12).collect();
        let name = format!("{PREFIX}{}-{n}-{role}", std::process::id());
        ip(&["netns", "add", &name])?;
        let ns = Netns { name };
        ns.ip(&["link", "set", "lo", "up"])?;
        Ok(ns)
    }

    /// Its name, as `ip netns` knows it.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Runs `ip -n <ns> <args>`.
    pub fn ip(&self, args: &[&str]) -> Result<Output, CommandError> {
        let mut all = vec!["-n", self.name.as_str()];
        all.extend_from_slice(args);
        ip(&all)
    }

    /// A command that runs `program` inside the namespace (through
    /// `ip netns exec`, which enters the namespace and execs the program:
    /// its pid is the program's).
    pub fn command(&self, program: impl AsRef<Path>) -> Command {
        let mut cmd = Command::new(super::require::program(Need::Netns));
        cmd.args(["netns", "exec", &self.name])
            .arg(program.as_ref());
        cmd
    }

    /// Runs `program args` inside, to completion within `timeout`, and
    /// returns what it printed whatever its exit status.
    pub fn run(
        &self,
        program: impl AsRef<Path>,
        args: &[&str],
        timeout: Duration,
    ) -> Result<Output, CommandError> {
        process::run(self.command(program).args(args), None, timeout)
    }

    /// Starts `program args` inside, in the background (see
    /// [`Background`]).
    pub fn spawn(
        &self,
        name: &str,
        program: impl AsRef<Path>,
        args: &[&str],
    ) -> Result<Background, CommandError> {
        Background::spawn(name, self.command(program).args(args))
    }

    /// Loads an nftables ruleset (`nft -f -`).
    pub fn nft(&self, ruleset: &str) -> Result<(), CommandError> {
        let nft = program(Need::Nft);
        let mut cmd = self.command(nft);
        cmd.args(["-f", "-"]);
        process::run_ok(&mut cmd, Some(ruleset), COMMAND_TIMEOUT)
            .map(|_| ())
            .map_err(|mut e| {
                e.output = format!("{}\nruleset:\n{ruleset}", e.output);
                e
            })
    }

    /// Sets a sysctl of this namespace, e.g. `net/ipv4/ip_forward`.
    pub fn sysctl(&self, key: &str, value: &str) -> Result<(), CommandError> {
        // /proc/sys seen from inside the namespace is the namespace's own.
        let script = format!("echo {value} > /proc/sys/{key}");
        let mut cmd = self.command("/bin/sh");
        cmd.args(["-c", &script]);
        process::run_ok(&mut cmd, None, COMMAND_TIMEOUT).map(|_| ())
    }

    /// The UDP sockets bound in this namespace (`ss -Huln`).
    pub fn udp_bound(&self) -> Result<Vec<SocketAddr>, CommandError> {
        // `ss` comes with `ip` in iproute2.
        let ss = super::require::find_program("ss").unwrap_or_else(|| "ss".into());
        let mut cmd = self.command(ss);
        cmd.arg("-Huln");
        let out = process::run_ok(&mut cmd, None, COMMAND_TIMEOUT)?;
        Ok(out
            .stdout
            .lines()
            .filter_map(|l| l.split_whitespace().nth(3)?.parse().ok())
            .collect())
    }

    /// Waits until every address in `addrs` has a UDP socket bound in this
    /// namespace (a server started in the background is ready).
    pub fn wait_udp_bound(
        &self,
        addrs: &[SocketAddr],
        timeout: Duration,
    ) -> Result<(), CommandError> {
        let deadline = RealNet::now() + timeout;
        loop {
            let bound = self.udp_bound()?;
            let missing: Vec<_> = addrs.iter().filter(|a| !bound.contains(a)).collect();
            if missing.is_empty() {
                return Ok(());
            }
            if RealNet::now() >= deadline {
                return Err(CommandError {
                    command: format!("ss in {}", self.name),
                    reason: format!("no UDP socket on {missing:?} after {timeout:?}"),
                    output: format!("bound: {bound:?}"),
                });
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Turns IPv4 forwarding on (a router or NAT).
    pub fn enable_forwarding(&self) -> Result<(), CommandError> {
        self.sysctl("net/ipv4/ip_forward", "1")
    }
}

impl Drop for Netns {
    fn drop(&mut self) {
        if let Err(e) = ip(&["netns", "del", &self.name]) {
            eprintln!("kernel_nat: could not delete namespace {}: {e}", self.name);
        }
    }
}

/// Joins two namespaces with a veth pair: `a_if` in `a`, `b_if` in `b`,
/// both up. Interface names live in their namespaces, so simple names
/// (`lan`, `wan`) never collide between tests.
pub fn veth(a: &Netns, a_if: &str, b: &Netns, b_if: &str) -> Result<(), CommandError> {
    a.ip(&[
        "link",
        "add",
        a_if,
        "type",
        "veth",
        "peer",
        "name",
        b_if,
        "netns",
        b.name(),
    ])?;
    a.ip(&["link", "set", a_if, "up"])?;
    b.ip(&["link", "set", b_if, "up"])?;
    Ok(())
}

/// Runs `ip <args>`.
fn ip(args: &[&str]) -> Result<Output, CommandError> {
    let mut cmd = Command::new(program(Need::Netns));
    cmd.args(args);
    process::run_ok(&mut cmd, None, COMMAND_TIMEOUT)
}

/// Deletes the namespaces of this harness left by processes that no
/// longer run (once per process).
fn reap_stale() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        let Ok(list) = ip(&["netns", "list"]) else {
            return;
        };
        for line in list.stdout.lines() {
            let Some(name) = line.split_whitespace().next() else {
                continue;
            };
            let Some(pid) = name
                .strip_prefix(PREFIX)
                .and_then(|rest| rest.split('-').next())
                .and_then(|pid| pid.parse::<u32>().ok())
            else {
                continue;
            };
            if !Path::new(&format!("/proc/{pid}")).exists() {
                let _ = ip(&["netns", "del", name]);
            }
        }
    });
}
