//! Relayed transport addresses: choosing them, asking the driver to bind
//! them, and reservations (RFC 8656 §7.2, EVEN-PORT and
//! RESERVATION-TOKEN).
//!
//! The core never touches a socket. For an Allocate that passed its checks
//! it picks an address (the configured relay IP of the family, a port of
//! the configured range drawn from the seeded RNG among those it does not
//! hold) and emits [`TurnEvent::BindRelay`]; the driver answers through
//! [`TurnServer::handle_relay_bound`]. The Allocate is answered when all
//! its addresses are bound:
//!
//! | request | addresses | on a failed bind |
//! |---|---|---|
//! | plain | one | another port, up to [`BIND_ATTEMPTS`] in all, then 508 |
//! | EVEN-PORT | one even port | the same |
//! | EVEN-PORT, R bit | N (even) and N+1 | both given back, another pair |
//! | ADDITIONAL-ADDRESS-FAMILY | one IPv4, one IPv6 | IPv6 given up after the attempts: the success carries ADDRESS-ERROR-CODE 508 |
//!
//! With the R bit, N+1 stays bound, reserved under an 8-byte token from the
//! RNG for [`RESERVATION_LIFETIME`]; an Allocate carrying the token gets
//! it without a new bind. An unclaimed reservation is released when it
//! expires.

use core::net::{IpAddr, SocketAddr};
use core::time::Duration;
use std::collections::BTreeSet;
use std::time::Instant;

use stun_proto::TransactionId;
use stun_proto::attr::AddressFamily;

use super::allocation::{Allocation, FiveTuple, TurnEvent};
use super::auth::Authenticated;
use super::channel::Channels;
use super::config::RESERVATION_LIFETIME;
use super::dropped::TurnDropped;
use super::permission::Permissions;
use super::quota::TokenBucket;
use super::response::{self, Allocated, Reply, Sign};
use super::rng::Rng;
use super::{Timer, TurnServer, TurnTransmit};

/// How many addresses one Allocate tries per family before giving up.
pub const BIND_ATTEMPTS: u8 = 8;

/// The ports the server holds: bound, being bound, or reserved.
#[derive(Clone, Debug)]
pub(crate) struct RelayPool {
    first: u16,
    last: u16,
    used: BTreeSet<SocketAddr>,
}

impl RelayPool {
    pub(crate) fn new((first, last): (u16, u16)) -> RelayPool {
        RelayPool {
            first,
            last,
            used: BTreeSet::new(),
        }
    }

    pub(crate) fn holds(&self, addr: SocketAddr) -> bool {
        self.used.contains(&addr)
    }

    pub(crate) fn free(&mut self, addr: SocketAddr) {
        self.used.remove(&addr);
    }

    /// A free port at `ip` (even if asked), from a random start, marked
    /// used. With `pair`, an even N whose N+1 is free too; returns N.
    fn pick(&mut self, rng: &mut Rng, ip: IpAddr, even: bool, pair: bool) -> Option<u16> {
        let span = u64::from(self.last - self.first) + 1;
        let start = rng.below(span);
        for i in 0..span {
            let offset = u16::try_from((start + i) % span).ok()?;
            let port = self.first.checked_add(offset)?;
            if (even || pair) && port % 2 != 0 {
                continue;
            }
            let free = |p: u16| !self.used.contains(&SocketAddr::new(ip, p));
            if !free(port) {
                continue;
            }
            if pair {
                match port.checked_add(1) {
                    Some(next) if next <= self.last && free(next) => {
                        self.used.insert(SocketAddr::new(ip, next));
                    }
                    _ => continue,
                }
            }
            self.used.insert(SocketAddr::new(ip, port));
            return Some(port);
        }
        None
    }
}

/// A port held for a later Allocate (EVEN-PORT with the R bit).
#[derive(Clone, Copy, Debug)]
pub(crate) struct Reservation {
    pub relay: SocketAddr,
    pub expires: Instant,
}

