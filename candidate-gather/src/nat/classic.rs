//! The classic RFC 3489 §10.1 flow, on one socket.
//!
//! ```text
//! test I ── no answer ─────────────────────────────── UDP Blocked
//!   │ mapped = local ── test II answered ──────────── Open Internet
//!   │                   └ no answer ───────────────── Symmetric UDP Firewall
//!   │ mapped ≠ local ── test II (change IP and port)
//!   │                   test I to the changed IP ────── mapped differs ─ Symmetric
//!   │                     └ same mapping: test II answered ──────────── Full Cone
//!   │                                     test III (change port) answered ─ Restricted Cone
//!   │                                     └ no answer ──────────────────── Port Restricted Cone
//! ```
//!
//! RFC 3489 names the NAT Full Cone as soon as test II is answered, without
//! looking at the mapping; this flow always runs "test I to the changed
//! address", so an address-dependent mapping with open filtering is called
//! Symmetric, in agreement with RFC 4787 (see [`ClassicNat::from_behaviors`]).
//! Test II runs before any request goes to the changed address, so that the
//! filter it tests has only seen the primary address.
//!
//! RFC 3489 sends the mapping check ("test I to the changed address") to
//! the changed IP *and port*; this flow sends it to the changed IP at the
//! primary port, as Debian's `stun` client does. Test II's answer came
//! from the changed IP and port, and a real NAT's connection tracking
//! keeps that answer as a flow whether it let it in or not: Linux then
//! sends the check out on that flow's mapping (an address-dependent NAT
//! looked like a full cone) or, when it dropped the answer, gives the
//! check a new port because the flow holds the old one (a port-restricted
//! cone looked symmetric). Both measured in `tests/tests/kernel_nat.rs`.
//!
//! For RFC 3489-only servers set [`DiscoveryConfig::rfc3489_requests`]: the
//! requests then carry a 128-bit transaction id and no magic cookie, and the
//! server answers with MAPPED-ADDRESS and CHANGED-ADDRESS.

use std::net::SocketAddr;
use std::time::Instant;

use stun_proto::Transmit;
use stun_proto::attr::ChangeRequest;

use super::prober::{ProbeOutcome, ProbeSpec, Prober};
use super::{ClassicNat, ClassicReport, DiscoveryConfig, DiscoveryEvent, Outcome, Reason, Test};
use crate::transaction::Ignored;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Step {
    TestI,
    TestII,
    TestIChanged,
    TestIII,
}

/// The RFC 3489 classic discovery (see the module documentation).
pub struct ClassicDiscovery {
    config: DiscoveryConfig,
    prober: Prober<Step>,
    mapped: Option<SocketAddr>,
    changed: Option<SocketAddr>,
    filter_open: bool,
    report: Option<ClassicReport>,
}

impl ClassicDiscovery {
    /// Starts discovery at `now` on the first of `config.sockets`.
    pub fn new(config: DiscoveryConfig, now: Instant) -> Self {
        let prober = Prober::new(
            config.server,
            config.retransmit,
            config.max_transactions,
            config.rfc3489_requests,
            config.seed,
        );
        let mut d = ClassicDiscovery {
            config,
            prober,
            mapped: None,
            changed: None,
            filter_open: false,
            report: None,
        };
        match d.socket() {
            Some(a) => {
                let to = d.config.server;
                d.prober
                    .start(now, ProbeSpec::reply(Test::Binding, a, to), Step::TestI);
            }
            None => d.finish(Outcome::Inconclusive(Reason::NotEnoughSockets {
                needed: 1,
            })),
        }
        d
    }

    fn socket(&self) -> Option<SocketAddr> {
        self.config.sockets.first().copied()
    }

    /// Offers a received datagram; an ignored one changes nothing.
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

    /// Retransmits and times out.
    pub fn handle_timeout(&mut self, now: Instant) {
        self.prober.handle_timeout(now);
        self.advance(now);
    }

    /// The next datagram to send.
    pub fn poll_transmit(&mut self) -> Option<Transmit> {
        if self.report.is_some() {
            return None;
        }
        self.prober.poll_transmit()
    }

    /// When [`ClassicDiscovery::handle_timeout`] must next be called.
    pub fn poll_timeout(&self) -> Option<Instant> {
        if self.report.is_some() {
            return None;
        }
        self.prober.poll_timeout()
    }

    /// Progress events.
    pub fn poll_event(&mut self) -> Option<DiscoveryEvent> {
        self.prober.poll_event()
    }

    /// The report, once finished.
    pub fn report(&self) -> Option<&ClassicReport> {
        self.report.as_ref()
    }

