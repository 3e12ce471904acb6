//! The parsed message: framing checked once, attributes borrowed.
//!
//! - RFC 8489 §6: header checks (leading zero bits, length a multiple of 4
//!   and equal to the datagram, magic cookie) and the attribute TLV walk.
//!   Without the cookie the message is an RFC 3489 one (§11.1 of that RFC).
//! - RFC 8489 §9 / §14: attributes after MESSAGE-INTEGRITY are ignored
//!   except MESSAGE-INTEGRITY-SHA256 and FINGERPRINT; after
//!   MESSAGE-INTEGRITY-SHA256 (with no MESSAGE-INTEGRITY) only FINGERPRINT
//!   counts. FINGERPRINT must be last (§14.7): anything after it is a framing
//!   error. Duplicate attributes: the first occurrence is the one processed.
//! - RFC 8489 §14.5-14.7: verification of both integrity attributes (with the
//!   header length adjusted to end at the attribute) and of FINGERPRINT.
//! - RFC 3489 §11.2.8: legacy MESSAGE-INTEGRITY, computed over the message
//!   up to the attribute, zero-padded to a multiple of 64 bytes. FINGERPRINT
//!   and MESSAGE-INTEGRITY-SHA256 do not exist in RFC 3489: in a message
//!   without the cookie they are ordinary attributes, as the writer treats
//!   them.
//!
//! After [`Message::parse`] succeeds every accessor is total: the offsets it
//! keeps were all checked, and reads go through bounds-checked `get`.

use hmac::Mac;
use subtle::ConstantTimeEq;

use crate::attr::{Attribute, AttributeType, Context, RawAttribute};
use crate::auth::{IntegrityAlgorithm, IntegrityKey};
use crate::error::{AttributeError, FingerprintError, IntegrityError, ParseError};
use crate::header::{Class, HEADER_LEN, MessageType, Method, TransactionId};

/// XORed into the CRC-32 of a FINGERPRINT (RFC 8489 §14.7).
pub const FINGERPRINT_XOR: u32 = 0x5354_554E;

/// A parsed STUN message borrowing its buffer.
#[derive(Clone, Copy, Debug)]
pub struct Message<'a> {
    buf: &'a [u8],
    msg_type: MessageType,
    /// Offsets of the processed MESSAGE-INTEGRITY, MESSAGE-INTEGRITY-SHA256
    /// and FINGERPRINT attribute headers (0: absent; no attribute starts
    /// inside the header).
    integrity: u32,
    integrity_sha256: u32,
    fingerprint: u32,
    /// Where the attributes a receiver processes end (RFC 8489 §9): the
    /// first integrity attribute, or FINGERPRINT, or the end.
    body_end: u32,
}

pub(crate) fn be16(b: &[u8], at: usize) -> u16 {
    match b.get(at..at + 2) {
        Some(&[x, y]) => u16::from_be_bytes([x, y]),
        _ => 0,
    }
}

pub(crate) const fn pad4(n: usize) -> usize {
    (n + 3) & !3
}

