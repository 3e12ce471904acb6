//! Finding our own addresses: the candidates of RFC 8445 §5.1.1 and the NAT
//! in front of us.
//!
//! Implemented, as sans-IO state machines driven with `now` and a seed:
//! - [`transaction`]: STUN client transactions with RFC 8489 §6.2.1
//!   retransmissions and strict response matching;
//! - [`nat`]: NAT behaviour discovery, RFC 5780 §4 and the classic RFC 3489
//!   flow, robust to loss (a result is determined or says why not);
//! - [`turn`]: a TURN client (RFC 8656) that allocates a relayed candidate
//!   over UDP or TCP, with long-term credentials, permissions and channels.
//!
//! Host and server-reflexive candidates are gathered by the ICE agent
//! itself (`ice::Agent`), with this crate's transactions; listing the
//! machine's interfaces comes with the tokio driver.

pub mod nat;
pub mod transaction;
pub mod turn;
