//! A sans-IO TURN client (RFC 8656): one allocation on one server, reached
//! from one local socket over UDP or TCP.
//!
//! What it implements, by section:
//! - RFC 8656 §7.1-7.4 Allocate: REQUESTED-TRANSPORT UDP, optional
//!   REQUESTED-ADDRESS-FAMILY (an IPv6 relay), DONT-FRAGMENT (dropped and
//!   retried once on a 420 that names it), LIFETIME, SOFTWARE; the relayed
//!   address's family is checked; 300, 437, 440, 441, 442, 486 and 508 are
//!   typed errors ([`TurnError`]).
//! - RFC 8489 §9.2 long-term credentials: the 401 exchange, MD5 and
//!   SHA-256 keys with PASSWORD-ALGORITHMS / PASSWORD-ALGORITHM, USERHASH
//!   when the nonce cookie asks, 438 retries (at most
//!   [`MAX_STALE_NONCE_RETRIES`]), a second 401 is wrong credentials.
//!   RFC 8489 §10: one 300 redirect ([`MAX_REDIRECTS`]).
//! - RFC 8656 §8 Refresh at [`REFRESH_FRACTION_PERCENT`] of the lifetime; a
//!   437 answer means the server lost the allocation: a new one is made and
//!   reported as [`TurnEvent::Reallocated`]. Release is a Refresh with
//!   LIFETIME 0 ([`TurnClient::close`]).
//! - RFC 8656 §9 CreatePermission per peer IP, refreshed before the 300 s
//!   lifetime; data for a peer waits (bounded, [`MAX_QUEUED_DATAGRAMS`])
//!   until its permission is installed, since the server would drop it.
//! - RFC 8656 §10 Send and Data indications; §12 ChannelBind (channels
//!   0x4000-0x4FFF, never reused within a client), refreshed before 600 s,
//!   ChannelData only once the bind succeeded (Send indications before).
//! - RFC 8656 §12.5 and RFC 8489 §6.2.2 over TCP: the server's byte stream
//!   is framed into STUN and ChannelData whatever the read boundaries,
//!   ChannelData is padded, requests are not retransmitted.
//! - RFC 8489 §9.2.5 receiving answers: after the 401 every answer must
//!   carry a valid MESSAGE-INTEGRITY(-SHA256) with the long-term key, except
//!   401 and 438; others are dropped without ending the transaction (over
//!   UDP; over TCP the transaction ends), and a transaction whose every
//!   answer was dropped fails with [`TurnError::IntegrityViolated`] instead
//!   of a timeout. Answers count only from the address the request went to
//!   ([`crate::transaction`]). Data indications and ChannelData count only
//!   from the server and for peers with a permission or channel.
//!
//! Not implemented: TURN over TLS/DTLS (the owner can run TCP framing over
//! TLS itself), dual allocations (ADDITIONAL-ADDRESS-FAMILY), EVEN-PORT and
//! RESERVATION-TOKEN, RFC 6062 TCP relays, mobility (RFC 8016), and
//! unauthenticated allocations (RFC 8656 §7.2 has servers require
//! credentials; a success to a request without them is dropped).
//!
//! # Driving it
//!
//! The verb grammar of the stack: after [`TurnClient::new`] and after every
//! input (`handle_datagram` or `handle_stream`, `handle_timeout`,
//! `send_to`, `create_permission`, `bind_channel`, `close`), drain
//! [`TurnClient::poll_transmit`] (the stack's one output type,
//! [`stun_proto::Transmit`]: send each from `from` to `to`; over TCP write
//! its bytes to the connection to `to`), then [`TurnClient::poll_event`],
//! then arm a timer for [`TurnClient::poll_timeout`].
//!
//! ```
//! use std::time::{Duration, Instant};
//! use candidate_gather::turn::{TurnClient, TurnConfig, TurnState};
//! # #[allow(clippy::disallowed_methods)]
//! let now = Instant::now();
//! let config = TurnConfig::new("192.0.2.1:3478".parse()?, "user", "pass", 7);
//! let mut client = TurnClient::new(config, "10.0.0.2:5000".parse()?, now);
//! let first = client.poll_transmit().ok_or("the first Allocate")?;
//! assert_eq!(first.to.to_string(), "192.0.2.1:3478");
//! assert_eq!(client.state(), TurnState::Allocating);
//! // Feed the server's answers with client.handle_datagram(now, from, &bytes).
//! assert_eq!(client.poll_timeout(), Some(now + Duration::from_millis(500)));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

