//! Nomination, the selected pair and the stream state (RFC 8445 §8).
//!
//! - §8.1.1 regular nomination: the controlling agent picks, per component,
//!   the best valid pair once no pending pair could beat it (or
//!   [`AgentConfig::nomination_delay`](super::AgentConfig) after the
//!   component's first valid pair; `relay_nomination_delay` when the best
//!   is relayed) and checks it again with USE-CANDIDATE; when that check
//!   succeeds, the pair is nominated. A better pair whose check has gone
//!   unanswered for two round trips of the valid pair plus Ta (plus two
//!   retransmission timeouts when the valid pair is relayed) no longer
//!   holds nomination back: with no loss this nominates within a few round
//!   trips even when unreachable host pairs outrank the working
//!   server-reflexive one, a direct path that needs a retransmission still
//!   beats the relay, and under loss the delays bound the wait.
//! - Deviation from §6.1.4.2: the nominating check is sent at once rather
//!   than queued as a triggered check behind the Ta pacing. Ta exists to
//!   keep new NAT bindings and checks from bursting; the nominating check
//!   goes to a pair that is already valid, through a binding that is
//!   already open, one per component. Queued, it waited up to a whole Ta
//!   (50 ms) behind ordinary checks, which was most of the time to a
//!   selected pair on loopback (see BENCHMARKS.md).
//! - The controlled agent nominates what USE-CANDIDATE names (§7.3.1.5),
//!   which also covers peers that nominate aggressively (every check carries
//!   USE-CANDIDATE).
//! - The selected pair of a component is its best nominated valid pair
//!   (§8.1.1); each change is an [`Event::SelectedPair`]. Then (§8.1.2)
//!   the component's Frozen and Waiting pairs are removed and its checks
//!   in progress stop retransmitting.
//! - States mirror `RTCIceTransportState`: checking once checks flow,
//!   connected when every component has a selected pair, completed when
//!   nothing is left to check after the peer's end-of-candidates, failed when
//!   a component has no valid pair and nothing left to check after
//!   end-of-candidates, or when consent expired; disconnected while consent
//!   checks go unanswered (see `consent.rs`).

use std::time::{Duration, Instant};

use super::checklist::PairState;
use super::{Agent, ConnectionState, Event, Role, Selected};

/// How long a better pair's check may stay unanswered before the
/// controlling agent stops waiting for it, and the longest wait after the
/// first valid pair, given the best valid pair's round trip.
///
/// A direct pair: two round trips of it (a better path is rarely slower
/// than a worse one) plus one pacing interval, at most
/// `nomination_delay`. A relayed pair: also two retransmission timeouts,
/// at most `relay_nomination_delay`, because a direct path often needs
/// its first retransmission (the peer's NAT opens only once the peer's
/// own check has left) and a relay costs every packet a detour.
fn waits(config: &super::AgentConfig, rtt: Duration, relayed: bool) -> (Duration, Duration) {
    let direct = rtt.saturating_mul(2).saturating_add(config.ta);
    if relayed {
        let retransmits = config.check_retransmit.rto.saturating_mul(2);
        (
            direct.saturating_add(retransmits),
            config.relay_nomination_delay,
        )
    } else {
        (direct, config.nomination_delay)
    }
}

impl Agent {
    /// §8.1.1: starts the nominating check where it is due.
    pub(super) fn nominate(&mut self, now: Instant) {
        if self.role != Role::Controlling || self.config.lite {
            return;
        }
        let mut due = Vec::new();
        for i in 0..self.streams.len() {
            if !self
                .streams
                .get(i)
                .is_some_and(|s| !s.closed && s.remote.is_some())
            {
                continue;
            }
            let Some(s) = self.streams.get_mut(i) else {
                continue;
            };
            let ids: Vec<u16> = s.components.iter().map(|c| c.id).collect();
            for c in ids {
                let nominated = s.list.valid.iter().any(|v| v.component == c && v.nominated);
                let in_flight = s
                    .list
                    .pairs
                    .iter()
                    .any(|p| p.component == c && p.nominating);
                if nominated || in_flight {
                    continue;
                }
                let Some(best) = s.list.best_valid(c, false) else {
                    continue;
                };
                let Some(v) = s.list.valid.get(best) else {
                    continue;
                };
                let (prio, pair) = (v.priority, v.pair);
                let (patience, delay) = waits(&self.config, v.rtt, s.list.is_relayed(best));
                let first = s.component(c).and_then(|c| c.first_valid_at).unwrap_or(now);
                if !s.list.better_pending(c, prio, now, patience) || now >= first + delay {
                    if let Some(p) = s.list.pairs.get_mut(pair) {
                        p.nominating = true;
                    }
                    due.push((i, pair));
                }
            }
        }
        // Deviation from §6.1.4.2 (see the module header): the nominating
        // check of an already valid pair leaves at once, outside Ta pacing.
        for (i, pair) in due {
            self.send_check(now, i, pair);
        }
    }

