//! What a [`TurnServer`](super::TurnServer) is built from, checked once.
//!
//! - RFC 8656 §3.2, §7.2: allocation lifetimes ([`DEFAULT_LIFETIME`], the
//!   maximum [`DEFAULT_MAX_LIFETIME`], "RECOMMENDED ... no more than 3600
//!   seconds").
//! - RFC 8656 §9 and §12: the permission and channel lifetimes are fixed by
//!   the RFC ([`PERMISSION_LIFETIME`], [`CHANNEL_LIFETIME`]), not
//!   configurable.
//! - RFC 8489 §9.2: the realm and the long-term credentials (a user list,
//!   and coturn's shared-secret scheme, see [`super::auth`]).
//! - RFC 8656 §7.2 item 10: quotas per user and in total.
//! - RFC 8656 §21.1: which peers may be reached ([`PeerPolicy`]).

use core::fmt;
use core::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use core::time::Duration;
use std::collections::BTreeMap;

use stun_proto::attr::{MAX_TEXT_CHARS, Realm};
use stun_proto::{IntegrityKey, LongTermAlgorithm};

use super::policy::{PeerPolicy, Prefix};
use crate::stun::{DEFAULT_SOFTWARE, MAX_SOFTWARE_LEN};

/// The lifetime an allocation gets unless the client asks for more
/// (RFC 8656 §3.2: 10 minutes).
pub const DEFAULT_LIFETIME: Duration = Duration::from_secs(600);
/// The longest lifetime granted by default (RFC 8656 §7.2: "RECOMMENDED
/// ... no more than 3600 seconds").
pub const DEFAULT_MAX_LIFETIME: Duration = Duration::from_secs(3600);
/// A permission's lifetime (RFC 8656 §9: "The Permission Lifetime MUST be
/// 300 seconds").
pub const PERMISSION_LIFETIME: Duration = Duration::from_secs(300);
/// A channel binding's lifetime (RFC 8656 §12: 10 minutes).
pub const CHANNEL_LIFETIME: Duration = Duration::from_secs(600);
/// After a channel binding expires, neither its number nor its peer may be
/// bound to anything else for this long (RFC 8656 §12.2, §12: 5 minutes).
pub const CHANNEL_REBIND_GUARD: Duration = Duration::from_secs(300);
/// How long a port reserved by EVEN-PORT (R bit) is held (RFC 8656 §7.2:
/// "at least 30 seconds").
pub const RESERVATION_LIFETIME: Duration = Duration::from_secs(30);
/// How long a nonce is accepted by default; then 438 (Stale Nonce).
pub const DEFAULT_NONCE_LIFETIME: Duration = Duration::from_secs(600);
/// The relay port range by default: the dynamic ports (RFC 6335 §6), as
/// RFC 8656 §7.2 suggests.
pub const DEFAULT_RELAY_PORTS: (u16, u16) = (49152, 65535);
/// Allocations one user may hold by default (486 beyond).
pub const DEFAULT_USER_QUOTA: usize = 10;
/// Allocations the server holds in total by default (508 beyond).
pub const DEFAULT_TOTAL_QUOTA: usize = 1000;
/// Permissions one allocation may hold by default (508 beyond).
pub const DEFAULT_MAX_PERMISSIONS: usize = 64;
/// How many outgoing packets wait for `poll_transmit` by default.
pub const DEFAULT_TURN_QUEUE_CAPACITY: usize = 1024;

/// A bandwidth cap per allocation: a token bucket of `burst` bytes filled at
/// `bytes_per_second`, in the server's (virtual) time. Application bytes
/// relayed in either direction draw from it; a packet that finds too few
/// tokens is dropped.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Bandwidth {
    /// The sustained rate.
    pub bytes_per_second: u64,
    /// The bucket's size: the largest burst at line rate.
    pub burst: u64,
}

