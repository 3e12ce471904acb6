//! Running our components inside a namespace: the `nsnode` helper binary
//! and the line format it reports in.
//!
//! A test thread cannot enter a namespace without `setns(2)`, which needs
//! `unsafe` (forbidden in this workspace) and would move the whole thread.
//! So the components run in a small binary of this crate,
//! `src/bin/nsnode.rs`, started through `ip netns exec`: it drives them
//! with [`crate::realnet`] and prints its results as `key=value` lines.
//! Integration tests find it as `env!("CARGO_BIN_EXE_nsnode")`; [`Nsnode`]
//! starts it and parses what it prints.
//!
//! # Line format
//!
//! One `key=value` per line. A known result's value is its `Debug` name
//! (`mapping=EndpointIndependent`, `hairpinning=false`, `classic=FullCone`);
//! an inconclusive one is `?` followed by the reason. The last line of a
//! finished run is `done`.

use std::collections::BTreeMap;
use std::fmt::Debug;
use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::time::Duration;

use candidate_gather::nat::{ClassicReport, NatReport, Outcome};

use super::netns::Netns;
use super::process::{self, Background, CommandError};
use crate::realnet::tasks::DiscoveryOptions;

fn outcome<T: Copy + Debug>(key: &str, o: &Outcome<T>) -> String {
    match o {
        Outcome::Known(v) => format!("{key}={v:?}"),
        Outcome::Inconclusive(r) => format!("{key}=?{r}"),
    }
}

fn mapped(a: Option<SocketAddr>) -> String {
    a.map_or_else(|| "mapped=?none".to_owned(), |a| format!("mapped={a}"))
}

/// The lines of an RFC 5780 report.
pub fn nat_report_lines(r: &NatReport) -> Vec<String> {
    vec![
        mapped(r.mapped_address),
        outcome("udp", &r.udp),
        outcome("mapping", &r.mapping),
        outcome("filtering", &r.filtering),
        outcome("hairpinning", &r.hairpinning),
        outcome("port", &r.port_assignment),
        outcome("classic", &r.classic),
    ]
}

/// The lines of a classic report.
pub fn classic_report_lines(r: &ClassicReport) -> Vec<String> {
    vec![mapped(r.mapped_address), outcome("classic", &r.nat)]
}

/// What `nsnode` printed, by key.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct NodeReport {
    fields: BTreeMap<String, String>,
    /// Everything it printed, for messages.
    pub raw: String,
}

impl NodeReport {
    /// Parses `key=value` lines (others are kept in `raw` only).
    pub fn parse(stdout: &str) -> NodeReport {
        let fields = stdout
            .lines()
            .filter_map(|l| l.split_once('='))
            .map(|(k, v)| (k.trim().to_owned(), v.trim().to_owned()))
            .collect();
        NodeReport {
            fields,
            raw: stdout.to_owned(),
        }
    }

    /// A value as printed.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.fields.get(key).map(String::as_str)
    }

    /// A known value (`None` when absent or inconclusive).
    pub fn known(&self, key: &str) -> Option<&str> {
        self.get(key).filter(|v| !v.starts_with('?'))
    }

    /// The mapped address.
    pub fn mapped(&self) -> Option<SocketAddr> {
        self.known("mapped").and_then(|v| v.parse().ok())
    }

    /// The local sockets the run used (`sockets=a,b,c`).
    pub fn sockets(&self) -> Vec<SocketAddr> {
        self.get("sockets")
            .map(|v| v.split(',').filter_map(|a| a.parse().ok()).collect())
            .unwrap_or_default()
    }
}

/// The `nsnode` helper binary.
#[derive(Clone, Debug)]
pub struct Nsnode {
    path: PathBuf,
}

/// How long a discovery run may take beyond its own limit (process start,
/// printing).
const SLACK: Duration = Duration::from_secs(10);

impl Nsnode {
    /// The binary at `path` (from a test: `env!("CARGO_BIN_EXE_nsnode")`).
    pub fn new(path: impl Into<PathBuf>) -> Nsnode {
        Nsnode { path: path.into() }
    }

