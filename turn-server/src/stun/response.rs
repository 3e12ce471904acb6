//! Writing the answers.
//!
//! - RFC 8489 §6.3.1.1: the response has the request's method and
//!   transaction id; a success carries XOR-MAPPED-ADDRESS (the request's
//!   source), an error ERROR-CODE with a reason phrase (the recommended one
//!   of §14.8) and, for 420, UNKNOWN-ATTRIBUTES (§14.13); both carry
//!   SOFTWARE (§14.14, SHOULD) and FINGERPRINT (§7, §14.7) last.
//! - RFC 5780 §6.1: with an alternate, a success also carries
//!   MAPPED-ADDRESS ("MUST include both"), RESPONSE-ORIGIN (§7.3, the socket
//!   the answer leaves from) and OTHER-ADDRESS (§7.4, Ca:Cp); PADDING (§7.6)
//!   when the request had it, sized by [`padding_len`].
//! - RFC 8489 §11 and RFC 3489 §8.1, §11.2: a request without the magic
//!   cookie gets the same 128-bit transaction id back, MAPPED-ADDRESS
//!   instead of XOR-MAPPED-ADDRESS, SOURCE-ADDRESS (§11.2.5) and
//!   CHANGED-ADDRESS (§11.2.3) when there is an alternate, and no
//!   FINGERPRINT (it does not exist in RFC 3489). An odd UNKNOWN-ATTRIBUTES
//!   list repeats an entry to fill the 4-byte word (§11.2.10). SOFTWARE
//!   (0x8022) is comprehension-optional, which RFC 3489 clients ignore.

use core::net::SocketAddr;

use stun_proto::attr::{
    ChangedAddress, Context, ErrorCode, MappedAddress, OtherAddress, ResponseOrigin, Software,
    SourceAddress, UnknownAttributes, XorMappedAddress,
};
use stun_proto::{
    Attribute, AttributeError, AttributeType, MessageType, MessageWriter, TransactionId,
};

use super::dropped::InternalError;

/// How many distinct unknown attributes a 420 lists; more are not named
/// (the client learns enough from the first ones, and the answer stays
/// smaller than the request that caused it).
pub const MAX_UNKNOWN_LISTED: usize = 16;

/// FINGERPRINT: 4 header bytes and the CRC.
const FINGERPRINT_LEN: usize = 8;
/// An attribute's type and length.
const ATTRIBUTE_HEADER_LEN: usize = 4;

/// What every answer to one request shares.
pub(crate) struct Reply<'s> {
    /// The request's type (the answer keeps its method).
    pub msg_type: MessageType,
    /// The request's transaction id; an RFC 3489 id makes an RFC 3489
    /// answer.
    pub id: TransactionId,
    /// The SOFTWARE value.
    pub software: Option<&'s str>,
}

/// The addresses of a Binding success.
pub(crate) struct Binding {
    /// The reflexive address: the request's source, IPv4-mapped IPv6
    /// addresses shown as IPv4.
    pub mapped: SocketAddr,
    /// The socket the answer leaves from.
    pub origin: SocketAddr,
    /// Ca:Cp, with an alternate.
    pub other: Option<SocketAddr>,
    /// With PADDING in the request: the length the padded answer may reach
    /// (see [`padding_len`]).
    pub pad_to: Option<usize>,
}

/// The distinct unknown comprehension-required attributes of a request, in
/// order of appearance, at most [`MAX_UNKNOWN_LISTED`].
#[derive(Clone, Copy, Debug)]
pub(crate) struct UnknownList {
    types: [AttributeType; MAX_UNKNOWN_LISTED],
    len: usize,
}

impl Default for UnknownList {
    fn default() -> Self {
        UnknownList {
            types: [AttributeType(0); MAX_UNKNOWN_LISTED],
            len: 0,
        }
    }
}

impl UnknownList {
    /// Records a type unless listed already or the list is full.
    pub(crate) fn push(&mut self, t: AttributeType) {
        if self.as_slice().contains(&t) {
            return;
        }
        if let Some(slot) = self.types.get_mut(self.len) {
            *slot = t;
            self.len += 1;
        }
    }

    pub(crate) fn as_slice(&self) -> &[AttributeType] {
        self.types.get(..self.len).unwrap_or_default()
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.len == 0
    }
}

/// PADDING of `n` zero bytes, written without a buffer of zeros (the
/// writer hands [`Attribute::encode`] a zeroed value).
struct ZeroPadding(usize);

impl<'a> Attribute<'a> for ZeroPadding {
    const TYPE: AttributeType = AttributeType::PADDING;

