//! NAT behaviour discovery: what NAT (or firewall) stands between a host and
//! a STUN server, in the terms of RFC 4787 and in the classic names of
//! RFC 3489.
//!
//! - [`Rfc5780Discovery`] runs RFC 5780 §4: UDP connectivity (§4.2), mapping
//!   behaviour (§4.3), filtering behaviour (§4.4), hairpinning (§4.5) and,
//!   when asked, the binding lifetime (§4.6); it also reports whether the
//!   NAT preserved ports. It needs a server with a second address and port
//!   (OTHER-ADDRESS).
//! - [`ClassicDiscovery`] runs the RFC 3489 §10.1 flow (tests I, II, I to the
//!   changed address, III) and names the NAT Open Internet, Full Cone,
//!   Restricted Cone, Port Restricted Cone, Symmetric, Symmetric UDP Firewall
//!   or UDP Blocked. It works against RFC 3489-only servers. Where RFC 3489
//!   stops after a successful test II and says "Full Cone", this flow also
//!   checks the mapping, so an address-dependent mapping with open filtering
//!   is named Symmetric, as RFC 4787 would.
//!
//! Both are sans-IO state machines with the verb grammar of the stack
//! (`handle_packet`, `handle_timeout`, `poll_transmit`, `poll_timeout`,
//! `poll_event`), take `now` and a seed, and retransmit per RFC 8489 §6.2.1.
//!
//! # Loss
//!
//! Filtering, hairpinning and lifetime are learnt from answers that do *not*
//! arrive, so loss could pass for a restrictive NAT. A missing answer is
//! only believed when it cannot plausibly be loss: each such probe runs
//! beside control requests on the same socket and schedule, the per-request
//! success rate is estimated (pessimistically) from every answered and
//! unanswered request so far, and the absence is accepted only when the
//! chance that all those requests were lost is below one in a million. Until
//! then the probe is repeated (a new transaction); after
//! [`DiscoveryConfig::max_transactions`] the result is
//! [`Outcome::Inconclusive`] with the numbers. A result is never a guess.

mod classic;
mod evidence;
mod prober;
mod rfc5780;

use std::fmt;
use std::net::SocketAddr;
use std::time::Duration;

pub use classic::ClassicDiscovery;
pub use rfc5780::Rfc5780Discovery;

use crate::transaction::RetransmitConfig;

/// Mapping behaviour (RFC 4787 §4.1), or no NAT at all.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum MappingBehavior {
    /// The mapped address is the local address: no NAT.
    NoNat,
    /// Endpoint-independent mapping.
    EndpointIndependent,
    /// Address-dependent mapping.
    AddressDependent,
    /// Address- and port-dependent mapping.
    AddressAndPortDependent,
}

/// Filtering behaviour (RFC 4787 §5).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum FilteringBehavior {
    /// Endpoint-independent filtering.
    EndpointIndependent,
    /// Address-dependent filtering.
    AddressDependent,
    /// Address- and port-dependent filtering.
    AddressAndPortDependent,
}

/// Whether the NAT kept the local port in the mapping (RFC 4787 §4.2.1).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum PortAssignment {
    /// Mapped ports equal local ports.
    Preserving,
    /// At least one mapped port differs from its local port.
    NotPreserving,
}

/// The classic names of RFC 3489 §5.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ClassicNat {
    /// No UDP gets through.
    UdpBlocked,
    /// No NAT and no filtering.
    OpenInternet,
    /// No NAT, but inbound traffic is filtered.
    SymmetricUdpFirewall,
    /// Endpoint-independent mapping and filtering.
    FullCone,
    /// Endpoint-independent mapping, address-dependent filtering.
    RestrictedCone,
    /// Endpoint-independent mapping, address- and port-dependent filtering.
    PortRestrictedCone,
    /// The mapping depends on the destination.
    Symmetric,
}

impl ClassicNat {
    /// The classic name for RFC 4787 behaviours.
    pub fn from_behaviors(mapping: MappingBehavior, filtering: FilteringBehavior) -> ClassicNat {
        use FilteringBehavior as F;
        use MappingBehavior as M;
        match (mapping, filtering) {
            (M::NoNat, F::EndpointIndependent) => ClassicNat::OpenInternet,
            (M::NoNat, _) => ClassicNat::SymmetricUdpFirewall,
            (M::EndpointIndependent, F::EndpointIndependent) => ClassicNat::FullCone,
            (M::EndpointIndependent, F::AddressDependent) => ClassicNat::RestrictedCone,
            (M::EndpointIndependent, F::AddressAndPortDependent) => ClassicNat::PortRestrictedCone,
            (M::AddressDependent | M::AddressAndPortDependent, _) => ClassicNat::Symmetric,
        }
    }
}

