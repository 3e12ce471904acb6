//! What a [`StunServer`](super::StunServer) is built from: its sockets, its
//! name and its limits, checked once so that the server itself cannot be
//! misconfigured.
//!
//! - RFC 5780 §6: the alternate IP address and port come together (four
//!   sockets A1:P1, A1:P2, A2:P1, A2:P2, one address family) or not at all.
//! - RFC 8489 §14.14: SOFTWARE is fewer than 128 characters; this server
//!   holds its own name to [`MAX_SOFTWARE_LEN`] bytes because every answer
//!   carries it (see the amplification bound in [`super`]).
//! - RFC 5780 §7.6: PADDING makes answers large; [`max_response_len`]
//!   caps every answer.
//!
//! [`max_response_len`]: StunServerConfig::with_max_response_len

use core::fmt;
use core::net::{IpAddr, SocketAddr};

/// The SOFTWARE attribute sent by default (RFC 8489 §14.14: name and
/// version).
pub const DEFAULT_SOFTWARE: &str = concat!("ice-stack stun-server ", env!("CARGO_PKG_VERSION"));

/// The longest SOFTWARE value this server sends, in bytes. RFC 8489 §14.14
/// allows up to 509; every answer carries it, so it is held short to keep
/// the amplification bound (see [`super`]) below 10.
pub const MAX_SOFTWARE_LEN: usize = 64;

/// The default ceiling on an answer's size: 1500 bytes of STUN message
/// (the UDP payload). Larger than the 1472 bytes an IPv4 datagram carries
/// on a 1500-byte Ethernet link, so that a PADDING test (RFC 5780 §7.6) can
/// still produce a fragmented answer, for a client whose request was itself
/// that large.
pub const DEFAULT_MAX_RESPONSE_LEN: usize = 1500;

/// The smallest ceiling allowed: 548 bytes, the UDP payload of the
/// 576-byte datagram every IPv4 host must accept (RFC 8489 §6.1 cites it).
/// Every answer without PADDING fits in it (the largest is 192 bytes).
pub const MIN_MAX_RESPONSE_LEN: usize = 548;

/// How many answers wait for [`poll_transmit`](super::StunServer::poll_transmit)
/// by default.
pub const DEFAULT_QUEUE_CAPACITY: usize = 128;

/// The configuration of a [`StunServer`](super::StunServer).
///
/// ```
/// use turn_server::StunServerConfig;
/// let config = StunServerConfig::new("192.0.2.1:3478".parse()?)
///     .with_alternate("192.0.2.2".parse()?, 3479)?
///     .with_software("my server 1.0")?;
/// assert_eq!(config.alternate(), Some(("192.0.2.2".parse()?, 3479)));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StunServerConfig {
    primary: SocketAddr,
    alternate: Option<(IpAddr, u16)>,
    software: Option<String>,
    max_response_len: usize,
    queue_capacity: usize,
    rfc3489: bool,
}

impl StunServerConfig {
    /// A plain RFC 8489 server on `primary`, with the defaults: SOFTWARE
    /// [`DEFAULT_SOFTWARE`], answers capped at [`DEFAULT_MAX_RESPONSE_LEN`],
    /// [`DEFAULT_QUEUE_CAPACITY`] queued answers, RFC 3489 clients answered.
    ///
    /// The server matches the `local` address of each packet against its
    /// sockets exactly: bind first and configure the address bound (not
    /// port 0).
    pub fn new(primary: SocketAddr) -> StunServerConfig {
        StunServerConfig {
            primary,
            alternate: None,
            software: Some(DEFAULT_SOFTWARE.to_owned()),
            max_response_len: DEFAULT_MAX_RESPONSE_LEN,
            queue_capacity: DEFAULT_QUEUE_CAPACITY,
            rfc3489: true,
        }
    }

