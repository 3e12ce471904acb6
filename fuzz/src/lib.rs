//! Helpers shared by the fuzz targets: one decoder per typed attribute of
//! `stun_proto::attr`, so a target can decode whatever attribute it meets
//! and compare the results between two messages.

use std::fmt::Write as _;
use std::hint::black_box;

use stun_proto::attr::{
    AdditionalAddressFamily, AddressErrorCode, AlternateDomain, AlternateServer, CacheTimeout,
    ChangeRequest, ChangedAddress, ChannelNumber, ConnectionId, Context, Data, DontFragment,
    ErrorCode, EvenPort, Fingerprint, IceControlled, IceControlling, Icmp, Lifetime, MappedAddress,
    MessageIntegrity, MessageIntegritySha256, Nonce, OtherAddress, Padding, PasswordAlgorithm,
    PasswordAlgorithms, Priority, Realm, ReflectedFrom, RequestedAddressFamily, RequestedTransport,
    ReservationToken, ResponseOrigin, ResponsePort, Software, SourceAddress, UnknownAttributes,
    UseCandidate, Userhash, Username, XorMappedAddress, XorPeerAddress, XorRelayedAddress,
};
use stun_proto::{
    Attribute, AttributeError, AttributeType, BuildError, Message, MessageWriter, RawAttribute,
};

/// Declares [`Typed`] and the functions that dispatch on an attribute type,
/// from one list of `Variant(Type)` pairs.
macro_rules! typed_attributes {
    ($($variant:ident($ty:ty)),* $(,)?) => {
        /// The typed decode of one attribute: the result of `decode` for
        /// the typed attribute of its type, or `Untyped` for a type that has
        /// none.
        #[derive(Clone, Copy, Debug, PartialEq, Eq)]
        pub enum Typed<'a> {
            $($variant(Result<$ty, AttributeError>),)*
            /// A type without a typed attribute in `stun_proto::attr`.
            Untyped(AttributeType),
        }

        /// Every attribute type that has a typed attribute.
        // `'a` names the lifetime of the borrowing attribute types listed.
        #[allow(clippy::extra_unused_lifetimes)]
        pub fn typed_types<'a>() -> Vec<AttributeType> {
            vec![$(<$ty as Attribute<'a>>::TYPE),*]
        }

        /// Decodes `raw` with the typed attribute of its type.
        pub fn decode<'a>(raw: &RawAttribute<'a>, ctx: &Context) -> Typed<'a> {
            $(
                if raw.attr_type == <$ty as Attribute<'a>>::TYPE {
                    return Typed::$variant(<$ty as Attribute<'a>>::decode(raw.value, ctx));
                }
            )*
            Typed::Untyped(raw.attr_type)
        }

        /// `Message::get` for the typed attribute of `attr_type`: `None` if
        /// the message has no processed attribute of that type.
        pub fn get<'a>(msg: &Message<'a>, attr_type: AttributeType) -> Option<Typed<'a>> {
            $(
                if attr_type == <$ty as Attribute<'a>>::TYPE {
                    return match msg.get::<$ty>() {
                        Ok(Some(v)) => Some(Typed::$variant(Ok(v))),
                        Ok(None) => None,
                        Err(e) => Some(Typed::$variant(Err(e))),
                    };
                }
            )*
            msg.get_raw(attr_type).map(|_| Typed::Untyped(attr_type))
        }

        impl Typed<'_> {
            /// The decode error, if any.
            pub fn error(&self) -> Option<AttributeError> {
                match self {
                    $(Typed::$variant(Err(e)) => Some(*e),)*
                    _ => None,
                }
            }
        }

        /// Adds a successfully decoded value with `MessageWriter::add`;
        /// `None` for errors and untyped attributes.
        pub fn add(
            w: &mut MessageWriter<'_>,
            typed: &Typed<'_>,
        ) -> Option<Result<(), BuildError>> {
            match typed {
                $(Typed::$variant(Ok(v)) => Some(w.add(v).map(|_| ())),)*
                _ => None,
            }
        }
    };
}