impl fmt::Display for ClassicNat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ClassicNat::UdpBlocked => "UDP Blocked",
            ClassicNat::OpenInternet => "Open Internet",
            ClassicNat::SymmetricUdpFirewall => "Symmetric UDP Firewall",
            ClassicNat::FullCone => "Full Cone",
            ClassicNat::RestrictedCone => "Restricted Cone",
            ClassicNat::PortRestrictedCone => "Port Restricted Cone",
            ClassicNat::Symmetric => "Symmetric",
        })
    }
}

/// Which test a result or a reason is about.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Test {
    /// A plain Binding request (RFC 5780 test I, RFC 3489 test I).
    Binding,
    /// A Binding request to the server's other IP address (mapping test II).
    OtherAddress,
    /// A Binding request to the server's other address and port (mapping
    /// test III, and RFC 3489 "test I to the changed address").
    OtherAddressAndPort,
    /// CHANGE-REQUEST with change IP and change port (filtering test II).
    ChangeIpAndPort,
    /// CHANGE-REQUEST with change port (filtering test III).
    ChangePort,
    /// A request sent to our own mapped address (RFC 5780 §4.5).
    Hairpin,
    /// A RESPONSE-PORT request to an idle mapping (RFC 5780 §4.6).
    Lifetime,
}

/// Why a result could not be determined.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Reason {
    /// No answer, and with the loss seen so far that can still be loss.
    NoAnswerUnderLoss {
        /// The test.
        test: Test,
        /// Requests sent for it without an answer.
        unanswered: u32,
        /// The estimated share of requests that get no answer.
        estimated_loss: f64,
    },
    /// A test that must be answered (the server is reachable) was not.
    NoAnswer {
        /// The test.
        test: Test,
        /// Requests sent.
        unanswered: u32,
    },
    /// The server gave no OTHER-ADDRESS / CHANGED-ADDRESS: it has one
    /// address and cannot serve RFC 5780 or RFC 3489 discovery.
    ServerLacksAlternateAddress,
    /// The server answered a test with an error (for example 420 to
    /// CHANGE-REQUEST or RESPONSE-PORT).
    ServerError {
        /// The test.
        test: Test,
        /// The error code.
        code: u16,
    },
    /// The server's answer had no mapped address.
    ServerOmittedMappedAddress,
    /// With this mapping and filtering, the NAT's filter drops the test's
    /// packets whether or not it hairpins, so hairpinning cannot be seen.
    FilteringHidesHairpinning,
    /// Not enough local sockets were given for the test.
    NotEnoughSockets {
        /// Sockets the test needs.
        needed: usize,
    },
    /// An earlier result this test depends on is unknown.
    DependsOnUnknown,
    /// UDP does not get through; nothing else can be tested.
    UdpBlocked,
    /// There is no NAT, so the question does not apply.
    NoNat,
}

impl fmt::Display for Reason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Reason::NoAnswerUnderLoss { test, unanswered, estimated_loss } => write!(
                f,
                "{test:?} got no answer to {unanswered} requests, but about {:.0}% of requests get no answer on this path, so this may be loss",
                estimated_loss * 100.0
            ),
            Reason::NoAnswer { test, unanswered } => {
                write!(f, "{test:?} got no answer to {unanswered} requests although the server answers other requests")
            }
            Reason::ServerLacksAlternateAddress => f.write_str(
                "the server has no second address (no OTHER-ADDRESS/CHANGED-ADDRESS); use a server with two IP addresses",
            ),
            Reason::ServerError { test, code } => write!(f, "the server answered {test:?} with error {code}"),
            Reason::ServerOmittedMappedAddress => f.write_str("the server's answer carried no mapped address"),
            Reason::FilteringHidesHairpinning => f.write_str(
                "this NAT's filtering drops the hairpin test whether or not it hairpins",
            ),
            Reason::NotEnoughSockets { needed } => write!(f, "the test needs {needed} local sockets"),
            Reason::DependsOnUnknown => f.write_str("it depends on a result that is unknown"),
            Reason::UdpBlocked => f.write_str("UDP does not get through"),
            Reason::NoNat => f.write_str("there is no NAT"),
        }
    }
}

