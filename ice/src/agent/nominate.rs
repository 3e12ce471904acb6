//! Nomination, the selected pair and the stream state (RFC 8445 §8).
//!
//! - §8.1.1 regular nomination: the controlling agent picks, per component,
//!   the best valid pair once no pending pair could beat it (or
//!   [`AgentConfig::nomination_delay`](super::AgentConfig) after the
//!   component's first valid pair) and checks it again with USE-CANDIDATE;
//!   when that check succeeds, the pair is nominated. A better pair whose
//!   check has gone unanswered for two round trips of the valid pair plus
//!   Ta no longer holds nomination back: with no loss this nominates
//!   within a few round trips even when unreachable host pairs outrank the
//!   working server-reflexive one, and under loss the delay still bounds
//!   the wait.
//! - The controlled agent nominates what USE-CANDIDATE names (§7.3.1.5),
//!   which also covers peers that nominate aggressively (every check carries
//!   USE-CANDIDATE).
//! - The selected pair of a component is its best nominated valid pair
//!   (§8.1.1); each change is an [`Event::SelectedPair`].
//! - States mirror `RTCIceTransportState`: checking once checks flow,
//!   connected when every component has a selected pair, completed when
//!   nothing is left to check after the peer's end-of-candidates, failed when
//!   a component has no valid pair and nothing left to check after
//!   end-of-candidates, or when consent expired; disconnected while consent
//!   checks go unanswered (see `consent.rs`).

use std::time::{Duration, Instant};

use super::{Agent, ConnectionState, Event, Role, Selected};

/// How long a better pair's check may stay unanswered before the
/// controlling agent stops waiting for it: two round trips of the valid
/// pair (a better path is rarely slower than a worse one; relayed pairs
/// are the worst and the slowest) plus one pacing interval.
fn patience(rtt: Duration, ta: Duration) -> Duration {
    rtt.saturating_mul(2).saturating_add(ta)
}

impl Agent {
    /// §8.1.1: starts the nominating check where it is due.
    pub(super) fn nominate(&mut self, now: Instant) {
        if self.role != Role::Controlling || self.config.lite {
            return;
        }
        let (delay, ta) = (self.config.nomination_delay, self.config.ta);
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
                let patience = patience(v.rtt, ta);
                let first = s.component(c).and_then(|c| c.first_valid_at).unwrap_or(now);
                if !s.list.better_pending(c, prio, now, patience) || now >= first + delay {
                    if let Some(p) = s.list.pairs.get_mut(pair) {
                        p.nominating = true;
                    }
                    s.list.triggered.push_front(pair);
                }
            }
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
                    let latest = c
                        .first_valid_at?
                        .checked_add(self.config.nomination_delay)?;
                    let best = s.list.valid.get(s.list.best_valid(c.id, false)?)?;
                    let sooner = s.list.patience_ends(
                        c.id,
                        best.priority,
                        now,
                        patience(best.rtt, self.config.ta),
                    );
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
