//! RFC 5780 §4: NAT behaviour discovery.
//!
//! Sockets (from [`DiscoveryConfig::sockets`]): A learns the mapping, B the
//! filtering, C the hairpinning; E and D1..Dn the binding lifetime.
//!
//! - §4.2 test I from A, B and C at once. No answer on any of them: UDP is
//!   blocked.
//! - §4.3 mapping, on A: test I gives X1 and the server's OTHER-ADDRESS
//!   (Ca:Cp). X1 equal to A's own address: no NAT. Test II to Ca:Pp gives
//!   X2; X2 = X1 is endpoint-independent, otherwise test III to Ca:Cp gives
//!   X3: X3 = X2 is address-dependent, otherwise address- and
//!   port-dependent.
//! - §4.4 filtering, on B, which only ever talks to the primary address so
//!   that the mapping tests cannot open its filter: CHANGE-REQUEST (IP and
//!   port) answered from Ca:Cp means endpoint-independent; otherwise
//!   CHANGE-REQUEST (port) answered from Pa:Cp means address-dependent;
//!   otherwise address- and port-dependent.
//! - §4.5 hairpinning: C sends a Binding request to X1; it arriving on A
//!   means the NAT hairpins. RFC 5780 leaves out that the NAT's filter on X1
//!   also judges the hairpinned packet: A first sends an indication to C's
//!   mapped address (before every request), which opens the filter when the
//!   mapping is endpoint-independent; when neither mapping nor filtering is
//!   endpoint-independent the filter drops the test either way and the
//!   result is inconclusive rather than a false "no".
//! - §4.6 lifetime: each Di does test I, then after idling for its probe
//!   time E sends a request with RESPONSE-PORT set to Di's mapped port; the
//!   answer reaching Di means the mapping was still alive.
//! - Port preservation (RFC 4787 §4.2.1): X1 and B's mapped address keep the
//!   local ports.
//!
//! Every answer must come from the address the test names, on the socket
//! it names, with one of our transaction ids (RFC 8489 §6.3.3); anything
//! else is ignored and cannot change a result.

use std::net::SocketAddr;
use std::time::Instant;

use stun_proto::Transmit;
use stun_proto::attr::ChangeRequest;

use super::prober::{Answer, ProbeOutcome, ProbeSpec, Prober};
use super::{
    ClassicNat, DiscoveryConfig, DiscoveryEvent, FilteringBehavior, LifetimeRange, MappingBehavior,
    NatReport, Outcome, PortAssignment, Reason, Test,
};
use crate::transaction::Ignored;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Step {
    TestI(usize),
    MappingII,
    MappingIII,
    FilteringII,
    FilteringIII,
    Hairpin,
    LifetimeBase(usize),
    LifetimeProbe(usize),
}

/// RFC 5780 NAT behaviour discovery (see the module documentation).
pub struct Rfc5780Discovery {
    config: DiscoveryConfig,
    prober: Prober<Step>,
    held: Option<Transmit>,
    test_i: Vec<Option<Outcome<SocketAddr>>>,
    other: Option<SocketAddr>,
    x2: Option<SocketAddr>,
    mapping: Option<Outcome<MappingBehavior>>,
    filtering: Option<Outcome<FilteringBehavior>>,
    hairpinning: Option<Outcome<bool>>,
    hairpin_started: bool,
    filtering_started: bool,
    lifetime_due: Vec<(Instant, usize)>,
    lifetime_ports: Vec<Option<SocketAddr>>,
    lifetime: Vec<Option<Outcome<bool>>>,
    finished: bool,
    report: Option<NatReport>,
}

