//! Two clients behind two kernel NATs, with a server on the Internet
//! between them: the lab of the ICE tests (`tests/kernel_nat_ice.rs`).
//!
//! ```text
//!  client_a ns        nat_a ns                           internet ns                          nat_b ns          client_b ns
//!  192.168.1.10 ─lan══lan─ 192.168.1.1                                                      192.168.2.1 ─lan══lan─ 192.168.2.20
//!                          203.0.113.1 ─wan══nat-a─ 203.0.113.254   198.51.100.1 (lo)   203.0.113.253 ─nat-b══wan─ 203.0.113.2
//! ```
//!
//! Five namespaces joined by four veth pairs. The internet namespace is a
//! router with the server's address on its loopback: each NAT's outside
//! link is a point-to-point /32 pair (`ip addr add LOCAL peer REMOTE`), so
//! traffic between the NATs, and between either NAT and the server, is
//! routed by the internet namespace (forwarding on, no rules). Each NAT
//! forwards and loads the ruleset of its [`Middlebox`] (interfaces `lan`
//! and `wan`, as in [`super::NatLab`]); each client's default route goes
//! through its NAT.
//!
//! The outside addresses are documentation ranges (RFC 5737), not private
//! ones, so our TURN server's default peer policy (which refuses RFC 1918
//! peers) relays between the NATs unchanged. The clients' private
//! addresses are not routed on the internet, as on the real one: a check
//! to the peer's host candidate goes out through the NAT and is dropped by
//! the internet namespace (no route). Routing them would be wrong twice
//! over: the NATs forward inbound packets for their LAN without any
//! filter, so the host candidates would connect directly, and the answers
//! to those inbound flows leave untranslated. So every middlebox here
//! must be a NAT.
//!
//! Address-dependent mapping is not offered here: the rules build it for
//! the one-NAT lab's two-address server ([`super::rules`]), and between
//! two NATs and one server it would not be what its name says.

use std::net::{IpAddr, Ipv4Addr};

use candidate_gather::nat::{FilteringBehavior, MappingBehavior};

use super::netns::{Netns, veth};
use super::process::CommandError;
use super::rules::{Addresses, Mapping, Middlebox};
use crate::netsim;
use crate::theory::Kind;

/// The server's address, on the internet namespace's loopback.
pub const SERVER_IP: Ipv4Addr = Ipv4Addr::new(198, 51, 100, 1);
/// NAT A's outside address.
pub const NAT_A_IP: Ipv4Addr = Ipv4Addr::new(203, 0, 113, 1);
/// NAT B's outside address.
pub const NAT_B_IP: Ipv4Addr = Ipv4Addr::new(203, 0, 113, 2);
/// The internet's end of NAT A's link (NAT A's default gateway).
pub const INTERNET_A_IP: Ipv4Addr = Ipv4Addr::new(203, 0, 113, 254);
/// The internet's end of NAT B's link (NAT B's default gateway).
pub const INTERNET_B_IP: Ipv4Addr = Ipv4Addr::new(203, 0, 113, 253);
/// Client A's address.
pub const CLIENT_A_IP: Ipv4Addr = Ipv4Addr::new(192, 168, 1, 10);
/// Client B's address.
pub const CLIENT_B_IP: Ipv4Addr = Ipv4Addr::new(192, 168, 2, 20);
/// NAT A's inside address (client A's gateway).
pub const GATEWAY_A_IP: Ipv4Addr = Ipv4Addr::new(192, 168, 1, 1);
/// NAT B's inside address (client B's gateway).
pub const GATEWAY_B_IP: Ipv4Addr = Ipv4Addr::new(192, 168, 2, 1);

/// Five namespaces: two clients, their NATs, and the internet with the
/// server (see the module documentation). Dropping it deletes them; drop
/// (kill) the processes running in them first.
#[derive(Debug)]
pub struct TwoNatLab {
    /// What stands in front of client A.
    pub a: Middlebox,
    /// What stands in front of client B.
    pub b: Middlebox,
    /// The router between the NATs, holding [`SERVER_IP`].
    pub internet: Netns,
    /// NAT A's namespace.
    pub nat_a: Netns,
    /// NAT B's namespace.
    pub nat_b: Netns,
    /// Client A's namespace.
    pub client_a: Netns,
    /// Client B's namespace.
    pub client_b: Netns,
}

/// One side of the lab.
struct Side {
    client: Ipv4Addr,
    gateway: Ipv4Addr,
    outside: Ipv4Addr,
    internet: Ipv4Addr,
    link: &'static str,
}

