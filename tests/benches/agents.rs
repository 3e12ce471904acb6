//! Scale: many ICE agent pairs connecting in one netsim run, on one core.
//!
//! Builds ONE [`Sim`] holding `ICE_BENCH_PAIRS` pairs of agents (10,000 by
//! default, so 20,000 agents), exchanges each pair's credentials directly
//! through the agents' APIs, carries every trickled candidate and
//! end-of-candidates to the other agent of its pair after a fixed signalling
//! delay, and runs until every agent reports `Connected` or `Completed`
//! (or a virtual-time limit). It then prints:
//!
//! - pairs connected, the virtual time until all were, and the spread of the
//!   per-pair connection times (a pair connects when both agents have);
//! - the wall time of setup and of the run (a benchmark, so it reads the wall
//!   clock; the simulation itself stays virtual and deterministic);
//! - events processed: simulator queue events (datagram arrivals at each hop
//!   and timer firings, stale ones included), datagrams sent and delivered,
//!   timers fired, signalling messages and agent events;
//! - memory, from a counting global allocator (`stats_alloc`): bytes
//!   allocated over the run and bytes live at the moment all were
//!   connected, per agent (everything the simulation holds, divided by the
//!   number of agents), and the bytes the agents themselves hold (measured
//!   by dropping them afterwards), plus the peak RSS (`VmHWM`).
//!
//! Topologies (`ICE_BENCH_TOPOLOGY`, default `both`):
//!
//! - `internet`: every agent on the Internet with its own address
//!   (10.x.y.z), 20 ms one-way latency; host candidates only.
//! - `nat`: every agent behind its own port-restricted cone NAT
//!   (192.168.1.10 or 192.168.2.20 inside, public 100.64.x.y), one STUN
//!   server on the Internet; agents gather server-reflexive candidates and
//!   connect through them (or peer-reflexive ones).
//!
//! Other knobs: `ICE_BENCH_LIMIT_SECS` (virtual-time limit, 60),
//! `ICE_BENCH_SEED` (42). Every agent starts at virtual time zero, so the
//! run is also a thundering herd for the simulator.
//!
//! Under `cargo test` (no `--bench` argument) it runs 10 pairs as a smoke
//! test. It exits with a failure if a pair did not connect.
//!
//! ```sh
//! cargo bench -p ice-tests --bench agents
//! ICE_BENCH_PAIRS=1000 ICE_BENCH_TOPOLOGY=internet cargo bench -p ice-tests --bench agents
//! ```

// A benchmark, not a test: setup failures abort loudly, and it reads the wall
// clock (`Instant::now`) to time the run; the simulation inside stays
// virtual and deterministic (fixed seed).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::disallowed_methods,
    missing_docs
)]

use std::alloc::System;
use std::cell::RefCell;
use std::collections::VecDeque;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::rc::Rc;
use std::time::{Duration, Instant};

use ice::{Agent, AgentConfig, Candidate, ConnectionState, Event, Role, StreamConfig, StreamId};
use ice_tests::netsim::{Endpoint, HostId, Link, NatConfig, Sim, seed};
use stats_alloc::{INSTRUMENTED_SYSTEM, Region, StatsAlloc};
use stun_proto::Transmit;

#[global_allocator]
static GLOBAL: &StatsAlloc<System> = &INSTRUMENTED_SYSTEM;

/// One-way latency of the Internet.
const LATENCY: Duration = Duration::from_millis(20);
/// One-way delay of the signalling channel (as `ice_pair::Signalling`).
const SIGNALLING_DELAY: Duration = Duration::from_millis(50);
const STUN_SERVER: &str = "198.51.100.1:3478";

/// What the agents report to the bench loop.
struct Shared {
    /// Candidates and end-of-candidates to signal, by the agent that made
    /// them.
    outbox: Vec<(usize, Event)>,
    /// Agents currently Connected or Completed.
    connected: usize,
    /// When each agent first reached Connected or Completed.
    first_connected: Vec<Option<Instant>>,
    /// Events the agents returned from `poll_event`.
    agent_events: u64,
}

