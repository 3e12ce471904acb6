//! The event loop: timers, stale timers, draining after each input, the
//! runaway guard and the ways to run.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use common::*;
use ice_tests::netsim::{Echo, Endpoint, Link, Probe, Sim};
use stun_proto::Transmit;

/// Wants a timeout every `period`, starting one period after `start`.
struct Ticker {
    period: Duration,
    next: Instant,
    ticks: Vec<Instant>,
}

impl Endpoint for Ticker {
    fn handle_packet(&mut self, _: Instant, _: SocketAddr, _: SocketAddr, _: &[u8]) {}
    fn handle_timeout(&mut self, now: Instant) {
        if now >= self.next {
            self.ticks.push(now);
            self.next += self.period;
        }
    }
    fn poll_transmit(&mut self) -> Option<Transmit> {
        None
    }
    fn poll_timeout(&self) -> Option<Instant> {
        Some(self.next)
    }
}

#[test]
fn timers_fire_at_the_requested_virtual_instants() {
    let mut sim = Sim::new(0);
    let inet = sim.internet();
    let ticker = Ticker {
        period: ms(100),
        next: sim.at(ms(100)),
        ticks: Vec::new(),
    };
    let h = sim.add_host(inet, &[ip("192.0.2.1")], ticker);
    sim.run_for(secs(1));
    let expected: Vec<Instant> = (1..=10).map(|i| sim.at(ms(100 * i))).collect();
    assert_eq!(sim.endpoint::<Ticker>(h).ticks, expected);
    assert_eq!(sim.stats().timeouts, 10);
    assert_eq!(sim.next_event_at(), Some(sim.at(ms(1100))));
}

/// Times out one second after the last datagram it received; records when.
struct IdleTimer {
    deadline: Option<Instant>,
    timeouts: Vec<Instant>,
}

impl Endpoint for IdleTimer {
    fn handle_packet(&mut self, now: Instant, _: SocketAddr, _: SocketAddr, _: &[u8]) {
        self.deadline = Some(now + secs(1));
    }
    fn handle_timeout(&mut self, now: Instant) {
        self.timeouts.push(now);
        self.deadline = None;
    }
    fn poll_transmit(&mut self) -> Option<Transmit> {
        None
    }
    fn poll_timeout(&self) -> Option<Instant> {
        self.deadline
    }
}

#[test]
fn a_rearmed_timer_does_not_fire_at_its_old_instant() {
    let mut sim = Sim::new(0);
    let inet = sim.internet();
    let idle = IdleTimer {
        deadline: None,
        timeouts: Vec::new(),
    };
    let h = sim.add_host(inet, &[ip("192.0.2.1")], idle);
    let mut probe = Probe::new();
    for t in [0, 500, 700] {
        probe.send_at(sim.at(ms(t)), sa("192.0.2.2:1"), sa("192.0.2.1:1"), *b"x");
    }
    sim.add_host(inet, &[ip("192.0.2.2")], probe);
    sim.run_for(secs(5));
    assert_eq!(
        sim.endpoint::<IdleTimer>(h).timeouts,
        vec![sim.at(ms(1700))]
    );
    assert_eq!(
        sim.stats().timeouts,
        3 + 1,
        "the probe's three sends and one idle timeout"
    );
}

/// Always wants a timeout at the start, long past: a bug the runaway guard
/// must catch (the simulator clamps the instant to now, every time).
struct Spinner(Instant);

impl Endpoint for Spinner {
    fn handle_packet(&mut self, _: Instant, _: SocketAddr, _: SocketAddr, _: &[u8]) {}
    fn handle_timeout(&mut self, _: Instant) {}
    fn poll_transmit(&mut self) -> Option<Transmit> {
        None
    }
    fn poll_timeout(&self) -> Option<Instant> {
        Some(self.0)
    }
}

#[test]
#[should_panic(expected = "reproduce with NETSIM_SEED=7")]
fn an_endpoint_that_never_lets_time_advance_is_stopped_with_its_seed() {
    let mut sim = Sim::new(7);
    sim.set_event_limit(1000);
    let inet = sim.internet();
    let start = sim.start();
    sim.run_for(secs(1));
    sim.add_host(inet, &[ip("192.0.2.1")], Spinner(start));
    sim.run_for(secs(1));
}

