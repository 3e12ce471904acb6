//! Issue 7: time to a selected pair on loopback, our tokio driver
//! (`ice::driver`) against webrtc-ice 0.17, both trickling.
//!
//! Each run creates one controlling and one controlled agent on
//! 127.0.0.1 (host candidates only, UDP over IPv4, no STUN or TURN
//! server, no mDNS), in this process, on one tokio runtime (multi-thread,
//! two workers), and times **from just before the two agents are created
//! until both sides report a selected pair** (ours: both
//! [`IceAgent::connect`] futures resolved; webrtc-ice: both `dial` and
//! `accept` returned, which they do when the agent sets its selected
//! pair). Both pairs signal the same way:
//!
//! - the credentials go over at once, as in an offer/answer (ours:
//!   `set_remote_credentials` on both agents; webrtc-ice: the remote
//!   ufrag/pwd passed to `dial`/`accept`);
//! - checks may start at once: `connect` (ours) and `dial`/`accept`
//!   (webrtc-ice) are called before any remote candidate is known;
//! - each side's candidates are handed to the other as they are produced
//!   (ours: the `local_candidates()` stream, then end-of-candidates;
//!   webrtc-ice: the `on_candidate` callback after `gather_candidates`),
//!   through the SDP `candidate:` line, by a forwarding task that waits
//!   `ICE_BENCH_SIGNAL_DELAY_US` (0 by default: no wait at all) before
//!   giving each line to the other agent.
//!
//! So a check can reach an agent before the candidate it comes from: that
//! agent learns a peer-reflexive candidate. The bench counts, per
//! implementation, the runs in which either side's checklist held a
//! peer-reflexive remote candidate when it connected (ours: `pair_stats`
//! right after `connect`, before the signalled candidate can replace the
//! guess; webrtc-ice: its remote candidate stats, which keep it).
//!
//! The runs alternate (ours, theirs, ours, …) after a few warm-up runs of
//! each that are not counted; every run closes both agents (sockets
//! released) before the next starts. It prints the median, p90, p99 (the
//! nearest-rank percentile: the 99th of 100 sorted runs) and max of each,
//! how many runs took over 100 ms and over 1 s, and the ratios theirs ÷
//! ours. It writes nothing, unless `ICE_BENCH_CSV=<path>` asks for the
//! raw samples.
//!
//! ```sh
//! cargo bench -p ice-tests --bench selected_pair
//! ICE_BENCH_RUNS=300 ICE_BENCH_SIGNAL_DELAY_US=200 cargo bench -p ice-tests --bench selected_pair
//! ```
//!
//! Under `cargo test --benches` (no `--bench` argument) it runs 3 of each
//! as a smoke test. It exits with a failure if a run did not connect.

// A benchmark, not a test: setup failures abort loudly, and it reads the
// wall clock (`Instant::now`) to time the runs.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::disallowed_methods,
    missing_docs
)]

use std::net::{IpAddr, Ipv4Addr};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use ice::driver::{IceAgent, IceConfig, LocalAddresses};
use ice::{AgentConfig, CandidateType, Role};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use webrtc_ice::agent::Agent;
use webrtc_ice::agent::agent_config::AgentConfig as TheirConfig;
use webrtc_ice::candidate::candidate_base::unmarshal_candidate;
use webrtc_ice::candidate::{Candidate as TheirCandidate, CandidateType as TheirType};
use webrtc_ice::mdns::MulticastDnsMode;
use webrtc_ice::network_type::NetworkType;

/// A run that has not connected by then is a failure.
const RUN_LIMIT: Duration = Duration::from_secs(30);
/// Runs of each implementation before the counted ones.
const WARM_UP: usize = 3;

const LOOPBACK: IpAddr = IpAddr::V4(Ipv4Addr::LOCALHOST);

/// One counted run.
#[derive(Clone, Copy, Debug)]
struct Sample {
    /// From creating the agents until both reported a selected pair.
    elapsed: Duration,
    /// A side held a peer-reflexive remote candidate when it connected.
    prflx: bool,
    /// The controlling side's selected remote candidate was the
    /// peer-reflexive one.
    selected_prflx: bool,
}

fn env_u64(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .map(|v| {
            v.parse()
                .unwrap_or_else(|_| panic!("{name}={v}: not a number"))
        })
        .unwrap_or(default)
}

/// The signalling channel's one-way delay.
async fn signal_delay(delay: Duration) {
    if !delay.is_zero() {
        tokio::time::sleep(delay).await;
    }
}

