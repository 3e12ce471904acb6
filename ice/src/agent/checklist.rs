//! A stream's candidates, checklist and valid list (RFC 8445 §6.1.2).
//!
//! - §6.1.2.2 pairing: every local with every remote candidate of the same
//!   component and address family (UDP only).
//! - §6.1.2.4 pruning: a server-reflexive local candidate is replaced by its
//!   base, so it never adds a pair of its own; a pair equal to an existing
//!   one (same base, same remote address) is dropped unless it has a higher
//!   priority.
//! - §6.1.2.5 the list is capped (lowest-priority pairs that are not yet
//!   in progress are dropped first).
//! - §6.1.2.6 states Frozen, Waiting, In-Progress, Succeeded, Failed; a new
//!   pair is Waiting unless another pair with its foundation is already
//!   Waiting or In-Progress (RFC 8838 §10, trickle), then Frozen.
//! - §7.2.5.3.2 the valid list: the pairs whose checks succeeded, each built
//!   from the local candidate the mapped address names and the checked
//!   pair's remote candidate.
//!
//! - §7.3.1.3 peer-reflexive remote candidates are learnt up to
//!   [`PEER_REFLEXIVE_LIMIT`] per component and base. Two NATs that both map every
//!   destination anew (address-and-port-dependent mapping) answer each
//!   triggered check from a fresh address, so without a limit the agents
//!   would learn candidates and start checks for ever and never fail; it
//!   also bounds what an authenticated peer can make us store.
//!
//! Candidates and pairs are held in `Vec`s and referred to by index; nothing
//! is ever removed from them while the checklist lives (a restart makes a new
//! checklist), so an index cannot go stale.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use crate::candidate::{Candidate, CandidateType, TransportProtocol, pair_priority};

use super::types::Role;

/// How many peer-reflexive remote candidates a component learns from the
/// checks arriving on one base; requests from further new addresses are
/// answered but teach nothing.
pub(crate) const PEER_REFLEXIVE_LIMIT: usize = 16;

/// A local candidate and the socket it sends from.
#[derive(Clone, Debug)]
pub(crate) struct Local {
    pub candidate: Candidate,
    pub base: SocketAddr,
    /// Whether it was offered to the peer (peer-reflexive ones are not).
    pub signalled: bool,
}

/// A remote candidate.
#[derive(Clone, Debug)]
pub(crate) struct Remote {
    pub candidate: Candidate,
    /// For a peer-reflexive candidate: the base whose check taught it.
    pub learned_on: Option<SocketAddr>,
}

impl Remote {
    pub fn addr(&self) -> Option<SocketAddr> {
        self.candidate.socket_addr()
    }
}

/// A candidate pair's state (RFC 8445 §6.1.2.6).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum PairState {
    /// Waiting for a pair of its foundation to succeed.
    Frozen,
    /// Ready to be checked.
    Waiting,
    /// A check is under way.
    InProgress,
    /// A check succeeded.
    Succeeded,
    /// Its check failed (or it was pruned).
    Failed,
}

#[derive(Clone, Debug)]
pub(crate) struct Pair {
    pub component: u16,
    pub local: usize,
    pub remote: usize,
    pub base: SocketAddr,
    pub remote_addr: SocketAddr,
    pub priority: u64,
    pub foundation: String,
    pub state: PairState,
    /// The controlled agent got USE-CANDIDATE for this pair: nominate it
    /// when its check succeeds (RFC 8445 §7.3.1.5).
    pub nominate_on_success: bool,
    /// The controlling agent is nominating it: the next check carries
    /// USE-CANDIDATE.
    pub nominating: bool,
    /// Dropped by the cap: never checked.
    pub pruned: bool,
    /// When its current check started (it became In-Progress).
    pub checked_at: Option<Instant>,
    /// Failed on an answer from another address than the check went to
    /// (§7.2.5.2.1): the path through the peer's NAT is not symmetric, and
    /// checking again cannot change that.
    pub asymmetric: bool,
}

/// A pair whose check succeeded (RFC 8445 §7.2.5.3.2).
#[derive(Clone, Debug)]
pub(crate) struct Valid {
    pub component: u16,
    pub local: usize,
    pub remote: usize,
    /// The checked pair (its base and remote address carry the traffic).
    pub pair: usize,
    pub priority: u64,
    pub nominated: bool,
    /// From the check's start to its success response (retransmissions
    /// included, so never an underestimate).
    pub rtt: Duration,
}

