//! Requests and their answers: building each request with its credentials,
//! and the receive rules every answer passes before it counts (RFC 8489
//! §6.3.3, §9.2.5).
//!
//! An operation ([`Op`]) is one logical request: the first Allocate, a
//! refresh, one CreatePermission... It may take several transactions: a 401
//! or a 438 repeats it as a new transaction with the new credentials, a
//! 300 repeats it to the alternate server, a 420 naming DONT-FRAGMENT
//! repeats it without that attribute (RFC 8656 §7.4).
//!
//! Receive rules, in order, for an answer whose transaction id is one of
//! ours and that came from the server the request went to:
//! 1. its method is the request's; FINGERPRINT, if present, matches;
//! 2. if it has an integrity attribute and we have a key, it verifies;
//! 3. a success needs a verified integrity attribute (after the 401; a
//!    success to a request without credentials is dropped, RFC 8656 §7.2
//!    has the server authenticate every Allocate);
//! 4. an error other than 401 and 438 to a request with credentials needs
//!    a verified integrity attribute; a 400 without one is always dropped;
//! 5. a response other than 401/438 with a nonce cookie announcing
//!    PASSWORD-ALGORITHMS but without them is dropped (bid-down);
//! 6. a success with an unknown comprehension-required attribute fails
//!    the request (RFC 8489 §6.3.3).
//!
//! A dropped answer leaves the transaction running over UDP (and the
//! eventual failure is [`TurnError::IntegrityViolated`]); over TCP it ends
//! it at once (RFC 8489 §9.2.5).

use std::net::{IpAddr, SocketAddr};
use std::time::Instant;

use stun_proto::attr::{
    ChannelNumber, DontFragment, ErrorCode, Lifetime, RequestedAddressFamily, RequestedTransport,
    Software, UnknownAttributes, XorPeerAddress,
};
use stun_proto::{
    AttributeType, BuildError, Class, IntegrityKey, Message, MessageType, MessageWriter, Method,
    TransactionId,
};

use super::auth::downgraded;
use super::error::{Operation, TurnError};
use super::event::{DropReason, Handled};
use super::{MAX_STALE_NONCE_RETRIES, TurnClient, TurnState, TurnTransport};
use crate::transaction::{Expect, Finished};

/// An operation's id: the key of its transactions.
pub(super) type OpId = u64;

/// What an operation asks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum OpKind {
    Allocate,
    Refresh,
    Release,
    Permission {
        ip: IpAddr,
        port: u16,
    },
    ChannelBind {
        peer: SocketAddr,
        channel: ChannelNumber,
    },
}

impl OpKind {
    fn method(self) -> Method {
        match self {
            OpKind::Allocate => Method::ALLOCATE,
            OpKind::Refresh | OpKind::Release => Method::REFRESH,
            OpKind::Permission { .. } => Method::CREATE_PERMISSION,
            OpKind::ChannelBind { .. } => Method::CHANNEL_BIND,
        }
    }

    pub(super) fn operation(self) -> Operation {
        match self {
            OpKind::Allocate => Operation::Allocate,
            OpKind::Refresh => Operation::Refresh,
            OpKind::Release => Operation::Release,
            OpKind::Permission { ip, .. } => Operation::CreatePermission(ip),
            OpKind::ChannelBind { peer, channel } => Operation::ChannelBind {
                peer,
                channel: channel.get(),
            },
        }
    }
}

/// One logical request and its retry counters.
#[derive(Clone, Debug)]
pub(super) struct Op {
    pub(super) kind: OpKind,
    /// The current transaction's request carried credentials.
    credentialed: bool,
    /// The key it was signed with, which its answers must verify with.
    key: Option<IntegrityKey>,
    stale_nonces: u32,
    realm_retries: u32,
    /// Answers to the current transaction dropped by the integrity rules.
    discarded: u32,
    /// When the current transaction started.
    started: Instant,
}

impl Op {
    /// Whether the current transaction's request carried credentials.
    pub(super) fn is_credentialed(&self) -> bool {
        self.credentialed
    }
}

