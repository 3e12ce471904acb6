//! A sans-IO STUN server: Binding requests answered from up to four
//! sockets, for RFC 8489 clients, RFC 5780 NAT behaviour discovery and
//! RFC 3489 classic clients.
//!
//! # Driving it
//!
//! The verb grammar of this stack: hand every datagram that arrives on one
//! of [`StunServer::local_addresses`] to [`StunServer::handle_packet`], then
//! drain [`StunServer::poll_transmit`] until it returns `None`, sending each
//! [`Transmit`] from the socket bound to its `from`. The server has no
//! timers ([`StunServer::poll_timeout`] is always `None`,
//! [`StunServer::handle_timeout`] does nothing), keeps no state per client,
//! reads no clock and draws no randomness: the same packets give the same
//! answers, byte for byte.
//!
//! # Receiving (RFC 8489 §6.3)
//!
//! In this order; each failure is silence, with a [`Dropped`] reason:
//! 1. the packet arrived on one of our sockets, from a source that can be
//!    answered (not port 0, not an unspecified, multicast or broadcast
//!    address);
//! 2. it is STUN: the header and attribute framing check out (a message
//!    without the magic cookie is an RFC 3489 one);
//! 3. it is a request: indications (§6.3.2) and responses (no transaction
//!    of ours matches them) are dropped;
//! 4. its FINGERPRINT, if present, verifies (§7, §14.7);
//! 5. its method is Binding: "the method value is a supported method", else
//!    silent discard (§6.3);
//! 6. it has the magic cookie, or RFC 3489 answers are on (the default);
//! 7. the outgoing queue has room.
//!
//! Then it is answered (§6.3.1), in this order:
//! - **420 Unknown Attribute** listing in UNKNOWN-ATTRIBUTES (§14.13) the
//!   distinct comprehension-required attributes this server does not
//!   understand, up to 16. Understood (and, except those named below,
//!   ignored): MAPPED-ADDRESS, XOR-MAPPED-ADDRESS, USERNAME,
//!   MESSAGE-INTEGRITY, MESSAGE-INTEGRITY-SHA256, ERROR-CODE,
//!   UNKNOWN-ATTRIBUTES, REALM, NONCE, PRIORITY, USE-CANDIDATE,
//!   SOURCE-ADDRESS, CHANGED-ADDRESS, RESPONSE-PORT, PADDING, and
//!   CHANGE-REQUEST when an alternate is configured (RFC 5780 §6: without
//!   one, "MUST respond with a 420 ... to any Request with a CHANGE-REQUEST
//!   attribute"). Not understood: RESPONSE-ADDRESS (see below), PASSWORD,
//!   REFLECTED-FROM, USERHASH, PASSWORD-ALGORITHM, every TURN attribute, and
//!   anything unregistered. Attributes after MESSAGE-INTEGRITY are ignored
//!   (§9), so they never cause a 420.
//! - **400 Bad Request** for an attribute the server acts on whose value its
//!   RFC forbids (CHANGE-REQUEST not 4 bytes, RESPONSE-PORT not 2 or 4),
//!   RESPONSE-PORT together with PADDING (RFC 5780 §6.1: "MUST return an
//!   error response of type 400"), or RESPONSE-PORT below 1024 (this
//!   server's policy, below).
//! - **Success** otherwise.
//!
//! Errors carry ERROR-CODE with the recommended reason phrase (§14.8),
//! SOFTWARE and FINGERPRINT, and go back from the socket the request
//! arrived on to its source: CHANGE-REQUEST and RESPONSE-PORT steer only
//! successes.
//!
//! # The success (RFC 8489 §6.3.1.1, RFC 5780 §6.1, RFC 3489 §8.1)
//!
//! | client   | alternate | attributes, in order |
//! |----------|-----------|----------------------|
//! | RFC 8489 | no        | XOR-MAPPED-ADDRESS, SOFTWARE, \[PADDING\], FINGERPRINT |
//! | RFC 8489 | yes       | XOR-MAPPED-ADDRESS, MAPPED-ADDRESS, RESPONSE-ORIGIN, OTHER-ADDRESS, SOFTWARE, \[PADDING\], FINGERPRINT |
//! | RFC 3489 | no        | MAPPED-ADDRESS, SOURCE-ADDRESS, SOFTWARE, \[PADDING\] |
//! | RFC 3489 | yes       | MAPPED-ADDRESS, SOURCE-ADDRESS, CHANGED-ADDRESS, SOFTWARE, \[PADDING\] |
//!
//! - The mapped address is the request's source; an IPv4-mapped IPv6
//!   source (a dual-stack socket) is reported as the IPv4 address it is.
//! - The answer leaves from the socket RFC 5780 §6.1 Table 1 names: the one
//!   the request arrived on, Da:Dp, with the IP changed to Ca and/or the
//!   port to Cp as CHANGE-REQUEST asks. RESPONSE-ORIGIN (RFC 3489:
//!   SOURCE-ADDRESS) is that socket; OTHER-ADDRESS (RFC 3489:
//!   CHANGED-ADDRESS) is Ca:Cp, relative to the socket the request arrived
//!   on, whatever the flags.
//! - It goes to the request's source, or with RESPONSE-PORT (RFC 5780 §7.5)
//!   to the source IP at that port.
//! - RFC 3489 clients (RFC 8489 §11) get the same 128-bit transaction id,
//!   the classic attributes and no FINGERPRINT; SOURCE-ADDRESS is left out
//!   when the server is bound to a wildcard address, which it cannot report.
//!
//! # Decisions where the RFCs leave room
//!
//! - **Methods other than Binding** are dropped
//!   ([`Dropped::UnsupportedMethod`]), as RFC 8489 §6.3 says of any
//!   unsupported method; 420 is about attributes, and 400 would answer a
//!   TURN client's Allocate as if it were malformed.
//! - **RESPONSE-ADDRESS** (RFC 3489 §11.2.2) is not understood: 420. It asks
//!   the server to send the answer to any address, which makes the server a
//!   reflector towards third parties; RFC 5389 removed it, and RFC 8489 §11
//!   expects a server to treat it as an unknown attribute.
//! - **RESPONSE-PORT** is honoured only towards the request's own source IP
//!   (as RFC 5780 §7.5 requires) and only at ports 1024 and above: 400
//!   otherwise, so the server cannot be aimed at well-known services (DNS,
//!   NTP, ...) that would answer in turn. RFC 5780 allows any port.
//! - **PADDING** (RFC 5780 §7.6) is answered with PADDING, as §6.1 requires,
//!   but its size is not the MTU the RFC suggests: the padded answer is at
//!   most as long as the request that asked for it, rounded down to a
//!   multiple of 4, and never longer than the configured ceiling
//!   ([`StunServerConfig::with_max_response_len`], 1500 bytes by default).
//!   A client that wants a fragmented answer sends a request that large. A
//!   request too small for any padding gets an empty PADDING attribute.
//! - **Integrity** is not checked and not added: a basic server uses no
//!   credentials (RFC 8489 §12). USERNAME, MESSAGE-INTEGRITY and the ICE
//!   attributes of a connectivity check sent to the server are ignored.
//! - **Values the server does not act on** are not validated: a malformed
//!   PRIORITY or USERNAME does not cause a 400.
//! - **Queue full**: the new request is dropped ([`Dropped::QueueFull`]),
//!   not an older answer; the client retransmits.
//!
//! # Amplification
//!
//! An answer is never used for amplification beyond the fixed size of a
//! Binding success: PADDING never makes an answer longer than its request,
//! RESPONSE-PORT only reaches the request's own IP, RESPONSE-ADDRESS is
//! refused, the unknown-attribute list grows by 2 bytes for each 4 the
//! request spends, and SOFTWARE is capped at 64 bytes. The largest factor
//! (answer bytes / request bytes) any request gets, with the default
//! SOFTWARE (27 bytes), as `tests/stun_amplification.rs` measures:
//!
//! | request (bytes)                        | answer (bytes) | factor |
//! |----------------------------------------|----------------|--------|
//! | Binding, IPv4 (20)                     | 72             | 3.6    |
//! | Binding, IPv6 (20)                     | 84             | 4.2    |
//! | Binding, IPv4, alternate (20)          | 108            | 5.4    |
//! | **Binding, IPv6, alternate (20)**      | **156**        | **7.8**|
//! | RFC 3489 Binding, IPv6, alternate (20) | 124            | 6.2    |
//! | PADDING (empty), IPv6, alternate (24)  | 160            | 6.7    |
//! | 420, one unknown attribute (24)        | 96             | 4.0    |
//! | 400, RESPONSE-PORT 80 (28)             | 80             | 2.9    |
//!
//! The worst case is the minimal 20-byte request over IPv6 to an RFC 5780
//! server: 7.8. Without SOFTWARE it is 6.2 (124 bytes); with the longest
//! SOFTWARE allowed, 9.6 (192 bytes). Any STUN server answers a 20-byte
//! request with at least XOR-MAPPED-ADDRESS (32 bytes over IPv4): the factor
//! is inherent to the protocol, and bounded here.

