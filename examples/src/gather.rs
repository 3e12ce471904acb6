//! `icectl gather`: the terminal version of the trickle-ICE page. It
//! gathers this machine's candidates with the ICE agent (RFC 8445 §5.1.1:
//! host, server-reflexive through STUN servers, relayed through TURN
//! servers), prints each as it trickles in (time, component, type,
//! foundation, protocol, address, port, priority, related address), then
//! the time gathering finished and, per server, what it gave or why it
//! gave nothing. A server that gave nothing makes the exit status 1.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, Instant};

use clap::Args;
use ice::driver::{IceAgent, IceConfig, LocalAddresses};
use ice::{AgentConfig, Candidate, CandidateType, Event, Role};
use serde_json::json;

use crate::clock::now;
use crate::error::CliError;
use crate::output::{print_json, print_line};
use crate::servers::{Server, ServerArgs};
use crate::url::Scheme;

/// `icectl gather`: list the candidates this machine would offer.
#[derive(Args, Debug, Clone)]
pub struct GatherArgs {
    /// STUN and TURN servers and credentials.
    #[command(flatten)]
    pub servers: ServerArgs,
    /// Gather only on these local IPs (repeatable); default: every
    /// interface.
    #[arg(long, value_name = "IP")]
    pub local: Vec<IpAddr>,
    /// Also offer loopback addresses.
    #[arg(long)]
    pub include_loopback: bool,
    /// How long to wait for the servers; their requests are retransmitted
    /// within three quarters of it (RFC 8489's schedule, scaled).
    #[arg(long, value_name = "DURATION", default_value = "10s", value_parser = crate::duration::parse_duration)]
    pub timeout: Duration,
    /// One JSON object per candidate as it comes, then one for the end.
    #[arg(long)]
    pub json: bool,
}

/// What a server came to.
#[derive(Clone, Debug, Default)]
struct Outcome {
    /// The candidates it gave (attributed when it is the only server of
    /// its kind).
    gave: Vec<SocketAddr>,
    /// Why it gave nothing, per failure.
    errors: Vec<String>,
}

/// Gathers and prints; exit 1 if a server gave nothing.
pub async fn run(args: GatherArgs) -> Result<(), CliError> {
    let servers = args.servers.resolve().await?;
    let mut config = AgentConfig::new(Role::Controlling, crate::clock::seed());
    config.stun_servers = servers.stun.clone();
    config.turn_servers = servers.turn.clone();
    config.include_loopback = args.include_loopback || args.local.iter().any(|ip| ip.is_loopback());
    config.retransmit = crate::nat_type::retransmit_for(args.timeout.mul_f64(0.75));
    let local = if args.local.is_empty() {
        LocalAddresses::Interfaces
    } else {
        LocalAddresses::Ips(args.local.clone())
    };
    let start = now();
    let agent = IceAgent::new(IceConfig::new(config).with_local(local))
        .await
        .map_err(|e| {
            CliError::new(
                "cannot gather host candidates",
                e.to_string(),
                "give a local address with --local IP (or --include-loopback)",
            )
        })?;
    let mut events = agent.events();
    if !args.json {
        print_line(&header(agent.local_sockets().len(), &servers.all));
        print_line(&row_text(&HEADINGS.map(str::to_owned)));
    }
    let spinner = crate::progress::Spinner::start("gathering candidates");
    let mut outcomes: HashMap<(bool, SocketAddr), Outcome> = HashMap::new();
    let mut candidates: Vec<Candidate> = Vec::new();
    let deadline = tokio::time::sleep(args.timeout);
    tokio::pin!(deadline);
    let finished = loop {
        tokio::select! {
            e = events.next() => match e {
                Some(Event::LocalCandidate { candidate, .. }) => {
                    let ms = ms_since(start);
                    if args.json {
                        print_json(&candidate_json(ms, &candidate))?;
                    } else {
                        print_line(&row_text(&row(ms, &candidate)));
                    }
                    attribute(&servers.all, &candidate, &mut outcomes);
                    candidates.push(candidate);
                }
                Some(Event::GatheringComplete { .. }) => break true,
                Some(Event::ServerReflexiveFailed { server, base, error, .. }) => {
                    outcomes.entry((false, server)).or_default().errors.push(format!("from {base}: {error}"));
                }
                Some(Event::RelayFailed { server, error, .. }) => {
                    outcomes.entry((true, server)).or_default().errors.push(error.to_string());
                }
                Some(_) => {}
                None => break false,
            },
            () = &mut deadline => break false,
        }
    };
    drop(spinner);
    let ms = ms_since(start);
    agent.close().await;
    let report: Vec<(Server, Verdict)> = servers
        .all
        .iter()
        .map(|s| (s.clone(), verdict(s, outcomes.get(&key(s)), finished)))
        .collect();
    if args.json {
        let servers: Vec<_> = report.iter().map(|(s, v)| v.json(s)).collect();
        print_json(&json!({
            "type": "done", "complete": finished, "ms": ms,
            "candidates": candidates.len(), "servers": servers,
        }))?;
    } else {
        print_line(&summary(finished, ms, args.timeout, &candidates, &report));
    }
    let failed: Vec<&Server> = report
        .iter()
        .filter(|(_, v)| matches!(v, Verdict::Failed(_) | Verdict::Silent))
        .map(|(s, _)| s)
        .collect();
    if failed.is_empty() {
        return Ok(());
    }
    let names: Vec<&str> = failed.iter().map(|s| s.url.as_str()).collect();
    let turn_auth = report
        .iter()
        .any(|(_, v)| matches!(v, Verdict::Failed(e) if e.iter().any(|e| e.contains("401") || e.contains("INTEGRITY"))));
    Err(CliError::new(
        format!("no candidate from {}", names.join(", ")),
        report
            .iter()
            .filter_map(|(s, v)| v.problem().map(|p| format!("{}: {p}", s.url)))
            .collect::<Vec<_>>()
            .join("; "),
        if turn_auth {
            "check the TURN credentials given with --user and --pass"
        } else {
            "check each server's address and port, and that UDP to it is not blocked"
        },
    ))
}

