//! The event loop: a virtual clock and a queue of timed events.
//!
//! Events are datagram arrivals (a datagram has crossed a network and
//! reaches its next hop) and host timers. The queue is ordered by (virtual
//! time, sequence number), so events at the same instant run in the order
//! they were scheduled and a run is a function of its seed. After every
//! input an endpoint's transmits are drained (each enters the host's network
//! and its link, see [`super::link`]) and its timer is re-armed from
//! `poll_timeout`; a generation counter makes superseded timer events stale.
//! Routing and middlebox traversal follow [`super::topology`] (RFC 4787 for
//! NATs, see [`super::nat`]).

use std::cmp::Ordering;
use std::time::{Duration, Instant};

use stun_proto::Transmit;

use super::topology::{MAX_HOPS, Packet, Route};
use super::{DropReason, HostId, NetworkId, Sim, TraceKind, pcap};

pub(super) enum EventKind {
    Arrive { net: NetworkId, packet: Packet },
    Timer { host: HostId, generation: u64 },
}

pub(super) struct Event {
    at: Duration,
    seq: u64,
    kind: EventKind,
}

impl PartialEq for Event {
    fn eq(&self, other: &Self) -> bool {
        (self.at, self.seq) == (other.at, other.seq)
    }
}

impl Eq for Event {}

impl PartialOrd for Event {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Event {
    /// Reversed, so that the max-heap pops the earliest (time, sequence).
    fn cmp(&self, other: &Self) -> Ordering {
        (other.at, other.seq).cmp(&(self.at, self.seq))
    }
}

impl Sim {
    // ----- running -----

    /// Sets how many events may run at one virtual instant before the run
    /// is declared a runaway (an endpoint that never lets time advance).
    pub fn set_event_limit(&mut self, limit: u64) {
        self.event_limit = limit;
    }

    /// Runs every event up to `now + duration`, then sets the clock there.
    pub fn run_for(&mut self, duration: Duration) {
        let deadline = self.now.saturating_add(duration);
        self.run_to(deadline);
    }

    /// Runs every event up to `deadline`, then sets the clock there (if it
    /// is in the future).
    pub fn run_until(&mut self, deadline: Instant) {
        self.run_to(self.elapsed_of(deadline));
    }

    /// Runs until `done` holds (checked before the first event and after
    /// each one) or `limit` of virtual time has passed. Returns whether
    /// `done` held; on success the clock is at the event that made it so.
    pub fn run_until_condition(
        &mut self,
        limit: Duration,
        mut done: impl FnMut(&Sim) -> bool,
    ) -> bool {
        let deadline = self.now.saturating_add(limit);
        if done(self) {
            return true;
        }
        while self.step_until(deadline) {
            if done(self) {
                return true;
            }
        }
        self.now = self.now.max(deadline);
        done(self)
    }

    /// Runs the next event, whenever it is. Returns false if there is none.
    pub fn step(&mut self) -> bool {
        self.step_until(Duration::MAX)
    }

    /// When the next event is due, if any.
    pub fn next_event_at(&self) -> Option<Instant> {
        self.queue.peek().map(|e| self.base + e.at)
    }

    fn run_to(&mut self, deadline: Duration) {
        while self.step_until(deadline) {}
        self.now = self.now.max(deadline);
    }

    fn step_until(&mut self, deadline: Duration) -> bool {
        match self.queue.peek() {
            Some(e) if e.at <= deadline => {}
            _ => return false,
        }
        let Some(event) = self.queue.pop() else {
            return false;
        };
        if event.at > self.now {
            self.now = event.at;
            self.events_now = 0;
        }
        self.events_now += 1;
        if self.events_now > self.event_limit {
            self.runaway("events");
        }
        match event.kind {
            EventKind::Arrive { net, packet } => self.arrive(net, packet),
            EventKind::Timer { host, generation } => self.fire_timer(host, generation),
        }
        true
    }

    fn runaway(&self, what: &str) -> ! {
        panic!(
            "netsim: more than {} {what} at virtual time {:?}: an endpoint never lets time advance \
             (seed {seed}; reproduce with NETSIM_SEED={seed})",
            self.event_limit,
            self.now,
            seed = self.seed,
        )
    }

    fn push(&mut self, at: Duration, kind: EventKind) {
        let seq = self.next_seq;
        self.next_seq += 1;
        self.queue.push(Event { at, seq, kind });
    }

    // ----- the datagram path -----

