//! The first half of `icectl demo`: real UDP sockets on 127.0.0.1. An
//! in-process STUN/TURN server (`turn_server::front`) and two agents of
//! the tokio driver; their events are printed as they happen, the
//! signalling is two tasks that trickle candidates while checks already
//! run, then the checklist, a datagram each way over the selected pair,
//! and the server's counters after both agents closed (which released
//! their allocations).

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::{Duration, Instant};

use ice::driver::{Connection, IceAgent, IceConfig, LocalAddresses};
use ice::{AgentConfig, Candidate, CandidatePolicy, CandidateType, Event, Role, TurnServer};
use serde_json::json;
use turn_server::TurnServerConfig;
use turn_server::front::{TurnFront, random_seed};
use turn_server::turn::Prefix;

use super::Out;
use super::sim::state_name;
use crate::clock::now;
use crate::error::CliError;

const LOOPBACK: IpAddr = IpAddr::V4(Ipv4Addr::LOCALHOST);
const USER: &str = "demo";
/// How long the live part may take before the demo gives up.
const LIMIT: Duration = Duration::from_secs(15);

/// Runs the live part; returns whether the selected pair was relayed.
pub async fn run(out: &Out, relay_only: bool) -> Result<bool, CliError> {
    let password = format!("{:016x}", random_seed());
    let config = TurnServerConfig::new(SocketAddr::new(LOOPBACK, 0), "icectl-demo")
        .and_then(|c| c.with_user(USER, &password))
        .map_err(|e| failed("cannot configure the demo's TURN server", e.to_string()))?;
    let loopback_peers = Prefix::new(LOOPBACK, 8).ok_or_else(|| {
        failed(
            "cannot configure the demo's TURN server",
            "bad prefix".into(),
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
    let server = front
        .udp_addresses()
        .first()
        .copied()
        .ok_or_else(|| failed("the demo's server has no UDP socket", String::new()))?;
    out.heading(
        &format!(
            "1. Live, on this machine: two ICE agents on 127.0.0.1 and a STUN/TURN server at \
             {server} (user {USER}){}",
            if relay_only { ", relay only" } else { "" }
        ),
        json!({"part": "live", "event": "start", "server": server.to_string(), "relay_only": relay_only}),
    );
    let result = tokio::time::timeout(LIMIT, session(out, server, &password, relay_only)).await;
    let stats = front.shutdown().await;
    let relayed = match result {
        Ok(r) => r?,
        Err(_) => {
            return Err(CliError::new(
                "the live demo did not connect in time",
                format!("no selected pair within {LIMIT:?} on loopback"),
                "check that nothing blocks UDP on 127.0.0.1 (a firewall rule on lo)",
            ));
        }
    };
    out.line(
        &format!(
            "  server: answered {} requests ({} errors, the first 401 of each allocation among \
             them), relayed {} packets to peers and {} to clients; {} allocations left after close",
            stats.successes + stats.errors,
            stats.errors,
            stats.to_peers.0,
            stats.to_clients.0,
            stats.allocations
        ),
        json!({"part": "live", "event": "server", "successes": stats.successes,
               "errors": stats.errors, "to_peers": stats.to_peers.0,
               "to_clients": stats.to_clients.0, "allocations_left": stats.allocations}),
    );
    Ok(relayed)
}

async fn session(
    out: &Out,
    server: SocketAddr,
    password: &str,
    relay_only: bool,
) -> Result<bool, CliError> {
    let start = now();
    let agent = |role| {
        let mut c = AgentConfig::new(role, crate::clock::seed() ^ role as u64);
        c.include_loopback = true;
        c.stun_servers = vec![server];
        c.turn_servers = vec![TurnServer::new(server, USER, password)];
        if relay_only {
            c.policy = CandidatePolicy::Relay;
        }
        IceAgent::new(IceConfig::new(c).with_local(LocalAddresses::Ips(vec![LOOPBACK])))
    };
    let a = Arc::new(agent(Role::Controlling).await.map_err(agent_error)?);
    let b = Arc::new(agent(Role::Controlled).await.map_err(agent_error)?);
    let narrators = [("A", &a), ("B", &b)].map(|(name, agent)| {
        let mut events = agent.events();
        let out = *out;
        tokio::spawn(async move {
            while let Some(e) = events.next().await {
                narrate(&out, start, name, &e);
                if matches!(
                    e,
                    Event::StateChanged {
                        state: ice::ConnectionState::Closed,
                        ..
                    }
                ) {
                    break;
                }
            }
        })
    });
    for (from, to) in [(&a, &b), (&b, &a)] {
        tokio::spawn(signal(from.clone(), to.clone()));
    }
    let (ca, cb) = tokio::join!(a.connect(), b.connect());
    let connect_error = |e: ice::driver::ConnectError| {
        CliError::new(
            "the live agents did not connect",
            e.to_string(),
            "run again; if it repeats, report it with the output",
        )
    };
    let (ca, mut cb) = (ca.map_err(connect_error)?, cb.map_err(connect_error)?);
    let stats = a.pair_stats().await.unwrap_or_default();
    let mut rows = Vec::new();
    for p in &stats {
        rows.push(json!({
            "local_type": p.local.kind.sdp_name(), "local": p.local.address.to_string(),
            "remote_type": p.remote.kind.sdp_name(), "remote": p.remote.address.to_string(),
            "state": format!("{:?}", p.state).to_lowercase(), "nominated": p.nominated,
            "rtt_ms": p.rtt.map(|r| r.as_secs_f64() * 1000.0),
        }));
    }
    let text: Vec<String> = stats
        .iter()
        .map(|p| {
            format!(
                "    {} {} -> {} {}: {}{}{}",
                p.local.kind,
                p.local.address,
                p.remote.kind,
                p.remote.address,
                format!("{:?}", p.state).to_lowercase(),
                if p.nominated { ", nominated" } else { "" },
                p.rtt
                    .map(|r| format!(", rtt {:.2} ms", r.as_secs_f64() * 1000.0))
                    .unwrap_or_default()
            )
        })
        .collect();
    let stopped = stats.iter().any(|p| p.nominated) && stats.iter().any(|p| !p.valid);
    out.line(
        &format!(
            "  A's checklist ({} pairs):\n{}{}",
            stats.len(),
            text.join("\n"),
            if stopped {
                "\n    (checks still under way when a pair is nominated are stopped and count \
                 as failed: RFC 8445 §8.1.2)"
            } else {
                ""
            }
        ),
        json!({"part": "live", "event": "checks", "pairs": rows}),
    );
    let mut ca = ca;
    exchange(out, &ca, &mut cb, "A", "B").await?;
    exchange(out, &cb, &mut ca, "B", "A").await?;
    let relayed = ca
        .selected_pair()
        .is_some_and(|(l, r)| is_relayed(&l) || is_relayed(&r));
    a.close().await;
    b.close().await;
    for n in narrators {
        let _ = n.await;
    }
    Ok(relayed)
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

/// One datagram from `from` to `to`, sent again if UDP dropped it.
async fn exchange(
    out: &Out,
    from: &Connection,
    to: &mut Connection,
    from_name: &str,
    to_name: &str,
) -> Result<(), CliError> {
    // RFC 7983: a first byte in the RTP range is never taken for STUN.
    let mut payload = vec![0x80];
    payload.extend_from_slice(format!("hello from {from_name}").as_bytes());
    for _ in 0..20 {
        from.send(&payload)
            .await
            .map_err(|e| failed("cannot send over the selected pair", e.to_string()))?;
        if let Ok(Ok(got)) = tokio::time::timeout(Duration::from_millis(100), to.recv()).await
            && got == payload
        {
            let text = String::from_utf8_lossy(got.get(1..).unwrap_or_default()).into_owned();
            out.line(
                &format!(
                    "  data: {from_name} -> {to_name} \"{text}\" ({} bytes)",
                    got.len()
                ),
                json!({"part": "live", "event": "data", "from": from_name, "to": to_name,
                       "text": text, "bytes": got.len()}),
            );
            return Ok(());
        }
    }
    Err(failed(
        "a datagram did not cross the selected pair",
        format!("{from_name} sent 20 times, {to_name} received none"),
    ))
}

fn narrate(out: &Out, start: Instant, agent: &str, e: &Event) {
    let ms = crate::clock::ms(start, now());
    let (text, value) = match e {
        Event::LocalCandidate { candidate: c, .. } => (
            format!("candidate {} {}", c.kind, c.address),
            json!({"event": "candidate", "type": c.kind.sdp_name(), "address": c.address.to_string()}),
        ),
        Event::GatheringComplete { .. } => (
            "gathering complete".to_owned(),
            json!({"event": "gathering-complete"}),
        ),
        Event::StateChanged { state, .. } => (
            format!("state {}", state_name(*state)),
            json!({"event": "state", "state": state_name(*state)}),
        ),
        Event::SelectedPair { local, remote, .. } => (
            format!(
                "selected pair {} {} -> {} {} ({})",
                local.kind,
                local.address,
                remote.kind,
                remote.address,
                if is_relayed(local) || is_relayed(remote) {
                    "relayed"
                } else {
                    "direct"
                }
            ),
            json!({"event": "selected", "local_type": local.kind.sdp_name(),
                   "local": local.address.to_string(), "remote_type": remote.kind.sdp_name(),
                   "remote": remote.address.to_string(),
                   "path": if is_relayed(local) || is_relayed(remote) { "relayed" } else { "direct" }}),
        ),
        Event::RelayFailed { error, .. } => (
            format!("TURN failed: {error}"),
            json!({"event": "turn-failed", "error": error.to_string()}),
        ),
        Event::ServerReflexiveFailed { error, .. } => (
            format!("STUN failed: {error}"),
            json!({"event": "stun-failed", "error": error.to_string()}),
        ),
        _ => return,
    };
    let mut value = value;
    value["part"] = "live".into();
    value["agent"] = agent.into();
    value["ms"] = ms.into();
    out.line(&format!("  {ms:>7.1} ms  {agent}  {text}"), value);
}

fn is_relayed(c: &Candidate) -> bool {
    c.kind == CandidateType::Relayed
}

fn agent_error(e: ice::driver::DriverError) -> CliError {
    CliError::new(
        "cannot start an ICE agent on 127.0.0.1",
        e.to_string(),
        "check that UDP sockets on loopback can be opened",
    )
}

fn failed(what: &str, why: String) -> CliError {
    CliError::new(
        what,
        why,
        "run again; if it repeats, report it with the output",
    )
}
