//! Telling STUN from the other protocols on one port by the first byte
//! (RFC 7983 §7, with the QUIC ranges of RFC 9443 §3).
//!
//! ```text
//!  0..=3     STUN            64..=79   TURN ChannelData
//!  16..=19   ZRTP            80..=127  QUIC (RFC 9443)
//!  20..=63   DTLS            128..=191 RTP/RTCP
//!                            192..=255 QUIC (RFC 9443)
//! ```
//! Anything else (4..=15) is dropped. The first byte is only a hint: a STUN
//! candidate must still pass [`crate::Message::parse`], and ICE checks
//! carry FINGERPRINT to make the guess reliable (RFC 8445 §7.1).

/// The protocol a packet's first byte points to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum PacketKind {
    /// STUN (first byte 0..=3).
    Stun,
    /// ZRTP (16..=19).
    Zrtp,
    /// DTLS (20..=63).
    Dtls,
    /// TURN ChannelData (64..=79).
    ChannelData,
    /// RTP or RTCP (128..=191).
    Rtp,
    /// QUIC (80..=127 and 192..=255, RFC 9443).
    Quic,
    /// No protocol is assigned this first byte (4..=15), or the packet is
    /// empty.
    Unknown,
}

/// Classifies a packet by its first byte (RFC 7983 §7).
pub const fn classify(packet: &[u8]) -> PacketKind {
    match packet.first() {
        Some(&b) => classify_byte(b),
        None => PacketKind::Unknown,
    }
}

/// Classifies a first byte (RFC 7983 §7, RFC 9443 §3).
pub const fn classify_byte(b: u8) -> PacketKind {
    match b {
        0..=3 => PacketKind::Stun,
        16..=19 => PacketKind::Zrtp,
        20..=63 => PacketKind::Dtls,
        64..=79 => PacketKind::ChannelData,
        80..=127 | 192..=255 => PacketKind::Quic,
        128..=191 => PacketKind::Rtp,
        4..=15 => PacketKind::Unknown,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc7983_ranges() {
        let expect = |range: core::ops::RangeInclusive<u8>, kind| {
            for b in range {
                assert_eq!(classify(&[b]), kind, "byte {b}");
            }
        };
        expect(0..=3, PacketKind::Stun);
        expect(4..=15, PacketKind::Unknown);
        expect(16..=19, PacketKind::Zrtp);
        expect(20..=63, PacketKind::Dtls);
        expect(64..=79, PacketKind::ChannelData);
        expect(80..=127, PacketKind::Quic);
        expect(128..=191, PacketKind::Rtp);
        expect(192..=255, PacketKind::Quic);
        assert_eq!(classify(&[]), PacketKind::Unknown);
    }
}