/// A checklist: candidates, pairs, the valid list.
#[derive(Debug, Default)]
pub(crate) struct Checklist {
    pub locals: Vec<Local>,
    pub remotes: Vec<Remote>,
    pub pairs: Vec<Pair>,
    pub valid: Vec<Valid>,
    pub triggered: std::collections::VecDeque<usize>,
}

impl Checklist {
    fn pair_prio(&self, role: Role, local: usize, remote: usize) -> u64 {
        let l = self.locals.get(local).map_or(0, |l| l.candidate.priority);
        let r = self.remotes.get(remote).map_or(0, |r| r.candidate.priority);
        match role {
            Role::Controlling => pair_priority(l, r),
            Role::Controlled => pair_priority(r, l),
        }
    }

    /// Adds a local candidate (unless it duplicates one) and pairs it.
    /// Returns its index, and whether it is new.
    pub fn add_local(&mut self, role: Role, max_pairs: usize, local: Local) -> (usize, bool) {
        if let Some(i) = self
            .locals
            .iter()
            .position(|l| l.candidate.address == local.candidate.address && l.base == local.base)
        {
            return (i, false);
        }
        self.locals.push(local);
        let i = self.locals.len() - 1;
        for r in 0..self.remotes.len() {
            self.pair(role, i, r);
        }
        self.cap(max_pairs);
        (i, true)
    }

    /// Adds a remote candidate (a duplicate of a known one is merged) and
    /// pairs it. Returns its index.
    /// Whether a remote candidate at this address and component is known.
    pub fn knows_remote(&self, candidate: &Candidate) -> bool {
        self.remotes.iter().any(|r| {
            r.candidate.address == candidate.address && r.candidate.component == candidate.component
        })
    }

    /// The remote candidates the peer signalled (peer-reflexive ones are
    /// capped apart, by [`PEER_REFLEXIVE_LIMIT`]).
    pub fn signalled_remotes(&self) -> usize {
        self.remotes
            .iter()
            .filter(|r| r.candidate.kind != CandidateType::PeerReflexive)
            .count()
    }

    pub fn add_remote(&mut self, role: Role, max_pairs: usize, candidate: Candidate) -> usize {
        if let Some(i) = self.remotes.iter().position(|r| {
            r.candidate.address == candidate.address && r.candidate.component == candidate.component
        }) {
            // A signalled candidate replaces a peer-reflexive guess at the
            // same address (RFC 8445 §7.3.1.3): keep its type and priority.
            if let Some(r) = self.remotes.get_mut(i) {
                if r.candidate.kind == CandidateType::PeerReflexive
                    && candidate.kind != CandidateType::PeerReflexive
                {
                    r.candidate = candidate;
                }
            }
            self.reprioritise(role);
            return i;
        }
        self.remotes.push(Remote {
            candidate,
            learned_on: None,
        });
        let r = self.remotes.len() - 1;
        for l in 0..self.locals.len() {
            self.pair(role, l, r);
        }
        self.cap(max_pairs);
        r
    }

    /// Forms the pair (local, remote) if the RFC allows it. Returns its
    /// index (an existing equal pair's, if any).
    pub fn pair(&mut self, role: Role, local: usize, remote: usize) -> Option<usize> {
        let l = self.locals.get(local)?;
        let r = self.remotes.get(remote)?;
        let raddr = r.addr()?;
        if l.candidate.component != r.candidate.component
            || l.candidate.transport != TransportProtocol::Udp
            || r.candidate.transport != TransportProtocol::Udp
            || l.base.is_ipv4() != raddr.is_ipv4()
        {
            return None;
        }
        // §6.1.2.4: a server-reflexive local candidate is replaced by its
        // base; the host candidate of that base makes the same pair.
        let local = if l.candidate.kind == CandidateType::ServerReflexive {
            self.locals
                .iter()
                .position(|h| h.base == l.base && h.candidate.kind == CandidateType::Host)?
        } else {
            local
        };
        let l = self.locals.get(local)?;
        let foundation = format!("{}:{}", l.candidate.foundation, r.candidate.foundation);
        let component = l.candidate.component;
        let base = l.base;
        let priority = self.pair_prio(role, local, remote);
        if let Some(i) = self
            .pairs
            .iter()
            .position(|p| p.base == base && p.remote_addr == raddr)
        {
            return Some(i);
        }
        let busy = self.pairs.iter().any(|p| {
            p.foundation == foundation
                && matches!(p.state, PairState::Waiting | PairState::InProgress)
        });
        self.pairs.push(Pair {
            component,
            local,
            remote,
            base,
            remote_addr: raddr,
            priority,
            foundation,
            state: if busy {
                PairState::Frozen
            } else {
                PairState::Waiting
            },
            nominate_on_success: false,
            nominating: false,
            pruned: false,
            checked_at: None,
            asymmetric: false,
        });
        Some(self.pairs.len() - 1)
    }