/// The configuration of a [`TurnServer`](super::TurnServer).
///
/// ```
/// use turn_server::turn::{Prefix, TurnServerConfig};
/// let config = TurnServerConfig::new("192.0.2.1:3478".parse()?, "example.org")?
///     .with_user("alice", "secret")?
///     .with_shared_secret(b"rest-api-secret")
///     .with_seed(7);
/// assert_eq!(config.relay_ips(), vec!["192.0.2.1".parse::<std::net::IpAddr>()?]);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, Debug)]
pub struct TurnServerConfig {
    pub(crate) listeners: Vec<SocketAddr>,
    pub(crate) realm: String,
    pub(crate) users: BTreeMap<String, String>,
    pub(crate) shared_secret: Option<Vec<u8>>,
    pub(crate) relay_v4: Option<Ipv4Addr>,
    pub(crate) relay_v6: Option<Ipv6Addr>,
    pub(crate) relay_ports: (u16, u16),
    pub(crate) default_lifetime: Duration,
    pub(crate) max_lifetime: Duration,
    pub(crate) nonce_lifetime: Duration,
    pub(crate) user_quota: usize,
    pub(crate) total_quota: usize,
    pub(crate) max_permissions: usize,
    pub(crate) bandwidth: Option<Bandwidth>,
    pub(crate) peers: PeerPolicy,
    pub(crate) seed: u64,
    pub(crate) software: Option<String>,
    pub(crate) alternate_server: Option<SocketAddr>,
    pub(crate) stun_alternate: Option<(IpAddr, u16)>,
    pub(crate) legacy_channels: bool,
    pub(crate) dont_fragment: bool,
    pub(crate) sha256_first: bool,
    pub(crate) queue_capacity: usize,
}

impl TurnServerConfig {
    /// A server listening on `listen` (UDP and TCP), relaying from the same
    /// IP address, for `realm`. The defaults: lifetimes of
    /// [`DEFAULT_LIFETIME`] up to [`DEFAULT_MAX_LIFETIME`], nonces valid for
    /// [`DEFAULT_NONCE_LIFETIME`], relay ports [`DEFAULT_RELAY_PORTS`],
    /// quotas [`DEFAULT_USER_QUOTA`] and [`DEFAULT_TOTAL_QUOTA`], the
    /// default [`PeerPolicy`], no bandwidth cap, seed 0, SOFTWARE
    /// [`DEFAULT_SOFTWARE`], and no user: add credentials.
    ///
    /// `listen` must carry the port the driver bound (the server matches
    /// each packet's local address exactly); port 0 is for the tokio front,
    /// which binds a free port and puts it in. A wildcard `listen` needs a
    /// relay IP of its own ([`with_relay_ip`](Self::with_relay_ip)).
    pub fn new(listen: SocketAddr, realm: &str) -> Result<TurnServerConfig, TurnConfigError> {
        let r = Realm::new(realm).map_err(|_| TurnConfigError::Realm)?;
        if stun_proto::auth::opaque_string(r.as_str()).is_none()
            || realm.chars().count() > MAX_TEXT_CHARS
        {
            return Err(TurnConfigError::Realm);
        }
        let mut config = TurnServerConfig {
            listeners: vec![listen],
            realm: realm.to_owned(),
            users: BTreeMap::new(),
            shared_secret: None,
            relay_v4: None,
            relay_v6: None,
            relay_ports: DEFAULT_RELAY_PORTS,
            default_lifetime: DEFAULT_LIFETIME,
            max_lifetime: DEFAULT_MAX_LIFETIME,
            nonce_lifetime: DEFAULT_NONCE_LIFETIME,
            user_quota: DEFAULT_USER_QUOTA,
            total_quota: DEFAULT_TOTAL_QUOTA,
            max_permissions: DEFAULT_MAX_PERMISSIONS,
            bandwidth: None,
            peers: PeerPolicy::new(),
            seed: 0,
            software: Some(DEFAULT_SOFTWARE.replace("stun-server", "turn-server")),
            alternate_server: None,
            stun_alternate: None,
            legacy_channels: false,
            dont_fragment: false,
            sha256_first: true,
            queue_capacity: DEFAULT_TURN_QUEUE_CAPACITY,
        };
        if !listen.ip().is_unspecified() {
            config = config.with_relay_ip(listen.ip())?;
        }
        Ok(config)
    }

