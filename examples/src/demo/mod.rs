//! `icectl demo`: the README's main job. No outside server, no
//! configuration, a few seconds:
//!
//! 1. [`live`]: an in-process STUN/TURN server and two agents of the tokio
//!    driver on 127.0.0.1, their gathering, checks, nomination and selected
//!    pair printed as they happen, then data over it.
//! 2. [`sim`]: the same two peers in netsim behind NATs (`--nat-a`,
//!    `--nat-b`, classic names or RFC 4787 terms, see [`nat`]): by default
//!    one pair that hole punching gets through and one that needs the
//!    relay.
//!
//! Text for people; with `--json` one object per line, each with `part`
//! (`live` or `sim`) and `event`.

pub mod live;
pub mod nat;
pub mod sim;

use clap::Args;
use ice::{Candidate, CandidateType, ConnectionState, Event};
use ice_tests::theory::Kind;
use serde_json::{Value, json};

use crate::error::CliError;
use crate::output::print_line;

/// `icectl demo`: two agents connect, live on loopback, then behind
/// simulated NATs.
#[derive(Args, Debug, Clone)]
pub struct DemoArgs {
    /// Peer A's NAT in the simulated part: open (none), full-cone,
    /// restricted, port-restricted, symmetric, blocked, or RFC 4787
    /// MAPPING-FILTERING (eim|adm|apdm - eif|adf|apdf, e.g. eim-apdf).
    /// Default: a tour of two cases, punched and relayed.
    #[arg(long, value_name = "NAT")]
    pub nat_a: Option<String>,
    /// Peer B's NAT (port-restricted when only --nat-a is given).
    #[arg(long, value_name = "NAT")]
    pub nat_b: Option<String>,
    /// Only relayed candidates (RTCIceTransportPolicy "relay"), in both
    /// parts.
    #[arg(long)]
    pub relay_only: bool,
    /// The seed of the simulated part (the same seed gives the same run).
    #[arg(long, value_name = "N", default_value_t = 1)]
    pub seed: u64,
    /// Skip the live part (only the simulation).
    #[arg(long)]
    pub sim_only: bool,
    /// One JSON object per line instead of text.
    #[arg(long)]
    pub json: bool,
}

/// Text or JSON lines on stdout.
#[derive(Clone, Copy, Debug)]
pub struct Out {
    json: bool,
}

impl Out {
    /// A line of text, or its JSON form.
    pub fn line(&self, text: &str, value: Value) {
        if self.json {
            print_line(&value.to_string());
        } else {
            print_line(text);
        }
    }

    /// Text only (what the JSON says in other lines).
    pub fn text(&self, text: &str) {
        if !self.json {
            print_line(text);
        }
    }

    /// JSON only (what the text leaves out or says in other lines).
    pub fn json(&self, value: Value) {
        if self.json {
            print_line(&value.to_string());
        }
    }

    /// A section title (an empty line before it in text).
    pub fn heading(&self, text: &str, value: Value) {
        self.text("");
        self.line(text, value);
    }
}

/// Runs both parts.
pub async fn run(args: DemoArgs) -> Result<(), CliError> {
    let cases = cases(&args)?;
    let out = Out { json: args.json };
    out.text("icectl demo: two ICE agents (RFC 8445) connect, live on loopback, then behind simulated NATs");
    if !args.sim_only {
        live::run(&out, args.relay_only).await?;
    }
    out.heading(
        &format!(
            "2. Simulated (netsim, virtual time, seed {}): STUN/TURN server at {}{}",
            args.seed,
            sim::SERVER,
            if args.relay_only { "; relay only" } else { "" }
        ),
        json!({"part": "sim", "event": "start", "seed": args.seed, "server": sim::SERVER.to_string(),
               "relay_only": args.relay_only}),
    );
    for (i, (a, b)) in cases.into_iter().enumerate() {
        let n = i + 1;
        let case_seed = args.seed.wrapping_add(i as u64);
        let case = sim::run_case(a, b, case_seed, args.relay_only)?;
        sim::show(&out, n, &case, args.relay_only);
        case.check(n, args.seed)?;
    }
    Ok(())
}

