//! The sans-IO ICE agent (RFC 8445).
//!
//! The agent owns every piece of ICE state and never touches a socket or a
//! clock: the driver feeds it datagrams and timeouts with `now`, and drains
//! what it wants sent, the events for the application, and when it next
//! wants to be woken. After every `handle_*` call drain, in this order:
//! [`Agent::poll_transmit`] until `None`, [`Agent::poll_event`] until
//! `None`, then [`Agent::poll_timeout`].
//!
//! The pieces, one module each: [`checklist`](self) (candidates, pairs,
//! valid list; §6.1.2), `gather` (host and server-reflexive candidates;
//! §5.1.1), `checks` (sending and answering connectivity checks, roles;
//! §6.1.4, §7), `nominate` (regular nomination, USE-CANDIDATE, the selected
//! pair and the stream state; §8), `consent` (RFC 7675 consent freshness,
//! which also serves as the §11 keepalive).
//!
//! Application data goes through the agent too: [`Agent::send`] on the
//! selected pair, and [`Event::Data`] for what arrives on a valid pair
//! (told apart from STUN by the first byte, RFC 7983).

mod checklist;
mod checks;
mod consent;
mod gather;
mod nominate;
mod relay;
mod types;

use std::collections::{BTreeMap, VecDeque};
use std::net::SocketAddr;
use std::time::Instant;

use candidate_gather::transaction::{RetransmitConfig, Transactions};
use rand_chacha::ChaCha8Rng;
use rand_core::{Rng, SeedableRng};
use stun_proto::demux::{PacketKind, classify};
use stun_proto::{IntegrityKey, Transmit};

pub use checklist::PairState as CandidatePairState;
pub use types::{
    AgentConfig, AgentError, CandidatePolicy, ConnectionState, Event, PairStats, Relayed, Role,
    SelectedPath, StreamConfig, StreamId, StunError, TurnServer,
};

use crate::candidate::{Candidate, CandidateAddress, CandidateType, TransportProtocol};
use crate::credentials::Credentials;
use checklist::Checklist;

/// The most distinct remote candidates a stream keeps from signalling
/// (peer-reflexive ones are counted apart). Browsers signal a handful per
/// interface and server; 256 leaves room for many interfaces, and stops a
/// peer that sends endless lines from growing the agent.
pub const MAX_REMOTE_CANDIDATES: usize = 256;

/// Which transaction a check, gathering or consent response belongs to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct CheckKey {
    stream: usize,
    generation: u32,
    pair: usize,
    nominating: bool,
    /// The role the request claimed (a 487 answer switches away from it).
    role: Role,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct GatherKey {
    stream: usize,
    base: SocketAddr,
    server: SocketAddr,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct ConsentKey {
    stream: usize,
    component: u16,
}

/// Credentials with their prepared integrity key.
#[derive(Clone, Debug)]
pub(crate) struct Keyed {
    creds: Credentials,
    key: Option<IntegrityKey>,
}

impl Keyed {
    fn new(creds: Credentials) -> Self {
        let key = IntegrityKey::short_term(creds.pwd()).ok();
        Keyed { creds, key }
    }
}

/// The pair a component sends on.
#[derive(Clone, Debug)]
pub(crate) struct Selected {
    base: SocketAddr,
    remote_addr: SocketAddr,
    local_candidate: Candidate,
    remote_candidate: Candidate,
    /// The credentials of the checklist that chose it: consent checks keep
    /// using them through an ICE restart until a new pair is selected.
    local_keys: Keyed,
    remote_keys: Keyed,
    last_consent: Instant,
    next_consent: Instant,
    expired: bool,
}

#[derive(Debug)]
pub(crate) struct Component {
    id: u16,
    bases: Vec<SocketAddr>,
    selected: Option<Selected>,
    first_valid_at: Option<Instant>,
}

#[derive(Debug)]
pub(crate) struct Stream {
    components: Vec<Component>,
    local: Keyed,
    remote: Option<Keyed>,
    /// The local credentials before the last restart, still answered for
    /// consent on the old selected pair.
    previous_local: Option<Keyed>,
    generation: u32,
    list: Checklist,
    unresolved: Vec<Candidate>,
    remote_end_of_candidates: bool,
    gather_queue: VecDeque<(SocketAddr, SocketAddr)>,
    gathering_pending: usize,
    /// Relayed candidates the driver is still allocating.
    relays_pending: usize,
    state: ConnectionState,
    checking: bool,
    closed: bool,
    prflx_count: u32,
}

impl Stream {
    fn component(&self, id: u16) -> Option<&Component> {
        self.components.iter().find(|c| c.id == id)
    }

    fn component_mut(&mut self, id: u16) -> Option<&mut Component> {
        self.components.iter_mut().find(|c| c.id == id)
    }
}

/// The ICE agent (see the module documentation).
pub struct Agent {
    config: AgentConfig,
    rng: ChaCha8Rng,
    role: Role,
    tie_breaker: u64,
    remote_lite: bool,
    streams: Vec<Stream>,
    sockets: BTreeMap<SocketAddr, (usize, u16)>,
    checks: Transactions<CheckKey>,
    gathers: Transactions<GatherKey>,
    consents: Transactions<ConsentKey>,
    out: VecDeque<Transmit>,
    events: VecDeque<Event>,
    relays: Vec<relay::Relay>,
    next_pace: Instant,
    /// The `now` of the latest input (what the timers are relative to).
    last_input: Instant,
    closed: bool,
}

impl std::fmt::Debug for Agent {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Agent")
            .field("role", &self.role)
            .field("streams", &self.streams.len())
            .field("closed", &self.closed)
            .finish_non_exhaustive()
    }
}