impl Rfc5780Discovery {
    /// Starts discovery at `now`; the first requests are ready to send.
    pub fn new(config: DiscoveryConfig, now: Instant) -> Self {
        let prober = Prober::new(
            config.server,
            config.retransmit,
            config.max_transactions,
            config.rfc3489_requests,
            config.seed,
        );
        let probes = config.lifetime_probes.len();
        let mut d = Rfc5780Discovery {
            prober,
            held: None,
            test_i: Vec::new(),
            other: None,
            x2: None,
            mapping: None,
            filtering: None,
            hairpinning: None,
            hairpin_started: false,
            filtering_started: false,
            lifetime_due: Vec::new(),
            lifetime_ports: vec![None; probes],
            lifetime: vec![None; probes],
            finished: false,
            report: None,
            config,
        };
        let sockets = d.config.sockets.len().min(3);
        d.test_i = vec![None; sockets];
        for i in 0..sockets {
            d.test_i_on(now, i, Step::TestI(i));
        }
        if probes > 0 && d.config.sockets.len() >= 4 + probes {
            for i in 0..probes {
                d.test_i_on(now, 4 + i, Step::LifetimeBase(i));
            }
        } else {
            let r = Outcome::Inconclusive(Reason::NotEnoughSockets { needed: 4 + probes });
            d.lifetime.iter_mut().for_each(|l| *l = Some(r));
        }
        d.settle(now);
        d
    }

    fn socket(&self, i: usize) -> Option<SocketAddr> {
        self.config.sockets.get(i).copied()
    }

    fn test_i_on(&mut self, now: Instant, socket: usize, step: Step) {
        let Some(from) = self.socket(socket) else {
            return;
        };
        let to = self.config.server;
        self.prober
            .start(now, ProbeSpec::reply(Test::Binding, from, to), step);
    }

    /// Offers a received datagram. `Err` says why it was ignored; an ignored
    /// datagram changes nothing.
    pub fn handle_packet(
        &mut self,
        now: Instant,
        local: SocketAddr,
        remote: SocketAddr,
        data: &[u8],
    ) -> Result<(), Ignored> {
        self.prober.handle_packet(local, remote, data)?;
        self.advance(now);
        Ok(())
    }

    /// Retransmits, times out, and starts lifetime probes that are due.
    pub fn handle_timeout(&mut self, now: Instant) {
        self.prober.handle_timeout(now);
        let due: Vec<usize> = self
            .lifetime_due
            .iter()
            .filter(|(t, _)| *t <= now)
            .map(|(_, i)| *i)
            .collect();
        self.lifetime_due.retain(|(t, _)| *t > now);
        for i in due {
            self.start_lifetime_probe(now, i);
        }
        self.advance(now);
    }

    /// The next datagram to send.
    pub fn poll_transmit(&mut self) -> Option<Transmit> {
        if self.finished {
            return None;
        }
        if let Some(t) = self.held.take() {
            return Some(t);
        }
        let t = self.prober.poll_transmit()?;
        // Before every hairpin request, A sends an indication to C's mapped
        // address so that an endpoint-independent mapping's filter lets the
        // hairpinned request in.
        let (a, c, xa, xc) = (
            self.socket(0),
            self.socket(2),
            self.mapped(0),
            self.mapped(2),
        );
        if let (Some(a), Some(c), Some(xa), Some(xc)) = (a, c, xa, xc) {
            if self.hairpin_started && t.from == c && t.to == xa {
                self.prober.send_indication(a, xc);
                self.held = Some(t);
                return self.prober.poll_transmit();
            }
        }
        Some(t)
    }

