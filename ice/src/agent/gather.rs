//! Gathering (RFC 8445 §5.1.1): host candidates from the sockets the driver
//! bound, server-reflexive candidates from STUN Binding responses.
//!
//! - §5.1.1.1 host: one per base; loopback and link-local bases are left out
//!   unless configured (they cannot reach a peer elsewhere), unspecified ones
//!   always.
//! - §5.1.1.2 server-reflexive: a Binding request from each base to each
//!   STUN server of its family, paced by Ta with the checks. The candidate's
//!   related address is its base; one equal to a host candidate or to an
//!   earlier server-reflexive candidate of the same base is redundant
//!   (§5.1.3) and dropped.
//! - Candidates trickle out as [`Event::LocalCandidate`] as they are found
//!   (RFC 8838); [`Event::GatheringComplete`] follows the last STUN
//!   transaction, answered or not.
//!
//! - §5.1.1.2 relayed: the driver's TURN client allocates and hands the
//!   agent each relayed address with `Agent::add_relayed_candidate`; the
//!   relayed address is the candidate's base and its related address is
//!   the mapped address the server saw. `StreamConfig::pending_relays`
//!   holds gathering completion back until each has arrived or failed.
//!
//! An ICE-lite agent gathers host candidates only (RFC 8445 §5.1.1); with
//! `CandidatePolicy::Relay` the agent offers relayed candidates only.

use std::net::{IpAddr, SocketAddr};
use std::time::Instant;

use candidate_gather::transaction::{Expect, Finished};
use stun_proto::attr::{ErrorCode, XorMappedAddress};
use stun_proto::{Class, Message, MessageType, MessageWriter, TransactionId};

use super::checklist::Local;
use super::{Agent, Event, GatherKey, StunError};
use crate::candidate::{
    Candidate, CandidateAddress, CandidateType, TransportProtocol, foundation, local_preferences,
    priority,
};

fn usable(config: &super::AgentConfig, ip: IpAddr) -> bool {
    if ip.is_unspecified() || ip.is_multicast() {
        return false;
    }
    let loopback = ip.is_loopback();
    let link_local = match ip {
        IpAddr::V4(v4) => v4.is_link_local(),
        IpAddr::V6(v6) => v6.is_unicast_link_local(),
    };
    (!loopback || config.include_loopback) && (!link_local || config.include_link_local)
}

impl Agent {
    /// The local preference of a base (RFC 8421 order within its component).
    pub(super) fn local_preference(&self, stream: usize, component: u16, base: SocketAddr) -> u16 {
        let Some(c) = self
            .streams
            .get(stream)
            .and_then(|s| s.component(component))
        else {
            return 0;
        };
        let ips: Vec<IpAddr> = c.bases.iter().map(|b| b.ip()).collect();
        let prefs = local_preferences(&ips);
        c.bases
            .iter()
            .position(|b| *b == base)
            .and_then(|i| prefs.get(i).copied())
            .unwrap_or(0)
    }

    /// The host candidate of a base (§5.1.1.1, priority §5.1.2).
    pub(super) fn host_candidate(
        &self,
        stream: usize,
        component: u16,
        base: SocketAddr,
    ) -> Candidate {
        let pref = self.local_preference(stream, component, base);
        Candidate {
            foundation: foundation(CandidateType::Host, base.ip(), None, TransportProtocol::Udp),
            component,
            transport: TransportProtocol::Udp,
            priority: priority(CandidateType::Host, pref, component),
            address: CandidateAddress::Ip(base),
            kind: CandidateType::Host,
            related: None,
            extensions: Vec::new(),
        }
    }

