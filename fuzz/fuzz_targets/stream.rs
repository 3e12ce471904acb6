//! The TCP/TLS framer: a byte stream cut into reads of varying sizes must
//! frame exactly as the same stream delivered in one read.
//!
//! Input layout: the low 4 bits of the first byte say how many of the
//! following bytes are read sizes (cycled over; a size of 0 is an empty
//! read); with none, the stream is read one byte at a time. The rest is the
//! stream.

#![no_main]

use std::hint::black_box;

use libfuzzer_sys::fuzz_target;
use stun_proto::{
    ChannelData, Frame, FramingError, HEADER_LEN, Message, StreamFramer, Transport, frame_len,
};

/// A frame copied out of the framer, so frames from two framers compare.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Owned {
    Stun(Vec<u8>),
    ChannelData { channel: u16, data: Vec<u8> },
}

impl Owned {
    fn from_frame(frame: &Frame<'_>) -> Owned {
        match frame {
            Frame::Stun(b) => Owned::Stun(b.to_vec()),
            Frame::ChannelData(cd) => Owned::ChannelData {
                channel: cd.channel(),
                data: cd.data().to_vec(),
            },
        }
    }

    /// Its length on the stream.
    fn wire_len(&self) -> usize {
        match self {
            Owned::Stun(b) => b.len(),
            Owned::ChannelData { data, .. } => 4 + data.len().next_multiple_of(4),
        }
    }
}

/// What a framer produced: the frames until the first error, the error,
/// and the bytes left buffered.
#[derive(Debug, PartialEq, Eq)]
struct Outcome {
    frames: Vec<Owned>,
    error: Option<FramingError>,
    buffered: usize,
}

/// Takes every frame the framer has; stops at the first error (which the
/// framer then repeats forever).
fn drain(framer: &mut StreamFramer, out: &mut Outcome) {
    if out.error.is_some() {
        return;
    }
    while let Some(next) = framer.next_frame() {
        match next {
            Ok(frame) => out.frames.push(Owned::from_frame(&frame)),
            Err(e) => {
                out.error = Some(e);
                assert_eq!(framer.next_frame(), Some(Err(e)), "errors are sticky");
                return;
            }
        }
    }
}

fn frame(reads: impl Iterator<Item = usize>, stream: &[u8]) -> Outcome {
    let mut framer = StreamFramer::new();
    let mut out = Outcome {
        frames: Vec::new(),
        error: None,
        buffered: 0,
    };
    let mut at = 0;
    for size in reads {
        if at >= stream.len() {
            break;
        }
        let end = (at + size).min(stream.len());
        framer.push(&stream[at..end]);
        at = end;
        drain(&mut framer, &mut out);
    }
    assert_eq!(at, stream.len(), "the whole stream was pushed");
    drain(&mut framer, &mut out);
    out.buffered = framer.buffered();
    out
}

fuzz_target!(|data: &[u8]| {
    let Some((&first, rest)) = data.split_first() else {
        return;
    };
    let n = usize::from(first & 0x0F).min(rest.len());
    let (sizes, stream) = rest.split_at(n);

    let whole = frame(std::iter::once(stream.len()), stream);
    let chunked = if sizes.is_empty() {
        frame(std::iter::repeat(1), stream)
    } else {
        let cycle = sizes.iter().map(|&s| usize::from(s)).cycle();
        // Empty reads are allowed but must not stall the loop forever.
        let reads = cycle.take(stream.len() * sizes.len() + sizes.len());
        frame(reads.chain(std::iter::once(stream.len())), stream)
    };
    assert_eq!(whole, chunked, "framing depends on how the stream was read");

    if let Some(f) = whole.frames.first() {
        assert_eq!(frame_len(stream), Ok(Some(f.wire_len())));
    }

    // The frames are the stream's prefix, back to back.
    let consumed: usize = whole.frames.iter().map(Owned::wire_len).sum();
    assert_eq!(whole.buffered, stream.len() - consumed);
    if let Some(FramingError::UnknownFrame {
        first_byte,
        stream_offset,
    }) = whole.error
    {
        assert_eq!(stream_offset, consumed as u64);
        assert_eq!(stream.get(consumed), Some(&first_byte));
    }
    if whole.error.is_none() {
        // Whatever is left is an incomplete frame.
        let tail = &stream[consumed..];
        match frame_len(tail) {
            Ok(Some(len)) => assert!(len > tail.len()),
            Ok(None) => assert!(tail.len() < 4),
            Err(e) => panic!("framer stopped without an error on {e}"),
        }
    }

    let mut at = 0;
    let mut out = Vec::new();
    for f in &whole.frames {
        let bytes = &stream[at..at + f.wire_len()];
        at += f.wire_len();
        assert_eq!(frame_len(bytes), Ok(Some(bytes.len())));
        match f {
            Owned::Stun(b) => {
                assert_eq!(b.as_slice(), bytes);
                assert!(b.len() >= HEADER_LEN);
                if let Ok(msg) = Message::parse(b) {
                    black_box(msg.attributes().count());
                    black_box(msg.verify_fingerprint().is_ok());
                }
            }
            Owned::ChannelData { channel, data } => {
                let cd = ChannelData::new(*channel, data).expect("a framed channel is valid");
                assert_eq!(ChannelData::parse(bytes, Transport::Stream), Ok(cd));
                cd.write(&mut out, Transport::Stream);
                // The padding's value is not specified (RFC 8656 §12.5) and
                // the writer zeroes it: compare header and data, and length.
                let used = 4 + data.len();
                assert_eq!(out.len(), bytes.len());
                assert_eq!(out[..used], bytes[..used]);
                assert!(out[used..].iter().all(|&b| b == 0));
            }
        }
    }
});
