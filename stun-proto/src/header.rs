//! The 20-byte STUN header: message type (class and method), length, magic
//! cookie and transaction id.
//!
//! - RFC 8489 §5: header layout, the two leading zero bits, the magic cookie
//!   `0x2112A442`, the 96-bit transaction id.
//! - RFC 8489 §5 figure 3: the interleaving of class bits C0/C1 with the 12
//!   method bits M0..M11.
//! - RFC 8489 §18.2 and RFC 8656 §17, RFC 6062 §6.1: the methods.
//! - RFC 3489 §11.1: the legacy header with a 128-bit transaction id and no
//!   magic cookie. Such messages parse and build, and say so through
//!   [`TransactionId::Rfc3489`].

use core::fmt;

/// The magic cookie of RFC 8489 §5, in network byte order.
pub const MAGIC_COOKIE: u32 = 0x2112_A442;
/// The magic cookie's bytes as they appear on the wire.
pub const MAGIC_COOKIE_BYTES: [u8; 4] = MAGIC_COOKIE.to_be_bytes();
/// Size of the STUN header (RFC 8489 §5).
pub const HEADER_LEN: usize = 20;
/// The largest message the 16-bit length field can describe: the header plus
/// 65532 bytes of attributes (the length is a multiple of 4).
pub const MAX_MESSAGE_LEN: usize = HEADER_LEN + 0xFFFC;

/// The class of a STUN message (RFC 8489 §5).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Class {
    /// A request: the receiver answers with a success or error response.
    Request,
    /// An indication: no response.
    Indication,
    /// A success response.
    Success,
    /// An error response (carries ERROR-CODE).
    Error,
}

impl Class {
    /// The two class bits, C1 C0.
    pub const fn bits(self) -> u16 {
        match self {
            Class::Request => 0b00,
            Class::Indication => 0b01,
            Class::Success => 0b10,
            Class::Error => 0b11,
        }
    }

    const fn from_bits(bits: u16) -> Class {
        match bits & 0b11 {
            0b00 => Class::Request,
            0b01 => Class::Indication,
            0b10 => Class::Success,
            _ => Class::Error,
        }
    }

    /// Whether this class is a response (success or error).
    pub const fn is_response(self) -> bool {
        matches!(self, Class::Success | Class::Error)
    }
}

/// A 12-bit STUN method (RFC 8489 §5, IANA "STUN Methods").
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Method(u16);

impl Method {
    /// Binding (RFC 8489).
    pub const BINDING: Method = Method(0x001);
    /// Allocate (RFC 8656).
    pub const ALLOCATE: Method = Method(0x003);
    /// Refresh (RFC 8656).
    pub const REFRESH: Method = Method(0x004);
    /// Send (RFC 8656; indications only).
    pub const SEND: Method = Method(0x006);
    /// Data (RFC 8656; indications only).
    pub const DATA: Method = Method(0x007);
    /// CreatePermission (RFC 8656).
    pub const CREATE_PERMISSION: Method = Method(0x008);
    /// ChannelBind (RFC 8656).
    pub const CHANNEL_BIND: Method = Method(0x009);
    /// Connect (RFC 6062).
    pub const CONNECT: Method = Method(0x00A);
    /// ConnectionBind (RFC 6062).
    pub const CONNECTION_BIND: Method = Method(0x00B);
    /// ConnectionAttempt (RFC 6062; indications only).
    pub const CONNECTION_ATTEMPT: Method = Method(0x00C);

    /// A method from its 12-bit value; `None` if it does not fit in 12 bits.
    pub const fn new(value: u16) -> Option<Method> {
        if value <= 0x0FFF {
            Some(Method(value))
        } else {
            None
        }
    }

    /// The 12-bit value.
    pub const fn value(self) -> u16 {
        self.0
    }

    /// The IANA name of a method this crate knows.
    pub const fn name(self) -> Option<&'static str> {
        Some(match self.0 {
            0x001 => "Binding",
            0x002 => "SharedSecret",
            0x003 => "Allocate",
            0x004 => "Refresh",
            0x006 => "Send",
            0x007 => "Data",
            0x008 => "CreatePermission",
            0x009 => "ChannelBind",
            0x00A => "Connect",
            0x00B => "ConnectionBind",
            0x00C => "ConnectionAttempt",
            _ => return None,
        })
    }
}

impl fmt::Debug for Method {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.name() {
            Some(name) => f.write_str(name),
            None => write!(f, "Method({:#05x})", self.0),
        }
    }
}

impl fmt::Display for Method {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self, f)
    }
}

/// Class and method together: the 14 significant bits of the first two
/// header bytes (RFC 8489 §5 figure 3).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct MessageType {
    /// The class.
    pub class: Class,
    /// The method.
    pub method: Method,
}

impl MessageType {
    /// A Binding request, the most common message.
    pub const BINDING_REQUEST: MessageType = MessageType::new(Method::BINDING, Class::Request);

    /// A message type from its method and class.
    pub const fn new(method: Method, class: Class) -> MessageType {
        MessageType { class, method }
    }

