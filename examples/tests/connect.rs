//! `icectl connect` as two processes on loopback that meet through
//! `icectl signal`: a 10 MB file one way and 1 MB the other, byte for
//! byte, over a direct pair; the same through our TURN server with
//! `--relay-only`; and the failures a person meets (no signalling server,
//! bad URLs, a peer that never comes) with their messages and exit codes.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::io::{Read, Write};
use std::net::SocketAddr;
use std::process::{Child, Stdio};
use std::time::Duration;

use common::{LINE, Running, icectl, run};

/// Only a guard against a hang: a transfer on loopback takes seconds.
const TRANSFER_LIMIT: Duration = Duration::from_secs(180);

fn signal_server() -> (Running, SocketAddr) {
    let mut server = Running::start(&["signal", "--listen", "127.0.0.1:0", "--json"]);
    let ev = server.json(LINE);
    assert_eq!(ev["event"], "listening", "{ev}");
    (server, ev["address"].as_str().unwrap().parse().unwrap())
}

/// Deterministic bytes (xorshift64*): a transfer that reorders, drops or
/// duplicates a datagram cannot produce them by accident.
fn bytes(len: usize, seed: u64) -> Vec<u8> {
    let mut x = seed | 1;
    let mut out = Vec::with_capacity(len + 8);
    while out.len() < len {
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        out.extend_from_slice(&x.wrapping_mul(0x2545_F491_4F6C_DD1D).to_le_bytes());
    }
    out.truncate(len);
    out
}

/// One `icectl connect` with `input` on its stdin.
struct Side {
    child: Child,
    stdout: std::sync::mpsc::Receiver<Vec<u8>>,
    stderr: std::sync::mpsc::Receiver<Vec<u8>>,
}

fn side(args: &[String], input: Vec<u8>) -> Side {
    let mut child = icectl()
        .arg("connect")
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start icectl connect");
    let mut stdin = child.stdin.take().unwrap();
    std::thread::spawn(move || {
        let _ = stdin.write_all(&input);
        // Dropping stdin closes it: the end of this side's stream.
    });
    let read = |pipe: Option<Box<dyn Read + Send>>| {
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let mut bytes = Vec::new();
            if let Some(mut p) = pipe {
                let _ = p.read_to_end(&mut bytes);
            }
            let _ = tx.send(bytes);
        });
        rx
    };
    let stdout = read(
        child
            .stdout
            .take()
            .map(|p| Box::new(p) as Box<dyn Read + Send>),
    );
    let stderr = read(
        child
            .stderr
            .take()
            .map(|p| Box::new(p) as Box<dyn Read + Send>),
    );
    Side {
        child,
        stdout,
        stderr,
    }
}

impl Side {
    /// Waits for the exit; returns (exit code, stdout, stderr).
    fn finish(mut self) -> (Option<i32>, Vec<u8>, String) {
        let mut waited = Duration::ZERO;
        let status = loop {
            if let Some(s) = self.child.try_wait().unwrap() {
                break s;
            }
            if waited >= TRANSFER_LIMIT {
                let _ = self.child.kill();
                let _ = self.child.wait();
                let err = self.stderr.recv().unwrap_or_default();
                panic!(
                    "icectl connect did not finish within {TRANSFER_LIMIT:?}; stderr:\n{}",
                    String::from_utf8_lossy(&err)
                );
            }
            std::thread::sleep(Duration::from_millis(20));
            waited += Duration::from_millis(20);
        };
        let out = self.stdout.recv().unwrap_or_default();
        let err = String::from_utf8_lossy(&self.stderr.recv().unwrap_or_default()).into_owned();
        (status.code(), out, err)
    }
}

/// The JSON status lines of one side's stderr.
fn status_lines(stderr: &str) -> Vec<serde_json::Value> {
    stderr
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect()
}

fn event<'a>(lines: &'a [serde_json::Value], kind: &str) -> &'a serde_json::Value {
    lines
        .iter()
        .find(|v| v["type"] == kind)
        .unwrap_or_else(|| panic!("no `{kind}` status line in {lines:?}"))
}

