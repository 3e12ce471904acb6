//! Connectivity checks (RFC 8445 §6.1.4, §7).
//!
//! - §6.1.4.2 scheduling: one new transaction per Ta across all streams:
//!   gathering requests, then the triggered-check queue, then the
//!   highest-priority Waiting pair, then, if nothing waits, one Frozen pair
//!   per idle foundation is unfrozen. Retransmissions are not paced; §14.3
//!   instead stretches each check's RTO to Ta × (checks waiting or in
//!   progress), at least 500 ms, and `AgentConfig::check_retransmit`
//!   repeats a check every RTO rather than doubling the interval.
//! - §7.2.2 a check: USERNAME `remote:local`, PRIORITY (the peer-reflexive
//!   priority of the base), ICE-CONTROLLING or ICE-CONTROLLED with the
//!   tie-breaker, USE-CANDIDATE when nominating, MESSAGE-INTEGRITY with the
//!   peer's password, FINGERPRINT. Checks wait until the peer's credentials
//!   are known.
//! - §7.2.5 responses: accepted only with the peer's integrity (anything
//!   else changes nothing), from the address the check went to and on its
//!   base: an authentic answer on another path fails the pair
//!   (§7.2.5.2.1), for good (see `Pair::asymmetric`); 487
//!   switches role and retries the pair; a success makes the pair
//!   Succeeded, adds the valid pair built from the mapped address (a new
//!   local peer-reflexive candidate if it matches none, §7.2.5.3.1) and
//!   unfreezes the pair's foundation in every checklist (§7.2.5.3.3).
//! - §7.3 requests: a missing USERNAME, MESSAGE-INTEGRITY or PRIORITY is
//!   answered 400; an unknown username fragment or a bad integrity 401,
//!   and nothing else happens: no candidate, no pair, no state change
//!   (RFC 8489 §9.1.3). An authentic request with unknown
//!   comprehension-required attributes gets a signed 420 (RFC 8489 §6.3.1;
//!   an answer with them fails its check, §7.3.3). A role conflict
//!   (§7.3.1.1) is answered 487 or resolved by switching, by the
//!   tie-breakers. Otherwise the answer carries XOR-MAPPED-ADDRESS; an
//!   unknown source becomes a remote peer-reflexive candidate (§7.3.1.3) and its pair gets a triggered check (§7.3.1.4);
//!   USE-CANDIDATE nominates the pair now or when its check succeeds
//!   (§7.3.1.5). A request on a pair whose check is in progress cancels
//!   that check (no more retransmissions; its answer still counts) and
//!   triggers a new one at once, so under loss checks follow the peer's
//!   rather than waiting out the exponential backoff.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use candidate_gather::transaction::{Expect, Finished, Ignored};
use stun_proto::attr::{
    ErrorCode, IceControlled, IceControlling, Priority, UnknownAttributes, UseCandidate, Username,
    XorMappedAddress,
};
use stun_proto::{
    AttributeType, Class, IntegrityKey, Message, MessageType, MessageWriter, Method, TransactionId,
    Transmit,
};

use super::checklist::{Local, PairState};
use super::{Agent, CheckKey, Role};
use crate::candidate::{
    Candidate, CandidateAddress, CandidateType, TransportProtocol, foundation, priority,
};

/// How many distinct unknown attributes a 420 names.
const UNKNOWN_LISTED: usize = 8;

impl Agent {
    fn can_check(&self, stream: usize) -> bool {
        !self.config.lite
            && self
                .streams
                .get(stream)
                .is_some_and(|s| !s.closed && s.remote.is_some())
    }

    /// Whether a paced transaction is waiting to start.
    pub(super) fn has_paced_work(&self) -> bool {
        self.streams.iter().enumerate().any(|(i, s)| {
            !s.closed
                && (!s.gather_queue.is_empty()
                    || (self.can_check(i)
                        && (!s.list.triggered.is_empty()
                            || s.list.best_waiting().is_some()
                            || s.list.pairs.iter().any(|p| {
                                p.state == PairState::Frozen
                                    && !p.pruned
                                    && !self.foundation_busy(&p.foundation)
                            }))))
        })
    }

    /// Whether a pair of this foundation is Waiting or In-Progress in any
    /// checklist, which keeps its Frozen pairs frozen (§6.1.4.2).
    fn foundation_busy(&self, foundation: &str) -> bool {
        self.streams.iter().any(|s| {
            s.list.pairs.iter().any(|p| {
                p.foundation == foundation
                    && matches!(p.state, PairState::Waiting | PairState::InProgress)
            })
        })
    }