    /// When a delayed nomination is due.
    pub(super) fn nomination_deadline(&self, now: Instant) -> Option<Instant> {
        if self.role != Role::Controlling || self.config.lite {
            return None;
        }
        self.streams
            .iter()
            .filter(|s| !s.closed && s.remote.is_some())
            .flat_map(|s| {
                s.components.iter().filter_map(|c| {
                    let done = s
                        .list
                        .valid
                        .iter()
                        .any(|v| v.component == c.id && v.nominated)
                        || s.list
                            .pairs
                            .iter()
                            .any(|p| p.component == c.id && p.nominating);
                    if done {
                        return None;
                    }
                    let index = s.list.best_valid(c.id, false)?;
                    let best = s.list.valid.get(index)?;
                    let (patience, delay) = waits(&self.config, best.rtt, s.list.is_relayed(index));
                    let latest = c.first_valid_at?.checked_add(delay)?;
                    let sooner = s.list.patience_ends(c.id, best.priority, now, patience);
                    Some(sooner.map_or(latest, |t| t.min(latest)))
                })
            })
            .min()
    }

    /// Whether the component's best nominated valid pair is already its
    /// selected pair (or there is none).
    fn selection_unchanged(&self, stream: usize, component: u16) -> bool {
        let Some(s) = self.streams.get(stream) else {
            return true;
        };
        let Some(v) = s
            .list
            .best_valid(component, true)
            .and_then(|b| s.list.valid.get(b))
        else {
            return true;
        };
        let Some(pair) = s.list.pairs.get(v.pair) else {
            return true;
        };
        s.component(component)
            .and_then(|c| c.selected.as_ref())
            .is_some_and(|sel| {
                sel.base == pair.base
                    && sel.remote_addr == pair.remote_addr
                    && sel.local_keys.creds == s.local.creds
            })
    }

    /// Makes the component's best nominated valid pair its selected pair.
    pub(super) fn update_selection(&mut self, now: Instant, stream: usize, component: u16) {
        if self.selection_unchanged(stream, component) {
            // Nothing to do, and no random draw: a duplicated nominating
            // check must not shift what the agent does later.
            return;
        }
        let jitter = self.consent_jitter();
        let Some(s) = self.streams.get_mut(stream) else {
            return;
        };
        let Some(best) = s.list.best_valid(component, true) else {
            return;
        };
        let Some(v) = s.list.valid.get(best) else {
            return;
        };
        let Some(pair) = s.list.pairs.get(v.pair) else {
            return;
        };
        let (Some(local), Some(remote)) =
            (s.list.locals.get(v.local), s.list.remotes.get(v.remote))
        else {
            return;
        };
        let Some(remote_keyed) = s.remote.clone() else {
            return;
        };
        let selected = Selected {
            base: pair.base,
            remote_addr: pair.remote_addr,
            local_candidate: local.candidate.clone(),
            remote_candidate: remote.candidate.clone(),
            local_keys: s.local.clone(),
            remote_keys: remote_keyed,
            last_consent: now,
            next_consent: now + jitter,
            expired: false,
        };
        let event = Event::SelectedPair {
            stream: Agent::stream_id(stream),
            component,
            local: selected.local_candidate.clone(),
            remote: selected.remote_candidate.clone(),
        };
        if let Some(c) = s.component_mut(component) {
            c.selected = Some(selected);
        }
        // After a restart, the old credentials are answered until every
        // component has moved to a pair of the new checklist.
        let current = s.local.creds.clone();
        if s.components.iter().all(|c| {
            c.selected
                .as_ref()
                .is_some_and(|sel| sel.local_keys.creds == current)
        }) {
            s.previous_local = None;
        }
        self.events.push_back(event);
        self.stop_checking(now, stream, component);
    }

