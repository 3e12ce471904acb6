//! The data path (RFC 8656 §11 Send and Data indications, §12.5
//! ChannelData): client to peer through the relay address of the peer's
//! family, peer to client as ChannelData when a channel is bound to the
//! peer, else as a Data indication. Both directions need a live
//! allocation and a permission for the peer's IP, and draw from the
//! allocation's bandwidth cap.

use core::net::SocketAddr;
use std::time::Instant;

use stun_proto::attr::{Data, XorPeerAddress};
use stun_proto::{ChannelData, Message, Transport};

use super::allocation::FiveTuple;
use super::dropped::TurnDropped;
use super::requests::understood;
use super::response;
use super::{Outcome, TurnServer, TurnTransmit};

/// Parses ChannelData, RFC 5766 channel numbers (0x5000-0x7FFF) included
/// when `legacy` (the caller checked the first byte).
fn parse_channel_data(
    data: &[u8],
    transport: Transport,
    legacy: bool,
) -> Result<(u16, &[u8]), TurnDropped> {
    match ChannelData::parse(data, transport) {
        Ok(cd) => Ok((cd.channel(), cd.data())),
        Err(e) => {
            let (Some(&[c0, c1, l0, l1]), true) = (data.first_chunk::<4>(), legacy) else {
                return Err(TurnDropped::BadChannelData(e));
            };
            let channel = u16::from_be_bytes([c0, c1]);
            let len = usize::from(u16::from_be_bytes([l0, l1]));
            let max = 4 + len.next_multiple_of(4);
            let min = match transport {
                Transport::Datagram => 4 + len,
                Transport::Stream => max,
            };
            if !(0x4000..=0x7FFF).contains(&channel) || data.len() < min || data.len() > max {
                return Err(TurnDropped::BadChannelData(e));
            }
            Ok((channel, data.get(4..4 + len).unwrap_or_default()))
        }
    }
}

impl TurnServer {
    /// Checks the allocation of `five` can send `len` bytes to `peer` and
    /// queues them from the relay.
    fn relay_to_peer(
        &mut self,
        now: Instant,
        aid: u64,
        peer: SocketAddr,
        payload: &[u8],
    ) -> Result<Outcome, TurnDropped> {
        let Some(a) = self.allocations.get_mut(&aid) else {
            return Err(TurnDropped::NoAllocation);
        };
        if !a.live(now) {
            return Err(TurnDropped::NoAllocation);
        }
        let Some(relay) = a.relay_for(peer) else {
            return Err(TurnDropped::PeerFamilyMismatch { peer });
        };
        if !a.permissions.allows(peer.ip(), now) {
            return Err(TurnDropped::NoPermission { peer });
        }
        let capacity = self.config.queue_capacity;
        if self.queue.len() >= capacity {
            return Err(TurnDropped::QueueFull { capacity });
        }
        if !a.spend(now, payload.len()) {
            return Err(TurnDropped::BandwidthExceeded { len: payload.len() });
        }
        self.queue.push_back(TurnTransmit {
            transport: Transport::Datagram,
            from: relay,
            to: peer,
            data: payload.to_vec(),
        });
        let (n, bytes) = &mut self.stats.to_peers;
        *n = n.saturating_add(1);
        *bytes = bytes.saturating_add(payload.len() as u64);
        Ok(Outcome::Relayed)
    }

    /// RFC 8656 §12.5, from the client.
    pub(crate) fn channel_data_from_client(
        &mut self,
        now: Instant,
        five: FiveTuple,
        data: &[u8],
    ) -> Result<Outcome, TurnDropped> {
        let (channel, payload) =
            parse_channel_data(data, five.transport, self.config.legacy_channels)?;
        let aid = *self.by_five.get(&five).ok_or(TurnDropped::NoAllocation)?;
        let peer = self
            .allocations
            .get(&aid)
            .and_then(|a| a.channels.peer(channel, now))
            .ok_or(TurnDropped::ChannelNotBound { channel })?;
        self.relay_to_peer(now, aid, peer, payload)
    }

    /// RFC 8656 §11.2.
    pub(crate) fn send_indication(
        &mut self,
        now: Instant,
        five: FiveTuple,
        msg: &Message<'_>,
    ) -> Result<Outcome, TurnDropped> {
        let aid = *self.by_five.get(&five).ok_or(TurnDropped::NoAllocation)?;
        let df = self.config.dont_fragment;
        if msg
            .unknown_comprehension_required_by(move |t| understood(t, df))
            .next()
            .is_some()
        {
            return Err(TurnDropped::BadSendIndication);
        }
        let (Ok(Some(XorPeerAddress(peer))), Ok(Some(Data(payload)))) =
            (msg.get::<XorPeerAddress>(), msg.get::<Data>())
        else {
            return Err(TurnDropped::BadSendIndication);
        };
        if let Err(why) = self.config.peers.check(peer) {
            return Err(TurnDropped::PeerRefused { peer, why });
        }
        self.relay_to_peer(now, aid, peer, payload)
    }

    /// RFC 8656 §11.3 and §12.5: a datagram from a peer on a relay
    /// address.
    pub(crate) fn peer_datagram(
        &mut self,
        now: Instant,
        relay: SocketAddr,
        peer: SocketAddr,
        payload: &[u8],
    ) -> Result<Outcome, TurnDropped> {
        let aid = *self.by_relay.get(&relay).ok_or(TurnDropped::NoAllocation)?;
        let capacity = self.config.queue_capacity;
        let queued = self.queue.len();
        let Some(a) = self.allocations.get_mut(&aid) else {
            return Err(TurnDropped::NoAllocation);
        };
        if !a.live(now) {
            return Err(TurnDropped::NoAllocation);
        }
        if !a.permissions.allows(peer.ip(), now) {
            return Err(TurnDropped::NoPermission { peer });
        }
        if queued >= capacity {
            return Err(TurnDropped::QueueFull { capacity });
        }
        if !a.spend(now, payload.len()) {
            return Err(TurnDropped::BandwidthExceeded { len: payload.len() });
        }
        let five = a.five;
        let channel = a.channels.number(peer, now);
        let mut data = Vec::with_capacity(payload.len() + 36);
        match channel {
            Some(channel) => response::channel_data(&mut data, channel, payload, five.transport),
            None => {
                // A fresh transaction id, drawn only for indications (so
                // ChannelData does not advance the RNG).
                let id = self.txid();
                let peer_seen = SocketAddr::new(peer.ip().to_canonical(), peer.port());
                response::data_indication(&mut data, id, peer_seen, payload)?;
            }
        }
        self.send_to_client(five, data);
        let (n, bytes) = &mut self.stats.to_clients;
        *n = n.saturating_add(1);
        *bytes = bytes.saturating_add(payload.len() as u64);
        Ok(Outcome::Relayed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn legacy_channel_numbers_parse_only_when_asked() {
        let msg = [0x7F, 0xFF, 0, 3, 1, 2, 3];
        assert!(parse_channel_data(&msg, Transport::Datagram, false).is_err());
        let (c, d) = parse_channel_data(&msg, Transport::Datagram, true).unwrap();
        assert_eq!((c, d), (0x7FFF, &[1, 2, 3][..]));
        assert!(
            parse_channel_data(&msg, Transport::Stream, true).is_err(),
            "unpadded"
        );
        let padded = [0x50, 0x00, 0, 3, 1, 2, 3, 0];
        assert!(parse_channel_data(&padded, Transport::Stream, true).is_ok());
        assert!(parse_channel_data(&[0x80, 0, 0, 0], Transport::Datagram, true).is_err());
    }
}
