//! The allocation's life (RFC 8656 §7, §8): made, redirected, refreshed,
//! lost and made again, released; and the timer table that drives it all.
//!
//! - Refresh: at [`REFRESH_FRACTION_PERCENT`](super::REFRESH_FRACTION_PERCENT)
//!   of the granted lifetime. A failed refresh is retried at half the time
//!   left, while more than [`RETRY_FLOOR`] is left; the allocation fails
//!   with [`TurnError::AllocationExpired`] when its lifetime runs out.
//! - 437 (Allocation Mismatch) to a refresh, CreatePermission or
//!   ChannelBind, authentic, means the server lost the allocation: a new
//!   Allocate goes out with the cached credentials, and on success
//!   [`TurnEvent::Reallocated`] reports the new relayed address and the
//!   permissions and channels are installed again.
//! - A success to a Refresh whose LIFETIME is 0 means the same.
//! - Release: a Refresh with LIFETIME 0; its success or a 437 confirm it.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use stun_proto::Message;
use stun_proto::attr::{
    AddressFamily, AlternateServer, Lifetime, XorMappedAddress, XorRelayedAddress,
};

use super::config::refresh_delay;
use super::error::{Operation, TurnError};
use super::event::{TurnEvent, TurnState};
use super::request::{OpId, OpKind};
use super::{MAX_REDIRECTS, TurnClient, TurnTransport, later};

/// Below this much time left, a failed refresh is not retried.
pub(super) const RETRY_FLOOR: Duration = Duration::from_secs(2);

/// The longest lifetime believed from a server (a day): larger values are
/// clamped so that timers stay meaningful.
const MAX_LIFETIME: Duration = Duration::from_secs(86_400);

/// The allocation as the server granted it.
#[derive(Clone, Debug)]
pub(super) struct Allocation {
    pub(super) relayed: SocketAddr,
    pub(super) mapped: SocketAddr,
    pub(super) lifetime: Duration,
    expires: Instant,
    /// When the next refresh goes out; `None` while one is under way.
    next_refresh: Option<Instant>,
    refresh_op: Option<OpId>,
    last_error: Option<TurnError>,
}

impl Allocation {
    fn new(now: Instant, relayed: SocketAddr, mapped: SocketAddr, lifetime: Duration) -> Self {
        Allocation {
            relayed,
            mapped,
            lifetime,
            expires: later(now, lifetime),
            next_refresh: Some(later(now, refresh_delay(lifetime))),
            refresh_op: None,
            last_error: None,
        }
    }

    /// The earliest of the next refresh and the expiry.
    pub(super) fn next_timer(&self) -> Option<Instant> {
        Some(match self.next_refresh {
            Some(refresh) => refresh.min(self.expires),
            None => self.expires,
        })
    }
}

/// A lifetime from a LIFETIME attribute, clamped.
fn granted(msg: &Message<'_>) -> Option<Duration> {
    match msg.get::<Lifetime>() {
        Ok(Some(Lifetime(secs))) => Some(Duration::from_secs(u64::from(secs)).min(MAX_LIFETIME)),
        _ => None,
    }
}

impl TurnClient {
    /// An authentic Allocate success (RFC 8656 §7.3).
    pub(super) fn allocate_succeeded(&mut self, now: Instant, msg: &Message<'_>) {
        let bad = |what| TurnError::ProtocolViolation {
            operation: Operation::Allocate,
            what,
        };
        let Ok(Some(XorRelayedAddress(relayed))) = msg.get::<XorRelayedAddress>() else {
            return self.allocate_failed(now, bad("no valid XOR-RELAYED-ADDRESS"));
        };
        let Ok(Some(XorMappedAddress(mapped))) = msg.get::<XorMappedAddress>() else {
            return self.allocate_failed(now, bad("no valid XOR-MAPPED-ADDRESS"));
        };
        let lifetime = match granted(msg) {
            Some(l) if !l.is_zero() => l,
            _ => return self.allocate_failed(now, bad("no valid non-zero LIFETIME")),
        };
        if relayed.is_ipv6() != (self.config.family == Some(AddressFamily::V6)) {
            return self.allocate_failed(
                now,
                bad("the relayed address is not of the requested family"),
            );
        }
        self.allocation = Some(Allocation::new(now, relayed, mapped, lifetime));
        self.state = TurnState::Allocated;
        if self.close_requested {
            self.close_requested = false;
            return self.begin_close(now);
        }
        match self.previous_relayed.take() {
            Some(previous) => {
                self.events.push_back(TurnEvent::Reallocated {
                    previous,
                    relayed,
                    mapped,
                    lifetime,
                });
                self.reinstall(now);
            }
            None => self.events.push_back(TurnEvent::Allocated {
                relayed,
                mapped,
                lifetime,
            }),
        }
    }

    /// The Allocate failed for good (first one or a reallocation).
    pub(super) fn allocate_failed(&mut self, _now: Instant, error: TurnError) {
        if self.close_requested {
            // Closed while allocating: an authentic refusal means nothing
            // was allocated; silence leaves it unknown.
            let confirmed = !matches!(
                error,
                TurnError::Timeout { .. } | TurnError::IntegrityViolated { .. }
            );
            return self.released(confirmed);
        }
        self.fail(error);
    }

