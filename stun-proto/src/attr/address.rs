//! Transport-address attributes.
//!
//! - RFC 8489 §14.1 MAPPED-ADDRESS: a zero byte (ignored by receivers), the
//!   family (0x01 IPv4, 0x02 IPv6), the port, and 4 or 16 address bytes.
//!   ALTERNATE-SERVER (§14.15), RFC 5780 RESPONSE-ORIGIN (§7.3) and
//!   OTHER-ADDRESS (§7.4), and RFC 3489 SOURCE-ADDRESS, CHANGED-ADDRESS and
//!   REFLECTED-FROM share this encoding.
//! - RFC 8489 §14.2 XOR-MAPPED-ADDRESS: the same, with the port XORed with
//!   the cookie's top 16 bits and the address with the cookie (IPv4) or the
//!   cookie and transaction id (IPv6). RFC 8656 XOR-PEER-ADDRESS (§18.3) and
//!   XOR-RELAYED-ADDRESS (§18.5) share it.

use core::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use super::{Attribute, AttributeType, Context, error, put};
use crate::error::{AttributeError, AttributeErrorKind};

const FAMILY_IPV4: u8 = 0x01;
const FAMILY_IPV6: u8 = 0x02;

fn decode_address<'a, A: Attribute<'a>>(
    value: &[u8],
    xor: Option<&[u8; 16]>,
) -> Result<SocketAddr, AttributeError> {
    let bad_len = || error::<A>(AttributeErrorKind::Length { len: value.len() });
    let [_, family, p0, p1, rest @ ..] = value else {
        return Err(bad_len());
    };
    let mut port = u16::from_be_bytes([*p0, *p1]);
    let key = xor.copied().unwrap_or([0; 16]);
    if xor.is_some() {
        port ^= u16::from_be_bytes([key[0], key[1]]);
    }
    let ip = match *family {
        FAMILY_IPV4 => {
            let raw: [u8; 4] = rest.try_into().map_err(|_| bad_len())?;
            let mut b = [0u8; 4];
            for ((o, r), k) in b.iter_mut().zip(raw).zip(key) {
                *o = r ^ k;
            }
            IpAddr::V4(Ipv4Addr::from(b))
        }
        FAMILY_IPV6 => {
            let raw: [u8; 16] = rest.try_into().map_err(|_| bad_len())?;
            let mut b = [0u8; 16];
            for ((o, r), k) in b.iter_mut().zip(raw).zip(key) {
                *o = r ^ k;
            }
            IpAddr::V6(Ipv6Addr::from(b))
        }
        family => return Err(error::<A>(AttributeErrorKind::UnknownFamily { family })),
    };
    Ok(SocketAddr::new(ip, port))
}

const fn address_len(addr: &SocketAddr) -> usize {
    match addr {
        SocketAddr::V4(_) => 8,
        SocketAddr::V6(_) => 20,
    }
}

fn encode_address(addr: &SocketAddr, out: &mut [u8], xor: Option<&[u8; 16]>) {
    let key = xor.copied().unwrap_or([0; 16]);
    let port = addr.port() ^ u16::from_be_bytes([key[0], key[1]]);
    put(out, 2, &port.to_be_bytes());
    match addr.ip() {
        IpAddr::V4(ip) => {
            put(out, 1, &[FAMILY_IPV4]);
            let mut b = ip.octets();
            b.iter_mut().zip(key).for_each(|(o, k)| *o ^= k);
            put(out, 4, &b);
        }
        IpAddr::V6(ip) => {
            put(out, 1, &[FAMILY_IPV6]);
            let mut b = ip.octets();
            b.iter_mut().zip(key).for_each(|(o, k)| *o ^= k);
            put(out, 4, &b);
        }
    }
}