// ---------------------------------------------------------------- ours

async fn our_agent(role: Role, seed: u64, knobs: &Knobs) -> Arc<IceAgent> {
    let mut c = AgentConfig::new(role, seed);
    c.include_loopback = true;
    if let Some(ta) = knobs.our_ta {
        c.ta = ta;
    }
    let config = IceConfig::new(c).with_local(LocalAddresses::Ips(vec![LOOPBACK]));
    Arc::new(IceAgent::new(config).await.expect("our agent binds"))
}

/// Trickles `from`'s candidates to `to` through SDP lines, then
/// end-of-candidates. Errors after a close are ignored (the run is over).
/// Sets `early` if `to` already held a peer-reflexive candidate at the
/// signalled address: a check came before its candidate.
async fn our_trickle(
    from: Arc<IceAgent>,
    to: Arc<IceAgent>,
    delay: Duration,
    early: Arc<AtomicBool>,
) {
    let mut candidates = from.local_candidates();
    while let Some(c) = candidates.next().await {
        let line = ice::sdp::write_candidate(&c).expect("our candidate writes");
        signal_delay(delay).await;
        let parsed = ice::sdp::parse_candidate(&line).expect("our candidate parses");
        let address = parsed.address.clone();
        // Both commands are queued at once, in this order: the stats are
        // those from before the candidate, at no extra round trip.
        let (stats, added) = tokio::join!(to.pair_stats(), to.add_remote_candidate(parsed));
        if stats.is_ok_and(|stats| {
            stats.iter().any(|p| {
                p.remote.kind == CandidateType::PeerReflexive && p.remote.address == address
            })
        }) {
            early.store(true, Ordering::Relaxed);
        }
        if added.is_err() {
            return;
        }
    }
    signal_delay(delay).await;
    let _ = to.end_of_remote_candidates().await;
}

/// Records the agent's events with their time since `start`
/// (`ICE_BENCH_TIMELINE`).
fn our_timeline(
    name: &'static str,
    agent: &IceAgent,
    start: Instant,
    log: Arc<std::sync::Mutex<Vec<(Duration, String)>>>,
) -> JoinHandle<()> {
    let mut events = agent.events();
    tokio::spawn(async move {
        while let Some(e) = events.next().await {
            let line = match e {
                ice::Event::StateChanged { state, .. } => format!("{name} state {state:?}"),
                ice::Event::SelectedPair { local, remote, .. } => format!(
                    "{name} selected {} {} -> {} {}",
                    local.kind, local.address, remote.kind, remote.address
                ),
                ice::Event::LocalCandidate { candidate, .. } => {
                    format!("{name} local candidate {}", candidate.address)
                }
                other => format!("{name} {other:?}"),
            };
            log.lock().unwrap().push((start.elapsed(), line));
        }
    })
}

async fn run_ours(seed: u64, knobs: &Knobs) -> Result<Sample, String> {
    let start = Instant::now();
    let (a, b) = tokio::join!(
        our_agent(Role::Controlling, seed, knobs),
        our_agent(Role::Controlled, seed ^ 0x5555, knobs)
    );
    let log = Arc::new(std::sync::Mutex::new(Vec::new()));
    let watchers = if knobs.timeline {
        log.lock()
            .unwrap()
            .push((start.elapsed(), "both agents created".to_owned()));
        vec![
            our_timeline("A", &a, start, log.clone()),
            our_timeline("B", &b, start, log.clone()),
        ]
    } else {
        Vec::new()
    };
    let (ca, cb) = (a.local_credentials(), b.local_credentials());
    let (ra, rb) = tokio::join!(a.set_remote_credentials(cb), b.set_remote_credentials(ca));
    ra.and(rb).map_err(|e| format!("ours: credentials: {e}"))?;
    let early = Arc::new(AtomicBool::new(false));
    let ta = tokio::spawn(our_trickle(
        a.clone(),
        b.clone(),
        knobs.delay,
        early.clone(),
    ));
    let tb = tokio::spawn(our_trickle(
        b.clone(),
        a.clone(),
        knobs.delay + knobs.answer_delay,
        early.clone(),
    ));
    let connected =
        tokio::time::timeout(RUN_LIMIT, async { tokio::join!(a.connect(), b.connect()) }).await;
    let elapsed = start.elapsed();
    let outcome = match connected {
        Ok((Ok(conn_a), Ok(conn_b))) => {
            let selected_prflx = conn_a
                .selected_pair()
                .is_some_and(|(_, r)| r.kind == CandidateType::PeerReflexive);
            drop((conn_a, conn_b));
            Ok(Sample {
                elapsed,
                // Read after the close below: a candidate may still be on
                // its way when both have connected.
                prflx: false,
                selected_prflx,
            })
        }
        Ok((ra, rb)) => Err(format!(
            "ours: connect failed: {:?} / {:?}",
            ra.err(),
            rb.err()
        )),
        Err(_) => Err(format!("ours: not connected within {RUN_LIMIT:?}")),
    };
    // Both candidates were produced at once (gathering host candidates is
    // immediate), so the trickle tasks are done or about to be: let them
    // finish before closing, so `early` is complete.
    let _ = tokio::time::timeout(Duration::from_secs(1), async { tokio::join!(ta, tb) }).await;
    tokio::join!(a.close(), b.close());
    let outcome = outcome.map(|s| Sample {
        prflx: early.load(Ordering::Relaxed),
        ..s
    });
    for w in watchers {
        w.abort();
    }
    if knobs.timeline {
        let mut log = log.lock().unwrap();
        log.sort_by_key(|(t, _)| *t);
        println!(
            "ours, seed {seed}: {:?}",
            outcome.as_ref().map(|s| s.elapsed)
        );
        for (t, line) in log.iter() {
            println!("  {:>9.3} ms  {line}", t.as_secs_f64() * 1e3);
        }
    }
    outcome
}

