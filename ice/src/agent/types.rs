//! The agent's public vocabulary: configuration, roles, states, events and
//! errors.

use std::fmt;
use std::net::SocketAddr;
use std::time::Duration;

use candidate_gather::transaction::RetransmitConfig;
use candidate_gather::turn::TurnError;

use crate::candidate::Candidate;

/// The ICE role (RFC 8445 §6.1.1).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Role {
    /// Nominates the pair (usually the offerer).
    Controlling,
    /// Accepts the nomination.
    Controlled,
}

impl Role {
    /// The other role.
    pub const fn other(self) -> Role {
        match self {
            Role::Controlling => Role::Controlled,
            Role::Controlled => Role::Controlling,
        }
    }
}

/// A stream's connection state, mirroring `RTCIceTransportState`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ConnectionState {
    /// Nothing checked yet.
    New,
    /// Checks are running; no usable pair for every component yet.
    Checking,
    /// Every component has a selected pair.
    Connected,
    /// Connected, and checking is over (nothing left to check, and the peer
    /// has said end-of-candidates).
    Completed,
    /// Consent checks go unanswered for one of the selected pairs (RFC 7675);
    /// data still flows until consent expires.
    Disconnected,
    /// Every pair failed after end-of-candidates, or consent expired: no
    /// data can be sent.
    Failed,
    /// Closed by the application.
    Closed,
}

/// A stream's handle.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct StreamId(pub(crate) u32);

/// What the agent tells the application.
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub enum Event {
    /// A local candidate to send to the peer (trickle, RFC 8838).
    LocalCandidate {
        /// The stream.
        stream: StreamId,
        /// The candidate.
        candidate: Candidate,
    },
    /// Gathering finished for a stream: send end-of-candidates.
    GatheringComplete {
        /// The stream.
        stream: StreamId,
    },
    /// A stream's connection state changed.
    StateChanged {
        /// The stream.
        stream: StreamId,
        /// The new state.
        state: ConnectionState,
    },
    /// A component's selected pair: application data goes over it. Sent
    /// again for the same addresses when a remote candidate first known as
    /// peer-reflexive is signalled: the pair then names its real type and
    /// priority.
    SelectedPair {
        /// The stream.
        stream: StreamId,
        /// The component.
        component: u16,
        /// The local candidate.
        local: Candidate,
        /// The remote candidate.
        remote: Candidate,
    },
    /// A role conflict was resolved by switching role (RFC 8445 §7.3.1.1).
    RoleChanged {
        /// The new role.
        role: Role,
    },
    /// Application data arrived on a valid pair.
    Data {
        /// The stream.
        stream: StreamId,
        /// The component.
        component: u16,
        /// The bytes.
        data: Vec<u8>,
    },
    /// A STUN server gave no server-reflexive candidate for a base
    /// (RFC 8445 §5.1.1.2); gathering goes on without it.
    ServerReflexiveFailed {
        /// The stream.
        stream: StreamId,
        /// The STUN server.
        server: SocketAddr,
        /// The local socket the request left from.
        base: SocketAddr,
        /// What the server or the network did.
        error: StunError,
    },
    /// A TURN allocation for the stream failed or was lost; the stream
    /// goes on without that relayed candidate.
    RelayFailed {
        /// The stream.
        stream: StreamId,
        /// The TURN server.
        server: SocketAddr,
        /// What the server or the network did.
        error: TurnError,
    },
}

/// Why a STUN server gave no server-reflexive address
/// ([`Event::ServerReflexiveFailed`]).
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum StunError {
    /// No answer within the RFC 8489 §6.2.1 retransmissions.
    Timeout,
    /// An error response.
    Refused {
        /// The error code.
        code: u16,
        /// The reason phrase.
        reason: String,
    },
    /// A success without (XOR-)MAPPED-ADDRESS, or with attributes it
    /// must understand and we do not (RFC 8489 §7.3.3).
    Unusable,
}

impl fmt::Display for StunError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StunError::Timeout => f.write_str(
                "no answer (RFC 8489 retransmissions exhausted): check the server's address \
                 and port, and that UDP to it is not blocked",
            ),
            StunError::Refused { code, reason } => write!(
                f,
                "the server answered {code} {reason}: it may not be a STUN server on this port"
            ),
            StunError::Unusable => f.write_str(
                "the server's answer carried no usable mapped address: it may not be a STUN server",
            ),
        }
    }
}

impl std::error::Error for StunError {}