impl Agent {
    /// A new agent; `now` starts its clock.
    pub fn new(config: AgentConfig, now: Instant) -> Agent {
        let mut rng = ChaCha8Rng::seed_from_u64(config.seed);
        let tie_breaker = rng.next_u64();
        let role = if config.lite {
            Role::Controlled
        } else {
            config.role
        };
        let consent_retransmit = RetransmitConfig {
            rc: 5,
            ..config.retransmit
        };
        Agent {
            rng,
            role,
            tie_breaker,
            remote_lite: false,
            streams: Vec::new(),
            sockets: BTreeMap::new(),
            checks: Transactions::new(config.check_retransmit),
            gathers: Transactions::new(config.retransmit),
            consents: Transactions::new(consent_retransmit),
            out: VecDeque::new(),
            events: VecDeque::new(),
            relays: Vec::new(),
            next_pace: now,
            last_input: now,
            closed: false,
            config,
        }
    }

    /// The current role.
    pub fn role(&self) -> Role {
        self.role
    }

    /// Adds a stream: its host candidates are emitted at once, and
    /// server-reflexive ones as the STUN servers answer.
    pub fn add_stream(
        &mut self,
        now: Instant,
        config: StreamConfig,
    ) -> Result<StreamId, AgentError> {
        if self.closed {
            return Err(AgentError::Closed);
        }
        let index = self.streams.len();
        let components: Vec<Component> = config
            .components
            .iter()
            .enumerate()
            .map(|(i, bases)| Component {
                id: u16::try_from(i + 1).unwrap_or(u16::MAX),
                bases: bases.clone(),
                selected: None,
                first_valid_at: None,
            })
            .collect();
        for c in &components {
            for b in &c.bases {
                self.sockets.insert(*b, (index, c.id));
            }
        }
        let local = Keyed::new(Credentials::generate(&mut self.rng));
        // Most agents have one stream: do not let the first push reserve
        // room for four (a `Stream` is several hundred bytes).
        self.streams.reserve_exact(1);
        self.streams.push(Stream {
            components,
            local,
            remote: None,
            previous_local: None,
            generation: 0,
            list: Checklist::default(),
            unresolved: Vec::new(),
            remote_end_of_candidates: false,
            gather_queue: VecDeque::new(),
            gathering_pending: 0,
            relays_pending: config.pending_relays,
            state: ConnectionState::New,
            checking: false,
            closed: false,
            prflx_count: 0,
        });
        let id = StreamId(u32::try_from(index).unwrap_or(u32::MAX));
        self.gather(now, index);
        Ok(id)
    }

