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