    /// Starts our RFC 5780 STUN server in `ns` on `primary` and
    /// `alternate` (four sockets); returns once it is serving. It stops
    /// when the handle is finished or dropped.
    pub fn stun_server(
        &self,
        ns: &Netns,
        primary: SocketAddr,
        alternate: SocketAddr,
    ) -> Result<Background, CommandError> {
        let args = [
            "stun-server".to_owned(),
            "--primary".to_owned(),
            primary.to_string(),
            "--alternate".to_owned(),
            alternate.to_string(),
        ];
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let mut server = ns.spawn("nsnode stun-server", &self.path, &args)?;
        server.wait_for_line(Duration::from_secs(10), |l| l.starts_with("ready"))?;
        Ok(server)
    }

    /// Runs RFC 5780 discovery in `ns` from `local_ip` against `server`.
    pub fn rfc5780(
        &self,
        ns: &Netns,
        server: SocketAddr,
        local_ip: IpAddr,
        options: &DiscoveryOptions,
    ) -> Result<NodeReport, CommandError> {
        self.start_rfc5780(ns, server, local_ip, options)?.finish()
    }

    /// Runs the classic RFC 3489 flow in `ns` from `local_ip` against
    /// `server`.
    pub fn classic(
        &self,
        ns: &Netns,
        server: SocketAddr,
        local_ip: IpAddr,
        options: &DiscoveryOptions,
    ) -> Result<NodeReport, CommandError> {
        self.start_classic(ns, server, local_ip, options)?.finish()
    }

    /// Starts RFC 5780 discovery in the background (runs beside others).
    pub fn start_rfc5780(
        &self,
        ns: &Netns,
        server: SocketAddr,
        local_ip: IpAddr,
        options: &DiscoveryOptions,
    ) -> Result<Pending, CommandError> {
        self.start_discovery(ns, "rfc5780", server, local_ip, options)
    }

    /// Starts the classic flow in the background.
    pub fn start_classic(
        &self,
        ns: &Netns,
        server: SocketAddr,
        local_ip: IpAddr,
        options: &DiscoveryOptions,
    ) -> Result<Pending, CommandError> {
        self.start_discovery(ns, "classic", server, local_ip, options)
    }

    fn start_discovery(
        &self,
        ns: &Netns,
        mode: &str,
        server: SocketAddr,
        local_ip: IpAddr,
        o: &DiscoveryOptions,
    ) -> Result<Pending, CommandError> {
        let mut args = vec![
            mode.to_owned(),
            "--server".into(),
            server.to_string(),
            "--bind".into(),
            local_ip.to_string(),
            "--rto-ms".into(),
            o.rto.as_millis().to_string(),
            "--sockets".into(),
            o.sockets.to_string(),
            "--max-transactions".into(),
            o.max_transactions.to_string(),
            "--limit-ms".into(),
            o.limit.as_millis().to_string(),
            "--seed".into(),
            o.seed.to_string(),
        ];
        if o.rfc3489_requests {
            args.push("--rfc3489".into());
        }
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let process = ns.spawn(&format!("nsnode {mode}"), &self.path, &args)?;
        Ok(Pending {
            process,
            timeout: o.limit + SLACK,
        })
    }

    /// Runs `nsnode args` in `ns` and parses its report; fails unless it
    /// exits with status 0.
    pub fn run(
        &self,
        ns: &Netns,
        args: &[String],
        timeout: Duration,
    ) -> Result<NodeReport, CommandError> {
        let mut cmd = ns.command(&self.path);
        cmd.args(args);
        let out = process::run_ok(&mut cmd, None, timeout)?;
        Ok(NodeReport::parse(&out.stdout))
    }
}

/// An `nsnode` run in the background.
#[derive(Debug)]
pub struct Pending {
    process: Background,
    timeout: Duration,
}

impl Pending {
    /// Waits for it (killing it after its limit) and parses its report;
    /// fails unless it exited with status 0.
    pub fn finish(self) -> Result<NodeReport, CommandError> {
        let name = format!("{:?}", self.process);
        let out = self.process.finish(self.timeout);
        if !out.success() {
            return Err(CommandError {
                command: name,
                reason: match out.status {
                    None => format!("did not finish within {:?}", self.timeout),
                    Some(s) => format!("failed ({s})"),
                },
                output: format!("{}{}", out.stderr, out.stdout),
            });
        }
        Ok(NodeReport::parse(&out.stdout))
    }
}
