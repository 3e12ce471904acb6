//! The standard lab: a client behind a middlebox, a server outside.
//!
//! ```text
//!  client ns            middlebox ns                     server ns
//!  10.0.0.2 ── lan ══ lan ── 10.0.0.1   203.0.113.1 ── wan ══ wan ── 203.0.113.10 (primary)
//!                                       203.0.113.2                  203.0.113.11 (alternate)
//! ```
//!
//! Three namespaces joined by two veth pairs; the middlebox forwards and
//! loads the ruleset of its [`Middlebox`]. The client's default route and
//! the server's route to 10.0.0.0/24 go through the middlebox, so without
//! NAT the client's address is simply public. The server namespace has two
//! addresses, as RFC 5780 (and RFC 3489) servers need. Dropping the lab
//! deletes the namespaces (and with them the veth pairs and rules).

use std::net::{IpAddr, Ipv4Addr};

use super::netns::{Netns, veth};
use super::process::CommandError;
use super::rules::{Addresses, Middlebox};

/// The client's address.
pub const CLIENT_IP: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 2);
/// The middlebox's inside address (the client's gateway).
pub const GATEWAY_IP: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 1);
/// The middlebox's external address.
pub const EXTERNAL_IP: Ipv4Addr = Ipv4Addr::new(203, 0, 113, 1);
/// The middlebox's second external address (address-dependent mapping).
pub const EXTERNAL_IP2: Ipv4Addr = Ipv4Addr::new(203, 0, 113, 2);
/// The server's primary address.
pub const SERVER_IP: Ipv4Addr = Ipv4Addr::new(203, 0, 113, 10);
/// The server's alternate address.
pub const SERVER_ALT_IP: Ipv4Addr = Ipv4Addr::new(203, 0, 113, 11);

/// Three namespaces: client, middlebox, server (see the module docs).
#[derive(Debug)]
pub struct NatLab {
    /// What the middlebox does.
    pub middlebox: Middlebox,
    /// The client's namespace.
    pub client: Netns,
    /// The middlebox's namespace.
    pub nat: Netns,
    /// The server's namespace.
    pub server: Netns,
}

impl NatLab {
    /// Builds the lab (about 20 `ip` and one `nft` invocation).
    pub fn new(middlebox: Middlebox) -> Result<NatLab, CommandError> {
        let client = Netns::new("client")?;
        let nat = Netns::new("nat")?;
        let server = Netns::new("server")?;
        veth(&client, "lan", &nat, "lan")?;
        veth(&nat, "wan", &server, "wan")?;
        client.ip(&["addr", "add", &format!("{CLIENT_IP}/24"), "dev", "lan"])?;
        client.ip(&["route", "add", "default", "via", &GATEWAY_IP.to_string()])?;
        nat.ip(&["addr", "add", &format!("{GATEWAY_IP}/24"), "dev", "lan"])?;
        nat.ip(&["addr", "add", &format!("{EXTERNAL_IP}/24"), "dev", "wan"])?;
        nat.ip(&["addr", "add", &format!("{EXTERNAL_IP2}/24"), "dev", "wan"])?;
        server.ip(&["addr", "add", &format!("{SERVER_IP}/24"), "dev", "wan"])?;
        server.ip(&["addr", "add", &format!("{SERVER_ALT_IP}/24"), "dev", "wan"])?;
        server.ip(&[
            "route",
            "add",
            "10.0.0.0/24",
            "via",
            &EXTERNAL_IP.to_string(),
        ])?;
        nat.enable_forwarding()?;
        let ruleset = middlebox.ruleset(&Self::addresses());
        if !ruleset.is_empty() {
            nat.nft(&ruleset)?;
        }
        Ok(NatLab {
            middlebox,
            client,
            nat,
            server,
        })
    }

    /// The addresses the rulesets refer to.
    pub fn addresses() -> Addresses {
        Addresses {
            lan: Ipv4Addr::new(10, 0, 0, 0),
            external: EXTERNAL_IP,
            external2: EXTERNAL_IP2,
            server_alternate: SERVER_ALT_IP,
        }
    }

    /// The client's address as an [`IpAddr`].
    pub fn client_ip() -> IpAddr {
        IpAddr::V4(CLIENT_IP)
    }

    /// The server's primary address as an [`IpAddr`].
    pub fn server_ip() -> IpAddr {
        IpAddr::V4(SERVER_IP)
    }

    /// The server's alternate address as an [`IpAddr`].
    pub fn server_alt_ip() -> IpAddr {
        IpAddr::V4(SERVER_ALT_IP)
    }
}
