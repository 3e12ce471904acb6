//! Which server gave what. The agent sends one Binding request to each
//! STUN server, and makes one allocation on each TURN server, from every
//! host candidate's base of the server's address family (RFC 8445
//! §5.1.1.2), but a candidate does not name its server. The tally tells
//! them apart:
//!
//! - a server-reflexive candidate by its foundation, which hashes the
//!   base and the STUN server's IP (§5.1.1.3), and its related address,
//!   the base;
//! - a relayed candidate by its address: the one TURN server of its
//!   family still owing an allocation, else the one at the relayed IP;
//!   the rest are counted as "not told apart";
//! - a request that neither gave a candidate nor failed by the time
//!   gathering completed was answered with a redundant address (§5.1.3:
//!   the agent drops a server-reflexive candidate equal to a host or an
//!   earlier server-reflexive one); if the timeout came first, that
//!   cannot be told from no answer, and the failure says so.

use std::net::SocketAddr;
use std::time::Duration;

use ice::candidate::foundation;
use ice::{Candidate, CandidateType, StunError, TransportProtocol, TurnError};

use super::result::{Cause, Failure, Redundant, ServerResult};
use crate::servers::Server;
use crate::url::Scheme;

#[derive(Debug)]
struct Record {
    server: Server,
    /// The bases a request left from.
    bases: Vec<SocketAddr>,
    /// (base, candidate) pairs; for TURN the base is unknown (`None`).
    gave: Vec<(Option<SocketAddr>, SocketAddr)>,
    /// Bases of STUN requests that failed.
    failed_bases: Vec<SocketAddr>,
    failures: Vec<Failure>,
}

impl Record {
    fn owed(&self) -> usize {
        self.bases
            .len()
            .saturating_sub(self.gave.len() + self.failures.len())
    }

    fn open(&self, base: SocketAddr) -> bool {
        self.bases.contains(&base)
            && !self.failed_bases.contains(&base)
            && !self.gave.iter().any(|(b, _)| *b == Some(base))
    }
}

/// The bookkeeping, fed with the agent's events.
#[derive(Debug)]
pub struct Tally {
    records: Vec<Record>,
    untold: usize,
}

impl Tally {
    /// Nothing heard yet from `servers`.
    pub fn new(servers: &[Server]) -> Tally {
        let records = servers
            .iter()
            .map(|s| Record {
                server: s.clone(),
                bases: Vec::new(),
                gave: Vec::new(),
                failed_bases: Vec::new(),
                failures: Vec::new(),
            })
            .collect();
        Tally { records, untold: 0 }
    }

    /// A local candidate.
    pub fn candidate(&mut self, c: &Candidate) {
        let Some(addr) = c.socket_addr() else { return };
        match c.kind {
            CandidateType::Host => {
                for r in &mut self.records {
                    if r.server.addr.is_ipv4() == addr.is_ipv4() {
                        r.bases.push(addr);
                    }
                }
            }
            CandidateType::ServerReflexive => {
                let Some(base) = c.related else { return };
                let open: Vec<usize> = (0..self.records.len())
                    .filter(|&i| {
                        let r = &self.records[i];
                        r.server.scheme == Scheme::Stun && r.open(base)
                    })
                    .collect();
                let ours = |i: &usize| {
                    let server = self.records[*i].server.addr.ip();
                    let kind = CandidateType::ServerReflexive;
                    foundation(kind, base.ip(), Some(server), TransportProtocol::Udp)
                        == c.foundation
                };
                let at = open.iter().copied().find(ours).or(open.first().copied());
                if let Some(r) = at.and_then(|i| self.records.get_mut(i)) {
                    r.gave.push((Some(base), addr));
                }
            }
            CandidateType::Relayed => {
                let mut owing: Vec<&mut Record> = self
                    .records
                    .iter_mut()
                    .filter(|r| {
                        r.server.scheme == Scheme::Turn
                            && r.server.addr.is_ipv4() == addr.is_ipv4()
                            && r.owed() > 0
                    })
                    .collect();
                if owing.len() > 1 {
                    owing.retain(|r| r.server.addr.ip() == addr.ip());
                }
                match owing.as_mut_slice() {
                    [only] => only.gave.push((None, addr)),
                    _ => self.untold += 1,
                }
            }
            CandidateType::PeerReflexive => {}
        }
    }