    /// §6.1.2.5: keeps at most `max` live pairs, dropping the lowest
    /// priorities that are not in progress or done.
    fn cap(&mut self, max: usize) {
        let live = self.pairs.iter().filter(|p| !p.pruned).count();
        if live <= max {
            return;
        }
        let mut candidates: Vec<usize> = (0..self.pairs.len())
            .filter(|&i| {
                self.pairs.get(i).is_some_and(|p| {
                    !p.pruned && matches!(p.state, PairState::Frozen | PairState::Waiting)
                })
            })
            .collect();
        candidates.sort_by_key(|&i| self.pairs.get(i).map_or(0, |p| p.priority));
        for i in candidates.into_iter().take(live - max) {
            if let Some(p) = self.pairs.get_mut(i) {
                p.pruned = true;
                p.state = PairState::Failed;
            }
        }
    }

    /// Recomputes pair priorities (after a role change, or a remote
    /// candidate's priority became known).
    pub fn reprioritise(&mut self, role: Role) {
        for i in 0..self.pairs.len() {
            let Some((l, r)) = self.pairs.get(i).map(|p| (p.local, p.remote)) else {
                continue;
            };
            let prio = self.pair_prio(role, l, r);
            if let Some(p) = self.pairs.get_mut(i) {
                p.priority = prio;
            }
        }
        for i in 0..self.valid.len() {
            let Some((l, r)) = self.valid.get(i).map(|v| (v.local, v.remote)) else {
                continue;
            };
            let prio = self.pair_prio(role, l, r);
            if let Some(v) = self.valid.get_mut(i) {
                v.priority = prio;
            }
        }
    }

    /// The highest-priority Waiting pair.
    pub fn best_waiting(&self) -> Option<usize> {
        self.pairs
            .iter()
            .enumerate()
            .filter(|(_, p)| p.state == PairState::Waiting && !p.pruned)
            .max_by_key(|(_, p)| p.priority)
            .map(|(i, _)| i)
    }

    /// §6.1.4.2 step 2: for each foundation with a Frozen pair and no pair
    /// Waiting or In-Progress, one Frozen pair of it becomes Waiting.
    /// Returns whether any did.
    pub fn unfreeze_idle_foundations(&mut self, busy: &dyn Fn(&str) -> bool) -> bool {
        let mut any = false;
        let mut order: Vec<usize> = (0..self.pairs.len()).collect();
        order.sort_by_key(|&i| {
            self.pairs
                .get(i)
                .map_or((u16::MAX, 0), |p| (p.component, u64::MAX - p.priority))
        });
        for i in order {
            let Some(p) = self.pairs.get(i) else { continue };
            if p.state != PairState::Frozen || p.pruned {
                continue;
            }
            let f = p.foundation.clone();
            let local_busy = self.pairs.iter().any(|q| {
                q.foundation == f && matches!(q.state, PairState::Waiting | PairState::InProgress)
            });
            if !local_busy && !busy(&f) {
                if let Some(p) = self.pairs.get_mut(i) {
                    p.state = PairState::Waiting;
                    any = true;
                }
            }
        }
        any
    }

    /// §7.2.5.3.3: a success unfreezes the Frozen pairs of its foundation.
    pub fn unfreeze_foundation(&mut self, foundation: &str) {
        for p in &mut self.pairs {
            if p.state == PairState::Frozen && p.foundation == foundation && !p.pruned {
                p.state = PairState::Waiting;
            }
        }
    }

    /// Whether any pair can still succeed (not Succeeded or Failed).
    pub fn pending(&self) -> bool {
        self.pairs.iter().any(|p| {
            !p.pruned
                && matches!(
                    p.state,
                    PairState::Frozen | PairState::Waiting | PairState::InProgress
                )
        })
    }