mod config;
mod dropped;
mod response;
mod sockets;

use core::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::collections::VecDeque;
use std::time::Instant;

use stun_proto::attr::{ChangeRequest, ErrorCode, ResponsePort};
use stun_proto::{AttributeType, Class, Message, Method, Transmit};

pub use config::{
    ConfigError, DEFAULT_MAX_RESPONSE_LEN, DEFAULT_QUEUE_CAPACITY, DEFAULT_SOFTWARE,
    MAX_SOFTWARE_LEN, MIN_MAX_RESPONSE_LEN, StunServerConfig,
};
pub use dropped::{Dropped, InternalError};
pub use response::MAX_UNKNOWN_LISTED;

use response::{Binding, Reply, UnknownList};
use sockets::{SocketId, Sockets};

/// The lowest port RESPONSE-PORT may name; below it the server answers 400
/// (this server's policy against aiming answers at well-known services;
/// RFC 5780 §7.5 allows any port).
pub const MIN_RESPONSE_PORT: u16 = 1024;

/// A sans-IO STUN server (see the [module documentation](self)).
///
/// After each [`handle_packet`](Self::handle_packet), drain
/// [`poll_transmit`](Self::poll_transmit) until it returns `None`.
///
/// ```
/// use std::time::Instant;
/// use stun_proto::{attr::XorMappedAddress, Message, MessageType, MessageWriter, TransactionId};
/// use turn_server::{StunServer, StunServerConfig};
///
/// let local = "192.0.2.1:3478".parse()?;
/// let client = "198.51.100.7:40000".parse()?;
/// let mut server = StunServer::new(StunServerConfig::new(local));
///
/// let mut request = Vec::new();
/// MessageWriter::new(&mut request, MessageType::BINDING_REQUEST, TransactionId::Rfc5389([1; 12]));
/// # #[allow(clippy::disallowed_methods)]
/// server.handle_packet(Instant::now(), local, client, &request)?;
///
/// let answer = server.poll_transmit().expect("an answer");
/// assert_eq!((answer.from, answer.to), (local, client));
/// let msg = Message::parse(&answer.data)?;
/// assert_eq!(msg.get::<XorMappedAddress>()?, Some(XorMappedAddress(client)));
/// assert!(server.poll_transmit().is_none());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug)]
pub struct StunServer {
    config: StunServerConfig,
    sockets: Sockets,
    queue: VecDeque<Transmit>,
    stats: StunServerStats,
}