/// Where a server ended.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Verdict {
    /// It gave these candidates.
    Gave(Vec<SocketAddr>),
    /// A STUN server that answered, but whose mapped address was a host
    /// address: no NAT between, so the candidate is redundant (§5.1.3).
    NoNat,
    /// One of several servers of its kind, with no failure reported: its
    /// share of the candidates cannot be told apart.
    Answered,
    /// It gave nothing, and why.
    Failed(Vec<String>),
    /// Gathering timed out with no word from it.
    Silent,
}

impl Verdict {
    fn problem(&self) -> Option<String> {
        match self {
            Verdict::Failed(e) => Some(e.join("; ")),
            Verdict::Silent => Some("no answer before --timeout".into()),
            _ => None,
        }
    }

    fn json(&self, s: &Server) -> serde_json::Value {
        let (result, detail) = match self {
            Verdict::Gave(a) => (
                "ok",
                json!(a.iter().map(|a| a.to_string()).collect::<Vec<_>>()),
            ),
            Verdict::NoNat => ("ok", json!("no NAT: the mapped address is a host address")),
            Verdict::Answered => ("ok", json!(null)),
            Verdict::Failed(e) => ("error", json!(e)),
            Verdict::Silent => ("error", json!(["no answer before --timeout"])),
        };
        let key = if result == "ok" {
            "candidates"
        } else {
            "errors"
        };
        json!({"url": s.url, "result": result, key: detail})
    }
}

fn verdict(s: &Server, o: Option<&Outcome>, finished: bool) -> Verdict {
    let o = o.cloned().unwrap_or_default();
    if !o.errors.is_empty() && o.gave.is_empty() {
        return Verdict::Failed(o.errors);
    }
    if !o.gave.is_empty() {
        return Verdict::Gave(o.gave);
    }
    match (finished, s.scheme) {
        (false, _) => Verdict::Silent,
        (true, Scheme::Stun) => Verdict::NoNat,
        (true, Scheme::Turn) => Verdict::Answered,
    }
}

/// Credits a server-reflexive or relayed candidate to its server when the
/// server is the only one of its kind (a candidate does not name its
/// server).
fn attribute(all: &[Server], c: &Candidate, outcomes: &mut HashMap<(bool, SocketAddr), Outcome>) {
    let scheme = match c.kind {
        CandidateType::ServerReflexive => Scheme::Stun,
        CandidateType::Relayed => Scheme::Turn,
        _ => return,
    };
    let mut of_kind = all.iter().filter(|s| s.scheme == scheme);
    if let (Some(only), None, Some(addr)) = (of_kind.next(), of_kind.next(), c.socket_addr()) {
        outcomes.entry(key(only)).or_default().gave.push(addr);
    }
}