// ---------------------------------------------------------- webrtc-ice

async fn their_agent(controlling: bool) -> (Arc<Agent>, mpsc::UnboundedReceiver<String>) {
    let config = TheirConfig {
        network_types: vec![NetworkType::Udp4],
        urls: Vec::new(),
        candidate_types: vec![webrtc_ice::candidate::CandidateType::Host],
        multicast_dns_mode: MulticastDnsMode::Disabled,
        include_loopback: true,
        // Loopback only, like ours: every other interface address is
        // filtered out (webrtc-ice has no "bind these IPs" option).
        ip_filter: Arc::new(Some(Box::new(|ip: IpAddr| ip == LOOPBACK))),
        is_controlling: controlling,
        ..TheirConfig::default()
    };
    let agent = Arc::new(Agent::new(config).await.expect("webrtc-ice agent"));
    let (tx, rx) = mpsc::unbounded_channel();
    let mut tx = Some(tx);
    agent.on_candidate(Box::new(
        move |c: Option<Arc<dyn TheirCandidate + Send + Sync>>| {
            match c {
                Some(c) => {
                    if let Some(tx) = &tx {
                        let _ = tx.send(c.marshal());
                    }
                }
                // Gathering complete (webrtc-ice has no end-of-candidates
                // to signal).
                None => tx = None,
            }
            Box::pin(async {})
        },
    ));
    (agent, rx)
}

/// Hands the candidate lines of one side to the other. Sets `early` as
/// [`our_trickle`] does.
fn their_trickle(
    mut lines: mpsc::UnboundedReceiver<String>,
    to: Arc<Agent>,
    delay: Duration,
    early: Arc<AtomicBool>,
) -> JoinHandle<()> {
    tokio::spawn(async move {
        while let Some(line) = lines.recv().await {
            signal_delay(delay).await;
            let c = unmarshal_candidate(&line).expect("webrtc-ice candidate parses");
            let (ip, port) = (c.address(), c.port());
            let c: Arc<dyn TheirCandidate + Send + Sync> = Arc::new(c);
            let known = to.get_remote_candidates_stats().await;
            if known.iter().any(|k| {
                k.candidate_type == TheirType::PeerReflexive && k.ip == ip && k.port == port
            }) {
                early.store(true, Ordering::Relaxed);
            }
            to.add_remote_candidate(&c)
                .expect("webrtc-ice takes the candidate");
        }
    })
}

