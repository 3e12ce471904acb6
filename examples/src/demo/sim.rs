//! The second half of `icectl demo`: the same two peers in netsim, the
//! deterministic network simulator, behind the NATs asked for, with our
//! STUN/TURN server on the simulated Internet. Virtual time: a case runs
//! in milliseconds of real time and the same seed gives the same run.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::Duration;

use ice::{AgentConfig, CandidatePolicy, CandidateType, ConnectionState, Event, Role, TurnServer};
use ice_tests::adapters::SimTurnServer;
use ice_tests::ice_pair::{IcePair, Peer, Signalling};
use ice_tests::netsim::{Sim, seed};
use ice_tests::theory::{Kind, predict_ice};

use crate::clock::ms;
use crate::error::CliError;

const SERVER: SocketAddr = SocketAddr::new(IpAddr::V4(Ipv4Addr::new(198, 51, 100, 1)), 3478);
const USER: &str = "demo";
const PASS: &str = "demo-password";

/// What happened to one peer, in virtual milliseconds.
#[derive(Clone, Debug)]
pub struct Line {
    /// Virtual ms since the start.
    pub ms: f64,
    /// "A" or "B".
    pub agent: &'static str,
    /// What, in words.
    pub text: String,
}

/// One simulated case.
#[derive(Clone, Debug)]
pub struct Case {
    /// Peer A's NAT.
    pub a: Kind,
    /// Peer B's NAT.
    pub b: Kind,
    /// `theory::predict_ice`: whether checks can punch through.
    pub punchable: bool,
    /// The timeline of both peers.
    pub timeline: Vec<Line>,
    /// A's selected pair: (local type, local address, remote type, remote
    /// address), if it connected.
    pub selected: Option<(CandidateType, String, CandidateType, String)>,
    /// Virtual ms until both were connected.
    pub connected_ms: Option<f64>,
    /// A datagram crossed each way over the selected pair.
    pub data_both_ways: bool,
}

/// Runs A behind `a` and B behind `b` until both are connected (or failed,
/// or 60 s of virtual time), then sends one datagram each way.
pub fn run_case(a: Kind, b: Kind, s: u64, relay_only: bool) -> Result<Case, CliError> {
    let (mut sim, _) = SimTurnServer::on_internet(s, SERVER, USER, PASS)
        .map_err(|e| internal(format!("the simulated TURN server: {e}")))?;
    let pa = a.place(&mut sim, ip(203, 0, 113, 1), ip(192, 168, 1, 10));
    let pb = b.place(&mut sim, ip(203, 0, 113, 2), ip(192, 168, 2, 20));
    let start = sim.now();
    let policy = if relay_only {
        CandidatePolicy::Relay
    } else {
        CandidatePolicy::All
    };
    let config = |role, n| {
        let mut c = AgentConfig::new(role, seed::derive_seed(s, n));
        c.stun_servers = vec![SERVER];
        c.turn_servers = vec![TurnServer::new(SERVER, USER, PASS)];
        c.policy = policy;
        c
    };
    let peer_a = Peer::new(
        config(Role::Controlling, 1),
        start,
        vec![SocketAddr::new(pa.1, 5000)],
    );
    let peer_b = Peer::new(
        config(Role::Controlled, 2),
        start,
        vec![SocketAddr::new(pb.1, 5000)],
    );
    let mut pair = IcePair::new(
        &mut sim,
        (pa.0, peer_a, &[pa.1]),
        (pb.0, peer_b, &[pb.1]),
        Signalling::default(),
    );
    let settled = |sim: &Sim, p: &IcePair| {
        [p.a, p.b].iter().all(|h| {
            matches!(
                sim.endpoint::<Peer>(*h).state(),
                ConnectionState::Connected | ConnectionState::Completed | ConnectionState::Failed
            )
        })
    };
    pair.run(&mut sim, Duration::from_secs(60), settled);
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
        for (from, text) in [(pair.a, b"\x80hello from A"), (pair.b, b"\x80hello from B")] {
            sim.with_endpoint::<Peer, _>(from, |p, now| {
                let s = p.stream;
                let _ = p.agent.send(s, 1, text);
                p.agent.handle_timeout(now);
            });
        }
        pair.run(&mut sim, Duration::from_millis(500), |_, _| false);
        let got = |h| sim.endpoint::<Peer>(h).received();
        data_both_ways = got(pair.b).iter().any(|d| d == b"\x80hello from A")
            && got(pair.a).iter().any(|d| d == b"\x80hello from B");
    }

    let mut timeline = Vec::new();
    for (host, name) in [(pair.a, "A"), (pair.b, "B")] {
        for (t, e) in &sim.endpoint::<Peer>(host).log {
            if let Some(text) = narrate(e) {
                timeline.push(Line {
                    ms: ms(start, *t),
                    agent: name,
                    text,
                });
            }
        }
    }
    timeline.sort_by(|x, y| x.ms.total_cmp(&y.ms).then(x.agent.cmp(y.agent)));
    let selected = sim
        .endpoint::<Peer>(pair.a)
        .selected()
        .map(|(l, r)| (l.kind, l.address.to_string(), r.kind, r.address.to_string()));
    Ok(Case {
        a,
        b,
        punchable: predict_ice(a, b),
        timeline,
        selected: selected.filter(|_| connected),
        connected_ms,
        data_both_ways,
    })
}

/// The events worth showing, in words.
fn narrate(e: &Event) -> Option<String> {
    Some(match e {
        Event::LocalCandidate { candidate: c, .. } => {
            format!("candidate {} {}", c.kind, c.address)
        }
        Event::GatheringComplete { .. } => "gathering complete".into(),
        Event::StateChanged { state, .. } => format!("state {}", state_name(*state)),
        Event::SelectedPair { local, remote, .. } => format!(
            "selected pair {} {} -> {} {}",
            local.kind, local.address, remote.kind, remote.address
        ),
        Event::RelayFailed { error, .. } => format!("TURN failed: {error}"),
        Event::ServerReflexiveFailed { error, .. } => format!("STUN failed: {error}"),
        _ => return None,
    })
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

fn ip(a: u8, b: u8, c: u8, d: u8) -> IpAddr {
    IpAddr::V4(Ipv4Addr::new(a, b, c, d))
}

fn internal(why: String) -> CliError {
    CliError::new(
        "the simulation could not be set up",
        why,
        "report this as a bug, with the command line",
    )
}