    pub(super) fn gather(&mut self, now: Instant, stream: usize) {
        let id = Agent::stream_id(stream);
        let Some(s) = self.streams.get(stream) else {
            return;
        };
        let bases: Vec<(u16, SocketAddr)> = s
            .components
            .iter()
            .flat_map(|c| c.bases.iter().map(move |b| (c.id, *b)))
            .collect();
        let mut queue = Vec::new();
        let relay_only = self.config.policy == super::CandidatePolicy::Relay;
        for (component, base) in bases {
            if relay_only || !usable(&self.config, base.ip()) {
                continue;
            }
            let candidate = self.host_candidate(stream, component, base);
            let (role, max) = (self.role, self.config.max_pairs);
            if let Some(s) = self.streams.get_mut(stream) {
                let (_, new) = s.list.add_local(
                    role,
                    max,
                    Local {
                        candidate: candidate.clone(),
                        base,
                        signalled: true,
                    },
                );
                if new {
                    self.events.push_back(Event::LocalCandidate {
                        stream: id,
                        candidate,
                    });
                }
            }
            if !self.config.lite {
                for server in &self.config.stun_servers {
                    if server.is_ipv4() == base.is_ipv4() {
                        queue.push((base, *server));
                    }
                }
            }
        }
        let usable_bases: Vec<(u16, SocketAddr)> = self
            .streams
            .get(stream)
            .map(|s| {
                s.components
                    .iter()
                    .flat_map(|c| c.bases.iter().map(move |b| (c.id, *b)))
                    .filter(|(_, b)| usable(&self.config, b.ip()))
                    .collect()
            })
            .unwrap_or_default();
        let relays = self.start_relays(now, stream, &usable_bases);
        if let Some(s) = self.streams.get_mut(stream) {
            s.relays_pending += relays;
            s.gathering_pending = queue.len() + s.relays_pending;
            s.gather_queue = queue.into();
            if s.gathering_pending == 0 {
                self.events
                    .push_back(Event::GatheringComplete { stream: id });
            }
        }
    }

    /// Starts the next STUN request of a stream, if any.
    pub(super) fn start_gather(&mut self, now: Instant, stream: usize) -> bool {
        let Some((base, server)) = self
            .streams
            .get_mut(stream)
            .and_then(|s| s.gather_queue.pop_front())
        else {
            return false;
        };
        let id = TransactionId::random(&mut self.rng);
        let mut buf = Vec::with_capacity(28);
        let mut w = MessageWriter::new(&mut buf, MessageType::BINDING_REQUEST, id);
        let _ = w.add_fingerprint();
        let key = GatherKey {
            stream,
            base,
            server,
        };
        self.gathers
            .start(now, key, id, base, server, Expect::reply(base, server), buf);
        true
    }

    pub(super) fn gather_timeouts(&mut self, now: Instant) {
        for f in self.gathers.handle_timeout(now) {
            if let Finished::TimedOut { key, .. } = f {
                self.gather_failed(key, StunError::Timeout);
                self.gather_done(key.stream);
            }
        }
    }

    /// Reports a STUN server that gave no server-reflexive candidate.
    fn gather_failed(&mut self, key: GatherKey, error: StunError) {
        self.events.push_back(Event::ServerReflexiveFailed {
            stream: Agent::stream_id(key.stream),
            server: key.server,
            base: key.base,
            error,
        });
    }

    /// Adds a relayed candidate the driver's TURN client allocated.
    pub(super) fn relayed(&mut self, stream: usize, r: super::Relayed) {
        let id = Agent::stream_id(stream);
        let Some(s) = self.streams.get(stream) else {
            return;
        };
        // Relays come after every interface: 65535 down, per component.
        let earlier = s
            .list
            .locals
            .iter()
            .filter(|l| {
                l.candidate.kind == CandidateType::Relayed && l.candidate.component == r.component
            })
            .count();
        let pref = u16::try_from(65_535usize.saturating_sub(earlier)).unwrap_or(0);
        let candidate = Candidate {
            foundation: foundation(
                CandidateType::Relayed,
                r.mapped.ip(),
                Some(r.relayed.ip()),
                TransportProtocol::Udp,
            ),
            component: r.component,
            transport: TransportProtocol::Udp,
            priority: priority(CandidateType::Relayed, pref, r.component),
            address: CandidateAddress::Ip(r.relayed),
            kind: CandidateType::Relayed,
            related: Some(r.mapped),
            extensions: Vec::new(),
        };
        self.sockets.insert(r.relayed, (stream, r.component));
        let (role, max) = (self.role, self.config.max_pairs);
        if let Some(s) = self.streams.get_mut(stream) {
            let (_, new) = s.list.add_local(
                role,
                max,
                Local {
                    candidate: candidate.clone(),
                    base: r.relayed,
                    signalled: true,
                },
            );
            if new {
                self.events.push_back(Event::LocalCandidate {
                    stream: id,
                    candidate,
                });
            }
        }
        self.relay_settled(stream);
    }