/// A STUN and a TURN server may share an address: outcomes are kept per
/// (is TURN, address).
fn key(s: &Server) -> (bool, SocketAddr) {
    (s.scheme == Scheme::Turn, s.addr)
}

const HEADINGS: [&str; 9] = [
    "ms",
    "comp",
    "type",
    "foundation",
    "proto",
    "address",
    "port",
    "priority",
    "related",
];

fn row(ms: f64, c: &Candidate) -> [String; 9] {
    let (address, port) = match c.socket_addr() {
        Some(a) => (a.ip().to_string(), a.port().to_string()),
        None => (c.address.to_string(), String::new()),
    };
    [
        format!("{ms:.1}"),
        c.component.to_string(),
        c.kind.sdp_name().to_owned(),
        c.foundation.clone(),
        transport(c).to_owned(),
        address,
        port,
        c.priority.to_string(),
        c.related.map_or_else(|| "-".to_owned(), |r| r.to_string()),
    ]
}

fn row_text(cells: &[String; 9]) -> String {
    let [
        ms,
        comp,
        kind,
        foundation,
        proto,
        address,
        port,
        priority,
        related,
    ] = cells;
    format!(
        "{ms:>8}  {comp:>4}  {kind:<5}  {foundation:<10}  {proto:<5}  {address:<39}  {port:>5}  {priority:>10}  {related}"
    )
}

fn transport(c: &Candidate) -> &'static str {
    match c.transport {
        ice::TransportProtocol::Udp => "udp",
        ice::TransportProtocol::Tcp => "tcp",
    }
}

fn candidate_json(ms: f64, c: &Candidate) -> serde_json::Value {
    json!({
        "type": "candidate",
        "ms": ms,
        "component": c.component,
        "kind": c.kind.sdp_name(),
        "foundation": c.foundation,
        "protocol": transport(c),
        "address": c.socket_addr().map_or_else(|| c.address.to_string(), |a| a.ip().to_string()),
        "port": c.socket_addr().map(|a| a.port()),
        "priority": c.priority,
        "related_address": c.related.map(|r| r.ip().to_string()),
        "related_port": c.related.map(|r| r.port()),
        "sdp": ice::sdp::write_candidate(c).ok(),
    })
}

fn header(sockets: usize, servers: &[Server]) -> String {
    let servers = if servers.is_empty() {
        "no STUN or TURN server (host candidates only; add --stun or --turn)".to_owned()
    } else {
        servers
            .iter()
            .map(|s| s.url.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    };
    format!("icectl gather: {sockets} local address(es); servers: {servers}")
}

fn summary(
    finished: bool,
    ms: f64,
    timeout: Duration,
    candidates: &[Candidate],
    report: &[(Server, Verdict)],
) -> String {
    let count = |k: CandidateType| candidates.iter().filter(|c| c.kind == k).count();
    let mut out = if finished {
        format!(
            "gathering finished after {ms:.1} ms: {} host, {} srflx, {} relay\n",
            count(CandidateType::Host),
            count(CandidateType::ServerReflexive),
            count(CandidateType::Relayed)
        )
    } else {
        format!("gathering did not finish within {timeout:?}\n")
    };
    for (s, v) in report {
        let what = match v {
            Verdict::Gave(a) => {
                let kind = if s.scheme == Scheme::Stun {
                    "srflx"
                } else {
                    "relay"
                };
                let list: Vec<String> = a.iter().map(|a| format!("{kind} {a}")).collect();
                list.join(", ")
            }
            Verdict::NoNat => "answered; the mapped address is a host address (no NAT between), \
                               so there is no srflx candidate"
                .to_owned(),
            Verdict::Answered => "answered (one of several servers of its kind)".to_owned(),
            Verdict::Failed(e) => format!("error: {}", e.join("; ")),
            Verdict::Silent => "error: no answer before --timeout".to_owned(),
        };
        out.push_str(&format!("  {}  {what}\n", s.url));
    }
    out.trim_end().to_owned()
}

fn ms_since(start: Instant) -> f64 {
    crate::clock::ms(start, now())
}
