//! The server's sockets and the choice of the one a response leaves from.
//!
//! - RFC 5780 §6: a server that answers CHANGE-REQUEST has two IP addresses
//!   A1 and A2 and two ports P1 and P2, and listens on all four combinations
//!   (RFC 3489 §8.1 says the same of a classic server). "If a server cannot
//!   allocate the same ports on two different IP address, then it MUST NOT
//!   include an OTHER-ADDRESS attribute in any Response and MUST respond
//!   with a 420 (Unknown Attribute) to any Request with a CHANGE-REQUEST
//!   attribute": so the alternate is all or nothing here.
//! - RFC 5780 §6.1 Table 1 (RFC 3489 §8.1 Table 1): with Da:Dp the socket
//!   the request arrived on and Ca, Cp the other address and port,
//!
//!   | CHANGE-REQUEST          | response source | OTHER-ADDRESS |
//!   |-------------------------|-----------------|---------------|
//!   | none                    | Da:Dp           | Ca:Cp         |
//!   | change IP               | Ca:Dp           | Ca:Cp         |
//!   | change port             | Da:Cp           | Ca:Cp         |
//!   | change IP, change port  | Ca:Cp           | Ca:Cp         |
//!
//!   OTHER-ADDRESS (RFC 3489: CHANGED-ADDRESS) is relative to the socket
//!   the request arrived on: a request to A2:P1 learns A1:P2.

use core::net::{IpAddr, SocketAddr};

use stun_proto::attr::ChangeRequest;

/// One of the server's two IP addresses or two ports.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Side {
    /// A1 or P1: the primary address's.
    Primary,
    /// A2 or P2: the alternate's.
    Alternate,
}

impl Side {
    const fn other(self) -> Side {
        match self {
            Side::Primary => Side::Alternate,
            Side::Alternate => Side::Primary,
        }
    }
}

/// One of the (up to) four sockets, by which IP and which port it has.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct SocketId {
    ip: Side,
    port: Side,
}

impl SocketId {
    /// Da:Dp → Ca:Cp.
    const fn other(self) -> SocketId {
        SocketId {
            ip: self.ip.other(),
            port: self.port.other(),
        }
    }
}

/// The primary socket and, for RFC 5780, the alternate IP and port.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Sockets {
    primary: SocketAddr,
    alternate: Option<(IpAddr, u16)>,
}

impl Sockets {
    /// The sockets of a (validated) configuration.
    pub(crate) const fn new(primary: SocketAddr, alternate: Option<(IpAddr, u16)>) -> Sockets {
        Sockets { primary, alternate }
    }

    /// Whether the four RFC 5780 sockets exist.
    pub(crate) const fn has_alternate(&self) -> bool {
        self.alternate.is_some()
    }

    /// Every socket: A1:P1 first, then A1:P2, A2:P1, A2:P2 with an
    /// alternate.
    pub(crate) fn all(&self) -> Vec<SocketAddr> {
        let mut ids = vec![SocketId {
            ip: Side::Primary,
            port: Side::Primary,
        }];
        if self.alternate.is_some() {
            ids.extend([
                SocketId {
                    ip: Side::Primary,
                    port: Side::Alternate,
                },
                SocketId {
                    ip: Side::Alternate,
                    port: Side::Primary,
                },
                SocketId {
                    ip: Side::Alternate,
                    port: Side::Alternate,
                },
            ]);
        }
        ids.into_iter().map(|id| self.addr(id)).collect()
    }

    /// Which socket `local` is, if it is one of ours (exact match).
    pub(crate) fn find(&self, local: SocketAddr) -> Option<SocketId> {
        let ip = if local.ip() == self.primary.ip() {
            Side::Primary
        } else if self.alternate.is_some_and(|(ip, _)| ip == local.ip()) {
            Side::Alternate
        } else {
            return None;
        };
        let port = if local.port() == self.primary.port() {
            Side::Primary
        } else if self.alternate.is_some_and(|(_, port)| port == local.port()) {
            Side::Alternate
        } else {
            return None;
        };
        Some(SocketId { ip, port })
    }

