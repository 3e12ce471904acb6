//! The tokio driver (feature `tokio`, on by default): the sans-IO
//! [`Agent`] around real UDP sockets and tokio timers, for one data
//! stream with one component (what WebRTC uses with BUNDLE and rtcp-mux).
//!
//! - [`IceAgent::new`] binds one UDP socket per local address (the
//!   interfaces, listed by the `if-addrs` crate, or the addresses given),
//!   starts the agent in a task of its own and gathering at once: host
//!   candidates, server-reflexive through the STUN servers and relayed
//!   through the TURN servers of the [`AgentConfig`].
//! - [`IceAgent::local_candidates`] is a `Stream` of the local candidates
//!   to signal to the peer (trickle ICE, RFC 8838); it ends when gathering
//!   is complete (send end-of-candidates then). The peer's credentials,
//!   candidates and end-of-candidates go in at any time, also while
//!   checks run.
//! - [`IceAgent::connect`] resolves to a [`Connection`] once a pair is
//!   selected: `send` and `recv` datagrams over the selected pair, which
//!   follows renominations and ICE restarts ([`IceAgent::restart`]); on a
//!   direct pair data goes straight between the socket and the
//!   connection, on a relayed one through the agent's TURN client.
//! - [`IceAgent::close`] (or dropping every handle) releases the TURN
//!   allocations (Refresh with LIFETIME 0) before the sockets close.
//! - `tracing` spans: `ice_agent` (role), `ice_stream` under it, and one
//!   `ice_pair` per selected pair.
//!
//! ```no_run
//! use ice::driver::{IceAgent, IceConfig};
//! use ice::{AgentConfig, Role};
//!
//! # async fn run(signal: impl Fn(String), peer_lines: Vec<String>, peer: ice::Credentials)
//! #     -> Result<(), Box<dyn std::error::Error>> {
//! let mut config = AgentConfig::new(Role::Controlling, rand_seed());
//! config.stun_servers = vec!["192.0.2.1:3478".parse()?];
//! let agent = IceAgent::new(IceConfig::new(config)).await?;
//! let _mine = agent.local_credentials(); // send to the peer
//! let mut candidates = agent.local_candidates();
//! while let Some(c) = candidates.next().await {
//!     signal(ice::sdp::write_candidate(&c)?); // trickle each to the peer
//! }
//! agent.set_remote_credentials(peer).await?;
//! for line in peer_lines {
//!     agent.add_remote_candidate(ice::sdp::parse_candidate(&line)?).await?;
//! }
//! agent.end_of_remote_candidates().await?;
//! let mut conn = agent.connect().await?;
//! conn.send(b"\\x80hello").await?;
//! let reply = conn.recv().await?;
//! # let _ = reply;
//! agent.close().await;
//! # Ok(()) }
//! # fn rand_seed() -> u64 { 7 }
//! ```

mod connection;
mod error;
mod path;
mod sockets;
mod task;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Mutex;
use std::task::{Context, Poll};

use tokio::sync::{broadcast, mpsc, oneshot, watch};
use tracing::Instrument;

pub use connection::Connection;
pub use error::{ConnectError, ConnectionError, DriverError};
pub use sockets::LocalAddresses;

use crate::{
    Agent, AgentConfig, Candidate, ConnectionState, Credentials, Event, PairStats, StreamConfig,
};
use task::{Command, Status, Task, now};

/// How many datagrams wait for [`Connection::recv`] before new ones are
/// dropped (UDP semantics: a slow reader loses data, checks go on).
pub const RECEIVE_QUEUE: usize = 1024;

/// How many datagrams from the sockets wait for the agent's task.
const ARRIVAL_QUEUE: usize = 1024;

/// How many events [`IceAgent::events`] keeps for a slow reader.
const EVENT_QUEUE: usize = 256;

/// What the driver needs: the agent's configuration and where to bind.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct IceConfig {
    /// The agent: role, seed, STUN and TURN servers, policy, timers.
    pub agent: AgentConfig,
    /// Where the sockets are bound.
    pub local: LocalAddresses,
}

impl IceConfig {
    /// The agent's configuration, on every interface.
    pub fn new(agent: AgentConfig) -> IceConfig {
        IceConfig {
            agent,
            local: LocalAddresses::Interfaces,
        }
    }

    /// Binds on these addresses instead of every interface.
    pub fn with_local(mut self, local: LocalAddresses) -> IceConfig {
        self.local = local;
        self
    }
}

/// An ICE agent running in its own tokio task (see the [module](self)).
///
/// Its methods may be called from any task; the agent lives until
/// [`IceAgent::close`], or until this handle and its [`Connection`] are
/// dropped.
pub struct IceAgent {
    commands: mpsc::UnboundedSender<Command>,
    status: watch::Receiver<Status>,
    events: broadcast::Sender<Event>,
    first_events: Mutex<Option<broadcast::Receiver<Event>>>,
    data: Mutex<Option<mpsc::Receiver<Vec<u8>>>>,
    credentials: Mutex<Credentials>,
    sockets: Vec<SocketAddr>,
}