/// Whether an answer counts.
enum Verdict {
    Accept,
    Drop(DropReason),
}

impl TurnClient {
    /// Starts an operation; its first request goes out now.
    pub(super) fn start_op(&mut self, now: Instant, kind: OpKind) -> OpId {
        let id = self.add_op(now, kind);
        self.send_request(now, id);
        id
    }

    /// Records an operation without sending it (the caller notes its id
    /// first, then calls [`TurnClient::send_request`]).
    pub(super) fn add_op(&mut self, now: Instant, kind: OpKind) -> OpId {
        let id = self.op_id();
        self.ops.insert(
            id,
            Op {
                kind,
                credentialed: false,
                key: None,
                stale_nonces: 0,
                realm_retries: 0,
                discarded: 0,
                started: now,
            },
        );
        id
    }

    /// Sends the operation's request as a new transaction.
    pub(super) fn send_request(&mut self, now: Instant, id: OpId) {
        let Some(kind) = self.ops.get(&id).map(|op| op.kind) else {
            return;
        };
        let tid = TransactionId::random(&mut self.rng);
        match self.build(kind, tid) {
            Ok(bytes) => {
                let key = self.auth.key().copied();
                if let Some(op) = self.ops.get_mut(&id) {
                    op.credentialed = key.is_some();
                    op.key = key;
                    op.discarded = 0;
                    op.started = now;
                }
                let (local, server) = (self.local, self.server);
                self.tx.start(
                    now,
                    id,
                    tid,
                    local,
                    server,
                    Expect::reply(local, server),
                    bytes,
                );
                self.drain_tx();
            }
            Err(_) => {
                self.ops.remove(&id);
                let error = TurnError::ProtocolViolation {
                    operation: kind.operation(),
                    what: "the server's REALM and NONCE make the request too long to send",
                };
                self.op_failed(now, id, kind, error);
            }
        }
    }

    /// The request's bytes.
    fn build(&self, kind: OpKind, tid: TransactionId) -> Result<Vec<u8>, BuildError> {
        let mut buf = Vec::with_capacity(160);
        let msg_type = MessageType::new(kind.method(), Class::Request);
        let mut w = MessageWriter::new(&mut buf, msg_type, tid);
        match kind {
            OpKind::Allocate => {
                w.add(&RequestedTransport::UDP)?;
                if let Some(family) = self.config.family {
                    w.add(&RequestedAddressFamily::new(family))?;
                }
                if self.dont_fragment {
                    w.add(&DontFragment)?;
                }
                if let Some(secs) = lifetime_secs(self.config.lifetime) {
                    w.add(&Lifetime(secs))?;
                }
                if let Some(s) = self.config.software.as_deref()
                    && let Ok(software) = Software::new(s)
                {
                    w.add(&software)?;
                }
            }
            OpKind::Refresh => {
                // Without LIFETIME the server applies its default (§8).
                if let Some(secs) = lifetime_secs(self.config.lifetime) {
                    w.add(&Lifetime(secs))?;
                }
            }
            OpKind::Release => {
                w.add(&Lifetime(0))?;
            }
            OpKind::Permission { ip, port } => {
                w.add(&XorPeerAddress(SocketAddr::new(ip, port)))?;
            }
            OpKind::ChannelBind { peer, channel } => {
                w.add(&channel)?;
                w.add(&XorPeerAddress(peer))?;
            }
        }
        self.auth.sign(&mut w)?;
        Ok(w.finish().to_vec())
    }