    /// One of the stream's pending relays was added or failed.
    pub(super) fn relay_settled(&mut self, stream: usize) {
        let Some(s) = self.streams.get_mut(stream) else {
            return;
        };
        if s.relays_pending > 0 {
            s.relays_pending -= 1;
            self.gather_done(stream);
        }
    }

    fn gather_done(&mut self, stream: usize) {
        let Some(s) = self.streams.get_mut(stream) else {
            return;
        };
        s.gathering_pending = s.gathering_pending.saturating_sub(1);
        if s.gathering_pending == 0 && s.gather_queue.is_empty() {
            self.events.push_back(Event::GatheringComplete {
                stream: Agent::stream_id(stream),
            });
        }
    }

    /// A response to a gathering request. `false` if it is not one.
    pub(super) fn gather_response(
        &mut self,
        local: SocketAddr,
        remote: SocketAddr,
        msg: &Message<'_>,
    ) -> bool {
        let Some(key) = self.gathers.key_of(msg.transaction_id()) else {
            return false;
        };
        let Ok(Finished::Answered { .. }) = self.gathers.handle_response(local, remote, msg) else {
            return true;
        };
        // RFC 8489 §7.3.3: an answer with unknown comprehension-required
        // attributes is discarded and the transaction has failed.
        let understood = msg.unknown_comprehension_required().next().is_none();
        let mapped = match msg.class() {
            Class::Success if understood => {
                msg.get::<XorMappedAddress>().ok().flatten().map(|x| x.0)
            }
            _ => None,
        };
        match mapped {
            Some(mapped) => self.add_server_reflexive(key, mapped),
            None => {
                let error = match msg.get::<ErrorCode>() {
                    Ok(Some(e)) if msg.class() == Class::Error => StunError::Refused {
                        code: e.code(),
                        reason: e.reason().to_owned(),
                    },
                    _ => StunError::Unusable,
                };
                self.gather_failed(key, error);
            }
        }
        self.gather_done(key.stream);
        true
    }

    fn add_server_reflexive(&mut self, key: GatherKey, mapped: SocketAddr) {
        let Some(&(stream, component)) = self.sockets.get(&key.base) else {
            return;
        };
        if stream != key.stream {
            return;
        }
        let pref = self.local_preference(stream, component, key.base);
        let candidate = Candidate {
            foundation: foundation(
                CandidateType::ServerReflexive,
                key.base.ip(),
                Some(key.server.ip()),
                TransportProtocol::Udp,
            ),
            component,
            transport: TransportProtocol::Udp,
            priority: priority(CandidateType::ServerReflexive, pref, component),
            address: CandidateAddress::Ip(mapped),
            kind: CandidateType::ServerReflexive,
            related: Some(key.base),
            extensions: Vec::new(),
        };
        let (role, max) = (self.role, self.config.max_pairs);
        let Some(s) = self.streams.get_mut(stream) else {
            return;
        };
        // §5.1.3: the same address as a host candidate, or a second
        // server-reflexive candidate at the same address, is redundant.
        let redundant = s
            .list
            .locals
            .iter()
            .any(|l| l.candidate.address == candidate.address);
        if redundant {
            return;
        }
        let (_, new) = s.list.add_local(
            role,
            max,
            Local {
                candidate: candidate.clone(),
                base: key.base,
                signalled: true,
            },
        );
        if new {
            self.events.push_back(Event::LocalCandidate {
                stream: Agent::stream_id(stream),
                candidate,
            });
        }
    }
}
