//! The first half of `icectl demo`: real UDP sockets on 127.0.0.1. An
//! in-process STUN/TURN server (`turn_server::front`) and two agents of
//! the tokio driver; their events are printed as they happen, the
//! signalling is two tasks that trickle candidates while checks already
//! run, then the checklist, a datagram each way over the selected pair,
//! and the server's counters after both agents closed (which released
//! their allocations).

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use ice::driver::{ConnectError, Connection, DriverError, IceAgent, IceConfig, LocalAddresses};
use ice::{
    AgentConfig, CandidatePairState as PairState, CandidatePolicy, ConnectionState, Event, Role,
    TurnServer,
};
use serde_json::{Value, json};
use tokio::sync::{mpsc, watch};
use turn_server::TurnServerConfig;
use turn_server::front::{TurnFront, random_seed};
use turn_server::turn::Prefix;

use super::{Entry, Out, path, wrap};
use crate::clock::now;
use crate::error::CliError;
use crate::progress::Spinner;

const LOOPBACK: IpAddr = IpAddr::V4(Ipv4Addr::LOCALHOST);
const USER: &str = "demo";
/// How long the live part may take before the demo gives up.
const LIMIT: Duration = Duration::from_secs(10);
/// How long the timeline waits for an event that ends the line it is
/// about to print ("gathering complete" after a candidate).
const FOLLOW: Duration = Duration::from_millis(3);

/// Runs the live part.
pub async fn run(out: &Out, relay_only: bool) -> Result<(), CliError> {
    let password = format!("{:016x}", random_seed());
    let config = TurnServerConfig::new(SocketAddr::new(LOOPBACK, 0), "icectl-demo")
        .and_then(|c| c.with_user(USER, &password))
        .map_err(|e| failed("cannot configure the demo's TURN server", e.to_string()))?;
    // Peers on 127.0.0.0/8 are refused by default (RFC 8656 §21.1): here
    // they are the point.
    let loopback_peers = Prefix::new(LOOPBACK, 8).ok_or_else(|| {
        failed(
            "cannot configure the demo's TURN server",
            "127.0.0.0/8 is not a prefix".into(),
        )
    })?;
    let front = TurnFront::start(config.allow_peers(loopback_peers).with_seed(random_seed()))
        .await
        .map_err(|e| {
            CliError::new(
                "cannot start the demo's STUN/TURN server on 127.0.0.1",
                e.to_string(),
                "check that UDP and TCP sockets on loopback can be opened",
            )
        })?;
    let Some(server) = front.udp_addresses().first().copied() else {
        front.shutdown().await;
        return Err(failed(
            "the demo's STUN/TURN server has no UDP socket",
            "it bound none".into(),
        ));
    };
    out.heading(
        &format!(
            "1. Live: A (controlling) and B (controlled) on 127.0.0.1, STUN/TURN server at \
             {server}{}",
            if relay_only { "; relay only" } else { "" }
        ),
        json!({"part": "live", "event": "start", "server": server.to_string(), "relay_only": relay_only}),
    );
    let result = tokio::time::timeout(LIMIT, session(out, server, &password, relay_only)).await;
    let stats = tokio::time::timeout(Duration::from_secs(2), front.shutdown()).await;
    let (local, remote) = match result {
        Ok(r) => r?,
        Err(_) => {
            return Err(CliError::new(
                "the live demo did not finish in time",
                format!("no connection and data both ways within {LIMIT:?} on loopback"),
                "check that nothing blocks UDP on 127.0.0.1 (a firewall rule on lo); \
                 `icectl demo --sim-only` runs the simulated part alone",
            ));
        }
    };
    if let Ok(s) = stats {
        let text = format!(
            "{} requests answered, {} with an error (an allocation starts with a 401, the \
             authentication challenge); {} packets relayed; {} allocations left",
            s.successes + s.errors,
            s.errors,
            s.to_peers.0 + s.to_clients.0,
            s.allocations
        );
        out.text(&wrap("  server: ", &text).join("\n"));
        out.json(
            json!({"part": "live", "event": "server", "successes": s.successes,
                        "errors": s.errors, "dropped": s.dropped, "to_peers": s.to_peers.0,
                        "to_clients": s.to_clients.0, "allocations_left": s.allocations}),
        );
    }
    let path = path(&local, &remote);
    let how = if path == "direct" {
        format!(
            "connected directly: {} ↔ {} (no NAT on loopback: the STUN server sees the host \
             address, a redundant srflx candidate, RFC 8445 §5.1.3)",
            local.kind, remote.kind
        )
    } else {
        format!(
            "connected through the TURN relay{}: {} ↔ {}",
            if relay_only { ", as asked" } else { "" },
            local.kind,
            remote.kind
        )
    };
    out.text(&wrap("  => ", &how).join("\n"));
    out.json(json!({"part": "live", "event": "result", "path": path,
                    "local_type": local.kind.sdp_name(), "remote_type": remote.kind.sdp_name()}));
    Ok(())
}

