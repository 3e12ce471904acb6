//! Splitting a TCP stream into STUN and ChannelData frames (RFC 8489
//! §6.2.2, RFC 8656 §12.5), as [`stun_proto::StreamFramer`] does, with
//! the RFC 5766 channel numbers (first byte 0x50-0x7F) accepted when the
//! server accepts them.

/// Reassembles frames from the bytes of one connection.
#[derive(Debug)]
pub struct Framer {
    buf: Vec<u8>,
    legacy: bool,
}

/// The stream starts a frame with a byte that is neither STUN nor
/// ChannelData: the connection must be closed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct OutOfStep {
    /// The byte.
    pub first_byte: u8,
}

impl Framer {
    /// An empty framer; `legacy` accepts channel numbers up to 0x7FFF.
    pub fn new(legacy: bool) -> Framer {
        Framer {
            buf: Vec::new(),
            legacy,
        }
    }

    /// Appends bytes read from the stream.
    pub fn push(&mut self, bytes: &[u8]) {
        self.buf.extend_from_slice(bytes);
    }

    /// The next complete frame, `Ok(None)` if more bytes are needed.
    pub fn next_frame(&mut self) -> Result<Option<Vec<u8>>, OutOfStep> {
        let Some(&[first, _, l0, l1]) = self.buf.first_chunk::<4>() else {
            return Ok(None);
        };
        let len = usize::from(u16::from_be_bytes([l0, l1]));
        let top = if self.legacy { 0x7F } else { 0x4F };
        let frame = match first {
            0x00..=0x3F => stun_proto::HEADER_LEN + len,
            0x40.. if first <= top => 4 + len.next_multiple_of(4),
            _ => return Err(OutOfStep { first_byte: first }),
        };
        if self.buf.len() < frame {
            return Ok(None);
        }
        let rest = self.buf.split_off(frame);
        Ok(Some(core::mem::replace(&mut self.buf, rest)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn split_merged_and_legacy_frames() {
        let stun = [
            0x00, 0x01, 0x00, 0x00, 0x21, 0x12, 0xA4, 0x42, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12,
        ];
        let cd = [0x40, 0x00, 0x00, 0x01, 0xAA, 0, 0, 0];
        let legacy = [0x7F, 0xFF, 0x00, 0x00];
        let stream: Vec<u8> = [&stun[..], &cd, &legacy].concat();
        for chunk in 1..stream.len() {
            let mut f = Framer::new(true);
            let mut frames = Vec::new();
            for piece in stream.chunks(chunk) {
                f.push(piece);
                while let Some(frame) = f.next_frame().unwrap() {
                    frames.push(frame);
                }
            }
            assert_eq!(frames, vec![stun.to_vec(), cd.to_vec(), legacy.to_vec()]);
        }
        let mut strict = Framer::new(false);
        strict.push(&legacy);
        assert_eq!(strict.next_frame(), Err(OutOfStep { first_byte: 0x7F }));
    }
}
