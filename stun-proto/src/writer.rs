//! Building messages into a buffer the caller owns and reuses.
//!
//! - RFC 8489 §14: attributes are TLVs padded to 4 bytes with zeros; the
//!   header length always covers what is written so far.
//! - RFC 8489 §14.5/§14.6: integrity is computed with the length adjusted to
//!   end at the integrity attribute; §9: nothing but
//!   MESSAGE-INTEGRITY-SHA256 and FINGERPRINT may follow MESSAGE-INTEGRITY,
//!   nothing but FINGERPRINT may follow MESSAGE-INTEGRITY-SHA256, and
//!   FINGERPRINT is last (§14.7). The writer refuses anything else, so what
//!   it builds is never partly ignored by a receiver.
//! - RFC 3489 messages (a [`TransactionId::Rfc3489`] id) take the legacy
//!   MESSAGE-INTEGRITY and refuse FINGERPRINT and the SHA-256 integrity.
//!
//! The buffer is cleared and then only grows: once its capacity has been
//! reached, building allocates nothing.

use crate::attr::{Attribute, AttributeType, Context};
use crate::auth::IntegrityKey;
use crate::error::BuildError;
use crate::header::{HEADER_LEN, MessageType, TransactionId};
use crate::message::{adjusted_first, fingerprint, legacy_first, legacy_zeros, pad4};

/// Largest value of the length field that is a multiple of 4.
const MAX_BODY: usize = 0xFFFC;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Stage {
    Body,
    AfterIntegrity,
    AfterIntegritySha256,
    AfterFingerprint,
}

/// Writes one STUN message into a `Vec<u8>` the caller keeps.
#[derive(Debug)]
pub struct MessageWriter<'b> {
    buf: &'b mut Vec<u8>,
    ctx: Context,
    stage: Stage,
    rfc3489: bool,
}

impl<'b> MessageWriter<'b> {
    /// Clears `buf` and writes a header with no attributes.
    ///
    /// An [`TransactionId::Rfc3489`] id that begins with the magic cookie is
    /// on the wire an RFC 5389 message (a receiver cannot tell otherwise), so
    /// it is framed as one.
    pub fn new(buf: &'b mut Vec<u8>, msg_type: MessageType, id: TransactionId) -> Self {
        let id = TransactionId::from_header_tail(&id.header_tail());
        buf.clear();
        buf.extend_from_slice(&msg_type.to_u16().to_be_bytes());
        buf.extend_from_slice(&[0, 0]);
        let tail = id.header_tail();
        buf.extend_from_slice(&tail);
        MessageWriter {
            buf,
            ctx: Context { xor_key: tail },
            stage: Stage::Body,
            rfc3489: id.is_rfc3489(),
        }
    }

    /// The typed-attribute context (XOR key) of this message.
    pub fn context(&self) -> Context {
        self.ctx
    }

    /// Adds a typed attribute.
    pub fn add<'a, A: Attribute<'a>>(&mut self, attr: &A) -> Result<&mut Self, BuildError> {
        let attribute = A::TYPE;
        if matches!(
            attribute,
            AttributeType::MESSAGE_INTEGRITY
                | AttributeType::MESSAGE_INTEGRITY_SHA256
                | AttributeType::FINGERPRINT
        ) {
            return Err(BuildError::ComputedAttribute { attribute });
        }
        self.check_body(attribute)?;
        let ctx = self.ctx;
        let value = self.reserve(attribute, attr.encoded_len())?;
        attr.encode(value, &ctx);
        Ok(self)
    }

    /// Adds an attribute from raw bytes. Any type is accepted, including the
    /// integrity and fingerprint types (their value is copied, not
    /// computed); the ordering rules of RFC 8489 §9 and §14.7 still apply.
    /// In an RFC 3489 message FINGERPRINT and MESSAGE-INTEGRITY-SHA256 are
    /// ordinary attributes, as the parser reads them.
    pub fn add_raw(
        &mut self,
        attribute: AttributeType,
        value: &[u8],
    ) -> Result<&mut Self, BuildError> {
        let next = match attribute {
            AttributeType::FINGERPRINT if !self.rfc3489 => self.check_fingerprint()?,
            AttributeType::MESSAGE_INTEGRITY => self.check_integrity(attribute)?,
            AttributeType::MESSAGE_INTEGRITY_SHA256 if !self.rfc3489 => {
                self.check_integrity_sha256()?
            }
            _ => {
                self.check_body(attribute)?;
                Stage::Body
            }
        };
        let at = self.buf.len();
        self.reserve(attribute, value.len())?;
        self.fill(at + 4, value);
        self.stage = next;
        Ok(self)
    }

    /// Appends MESSAGE-INTEGRITY (HMAC-SHA1, RFC 8489 §14.5; RFC 3489
    /// §11.2.8 for RFC 3489 messages).
    pub fn add_message_integrity(&mut self, key: &IntegrityKey) -> Result<&mut Self, BuildError> {
        let attribute = AttributeType::MESSAGE_INTEGRITY;
        let next = self.check_integrity(attribute)?;
        let at = self.buf.len();
        self.reserve(attribute, 20)?;
        let rest = self.buf.get(4..at).unwrap_or_default();
        let mac = if self.rfc3489 {
            key.sha1.mac(legacy_first(self.buf), rest, legacy_zeros(at))
        } else {
            key.sha1.mac(adjusted_first(self.buf, at, 20), rest, 0)
        };
        self.fill(at + 4, &mac);
        self.stage = next;
        Ok(self)
    }

