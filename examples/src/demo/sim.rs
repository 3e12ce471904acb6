//! The second half of `icectl demo`: the same two peers in netsim, the
//! deterministic network simulator, behind the NATs asked for, with our
//! STUN/TURN server on the simulated Internet
//! ([`SimTurnServer::on_internet`]) and the signalling of
//! [`IcePair`]. Virtual time: a case runs in milliseconds of real time and
//! the same seed gives the same run.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::{Duration, Instant};

use ice::{AgentConfig, Candidate, CandidatePolicy, ConnectionState, Role, TurnServer};
use ice_tests::adapters::SimTurnServer;
use ice_tests::ice_pair::{IcePair, Peer, Signalling};
use ice_tests::netsim::{HostId, Sim, seed};
use ice_tests::theory::Kind;
use serde_json::json;

use super::{Entry, Out, duration_text, merged, nat, pair_text, path, wrap};
use crate::clock::ms;
use crate::error::CliError;

/// The simulated STUN/TURN server (TEST-NET-2).
pub const SERVER: SocketAddr = SocketAddr::new(IpAddr::V4(Ipv4Addr::new(198, 51, 100, 1)), 3478);
const USER: &str = "demo";
const PASS: &str = "demo-password";
/// How long a case may run, in virtual time, before it counts as failed.
const LIMIT: Duration = Duration::from_secs(60);
/// How often the signalling channel is served, as `IcePair::run` does.
const SIGNALLING_STEP: Duration = Duration::from_millis(5);
/// The datagrams sent over the selected pair, A's then B's (RFC 7983: a
/// first byte in the RTP range is never taken for STUN).
const DATA: [&[u8]; 2] = [b"\x80hello from A", b"\x80hello from B"];

/// One simulated case.
#[derive(Clone, Debug)]
pub struct Case {
    /// Peer A's NAT.
    pub a: Kind,
    /// Peer B's NAT.
    pub b: Kind,
    /// The seed it ran with.
    pub seed: u64,
    /// `theory::predict_ice`: whether checks can punch through.
    pub punchable: bool,
    /// Why, in words.
    pub why: String,
    /// Both peers' events, in virtual time.
    pub timeline: Vec<Entry>,
    /// A's selected pair (local, remote), if both connected.
    pub selected: Option<(Candidate, Candidate)>,
    /// Virtual ms until both were connected.
    pub connected_ms: Option<f64>,
    /// A datagram crossed each way over the selected pair.
    pub data_both_ways: bool,
}

