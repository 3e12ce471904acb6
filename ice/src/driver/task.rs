//! The agent's task: the loop of DESIGN.md ("How a datagram flows")
//! around tokio sockets and timers. It owns the sans-IO [`Agent`]; the
//! handles talk to it through a command channel and read its status from
//! a `watch` channel.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::net::UdpSocket;
use tokio::sync::{broadcast, mpsc, oneshot, watch};
use tokio::task::JoinHandle;
use tracing::Span;

use super::path::Path;
use super::sockets::Arrival;
use crate::{
    Agent, AgentError, Candidate, ConnectionState, Credentials, Event, PairStats, StreamId,
};

/// How long a closing agent keeps driving the release of its TURN
/// allocations (Refresh with LIFETIME 0) before it gives up on answers.
pub(super) const RELEASE_LIMIT: Duration = Duration::from_secs(3);

/// How many arrivals are handled before the loop looks at its timers and
/// commands again.
const ARRIVALS_PER_TURN: usize = 64;

/// What the handles ask of the task.
pub(super) enum Command {
    RemoteCredentials(Credentials, oneshot::Sender<Result<(), AgentError>>),
    RemoteCandidate(Candidate, oneshot::Sender<Result<(), AgentError>>),
    EndOfCandidates(oneshot::Sender<Result<(), AgentError>>),
    Restart(oneshot::Sender<Result<Credentials, AgentError>>),
    SubscribeCandidates(mpsc::UnboundedSender<Candidate>),
    Send(Vec<u8>, oneshot::Sender<Result<(), AgentError>>),
    PairStats(oneshot::Sender<Vec<PairStats>>),
    Close(oneshot::Sender<()>),
}

/// What the handles read.
#[derive(Clone, Debug)]
pub(super) struct Status {
    pub state: ConnectionState,
    pub path: Option<Path>,
    pub pairs: usize,
}

/// The task's state.
pub(super) struct Task {
    pub agent: Agent,
    pub stream: StreamId,
    pub sockets: HashMap<SocketAddr, Arc<UdpSocket>>,
    pub readers: Vec<JoinHandle<()>>,
    pub commands: mpsc::UnboundedReceiver<Command>,
    pub arrivals: mpsc::Receiver<Arrival>,
    pub status: watch::Sender<Status>,
    pub events: broadcast::Sender<Event>,
    pub data: mpsc::Sender<Vec<u8>>,
    /// The local candidates of the current generation, for late
    /// subscribers, and whether its gathering is complete.
    pub gathered: Vec<Candidate>,
    pub gathering_complete: bool,
    pub subscribers: Vec<mpsc::UnboundedSender<Candidate>>,
    pub closing: Option<Instant>,
    pub closed_waiters: Vec<oneshot::Sender<()>>,
    pub stream_span: Span,
    pub pair_span: Span,
}

/// The clock of the driver: tokio's, so tests with paused time run in
/// virtual time.
pub(super) fn now() -> Instant {
    tokio::time::Instant::now().into_std()
}

impl Task {
    /// Runs until closed and released (or every handle is gone).
    pub async fn run(mut self) {
        loop {
            self.flush().await;
            let deadline = self.agent.poll_timeout();
            if let Some(limit) = self.closing
                && (deadline.is_none() || now() >= limit)
            {
                break;
            }
            let sleep = async {
                match deadline {
                    Some(d) => tokio::time::sleep_until(d.into()).await,
                    None => std::future::pending().await,
                }
            };
            tokio::select! {
                biased;
                arrival = self.arrivals.recv() => match arrival {
                    Some(a) => self.arrive(a),
                    None => self.close(),
                },
                command = self.commands.recv() => match command {
                    Some(c) => self.command(c),
                    None => self.close(),
                },
                () = sleep => self.agent.handle_timeout(now()),
            }
        }
        for r in &self.readers {
            r.abort();
        }
        self.publish(ConnectionState::Closed);
        for w in self.closed_waiters.drain(..) {
            let _ = w.send(());
        }
    }

    /// One datagram, and whatever else is already queued (bounded).
    fn arrive(&mut self, first: Arrival) {
        let (local, from, data) = first;
        self.agent.handle_packet(now(), local, from, &data);
        for _ in 1..ARRIVALS_PER_TURN {
            match self.arrivals.try_recv() {
                Ok((local, from, data)) => self.agent.handle_packet(now(), local, from, &data),
                Err(_) => break,
            }
        }
    }

