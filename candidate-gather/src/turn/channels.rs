//! Channels (RFC 8656 §12): a 16-bit number standing for a peer's
//! transport address, so data travels as 4-byte-header ChannelData instead
//! of 36-byte Send and Data indications.
//!
//! - Numbers come from 0x4000..=0x4FFF (§12) in order and are never reused
//!   within a client: §12 forbids rebinding a number to another peer while
//!   the old binding may live, and 4096 bindings outlast any ICE session.
//! - A binding lasts [`CHANNEL_LIFETIME`] (600 s) from the last ChannelBind
//!   success and is refreshed at
//!   [`REFRESH_FRACTION_PERCENT`](super::REFRESH_FRACTION_PERCENT) of it by
//!   the same request (§12.1), which also refreshes the peer IP's
//!   permission. A failed refresh is retried at half the time left.
//! - ChannelData goes out only once the bind has succeeded: before that the
//!   server may not know the number yet and would drop it (§12.1, §12.6).
//!   Until then data travels in Send indications.
//! - ChannelData in is taken only on a number bound, or being bound, to
//!   one of our peers (§12.6).

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use stun_proto::attr::ChannelNumber;

use super::allocation::RETRY_FLOOR;
use super::config::refresh_delay;
use super::error::{TurnError, UsageError};
use super::event::{TurnEvent, TurnState};
use super::request::{OpId, OpKind};
use super::{CHANNEL_LIFETIME, TurnClient, later};

#[derive(Debug)]
struct Channel {
    number: ChannelNumber,
    bound_until: Option<Instant>,
    /// When the next ChannelBind goes out; `None` while one is under way.
    next_refresh: Option<Instant>,
    in_flight: Option<OpId>,
    /// `ChannelBound` was reported for the current allocation.
    announced: bool,
}

/// The channel table.
#[derive(Debug, Default)]
pub(super) struct Channels {
    by_peer: BTreeMap<SocketAddr, Channel>,
    by_number: BTreeMap<u16, SocketAddr>,
    /// Numbers handed out so far.
    used: u16,
}

impl Channels {
    /// The channel bound to `peer` at `now`.
    pub(super) fn bound(&self, peer: SocketAddr, now: Instant) -> Option<u16> {
        self.by_peer
            .get(&peer)
            .filter(|c| c.bound_until.is_some_and(|until| until > now))
            .map(|c| c.number.get())
    }

    /// The peer of an incoming channel number, if it is bound or being
    /// bound; and whether the bind is under way.
    pub(super) fn peer_of(&self, number: u16, now: Instant) -> Option<(SocketAddr, bool)> {
        let peer = *self.by_number.get(&number)?;
        let c = self.by_peer.get(&peer)?;
        let live = c.bound_until.is_some_and(|until| until > now);
        (live || c.in_flight.is_some()).then_some((peer, c.in_flight.is_some()))
    }

    /// The earliest refresh or expiry among channels not being refreshed.
    pub(super) fn next_timer(&self) -> Option<Instant> {
        self.by_peer
            .values()
            .filter(|c| c.in_flight.is_none())
            .flat_map(|c| [c.next_refresh, c.bound_until])
            .flatten()
            .min()
    }

    /// The peers with a channel.
    pub(super) fn peers(&self) -> Vec<SocketAddr> {
        self.by_peer.keys().copied().collect()
    }

    /// The allocation is gone: the channels are to be bound again (same
    /// numbers: they are new on the new allocation).
    pub(super) fn forget_bound(&mut self) {
        for c in self.by_peer.values_mut() {
            c.bound_until = None;
            c.next_refresh = None;
            c.in_flight = None;
            c.announced = false;
        }
    }

    fn remove(&mut self, peer: SocketAddr) -> Option<Channel> {
        let c = self.by_peer.remove(&peer)?;
        self.by_number.remove(&c.number.get());
        Some(c)
    }
}