/// The addresses of one family an Allocate needs.
#[derive(Clone, Debug)]
pub(crate) struct Group {
    ip: IpAddr,
    even: bool,
    reserve: bool,
    /// The additional family of a dual allocation: giving up on it still
    /// lets the allocation succeed.
    optional: bool,
    slots: Vec<(SocketAddr, bool)>,
    attempts: u8,
}

impl Group {
    pub(crate) fn new(ip: IpAddr, even: bool, reserve: bool, optional: bool) -> Group {
        Group {
            ip,
            even,
            reserve,
            optional,
            slots: Vec::new(),
            attempts: 0,
        }
    }

    fn bound(&self) -> bool {
        !self.slots.is_empty() && self.slots.iter().all(|(_, b)| *b)
    }
}

/// An Allocate waiting for its binds.
#[derive(Debug)]
pub(crate) struct Pending {
    pub five: FiveTuple,
    pub txid: TransactionId,
    pub auth: Authenticated,
    pub lifetime: Duration,
    pub groups: Vec<Group>,
    pub address_error: Option<(AddressFamily, u16)>,
    /// Ports whose bind failed: held until the request ends, so that it
    /// does not try them again.
    pub failed: Vec<SocketAddr>,
}

fn family(ip: IpAddr) -> AddressFamily {
    if ip.is_ipv4() {
        AddressFamily::V4
    } else {
        AddressFamily::V6
    }
}

impl TurnServer {
    /// Picks the addresses of group `g` of pending `pid` and asks for
    /// them. `false` if the range has no room.
    fn bind_group(&mut self, pid: u64, g: usize) -> bool {
        let Some(group) = self.pending.get_mut(&pid).and_then(|p| p.groups.get_mut(g)) else {
            return false;
        };
        let Some(port) = self
            .pool
            .pick(&mut self.rng, group.ip, group.even, group.reserve)
        else {
            return false;
        };
        group.attempts = group.attempts.saturating_add(1);
        group.slots.clear();
        group.slots.push((SocketAddr::new(group.ip, port), false));
        if group.reserve {
            group
                .slots
                .push((SocketAddr::new(group.ip, port.saturating_add(1)), false));
        }
        let addrs: Vec<SocketAddr> = group.slots.iter().map(|(a, _)| *a).collect();
        for relay in addrs {
            self.binding.insert(relay, pid);
            self.events.push_back(TurnEvent::BindRelay { relay });
        }
        true
    }

    /// Starts the binds of a new pending Allocate; `false` (nothing held)
    /// if the port range has no room for a required family.
    pub(crate) fn start_pending(&mut self, pending: Pending) -> bool {
        let pid = self.next_id;
        self.next_id += 1;
        let groups = pending.groups.len();
        let five = pending.five;
        self.pending.insert(pid, pending);
        self.pending_by_five.insert(five, pid);
        for g in 0..groups {
            if !self.bind_group(pid, g) {
                let optional = self
                    .pending
                    .get(&pid)
                    .and_then(|p| p.groups.get(g))
                    .is_some_and(|gr| gr.optional);
                if optional {
                    self.drop_optional(pid, g);
                } else {
                    self.abandon_pending(pid);
                    return false;
                }
            }
        }
        true
    }

    /// Gives up the additional family of a dual allocation.
    fn drop_optional(&mut self, pid: u64, g: usize) {
        if let Some(p) = self.pending.get_mut(&pid) {
            if let Some(group) = p.groups.get(g) {
                p.address_error = Some((family(group.ip), 508));
                p.groups.remove(g);
            }
        }
    }

    /// Lets go of every address of group slots: bound ones are released,
    /// ones still binding are abandoned (released if their bind succeeds).
    fn let_go(&mut self, slots: &[(SocketAddr, bool)]) {
        for (addr, bound) in slots {
            self.binding.remove(addr);
            if *bound {
                self.release_relay(*addr);
            } else {
                self.abandoned.insert(*addr);
            }
        }
    }