    /// Starts one paced transaction (§6.1.4.2). `false` if there is none.
    pub(super) fn start_paced_transaction(&mut self, now: Instant) -> bool {
        let n = self.streams.len();
        for i in 0..n {
            if self.start_gather(now, i) {
                return true;
            }
        }
        let checkable: Vec<usize> = (0..n).filter(|&i| self.can_check(i)).collect();
        for &i in &checkable {
            while let Some(p) = self
                .streams
                .get_mut(i)
                .and_then(|s| s.list.triggered.pop_front())
            {
                let ok = self
                    .streams
                    .get(i)
                    .and_then(|s| s.list.pairs.get(p))
                    .is_some_and(|pair| {
                        !pair.pruned
                            && pair.state != PairState::InProgress
                            && pair.state != PairState::Succeeded
                            || pair.nominating
                    });
                if ok {
                    self.send_check(now, i, p);
                    return true;
                }
            }
        }
        for &i in &checkable {
            if let Some(p) = self.streams.get(i).and_then(|s| s.list.best_waiting()) {
                self.send_check(now, i, p);
                return true;
            }
        }
        for &i in &checkable {
            let busy: Vec<String> = self
                .streams
                .iter()
                .flat_map(|s| s.list.pairs.iter())
                .filter(|p| matches!(p.state, PairState::Waiting | PairState::InProgress))
                .map(|p| p.foundation.clone())
                .collect();
            let unfrozen = self.streams.get_mut(i).is_some_and(|s| {
                s.list
                    .unfreeze_idle_foundations(&|f: &str| busy.iter().any(|b| b == f))
            });
            if unfrozen {
                if let Some(p) = self.streams.get(i).and_then(|s| s.list.best_waiting()) {
                    self.send_check(now, i, p);
                    return true;
                }
            }
        }
        false
    }

    /// The priority a peer-reflexive candidate of `base` would have.
    fn prflx_priority(&self, stream: usize, component: u16, base: SocketAddr) -> u32 {
        priority(
            CandidateType::PeerReflexive,
            self.local_preference(stream, component, base),
            component,
        )
    }

    /// Writes a Binding request signed for the peer: a check, or a consent
    /// check (no USE-CANDIDATE).
    #[allow(clippy::too_many_arguments)]
    pub(super) fn binding_request(
        &mut self,
        local_ufrag: &str,
        remote_ufrag: &str,
        key: &IntegrityKey,
        prio: u32,
        use_candidate: bool,
    ) -> (TransactionId, Vec<u8>) {
        let id = TransactionId::random(&mut self.rng);
        let mut buf = Vec::with_capacity(128);
        let mut w = MessageWriter::new(&mut buf, MessageType::BINDING_REQUEST, id);
        let username = format!("{remote_ufrag}:{local_ufrag}");
        // The writer refuses only what the RFCs forbid; these are always
        // allowed, and a username too long for USERNAME cannot be built
        // from valid credentials.
        if let Ok(u) = Username::new(&username) {
            let _ = w.add(&u);
        }
        let _ = w.add(&Priority(prio));
        let _ = match self.role {
            Role::Controlling => w.add(&IceControlling(self.tie_breaker)),
            Role::Controlled => w.add(&IceControlled(self.tie_breaker)),
        };
        if use_candidate {
            let _ = w.add(&UseCandidate);
        }
        let _ = w.add_message_integrity(key);
        let _ = w.add_fingerprint();
        (id, buf)
    }