    fn command(&mut self, c: Command) {
        let s = self.stream;
        match c {
            Command::RemoteCredentials(creds, reply) => {
                let _ = reply.send(self.agent.set_remote_credentials(s, creds));
            }
            Command::RemoteCandidate(candidate, reply) => {
                let _ = reply.send(self.agent.add_remote_candidate(s, candidate));
            }
            Command::EndOfCandidates(reply) => {
                let _ = reply.send(self.agent.end_of_remote_candidates(s));
            }
            Command::Restart(reply) => {
                self.gathered.clear();
                self.gathering_complete = false;
                self.subscribers.clear();
                let r = self.agent.restart(now(), s);
                self.stream_span.in_scope(|| tracing::info!("ICE restart"));
                let _ = reply.send(r);
            }
            Command::SubscribeCandidates(tx) => {
                for c in &self.gathered {
                    let _ = tx.send(c.clone());
                }
                if !self.gathering_complete {
                    self.subscribers.push(tx);
                }
            }
            Command::Send(data, reply) => {
                let _ = reply.send(self.agent.send(s, 1, &data));
            }
            Command::PairStats(reply) => {
                let _ = reply.send(self.agent.pair_stats(s).unwrap_or_default());
            }
            Command::Close(done) => {
                self.closed_waiters.push(done);
                self.close();
            }
        }
        // Commands are inputs too: the agent may have work at once.
        self.agent.handle_timeout(now());
    }

    fn close(&mut self) {
        if self.closing.is_none() {
            self.stream_span
                .in_scope(|| tracing::info!("closing: releasing TURN allocations"));
            self.agent.close();
            self.closing = Some(now() + RELEASE_LIMIT);
        }
    }

    /// Sends what the agent wants sent and hands out its events.
    async fn flush(&mut self) {
        while let Some(t) = self.agent.poll_transmit() {
            let Some(socket) = self.sockets.get(&t.from) else {
                tracing::debug!(from = %t.from, "transmit from an address without a socket");
                continue;
            };
            if let Err(e) = socket.send_to(&t.data, t.to).await {
                tracing::debug!(from = %t.from, to = %t.to, error = %e, "send failed");
            }
        }
        while let Some(e) = self.agent.poll_event() {
            self.event(e);
        }
    }

    fn event(&mut self, e: Event) {
        match &e {
            Event::Data { data, .. } => {
                let _ = self.data.try_send(data.clone());
                return;
            }
            Event::LocalCandidate { candidate, .. } => {
                self.stream_span.in_scope(
                    || tracing::debug!(kind = %candidate.kind, address = %candidate.address, "local candidate"),
                );
                self.gathered.push(candidate.clone());
                self.subscribers
                    .retain(|tx| tx.send(candidate.clone()).is_ok());
            }
            Event::GatheringComplete { .. } => {
                self.gathering_complete = true;
                self.subscribers.clear();
                self.stream_span
                    .in_scope(|| tracing::debug!("gathering complete"));
            }
            Event::StateChanged { state, .. } => {
                self.stream_span
                    .in_scope(|| tracing::info!(?state, "state changed"));
                self.publish(*state);
            }
            Event::SelectedPair { local, remote, .. } => {
                self.pair_span = tracing::info_span!(
                    parent: &self.stream_span,
                    "ice_pair",
                    local = %local.address,
                    local_type = %local.kind,
                    remote = %remote.address,
                    remote_type = %remote.kind,
                );
                self.pair_span.in_scope(|| tracing::info!("selected"));
                let state = self.status.borrow().state;
                self.publish(state);
            }
            Event::ServerReflexiveFailed { server, error, .. } => {
                self.stream_span
                    .in_scope(|| tracing::warn!(%server, %error, "STUN server gave no candidate"));
            }
            Event::RelayFailed { server, error, .. } => {
                self.stream_span
                    .in_scope(|| tracing::warn!(%server, %error, "TURN allocation failed"));
            }
            Event::RoleChanged { role } => {
                self.stream_span
                    .in_scope(|| tracing::info!(?role, "role conflict resolved"));
            }
        }
        let _ = self.events.send(e);
    }

    /// Publishes the state and the selected path.
    fn publish(&mut self, state: ConnectionState) {
        let usable = matches!(
            state,
            ConnectionState::Connected | ConnectionState::Completed
        );
        let path = self
            .agent
            .selected_path(self.stream, 1)
            .ok()
            .flatten()
            .map(|sel| Path {
                socket: self.sockets.get(&sel.base).cloned(),
                usable: usable && sel.consent,
                base: sel.base,
                remote_addr: sel.remote_addr,
                local: sel.local,
                remote: sel.remote,
            });
        let pairs = self
            .agent
            .pair_stats(self.stream)
            .map_or(0, |stats| stats.len());
        self.status.send_replace(Status { state, path, pairs });
    }
}