    /// Listens on one more address (UDP and TCP).
    pub fn with_listener(mut self, listen: SocketAddr) -> Result<Self, TurnConfigError> {
        if !self.listeners.contains(&listen) {
            self.listeners.push(listen);
        }
        Ok(self)
    }

    /// The relay address of one family (replacing the previous one of that
    /// family). Relayed transport addresses are this IP and a port of
    /// [`with_relay_ports`](Self::with_relay_ports).
    pub fn with_relay_ip(mut self, ip: IpAddr) -> Result<Self, TurnConfigError> {
        if ip.is_unspecified() || ip.is_multicast() {
            return Err(TurnConfigError::RelayIp { ip });
        }
        match ip {
            IpAddr::V4(v4) => self.relay_v4 = Some(v4),
            IpAddr::V6(v6) if v6.to_ipv4_mapped().is_some() => {
                return Err(TurnConfigError::RelayIp { ip });
            }
            IpAddr::V6(v6) => self.relay_v6 = Some(v6),
        }
        Ok(self)
    }

    /// Relay ports: `first..=last`, at least 2 ports, none below 1024.
    pub fn with_relay_ports(mut self, first: u16, last: u16) -> Result<Self, TurnConfigError> {
        if first < 1024 || last <= first {
            return Err(TurnConfigError::RelayPorts { first, last });
        }
        self.relay_ports = (first, last);
        Ok(self)
    }

    /// A user of the long-term credential mechanism (RFC 8489 §9.2).
    /// Username and password must pass OpaqueString (RFC 8265).
    pub fn with_user(mut self, username: &str, password: &str) -> Result<Self, TurnConfigError> {
        IntegrityKey::long_term(username, &self.realm, password, LongTermAlgorithm::Md5).map_err(
            |_| TurnConfigError::User {
                username: username.to_owned(),
            },
        )?;
        let prepared = stun_proto::auth::opaque_string(username)
            .ok_or(TurnConfigError::User {
                username: username.to_owned(),
            })?
            .into_owned();
        self.users.insert(prepared, password.to_owned());
        Ok(self)
    }

    /// Accepts coturn's shared-secret credentials ("use-auth-secret", the
    /// TURN REST API draft): username `<expiry unix time>[:<user>]`,
    /// password `base64(HMAC-SHA1(secret, username))`. The server needs the
    /// wall-clock time for them
    /// ([`TurnServer::handle_unix_time`](super::TurnServer::handle_unix_time)).
    pub fn with_shared_secret(mut self, secret: &[u8]) -> Self {
        self.shared_secret = Some(secret.to_vec());
        self
    }

    /// The default and maximum allocation lifetimes (RFC 8656 §7.2); the
    /// default at least 1 s and at most the maximum.
    pub fn with_lifetimes(
        mut self,
        default: Duration,
        max: Duration,
    ) -> Result<Self, TurnConfigError> {
        if default < Duration::from_secs(1) || default > max {
            return Err(TurnConfigError::Lifetimes { default, max });
        }
        self.default_lifetime = default;
        self.max_lifetime = max;
        Ok(self)
    }

    /// How long a nonce stays valid (at least 1 s).
    pub fn with_nonce_lifetime(mut self, lifetime: Duration) -> Result<Self, TurnConfigError> {
        if lifetime < Duration::from_secs(1) {
            return Err(TurnConfigError::NonceLifetime { lifetime });
        }
        self.nonce_lifetime = lifetime;
        Ok(self)
    }

    /// Allocations per user (486 beyond) and in total (508 beyond); both at
    /// least 1.
    pub fn with_quotas(mut self, per_user: usize, total: usize) -> Result<Self, TurnConfigError> {
        if per_user == 0 || total == 0 {
            return Err(TurnConfigError::ZeroQuota);
        }
        self.user_quota = per_user;
        self.total_quota = total;
        Ok(self)
    }

