//! STUN attributes: the type registry, the raw TLV view, and the typed
//! attributes of RFC 8489, 8656, 5780, 6062, 8445 and RFC 3489.
//!
//! RFC 8489 §14: every attribute is a 16-bit type, a 16-bit length and a
//! value padded to a multiple of 4 bytes. Types below 0x8000 are
//! comprehension-required: a receiver that does not understand one must
//! reject the message (a server answers 420 with UNKNOWN-ATTRIBUTES).
//!
//! Typed attributes implement [`Attribute`]: `decode` checks the value
//! against its RFC and borrows from the message; `encode` writes exactly
//! `encoded_len` bytes. Values that can violate their RFC have checked
//! constructors, so anything that can be encoded is valid.

mod address;
mod auth;
mod misc;
mod text;

pub use address::{
    AlternateServer, ChangedAddress, MappedAddress, OtherAddress, ReflectedFrom, ResponseOrigin,
    SourceAddress, XorMappedAddress, XorPeerAddress, XorRelayedAddress,
};
pub(crate) use auth::valid_sha256_len;
pub use auth::{
    Fingerprint, MessageIntegrity, MessageIntegritySha256, PasswordAlgorithm, PasswordAlgorithms,
    PasswordAlgorithmsIter, Userhash,
};
pub use misc::{
    AdditionalAddressFamily, AddressFamily, CacheTimeout, ChangeRequest, ChannelNumber,
    ConnectionId, Data, DontFragment, EvenPort, IceControlled, IceControlling, Icmp, Lifetime,
    Padding, Priority, RequestedAddressFamily, RequestedTransport, ReservationToken, ResponsePort,
    UseCandidate,
};
pub use text::{
    AddressErrorCode, AlternateDomain, ErrorCode, MAX_ALTERNATE_DOMAIN, MAX_DECODED_TEXT,
    MAX_ENCODED_TEXT, MAX_ENCODED_USERNAME, MAX_TEXT_CHARS, NONCE_COOKIE_PREFIX, Nonce, Realm,
    SecurityFeatures, Software, UnknownAttributes, UnknownAttributesIter, Username, reason_phrase,
};

use core::fmt;

use crate::error::{AttributeError, AttributeErrorKind};

/// A 16-bit attribute type (IANA "STUN Attributes").
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct AttributeType(pub u16);

