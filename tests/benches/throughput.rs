//! Issue 7: datagram throughput over our selected pair against a bare
//! tokio UDP socket, in the same run.
//!
//! Two of our agents (tokio driver, host candidates on 127.0.0.1) connect
//! once; then, alternating, the bench times `ICE_BENCH_DATAGRAMS`
//! datagrams (100,000 by default) of `ICE_BENCH_SIZE` bytes (1200) from A
//! to B:
//!
//! - **ours**: [`Connection::send`] on A, [`Connection::recv`] on B (the
//!   driver's direct path: A's socket `send_to`, B's socket reader task,
//!   the connection's queue);
//! - **bare**: two `tokio::net::UdpSocket`s on 127.0.0.1, `send_to` on
//!   one, `recv_from` into a reused buffer on the other.
//!
//! Both use the same flow control, so the kernel never drops and the
//! bench measures the path, not the loss: one task sends a window of
//! `ICE_BENCH_WINDOW` datagrams (64: 77 KB of 1200-byte datagrams, well
//! under a loopback socket's receive buffer and our 1024-datagram
//! receive queue), then receives that window, and so on. Every datagram
//! carries its sequence number (after a first byte of 0x80, which RFC
//! 7983 reads as RTP, so our agent hands it to the application); the
//! receiver checks it arrives in order. A datagram not received within
//! 200 ms counts as lost and the window moves on.
//!
//! `ICE_BENCH_ROUNDS` rounds (7) of (ours, bare), after one warm-up
//! round; it prints each round's datagrams/s and the ratio ours ÷ bare of
//! that round, then the medians. All on one tokio runtime: multi-thread
//! with two workers by default, where our socket reader task can receive
//! on the second core while the bench task sends (the bare socket has no
//! such task), or `ICE_BENCH_RUNTIME=current` (one thread: both paths
//! pay for every step on the same core, which shows our per-datagram
//! overhead). It writes nothing.
//!
//! ```sh
//! cargo bench -p ice-tests --bench throughput
//! ICE_BENCH_WINDOW=16 ICE_BENCH_SIZE=200 cargo bench -p ice-tests --bench throughput
//! ```
//!
//! Under `cargo test --benches` (no `--bench` argument) it runs one short
//! round as a smoke test. It exits with a failure if the agents do not
//! connect or a datagram arrives out of order.

// A benchmark, not a test: setup failures abort loudly, and it reads the
// wall clock (`Instant::now`) to time the runs.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::disallowed_methods,
    missing_docs
)]

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::{Duration, Instant};

use ice::driver::{Connection, IceAgent, IceConfig, LocalAddresses};
use ice::{AgentConfig, Role};
use tokio::net::UdpSocket;
use tokio::time::timeout;

const LOOPBACK: IpAddr = IpAddr::V4(Ipv4Addr::LOCALHOST);
/// How long a datagram may take before it counts as lost.
const LOST_AFTER: Duration = Duration::from_millis(200);

fn env_usize(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .map(|v| {
            v.parse()
                .unwrap_or_else(|_| panic!("{name}={v}: not a number"))
        })
        .unwrap_or(default)
}

/// What one timed transfer did.
#[derive(Clone, Copy, Debug)]
struct Transfer {
    elapsed: Duration,
    received: usize,
    lost: usize,
}

impl Transfer {
    fn rate(&self) -> f64 {
        self.received as f64 / self.elapsed.as_secs_f64()
    }
}

/// The two ends of a path: how to send one datagram and receive one.
trait Path {
    async fn send(&mut self, datagram: &[u8]);
    /// The next datagram's sequence number, `None` if none came in time.
    async fn recv(&mut self) -> Option<u64>;
}

fn sequence(d: &[u8]) -> u64 {
    let mut n = [0u8; 8];
    n.copy_from_slice(&d[1..9]);
    u64::from_be_bytes(n)
}

/// Sends `count` datagrams of `size` bytes in windows of `window`,
/// receiving each window before the next.
async fn transfer(path: &mut impl Path, count: usize, size: usize, window: usize) -> Transfer {
    let mut datagram = vec![0u8; size];
    datagram[0] = 0x80;
    let (mut received, mut lost) = (0, 0);
    let mut expected = 0u64;
    let start = Instant::now();
    let mut sent = 0usize;
    while sent < count {
        let n = window.min(count - sent);
        for _ in 0..n {
            datagram[1..9].copy_from_slice(&(sent as u64).to_be_bytes());
            path.send(&datagram).await;
            sent += 1;
        }
        for _ in 0..n {
            match path.recv().await {
                Some(seq) => {
                    assert!(
                        seq >= expected,
                        "datagram {seq} after {expected}: out of order"
                    );
                    lost += (seq - expected) as usize;
                    expected = seq + 1;
                    received += 1;
                }
                None => {
                    lost += 1;
                    expected += 1;
                }
            }
        }
    }
    Transfer {
        elapsed: start.elapsed(),
        received,
        lost,
    }
}

struct Ours {
    a: Connection,
    b: Connection,
}

impl Path for Ours {
    async fn send(&mut self, datagram: &[u8]) {
        self.a.send(datagram).await.expect("our send");
    }

    async fn recv(&mut self) -> Option<u64> {
        match timeout(LOST_AFTER, self.b.recv()).await {
            Ok(Ok(d)) => Some(sequence(&d)),
            Ok(Err(e)) => panic!("our connection closed: {e}"),
            Err(_) => None,
        }
    }
}

struct Bare {
    a: UdpSocket,
    b: UdpSocket,
    to: SocketAddr,
    buf: Vec<u8>,
}

impl Path for Bare {
    async fn send(&mut self, datagram: &[u8]) {
        self.a.send_to(datagram, self.to).await.expect("bare send");
    }