    fn stream_index(&self, id: StreamId) -> Result<usize, AgentError> {
        let i = id.0 as usize;
        match self.streams.get(i) {
            Some(s) if !s.closed => Ok(i),
            _ => Err(AgentError::UnknownStream),
        }
    }

    /// The stream's local credentials, to send to the peer.
    pub fn local_credentials(&self, stream: StreamId) -> Result<Credentials, AgentError> {
        let i = self.stream_index(stream)?;
        self.streams
            .get(i)
            .map(|s| s.local.creds.clone())
            .ok_or(AgentError::UnknownStream)
    }

    /// The peer's credentials for the stream (from its description).
    pub fn set_remote_credentials(
        &mut self,
        stream: StreamId,
        creds: Credentials,
    ) -> Result<(), AgentError> {
        let i = self.stream_index(stream)?;
        if let Some(s) = self.streams.get_mut(i) {
            s.remote = Some(Keyed::new(creds));
        }
        Ok(())
    }

    /// The peer is an ICE-lite agent (`a=ice-lite`): this agent becomes
    /// controlling (RFC 8445 §6.1.1).
    pub fn set_remote_lite(&mut self, lite: bool) {
        self.remote_lite = lite;
        if lite && !self.config.lite && self.role != Role::Controlling {
            self.set_role(Role::Controlling);
        }
    }

    /// A remote candidate (trickled, or from the description). TCP
    /// candidates are kept out; names (mDNS) wait until resolved. At most
    /// [`MAX_REMOTE_CANDIDATES`] distinct
    /// candidates per stream are kept (repeats of a known one are fine).
    pub fn add_remote_candidate(
        &mut self,
        stream: StreamId,
        candidate: Candidate,
    ) -> Result<(), AgentError> {
        let i = self.stream_index(stream)?;
        let role = self.role;
        let max = self.config.max_pairs;
        let s = self.streams.get_mut(i).ok_or(AgentError::UnknownStream)?;
        if s.component(candidate.component).is_none() {
            return Err(AgentError::UnknownComponent);
        }
        if candidate.transport != TransportProtocol::Udp {
            return Err(AgentError::UnusableCandidate);
        }
        if let CandidateAddress::Name { .. } = candidate.address {
            if !s.unresolved.contains(&candidate) {
                if s.unresolved.len() >= MAX_REMOTE_CANDIDATES {
                    return Err(AgentError::TooManyCandidates);
                }
                s.unresolved.push(candidate);
            }
            return Ok(());
        }
        if !s.list.knows_remote(&candidate) && s.list.signalled_remotes() >= MAX_REMOTE_CANDIDATES {
            return Err(AgentError::TooManyCandidates);
        }
        let r = s.list.add_remote(role, max, candidate);
        self.name_selected_remote(i, r);
        Ok(())
    }

    /// After remote candidate `r` of stream `i` was added: if it replaced
    /// the peer-reflexive guess the selected pair was formed with (§7.3.1.3:
    /// the peer's check arrived before its candidate), the selected pair now
    /// names the signalled candidate, and [`Event::SelectedPair`] says so.
    /// Without this the selected pair kept calling a host candidate
    /// peer-reflexive (found against webrtc-ice, trickling).
    fn name_selected_remote(&mut self, i: usize, r: usize) {
        let Some(s) = self.streams.get_mut(i) else {
            return;
        };
        let Some(remote) = s.list.remotes.get(r).map(|r| r.candidate.clone()) else {
            return;
        };
        let current = s.local.creds.clone();
        let Some(sel) = s
            .component_mut(remote.component)
            .and_then(|c| c.selected.as_mut())
        else {
            return;
        };
        if sel.remote_candidate.kind != CandidateType::PeerReflexive
            || remote.kind == CandidateType::PeerReflexive
            || remote.socket_addr() != Some(sel.remote_addr)
            || sel.local_keys.creds != current
        {
            return;
        }
        sel.remote_candidate = remote.clone();
        let local = sel.local_candidate.clone();
        self.events.push_back(Event::SelectedPair {
            stream: Agent::stream_id(i),
            component: remote.component,
            local,
            remote,
        });
    }

