//! Two ICE agents in netsim, with the signalling between them.
//!
//! Each agent runs on a host as a [`Peer`] endpoint; the test's signalling
//! channel carries credentials, candidates and end-of-candidates from one
//! agent's events to the other's API, after [`Signalling::delay`], possibly
//! duplicated or reordered. Every event is recorded with its virtual time so
//! tests can assert on what happened and when.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use ice::{Agent, AgentConfig, Candidate, ConnectionState, Event, StreamConfig, StreamId};
use rand_chacha::ChaCha8Rng;
use rand_core::{Rng, SeedableRng};
use stun_proto::Transmit;

use crate::netsim::{Endpoint, HostId, Sim};

/// An agent as a netsim endpoint, with its recorded events.
pub struct Peer {
    /// The agent.
    pub agent: Agent,
    /// Its (single) stream.
    pub stream: StreamId,
    /// Events not yet carried to the peer, with when they happened.
    pending: Vec<(Instant, Event)>,
    /// Every event, with when it happened.
    pub log: Vec<(Instant, Event)>,
}

impl Peer {
    /// An agent with one stream of one component on `sockets`.
    pub fn new(config: AgentConfig, now: Instant, sockets: Vec<SocketAddr>) -> Peer {
        let mut agent = Agent::new(config, now);
        let stream = agent
            .add_stream(now, StreamConfig::single(sockets))
            .expect("a fresh agent takes a stream");
        let mut p = Peer {
            agent,
            stream,
            pending: Vec::new(),
            log: Vec::new(),
        };
        p.drain(now);
        p
    }

    fn drain(&mut self, now: Instant) {
        while let Some(e) = self.agent.poll_event() {
            self.log.push((now, e.clone()));
            self.pending.push((now, e));
        }
    }

    /// The latest state the agent reported.
    pub fn state(&self) -> ConnectionState {
        self.log
            .iter()
            .rev()
            .find_map(|(_, e)| match e {
                Event::StateChanged { state, .. } => Some(*state),
                _ => None,
            })
            .unwrap_or(ConnectionState::New)
    }

    /// The last selected pair (local, remote), if any.
    pub fn selected(&self) -> Option<(Candidate, Candidate)> {
        self.log.iter().rev().find_map(|(_, e)| match e {
            Event::SelectedPair { local, remote, .. } => Some((local.clone(), remote.clone())),
            _ => None,
        })
    }

    /// When the agent first reported `state`.
    pub fn reached(&self, state: ConnectionState) -> Option<Instant> {
        self.log.iter().find_map(|(t, e)| match e {
            Event::StateChanged { state: s, .. } if *s == state => Some(*t),
            _ => None,
        })
    }

    /// Application data received, in order.
    pub fn received(&self) -> Vec<Vec<u8>> {
        self.log
            .iter()
            .filter_map(|(_, e)| match e {
                Event::Data { data, .. } => Some(data.clone()),
                _ => None,
            })
            .collect()
    }
}

impl Endpoint for Peer {
    fn handle_packet(&mut self, now: Instant, local: SocketAddr, remote: SocketAddr, data: &[u8]) {
        self.agent.handle_packet(now, local, remote, data);
        self.drain(now);
    }

    fn handle_timeout(&mut self, now: Instant) {
        self.agent.handle_timeout(now);
        self.drain(now);
    }

    fn poll_transmit(&mut self) -> Option<Transmit> {
        self.agent.poll_transmit()
    }

    fn poll_timeout(&self) -> Option<Instant> {
        self.agent.poll_timeout()
    }
}

/// How the signalling channel behaves.
#[derive(Clone, Debug)]
pub struct Signalling {
    /// One-way delay of every message.
    pub delay: Duration,
    /// Extra random delay per message, up to this (reorders them).
    pub jitter: Duration,
    /// Probability that a candidate is delivered twice.
    pub duplicate: f64,
    /// Carry end-of-candidates.
    pub end_of_candidates: bool,
    /// Carry candidates at all (false: only peer-reflexive discovery).
    pub candidates: bool,
    /// Extra delay of every message to the second agent (`b`): its peer's
    /// checks reach it before its peer's candidates do.
    pub extra_delay_to_b: Duration,
}

impl Default for Signalling {
    fn default() -> Self {
        Signalling {
            delay: Duration::from_millis(50),
            jitter: Duration::ZERO,
            duplicate: 0.0,
            end_of_candidates: true,
            candidates: true,
            extra_delay_to_b: Duration::ZERO,
        }
    }
}

enum Message {
    Candidate(Candidate),
    EndOfCandidates,
}

/// Two agents and the signalling between them.
pub struct IcePair {
    /// The first agent's host.
    pub a: HostId,
    /// The second agent's host.
    pub b: HostId,
    signalling: Signalling,
    rng: ChaCha8Rng,
    in_flight: Vec<(Instant, HostId, Message)>,
    /// When each host was handed its first remote candidate.
    first_candidate: Vec<(HostId, Instant)>,
}