macro_rules! address_attribute {
    ($(#[$doc:meta])* $name:ident, $type:ident, xor = $xor:expr) => {
        $(#[$doc])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
        pub struct $name(pub SocketAddr);

        impl<'a> Attribute<'a> for $name {
            const TYPE: AttributeType = AttributeType::$type;

            fn decode(value: &'a [u8], ctx: &Context) -> Result<Self, AttributeError> {
                let key = if $xor { Some(&ctx.xor_key) } else { None };
                decode_address::<Self>(value, key).map($name)
            }

            fn encoded_len(&self) -> usize {
                address_len(&self.0)
            }

            fn encode(&self, out: &mut [u8], ctx: &Context) {
                let key = if $xor { Some(&ctx.xor_key) } else { None };
                encode_address(&self.0, out, key)
            }
        }

        impl From<SocketAddr> for $name {
            fn from(addr: SocketAddr) -> Self {
                $name(addr)
            }
        }
    };
}

address_attribute!(
    /// MAPPED-ADDRESS (RFC 8489 §14.1): the reflexive address, for RFC 3489
    /// clients.
    MappedAddress, MAPPED_ADDRESS, xor = false
);
address_attribute!(
    /// XOR-MAPPED-ADDRESS (RFC 8489 §14.2): the reflexive address.
    XorMappedAddress, XOR_MAPPED_ADDRESS, xor = true
);
address_attribute!(
    /// XOR-PEER-ADDRESS (RFC 8656 §18.3): a peer's address as seen by a relay.
    XorPeerAddress, XOR_PEER_ADDRESS, xor = true
);
address_attribute!(
    /// XOR-RELAYED-ADDRESS (RFC 8656 §18.5): the address a relay allocated.
    XorRelayedAddress, XOR_RELAYED_ADDRESS, xor = true
);
address_attribute!(
    /// ALTERNATE-SERVER (RFC 8489 §14.15): where a 300 answer redirects to.
    AlternateServer, ALTERNATE_SERVER, xor = false
);
address_attribute!(
    /// RESPONSE-ORIGIN (RFC 5780 §7.3): the address a response was sent from.
    ResponseOrigin, RESPONSE_ORIGIN, xor = false
);
address_attribute!(
    /// OTHER-ADDRESS (RFC 5780 §7.4): the server's alternate address and port.
    OtherAddress, OTHER_ADDRESS, xor = false
);
address_attribute!(
    /// CHANGED-ADDRESS (RFC 3489 §11.2.3): the alternate address, classic form.
    ChangedAddress, CHANGED_ADDRESS, xor = false
);
address_attribute!(
    /// SOURCE-ADDRESS (RFC 3489 §11.2.5): the address a response was sent from.
    SourceAddress, SOURCE_ADDRESS, xor = false
);
address_attribute!(
    /// REFLECTED-FROM (RFC 3489 §11.2.11).
    ReflectedFrom, REFLECTED_FROM, xor = false
);

#[cfg(test)]
mod tests {
    use super::*;
    use crate::TransactionId;

    #[test]
    fn first_byte_is_ignored_and_family_must_match_length() {
        let ctx = Context::new(&TransactionId::Rfc5389([0; 12]));
        let v4 = [0xAB, 0x01, 0x12, 0x34, 10, 0, 0, 1];
        assert_eq!(
            MappedAddress::decode(&v4, &ctx).unwrap().0,
            "10.0.0.1:4660".parse().unwrap()
        );
        let mut wrong_family = v4;
        wrong_family[1] = 0x02;
        assert_eq!(
            MappedAddress::decode(&wrong_family, &ctx).unwrap_err().kind,
            AttributeErrorKind::Length { len: 8 }
        );
        let mut unknown = v4;
        unknown[1] = 0x03;
        assert_eq!(
            MappedAddress::decode(&unknown, &ctx).unwrap_err().kind,
            AttributeErrorKind::UnknownFamily { family: 3 }
        );
        assert!(MappedAddress::decode(&v4[..3], &ctx).is_err());
    }
}
