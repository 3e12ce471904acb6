//! The endpoint interface the simulator drives, and two simple endpoints.
//!
//! Every sans-IO component of the stack has the verb grammar of DESIGN.md
//! (`handle_packet`, `handle_timeout`, `poll_transmit`, `poll_timeout`);
//! [`Endpoint`] is that grammar as a trait so that one simulation can hold
//! STUN servers, discovery clients and agents side by side. After each input
//! the simulator drains `poll_transmit` and then re-arms the host's timer
//! from `poll_timeout`.
//!
//! [`Probe`] records what it receives and sends what the test tells it to;
//! [`Echo`] also sends every datagram back where it came from.

use std::any::Any;
use std::collections::{BTreeMap, VecDeque};
use std::net::SocketAddr;
use std::time::Instant;

use stun_proto::Transmit;

/// A sans-IO component the simulator can run on a host.
///
/// The host's endpoint receives every datagram addressed to any of the
/// host's IPs, whatever the port (`local` is the destination). A transmit
/// whose `from` is not one of the host's IPs is dropped with
/// [`super::DropReason::BadSource`].
pub trait Endpoint: Any {
    /// A datagram from `remote` arrived at `local`.
    fn handle_packet(&mut self, now: Instant, local: SocketAddr, remote: SocketAddr, data: &[u8]);
    /// The instant last returned by [`Endpoint::poll_timeout`] has come.
    fn handle_timeout(&mut self, now: Instant);
    /// The next datagram to send, if any.
    fn poll_transmit(&mut self) -> Option<Transmit>;
    /// When the endpoint next wants [`Endpoint::handle_timeout`].
    fn poll_timeout(&self) -> Option<Instant>;
}

/// An [`Endpoint`] the simulator can also downcast to its concrete type.
/// Implemented for every endpoint; users never name it.
pub(crate) trait Hosted: Endpoint {
    fn as_any(&self) -> &dyn Any;
    fn as_any_mut(&mut self) -> &mut dyn Any;
}

impl<E: Endpoint> Hosted for E {
    fn as_any(&self) -> &dyn Any {
        self
    }

    fn as_any_mut(&mut self) -> &mut dyn Any {
        self
    }
}

/// A datagram an endpoint received.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Received {
    /// When it arrived.
    pub at: Instant,
    /// Where it arrived (the destination address).
    pub local: SocketAddr,
    /// Where it came from, as seen after any NAT.
    pub remote: SocketAddr,
    /// The payload.
    pub data: Vec<u8>,
}

/// Records every datagram and sends what it is told to.
///
/// Queue datagrams with [`Probe::send`] (through
/// [`super::Sim::with_endpoint`], so the simulator drains them at once) or
/// schedule them with [`Probe::send_at`] (which works before the run
/// starts, too: add the probe with its schedule).
#[derive(Clone, Debug, Default)]
pub struct Probe {
    /// Everything received, in order.
    pub received: Vec<Received>,
    outbox: VecDeque<Transmit>,
    scheduled: BTreeMap<(Instant, u64), Transmit>,
    next_seq: u64,
}

impl Probe {
    /// A probe with nothing to send.
    pub fn new() -> Probe {
        Probe::default()
    }

    /// Queues a datagram to send now.
    pub fn send(&mut self, from: SocketAddr, to: SocketAddr, data: impl Into<Vec<u8>>) {
        self.outbox.push_back(Transmit {
            from,
            to,
            data: data.into(),
        });
    }

    /// Schedules a datagram to send at `at`; datagrams scheduled for the
    /// same instant go in the order they were scheduled.
    pub fn send_at(
        &mut self,
        at: Instant,
        from: SocketAddr,
        to: SocketAddr,
        data: impl Into<Vec<u8>>,
    ) {
        let transmit = Transmit {
            from,
            to,
            data: data.into(),
        };
        self.scheduled.insert((at, self.next_seq), transmit);
        self.next_seq += 1;
    }

    /// Builder form of [`Probe::send_at`].
    pub fn with_send_at(
        mut self,
        at: Instant,
        from: SocketAddr,
        to: SocketAddr,
        data: impl Into<Vec<u8>>,
    ) -> Probe {
        self.send_at(at, from, to, data);
        self
    }

    /// The remote endpoints datagrams came from, in order.
    pub fn remotes(&self) -> Vec<SocketAddr> {
        self.received.iter().map(|r| r.remote).collect()
    }

    /// The payloads received, in order.
    pub fn payloads(&self) -> Vec<&[u8]> {
        self.received.iter().map(|r| r.data.as_slice()).collect()
    }
}

impl Endpoint for Probe {
    fn handle_packet(&mut self, now: Instant, local: SocketAddr, remote: SocketAddr, data: &[u8]) {
        self.received.push(Received {
            at: now,
            local,
            remote,
            data: data.to_vec(),
        });
    }

    fn handle_timeout(&mut self, now: Instant) {
        while let Some(entry) = self.scheduled.first_entry() {
            if entry.key().0 > now {
                break;
            }
            self.outbox.push_back(entry.remove());
        }
    }

    fn poll_transmit(&mut self) -> Option<Transmit> {
        self.outbox.pop_front()
    }

    fn poll_timeout(&self) -> Option<Instant> {
        self.scheduled.keys().next().map(|(at, _)| *at)
    }
}

/// Sends every datagram back to where it came from, from where it arrived,
/// and records it like a [`Probe`].
#[derive(Clone, Debug, Default)]
pub struct Echo {
    /// Everything received, in order.
    pub received: Vec<Received>,
    outbox: VecDeque<Transmit>,
}

impl Echo {
    /// An echo endpoint.
    pub fn new() -> Echo {
        Echo::default()
    }
}

impl Endpoint for Echo {
    fn handle_packet(&mut self, now: Instant, local: SocketAddr, remote: SocketAddr, data: &[u8]) {
        self.received.push(Received {
            at: now,
            local,
            remote,
            data: data.to_vec(),
        });
        self.outbox.push_back(Transmit {
            from: local,
            to: remote,
            data: data.to_vec(),
        });
    }

    fn handle_timeout(&mut self, _now: Instant) {}

    fn poll_transmit(&mut self) -> Option<Transmit> {
        self.outbox.pop_front()
    }

    fn poll_timeout(&self) -> Option<Instant> {
        None
    }
}