    /// Decodes the 16-bit type field. `None` if either of the two leading
    /// bits is set (RFC 8489 §6: those bits are always zero).
    pub const fn from_u16(value: u16) -> Option<MessageType> {
        if value & 0xC000 != 0 {
            return None;
        }
        let method = (value & 0x000F) | ((value & 0x00E0) >> 1) | ((value & 0x3E00) >> 2);
        let class = ((value & 0x0010) >> 4) | ((value & 0x0100) >> 7);
        Some(MessageType {
            class: Class::from_bits(class),
            method: Method(method),
        })
    }

    /// Encodes the 16-bit type field.
    pub const fn to_u16(self) -> u16 {
        let m = self.method.0;
        let c = self.class.bits();
        (m & 0x000F)
            | ((m & 0x0070) << 1)
            | ((m & 0x0F80) << 2)
            | ((c & 0b01) << 4)
            | ((c & 0b10) << 7)
    }

    /// The type of the success response to this request.
    pub const fn success(self) -> MessageType {
        MessageType::new(self.method, Class::Success)
    }

    /// The type of the error response to this request.
    pub const fn error(self) -> MessageType {
        MessageType::new(self.method, Class::Error)
    }
}

/// A transaction id. Which variant a parsed message carries tells whether it
/// was framed by RFC 5389/8489 (magic cookie present) or by RFC 3489.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum TransactionId {
    /// RFC 5389/8489: 96 random bits after the magic cookie.
    Rfc5389([u8; 12]),
    /// RFC 3489: 128 bits in place of cookie and id; no FINGERPRINT, and
    /// XOR address attributes are meaningless.
    Rfc3489([u8; 16]),
}

impl TransactionId {
    /// A fresh RFC 8489 transaction id from the caller's RNG (RFC 8489 §6:
    /// "uniformly and randomly chosen from the interval 0 .. 2**96-1").
    pub fn random<R: rand_core::Rng + ?Sized>(rng: &mut R) -> TransactionId {
        let mut id = [0u8; 12];
        rng.fill_bytes(&mut id);
        TransactionId::Rfc5389(id)
    }

    /// The id's bytes: 12 for RFC 5389 ids, 16 for RFC 3489 ids.
    pub fn as_bytes(&self) -> &[u8] {
        match self {
            TransactionId::Rfc5389(id) => id,
            TransactionId::Rfc3489(id) => id,
        }
    }

    /// Whether this is an RFC 3489 (no magic cookie) id.
    pub const fn is_rfc3489(&self) -> bool {
        matches!(self, TransactionId::Rfc3489(_))
    }

    /// Header bytes 4..20: the cookie and id, or the legacy 128-bit id.
    pub(crate) fn header_tail(&self) -> [u8; 16] {
        let mut out = [0u8; 16];
        match self {
            TransactionId::Rfc5389(id) => {
                let (cookie, rest) = out.split_at_mut(4);
                cookie.copy_from_slice(&MAGIC_COOKIE_BYTES);
                rest.copy_from_slice(id);
            }
            TransactionId::Rfc3489(id) => out = *id,
        }
        out
    }

    pub(crate) fn from_header_tail(tail: &[u8; 16]) -> TransactionId {
        let (cookie, id) = tail.split_at(4);
        match <[u8; 12]>::try_from(id) {
            Ok(id) if cookie == MAGIC_COOKIE_BYTES => TransactionId::Rfc5389(id),
            _ => TransactionId::Rfc3489(*tail),
        }
    }
}

impl From<[u8; 12]> for TransactionId {
    fn from(id: [u8; 12]) -> Self {
        TransactionId::Rfc5389(id)
    }
}

impl fmt::Debug for TransactionId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let tag = if self.is_rfc3489() { "rfc3489:" } else { "" };
        write!(f, "TransactionId({tag}")?;
        for b in self.as_bytes() {
            write!(f, "{b:02x}")?;
        }
        f.write_str(")")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc8489_figure3_bit_layout() {
        // Binding request/indication/success/error: 0x0001, 0x0011, 0x0101, 0x0111.
        let cases = [
            (Class::Request, 0x0001),
            (Class::Indication, 0x0011),
            (Class::Success, 0x0101),
            (Class::Error, 0x0111),
        ];
        for (class, wire) in cases {
            let t = MessageType::new(Method::BINDING, class);
            assert_eq!(t.to_u16(), wire, "{class:?}");
            assert_eq!(MessageType::from_u16(wire), Some(t));
        }
        // Allocate error response is 0x0113, ChannelBind success 0x0109.
        assert_eq!(
            MessageType::new(Method::ALLOCATE, Class::Error).to_u16(),
            0x0113
        );
        assert_eq!(
            MessageType::new(Method::CHANNEL_BIND, Class::Success).to_u16(),
            0x0109
        );
    }

    #[test]
    fn every_type_round_trips_and_leading_bits_are_rejected() {
        for v in 0u16..=0x3FFF {
            let t = MessageType::from_u16(v).unwrap();
            assert_eq!(t.to_u16(), v);
        }
        for v in [0x4000u16, 0x8000, 0xC001, 0xFFFF] {
            assert_eq!(MessageType::from_u16(v), None);
        }
    }

    #[test]
    fn method_is_twelve_bits() {
        assert!(Method::new(0x0FFF).is_some());
        assert!(Method::new(0x1000).is_none());
    }
}