impl TurnClient {
    /// The channel of `peer`, bound or being bound; a new one otherwise.
    pub(super) fn ensure_channel(
        &mut self,
        now: Instant,
        peer: SocketAddr,
    ) -> Result<u16, UsageError> {
        if let Some(c) = self.channels.by_peer.get(&peer) {
            return Ok(c.number.get());
        }
        let number = ChannelNumber::MIN
            .checked_add(self.channels.used)
            .and_then(|n| ChannelNumber::new(n).ok())
            .ok_or(UsageError::ChannelsExhausted)?;
        self.channels.used += 1;
        self.channels.by_number.insert(number.get(), peer);
        self.channels.by_peer.insert(
            peer,
            Channel {
                number,
                bound_until: None,
                next_refresh: None,
                in_flight: None,
                announced: false,
            },
        );
        if self.state == TurnState::Allocated {
            self.start_channel(now, peer);
        }
        Ok(number.get())
    }

    /// Sends ChannelBind for `peer`'s channel.
    pub(super) fn start_channel(&mut self, now: Instant, peer: SocketAddr) {
        let Some(channel) = self.channels.by_peer.get(&peer).map(|c| c.number) else {
            return;
        };
        let id = self.add_op(now, OpKind::ChannelBind { peer, channel });
        if let Some(c) = self.channels.by_peer.get_mut(&peer) {
            c.in_flight = Some(id);
            c.next_refresh = None;
        }
        self.send_request(now, id);
    }

    /// An authentic ChannelBind success: the binding and the permission
    /// (§12.2) run for their full lifetimes again.
    pub(super) fn channel_succeeded(&mut self, now: Instant, id: OpId, peer: SocketAddr) {
        let Some(c) = self.channels.by_peer.get_mut(&peer) else {
            return;
        };
        if c.in_flight != Some(id) {
            return;
        }
        c.in_flight = None;
        c.bound_until = Some(later(now, CHANNEL_LIFETIME));
        c.next_refresh = Some(later(now, refresh_delay(CHANNEL_LIFETIME)));
        let first = !c.announced;
        c.announced = true;
        let channel = c.number.get();
        self.permission_installed(now, peer.ip());
        if first {
            self.events
                .push_back(TurnEvent::ChannelBound { peer, channel });
        }
    }

    /// ChannelBind failed (not with 437): retry while the binding holds;
    /// otherwise give the channel up (its number is not reused).
    pub(super) fn channel_failed(
        &mut self,
        now: Instant,
        id: OpId,
        peer: SocketAddr,
        error: TurnError,
    ) {
        let Some(c) = self.channels.by_peer.get_mut(&peer) else {
            return;
        };
        if c.in_flight != Some(id) {
            return;
        }
        c.in_flight = None;
        let left = c
            .bound_until
            .map_or(Duration::ZERO, |u| u.saturating_duration_since(now));
        if left > RETRY_FLOOR {
            c.next_refresh = Some(later(now, left / 2));
            return;
        }
        if let Some(c) = self.channels.remove(peer) {
            self.events.push_back(TurnEvent::ChannelBindFailed {
                peer,
                channel: c.number.get(),
                error,
            });
        }
    }

    /// Refreshes what is due and drops what expired.
    pub(super) fn channel_timers(&mut self, now: Instant) {
        for peer in self.channels.peers() {
            let Some(c) = self.channels.by_peer.get(&peer) else {
                continue;
            };
            if c.in_flight.is_some() {
                continue;
            }
            if c.bound_until.is_some_and(|u| now >= u) {
                if let Some(c) = self.channels.remove(peer) {
                    let channel = c.number.get();
                    let error = TurnError::Expired {
                        operation: super::Operation::ChannelBind { peer, channel },
                    };
                    self.events.push_back(TurnEvent::ChannelBindFailed {
                        peer,
                        channel,
                        error,
                    });
                }
            } else if c.next_refresh.is_some_and(|t| now >= t) {
                self.start_channel(now, peer);
            }
        }
    }
}