/// A component's selected pair ([`Agent::selected_path`](super::Agent::selected_path)).
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub struct SelectedPath {
    /// The local candidate.
    pub local: Candidate,
    /// The remote candidate.
    pub remote: Candidate,
    /// The socket data leaves from (the local candidate's base; for a
    /// relayed candidate, the relayed address, served by the agent's TURN
    /// client).
    pub base: SocketAddr,
    /// Where data goes.
    pub remote_addr: SocketAddr,
    /// Consent holds (RFC 7675): sending is allowed.
    pub consent: bool,
}

/// One candidate pair of a checklist, as [`Agent::pair_stats`](super::Agent::pair_stats)
/// shows it (in the spirit of `RTCIceCandidatePairStats`).
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub struct PairStats {
    /// The component.
    pub component: u16,
    /// The local candidate.
    pub local: Candidate,
    /// The remote candidate.
    pub remote: Candidate,
    /// The socket the pair sends from (the local candidate's base).
    pub base: SocketAddr,
    /// Where it sends to.
    pub remote_addr: SocketAddr,
    /// Its state.
    pub state: super::checklist::PairState,
    /// Its priority (RFC 8445 §6.1.2.3).
    pub priority: u64,
    /// A check on it succeeded (it is in the valid list).
    pub valid: bool,
    /// It is nominated.
    pub nominated: bool,
    /// The round trip of its successful check.
    pub rtt: Option<Duration>,
}

/// A TURN server to allocate relayed candidates on (over UDP).
#[derive(Clone, PartialEq, Eq)]
pub struct TurnServer {
    /// Its address.
    pub server: SocketAddr,
    /// The long-term credential's username.
    pub username: String,
    /// The long-term credential's password.
    pub password: String,
}

impl TurnServer {
    /// A server with its credentials.
    pub fn new(server: SocketAddr, username: &str, password: &str) -> Self {
        TurnServer {
            server,
            username: username.to_owned(),
            password: password.to_owned(),
        }
    }
}

impl fmt::Debug for TurnServer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TurnServer")
            .field("server", &self.server)
            .field("username", &self.username)
            .finish_non_exhaustive()
    }
}

/// One stream's components, each with the local sockets (bases) the driver
/// has bound for it.
#[derive(Clone, Debug, Default)]
pub struct StreamConfig {
    /// Component `i + 1`'s sockets.
    pub components: Vec<Vec<SocketAddr>>,
    /// How many relayed candidates the driver is allocating for the stream
    /// (see [`Agent::add_relayed_candidate`](super::Agent::add_relayed_candidate)):
    /// gathering completes only once each has been added or reported
    /// failed. 0 by default.
    pub pending_relays: usize,
}

impl StreamConfig {
    /// One component (RTP and RTCP multiplexed, as WebRTC does) on these
    /// sockets.
    pub fn single(sockets: Vec<SocketAddr>) -> Self {
        StreamConfig {
            components: vec![sockets],
            pending_relays: 0,
        }
    }
}

/// A relayed candidate: an address a TURN server allocated for one of the
/// agent's components (RFC 8656).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Relayed {
    /// The component it serves.
    pub component: u16,
    /// The relayed transport address (XOR-RELAYED-ADDRESS): peers send to
    /// it, and it is the candidate's base (RFC 8445 §5.1.1.2).
    pub relayed: SocketAddr,
    /// The server-reflexive address the TURN server saw the allocation
    /// come from (XOR-MAPPED-ADDRESS): the candidate's related address.
    pub mapped: SocketAddr,
}

/// Which local candidates the agent offers and checks from
/// (`RTCIceTransportPolicy`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum CandidatePolicy {
    /// Host, server-reflexive and relayed candidates.
    #[default]
    All,
    /// Relayed candidates only: the peer never learns a host or
    /// server-reflexive address, and checks that reach a host socket
    /// directly go unanswered.
    Relay,
}

