//! Fixed-format attributes of TURN, NAT behaviour discovery and ICE.
//!
//! - RFC 8656 §18: CHANNEL-NUMBER (16-bit number, 16 RFFU bits), LIFETIME
//!   (32-bit seconds), DATA, REQUESTED-ADDRESS-FAMILY and
//!   ADDITIONAL-ADDRESS-FAMILY (family byte, 24 reserved bits), EVEN-PORT (one
//!   byte, R flag), REQUESTED-TRANSPORT (protocol byte, 24 RFFU bits),
//!   DONT-FRAGMENT (empty), RESERVATION-TOKEN (8 bytes), ICMP (16 reserved
//!   bits, type, code, 32-bit error data).
//! - RFC 6062 §6.2.1: CONNECTION-ID (32 bits).
//! - RFC 5780 §7: CHANGE-REQUEST (flags A = change IP 0x4, B = change port
//!   0x2), RESPONSE-PORT (16-bit port followed by 2 bytes of padding; both
//!   the 2-byte and the 4-byte encodings seen in deployed servers are
//!   accepted, 4 bytes are sent as coturn does), PADDING, CACHE-TIMEOUT.
//! - RFC 8445 §16.1: PRIORITY (32 bits), USE-CANDIDATE (empty),
//!   ICE-CONTROLLED and ICE-CONTROLLING (64-bit tie-breaker).
//!
//! Reserved and RFFU bits are sent as zero and ignored on receipt.

use super::{Attribute, AttributeType, Context, error, exact, put};
use crate::error::{AttributeError, AttributeErrorKind};

