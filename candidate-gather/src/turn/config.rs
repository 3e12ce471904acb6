//! What the owner chooses, and the timers the RFCs fix.
//!
//! The lifetimes are RFC 8656's: permissions last 300 s (§9), channel
//! bindings 600 s (§12), and an allocation whatever the server grants
//! (§7.2; 600 s unless asked otherwise, §3.2). Every one is refreshed when
//! [`REFRESH_FRACTION_PERCENT`] of it has elapsed; see that constant for why.

use std::fmt;
use std::net::SocketAddr;
use std::time::Duration;

use stun_proto::attr::AddressFamily;

use crate::transaction::RetransmitConfig;

/// RFC 8656 §9: "the lifetime of a permission is 300 seconds" (a MUST for
/// the server; the client refreshes it before then or loses it).
pub const PERMISSION_LIFETIME: Duration = Duration::from_secs(300);

/// RFC 8656 §12: a channel binding lasts 10 minutes unless refreshed.
pub const CHANNEL_LIFETIME: Duration = Duration::from_secs(600);

/// RFC 8656 §3.2 (and §7.2): the default allocation lifetime the client
/// asks for, 10 minutes.
pub const DEFAULT_LIFETIME: Duration = Duration::from_secs(600);

/// Allocations, permissions and channel bindings are refreshed when this
/// share of their lifetime has elapsed (RFC 8656 leaves the moment to the
/// client, §8, §9, §12).
///
/// 80 % leaves 20 %: 120 s for a 600 s allocation or channel, 60 s for a
/// permission. That is more than one whole RFC 8489 transaction (39.5 s
/// with the default timers) plus a second attempt at half the remaining
/// time, so one lost or unanswered refresh does not lose the state; and the
/// share scales with what the server granted, where a fixed "lifetime minus
/// 60 s" would refresh a 60 s lifetime continuously.
pub const REFRESH_FRACTION_PERCENT: u32 = 80;

/// How many consecutive 438 (Stale Nonce) answers one request may get
/// before it fails (RFC 8489 §9.2.5 says to retry, not how often; a server
/// that keeps rejecting fresh nonces is broken).
pub const MAX_STALE_NONCE_RETRIES: u32 = 3;

/// How many 300 (Try Alternate) redirections one client follows (RFC 8489
/// §10 forbids loops; one redirect is what deployments use).
pub const MAX_REDIRECTS: u32 = 1;

/// Datagrams held per peer IP while its permission is being installed
/// (RFC 8656 §9: the server drops data before the permission exists).
pub const MAX_QUEUED_DATAGRAMS: usize = 32;

/// Bytes held per peer IP while its permission is being installed.
pub const MAX_QUEUED_BYTES: usize = 64 * 1024;

/// How long data for a peer IP whose permission the server refused (or
/// never answered) is refused at once, instead of asking again with every
/// datagram: a server that answers 403 for a private peer answers it again,
/// and an ICE check retransmitting towards that peer would otherwise send a
/// CreatePermission every time.
/// [`TurnClient::create_permission`](super::TurnClient::create_permission)
/// asks again at any time.
pub const PERMISSION_REFUSAL_HOLD: Duration = Duration::from_secs(60);

/// The transport to the TURN server (RFC 8656 §3.1).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum TurnTransport {
    /// UDP datagrams; requests are retransmitted (RFC 8489 §6.2.1).
    Udp,
    /// One TCP connection; STUN messages and ChannelData are framed on the
    /// byte stream (RFC 8656 §12.5) and requests are not retransmitted
    /// (RFC 8489 §6.2.2).
    Tcp,
}

/// How to reach the server and what to ask it for.
#[derive(Clone)]
pub struct TurnConfig {
    /// The server's address.
    pub server: SocketAddr,
    /// UDP or TCP to the server. The relayed transport is always UDP
    /// (REQUESTED-TRANSPORT 17, RFC 8656 §7.1).
    pub transport: TurnTransport,
    /// The long-term credential's username (RFC 8489 §9.2).
    pub username: String,
    /// The long-term credential's password.
    pub password: String,
    /// The family of the relayed address to ask for with
    /// REQUESTED-ADDRESS-FAMILY (RFC 8656 §7.1); `None` asks for nothing,
    /// which servers take as IPv4.
    pub family: Option<AddressFamily>,
    /// Ask the server to set the DF bit on relayed datagrams (DONT-FRAGMENT,
    /// RFC 8656 §7.1). A server that does not support it answers 420 and
    /// the request is repeated without it (§7.4).
    pub dont_fragment: bool,
    /// The allocation lifetime to ask for (LIFETIME); the server decides.
    pub lifetime: Duration,
    /// Retransmission timers (RFC 8489 §6.2.1). Over TCP only
    /// [`RetransmitConfig::timeout`] counts: one request, answered within it.
    pub retransmit: RetransmitConfig,
    /// A SOFTWARE attribute for Allocate requests (left out if it breaks
    /// RFC 8489 §14.14's limits).
    pub software: Option<String>,
    /// Seed of the RNG that makes transaction ids.
    pub seed: u64,
}

impl TurnConfig {
    /// UDP to `server`, IPv4 relay, 600 s, RFC 8489 timers.
    pub fn new(server: SocketAddr, username: &str, password: &str, seed: u64) -> Self {
        TurnConfig {
            server,
            transport: TurnTransport::Udp,
            username: username.to_owned(),
            password: password.to_owned(),
            family: None,
            dont_fragment: false,
            lifetime: DEFAULT_LIFETIME,
            retransmit: RetransmitConfig::default(),
            software: None,
            seed,
        }
    }
}

/// The password is not printed.
impl fmt::Debug for TurnConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TurnConfig")
            .field("server", &self.server)
            .field("transport", &self.transport)
            .field("username", &self.username)
            .field("password", &"<redacted>")
            .field("family", &self.family)
            .field("dont_fragment", &self.dont_fragment)
            .field("lifetime", &self.lifetime)
            .field("retransmit", &self.retransmit)
            .field("software", &self.software)
            .field("seed", &self.seed)
            .finish()
    }
}

/// When to refresh something that lives `lifetime` from now.
pub(super) fn refresh_delay(lifetime: Duration) -> Duration {
    // Cannot overflow: the result is below `lifetime`.
    lifetime / 100 * REFRESH_FRACTION_PERCENT
}
