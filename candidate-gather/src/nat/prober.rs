//! Probes: one test request, repeated as new transactions until it is
//! answered, confidently unanswered, or out of transactions.
//!
//! A probe whose answer must come (a plain Binding request, the mapping
//! tests) is retried up to `max_transactions` and then reported
//! inconclusive. A probe whose answer may legitimately never come
//! (filtering, hairpinning, lifetime) runs beside control requests: with
//! each of its own requests, [`CONTROLS_PER_REQUEST`] plain Binding requests
//! from the same socket to the server. A control is a single request that
//! counts as answered if its answer arrives within [`CONTROL_WINDOW_RTOS`]
//! RTOs and as lost otherwise, so every control's outcome is known at a
//! fixed time whatever it is (counting only the controls that happen to
//! have finished would favour the answered ones). The outcomes feed
//! [`Evidence`]; when the probe's transaction times out, its absence is
//! accepted only if `Evidence` says it cannot plausibly be loss (see
//! `evidence.rs`).
//!
//! Requests are RFC 8489 Binding requests with FINGERPRINT, or RFC 3489
//! requests (128-bit id, no FINGERPRINT) when asked. Answers are read with
//! RFC 3489 fallbacks (MAPPED-ADDRESS, CHANGED-ADDRESS, SOURCE-ADDRESS).

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use rand_chacha::ChaCha8Rng;
use rand_core::{Rng, SeedableRng};
use stun_proto::attr::{
    ChangeRequest, ChangedAddress, ErrorCode, MappedAddress, OtherAddress, ResponseOrigin,
    ResponsePort, SourceAddress, XorMappedAddress,
};
use stun_proto::{
    Attribute, Class, MAGIC_COOKIE_BYTES, Message, MessageType, MessageWriter, Method,
    TransactionId, Transmit,
};

use super::evidence::Evidence;
use super::{DiscoveryEvent, Reason, Test};
use crate::transaction::{Expect, Finished, Ignored, RetransmitConfig, Transactions};

/// Control requests sent with each request of a negative-capable probe.
pub(crate) const CONTROLS_PER_REQUEST: u32 = 3;
/// How long (in RTOs) a control waits for its answer.
pub(crate) const CONTROL_WINDOW_RTOS: u32 = 4;

/// A probe's handle.
pub(crate) type ProbeId = usize;

/// What to send and what counts as the answer.
#[derive(Clone, Copy, Debug)]
pub(crate) struct ProbeSpec {
    pub test: Test,
    pub from: SocketAddr,
    pub to: SocketAddr,
    pub change: Option<ChangeRequest>,
    pub response_port: Option<u16>,
    pub expect: Expect,
    /// The answer may legitimately never come.
    pub may_fail: bool,
}

impl ProbeSpec {
    /// A request that must be answered, from where it went to where it
    /// left.
    pub(crate) fn reply(test: Test, from: SocketAddr, to: SocketAddr) -> Self {
        ProbeSpec {
            test,
            from,
            to,
            change: None,
            response_port: None,
            expect: Expect::reply(from, to),
            may_fail: false,
        }
    }

    /// With CHANGE-REQUEST (and the answer expected from `source`).
    pub(crate) fn change(mut self, change: ChangeRequest, source: SocketAddr) -> Self {
        self.change = Some(change);
        self.expect.source = Some(source);
        self
    }

    /// With RESPONSE-PORT.
    pub(crate) fn response_port(mut self, port: u16) -> Self {
        self.response_port = Some(port);
        self
    }

    /// The answer comes from `source` (`None`: anywhere) on `socket`.
    pub(crate) fn expect(mut self, source: Option<SocketAddr>, socket: SocketAddr) -> Self {
        self.expect = Expect { source, socket };
        self
    }

    /// The answer may legitimately never come.
    pub(crate) fn may_fail(mut self) -> Self {
        self.may_fail = true;
        self
    }
}

/// What an answer said.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub(crate) struct Answer {
    pub mapped: Option<SocketAddr>,
    pub other: Option<SocketAddr>,
    pub origin: Option<SocketAddr>,
    pub error: Option<u16>,
}