    /// An answer from the server (the caller checked the source).
    pub(super) fn handle_response<'a>(&mut self, now: Instant, msg: &Message<'a>) -> Handled<'a> {
        let Some(id) = self.tx.key_of(msg.transaction_id()) else {
            return Handled::NotMine;
        };
        let Some(op) = self.ops.get(&id).cloned() else {
            return Handled::NotMine;
        };
        match self.verdict(&op, msg) {
            Verdict::Accept => {}
            Verdict::Drop(reason) => {
                if reason != DropReason::Integrity {
                    return Handled::Dropped(reason);
                }
                if let Some(op) = self.ops.get_mut(&id) {
                    op.discarded = op.discarded.saturating_add(1);
                }
                if self.config.transport == TurnTransport::Tcp {
                    // RFC 8489 §9.2.5: over a reliable transport, end the
                    // transaction and signal the violation.
                    let _ = self.tx.handle_response(self.local, self.server, msg);
                    self.ops.remove(&id);
                    let error = TurnError::IntegrityViolated {
                        operation: op.kind.operation(),
                    };
                    self.op_failed(now, id, op.kind, error);
                    self.drain_tx();
                }
                return Handled::Dropped(DropReason::Integrity);
            }
        }
        match self.tx.handle_response(self.local, self.server, msg) {
            Ok(Finished::Answered { .. }) => {}
            Ok(Finished::TimedOut { .. }) | Err(_) => return Handled::NotMine,
        }
        let Some(mut op) = self.ops.remove(&id) else {
            return Handled::Consumed;
        };
        if msg.class() == Class::Success {
            if msg.unknown_comprehension_required().next().is_some() {
                let error = TurnError::ProtocolViolation {
                    operation: op.kind.operation(),
                    what: "an unknown comprehension-required attribute in a success response",
                };
                self.op_failed(now, id, op.kind, error);
            } else {
                self.op_succeeded(now, id, op.kind, msg);
            }
        } else {
            self.error_response(now, id, &mut op, msg);
        }
        self.drain_tx();
        Handled::Consumed
    }

    /// The receive rules of the module docs.
    fn verdict(&self, op: &Op, msg: &Message<'_>) -> Verdict {
        if msg.method() != op.kind.method() {
            return Verdict::Drop(DropReason::UnexpectedMethod);
        }
        if msg.has_fingerprint() && msg.verify_fingerprint().is_err() {
            return Verdict::Drop(DropReason::Malformed);
        }
        let has_integrity = msg.integrity_algorithm().is_some();
        let verified = match (has_integrity, &op.key) {
            (true, Some(key)) => {
                if msg.verify_integrity(key).is_err() {
                    return Verdict::Drop(DropReason::Integrity);
                }
                true
            }
            _ => false,
        };
        let code = match msg.class() {
            Class::Success => None,
            _ => match msg.get::<ErrorCode>() {
                Ok(Some(e)) => Some(e.code()),
                // An error without a readable code: only worth reading if
                // authentic, and then it fails the request.
                _ => Some(0),
            },
        };
        let challenge = matches!(code, Some(401 | 438));
        let needs_integrity = match code {
            None => true,
            Some(_) if challenge => false,
            Some(400) => true,
            Some(_) => op.credentialed,
        };
        if needs_integrity && !verified {
            return Verdict::Drop(DropReason::Integrity);
        }
        if !challenge && downgraded(msg) {
            return Verdict::Drop(DropReason::Integrity);
        }
        Verdict::Accept
    }

    /// An authentic (or, for 401/438, acceptable) error response.
    fn error_response(&mut self, now: Instant, id: OpId, op: &mut Op, msg: &Message<'_>) {
        let operation = op.kind.operation();
        let (code, reason) = match msg.get::<ErrorCode>() {
            Ok(Some(e)) => (e.code(), e.reason().to_owned()),
            _ => {
                let error = TurnError::ProtocolViolation {
                    operation,
                    what: "an error response without a valid ERROR-CODE",
                };
                return self.op_failed(now, id, op.kind, error);
            }
        };
        let closing_allocate = self.close_requested && op.kind == OpKind::Allocate;
        let retry = match code {
            401 if !closing_allocate => {
                self.auth
                    .unauthenticated(msg, operation, op.credentialed, &mut op.realm_retries)
            }
            438 if !closing_allocate => {
                if op.stale_nonces >= MAX_STALE_NONCE_RETRIES {
                    Err(TurnError::StaleNonceLoop { operation })
                } else {
                    op.stale_nonces += 1;
                    self.auth.stale_nonce(msg, operation)
                }
            }
            300 if op.kind == OpKind::Allocate && !closing_allocate => self.redirect(now, msg),
            420 if op.kind == OpKind::Allocate && self.dont_fragment && names_df(msg) => {
                // RFC 8656 §7.4: retry without DONT-FRAGMENT.
                self.dont_fragment = false;
                Ok(())
            }
            _ => Err(error_for(operation, code, reason)),
        };
        match retry {
            Ok(()) => {
                self.ops.insert(id, op.clone());
                self.send_request(now, id);
            }
            Err(error) => self.op_failed(now, id, op.kind, error),
        }
    }

    /// Transactions that ran out.
    pub(super) fn transactions_timed_out(&mut self, now: Instant) {
        for finished in self.tx.handle_timeout(now) {
            let Finished::TimedOut { key, .. } = finished else {
                continue;
            };
            let Some(op) = self.ops.remove(&key) else {
                continue;
            };
            let operation = op.kind.operation();
            let error = if op.discarded > 0 {
                TurnError::IntegrityViolated { operation }
            } else {
                TurnError::Timeout {
                    operation,
                    server: self.server,
                    after: now.saturating_duration_since(op.started),
                }
            };
            self.op_failed(now, key, op.kind, error);
        }
        self.drain_tx();
    }

    /// Dispatches a success to the concept it belongs to.
    fn op_succeeded(&mut self, now: Instant, id: OpId, kind: OpKind, msg: &Message<'_>) {
        match kind {
            OpKind::Allocate => self.allocate_succeeded(now, msg),
            OpKind::Refresh => self.refresh_succeeded(now, id, msg),
            OpKind::Release => self.released(true),
            OpKind::Permission { ip, .. } => self.permission_succeeded(now, id, ip),
            OpKind::ChannelBind { peer, .. } => self.channel_succeeded(now, id, peer),
        }
    }

    /// Dispatches a failure to the concept it belongs to.
    pub(super) fn op_failed(&mut self, now: Instant, id: OpId, kind: OpKind, error: TurnError) {
        // RFC 8656 §8, §9.1, §12.1: 437 on a request other than Allocate
        // means the server has no allocation for us any more.
        let lost = matches!(error, TurnError::Rejected { code: 437, .. });
        match kind {
            OpKind::Allocate => self.allocate_failed(now, error),
            OpKind::Release => self.released(lost),
            _ if lost && self.state == TurnState::Allocated => self.reallocate(now),
            OpKind::Refresh => self.refresh_failed(now, id, error),
            OpKind::Permission { ip, .. } => self.permission_failed(now, id, ip, error),
            OpKind::ChannelBind { peer, .. } => self.channel_failed(now, id, peer, error),
        }
    }
}

