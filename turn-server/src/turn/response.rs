//! Writing what the TURN server sends: success and error responses
//! (RFC 8656 §7-§12, RFC 8489 §6.3.1), Data indications (RFC 8656 §11.3)
//! and ChannelData (§12.4).
//!
//! Every response carries SOFTWARE (when configured) and FINGERPRINT;
//! responses to authenticated requests carry the request's integrity
//! attribute (MESSAGE-INTEGRITY or MESSAGE-INTEGRITY-SHA256, RFC 8489
//! §9.2.4) before FINGERPRINT. 401 and 438 carry REALM, a fresh NONCE and
//! PASSWORD-ALGORITHMS (RFC 8489 §9.2.4). Data indications carry only
//! XOR-PEER-ADDRESS and DATA (§11.3): they go to the client for every
//! relayed datagram, and are kept lean.

use core::net::SocketAddr;
use core::time::Duration;

use stun_proto::attr::{
    AddressErrorCode, AddressFamily, AlternateServer, Data, ErrorCode, Lifetime, Nonce,
    PasswordAlgorithm, PasswordAlgorithms, Realm, ReservationToken, Software, UnknownAttributes,
    XorMappedAddress, XorPeerAddress, XorRelayedAddress,
};
use stun_proto::{
    AttributeType, ChannelData, Class, IntegrityAlgorithm, IntegrityKey, MessageType,
    MessageWriter, Method, TransactionId, Transport,
};

use super::dropped::TurnInternalError;

/// How many distinct unknown attributes a 420 lists.
pub const MAX_UNKNOWN_LISTED: usize = 16;

/// What every answer to one request shares.
pub(crate) struct Reply<'s> {
    pub method: Method,
    pub id: TransactionId,
    pub software: Option<&'s str>,
}

/// How a response is signed.
#[derive(Clone, Copy)]
pub(crate) enum Sign<'k> {
    Unsigned,
    Key(&'k IntegrityKey, IntegrityAlgorithm),
}

/// The challenge of 401 and 438 (RFC 8489 §9.2.4).
pub(crate) struct Challenge<'c> {
    pub realm: &'c str,
    pub nonce: &'c str,
    pub algorithms: &'c [PasswordAlgorithm<'static>],
}

/// What an error response may carry besides ERROR-CODE.
#[derive(Default)]
pub(crate) struct ErrorExtra<'c> {
    pub challenge: Option<Challenge<'c>>,
    pub unknown: &'c [AttributeType],
    pub alternate: Option<SocketAddr>,
}

fn writer<'b>(out: &'b mut Vec<u8>, reply: &Reply<'_>, class: Class) -> MessageWriter<'b> {
    MessageWriter::new(out, MessageType::new(reply.method, class), reply.id)
}

/// SOFTWARE, the integrity attribute and FINGERPRINT.
fn finish(
    w: &mut MessageWriter<'_>,
    software: Option<&str>,
    sign: Sign<'_>,
) -> Result<(), TurnInternalError> {
    if let Some(s) = software {
        w.add(&Software::new(s)?)?;
    }
    match sign {
        Sign::Unsigned => {}
        Sign::Key(key, IntegrityAlgorithm::Sha256) => {
            w.add_message_integrity_sha256(key)?;
        }
        Sign::Key(key, _) => {
            w.add_message_integrity(key)?;
        }
    }
    w.add_fingerprint()?;
    Ok(())
}

/// An error response.
pub(crate) fn error(
    out: &mut Vec<u8>,
    reply: &Reply<'_>,
    code: u16,
    extra: &ErrorExtra<'_>,
    sign: Sign<'_>,
) -> Result<(), TurnInternalError> {
    let mut w = writer(out, reply, Class::Error);
    w.add(&ErrorCode::from_code(code)?)?;
    if !extra.unknown.is_empty() {
        w.add(&UnknownAttributes::new(extra.unknown))?;
    }
    if let Some(c) = &extra.challenge {
        w.add(&Realm::new(c.realm)?)?
            .add(&Nonce::new(c.nonce)?)?
            .add(&PasswordAlgorithms::new(c.algorithms))?;
    }
    if let Some(alt) = extra.alternate {
        w.add(&AlternateServer(alt))?;
    }
    finish(&mut w, reply.software, sign)
}

