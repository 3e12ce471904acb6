//! ChannelData messages (RFC 8656 §12.4, §12.5).
//!
//! A 16-bit channel number (0x4000..=0x4FFF, §12), a 16-bit length of the
//! application data, then the data. Over TCP and TLS the message is padded to
//! a multiple of 4 and the padding is not counted in the length; over UDP
//! padding is optional. A UDP datagram shorter than `4 + length` is
//! discarded (§12.5); here, bytes beyond the optional padding are also
//! refused, since no sender produces them.

use core::fmt;

use crate::attr::ChannelNumber;
use crate::message::{be16, pad4};

/// How a ChannelData message travels (the padding rule differs).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Transport {
    /// A UDP or DTLS datagram: padding optional.
    Datagram,
    /// A TCP or TLS byte stream: padding to 4 bytes required.
    Stream,
}

/// Why bytes are not a ChannelData message.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum ChannelDataError {
    /// Fewer than the 4 header bytes.
    TooShort {
        /// Bytes available.
        len: usize,
    },
    /// The channel number is outside 0x4000..=0x4FFF.
    BadChannel {
        /// The channel number.
        channel: u16,
    },
    /// The length field claims more data than the bytes hold.
    Truncated {
        /// 4 + the length field (+ padding on a stream).
        declared: usize,
        /// Bytes available.
        actual: usize,
    },
    /// More bytes than the length field and padding account for.
    TrailingBytes {
        /// Bytes beyond the message.
        extra: usize,
    },
    /// Application data longer than 65535 bytes.
    DataTooLong {
        /// Its length.
        len: usize,
    },
}

impl fmt::Display for ChannelDataError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("not a ChannelData message: ")?;
        match *self {
            ChannelDataError::TooShort { len } => write!(f, "{len} bytes, the header needs 4"),
            ChannelDataError::BadChannel { channel } => {
                write!(f, "channel {channel:#06x} outside 0x4000..=0x4FFF")
            }
            ChannelDataError::Truncated { declared, actual } => {
                write!(f, "length says {declared} bytes, got {actual}")
            }
            ChannelDataError::TrailingBytes { extra } => {
                write!(f, "{extra} bytes beyond the data and padding")
            }
            ChannelDataError::DataTooLong { len } => write!(f, "{len} bytes of data exceed 65535"),
        }
    }
}

impl std::error::Error for ChannelDataError {}

/// A ChannelData message borrowing its data.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct ChannelData<'a> {
    channel: u16,
    data: &'a [u8],
}

impl<'a> ChannelData<'a> {
    /// A message for `channel` carrying `data`.
    pub fn new(channel: u16, data: &'a [u8]) -> Result<Self, ChannelDataError> {
        if !(ChannelNumber::MIN..=ChannelNumber::MAX).contains(&channel) {
            return Err(ChannelDataError::BadChannel { channel });
        }
        if data.len() > usize::from(u16::MAX) {
            return Err(ChannelDataError::DataTooLong { len: data.len() });
        }
        Ok(ChannelData { channel, data })
    }

    /// Parses one message that is exactly `buf` (plus padding).
    pub fn parse(buf: &'a [u8], transport: Transport) -> Result<Self, ChannelDataError> {
        if buf.len() < 4 {
            return Err(ChannelDataError::TooShort { len: buf.len() });
        }
        let channel = be16(buf, 0);
        if !(ChannelNumber::MIN..=ChannelNumber::MAX).contains(&channel) {
            return Err(ChannelDataError::BadChannel { channel });
        }
        let len = usize::from(be16(buf, 2));
        let (min, max) = match transport {
            Transport::Datagram => (4 + len, 4 + pad4(len)),
            Transport::Stream => (4 + pad4(len), 4 + pad4(len)),
        };
        if buf.len() < min {
            return Err(ChannelDataError::Truncated {
                declared: min,
                actual: buf.len(),
            });
        }
        if buf.len() > max {
            return Err(ChannelDataError::TrailingBytes {
                extra: buf.len() - max,
            });
        }
        let data = buf.get(4..4 + len).unwrap_or_default();
        Ok(ChannelData { channel, data })
    }

    /// The channel number.
    pub fn channel(&self) -> u16 {
        self.channel
    }

    /// The application data.
    pub fn data(&self) -> &'a [u8] {
        self.data
    }

    /// Bytes on the wire: padded on a stream, unpadded in a datagram.
    pub fn encoded_len(&self, transport: Transport) -> usize {
        match transport {
            Transport::Datagram => 4 + self.data.len(),
            Transport::Stream => 4 + pad4(self.data.len()),
        }
    }

    /// Clears `buf` and writes the message into it.
    pub fn write(&self, buf: &mut Vec<u8>, transport: Transport) {
        buf.clear();
        buf.extend_from_slice(&self.channel.to_be_bytes());
        buf.extend_from_slice(&(self.data.len() as u16).to_be_bytes());
        buf.extend_from_slice(self.data);
        buf.resize(self.encoded_len(transport), 0);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn padding_rules_differ_by_transport() {
        let mut buf = Vec::new();
        let cd = ChannelData::new(0x4001, b"abcde").unwrap();
        cd.write(&mut buf, Transport::Datagram);
        assert_eq!(buf.len(), 9);
        assert_eq!(ChannelData::parse(&buf, Transport::Datagram).unwrap(), cd);
        assert!(matches!(
            ChannelData::parse(&buf, Transport::Stream),
            Err(ChannelDataError::Truncated {
                declared: 12,
                actual: 9
            })
        ));
        cd.write(&mut buf, Transport::Stream);
        assert_eq!(buf.len(), 12);
        assert_eq!(ChannelData::parse(&buf, Transport::Stream).unwrap(), cd);
        assert_eq!(
            ChannelData::parse(&buf, Transport::Datagram).unwrap(),
            cd,
            "UDP padding is optional"
        );
        buf.push(0);
        assert!(matches!(
            ChannelData::parse(&buf, Transport::Datagram),
            Err(ChannelDataError::TrailingBytes { extra: 1 })
        ));
        assert!(ChannelData::new(0x5000, b"").is_err());
        assert!(ChannelData::parse(&[0x3F, 0xFF, 0, 0], Transport::Datagram).is_err());
        assert_eq!(
            ChannelData::parse(&[0x40, 0, 0, 0], Transport::Stream)
                .unwrap()
                .data(),
            b""
        );
    }
}