#![deny(clippy::indexing_slicing)]

mod allocation;
mod auth;
mod channels;
mod config;
mod data;
mod error;
mod event;
mod permissions;
mod request;

use std::collections::{BTreeMap, VecDeque};
use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, Instant};

use rand_chacha::ChaCha8Rng;
use rand_core::SeedableRng;
use stun_proto::{StreamFramer, Transmit};

pub use config::{
    CHANNEL_LIFETIME, DEFAULT_LIFETIME, MAX_QUEUED_BYTES, MAX_QUEUED_DATAGRAMS, MAX_REDIRECTS,
    MAX_STALE_NONCE_RETRIES, PERMISSION_LIFETIME, PERMISSION_REFUSAL_HOLD,
    REFRESH_FRACTION_PERCENT, TurnConfig, TurnTransport,
};
pub use error::{Operation, TurnError, UsageError};
pub use event::{DropReason, Handled, PeerData, TurnEvent, TurnState};

use allocation::Allocation;
use auth::Auth;
use channels::Channels;
use permissions::Permissions;
use request::{Op, OpId, OpKind};

use crate::transaction::{RetransmitConfig, Transactions};

/// One TURN allocation, driven sans-IO. See the [module](self) docs.
pub struct TurnClient {
    config: TurnConfig,
    local: SocketAddr,
    server: SocketAddr,
    redirects: u32,
    /// Whether Allocate requests still carry DONT-FRAGMENT.
    dont_fragment: bool,
    rng: ChaCha8Rng,
    tx: Transactions<OpId>,
    ops: BTreeMap<OpId, Op>,
    next_op: OpId,
    auth: Auth,
    state: TurnState,
    allocation: Option<Allocation>,
    /// The relayed address being replaced while reallocating.
    previous_relayed: Option<SocketAddr>,
    /// `close` came while an authenticated Allocate was under way.
    close_requested: bool,
    permissions: Permissions,
    channels: Channels,
    framer: StreamFramer,
    /// The server changed while a stream was being read (TCP redirect).
    stream_reset: bool,
    out: VecDeque<Transmit>,
    events: VecDeque<TurnEvent>,
}

impl TurnClient {
    /// A client for `config`, sending from `local`; the first Allocate
    /// (without credentials, RFC 8489 §9.2.3.1) is queued at once.
    pub fn new(config: TurnConfig, local: SocketAddr, now: Instant) -> TurnClient {
        let tx_config = Self::tx_config(&config);
        let mut client = TurnClient {
            local,
            server: config.server,
            redirects: 0,
            dont_fragment: config.dont_fragment,
            rng: ChaCha8Rng::seed_from_u64(config.seed),
            tx: Transactions::new(tx_config),
            ops: BTreeMap::new(),
            next_op: 0,
            auth: Auth::new(&config.username, &config.password),
            state: TurnState::Allocating,
            allocation: None,
            previous_relayed: None,
            close_requested: false,
            permissions: Permissions::default(),
            channels: Channels::default(),
            framer: StreamFramer::new(),
            stream_reset: false,
            out: VecDeque::new(),
            events: VecDeque::new(),
            config,
        };
        client.start_op(now, OpKind::Allocate);
        client
    }

    /// Over UDP the configured RFC 8489 schedule; over TCP one request that
    /// must be answered within that schedule's timeout (RFC 8489 §6.2.2).
    fn tx_config(config: &TurnConfig) -> RetransmitConfig {
        match config.transport {
            TurnTransport::Udp => config.retransmit,
            TurnTransport::Tcp => RetransmitConfig {
                rto: config.retransmit.timeout(),
                rc: 1,
                rm: 1,
                max_interval: Duration::MAX,
            },
        }
    }

