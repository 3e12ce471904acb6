//! Relayed data both ways (RFC 8656 §10, §12.4-12.6) and the bytes from
//! the server, as datagrams or as a TCP stream (§12.5).
//!
//! Out: ChannelData when a channel to the peer is bound and its permission
//! installed; a Send indication (XOR-PEER-ADDRESS, DATA) when only the
//! permission is; otherwise the data waits for the permission. Over TCP,
//! ChannelData is padded to a multiple of 4 (§12.5); STUN messages always
//! are.
//!
//! In: from the server only (the caller's source address for UDP; the
//! connection for TCP). The first byte tells STUN from ChannelData (RFC
//! 7983). A Data indication must carry XOR-PEER-ADDRESS and DATA, no unknown
//! comprehension-required attribute, a valid FINGERPRINT if any, and come
//! from a peer whose IP has a permission (§10.4); ChannelData must use a
//! channel of ours (§12.6). Anything else is dropped, changing nothing.

use std::net::SocketAddr;
use std::time::Instant;

use stun_proto::attr::{Data, XorPeerAddress};
use stun_proto::demux::{PacketKind, classify};
use stun_proto::{
    ChannelData, Class, Frame, Message, MessageType, MessageWriter, Method, TransactionId,
    Transmit, Transport,
};

use super::error::UsageError;
use super::event::{DropReason, Handled, PeerData, TurnState};
use super::{TurnClient, TurnTransport};

impl TurnClient {
    /// `send_to`.
    pub(super) fn relay(
        &mut self,
        now: Instant,
        peer: SocketAddr,
        data: &[u8],
    ) -> Result<(), UsageError> {
        self.check_usable(peer)?;
        if data.len() > usize::from(u16::MAX) {
            return Err(UsageError::DataTooLong { len: data.len() });
        }
        if self.state == TurnState::Allocated && self.permissions.installed(peer.ip(), now) {
            return self.send_now(now, peer, data);
        }
        self.hold(now, peer, data)
    }

    /// Wraps and queues `data` for a peer whose permission is installed.
    pub(super) fn send_now(
        &mut self,
        now: Instant,
        peer: SocketAddr,
        data: &[u8],
    ) -> Result<(), UsageError> {
        let too_long = UsageError::DataTooLong { len: data.len() };
        let transport = match self.config.transport {
            TurnTransport::Udp => Transport::Datagram,
            TurnTransport::Tcp => Transport::Stream,
        };
        let mut bytes = Vec::with_capacity(data.len() + 40);
        match self.channels.bound(peer, now) {
            Some(channel) => {
                let cd = ChannelData::new(channel, data).map_err(|_| too_long)?;
                cd.write(&mut bytes, transport);
            }
            None => {
                let tid = TransactionId::random(&mut self.rng);
                let send = MessageType::new(Method::SEND, Class::Indication);
                let mut w = MessageWriter::new(&mut bytes, send, tid);
                w.add(&XorPeerAddress(peer)).map_err(|_| too_long)?;
                w.add(&Data(data)).map_err(|_| too_long)?;
            }
        }
        self.out.push_back(Transmit {
            from: self.local,
            to: self.server,
            data: bytes,
        });
        Ok(())
    }

    /// A datagram from the server.
    pub(super) fn handle_server_bytes<'a>(&mut self, now: Instant, data: &'a [u8]) -> Handled<'a> {
        match classify(data) {
            PacketKind::Stun => match Message::parse(data) {
                Ok(msg) => self.handle_stun(now, &msg),
                // Not a message at all: nobody's, as far as we can tell.
                Err(_) => Handled::NotMine,
            },
            PacketKind::ChannelData => match ChannelData::parse(data, Transport::Datagram) {
                Ok(cd) => self.channel_data_in(now, cd),
                Err(_) => Handled::Dropped(DropReason::Malformed),
            },
            _ => Handled::NotMine,
        }
    }

    /// A STUN message from the server.
    fn handle_stun<'a>(&mut self, now: Instant, msg: &Message<'a>) -> Handled<'a> {
        match msg.class() {
            Class::Success | Class::Error => self.handle_response(now, msg),
            Class::Indication if msg.method() == Method::DATA => self.data_indication(now, msg),
            _ => Handled::NotMine,
        }
    }

    /// A Data indication (RFC 8656 §10.4).
    fn data_indication<'a>(&mut self, now: Instant, msg: &Message<'a>) -> Handled<'a> {
        if self.state != TurnState::Allocated {
            return Handled::Dropped(DropReason::NotAllocated);
        }
        if msg.unknown_comprehension_required().next().is_some()
            || (msg.has_fingerprint() && msg.verify_fingerprint().is_err())
        {
            return Handled::Dropped(DropReason::Malformed);
        }
        let (Ok(Some(XorPeerAddress(peer))), Ok(Some(Data(payload)))) =
            (msg.get::<XorPeerAddress>(), msg.get::<Data>())
        else {
            return Handled::Dropped(DropReason::Malformed);
        };
        if !self.permissions.accepts(peer.ip(), now) {
            return Handled::Dropped(DropReason::NoPermission);
        }
        Handled::Data { peer, payload }
    }

    /// ChannelData from the server (RFC 8656 §12.6).
    fn channel_data_in<'a>(&mut self, now: Instant, cd: ChannelData<'a>) -> Handled<'a> {
        if self.state != TurnState::Allocated {
            return Handled::Dropped(DropReason::NotAllocated);
        }
        match self.channels.peer_of(cd.channel(), now) {
            Some((peer, binding)) if binding || self.permissions.accepts(peer.ip(), now) => {
                Handled::Data {
                    peer,
                    payload: cd.data(),
                }
            }
            _ => Handled::Dropped(DropReason::UnknownChannel),
        }
    }

    /// Bytes from the TCP connection (RFC 8656 §12.5).
    pub(super) fn read_stream(&mut self, now: Instant, bytes: &[u8]) -> Vec<PeerData> {
        let mut framer = std::mem::take(&mut self.framer);
        self.stream_reset = false;
        framer.push(bytes);
        let mut out = Vec::new();
        while let Some(frame) = framer.next_frame() {
            let handled = match frame {
                Ok(Frame::Stun(b)) => match Message::parse(b) {
                    Ok(msg) => self.handle_stun(now, &msg),
                    Err(_) => Handled::Dropped(DropReason::Malformed),
                },
                Ok(Frame::ChannelData(cd)) => self.channel_data_in(now, cd),
                Err(e) => {
                    self.fail(super::TurnError::StreamBroken(e));
                    break;
                }
            };
            if let Handled::Data { peer, payload } = handled {
                out.push(PeerData {
                    peer,
                    data: payload.to_vec(),
                });
            }
            if self.stream_reset || matches!(self.state, TurnState::Closed | TurnState::Failed) {
                break;
            }
        }
        if !self.stream_reset {
            self.framer = framer;
        }
        self.stream_reset = false;
        out
    }
}
