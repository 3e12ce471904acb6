//! The stack's sans-IO components as [`crate::netsim::Endpoint`]s.
//!
//! Each component has the verb grammar as inherent methods; these impls only
//! forward (dropping the typed "ignored" results, which the components'
//! own tests check).

use std::net::SocketAddr;
use std::time::Instant;

use candidate_gather::nat::{ClassicDiscovery, Rfc5780Discovery};
use stun_proto::Transmit;
use turn_server::StunServer;

use crate::netsim::Endpoint;
use crate::punch::{PunchClient, Rendezvous};

macro_rules! endpoint {
    ($t:ty) => {
        impl Endpoint for $t {
            fn handle_packet(
                &mut self,
                now: Instant,
                local: SocketAddr,
                remote: SocketAddr,
                data: &[u8],
            ) {
                let _ = <$t>::handle_packet(self, now, local, remote, data);
            }

            fn handle_timeout(&mut self, now: Instant) {
                <$t>::handle_timeout(self, now)
            }

            fn poll_transmit(&mut self) -> Option<Transmit> {
                <$t>::poll_transmit(self)
            }

            fn poll_timeout(&self) -> Option<Instant> {
                <$t>::poll_timeout(self)
            }
        }
    };
}

endpoint!(StunServer);
endpoint!(Rfc5780Discovery);
endpoint!(ClassicDiscovery);
endpoint!(Rendezvous);
endpoint!(PunchClient);

/// The TURN server in netsim: UDP only, and every relay address it asks
/// for is bound at once (a netsim host receives on any port of its
/// addresses, so the relay IP must be one of the host's).
pub struct SimTurnServer {
    /// The server.
    pub server: turn_server::TurnServer,
    /// CreatePermission requests it refused: the first peer address of the
    /// request and the error code of each error response sent.
    pub permissions_refused: Vec<(Option<SocketAddr>, u16)>,
    /// The first peer of each CreatePermission request seen, by
    /// transaction.
    permission_peers: std::collections::HashMap<stun_proto::TransactionId, SocketAddr>,
}

impl SimTurnServer {
    /// The netsim Internet (20 ms ± 5 ms one way) with our STUN/TURN
    /// server at `server` for one user (realm `example.org`); returns the
    /// simulation and the server's host.
    pub fn on_internet(
        seed: u64,
        server: SocketAddr,
        user: &str,
        password: &str,
    ) -> Result<(crate::netsim::Sim, crate::netsim::HostId), turn_server::TurnConfigError> {
        use crate::netsim::{Link, Sim};
        let mut sim = Sim::new(seed);
        let inet = sim.internet();
        sim.set_link(
            inet,
            Link {
                latency: std::time::Duration::from_millis(20),
                jitter: std::time::Duration::from_millis(5),
                ..Link::default()
            },
        );
        let config = turn_server::TurnServerConfig::new(server, "example.org")?
            .with_user(user, password)?
            .with_seed(crate::netsim::seed::derive_seed(seed, 99));
        let turn = turn_server::TurnServer::new(config, sim.now())?;
        let host = sim.add_host(inet, &[server.ip()], SimTurnServer::new(turn));
        Ok((sim, host))
    }

    /// Wraps a server.
    pub fn new(server: turn_server::TurnServer) -> SimTurnServer {
        SimTurnServer {
            server,
            permissions_refused: Vec::new(),
            permission_peers: std::collections::HashMap::new(),
        }
    }

    fn bind_relays(&mut self, now: Instant) {
        while let Some(e) = self.server.poll_event() {
            if let turn_server::TurnEvent::BindRelay { relay } = e {
                let _ = self.server.handle_relay_bound(now, relay, Ok(()));
            }
        }
    }
}

impl Endpoint for SimTurnServer {
    fn handle_packet(&mut self, now: Instant, local: SocketAddr, remote: SocketAddr, data: &[u8]) {
        if let Ok(m) = stun_proto::Message::parse(data)
            && m.method() == stun_proto::Method::CREATE_PERMISSION
            && let Ok(Some(peer)) = m.get::<stun_proto::attr::XorPeerAddress>()
        {
            self.permission_peers.insert(m.transaction_id(), peer.0);
        }
        let _ =
            self.server
                .handle_packet(now, local, remote, stun_proto::Transport::Datagram, data);
        self.bind_relays(now);
    }

    fn handle_timeout(&mut self, now: Instant) {
        self.server.handle_timeout(now);
        self.bind_relays(now);
    }

    fn poll_transmit(&mut self) -> Option<Transmit> {
        let t = self.server.poll_transmit()?;
        if let Ok(m) = stun_proto::Message::parse(&t.data)
            && m.method() == stun_proto::Method::CREATE_PERMISSION
            && m.class() == stun_proto::Class::Error
        {
            let code = m
                .get::<stun_proto::attr::ErrorCode>()
                .ok()
                .flatten()
                .map_or(0, |e| e.code());
            let peer = self.permission_peers.get(&m.transaction_id()).copied();
            self.permissions_refused.push((peer, code));
        }
        Some(t).map(|t| Transmit {
            from: t.from,
            to: t.to,
            data: t.data,
        })
    }

    fn poll_timeout(&self) -> Option<Instant> {
        self.server.poll_timeout()
    }
}
