//! What `icectl gather` prints: a table row or a JSON object per
//! candidate, the summary (text, or the `done` object) and the error when
//! a server gave nothing. Pure functions of their inputs.

use std::net::SocketAddr;
use std::time::Duration;

use ice::{Candidate, CandidateType, TransportProtocol};
use serde_json::{Value, json};

use super::result::{Cause, Failure, Redundant, ServerResult};
use crate::error::CliError;
use crate::servers::Server;
use crate::url::Scheme;

/// The table's column headings.
pub const HEADINGS: [&str; 9] = [
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

/// The first line: how many sockets, which servers.
pub fn header(sockets: usize, servers: &[Server]) -> String {
    let servers = if servers.is_empty() {
        "none (host candidates only; add --stun or --turn)".to_owned()
    } else {
        let urls: Vec<&str> = servers.iter().map(|s| s.url.as_str()).collect();
        urls.join(", ")
    };
    format!("icectl gather: {sockets} local socket(s); servers: {servers}")
}

/// A candidate's cells, arrived `ms` after the start.
pub fn row(ms: f64, c: &Candidate) -> [String; 9] {
    let (address, port) = match c.socket_addr() {
        Some(a) => (a.ip().to_string(), a.port().to_string()),
        None => (c.address.to_string(), String::new()),
    };
    [
        format!("{ms:.1}"),
        c.component.to_string(),
        c.kind.sdp_name().to_owned(),
        c.foundation.clone(),
        protocol(c.transport).to_owned(),
        address,
        port,
        c.priority.to_string(),
        c.related.map_or_else(|| "-".to_owned(), |r| r.to_string()),
    ]
}

/// The address column's width: room for any IPv4 address, and for the
/// longest of the local and server IPs (rows are printed as they come,
/// before the other addresses are known).
pub fn address_width(ips: impl IntoIterator<Item = std::net::IpAddr>) -> usize {
    ips.into_iter()
        .map(|ip| ip.to_string().len())
        .fold("255.255.255.255".len(), usize::max)
}

/// Cells as a line of the table, its address column `width` wide.
pub fn row_text(cells: &[String; 9], width: usize) -> String {
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
        "{ms:>8}  {comp:>4}  {kind:<5}  {foundation:<10}  {proto:<5}  {address:<width$}  {port:>5}  {priority:>10}  {related}"
    )
}

fn protocol(t: TransportProtocol) -> &'static str {
    match t {
        TransportProtocol::Udp => "udp",
        TransportProtocol::Tcp => "tcp",
    }
}

/// A candidate as one `{"type":"candidate",…}` line.
pub fn candidate_json(ms: f64, c: &Candidate) -> Value {
    let addr = c.socket_addr();
    json!({
        "type": "candidate",
        "ms": ms,
        "component": c.component,
        "kind": c.kind.sdp_name(),
        "foundation": c.foundation,
        "protocol": protocol(c.transport),
        "address": addr.map_or_else(|| c.address.to_string(), |a| a.ip().to_string()),
        "port": addr.map(|a| a.port()),
        "priority": c.priority,
        "related_address": c.related.map(|r| r.ip().to_string()),
        "related_port": c.related.map(|r| r.port()),
        "sdp": ice::sdp::write_candidate(c).ok(),
    })
}

/// Why a server's answers gave no candidate, for people.
fn notes(r: &ServerResult) -> Vec<String> {
    let mut notes = Vec::new();
    let host = r
        .redundant
        .iter()
        .filter(|x| **x == Redundant::Host)
        .count();
    if host > 0 {
        let times = if host > 1 { " each time" } else { "" };
        notes.push(format!(
            "answered; the mapped address equals the host address{times} (no NAT between), so no srflx candidate"
        ));
    }
    for x in &r.redundant {
        if let Redundant::SameAs(url) = x {
            notes.push(format!(
                "answered with the mapped address {url} gave, so no second srflx candidate"
            ));
        }
    }
    if r.untold > 0 {
        notes.push(format!(
            "allocated {} relay(s), not told apart from the other TURN servers' above",
            r.untold
        ));
    }
    notes
}

