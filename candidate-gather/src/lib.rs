//! Finding our own addresses: the candidates of RFC 8445 §5.1.1 and the NAT
//! in front of us.
//!
//! Implemented, as sans-IO state machines driven with `now` and a seed:
//! - [`transaction`]: STUN client transactions with RFC 8489 §6.2.1
//!   retransmissions and strict response matching;
//! - [`nat`]: NAT behaviour discovery, RFC 5780 §4 and the classic RFC 3489
//!   flow, robust to loss (a result is determined or says why not).
//!
//! To come (later issues): host candidates from the interfaces the caller
//! lists, server-reflexive candidates through STUN Binding, and relayed
//! candidates through a TURN client (RFC 8656).

pub mod nat;
pub mod transaction;