/// LIFETIME seconds for a requested lifetime; `None` for zero.
fn lifetime_secs(lifetime: std::time::Duration) -> Option<u32> {
    let secs = u32::try_from(lifetime.as_secs()).unwrap_or(u32::MAX);
    (secs > 0).then_some(secs)
}

/// Whether a 420's UNKNOWN-ATTRIBUTES names DONT-FRAGMENT.
fn names_df(msg: &Message<'_>) -> bool {
    matches!(msg.get::<UnknownAttributes>(), Ok(Some(list))
        if list.iter().any(|t| t == AttributeType::DONT_FRAGMENT))
}

/// The typed error for an error code (RFC 8656 §7.4, §9.2, §12.2).
fn error_for(operation: Operation, code: u16, reason: String) -> TurnError {
    match (code, operation) {
        (437, Operation::Allocate) => TurnError::AllocationMismatch,
        (440, _) => TurnError::AddressFamilyNotSupported,
        (441, _) => TurnError::WrongCredentials { operation },
        (442, _) => TurnError::UnsupportedTransport,
        (443, _) => TurnError::PeerAddressFamilyMismatch { operation },
        (403, _) => TurnError::Forbidden { operation, reason },
        (486, _) => TurnError::AllocationQuotaReached,
        (508, _) => TurnError::InsufficientCapacity { operation },
        _ => TurnError::Rejected {
            operation,
            code,
            reason,
        },
    }
}
