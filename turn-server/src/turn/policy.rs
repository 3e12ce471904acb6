//! Which peers a relay may reach (RFC 8656 §21.1 "Risks of a relay
//! in the middle", §21.2.3, and the coturn CVE-2020-26262 class of bugs:
//! a relay that forwards to 127.0.0.1 or 0.0.0.0 hands a remote client the
//! server's own loopback services).
//!
//! By default these peer addresses are refused with 403 (Forbidden) in
//! CreatePermission and ChannelBind, and Send indications to them are
//! dropped:
//!
//! | category | IPv4 | IPv6 |
//! |---|---|---|
//! | unspecified, "this network" | 0.0.0.0/8 | ::/128 |
//! | loopback | 127.0.0.0/8 | ::1/128 |
//! | private (RFC 1918, RFC 6598 shared, RFC 4193 ULA) | 10/8, 172.16/12, 192.168/16, 100.64/10 | fc00::/7 |
//! | link-local | 169.254/16 | fe80::/10 |
//! | multicast, broadcast | 224/4, 240/4 (reserved, with 255.255.255.255) | ff00::/8 |
//! | IPv4-mapped, IPv4-compatible, NAT64 | — | ::ffff:0:0/96, ::/96, 64:ff9b::/96 |
//!
//! IPv4 inside IPv6 is refused because it reaches IPv4 hosts (loopback
//! included) behind the family checks of RFC 8656 §9 and §12; a client that
//! wants an IPv4 peer uses an IPv4 allocation.
//!
//! The configuration can allow prefixes ([`PeerPolicy::allow`]: a test on
//! loopback allows 127.0.0.0/8) and deny more ([`PeerPolicy::deny`]); a
//! denied prefix wins over an allowed one, and both win over the
//! categories above. Port 0 is never a peer of data or of a channel; a
//! CreatePermission is for an IP, its port ignored (RFC 8656 §9.1).

use core::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

/// An IP prefix: an address and how many leading bits count.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Prefix {
    ip: IpAddr,
    len: u8,
}

impl Prefix {
    /// `ip/len`; `None` if `len` exceeds the family's width (32 or 128).
    pub fn new(ip: IpAddr, len: u8) -> Option<Prefix> {
        let max = if ip.is_ipv4() { 32 } else { 128 };
        (len <= max).then_some(Prefix { ip, len })
    }

    /// Exactly one address.
    pub fn host(ip: IpAddr) -> Prefix {
        Prefix {
            ip,
            len: if ip.is_ipv4() { 32 } else { 128 },
        }
    }

    /// Whether `ip` (of the same family) falls inside.
    pub fn contains(&self, ip: IpAddr) -> bool {
        match (self.ip, ip) {
            (IpAddr::V4(p), IpAddr::V4(a)) => {
                let mask = u32::MAX.checked_shl(32 - u32::from(self.len)).unwrap_or(0);
                u32::from(p) & mask == u32::from(a) & mask
            }
            (IpAddr::V6(p), IpAddr::V6(a)) => {
                let mask = u128::MAX
                    .checked_shl(128 - u32::from(self.len))
                    .unwrap_or(0);
                u128::from(p) & mask == u128::from(a) & mask
            }
            _ => false,
        }
    }
}

/// Why a peer address is refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum PeerRefusal {
    /// Port 0.
    PortZero,
    /// Inside a prefix the configuration denies.
    Denied,
    /// Unspecified or "this network".
    Unspecified,
    /// Loopback.
    Loopback,
    /// RFC 1918, RFC 6598 or RFC 4193 (ULA) space.
    Private,
    /// Link-local.
    LinkLocal,
    /// Multicast, broadcast or reserved (240/4).
    Multicast,
    /// IPv4 embedded in IPv6 (mapped, compatible, NAT64).
    EmbeddedIpv4,
}

/// The peer address policy (see the [module documentation](self)).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PeerPolicy {
    allowed: Vec<Prefix>,
    denied: Vec<Prefix>,
}

impl PeerPolicy {
    /// The default: every category of the module documentation refused.
    pub fn new() -> PeerPolicy {
        PeerPolicy::default()
    }

    /// Allows peers inside `prefix` that a category would refuse.
    pub fn allow(mut self, prefix: Prefix) -> PeerPolicy {
        self.allowed.push(prefix);
        self
    }

    /// Refuses peers inside `prefix`, whatever else allows them.
    pub fn deny(mut self, prefix: Prefix) -> PeerPolicy {
        self.denied.push(prefix);
        self
    }

    /// Whether the relay may send to `peer`.
    pub fn check(&self, peer: SocketAddr) -> Result<(), PeerRefusal> {
        if peer.port() == 0 {
            return Err(PeerRefusal::PortZero);
        }
        self.check_ip(peer.ip())
    }

    /// Whether the relay may send to some port of `ip`: the check of a
    /// CreatePermission, whose XOR-PEER-ADDRESS port the server ignores
    /// (RFC 8656 §9.1; clients such as ours send 0 when they know no port).
    pub fn check_ip(&self, ip: IpAddr) -> Result<(), PeerRefusal> {
        if self.denied.iter().any(|p| p.contains(ip)) {
            return Err(PeerRefusal::Denied);
        }
        if self.allowed.iter().any(|p| p.contains(ip)) {
            return Ok(());
        }
        match category(ip) {
            Some(refusal) => Err(refusal),
            None => Ok(()),
        }
    }
}

fn v4(a: u8, b: u8, c: u8, d: u8, len: u8) -> Prefix {
    Prefix {
        ip: IpAddr::V4(Ipv4Addr::new(a, b, c, d)),
        len,
    }
}