    /// Makes the server RFC 5780 capable: A2 = `ip`, P2 = `port`, so that
    /// it listens on A1:P1, A1:P2, A2:P1 and A2:P2 and answers
    /// CHANGE-REQUEST. Both addresses must be of one family and specified,
    /// and the IPs and the ports must differ.
    pub fn with_alternate(mut self, ip: IpAddr, port: u16) -> Result<Self, ConfigError> {
        let primary = self.primary;
        let alternate = SocketAddr::new(ip, port);
        if primary.is_ipv4() != ip.is_ipv4() {
            return Err(ConfigError::AlternateFamily { primary, alternate });
        }
        for addr in [primary, alternate] {
            if addr.ip().is_unspecified() || addr.port() == 0 {
                return Err(ConfigError::Unspecified { addr });
            }
        }
        if ip == primary.ip() || port == primary.port() {
            return Err(ConfigError::AlternateNotDistinct { primary, alternate });
        }
        self.alternate = Some((ip, port));
        Ok(self)
    }

    /// The SOFTWARE value every answer carries: at most
    /// [`MAX_SOFTWARE_LEN`] bytes.
    pub fn with_software(mut self, name: &str) -> Result<Self, ConfigError> {
        if name.len() > MAX_SOFTWARE_LEN {
            return Err(ConfigError::SoftwareTooLong {
                len: name.len(),
                max: MAX_SOFTWARE_LEN,
            });
        }
        self.software = Some(name.to_owned());
        Ok(self)
    }

    /// Answers without SOFTWARE (RFC 8489 §6.3.1.1 says SHOULD add it; this
    /// lowers every answer by the attribute's size).
    pub fn without_software(mut self) -> Self {
        self.software = None;
        self
    }

    /// The ceiling on any answer's size in bytes, at least
    /// [`MIN_MAX_RESPONSE_LEN`]. Only PADDING answers come near it.
    pub fn with_max_response_len(mut self, len: usize) -> Result<Self, ConfigError> {
        if len < MIN_MAX_RESPONSE_LEN {
            return Err(ConfigError::MaxResponseLenTooSmall {
                len,
                min: MIN_MAX_RESPONSE_LEN,
            });
        }
        self.max_response_len = len;
        Ok(self)
    }

    /// How many answers may wait for `poll_transmit`; at least 1. When the
    /// queue is full a new request is dropped
    /// ([`Dropped::QueueFull`](super::Dropped::QueueFull)).
    pub fn with_queue_capacity(mut self, capacity: usize) -> Result<Self, ConfigError> {
        if capacity == 0 {
            return Err(ConfigError::ZeroQueueCapacity);
        }
        self.queue_capacity = capacity;
        Ok(self)
    }

    /// Whether requests without the magic cookie (RFC 3489 clients) are
    /// answered (the default) or dropped
    /// ([`Dropped::Rfc3489Disabled`](super::Dropped::Rfc3489Disabled)).
    pub fn with_rfc3489(mut self, answer: bool) -> Self {
        self.rfc3489 = answer;
        self
    }

    /// The primary socket, A1:P1.
    pub fn primary(&self) -> SocketAddr {
        self.primary
    }

    /// The alternate IP address and port (A2, P2), if RFC 5780 capable.
    pub fn alternate(&self) -> Option<(IpAddr, u16)> {
        self.alternate
    }

    /// The SOFTWARE value, if any.
    pub fn software(&self) -> Option<&str> {
        self.software.as_deref()
    }

    /// The ceiling on an answer's size.
    pub fn max_response_len(&self) -> usize {
        self.max_response_len
    }

    /// The outgoing queue's capacity.
    pub fn queue_capacity(&self) -> usize {
        self.queue_capacity
    }

    /// Whether RFC 3489 clients are answered.
    pub fn rfc3489(&self) -> bool {
        self.rfc3489
    }
}