/// A server's failures, the same ones told once: `from BASE, BASE: what`
/// for STUN requests, `what (N times)` for TURN allocations.
pub fn grouped(failures: &[Failure]) -> Vec<String> {
    let mut groups: Vec<(&str, Vec<SocketAddr>, usize)> = Vec::new();
    for f in failures {
        let at = match groups.iter().position(|(text, ..)| *text == f.text) {
            Some(at) => at,
            None => {
                groups.push((&f.text, Vec::new(), 0));
                groups.len() - 1
            }
        };
        if let Some((_, bases, n)) = groups.get_mut(at) {
            bases.extend(f.base);
            *n += 1;
        }
    }
    groups
        .into_iter()
        .map(|(text, bases, n)| {
            if !bases.is_empty() {
                let from: Vec<String> = bases.iter().map(|b| b.to_string()).collect();
                format!("from {}: {text}", from.join(", "))
            } else if n > 1 {
                format!("{text} ({n} times)")
            } else {
                text.to_owned()
            }
        })
        .collect()
}

fn kind(s: &Server) -> &'static str {
    match s.scheme {
        Scheme::Stun => "srflx",
        Scheme::Turn => "relay",
    }
}

/// The end of the text output: when gathering finished and what each
/// server gave or why not.
pub fn summary(
    complete: bool,
    ms: f64,
    timeout: Duration,
    candidates: &[Candidate],
    results: &[ServerResult],
) -> String {
    let count = |k: CandidateType| candidates.iter().filter(|c| c.kind == k).count();
    let counts = format!(
        "{} host, {} srflx, {} relay",
        count(CandidateType::Host),
        count(CandidateType::ServerReflexive),
        count(CandidateType::Relayed)
    );
    let mut out = if complete {
        format!("gathering finished after {ms:.1} ms: {counts}")
    } else {
        let waiting: Vec<&str> = results
            .iter()
            .filter(|r| r.failures.iter().any(|f| f.cause == Cause::Silent))
            .map(|r| r.server.url.as_str())
            .collect();
        format!(
            "gathering did not finish within --timeout {timeout:?} ({counts}); no result yet from {}",
            waiting.join(", ")
        )
    };
    let width = results
        .iter()
        .map(|r| r.server.url.len())
        .max()
        .unwrap_or(0);
    for r in results {
        let mut parts: Vec<String> = r
            .gave
            .iter()
            .map(|a| format!("{} {a}", kind(&r.server)))
            .collect();
        parts.extend(notes(r));
        let errors = grouped(&r.failures)
            .into_iter()
            .map(|e| format!("error: {e}"));
        parts.extend(errors);
        let mut lines = parts.into_iter();
        let first = lines.next().unwrap_or_default();
        out.push_str(&format!("\n  {:<width$}  {first}", r.server.url));
        for more in lines {
            out.push_str(&format!("\n  {:<width$}  {more}", ""));
        }
    }
    out
}

/// The last `{"type":"done",…}` line.
pub fn done_json(complete: bool, ms: f64, candidates: usize, results: &[ServerResult]) -> Value {
    let servers: Vec<Value> = results
        .iter()
        .map(|r| {
            json!({
                "url": r.server.url,
                "result": if r.ok() { "ok" } else { "error" },
                "candidates": r.gave.iter().map(|a| a.to_string()).collect::<Vec<_>>(),
                "notes": notes(r),
                "errors": grouped(&r.failures),
            })
        })
        .collect();
    json!({
        "type": "done",
        "complete": complete,
        "ms": ms,
        "candidates": candidates,
        "servers": servers,
    })
}

/// The error when a server gave nothing: which, why (its failures) and
/// what to check (by cause). `None` when every server was fine.
pub fn failure(results: &[ServerResult]) -> Option<CliError> {
    let failed: Vec<&ServerResult> = results.iter().filter(|r| !r.ok()).collect();
    if failed.is_empty() {
        return None;
    }
    let urls: Vec<&str> = failed.iter().map(|r| r.server.url.as_str()).collect();
    let why: Vec<String> = failed
        .iter()
        .map(|r| format!("{}: {}", r.server.url, grouped(&r.failures).join("; ")))
        .collect();
    let mut causes: Vec<Cause> = failed
        .iter()
        .flat_map(|r| r.failures.iter().map(|f| f.cause))
        .collect();
    causes.sort();
    let mut hints: Vec<&str> = causes
        .iter()
        .map(|c| match c {
            Cause::Credentials => "check the TURN credentials given with --user and --pass",
            Cause::NoAnswer | Cause::Silent => {
                "check the server's address and port, and that UDP to it is not blocked \
                 (a slow path may need a longer --timeout)"
            }
            Cause::Family => "give a server of the address family of a local address",
            Cause::Refused => "check that the URL names a STUN or TURN server, and its logs",
        })
        .collect();
    hints.dedup();
    Some(CliError::new(
        format!("no candidate from {}", urls.join(", ")),
        why.join("; "),
        hints.join("; "),
    ))
}