impl<'a> Message<'a> {
    /// Parses and frames one message. `buf` must be exactly the message (a
    /// UDP datagram, or a frame from [`crate::StreamFramer`]).
    pub fn parse(buf: &'a [u8]) -> Result<Message<'a>, ParseError> {
        let header: &[u8; HEADER_LEN] = match buf.first_chunk() {
            Some(h) => h,
            None => return Err(ParseError::TooShort { len: buf.len() }),
        };
        let raw_type = u16::from_be_bytes([header[0], header[1]]);
        let msg_type = MessageType::from_u16(raw_type).ok_or(ParseError::LeadingBitsSet {
            first_byte: header[0],
        })?;
        let length = u16::from_be_bytes([header[2], header[3]]);
        if length % 4 != 0 {
            return Err(ParseError::LengthNotAligned { length });
        }
        let declared = HEADER_LEN + usize::from(length);
        if declared != buf.len() {
            return Err(ParseError::LengthMismatch {
                declared,
                actual: buf.len(),
            });
        }

        let mut msg = Message {
            buf,
            msg_type,
            integrity: 0,
            integrity_sha256: 0,
            fingerprint: 0,
            body_end: buf.len() as u32,
        };
        // FINGERPRINT and MESSAGE-INTEGRITY-SHA256 do not exist in RFC 3489:
        // in a message without the cookie they are ordinary attributes.
        let rfc3489 = header.get(4..8) != Some(&crate::header::MAGIC_COOKIE_BYTES[..]);
        let mut checks_started = false;
        let mut offset = HEADER_LEN;
        while offset < buf.len() {
            let attr_type = AttributeType(be16(buf, offset));
            let vlen = be16(buf, offset + 2);
            let next = offset + 4 + pad4(usize::from(vlen));
            if next > buf.len() {
                return Err(ParseError::AttributeOverrun {
                    offset,
                    attribute: attr_type,
                    length: vlen,
                });
            }
            if msg.fingerprint != 0 {
                return Err(ParseError::AttributeAfterFingerprint {
                    offset,
                    attribute: attr_type,
                });
            }
            let bad_len = ParseError::BadCheckLength {
                offset,
                attribute: attr_type,
                length: vlen,
            };
            match attr_type {
                AttributeType::FINGERPRINT if !rfc3489 => {
                    if vlen != 4 {
                        return Err(bad_len);
                    }
                    msg.fingerprint = offset as u32;
                    if !checks_started {
                        msg.body_end = offset as u32;
                        checks_started = true;
                    }
                }
                AttributeType::MESSAGE_INTEGRITY if !checks_started => {
                    if vlen != 20 {
                        return Err(bad_len);
                    }
                    msg.integrity = offset as u32;
                    msg.body_end = offset as u32;
                    checks_started = true;
                }
                AttributeType::MESSAGE_INTEGRITY_SHA256
                    if !rfc3489
                        && (!checks_started
                            || (msg.integrity != 0 && msg.integrity_sha256 == 0)) =>
                {
                    if !crate::attr::valid_sha256_len(usize::from(vlen)) {
                        return Err(bad_len);
                    }
                    msg.integrity_sha256 = offset as u32;
                    if !checks_started {
                        msg.body_end = offset as u32;
                        checks_started = true;
                    }
                }
                _ => {}
            }
            offset = next;
        }
        Ok(msg)
    }

    /// The whole message.
    pub fn as_bytes(&self) -> &'a [u8] {
        self.buf
    }

    /// Class and method.
    pub fn msg_type(&self) -> MessageType {
        self.msg_type
    }

    /// The class.
    pub fn class(&self) -> Class {
        self.msg_type.class
    }

    /// The method.
    pub fn method(&self) -> Method {
        self.msg_type.method
    }

    /// The transaction id; its variant tells RFC 5389/8489 framing (magic
    /// cookie) from RFC 3489.
    pub fn transaction_id(&self) -> TransactionId {
        match self
            .buf
            .get(4..HEADER_LEN)
            .and_then(|t| <&[u8; 16]>::try_from(t).ok())
        {
            Some(tail) => TransactionId::from_header_tail(tail),
            None => TransactionId::Rfc3489([0; 16]),
        }
    }

    /// Whether the message has no magic cookie (RFC 3489).
    pub fn is_rfc3489(&self) -> bool {
        self.buf.get(4..8) != Some(&crate::header::MAGIC_COOKIE_BYTES[..])
    }

    /// What typed attributes need to decode (the XOR key).
    pub fn context(&self) -> Context {
        let mut xor_key = [0u8; 16];
        if let Some(tail) = self.buf.get(4..HEADER_LEN) {
            xor_key.copy_from_slice(tail);
        }
        Context { xor_key }
    }