    /// Permissions per allocation (508 beyond); at least 1.
    pub fn with_max_permissions(mut self, max: usize) -> Result<Self, TurnConfigError> {
        if max == 0 {
            return Err(TurnConfigError::ZeroQuota);
        }
        self.max_permissions = max;
        Ok(self)
    }

    /// Caps each allocation's relayed bytes (see [`Bandwidth`]); both
    /// numbers at least 1, the burst at least one 1500-byte packet.
    pub fn with_bandwidth(mut self, cap: Bandwidth) -> Result<Self, TurnConfigError> {
        if cap.bytes_per_second == 0 || cap.burst < 1500 {
            return Err(TurnConfigError::Bandwidth { cap });
        }
        self.bandwidth = Some(cap);
        Ok(self)
    }

    /// The peer address policy (RFC 8656 §21.1).
    pub fn with_peer_policy(mut self, peers: PeerPolicy) -> Self {
        self.peers = peers;
        self
    }

    /// Allows peers inside a prefix the default policy refuses (a test on
    /// loopback allows 127.0.0.0/8).
    pub fn allow_peers(mut self, prefix: Prefix) -> Self {
        self.peers = self.peers.allow(prefix);
        self
    }

    /// The RNG seed: nonce keys, relay ports, reservation tokens.
    pub fn with_seed(mut self, seed: u64) -> Self {
        self.seed = seed;
        self
    }

    /// The SOFTWARE value (at most [`MAX_SOFTWARE_LEN`] bytes).
    pub fn with_software(mut self, name: &str) -> Result<Self, TurnConfigError> {
        if name.len() > MAX_SOFTWARE_LEN {
            return Err(TurnConfigError::SoftwareTooLong { len: name.len() });
        }
        self.software = Some(name.to_owned());
        Ok(self)
    }

    /// No SOFTWARE attribute.
    pub fn without_software(mut self) -> Self {
        self.software = None;
        self
    }

    /// Redirects every Allocate with 300 (Try Alternate) to `server`
    /// (RFC 8656 §7.2 item 11, RFC 8489 §10), after authentication.
    pub fn with_alternate_server(mut self, server: SocketAddr) -> Self {
        self.alternate_server = Some(server);
        self
    }

    /// Makes the Binding answers on the first listener RFC 5780 capable
    /// (see [`crate::stun`]): the driver also binds A1:P2, A2:P1 and A2:P2
    /// ([`TurnServer::udp_addresses`](super::TurnServer::udp_addresses)).
    pub fn with_stun_alternate(mut self, ip: IpAddr, port: u16) -> Result<Self, TurnConfigError> {
        crate::stun::StunServerConfig::new(self.primary())
            .with_alternate(ip, port)
            .map_err(TurnConfigError::Stun)?;
        self.stun_alternate = Some((ip, port));
        Ok(self)
    }

    /// Also accepts the RFC 5766 channel numbers 0x5000-0x7FFF (RFC 8656
    /// §12 narrowed the range to 0x4000-0x4FFF and answers 400 to the
    /// rest). Off by default; coturn's `turnutils_uclient` draws its
    /// channel numbers from the old range.
    pub fn with_legacy_channel_numbers(mut self, accept: bool) -> Self {
        self.legacy_channels = accept;
        self
    }

    /// Whether the driver can send relayed datagrams with the DF bit
    /// (RFC 8656 §7.2 item 4, §11.2). Off by default: DONT-FRAGMENT is
    /// then treated as an unknown comprehension-required attribute.
    pub fn with_dont_fragment(mut self, supported: bool) -> Self {
        self.dont_fragment = supported;
        self
    }

    /// The order of PASSWORD-ALGORITHMS (RFC 8489 §14.11): SHA-256 first
    /// (the default) or MD5 first.
    pub fn with_sha256_preferred(mut self, first: bool) -> Self {
        self.sha256_first = first;
        self
    }

    /// How many packets may wait for `poll_transmit`; at least 1.
    pub fn with_queue_capacity(mut self, capacity: usize) -> Result<Self, TurnConfigError> {
        if capacity == 0 {
            return Err(TurnConfigError::ZeroQuota);
        }
        self.queue_capacity = capacity;
        Ok(self)
    }