    pub(super) fn send_check(&mut self, now: Instant, stream: usize, pair: usize) {
        let Some(s) = self.streams.get(stream) else {
            return;
        };
        let (Some(remote), Some(p)) = (s.remote.clone(), s.list.pairs.get(pair).cloned()) else {
            return;
        };
        let Some(key) = remote.key else { return };
        let local_ufrag = s.local.creds.ufrag().to_owned();
        let generation = s.generation;
        let nominating = p.nominating && self.role == Role::Controlling;
        let prio = self.prflx_priority(stream, p.component, p.base);
        let (id, bytes) =
            self.binding_request(&local_ufrag, remote.creds.ufrag(), &key, prio, nominating);
        let ck = CheckKey {
            stream,
            generation,
            pair,
            nominating,
            role: self.role,
        };
        // §14.3: RTO = max(500 ms, Ta × (Waiting + In-Progress checks)).
        let active = self
            .streams
            .iter()
            .flat_map(|s| s.list.pairs.iter())
            .filter(|p| matches!(p.state, PairState::Waiting | PairState::InProgress))
            .count();
        let base_rto = self.config.check_retransmit.rto;
        let rto = base_rto.max(
            self.config
                .ta
                .saturating_mul(active.try_into().unwrap_or(u32::MAX)),
        );
        let retransmit = self.config.check_retransmit.with_rto(rto);
        self.checks.start_with(
            now,
            ck,
            id,
            p.base,
            p.remote_addr,
            Expect::reply(p.base, p.remote_addr),
            bytes,
            retransmit,
        );
        if let Some(s) = self.streams.get_mut(stream) {
            s.checking = true;
            if let Some(p) = s.list.pairs.get_mut(pair) {
                if p.state != PairState::InProgress {
                    p.checked_at = Some(now);
                }
                p.state = PairState::InProgress;
            }
        }
    }

    pub(super) fn handle_stun(
        &mut self,
        now: Instant,
        stream: usize,
        component: u16,
        local: SocketAddr,
        remote: SocketAddr,
        data: &[u8],
    ) {
        let Ok(msg) = Message::parse(data) else {
            return;
        };
        if msg.has_fingerprint() && msg.verify_fingerprint().is_err()
            || msg.method() != Method::BINDING
        {
            return;
        }
        match msg.class() {
            Class::Request if !self.answers_on(stream, local) => {}
            Class::Request => self.incoming_check(now, stream, component, local, remote, &msg),
            Class::Success | Class::Error => {
                if !self.gather_response(local, remote, &msg)
                    && !self.check_response(now, local, remote, &msg)
                {
                    self.consent_response(now, local, remote, &msg);
                }
            }
            Class::Indication => {}
        }
    }

    /// Whether checks arriving on `local` are answered: with the relay
    /// policy only on relayed addresses, so a peer that found a host
    /// socket learns nothing from it.
    fn answers_on(&self, stream: usize, local: SocketAddr) -> bool {
        self.config.policy != super::CandidatePolicy::Relay
            || self.streams.get(stream).is_some_and(|s| {
                s.list
                    .locals
                    .iter()
                    .any(|l| l.base == local && l.candidate.kind == CandidateType::Relayed)
            })
    }

    fn respond(
        &mut self,
        local: SocketAddr,
        remote: SocketAddr,
        request: &Message<'_>,
        error: Option<u16>,
        key: Option<&IntegrityKey>,
    ) {
        let class = if error.is_some() {
            Class::Error
        } else {
            Class::Success
        };
        let mut buf = Vec::with_capacity(96);
        let mut w = MessageWriter::new(
            &mut buf,
            MessageType::new(Method::BINDING, class),
            request.transaction_id(),
        );
        match error {
            Some(code) => {
                if let Ok(e) = ErrorCode::from_code(code) {
                    let _ = w.add(&e);
                }
            }
            None => {
                let _ = w.add(&XorMappedAddress(remote));
            }
        }
        if let Some(key) = key {
            let _ = w.add_message_integrity(key);
        }
        let _ = w.add_fingerprint();
        self.out.push_back(Transmit {
            from: local,
            to: remote,
            data: buf,
        });
    }

    /// A 420 (Unknown Attribute) naming `unknown` (RFC 8489 §6.3.1).
    fn respond_unknown(
        &mut self,
        local: SocketAddr,
        remote: SocketAddr,
        request: &Message<'_>,
        unknown: &[AttributeType],
        key: &IntegrityKey,
    ) {
        let mut buf = Vec::with_capacity(96);
        let mut w = MessageWriter::new(
            &mut buf,
            MessageType::new(Method::BINDING, Class::Error),
            request.transaction_id(),
        );
        if let Ok(e) = ErrorCode::from_code(ErrorCode::UNKNOWN_ATTRIBUTE) {
            let _ = w.add(&e);
        }
        let _ = w.add(&UnknownAttributes::new(unknown));
        let _ = w.add_message_integrity(key);
        let _ = w.add_fingerprint();
        self.out.push_back(Transmit {
            from: local,
            to: remote,
            data: buf,
        });
    }