    /// The address an mDNS name resolved to: candidates with that name are
    /// paired now.
    pub fn resolve_name(
        &mut self,
        stream: StreamId,
        name: &str,
        ip: std::net::IpAddr,
    ) -> Result<(), AgentError> {
        let i = self.stream_index(stream)?;
        let resolved: Vec<Candidate> = {
            let s = self.streams.get_mut(i).ok_or(AgentError::UnknownStream)?;
            let (matching, rest): (Vec<Candidate>, Vec<Candidate>) =
                s.unresolved.drain(..).partition(
                    |c| matches!(&c.address, CandidateAddress::Name { name: n, .. } if n == name),
                );
            s.unresolved = rest;
            matching
        };
        for mut c in resolved {
            if let CandidateAddress::Name { port, .. } = c.address {
                c.address = CandidateAddress::Ip(SocketAddr::new(ip, port));
                self.add_remote_candidate(stream, c)?;
            }
        }
        Ok(())
    }

    /// Every candidate pair of the stream's checklist, with its state.
    pub fn pair_stats(&self, stream: StreamId) -> Result<Vec<PairStats>, AgentError> {
        let i = self.stream_index(stream)?;
        let s = self.streams.get(i).ok_or(AgentError::UnknownStream)?;
        Ok(s.list
            .pairs
            .iter()
            .enumerate()
            .filter_map(|(n, p)| {
                let local = s.list.locals.get(p.local)?.candidate.clone();
                let remote = s.list.remotes.get(p.remote)?.candidate.clone();
                let valid = s.list.valid.iter().filter(|v| v.pair == n);
                let (mut is_valid, mut nominated, mut rtt) = (false, false, None);
                for v in valid {
                    is_valid = true;
                    nominated |= v.nominated;
                    rtt = Some(v.rtt);
                }
                Some(PairStats {
                    component: p.component,
                    local,
                    remote,
                    base: p.base,
                    remote_addr: p.remote_addr,
                    state: p.state,
                    priority: p.priority,
                    valid: is_valid,
                    nominated,
                    rtt,
                })
            })
            .collect())
    }

    /// The component's selected pair, where data goes (§8.1.1): `None`
    /// until one is selected. It survives an ICE restart until the new
    /// checklist selects another.
    pub fn selected_path(
        &self,
        stream: StreamId,
        component: u16,
    ) -> Result<Option<SelectedPath>, AgentError> {
        let i = self.stream_index(stream)?;
        let s = self.streams.get(i).ok_or(AgentError::UnknownStream)?;
        let c = s.component(component).ok_or(AgentError::UnknownComponent)?;
        Ok(c.selected.as_ref().map(|sel| SelectedPath {
            local: sel.local_candidate.clone(),
            remote: sel.remote_candidate.clone(),
            base: sel.base,
            remote_addr: sel.remote_addr,
            consent: !sel.expired,
        }))
    }

    /// Adds a relayed candidate that the driver's TURN client (RFC 8656)
    /// allocated for a component of the stream. It is signalled like any
    /// candidate (an [`Event::LocalCandidate`] of type `relay`) and paired.
    ///
    /// The relayed address then acts as one of the component's sockets:
    /// a [`Transmit`] whose `from` is it must be sent through the allocation
    /// (a Send indication or ChannelData to the TURN server, after a
    /// permission for `to`), and what the allocation delivers from a peer
    /// is handed to [`Agent::handle_packet`] with the relayed address as
    /// `local` and the peer as `remote`.
    pub fn add_relayed_candidate(
        &mut self,
        stream: StreamId,
        relayed: Relayed,
    ) -> Result<(), AgentError> {
        if self.closed {
            return Err(AgentError::Closed);
        }
        if self.config.lite {
            return Err(AgentError::Lite);
        }
        let i = self.stream_index(stream)?;
        let known = self
            .streams
            .get(i)
            .is_some_and(|s| s.component(relayed.component).is_some());
        if !known {
            return Err(AgentError::UnknownComponent);
        }
        self.relayed(i, relayed);
        Ok(())
    }

    /// A relay allocation the stream was waiting for
    /// ([`StreamConfig::pending_relays`]) failed: gathering stops waiting
    /// for it.
    pub fn relay_failed(&mut self, stream: StreamId) -> Result<(), AgentError> {
        let i = self.stream_index(stream)?;
        self.relay_settled(i);
        Ok(())
    }