/// Runs two sides in `room` with `extra` flags, `a_in` and `b_in` on
/// their stdins; asserts both exit 0 and each got the other's bytes
/// exactly; returns their status lines.
fn transfer(
    signal: SocketAddr,
    room: &str,
    extra: &[&str],
    a_in: Vec<u8>,
    b_in: Vec<u8>,
) -> (Vec<serde_json::Value>, Vec<serde_json::Value>) {
    let mut args: Vec<String> = [
        "--signal",
        &signal.to_string(),
        "--room",
        room,
        "--local",
        "127.0.0.1",
        "--json",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    args.extend(extra.iter().map(|s| s.to_string()));
    let a = side(&args, a_in.clone());
    // The first to join controls: give it a head start so roles are known.
    std::thread::sleep(Duration::from_millis(200));
    let b = side(&args, b_in.clone());
    let (a_code, a_out, a_err) = a.finish();
    let (b_code, b_out, b_err) = b.finish();
    assert_eq!(a_code, Some(0), "side A failed:\n{a_err}");
    assert_eq!(b_code, Some(0), "side B failed:\n{b_err}");
    assert_eq!(b_out.len(), a_in.len(), "B received a different length");
    assert!(b_out == a_in, "B's output differs from A's input");
    assert_eq!(a_out.len(), b_in.len(), "A received a different length");
    assert!(a_out == b_in, "A's output differs from B's input");
    let (a, b) = (status_lines(&a_err), status_lines(&b_err));
    assert_eq!(event(&a, "joined")["role"], "controlling", "{a_err}");
    assert_eq!(event(&b, "joined")["role"], "controlled", "{b_err}");
    for (lines, sent, received) in [(&a, a_in.len(), b_in.len()), (&b, b_in.len(), a_in.len())] {
        let done = event(lines, "done");
        assert_eq!(done["sent"], sent as u64, "{done}");
        assert_eq!(done["received"], received as u64, "{done}");
    }
    (a, b)
}

#[test]
fn ten_megabytes_cross_a_direct_pair_byte_for_byte() {
    let (_signal, addr) = signal_server();
    let (a, b) = transfer(
        addr,
        "file",
        &[],
        bytes(10 * 1024 * 1024, 1),
        bytes(1024 * 1024, 2),
    );
    for lines in [&a, &b] {
        let c = event(lines, "connected");
        assert_eq!(c["path"], "direct", "{c}");
        assert_eq!(c["local"]["type"], "host", "{c}");
        assert!(
            c["local"]["address"]
                .as_str()
                .unwrap()
                .starts_with("127.0.0.1:"),
            "{c}"
        );
    }
}

#[test]
fn relay_only_moves_the_bytes_through_our_turn_server() {
    let mut serve = Running::start(&[
        "serve",
        "--listen",
        "127.0.0.1:0",
        "--user",
        "peer:secret",
        "--allow-peer",
        "127.0.0.0/8",
        "--json",
    ]);
    let ann = serve.json(LINE);
    assert_eq!(ann["event"], "listening", "{ann}");
    let turn = ann["turn"]
        .as_array()
        .and_then(|a| a.first())
        .or(Some(&ann["turn"]))
        .and_then(|v| v.as_str())
        .unwrap_or_else(|| panic!("no turn URL in {ann}"))
        .split('?')
        .next()
        .unwrap()
        .to_owned();
    let (_signal, addr) = signal_server();
    let (a, b) = transfer(
        addr,
        "relayed",
        &[
            "--relay-only",
            "--turn",
            &turn,
            "--user",
            "peer",
            "--pass",
            "secret",
        ],
        bytes(300 * 1024, 3),
        bytes(100 * 1024, 4),
    );
    for lines in [&a, &b] {
        let c = event(lines, "connected");
        assert_eq!(c["path"], "relayed through TURN", "{c}");
        assert_eq!(c["local"]["type"], "relay", "{c}");
    }
}

#[test]
fn failures_say_what_failed_and_exit_non_zero() {
    // Nothing listens on this port.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = closed.local_addr().unwrap().port();
    drop(closed);
    let signal = format!("127.0.0.1:{port}");
    let out = run(&["connect", "--signal", &signal, "--room", "r"], LINE);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("error: cannot join room `r`"), "{err}");
    assert!(err.contains("icectl signal"), "{err}");

    let out = run(
        &["connect", "--room", "r", "--stun", "http://example.org"],
        LINE,
    );
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("error: bad server `http://example.org`"),
        "{err}"
    );

    let out = run(
        &["connect", "--room", "r", "--turn", "turn:127.0.0.1"],
        LINE,
    );
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("needs credentials"), "{err}");

    // A room nobody else joins.
    let (_server, addr) = signal_server();
    let out = run(
        &[
            "connect",
            "--signal",
            &addr.to_string(),
            "--room",
            "alone",
            "--timeout",
            "1s",
        ],
        LINE,
    );
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("no peer joined room `alone`"), "{err}");
}