    /// The address of a socket. Without an alternate every id is the
    /// primary (only the primary can be found or chosen then).
    pub(crate) fn addr(&self, id: SocketId) -> SocketAddr {
        let (alt_ip, alt_port) = self
            .alternate
            .unwrap_or((self.primary.ip(), self.primary.port()));
        let ip = match id.ip {
            Side::Primary => self.primary.ip(),
            Side::Alternate => alt_ip,
        };
        let port = match id.port {
            Side::Primary => self.primary.port(),
            Side::Alternate => alt_port,
        };
        SocketAddr::new(ip, port)
    }

    /// RFC 5780 §6.1 Table 1: the socket the response to a request that
    /// arrived on `arrived` leaves from.
    pub(crate) fn response_source(&self, arrived: SocketId, change: ChangeRequest) -> SocketId {
        if self.alternate.is_none() {
            return arrived;
        }
        SocketId {
            ip: if change.change_ip {
                arrived.ip.other()
            } else {
                arrived.ip
            },
            port: if change.change_port {
                arrived.port.other()
            } else {
                arrived.port
            },
        }
    }

    /// OTHER-ADDRESS (RFC 5780 §7.4) and CHANGED-ADDRESS (RFC 3489
    /// §11.2.3) for a request that arrived on `arrived`: Ca:Cp, whatever
    /// the CHANGE-REQUEST flags. `None` without an alternate.
    pub(crate) fn other_address(&self, arrived: SocketId) -> Option<SocketAddr> {
        self.alternate.map(|_| self.addr(arrived.other()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn four() -> Sockets {
        Sockets::new(
            "192.0.2.1:3478".parse().unwrap(),
            Some(("192.0.2.2".parse().unwrap(), 3479)),
        )
    }

    #[test]
    fn rfc5780_table1_from_every_socket() {
        let s = four();
        let all = s.all();
        assert_eq!(
            all,
            [
                "192.0.2.1:3478",
                "192.0.2.1:3479",
                "192.0.2.2:3478",
                "192.0.2.2:3479"
            ]
            .map(|a| a.parse::<SocketAddr>().unwrap())
        );
        for &arrived in &all {
            let id = s.find(arrived).unwrap();
            let (da, dp) = (arrived.ip(), arrived.port());
            let ca = all.iter().map(|a| a.ip()).find(|ip| *ip != da).unwrap();
            let cp = all.iter().map(|a| a.port()).find(|p| *p != dp).unwrap();
            let from = |change_ip, change_port| {
                s.addr(s.response_source(
                    id,
                    ChangeRequest {
                        change_ip,
                        change_port,
                    },
                ))
            };
            assert_eq!(from(false, false), SocketAddr::new(da, dp));
            assert_eq!(from(true, false), SocketAddr::new(ca, dp));
            assert_eq!(from(false, true), SocketAddr::new(da, cp));
            assert_eq!(from(true, true), SocketAddr::new(ca, cp));
            assert_eq!(s.other_address(id), Some(SocketAddr::new(ca, cp)));
        }
    }

    #[test]
    fn without_alternate_only_the_primary_exists() {
        let primary: SocketAddr = "[2001:db8::1]:3478".parse().unwrap();
        let s = Sockets::new(primary, None);
        assert_eq!(s.all(), [primary]);
        let id = s.find(primary).unwrap();
        assert_eq!(s.find("[2001:db8::1]:3479".parse().unwrap()), None);
        assert_eq!(s.find("[2001:db8::2]:3478".parse().unwrap()), None);
        let both = ChangeRequest {
            change_ip: true,
            change_port: true,
        };
        assert_eq!(s.addr(s.response_source(id, both)), primary);
        assert_eq!(s.other_address(id), None);
    }
}