/// A determined value, or why there is none.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Outcome<T> {
    /// Determined.
    Known(T),
    /// Could not be determined (never guessed).
    Inconclusive(Reason),
}

impl<T: Copy> Outcome<T> {
    /// The value, if known.
    pub fn known(&self) -> Option<T> {
        match self {
            Outcome::Known(v) => Some(*v),
            Outcome::Inconclusive(_) => None,
        }
    }
}

/// The binding lifetime bracket of RFC 5780 §4.6: the mapping was alive
/// after `alive_after` of idleness and gone after `gone_after`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LifetimeRange {
    /// The longest idle time after which the mapping still answered.
    pub alive_after: Option<Duration>,
    /// The shortest idle time after which it no longer did.
    pub gone_after: Option<Duration>,
}

/// What [`Rfc5780Discovery`] found.
#[derive(Clone, Debug, PartialEq)]
pub struct NatReport {
    /// The mapped (server-reflexive) address of the first socket.
    pub mapped_address: Option<SocketAddr>,
    /// Whether UDP reaches the server at all.
    pub udp: Outcome<bool>,
    /// Mapping behaviour.
    pub mapping: Outcome<MappingBehavior>,
    /// Filtering behaviour.
    pub filtering: Outcome<FilteringBehavior>,
    /// Whether the NAT hairpins (`Known(false)`: it does not).
    pub hairpinning: Outcome<bool>,
    /// Port preservation; inconclusive without a NAT.
    pub port_assignment: Outcome<PortAssignment>,
    /// The binding lifetime, if [`DiscoveryConfig::lifetime_probes`] asked.
    pub lifetime: Option<Outcome<LifetimeRange>>,
    /// The classic name implied by the mapping and filtering.
    pub classic: Outcome<ClassicNat>,
}

/// What [`ClassicDiscovery`] found.
#[derive(Clone, Debug, PartialEq)]
pub struct ClassicReport {
    /// The mapped address.
    pub mapped_address: Option<SocketAddr>,
    /// The classic name.
    pub nat: Outcome<ClassicNat>,
}

/// Configuration of a discovery run.
#[derive(Clone, Debug)]
pub struct DiscoveryConfig {
    /// The STUN server's primary address.
    pub server: SocketAddr,
    /// Local sockets the driver has bound, in order of use. RFC 5780
    /// discovery uses the first for mapping, the second for filtering, the
    /// third for hairpinning, and one more plus one per lifetime probe for
    /// the lifetime test; the classic flow uses the first.
    pub sockets: Vec<SocketAddr>,
    /// Retransmission parameters (RFC 8489 §6.2.1).
    pub retransmit: RetransmitConfig,
    /// Transactions a test may use before it is declared inconclusive.
    pub max_transactions: u32,
    /// Idle times at which to probe a mapping (RFC 5780 §4.6); empty to
    /// skip the lifetime test.
    pub lifetime_probes: Vec<Duration>,
    /// Send RFC 3489-style requests (128-bit transaction id, no magic
    /// cookie), for servers that only speak RFC 3489.
    pub rfc3489_requests: bool,
    /// Seed of the RNG that makes transaction ids.
    pub seed: u64,
}

impl DiscoveryConfig {
    /// Defaults for `server` and `sockets`: RFC 8489 timers, 6
    /// transactions per test, no lifetime test, RFC 5389 requests.
    pub fn new(server: SocketAddr, sockets: Vec<SocketAddr>, seed: u64) -> Self {
        DiscoveryConfig {
            server,
            sockets,
            retransmit: RetransmitConfig::default(),
            max_transactions: 6,
            lifetime_probes: Vec::new(),
            rfc3489_requests: false,
            seed,
        }
    }
}

/// Progress, for a user watching.
#[derive(Clone, Debug, PartialEq)]
pub enum DiscoveryEvent {
    /// A test finished: answered, or confidently not answered.
    TestDone {
        /// The test.
        test: Test,
        /// Whether an answer came.
        answered: bool,
    },
    /// The run is over; the report is ready.
    Finished,
}