fn v6(segments: [u16; 8], len: u8) -> Prefix {
    let [a, b, c, d, e, f, g, h] = segments;
    Prefix {
        ip: IpAddr::V6(Ipv6Addr::new(a, b, c, d, e, f, g, h)),
        len,
    }
}

/// The default category an address falls in, if any refuses it.
fn category(ip: IpAddr) -> Option<PeerRefusal> {
    let table: [(Prefix, PeerRefusal); 18] = [
        (v4(0, 0, 0, 0, 8), PeerRefusal::Unspecified),
        (v4(127, 0, 0, 0, 8), PeerRefusal::Loopback),
        (v4(10, 0, 0, 0, 8), PeerRefusal::Private),
        (v4(172, 16, 0, 0, 12), PeerRefusal::Private),
        (v4(192, 168, 0, 0, 16), PeerRefusal::Private),
        (v4(100, 64, 0, 0, 10), PeerRefusal::Private),
        (v4(169, 254, 0, 0, 16), PeerRefusal::LinkLocal),
        (v4(224, 0, 0, 0, 4), PeerRefusal::Multicast),
        (v4(240, 0, 0, 0, 4), PeerRefusal::Multicast),
        (v6([0; 8], 128), PeerRefusal::Unspecified),
        (v6([0, 0, 0, 0, 0, 0, 0, 1], 128), PeerRefusal::Loopback),
        (v6([0xfc00, 0, 0, 0, 0, 0, 0, 0], 7), PeerRefusal::Private),
        (
            v6([0xfe80, 0, 0, 0, 0, 0, 0, 0], 10),
            PeerRefusal::LinkLocal,
        ),
        (v6([0xff00, 0, 0, 0, 0, 0, 0, 0], 8), PeerRefusal::Multicast),
        (
            v6([0, 0, 0, 0, 0, 0xffff, 0, 0], 96),
            PeerRefusal::EmbeddedIpv4,
        ),
        (v6([0; 8], 96), PeerRefusal::EmbeddedIpv4),
        (
            v6([0x64, 0xff9b, 0, 0, 0, 0, 0, 0], 96),
            PeerRefusal::EmbeddedIpv4,
        ),
        // 6to4 embeds an IPv4 address too.
        (
            v6([0x2002, 0, 0, 0, 0, 0, 0, 0], 16),
            PeerRefusal::EmbeddedIpv4,
        ),
    ];
    table
        .iter()
        .find(|(prefix, _)| prefix.contains(ip))
        .map(|(_, refusal)| *refusal)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(p: &PeerPolicy, s: &str) -> Result<(), PeerRefusal> {
        p.check(s.parse().unwrap())
    }

    #[test]
    fn defaults_refuse_the_dangerous_categories() {
        let p = PeerPolicy::new();
        for (addr, why) in [
            ("127.0.0.1:80", PeerRefusal::Loopback),
            ("0.0.0.0:80", PeerRefusal::Unspecified),
            ("10.1.2.3:80", PeerRefusal::Private),
            ("172.31.0.1:80", PeerRefusal::Private),
            ("192.168.1.1:80", PeerRefusal::Private),
            ("100.64.0.1:80", PeerRefusal::Private),
            ("169.254.169.254:80", PeerRefusal::LinkLocal),
            ("224.0.0.1:80", PeerRefusal::Multicast),
            ("255.255.255.255:80", PeerRefusal::Multicast),
            ("[::1]:80", PeerRefusal::Loopback),
            ("[::]:80", PeerRefusal::Unspecified),
            ("[fd00::1]:80", PeerRefusal::Private),
            ("[fe80::1]:80", PeerRefusal::LinkLocal),
            ("[ff02::1]:80", PeerRefusal::Multicast),
            ("[::ffff:127.0.0.1]:80", PeerRefusal::EmbeddedIpv4),
            ("[::ffff:8.8.8.8]:80", PeerRefusal::EmbeddedIpv4),
            ("[64:ff9b::7f00:1]:80", PeerRefusal::EmbeddedIpv4),
            ("198.51.100.1:0", PeerRefusal::PortZero),
        ] {
            assert_eq!(check(&p, addr), Err(why), "{addr}");
        }
        for ok in [
            "198.51.100.1:80",
            "8.8.8.8:53",
            "[2001:db8::1]:80",
            "172.32.0.1:1",
        ] {
            assert_eq!(check(&p, ok), Ok(()), "{ok}");
        }
    }

    #[test]
    fn allow_and_deny_lists() {
        let lo = Prefix::new("127.0.0.0".parse().unwrap(), 8).unwrap();
        let p = PeerPolicy::new()
            .allow(lo)
            .deny(Prefix::host("127.0.0.53".parse().unwrap()))
            .deny(Prefix::new("203.0.113.0".parse().unwrap(), 24).unwrap());
        assert_eq!(check(&p, "127.0.0.1:5000"), Ok(()));
        assert_eq!(check(&p, "127.0.0.53:53"), Err(PeerRefusal::Denied));
        assert_eq!(check(&p, "203.0.113.9:53"), Err(PeerRefusal::Denied));
        assert_eq!(check(&p, "[::1]:53"), Err(PeerRefusal::Loopback));
        assert!(Prefix::new("10.0.0.0".parse().unwrap(), 33).is_none());
        assert!(
            Prefix::new("::".parse().unwrap(), 0)
                .unwrap()
                .contains("::1".parse().unwrap())
        );
        assert!(!lo.contains("::1".parse().unwrap()));
    }
}
