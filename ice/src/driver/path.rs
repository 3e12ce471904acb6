//! The selected path as the socket readers and the connection see it: the
//! agent's task publishes it (a `watch` channel) each time the selected
//! pair or the state changes, so application data on a direct path skips
//! the task both ways, and follows renominations and restarts at once.

use std::net::SocketAddr;
use std::sync::Arc;

use stun_proto::demux::{PacketKind, classify};
use tokio::net::UdpSocket;

use crate::{Candidate, CandidateType};

/// The selected pair of the stream's component, with the socket of its
/// base.
#[derive(Clone, Debug)]
pub(super) struct Path {
    /// The local candidate.
    pub local: Candidate,
    /// The remote candidate.
    pub remote: Candidate,
    /// The socket data leaves from (the local candidate's base), `None`
    /// for a relayed candidate: its data goes through the TURN client.
    pub socket: Option<Arc<UdpSocket>>,
    /// The base address.
    pub base: SocketAddr,
    /// Where data goes.
    pub remote_addr: SocketAddr,
    /// Consent holds (RFC 7675): data may be sent.
    pub usable: bool,
}

impl Path {
    /// Whether a datagram on `local` from `from` is this path's data.
    pub fn receives(&self, local: SocketAddr, from: SocketAddr) -> bool {
        self.socket.is_some() && self.base == local && self.remote_addr == from
    }

    /// The socket to send on directly, if the path is direct and usable.
    pub fn direct(&self) -> Option<(&Arc<UdpSocket>, SocketAddr)> {
        match &self.socket {
            Some(s) if self.usable && self.local.kind != CandidateType::Relayed => {
                Some((s, self.remote_addr))
            }
            _ => None,
        }
    }
}

/// Whether the agent would hand `data` to the application (RFC 7983: not
/// STUN, and a kind it carries).
pub(super) fn is_application_data(data: &[u8]) -> bool {
    matches!(
        classify(data),
        PacketKind::Dtls
            | PacketKind::Rtp
            | PacketKind::Zrtp
            | PacketKind::Quic
            | PacketKind::ChannelData
    )
}
