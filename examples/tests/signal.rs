//! `icectl signal`: the rendezvous server as a process, spoken to over raw
//! TCP (pairing, roles, forwarding, a full room, a departing peer, garbage,
//! forged server messages, overlong and non-UTF-8 lines), and the library
//! client `SignalClient` against the server in process.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::io::{BufRead, BufReader, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

use common::{LINE, Running};
use icectl::signal::{
    Incoming, Limits, PeerMessage, Role, SignalClient, SignalError, SignalEvent, SignalServer,
};

/// A bound on every read: the server answers in microseconds.
const READ: Duration = Duration::from_secs(10);

fn start() -> (Running, SocketAddr) {
    let mut server = Running::start(&["signal", "--listen", "127.0.0.1:0", "--json"]);
    let ev = server.json(LINE);
    assert_eq!(ev["event"], "listening", "{ev}");
    let addr = ev["address"].as_str().unwrap().parse().unwrap();
    (server, addr)
}

struct Peer {
    reader: BufReader<TcpStream>,
    writer: TcpStream,
}

impl Peer {
    fn connect(addr: SocketAddr) -> Peer {
        let s = TcpStream::connect(addr).unwrap();
        s.set_read_timeout(Some(READ)).unwrap();
        Peer {
            reader: BufReader::new(s.try_clone().unwrap()),
            writer: s,
        }
    }