    fn incoming_check(
        &mut self,
        now: Instant,
        stream: usize,
        component: u16,
        local: SocketAddr,
        remote: SocketAddr,
        msg: &Message<'_>,
    ) {
        let username = match msg.get::<Username>() {
            Ok(Some(u)) if msg.integrity_algorithm().is_some() => u.as_str().to_owned(),
            _ => return self.respond(local, remote, msg, Some(400), None),
        };
        let Some((ours, _theirs)) = username.split_once(':') else {
            return self.respond(local, remote, msg, Some(401), None);
        };
        let Some(s) = self.streams.get(stream) else {
            return;
        };
        let (keyed, old) = if s.local.creds.ufrag() == ours {
            (s.local.clone(), false)
        } else if let Some(p) = s
            .previous_local
            .as_ref()
            .filter(|p| p.creds.ufrag() == ours)
        {
            (p.clone(), true)
        } else {
            return self.respond(local, remote, msg, Some(401), None);
        };
        let Some(key) = keyed.key else {
            return self.respond(local, remote, msg, Some(401), None);
        };
        if msg.verify_integrity(&key).is_err() {
            return self.respond(local, remote, msg, Some(401), None);
        }
        // RFC 8489 §6.3.1: unknown comprehension-required attributes get a
        // 420 naming them (signed: the request was authentic), and nothing
        // else happens.
        let mut unknown = [AttributeType(0); UNKNOWN_LISTED];
        let mut n = 0;
        for t in msg.unknown_comprehension_required() {
            if !unknown.get(..n).is_some_and(|seen| seen.contains(&t)) {
                if let Some(slot) = unknown.get_mut(n) {
                    *slot = t;
                    n += 1;
                }
            }
        }
        if n > 0 {
            let listed = unknown.get(..n).unwrap_or_default();
            return self.respond_unknown(local, remote, msg, listed, &key);
        }
        let Ok(Some(Priority(prio))) = msg.get::<Priority>() else {
            return self.respond(local, remote, msg, Some(400), Some(&key));
        };
        // §7.3.1.1 role conflict.
        if !self.config.lite {
            let controlling = msg.get::<IceControlling>().ok().flatten();
            let controlled = msg.get::<IceControlled>().ok().flatten();
            match (self.role, controlling, controlled) {
                (Role::Controlling, Some(IceControlling(theirs)), _) => {
                    if self.tie_breaker >= theirs {
                        return self.respond(local, remote, msg, Some(487), Some(&key));
                    }
                    self.set_role(Role::Controlled);
                }
                (Role::Controlled, _, Some(IceControlled(theirs))) => {
                    if self.tie_breaker >= theirs {
                        self.set_role(Role::Controlling);
                    } else {
                        return self.respond(local, remote, msg, Some(487), Some(&key));
                    }
                }
                _ => {}
            }
        }
        self.respond(local, remote, msg, None, Some(&key));
        if old {
            // A consent check on the pair selected before a restart.
            return;
        }
        let use_candidate = msg.get::<UseCandidate>().ok().flatten().is_some();
        self.checked_by_peer(now, stream, component, local, remote, prio, use_candidate);
    }