/// The agent's configuration.
#[derive(Clone, Debug)]
pub struct AgentConfig {
    /// The initial role.
    pub role: Role,
    /// Act as an ICE-lite agent (RFC 8445 §2.5): host candidates only, no
    /// checks of its own, always controlled.
    pub lite: bool,
    /// STUN servers for server-reflexive candidates.
    pub stun_servers: Vec<SocketAddr>,
    /// TURN servers for relayed candidates (RFC 8656).
    pub turn_servers: Vec<TurnServer>,
    /// Which candidates to use; [`CandidatePolicy::All`] by default.
    pub policy: CandidatePolicy,
    /// Pacing of new transactions, Ta (RFC 8445 §14.2); 50 ms.
    pub ta: Duration,
    /// The most pairs a checklist keeps (RFC 8445 §6.1.2.5); 100.
    pub max_pairs: usize,
    /// Retransmission of the requests to STUN and TURN servers (RFC 8489
    /// §6.2.1 defaults: 7 requests over 39.5 s); a shorter schedule makes
    /// an unreachable server fail sooner.
    pub retransmit: RetransmitConfig,
    /// Retransmission of connectivity checks. Each check's RTO is
    /// `max(rto, Ta × checks waiting or in progress)` (RFC 8445 §14.3), so
    /// all retransmissions together stay below one per Ta. The default,
    /// [`RetransmitConfig::steady`] at 500 ms, repeats a check every RTO
    /// for the RFC 8489 lifetime (39.5 s) instead of doubling the interval:
    /// doubling leaves a check 5 tries in its first 10 s, and at 30 % loss
    /// each way one check in 30 fails them all, while the peer, who asked
    /// for these checks, waits. A deliberate deviation from RFC 8489
    /// §6.2.1's SHOULD, as pion and libwebrtc ping at fixed intervals too;
    /// the pacing keeps it polite.
    pub check_retransmit: RetransmitConfig,
    /// How long the controlling agent waits after the first valid pair of
    /// a component for a better one before nominating (regular nomination,
    /// RFC 8445 §8.1.1); it nominates at once when no better pair is left.
    pub nomination_delay: Duration,
    /// The same wait when the best valid pair is relayed; 2 s. Longer, so
    /// that a direct path needing a retransmission still wins.
    pub relay_nomination_delay: Duration,
    /// Consent checks every this long, ±20 % (RFC 7675 §5.1); 5 s.
    pub consent_interval: Duration,
    /// Consent expires after this long without an answer (RFC 7675); 30 s.
    pub consent_timeout: Duration,
    /// Offer loopback addresses as host candidates.
    pub include_loopback: bool,
    /// Offer link-local addresses as host candidates.
    pub include_link_local: bool,
    /// Seed of the agent's RNG (credentials, tie-breaker, transaction ids,
    /// consent jitter).
    pub seed: u64,
}

impl AgentConfig {
    /// Defaults for a role and seed.
    pub fn new(role: Role, seed: u64) -> Self {
        AgentConfig {
            role,
            lite: false,
            stun_servers: Vec::new(),
            turn_servers: Vec::new(),
            policy: CandidatePolicy::All,
            ta: Duration::from_millis(50),
            max_pairs: 100,
            retransmit: RetransmitConfig::default(),
            check_retransmit: RetransmitConfig::steady(Duration::from_millis(500)),
            nomination_delay: Duration::from_millis(500),
            relay_nomination_delay: Duration::from_secs(2),
            consent_interval: Duration::from_secs(5),
            consent_timeout: Duration::from_secs(30),
            include_loopback: false,
            include_link_local: false,
            seed,
        }
    }
}

/// A misuse of the API, or a send that cannot happen.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum AgentError {
    /// No stream with this id (or it is closed).
    UnknownStream,
    /// No component with this id in the stream.
    UnknownComponent,
    /// The component has no selected pair yet.
    NotConnected,
    /// Consent expired (RFC 7675): sending stopped.
    ConsentExpired,
    /// The agent is closed.
    Closed,
    /// A remote candidate for another transport or component than the
    /// stream has.
    UnusableCandidate,
    /// An ICE-lite agent offers host candidates only (RFC 8445 §5.1.1).
    Lite,
    /// The peer signalled more than
    /// [`MAX_REMOTE_CANDIDATES`](crate::MAX_REMOTE_CANDIDATES) candidates
    /// for the stream: the rest are refused, so a hostile or broken peer
    /// cannot grow the agent without bound.
    TooManyCandidates,
}

impl fmt::Display for AgentError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            AgentError::UnknownStream => "no such stream",
            AgentError::UnknownComponent => "no such component in the stream",
            AgentError::NotConnected => "the component has no selected pair yet",
            AgentError::ConsentExpired => {
                "consent expired (RFC 7675): the peer stopped answering, sending stopped"
            }
            AgentError::Closed => "the agent is closed",
            AgentError::UnusableCandidate => {
                "the candidate is for a component or transport this stream does not have"
            }
            AgentError::Lite => {
                "an ICE-lite agent offers host candidates only; configure a full agent to use a relay"
            }
            AgentError::TooManyCandidates => {
                "the peer signalled more remote candidates than the agent keeps for a stream; \
                 the rest are ignored"
            }
        })
    }
}

impl std::error::Error for AgentError {}