    /// When [`Rfc5780Discovery::handle_timeout`] must next be called.
    pub fn poll_timeout(&self) -> Option<Instant> {
        if self.finished {
            return None;
        }
        let due = self.lifetime_due.iter().map(|(t, _)| *t).min();
        match (self.prober.poll_timeout(), due) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// Progress events.
    pub fn poll_event(&mut self) -> Option<DiscoveryEvent> {
        self.prober.poll_event()
    }

    /// The report, once [`DiscoveryEvent::Finished`] has been emitted.
    pub fn report(&self) -> Option<&NatReport> {
        self.report.as_ref()
    }

    fn mapped(&self, socket: usize) -> Option<SocketAddr> {
        self.test_i
            .get(socket)
            .and_then(|o| o.and_then(|o| o.known()))
    }

    fn advance(&mut self, now: Instant) {
        while let Some((step, outcome)) = self.prober.poll_finished() {
            self.on_outcome(now, step, outcome);
        }
        self.settle(now);
    }

    fn on_outcome(&mut self, now: Instant, step: Step, outcome: ProbeOutcome) {
        match step {
            Step::TestI(i) => {
                let result = match outcome {
                    ProbeOutcome::Answered(a) => match answer_mapped(&a, Test::Binding) {
                        Ok(x) => {
                            if i == 0 {
                                self.other = a.other;
                            }
                            Outcome::Known(x)
                        }
                        Err(r) => Outcome::Inconclusive(r),
                    },
                    ProbeOutcome::Absent => Outcome::Inconclusive(Reason::NoAnswer {
                        test: Test::Binding,
                        unanswered: 0,
                    }),
                    ProbeOutcome::Inconclusive(r) => Outcome::Inconclusive(r),
                };
                if let Some(slot) = self.test_i.get_mut(i) {
                    *slot = Some(result);
                }
                if i == 0 {
                    self.start_mapping(now);
                }
            }
            Step::MappingII => match self.answer(outcome, Test::OtherAddress) {
                Ok(x2) if Some(x2) == self.mapped(0) => {
                    self.mapping = Some(Outcome::Known(MappingBehavior::EndpointIndependent))
                }
                Ok(x2) => {
                    self.x2 = Some(x2);
                    if let (Some(a), Some(other)) = (self.socket(0), self.other) {
                        let spec = ProbeSpec::reply(Test::OtherAddressAndPort, a, other);
                        self.prober.start(now, spec, Step::MappingIII);
                    }
                }
                Err(r) => self.mapping = Some(Outcome::Inconclusive(r)),
            },
            Step::MappingIII => {
                self.mapping = Some(match self.answer(outcome, Test::OtherAddressAndPort) {
                    Ok(x3) if Some(x3) == self.x2 => {
                        Outcome::Known(MappingBehavior::AddressDependent)
                    }
                    Ok(_) => Outcome::Known(MappingBehavior::AddressAndPortDependent),
                    Err(r) => Outcome::Inconclusive(r),
                })
            }
            Step::FilteringII => match outcome {
                ProbeOutcome::Answered(a) if a.error.is_none() => {
                    self.filtering = Some(Outcome::Known(FilteringBehavior::EndpointIndependent))
                }
                ProbeOutcome::Absent => self.start_filtering_iii(now),
                other => {
                    self.filtering =
                        Some(Outcome::Inconclusive(failure(other, Test::ChangeIpAndPort)))
                }
            },
            Step::FilteringIII => {
                self.filtering = Some(match outcome {
                    ProbeOutcome::Answered(a) if a.error.is_none() => {
                        Outcome::Known(FilteringBehavior::AddressDependent)
                    }
                    ProbeOutcome::Absent => {
                        Outcome::Known(FilteringBehavior::AddressAndPortDependent)
                    }
                    other => Outcome::Inconclusive(failure(other, Test::ChangePort)),
                })
            }
            Step::Hairpin => {
                self.hairpinning = Some(match outcome {
                    ProbeOutcome::Answered(_) => Outcome::Known(true),
                    ProbeOutcome::Absent => Outcome::Known(false),
                    other => Outcome::Inconclusive(failure(other, Test::Hairpin)),
                })
            }
            Step::LifetimeBase(i) => {
                if let (ProbeOutcome::Answered(a), Some(t)) =
                    (outcome, self.config.lifetime_probes.get(i))
                {
                    if a.mapped.is_some() {
                        self.lifetime_due.push((now + *t, i));
                        self.lifetime_base_mapped(i, a.mapped);
                        return;
                    }
                }
                if let Some(slot) = self.lifetime.get_mut(i) {
                    *slot = Some(Outcome::Inconclusive(failure(outcome, Test::Binding)));
                }
            }
            Step::LifetimeProbe(i) => {
                let r = match outcome {
                    ProbeOutcome::Answered(a) if a.error.is_none() => Outcome::Known(true),
                    ProbeOutcome::Absent => Outcome::Known(false),
                    other => Outcome::Inconclusive(failure(other, Test::Lifetime)),
                };
                if let Some(slot) = self.lifetime.get_mut(i) {
                    *slot = Some(r);
                }
            }
        }
    }

    fn lifetime_base_mapped(&mut self, i: usize, mapped: Option<SocketAddr>) {
        if let Some(slot) = self.lifetime_ports.get_mut(i) {
            *slot = mapped;
        }
    }

    fn start_lifetime_probe(&mut self, now: Instant, i: usize) {
        let (Some(e), Some(d), Some(Some(xd))) = (
            self.socket(3),
            self.socket(4 + i),
            self.lifetime_ports.get(i).copied(),
        ) else {
            return;
        };
        let to = self.config.server;
        let spec = ProbeSpec::reply(Test::Lifetime, e, to)
            .response_port(xd.port())
            .expect(Some(to), d)
            .may_fail();
        self.prober.start(now, spec, Step::LifetimeProbe(i));
    }

    /// The mapped address of an answer, or why the test failed.
    fn answer(&self, outcome: ProbeOutcome, test: Test) -> Result<SocketAddr, Reason> {
        match outcome {
            ProbeOutcome::Answered(a) => answer_mapped(&a, test),
            other => Err(failure(other, test)),
        }
    }

    fn start_mapping(&mut self, now: Instant) {
        let (Some(a), Some(x1)) = (self.socket(0), self.mapped(0)) else {
            self.mapping = Some(Outcome::Inconclusive(self.test_i_reason(0)));
            return;
        };
        if x1 == a {
            self.mapping = Some(Outcome::Known(MappingBehavior::NoNat));
            return;
        }
        let Some(other) = self.other else {
            self.mapping = Some(Outcome::Inconclusive(Reason::ServerLacksAlternateAddress));
            return;
        };
        let to = SocketAddr::new(other.ip(), self.config.server.port());
        self.prober.start(
            now,
            ProbeSpec::reply(Test::OtherAddress, a, to),
            Step::MappingII,
        );
    }

    fn start_filtering_ii(&mut self, now: Instant) {
        let (Some(b), Some(other)) = (self.socket(1), self.other) else {
            return;
        };
        let change = ChangeRequest {
            change_ip: true,
            change_port: true,
        };
        let to = self.config.server;
        let spec = ProbeSpec::reply(Test::ChangeIpAndPort, b, to)
            .change(change, other)
            .may_fail();
        self.prober.start(now, spec, Step::FilteringII);
    }

    fn start_filtering_iii(&mut self, now: Instant) {
        let (Some(b), Some(other)) = (self.socket(1), self.other) else {
            return;
        };
        let change = ChangeRequest {
            change_ip: false,
            change_port: true,
        };
        let to = self.config.server;
        let source = SocketAddr::new(to.ip(), other.port());
        let spec = ProbeSpec::reply(Test::ChangePort, b, to)
            .change(change, source)
            .may_fail();
        self.prober.start(now, spec, Step::FilteringIII);
    }

    fn test_i_reason(&self, socket: usize) -> Reason {
        match self.test_i.get(socket) {
            Some(Some(Outcome::Inconclusive(r))) => *r,
            _ if self.config.sockets.len() <= socket => {
                Reason::NotEnoughSockets { needed: socket + 1 }
            }
            _ => Reason::DependsOnUnknown,
        }
    }

    fn udp_blocked(&self) -> bool {
        !self.test_i.is_empty()
            && self
                .test_i
                .iter()
                .all(|o| matches!(o, Some(Outcome::Inconclusive(Reason::NoAnswer { .. }))))
    }

    /// Starts what has become possible and, when everything is decided,
    /// writes the report.
    fn settle(&mut self, now: Instant) {
        if self.finished {
            return;
        }
        if self.udp_blocked() {
            self.finish_blocked();
            return;
        }
        self.settle_filtering(now);
        self.settle_hairpinning(now);
        let lifetime_done = self.lifetime.iter().all(Option::is_some);
        let tests_done = self.test_i.iter().all(Option::is_some);
        if let (true, true, Some(mapping), Some(filtering), Some(hairpinning)) = (
            lifetime_done,
            tests_done,
            self.mapping,
            self.filtering,
            self.hairpinning,
        ) {
            self.finish(mapping, filtering, hairpinning);
        }
    }

    fn settle_filtering(&mut self, now: Instant) {
        if self.filtering_started || self.filtering.is_some() {
            return;
        }
        if self.socket(1).is_none() {
            self.filtering = Some(Outcome::Inconclusive(Reason::NotEnoughSockets {
                needed: 2,
            }));
            return;
        }
        match (
            self.test_i.first().copied().flatten(),
            self.test_i.get(1).copied().flatten(),
        ) {
            (Some(Outcome::Known(_)), Some(Outcome::Known(_))) => {
                if self.other.is_some() {
                    self.filtering_started = true;
                    self.start_filtering_ii(now);
                } else {
                    self.filtering =
                        Some(Outcome::Inconclusive(Reason::ServerLacksAlternateAddress));
                }
            }
            (Some(Outcome::Inconclusive(r)), _) | (_, Some(Outcome::Inconclusive(r))) => {
                self.filtering = Some(Outcome::Inconclusive(r));
            }
            _ => {}
        }
    }

    fn settle_hairpinning(&mut self, now: Instant) {
        use FilteringBehavior as F;
        use MappingBehavior as M;
        if self.hairpin_started || self.hairpinning.is_some() {
            return;
        }
        // The test can see hairpinning when the NAT's filter on A's mapping
        // lets C's hairpinned request in: with endpoint-independent
        // filtering, or with an endpoint-independent mapping (A's indication
        // to C's mapped address opened it). Start as soon as one is known, so
        // that the mappings are still fresh.
        let (mapping, filtering) = (self.mapping, self.filtering);
        let observable = mapping == Some(Outcome::Known(M::EndpointIndependent))
            || filtering == Some(Outcome::Known(F::EndpointIndependent));
        let verdict = if mapping == Some(Outcome::Known(M::NoNat)) {
            Some(Reason::NoNat)
        } else if observable {
            match (self.socket(2), self.test_i.get(2).copied().flatten()) {
                (None, _) => Some(Reason::NotEnoughSockets { needed: 3 }),
                (Some(_), Some(Outcome::Inconclusive(r))) => Some(r),
                (Some(_), Some(Outcome::Known(_))) => None,
                (Some(_), None) => return,
            }
        } else {
            match (mapping, filtering) {
                (Some(Outcome::Known(_)), Some(Outcome::Known(_))) => {
                    Some(Reason::FilteringHidesHairpinning)
                }
                (Some(_), Some(_)) => Some(Reason::DependsOnUnknown),
                _ => return,
            }
        };
        if let Some(r) = verdict {
            self.hairpinning = Some(Outcome::Inconclusive(r));
            return;
        }
        let (Some(a), Some(c), Some(xa)) = (self.socket(0), self.socket(2), self.mapped(0)) else {
            return;
        };
        self.hairpin_started = true;
        let spec = ProbeSpec::reply(Test::Hairpin, c, xa)
            .expect(None, a)
            .may_fail();
        self.prober.start(now, spec, Step::Hairpin);
    }

    fn finish(
        &mut self,
        mapping: Outcome<MappingBehavior>,
        filtering: Outcome<FilteringBehavior>,
        hairpinning: Outcome<bool>,
    ) {
        let port_assignment = match mapping {
            Outcome::Known(MappingBehavior::NoNat) => Outcome::Inconclusive(Reason::NoNat),
            _ => {
                let pairs: Vec<(Option<SocketAddr>, Option<SocketAddr>)> =
                    (0..self.test_i.len().min(2))
                        .map(|i| (self.socket(i), self.mapped(i)))
                        .collect();
                if pairs.iter().all(|(l, m)| l.is_some() && m.is_some()) && !pairs.is_empty() {
                    let kept = pairs
                        .iter()
                        .all(|(l, m)| l.map(|l| l.port()) == m.map(|m| m.port()));
                    Outcome::Known(if kept {
                        PortAssignment::Preserving
                    } else {
                        PortAssignment::NotPreserving
                    })
                } else {
                    Outcome::Inconclusive(self.test_i_reason(0))
                }
            }
        };
        let lifetime = (!self.config.lifetime_probes.is_empty()).then(|| self.lifetime_range());
        let classic = match (mapping, filtering) {
            (Outcome::Known(m), Outcome::Known(f)) => {
                Outcome::Known(ClassicNat::from_behaviors(m, f))
            }
            _ => Outcome::Inconclusive(Reason::DependsOnUnknown),
        };
        self.report = Some(NatReport {
            mapped_address: self.mapped(0),
            udp: Outcome::Known(true),
            mapping,
            filtering,
            hairpinning,
            port_assignment,
            lifetime,
            classic,
        });
        self.finished = true;
        self.prober.finished_run();
    }

    fn lifetime_range(&self) -> Outcome<LifetimeRange> {
        let mut range = LifetimeRange {
            alive_after: None,
            gone_after: None,
        };
        let mut first_reason = None;
        for (slot, t) in self.lifetime.iter().zip(&self.config.lifetime_probes) {
            match slot {
                Some(Outcome::Known(true)) => range.alive_after = range.alive_after.max(Some(*t)),
                Some(Outcome::Known(false)) => {
                    range.gone_after = Some(range.gone_after.map_or(*t, |g| g.min(*t)));
                }
                Some(Outcome::Inconclusive(r)) => {
                    first_reason.get_or_insert(*r);
                }
                None => {}
            }
        }
        match (range.alive_after, range.gone_after, first_reason) {
            (None, None, Some(r)) => Outcome::Inconclusive(r),
            _ => Outcome::Known(range),
        }
    }

    fn finish_blocked(&mut self) {
        let blocked = Reason::UdpBlocked;
        self.report = Some(NatReport {
            mapped_address: None,
            udp: Outcome::Known(false),
            mapping: Outcome::Inconclusive(blocked),
            filtering: Outcome::Inconclusive(blocked),
            hairpinning: Outcome::Inconclusive(blocked),
            port_assignment: Outcome::Inconclusive(blocked),
            lifetime: (!self.config.lifetime_probes.is_empty())
                .then_some(Outcome::Inconclusive(blocked)),
            classic: Outcome::Known(ClassicNat::UdpBlocked),
        });
        self.finished = true;
        self.prober.finished_run();
    }
}

fn answer_mapped(a: &Answer, test: Test) -> Result<SocketAddr, Reason> {
    if let Some(code) = a.error {
        return Err(Reason::ServerError { test, code });
    }
    a.mapped.ok_or(Reason::ServerOmittedMappedAddress)
}

fn failure(outcome: ProbeOutcome, test: Test) -> Reason {
    match outcome {
        ProbeOutcome::Answered(a) => match a.error {
            Some(code) => Reason::ServerError { test, code },
            None => Reason::ServerOmittedMappedAddress,
        },
        ProbeOutcome::Absent => Reason::NoAnswer {
            test,
            unanswered: 0,
        },
        ProbeOutcome::Inconclusive(r) => r,
    }
}