    /// What a valid request from the peer does (§7.3.1.3-§7.3.1.5).
    #[allow(clippy::too_many_arguments)]
    fn checked_by_peer(
        &mut self,
        now: Instant,
        stream: usize,
        component: u16,
        base: SocketAddr,
        source: SocketAddr,
        prio: u32,
        use_candidate: bool,
    ) {
        // Counted only for a new source, so a duplicated check changes
        // nothing later.
        let known_source = self
            .streams
            .get(stream)
            .is_some_and(|s| s.list.remote_at(component, source).is_some());
        let foundation_name = if known_source {
            String::new()
        } else {
            self.next_prflx_foundation(stream)
        };
        let local = match self.local_kind_of_base(stream, base) {
            Some(l) => l,
            None => {
                // A base left out of gathering (loopback, say) still gets
                // a host candidate for the pair the peer chose.
                let candidate = self.host_candidate(stream, component, base);
                let (role, max) = (self.role, self.config.max_pairs);
                let Some(s) = self.streams.get_mut(stream) else {
                    return;
                };
                s.list
                    .add_local(
                        role,
                        max,
                        Local {
                            candidate,
                            base,
                            signalled: false,
                        },
                    )
                    .0
            }
        };
        let (role, max, lite) = (self.role, self.config.max_pairs, self.config.lite);
        let Some(s) = self.streams.get_mut(stream) else {
            return;
        };
        s.checking = true;
        let remote = match s.list.remote_at(component, source) {
            Some(r) => r,
            // Answered already; the limit keeps two address-and-port-
            // dependent NATs from feeding each other new addresses forever.
            None if !s.list.may_learn_peer_reflexive(component, base) => return,
            None => s.list.add_remote(
                role,
                max,
                Candidate {
                    foundation: foundation_name,
                    component,
                    transport: TransportProtocol::Udp,
                    priority: prio,
                    address: CandidateAddress::Ip(source),
                    kind: CandidateType::PeerReflexive,
                    related: None,
                    extensions: Vec::new(),
                },
            ),
        };
        if let Some(r) = s.list.remotes.get_mut(remote) {
            if r.candidate.kind == CandidateType::PeerReflexive && r.learned_on.is_none() {
                r.learned_on = Some(base);
            }
        }
        let Some(pair) = s
            .list
            .pair_at(base, source)
            .or_else(|| s.list.pair(role, local, remote))
        else {
            return;
        };
        if lite {
            // A lite agent checks nothing: a nominating request makes the
            // pair valid and nominated at once (RFC 8445 §7.3.1.5).
            if use_candidate {
                let v = s
                    .list
                    .add_valid(role, component, local, remote, pair, Duration::ZERO);
                if let Some(v) = s.list.valid.get_mut(v) {
                    v.nominated = true;
                }
                self.update_selection(now, stream, component);
            }
            return;
        }
        let nominated = s
            .list
            .valid
            .iter()
            .any(|v| v.component == component && v.nominated);
        let Some(p) = s.list.pairs.get_mut(pair) else {
            return;
        };
        match p.state {
            PairState::Succeeded => {
                if use_candidate {
                    for v in s.list.valid.iter_mut().filter(|v| v.pair == pair) {
                        v.nominated = true;
                    }
                    self.update_selection(now, stream, component);
                }
            }
            _ if p.asymmetric => {
                // Its answers come from elsewhere: checking it again only
                // feeds a ping-pong between two per-destination NATs.
            }
            _ if nominated && !use_candidate => {
                // §8.1.2: the component is settled; the peer's checks on
                // other pairs are answered but start nothing.
            }
            PairState::InProgress => {
                // §7.3.1.4: the running check is cancelled (its answer
                // still counts) and a new one triggered at once, instead
                // of waiting out its retransmission backoff.
                p.state = PairState::Waiting;
                if use_candidate {
                    p.nominate_on_success = true;
                }
                if !s.list.triggered.contains(&pair) {
                    s.list.triggered.push_back(pair);
                }
                let generation = s.generation;
                self.checks.cancel(now, |k| {
                    k.stream == stream && k.generation == generation && k.pair == pair
                });
            }
            PairState::Frozen | PairState::Waiting | PairState::Failed => {
                p.state = PairState::Waiting;
                p.pruned = false;
                if use_candidate {
                    p.nominate_on_success = true;
                }
                if !s.list.triggered.contains(&pair) {
                    s.list.triggered.push_back(pair);
                }
            }
        }
    }