impl IcePair {
    /// Puts two peers in the simulation and exchanges their credentials.
    pub fn new(
        sim: &mut Sim,
        a: (crate::netsim::NetworkId, Peer, &[std::net::IpAddr]),
        b: (crate::netsim::NetworkId, Peer, &[std::net::IpAddr]),
        signalling: Signalling,
    ) -> IcePair {
        let (na, pa, ipa) = a;
        let (nb, pb, ipb) = b;
        let ca = pa
            .agent
            .local_credentials(pa.stream)
            .expect("stream exists");
        let cb = pb
            .agent
            .local_credentials(pb.stream)
            .expect("stream exists");
        let ha = sim.add_host(na, ipa, pa);
        let hb = sim.add_host(nb, ipb, pb);
        for (h, creds) in [(ha, cb), (hb, ca)] {
            sim.with_endpoint::<Peer, _>(h, |p, _now| {
                let s = p.stream;
                p.agent
                    .set_remote_credentials(s, creds)
                    .expect("stream exists");
            });
        }
        let seed = sim.seed();
        IcePair {
            a: ha,
            b: hb,
            signalling,
            rng: ChaCha8Rng::seed_from_u64(seed ^ 0x5167),
            in_flight: Vec::new(),
            first_candidate: Vec::new(),
        }
    }

    fn carry(&mut self, sim: &mut Sim) {
        let now = sim.now();
        for (from, to) in [(self.a, self.b), (self.b, self.a)] {
            let delay = if to == self.b {
                self.signalling.delay + self.signalling.extra_delay_to_b
            } else {
                self.signalling.delay
            };
            let events: Vec<(Instant, Event)> =
                std::mem::take(&mut sim.endpoint_mut::<Peer>(from).pending);
            for (_, e) in events {
                let msg = match e {
                    Event::LocalCandidate { candidate, .. } if self.signalling.candidates => {
                        Message::Candidate(candidate)
                    }
                    Event::GatheringComplete { .. } if self.signalling.end_of_candidates => {
                        Message::EndOfCandidates
                    }
                    _ => continue,
                };
                let jitter = self.jitter();
                let dup =
                    matches!(msg, Message::Candidate(_)) && self.chance(self.signalling.duplicate);
                if dup {
                    if let Message::Candidate(c) = &msg {
                        let j2 = self.jitter();
                        self.in_flight
                            .push((now + delay + j2, to, Message::Candidate(c.clone())));
                    }
                }
                self.in_flight.push((now + delay + jitter, to, msg));
            }
        }
        let due: Vec<usize> = (0..self.in_flight.len())
            .filter(|&i| self.in_flight[i].0 <= now)
            .collect();
        for i in due.into_iter().rev() {
            let (_, to, msg) = self.in_flight.remove(i);
            if matches!(msg, Message::Candidate(_))
                && !self.first_candidate.iter().any(|(h, _)| *h == to)
            {
                self.first_candidate.push((to, now));
            }
            sim.with_endpoint::<Peer, _>(to, |p, now| {
                let s = p.stream;
                match msg {
                    Message::Candidate(c) => {
                        let _ = p.agent.add_remote_candidate(s, c);
                    }
                    Message::EndOfCandidates => {
                        let _ = p.agent.end_of_remote_candidates(s);
                    }
                }
                p.agent.handle_timeout(now);
                p.drain(now);
            });
        }
    }

    fn jitter(&mut self) -> Duration {
        let j = self.signalling.jitter.as_micros() as u64;
        if j == 0 {
            Duration::ZERO
        } else {
            Duration::from_micros(self.rng.next_u64() % (j + 1))
        }
    }

    fn chance(&mut self, p: f64) -> bool {
        p > 0.0 && (self.rng.next_u64() as f64 / u64::MAX as f64) < p
    }

    /// Runs the simulation (and the signalling) for `duration`, in 5 ms
    /// steps, or until `done` holds. Returns whether it held.
    pub fn run(
        &mut self,
        sim: &mut Sim,
        duration: Duration,
        mut done: impl FnMut(&Sim, &IcePair) -> bool,
    ) -> bool {
        let end = sim.now() + duration;
        let step = Duration::from_millis(5);
        while sim.now() < end {
            self.carry(sim);
            if done(sim, self) {
                return true;
            }
            let next = (sim.now() + step).min(end);
            sim.run_until(next);
        }
        self.carry(sim);
        done(sim, self)
    }

    /// When `host` was handed its first remote candidate (checks can start).
    pub fn first_candidate_at(&self, host: HostId) -> Option<Instant> {
        self.first_candidate
            .iter()
            .find_map(|(h, t)| (*h == host).then_some(*t))
    }

    /// Both agents connected (or completed).
    pub fn connected(sim: &Sim, pair: &IcePair) -> bool {
        [pair.a, pair.b].iter().all(|h| {
            matches!(
                sim.endpoint::<Peer>(*h).state(),
                ConnectionState::Connected | ConnectionState::Completed
            )
        })
    }
}
