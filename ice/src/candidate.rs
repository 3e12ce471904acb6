//! ICE candidates and their priorities (RFC 8445 §5.1, RFC 8421).
//!
//! - §5.1.2.1 priority: `2^24 * type preference + 2^8 * local preference +
//!   (256 - component id)`, with the §5.1.2.2 recommended type preferences
//!   126 host, 110 peer-reflexive, 100 server-reflexive, 0 relayed.
//! - Local preference (§5.1.2.1, RFC 8421 §4): unique per base within a
//!   type, higher for IPv6, and interleaving the families so that a broken
//!   family cannot starve the other of checks: the n-th IPv6 base gets
//!   `65535 - 2n`, the n-th IPv4 base `65534 - 2n` (so IPv6, IPv4, IPv6,
//!   IPv4, … in the order the bases were given).
//! - §5.1.1.3 foundation: the same for candidates of the same type, base IP,
//!   server IP and transport; here a short hash of those, written in
//!   ice-chars.
//! - §6.1.2.3 pair priority: `2^32 * min(G, D) + 2 * max(G, D) + (G > D)`,
//!   G the controlling agent's candidate priority.

use std::fmt;
use std::net::{IpAddr, SocketAddr};

/// The candidate types of RFC 8445 §5.1.1.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum CandidateType {
    /// An address of a local interface.
    Host,
    /// The address a NAT maps a host candidate to, learnt from a STUN
    /// server.
    ServerReflexive,
    /// An address learnt from a connectivity check.
    PeerReflexive,
    /// An address on a TURN relay.
    Relayed,
}

impl CandidateType {
    /// The recommended type preference (RFC 8445 §5.1.2.2).
    pub const fn type_preference(self) -> u32 {
        match self {
            CandidateType::Host => 126,
            CandidateType::PeerReflexive => 110,
            CandidateType::ServerReflexive => 100,
            CandidateType::Relayed => 0,
        }
    }

    /// The SDP name (RFC 8839 §5.1): `host`, `srflx`, `prflx`, `relay`.
    pub const fn sdp_name(self) -> &'static str {
        match self {
            CandidateType::Host => "host",
            CandidateType::ServerReflexive => "srflx",
            CandidateType::PeerReflexive => "prflx",
            CandidateType::Relayed => "relay",
        }
    }
}

impl fmt::Display for CandidateType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.sdp_name())
    }
}

/// The transport a candidate is for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum TransportProtocol {
    /// UDP, the only transport this agent checks.
    Udp,
    /// TCP (RFC 6544); parsed and kept, never paired.
    Tcp,
}

/// Where a candidate is: an IP address, or an mDNS name (RFC 8839 §5.1
/// allows an FQDN; browsers use `<uuid>.local` to hide host addresses).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum CandidateAddress {
    /// An IP address and port.
    Ip(SocketAddr),
    /// A host name (an mDNS `.local` name, or another FQDN) and port. Not
    /// paired until resolved; a peer behind it is reached through
    /// peer-reflexive candidates meanwhile.
    Name {
        /// The name.
        name: String,
        /// The port.
        port: u16,
    },
}

impl fmt::Display for CandidateAddress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CandidateAddress::Ip(a) => write!(f, "{a}"),
            CandidateAddress::Name { name, port } => write!(f, "{name}:{port}"),
        }
    }
}

/// A candidate, local or remote.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Candidate {
    /// The foundation (1 to 32 ice-chars).
    pub foundation: String,
    /// The component id (1 to 256).
    pub component: u16,
    /// The transport.
    pub transport: TransportProtocol,
    /// The priority (RFC 8445 §5.1.2).
    pub priority: u32,
    /// The address.
    pub address: CandidateAddress,
    /// The type.
    pub kind: CandidateType,
    /// The related address (`raddr`/`rport`): the base of a reflexive
    /// candidate, the mapped address of a relayed one.
    pub related: Option<SocketAddr>,
    /// Extension attributes (`generation`, `network-id`, `ufrag`, …), kept
    /// in order and written back unchanged.
    pub extensions: Vec<(String, String)>,
}

impl Candidate {
    /// The IP address and port, unless the address is a name.
    pub fn socket_addr(&self) -> Option<SocketAddr> {
        match &self.address {
            CandidateAddress::Ip(a) => Some(*a),
            CandidateAddress::Name { .. } => None,
        }
    }
}

/// The priority of RFC 8445 §5.1.2.1.
pub const fn priority(kind: CandidateType, local_preference: u16, component: u16) -> u32 {
    let component = if component == 0 || component > 256 {
        256
    } else {
        component
    };
    (kind.type_preference() << 24) | ((local_preference as u32) << 8) | (256 - component as u32)
}