/// Both agents, from start to close; A's selected pair.
async fn session(
    out: &Out,
    server: SocketAddr,
    password: &str,
    relay_only: bool,
) -> Result<(ice::Candidate, ice::Candidate), CliError> {
    let start = now();
    let (tx, rx) = mpsc::unbounded_channel();
    let (shown_tx, mut shown) = watch::channel([false; 2]);
    let printer = tokio::spawn(timeline(*out, rx, shown_tx));
    let mut agents = Vec::new();
    let mut forwarders = Vec::new();
    for (name, role) in [("A", Role::Controlling), ("B", Role::Controlled)] {
        let mut c = AgentConfig::new(role, crate::clock::seed() ^ role as u64);
        c.include_loopback = true;
        c.stun_servers = vec![server];
        c.turn_servers = vec![TurnServer::new(server, USER, password)];
        if relay_only {
            c.policy = CandidatePolicy::Relay;
        }
        let agent =
            IceAgent::new(IceConfig::new(c).with_local(LocalAddresses::Ips(vec![LOOPBACK])))
                .await
                .map_err(agent_error)?;
        // The first call replays everything since `new`.
        let mut events = agent.events();
        let tx = tx.clone();
        forwarders.push(tokio::spawn(async move {
            while let Some(e) = events.next().await {
                let closed = matches!(
                    e,
                    Event::StateChanged {
                        state: ConnectionState::Closed,
                        ..
                    }
                );
                if let Some(entry) = Entry::of(crate::clock::ms(start, now()), name, &e) {
                    let _ = tx.send(entry);
                }
                if closed {
                    break;
                }
            }
        }));
        agents.push(Arc::new(agent));
    }
    drop(tx);
    let [a, b] = [&agents[0], &agents[1]];
    for (from, to) in [(a, b), (b, a)] {
        tokio::spawn(signal(from.clone(), to.clone()));
    }
    // A spinner only if connecting is slow: the timeline is the progress.
    let connecting = async { tokio::join!(a.connect(), b.connect()) };
    tokio::pin!(connecting);
    let (ca, cb) = tokio::select! {
        both = &mut connecting => both,
        () = tokio::time::sleep(Duration::from_secs(1)) => {
            let _spinner = Spinner::start("the live agents are still connecting");
            connecting.await
        }
    };
    let (mut ca, mut cb) = (ca.map_err(connect_error)?, cb.map_err(connect_error)?);
    // The driver reports the connection and the events on separate
    // channels: let the timeline show both selected pairs first.
    let _ = tokio::time::timeout(Duration::from_secs(1), shown.wait_for(|s| s[0] && s[1])).await;
    checklist(out, a).await;
    let there = exchange(&ca, &mut cb, "A").await?;
    let back = exchange(&cb, &mut ca, "B").await?;
    out.text(&format!(
        "  data: A -> B \"{}\", B -> A \"{}\" over the selected pair",
        there["text"].as_str().unwrap_or_default(),
        back["text"].as_str().unwrap_or_default()
    ));
    out.json(there);
    out.json(back);
    let selected = ca.selected_pair().ok_or_else(|| {
        failed(
            "A has no selected pair",
            "it lost it after connecting".into(),
        )
    })?;
    a.close().await;
    b.close().await;
    for f in forwarders {
        let _ = tokio::time::timeout(Duration::from_secs(1), f).await;
    }
    let _ = tokio::time::timeout(Duration::from_secs(1), printer).await;
    Ok(selected)
}

/// Prints the agents' events as they come: JSON at once, text a few
/// milliseconds later, so that an event which ends a line ("gathering
/// complete", "connected") can join it. Marks in `shown` the agents whose
/// selected pair has been printed.
async fn timeline(
    out: Out,
    mut rx: mpsc::UnboundedReceiver<Entry>,
    shown: watch::Sender<[bool; 2]>,
) {
    // The line being built: its last entry, its text, the agents whose
    // selected pair it shows.
    let mut line: Option<(Entry, String, Vec<usize>)> = None;
    let flush = |line: &mut Option<(Entry, String, Vec<usize>)>| {
        if let Some((_, text, marks)) = line.take() {
            out.text(&super::wrap_timeline(&text));
            shown.send_modify(|s| {
                for m in marks {
                    s[m] = true;
                }
            });
        }
    };
    loop {
        let next = if line.is_some() {
            match tokio::time::timeout(FOLLOW, rx.recv()).await {
                Ok(next) => next,
                Err(_) => {
                    flush(&mut line);
                    continue;
                }
            }
        } else {
            rx.recv().await
        };
        let Some(e) = next else { break };
        let mut v = e.json.clone();
        v["part"] = "live".into();
        out.json(v);
        if e.json["state"] == "closed" {
            // The text tells the close once, after the data.
            continue;
        }
        let mark = (e.json["event"] == "selected").then_some(usize::from(e.agent == "B"));
        match &mut line {
            Some((last, text, marks)) if last.continued_by(&e) => {
                text.push_str(", ");
                text.push_str(&e.text);
                marks.extend(mark);
                *last = e;
            }
            _ => {
                flush(&mut line);
                let text = e.line();
                line = Some((e, text, mark.into_iter().collect()));
            }
        }
        if out.json {
            flush(&mut line);
        }
    }
    flush(&mut line);
}