/// An agent as a netsim endpoint. Unlike `ice_pair::Peer` it keeps no event
/// log: it forwards what must be signalled and tracks the state.
struct Node {
    /// `None` once dropped for the memory measurement.
    agent: Option<Agent>,
    stream: StreamId,
    index: usize,
    connected: bool,
    shared: Rc<RefCell<Shared>>,
}

impl Node {
    fn drain(&mut self, now: Instant) {
        let Some(agent) = self.agent.as_mut() else {
            return;
        };
        let mut sh = self.shared.borrow_mut();
        while let Some(e) = agent.poll_event() {
            sh.agent_events += 1;
            match e {
                Event::StateChanged { state, .. } => {
                    let up = matches!(
                        state,
                        ConnectionState::Connected | ConnectionState::Completed
                    );
                    if up != self.connected {
                        self.connected = up;
                        if up {
                            sh.connected += 1;
                            let first = &mut sh.first_connected[self.index];
                            first.get_or_insert(now);
                        } else {
                            sh.connected -= 1;
                        }
                    }
                }
                e @ (Event::LocalCandidate { .. } | Event::GatheringComplete { .. }) => {
                    sh.outbox.push((self.index, e));
                }
                _ => {}
            }
        }
    }
}

impl Endpoint for Node {
    fn handle_packet(&mut self, now: Instant, local: SocketAddr, remote: SocketAddr, data: &[u8]) {
        if let Some(a) = self.agent.as_mut() {
            a.handle_packet(now, local, remote, data);
        }
        self.drain(now);
    }

    fn handle_timeout(&mut self, now: Instant) {
        if let Some(a) = self.agent.as_mut() {
            a.handle_timeout(now);
        }
        self.drain(now);
    }

    fn poll_transmit(&mut self) -> Option<Transmit> {
        self.agent.as_mut()?.poll_transmit()
    }

    fn poll_timeout(&self) -> Option<Instant> {
        self.agent.as_ref()?.poll_timeout()
    }
}

enum Message {
    Candidate(Candidate),
    EndOfCandidates,
}

/// Moves what the agents want signalled into the signalling queue, for
/// delivery to the other agent of the pair (index `i ^ 1`) at
/// `now + SIGNALLING_DELAY`.
fn carry(
    shared: &RefCell<Shared>,
    signalling: &mut VecDeque<(Duration, usize, Message)>,
    now: Duration,
) {
    let mut sh = shared.borrow_mut();
    let at = now + SIGNALLING_DELAY;
    for (from, e) in sh.outbox.drain(..) {
        let msg = match e {
            Event::LocalCandidate { candidate, .. } => Message::Candidate(candidate),
            Event::GatheringComplete { .. } => Message::EndOfCandidates,
            _ => continue,
        };
        // The delay is fixed and the clock only advances, so the queue
        // stays sorted by delivery time.
        signalling.push_back((at, from ^ 1, msg));
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Topology {
    Internet,
    Nat,
}

impl Topology {
    fn name(self) -> &'static str {
        match self {
            Topology::Internet => "internet",
            Topology::Nat => "nat",
        }
    }
}

fn env_or<T: std::str::FromStr>(name: &str, default: T) -> T {
    match std::env::var(name) {
        Ok(v) => v
            .parse()
            .unwrap_or_else(|_| panic!("{name}={v} does not parse")),
        Err(_) => default,
    }
}

/// The `n`th address of a block: `a.(b + n / 65536).(n / 256 % 256).(n % 256)`.
fn nth_ip(a: u8, b: u8, n: usize) -> IpAddr {
    let n = u32::try_from(n).unwrap();
    let ip = u32::from(Ipv4Addr::new(a, b, 0, 0)) + n;
    IpAddr::V4(Ipv4Addr::from(ip))
}

/// `VmHWM` (peak resident set) of this process, in kB.
fn peak_rss_kb() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
}

