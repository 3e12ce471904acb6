//! Packet capture: what crossed a network, as a classic pcap file.
//!
//! The simulator moves UDP payloads between socket addresses; a capture
//! synthesizes the IP and UDP headers a real wire would carry so that
//! Wireshark and tshark dissect it (STUN on 3478 included):
//!
//! - the classic libpcap format (magic `0xa1b2c3d4`, version 2.4, written
//!   little-endian), link type `LINKTYPE_RAW` (101): each record is a bare
//!   IPv4 or IPv6 packet;
//! - IPv4 headers per RFC 791 §3.1 with the header checksum of RFC 1071;
//! - IPv6 headers per RFC 8200 §3;
//! - UDP headers per RFC 768 with the checksum over the pseudo-header
//!   (RFC 768 for IPv4, RFC 8200 §8.1 for IPv6, where it is mandatory); a
//!   computed zero is sent as `0xffff`.
//!
//! Timestamps are the virtual time elapsed since the simulation started, so
//! a capture is byte-for-byte reproducible from the seed.

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

/// The classic pcap magic number (microsecond timestamps).
pub const PCAP_MAGIC: u32 = 0xa1b2_c3d4;
/// `LINKTYPE_RAW`: records are raw IPv4 or IPv6 packets.
pub const LINKTYPE_RAW: u32 = 101;
/// Snapshot length advertised in the file header.
const SNAPLEN: u32 = 65_535;
/// IP protocol number of UDP.
const PROTO_UDP: u8 = 17;
/// Hop limit / TTL written into synthesized headers.
const HOP_LIMIT: u8 = 64;
/// IPv4 header length without options.
pub const IPV4_HEADER_LEN: usize = 20;
/// IPv6 fixed header length.
pub const IPV6_HEADER_LEN: usize = 40;
/// UDP header length.
pub const UDP_HEADER_LEN: usize = 8;

/// The size of the IP packet that carries `payload_len` bytes of UDP
/// payload from an address of this family.
pub fn ip_packet_len(ip: IpAddr, payload_len: usize) -> usize {
    let ip_header = match ip {
        IpAddr::V4(_) => IPV4_HEADER_LEN,
        IpAddr::V6(_) => IPV6_HEADER_LEN,
    };
    ip_header + UDP_HEADER_LEN + payload_len
}

/// An in-memory pcap file that grows as packets are recorded.
#[derive(Clone, Debug)]
pub(crate) struct Capture {
    bytes: Vec<u8>,
    /// IPv4 identification of the next packet (per capture, so that a
    /// capture does not depend on what other networks carried).
    next_ident: u16,
}

impl Capture {
    /// A capture with only the file header.
    pub(crate) fn new() -> Capture {
        let mut bytes = Vec::with_capacity(4096);
        bytes.extend_from_slice(&PCAP_MAGIC.to_le_bytes());
        bytes.extend_from_slice(&2u16.to_le_bytes()); // version major
        bytes.extend_from_slice(&4u16.to_le_bytes()); // version minor
        bytes.extend_from_slice(&0i32.to_le_bytes()); // thiszone
        bytes.extend_from_slice(&0u32.to_le_bytes()); // sigfigs
        bytes.extend_from_slice(&SNAPLEN.to_le_bytes());
        bytes.extend_from_slice(&LINKTYPE_RAW.to_le_bytes());
        Capture {
            bytes,
            next_ident: 0,
        }
    }

    /// The file so far.
    pub(crate) fn bytes(&self) -> &[u8] {
        &self.bytes
    }

    /// Appends one UDP datagram seen at virtual time `at`. Datagrams that
    /// cannot be expressed (mixed address families, over 64 KiB) are skipped.
    pub(crate) fn record(
        &mut self,
        at: Duration,
        src: SocketAddr,
        dst: SocketAddr,
        payload: &[u8],
    ) {
        let Some(packet) = ip_udp_packet(src, dst, payload, self.next_ident) else {
            return;
        };
        self.next_ident = self.next_ident.wrapping_add(1);
        let Ok(len) = u32::try_from(packet.len()) else {
            return;
        };
        let secs = u32::try_from(at.as_secs()).unwrap_or(u32::MAX);
        self.bytes.extend_from_slice(&secs.to_le_bytes());
        self.bytes
            .extend_from_slice(&at.subsec_micros().to_le_bytes());
        self.bytes.extend_from_slice(&len.to_le_bytes()); // incl_len
        self.bytes.extend_from_slice(&len.to_le_bytes()); // orig_len
        self.bytes.extend_from_slice(&packet);
    }
}