    /// The attributes a receiver processes (RFC 8489 §9): everything up to
    /// the first integrity attribute, then the integrity attributes and
    /// FINGERPRINT; attributes the RFC says to ignore are skipped.
    pub fn attributes(&self) -> Attributes<'a> {
        Attributes {
            msg: *self,
            offset: HEADER_LEN,
            all: false,
        }
    }

    /// Every attribute on the wire, including those a receiver ignores.
    pub fn all_attributes(&self) -> Attributes<'a> {
        Attributes {
            msg: *self,
            offset: HEADER_LEN,
            all: true,
        }
    }

    /// The first processed attribute of this type, raw.
    pub fn get_raw(&self, attr_type: AttributeType) -> Option<RawAttribute<'a>> {
        self.attributes().find(|a| a.attr_type == attr_type)
    }

    /// Decodes the first processed attribute of type `A::TYPE`; `Ok(None)`
    /// if there is none.
    pub fn get<A: Attribute<'a>>(&self) -> Result<Option<A>, AttributeError> {
        match self.get_raw(A::TYPE) {
            Some(raw) => A::decode(raw.value, &self.context()).map(Some),
            None => Ok(None),
        }
    }

    /// Decodes an attribute that must be present.
    pub fn require<A: Attribute<'a>>(&self) -> Result<A, AttributeError> {
        self.get::<A>()?.ok_or(AttributeError::new(
            A::TYPE,
            crate::error::AttributeErrorKind::Missing,
        ))
    }

    /// Processed comprehension-required attributes this crate does not know:
    /// a server answers 420 listing them in UNKNOWN-ATTRIBUTES (RFC 8489
    /// §6.3.1).
    pub fn unknown_comprehension_required(&self) -> impl Iterator<Item = AttributeType> + 'a {
        self.unknown_comprehension_required_by(AttributeType::is_known)
    }

    /// As [`Message::unknown_comprehension_required`], with the caller's
    /// notion of which types it understands (a STUN-only server does not
    /// understand TURN attributes even though this crate decodes them).
    pub fn unknown_comprehension_required_by<F>(
        &self,
        understood: F,
    ) -> impl Iterator<Item = AttributeType> + 'a
    where
        F: Fn(AttributeType) -> bool + 'a,
    {
        self.attributes()
            .map(|a| a.attr_type)
            .filter(move |t| t.is_comprehension_required() && !understood(*t))
    }

    /// The integrity attribute a receiver checks: MESSAGE-INTEGRITY-SHA256
    /// if present, else MESSAGE-INTEGRITY (RFC 8489 §9.1.3).
    pub fn integrity_algorithm(&self) -> Option<IntegrityAlgorithm> {
        if self.integrity_sha256 != 0 {
            Some(IntegrityAlgorithm::Sha256)
        } else if self.integrity != 0 {
            Some(IntegrityAlgorithm::Sha1)
        } else {
            None
        }
    }

    /// Whether MESSAGE-INTEGRITY is present (and processed).
    pub fn has_message_integrity(&self) -> bool {
        self.integrity != 0
    }

    /// Whether MESSAGE-INTEGRITY-SHA256 is present (and processed).
    pub fn has_message_integrity_sha256(&self) -> bool {
        self.integrity_sha256 != 0
    }

    /// Whether FINGERPRINT is present.
    pub fn has_fingerprint(&self) -> bool {
        self.fingerprint != 0
    }

    /// Checks the message's integrity as RFC 8489 §9.1.3 orders: the
    /// SHA-256 attribute if present, else the SHA-1 one. Returns which.
    pub fn verify_integrity(
        &self,
        key: &IntegrityKey,
    ) -> Result<IntegrityAlgorithm, IntegrityError> {
        match self.integrity_algorithm() {
            Some(IntegrityAlgorithm::Sha256) => self
                .verify_message_integrity_sha256(key)
                .map(|()| IntegrityAlgorithm::Sha256),
            Some(IntegrityAlgorithm::Sha1) => self
                .verify_message_integrity(key)
                .map(|()| IntegrityAlgorithm::Sha1),
            None => Err(IntegrityError::Missing),
        }
    }

    /// Checks MESSAGE-INTEGRITY (HMAC-SHA1, RFC 8489 §14.5; RFC 3489 §11.2.8
    /// for messages without the magic cookie). Constant-time comparison.
    pub fn verify_message_integrity(&self, key: &IntegrityKey) -> Result<(), IntegrityError> {
        let at = self.integrity as usize;
        if at == 0 {
            return Err(IntegrityError::Missing);
        }
        let expected = self.buf.get(at + 4..at + 24).unwrap_or_default();
        let mac = if self.is_rfc3489() {
            legacy_hmac(&key.sha1, self.buf, at)
        } else {
            adjusted_hmac(key.sha1.clone(), self.buf, at, 20)
        };
        if bool::from(mac.as_slice().ct_eq(expected)) {
            Ok(())
        } else {
            Err(IntegrityError::Mismatch {
                attribute: AttributeType::MESSAGE_INTEGRITY,
            })
        }
    }

    /// Checks MESSAGE-INTEGRITY-SHA256 (RFC 8489 §14.6), truncated to the
    /// attribute's length. Constant-time comparison.
    pub fn verify_message_integrity_sha256(
        &self,
        key: &IntegrityKey,
    ) -> Result<(), IntegrityError> {
        let at = self.integrity_sha256 as usize;
        if at == 0 {
            return Err(IntegrityError::Missing);
        }
        let len = usize::from(be16(self.buf, at + 2));
        let expected = self.buf.get(at + 4..at + 4 + len).unwrap_or_default();
        let mac = adjusted_hmac(key.sha256.clone(), self.buf, at, len);
        let ok = mac
            .get(..len)
            .is_some_and(|m| bool::from(m.ct_eq(expected)));
        if ok {
            Ok(())
        } else {
            Err(IntegrityError::Mismatch {
                attribute: AttributeType::MESSAGE_INTEGRITY_SHA256,
            })
        }
    }

    /// Checks FINGERPRINT (RFC 8489 §14.7).
    pub fn verify_fingerprint(&self) -> Result<(), FingerprintError> {
        let at = self.fingerprint as usize;
        if at == 0 {
            return Err(FingerprintError::Missing);
        }
        let found = u32::from_be_bytes([
            self.byte(at + 4),
            self.byte(at + 5),
            self.byte(at + 6),
            self.byte(at + 7),
        ]);
        let computed = fingerprint(self.buf.get(..at).unwrap_or_default());
        if found == computed {
            Ok(())
        } else {
            Err(FingerprintError::Mismatch { found, computed })
        }
    }

    fn byte(&self, at: usize) -> u8 {
        self.buf.get(at).copied().unwrap_or(0)
    }

    fn is_processed(&self, offset: usize) -> bool {
        let o = offset as u32;
        o < self.body_end
            || o == self.integrity
            || o == self.integrity_sha256
            || o == self.fingerprint
    }
}