/// How a probe ended.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) enum ProbeOutcome {
    Answered(Answer),
    /// Confidently not answered.
    Absent,
    Inconclusive(Reason),
}

struct Probe<S> {
    spec: ProbeSpec,
    tag: S,
    transactions: u32,
    unanswered: u32,
    done: bool,
}

/// Runs probes tagged with the caller's step type `S`.
pub(crate) struct Prober<S> {
    tx: Transactions<ProbeId>,
    controls: Transactions<ProbeId>,
    controls_due: Vec<(Instant, ProbeId)>,
    rng: ChaCha8Rng,
    server: SocketAddr,
    rfc3489: bool,
    max_transactions: u32,
    evidence: Evidence,
    probes: Vec<Probe<S>>,
    finished: VecDeque<(ProbeId, ProbeOutcome)>,
    extra: VecDeque<Transmit>,
    events: VecDeque<DiscoveryEvent>,
}

impl<S: Copy> Prober<S> {
    pub(crate) fn new(
        server: SocketAddr,
        retransmit: RetransmitConfig,
        max_transactions: u32,
        rfc3489: bool,
        seed: u64,
    ) -> Self {
        let control = RetransmitConfig {
            rto: retransmit.rto,
            rc: 1,
            rm: CONTROL_WINDOW_RTOS,
            max_interval: Duration::MAX,
        };
        Prober {
            tx: Transactions::new(retransmit),
            controls: Transactions::new(control),
            controls_due: Vec::new(),
            rng: ChaCha8Rng::seed_from_u64(seed),
            server,
            rfc3489,
            max_transactions: max_transactions.max(1),
            evidence: Evidence::default(),
            probes: Vec::new(),
            finished: VecDeque::new(),
            extra: VecDeque::new(),
            events: VecDeque::new(),
        }
    }

    /// Starts a probe; its outcome comes out of [`Prober::poll_finished`]
    /// with `tag`.
    pub(crate) fn start(&mut self, now: Instant, spec: ProbeSpec, tag: S) {
        let id = self.probes.len();
        self.probes.push(Probe {
            spec,
            tag,
            transactions: 0,
            unanswered: 0,
            done: false,
        });
        self.transaction(now, id);
    }

    fn transaction(&mut self, now: Instant, id: ProbeId) {
        let Some(p) = self.probes.get_mut(id) else {
            return;
        };
        p.transactions += 1;
        let spec = p.spec;
        let (tid, bytes) = self.request(spec.change, spec.response_port);
        self.tx
            .start(now, id, tid, spec.from, spec.to, spec.expect, bytes);
        if spec.may_fail {
            // Controls at the instants the probe's own requests leave.
            let config = self.tx.config();
            let (mut at, mut interval) = (now, config.rto);
            for _ in 0..config.rc.max(1) {
                for _ in 0..CONTROLS_PER_REQUEST {
                    self.controls_due.push((at, id));
                }
                at += interval;
                interval = interval.saturating_mul(2);
            }
            self.start_due_controls(now);
        }
    }

    fn start_due_controls(&mut self, now: Instant) {
        let due: Vec<ProbeId> = self
            .controls_due
            .iter()
            .filter(|(t, _)| *t <= now)
            .map(|(_, id)| *id)
            .collect();
        self.controls_due.retain(|(t, _)| *t > now);
        for id in due {
            let Some(from) = self.probes.get(id).filter(|p| !p.done).map(|p| p.spec.from) else {
                continue;
            };
            let (tid, bytes) = self.request(None, None);
            let to = self.server;
            self.controls
                .start(now, id, tid, from, to, Expect::reply(from, to), bytes);
        }
    }

    fn new_id(&mut self) -> TransactionId {
        if self.rfc3489 {
            let mut id = [0u8; 16];
            self.rng.fill_bytes(&mut id);
            if id.starts_with(&MAGIC_COOKIE_BYTES) {
                id[0] ^= 0xFF;
            }
            TransactionId::Rfc3489(id)
        } else {
            TransactionId::random(&mut self.rng)
        }
    }