    /// The first listener.
    pub fn primary(&self) -> SocketAddr {
        self.listeners
            .first()
            .copied()
            .unwrap_or(SocketAddr::new(IpAddr::V4(Ipv4Addr::UNSPECIFIED), 3478))
    }

    /// Every listening address (served over UDP and TCP).
    pub fn listeners(&self) -> &[SocketAddr] {
        &self.listeners
    }

    /// The realm.
    pub fn realm(&self) -> &str {
        &self.realm
    }

    /// The relay IP addresses, IPv4 first.
    pub fn relay_ips(&self) -> Vec<IpAddr> {
        let v4 = self.relay_v4.map(IpAddr::V4);
        let v6 = self.relay_v6.map(IpAddr::V6);
        v4.into_iter().chain(v6).collect()
    }

    /// The relay port range.
    pub fn relay_ports(&self) -> (u16, u16) {
        self.relay_ports
    }

    /// The default and maximum allocation lifetimes.
    pub fn lifetimes(&self) -> (Duration, Duration) {
        (self.default_lifetime, self.max_lifetime)
    }

    /// The SOFTWARE value, if any.
    pub fn software(&self) -> Option<&str> {
        self.software.as_deref()
    }

    /// Replaces the port of every listener bound to port `old` (the tokio
    /// front binds port 0 and learns the real one).
    #[cfg_attr(not(feature = "tokio"), allow(dead_code))]
    pub(crate) fn set_listener(&mut self, old: SocketAddr, new: SocketAddr) {
        for l in self.listeners.iter_mut().filter(|l| **l == old) {
            *l = new;
        }
    }

    /// The checks that need the whole configuration.
    pub(crate) fn validate(&self) -> Result<(), TurnConfigError> {
        if let Some(addr) = self.listeners.iter().find(|l| l.port() == 0) {
            return Err(TurnConfigError::ListenerPortZero { addr: *addr });
        }
        if self.relay_v4.is_none() && self.relay_v6.is_none() {
            return Err(TurnConfigError::NoRelayIp);
        }
        if self.users.is_empty() && self.shared_secret.is_none() {
            return Err(TurnConfigError::NoCredentials);
        }
        Ok(())
    }
}

/// A configuration the server refuses (an API misuse, never remote input).
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum TurnConfigError {
    /// A listener without a port: bind first, then configure the port bound.
    ListenerPortZero {
        /// The address.
        addr: SocketAddr,
    },
    /// The realm fails OpaqueString or is too long (RFC 8489 §14.9).
    Realm,
    /// A user whose name or password fails OpaqueString.
    User {
        /// The username given.
        username: String,
    },
    /// An unspecified, multicast or IPv4-mapped relay IP.
    RelayIp {
        /// The address.
        ip: IpAddr,
    },
    /// No relay IP: a wildcard listener needs [`TurnServerConfig::with_relay_ip`].
    NoRelayIp,
    /// A relay port range that is empty, of one port, or below 1024.
    RelayPorts {
        /// First port.
        first: u16,
        /// Last port.
        last: u16,
    },
    /// Neither users nor a shared secret: nobody could allocate.
    NoCredentials,
    /// A default lifetime below 1 s or above the maximum.
    Lifetimes {
        /// The default asked for.
        default: Duration,
        /// The maximum asked for.
        max: Duration,
    },
    /// A nonce lifetime below 1 s.
    NonceLifetime {
        /// The lifetime asked for.
        lifetime: Duration,
    },
    /// A quota, permission limit or queue of 0.
    ZeroQuota,
    /// A bandwidth cap of 0 bytes/s or a burst below one packet.
    Bandwidth {
        /// The cap asked for.
        cap: Bandwidth,
    },
    /// A SOFTWARE value longer than [`MAX_SOFTWARE_LEN`].
    SoftwareTooLong {
        /// Its length.
        len: usize,
    },
    /// The RFC 5780 alternate is refused by the STUN server's rules.
    Stun(crate::stun::ConfigError),
}