macro_rules! attribute_types {
    ($($(#[$doc:meta])* $name:ident = $value:expr, $label:expr;)*) => {
        impl AttributeType {
            $($(#[$doc])* pub const $name: AttributeType = AttributeType($value);)*

            /// The IANA name of a type this crate decodes, or `None`.
            pub const fn name(self) -> Option<&'static str> {
                match self.0 {
                    $($value => Some($label),)*
                    _ => None,
                }
            }
        }
    };
}

attribute_types! {
    /// MAPPED-ADDRESS (RFC 8489 §14.1).
    MAPPED_ADDRESS = 0x0001, "MAPPED-ADDRESS";
    /// RESPONSE-ADDRESS (RFC 3489 §11.2.2; reserved since RFC 5389).
    RESPONSE_ADDRESS = 0x0002, "RESPONSE-ADDRESS";
    /// CHANGE-REQUEST (RFC 5780 §7.2, RFC 3489 §11.2.4).
    CHANGE_REQUEST = 0x0003, "CHANGE-REQUEST";
    /// SOURCE-ADDRESS (RFC 3489 §11.2.5).
    SOURCE_ADDRESS = 0x0004, "SOURCE-ADDRESS";
    /// CHANGED-ADDRESS (RFC 3489 §11.2.3).
    CHANGED_ADDRESS = 0x0005, "CHANGED-ADDRESS";
    /// USERNAME (RFC 8489 §14.3).
    USERNAME = 0x0006, "USERNAME";
    /// PASSWORD (RFC 3489 §11.2.7; reserved since RFC 5389).
    PASSWORD = 0x0007, "PASSWORD";
    /// MESSAGE-INTEGRITY (RFC 8489 §14.5).
    MESSAGE_INTEGRITY = 0x0008, "MESSAGE-INTEGRITY";
    /// ERROR-CODE (RFC 8489 §14.8).
    ERROR_CODE = 0x0009, "ERROR-CODE";
    /// UNKNOWN-ATTRIBUTES (RFC 8489 §14.13).
    UNKNOWN_ATTRIBUTES = 0x000A, "UNKNOWN-ATTRIBUTES";
    /// REFLECTED-FROM (RFC 3489 §11.2.11).
    REFLECTED_FROM = 0x000B, "REFLECTED-FROM";
    /// CHANNEL-NUMBER (RFC 8656 §18.1).
    CHANNEL_NUMBER = 0x000C, "CHANNEL-NUMBER";
    /// LIFETIME (RFC 8656 §18.2).
    LIFETIME = 0x000D, "LIFETIME";
    /// XOR-PEER-ADDRESS (RFC 8656 §18.3).
    XOR_PEER_ADDRESS = 0x0012, "XOR-PEER-ADDRESS";
    /// DATA (RFC 8656 §18.4).
    DATA = 0x0013, "DATA";
    /// REALM (RFC 8489 §14.9).
    REALM = 0x0014, "REALM";
    /// NONCE (RFC 8489 §14.10).
    NONCE = 0x0015, "NONCE";
    /// XOR-RELAYED-ADDRESS (RFC 8656 §18.5).
    XOR_RELAYED_ADDRESS = 0x0016, "XOR-RELAYED-ADDRESS";
    /// REQUESTED-ADDRESS-FAMILY (RFC 8656 §18.6).
    REQUESTED_ADDRESS_FAMILY = 0x0017, "REQUESTED-ADDRESS-FAMILY";
    /// EVEN-PORT (RFC 8656 §18.7).
    EVEN_PORT = 0x0018, "EVEN-PORT";
    /// REQUESTED-TRANSPORT (RFC 8656 §18.8).
    REQUESTED_TRANSPORT = 0x0019, "REQUESTED-TRANSPORT";
    /// DONT-FRAGMENT (RFC 8656 §18.9).
    DONT_FRAGMENT = 0x001A, "DONT-FRAGMENT";
    /// MESSAGE-INTEGRITY-SHA256 (RFC 8489 §14.6).
    MESSAGE_INTEGRITY_SHA256 = 0x001C, "MESSAGE-INTEGRITY-SHA256";
    /// PASSWORD-ALGORITHM (RFC 8489 §14.12).
    PASSWORD_ALGORITHM = 0x001D, "PASSWORD-ALGORITHM";
    /// USERHASH (RFC 8489 §14.4).
    USERHASH = 0x001E, "USERHASH";
    /// XOR-MAPPED-ADDRESS (RFC 8489 §14.2).
    XOR_MAPPED_ADDRESS = 0x0020, "XOR-MAPPED-ADDRESS";
    /// RESERVATION-TOKEN (RFC 8656 §18.10).
    RESERVATION_TOKEN = 0x0022, "RESERVATION-TOKEN";
    /// PRIORITY (RFC 8445 §16.1).
    PRIORITY = 0x0024, "PRIORITY";
    /// USE-CANDIDATE (RFC 8445 §16.1).
    USE_CANDIDATE = 0x0025, "USE-CANDIDATE";
    /// PADDING (RFC 5780 §7.6).
    PADDING = 0x0026, "PADDING";
    /// RESPONSE-PORT (RFC 5780 §7.5).
    RESPONSE_PORT = 0x0027, "RESPONSE-PORT";
    /// CONNECTION-ID (RFC 6062 §6.2.1).
    CONNECTION_ID = 0x002A, "CONNECTION-ID";
    /// ADDITIONAL-ADDRESS-FAMILY (RFC 8656 §18.11).
    ADDITIONAL_ADDRESS_FAMILY = 0x8000, "ADDITIONAL-ADDRESS-FAMILY";
    /// ADDRESS-ERROR-CODE (RFC 8656 §18.12).
    ADDRESS_ERROR_CODE = 0x8001, "ADDRESS-ERROR-CODE";
    /// PASSWORD-ALGORITHMS (RFC 8489 §14.11).
    PASSWORD_ALGORITHMS = 0x8002, "PASSWORD-ALGORITHMS";
    /// ALTERNATE-DOMAIN (RFC 8489 §14.16).
    ALTERNATE_DOMAIN = 0x8003, "ALTERNATE-DOMAIN";
    /// ICMP (RFC 8656 §18.13).
    ICMP = 0x8004, "ICMP";
    /// SOFTWARE (RFC 8489 §14.14).
    SOFTWARE = 0x8022, "SOFTWARE";
    /// ALTERNATE-SERVER (RFC 8489 §14.15).
    ALTERNATE_SERVER = 0x8023, "ALTERNATE-SERVER";
    /// CACHE-TIMEOUT (RFC 5780 §7.7).
    CACHE_TIMEOUT = 0x8027, "CACHE-TIMEOUT";
    /// FINGERPRINT (RFC 8489 §14.7).
    FINGERPRINT = 0x8028, "FINGERPRINT";
    /// ICE-CONTROLLED (RFC 8445 §16.1).
    ICE_CONTROLLED = 0x8029, "ICE-CONTROLLED";
    /// ICE-CONTROLLING (RFC 8445 §16.1).
    ICE_CONTROLLING = 0x802A, "ICE-CONTROLLING";
    /// RESPONSE-ORIGIN (RFC 5780 §7.3).
    RESPONSE_ORIGIN = 0x802B, "RESPONSE-ORIGIN";
    /// OTHER-ADDRESS (RFC 5780 §7.4).
    OTHER_ADDRESS = 0x802C, "OTHER-ADDRESS";
}

impl AttributeType {
    /// Comprehension-required (0x0000..=0x7FFF, RFC 8489 §14): a receiver
    /// that does not understand it must not process the message.
    pub const fn is_comprehension_required(self) -> bool {
        self.0 < 0x8000
    }

    /// Whether this crate decodes the type (it has a name here).
    pub const fn is_known(self) -> bool {
        self.name().is_some()
    }
}

impl fmt::Debug for AttributeType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

impl fmt::Display for AttributeType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.name() {
            Some(name) => f.write_str(name),
            None => write!(f, "attribute {:#06x}", self.0),
        }
    }
}

/// An attribute as it is on the wire: type and value, padding excluded.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RawAttribute<'a> {
    /// The type.
    pub attr_type: AttributeType,
    /// The value (without padding).
    pub value: &'a [u8],
    /// Offset of the attribute header in the message.
    pub offset: usize,
}