/// What an Allocate success reports (RFC 8656 §7.2).
pub(crate) struct Allocated<'a> {
    pub relays: &'a [SocketAddr],
    pub mapped: SocketAddr,
    pub lifetime: Duration,
    pub token: Option<[u8; 8]>,
    /// ADDRESS-ERROR-CODE for a dual allocation half-served: (family, code).
    pub address_error: Option<(AddressFamily, u16)>,
}

fn lifetime_secs(d: Duration) -> u32 {
    u32::try_from(d.as_secs()).unwrap_or(u32::MAX)
}

pub(crate) fn allocate_success(
    out: &mut Vec<u8>,
    reply: &Reply<'_>,
    a: &Allocated<'_>,
    sign: Sign<'_>,
) -> Result<(), TurnInternalError> {
    let mut w = writer(out, reply, Class::Success);
    for relay in a.relays {
        w.add(&XorRelayedAddress(*relay))?;
    }
    w.add(&Lifetime(lifetime_secs(a.lifetime)))?;
    if let Some(token) = a.token {
        w.add(&ReservationToken(token))?;
    }
    if let Some((family, code)) = a.address_error {
        let reason = stun_proto::attr::reason_phrase(code).unwrap_or("");
        w.add(&AddressErrorCode::new(family, code, reason)?)?;
    }
    w.add(&XorMappedAddress(a.mapped))?;
    finish(&mut w, reply.software, sign)
}

/// A Refresh success: LIFETIME.
pub(crate) fn refresh_success(
    out: &mut Vec<u8>,
    reply: &Reply<'_>,
    lifetime: Duration,
    sign: Sign<'_>,
) -> Result<(), TurnInternalError> {
    let mut w = writer(out, reply, Class::Success);
    w.add(&Lifetime(lifetime_secs(lifetime)))?;
    finish(&mut w, reply.software, sign)
}

/// A success with no attributes of its own (CreatePermission,
/// ChannelBind).
pub(crate) fn empty_success(
    out: &mut Vec<u8>,
    reply: &Reply<'_>,
    sign: Sign<'_>,
) -> Result<(), TurnInternalError> {
    let mut w = writer(out, reply, Class::Success);
    finish(&mut w, reply.software, sign)
}

/// A Data indication (RFC 8656 §11.3).
pub(crate) fn data_indication(
    out: &mut Vec<u8>,
    id: [u8; 12],
    peer: SocketAddr,
    data: &[u8],
) -> Result<(), TurnInternalError> {
    let mut w = MessageWriter::new(
        out,
        MessageType::new(Method::DATA, Class::Indication),
        TransactionId::Rfc5389(id),
    );
    w.add(&XorPeerAddress(peer))?.add(&Data(data))?;
    Ok(())
}

/// A ChannelData message (RFC 8656 §12.4): padded on a stream, not in a
/// datagram. Channel numbers of the RFC 5766 range (legacy mode) are
/// written by hand: `ChannelData::new` keeps to RFC 8656's.
pub(crate) fn channel_data(out: &mut Vec<u8>, channel: u16, data: &[u8], transport: Transport) {
    match ChannelData::new(channel, data) {
        Ok(cd) => cd.write(out, transport),
        Err(_) => {
            out.clear();
            out.extend_from_slice(&channel.to_be_bytes());
            out.extend_from_slice(&u16::try_from(data.len()).unwrap_or(u16::MAX).to_be_bytes());
            out.extend_from_slice(data);
            if transport == Transport::Stream {
                out.resize(4 + data.len().next_multiple_of(4), 0);
            }
        }
    }
}

/// The distinct unknown comprehension-required attributes of a request,
/// in order, at most [`MAX_UNKNOWN_LISTED`].
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn legacy_channel_data_is_framed_like_rfc_8656() {
        let mut out = Vec::new();
        channel_data(&mut out, 0x7FFE, b"abcde", Transport::Stream);
        assert_eq!(
            out,
            [0x7F, 0xFE, 0, 5, b'a', b'b', b'c', b'd', b'e', 0, 0, 0]
        );
        channel_data(&mut out, 0x4001, b"abcde", Transport::Datagram);
        assert_eq!(out.len(), 9);
        let mut l = UnknownList::default();
        for t in (0..40u16).chain(0..40) {
            l.push(AttributeType(0x7F00 + t));
        }
        assert_eq!(l.as_slice().len(), MAX_UNKNOWN_LISTED);
    }
}