/// The pair priority of RFC 8445 §6.1.2.3. Candidate priorities are at most
/// 2^31 - 1 (§5.1.2.1), where the formula fits in 64 bits; larger values
/// (a peer's bad PRIORITY or SDP) saturate instead of overflowing.
pub const fn pair_priority(controlling: u32, controlled: u32) -> u64 {
    let (g, d) = (controlling as u128, controlled as u128);
    let (min, max) = if g < d { (g, d) } else { (d, g) };
    let p = (min << 32) + 2 * max + if g > d { 1 } else { 0 };
    if p > u64::MAX as u128 {
        u64::MAX
    } else {
        p as u64
    }
}

/// Local preferences for a list of base addresses (RFC 8421 §4, see the
/// module documentation): IPv6 first, families interleaved, unique.
pub fn local_preferences(bases: &[IpAddr]) -> Vec<u16> {
    let (mut v6, mut v4) = (0u16, 0u16);
    bases
        .iter()
        .map(|ip| {
            let (n, offset) = match ip {
                IpAddr::V6(_) => (&mut v6, 0),
                IpAddr::V4(_) => (&mut v4, 1),
            };
            let pref = 65535u16
                .saturating_sub(n.saturating_mul(2))
                .saturating_sub(offset);
            *n = n.saturating_add(1);
            pref
        })
        .collect()
}

/// The foundation of RFC 8445 §5.1.1.3: equal for equal (type, base IP,
/// server IP, transport). FNV-1a, 8 base-64 ice-chars.
pub fn foundation(
    kind: CandidateType,
    base: IpAddr,
    server: Option<IpAddr>,
    transport: TransportProtocol,
) -> String {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    let mut feed = |bytes: &[u8]| {
        for b in bytes {
            h ^= u64::from(*b);
            h = h.wrapping_mul(0x0000_0100_0000_01b3);
        }
    };
    feed(kind.sdp_name().as_bytes());
    feed(&ip_bytes(base));
    match server {
        Some(s) => feed(&ip_bytes(s)),
        None => feed(b"-"),
    }
    feed(match transport {
        TransportProtocol::Udp => b"udp",
        TransportProtocol::Tcp => b"tcp",
    });
    const CHARS: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    (0..8)
        .map(|i| {
            char::from(
                CHARS
                    .get(((h >> (i * 6)) & 0x3F) as usize)
                    .copied()
                    .unwrap_or(b'A'),
            )
        })
        .collect()
}

fn ip_bytes(ip: IpAddr) -> Vec<u8> {
    match ip {
        IpAddr::V4(v4) => v4.octets().to_vec(),
        IpAddr::V6(v6) => v6.octets().to_vec(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc8445_priority_formula() {
        assert_eq!(
            priority(CandidateType::Host, 65535, 1),
            (126 << 24) | (65535 << 8) | 255
        );
        assert_eq!(priority(CandidateType::Relayed, 0, 2), 254);
        assert!(
            priority(CandidateType::PeerReflexive, 1, 1)
                > priority(CandidateType::ServerReflexive, 65535, 1)
        );
    }

    #[test]
    fn pair_priority_is_symmetric_but_for_the_tie_bit() {
        assert_eq!(pair_priority(5, 3), (3 << 32) + 10 + 1);
        assert_eq!(pair_priority(3, 5), (3 << 32) + 10);
        let top = (1u32 << 31) - 1;
        assert_eq!(
            pair_priority(top, top),
            (u64::from(top) << 32) + 2 * u64::from(top)
        );
        assert_eq!(
            pair_priority(u32::MAX, u32::MAX),
            u64::MAX,
            "saturates, never overflows"
        );
    }

    #[test]
    fn families_interleave_ipv6_first() {
        let bases: Vec<IpAddr> = ["10.0.0.1", "2001:db8::1", "10.0.0.2", "2001:db8::2"]
            .iter()
            .map(|s| s.parse().unwrap())
            .collect();
        assert_eq!(local_preferences(&bases), [65534, 65535, 65532, 65533]);
    }

    #[test]
    fn foundations_group_by_type_base_and_server() {
        let ip = |s: &str| s.parse::<IpAddr>().unwrap();
        let f =
            |k, b: &str, s: Option<&str>| foundation(k, ip(b), s.map(ip), TransportProtocol::Udp);
        assert_eq!(
            f(CandidateType::Host, "10.0.0.1", None),
            f(CandidateType::Host, "10.0.0.1", None)
        );
        assert_ne!(
            f(CandidateType::Host, "10.0.0.1", None),
            f(CandidateType::Host, "10.0.0.2", None)
        );
        assert_ne!(
            f(
                CandidateType::ServerReflexive,
                "10.0.0.1",
                Some("198.51.100.1")
            ),
            f(
                CandidateType::ServerReflexive,
                "10.0.0.1",
                Some("198.51.100.2")
            )
        );
        let fd = f(CandidateType::Host, "10.0.0.1", None);
        assert_eq!(fd.len(), 8);
        assert!(
            fd.bytes()
                .all(|c| c.is_ascii_alphanumeric() || c == b'+' || c == b'/')
        );
    }
}