#[test]
#[should_panic(expected = "reproduce with NETSIM_SEED=3")]
fn two_echoes_on_an_ideal_link_ping_pong_forever_and_are_stopped() {
    let mut sim = Sim::new(3);
    sim.set_event_limit(1000);
    let inet = sim.internet();
    let a = sim.add_host(inet, &[ip("192.0.2.1")], Echo::new());
    sim.add_host(inet, &[ip("192.0.2.2")], Echo::new());
    sim.inject(a, udp("192.0.2.1:1", "192.0.2.2:1", b"ball"));
    sim.run_for(secs(1));
}

#[test]
fn echoes_with_latency_ping_pong_at_the_link_rate() {
    let mut sim = Sim::new(3);
    let inet = sim.internet();
    sim.set_link(inet, Link::with_latency(ms(10)));
    let a = sim.add_host(inet, &[ip("192.0.2.1")], Echo::new());
    let b = sim.add_host(inet, &[ip("192.0.2.2")], Echo::new());
    sim.inject(a, udp("192.0.2.1:1", "192.0.2.2:1", b"ball"));
    sim.run_for(ms(1000));
    assert_eq!(sim.endpoint::<Echo>(b).received.len(), 50);
    assert_eq!(sim.endpoint::<Echo>(a).received.len(), 50);
}

#[test]
fn run_until_condition_stops_at_the_event_that_satisfies_it() {
    let mut sim = Sim::new(0);
    let inet = sim.internet();
    sim.set_link(inet, Link::with_latency(ms(25)));
    let server = sim.add_host(inet, &[ip(S1)], Echo::new());
    let client = sim.add_host(inet, &[ip("192.0.2.1")], Probe::new());
    sim.with_endpoint::<Probe, _>(client, |p, _| {
        p.send(sa("192.0.2.1:5000"), sa("198.51.100.1:3478"), *b"hello");
    });
    let done = sim.run_until_condition(secs(5), |s| {
        !s.endpoint::<Probe>(client).received.is_empty()
    });
    assert!(done);
    assert_eq!(sim.elapsed(), ms(50));
    assert_eq!(sim.endpoint::<Echo>(server).received.len(), 1);
    let never =
        sim.run_until_condition(secs(2), |s| s.endpoint::<Probe>(client).received.len() > 1);
    assert!(!never);
    assert_eq!(sim.elapsed(), ms(2050));
}

#[test]
fn queued_output_of_a_new_host_is_sent_at_once() {
    let mut sim = Sim::new(0);
    let inet = sim.internet();
    let server = sim.add_host(inet, &[ip(S1)], Probe::new());
    let mut probe = Probe::new();
    probe.send(sa("192.0.2.1:1"), sa("198.51.100.1:2"), *b"early");
    sim.add_host(inet, &[ip("192.0.2.1")], probe);
    assert!(sim.step(), "the datagram is in flight");
    assert_eq!(
        sim.endpoint::<Probe>(server).payloads(),
        vec![b"early".as_slice()]
    );
    assert!(!sim.step());
}

#[test]
fn endpoint_mut_then_wake_sends() {
    let mut sim = Sim::new(0);
    let inet = sim.internet();
    let server = sim.add_host(inet, &[ip(S1)], Probe::new());
    let client = sim.add_host(inet, &[ip("192.0.2.1")], Probe::new());
    sim.endpoint_mut::<Probe>(client)
        .send(sa("192.0.2.1:1"), sa("198.51.100.1:2"), *b"late");
    sim.run_for(ms(10));
    assert!(
        sim.endpoint::<Probe>(server).received.is_empty(),
        "not drained yet"
    );
    sim.wake(client);
    sim.run_for(ms(10));
    assert_eq!(sim.endpoint::<Probe>(server).received.len(), 1);
}

#[test]
#[should_panic(expected = "Probe, not ")]
fn asking_for_the_wrong_endpoint_type_panics_clearly() {
    let mut sim = Sim::new(0);
    let inet = sim.internet();
    let h = sim.add_host(inet, &[ip("192.0.2.1")], Probe::new());
    sim.endpoint::<Echo>(h);
}

#[test]
fn run_until_a_past_instant_does_not_move_the_clock_back() {
    let mut sim = Sim::new(0);
    sim.run_for(secs(3));
    sim.run_until(sim.at(secs(1)));
    assert_eq!(sim.elapsed(), secs(3));
    assert_eq!(sim.now(), sim.start() + secs(3));
}