/// The cases asked for, or the default tour.
fn cases(args: &DemoArgs) -> Result<Vec<(Kind, Kind)>, CliError> {
    let port_restricted = || nat::parse("port-restricted");
    Ok(match (&args.nat_a, &args.nat_b) {
        (None, None) => vec![
            (port_restricted()?, port_restricted()?),
            (nat::parse("symmetric")?, port_restricted()?),
        ],
        (a, b) => {
            let side = |n: &Option<String>| n.as_deref().map_or_else(port_restricted, nat::parse);
            vec![(side(a)?, side(b)?)]
        }
    })
}

/// One line of a timeline: an agent's event, when it happened.
#[derive(Clone, Debug)]
pub struct Entry {
    /// Milliseconds since the start (virtual in the simulation).
    pub ms: f64,
    /// "A" or "B".
    pub agent: &'static str,
    /// What, in words.
    pub text: String,
    /// What, as JSON (with `event`, `agent` and `ms`).
    pub json: Value,
    /// It reads as the end of the agent's previous line when it follows
    /// at once ("gathering complete" after the last candidate,
    /// "connected" after the selected pair).
    pub follows: bool,
    /// It can take such an ending (a candidate, a selected pair, a state).
    pub joinable: bool,
}

impl Entry {
    /// The event as an entry, if it is one the demo shows.
    pub fn of(ms: f64, agent: &'static str, e: &Event) -> Option<Entry> {
        let joinable = matches!(
            e,
            Event::LocalCandidate { .. } | Event::SelectedPair { .. } | Event::StateChanged { .. }
        );
        let (text, mut json, follows) = match e {
            Event::LocalCandidate { candidate: c, .. } => (
                format!("candidate {:<5} {}", c.kind.sdp_name(), c.address),
                json!({"event": "candidate", "type": c.kind.sdp_name(), "address": c.address.to_string()}),
                false,
            ),
            Event::GatheringComplete { .. } => (
                "gathering complete".to_owned(),
                json!({"event": "gathering-complete"}),
                true,
            ),
            Event::StateChanged { state, .. } => (
                state_name(*state).to_owned(),
                json!({"event": "state", "state": state_name(*state)}),
                matches!(
                    state,
                    ConnectionState::Connected | ConnectionState::Completed
                ),
            ),
            Event::SelectedPair { local, remote, .. } => (
                format!("selected {}", pair_text(local, remote)),
                json!({"event": "selected", "local_type": local.kind.sdp_name(),
                       "local": local.address.to_string(), "remote_type": remote.kind.sdp_name(),
                       "remote": remote.address.to_string(), "path": path(local, remote)}),
                false,
            ),
            Event::RoleChanged { role } => (
                format!("role conflict: now {role:?}").to_lowercase(),
                json!({"event": "role", "role": format!("{role:?}").to_lowercase()}),
                false,
            ),
            Event::RelayFailed { server, error, .. } => (
                format!("TURN server {server} failed: {error}"),
                json!({"event": "turn-failed", "server": server.to_string(), "error": error.to_string()}),
                false,
            ),
            Event::ServerReflexiveFailed { server, error, .. } => (
                format!("STUN server {server} failed: {error}"),
                json!({"event": "stun-failed", "server": server.to_string(), "error": error.to_string()}),
                false,
            ),
            _ => return None,
        };
        json["agent"] = agent.into();
        json["ms"] = ms.into();
        Some(Entry {
            ms,
            agent,
            text,
            json,
            follows,
            joinable,
        })
    }

    /// Whether `next` continues this entry's line.
    pub fn continued_by(&self, next: &Entry) -> bool {
        self.joinable && next.follows && next.agent == self.agent && next.ms - self.ms < 1.0
    }

    /// The timeline line (its text starts at column `TIMELINE_INDENT`).
    pub fn line(&self) -> String {
        format!("  {:>9.1} ms  {}  {}", self.ms, self.agent, self.text)
    }
}