async fn run_theirs(knobs: &Knobs) -> Result<Sample, String> {
    let start = Instant::now();
    let ((a, lines_a), (b, lines_b)) = tokio::join!(their_agent(true), their_agent(false));
    let (ufrag_a, pwd_a) = a.get_local_user_credentials().await;
    let (ufrag_b, pwd_b) = b.get_local_user_credentials().await;
    let early = Arc::new(AtomicBool::new(false));
    let ta = their_trickle(lines_a, b.clone(), knobs.delay, early.clone());
    let tb = their_trickle(
        lines_b,
        a.clone(),
        knobs.delay + knobs.answer_delay,
        early.clone(),
    );
    a.gather_candidates().map_err(|e| format!("theirs: {e}"))?;
    b.gather_candidates().map_err(|e| format!("theirs: {e}"))?;
    // Dropping a sender cancels dial/accept: keep them until the end.
    let (cancel_a, cancel_a_rx) = mpsc::channel(1);
    let (cancel_b, cancel_b_rx) = mpsc::channel(1);
    let connected = tokio::time::timeout(RUN_LIMIT, async {
        tokio::join!(
            a.dial(cancel_a_rx, ufrag_b, pwd_b),
            b.accept(cancel_b_rx, ufrag_a, pwd_a)
        )
    })
    .await;
    let elapsed = start.elapsed();
    let outcome = match connected {
        Ok((Ok(conn_a), Ok(conn_b))) => {
            let selected_prflx = a
                .get_selected_candidate_pair()
                .is_some_and(|p| p.remote.candidate_type() == TheirType::PeerReflexive);
            drop((conn_a, conn_b));
            Ok(Sample {
                elapsed,
                prflx: false,
                selected_prflx,
            })
        }
        Ok((ra, rb)) => Err(format!(
            "theirs: connect failed: {:?} / {:?}",
            ra.err(),
            rb.err()
        )),
        Err(_) => Err(format!("theirs: not connected within {RUN_LIMIT:?}")),
    };
    drop((cancel_a, cancel_b));
    // As for ours: let the candidates on their way arrive (a forwarder
    // ends when its agent's gathering completes), then stop the
    // forwarders if they have not.
    let (mut ta, mut tb) = (ta, tb);
    let _ = tokio::time::timeout(Duration::from_secs(1), async {
        tokio::join!(&mut ta, &mut tb)
    })
    .await;
    ta.abort();
    tb.abort();
    let outcome = outcome.map(|s| Sample {
        prflx: early.load(Ordering::Relaxed),
        ..s
    });
    let (ca, cb) = tokio::join!(a.close(), b.close());
    ca.and(cb).map_err(|e| format!("theirs: close: {e}"))?;
    outcome
}

// --------------------------------------------------------------- report

struct Summary {
    median: Duration,
    p90: Duration,
    p99: Duration,
    max: Duration,
    over_100ms: usize,
    over_1s: usize,
    prflx: usize,
    selected_prflx: usize,
}

/// The nearest-rank percentile of sorted samples.
fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

fn median(sorted: &[Duration]) -> Duration {
    let n = sorted.len();
    if n % 2 == 1 {
        sorted[n / 2]
    } else {
        (sorted[n / 2 - 1] + sorted[n / 2]) / 2
    }
}

fn summarise(samples: &[Sample]) -> Summary {
    let mut t: Vec<Duration> = samples.iter().map(|s| s.elapsed).collect();
    t.sort();
    Summary {
        median: median(&t),
        p90: percentile(&t, 90.0),
        p99: percentile(&t, 99.0),
        max: *t.last().expect("samples"),
        over_100ms: t
            .iter()
            .filter(|d| **d > Duration::from_millis(100))
            .count(),
        over_1s: t.iter().filter(|d| **d > Duration::from_secs(1)).count(),
        prflx: samples.iter().filter(|s| s.prflx).count(),
        selected_prflx: samples.iter().filter(|s| s.selected_prflx).count(),
    }
}

fn ms(d: Duration) -> String {
    format!("{:.3}", d.as_secs_f64() * 1e3)
}

fn print_line(name: &str, s: &Summary, n: usize) {
    println!(
        "{name:<11} {:>9} {:>9} {:>9} {:>9} {:>7} {:>7} {:>8} {:>9}",
        ms(s.median),
        ms(s.p90),
        ms(s.p99),
        ms(s.max),
        format!("{}/{n}", s.over_100ms),
        format!("{}/{n}", s.over_1s),
        format!("{}/{n}", s.prflx),
        format!("{}/{n}", s.selected_prflx),
    );
}

fn ratio(theirs: Duration, ours: Duration) -> String {
    format!("{:.2}", theirs.as_secs_f64() / ours.as_secs_f64())
}