    /// Forgets a pending Allocate (its request gave up or its connection
    /// closed), returning its quota.
    pub(crate) fn abandon_pending(&mut self, pid: u64) {
        let Some(p) = self.pending.remove(&pid) else {
            return;
        };
        self.pending_by_five.remove(&p.five);
        self.quotas.release(&p.auth.username);
        for failed in &p.failed {
            self.pool.free(*failed);
        }
        for group in &p.groups {
            self.let_go(&group.slots);
        }
    }

    pub(crate) fn relay_bound(
        &mut self,
        now: Instant,
        relay: SocketAddr,
        result: Result<(), std::io::ErrorKind>,
    ) -> Result<(), TurnDropped> {
        if self.abandoned.remove(&relay) {
            match result {
                Ok(()) => self.release_relay(relay),
                Err(_) => self.pool.free(relay),
            }
            return Ok(());
        }
        let pid = self
            .binding
            .remove(&relay)
            .ok_or(TurnDropped::UnknownRelay { relay })?;
        let Some(g) = self.pending.get(&pid).and_then(|p| {
            p.groups
                .iter()
                .position(|gr| gr.slots.iter().any(|(a, _)| *a == relay))
        }) else {
            return Err(TurnDropped::UnknownRelay { relay });
        };
        match result {
            Ok(()) => {
                if let Some(slot) = self
                    .pending
                    .get_mut(&pid)
                    .and_then(|p| p.groups.get_mut(g))
                    .and_then(|gr| gr.slots.iter_mut().find(|(a, _)| *a == relay))
                {
                    slot.1 = true;
                }
            }
            Err(_) => {
                if let Some(p) = self.pending.get_mut(&pid) {
                    p.failed.push(relay);
                }
                let (others, attempts, optional) =
                    match self.pending.get_mut(&pid).and_then(|p| p.groups.get_mut(g)) {
                        Some(gr) => {
                            let others: Vec<_> =
                                gr.slots.drain(..).filter(|(a, _)| *a != relay).collect();
                            (others, gr.attempts, gr.optional)
                        }
                        None => return Ok(()),
                    };
                self.let_go(&others);
                if attempts >= BIND_ATTEMPTS || !self.bind_group(pid, g) {
                    if optional {
                        self.drop_optional(pid, g);
                    } else {
                        return self.fail_pending(pid);
                    }
                }
            }
        }
        let done = self
            .pending
            .get(&pid)
            .is_some_and(|p| p.groups.iter().all(Group::bound));
        if done {
            self.complete(now, pid)?;
        }
        Ok(())
    }

    /// No address could be bound: 508.
    fn fail_pending(&mut self, pid: u64) -> Result<(), TurnDropped> {
        let Some(p) = self.pending.get(&pid) else {
            return Ok(());
        };
        let (five, txid, auth) = (p.five, p.txid, p.auth.clone());
        self.abandon_pending(pid);
        self.stats.errors = self.stats.errors.saturating_add(1);
        self.respond_error(five, stun_proto::Method::ALLOCATE, txid, 508, &auth)
    }

    /// Every address is bound: the allocation exists.
    fn complete(&mut self, now: Instant, pid: u64) -> Result<(), TurnDropped> {
        let Some(p) = self.pending.remove(&pid) else {
            return Ok(());
        };
        self.pending_by_five.remove(&p.five);
        for failed in &p.failed {
            self.pool.free(*failed);
        }
        let mut relays = Vec::new();
        let mut token = None;
        for group in &p.groups {
            let mut slots = group.slots.iter().map(|(a, _)| *a);
            if let Some(main) = slots.next() {
                relays.push(main);
            }
            if let Some(reserved) = slots.next() {
                let mut t = [0u8; 8];
                self.rng.fill(&mut t);
                let expires = now + RESERVATION_LIFETIME;
                self.reservations.insert(
                    t,
                    Reservation {
                        relay: reserved,
                        expires,
                    },
                );
                self.schedule(expires, Timer::Reservation(t));
                token = Some(t);
            }
        }
        self.create(now, p, relays, token)
    }