/// A configuration the server refuses: the caller asked for something that
/// cannot work (an API misuse, never caused by remote input).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum ConfigError {
    /// The alternate address is of the other family than the primary
    /// (RFC 5780 §6: the four sockets share one family).
    AlternateFamily {
        /// A1:P1.
        primary: SocketAddr,
        /// A2:P2.
        alternate: SocketAddr,
    },
    /// The alternate IP or port equals the primary's: the four sockets would
    /// not be four, and a client could not tell a changed answer.
    AlternateNotDistinct {
        /// A1:P1.
        primary: SocketAddr,
        /// A2:P2.
        alternate: SocketAddr,
    },
    /// An unspecified IP address or port 0 among the RFC 5780 sockets:
    /// RESPONSE-ORIGIN and OTHER-ADDRESS must name real sockets.
    Unspecified {
        /// The address.
        addr: SocketAddr,
    },
    /// A SOFTWARE value longer than [`MAX_SOFTWARE_LEN`].
    SoftwareTooLong {
        /// Its length in bytes.
        len: usize,
        /// The limit.
        max: usize,
    },
    /// A response ceiling below [`MIN_MAX_RESPONSE_LEN`].
    MaxResponseLenTooSmall {
        /// The ceiling asked for.
        len: usize,
        /// The smallest allowed.
        min: usize,
    },
    /// A queue that can hold no answer.
    ZeroQueueCapacity,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ConfigError::AlternateFamily { primary, alternate } => write!(
                f,
                "alternate {alternate} is not of the family of primary {primary}"
            ),
            ConfigError::AlternateNotDistinct { primary, alternate } => write!(
                f,
                "alternate {alternate} must differ from primary {primary} in both IP and port"
            ),
            ConfigError::Unspecified { addr } => write!(
                f,
                "{addr}: RFC 5780 sockets need a specified IP address and a non-zero port"
            ),
            ConfigError::SoftwareTooLong { len, max } => {
                write!(f, "SOFTWARE of {len} bytes; at most {max} allowed")
            }
            ConfigError::MaxResponseLenTooSmall { len, min } => {
                write!(f, "response ceiling of {len} bytes; at least {min} needed")
            }
            ConfigError::ZeroQueueCapacity => f.write_str("the outgoing queue needs capacity"),
        }
    }
}

impl std::error::Error for ConfigError {}

#[cfg(test)]
mod tests {
    use super::*;

    fn primary() -> StunServerConfig {
        StunServerConfig::new("192.0.2.1:3478".parse().unwrap())
    }

    #[test]
    fn alternate_must_be_four_distinct_sockets_of_one_family() {
        let v4 = |s: &str| s.parse::<IpAddr>().unwrap();
        assert!(primary().with_alternate(v4("192.0.2.2"), 3479).is_ok());
        assert!(matches!(
            primary().with_alternate(v4("2001:db8::2"), 3479),
            Err(ConfigError::AlternateFamily { .. })
        ));
        assert!(matches!(
            primary().with_alternate(v4("192.0.2.1"), 3479),
            Err(ConfigError::AlternateNotDistinct { .. })
        ));
        assert!(matches!(
            primary().with_alternate(v4("192.0.2.2"), 3478),
            Err(ConfigError::AlternateNotDistinct { .. })
        ));
        assert!(matches!(
            primary().with_alternate(v4("0.0.0.0"), 3479),
            Err(ConfigError::Unspecified { .. })
        ));
        assert!(matches!(
            primary().with_alternate(v4("192.0.2.2"), 0),
            Err(ConfigError::Unspecified { .. })
        ));
        let wildcard = StunServerConfig::new("0.0.0.0:3478".parse().unwrap());
        assert!(matches!(
            wildcard.with_alternate(v4("192.0.2.2"), 3479),
            Err(ConfigError::Unspecified { .. })
        ));
    }

    #[test]
    fn limits() {
        assert_eq!(
            DEFAULT_SOFTWARE.len(),
            27,
            "amplification numbers assume it"
        );
        assert!(primary().with_software(&"s".repeat(64)).is_ok());
        assert_eq!(
            primary().with_software(&"s".repeat(65)),
            Err(ConfigError::SoftwareTooLong { len: 65, max: 64 })
        );
        assert!(primary().with_max_response_len(548).is_ok());
        assert!(primary().with_max_response_len(547).is_err());
        assert_eq!(
            primary().with_queue_capacity(0),
            Err(ConfigError::ZeroQueueCapacity)
        );
        assert_eq!(primary().without_software().software(), None);
        assert!(!primary().with_rfc3489(false).rfc3489());
    }
}
