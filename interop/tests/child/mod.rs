//! A peer in a child process (the aioice script, the libnice program) and
//! the run both tests share.
//!
//! The test writes one command per line to the child's stdin (`remote
//! <ufrag> <pwd>`, `candidate <line>`, `end`, `send <word>`, `recv`,
//! `close`) and reads one JSON object per line from its stdout (`local`,
//! `candidate`, `gathered`, `connected`, `sent`, `received`, `error`); see
//! `interop/peers/aioice_peer.py` for the full protocol. The child is
//! killed when dropped, so a failing test leaves nothing running.

use std::net::SocketAddr;
use std::process::Stdio;
use std::time::Duration;

use ice::Role;
use ice_interop::ours::{Options, OurPeer};
use ice_interop::relay::{self, Relay};
pub use ice_interop::table::role_name;
use ice_interop::table::{self, Row};
use serde_json::Value;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader, Lines};
use tokio::process::{Child, ChildStdin, ChildStdout, Command};

/// How long one step (gathering, connecting, one datagram) may take before
/// the run fails instead of hanging.
pub const STEP: Duration = Duration::from_secs(20);

/// A running peer.
pub struct Peer {
    name: String,
    child: Child,
    stdin: ChildStdin,
    stdout: Lines<BufReader<ChildStdout>>,
}

impl Peer {
    /// Starts `program args`, with its stderr passed through to the test's
    /// (cargo shows it when the test fails).
    pub fn spawn(name: &str, program: &str, args: &[&str]) -> Result<Peer, String> {
        let mut child = Command::new(program)
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .kill_on_drop(true)
            .spawn()
            .map_err(|e| format!("cannot start {name} ({program}): {e}"))?;
        let stdin = child.stdin.take().ok_or("no stdin pipe")?;
        let stdout = child.stdout.take().ok_or("no stdout pipe")?;
        Ok(Peer {
            name: name.to_owned(),
            child,
            stdin,
            stdout: BufReader::new(stdout).lines(),
        })
    }

    /// Sends one command line.
    pub async fn send(&mut self, line: &str) -> Result<(), String> {
        let mut bytes = line.as_bytes().to_vec();
        bytes.push(b'\n');
        self.stdin
            .write_all(&bytes)
            .await
            .map_err(|e| format!("{} stopped reading commands: {e}", self.name))
    }

    /// The next message; an `error` message or the end of its output is
    /// an error.
    pub async fn next(&mut self) -> Result<Value, String> {
        let line = tokio::time::timeout(STEP, self.stdout.next_line())
            .await
            .map_err(|_| format!("{} said nothing for {STEP:?}", self.name))?
            .map_err(|e| format!("reading {}: {e}", self.name))?;
        let Some(line) = line else {
            let status = self.child.try_wait().ok().flatten();
            return Err(format!("{} exited ({status:?})", self.name));
        };
        let v: Value = serde_json::from_str(&line).map_err(|e| {
            format!(
                "{} printed a line that is not JSON ({e}): {line}",
                self.name
            )
        })?;
        if v["type"] == "error" {
            return Err(format!("{} failed: {}", self.name, v["message"]));
        }
        Ok(v)
    }

    /// The next message, which must be of type `kind`.
    pub async fn expect(&mut self, kind: &str) -> Result<Value, String> {
        let v = self.next().await?;
        if v["type"] != kind {
            return Err(format!("{} sent {v} where {kind:?} was due", self.name));
        }
        Ok(v)
    }

    /// Asks it to close and waits for it to exit.
    pub async fn close(mut self) -> Result<(), String> {
        self.send("close").await?;
        let status = tokio::time::timeout(STEP, self.child.wait())
            .await
            .map_err(|_| format!("{} did not exit after close", self.name))?
            .map_err(|e| format!("waiting for {}: {e}", self.name))?;
        if status.success() {
            Ok(())
        } else {
            Err(format!("{} exited with {status}", self.name))
        }
    }
}

/// A string field of a message.
pub fn field(v: &Value, name: &str) -> Result<String, String> {
    v[name]
        .as_str()
        .map(str::to_owned)
        .ok_or_else(|| format!("no string {name:?} in {v}"))
}

/// The role the peer takes when ours is `role`.
pub fn opposite(role: Role) -> Role {
    match role {
        Role::Controlling => Role::Controlled,
        Role::Controlled => Role::Controlling,
    }
}

/// What one run established.
#[derive(Debug)]
pub struct Outcome {
    /// Our selected pair's types, `ours → theirs`.
    pub pair: String,
}

/// One run: our agent set up by `options` against `peer`, already started
/// in the opposite role. Candidates go across in one batch each
/// way; then both connect, must agree on the pair, and exchange a datagram
/// each way. Returns the peer's version and the outcome.
pub async fn run(mut peer: Peer, options: &Options) -> (String, Result<Outcome, String>) {
    let mut version = String::from("unknown");
    let result = run_inner(&mut peer, options, &mut version).await;
    let result = match result {
        Ok(outcome) => peer.close().await.map(|()| outcome),
        Err(e) => Err(e),
    };
    (version, result)
}