    async fn recv(&mut self) -> Option<u64> {
        match timeout(LOST_AFTER, self.b.recv_from(&mut self.buf)).await {
            Ok(Ok((n, _))) => Some(sequence(&self.buf[..n])),
            Ok(Err(e)) => panic!("bare socket: {e}"),
            Err(_) => None,
        }
    }
}

async fn our_agent(role: Role, seed: u64) -> Arc<IceAgent> {
    let mut c = AgentConfig::new(role, seed);
    c.include_loopback = true;
    let config = IceConfig::new(c).with_local(LocalAddresses::Ips(vec![LOOPBACK]));
    Arc::new(IceAgent::new(config).await.expect("our agent binds"))
}

async fn signal(from: Arc<IceAgent>, to: Arc<IceAgent>) {
    to.set_remote_credentials(from.local_credentials())
        .await
        .unwrap();
    let mut candidates = from.local_candidates();
    while let Some(c) = candidates.next().await {
        to.add_remote_candidate(c).await.unwrap();
    }
    to.end_of_remote_candidates().await.unwrap();
}

/// Two of our agents, connected, and data crossing from A to B.
async fn connect() -> (Arc<IceAgent>, Arc<IceAgent>, Ours) {
    let a = our_agent(Role::Controlling, 1).await;
    let b = our_agent(Role::Controlled, 2).await;
    tokio::spawn(signal(a.clone(), b.clone()));
    tokio::spawn(signal(b.clone(), a.clone()));
    let (ca, cb) = timeout(Duration::from_secs(20), async {
        tokio::join!(a.connect(), b.connect())
    })
    .await
    .expect("our agents connect");
    let mut ours = Ours {
        a: ca.unwrap(),
        b: cb.unwrap(),
    };
    // The first datagrams may race the controlled side's path: send until
    // one arrives, then drain.
    let mut probe = vec![0u8; 16];
    probe[0] = 0x80;
    for _ in 0..100 {
        ours.send(&probe).await;
        if ours.recv().await.is_some() {
            break;
        }
    }
    while timeout(Duration::from_millis(50), ours.b.recv())
        .await
        .is_ok()
    {}
    (a, b, ours)
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    let n = v.len();
    if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    }
}

fn main() {
    // `cargo bench` passes `--bench`; `cargo test --benches` does not.
    let benching = std::env::args().any(|a| a == "--bench");
    let count = env_usize(
        "ICE_BENCH_DATAGRAMS",
        if benching { 100_000 } else { 2_000 },
    );
    let size = env_usize("ICE_BENCH_SIZE", 1200);
    let window = env_usize("ICE_BENCH_WINDOW", 64);
    let rounds = env_usize("ICE_BENCH_ROUNDS", if benching { 7 } else { 1 });
    assert!(
        size >= 9,
        "ICE_BENCH_SIZE: at least 9 bytes (0x80 and a u64)"
    );
    let flavour = std::env::var("ICE_BENCH_RUNTIME").unwrap_or_else(|_| "multi".to_owned());
    let runtime = match flavour.as_str() {
        "multi" => tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build(),
        "current" => tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build(),
        other => panic!("ICE_BENCH_RUNTIME={other}: multi or current"),
    }
    .expect("tokio runtime");
    println!(
        "datagram throughput on loopback: {count} datagrams of {size} bytes, windows of \
         {window}, {rounds} rounds of (ours, bare) after one warm-up round, tokio runtime \
         {flavour}"
    );
    runtime.block_on(async {
        let (a, b, mut ours) = connect().await;
        let b_socket = UdpSocket::bind((LOOPBACK, 0)).await.unwrap();
        let mut bare = Bare {
            a: UdpSocket::bind((LOOPBACK, 0)).await.unwrap(),
            to: b_socket.local_addr().unwrap(),
            b: b_socket,
            buf: vec![0u8; 65_535],
        };
        let (mut our_rates, mut bare_rates, mut ratios) = (Vec::new(), Vec::new(), Vec::new());
        println!(
            "{:>5} {:>14} {:>14} {:>7} {:>10}",
            "round", "ours dgram/s", "bare dgram/s", "ratio", "lost o/b"
        );
        for round in 0..=rounds {
            let o = transfer(&mut ours, count, size, window).await;
            let t = transfer(&mut bare, count, size, window).await;
            let ratio = o.rate() / t.rate();
            let label = if round == 0 {
                "warm".to_owned()
            } else {
                round.to_string()
            };
            println!(
                "{label:>5} {:>14.0} {:>14.0} {:>7.3} {:>10}",
                o.rate(),
                t.rate(),
                ratio,
                format!("{}/{}", o.lost, t.lost)
            );
            if round > 0 {
                our_rates.push(o.rate());
                bare_rates.push(t.rate());
                ratios.push(ratio);
            }
        }
        let (mo, mb, mr) = (
            median(our_rates),
            median(bare_rates),
            median(ratios.clone()),
        );
        let min = ratios.iter().copied().fold(f64::INFINITY, f64::min);
        let max = ratios.iter().copied().fold(0.0, f64::max);
        println!(
            "median: ours {mo:.0} dgram/s ({:.0} Mbit/s), bare {mb:.0} dgram/s ({:.0} Mbit/s), \
             ratio ours/bare {mr:.3} [{min:.3}-{max:.3}]",
            mo * size as f64 * 8.0 / 1e6,
            mb * size as f64 * 8.0 / 1e6,
        );
        println!(
            "goal: ours >= 0.9 x bare: {}",
            if mr >= 0.9 { "met" } else { "MISSED" }
        );
        ours.a.close().await;
        a.close().await;
        b.close().await;
    });
}