/// Resets `VmHWM` to the current RSS (Linux `clear_refs` value 5), so that
/// each topology reports its own peak. Best effort.
fn reset_peak_rss() -> bool {
    std::fs::write("/proc/self/clear_refs", "5").is_ok()
}

struct Live(i64);

impl Live {
    /// Bytes live: `stats_alloc` already counts a `realloc`'s growth in
    /// `bytes_allocated` and its shrinking in `bytes_deallocated`
    /// (`bytes_reallocated` repeats the net change).
    fn of(s: &stats_alloc::Stats) -> Live {
        Live(s.bytes_allocated as i64 - s.bytes_deallocated as i64)
    }
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let i = ((sorted.len() - 1) as f64 * p).round() as usize;
    sorted[i]
}

fn ms(d: Duration) -> String {
    format!("{:.1} ms", d.as_secs_f64() * 1e3)
}

fn mib(bytes: i64) -> String {
    format!("{:.1} MiB", bytes as f64 / (1024.0 * 1024.0))
}

/// Runs one topology and prints its figures; returns whether every pair
/// connected.
fn run(topology: Topology, pairs: usize, run_seed: u64, limit: Duration) -> bool {
    let agents = pairs * 2;
    let peak_reset = reset_peak_rss();
    println!(
        "== {} pairs ({} agents), topology {}, seed {run_seed} ==",
        pairs,
        agents,
        topology.name()
    );
    let region = Region::new(GLOBAL);
    let wall_setup = Instant::now();

    let mut sim = Sim::new(run_seed);
    // Every agent starts at virtual time zero and they stay in step, so
    // tens of thousands of events share one instant: not a runaway.
    sim.set_event_limit(u64::MAX / 2);
    let inet = sim.internet();
    sim.set_link(inet, Link::with_latency(LATENCY));
    let stun: SocketAddr = STUN_SERVER.parse().unwrap();
    if topology == Topology::Nat {
        sim.add_host(
            inet,
            &[stun.ip()],
            turn_server::StunServer::new(turn_server::StunServerConfig::new(stun)),
        );
    }
    let shared = Rc::new(RefCell::new(Shared {
        outbox: Vec::new(),
        connected: 0,
        first_connected: vec![None; agents],
        agent_events: 0,
    }));
    let now = sim.now();
    let mut hosts: Vec<HostId> = Vec::with_capacity(agents);
    let mut signalling: VecDeque<(Duration, usize, Message)> = VecDeque::new();
    let mut creds = Vec::with_capacity(agents);
    let mut wall_nat_setup = Duration::ZERO;
    for i in 0..agents {
        let role = if i % 2 == 0 {
            Role::Controlling
        } else {
            Role::Controlled
        };
        let mut config = AgentConfig::new(role, seed::derive_seed(run_seed, i as u64));
        let (net, ip) = match topology {
            Topology::Internet => (inet, nth_ip(10, 0, i + 1)),
            Topology::Nat => {
                config.stun_servers = vec![stun];
                let t = Instant::now();
                let nat = sim.add_nat(
                    inet,
                    NatConfig::port_restricted_cone(),
                    &[nth_ip(100, 64, i + 1)],
                );
                wall_nat_setup += t.elapsed();
                // As in tests/ice_basic.rs: two home networks of different
                // prefixes, so a host candidate of the peer is unroutable.
                let inside = if i % 2 == 0 {
                    "192.168.1.10"
                } else {
                    "192.168.2.20"
                };
                (sim.nat_inside(nat), inside.parse().unwrap())
            }
        };
        let mut agent = Agent::new(config, now);
        let stream = agent
            .add_stream(now, StreamConfig::single(vec![SocketAddr::new(ip, 5000)]))
            .unwrap();
        creds.push(agent.local_credentials(stream).unwrap());
        let mut node = Node {
            agent: Some(agent),
            stream,
            index: i,
            connected: false,
            shared: Rc::clone(&shared),
        };
        node.drain(now);
        hosts.push(sim.add_host(net, &[ip], node));
        carry(&shared, &mut signalling, sim.elapsed());
    }
    for (i, host) in hosts.iter().enumerate() {
        let remote = creds[i ^ 1].clone();
        sim.with_endpoint::<Node, _>(*host, |n, _| {
            let s = n.stream;
            n.agent
                .as_mut()
                .unwrap()
                .set_remote_credentials(s, remote)
                .unwrap();
        });
    }
    drop(creds);
    let wall_setup = wall_setup.elapsed();
    let after_setup = region.change();

    // The lean loop: one simulator event or one signalling message at a
    // time, whichever is due first.
    let wall_run = Instant::now();
    let mut sim_events = 0u64;
    let mut messages = 0u64;
    let all_connected = loop {
        if shared.borrow().connected == agents {
            break true;
        }
        carry(&shared, &mut signalling, sim.elapsed());
        let next_sim = sim.next_event_at().map(|t| t - sim.start());
        let next_sig = signalling.front().map(|m| m.0);
        let next = match (next_sim, next_sig) {
            (Some(a), Some(b)) => a.min(b),
            (a, b) => match a.or(b) {
                Some(t) => t,
                None => break false,
            },
        };
        if next > limit {
            break false;
        }
        if next_sig.is_some_and(|s| next_sim.is_none_or(|n| s < n)) {
            let (at, to, msg) = signalling.pop_front().unwrap();
            // No simulator event is due before `at`: this only moves the
            // clock.
            sim.run_until(sim.at(at));
            sim.with_endpoint::<Node, _>(hosts[to], |n, now| {
                let s = n.stream;
                let agent = n.agent.as_mut().unwrap();
                match msg {
                    Message::Candidate(c) => {
                        let _ = agent.add_remote_candidate(s, c);
                    }
                    Message::EndOfCandidates => {
                        let _ = agent.end_of_remote_candidates(s);
                    }
                }
                n.drain(now);
            });
            messages += 1;
        } else {
            sim.step();
            sim_events += 1;
        }
    };
    let wall_run = wall_run.elapsed();
    let at_connected = region.change();
    let peak_kb = peak_rss_kb();
    let virtual_time = sim.elapsed();

    // Per-pair connection times.
    let (connected_agents, agent_events, mut pair_times) = {
        let sh = shared.borrow();
        let start = sim.start();
        let times: Vec<Duration> = (0..pairs)
            .filter_map(|p| {
                let a = sh.first_connected[2 * p]?;
                let b = sh.first_connected[2 * p + 1]?;
                Some(a.max(b) - start)
            })
            .collect();
        (sh.connected, sh.agent_events, times)
    };
    pair_times.sort();

    // The agents' own share: drop them and count what is freed.
    let before_drop = Live::of(&region.change());
    for h in &hosts {
        let agent = sim.endpoint_mut::<Node>(*h).agent.take();
        drop(agent);
    }
    let after_agents = Live::of(&region.change()).0;
    let agents_live = before_drop.0 - after_agents;
    let stats = sim.stats().clone();
    // The rest: the simulator (hosts, the `Node` wrappers with each agent's
    // inline `size_of::<Agent>()` bytes, topology, event queue, datagrams in flight),
    // then the bench's own signalling queue and bookkeeping.
    drop(sim);
    let after_sim = Live::of(&region.change()).0;
    let sim_live = after_agents - after_sim;
    drop(signalling);
    drop(shared);
    drop(hosts);
    let bench_live = after_sim - Live::of(&region.change()).0;

    let n = agents as i64;
    let live = Live::of(&at_connected).0;
    println!(
        "pairs connected:       {} / {pairs}{}",
        pair_times.len(),
        if all_connected {
            ""
        } else {
            "  (virtual-time limit reached)"
        }
    );
    println!("agents connected now:  {connected_agents} / {agents}");
    println!(
        "virtual time:          {} to all connected; per pair median {}, p99 {}, max {}",
        ms(virtual_time),
        ms(percentile(&pair_times, 0.5)),
        ms(percentile(&pair_times, 0.99)),
        ms(percentile(&pair_times, 1.0)),
    );
    println!(
        "wall time:             setup {} (of which add_nat {}), run {}, per agent {:.2} µs",
        ms(wall_setup),
        ms(wall_nat_setup),
        ms(wall_run),
        wall_run.as_secs_f64() * 1e6 / agents as f64
    );
    println!(
        "events:                {sim_events} simulator events ({:.0} per wall second, {:.1} per \
         agent), {messages} signalling messages, {agent_events} agent events",
        sim_events as f64 / wall_run.as_secs_f64(),
        sim_events as f64 / agents as f64
    );
    println!(
        "datagrams:             {} sent, {} delivered, {} dropped; {} timer firings",
        stats.sent,
        stats.delivered,
        stats.total_dropped(),
        stats.timeouts
    );
    println!(
        "allocated (run+setup): {} in {} allocations; {} B and {:.1} allocations per agent",
        mib(at_connected.bytes_allocated as i64),
        at_connected.allocations,
        at_connected.bytes_allocated as i64 / n,
        at_connected.allocations as f64 / n as f64,
    );
    println!(
        "live after setup:      {} ({} B per agent)",
        mib(Live::of(&after_setup).0),
        Live::of(&after_setup).0 / n
    );
    println!(
        "live when connected:   {} ({} B per agent: whole simulation / agents)",
        mib(live),
        live / n
    );
    println!(
        "  of which agents' heap {} ({} B per agent; plus {} B inline each), simulator {} ({} B \
         per agent), bench signalling and bookkeeping {} ({} B per agent)",
        mib(agents_live),
        agents_live / n,
        std::mem::size_of::<Agent>(),
        mib(sim_live),
        sim_live / n,
        mib(bench_live),
        bench_live / n,
    );
    match peak_kb {
        Some(kb) => println!(
            "peak RSS (VmHWM):      {:.1} MiB{} ({} B per agent)",
            kb as f64 / 1024.0,
            if peak_reset {
                ""
            } else {
                ", process-wide (could not reset)"
            },
            kb as i64 * 1024 / n
        ),
        None => println!("peak RSS (VmHWM):      unavailable"),
    }
    println!();
    all_connected
}

fn main() {
    // `cargo bench` passes `--bench`; `cargo test --benches` (and
    // `--all-targets`) runs this binary without it, unoptimised: there a
    // 10-pair smoke run checks that the bench still works, as criterion
    // benches do in test mode. Filters are ignored.
    let benching = std::env::args().any(|a| a == "--bench");
    let pairs: usize = env_or("ICE_BENCH_PAIRS", if benching { 10_000 } else { 10 });
    let run_seed: u64 = env_or("ICE_BENCH_SEED", 42);
    let limit = Duration::from_secs(env_or("ICE_BENCH_LIMIT_SECS", 60));
    let topology: String = env_or("ICE_BENCH_TOPOLOGY", "both".to_string());
    let topologies: &[Topology] = match topology.as_str() {
        "internet" => &[Topology::Internet],
        "nat" => &[Topology::Nat],
        "both" => &[Topology::Internet, Topology::Nat],
        other => panic!("ICE_BENCH_TOPOLOGY={other}: expected internet, nat or both"),
    };
    for t in topologies {
        let all = run(*t, pairs, run_seed, limit);
        assert!(
            all,
            "not every pair connected within {limit:?} of virtual time"
        );
    }
}
