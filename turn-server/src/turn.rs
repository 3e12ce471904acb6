//! A sans-IO TURN server (RFC 8656) with long-term credentials (RFC 8489
//! §9.2), answering Binding requests through the [`StunServer`] too.
//!
//! # Driving it
//!
//! The verb grammar of this stack. The driver:
//! - binds UDP and TCP on every [`TurnServer::udp_addresses`] and
//!   [`TurnServer::tcp_addresses`];
//! - hands every datagram, and every frame of a TCP stream (STUN or
//!   ChannelData, split with [`stun_proto::StreamFramer`] or
//!   [`frame_len`](stun_proto::frame_len)), to [`TurnServer::handle_packet`]
//!   with the local address it arrived on, the remote one and the
//!   [`Transport`];
//! - drains [`TurnServer::poll_event`]: [`TurnEvent::BindRelay`] asks for a
//!   UDP socket at exactly that address, whose datagrams go to
//!   `handle_packet` as well, and whose outcome goes to
//!   [`TurnServer::handle_relay_bound`]; [`TurnEvent::ReleaseRelay`] closes
//!   one;
//! - drains [`TurnServer::poll_transmit`]: each [`TurnTransmit`] leaves
//!   from the socket bound to `from` (a listener or a relay) over its
//!   `transport`; a stream transmit goes on the TCP connection
//!   `from`↔`to`;
//! - wakes the server at [`TurnServer::poll_timeout`] with
//!   [`TurnServer::handle_timeout`], tells it when a TCP connection closes
//!   ([`TurnServer::handle_connection_closed`]) and, for the shared-secret
//!   credentials, what the wall clock says
//!   ([`TurnServer::handle_unix_time`]).
//!
//! After every `handle_*`, drain events first (a bind result may complete
//! an Allocate), then transmits. The server reads no clock and draws from
//! one RNG seeded by the configuration: the same inputs give the same
//! outputs, byte for byte.
//!
//! # The relay-socket protocol
//!
//! Relayed transport addresses are the driver's sockets, asked for by the
//! core: on an Allocate that passes every check, the core picks a port of
//! the configured range at the configured relay IP (seeded RNG, never one it
//! holds), emits `BindRelay { relay }` and keeps the request pending. The
//! driver binds and calls `handle_relay_bound(now, relay, Ok(()))` — or
//! `Err(kind)` if the port was taken, and the core tries another port (up
//! to [`BIND_ATTEMPTS`] times, then 508). When every address the request
//! needs is bound (two for EVEN-PORT with the R bit, N and N+1; two for a
//! dual-stack allocation) the Allocate is answered. Retransmissions in the
//! meantime are dropped ([`TurnDropped::AllocationPending`]). Every address
//! the core asked for is given back with `ReleaseRelay` when its allocation
//! or reservation ends, or when it is no longer wanted (a bound half of a
//! failed pair; a bind that succeeds after its request gave up). In netsim
//! a host accepts any port: the simulator answers `Ok` at once.
//!
//! # Receiving (RFC 8656, RFC 8489 §6.3)
//!
//! On a relay address (from a peer, §11.3, §12.5): the allocation must be
//! live and hold a permission for the peer's IP, and the bandwidth cap
//! must have room; then the data goes to the client as ChannelData if the
//! peer has a live channel (padded over TCP), else in a Data indication.
//!
//! On a listening address (from a client), in this order; each failure is
//! silence with a [`TurnDropped`] reason:
//! 1. the source can be answered (not port 0, unspecified, multicast,
//!    broadcast);
//! 2. a first byte 0x40-0x4F (0x40-0x7F with legacy channel numbers) is
//!    ChannelData (§12.5): it must frame, belong to this 5-tuple's
//!    allocation, name a live channel whose peer has a permission, and fit
//!    the bandwidth cap; then it is relayed;
//! 3. otherwise it must be STUN, with a valid FINGERPRINT if present;
//! 4. responses are dropped; indications other than Send are dropped; a
//!    Send indication (§11.2) needs the allocation, XOR-PEER-ADDRESS and
//!    DATA, no unknown comprehension-required attribute, a peer the policy
//!    allows with a permission, and room in the cap;
//! 5. a Binding request goes to the [`StunServer`] of that listener (the
//!    RFC 5780 one on the primary UDP listener if configured), whose
//!    documented behaviour applies;
//! 6. other requests need the magic cookie and a TURN method: Allocate,
//!    Refresh, CreatePermission, ChannelBind, Connect or ConnectionBind;
//!    others are dropped (RFC 8489 §6.3);
//! 7. the outgoing queue has room.
//!
//! Then the request is answered, in this order:
//! 1. authentication, RFC 8489 §9.2.4 (see [`auth`]): 401, 400, 438;
//! 2. 420 for unknown comprehension-required attributes (RFC 8489
//!    §6.3.1), signed; DONT-FRAGMENT counts as unknown unless the driver
//!    supports DF ([`TurnServerConfig::with_dont_fragment`], §7.2 item 4);
//! 3. for requests other than Allocate, the 5-tuple's allocation must
//!    exist (437) and belong to the authenticated user (441);
//! 4. the method (see [`requests`]): the checks of §7.2 (Allocate), §7.3
//!    (Refresh), §9.2 (CreatePermission), §12.2 (ChannelBind) with their
//!    400, 403, 437, 440, 442, 443, 486 and 508 answers.
//!
//! # Decisions where the RFCs leave room
//!
//! - **Binding** is answered by the crate's [`StunServer`] (one per
//!   listener; the RFC 5780 one on the primary UDP listener with
//!   [`TurnServerConfig::with_stun_alternate`]), without authentication,
//!   as RFC 8656 §4 allows.
//! - **TCP relaying (RFC 6062)** is not implemented: REQUESTED-TRANSPORT
//!   TCP gets 442; Connect gets 437 (RFC 6062 §5.2: no TCP allocation
//!   exists on the 5-tuple) and ConnectionBind 400 (§5.4: no such
//!   connection), both after authentication. 446 and 447 never occur.
//! - **Allocate retransmissions** (same transaction id, same user, same
//!   5-tuple) get the success again; another Allocate gets 437.
//! - **Nonces** are stateless, bound to the client's IP and expire after
//!   [`TurnServerConfig::with_nonce_lifetime`]; a nonce not issued here is
//!   answered like a stale one (438), once integrity checks out.
//! - **Permissions and channels** also stop relaying when the allocation's
//!   bandwidth cap is exhausted; over the cap packets are dropped, not
//!   queued.
//! - **Refresh with REQUESTED-ADDRESS-FAMILY** of a dual allocation
//!   refreshes (or deletes) the whole allocation; a family the allocation
//!   does not have is answered 443.
//! - **Channel numbers 0x5000-0x7FFF** get 400 (RFC 8656 §12) unless the
//!   configuration accepts RFC 5766's range
//!   ([`TurnServerConfig::with_legacy_channel_numbers`]).
//! - **ALTERNATE-SERVER**: with one configured, every authenticated
//!   Allocate gets 300 with it (RFC 8656 §7.2 item 11).
//! - **Timers** are a heap with lazy deletion: a refreshed allocation
//!   leaves its old deadline behind, so `poll_timeout` may wake the driver
//!   early for nothing.
//!
//! # Amplification
//!
//! A request with no credentials gets a 401 carrying ERROR-CODE, REALM, a
//! 33-character NONCE, PASSWORD-ALGORITHMS, SOFTWARE and FINGERPRINT; it
//! is the largest answer a spoofed source can draw (every other TURN answer
//! needs the password first). As `tests/turn_amplification.rs` measures,
//! with the 11-character realm `example.org` and the default SOFTWARE:
//!
//! | request (bytes)                           | answer (bytes) | factor |
//! |-------------------------------------------|----------------|--------|
//! | **Allocate, no attribute (20)**           | **152**        | **7.6**|
//! | Allocate, REQUESTED-TRANSPORT (28)        | 152            | 5.4    |
//! | CreatePermission, one peer (32)           | 152            | 4.8    |
//! | forged USERNAME, REALM, NONCE, MI (108)   | 152            | 1.4    |
//! | MESSAGE-INTEGRITY without USERNAME (44)   | 80 (400)       | 1.8    |
//! | Binding (20)                              | 72             | 3.6    |
//!
//! The worst case is 7.6; each realm character adds a byte (rounded up to
//! 4), and without SOFTWARE the challenge is 120 bytes (6.0). The Binding
//! answers are the STUN server's (7.8 at most with an RFC 5780 alternate
//! over IPv6, see [`crate::stun`]). Nothing is relayed and no socket is
//! bound for an unauthenticated source: relaying needs an allocation and a
//! permission, which need the password.