/// Counters of what the server did, since it was made.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct StunServerStats {
    /// Binding success responses queued.
    pub successes: u64,
    /// Error responses queued (400 and 420).
    pub errors: u64,
    /// Packets not answered, whatever the [`Dropped`] reason.
    pub dropped: u64,
    /// Of those, requests refused because the outgoing queue was full.
    pub queue_full: u64,
}

/// What to answer to a request that passed the receive checks.
enum Decision {
    Success {
        change: ChangeRequest,
        response_port: Option<u16>,
        padding: bool,
    },
    Error {
        code: u16,
        unknown: UnknownList,
    },
}

impl StunServer {
    /// A server for a (checked) configuration.
    pub fn new(config: StunServerConfig) -> StunServer {
        let sockets = Sockets::new(config.primary(), config.alternate());
        StunServer {
            queue: VecDeque::with_capacity(config.queue_capacity().min(DEFAULT_QUEUE_CAPACITY)),
            config,
            sockets,
            stats: StunServerStats::default(),
        }
    }

    /// The configuration.
    pub fn config(&self) -> &StunServerConfig {
        &self.config
    }

    /// Every socket the driver must bind and feed: the primary A1:P1, and
    /// with an alternate (RFC 5780) A1:P2, A2:P1 and A2:P2, in that order.
    pub fn local_addresses(&self) -> Vec<SocketAddr> {
        self.sockets.all()
    }

