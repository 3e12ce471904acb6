//! Our STUN/TURN server (the `turn-server` tokio front) on 127.0.0.1, for
//! the interop runs that go through a relay (RFC 8656).

use std::net::{IpAddr, Ipv4Addr, SocketAddr};

use turn_server::front::TurnFront;
use turn_server::turn::Prefix;
use turn_server::{TurnServerConfig, TurnServerStats};

/// The user every relayed interop run authenticates as.
pub const USER: &str = "interop";
/// Its password.
pub const PASSWORD: &str = "interop-password";
/// The realm.
pub const REALM: &str = "interop";

/// A running server; stop it with [`Relay::stop`].
pub struct Relay {
    front: TurnFront,
    /// Where it answers STUN and TURN over UDP.
    pub udp: SocketAddr,
    /// Where it answers over TCP.
    pub tcp: Option<SocketAddr>,
}

impl Relay {
    /// Starts the server on a free loopback port. Relaying to loopback
    /// peers, refused by default (RFC 8656 §21.1), is allowed: every peer
    /// of these tests is on this machine.
    pub async fn start() -> Result<Relay, String> {
        const LOOPBACK: IpAddr = IpAddr::V4(Ipv4Addr::LOCALHOST);
        let config = TurnServerConfig::new(SocketAddr::new(LOOPBACK, 0), REALM)
            .and_then(|c| c.with_user(USER, PASSWORD))
            .map_err(|e| format!("cannot configure the TURN server: {e}"))?;
        let loopback = Prefix::new(LOOPBACK, 8).ok_or("127.0.0.0/8 is not a prefix")?;
        let front = TurnFront::start(config.allow_peers(loopback))
            .await
            .map_err(|e| format!("cannot start the TURN server on 127.0.0.1: {e}"))?;
        let udp = *front
            .udp_addresses()
            .first()
            .ok_or("the TURN server bound no UDP socket")?;
        let tcp = front.tcp_addresses().first().copied();
        Ok(Relay { front, udp, tcp })
    }

    /// The `turn:` URL of the UDP listener, as a browser or aioice takes it.
    pub fn turn_url(&self) -> String {
        format!("turn:{}?transport=udp", self.udp)
    }

    /// What the server has done so far (packets relayed each way).
    pub fn stats(&self) -> TurnServerStats {
        self.front.stats()
    }

    /// Stops the server and returns its final counters.
    pub async fn stop(self) -> TurnServerStats {
        self.front.shutdown().await
    }
}
