//! What came of each server: candidates, answers that needed none, and
//! failures with what to check (the tally works them out).

use std::net::SocketAddr;

use ice::{StunError, TurnError};

use crate::servers::Server;

/// Why a request gave no candidate, by what the person should check.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Cause {
    /// The TURN username or password.
    Credentials,
    /// The server's address and port, or the path to it: no answer
    /// within the retransmissions.
    NoAnswer,
    /// The same, with the request still open when --timeout ran out.
    Silent,
    /// No local address of the server's family to ask it from.
    Family,
    /// Something the server said (its text tells).
    Refused,
}

/// One failed request, told in the words of the agent's error.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Failure {
    /// What to check.
    pub cause: Cause,
    /// The base the request left from, when known (STUN).
    pub base: Option<SocketAddr>,
    /// What happened.
    pub text: String,
}

impl Failure {
    /// A STUN server's [`StunError`] for a request from `base`.
    pub fn stun(base: SocketAddr, e: &StunError) -> Failure {
        let cause = match e {
            StunError::Timeout => Cause::NoAnswer,
            _ => Cause::Refused,
        };
        Failure {
            cause,
            base: Some(base),
            text: e.to_string(),
        }
    }

    /// A TURN server's [`TurnError`].
    pub fn turn(e: &TurnError) -> Failure {
        let cause = match e {
            TurnError::Unauthorized { .. }
            | TurnError::IntegrityViolated { .. }
            | TurnError::InvalidCredentials(_)
            | TurnError::WrongCredentials { .. } => Cause::Credentials,
            TurnError::Timeout { .. } => Cause::NoAnswer,
            _ => Cause::Refused,
        };
        Failure {
            cause,
            base: None,
            text: e.to_string(),
        }
    }
}

/// An answer that gave no candidate because its address was redundant.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Redundant {
    /// The mapped address was the base's own: no NAT between.
    Host,
    /// The mapped address was the one another server gave (its URL).
    SameAs(String),
}

/// What a server came to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ServerResult {
    /// The server.
    pub server: Server,
    /// How many requests the agent made to it (one per base of its family).
    pub asked: usize,
    /// The candidates it gave.
    pub gave: Vec<SocketAddr>,
    /// Answers without a candidate (STUN only).
    pub redundant: Vec<Redundant>,
    /// Relays allocated that could not be told from other TURN servers'.
    pub untold: usize,
    /// Failed or unanswered requests.
    pub failures: Vec<Failure>,
}

impl ServerResult {
    /// Whether it answered with something usable: a candidate, or the
    /// proof that none was needed.
    pub fn ok(&self) -> bool {
        !self.gave.is_empty() || !self.redundant.is_empty() || self.untold > 0
    }
}