pub mod allocation;
pub mod auth;
pub mod channel;
pub mod config;
pub mod dropped;
pub mod nonce;
pub mod permission;
pub mod policy;
pub mod quota;
pub mod relay;
pub mod requests;
pub mod response;

mod receive;
mod relaying;
mod rng;

use core::cmp::Reverse;
use core::net::{IpAddr, SocketAddr};
use core::time::Duration;
use std::collections::{BTreeMap, BinaryHeap, HashMap, VecDeque};
use std::time::Instant;

use stun_proto::Transport;

pub use allocation::{DeallocReason, FiveTuple, TurnEvent};
pub use config::{
    Bandwidth, CHANNEL_LIFETIME, CHANNEL_REBIND_GUARD, DEFAULT_LIFETIME, DEFAULT_MAX_LIFETIME,
    DEFAULT_MAX_PERMISSIONS, DEFAULT_NONCE_LIFETIME, DEFAULT_RELAY_PORTS, DEFAULT_TOTAL_QUOTA,
    DEFAULT_TURN_QUEUE_CAPACITY, DEFAULT_USER_QUOTA, PERMISSION_LIFETIME, RESERVATION_LIFETIME,
    TurnConfigError, TurnServerConfig,
};
pub use dropped::{TurnDropped, TurnInternalError};
pub use policy::{PeerPolicy, PeerRefusal, Prefix};
pub use relay::BIND_ATTEMPTS;