    /// A STUN server gave no server-reflexive address for `base`; returns
    /// the server's URL and the failure, to show at once.
    pub fn stun_failed(
        &mut self,
        server: SocketAddr,
        base: SocketAddr,
        e: &StunError,
    ) -> Option<(String, Failure)> {
        let r = self
            .records
            .iter_mut()
            .find(|r| r.server.scheme == Scheme::Stun && r.server.addr == server && r.open(base))?;
        r.failed_bases.push(base);
        r.failures.push(Failure::stun(base, e));
        Some((r.server.url.clone(), Failure::stun(base, e)))
    }

    /// A TURN allocation failed (a redirected one may name another
    /// server: then it is the only TURN server's, if there is one).
    pub fn turn_failed(&mut self, server: SocketAddr, e: &TurnError) -> Option<(String, Failure)> {
        let turn: Vec<usize> = (0..self.records.len())
            .filter(|&i| self.records[i].server.scheme == Scheme::Turn)
            .collect();
        let named = turn
            .iter()
            .find(|&&i| self.records[i].server.addr == server);
        let at = match (named, turn.as_slice()) {
            (Some(&i), _) | (None, &[i]) => i,
            _ => return None,
        };
        let r = &mut self.records[at];
        r.failures.push(Failure::turn(e));
        Some((r.server.url.clone(), Failure::turn(e)))
    }

    /// The servers still owing an answer.
    pub fn waiting(&self) -> Vec<&str> {
        self.records
            .iter()
            .filter(|r| r.owed() > 0)
            .map(|r| r.server.url.as_str())
            .collect()
    }

    /// Each server's result, once gathering completed (`complete`) or
    /// the `timeout` ran out.
    pub fn finish(self, complete: bool, timeout: Duration) -> Vec<ServerResult> {
        // Which server gave each base its server-reflexive candidate.
        let srflx: Vec<(SocketAddr, &str)> = self
            .records
            .iter()
            .flat_map(|r| {
                r.gave
                    .iter()
                    .filter_map(|(b, _)| Some(((*b)?, r.server.url.as_str())))
            })
            .collect();
        let mut untold = self.untold;
        let mut out = Vec::new();
        for r in &self.records {
            let mut res = ServerResult {
                server: r.server.clone(),
                asked: r.bases.len(),
                gave: r.gave.iter().map(|(_, a)| *a).collect(),
                redundant: Vec::new(),
                untold: 0,
                failures: r.failures.clone(),
            };
            // STUN: the bases whose request neither gave nor failed; TURN:
            // as many allocations as are owed beyond the untold ones.
            let open: Vec<Option<SocketAddr>> = match r.server.scheme {
                Scheme::Stun => r
                    .bases
                    .iter()
                    .filter(|b| r.open(**b))
                    .map(|b| Some(*b))
                    .collect(),
                Scheme::Turn => {
                    res.untold = r.owed().min(untold);
                    untold -= res.untold;
                    vec![None; r.owed() - res.untold]
                }
            };
            for base in open {
                match (complete, base) {
                    (false, _) => res.failures.push(silent(&r.server, base, timeout)),
                    (true, Some(base)) => {
                        res.redundant
                            .push(match srflx.iter().find(|(b, _)| *b == base) {
                                Some((_, url)) => Redundant::SameAs((*url).to_owned()),
                                None => Redundant::Host,
                            })
                    }
                    (true, None) => {}
                }
            }
            if res.asked == 0 {
                let family = if r.server.addr.is_ipv4() {
                    "IPv4"
                } else {
                    "IPv6"
                };
                res.failures.push(Failure {
                    cause: Cause::Family,
                    base: None,
                    text: format!("not asked: no local {family} address to send from"),
                });
            }
            out.push(res);
        }
        out
    }
}

/// A request still open when --timeout ran out.
fn silent(server: &Server, base: Option<SocketAddr>, timeout: Duration) -> Failure {
    // A redundant answer gives no event: only gathering's completion
    // proves that it came.
    let text = match server.scheme {
        Scheme::Stun => format!(
            "no result within --timeout {timeout:?}: no answer, or one equal to the host \
             address, which the agent drops without a word (a longer --timeout tells them apart)"
        ),
        Scheme::Turn => format!("no answer within --timeout {timeout:?}"),
    };
    Failure {
        cause: Cause::Silent,
        base,
        text,
    }
}
