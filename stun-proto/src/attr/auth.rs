//! Authentication attributes (RFC 8489 §14.4-14.7, §14.11-14.12).
//!
//! MESSAGE-INTEGRITY (20 bytes), MESSAGE-INTEGRITY-SHA256 (16..=32 bytes in
//! steps of 4) and FINGERPRINT (4 bytes) decode here for inspection; their
//! lengths are already checked when the message is framed, and they are
//! verified by [`Message::verify_integrity`](crate::Message::verify_integrity)
//! and [`Message::verify_fingerprint`](crate::Message::verify_fingerprint)
//! and written by the [`MessageWriter`](crate::MessageWriter)'s own methods.
//!
//! PASSWORD-ALGORITHM and PASSWORD-ALGORITHMS carry a 16-bit algorithm and
//! parameters padded to 4 bytes; every entry is checked on decode so that
//! iteration cannot fail.

use super::{Attribute, AttributeType, Context, error, exact, put};
use crate::error::{AttributeError, AttributeErrorKind};

/// MESSAGE-INTEGRITY (RFC 8489 §14.5): HMAC-SHA1 of the message.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct MessageIntegrity<'a>(pub &'a [u8; 20]);

impl<'a> Attribute<'a> for MessageIntegrity<'a> {
    const TYPE: AttributeType = AttributeType::MESSAGE_INTEGRITY;

    fn decode(value: &'a [u8], _: &Context) -> Result<Self, AttributeError> {
        exact::<Self, 20>(value).map(MessageIntegrity)
    }

    fn encoded_len(&self) -> usize {
        20
    }

    fn encode(&self, out: &mut [u8], _: &Context) {
        put(out, 0, self.0)
    }
}

/// Whether `len` is a MESSAGE-INTEGRITY-SHA256 length (RFC 8489 §14.6).
pub(crate) const fn valid_sha256_len(len: usize) -> bool {
    len >= 16 && len <= 32 && len % 4 == 0
}

/// MESSAGE-INTEGRITY-SHA256 (RFC 8489 §14.6): HMAC-SHA256 of the message,
/// possibly truncated.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct MessageIntegritySha256<'a>(pub &'a [u8]);

impl<'a> Attribute<'a> for MessageIntegritySha256<'a> {
    const TYPE: AttributeType = AttributeType::MESSAGE_INTEGRITY_SHA256;

    fn decode(value: &'a [u8], _: &Context) -> Result<Self, AttributeError> {
        if valid_sha256_len(value.len()) {
            Ok(MessageIntegritySha256(value))
        } else {
            Err(error::<Self>(AttributeErrorKind::Length {
                len: value.len(),
            }))
        }
    }

    fn encoded_len(&self) -> usize {
        self.0.len()
    }

    fn encode(&self, out: &mut [u8], _: &Context) {
        put(out, 0, self.0)
    }
}

/// FINGERPRINT (RFC 8489 §14.7): CRC-32 of the message XOR 0x5354554E.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Fingerprint(pub u32);

impl<'a> Attribute<'a> for Fingerprint {
    const TYPE: AttributeType = AttributeType::FINGERPRINT;

    fn decode(value: &'a [u8], _: &Context) -> Result<Self, AttributeError> {
        exact::<Self, 4>(value).map(|b| Fingerprint(u32::from_be_bytes(*b)))
    }

    fn encoded_len(&self) -> usize {
        4
    }

    fn encode(&self, out: &mut [u8], _: &Context) {
        put(out, 0, &self.0.to_be_bytes())
    }
}

/// USERHASH (RFC 8489 §14.4): SHA-256 of `username ":" realm`, in place of
/// USERNAME. Compute it with [`crate::auth::userhash`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Userhash<'a>(pub &'a [u8; 32]);

impl<'a> Attribute<'a> for Userhash<'a> {
    const TYPE: AttributeType = AttributeType::USERHASH;

    fn decode(value: &'a [u8], _: &Context) -> Result<Self, AttributeError> {
        exact::<Self, 32>(value).map(Userhash)
    }

    fn encoded_len(&self) -> usize {
        32
    }

    fn encode(&self, out: &mut [u8], _: &Context) {
        put(out, 0, self.0)
    }
}

/// PASSWORD-ALGORITHM (RFC 8489 §14.12): the algorithm the client chose.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct PasswordAlgorithm<'a> {
    /// The algorithm number (RFC 8489 §18.5).
    pub algorithm: u16,
    /// Its parameters (none for MD5 and SHA-256).
    pub params: &'a [u8],
}

impl PasswordAlgorithm<'static> {
    /// MD5 (0x0001): the RFC 5389 key.
    pub const MD5: PasswordAlgorithm<'static> = PasswordAlgorithm {
        algorithm: 0x0001,
        params: &[],
    };
    /// SHA-256 (0x0002).
    pub const SHA256: PasswordAlgorithm<'static> = PasswordAlgorithm {
        algorithm: 0x0002,
        params: &[],
    };
}

const fn pad4(n: usize) -> usize {
    (n + 3) & !3
}

/// Splits one algorithm entry off `b`: the entry and the rest after its
/// padding. `None` if the entry runs past `b`.
fn split_entry(b: &[u8]) -> Option<(PasswordAlgorithm<'_>, &[u8])> {
    let [a0, a1, l0, l1, rest @ ..] = b else {
        return None;
    };
    let plen = usize::from(u16::from_be_bytes([*l0, *l1]));
    let params = rest.get(..plen)?;
    let after = rest.get(pad4(plen).min(rest.len())..).unwrap_or_default();
    let entry = PasswordAlgorithm {
        algorithm: u16::from_be_bytes([*a0, *a1]),
        params,
    };
    Some((entry, after))
}