    /// A datagram that arrived on the local socket from `from` (UDP
    /// clients). Answers, Data indications and ChannelData from the server
    /// are the client's; everything else is [`Handled::NotMine`], including
    /// STUN answers from the server to requests the client did not send.
    pub fn handle_datagram<'a>(
        &mut self,
        now: Instant,
        from: SocketAddr,
        data: &'a [u8],
    ) -> Handled<'a> {
        if self.config.transport != TurnTransport::Udp || from != self.server {
            return Handled::NotMine;
        }
        self.handle_server_bytes(now, data)
    }

    /// Bytes read from the TCP connection to the server, split or merged
    /// anyhow (TCP clients). Returns the peer data they completed. A stream
    /// that cannot be framed fails the client ([`TurnError::StreamBroken`]:
    /// close the connection).
    pub fn handle_stream(
        &mut self,
        now: Instant,
        bytes: &[u8],
    ) -> Result<Vec<PeerData>, UsageError> {
        if self.config.transport != TurnTransport::Tcp {
            return Err(UsageError::WrongTransport);
        }
        if matches!(self.state, TurnState::Closed | TurnState::Failed) {
            return Err(UsageError::Closed);
        }
        Ok(self.read_stream(now, bytes))
    }

    /// Sends `data` to `peer` through the relay: as ChannelData if a channel
    /// is bound to `peer`, else as a Send indication if the peer's IP has a
    /// permission; otherwise a permission is requested and the data waits
    /// for it (at most [`MAX_QUEUED_DATAGRAMS`] / [`MAX_QUEUED_BYTES`] per
    /// IP). For [`PERMISSION_REFUSAL_HOLD`] after the server refused that
    /// IP's permission, data for it is refused at once
    /// ([`UsageError::PermissionRefused`]) and no request goes out.
    pub fn send_to(
        &mut self,
        now: Instant,
        peer: SocketAddr,
        data: &[u8],
    ) -> Result<(), UsageError> {
        self.relay(now, peer, data)
    }

    /// Installs a permission for `peer` (RFC 8656 §9) and keeps it refreshed
    /// for the allocation's life. [`TurnEvent::PermissionCreated`] tells
    /// when it is in place.
    /// An earlier refusal is forgotten: this asks the server again.
    pub fn create_permission(&mut self, now: Instant, peer: IpAddr) -> Result<(), UsageError> {
        self.check_usable(SocketAddr::new(peer, 0))?;
        self.permissions.forgive(peer);
        self.ensure_permission(now, peer, 0);
        Ok(())
    }

    /// Binds a channel to `peer` (RFC 8656 §12), or returns the one already
    /// bound or being bound. [`TurnEvent::ChannelBound`] tells when data to
    /// `peer` starts going as ChannelData.
    pub fn bind_channel(&mut self, now: Instant, peer: SocketAddr) -> Result<u16, UsageError> {
        self.check_usable(peer)?;
        self.ensure_channel(now, peer)
    }

    /// Releases the allocation (Refresh with LIFETIME 0, RFC 8656 §8) and
    /// closes; [`TurnEvent::Released`] follows.
    pub fn close(&mut self, now: Instant) {
        self.begin_close(now);
    }

    /// Retransmits, refreshes and expires what is due at `now`.
    pub fn handle_timeout(&mut self, now: Instant) {
        self.on_timeout(now);
    }

    /// When [`TurnClient::handle_timeout`] must next be called; `None` once
    /// closed or failed.
    pub fn poll_timeout(&self) -> Option<Instant> {
        if matches!(self.state, TurnState::Closed | TurnState::Failed) {
            return None;
        }
        let timers = [
            self.tx.poll_timeout(),
            self.allocation.as_ref().and_then(Allocation::next_timer),
            self.permissions.next_timer(),
            self.channels.next_timer(),
        ];
        timers.into_iter().flatten().min()
    }

    /// The next datagram (UDP) or stream bytes (TCP) to send from `local`
    /// to the server.
    pub fn poll_transmit(&mut self) -> Option<Transmit> {
        self.out.pop_front()
    }

    /// The next event.
    pub fn poll_event(&mut self) -> Option<TurnEvent> {
        self.events.pop_front()
    }

    /// The relayed address, while allocated.
    pub fn relayed(&self) -> Option<SocketAddr> {
        self.allocation.as_ref().map(|a| a.relayed)
    }

    /// This client's address as the server sees it, while allocated.
    pub fn mapped(&self) -> Option<SocketAddr> {
        self.allocation.as_ref().map(|a| a.mapped)
    }

    /// The lifetime the server last granted, while allocated.
    pub fn lifetime(&self) -> Option<Duration> {
        self.allocation.as_ref().map(|a| a.lifetime)
    }

    /// The state.
    pub fn state(&self) -> TurnState {
        self.state
    }

    /// The server requests go to (another one after a redirect).
    pub fn server(&self) -> SocketAddr {
        self.server
    }

    /// The local socket address.
    pub fn local(&self) -> SocketAddr {
        self.local
    }

    /// The transport to the server.
    pub fn transport(&self) -> TurnTransport {
        self.config.transport
    }

    /// Whether a permission for `peer` is installed at `now`.
    pub fn has_permission(&self, now: Instant, peer: IpAddr) -> bool {
        self.permissions.installed(peer, now)
    }

    /// The channel bound to `peer` at `now` (ChannelData is in use).
    pub fn channel(&self, now: Instant, peer: SocketAddr) -> Option<u16> {
        self.channels.bound(peer, now)
    }

    /// A new operation id.
    fn op_id(&mut self) -> OpId {
        let id = self.next_op;
        self.next_op = self.next_op.wrapping_add(1);
        id
    }

    /// Moves what the transaction table wants sent into the output queue,
    /// keeping causal order with data.
    fn drain_tx(&mut self) {
        while let Some(t) = self.tx.poll_transmit() {
            self.out.push_back(t);
        }
    }

    /// Refuses peers the allocation cannot reach.
    fn check_usable(&self, peer: SocketAddr) -> Result<(), UsageError> {
        match self.state {
            TurnState::Allocated | TurnState::Reallocating => {}
            TurnState::Allocating => return Err(UsageError::NotAllocated),
            TurnState::Closing | TurnState::Closed | TurnState::Failed => {
                return Err(UsageError::Closed);
            }
        }
        let relayed_v4 = self
            .relayed()
            .or(self.previous_relayed)
            .map(|r| r.is_ipv4());
        if relayed_v4.is_some_and(|v4| v4 != peer.is_ipv4()) {
            return Err(UsageError::PeerFamilyMismatch { peer });
        }
        Ok(())
    }

    /// Fails for good.
    fn fail(&mut self, error: TurnError) {
        self.clear();
        self.state = TurnState::Failed;
        self.events.push_back(TurnEvent::Failed(error));
    }

    /// Forgets every request, permission and channel.
    fn clear(&mut self) {
        self.tx = Transactions::new(Self::tx_config(&self.config));
        self.ops.clear();
        self.allocation = None;
        self.previous_relayed = None;
        self.permissions = Permissions::default();
        self.channels = Channels::default();
    }
}

/// The essentials: state, addresses, pending work.
impl std::fmt::Debug for TurnClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TurnClient")
            .field("state", &self.state)
            .field("transport", &self.config.transport)
            .field("local", &self.local)
            .field("server", &self.server)
            .field("relayed", &self.relayed())
            .field("mapped", &self.mapped())
            .field("requests", &self.ops.len())
            .finish_non_exhaustive()
    }
}

/// `now + d`, saturating far in the future instead of overflowing.
fn later(now: Instant, d: Duration) -> Instant {
    now.checked_add(d)
        .or_else(|| now.checked_add(Duration::from_secs(86_400 * 365)))
        .unwrap_or(now)
}