/// What typed attributes need from the message around them: the 16 header
/// bytes after the type and length (magic cookie and transaction id), which
/// the XOR address attributes are obfuscated with (RFC 8489 §14.2).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Context {
    pub(crate) xor_key: [u8; 16],
}

impl Context {
    /// The context of a message with this transaction id.
    pub fn new(id: &crate::TransactionId) -> Context {
        Context {
            xor_key: id.header_tail(),
        }
    }
}

/// A typed attribute: decoded on demand from a message, encoded by
/// [`MessageWriter::add`](crate::MessageWriter::add).
pub trait Attribute<'a>: Sized {
    /// The attribute type.
    const TYPE: AttributeType;

    /// Decodes and checks a value (padding excluded).
    fn decode(value: &'a [u8], ctx: &Context) -> Result<Self, AttributeError>;

    /// The value's length in bytes, padding excluded.
    fn encoded_len(&self) -> usize;

    /// Writes the value into `out`, which is exactly `encoded_len()` bytes
    /// and zeroed.
    fn encode(&self, out: &mut [u8], ctx: &Context);
}

/// Shorthand for an error about attribute `A`.
pub(crate) fn error<'a, A: Attribute<'a>>(kind: AttributeErrorKind) -> AttributeError {
    AttributeError::new(A::TYPE, kind)
}

/// Reads a fixed-size value, or reports its length as wrong.
pub(crate) fn exact<'a, 'v, A: Attribute<'a>, const N: usize>(
    value: &'v [u8],
) -> Result<&'v [u8; N], AttributeError> {
    value
        .try_into()
        .map_err(|_| error::<A>(AttributeErrorKind::Length { len: value.len() }))
}

/// Copies `src` into the start of `out` (no-op past its end; never panics).
pub(crate) fn put(out: &mut [u8], at: usize, src: &[u8]) {
    if let Some(dst) = out.get_mut(at..at.saturating_add(src.len())) {
        dst.copy_from_slice(src);
    }
}