    /// Whether a pair of `component` that outranks `priority` may still
    /// succeed: one not yet checked, or one whose check has been out for
    /// less than `patience`.
    pub fn better_pending(
        &self,
        component: u16,
        priority: u64,
        now: Instant,
        patience: Duration,
    ) -> bool {
        self.pairs.iter().any(|p| {
            p.component == component
                && !p.pruned
                && p.priority > priority
                && match p.state {
                    PairState::Frozen | PairState::Waiting => true,
                    PairState::InProgress => p.checked_at.is_none_or(|t| now < t + patience),
                    PairState::Succeeded | PairState::Failed => false,
                }
        })
    }

    /// When the next in-progress check of a pair better than `priority`
    /// runs out of `patience` (after `now`).
    pub fn patience_ends(
        &self,
        component: u16,
        priority: u64,
        now: Instant,
        patience: Duration,
    ) -> Option<Instant> {
        self.pairs
            .iter()
            .filter(|p| {
                p.component == component
                    && !p.pruned
                    && p.priority > priority
                    && p.state == PairState::InProgress
            })
            .filter_map(|p| p.checked_at?.checked_add(patience))
            .filter(|t| *t > now)
            .min()
    }

    /// Adds (or finds) a valid pair.
    pub fn add_valid(
        &mut self,
        role: Role,
        component: u16,
        local: usize,
        remote: usize,
        pair: usize,
        rtt: Duration,
    ) -> usize {
        if let Some(i) = self
            .valid
            .iter()
            .position(|v| v.local == local && v.remote == remote && v.pair == pair)
        {
            return i;
        }
        let priority = self.pair_prio(role, local, remote);
        self.valid.push(Valid {
            component,
            local,
            remote,
            pair,
            priority,
            nominated: false,
            rtt,
        });
        self.valid.len() - 1
    }

    /// The best valid pair of a component, nominated ones first when
    /// `nominated_only`.
    pub fn best_valid(&self, component: u16, nominated_only: bool) -> Option<usize> {
        self.valid
            .iter()
            .enumerate()
            .filter(|(_, v)| v.component == component && (!nominated_only || v.nominated))
            .max_by_key(|(_, v)| v.priority)
            .map(|(i, _)| i)
    }

    /// Whether valid pair `v` goes through a relay (either candidate).
    pub fn is_relayed(&self, v: usize) -> bool {
        self.valid.get(v).is_some_and(|v| {
            let kind = |k: Option<&Candidate>| k.map(|c| c.kind) == Some(CandidateType::Relayed);
            kind(self.locals.get(v.local).map(|l| &l.candidate))
                || kind(self.remotes.get(v.remote).map(|r| &r.candidate))
        })
    }

    /// The local candidate at `addr` on `base`, if any.
    pub fn local_at(&self, base: SocketAddr, addr: SocketAddr) -> Option<usize> {
        self.locals
            .iter()
            .position(|l| l.base == base && l.candidate.socket_addr() == Some(addr))
            .or_else(|| {
                self.locals
                    .iter()
                    .position(|l| l.candidate.socket_addr() == Some(addr))
            })
    }

    /// The remote candidate of `component` at `addr`, if any.
    pub fn remote_at(&self, component: u16, addr: SocketAddr) -> Option<usize> {
        self.remotes
            .iter()
            .position(|r| r.candidate.component == component && r.addr() == Some(addr))
    }

    /// Whether a check arriving on `base` may teach `component` another
    /// peer-reflexive candidate. Counted per base: a flood of new sources
    /// on the direct path must not keep the relayed one from learning.
    pub fn may_learn_peer_reflexive(&self, component: u16, base: SocketAddr) -> bool {
        self.remotes
            .iter()
            .filter(|r| {
                r.candidate.component == component
                    && r.candidate.kind == CandidateType::PeerReflexive
                    && r.learned_on == Some(base)
            })
            .count()
            < PEER_REFLEXIVE_LIMIT
    }

    /// The pair on `base` to `remote`, if any.
    pub fn pair_at(&self, base: SocketAddr, remote: SocketAddr) -> Option<usize> {
        self.pairs
            .iter()
            .position(|p| p.base == base && p.remote_addr == remote)
    }
}