async fn run_inner(
    peer: &mut Peer,
    options: &Options,
    version: &mut String,
) -> Result<Outcome, String> {
    let local = peer.expect("local").await?;
    *version = field(&local, "version")?;
    let mut theirs = Vec::new();
    loop {
        let v = peer.next().await?;
        match v["type"].as_str() {
            Some("candidate") => theirs.push(field(&v, "candidate")?),
            Some("gathered") => break,
            _ => return Err(format!("unexpected message while gathering: {v}")),
        }
    }

    let ours = OurPeer::start(options).await?;
    let mine = ours.gathered(STEP).await?;
    // Shown by cargo when the test fails.
    eprintln!("the peer's candidates: {theirs:?}\nours: {mine:?}");
    let creds = ours.credentials();
    peer.send(&format!("remote {} {}", creds.ufrag(), creds.pwd()))
        .await?;
    for line in &mine {
        peer.send(&format!("candidate {line}")).await?;
    }
    peer.send("end").await?;
    ours.set_remote_credentials(&field(&local, "ufrag")?, &field(&local, "pwd")?)
        .await?;
    let refused = ours.add_remote_lines(&theirs).await?;
    if !refused.is_empty() {
        return Err(format!(
            "our agent refused the peer's candidates: {refused:?}"
        ));
    }
    ours.end_of_candidates().await?;

    // The first failure of either side ends the run.
    let (mut conn, said) = tokio::try_join!(ours.connected(STEP), peer.expect("connected"))?;
    eprintln!("the peer connected: {said}");
    let (l, r) = ours.selected().ok_or("connected without a selected pair")?;
    let pair = table::pair_cell(&l, &r);
    let our_local = l
        .socket_addr()
        .ok_or("our local candidate has no address")?;
    let our_remote = r
        .socket_addr()
        .ok_or("our remote candidate has no address")?;
    let their_local: SocketAddr = parse_addr(&field(&said, "local")?)?;
    let their_remote: SocketAddr = parse_addr(&field(&said, "remote")?)?;
    if (their_local, their_remote) != (our_remote, our_local) {
        return Err(format!(
            "the pairs differ: ours {our_local} → {our_remote} ({pair}), the peer's \
             {their_local} → {their_remote}"
        ));
    }

    // A datagram each way over the selected pair.
    peer.send("send hello-from-peer").await?;
    peer.expect("sent").await?;
    let got = tokio::time::timeout(STEP, conn.recv())
        .await
        .map_err(|_| "the peer's datagram did not arrive".to_owned())?
        .map_err(|e| format!("our connection: {e}"))?;
    if got != b"hello-from-peer" {
        return Err(format!("we received {:?}", String::from_utf8_lossy(&got)));
    }
    peer.send("recv").await?;
    conn.send(b"hello-from-rust")
        .await
        .map_err(|e| format!("our send: {e}"))?;
    let received = peer.expect("received").await?;
    if field(&received, "data")? != "hello-from-rust" {
        return Err(format!("the peer received {received}"));
    }
    ours.close().await;
    Ok(Outcome { pair })
}

/// A run with our agent relay-only through our TURN server (RFC 8656) and
/// the peer direct: the pair must start from our relayed candidate, and
/// the server must have relayed in both directions.
pub async fn run_through_our_relay(
    peer: Peer,
    role: Role,
    seed: u64,
) -> (String, Result<Outcome, String>) {
    let relay = match Relay::start().await {
        Ok(r) => r,
        Err(e) => return ("unknown".into(), Err(e)),
    };
    let mut options = Options::new(role, seed);
    options.turn = Some((relay.udp, relay::USER.into(), relay::PASSWORD.into()));
    options.relay_only = true;
    let (version, result) = run(peer, &options).await;
    let stats = relay.stop().await;
    let result = result.and_then(|o| {
        if !o.pair.starts_with("relay → ") {
            return Err(format!(
                "the pair is {}, not from our relayed candidate",
                o.pair
            ));
        }
        if stats.to_peers.0 == 0 || stats.to_clients.0 == 0 {
            return Err(format!("our TURN server relayed too little: {stats:?}"));
        }
        Ok(o)
    });
    (version, result)
}

fn parse_addr(s: &str) -> Result<SocketAddr, String> {
    s.parse()
        .map_err(|e| format!("the peer reported {s:?}, not an address: {e}"))
}

/// Records the run's row, then fails the test if the run failed.
pub fn record_and_check(
    peer: &str,
    variant: &str,
    role: Role,
    seed: u64,
    (version, result): (String, Result<Outcome, String>),
) {
    let pair = result.as_ref().map(|o| o.pair.clone()).unwrap_or_default();
    let row = Row::new(
        peer,
        &version,
        variant,
        role,
        pair,
        result.as_ref().map(|_| ()).map_err(String::as_str),
    );
    table::record(&row).expect("the rows directory is writable");
    if let Err(e) = result {
        panic!(
            "{peer} ({variant}), our agent {} (seed {seed}): {e}",
            role_name(role)
        );
    }
}