use crate::stun::{StunServer, StunServerConfig};
use allocation::Allocation;
use auth::Credentials;
use nonce::Nonces;
use quota::Quotas;
use relay::{Pending, RelayPool, Reservation};
use rng::Rng;

/// A packet the server wants sent.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct TurnTransmit {
    /// UDP, or the TCP connection between `from` and `to`.
    pub transport: Transport,
    /// The local address to send from: a listener or a relay.
    pub from: SocketAddr,
    /// The destination.
    pub to: SocketAddr,
    /// The payload (one datagram, or one frame for the stream).
    pub data: Vec<u8>,
}

impl core::fmt::Debug for TurnTransmit {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(
            f,
            "TurnTransmit({:?} {} -> {}, {} bytes)",
            self.transport,
            self.from,
            self.to,
            self.data.len()
        )
    }
}

/// Counters of what the server did, since it was made.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct TurnServerStats {
    /// Success responses queued (Binding included).
    pub successes: u64,
    /// Error responses queued.
    pub errors: u64,
    /// Packets neither answered nor relayed, whatever the reason.
    pub dropped: u64,
    /// Allocations live now.
    pub allocations: usize,
    /// Packets relayed from clients to peers, and their application bytes.
    pub to_peers: (u64, u64),
    /// Packets relayed from peers to clients, and their application bytes.
    pub to_clients: (u64, u64),
    /// Packets dropped by a bandwidth cap.
    pub over_bandwidth: u64,
}

/// What one timer entry is for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Timer {
    Expire(u64),
    Sweep(u64),
    Reservation([u8; 8]),
}

/// What `handle_packet` did with a packet it accepted.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Outcome {
    Success,
    Error,
    Relayed,
    /// Accepted, nothing to send yet (an Allocate waiting for its bind).
    Pending,
}

/// A sans-IO TURN server (see the [module documentation](self)).
#[derive(Debug)]
pub struct TurnServer {
    config: TurnServerConfig,
    rng: Rng,
    credentials: Credentials,
    nonces: Nonces,
    stun_udp: Vec<StunServer>,
    stun_udp_index: BTreeMap<SocketAddr, usize>,
    stun_tcp: BTreeMap<SocketAddr, StunServer>,
    unix: Option<(Instant, u64)>,
    allocations: BTreeMap<u64, Allocation>,
    by_five: HashMap<FiveTuple, u64>,
    by_relay: BTreeMap<SocketAddr, u64>,
    next_id: u64,
    pool: RelayPool,
    pending: BTreeMap<u64, Pending>,
    pending_by_five: HashMap<FiveTuple, u64>,
    binding: BTreeMap<SocketAddr, u64>,
    abandoned: std::collections::BTreeSet<SocketAddr>,
    reservations: BTreeMap<[u8; 8], Reservation>,
    quotas: Quotas,
    timers: BinaryHeap<Reverse<(Instant, Timer)>>,
    queue: VecDeque<TurnTransmit>,
    events: VecDeque<TurnEvent>,
    stats: TurnServerStats,
}

