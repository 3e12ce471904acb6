//! The data phase of `icectl connect`: stdin into a
//! [`crate::reliable::Stream`], its datagrams over the ICE connection, the
//! peer's bytes to stdout; and the status lines on stderr (text, or JSON
//! objects with `--json`: stdout carries the data).

use std::time::{Duration, Instant};

use ice::driver::{Connection, Events};
use ice::{Candidate, CandidateType, ConnectionState, Event};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::clock::now;
use crate::error::CliError;
use crate::reliable::{RTO, Stream};
use crate::signal::Role;

/// How long a finished side keeps answering the peer, so that the peer's
/// last FIN gets its ACK even when the first ACK was lost.
const LINGER: Duration = Duration::from_millis(3 * RTO.as_millis() as u64);

/// Status lines on stderr.
#[derive(Clone, Debug)]
pub struct Status {
    json: bool,
    start: Instant,
}

impl Status {
    /// Text lines, or JSON objects with `json`.
    pub fn new(json: bool) -> Status {
        Status { json, start: now() }
    }

    fn emit(&self, text: String, value: serde_json::Value) {
        if self.json {
            let mut v = value;
            v["ms"] = (self.start.elapsed().as_millis() as u64).into();
            eprintln!("{v}");
        } else {
            eprintln!("icectl connect: {text}");
        }
    }

    /// Paired in a room.
    pub fn joined(&self, room: &str, role: Role) {
        let role = match role {
            Role::Controlling => "controlling",
            Role::Controlled => "controlled",
        };
        self.emit(
            format!("joined room `{room}`; the peer is here; ICE role {role}"),
            serde_json::json!({"type": "joined", "room": room, "role": role}),
        );
    }

    /// A problem that does not end the session.
    pub fn warn(&self, what: &str) {
        self.emit(
            format!("warning: {what}"),
            serde_json::json!({"type": "warning", "message": what}),
        );
    }

    /// The connection is up.
    pub fn connected(&self, conn: &Connection) {
        if let Some((local, remote)) = conn.selected_pair() {
            self.pair("connected", &local, &remote);
        }
    }

    /// The selected pair (`what`: connected, or renominated).
    pub fn pair(&self, what: &str, local: &Candidate, remote: &Candidate) {
        let path = path_kind(local, remote);
        self.emit(
            format!(
                "{what} over {} {} -> {} {} ({path})",
                local.kind, local.address, remote.kind, remote.address
            ),
            serde_json::json!({
                "type": what,
                "local": {"type": local.kind.sdp_name(), "address": local.address.to_string()},
                "remote": {"type": remote.kind.sdp_name(), "address": remote.address.to_string()},
                "path": path,
            }),
        );
    }

    /// The end of the session.
    pub fn finished(&self, sent: u64, received: u64, retransmissions: u64) {
        self.emit(
            format!(
                "done: sent {sent} bytes, received {received} bytes, \
                 {retransmissions} datagrams sent again"
            ),
            serde_json::json!({
                "type": "done", "sent": sent, "received": received,
                "retransmissions": retransmissions,
            }),
        );
    }
}

/// "direct" or "relayed", the words a person looks for.
pub fn path_kind(local: &Candidate, remote: &Candidate) -> &'static str {
    if local.kind == CandidateType::Relayed || remote.kind == CandidateType::Relayed {
        "relayed through TURN"
    } else {
        "direct"
    }
}

/// Copies stdin to the peer and the peer to stdout until both directions
/// ended (stdin closed and acknowledged, the peer's FIN received).
pub async fn copy(
    mut conn: Connection,
    mut events: Events,
    status: &Status,
    idle: Duration,
) -> Result<(), CliError> {
    let mut stream = Stream::new();
    let mut stdin = tokio::io::stdin();
    let mut stdout = tokio::io::stdout();
    let mut buf = vec![0u8; 64 * 1024];
    let mut stdin_open = true;
    let mut events_open = true;
    let mut last_heard = now();
    let (mut sent, mut received) = (0u64, 0u64);
    let mut linger_until: Option<Instant> = None;
    // The first events() call replays the start: report only changes.
    let mut current = conn.selected_pair();
    loop {
        while let Some(d) = stream.poll_transmit() {
            conn.send(&d).await.map_err(|e| {
                CliError::new(
                    "cannot send to the peer",
                    e.to_string(),
                    "the path to the peer broke; run both sides again",
                )
            })?;
        }
        let mut wrote = false;
        while let Some(d) = stream.poll_deliver() {
            stdout.write_all(&d).await.map_err(stdout_error)?;
            received += d.len() as u64;
            wrote = true;
        }
        if wrote {
            stdout.flush().await.map_err(stdout_error)?;
        }
        let t = now();
        if linger_until.is_none() && stream.output_done() && stream.input_done() {
            linger_until = Some(t + LINGER);
        }
        if linger_until.is_some_and(|end| t >= end) {
            break;
        }
        // Silence only matters while we wait for the peer to acknowledge.
        let waiting = stream.poll_timeout();
        if waiting.is_some() && t.saturating_duration_since(last_heard) > idle {
            return Err(CliError::new(
                "the peer stopped answering",
                format!("nothing arrived for {idle:?} while data waited for acknowledgement"),
                "check that the other side still runs; raise --idle-timeout on slow paths",
            ));
        }
        let wake = [waiting, linger_until, waiting.map(|_| last_heard + idle)]
            .into_iter()
            .flatten()
            .min()
            .unwrap_or(t + Duration::from_secs(3600));
        tokio::select! {
            r = conn.recv() => match r {
                Ok(d) => {
                    last_heard = now();
                    stream.handle_datagram(last_heard, &d);
                }
                Err(e) => return Err(CliError::new(
                    "the connection to the peer ended",
                    e.to_string(),
                    "run both sides again; a TURN server helps on paths that change",
                )),
            },
            n = stdin.read(&mut buf), if stdin_open && stream.wants_input() => match n {
                Ok(0) => {
                    stdin_open = false;
                    stream.close_input(now());
                }
                Ok(n) => {
                    stream.write(now(), buf.get(..n).unwrap_or_default());
                    sent += n as u64;
                }
                Err(e) => return Err(CliError::new(
                    "cannot read stdin", e.to_string(), "check what is piped into icectl connect",
                )),
            },
            e = events.next(), if events_open => match e {
                Some(Event::SelectedPair { local, remote, .. }) => {
                    let pair = Some((local, remote));
                    if pair != current
                        && let Some((local, remote)) = &pair
                    {
                        status.pair("renominated", local, remote);
                    }
                    current = pair;
                }
                Some(Event::StateChanged { state: ConnectionState::Failed, .. }) => {
                    return Err(CliError::new(
                        "the connection to the peer failed",
                        "the peer stopped answering consent checks (RFC 7675)",
                        "check that the other side still runs and the path is open",
                    ));
                }
                Some(_) => {}
                None => events_open = false,
            },
            _ = tokio::time::sleep_until(wake.into()) => stream.handle_timeout(now()),
        }
    }
    status.finished(sent, received, stream.retransmissions);
    conn.close().await;
    Ok(())
}

fn stdout_error(e: std::io::Error) -> CliError {
    CliError::new(
        "cannot write to stdout",
        e.to_string(),
        "check where the output of icectl connect goes (a closed pipe, a full disk)",
    )
}