fn write_csv(path: &str, ours: &[Sample], theirs: &[Sample]) {
    let mut out = String::from("run,implementation,elapsed_us,prflx,selected_prflx\n");
    for (name, samples) in [("ours", ours), ("webrtc-ice", theirs)] {
        for (i, s) in samples.iter().enumerate() {
            out.push_str(&format!(
                "{i},{name},{:.1},{},{}\n",
                s.elapsed.as_secs_f64() * 1e6,
                s.prflx,
                s.selected_prflx
            ));
        }
    }
    std::fs::write(path, out).unwrap_or_else(|e| panic!("{path}: {e}"));
}

/// The bench's settings, from the environment.
struct Knobs {
    /// One-way signalling delay, both directions.
    delay: Duration,
    /// Extra delay of the controlled side's candidates (the answerer's
    /// trickle arriving late): the controlling agent then sees checks
    /// before the candidate they come from.
    answer_delay: Duration,
    /// Diagnostic only: our `AgentConfig::ta` instead of the default.
    our_ta: Option<Duration>,
    /// Print each of our runs' event timeline.
    timeline: bool,
}

fn main() {
    // `cargo bench` passes `--bench`; `cargo test --benches` does not.
    let benching = std::env::args().any(|a| a == "--bench");
    let runs = env_u64("ICE_BENCH_RUNS", if benching { 100 } else { 3 }) as usize;
    let seed = env_u64("ICE_BENCH_SEED", 1);
    let knobs = Knobs {
        delay: Duration::from_micros(env_u64("ICE_BENCH_SIGNAL_DELAY_US", 0)),
        answer_delay: Duration::from_micros(env_u64("ICE_BENCH_ANSWER_DELAY_US", 0)),
        our_ta: std::env::var("ICE_BENCH_OUR_TA_US")
            .ok()
            .map(|_| Duration::from_micros(env_u64("ICE_BENCH_OUR_TA_US", 0))),
        timeline: std::env::var_os("ICE_BENCH_TIMELINE").is_some(),
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("tokio runtime");
    println!(
        "time to a selected pair on loopback, trickling: {runs} runs each, interleaved, \
         {WARM_UP} warm-up runs each; signalling delay {:?}, answerer's candidates {:?} later",
        knobs.delay, knobs.answer_delay
    );
    if let Some(ta) = knobs.our_ta {
        println!("DIAGNOSTIC: our Ta = {ta:?} instead of the default 50 ms");
    }
    let (ours, theirs) = runtime.block_on(async {
        let (mut ours, mut theirs) = (Vec::new(), Vec::new());
        let mut failures = Vec::new();
        for i in 0..WARM_UP + runs {
            let run_seed = seed.wrapping_mul(1_000_003).wrapping_add(i as u64);
            let o = run_ours(run_seed, &knobs).await;
            let t = run_theirs(&knobs).await;
            if i < WARM_UP {
                continue;
            }
            match o {
                Ok(s) => ours.push(s),
                Err(e) => failures.push(format!("run {i}: {e}")),
            }
            match t {
                Ok(s) => theirs.push(s),
                Err(e) => failures.push(format!("run {i}: {e}")),
            }
        }
        if !failures.is_empty() {
            for f in &failures {
                eprintln!("{f}");
            }
            panic!("{} runs failed", failures.len());
        }
        (ours, theirs)
    });
    // The agents' own tasks end with their close; nothing outlives a run
    // but the runtime's idle workers.
    runtime.shutdown_timeout(Duration::from_secs(5));
    let (so, st) = (summarise(&ours), summarise(&theirs));
    println!(
        "{:<11} {:>9} {:>9} {:>9} {:>9} {:>7} {:>7} {:>8} {:>9}",
        "", "median ms", "p90 ms", "p99 ms", "max ms", ">100ms", ">1s", "prflx", "sel.prflx"
    );
    print_line("ours", &so, ours.len());
    print_line("webrtc-ice", &st, theirs.len());
    println!(
        "theirs / ours: median {}, p90 {}, p99 {}, max {}",
        ratio(st.median, so.median),
        ratio(st.p90, so.p90),
        ratio(st.p99, so.p99),
        ratio(st.max, so.max)
    );
    println!(
        "goals: our median <= theirs: {}; our p99 < 10 ms: {}",
        if so.median <= st.median {
            "met"
        } else {
            "MISSED"
        },
        if so.p99 < Duration::from_millis(10) {
            "met"
        } else {
            "MISSED"
        }
    );
    if let Ok(path) = std::env::var("ICE_BENCH_CSV") {
        write_csv(&path, &ours, &theirs);
        println!("raw samples written to {path}");
    }
}