    fn request(
        &mut self,
        change: Option<ChangeRequest>,
        response_port: Option<u16>,
    ) -> (TransactionId, Vec<u8>) {
        let id = self.new_id();
        let mut buf = Vec::with_capacity(48);
        let mut w = MessageWriter::new(&mut buf, MessageType::BINDING_REQUEST, id);
        // The writer only refuses what the RFCs forbid; these attributes are
        // always allowed here, so errors cannot occur and are ignored.
        if let Some(c) = change {
            let _ = w.add(&c);
        }
        if let Some(port) = response_port {
            let _ = w.add(&ResponsePort(port));
        }
        if !self.rfc3489 {
            let _ = w.add_fingerprint();
        }
        (id, buf)
    }

    /// Queues a Binding indication from `from` to `to` (used to open a NAT
    /// filter before the hairpinning test), sent before anything else.
    pub(crate) fn send_indication(&mut self, from: SocketAddr, to: SocketAddr) {
        let id = TransactionId::random(&mut self.rng);
        let mut buf = Vec::with_capacity(28);
        let mut w = MessageWriter::new(
            &mut buf,
            MessageType::new(Method::BINDING, Class::Indication),
            id,
        );
        let _ = w.add_fingerprint();
        self.extra.push_back(Transmit {
            from,
            to,
            data: buf,
        });
    }

    /// Offers a received datagram. `Err` says why it was not ours; nothing
    /// changes then.
    pub(crate) fn handle_packet(
        &mut self,
        local: SocketAddr,
        remote: SocketAddr,
        data: &[u8],
    ) -> Result<(), Ignored> {
        let msg = Message::parse(data).map_err(|_| Ignored::Malformed)?;
        if msg.has_fingerprint() && msg.verify_fingerprint().is_err() {
            return Err(Ignored::Malformed);
        }
        if msg.method() != Method::BINDING || msg.class() == Class::Indication {
            return Err(Ignored::UnknownTransaction);
        }
        let tid = msg.transaction_id();
        if self.controls.key_of(tid).is_some() {
            if msg.class() == Class::Request {
                return Err(Ignored::WrongPath);
            }
            read_answer(&msg).ok_or(Ignored::Malformed)?;
            self.controls.handle_response(local, remote, &msg)?;
            self.evidence.answered(1);
            return Ok(());
        }
        let key = self.tx.key_of(tid).ok_or(Ignored::UnknownTransaction)?;
        let answer = read_answer(&msg).ok_or(Ignored::Malformed)?;
        // Only the hairpinning test is answered by a request (our own,
        // looped back by the NAT); every other test by a response.
        let hairpin = self
            .probes
            .get(key)
            .is_some_and(|p| p.spec.test == Test::Hairpin);
        if (msg.class() == Class::Request) != hairpin {
            return Err(Ignored::WrongPath);
        }
        let Finished::Answered { key, transmissions } =
            self.tx.handle_response(local, remote, &msg)?
        else {
            return Err(Ignored::UnknownTransaction);
        };
        if !self.probes.get(key).is_some_and(|p| p.spec.may_fail) {
            self.evidence.answered(transmissions);
        }
        self.finish(key, ProbeOutcome::Answered(answer));
        Ok(())
    }

    fn finish(&mut self, id: ProbeId, outcome: ProbeOutcome) {
        if let Some(p) = self.probes.get_mut(id) {
            if !p.done {
                p.done = true;
                self.finished.push_back((id, outcome));
            }
        }
    }

    pub(crate) fn handle_timeout(&mut self, now: Instant) {
        self.start_due_controls(now);
        // Controls first: their outcomes are evidence for the probes that
        // time out in the same instant.
        for f in self.controls.handle_timeout(now) {
            if let Finished::TimedOut { transmissions, .. } = f {
                self.evidence.unanswered(transmissions);
            }
        }
        for f in self.tx.handle_timeout(now) {
            if let Finished::TimedOut { key, transmissions } = f {
                self.probe_timed_out(now, key, transmissions);
            }
        }
    }

