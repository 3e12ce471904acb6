//! The one output type of every sans-IO component in this stack.
//!
//! The STUN server, the NAT discovery client, the TURN client and the ICE
//! agent all follow the verb grammar of DESIGN.md: inputs are `handle_*`
//! (`handle_packet(now, local, remote, bytes)`, `handle_timeout(now)`),
//! outputs are `poll_*` (`poll_transmit() -> Option<Transmit>`,
//! `poll_timeout() -> Option<Instant>`, `poll_event()`). A driver (tokio,
//! or the `netsim` simulator) sends each [`Transmit`] from the socket bound to
//! `from`. The type lives here, in the crate every component depends on, so
//! that drivers handle one type.

use core::net::SocketAddr;

/// A datagram a component wants sent.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct Transmit {
    /// The local socket address to send from.
    pub from: SocketAddr,
    /// The destination.
    pub to: SocketAddr,
    /// The payload.
    pub data: Vec<u8>,
}

impl core::fmt::Debug for Transmit {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(
            f,
            "Transmit({} -> {}, {} bytes)",
            self.from,
            self.to,
            self.data.len()
        )
    }
}