impl<'a> Attribute<'a> for PasswordAlgorithm<'a> {
    const TYPE: AttributeType = AttributeType::PASSWORD_ALGORITHM;

    fn decode(value: &'a [u8], _: &Context) -> Result<Self, AttributeError> {
        match split_entry(value) {
            Some((entry, [])) => Ok(entry),
            _ => Err(error::<Self>(AttributeErrorKind::Structure)),
        }
    }

    fn encoded_len(&self) -> usize {
        4 + self.params.len()
    }

    fn encode(&self, out: &mut [u8], _: &Context) {
        put(out, 0, &self.algorithm.to_be_bytes());
        put(out, 2, &(self.params.len() as u16).to_be_bytes());
        put(out, 4, self.params);
    }
}

/// PASSWORD-ALGORITHMS (RFC 8489 §14.11): the algorithms a server offers.
#[derive(Clone, Copy, Debug)]
pub struct PasswordAlgorithms<'a>(Repr<'a>);

/// Equal when the entries are, whether built or decoded (padding and
/// representation do not count).
impl PartialEq for PasswordAlgorithms<'_> {
    fn eq(&self, other: &Self) -> bool {
        self.iter().eq(other.iter())
    }
}

impl Eq for PasswordAlgorithms<'_> {}

impl core::hash::Hash for PasswordAlgorithms<'_> {
    fn hash<H: core::hash::Hasher>(&self, state: &mut H) {
        self.iter().for_each(|e| e.hash(state));
    }
}

#[derive(Clone, Copy, Debug)]
enum Repr<'a> {
    Wire(&'a [u8]),
    List(&'a [PasswordAlgorithm<'a>]),
}

impl<'a> PasswordAlgorithms<'a> {
    /// The attribute offering these algorithms, in order of preference.
    pub fn new(list: &'a [PasswordAlgorithm<'a>]) -> Self {
        PasswordAlgorithms(Repr::List(list))
    }

    /// The algorithms, in the order sent.
    pub fn iter(&self) -> PasswordAlgorithmsIter<'a> {
        PasswordAlgorithmsIter {
            repr: self.0,
            pos: 0,
        }
    }
}

/// Iterator over [`PasswordAlgorithms`].
#[derive(Clone, Debug)]
pub struct PasswordAlgorithmsIter<'a> {
    repr: Repr<'a>,
    pos: usize,
}

impl<'a> Iterator for PasswordAlgorithmsIter<'a> {
    type Item = PasswordAlgorithm<'a>;

    fn next(&mut self) -> Option<PasswordAlgorithm<'a>> {
        match self.repr {
            Repr::Wire(b) => {
                let (entry, rest) = split_entry(b)?;
                self.repr = Repr::Wire(rest);
                Some(entry)
            }
            Repr::List(l) => {
                let e = l.get(self.pos).copied();
                self.pos += 1;
                e
            }
        }
    }
}

impl<'a> Attribute<'a> for PasswordAlgorithms<'a> {
    const TYPE: AttributeType = AttributeType::PASSWORD_ALGORITHMS;

    fn decode(value: &'a [u8], _: &Context) -> Result<Self, AttributeError> {
        let mut rest = value;
        while !rest.is_empty() {
            // The last entry's padding may be left to the attribute's own
            // padding: both readings of §14.11 are accepted.
            let (_, after) =
                split_entry(rest).ok_or(error::<Self>(AttributeErrorKind::Structure))?;
            rest = after;
        }
        Ok(PasswordAlgorithms(Repr::Wire(value)))
    }

    fn encoded_len(&self) -> usize {
        match self.0 {
            Repr::Wire(b) => b.len(),
            Repr::List(l) => l.iter().map(|e| 4 + pad4(e.params.len())).sum(),
        }
    }

    fn encode(&self, out: &mut [u8], _: &Context) {
        let mut at = 0;
        for e in self.iter() {
            put(out, at, &e.algorithm.to_be_bytes());
            put(out, at + 2, &(e.params.len() as u16).to_be_bytes());
            put(out, at + 4, e.params);
            at += 4 + pad4(e.params.len());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::TransactionId;

    #[test]
    fn password_algorithms_entries_are_checked() {
        let ctx = Context::new(&TransactionId::Rfc5389([0; 12]));
        let two = [
            0x00, 0x02, 0x00, 0x00, 0x7F, 0xFF, 0x00, 0x03, 0xAA, 0xBB, 0xCC, 0x00,
        ];
        let list = PasswordAlgorithms::decode(&two, &ctx).unwrap();
        let v: Vec<_> = list.iter().collect();
        assert_eq!(v.len(), 2);
        assert_eq!(v[0], PasswordAlgorithm::SHA256);
        assert_eq!(
            (v[1].algorithm, v[1].params),
            (0x7FFF, &[0xAA, 0xBB, 0xCC][..])
        );
        assert!(PasswordAlgorithms::decode(&[0x00, 0x02, 0xFF, 0xFF, 0x00, 0x00], &ctx).is_err());
        assert!(PasswordAlgorithms::decode(&[0x00, 0x02, 0x00], &ctx).is_err());
        assert_eq!(
            PasswordAlgorithms::decode(&two[..11], &ctx)
                .unwrap()
                .iter()
                .count(),
            2
        );
        assert_eq!(
            PasswordAlgorithm::decode(&[0, 1, 0, 0], &ctx).unwrap(),
            PasswordAlgorithm::MD5
        );
        assert!(
            PasswordAlgorithm::decode(&[0, 1, 0, 0, 0, 0, 0, 0], &ctx).is_err(),
            "trailing entry"
        );
    }
}
