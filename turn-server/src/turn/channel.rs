//! Channels (RFC 8656 §12): per allocation, numbers 0x4000-0x4FFF bound to
//! peer transport addresses (IP and port), each for [`CHANNEL_LIFETIME`]
//! after the ChannelBind that made or last refreshed it.
//!
//! §12.2 rebinding rules, as this server applies them:
//! - a ChannelBind for a number already bound to the same peer refreshes
//!   the binding;
//! - a number bound to another peer, or a peer bound to another number, is
//!   refused with 400;
//! - after a binding expires it stops carrying data at once, but for
//!   [`CHANNEL_REBIND_GUARD`] (5 minutes) neither its number nor its peer
//!   may be bound to anything else; binding the same pair again is allowed
//!   and revives it. (RFC 8656 §12: "the channel number MUST NOT be
//!   rebound ... to a different transport address for 5 minutes after
//!   expiry"; the guard keeps stale ChannelData in flight from reaching a
//!   new peer.)

use core::net::SocketAddr;
use std::collections::BTreeMap;
use std::time::Instant;

use super::config::{CHANNEL_LIFETIME, CHANNEL_REBIND_GUARD};

#[derive(Clone, Copy, Debug)]
struct Binding {
    peer: SocketAddr,
    expires: Instant,
}

/// Why a ChannelBind cannot be honoured (400).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum ChannelConflict {
    /// The number is bound (or guarded) to another peer.
    NumberTaken,
    /// The peer is bound (or guarded) to another number.
    PeerTaken,
}

#[derive(Clone, Debug, Default)]
pub(crate) struct Channels {
    by_number: BTreeMap<u16, Binding>,
    by_peer: BTreeMap<SocketAddr, u16>,
}

fn canonical(peer: SocketAddr) -> SocketAddr {
    SocketAddr::new(peer.ip().to_canonical(), peer.port())
}

impl Channels {
    /// Binds or refreshes `number` to `peer` (§12.2).
    pub(crate) fn bind(
        &mut self,
        number: u16,
        peer: SocketAddr,
        now: Instant,
    ) -> Result<(), ChannelConflict> {
        let peer = canonical(peer);
        if self.by_number.get(&number).is_some_and(|b| b.peer != peer) {
            return Err(ChannelConflict::NumberTaken);
        }
        if self.by_peer.get(&peer).is_some_and(|n| *n != number) {
            return Err(ChannelConflict::PeerTaken);
        }
        self.by_number.insert(
            number,
            Binding {
                peer,
                expires: now + CHANNEL_LIFETIME,
            },
        );
        self.by_peer.insert(peer, number);
        Ok(())
    }

    /// The peer of a live binding.
    pub(crate) fn peer(&self, number: u16, now: Instant) -> Option<SocketAddr> {
        self.by_number
            .get(&number)
            .filter(|b| b.expires > now)
            .map(|b| b.peer)
    }

    /// The number of a live binding to `peer`.
    pub(crate) fn number(&self, peer: SocketAddr, now: Instant) -> Option<u16> {
        let n = *self.by_peer.get(&canonical(peer))?;
        self.peer(n, now).map(|_| n)
    }

    /// Forgets bindings whose guard time has passed.
    pub(crate) fn sweep(&mut self, now: Instant) {
        let by_peer = &mut self.by_peer;
        self.by_number.retain(|_, b| {
            let keep = b.expires + CHANNEL_REBIND_GUARD > now;
            if !keep {
                by_peer.remove(&b.peer);
            }
            keep
        });
    }

    /// The next instant something changes: an expiry or a guard's end.
    pub(crate) fn next_deadline(&self, now: Instant) -> Option<Instant> {
        self.by_number
            .values()
            .map(|b| {
                if b.expires > now {
                    b.expires
                } else {
                    b.expires + CHANNEL_REBIND_GUARD
                }
            })
            .min()
    }

    /// Bindings held, guarded ones included.
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.by_number.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use core::time::Duration;

    #[test]
    fn rebinding_rules() {
        #[allow(clippy::disallowed_methods)]
        let t0 = Instant::now();
        let a: SocketAddr = "198.51.100.1:5000".parse().unwrap();
        let b: SocketAddr = "198.51.100.1:5001".parse().unwrap();
        let mut c = Channels::default();
        c.bind(0x4000, a, t0).unwrap();
        assert_eq!(c.bind(0x4000, b, t0), Err(ChannelConflict::NumberTaken));
        assert_eq!(c.bind(0x4001, a, t0), Err(ChannelConflict::PeerTaken));
        c.bind(0x4001, b, t0).unwrap();
        let t1 = t0 + Duration::from_secs(599);
        c.bind(0x4000, a, t1).unwrap(); // refresh
        assert_eq!(c.peer(0x4000, t1 + Duration::from_secs(599)), Some(a));
        let expired = t0 + Duration::from_secs(600);
        assert_eq!(c.peer(0x4001, expired), None);
        assert_eq!(c.number(b, expired), None);
        // Guarded for 5 minutes after expiry.
        let guarded = expired + Duration::from_secs(299);
        c.sweep(guarded);
        assert_eq!(c.len(), 2);
        let other: SocketAddr = "198.51.100.2:1".parse().unwrap();
        assert_eq!(
            c.bind(0x4001, other, guarded),
            Err(ChannelConflict::NumberTaken)
        );
        assert_eq!(
            c.next_deadline(guarded),
            Some(expired + Duration::from_secs(300))
        );
        c.sweep(expired + Duration::from_secs(300));
        assert_eq!(c.len(), 1);
        c.bind(0x4001, other, expired + Duration::from_secs(300))
            .unwrap();
    }
}