    fn decode(value: &'a [u8], _: &Context) -> Result<Self, AttributeError> {
        Ok(ZeroPadding(value.len()))
    }

    fn encoded_len(&self) -> usize {
        self.0
    }

    fn encode(&self, _: &mut [u8], _: &Context) {}
}

/// The PADDING value length for an answer whose other attributes take
/// `unpadded` bytes (header and FINGERPRINT included): the largest multiple
/// of 4 that keeps the answer within `pad_to`, or 0. RFC 5780 §7.6 wants
/// the outgoing MTU; this server never pads an answer beyond the size of
/// the request that asked for it, nor beyond the configured ceiling (the
/// caller passes the smaller of the two as `pad_to`).
pub(crate) const fn padding_len(unpadded: usize, pad_to: usize) -> usize {
    pad_to.saturating_sub(unpadded + ATTRIBUTE_HEADER_LEN) & !3
}

/// Writes a Binding success into `out`.
pub(crate) fn success(
    out: &mut Vec<u8>,
    reply: &Reply<'_>,
    b: &Binding,
) -> Result<(), InternalError> {
    let rfc3489 = reply.id.is_rfc3489();
    let mut w = MessageWriter::new(out, reply.msg_type.success(), reply.id);
    if rfc3489 {
        w.add(&MappedAddress(b.mapped))?;
        // A wildcard-bound server does not know its address: a 0.0.0.0
        // SOURCE-ADDRESS would mislead, so it is left out.
        if !b.origin.ip().is_unspecified() {
            w.add(&SourceAddress(b.origin))?;
        }
        if let Some(other) = b.other {
            w.add(&ChangedAddress(other))?;
        }
    } else {
        w.add(&XorMappedAddress(b.mapped))?;
        if let Some(other) = b.other {
            w.add(&MappedAddress(b.mapped))?
                .add(&ResponseOrigin(b.origin))?
                .add(&OtherAddress(other))?;
        }
    }
    if let Some(software) = reply.software {
        w.add(&Software::new(software)?)?;
    }
    if let Some(pad_to) = b.pad_to {
        let trailer = if rfc3489 { 0 } else { FINGERPRINT_LEN };
        let unpadded = w.as_bytes().len() + trailer;
        w.add(&ZeroPadding(padding_len(unpadded, pad_to)))?;
    }
    if !rfc3489 {
        w.add_fingerprint()?;
    }
    Ok(())
}

/// Writes an error response with `code` (and UNKNOWN-ATTRIBUTES when
/// `unknown` is not empty) into `out`.
pub(crate) fn error(
    out: &mut Vec<u8>,
    reply: &Reply<'_>,
    code: u16,
    unknown: &[AttributeType],
) -> Result<(), InternalError> {
    let rfc3489 = reply.id.is_rfc3489();
    let mut w = MessageWriter::new(out, reply.msg_type.error(), reply.id);
    w.add(&ErrorCode::from_code(code)?)?;
    if !unknown.is_empty() {
        let mut list = [AttributeType(0); MAX_UNKNOWN_LISTED + 1];
        let mut n = 0;
        for (slot, t) in list.iter_mut().zip(unknown) {
            *slot = *t;
            n += 1;
        }
        // RFC 3489 §11.2.10: an odd list repeats one entry; RFC 8489 pads
        // with zeros (the writer does).
        if rfc3489 && n % 2 == 1 {
            if let (Some(first), Some(slot)) = (unknown.first(), list.get_mut(n)) {
                *slot = *first;
                n += 1;
            }
        }
        w.add(&UnknownAttributes::new(list.get(..n).unwrap_or_default()))?;
    }
    if let Some(software) = reply.software {
        w.add(&Software::new(software)?)?;
    }
    if !rfc3489 {
        w.add_fingerprint()?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn padding_fills_to_the_word_below_the_target() {
        // 72 bytes unpadded, target 200: 4 for the PADDING header, 124 of value.
        assert_eq!(padding_len(72, 200), 124);
        assert_eq!(padding_len(72, 203), 124, "rounded down to 4");
        assert_eq!(padding_len(72, 76), 0);
        assert_eq!(padding_len(72, 20), 0, "a small request gets empty PADDING");
    }

    #[test]
    fn unknown_list_is_distinct_and_bounded() {
        let mut l = UnknownList::default();
        for t in (0..40u16).chain(0..40) {
            l.push(AttributeType(0x7F00 + t));
        }
        assert_eq!(l.as_slice().len(), MAX_UNKNOWN_LISTED);
        assert_eq!(l.as_slice()[0], AttributeType(0x7F00));
        assert_eq!(l.as_slice()[15], AttributeType(0x7F0F));
    }
}