    fn join(addr: SocketAddr, room: &str) -> Peer {
        let mut p = Peer::connect(addr);
        p.send(&format!(r#"{{"type":"join","room":"{room}"}}"#));
        p
    }

    fn send(&mut self, line: &str) {
        self.send_bytes(format!("{line}\n").as_bytes());
    }

    fn send_bytes(&mut self, bytes: &[u8]) {
        self.writer.write_all(bytes).unwrap();
    }

    /// The next line; `None` at the end of the stream.
    fn line(&mut self) -> Option<String> {
        let mut s = String::new();
        let n = self
            .reader
            .read_line(&mut s)
            .expect("a line within the bound");
        (n > 0).then(|| s.trim_end().to_owned())
    }

    fn json(&mut self) -> serde_json::Value {
        let line = self.line().expect("a line, not the end");
        serde_json::from_str(&line).unwrap_or_else(|e| panic!("not JSON ({e}): {line}"))
    }

    fn expect_error(&mut self, needle: &str) {
        let v = self.json();
        assert_eq!(v["type"], "error", "{v}");
        let m = v["message"].as_str().unwrap();
        assert!(m.contains(needle), "{needle:?} not in {m:?}");
    }

    fn expect_closed(&mut self) {
        assert_eq!(self.line(), None, "the server should have closed");
    }
}

/// Two peers paired in `room`: (controlling, controlled).
fn pair(addr: SocketAddr, room: &str) -> (Peer, Peer) {
    let mut a = Peer::join(addr, room);
    // The server answers a waiting peer's line with "no peer yet": then A
    // is surely in the room before B comes.
    a.send(r#"{"type":"bye"}"#);
    a.expect_error("no peer yet");
    let mut b = Peer::join(addr, room);
    let pa = a.json();
    let pb = b.json();
    assert_eq!(
        pa,
        serde_json::json!({"type":"paired","role":"controlling"})
    );
    assert_eq!(pb, serde_json::json!({"type":"paired","role":"controlled"}));
    (a, b)
}

#[test]
fn two_peers_pair_with_opposite_roles_and_lines_pass_unchanged() {
    let (mut server, addr) = start();
    let (mut a, mut b) = pair(addr, "R");
    let joined = server.json(LINE);
    assert_eq!(joined["event"], "joined", "{joined}");
    let rejected = server.json(LINE);
    assert_eq!(
        rejected["event"], "rejected",
        "A's line before pairing: {rejected}"
    );
    let paired = server.json(LINE);
    assert_eq!(paired["event"], "paired", "{paired}");
    assert_eq!(paired["room"], "R");

    let creds = r#"{"type":"credentials","ufrag":"abcd","pwd":"0123456789abcdefghijklmn"}"#;
    a.send(creds);
    assert_eq!(b.line().unwrap(), creds, "forwarded byte for byte");
    let cand = r#"{"type":"candidate",  "candidate":"candidate:1 1 udp 2130706431 192.0.2.1 5000 typ host"}"#;
    b.send(cand);
    assert_eq!(a.line().unwrap(), cand);
    // Unknown types are forwarded too (peers may extend the protocol).
    a.send(r#"{"type":"x-custom","n":1}"#);
    assert_eq!(b.line().unwrap(), r#"{"type":"x-custom","n":1}"#);
    a.send(r#"{"type":"end-of-candidates"}"#);
    assert_eq!(b.line().unwrap(), r#"{"type":"end-of-candidates"}"#);

    // A third joiner is refused and closed; the pair is unaffected.
    let mut c = Peer::join(addr, "R");
    c.expect_error("room R is full");
    c.expect_closed();
    b.send(r#"{"type":"bye"}"#);
    assert_eq!(a.line().unwrap(), r#"{"type":"bye"}"#);
}

#[test]
fn a_departure_ends_the_room_and_frees_its_name() {
    let (mut server, addr) = start();
    let (a, mut b) = pair(addr, "lobby");
    drop(a);
    assert_eq!(b.json(), serde_json::json!({"type":"peer-left"}));
    b.expect_closed();
    // The name is free again.
    let (mut c, mut d) = pair(addr, "lobby");
    c.send(r#"{"type":"bye"}"#);
    assert_eq!(d.line().unwrap(), r#"{"type":"bye"}"#);
    // A peer that leaves before pairing frees the room as well.
    let mut gone = Peer::join(addr, "alone");
    gone.send(r#"{"type":"bye"}"#);
    gone.expect_error("no peer yet");
    drop(gone);
    loop {
        let ev = server.json(LINE);
        if ev["event"] == "left" && ev["room"] == "alone" {
            break;
        }
    }
    let (_e, _f) = pair(addr, "alone");
}

#[test]
fn garbage_forgeries_and_long_lines_are_refused_without_harm() {
    let (_server, addr) = start();
    // Before joining: anything but a join closes the connection.
    for first in ["hello", r#"{"type":"bye"}"#, r#"{"type":"join"}"#] {
        let mut p = Peer::connect(addr);
        p.send(first);
        p.expect_error("the first line must be");
        p.expect_closed();
    }
    let mut p = Peer::join(addr, "");
    p.expect_error("room name is empty");
    p.expect_closed();
    let mut p = Peer::join(addr, &"x".repeat(65));
    p.expect_error("at most 64");
    p.expect_closed();

    let (mut a, mut b) = pair(addr, "G");
    // After pairing: refused lines are answered with an error and not
    // forwarded; the connection stays.
    a.send("not json");
    a.expect_error("not JSON");
    a.send(r#"{"no":"type"}"#);
    a.expect_error("string `type`");
    a.send(r#"{"type":"peer-left"}"#);
    a.expect_error("from the server only");
    a.send(r#"{"type":"paired","role":"controlling"}"#);
    a.expect_error("from the server only");
    a.send_bytes(b"\xff\xfe\n");
    a.expect_error("not UTF-8");
    a.send(r#"{"type":"bye"}"#);
    assert_eq!(
        b.line().unwrap(),
        r#"{"type":"bye"}"#,
        "nothing refused was forwarded"
    );
    // A waiting peer's lines go nowhere.
    let mut w = Peer::join(addr, "W");
    w.send(r#"{"type":"bye"}"#);
    w.expect_error("no peer yet");

    // An overlong line closes its sender; the peer is told.
    let long = format!(
        r#"{{"type":"candidate","candidate":"{}"}}"#,
        "x".repeat(70 * 1024)
    );
    b.send(&long);
    b.expect_error("longer than 65536 bytes");
    b.expect_closed();
    assert_eq!(a.json(), serde_json::json!({"type":"peer-left"}));
    a.expect_closed();

    // The server still serves.
    let (mut c, mut d) = pair(addr, "G");
    d.send(r#"{"type":"bye"}"#);
    assert_eq!(c.line().unwrap(), r#"{"type":"bye"}"#);
}

#[test]
fn the_library_client_joins_exchanges_and_sees_the_peer_leave() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let server = SignalServer::bind("127.0.0.1:0".parse().unwrap(), Limits::default())
            .await
            .unwrap();
        let addr = server.local_addr().unwrap();
        let (events_tx, mut events) = tokio::sync::mpsc::unbounded_channel();
        let sink = move |e: SignalEvent| {
            let _ = events_tx.send(e);
        };
        let task = tokio::spawn(server.run(std::sync::Arc::new(sink)));
        let first = tokio::spawn(SignalClient::join(addr, "lib"));
        // The first is waiting before the second arrives.
        loop {
            let e = tokio::time::timeout(READ, events.recv())
                .await
                .unwrap()
                .unwrap();
            if matches!(e, SignalEvent::Joined { .. }) {
                break;
            }
        }
        let (role_b, mut tx_b, mut rx_b) = SignalClient::join(addr, "lib").await.unwrap();
        let (role_a, mut tx_a, mut rx_a) = first.await.unwrap().unwrap();
        assert_eq!((role_a, role_b), (Role::Controlling, Role::Controlled));

        let creds = PeerMessage::Credentials {
            ufrag: "u".into(),
            pwd: "p".into(),
        };
        tx_a.send(&creds).await.unwrap();
        assert_eq!(rx_b.recv().await.unwrap(), Incoming::Peer(creds));
        tx_b.send(&PeerMessage::EndOfCandidates).await.unwrap();
        assert_eq!(
            rx_a.recv().await.unwrap(),
            Incoming::Peer(PeerMessage::EndOfCandidates)
        );

        let full = SignalClient::join(addr, "lib").await.unwrap_err();
        assert!(
            matches!(&full, SignalError::Refused(m) if m.contains("full")),
            "{full}"
        );
        let bad = SignalClient::join(addr, "").await.unwrap_err();
        assert!(matches!(bad, SignalError::Room(_)), "{bad}");

        drop((tx_b, rx_b));
        assert_eq!(rx_a.recv().await.unwrap(), Incoming::PeerLeft);
        assert_eq!(rx_a.recv().await.unwrap(), Incoming::Closed);
        task.abort();
    });
}
