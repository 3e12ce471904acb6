//! Decodes every attribute of a message with its typed decoder, and touches
//! every accessor: what a robustness test runs on anything that parses.

use stun_proto::attr::*;
use stun_proto::{AttributeError, AttributeType, IntegrityKey, Message};

fn dec<'a, A: Attribute<'a> + core::fmt::Debug>(
    value: &'a [u8],
    ctx: &Context,
) -> Result<String, AttributeError> {
    A::decode(value, ctx).map(|a| format!("{a:?}"))
}

/// The typed decode of one attribute, rendered with `Debug`; `None` for
/// types this crate does not decode.
pub fn decode_one(
    t: AttributeType,
    v: &[u8],
    c: &Context,
) -> Option<Result<String, AttributeError>> {
    Some(match t {
        AttributeType::MAPPED_ADDRESS => dec::<MappedAddress>(v, c),
        AttributeType::XOR_MAPPED_ADDRESS => dec::<XorMappedAddress>(v, c),
        AttributeType::XOR_PEER_ADDRESS => dec::<XorPeerAddress>(v, c),
        AttributeType::XOR_RELAYED_ADDRESS => dec::<XorRelayedAddress>(v, c),
        AttributeType::ALTERNATE_SERVER => dec::<AlternateServer>(v, c),
        AttributeType::RESPONSE_ORIGIN => dec::<ResponseOrigin>(v, c),
        AttributeType::OTHER_ADDRESS => dec::<OtherAddress>(v, c),
        AttributeType::CHANGED_ADDRESS => dec::<ChangedAddress>(v, c),
        AttributeType::SOURCE_ADDRESS => dec::<SourceAddress>(v, c),
        AttributeType::REFLECTED_FROM => dec::<ReflectedFrom>(v, c),
        AttributeType::USERNAME => dec::<Username>(v, c),
        AttributeType::REALM => dec::<Realm>(v, c),
        AttributeType::NONCE => dec::<Nonce>(v, c),
        AttributeType::SOFTWARE => dec::<Software>(v, c),
        AttributeType::ALTERNATE_DOMAIN => dec::<AlternateDomain>(v, c),
        AttributeType::ERROR_CODE => dec::<ErrorCode>(v, c),
        AttributeType::ADDRESS_ERROR_CODE => dec::<AddressErrorCode>(v, c),
        AttributeType::UNKNOWN_ATTRIBUTES => {
            UnknownAttributes::decode(v, c).map(|u| format!("{:?}", u.iter().collect::<Vec<_>>()))
        }
        AttributeType::MESSAGE_INTEGRITY => dec::<MessageIntegrity>(v, c),
        AttributeType::MESSAGE_INTEGRITY_SHA256 => dec::<MessageIntegritySha256>(v, c),
        AttributeType::FINGERPRINT => dec::<Fingerprint>(v, c),
        AttributeType::USERHASH => dec::<Userhash>(v, c),
        AttributeType::PASSWORD_ALGORITHM => dec::<PasswordAlgorithm>(v, c),
        AttributeType::PASSWORD_ALGORITHMS => {
            PasswordAlgorithms::decode(v, c).map(|p| format!("{:?}", p.iter().collect::<Vec<_>>()))
        }
        AttributeType::CHANNEL_NUMBER => dec::<ChannelNumber>(v, c),
        AttributeType::LIFETIME => dec::<Lifetime>(v, c),
        AttributeType::DATA => dec::<Data>(v, c),
        AttributeType::REQUESTED_ADDRESS_FAMILY => dec::<RequestedAddressFamily>(v, c),
        AttributeType::ADDITIONAL_ADDRESS_FAMILY => dec::<AdditionalAddressFamily>(v, c),
        AttributeType::EVEN_PORT => dec::<EvenPort>(v, c),
        AttributeType::REQUESTED_TRANSPORT => dec::<RequestedTransport>(v, c),
        AttributeType::DONT_FRAGMENT => dec::<DontFragment>(v, c),
        AttributeType::RESERVATION_TOKEN => dec::<ReservationToken>(v, c),
        AttributeType::ICMP => dec::<Icmp>(v, c),
        AttributeType::CONNECTION_ID => dec::<ConnectionId>(v, c),
        AttributeType::CHANGE_REQUEST => dec::<ChangeRequest>(v, c),
        AttributeType::RESPONSE_PORT => dec::<ResponsePort>(v, c),
        AttributeType::PADDING => dec::<Padding>(v, c),
        AttributeType::CACHE_TIMEOUT => dec::<CacheTimeout>(v, c),
        AttributeType::PRIORITY => dec::<Priority>(v, c),
        AttributeType::USE_CANDIDATE => dec::<UseCandidate>(v, c),
        AttributeType::ICE_CONTROLLED => dec::<IceControlled>(v, c),
        AttributeType::ICE_CONTROLLING => dec::<IceControlling>(v, c),
        _ => return None,
    })
}

/// One processed attribute: type, raw value, typed decode.
pub type Decoded = (
    AttributeType,
    Vec<u8>,
    Option<Result<String, AttributeError>>,
);

/// Everything observable about a parsed message, as comparable values.
#[derive(Debug, PartialEq)]
pub struct Summary {
    pub msg_type: stun_proto::MessageType,
    pub id: stun_proto::TransactionId,
    pub attributes: Vec<Decoded>,
    pub unknown_required: Vec<AttributeType>,
}

/// Touches every accessor of `msg` and returns its summary.
pub fn touch(msg: &Message<'_>) -> Summary {
    let ctx = msg.context();
    let key = IntegrityKey::from_bytes(b"robustness");
    let _ = msg.verify_integrity(&key);
    let _ = msg.verify_message_integrity(&key);
    let _ = msg.verify_message_integrity_sha256(&key);
    let _ = msg.verify_fingerprint();
    let _ = (
        msg.has_fingerprint(),
        msg.integrity_algorithm(),
        msg.is_rfc3489(),
        msg.class(),
    );
    let _ = msg.all_attributes().count();
    let _ = msg.get::<Username>();
    let _ = msg.require::<XorMappedAddress>();
    for a in msg.all_attributes() {
        let _ = decode_one(a.attr_type, a.value, &ctx);
        let _ = a.attr_type.to_string();
    }
    Summary {
        msg_type: msg.msg_type(),
        id: msg.transaction_id(),
        attributes: msg
            .attributes()
            .map(|a| {
                (
                    a.attr_type,
                    a.value.to_vec(),
                    decode_one(a.attr_type, a.value, &ctx),
                )
            })
            .collect(),
        unknown_required: msg.unknown_comprehension_required().collect(),
    }
}