/// Where the text of a timeline line starts.
const TIMELINE_INDENT: usize = 18;
/// How wide a timeline line may get before it wraps (a selected pair
/// with its states fits).
const TIMELINE_WIDTH: usize = 120;

/// A timeline line, wrapped under its text if it is too long (a server's
/// error).
pub fn wrap_timeline(line: &str) -> String {
    match (line.get(..TIMELINE_INDENT), line.get(TIMELINE_INDENT..)) {
        (Some(head), Some(text)) => wrap_to(TIMELINE_WIDTH, head, text).join("\n"),
        _ => line.to_owned(),
    }
}

/// The entries as text lines, each continuation joined to its line.
pub fn merged(entries: &[Entry]) -> Vec<String> {
    let mut lines: Vec<String> = Vec::new();
    let mut last: Option<&Entry> = None;
    for e in entries {
        match (last, lines.last_mut()) {
            (Some(prev), Some(line)) if prev.continued_by(e) => {
                line.push_str(", ");
                line.push_str(&e.text);
            }
            _ => lines.push(e.line()),
        }
        last = Some(e);
    }
    lines.iter().map(|l| wrap_timeline(l)).collect()
}

/// `host 127.0.0.1:1 -> relay 127.0.0.1:2`.
pub fn pair_text(local: &Candidate, remote: &Candidate) -> String {
    format!(
        "{} {} -> {} {}",
        local.kind, local.address, remote.kind, remote.address
    )
}

/// `relayed` if either candidate is relayed, else `direct`.
pub fn path(local: &Candidate, remote: &Candidate) -> &'static str {
    if local.kind == CandidateType::Relayed || remote.kind == CandidateType::Relayed {
        "relayed"
    } else {
        "direct"
    }
}

/// The `RTCIceTransportState` name.
pub fn state_name(s: ConnectionState) -> &'static str {
    match s {
        ConnectionState::New => "new",
        ConnectionState::Checking => "checking",
        ConnectionState::Connected => "connected",
        ConnectionState::Completed => "completed",
        ConnectionState::Failed => "failed",
        ConnectionState::Disconnected => "disconnected",
        ConnectionState::Closed => "closed",
    }
}

/// A duration in milliseconds, to a hundredth (for JSON).
pub fn ms_of(d: std::time::Duration) -> f64 {
    (d.as_secs_f64() * 100_000.0).round() / 100.0
}

/// `248 ms` or `1.5 s`.
pub fn duration_text(ms: f64) -> String {
    if ms < 1000.0 {
        format!("{ms:.0} ms")
    } else {
        format!("{:.1} s", ms / 1000.0)
    }
}

/// How wide the demo's text lines get (timelines aside).
const WIDTH: usize = 100;

/// `text` after `first`, wrapped at `WIDTH` columns, the following
/// lines indented as deep as `first`.
pub fn wrap(first: &str, text: &str) -> Vec<String> {
    wrap_to(WIDTH, first, text)
}

/// [`wrap`] at `width` columns.
fn wrap_to(width: usize, first: &str, text: &str) -> Vec<String> {
    let indent = " ".repeat(first.chars().count());
    let mut lines = vec![first.to_owned()];
    let mut fresh = true;
    for word in text.split(' ') {
        let Some(line) = lines.last_mut() else { break };
        if !fresh && line.chars().count() + 1 + word.chars().count() > width {
            lines.push(format!("{indent}{word}"));
            continue;
        }
        if !fresh {
            line.push(' ');
        }
        line.push_str(word);
        fresh = false;
    }
    lines
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wrap_indents_the_following_lines() {
        assert_eq!(wrap("  => ", "short"), vec!["  => short"]);
        let long = "word ".repeat(40);
        let lines = wrap("  => ", long.trim());
        assert!(lines.len() > 1);
        assert!(lines.iter().all(|l| l.chars().count() <= WIDTH));
        assert!(lines[1].starts_with("     word"));
    }
}
