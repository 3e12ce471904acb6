//! Framing STUN and ChannelData on a TCP or TLS byte stream (RFC 8489
//! §6.2.2, RFC 8656 §12.5).
//!
//! On a stream a frame is either a STUN message (leading bits `00`, 20
//! header bytes plus the length field) or a ChannelData message (first byte
//! 0x40..=0x4F, 4 header bytes plus the length padded to 4). Reads may split
//! a frame or carry several; [`StreamFramer`] reassembles them. Any other
//! first byte means the stream is out of step and cannot be resynchronised:
//! the connection must be closed.

use core::fmt;

use crate::channel_data::{ChannelData, ChannelDataError, Transport};
use crate::header::HEADER_LEN;
use crate::message::{be16, pad4};

/// Why a stream cannot be framed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum FramingError {
    /// A frame starts with a byte that is neither STUN nor ChannelData.
    UnknownFrame {
        /// The byte.
        first_byte: u8,
        /// Its offset in the stream.
        stream_offset: u64,
    },
    /// A ChannelData frame with an invalid channel number.
    ChannelData(ChannelDataError),
}

impl fmt::Display for FramingError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FramingError::UnknownFrame {
                first_byte,
                stream_offset,
            } => write!(
                f,
                "stream out of step at byte {stream_offset}: {first_byte:#04x} starts neither STUN nor ChannelData; close the connection"
            ),
            FramingError::ChannelData(e) => write!(f, "{e}; close the connection"),
        }
    }
}

impl std::error::Error for FramingError {}

/// One frame of a stream.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Frame<'a> {
    /// A STUN message's bytes, to give to [`crate::Message::parse`].
    Stun(&'a [u8]),
    /// A ChannelData message.
    ChannelData(ChannelData<'a>),
}

/// The length of the frame that starts `prefix`: `Ok(None)` if more bytes
/// are needed to tell (fewer than 4).
pub fn frame_len(prefix: &[u8]) -> Result<Option<usize>, FramingError> {
    let Some(&first) = prefix.first() else {
        return Ok(None);
    };
    if prefix.len() < 4 {
        return Ok(None);
    }
    let len = usize::from(be16(prefix, 2));
    match first {
        0x00..=0x3F => Ok(Some(HEADER_LEN + len)),
        0x40..=0x4F => Ok(Some(4 + pad4(len))),
        _ => Err(FramingError::UnknownFrame {
            first_byte: first,
            stream_offset: 0,
        }),
    }
}

/// Reassembles frames from a byte stream.
#[derive(Debug, Default)]
pub struct StreamFramer {
    buf: Vec<u8>,
    start: usize,
    stream_offset: u64,
    failed: Option<FramingError>,
}

impl StreamFramer {
    /// An empty framer.
    pub fn new() -> Self {
        Self::default()
    }

    /// Appends bytes read from the stream.
    pub fn push(&mut self, bytes: &[u8]) {
        if self.start > 0 {
            self.buf.drain(..self.start);
            self.start = 0;
        }
        self.buf.extend_from_slice(bytes);
    }

    /// Bytes received but not yet returned as frames.
    pub fn buffered(&self) -> usize {
        self.buf.len() - self.start
    }

    /// The next complete frame, `None` if more bytes are needed. After an
    /// error, every call returns the same error.
    pub fn next_frame(&mut self) -> Option<Result<Frame<'_>, FramingError>> {
        if let Some(e) = self.failed {
            return Some(Err(e));
        }
        let pending = self.buf.get(self.start..).unwrap_or_default();
        let len = match frame_len(pending) {
            Ok(Some(len)) if len <= pending.len() => len,
            Ok(_) => return None,
            Err(FramingError::UnknownFrame { first_byte, .. }) => {
                let e = FramingError::UnknownFrame {
                    first_byte,
                    stream_offset: self.stream_offset,
                };
                self.failed = Some(e);
                return Some(Err(e));
            }
            Err(e) => return Some(Err(e)),
        };
        let start = self.start;
        self.start += len;
        self.stream_offset += len as u64;
        let frame = self.buf.get(start..start + len).unwrap_or_default();
        match frame.first() {
            Some(0x40..=0x4F) => match ChannelData::parse(frame, Transport::Stream) {
                Ok(cd) => Some(Ok(Frame::ChannelData(cd))),
                Err(e) => {
                    self.failed = Some(FramingError::ChannelData(e));
                    Some(Err(FramingError::ChannelData(e)))
                }
            },
            _ => Some(Ok(Frame::Stun(frame))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stun(n: u8) -> Vec<u8> {
        let mut m = vec![0x00, 0x01, 0x00, 0x04, 0x21, 0x12, 0xA4, 0x42];
        m.extend_from_slice(&[n; 12]);
        m.extend_from_slice(&[0x80, 0x22, 0x00, 0x00]);
        m
    }

    #[test]
    fn split_and_merged_reads() {
        let mut cd = Vec::new();
        ChannelData::new(0x4000, b"xyz")
            .unwrap()
            .write(&mut cd, Transport::Stream);
        let stream: Vec<u8> = [stun(1), cd.clone(), stun(2)].concat();
        for chunk in 1..stream.len() {
            let mut f = StreamFramer::new();
            let mut out = Vec::new();
            for piece in stream.chunks(chunk) {
                f.push(piece);
                while let Some(frame) = f.next_frame() {
                    out.push(match frame.unwrap() {
                        Frame::Stun(b) => b.to_vec(),
                        Frame::ChannelData(c) => c.data().to_vec(),
                    });
                }
            }
            assert_eq!(
                out,
                vec![stun(1), b"xyz".to_vec(), stun(2)],
                "chunk {chunk}"
            );
            assert_eq!(f.buffered(), 0);
        }
    }

    #[test]
    fn garbage_stops_the_stream() {
        let mut f = StreamFramer::new();
        f.push(&stun(1));
        f.push(&[0xFF, 0, 0, 0]);
        assert!(matches!(f.next_frame(), Some(Ok(Frame::Stun(_)))));
        let e = f.next_frame().unwrap().unwrap_err();
        assert_eq!(
            e,
            FramingError::UnknownFrame {
                first_byte: 0xFF,
                stream_offset: 24
            }
        );
        f.push(&stun(2));
        assert_eq!(f.next_frame().unwrap().unwrap_err(), e);
    }
}