impl TurnServer {
    /// A server for a configuration; `now` starts its clock (nonce expiry
    /// is measured from it).
    pub fn new(config: TurnServerConfig, now: Instant) -> Result<TurnServer, TurnConfigError> {
        config.validate()?;
        let mut rng = Rng::new(config.seed);
        let credentials = Credentials::new(&config);
        let nonces = Nonces::new(
            &mut rng,
            config.nonce_lifetime,
            now,
            credentials.has_user_list(),
        );
        let stun_config = |listen: SocketAddr, alternate: Option<(IpAddr, u16)>| {
            let mut c = StunServerConfig::new(listen);
            c = match config.software() {
                Some(s) => c.with_software(s).map_err(TurnConfigError::Stun)?,
                None => c.without_software(),
            };
            if let Some((ip, port)) = alternate {
                c = c.with_alternate(ip, port).map_err(TurnConfigError::Stun)?;
            }
            Ok::<_, TurnConfigError>(c)
        };
        let mut stun_udp = Vec::new();
        let mut stun_udp_index = BTreeMap::new();
        let mut stun_tcp = BTreeMap::new();
        for (i, listen) in config.listeners.iter().enumerate() {
            let alternate = if i == 0 { config.stun_alternate } else { None };
            let server = StunServer::new(stun_config(*listen, alternate)?);
            for addr in server.local_addresses() {
                stun_udp_index.entry(addr).or_insert(stun_udp.len());
            }
            stun_udp.push(server);
            stun_tcp.insert(*listen, StunServer::new(stun_config(*listen, None)?));
        }
        Ok(TurnServer {
            pool: RelayPool::new(config.relay_ports),
            quotas: Quotas::new(config.user_quota, config.total_quota),
            rng,
            credentials,
            nonces,
            stun_udp,
            stun_udp_index,
            stun_tcp,
            unix: None,
            allocations: BTreeMap::new(),
            by_five: HashMap::new(),
            by_relay: BTreeMap::new(),
            next_id: 1,
            pending: BTreeMap::new(),
            pending_by_five: HashMap::new(),
            binding: BTreeMap::new(),
            abandoned: Default::default(),
            reservations: BTreeMap::new(),
            timers: BinaryHeap::new(),
            queue: VecDeque::new(),
            events: VecDeque::new(),
            stats: TurnServerStats::default(),
            config,
        })
    }

    /// The configuration.
    pub fn config(&self) -> &TurnServerConfig {
        &self.config
    }

    /// The UDP sockets the driver binds and feeds: every listener, and the
    /// RFC 5780 alternates of the primary if configured.
    pub fn udp_addresses(&self) -> Vec<SocketAddr> {
        self.stun_udp_index.keys().copied().collect()
    }

    /// The TCP listeners the driver binds.
    pub fn tcp_addresses(&self) -> Vec<SocketAddr> {
        self.config.listeners.clone()
    }

    /// What the driver says the wall clock shows at `now`, in seconds
    /// since the Unix epoch. Shared-secret usernames are judged by it
    /// (advanced with `now` afterwards); without it they are refused.
    pub fn handle_unix_time(&mut self, now: Instant, unix_seconds: u64) {
        self.unix = Some((now, unix_seconds));
    }

    fn unix_now(&self, now: Instant) -> Option<u64> {
        let (at, secs) = self.unix?;
        Some(if now >= at {
            secs.saturating_add(now.duration_since(at).as_secs())
        } else {
            secs.saturating_sub(at.duration_since(now).as_secs())
        })
    }

    /// Takes one datagram, or one frame of a TCP stream, that arrived on
    /// `local` from `remote`.
    ///
    /// `Ok(())`: answered, relayed, or (an Allocate) waiting for its relay
    /// bind. `Err`: nothing is sent, and the reason says why. Never panics,
    /// whatever `data` holds.
    pub fn handle_packet(
        &mut self,
        now: Instant,
        local: SocketAddr,
        remote: SocketAddr,
        transport: Transport,
        data: &[u8],
    ) -> Result<(), TurnDropped> {
        let outcome = self.receive(now, local, remote, transport, data);
        let s = &mut self.stats;
        match &outcome {
            Ok(Outcome::Success) => s.successes = s.successes.saturating_add(1),
            Ok(Outcome::Error) => s.errors = s.errors.saturating_add(1),
            Ok(Outcome::Relayed | Outcome::Pending) => {}
            Err(e) => {
                if matches!(e, TurnDropped::BandwidthExceeded { .. }) {
                    s.over_bandwidth = s.over_bandwidth.saturating_add(1);
                }
                s.dropped = s.dropped.saturating_add(1);
            }
        }
        outcome.map(|_| ())
    }

    pub(crate) fn check_queue(&self) -> Result<(), TurnDropped> {
        let capacity = self.config.queue_capacity;
        if self.queue.len() >= capacity {
            return Err(TurnDropped::QueueFull { capacity });
        }
        Ok(())
    }