/// Runs A behind `a` and B behind `b` until both are connected (or
/// failed, or a minute of virtual time), then sends one datagram each way.
pub fn run_case(a: Kind, b: Kind, s: u64, relay_only: bool) -> Result<Case, CliError> {
    let (mut sim, _) = SimTurnServer::on_internet(s, SERVER, USER, PASS).map_err(|e| {
        CliError::new(
            "the simulation could not be set up",
            format!("the simulated TURN server: {e}"),
            "report this as a bug, with the command line",
        )
    })?;
    let (net_a, ip_a) = a.place(&mut sim, ip(203, 0, 113, 1), ip(192, 168, 1, 10));
    let (net_b, ip_b) = b.place(&mut sim, ip(203, 0, 113, 2), ip(192, 168, 2, 20));
    let start = sim.now();
    let peer = |role, n| {
        let mut c = AgentConfig::new(role, seed::derive_seed(s, n));
        c.stun_servers = vec![SERVER];
        c.turn_servers = vec![TurnServer::new(SERVER, USER, PASS)];
        if relay_only {
            c.policy = CandidatePolicy::Relay;
        }
        let local = if n == 1 { ip_a } else { ip_b };
        Peer::new(c, start, vec![SocketAddr::new(local, 5000)])
    };
    let (peer_a, peer_b) = (peer(Role::Controlling, 1), peer(Role::Controlled, 2));
    let mut pair = IcePair::new(
        &mut sim,
        (net_a, peer_a, &[ip_a]),
        (net_b, peer_b, &[ip_b]),
        Signalling::default(),
    );

    // IcePair::run's loop (the signalling every 5 ms, the network in
    // between), looking at the checklists after each event of the
    // simulation: no event says that a pair became valid.
    let mut valid = Valid::default();
    let hosts = [(pair.a, "A"), (pair.b, "B")];
    let end = start + LIMIT;
    loop {
        pair.run(&mut sim, Duration::ZERO, |_, _| false);
        if settled(&sim, &pair) || sim.now() >= end {
            break;
        }
        let step = SIGNALLING_STEP.min(end.saturating_duration_since(sim.now()));
        sim.run_until_condition(step, |sim| {
            valid.look(sim, hosts, start);
            false
        });
    }
    let connected = IcePair::connected(&sim, &pair);
    let connected_ms = connected
        .then(|| {
            [pair.a, pair.b]
                .iter()
                .filter_map(|h| sim.endpoint::<Peer>(*h).reached(ConnectionState::Connected))
                .max()
        })
        .flatten()
        .map(|t| ms(start, t));

    let mut data_both_ways = false;
    if connected {
        for (from, data) in [(pair.a, DATA[0]), (pair.b, DATA[1])] {
            sim.with_endpoint::<Peer, _>(from, |p, now| {
                let s = p.stream;
                let _ = p.agent.send(s, 1, data);
                p.agent.handle_timeout(now);
            });
        }
        pair.run(&mut sim, Duration::from_millis(500), |_, _| false);
        let got = |h, d: &[u8]| sim.endpoint::<Peer>(h).received().iter().any(|r| r == d);
        data_both_ways = got(pair.b, DATA[0]) && got(pair.a, DATA[1]);
    }

    let mut timeline = valid.entries;
    for (host, name) in [(pair.a, "A"), (pair.b, "B")] {
        for (t, e) in &sim.endpoint::<Peer>(host).log {
            timeline.extend(Entry::of(ms(start, *t), name, e));
        }
    }
    // A stable sort: each agent's events stay in the order they happened.
    timeline.sort_by(|x, y| x.ms.total_cmp(&y.ms).then(x.agent.cmp(y.agent)));
    let (punchable, why) = nat::prediction(a, b);
    Ok(Case {
        a,
        b,
        seed: s,
        punchable,
        why,
        timeline,
        selected: sim
            .endpoint::<Peer>(pair.a)
            .selected()
            .filter(|_| connected),
        connected_ms,
        data_both_ways,
    })
}

/// Both peers connected, completed or failed.
fn settled(sim: &Sim, pair: &IcePair) -> bool {
    [pair.a, pair.b].iter().all(|h| {
        matches!(
            sim.endpoint::<Peer>(*h).state(),
            ConnectionState::Connected | ConnectionState::Completed | ConnectionState::Failed
        )
    })
}

/// Each agent's first valid pair (no event says so), as an entry.
#[derive(Default)]
struct Valid {
    seen: [bool; 2],
    entries: Vec<Entry>,
}

