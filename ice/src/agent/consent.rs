//! Consent freshness (RFC 7675) on the selected pairs, which also keeps
//! NAT bindings alive (the keepalive of RFC 8445 §11).
//!
//! - §5.1: a consent check (a Binding request with the ICE credentials of
//!   the pair) every [`AgentConfig::consent_interval`](super::AgentConfig),
//!   5 s by default, randomised by ±20 % from the agent's RNG.
//! - Consent is refreshed by an authenticated success response from the
//!   pair's remote address; requests from the peer do not count.
//! - §5.1: after [`AgentConfig::consent_timeout`](super::AgentConfig)
//!   (30 s) without one, consent has expired: [`Agent::send`] refuses, the
//!   stream is failed. Half that without an answer reports the stream
//!   disconnected (W3C `RTCIceTransportState`), which heals on the next
//!   answer.
//! - An ICE-lite agent sends no checks (RFC 8445 §2.5) and so does no
//!   consent of its own.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use candidate_gather::transaction::{Expect, Finished};
use rand_core::Rng;
use stun_proto::{Class, Message};

use super::{Agent, ConsentKey};
use crate::candidate::{CandidateType, priority};

impl Agent {
    /// The consent interval randomised by ±20 %.
    pub(super) fn consent_jitter(&mut self) -> Duration {
        let base = self.config.consent_interval;
        let unit = (self.rng.next_u32() % 4001) as f64 / 10_000.0; // 0.0 ..= 0.4
        base.mul_f64(0.8 + unit)
    }

    pub(super) fn run_consent(&mut self, now: Instant) {
        if self.config.lite {
            return;
        }
        let timeout = self.config.consent_timeout;
        let mut due = Vec::new();
        for (i, s) in self.streams.iter_mut().enumerate() {
            if s.closed {
                continue;
            }
            for c in &mut s.components {
                let Some(sel) = c.selected.as_mut() else {
                    continue;
                };
                if sel.expired {
                    continue;
                }
                if now >= sel.last_consent + timeout {
                    sel.expired = true;
                    continue;
                }
                if now >= sel.next_consent {
                    due.push((i, c.id));
                }
            }
        }
        for (stream, component) in due {
            let jitter = self.consent_jitter();
            let Some(sel) = self
                .streams
                .get_mut(stream)
                .and_then(|s| s.component_mut(component))
                .and_then(|c| c.selected.as_mut())
            else {
                continue;
            };
            sel.next_consent = now + jitter;
            let (base, remote, local_ufrag) = (
                sel.base,
                sel.remote_addr,
                sel.local_keys.creds.ufrag().to_owned(),
            );
            let (remote_ufrag, key) = (
                sel.remote_keys.creds.ufrag().to_owned(),
                sel.remote_keys.key,
            );
            let Some(key) = key else { continue };
            let pref = self.local_preference(stream, component, base);
            let prio = priority(CandidateType::PeerReflexive, pref, component);
            let (id, bytes) = self.binding_request(&local_ufrag, &remote_ufrag, &key, prio, false);
            let key = ConsentKey { stream, component };
            self.consents.start(
                now,
                key,
                id,
                base,
                remote,
                Expect::reply(base, remote),
                bytes,
            );
        }
    }

    pub(super) fn consent_timeouts(&mut self, now: Instant) {
        let _ = self.consents.handle_timeout(now);
    }

    /// A response to a consent check (anything else is ignored).
    pub(super) fn consent_response(
        &mut self,
        now: Instant,
        local: SocketAddr,
        remote: SocketAddr,
        msg: &Message<'_>,
    ) {
        let Some(key) = self.consents.key_of(msg.transaction_id()) else {
            return;
        };
        let Some(sel) = self
            .streams
            .get_mut(key.stream)
            .and_then(|s| s.component_mut(key.component))
            .and_then(|c| c.selected.as_mut())
        else {
            return;
        };
        let Some(ik) = sel.remote_keys.key else {
            return;
        };
        if msg.verify_integrity(&ik).is_err() {
            return;
        }
        if let Ok(Finished::Answered { .. }) = self.consents.handle_response(local, remote, msg) {
            // RFC 8489 §7.3.3: an answer with unknown comprehension-
            // required attributes is discarded, its transaction failed.
            if msg.class() == Class::Success
                && msg.unknown_comprehension_required().next().is_none()
                && sel.base == local
                && sel.remote_addr == remote
                && !sel.expired
            {
                sel.last_consent = now;
            }
        }
    }

    /// When consent next needs attention: a check to send, or a state to
    /// change.
    pub(super) fn consent_deadline(&self) -> Option<Instant> {
        if self.config.lite {
            return None;
        }
        let timeout = self.config.consent_timeout;
        self.streams
            .iter()
            .filter(|s| !s.closed)
            .flat_map(|s| s.components.iter().filter_map(|c| c.selected.as_ref()))
            .filter(|sel| !sel.expired)
            .flat_map(|sel| {
                // The disconnected threshold matters once: when it has
                // passed it is no wake-up any more.
                let disconnect =
                    Some(sel.last_consent + timeout / 2).filter(|t| *t > self.last_input);
                [
                    Some(sel.next_consent),
                    disconnect,
                    Some(sel.last_consent + timeout),
                ]
            })
            .flatten()
            .min()
    }
}