    /// The driver's answer to [`TurnEvent::BindRelay`]: the socket at
    /// `relay` is bound (`Ok`), or could not be (`Err`, with the I/O error
    /// kind; the server tries another port).
    pub fn handle_relay_bound(
        &mut self,
        now: Instant,
        relay: SocketAddr,
        result: Result<(), std::io::ErrorKind>,
    ) -> Result<(), TurnDropped> {
        self.relay_bound(now, relay, result)
    }

    /// A TCP connection between `local` (a listener) and `remote` closed:
    /// its allocation, if any, is deleted (RFC 8656 §3.1: the allocation
    /// lives as long as the connection).
    pub fn handle_connection_closed(
        &mut self,
        _now: Instant,
        local: SocketAddr,
        remote: SocketAddr,
    ) {
        let five = FiveTuple {
            client: remote,
            server: local,
            transport: Transport::Stream,
        };
        if let Some(id) = self.by_five.get(&five).copied() {
            self.delete(id, DeallocReason::ConnectionClosed);
        }
        if let Some(pid) = self.pending_by_five.get(&five).copied() {
            self.abandon_pending(pid);
        }
    }

    /// Runs the timers due at `now`: allocation, permission, channel and
    /// reservation expiry.
    pub fn handle_timeout(&mut self, now: Instant) {
        while let Some(Reverse((at, timer))) = self.timers.peek().copied() {
            if at > now {
                break;
            }
            self.timers.pop();
            match timer {
                Timer::Expire(id) => {
                    if self.allocations.get(&id).is_some_and(|a| !a.live(now)) {
                        self.delete(id, DeallocReason::Expired);
                    }
                }
                Timer::Sweep(id) => {
                    if let Some(a) = self.allocations.get_mut(&id) {
                        a.permissions.sweep(now);
                        a.channels.sweep(now);
                        if let Some(next) = a.next_sweep(now) {
                            self.timers.push(Reverse((next, Timer::Sweep(id))));
                        }
                    }
                }
                Timer::Reservation(token) => {
                    if self
                        .reservations
                        .get(&token)
                        .is_some_and(|r| r.expires <= now)
                    {
                        if let Some(r) = self.reservations.remove(&token) {
                            self.release_relay(r.relay);
                        }
                    }
                }
            }
        }
    }

    /// The next instant [`handle_timeout`](Self::handle_timeout) must run.
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.timers.peek().map(|Reverse((at, _))| *at)
    }

    /// The next packet to send, oldest first.
    pub fn poll_transmit(&mut self) -> Option<TurnTransmit> {
        self.queue.pop_front()
    }

    /// The next event, oldest first.
    pub fn poll_event(&mut self) -> Option<TurnEvent> {
        self.events.pop_front()
    }

    /// What the server did so far.
    pub fn stats(&self) -> TurnServerStats {
        TurnServerStats {
            allocations: self.allocations.len(),
            ..self.stats
        }
    }

    /// The live allocation of a 5-tuple: its relayed addresses and expiry.
    pub fn allocation(&self, five_tuple: &FiveTuple) -> Option<(Vec<SocketAddr>, Instant)> {
        let a = self.allocations.get(self.by_five.get(five_tuple)?)?;
        Some((a.relays.clone(), a.expires))
    }

    fn schedule(&mut self, at: Instant, timer: Timer) {
        self.timers.push(Reverse((at, timer)));
    }

    /// Deletes an allocation: its relays go back to the driver.
    fn delete(&mut self, id: u64, reason: DeallocReason) {
        let Some(a) = self.allocations.remove(&id) else {
            return;
        };
        self.by_five.remove(&a.five);
        for relay in &a.relays {
            self.by_relay.remove(relay);
            self.release_relay(*relay);
        }
        self.quotas.release(&a.username);
        self.events.push_back(TurnEvent::Deallocated {
            five_tuple: a.five,
            reason,
        });
    }

    /// Gives a relay address back: the driver closes its socket.
    fn release_relay(&mut self, relay: SocketAddr) {
        self.pool.free(relay);
        self.events.push_back(TurnEvent::ReleaseRelay { relay });
    }

    fn txid(&mut self) -> [u8; 12] {
        let mut id = [0u8; 12];
        self.rng.fill(&mut id);
        id
    }

    fn lifetimes(&self) -> (Duration, Duration) {
        (self.config.default_lifetime, self.config.max_lifetime)
    }
}