    /// The peer sent end-of-candidates: once every pair has failed, the
    /// stream fails instead of waiting for more.
    pub fn end_of_remote_candidates(&mut self, stream: StreamId) -> Result<(), AgentError> {
        let i = self.stream_index(stream)?;
        if let Some(s) = self.streams.get_mut(i) {
            s.remote_end_of_candidates = true;
        }
        Ok(())
    }

    /// ICE restart (RFC 8445 §9): new local credentials, a new checklist;
    /// the selected pairs keep carrying data (and consent) until new ones
    /// are selected. Send the new credentials and candidates to the peer,
    /// and give it the peer's new credentials and candidates.
    pub fn restart(&mut self, now: Instant, stream: StreamId) -> Result<Credentials, AgentError> {
        let i = self.stream_index(stream)?;
        let creds = Credentials::generate(&mut self.rng);
        let Some(s) = self.streams.get_mut(i) else {
            return Err(AgentError::UnknownStream);
        };
        let old = std::mem::replace(&mut s.local, Keyed::new(creds.clone()));
        s.previous_local = Some(old);
        s.remote = None;
        s.remote_end_of_candidates = false;
        s.generation = s.generation.wrapping_add(1);
        let locals: Vec<checklist::Local> = s
            .list
            .locals
            .iter()
            .filter(|l| l.signalled)
            .cloned()
            .collect();
        s.list = Checklist::default();
        s.unresolved.clear();
        s.checking = false;
        for c in &mut s.components {
            c.first_valid_at = None;
        }
        let role = self.role;
        let max = self.config.max_pairs;
        for l in locals {
            let candidate = l.candidate.clone();
            s.list.add_local(role, max, l);
            self.events
                .push_back(Event::LocalCandidate { stream, candidate });
        }
        if s.gathering_pending == 0 {
            self.events.push_back(Event::GatheringComplete { stream });
        }
        let _ = now;
        Ok(creds)
    }

    /// Closes the agent: everything stops, every stream reports `Closed`.
    pub fn close(&mut self) {
        if self.closed {
            return;
        }
        self.closed = true;
        self.out.clear();
        self.close_relays(self.last_input);
        for (i, s) in self.streams.iter_mut().enumerate() {
            s.closed = true;
            if s.state != ConnectionState::Closed {
                s.state = ConnectionState::Closed;
                let stream = StreamId(u32::try_from(i).unwrap_or(u32::MAX));
                self.events.push_back(Event::StateChanged {
                    stream,
                    state: ConnectionState::Closed,
                });
            }
        }
    }

    /// Sends application data on the component's selected pair.
    pub fn send(
        &mut self,
        stream: StreamId,
        component: u16,
        data: &[u8],
    ) -> Result<(), AgentError> {
        if self.closed {
            return Err(AgentError::Closed);
        }
        let i = self.stream_index(stream)?;
        let s = self.streams.get(i).ok_or(AgentError::UnknownStream)?;
        let c = s.component(component).ok_or(AgentError::UnknownComponent)?;
        let sel = c.selected.as_ref().ok_or(AgentError::NotConnected)?;
        if sel.expired {
            return Err(AgentError::ConsentExpired);
        }
        self.out.push_back(Transmit {
            from: sel.base,
            to: sel.remote_addr,
            data: data.to_vec(),
        });
        Ok(())
    }

    /// Takes one datagram that arrived on a socket of the agent.
    pub fn handle_packet(
        &mut self,
        now: Instant,
        local: SocketAddr,
        remote: SocketAddr,
        data: &[u8],
    ) {
        if self.closed {
            // Only the release of the TURN allocations is still going on.
            let _ = self.relay_input(now, local, remote, data);
            return;
        }
        if !self.relay_input(now, local, remote, data) {
            self.handle_arrival(now, local, remote, data);
        }
        self.after_input(now);
    }

    /// A datagram on one of the agent's sockets, relayed ones included.
    fn handle_arrival(&mut self, now: Instant, local: SocketAddr, remote: SocketAddr, data: &[u8]) {
        if self.closed {
            return;
        }
        let Some(&(stream, component)) = self.sockets.get(&local) else {
            return;
        };
        match classify(data) {
            PacketKind::Stun => self.handle_stun(now, stream, component, local, remote, data),
            PacketKind::Dtls
            | PacketKind::Rtp
            | PacketKind::Zrtp
            | PacketKind::Quic
            | PacketKind::ChannelData => self.handle_data(stream, component, local, remote, data),
            _ => {}
        }
    }