impl Valid {
    fn look(&mut self, sim: &Sim, hosts: [(HostId, &'static str); 2], start: Instant) {
        let now = ms(start, sim.now());
        for (i, (host, name)) in hosts.into_iter().enumerate() {
            if self.seen[i] {
                continue;
            }
            let peer = sim.endpoint::<Peer>(host);
            let Ok(stats) = peer.agent.pair_stats(peer.stream) else {
                continue;
            };
            let Some(p) = stats.iter().find(|p| p.valid) else {
                continue;
            };
            self.seen[i] = true;
            let rtt = p.rtt.map(super::ms_of);
            self.entries.push(Entry {
                ms: now,
                agent: name,
                text: format!("first check succeeded: {}", pair_text(&p.local, &p.remote)),
                json: json!({"event": "first-valid", "agent": name, "ms": now,
                             "local_type": p.local.kind.sdp_name(), "local": p.local.address.to_string(),
                             "remote_type": p.remote.kind.sdp_name(), "remote": p.remote.address.to_string(),
                             "rtt_ms": rtt}),
                follows: false,
                joinable: false,
            });
        }
    }
}

/// Prints case `n`: the NATs and the prediction, the timeline, the
/// verdict.
pub fn show(out: &Out, n: usize, case: &Case, relay_only: bool) {
    out.text("");
    out.line(
        &format!(
            "  case {n}: A behind {}, B behind {}",
            nat::display(case.a),
            nat::display(case.b)
        ),
        json!({"part": "sim", "event": "case-start", "case": n, "seed": case.seed,
               "nat_a": case.a.label(), "nat_b": case.b.label(),
               "punchable": case.punchable, "why": case.why}),
    );
    let theory = format!(
        "theory: hole punching {}: {}",
        if case.punchable {
            "works"
        } else {
            "cannot work"
        },
        case.why
    );
    for line in wrap("          ", &theory) {
        out.text(&line);
    }
    for e in &case.timeline {
        let mut v = e.json.clone();
        v["part"] = "sim".into();
        v["case"] = n.into();
        out.json(v);
    }
    for line in merged(&case.timeline) {
        out.text(&line);
    }
    let path = case.selected.as_ref().map(|(l, r)| path(l, r));
    out.text(&wrap("  => ", &verdict(case, relay_only)).join("\n"));
    out.json(json!({
        "part": "sim", "event": "case", "case": n, "seed": case.seed,
        "nat_a": case.a.label(), "nat_b": case.b.label(),
        "punchable": case.punchable, "path": path,
        "as_predicted": as_predicted(case, relay_only),
        "selected": case.selected.as_ref().map(|(l, r)| json!({
            "local_type": l.kind.sdp_name(), "local": l.address.to_string(),
            "remote_type": r.kind.sdp_name(), "remote": r.address.to_string()})),
        "connected_ms": case.connected_ms, "data_both_ways": case.data_both_ways,
    }));
}

/// Whether the outcome is what theory said: a direct pair exactly when
/// punching works (relayed whatever the NATs with `--relay-only`), no
/// connection only when UDP is blocked.
fn as_predicted(case: &Case, relay_only: bool) -> bool {
    let blocked = case.a == Kind::Blocked || case.b == Kind::Blocked;
    match case.selected.as_ref().map(|(l, r)| path(l, r)) {
        None => blocked,
        Some("direct") => case.punchable && !relay_only,
        Some(_) => !case.punchable || relay_only,
    }
}

fn verdict(case: &Case, relay_only: bool) -> String {
    let Some((l, r)) = &case.selected else {
        return if case.a == Kind::Blocked || case.b == Kind::Blocked {
            "no connection, as theory says: UDP is blocked".into()
        } else {
            format!("no connection within {} s (virtual)", LIMIT.as_secs())
        };
    };
    let when = case
        .connected_ms
        .map(|ms| format!(" in {} (virtual)", duration_text(ms)))
        .unwrap_or_default();
    let data = if case.data_both_ways {
        "a datagram crossed each way"
    } else {
        "but no datagram crossed"
    };
    let types = format!("{} ↔ {}", l.kind, r.kind);
    let how = match (path(l, r), case.punchable) {
        ("direct", true) => format!("hole punching worked: {types}{when}"),
        ("direct", false) => {
            format!("connected directly, {types}{when}, unlike theory's prediction")
        }
        (_, false) => {
            format!("hole punching cannot work here: relayed through TURN, {types}{when}")
        }
        (_, true) if relay_only => format!("relayed through TURN, as asked: {types}{when}"),
        (_, true) => {
            format!("relayed through TURN, {types}{when}, though theory says punching works")
        }
    };
    format!("{how}; {data}")
}

impl Case {
    /// An error (exit 1) if the case did not connect and send data when
    /// it should have.
    pub fn check(&self, n: usize, seed: u64) -> Result<(), CliError> {
        let blocked = self.a == Kind::Blocked || self.b == Kind::Blocked;
        if blocked || (self.selected.is_some() && self.data_both_ways) {
            return Ok(());
        }
        Err(CliError::new(
            format!(
                "simulated case {n} {}",
                if self.selected.is_some() {
                    "connected, but no datagram crossed both ways"
                } else {
                    "did not connect"
                }
            ),
            format!(
                "A behind {}, B behind {}, --seed {seed} (case seed {})",
                self.a.label(),
                self.b.label(),
                self.seed
            ),
            "this is a bug: report it with the command line (the seed replays it exactly)",
        ))
    }
}

fn ip(a: u8, b: u8, c: u8, d: u8) -> IpAddr {
    IpAddr::V4(Ipv4Addr::new(a, b, c, d))
}