    /// §8.1.2 (RFC 8445, stricter than RFC 5245's "lower priority" rule):
    /// once a component has a nominated pair, its Frozen and Waiting pairs
    /// are removed (from the triggered-check queue too) and its checks in
    /// progress are cancelled: no more retransmissions (their answers
    /// still count). Regular nomination never nominates a second pair
    /// (§8.1.1), so a better pair still in progress could not be used; a
    /// symmetric NAT can keep one in progress for minutes, because every
    /// peer-reflexive address it invents grows the checklist and with it
    /// the retransmission timeout (§14.3). The checklist completes instead.
    fn stop_checking(&mut self, now: Instant, stream: usize, component: u16) {
        let Some(s) = self.streams.get_mut(stream) else {
            return;
        };
        if !s
            .list
            .valid
            .iter()
            .any(|v| v.component == component && v.nominated)
        {
            return;
        }
        let generation = s.generation;
        let mut stopped = Vec::new();
        for (i, p) in s.list.pairs.iter_mut().enumerate() {
            if p.component != component || p.nominating {
                continue;
            }
            match p.state {
                PairState::Frozen | PairState::Waiting => {
                    p.state = PairState::Failed;
                    p.pruned = true;
                }
                PairState::InProgress => {
                    p.state = PairState::Failed;
                    stopped.push(i);
                }
                _ => {}
            }
        }
        let pairs = &s.list.pairs;
        s.list.triggered.retain(|&i| {
            pairs
                .get(i)
                .is_some_and(|p| !p.pruned && p.state != PairState::Failed)
        });
        self.checks.cancel(now, |k| {
            k.stream == stream && k.generation == generation && stopped.contains(&k.pair)
        });
    }

    /// Recomputes every stream's state and reports changes.
    pub(super) fn update_states(&mut self, now: Instant) {
        let disconnect_after = self.config.consent_timeout / 2;
        let lite = self.config.lite;
        for (i, s) in self.streams.iter_mut().enumerate() {
            if s.closed {
                continue;
            }
            let selected: Vec<Option<&Selected>> =
                s.components.iter().map(|c| c.selected.as_ref()).collect();
            let all_selected = selected.iter().all(Option::is_some);
            let expired = selected.iter().flatten().any(|sel| sel.expired);
            let quiet = !lite
                && selected
                    .iter()
                    .flatten()
                    .any(|sel| now >= sel.last_consent + disconnect_after);
            let pending = s.list.pending() || !s.list.triggered.is_empty();
            let settled = !pending && s.remote_end_of_candidates;
            let hopeless = s
                .components
                .iter()
                .any(|c| c.selected.is_none() && !s.list.valid.iter().any(|v| v.component == c.id));
            let state = if expired {
                ConnectionState::Failed
            } else if all_selected {
                if quiet {
                    ConnectionState::Disconnected
                } else if settled {
                    ConnectionState::Completed
                } else {
                    ConnectionState::Connected
                }
            } else if s.checking {
                if settled && hopeless && s.gathering_pending == 0 {
                    ConnectionState::Failed
                } else {
                    ConnectionState::Checking
                }
            } else {
                ConnectionState::New
            };
            if state != s.state {
                // W3C order: a stream is connected before it completes.
                let stream = Agent::stream_id(i);
                if state == ConnectionState::Completed
                    && !matches!(
                        s.state,
                        ConnectionState::Connected | ConnectionState::Disconnected
                    )
                {
                    self.events.push_back(Event::StateChanged {
                        stream,
                        state: ConnectionState::Connected,
                    });
                }
                s.state = state;
                self.events.push_back(Event::StateChanged { stream, state });
            }
        }
    }
}