typed_attributes! {
    MappedAddress(MappedAddress),
    XorMappedAddress(XorMappedAddress),
    XorPeerAddress(XorPeerAddress),
    XorRelayedAddress(XorRelayedAddress),
    AlternateServer(AlternateServer),
    ResponseOrigin(ResponseOrigin),
    OtherAddress(OtherAddress),
    ChangedAddress(ChangedAddress),
    SourceAddress(SourceAddress),
    ReflectedFrom(ReflectedFrom),
    MessageIntegrity(MessageIntegrity<'a>),
    MessageIntegritySha256(MessageIntegritySha256<'a>),
    Fingerprint(Fingerprint),
    Userhash(Userhash<'a>),
    PasswordAlgorithm(PasswordAlgorithm<'a>),
    PasswordAlgorithms(PasswordAlgorithms<'a>),
    Lifetime(Lifetime),
    ConnectionId(ConnectionId),
    CacheTimeout(CacheTimeout),
    Priority(Priority),
    IceControlled(IceControlled),
    IceControlling(IceControlling),
    UseCandidate(UseCandidate),
    DontFragment(DontFragment),
    Data(Data<'a>),
    Padding(Padding<'a>),
    RequestedAddressFamily(RequestedAddressFamily),
    AdditionalAddressFamily(AdditionalAddressFamily),
    ChannelNumber(ChannelNumber),
    EvenPort(EvenPort),
    RequestedTransport(RequestedTransport),
    ReservationToken(ReservationToken),
    Icmp(Icmp),
    ChangeRequest(ChangeRequest),
    ResponsePort(ResponsePort),
    Username(Username<'a>),
    Realm(Realm<'a>),
    Nonce(Nonce<'a>),
    Software(Software<'a>),
    AlternateDomain(AlternateDomain<'a>),
    ErrorCode(ErrorCode<'a>),
    AddressErrorCode(AddressErrorCode<'a>),
    UnknownAttributes(UnknownAttributes<'a>),
}

impl Typed<'_> {
    /// Whether two decodes mean the same thing. Equal to `==` except for
    /// the list attributes, whose `PartialEq` compares the wire bytes
    /// (including the padding inside PASSWORD-ALGORITHMS entries) or tells
    /// a built list from a decoded one: those compare their items.
    pub fn same_value(&self, other: &Typed<'_>) -> bool {
        match (self, other) {
            (Typed::PasswordAlgorithms(Ok(a)), Typed::PasswordAlgorithms(Ok(b))) => {
                a.iter().eq(b.iter())
            }
            (Typed::UnknownAttributes(Ok(a)), Typed::UnknownAttributes(Ok(b))) => {
                a.iter().eq(b.iter())
            }
            _ => self == other,
        }
    }

    /// Calls every accessor of the decoded value and formats it and its
    /// error (none of which may panic).
    pub fn touch(&self) {
        let mut s = String::new();
        let _ = write!(s, "{self:?}");
        match self {
            Typed::PasswordAlgorithms(Ok(a)) => {
                for e in a.iter() {
                    black_box((e.algorithm, e.params));
                    black_box(stun_proto::LongTermAlgorithm::from_number(e.algorithm));
                }
            }
            Typed::PasswordAlgorithm(Ok(a)) => {
                black_box(stun_proto::LongTermAlgorithm::from_number(a.algorithm));
            }
            Typed::UnknownAttributes(Ok(a)) => {
                assert_eq!(a.iter().count() * 2, a.encoded_len());
                for t in a.iter() {
                    let _ = write!(s, "{t} {:?} {}", t.name(), t.is_comprehension_required());
                }
            }
            Typed::ErrorCode(Ok(e)) => {
                assert!((300..=699).contains(&e.code()), "{e:?}");
                black_box(e.reason());
            }
            Typed::AddressErrorCode(Ok(e)) => {
                assert!((300..=699).contains(&e.code()), "{e:?}");
                black_box((e.family(), e.reason()));
            }
            Typed::Nonce(Ok(n)) => {
                black_box(n.as_str());
                if let Some(f) = n.security_features() {
                    black_box((f.password_algorithms(), f.username_anonymity()));
                    // The cookie re-encodes the bits it was decoded from.
                    assert_eq!(n.as_str().as_bytes().get(..13), Some(&f.cookie()[..]));
                }
            }
            Typed::Username(Ok(t)) => {
                black_box(t.as_str());
            }
            Typed::Realm(Ok(t)) => {
                black_box(t.as_str());
            }
            Typed::Software(Ok(t)) => {
                black_box(t.as_str());
            }
            Typed::AlternateDomain(Ok(t)) => {
                black_box(t.as_str());
            }
            Typed::ChannelNumber(Ok(c)) => {
                black_box(c.get());
            }
            Typed::RequestedAddressFamily(Ok(f)) => {
                black_box(f.family());
            }
            Typed::AdditionalAddressFamily(Ok(f)) => {
                black_box(f.family());
            }
            _ => {}
        }
        if let Some(e) = self.error() {
            let _ = write!(s, "{e} {}", e.attribute);
        }
        black_box(s);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every type the crate names either has a typed attribute here or is
    /// one of the two RFC 3489 attributes that have none.
    #[test]
    fn every_known_type_is_covered() {
        let typed = typed_types();
        for t in (0..=u16::MAX).map(AttributeType) {
            let expected = t.is_known()
                && t != AttributeType::RESPONSE_ADDRESS
                && t != AttributeType::PASSWORD;
            assert_eq!(typed.contains(&t), expected, "{t}");
        }
    }

    fn seed(name: &str) -> Vec<u8> {
        let path = format!("{}/seeds/decode/seed-{name}", env!("CARGO_MANIFEST_DIR"));
        std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
    }

    /// The decode seeds are what `make_seeds.py` says they are.
    #[test]
    fn decode_seeds_parse_and_verify() {
        use stun_proto::{IntegrityKey, LongTermAlgorithm};

        let vector_key = IntegrityKey::short_term("VOkJxbRl1RmTxUk/WvJxBt").unwrap();
        for name in [
            "rfc5769-request",
            "rfc5769-ipv4-response",
            "rfc5769-ipv6-response",
        ] {
            let bytes = seed(name);
            let msg = Message::parse(&bytes).unwrap();
            msg.verify_integrity(&vector_key).unwrap();
            msg.verify_fingerprint().unwrap();
        }
        assert_eq!(seed("rfc5769-ipv4-response"), stun_proto::doc_example());
        // RFC 5769 §2.4's password needs SASLprep, which maps the soft
        // hyphen away; OpaqueString refuses it, so use the prepared form.
        let long_term = IntegrityKey::long_term(
            "マトリックス",
            "example.org",
            "TheMatrIX",
            LongTermAlgorithm::Md5,
        )
        .unwrap();
        let bytes = seed("rfc5769-long-term");
        Message::parse(&bytes)
            .unwrap()
            .verify_integrity(&long_term)
            .unwrap();
        let bytes = seed("rfc8489-b1");
        let msg = Message::parse(&bytes).unwrap();
        let userhash = stun_proto::auth::userhash("マトリックス", "example.org").unwrap();
        assert_eq!(msg.get::<Userhash>().unwrap(), Some(Userhash(&userhash)));

        let key = IntegrityKey::from_bytes(b"fuzz-key");
        for name in [
            "turn-allocate",
            "turn-allocate-success",
            "ice-check",
            "rfc3489-response",
        ] {
            let bytes = seed(name);
            let msg = Message::parse(&bytes).unwrap();
            msg.verify_integrity(&key).unwrap();
            if msg.has_message_integrity_sha256() {
                msg.verify_message_integrity(&key).unwrap();
            }
            if !msg.is_rfc3489() {
                msg.verify_fingerprint().unwrap();
            }
        }
        for name in ["turn-401", "turn-send", "rfc3489-request"] {
            let bytes = seed(name);
            let msg = Message::parse(&bytes).unwrap();
            let ctx = msg.context();
            for raw in msg.attributes() {
                assert!(decode(&raw, &ctx).error().is_none(), "{name}: {raw:?}");
            }
        }
        for name in ["channel-data", "channel-data-unpadded"] {
            stun_proto::ChannelData::parse(&seed(name), stun_proto::Transport::Datagram).unwrap();
        }
    }
}