    /// Takes one datagram that arrived on socket `local` from `remote`.
    ///
    /// `Ok(())`: an answer (success or error response) is queued for
    /// [`poll_transmit`](Self::poll_transmit). `Err`: the server stays
    /// silent, and says why. Never panics, whatever `data` holds.
    pub fn handle_packet(
        &mut self,
        _now: Instant,
        local: SocketAddr,
        remote: SocketAddr,
        data: &[u8],
    ) -> Result<(), Dropped> {
        let outcome = self.receive(local, remote, data);
        let stats = &mut self.stats;
        let counter = match &outcome {
            Ok(true) => &mut stats.successes,
            Ok(false) => &mut stats.errors,
            Err(dropped) => {
                if matches!(dropped, Dropped::QueueFull { .. }) {
                    stats.queue_full = stats.queue_full.saturating_add(1);
                }
                &mut stats.dropped
            }
        };
        *counter = counter.saturating_add(1);
        outcome.map(|_| ())
    }

    /// The server has no timers; kept for the stack's verb grammar.
    pub fn handle_timeout(&mut self, _now: Instant) {}

    /// The next answer to send, oldest first.
    pub fn poll_transmit(&mut self) -> Option<Transmit> {
        self.queue.pop_front()
    }

    /// Always `None`: the server has no timers.
    pub fn poll_timeout(&self) -> Option<Instant> {
        None
    }

    /// What the server did so far.
    pub fn stats(&self) -> StunServerStats {
        self.stats
    }

    /// The receive checks, the decision and the answer; `Ok(true)` for a
    /// success queued, `Ok(false)` for an error response queued.
    fn receive(
        &mut self,
        local: SocketAddr,
        remote: SocketAddr,
        data: &[u8],
    ) -> Result<bool, Dropped> {
        let arrived = self
            .sockets
            .find(local)
            .ok_or(Dropped::NotOurSocket { local })?;
        if !answerable(remote) {
            return Err(Dropped::UnanswerableSource { remote });
        }
        let msg = Message::parse(data).map_err(Dropped::NotStun)?;
        let method = msg.method();
        match msg.class() {
            Class::Request => {}
            Class::Indication => return Err(Dropped::Indication { method }),
            class => return Err(Dropped::Response { method, class }),
        }
        if msg.has_fingerprint() {
            msg.verify_fingerprint().map_err(Dropped::BadFingerprint)?;
        }
        if method != Method::BINDING {
            return Err(Dropped::UnsupportedMethod { method });
        }
        if msg.is_rfc3489() && !self.config.rfc3489() {
            return Err(Dropped::Rfc3489Disabled);
        }
        let capacity = self.config.queue_capacity();
        if self.queue.len() >= capacity {
            return Err(Dropped::QueueFull { capacity });
        }

        let (transmit, success) = self.answer(&msg, arrived, local, remote)?;
        let max = self.config.max_response_len();
        if transmit.data.len() > max {
            return Err(Dropped::Internal(InternalError::TooLarge {
                len: transmit.data.len(),
                max,
            }));
        }
        self.queue.push_back(transmit);
        Ok(success)
    }

    /// RFC 8489 §6.3.1 and RFC 5780 §6.1: decides and writes the answer;
    /// `true` for a success.
    fn answer(
        &self,
        msg: &Message<'_>,
        arrived: SocketId,
        local: SocketAddr,
        remote: SocketAddr,
    ) -> Result<(Transmit, bool), Dropped> {
        let reply = Reply {
            msg_type: msg.msg_type(),
            id: msg.transaction_id(),
            software: self.config.software(),
        };
        // Unpadded answers are at most 192 bytes; padded ones reserve more.
        let mut data = Vec::with_capacity(256);
        match self.decide(msg) {
            Decision::Success {
                change,
                response_port,
                padding,
            } => {
                let from = self
                    .sockets
                    .addr(self.sockets.response_source(arrived, change));
                let to = SocketAddr::new(remote.ip(), response_port.unwrap_or(remote.port()));
                let binding = Binding {
                    mapped: SocketAddr::new(remote.ip().to_canonical(), remote.port()),
                    origin: from,
                    other: self.sockets.other_address(arrived),
                    pad_to: padding
                        .then(|| msg.as_bytes().len().min(self.config.max_response_len())),
                };
                if let Some(pad_to) = binding.pad_to {
                    data.reserve(pad_to);
                }
                response::success(&mut data, &reply, &binding).map_err(Dropped::Internal)?;
                Ok((Transmit { from, to, data }, true))
            }
            Decision::Error { code, unknown } => {
                response::error(&mut data, &reply, code, unknown.as_slice())
                    .map_err(Dropped::Internal)?;
                let transmit = Transmit {
                    from: local,
                    to: remote,
                    data,
                };
                Ok((transmit, false))
            }
        }
    }

