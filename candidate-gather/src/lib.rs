//! Finding our own addresses: the candidates of RFC 8445 §5.1.1 and the NAT
//! in front of us.
//!
//! This crate will hold, as sans-IO state machines driven with `now` and a
//! seeded RNG:
//! - host candidates from the interfaces the caller lists;
//! - server-reflexive candidates through STUN Binding (RFC 8489);
//! - relayed candidates through a TURN client (RFC 8656);
//! - NAT behaviour discovery (RFC 5780 §4, and the classic RFC 3489 flow).
//!
//! Nothing is implemented yet; the issues that build it are listed in the
//! README. It depends only on `stun-proto` for the wire format.