    fn advance(&mut self, now: Instant) {
        while let Some((step, outcome)) = self.prober.poll_finished() {
            if self.report.is_some() {
                continue;
            }
            let test = match step {
                Step::TestI => Test::Binding,
                Step::TestII => Test::ChangeIpAndPort,
                Step::TestIChanged => Test::OtherAddress,
                Step::TestIII => Test::ChangePort,
            };
            if let Err(r) = self.on_outcome(now, step, test, outcome) {
                self.finish(Outcome::Inconclusive(r));
            }
        }
    }

    fn on_outcome(
        &mut self,
        now: Instant,
        step: Step,
        test: Test,
        outcome: ProbeOutcome,
    ) -> Result<(), Reason> {
        let (Some(a), server) = (self.socket(), self.config.server) else {
            return Err(Reason::NotEnoughSockets { needed: 1 });
        };
        match (step, outcome) {
            (Step::TestI, ProbeOutcome::Inconclusive(Reason::NoAnswer { .. })) => {
                self.finish(Outcome::Known(ClassicNat::UdpBlocked));
            }
            (Step::TestI, ProbeOutcome::Answered(ans)) => {
                if let Some(code) = ans.error {
                    return Err(Reason::ServerError { test, code });
                }
                self.mapped = Some(ans.mapped.ok_or(Reason::ServerOmittedMappedAddress)?);
                let changed = ans.other.ok_or(Reason::ServerLacksAlternateAddress)?;
                self.changed = Some(changed);
                let change = ChangeRequest {
                    change_ip: true,
                    change_port: true,
                };
                let spec = ProbeSpec::reply(Test::ChangeIpAndPort, a, server)
                    .change(change, changed)
                    .may_fail();
                self.prober.start(now, spec, Step::TestII);
            }
            (Step::TestII, ProbeOutcome::Answered(ans)) if ans.error.is_none() => {
                self.after_test_ii(now, a, true)?
            }
            (Step::TestII, ProbeOutcome::Absent) => self.after_test_ii(now, a, false)?,
            (Step::TestIChanged, ProbeOutcome::Answered(ans)) => {
                if let Some(code) = ans.error {
                    return Err(Reason::ServerError { test, code });
                }
                let x2 = ans.mapped.ok_or(Reason::ServerOmittedMappedAddress)?;
                if Some(x2) != self.mapped {
                    self.finish(Outcome::Known(ClassicNat::Symmetric));
                } else if self.filter_open {
                    self.finish(Outcome::Known(ClassicNat::FullCone));
                } else {
                    let changed = self.changed.ok_or(Reason::ServerLacksAlternateAddress)?;
                    let change = ChangeRequest {
                        change_ip: false,
                        change_port: true,
                    };
                    let source = SocketAddr::new(server.ip(), changed.port());
                    let spec = ProbeSpec::reply(Test::ChangePort, a, server)
                        .change(change, source)
                        .may_fail();
                    self.prober.start(now, spec, Step::TestIII);
                }
            }
            (Step::TestIII, ProbeOutcome::Answered(ans)) if ans.error.is_none() => {
                self.finish(Outcome::Known(ClassicNat::RestrictedCone));
            }
            (Step::TestIII, ProbeOutcome::Absent) => {
                self.finish(Outcome::Known(ClassicNat::PortRestrictedCone))
            }
            (_, ProbeOutcome::Answered(ans)) => {
                return Err(match ans.error {
                    Some(code) => Reason::ServerError { test, code },
                    None => Reason::ServerOmittedMappedAddress,
                });
            }
            (_, ProbeOutcome::Absent) => {
                return Err(Reason::NoAnswer {
                    test,
                    unanswered: 0,
                });
            }
            (_, ProbeOutcome::Inconclusive(r)) => return Err(r),
        }
        Ok(())
    }

    fn after_test_ii(&mut self, now: Instant, a: SocketAddr, answered: bool) -> Result<(), Reason> {
        self.filter_open = answered;
        if self.mapped == Some(a) {
            let nat = if answered {
                ClassicNat::OpenInternet
            } else {
                ClassicNat::SymmetricUdpFirewall
            };
            self.finish(Outcome::Known(nat));
            return Ok(());
        }
        let changed = self.changed.ok_or(Reason::ServerLacksAlternateAddress)?;
        let other_ip = SocketAddr::new(changed.ip(), self.config.server.port());
        self.prober.start(
            now,
            ProbeSpec::reply(Test::OtherAddress, a, other_ip),
            Step::TestIChanged,
        );
        Ok(())
    }

    fn finish(&mut self, nat: Outcome<ClassicNat>) {
        if self.report.is_none() {
            self.report = Some(ClassicReport {
                mapped_address: self.mapped,
                nat,
            });
            self.prober.finished_run();
        }
    }
}