impl IceAgent {
    /// Binds the sockets, starts the agent's task and gathering. Must be
    /// called within a tokio runtime.
    pub async fn new(config: IceConfig) -> Result<IceAgent, DriverError> {
        let IceConfig { agent, local } = config;
        let addrs = match local {
            LocalAddresses::Interfaces => {
                sockets::interface_addresses(agent.include_loopback, agent.include_link_local)?
            }
            LocalAddresses::Ips(ips) => ips.into_iter().map(|ip| SocketAddr::new(ip, 0)).collect(),
            LocalAddresses::Sockets(s) => s,
        };
        if addrs.is_empty() {
            return Err(DriverError::NoAddresses);
        }
        let bound = sockets::bind_all(&addrs).await?;
        let mut by_addr = HashMap::new();
        let mut local_addrs = Vec::new();
        for (asked, s) in addrs.iter().zip(bound) {
            let addr = s.local_addr().map_err(|source| DriverError::Bind {
                addr: *asked,
                source,
            })?;
            local_addrs.push(addr);
            by_addr.insert(addr, s);
        }
        let role = agent.role;
        let mut core = Agent::new(agent, now());
        let stream = core.add_stream(now(), StreamConfig::single(local_addrs.clone()))?;
        let credentials = core.local_credentials(stream)?;

        let (commands_tx, commands) = mpsc::unbounded_channel();
        let (arrivals_tx, arrivals) = mpsc::channel(ARRIVAL_QUEUE);
        let (data_tx, data_rx) = mpsc::channel(RECEIVE_QUEUE);
        // Kept for the first `events()` call, so that it misses nothing
        // since the start (a relay refused within a round trip, say).
        let (events, first_events) = broadcast::channel(EVENT_QUEUE);
        let (status_tx, status) = watch::channel(Status {
            state: ConnectionState::New,
            path: None,
            pairs: 0,
        });
        let agent_span = tracing::info_span!("ice_agent", ?role);
        let stream_span = tracing::info_span!(parent: &agent_span, "ice_stream", stream = 1);
        let readers = by_addr
            .iter()
            .map(|(addr, socket)| {
                let reader = sockets::read_loop(
                    socket.clone(),
                    *addr,
                    arrivals_tx.clone(),
                    data_tx.clone(),
                    status_tx.subscribe(),
                );
                tokio::spawn(reader.instrument(agent_span.clone()))
            })
            .collect();
        let task = Task {
            agent: core,
            stream,
            sockets: by_addr,
            readers,
            commands,
            arrivals,
            status: status_tx,
            events: events.clone(),
            data: data_tx,
            gathered: Vec::new(),
            gathering_complete: false,
            subscribers: Vec::new(),
            closing: None,
            closed_waiters: Vec::new(),
            pair_span: tracing::Span::none(),
            stream_span,
        };
        tokio::spawn(task.run().instrument(agent_span));
        Ok(IceAgent {
            commands: commands_tx,
            status,
            events,
            first_events: Mutex::new(Some(first_events)),
            data: Mutex::new(Some(data_rx)),
            credentials: Mutex::new(credentials),
            sockets: local_addrs,
        })
    }

    /// The local credentials (ufrag and pwd) to send to the peer; after a
    /// restart, the new ones.
    pub fn local_credentials(&self) -> Credentials {
        self.credentials
            .lock()
            .map_or_else(|e| e.into_inner().clone(), |c| c.clone())
    }

    /// The addresses of the agent's sockets.
    pub fn local_sockets(&self) -> &[SocketAddr] {
        &self.sockets
    }

    /// The local candidates of the current generation, as a `Stream` that
    /// ends when their gathering is complete: those gathered so far at
    /// once, the others as they come. After [`IceAgent::restart`], call it
    /// again for the new generation's.
    pub fn local_candidates(&self) -> LocalCandidates {
        let (tx, rx) = mpsc::unbounded_channel();
        let _ = self.commands.send(Command::SubscribeCandidates(tx));
        LocalCandidates { rx }
    }

    /// What the agent reports (candidates, states, selected pairs, failed
    /// STUN and TURN servers; data goes to the [`Connection`]), for a user
    /// interface or a log. The first call sees everything since
    /// [`IceAgent::new`] (up to the last 256 events); later calls see
    /// what happens from then on.
    pub fn events(&self) -> Events {
        let first = self
            .first_events
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .take();
        Events {
            rx: first.unwrap_or_else(|| self.events.subscribe()),
        }
    }

    /// The peer's credentials (from its description).
    pub async fn set_remote_credentials(&self, c: Credentials) -> Result<(), DriverError> {
        self.ask(|tx| Command::RemoteCredentials(c, tx))
            .await?
            .map_err(DriverError::Agent)
    }