    fn handle_data(
        &mut self,
        stream: usize,
        component: u16,
        local: SocketAddr,
        remote: SocketAddr,
        data: &[u8],
    ) {
        let Some(s) = self.streams.get(stream) else {
            return;
        };
        let selected = s
            .component(component)
            .and_then(|c| c.selected.as_ref())
            .is_some_and(|sel| sel.base == local && sel.remote_addr == remote);
        let valid = s.list.valid.iter().any(|v| {
            v.component == component
                && s.list
                    .pairs
                    .get(v.pair)
                    .is_some_and(|p| p.base == local && p.remote_addr == remote)
        });
        if selected || valid {
            let stream = StreamId(u32::try_from(stream).unwrap_or(u32::MAX));
            self.events.push_back(Event::Data {
                stream,
                component,
                data: data.to_vec(),
            });
        }
    }

    /// Retransmits, paces new checks, nominates, runs consent.
    pub fn handle_timeout(&mut self, now: Instant) {
        if self.closed {
            self.relay_timeouts(now);
            return;
        }
        self.relay_timeouts(now);
        self.gather_timeouts(now);
        self.check_timeouts(now);
        self.consent_timeouts(now);
        self.after_input(now);
    }

    /// The work that follows any input: paced transactions, nomination,
    /// consent, states.
    fn after_input(&mut self, now: Instant) {
        self.last_input = self.last_input.max(now);
        self.pump_relays(now);
        self.maintain_relays(now);
        while self.next_pace <= now {
            if !self.start_paced_transaction(now) {
                break;
            }
            self.next_pace = now + self.config.ta;
        }
        self.nominate(now);
        self.run_consent(now);
        self.update_states(now);
        self.maintain_relays(now);
    }

    /// The next datagram to send.
    pub fn poll_transmit(&mut self) -> Option<Transmit> {
        if self.closed {
            return self.relay_transmit();
        }
        while let Some(t) = self
            .out
            .pop_front()
            .or_else(|| self.gathers.poll_transmit())
            .or_else(|| self.checks.poll_transmit())
            .or_else(|| self.consents.poll_transmit())
        {
            // From a relayed address: it goes through the allocation.
            if let Some(t) = self.relay_output(self.last_input, t) {
                return Some(t);
            }
        }
        self.relay_transmit()
    }

    /// The next event for the application.
    pub fn poll_event(&mut self) -> Option<Event> {
        self.events.pop_front()
    }

    /// When [`Agent::handle_timeout`] must next be called.
    pub fn poll_timeout(&self) -> Option<Instant> {
        if self.closed {
            return self.relay_deadline();
        }
        let pace = self.has_paced_work().then_some(self.next_pace);
        [
            pace,
            self.checks.poll_timeout(),
            self.gathers.poll_timeout(),
            self.consents.poll_timeout(),
            self.nomination_deadline(self.last_input),
            self.consent_deadline(),
            self.relay_deadline(),
        ]
        .into_iter()
        .flatten()
        .min()
    }

    fn set_role(&mut self, role: Role) {
        if self.role == role {
            return;
        }
        self.role = role;
        for s in &mut self.streams {
            s.list.reprioritise(role);
        }
        self.events.push_back(Event::RoleChanged { role });
    }

    fn stream_id(index: usize) -> StreamId {
        StreamId(u32::try_from(index).unwrap_or(u32::MAX))
    }

    fn next_prflx_foundation(&mut self, stream: usize) -> String {
        let n = self.streams.get_mut(stream).map_or(0, |s| {
            s.prflx_count = s.prflx_count.wrapping_add(1);
            s.prflx_count
        });
        format!("prflx{n}")
    }

    fn local_kind_of_base(&self, stream: usize, base: SocketAddr) -> Option<usize> {
        let s = self.streams.get(stream)?;
        s.list
            .locals
            .iter()
            .position(|l| l.base == base && l.candidate.kind == CandidateType::Host)
    }
}
