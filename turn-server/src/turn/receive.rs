//! The first steps of every packet (the receive order of [`super`]):
//! which socket it arrived on, whether its source can be answered, and
//! whether it is ChannelData, a Send indication, a Binding request for the
//! STUN server, or a TURN request.

use core::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::Instant;

use stun_proto::{Class, Message, Method, Transport};

use super::allocation::FiveTuple;
use super::dropped::TurnDropped;
use super::{Outcome, TurnServer, TurnTransmit};

impl TurnServer {
    pub(crate) fn receive(
        &mut self,
        now: Instant,
        local: SocketAddr,
        remote: SocketAddr,
        transport: Transport,
        data: &[u8],
    ) -> Result<Outcome, TurnDropped> {
        let datagram = transport == Transport::Datagram;
        if datagram && self.by_relay.contains_key(&local) {
            return self.peer_datagram(now, local, remote, data);
        }
        let listening = match transport {
            Transport::Datagram => self.stun_udp_index.contains_key(&local),
            Transport::Stream => self.stun_tcp.contains_key(&local),
        };
        if !listening {
            if datagram && self.pool.holds(local) {
                return Err(TurnDropped::NoAllocation);
            }
            return Err(TurnDropped::NotOurSocket { local, transport });
        }
        if !answerable(remote) {
            return Err(TurnDropped::UnanswerableSource { remote });
        }
        let five = FiveTuple {
            client: remote,
            server: local,
            transport,
        };
        let first = data.first().copied().unwrap_or(0);
        let channel_top = if self.config.legacy_channels {
            0x7F
        } else {
            0x4F
        };
        if (0x40..=channel_top).contains(&first) {
            return self.channel_data_from_client(now, five, data);
        }
        let msg = Message::parse(data).map_err(TurnDropped::NotStun)?;
        if msg.has_fingerprint() {
            msg.verify_fingerprint()
                .map_err(TurnDropped::BadFingerprint)?;
        }
        let method = msg.method();
        match msg.class() {
            Class::Request => {}
            Class::Indication if method == Method::SEND && !msg.is_rfc3489() => {
                return self.send_indication(now, five, &msg);
            }
            Class::Indication => return Err(TurnDropped::Indication { method }),
            class => return Err(TurnDropped::Response { method, class }),
        }
        if method == Method::BINDING {
            return self.binding(now, five, data);
        }
        let turn_method = [
            Method::ALLOCATE,
            Method::REFRESH,
            Method::CREATE_PERMISSION,
            Method::CHANNEL_BIND,
            Method::CONNECT,
            Method::CONNECTION_BIND,
        ]
        .contains(&method);
        if !turn_method {
            return Err(TurnDropped::UnsupportedMethod { method });
        }
        if msg.is_rfc3489() {
            return Err(TurnDropped::NoMagicCookie);
        }
        self.check_queue()?;
        self.request(now, five, &msg)
    }

    /// A Binding request, answered by the listener's STUN server.
    fn binding(
        &mut self,
        now: Instant,
        five: FiveTuple,
        data: &[u8],
    ) -> Result<Outcome, TurnDropped> {
        self.check_queue()?;
        let server = match five.transport {
            Transport::Datagram => self
                .stun_udp_index
                .get(&five.server)
                .and_then(|i| self.stun_udp.get_mut(*i)),
            Transport::Stream => self.stun_tcp.get_mut(&five.server),
        };
        let Some(server) = server else {
            return Err(TurnDropped::NotOurSocket {
                local: five.server,
                transport: five.transport,
            });
        };
        let before = server.stats();
        server
            .handle_packet(now, five.server, five.client, data)
            .map_err(TurnDropped::Binding)?;
        let success = server.stats().successes > before.successes;
        while let Some(t) = server.poll_transmit() {
            self.queue.push_back(TurnTransmit {
                transport: five.transport,
                from: t.from,
                to: t.to,
                data: t.data,
            });
        }
        Ok(if success {
            Outcome::Success
        } else {
            Outcome::Error
        })
    }
}

/// Whether an answer to `remote` can reach one host that could have sent
/// the request (as the STUN server judges it).
fn answerable(remote: SocketAddr) -> bool {
    let ip = remote.ip().to_canonical();
    remote.port() != 0
        && !ip.is_unspecified()
        && !ip.is_multicast()
        && ip != IpAddr::V4(Ipv4Addr::BROADCAST)
}