    /// One of the peer's candidates (trickled, in any order).
    pub async fn add_remote_candidate(&self, c: Candidate) -> Result<(), DriverError> {
        self.ask(|tx| Command::RemoteCandidate(c, tx))
            .await?
            .map_err(DriverError::Agent)
    }

    /// The peer has sent all its candidates (RFC 8838 end-of-candidates).
    pub async fn end_of_remote_candidates(&self) -> Result<(), DriverError> {
        self.ask(Command::EndOfCandidates)
            .await?
            .map_err(DriverError::Agent)
    }

    /// ICE restart (RFC 8445 §9): new credentials (returned, and from now
    /// on [`IceAgent::local_credentials`]) and a new generation of
    /// candidates ([`IceAgent::local_candidates`]); data keeps flowing on
    /// the old pair until a new one is selected. Give the agent the
    /// peer's new credentials and candidates.
    pub async fn restart(&self) -> Result<Credentials, DriverError> {
        let creds = self.ask(Command::Restart).await??;
        if let Ok(mut c) = self.credentials.lock() {
            *c = creds.clone();
        }
        Ok(creds)
    }

    /// Resolves once a pair is selected, to the connection over it; fails
    /// if ICE fails or the agent closes first.
    pub async fn connect(&self) -> Result<Connection, ConnectError> {
        let data = self
            .data
            .lock()
            .ok()
            .and_then(|mut d| d.take())
            .ok_or(ConnectError::AlreadyConnected)?;
        let mut status = self.status.clone();
        let outcome = loop {
            {
                let s = status.borrow_and_update();
                match s.state {
                    ConnectionState::Connected | ConnectionState::Completed if s.path.is_some() => {
                        break Ok(());
                    }
                    ConnectionState::Failed => {
                        break Err(ConnectError::Failed {
                            pairs_tried: s.pairs,
                        });
                    }
                    ConnectionState::Closed => break Err(ConnectError::Closed),
                    _ => {}
                }
            }
            if status.changed().await.is_err() {
                break Err(ConnectError::Closed);
            }
        };
        match outcome {
            Ok(()) => Ok(Connection::new(self.commands.clone(), status, data)),
            Err(e) => {
                // Not connected: a later call (after a restart) may be.
                if let Ok(mut d) = self.data.lock() {
                    *d = Some(data);
                }
                Err(e)
            }
        }
    }

    /// The stream's state now.
    pub fn state(&self) -> ConnectionState {
        self.status.borrow().state
    }

    /// The selected pair now, if any: (local, remote).
    pub fn selected_pair(&self) -> Option<(Candidate, Candidate)> {
        self.status
            .borrow()
            .path
            .as_ref()
            .map(|p| (p.local.clone(), p.remote.clone()))
    }

    /// The checklist now.
    pub async fn pair_stats(&self) -> Result<Vec<PairStats>, DriverError> {
        self.ask(Command::PairStats).await
    }

    /// Closes the agent: TURN allocations are released (waiting at most
    /// a few seconds for the servers' answers), then the sockets close.
    pub async fn close(&self) {
        close(&self.commands).await;
    }

    async fn ask<T>(
        &self,
        command: impl FnOnce(oneshot::Sender<T>) -> Command,
    ) -> Result<T, DriverError> {
        let (tx, rx) = oneshot::channel();
        self.commands
            .send(command(tx))
            .map_err(|_| DriverError::Gone)?;
        rx.await.map_err(|_| DriverError::Gone)
    }
}

/// Asks the task to close and waits until it has.
async fn close(commands: &mpsc::UnboundedSender<Command>) {
    let (tx, rx) = oneshot::channel();
    if commands.send(Command::Close(tx)).is_ok() {
        let _ = rx.await;
    }
}

/// The local candidates of one generation ([`IceAgent::local_candidates`]).
pub struct LocalCandidates {
    rx: mpsc::UnboundedReceiver<Candidate>,
}

impl LocalCandidates {
    /// The next candidate; `None` once gathering is complete.
    pub async fn next(&mut self) -> Option<Candidate> {
        self.rx.recv().await
    }
}

impl futures_core::Stream for LocalCandidates {
    type Item = Candidate;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Candidate>> {
        self.rx.poll_recv(cx)
    }
}

/// The agent's events ([`IceAgent::events`]).
pub struct Events {
    rx: broadcast::Receiver<Event>,
}

impl Events {
    /// The next event; `None` once the agent has stopped. Events a slow
    /// reader missed are skipped.
    pub async fn next(&mut self) -> Option<Event> {
        loop {
            match self.rx.recv().await {
                Ok(e) => return Some(e),
                Err(broadcast::error::RecvError::Lagged(_)) => continue,
                Err(broadcast::error::RecvError::Closed) => return None,
            }
        }
    }
}