const A: Side = Side {
    client: CLIENT_A_IP,
    gateway: GATEWAY_A_IP,
    outside: NAT_A_IP,
    internet: INTERNET_A_IP,
    link: "nat-a",
};

const B: Side = Side {
    client: CLIENT_B_IP,
    gateway: GATEWAY_B_IP,
    outside: NAT_B_IP,
    internet: INTERNET_B_IP,
    link: "nat-b",
};

impl TwoNatLab {
    /// Builds the lab (about 40 `ip` invocations and one `nft` per NAT).
    pub fn new(a: Middlebox, b: Middlebox) -> Result<TwoNatLab, CommandError> {
        for m in [a, b] {
            let refusal = match m {
                Middlebox::Nat(n) if n.mapping == Mapping::AddressDependent => {
                    "address-dependent mapping needs the one-NAT lab's two-address server"
                }
                Middlebox::Nat(_) => continue,
                _ => "the clients' private addresses are not routed here: use a NAT",
            };
            return Err(CommandError {
                command: "TwoNatLab::new".into(),
                reason: format!("{m}: {refusal}"),
                output: String::new(),
            });
        }
        let internet = Netns::new("internet")?;
        let nat_a = Netns::new("nat-a")?;
        let nat_b = Netns::new("nat-b")?;
        let client_a = Netns::new("client-a")?;
        let client_b = Netns::new("client-b")?;
        internet.ip(&["addr", "add", &format!("{SERVER_IP}/32"), "dev", "lo"])?;
        internet.enable_forwarding()?;
        for (side, middlebox, nat, client) in [(A, a, &nat_a, &client_a), (B, b, &nat_b, &client_b)]
        {
            veth(client, "lan", nat, "lan")?;
            veth(nat, "wan", &internet, side.link)?;
            client.ip(&["addr", "add", &format!("{}/24", side.client), "dev", "lan"])?;
            client.ip(&["route", "add", "default", "via", &side.gateway.to_string()])?;
            nat.ip(&["addr", "add", &format!("{}/24", side.gateway), "dev", "lan"])?;
            nat.ip(&[
                "addr",
                "add",
                &side.outside.to_string(),
                "peer",
                &side.internet.to_string(),
                "dev",
                "wan",
            ])?;
            nat.ip(&["route", "add", "default", "via", &side.internet.to_string()])?;
            internet.ip(&[
                "addr",
                "add",
                &side.internet.to_string(),
                "peer",
                &side.outside.to_string(),
                "dev",
                side.link,
            ])?;
            let lan = lan_of(side.client);
            nat.enable_forwarding()?;
            let ruleset = middlebox.ruleset(&Addresses {
                lan,
                external: side.outside,
                // Only address-dependent mapping uses these (refused above).
                external2: side.outside,
                server_alternate: SERVER_IP,
            });
            if !ruleset.is_empty() {
                nat.nft(&ruleset)?;
            }
        }
        Ok(TwoNatLab {
            a,
            b,
            internet,
            nat_a,
            nat_b,
            client_a,
            client_b,
        })
    }

    /// The server's address as an [`IpAddr`].
    pub fn server_ip() -> IpAddr {
        IpAddr::V4(SERVER_IP)
    }
}

fn lan_of(ip: Ipv4Addr) -> Ipv4Addr {
    let [a, b, c, _] = ip.octets();
    Ipv4Addr::new(a, b, c, 0)
}

/// A middlebox as the theory of hole punching sees it
/// ([`crate::theory::predict_ice`]): its RFC 4787 mapping and filtering
/// (a router or firewall translates nothing, which is endpoint-independent
/// mapping; a router filters nothing, which is [`Kind::Open`]).
pub fn theory_kind(m: &Middlebox) -> Kind {
    let e = m.expected();
    if !e.udp {
        return Kind::Blocked;
    }
    if *m == Middlebox::Router {
        return Kind::Open;
    }
    let mapping = match e.mapping {
        MappingBehavior::NoNat | MappingBehavior::EndpointIndependent => {
            netsim::MappingBehavior::EndpointIndependent
        }
        MappingBehavior::AddressDependent => netsim::MappingBehavior::AddressDependent,
        MappingBehavior::AddressAndPortDependent => {
            netsim::MappingBehavior::AddressAndPortDependent
        }
    };
    let filtering = match e.filtering {
        FilteringBehavior::EndpointIndependent => netsim::FilteringBehavior::EndpointIndependent,
        FilteringBehavior::AddressDependent => netsim::FilteringBehavior::AddressDependent,
        FilteringBehavior::AddressAndPortDependent => {
            netsim::FilteringBehavior::AddressAndPortDependent
        }
    };
    Kind::Nat(mapping, filtering)
}