    fn probe_timed_out(&mut self, now: Instant, id: ProbeId, transmissions: u32) {
        let Some(p) = self.probes.get_mut(id) else {
            return;
        };
        if p.done {
            return;
        }
        p.unanswered += transmissions;
        let (spec, tries, unanswered) = (p.spec, p.transactions, p.unanswered);
        if spec.may_fail {
            // The controls of this transaction have been decided by now (the
            // last leave with the last request and wait CONTROL_WINDOW_RTOS,
            // less than Rm); any still waiting are left out, answered or not.
            if self.evidence.absence_is_real(unanswered) {
                self.finish(id, ProbeOutcome::Absent);
                return;
            }
        } else {
            self.evidence.unanswered(transmissions);
        }
        if tries < self.max_transactions {
            self.transaction(now, id);
            return;
        }
        let reason = if spec.may_fail {
            Reason::NoAnswerUnderLoss {
                test: spec.test,
                unanswered,
                estimated_loss: self.evidence.loss(),
            }
        } else {
            Reason::NoAnswer {
                test: spec.test,
                unanswered,
            }
        };
        self.finish(id, ProbeOutcome::Inconclusive(reason));
    }

    /// The next finished probe's tag and outcome (also reported as a
    /// [`DiscoveryEvent::TestDone`]).
    pub(crate) fn poll_finished(&mut self) -> Option<(S, ProbeOutcome)> {
        let (id, outcome) = self.finished.pop_front()?;
        let p = self.probes.get(id)?;
        let answered = matches!(outcome, ProbeOutcome::Answered(_));
        self.events.push_back(DiscoveryEvent::TestDone {
            test: p.spec.test,
            answered,
        });
        Some((p.tag, outcome))
    }

    /// Progress events.
    pub(crate) fn poll_event(&mut self) -> Option<DiscoveryEvent> {
        self.events.pop_front()
    }

    /// Reports the end of the run.
    pub(crate) fn finished_run(&mut self) {
        self.events.push_back(DiscoveryEvent::Finished);
    }

    pub(crate) fn poll_transmit(&mut self) -> Option<Transmit> {
        self.extra
            .pop_front()
            .or_else(|| self.tx.poll_transmit())
            .or_else(|| self.controls.poll_transmit())
    }

    pub(crate) fn poll_timeout(&self) -> Option<Instant> {
        [
            self.tx.poll_timeout(),
            self.controls.poll_timeout(),
            self.controls_due.iter().map(|(t, _)| *t).min(),
        ]
        .into_iter()
        .flatten()
        .min()
    }
}

/// What an answer says, or `None` if an attribute it carries does not
/// decode: a damaged datagram (for example a flipped length bit that makes
/// an attribute swallow the FINGERPRINT after it) is no answer at all.
fn read_answer(msg: &Message<'_>) -> Option<Answer> {
    fn either<'a, A: Attribute<'a>, B: Attribute<'a>>(
        msg: &Message<'a>,
        a: impl Fn(A) -> SocketAddr,
        b: impl Fn(B) -> SocketAddr,
    ) -> Option<Option<SocketAddr>> {
        let first = msg.get::<A>().ok()?.map(a);
        let second = msg.get::<B>().ok()?.map(b);
        Some(first.or(second))
    }
    let mapped = either::<XorMappedAddress, MappedAddress>(msg, |x| x.0, |m| m.0)?;
    let other = either::<OtherAddress, ChangedAddress>(msg, |x| x.0, |m| m.0)?;
    let origin = either::<ResponseOrigin, SourceAddress>(msg, |x| x.0, |m| m.0)?;
    let error = match msg.class() {
        Class::Error => Some(msg.get::<ErrorCode>().ok()?.map_or(0, |e| e.code())),
        _ => None,
    };
    Some(Answer {
        mapped,
        other,
        origin,
        error,
    })
}