    /// Drains the endpoint's transmits and re-arms its timer.
    pub(super) fn after_input(&mut self, host: HostId) {
        let mut drained = 0u64;
        while let Some(t) = self.hosts[host.0].endpoint.poll_transmit() {
            drained += 1;
            if drained > self.event_limit {
                self.runaway("transmits from one input");
            }
            self.emit(host, t);
        }
        let now = self.now;
        let want = self.hosts[host.0]
            .endpoint
            .poll_timeout()
            .map(|t| self.elapsed_of(t).max(now));
        let h = &mut self.hosts[host.0];
        if want == h.armed {
            return;
        }
        h.generation += 1;
        h.armed = want;
        let generation = h.generation;
        if let Some(at) = want {
            self.push(at, EventKind::Timer { host, generation });
        }
    }

    fn fire_timer(&mut self, host: HostId, generation: u64) {
        let now = self.now();
        let h = &mut self.hosts[host.0];
        if h.generation != generation {
            return; // re-armed since: a stale event
        }
        h.armed = None;
        h.endpoint.handle_timeout(now);
        self.stats.timeouts += 1;
        self.record(TraceKind::Timeout { host });
        self.after_input(host);
    }

    /// A datagram from an endpoint enters its host's network.
    pub(super) fn emit(&mut self, host: HostId, t: Transmit) {
        let h = &self.hosts[host.0];
        let net = h.network;
        let packet = Packet::new(t.from, t.to, t.data);
        if !h.ips.contains(&packet.src.ip()) {
            self.drop_packet(net, DropReason::BadSource, &packet);
            return;
        }
        self.stats.sent += 1;
        self.record(TraceKind::Sent {
            host,
            from: packet.src,
            to: packet.dst,
            len: packet.data.len(),
        });
        if packet.src.is_ipv4() != packet.dst.is_ipv4() {
            self.drop_packet(net, DropReason::Unroutable, &packet);
            return;
        }
        self.send_onto(net, packet);
    }

    /// A datagram enters `net`: the link decides its fate and delay.
    fn send_onto(&mut self, net: NetworkId, mut packet: Packet) {
        packet.hops = packet.hops.saturating_add(1);
        if packet.hops > MAX_HOPS {
            self.drop_packet(net, DropReason::Unroutable, &packet);
            return;
        }
        let ip_len = pcap::ip_packet_len(packet.dst.ip(), packet.data.len());
        let arrivals = match self.topo.network(net).link.transit(ip_len, &mut self.rng) {
            Ok(arrivals) => arrivals,
            Err(reason) => {
                self.drop_packet(net, reason, &packet);
                return;
            }
        };
        self.stats.duplicated += arrivals.len().saturating_sub(1) as u64;
        for a in arrivals {
            if a.reordered {
                self.stats.reordered += 1;
            }
            let at = self.now.saturating_add(a.delay);
            let packet = packet.clone();
            self.push(at, EventKind::Arrive { net, packet });
        }
    }

    /// A datagram has crossed `net` and reaches its next hop.
    fn arrive(&mut self, net: NetworkId, packet: Packet) {
        let now = self.now;
        if let Some(c) = &mut self.topo.network_mut(net).capture {
            c.record(now, packet.src, packet.dst, &packet.data);
        }
        let forwarded = match self.topo.route(net, packet.dst.ip()) {
            Route::Host(h) => return self.deliver(h, packet),
            Route::Unroutable => Err(DropReason::Unroutable),
            Route::Down(b) => self.topo.forward_down(b, now, packet.clone()),
            Route::Up(b) => self.topo.forward_up(b, now, &mut self.rng, packet.clone()),
        };
        match forwarded {
            Ok((next, p)) => self.send_onto(next, p),
            Err(reason) => self.drop_packet(net, reason, &packet),
        }
    }

    fn deliver(&mut self, host: HostId, packet: Packet) {
        self.stats.delivered += 1;
        self.record(TraceKind::Delivered {
            host,
            local: packet.dst,
            remote: packet.src,
            len: packet.data.len(),
        });
        let now = self.now();
        self.hosts[host.0]
            .endpoint
            .handle_packet(now, packet.dst, packet.src, &packet.data);
        self.after_input(host);
    }

    fn drop_packet(&mut self, network: NetworkId, reason: DropReason, packet: &Packet) {
        self.stats.count_drop(reason);
        self.record(TraceKind::Dropped {
            reason,
            network,
            src: packet.src,
            dst: packet.dst,
            len: packet.data.len(),
        });
    }
}