    /// RFC 8489 §6.3.1: 420 first, then the checks of the attributes the
    /// server acts on (RFC 5780 §6.1, §7.2, §7.5, §7.6).
    fn decide(&self, msg: &Message<'_>) -> Decision {
        let rfc5780 = self.sockets.has_alternate();
        let mut unknown = UnknownList::default();
        msg.unknown_comprehension_required_by(move |t| understood(t, rfc5780))
            .for_each(|t| unknown.push(t));
        if !unknown.is_empty() {
            return Decision::Error {
                code: ErrorCode::UNKNOWN_ATTRIBUTE,
                unknown,
            };
        }
        let bad_request = Decision::Error {
            code: ErrorCode::BAD_REQUEST,
            unknown: UnknownList::default(),
        };
        let (Ok(change), Ok(response_port)) =
            (msg.get::<ChangeRequest>(), msg.get::<ResponsePort>())
        else {
            return bad_request;
        };
        let padding = msg.get_raw(AttributeType::PADDING).is_some();
        if let Some(ResponsePort(port)) = response_port {
            if padding || port < MIN_RESPONSE_PORT {
                return bad_request;
            }
        }
        Decision::Success {
            change: change.unwrap_or_default(),
            response_port: response_port.map(|p| p.0),
            padding,
        }
    }
}

/// Whether this server understands a comprehension-required attribute
/// (RFC 8489 §6.3.1); the module documentation lists them and says why
/// RESPONSE-ADDRESS is not among them. CHANGE-REQUEST is understood only
/// with an alternate (RFC 5780 §6).
fn understood(t: AttributeType, rfc5780: bool) -> bool {
    match t {
        AttributeType::CHANGE_REQUEST => rfc5780,
        AttributeType::MAPPED_ADDRESS
        | AttributeType::XOR_MAPPED_ADDRESS
        | AttributeType::SOURCE_ADDRESS
        | AttributeType::CHANGED_ADDRESS
        | AttributeType::USERNAME
        | AttributeType::MESSAGE_INTEGRITY
        | AttributeType::MESSAGE_INTEGRITY_SHA256
        | AttributeType::ERROR_CODE
        | AttributeType::UNKNOWN_ATTRIBUTES
        | AttributeType::REALM
        | AttributeType::NONCE
        | AttributeType::PRIORITY
        | AttributeType::USE_CANDIDATE
        | AttributeType::PADDING
        | AttributeType::RESPONSE_PORT => true,
        // Comprehension-optional ones (SOFTWARE, FINGERPRINT, ICE-CONTROLLED,
        // ICE-CONTROLLING, RESPONSE-ORIGIN, OTHER-ADDRESS, ...) never reach
        // this question.
        _ => false,
    }
}

/// Whether an answer to `remote` can reach one host that could have sent
/// the request: not port 0, not an unspecified, multicast or limited
/// broadcast address (in either IPv4 form).
fn answerable(remote: SocketAddr) -> bool {
    let ip = remote.ip().to_canonical();
    remote.port() != 0
        && !ip.is_unspecified()
        && !ip.is_multicast()
        && ip != IpAddr::V4(Ipv4Addr::BROADCAST)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unanswerable_sources() {
        for bad in [
            "0.0.0.0:4000",
            "192.0.2.9:0",
            "255.255.255.255:4000",
            "224.0.0.1:4000",
            "[::]:4000",
            "[ff02::1]:4000",
            "[::ffff:255.255.255.255]:4000",
        ] {
            assert!(!answerable(bad.parse().unwrap()), "{bad}");
        }
        assert!(answerable("192.0.2.9:1".parse().unwrap()));
        assert!(answerable("[2001:db8::9]:4000".parse().unwrap()));
    }

    #[test]
    fn understood_set() {
        assert!(!understood(AttributeType::CHANGE_REQUEST, false));
        assert!(understood(AttributeType::CHANGE_REQUEST, true));
        for t in [
            AttributeType::RESPONSE_ADDRESS,
            AttributeType::PASSWORD,
            AttributeType::REFLECTED_FROM,
            AttributeType::USERHASH,
            AttributeType::PASSWORD_ALGORITHM,
            AttributeType::REQUESTED_TRANSPORT,
            AttributeType::LIFETIME,
            AttributeType::XOR_PEER_ADDRESS,
        ] {
            assert!(!understood(t, true), "{t}");
        }
    }
}
