//! Interoperability: coturn's test client `turnutils_uclient` (Debian
//! package `coturn`) against our tokio front on loopback. Two clients
//! allocate, open permissions (or channels) towards each other's relayed
//! address and exchange messages through the relay (`-y`); uclient must
//! report every message back and no lost packet.
//!
//! The test fails, never skips, when the binary is missing: install the
//! `coturn` package (`apt-get install -y coturn`; `scripts/test` does).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::Duration;

use turn_server::TurnServerConfig;
use turn_server::front::TurnFront;
use turn_server::turn::Prefix;

const USER: &str = "uclient";
const PASSWORD: &str = "uclient-pass";
const REALM: &str = "ice-stack.test";
const SECRET: &str = "rest-api-secret";

fn uclient() -> PathBuf {
    let found = std::env::var_os("PATH")
        .into_iter()
        .flat_map(|p| std::env::split_paths(&p).collect::<Vec<_>>())
        .chain([PathBuf::from("/usr/bin")])
        .map(|d| d.join("turnutils_uclient"))
        .find(|p| p.is_file());
    found.unwrap_or_else(|| {
        panic!(
            "turnutils_uclient not found: install the Debian package `coturn` \
             (apt-get install -y coturn); this interop test does not skip"
        )
    })
}

fn config(legacy_channels: bool) -> TurnServerConfig {
    TurnServerConfig::new("127.0.0.1:0".parse().unwrap(), REALM)
        .unwrap()
        .with_user(USER, PASSWORD)
        .unwrap()
        .with_shared_secret(SECRET.as_bytes())
        .with_relay_ports(40000, 60000)
        .unwrap()
        .allow_peers(Prefix::new("127.0.0.0".parse().unwrap(), 8).unwrap())
        .with_legacy_channel_numbers(legacy_channels)
        .with_seed(turn_server::front::random_seed())
}

/// What uclient printed at the end.
#[derive(Debug)]
struct Report {
    sent: u64,
    received: u64,
    lost: u64,
    output: String,
}

fn number_after(text: &str, key: &str) -> Option<u64> {
    let at = text.rfind(key)? + key.len();
    let digits: String = text[at..]
        .trim_start()
        .chars()
        .take_while(|c| c.is_ascii_digit())
        .collect();
    digits.parse().ok()
}

/// Runs uclient against `server` with `args`, at most 60 s.
fn run_uclient(server: SocketAddr, args: &[&str]) -> Report {
    let mut cmd = Command::new(uclient());
    cmd.args(args)
        .args(["-p", &server.port().to_string(), &server.ip().to_string()])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = cmd.spawn().expect("turnutils_uclient starts");
    // 60 s in 50 ms steps (a bound on the run, not a measurement).
    let mut steps = 0;
    loop {
        if child.try_wait().unwrap().is_some() {
            break;
        }
        steps += 1;
        if steps > 1200 {
            let _ = child.kill();
            let out = child.wait_with_output().unwrap();
            panic!(
                "turnutils_uclient {args:?} did not finish in 60 s:\n{}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            );
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let out = child.wait_with_output().unwrap();
    let output = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        out.status.success(),
        "turnutils_uclient {args:?} failed ({}):\n{output}",
        out.status
    );
    let sent = number_after(&output, "tot_send_msgs=")
        .unwrap_or_else(|| panic!("no tot_send_msgs in:\n{output}"));
    let received = number_after(&output, "tot_recv_msgs=")
        .unwrap_or_else(|| panic!("no tot_recv_msgs in:\n{output}"));
    let lost = number_after(&output, "Total lost packets")
        .unwrap_or_else(|| panic!("no lost count in:\n{output}"));
    Report {
        sent,
        received,
        lost,
        output,
    }
}

async fn interop(legacy_channels: bool, args: Vec<String>) -> Report {
    let front = TurnFront::start(config(legacy_channels)).await.unwrap();
    let server = front.udp_addresses()[0];
    let report = tokio::task::spawn_blocking(move || {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        run_uclient(server, &args)
    })
    .await
    .unwrap();
    front.shutdown().await;
    report
}

fn check(report: &Report, messages: u64) {
    println!("{}", report.output);
    assert_eq!(report.lost, 0, "lost packets:\n{}", report.output);
    assert!(
        report.sent >= messages,
        "sent {}:\n{}",
        report.sent,
        report.output
    );
    assert_eq!(report.received, report.sent, "received:\n{}", report.output);
}

fn args(extra: &[&str]) -> Vec<String> {
    ["-y", "-c", "-n", "20", "-l", "120", "-z", "5"]
        .iter()
        .chain(extra)
        .map(|s| s.to_string())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn uclient_udp_send_indications_long_term_credentials() {
    let report = interop(false, args(&["-s", "-u", USER, "-w", PASSWORD])).await;
    check(&report, 20);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn uclient_udp_channels_with_rfc5766_channel_numbers() {
    let report = interop(true, args(&["-u", USER, "-w", PASSWORD])).await;
    check(&report, 20);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn uclient_tcp_channels_shared_secret() {
    let report = interop(true, args(&["-t", "-u", "alice", "-W", SECRET])).await;
    check(&report, 20);
}

/// Without `-c` uclient also opens RTCP allocations: EVEN-PORT with the R
/// bit for RTP, then RESERVATION-TOKEN for RTCP on the reserved port.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn uclient_udp_rtp_rtcp_pairs_with_even_port_reservations() {
    let args: Vec<String> = [
        "-y", "-n", "10", "-l", "100", "-z", "5", "-u", USER, "-w", PASSWORD,
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    let report = interop(true, args).await;
    check(&report, 10);
}
