//! The STUN and TURN wire format: a zero-copy parser, typed attributes, a
//! builder into caller-owned buffers, message integrity and fingerprints.
//!
//! Implements RFC 8489 (STUN), the attributes and methods of RFC 8656
//! (TURN), RFC 5780 (NAT behaviour discovery), RFC 6062 (TURN over TCP) and
//! RFC 8445 (ICE), RFC 8656 ChannelData, RFC 7983 demultiplexing and the
//! RFC 3489 legacy framing. See the README's compliance table for what is and
//! is not covered.
//!
//! # Parsing
//!
//! [`Message::parse`] checks the header and the attribute framing once and
//! borrows the buffer. Typed attributes decode on demand with
//! [`Message::get`]; after a successful parse nothing panics, whatever the
//! bytes.
//!
//! ```
//! use stun_proto::{attr::{Username, XorMappedAddress}, IntegrityKey, Message};
//! # let bytes = stun_proto::doc_example();
//! let msg = Message::parse(&bytes)?;
//! let key = IntegrityKey::short_term("VOkJxbRl1RmTxUk/WvJxBt")?;
//! msg.verify_fingerprint()?;
//! msg.verify_integrity(&key)?;
//! let mapped = msg.get::<XorMappedAddress>()?;
//! assert_eq!(mapped.map(|a| a.0.to_string()).as_deref(), Some("192.0.2.1:32853"));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! # Building
//!
//! [`MessageWriter`] writes into a `Vec<u8>` the caller keeps and reuses;
//! once the vector has grown to a message's size, building allocates
//! nothing.
//!
//! ```
//! use stun_proto::{attr::XorMappedAddress, IntegrityKey, Message, MessageType, MessageWriter, TransactionId};
//! let key = IntegrityKey::short_term("pass")?;
//! let mut buf = Vec::with_capacity(128);
//! let request = MessageType::BINDING_REQUEST;
//! let mut w = MessageWriter::new(&mut buf, request.success(), TransactionId::Rfc5389([7; 12]));
//! w.add(&XorMappedAddress("198.51.100.2:4000".parse()?))?
//!     .add_message_integrity(&key)?
//!     .add_fingerprint()?;
//! let msg = Message::parse(w.finish())?;
//! assert!(msg.verify_integrity(&key).is_ok());
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

#![deny(clippy::indexing_slicing)]

pub mod attr;
pub mod auth;
mod channel_data;
pub mod demux;
pub mod error;
mod framing;
mod header;
mod message;
mod prepared_hmac;
mod transmit;
mod writer;

pub use attr::{Attribute, AttributeType, RawAttribute};
pub use auth::{IntegrityAlgorithm, IntegrityKey, LongTermAlgorithm};
pub use channel_data::{ChannelData, ChannelDataError, Transport};
pub use error::{
    AttributeError, BuildError, CredentialError, FingerprintError, IntegrityError, ParseError,
};
pub use framing::{Frame, FramingError, StreamFramer, frame_len};
pub use header::{
    Class, HEADER_LEN, MAGIC_COOKIE, MAGIC_COOKIE_BYTES, MAX_MESSAGE_LEN, MessageType, Method,
    TransactionId,
};
pub use message::{Attributes, FINGERPRINT_XOR, Message, fingerprint};
pub use transmit::Transmit;
pub use writer::MessageWriter;

/// The RFC 5769 §2.2 sample IPv4 response, for documentation examples.
#[doc(hidden)]
pub fn doc_example() -> Vec<u8> {
    vec![
        0x01, 0x01, 0x00, 0x3c, 0x21, 0x12, 0xa4, 0x42, 0xb7, 0xe7, 0xa7, 0x01, 0xbc, 0x34, 0xd6,
        0x86, 0xfa, 0x87, 0xdf, 0xae, 0x80, 0x22, 0x00, 0x0b, 0x74, 0x65, 0x73, 0x74, 0x20, 0x76,
        0x65, 0x63, 0x74, 0x6f, 0x72, 0x20, 0x00, 0x20, 0x00, 0x08, 0x00, 0x01, 0xa1, 0x47, 0xe1,
        0x12, 0xa6, 0x43, 0x00, 0x08, 0x00, 0x14, 0x2b, 0x91, 0xf5, 0x99, 0xfd, 0x9e, 0x90, 0xc3,
        0x8c, 0x74, 0x89, 0xf9, 0x2a, 0xf9, 0xba, 0x53, 0xf0, 0x6b, 0xe7, 0xd7, 0x80, 0x28, 0x00,
        0x04, 0xc0, 0x7d, 0x4c, 0x96,
    ]
}
