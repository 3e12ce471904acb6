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

use crate::attr::{Attribute, AttributeType, Context, RawAttribute};
use crate::auth::{IntegrityAlgorithm, IntegrityKey};
use crate::error::{AttributeError, FingerprintError, IntegrityError, ParseError};
use crate::header::{Class, HEADER_LEN, MessageType, Method, TransactionId};
use crate::prepared_hmac::ct_eq;

/// XORed into the CRC-32 of a FINGERPRINT (RFC 8489 §14.7).
pub const FINGERPRINT_XOR: u32 = 0x5354_554E;

/// How many body attributes [`Message::parse`] indexes for lookups; a
/// message with more is searched by walking the rest.
const INDEX_LEN: usize = 12;

/// A parsed STUN message borrowing its buffer.
#[derive(Clone, Copy, Debug)]
pub struct Message<'a> {
    buf: &'a [u8],
    msg_type: MessageType,
    rfc3489: bool,
    /// Offsets of the processed MESSAGE-INTEGRITY, MESSAGE-INTEGRITY-SHA256
    /// and FINGERPRINT attribute headers (0: absent; no attribute starts
    /// inside the header).
    integrity: u32,
    integrity_sha256: u32,
    fingerprint: u32,
    /// Where the attributes a receiver processes end (RFC 8489 §9): the
    /// first integrity attribute, or FINGERPRINT, or the end.
    body_end: u32,
    /// Types and offsets (divided by 4) of the first body attributes, so
    /// that a lookup does not walk the message again.
    index: [(u16, u16); INDEX_LEN],
    indexed: u8,
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

        // FINGERPRINT and MESSAGE-INTEGRITY-SHA256 do not exist in RFC 3489:
        // in a message without the cookie they are ordinary attributes.
        let rfc3489 =
            [header[4], header[5], header[6], header[7]] != crate::header::MAGIC_COOKIE_BYTES;
        let mut msg = Message {
            buf,
            msg_type,
            rfc3489,
            integrity: 0,
            integrity_sha256: 0,
            fingerprint: 0,
            body_end: buf.len() as u32,
            index: [(0, 0); INDEX_LEN],
            indexed: 0,
        };
        let mut checks_started = false;
        let mut offset = HEADER_LEN;
        while let Some(&[t0, t1, l0, l1]) = buf.get(offset..).and_then(|b| b.first_chunk::<4>()) {
            let attr_type = AttributeType(u16::from_be_bytes([t0, t1]));
            let vlen = u16::from_be_bytes([l0, l1]);
            let next = offset + 4 + pad4(usize::from(vlen));
            if next > buf.len() {
                return Err(ParseError::AttributeOverrun {
                    offset,
                    attribute: attr_type,
                    length: vlen,
                });
            }
            let bad_len = || ParseError::BadCheckLength {
                offset,
                attribute: attr_type,
                length: vlen,
            };
            match attr_type {
                AttributeType::FINGERPRINT if !rfc3489 => {
                    if msg.fingerprint != 0 {
                        return Err(ParseError::AttributeAfterFingerprint {
                            offset,
                            attribute: attr_type,
                        });
                    }
                    if vlen != 4 {
                        return Err(bad_len());
                    }
                    msg.fingerprint = offset as u32;
                    if !checks_started {
                        msg.body_end = offset as u32;
                        checks_started = true;
                    }
                }
                AttributeType::MESSAGE_INTEGRITY if !checks_started => {
                    if vlen != 20 {
                        return Err(bad_len());
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
                        return Err(bad_len());
                    }
                    msg.integrity_sha256 = offset as u32;
                    if !checks_started {
                        msg.body_end = offset as u32;
                        checks_started = true;
                    }
                }
                _ if !checks_started => {
                    if let Some(slot) = msg.index.get_mut(usize::from(msg.indexed)) {
                        *slot = (attr_type.0, (offset / 4) as u16);
                        msg.indexed += 1;
                    }
                }
                _ => {}
            }
            offset = next;
        }
        // FINGERPRINT must be last (RFC 8489 §14.7).
        let fp = msg.fingerprint as usize;
        if fp != 0 && fp + 8 != buf.len() {
            let offset = fp + 8;
            return Err(ParseError::AttributeAfterFingerprint {
                offset,
                attribute: AttributeType(be16(buf, offset)),
            });
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
        self.rfc3489
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
        let check = match attr_type {
            AttributeType::MESSAGE_INTEGRITY => self.integrity,
            AttributeType::MESSAGE_INTEGRITY_SHA256 => self.integrity_sha256,
            AttributeType::FINGERPRINT if !self.rfc3489 => self.fingerprint,
            _ => 0,
        } as usize;
        if check != 0 {
            return self.raw_at(check);
        }
        let indexed = usize::from(self.indexed);
        let index = self.index.get(..indexed).unwrap_or_default();
        if let Some(&(_, o)) = index.iter().find(|(t, _)| *t == attr_type.0) {
            return self.raw_at(usize::from(o) * 4);
        }
        if indexed < INDEX_LEN {
            return None;
        }
        // More body attributes than the index holds: walk the rest.
        let last = usize::from(self.index.last().map_or(0, |e| e.1)) * 4;
        let mut offset = last + 4 + pad4(usize::from(be16(self.buf, last + 2)));
        while offset < self.body_end as usize {
            if be16(self.buf, offset) == attr_type.0 {
                return self.raw_at(offset);
            }
            offset += 4 + pad4(usize::from(be16(self.buf, offset + 2)));
        }
        None
    }

    /// The attribute whose header is at `offset` (a checked offset).
    fn raw_at(&self, offset: usize) -> Option<RawAttribute<'a>> {
        let len = usize::from(be16(self.buf, offset + 2));
        let value = self.buf.get(offset + 4..offset + 4 + len)?;
        Some(RawAttribute {
            attr_type: AttributeType(be16(self.buf, offset)),
            value,
            offset,
        })
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
        let rest = self.buf.get(4..at).unwrap_or_default();
        let mac = if self.rfc3489 {
            key.sha1.mac(legacy_first(self.buf), rest, legacy_zeros(at))
        } else {
            key.sha1.mac(adjusted_first(self.buf, at, 20), rest, 0)
        };
        let ok = ct_eq(&mac, expected);
        if ok {
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
        let rest = self.buf.get(4..at).unwrap_or_default();
        let mac = key.sha256.mac(adjusted_first(self.buf, at, len), rest, 0);
        let ok = mac.get(..len).is_some_and(|m| ct_eq(m, expected));
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
        let (covered, attr) = self.buf.split_at_checked(at).unwrap_or_default();
        let found = match attr {
            [_, _, _, _, a, b, c, d] => u32::from_be_bytes([*a, *b, *c, *d]),
            _ => return Err(FingerprintError::Missing),
        };
        let computed = fingerprint(covered);
        if found == computed {
            Ok(())
        } else {
            Err(FingerprintError::Mismatch { found, computed })
        }
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

/// The first four bytes of the HMAC input: the message type and the length
/// adjusted to end after an integrity attribute of `value_len` bytes at `at`
/// (RFC 8489 §14.5, §14.6).
pub(crate) fn adjusted_first(buf: &[u8], at: usize, value_len: usize) -> [u8; 4] {
    let length = ((at + 4 + value_len - HEADER_LEN) as u16).to_be_bytes();
    let t = buf.first_chunk::<2>().copied().unwrap_or_default();
    [t[0], t[1], length[0], length[1]]
}

/// RFC 3489 §11.2.8 does not adjust the length.
pub(crate) fn legacy_first(buf: &[u8]) -> [u8; 4] {
    buf.first_chunk::<4>().copied().unwrap_or_default()
}

/// RFC 3489 §11.2.8 pads the HMAC input with zeros to a multiple of 64
/// bytes.
pub(crate) fn legacy_zeros(at: usize) -> usize {
    (64 - at % 64) % 64
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