    /// Appends MESSAGE-INTEGRITY-SHA256 (RFC 8489 §14.6), full 32 bytes.
    pub fn add_message_integrity_sha256(
        &mut self,
        key: &IntegrityKey,
    ) -> Result<&mut Self, BuildError> {
        self.add_message_integrity_sha256_truncated(key, 32)
    }

    /// Appends MESSAGE-INTEGRITY-SHA256 truncated to `len` bytes (16..=32,
    /// a multiple of 4), for usages that allow truncation (RFC 8489 §14.6).
    pub fn add_message_integrity_sha256_truncated(
        &mut self,
        key: &IntegrityKey,
        len: usize,
    ) -> Result<&mut Self, BuildError> {
        if !crate::attr::valid_sha256_len(len) {
            return Err(BuildError::Sha256Length { len });
        }
        let next = self.check_integrity_sha256()?;
        let at = self.buf.len();
        self.reserve(AttributeType::MESSAGE_INTEGRITY_SHA256, len)?;
        let rest = self.buf.get(4..at).unwrap_or_default();
        let mac = key.sha256.mac(adjusted_first(self.buf, at, len), rest, 0);
        self.fill(at + 4, mac.get(..len).unwrap_or_default());
        self.stage = next;
        Ok(self)
    }

    /// Appends FINGERPRINT (RFC 8489 §14.7). Nothing can follow it.
    pub fn add_fingerprint(&mut self) -> Result<&mut Self, BuildError> {
        let next = self.check_fingerprint()?;
        let at = self.buf.len();
        self.reserve(AttributeType::FINGERPRINT, 4)?;
        let crc = fingerprint(self.buf.get(..at).unwrap_or_default());
        self.fill(at + 4, &crc.to_be_bytes());
        self.stage = next;
        Ok(self)
    }

    /// The message so far (always a complete, parseable message).
    pub fn as_bytes(&self) -> &[u8] {
        self.buf
    }

    /// Ends writing; the message is in the caller's buffer.
    pub fn finish(self) -> &'b [u8] {
        self.buf
    }

    fn check_body(&self, attribute: AttributeType) -> Result<(), BuildError> {
        match self.stage {
            Stage::Body => Ok(()),
            Stage::AfterFingerprint => Err(BuildError::AfterFingerprint { attribute }),
            _ => Err(BuildError::AfterIntegrity { attribute }),
        }
    }

    fn check_integrity(&self, attribute: AttributeType) -> Result<Stage, BuildError> {
        self.check_body(attribute)?;
        Ok(Stage::AfterIntegrity)
    }

    fn check_integrity_sha256(&self) -> Result<Stage, BuildError> {
        let attribute = AttributeType::MESSAGE_INTEGRITY_SHA256;
        if self.rfc3489 {
            return Err(BuildError::NotInRfc3489 { attribute });
        }
        match self.stage {
            Stage::Body | Stage::AfterIntegrity => Ok(Stage::AfterIntegritySha256),
            Stage::AfterFingerprint => Err(BuildError::AfterFingerprint { attribute }),
            Stage::AfterIntegritySha256 => Err(BuildError::AfterIntegrity { attribute }),
        }
    }

    fn check_fingerprint(&self) -> Result<Stage, BuildError> {
        let attribute = AttributeType::FINGERPRINT;
        if self.rfc3489 {
            return Err(BuildError::NotInRfc3489 { attribute });
        }
        match self.stage {
            Stage::AfterFingerprint => Err(BuildError::AfterFingerprint { attribute }),
            _ => Ok(Stage::AfterFingerprint),
        }
    }

    /// Appends an attribute header and a zeroed, padded value of `len`
    /// bytes, updates the header length, and returns the value bytes.
    fn reserve(&mut self, attribute: AttributeType, len: usize) -> Result<&mut [u8], BuildError> {
        let len16 = u16::try_from(len).map_err(|_| BuildError::ValueTooLong { attribute, len })?;
        let start = self.buf.len();
        let body = start - HEADER_LEN + 4 + pad4(len);
        if body > MAX_BODY {
            return Err(BuildError::MessageTooLong { len: body });
        }
        self.buf.extend_from_slice(&attribute.0.to_be_bytes());
        self.buf.extend_from_slice(&len16.to_be_bytes());
        self.buf.resize(start + 4 + pad4(len), 0);
        self.fill(2, &(body as u16).to_be_bytes());
        Ok(self
            .buf
            .get_mut(start + 4..start + 4 + len)
            .unwrap_or_default())
    }

    fn fill(&mut self, at: usize, bytes: &[u8]) {
        if let Some(dst) = self.buf.get_mut(at..at + bytes.len()) {
            dst.copy_from_slice(bytes);
        }
    }
}