/// An IPv4 or IPv6 packet carrying one UDP datagram, with correct
/// checksums; `None` if the families differ or the datagram is too large.
pub fn ip_udp_packet(
    src: SocketAddr,
    dst: SocketAddr,
    payload: &[u8],
    ipv4_ident: u16,
) -> Option<Vec<u8>> {
    let udp_len = u16::try_from(UDP_HEADER_LEN + payload.len()).ok()?;
    let mut out;
    let pseudo_sum;
    match (src.ip(), dst.ip()) {
        (IpAddr::V4(s), IpAddr::V4(d)) => {
            let total = u16::try_from(IPV4_HEADER_LEN + usize::from(udp_len)).ok()?;
            out = Vec::with_capacity(usize::from(total));
            out.push(0x45); // version 4, IHL 5
            out.push(0); // DSCP/ECN
            out.extend_from_slice(&total.to_be_bytes());
            out.extend_from_slice(&ipv4_ident.to_be_bytes());
            out.extend_from_slice(&0u16.to_be_bytes()); // flags, fragment offset
            out.push(HOP_LIMIT);
            out.push(PROTO_UDP);
            out.extend_from_slice(&[0, 0]); // checksum, filled below
            out.extend_from_slice(&s.octets());
            out.extend_from_slice(&d.octets());
            let sum = !fold(sum_words(0, &out));
            out[10..12].copy_from_slice(&sum.to_be_bytes());
            let mut p = sum_words(0, &s.octets());
            p = sum_words(p, &d.octets());
            p += u32::from(PROTO_UDP) + u32::from(udp_len);
            pseudo_sum = p;
        }
        (IpAddr::V6(s), IpAddr::V6(d)) => {
            out = Vec::with_capacity(IPV6_HEADER_LEN + usize::from(udp_len));
            out.extend_from_slice(&0x6000_0000u32.to_be_bytes()); // version, class, flow
            out.extend_from_slice(&udp_len.to_be_bytes()); // payload length
            out.push(PROTO_UDP); // next header
            out.push(HOP_LIMIT);
            out.extend_from_slice(&s.octets());
            out.extend_from_slice(&d.octets());
            let mut p = sum_words(0, &s.octets());
            p = sum_words(p, &d.octets());
            p += u32::from(udp_len) + u32::from(PROTO_UDP);
            pseudo_sum = p;
        }
        _ => return None,
    }
    let udp_start = out.len();
    out.extend_from_slice(&src.port().to_be_bytes());
    out.extend_from_slice(&dst.port().to_be_bytes());
    out.extend_from_slice(&udp_len.to_be_bytes());
    out.extend_from_slice(&[0, 0]); // checksum, filled below
    out.extend_from_slice(payload);
    let mut sum = !fold(sum_words(pseudo_sum, &out[udp_start..]));
    if sum == 0 {
        sum = 0xffff; // RFC 768: a zero checksum is transmitted as all ones
    }
    out[udp_start + 6..udp_start + 8].copy_from_slice(&sum.to_be_bytes());
    Some(out)
}

/// Adds `bytes` as big-endian 16-bit words (odd length padded with a zero
/// byte) to a 32-bit accumulator, folding as it goes so it never overflows.
fn sum_words(mut acc: u32, bytes: &[u8]) -> u32 {
    let mut chunks = bytes.chunks_exact(2);
    for c in &mut chunks {
        acc += u32::from(u16::from_be_bytes([c[0], c[1]]));
        acc = (acc & 0xffff) + (acc >> 16);
    }
    if let [last] = chunks.remainder() {
        acc += u32::from(*last) << 8;
    }
    acc
}

/// Folds the carries of a one's complement sum into 16 bits (RFC 1071).
fn fold(mut acc: u32) -> u16 {
    while acc > 0xffff {
        acc = (acc & 0xffff) + (acc >> 16);
    }
    acc as u16
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 1071 §3 worked example: the sum of these words is 0xddf2.
    #[test]
    fn rfc1071_example_sum() {
        let data = [0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7];
        assert_eq!(fold(sum_words(0, &data)), 0xddf2);
    }

    #[test]
    fn ipv4_header_and_udp_checksums_verify() {
        let src: SocketAddr = "192.0.2.1:5000".parse().unwrap();
        let dst: SocketAddr = "198.51.100.7:3478".parse().unwrap();
        let p = ip_udp_packet(src, dst, b"hello", 9).unwrap();
        assert_eq!(p.len(), 20 + 8 + 5);
        assert_eq!(fold(sum_words(0, &p[..20])), 0xffff);
        let mut pseudo = Vec::new();
        pseudo.extend_from_slice(&p[12..20]);
        pseudo.extend_from_slice(&[0, 17, 0, 13]);
        pseudo.extend_from_slice(&p[20..]);
        assert_eq!(fold(sum_words(0, &pseudo)), 0xffff);
    }

    #[test]
    fn ipv6_udp_checksum_verifies() {
        let src: SocketAddr = "[2001:db8::1]:5000".parse().unwrap();
        let dst: SocketAddr = "[2001:db8::2]:3478".parse().unwrap();
        let p = ip_udp_packet(src, dst, b"odd", 0).unwrap();
        assert_eq!(p.len(), 40 + 8 + 3);
        let mut pseudo = Vec::new();
        pseudo.extend_from_slice(&p[8..40]);
        pseudo.extend_from_slice(&[0, 0, 0, 11, 0, 0, 0, 17]);
        pseudo.extend_from_slice(&p[40..]);
        assert_eq!(fold(sum_words(0, &pseudo)), 0xffff);
        assert_ne!(&p[46..48], &[0, 0]);
    }

    #[test]
    fn mixed_families_are_not_expressible() {
        let src: SocketAddr = "192.0.2.1:1".parse().unwrap();
        let dst: SocketAddr = "[2001:db8::2]:2".parse().unwrap();
        assert!(ip_udp_packet(src, dst, b"", 0).is_none());
    }

    #[test]
    fn record_layout() {
        let mut c = Capture::new();
        assert_eq!(c.bytes().len(), 24);
        let a: SocketAddr = "10.0.0.1:1".parse().unwrap();
        let b: SocketAddr = "10.0.0.2:2".parse().unwrap();
        c.record(Duration::from_micros(1_500_002), a, b, b"x");
        let r = &c.bytes()[24..];
        assert_eq!(u32::from_le_bytes(r[0..4].try_into().unwrap()), 1);
        assert_eq!(u32::from_le_bytes(r[4..8].try_into().unwrap()), 500_002);
        assert_eq!(u32::from_le_bytes(r[8..12].try_into().unwrap()), 29);
        assert_eq!(r.len(), 16 + 29);
    }
}