    /// A response to a check. `false` if it is not one.
    fn check_response(
        &mut self,
        now: Instant,
        local: SocketAddr,
        remote: SocketAddr,
        msg: &Message<'_>,
    ) -> bool {
        let Some(key) = self.checks.key_of(msg.transaction_id()) else {
            return false;
        };
        let Some(s) = self.streams.get(key.stream) else {
            return true;
        };
        if key.generation != s.generation {
            // A check of the checklist before a restart: over.
            let _ = self.checks.handle_response(local, remote, msg);
            return true;
        }
        let Some(ik) = s.remote.as_ref().and_then(|r| r.key) else {
            return true;
        };
        if msg.verify_integrity(&ik).is_err() {
            // Not from the peer: ignored, the transaction goes on.
            return true;
        }
        match self.checks.handle_response(local, remote, msg) {
            Ok(Finished::Answered { .. }) => {}
            Err(Ignored::WrongPath) => {
                // §7.2.5.2.1: an authentic answer from another address than
                // the check went to (or arriving on another socket) fails
                // the pair. The NAT in between maps per destination, so
                // the peer's checks on this pair will not be re-triggered.
                self.checks.cancel(now, |k| *k == key);
                self.pair_failed(key.stream, key.pair);
                if let Some(p) = self
                    .streams
                    .get_mut(key.stream)
                    .and_then(|s| s.list.pairs.get_mut(key.pair))
                {
                    p.asymmetric = true;
                }
                return true;
            }
            _ => return true,
        }
        let stream = key.stream;
        let Some(pair) = self
            .streams
            .get(stream)
            .and_then(|s| s.list.pairs.get(key.pair))
            .cloned()
        else {
            return true;
        };
        if msg.unknown_comprehension_required().next().is_some() {
            // RFC 8489 §7.3.3: discarded, and the transaction has failed.
            self.pair_failed(stream, key.pair);
            return true;
        }
        if msg.class() == Class::Error {
            let code = msg.get::<ErrorCode>().ok().flatten().map(|e| e.code());
            if code == Some(ErrorCode::ROLE_CONFLICT) && !self.config.lite {
                // §7.2.5.1: take the role opposite to the one the request
                // claimed (unless already taken) and check the pair again.
                self.set_role(key.role.other());
                if let Some(s) = self.streams.get_mut(stream) {
                    if let Some(p) = s.list.pairs.get_mut(key.pair) {
                        p.state = PairState::Waiting;
                    }
                    s.list.triggered.push_front(key.pair);
                }
            } else {
                self.pair_failed(stream, key.pair);
            }
            return true;
        }
        let Some(mapped) = msg.get::<XorMappedAddress>().ok().flatten().map(|x| x.0) else {
            self.pair_failed(stream, key.pair);
            return true;
        };
        let prio = self.prflx_priority(stream, pair.component, pair.base);
        let (role, max) = (self.role, self.config.max_pairs);
        let Some(s) = self.streams.get_mut(stream) else {
            return true;
        };
        if let Some(p) = s.list.pairs.get_mut(key.pair) {
            p.state = PairState::Succeeded;
        }
        let local = match s.list.local_at(pair.base, mapped) {
            Some(l) => l,
            None => {
                let candidate = Candidate {
                    foundation: foundation(
                        CandidateType::PeerReflexive,
                        pair.base.ip(),
                        None,
                        TransportProtocol::Udp,
                    ),
                    component: pair.component,
                    transport: TransportProtocol::Udp,
                    priority: prio,
                    address: CandidateAddress::Ip(mapped),
                    kind: CandidateType::PeerReflexive,
                    related: Some(pair.base),
                    extensions: Vec::new(),
                };
                s.list
                    .add_local(
                        role,
                        max,
                        Local {
                            candidate,
                            base: pair.base,
                            signalled: false,
                        },
                    )
                    .0
            }
        };
        let rtt = pair
            .checked_at
            .map_or(Duration::ZERO, |t| now.saturating_duration_since(t));
        let v = s
            .list
            .add_valid(role, pair.component, local, pair.remote, key.pair, rtt);
        let nominate = key.nominating || pair.nominate_on_success;
        if let Some(p) = s.list.pairs.get_mut(key.pair) {
            p.nominating = false;
            if nominate {
                p.nominate_on_success = false;
            }
        }
        if nominate {
            if let Some(v) = s.list.valid.get_mut(v) {
                v.nominated = true;
            }
        }
        if let Some(c) = s.component_mut(pair.component) {
            c.first_valid_at.get_or_insert(now);
        }
        // §7.2.5.3.3: unfreeze the foundation in every checklist.
        for s in &mut self.streams {
            s.list.unfreeze_foundation(&pair.foundation);
        }
        self.update_selection(now, stream, pair.component);
        true
    }

    /// A check of the pair failed. Only an in-progress pair fails: a pair
    /// that meanwhile succeeded through another transaction (a triggered
    /// check, §7.3.1.4) stays succeeded.
    fn pair_failed(&mut self, stream: usize, pair: usize) {
        if let Some(p) = self
            .streams
            .get_mut(stream)
            .and_then(|s| s.list.pairs.get_mut(pair))
            .filter(|p| p.state == PairState::InProgress)
        {
            p.state = PairState::Failed;
            p.nominating = false;
        }
    }

    pub(super) fn check_timeouts(&mut self, now: Instant) {
        for f in self.checks.handle_timeout(now) {
            if let Finished::TimedOut { key, .. } = f {
                if self
                    .streams
                    .get(key.stream)
                    .is_some_and(|s| s.generation == key.generation)
                {
                    self.pair_failed(key.stream, key.pair);
                }
            }
        }
    }
}
