//! The description exchange of `icectl connect` over `icectl signal`:
//! our credentials, then each local candidate as it is gathered (trickle
//! ICE, RFC 8838), then end-of-candidates; the peer's go into the agent as
//! they arrive. A line from the peer that does not parse is reported and
//! skipped: the peer is remote input like any other.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use ice::driver::IceAgent;
use tokio::sync::{oneshot, watch};

use super::pump::Status;
use crate::error::CliError;
use crate::signal::{Incoming, PeerMessage, SignalReceiver, SignalSender};

/// What the peer has sent so far, to explain a connection that never came.
#[derive(Debug, Default)]
struct Heard {
    credentials: bool,
    candidates: usize,
    end_of_candidates: bool,
    problem: Option<String>,
}

/// The running exchange.
pub struct Signalling {
    heard: Arc<Mutex<Heard>>,
    gone: watch::Receiver<bool>,
    bye: Option<oneshot::Sender<()>>,
    sender: tokio::task::JoinHandle<()>,
}

/// Starts sending ours and taking the peer's.
pub fn start(
    agent: &Arc<IceAgent>,
    mut to_peer: SignalSender,
    mut from_peer: SignalReceiver,
    status: Status,
) -> Signalling {
    let heard = Arc::new(Mutex::new(Heard::default()));
    let (gone_tx, gone) = watch::channel(false);
    let (bye, bye_rx) = oneshot::channel::<()>();

    let ours = agent.clone();
    let out_status = status.clone();
    let sender = tokio::spawn(async move {
        let c = ours.local_credentials();
        let creds = PeerMessage::Credentials {
            ufrag: c.ufrag().to_owned(),
            pwd: c.pwd().to_owned(),
        };
        if to_peer.send(&creds).await.is_err() {
            return;
        }
        let mut candidates = ours.local_candidates();
        while let Some(c) = candidates.next().await {
            match ice::sdp::write_candidate(&c) {
                Ok(candidate) => {
                    if to_peer
                        .send(&PeerMessage::Candidate { candidate })
                        .await
                        .is_err()
                    {
                        return;
                    }
                }
                Err(e) => out_status.warn(&format!("not sending candidate {c:?}: {e}")),
            }
        }
        if to_peer.send(&PeerMessage::EndOfCandidates).await.is_err() {
            return;
        }
        // Keep the connection (and the room) open until we are done.
        let _ = bye_rx.await;
        let _ = to_peer.send(&PeerMessage::Bye).await;
    });

    let theirs = agent.clone();
    let in_heard = heard.clone();
    tokio::spawn(async move {
        loop {
            let msg = match from_peer.recv().await {
                Ok(Incoming::Peer(msg)) => msg,
                Ok(Incoming::PeerLeft | Incoming::Closed) => break,
                Err(e) => {
                    status.warn(&format!("signalling: {e}"));
                    record(&in_heard, |h| h.problem = Some(e.to_string()));
                    break;
                }
            };
            match msg {
                PeerMessage::Credentials { ufrag, pwd } => {
                    match ice::Credentials::new(ufrag, pwd) {
                        Ok(c) => {
                            if theirs.set_remote_credentials(c).await.is_err() {
                                break;
                            }
                            record(&in_heard, |h| h.credentials = true);
                        }
                        Err(e) => {
                            let why = format!("the peer's ICE credentials are invalid: {e}");
                            status.warn(&why);
                            record(&in_heard, |h| h.problem = Some(why));
                        }
                    }
                }
                PeerMessage::Candidate { candidate } => {
                    match ice::sdp::parse_candidate(&candidate) {
                        Ok(c) => match theirs.add_remote_candidate(c).await {
                            Ok(()) => record(&in_heard, |h| h.candidates += 1),
                            Err(ice::driver::DriverError::Gone) => break,
                            // Too many, or for a transport the agent does
                            // not use: the peer's problem, not ours.
                            Err(e) => {
                                status.warn(&format!("ignoring a candidate of the peer: {e}"))
                            }
                        },
                        Err(e) => status.warn(&format!(
                            "skipping the peer's candidate `{}`: {e}",
                            candidate.chars().take(120).collect::<String>()
                        )),
                    }
                }
                PeerMessage::EndOfCandidates => {
                    if theirs.end_of_remote_candidates().await.is_err() {
                        break;
                    }
                    record(&in_heard, |h| h.end_of_candidates = true);
                }
                PeerMessage::Bye => break,
            }
        }
        let _ = gone_tx.send(true);
    });

    Signalling {
        heard,
        gone,
        bye: Some(bye),
        sender,
    }
}

fn record(heard: &Mutex<Heard>, f: impl FnOnce(&mut Heard)) {
    if let Ok(mut h) = heard.lock() {
        f(&mut h);
    }
}

impl Signalling {
    /// Resolves once the peer has left (or signalling broke).
    pub async fn peer_gone(&mut self) {
        let _ = self.gone.wait_for(|gone| *gone).await;
    }

    /// Tells the peer we are leaving, and closes the room.
    pub async fn bye(mut self) {
        if let Some(bye) = self.bye.take() {
            let _ = bye.send(());
        }
        let _ = tokio::time::timeout(Duration::from_secs(2), &mut self.sender).await;
    }

    /// Why no pair was selected in time, from what the peer sent.
    pub fn explain(&self, what: String) -> CliError {
        let h = self
            .heard
            .lock()
            .map(|h| {
                (
                    h.credentials,
                    h.candidates,
                    h.end_of_candidates,
                    h.problem.clone(),
                )
            })
            .unwrap_or_default();
        let (why, hint) = match h {
            (_, _, _, Some(problem)) => (problem, "check the peer's `icectl connect` output"),
            (false, _, _, None) => (
                "the peer sent no ICE credentials".to_owned(),
                "check that the peer is an `icectl connect` of this version",
            ),
            (true, 0, _, None) => (
                "the peer sent no candidates".to_owned(),
                "the peer may have no usable interface: give it --local IP or a --turn server",
            ),
            (true, n, end, None) => (
                format!(
                    "the peer sent {n} candidate(s){}, and no pair was selected",
                    if end { " and end-of-candidates" } else { "" }
                ),
                "a firewall or NAT may block the path: give both sides a --turn server \
                 (with --user and --pass)",
            ),
        };
        CliError::new(what, why, hint)
    }
}