macro_rules! integer_attribute {
    ($(#[$doc:meta])* $name:ident($int:ty), $type:ident) => {
        $(#[$doc])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub struct $name(pub $int);

        impl<'a> Attribute<'a> for $name {
            const TYPE: AttributeType = AttributeType::$type;

            fn decode(value: &'a [u8], _: &Context) -> Result<Self, AttributeError> {
                exact::<Self, { size_of::<$int>() }>(value).map(|b| $name(<$int>::from_be_bytes(*b)))
            }

            fn encoded_len(&self) -> usize {
                size_of::<$int>()
            }

            fn encode(&self, out: &mut [u8], _: &Context) {
                put(out, 0, &self.0.to_be_bytes())
            }
        }
    };
}

macro_rules! flag_attribute {
    ($(#[$doc:meta])* $name:ident, $type:ident) => {
        $(#[$doc])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
        pub struct $name;

        impl<'a> Attribute<'a> for $name {
            const TYPE: AttributeType = AttributeType::$type;

            fn decode(value: &'a [u8], _: &Context) -> Result<Self, AttributeError> {
                exact::<Self, 0>(value).map(|_| $name)
            }

            fn encoded_len(&self) -> usize {
                0
            }

            fn encode(&self, _: &mut [u8], _: &Context) {}
        }
    };
}

macro_rules! bytes_attribute {
    ($(#[$doc:meta])* $name:ident, $type:ident) => {
        $(#[$doc])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
        pub struct $name<'a>(pub &'a [u8]);

        impl<'a> Attribute<'a> for $name<'a> {
            const TYPE: AttributeType = AttributeType::$type;

            fn decode(value: &'a [u8], _: &Context) -> Result<Self, AttributeError> {
                Ok($name(value))
            }

            fn encoded_len(&self) -> usize {
                self.0.len()
            }

            fn encode(&self, out: &mut [u8], _: &Context) {
                put(out, 0, self.0)
            }
        }
    };
}

integer_attribute!(
    /// LIFETIME (RFC 8656 §18.2): seconds until an allocation expires.
    Lifetime(u32), LIFETIME
);
integer_attribute!(
    /// CONNECTION-ID (RFC 6062 §6.2.1).
    ConnectionId(u32), CONNECTION_ID
);
integer_attribute!(
    /// CACHE-TIMEOUT (RFC 5780 §7.7): seconds the server expects its NAT
    /// binding test results to stay valid.
    CacheTimeout(u32), CACHE_TIMEOUT
);
integer_attribute!(
    /// PRIORITY (RFC 8445 §7.1.1): the priority a peer-reflexive candidate
    /// learned from this check would have.
    Priority(u32), PRIORITY
);
integer_attribute!(
    /// ICE-CONTROLLED (RFC 8445 §7.1.3): the sender's tie-breaker.
    IceControlled(u64), ICE_CONTROLLED
);
integer_attribute!(
    /// ICE-CONTROLLING (RFC 8445 §7.1.3): the sender's tie-breaker.
    IceControlling(u64), ICE_CONTROLLING
);
flag_attribute!(
    /// USE-CANDIDATE (RFC 8445 §7.1.2): the controlling agent nominates.
    UseCandidate, USE_CANDIDATE
);
flag_attribute!(
    /// DONT-FRAGMENT (RFC 8656 §18.9): set DF on relayed packets.
    DontFragment, DONT_FRAGMENT
);
bytes_attribute!(
    /// DATA (RFC 8656 §18.4): application bytes in Send/Data indications.
    Data, DATA
);
bytes_attribute!(
    /// PADDING (RFC 5780 §7.6): filler that makes a response fragment.
    Padding, PADDING
);

/// An IP address family as STUN encodes it (RFC 8489 §14.1).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum AddressFamily {
    /// 0x01.
    V4,
    /// 0x02.
    V6,
}

impl AddressFamily {
    /// The wire value.
    pub const fn to_u8(self) -> u8 {
        match self {
            AddressFamily::V4 => 0x01,
            AddressFamily::V6 => 0x02,
        }
    }

    /// From the wire value.
    pub const fn from_u8(v: u8) -> Option<Self> {
        match v {
            0x01 => Some(AddressFamily::V4),
            0x02 => Some(AddressFamily::V6),
            _ => None,
        }
    }
}

macro_rules! family_attribute {
    ($(#[$doc:meta])* $name:ident, $type:ident) => {
        $(#[$doc])*
        ///
        /// The family byte is kept as sent so that a server can answer 440
        /// (Address Family not Supported) to values it does not know.
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
        pub struct $name(pub u8);

        impl $name {
            /// The attribute for a family.
            pub const fn new(family: AddressFamily) -> Self {
                $name(family.to_u8())
            }

            /// The family, if it is one STUN defines.
            pub const fn family(&self) -> Option<AddressFamily> {
                AddressFamily::from_u8(self.0)
            }
        }

        impl<'a> Attribute<'a> for $name {
            const TYPE: AttributeType = AttributeType::$type;

            fn decode(value: &'a [u8], _: &Context) -> Result<Self, AttributeError> {
                exact::<Self, 4>(value).map(|b| $name(b[0]))
            }

            fn encoded_len(&self) -> usize {
                4
            }

            fn encode(&self, out: &mut [u8], _: &Context) {
                put(out, 0, &[self.0])
            }
        }
    };
}

family_attribute!(
    /// REQUESTED-ADDRESS-FAMILY (RFC 8656 §18.6).
    RequestedAddressFamily, REQUESTED_ADDRESS_FAMILY
);
family_attribute!(
    /// ADDITIONAL-ADDRESS-FAMILY (RFC 8656 §18.11): only IPv6 is valid.
    AdditionalAddressFamily, ADDITIONAL_ADDRESS_FAMILY
);

/// CHANNEL-NUMBER (RFC 8656 §18.1). Only 0x4000..=0x4FFF are channels
/// (§12); other values do not decode.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ChannelNumber(u16);

impl ChannelNumber {
    /// The lowest channel number (RFC 8656 §12).
    pub const MIN: u16 = 0x4000;
    /// The highest channel number (RFC 8656 §12).
    pub const MAX: u16 = 0x4FFF;

    /// A channel number, checked against 0x4000..=0x4FFF.
    pub fn new(channel: u16) -> Result<Self, AttributeError> {
        if (Self::MIN..=Self::MAX).contains(&channel) {
            Ok(ChannelNumber(channel))
        } else {
            Err(error::<Self>(AttributeErrorKind::ChannelRange { channel }))
        }
    }

    /// The number.
    pub const fn get(self) -> u16 {
        self.0
    }
}

impl<'a> Attribute<'a> for ChannelNumber {
    const TYPE: AttributeType = AttributeType::CHANNEL_NUMBER;

    fn decode(value: &'a [u8], _: &Context) -> Result<Self, AttributeError> {
        let b = exact::<Self, 4>(value)?;
        ChannelNumber::new(u16::from_be_bytes([b[0], b[1]]))
    }

    fn encoded_len(&self) -> usize {
        4
    }

    fn encode(&self, out: &mut [u8], _: &Context) {
        put(out, 0, &self.0.to_be_bytes())
    }
}

/// EVEN-PORT (RFC 8656 §18.7).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub struct EvenPort {
    /// R: reserve the next-higher port for a later allocation.
    pub reserve: bool,
}

impl<'a> Attribute<'a> for EvenPort {
    const TYPE: AttributeType = AttributeType::EVEN_PORT;

    fn decode(value: &'a [u8], _: &Context) -> Result<Self, AttributeError> {
        exact::<Self, 1>(value).map(|b| EvenPort {
            reserve: b[0] & 0x80 != 0,
        })
    }

    fn encoded_len(&self) -> usize {
        1
    }

    fn encode(&self, out: &mut [u8], _: &Context) {
        put(out, 0, &[if self.reserve { 0x80 } else { 0 }])
    }
}

/// REQUESTED-TRANSPORT (RFC 8656 §18.8): the IP protocol number between
/// relay and peer.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct RequestedTransport {
    /// The protocol number (17 UDP; 6 TCP with RFC 6062).
    pub protocol: u8,
}

impl RequestedTransport {
    /// UDP (17), the only value RFC 8656 defines.
    pub const UDP: RequestedTransport = RequestedTransport { protocol: 17 };
    /// TCP (6), for RFC 6062 allocations.
    pub const TCP: RequestedTransport = RequestedTransport { protocol: 6 };
}

impl<'a> Attribute<'a> for RequestedTransport {
    const TYPE: AttributeType = AttributeType::REQUESTED_TRANSPORT;

    fn decode(value: &'a [u8], _: &Context) -> Result<Self, AttributeError> {
        exact::<Self, 4>(value).map(|b| RequestedTransport { protocol: b[0] })
    }

    fn encoded_len(&self) -> usize {
        4
    }

    fn encode(&self, out: &mut [u8], _: &Context) {
        put(out, 0, &[self.protocol])
    }
}

/// RESERVATION-TOKEN (RFC 8656 §18.10).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct ReservationToken(pub [u8; 8]);

impl<'a> Attribute<'a> for ReservationToken {
    const TYPE: AttributeType = AttributeType::RESERVATION_TOKEN;

    fn decode(value: &'a [u8], _: &Context) -> Result<Self, AttributeError> {
        exact::<Self, 8>(value).map(|b| ReservationToken(*b))
    }

    fn encoded_len(&self) -> usize {
        8
    }

    fn encode(&self, out: &mut [u8], _: &Context) {
        put(out, 0, &self.0)
    }
}

/// ICMP (RFC 8656 §18.13): why a relayed packet was dropped.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Icmp {
    /// ICMP (v4 or v6, by the relayed family) type.
    pub icmp_type: u8,
    /// ICMP code.
    pub icmp_code: u8,
    /// The next-hop MTU for "packet too big" / "fragmentation needed", else 0.
    pub error_data: u32,
}

impl<'a> Attribute<'a> for Icmp {
    const TYPE: AttributeType = AttributeType::ICMP;

    fn decode(value: &'a [u8], _: &Context) -> Result<Self, AttributeError> {
        let b = exact::<Self, 8>(value)?;
        Ok(Icmp {
            icmp_type: b[2],
            icmp_code: b[3],
            error_data: u32::from_be_bytes([b[4], b[5], b[6], b[7]]),
        })
    }

    fn encoded_len(&self) -> usize {
        8
    }

    fn encode(&self, out: &mut [u8], _: &Context) {
        put(out, 2, &[self.icmp_type, self.icmp_code]);
        put(out, 4, &self.error_data.to_be_bytes());
    }
}

/// CHANGE-REQUEST (RFC 5780 §7.2; RFC 3489 §11.2.4).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub struct ChangeRequest {
    /// A: answer from the other IP address.
    pub change_ip: bool,
    /// B: answer from the other port.
    pub change_port: bool,
}

impl<'a> Attribute<'a> for ChangeRequest {
    const TYPE: AttributeType = AttributeType::CHANGE_REQUEST;

    fn decode(value: &'a [u8], _: &Context) -> Result<Self, AttributeError> {
        let b = exact::<Self, 4>(value)?;
        Ok(ChangeRequest {
            change_ip: b[3] & 0x04 != 0,
            change_port: b[3] & 0x02 != 0,
        })
    }

    fn encoded_len(&self) -> usize {
        4
    }

    fn encode(&self, out: &mut [u8], _: &Context) {
        let flags = (u8::from(self.change_ip) << 2) | (u8::from(self.change_port) << 1);
        put(out, 3, &[flags])
    }
}

/// RESPONSE-PORT (RFC 5780 §7.5): the port the response must go to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct ResponsePort(pub u16);

impl<'a> Attribute<'a> for ResponsePort {
    const TYPE: AttributeType = AttributeType::RESPONSE_PORT;

    fn decode(value: &'a [u8], _: &Context) -> Result<Self, AttributeError> {
        match value {
            [a, b] | [a, b, _, _] => Ok(ResponsePort(u16::from_be_bytes([*a, *b]))),
            _ => Err(error::<Self>(AttributeErrorKind::Length {
                len: value.len(),
            })),
        }
    }

    fn encoded_len(&self) -> usize {
        4
    }

    fn encode(&self, out: &mut [u8], _: &Context) {
        put(out, 0, &self.0.to_be_bytes())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::TransactionId;

    #[test]
    fn fixed_lengths_are_enforced() {
        let ctx = Context::new(&TransactionId::Rfc5389([0; 12]));
        assert!(Priority::decode(&[0; 3], &ctx).is_err());
        assert!(Priority::decode(&[0; 5], &ctx).is_err());
        assert!(UseCandidate::decode(&[0], &ctx).is_err());
        assert_eq!(
            IceControlling::decode(&[0, 0, 0, 0, 0, 0, 1, 2], &ctx)
                .unwrap()
                .0,
            0x102
        );
        assert!(ChannelNumber::decode(&[0x3F, 0xFF, 0, 0], &ctx).is_err());
        assert!(ChannelNumber::decode(&[0x50, 0x00, 0, 0], &ctx).is_err());
        assert_eq!(
            ChannelNumber::decode(&[0x40, 0x01, 0xFF, 0xFF], &ctx)
                .unwrap()
                .get(),
            0x4001
        );
        assert_eq!(ResponsePort::decode(&[0x12, 0x34], &ctx).unwrap().0, 0x1234);
        assert_eq!(
            ResponsePort::decode(&[0x12, 0x34, 0, 0], &ctx).unwrap().0,
            0x1234
        );
        assert!(ResponsePort::decode(&[0x12, 0x34, 0], &ctx).is_err());
        let cr = ChangeRequest::decode(&[0, 0, 0, 0x06], &ctx).unwrap();
        assert!(cr.change_ip && cr.change_port);
        assert_eq!(
            RequestedAddressFamily::decode(&[0x07, 0, 0, 0], &ctx)
                .unwrap()
                .family(),
            None,
            "an unknown family decodes so a server can answer 440"
        );
    }
}