    /// A 300 (Try Alternate) to Allocate (RFC 8489 §10): `Ok` to repeat
    /// the request to the alternate server, without credentials (it is a
    /// first request to that server, §9.2.3.1) but with the same ones once
    /// it challenges.
    pub(super) fn redirect(&mut self, _now: Instant, msg: &Message<'_>) -> Result<(), TurnError> {
        let from = self.server;
        let Ok(Some(AlternateServer(to))) = msg.get::<AlternateServer>() else {
            return Err(TurnError::BadRedirect { from, to: None });
        };
        if self.redirects >= MAX_REDIRECTS || to == from || to.is_ipv4() != from.is_ipv4() {
            return Err(TurnError::BadRedirect { from, to: Some(to) });
        }
        self.redirects += 1;
        self.server = to;
        self.auth.reset();
        if self.config.transport == TurnTransport::Tcp {
            // A new connection: whatever the old one still delivers is
            // not framed with the new one.
            self.framer = stun_proto::StreamFramer::new();
            self.stream_reset = true;
        }
        self.events.push_back(TurnEvent::Redirected { from, to });
        Ok(())
    }

    /// An authentic Refresh success (RFC 8656 §8).
    pub(super) fn refresh_succeeded(&mut self, now: Instant, id: OpId, msg: &Message<'_>) {
        let Some(a) = self
            .allocation
            .as_mut()
            .filter(|a| a.refresh_op == Some(id))
        else {
            return;
        };
        a.refresh_op = None;
        let Some(lifetime) = granted(msg) else {
            let error = TurnError::ProtocolViolation {
                operation: Operation::Refresh,
                what: "a Refresh success without a valid LIFETIME",
            };
            return self.refresh_failed(now, id, error);
        };
        if lifetime.is_zero() {
            // The server deleted the allocation.
            return self.reallocate(now);
        }
        a.lifetime = lifetime;
        a.expires = later(now, lifetime);
        a.next_refresh = Some(later(now, refresh_delay(lifetime)));
        a.last_error = None;
        self.events.push_back(TurnEvent::Refreshed { lifetime });
    }

    /// A refresh failed (not with 437): retry while time is left.
    pub(super) fn refresh_failed(&mut self, now: Instant, _id: OpId, error: TurnError) {
        let Some(a) = self.allocation.as_mut() else {
            return;
        };
        a.refresh_op = None;
        a.last_error = Some(error);
        let left = a.expires.saturating_duration_since(now);
        a.next_refresh = (left > RETRY_FLOOR).then(|| later(now, left / 2));
    }

    /// The server lost the allocation: make a new one with the cached
    /// credentials, and hold data until it exists.
    pub(super) fn reallocate(&mut self, now: Instant) {
        if let Some(a) = self.allocation.take() {
            self.previous_relayed = Some(a.relayed);
        }
        self.tx = crate::transaction::Transactions::new(Self::tx_config(&self.config));
        self.ops.clear();
        self.permissions.forget_installed();
        self.channels.forget_bound();
        self.state = TurnState::Reallocating;
        self.start_op(now, OpKind::Allocate);
    }

    /// After a reallocation: every permission and channel again.
    fn reinstall(&mut self, now: Instant) {
        for ip in self.permissions.ips() {
            self.start_permission(now, ip);
        }
        for peer in self.channels.peers() {
            self.start_channel(now, peer);
        }
    }

    /// `close`: release what exists, or stop what is under way.
    pub(super) fn begin_close(&mut self, now: Instant) {
        match self.state {
            TurnState::Allocated => {
                self.clear();
                self.state = TurnState::Closing;
                self.start_op(now, OpKind::Release);
            }
            TurnState::Allocating | TurnState::Reallocating => {
                let credentialed = self
                    .ops
                    .values()
                    .any(|op| op.kind == OpKind::Allocate && op.is_credentialed());
                if credentialed {
                    // It may succeed: release it then (allocate_succeeded).
                    self.close_requested = true;
                    self.previous_relayed = None;
                    self.permissions = Default::default();
                    self.channels = Default::default();
                    self.ops.retain(|_, op| op.kind == OpKind::Allocate);
                    self.state = TurnState::Closing;
                } else {
                    self.released(true);
                }
            }
            TurnState::Closing | TurnState::Closed | TurnState::Failed => {}
        }
    }

    /// Closed; `confirmed` as in [`TurnEvent::Released`].
    pub(super) fn released(&mut self, confirmed: bool) {
        self.clear();
        self.close_requested = false;
        self.state = TurnState::Closed;
        self.events.push_back(TurnEvent::Released { confirmed });
    }

    /// The timer table: transactions, then the allocation, then
    /// permissions and channels.
    pub(super) fn on_timeout(&mut self, now: Instant) {
        if matches!(self.state, TurnState::Closed | TurnState::Failed) {
            return;
        }
        self.transactions_timed_out(now);
        if let Some(a) = self.allocation.as_mut() {
            if now >= a.expires {
                let last = a.last_error.take().map(Box::new);
                return self.fail(TurnError::AllocationExpired {
                    last_refresh_error: last,
                });
            }
            if a.refresh_op.is_none() && a.next_refresh.is_some_and(|t| now >= t) {
                a.next_refresh = None;
                let id = self.add_op(now, OpKind::Refresh);
                if let Some(a) = self.allocation.as_mut() {
                    a.refresh_op = Some(id);
                }
                self.send_request(now, id);
            }
        }
        if self.state == TurnState::Allocated {
            self.permission_timers(now);
            self.channel_timers(now);
        }
        self.drain_tx();
    }
}