/// A's checklist now: each pair, its state, nomination and round trip.
async fn checklist(out: &Out, a: &IceAgent) {
    let stats = a.pair_stats().await.unwrap_or_default();
    let ends: Vec<(String, String)> = stats
        .iter()
        .map(|p| {
            (
                format!("{:<5} {}", p.local.kind.sdp_name(), p.local.address),
                format!("{:<5} {}", p.remote.kind.sdp_name(), p.remote.address),
            )
        })
        .collect();
    let wl = ends.iter().map(|(l, _)| l.len()).max().unwrap_or(0);
    let wr = ends.iter().map(|(_, r)| r.len()).max().unwrap_or(0);
    let nominated = stats.iter().any(|p| p.nominated);
    let stopped = nominated
        && stats
            .iter()
            .any(|p| p.state == PairState::Failed && p.rtt.is_none());
    let succeeded = stats.iter().filter(|p| p.valid).count();
    out.text(&format!(
        "  checks: A's checklist has {} pair{}, {succeeded} succeeded{}",
        stats.len(),
        if stats.len() == 1 { "" } else { "s" },
        if stopped {
            " (nomination stopped the rest: RFC 8445 §8.1.2)"
        } else {
            ""
        }
    ));
    let mut rows: Vec<Value> = Vec::new();
    for (p, (l, r)) in stats.iter().zip(&ends) {
        let state = pair_state(p.state);
        let rtt = p.rtt.map(super::ms_of);
        out.text(
            format!(
                "    {l:<wl$} -> {r:<wr$}  {state:<10} {:<9}  {}",
                if p.nominated { "nominated" } else { "" },
                rtt.map(|r| format!("rtt {r:.2} ms")).unwrap_or_default()
            )
            .trim_end(),
        );
        rows.push(json!({
            "local_type": p.local.kind.sdp_name(), "local": p.local.address.to_string(),
            "remote_type": p.remote.kind.sdp_name(), "remote": p.remote.address.to_string(),
            "state": state, "valid": p.valid, "nominated": p.nominated, "rtt_ms": rtt,
        }));
    }
    out.json(json!({"part": "live", "event": "checks", "agent": "A", "pairs": rows}));
}

fn pair_state(s: PairState) -> &'static str {
    match s {
        PairState::Frozen => "frozen",
        PairState::Waiting => "waiting",
        PairState::InProgress => "in-progress",
        PairState::Succeeded => "succeeded",
        PairState::Failed => "failed",
        _ => "unknown",
    }
}

/// Credentials, then each candidate as it comes, then end-of-candidates,
/// through the SDP line a real signalling channel would carry.
async fn signal(from: Arc<IceAgent>, to: Arc<IceAgent>) {
    if to
        .set_remote_credentials(from.local_credentials())
        .await
        .is_err()
    {
        return;
    }
    let mut candidates = from.local_candidates();
    while let Some(c) = candidates.next().await {
        let Ok(line) = ice::sdp::write_candidate(&c) else {
            continue;
        };
        let Ok(c) = ice::sdp::parse_candidate(&line) else {
            continue;
        };
        if to.add_remote_candidate(c).await.is_err() {
            return;
        }
    }
    let _ = to.end_of_remote_candidates().await;
}

/// One datagram from `from` (named `name`) to `to`, sent again if UDP
/// dropped it; what arrived, as the JSON line.
async fn exchange(from: &Connection, to: &mut Connection, name: &str) -> Result<Value, CliError> {
    // RFC 7983: a first byte in the RTP range is never taken for STUN.
    let mut payload = vec![0x80];
    payload.extend_from_slice(format!("hello from {name}").as_bytes());
    let other = if name == "A" { "B" } else { "A" };
    for _ in 0..20 {
        from.send(&payload)
            .await
            .map_err(|e| failed("cannot send over the selected pair", e.to_string()))?;
        if let Ok(Ok(got)) = tokio::time::timeout(Duration::from_millis(100), to.recv()).await
            && got == payload
        {
            let text = String::from_utf8_lossy(got.get(1..).unwrap_or_default()).into_owned();
            return Ok(
                json!({"part": "live", "event": "data", "from": name, "to": other,
                             "text": text, "bytes": got.len()}),
            );
        }
    }
    Err(failed(
        "a datagram did not cross the selected pair",
        format!("{name} sent it 20 times, {other} received none"),
    ))
}

fn agent_error(e: DriverError) -> CliError {
    CliError::new(
        "cannot start an ICE agent on 127.0.0.1",
        e.to_string(),
        "check that UDP sockets on loopback can be opened",
    )
}

fn connect_error(e: ConnectError) -> CliError {
    failed("the live agents did not connect", e.to_string())
}

fn failed(what: &str, why: String) -> CliError {
    CliError::new(
        what,
        why,
        "run again; if it repeats, report it with the output",
    )
}