impl fmt::Display for TurnConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TurnConfigError::ListenerPortZero { addr } => {
                write!(f, "listener {addr}: configure the port actually bound")
            }
            TurnConfigError::Realm => f.write_str("realm fails OpaqueString or is too long"),
            TurnConfigError::User { username } => {
                write!(f, "user {username:?}: name or password fails OpaqueString")
            }
            TurnConfigError::RelayIp { ip } => write!(f, "{ip} cannot be a relay address"),
            TurnConfigError::NoRelayIp => {
                f.write_str("no relay IP: a wildcard listener needs with_relay_ip")
            }
            TurnConfigError::RelayPorts { first, last } => {
                write!(f, "relay ports {first}..={last}: need 2 or more, from 1024")
            }
            TurnConfigError::NoCredentials => {
                f.write_str("no users and no shared secret: nobody could allocate")
            }
            TurnConfigError::Lifetimes { default, max } => write!(
                f,
                "default lifetime {default:?} must be at least 1 s and at most the maximum {max:?}"
            ),
            TurnConfigError::NonceLifetime { lifetime } => {
                write!(f, "nonce lifetime {lifetime:?} below 1 s")
            }
            TurnConfigError::ZeroQuota => f.write_str("a quota or capacity of 0"),
            TurnConfigError::Bandwidth { cap } => write!(
                f,
                "bandwidth {} B/s with a {}-byte burst: need > 0 and a burst of 1500 or more",
                cap.bytes_per_second, cap.burst
            ),
            TurnConfigError::SoftwareTooLong { len } => {
                write!(f, "SOFTWARE of {len} bytes; at most {MAX_SOFTWARE_LEN}")
            }
            TurnConfigError::Stun(e) => fmt::Display::fmt(e, f),
        }
    }
}

impl std::error::Error for TurnConfigError {}

#[cfg(test)]
mod tests {
    use super::*;

    fn base() -> TurnServerConfig {
        TurnServerConfig::new("192.0.2.1:3478".parse().unwrap(), "example.org").unwrap()
    }

    #[test]
    fn checked_builders() {
        assert_eq!(DEFAULT_SOFTWARE.len(), 27);
        assert_eq!(base().software().map(str::len), Some(27));
        assert!(matches!(
            TurnServerConfig::new("192.0.2.1:0".parse().unwrap(), "r")
                .unwrap()
                .with_user("u", "p")
                .unwrap()
                .validate(),
            Err(TurnConfigError::ListenerPortZero { .. })
        ));
        assert_eq!(
            TurnServerConfig::new("192.0.2.1:1".parse().unwrap(), "").unwrap_err(),
            TurnConfigError::Realm
        );
        let wildcard = TurnServerConfig::new("0.0.0.0:3478".parse().unwrap(), "r").unwrap();
        assert_eq!(
            wildcard.clone().with_user("u", "p").unwrap().validate(),
            Err(TurnConfigError::NoRelayIp)
        );
        assert_eq!(base().validate(), Err(TurnConfigError::NoCredentials));
        assert!(base().with_user("u", "p").unwrap().validate().is_ok());
        assert!(base().with_user("", "p").is_err());
        assert!(base().with_relay_ports(1000, 2000).is_err());
        assert!(base().with_relay_ports(5000, 5000).is_err());
        assert!(
            base()
                .with_lifetimes(Duration::from_secs(700), Duration::from_secs(600))
                .is_err()
        );
        assert!(base().with_quotas(0, 1).is_err());
        assert!(
            base()
                .with_relay_ip("::ffff:1.2.3.4".parse().unwrap())
                .is_err()
        );
        assert!(
            base()
                .with_stun_alternate("192.0.2.2".parse().unwrap(), 3479)
                .is_ok()
        );
        assert!(
            base()
                .with_stun_alternate("192.0.2.1".parse().unwrap(), 3479)
                .is_err()
        );
        let both = base()
            .with_relay_ip("2001:db8::1".parse().unwrap())
            .unwrap();
        assert_eq!(both.relay_ips().len(), 2);
    }
}