/// CRC-32 (ITU V.42, as in RFC 1952) XOR 0x5354554E of `bytes`.
pub fn fingerprint(bytes: &[u8]) -> u32 {
    crc32fast::hash(bytes) ^ FINGERPRINT_XOR
}

/// HMAC over the message up to `at` with the header length adjusted to end
/// after an integrity attribute of `value_len` bytes at `at`.
pub(crate) fn adjusted_hmac<M: Mac>(
    mut mac: M,
    buf: &[u8],
    at: usize,
    value_len: usize,
) -> hmac::digest::Output<M> {
    let length = (at + 4 + value_len - HEADER_LEN) as u16;
    mac.update(buf.get(..2).unwrap_or_default());
    mac.update(&length.to_be_bytes());
    mac.update(buf.get(4..at).unwrap_or_default());
    mac.finalize().into_bytes()
}

/// RFC 3489 §11.2.8: HMAC over the message up to the attribute, padded with
/// zeros to a multiple of 64 bytes; the length field is not adjusted.
pub(crate) fn legacy_hmac<M: Mac + Clone>(
    mac: &M,
    buf: &[u8],
    at: usize,
) -> hmac::digest::Output<M> {
    let mut mac = mac.clone();
    mac.update(buf.get(..at).unwrap_or_default());
    let pad = (64 - at % 64) % 64;
    mac.update([0u8; 64].get(..pad).unwrap_or_default());
    mac.finalize().into_bytes()
}

/// Iterator over a message's attributes.
#[derive(Clone, Debug)]
pub struct Attributes<'a> {
    msg: Message<'a>,
    offset: usize,
    all: bool,
}

impl<'a> Iterator for Attributes<'a> {
    type Item = RawAttribute<'a>;

    fn next(&mut self) -> Option<RawAttribute<'a>> {
        loop {
            let buf = self.msg.buf;
            let offset = self.offset;
            if offset + 4 > buf.len() {
                return None;
            }
            let attr_type = AttributeType(be16(buf, offset));
            let len = usize::from(be16(buf, offset + 2));
            let value = buf.get(offset + 4..offset + 4 + len)?;
            self.offset = offset + 4 + pad4(len);
            if self.all || self.msg.is_processed(offset) {
                return Some(RawAttribute {
                    attr_type,
                    value,
                    offset,
                });
            }
        }
    }
}