    /// Makes the allocation and answers the Allocate.
    pub(crate) fn create(
        &mut self,
        now: Instant,
        p: Pending,
        relays: Vec<SocketAddr>,
        token: Option<[u8; 8]>,
    ) -> Result<(), TurnDropped> {
        let id = self.next_id;
        self.next_id += 1;
        let expires = now + p.lifetime;
        for relay in &relays {
            self.by_relay.insert(*relay, id);
        }
        self.by_five.insert(p.five, id);
        self.events.push_back(TurnEvent::Allocated {
            five_tuple: p.five,
            relays: relays.clone(),
            username: p.auth.username.clone(),
        });
        let allocation = Allocation {
            five: p.five,
            relays,
            username: p.auth.username.clone(),
            expires,
            txid: p.txid,
            granted: p.lifetime,
            token,
            address_error: p.address_error,
            permissions: Permissions::default(),
            channels: Channels::default(),
            bucket: self.config.bandwidth.map(|cap| TokenBucket::new(cap, now)),
        };
        self.schedule(expires, Timer::Expire(id));
        self.stats.successes = self.stats.successes.saturating_add(1);
        let result = self.allocate_success(&allocation, &p.auth);
        self.allocations.insert(id, allocation);
        result
    }

    /// The Allocate success for an allocation (first answer or
    /// retransmission).
    pub(crate) fn allocate_success(
        &mut self,
        a: &Allocation,
        auth: &Authenticated,
    ) -> Result<(), TurnDropped> {
        let reply = Reply {
            method: stun_proto::Method::ALLOCATE,
            id: a.txid,
            software: self.config.software.as_deref(),
        };
        let mapped = SocketAddr::new(a.five.client.ip().to_canonical(), a.five.client.port());
        let mut data = Vec::with_capacity(160);
        response::allocate_success(
            &mut data,
            &reply,
            &Allocated {
                relays: &a.relays,
                mapped,
                lifetime: a.granted,
                token: a.token,
                address_error: a.address_error,
            },
            Sign::Key(&auth.key, auth.integrity),
        )?;
        self.send_to_client(a.five, data);
        Ok(())
    }

    /// Queues a message for the client of `five` (the queue was checked
    /// when the request came in; a response is never lost for it).
    pub(crate) fn send_to_client(&mut self, five: FiveTuple, data: Vec<u8>) {
        self.queue.push_back(TurnTransmit {
            transport: five.transport,
            from: five.server,
            to: five.client,
            data,
        });
    }

    /// Claims a reservation for an Allocate with RESERVATION-TOKEN.
    pub(crate) fn claim_reservation(
        &mut self,
        token: &[u8; 8],
        now: Instant,
    ) -> Option<SocketAddr> {
        let r = self.reservations.get(token)?;
        if r.expires <= now {
            return None;
        }
        self.reservations.remove(token).map(|r| r.relay)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn picks_free_even_ports_and_pairs() {
        let mut pool = RelayPool::new((50000, 50003));
        let mut rng = Rng::new(3);
        let ip: IpAddr = "192.0.2.1".parse().unwrap();
        let n = pool.pick(&mut rng, ip, false, true).unwrap();
        assert_eq!(n % 2, 0);
        assert!(pool.holds(SocketAddr::new(ip, n + 1)));
        let m = pool.pick(&mut rng, ip, false, true).unwrap();
        assert_ne!(n, m);
        assert_eq!(pool.pick(&mut rng, ip, false, false), None, "range full");
        pool.free(SocketAddr::new(ip, 50001));
        assert_eq!(
            pool.pick(&mut rng, ip, true, false),
            None,
            "no even port free"
        );
        assert_eq!(pool.pick(&mut rng, ip, false, false), Some(50001));
    }
}
