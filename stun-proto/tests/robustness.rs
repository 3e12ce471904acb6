//! Hostile input: every prefix, every single-bit flip, appended bytes and
//! lying length fields of every vector give a typed error naming the check
//! and offset, or a message whose every accessor works. Nothing panics.
//!
//! Stronger than "no panic": CRC-32 detects every single-bit error, so a
//! flipped message that still parses must fail FINGERPRINT; and HMAC covers
//! every byte before MESSAGE-INTEGRITY, so a flip there must fail integrity.

// Integration tests: a panic here is a failed assertion, not a crash on input.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::touch::touch;
use common::vectors::{self, RFC5769_PASSWORD};
use stun_proto::*;

fn key_for(name: &str) -> Option<IntegrityKey> {
    match name {
        "rfc5769-2.1" | "rfc5769-2.2" | "rfc5769-2.3" => {
            Some(IntegrityKey::short_term(RFC5769_PASSWORD).unwrap())
        }
        "rfc5769-2.4" => Some(
            IntegrityKey::long_term(
                vectors::LONG_TERM_USERNAME,
                vectors::REALM,
                vectors::LONG_TERM_PASSWORD_PREPARED,
                LongTermAlgorithm::Md5,
            )
            .unwrap(),
        ),
        "rfc8489-b.1-erratum-6268" => Some(
            IntegrityKey::long_term(
                vectors::LONG_TERM_USERNAME,
                vectors::REALM,
                vectors::LONG_TERM_PASSWORD_PREPARED,
                LongTermAlgorithm::Sha256,
            )
            .unwrap(),
        ),
        _ => None,
    }
}

/// A parse error must name a check and an offset inside the input.
fn check_error(e: &ParseError, len: usize) {
    assert!(
        e.offset() <= len.max(20),
        "{e:?} offset beyond input of {len}"
    );
    assert!(!e.check().is_empty());
    assert!(e.to_string().starts_with("not a STUN message"));
}

#[test]
fn every_prefix_is_a_typed_error() {
    for (name, v) in vectors::all() {
        for cut in 0..v.len() {
            match Message::parse(&v[..cut]) {
                Ok(m) => panic!("{name}: prefix of {cut} bytes parsed as {:?}", m.msg_type()),
                Err(e) => {
                    check_error(&e, cut);
                    if cut < 20 {
                        assert_eq!(e, ParseError::TooShort { len: cut });
                    }
                }
            }
        }
    }
}

#[test]
fn every_single_bit_flip_is_detected_or_harmless() {
    for (name, v) in vectors::all() {
        let original = Message::parse(&v).ok();
        let key = key_for(name);
        for bit in 0..v.len() * 8 {
            let mut m = v.clone();
            m[bit / 8] ^= 1 << (bit % 8);
            let msg = match Message::parse(&m) {
                Ok(msg) => msg,
                Err(e) => {
                    check_error(&e, m.len());
                    continue;
                }
            };
            touch(&msg);
            let Some(orig) = original else { continue };
            if orig.has_fingerprint() {
                assert!(
                    msg.verify_fingerprint().is_err(),
                    "{name}: flip of bit {bit} passed FINGERPRINT"
                );
            }
            if let Some(key) = &key {
                let checked_end = v.len() - if orig.has_fingerprint() { 8 } else { 0 };
                if bit / 8 < checked_end {
                    assert!(
                        msg.verify_integrity(key).is_err(),
                        "{name}: flip of bit {bit} passed MESSAGE-INTEGRITY"
                    );
                }
            }
        }
    }
}

#[test]
fn appended_bytes_are_a_length_mismatch() {
    for (name, v) in vectors::all() {
        for extra in 1..=8 {
            let mut m = v.clone();
            m.extend(std::iter::repeat_n(0u8, extra));
            let e = Message::parse(&m).unwrap_err();
            check_error(&e, m.len());
            if name != "rfc8489-b.1" {
                assert_eq!(
                    e,
                    ParseError::LengthMismatch {
                        declared: v.len(),
                        actual: m.len()
                    },
                    "{name}"
                );
            }
        }
    }
}

#[test]
fn lying_header_length_is_rejected() {
    for (name, v) in vectors::all() {
        let truth = v.len() - 20;
        for length in 0..=u16::MAX {
            let mut m = v.clone();
            m[2..4].copy_from_slice(&length.to_be_bytes());
            match Message::parse(&m) {
                Ok(msg) => {
                    assert_eq!(
                        usize::from(length),
                        truth,
                        "{name}: length {length} accepted"
                    );
                    touch(&msg);
                }
                Err(e) => {
                    check_error(&e, m.len());
                    if length % 4 != 0 {
                        assert_eq!(e, ParseError::LengthNotAligned { length });
                    }
                }
            }
        }
    }
}

#[test]
fn lying_attribute_lengths_are_rejected_or_reframed() {
    for (name, v) in vectors::all() {
        let Ok(msg) = Message::parse(&v) else {
            continue;
        };
        let offsets: Vec<usize> = msg.all_attributes().map(|a| a.offset).collect();
        for at in offsets {
            for length in (0..300).chain((300..=u16::MAX).filter(|l| l % 251 == 0)) {
                let mut m = v.clone();
                m[at + 2..at + 4].copy_from_slice(&length.to_be_bytes());
                match Message::parse(&m) {
                    Ok(msg) => {
                        // Only a reading that still tiles the message exactly
                        // can succeed; every accessor must then work.
                        touch(&msg);
                        let end = msg
                            .all_attributes()
                            .map(|a| a.offset + 4 + a.value.len().div_ceil(4) * 4)
                            .max()
                            .unwrap_or(20);
                        assert_eq!(end, m.len(), "{name}: attribute at {at} length {length}");
                    }
                    Err(e) => check_error(&e, m.len()),
                }
            }
        }
    }
}

#[test]
fn parse_errors_name_their_check_and_offset() {
    assert_eq!(
        Message::parse(&[0x80; 20]).unwrap_err(),
        ParseError::LeadingBitsSet { first_byte: 0x80 }
    );
    // An attribute whose length runs past the end.
    let mut m = vectors::RFC5769_IPV4_RESPONSE.to_vec();
    m[22..24].copy_from_slice(&[0x00, 0x40]);
    let e = Message::parse(&m).unwrap_err();
    assert_eq!(
        e,
        ParseError::AttributeOverrun {
            offset: 20,
            attribute: AttributeType::SOFTWARE,
            length: 0x40
        }
    );
    assert_eq!(e.offset(), 20);
    assert_eq!(e.check(), "attribute within message");
    assert_eq!(
        e.to_string(),
        "not a STUN message: attribute within message check failed at byte 20: SOFTWARE of length 64 runs past the end"
    );
}

#[test]
fn fingerprint_must_be_last() {
    let mut buf = Vec::new();
    let mut w = MessageWriter::new(
        &mut buf,
        MessageType::BINDING_REQUEST,
        TransactionId::Rfc5389([1; 12]),
    );
    w.add_fingerprint().unwrap();
    assert_eq!(
        w.add(&attr::Priority(1)).unwrap_err(),
        BuildError::AfterFingerprint {
            attribute: AttributeType::PRIORITY
        }
    );
    // Forge one on the wire.
    let mut m = w.finish().to_vec();
    m.extend_from_slice(&[0x00, 0x24, 0x00, 0x04, 0, 0, 0, 1]);
    let len = (m.len() - 20) as u16;
    m[2..4].copy_from_slice(&len.to_be_bytes());
    assert_eq!(
        Message::parse(&m).unwrap_err(),
        ParseError::AttributeAfterFingerprint {
            offset: 28,
            attribute: AttributeType::PRIORITY
        }
    );
    // A second FINGERPRINT is also an attribute after the first.
    let mut m = m[..28].to_vec();
    m.extend_from_slice(&[0x80, 0x28, 0x00, 0x04, 0, 0, 0, 0]);
    assert_eq!(
        Message::parse(&m).unwrap_err(),
        ParseError::AttributeAfterFingerprint {
            offset: 28,
            attribute: AttributeType::FINGERPRINT
        }
    );
}

#[test]
fn attributes_after_integrity_are_ignored_except_sha256_and_fingerprint() {
    let key = IntegrityKey::short_term("pw").unwrap();
    let mut buf = Vec::new();
    let mut w = MessageWriter::new(
        &mut buf,
        MessageType::BINDING_REQUEST,
        TransactionId::Rfc5389([2; 12]),
    );
    w.add(&attr::Priority(7))
        .unwrap()
        .add_message_integrity(&key)
        .unwrap();
    assert_eq!(
        w.add(&attr::Priority(8)).unwrap_err(),
        BuildError::AfterIntegrity {
            attribute: AttributeType::PRIORITY
        }
    );
    // Forge: PRIORITY(7) MI PRIORITY(8) USERNAME MI-SHA256 FINGERPRINT.
    w.add_raw(AttributeType::MESSAGE_INTEGRITY_SHA256, &[0; 32])
        .unwrap();
    let mut m = w.as_bytes().to_vec();
    let sha_at = m.len() - 36;
    let tail = m.split_off(sha_at);
    m.extend_from_slice(&[0x00, 0x24, 0x00, 0x04, 0, 0, 0, 8]);
    m.extend_from_slice(&[0x00, 0x06, 0x00, 0x04, b'e', b'v', b'i', b'l']);
    m.extend_from_slice(&tail);
    let len = (m.len() - 20) as u16;
    m[2..4].copy_from_slice(&len.to_be_bytes());
    let msg = Message::parse(&m).unwrap();
    let seen: Vec<AttributeType> = msg.attributes().map(|a| a.attr_type).collect();
    assert_eq!(
        seen,
        [
            AttributeType::PRIORITY,
            AttributeType::MESSAGE_INTEGRITY,
            AttributeType::MESSAGE_INTEGRITY_SHA256
        ]
    );
    assert_eq!(
        msg.get::<attr::Priority>().unwrap(),
        Some(attr::Priority(7))
    );
    assert_eq!(
        msg.get::<attr::Username>().unwrap(),
        None,
        "USERNAME after MI is ignored"
    );
    assert_eq!(msg.all_attributes().count(), 5);
    // MESSAGE-INTEGRITY still verifies: what follows it is not covered.
    assert_eq!(msg.verify_message_integrity(&key), Ok(()));
}

#[test]
fn unknown_comprehension_required_attributes_are_reported() {
    let mut buf = Vec::new();
    let mut w = MessageWriter::new(
        &mut buf,
        MessageType::BINDING_REQUEST,
        TransactionId::Rfc5389([3; 12]),
    );
    w.add_raw(AttributeType(0x7777), b"x").unwrap();
    w.add_raw(AttributeType(0xC001), b"optional").unwrap();
    w.add(&attr::RequestedTransport::UDP).unwrap();
    let msg = Message::parse(w.finish()).unwrap();
    assert_eq!(
        msg.unknown_comprehension_required().collect::<Vec<_>>(),
        [AttributeType(0x7777)]
    );
    // A STUN-only server does not understand TURN's REQUESTED-TRANSPORT.
    let stun_only = |t: AttributeType| t.0 <= 0x0006;
    assert_eq!(
        msg.unknown_comprehension_required_by(stun_only)
            .collect::<Vec<_>>(),
        [AttributeType(0x7777), AttributeType::REQUESTED_TRANSPORT]
    );
    // The raw value of an unknown attribute is kept.
    assert_eq!(
        msg.get_raw(AttributeType(0xC001)).unwrap().value,
        b"optional"
    );
}

#[test]
fn rfc3489_messages_parse_build_and_say_so() {
    let id = TransactionId::Rfc3489(*b"sixteen byte id!");
    let key = IntegrityKey::from_bytes(b"legacy");
    let mut buf = Vec::new();
    let mut w = MessageWriter::new(&mut buf, MessageType::BINDING_REQUEST.success(), id);
    w.add(&attr::MappedAddress("203.0.113.9:3478".parse().unwrap()))
        .unwrap();
    w.add(&attr::SourceAddress("198.51.100.1:3478".parse().unwrap()))
        .unwrap();
    w.add(&attr::ChangedAddress("198.51.100.2:3479".parse().unwrap()))
        .unwrap();
    assert_eq!(
        w.add_message_integrity_sha256(&key).unwrap_err(),
        BuildError::NotInRfc3489 {
            attribute: AttributeType::MESSAGE_INTEGRITY_SHA256
        }
    );
    w.add_message_integrity(&key).unwrap();
    assert_eq!(
        w.add_fingerprint().unwrap_err(),
        BuildError::NotInRfc3489 {
            attribute: AttributeType::FINGERPRINT
        }
    );
    let msg = Message::parse(w.finish()).unwrap();
    assert!(msg.is_rfc3489());
    assert_eq!(msg.transaction_id(), id);
    assert_eq!(
        msg.require::<attr::ChangedAddress>().unwrap().0,
        "198.51.100.2:3479".parse().unwrap()
    );
    // RFC 3489 §11.2.8 integrity: over the message up to MI, zero-padded to
    // 64 bytes, length field unchanged.
    assert_eq!(msg.verify_message_integrity(&key), Ok(()));
    assert!(
        msg.verify_message_integrity(&IntegrityKey::from_bytes(b"other"))
            .is_err()
    );
}

#[test]
fn rfc3489_messages_treat_fingerprint_and_sha256_integrity_as_ordinary() {
    // Found by the decode fuzzer: a cookie-less message carrying 0x8028 must
    // parse and re-encode the same way.
    let bytes: [u8; 28] = [
        0x00, 0x01, 0x00, 0x08, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x80, 0x28, 0x00,
        0x04, 0, 0, 0, 0,
    ];
    let msg = Message::parse(&bytes).unwrap();
    assert!(msg.is_rfc3489());
    assert!(!msg.has_fingerprint());
    assert_eq!(msg.verify_fingerprint(), Err(FingerprintError::Missing));
    let mut buf = Vec::new();
    let mut w = MessageWriter::new(&mut buf, msg.msg_type(), msg.transaction_id());
    for a in msg.attributes() {
        w.add_raw(a.attr_type, a.value).unwrap();
    }
    w.add_raw(AttributeType::MESSAGE_INTEGRITY_SHA256, &[0; 16])
        .unwrap();
    assert_eq!(&w.finish()[20..28], &bytes[20..28]);
}

#[test]
fn an_rfc3489_id_beginning_with_the_cookie_is_framed_as_rfc5389() {
    // Found by the roundtrip fuzzer: on the wire such a message is an
    // RFC 5389 one, so the writer must sign it as one.
    let mut id = [0u8; 16];
    id[..4].copy_from_slice(&MAGIC_COOKIE_BYTES);
    id[4] = 9;
    let key = IntegrityKey::from_bytes(b"k");
    let mut buf = Vec::new();
    let mut w = MessageWriter::new(
        &mut buf,
        MessageType::BINDING_REQUEST,
        TransactionId::Rfc3489(id),
    );
    w.add_message_integrity(&key)
        .unwrap()
        .add_fingerprint()
        .unwrap();
    let msg = Message::parse(w.finish()).unwrap();
    assert_eq!(
        msg.transaction_id(),
        TransactionId::Rfc5389(id[4..].try_into().unwrap())
    );
    assert_eq!(msg.verify_integrity(&key), Ok(IntegrityAlgorithm::Sha1));
    assert_eq!(msg.verify_fingerprint(), Ok(()));
}

#[test]
fn list_attributes_compare_by_entries() {
    use attr::{Attribute, PasswordAlgorithm, PasswordAlgorithms, UnknownAttributes};
    let ctx = attr::Context::new(&TransactionId::Rfc5389([0; 12]));
    let built = [
        PasswordAlgorithm {
            algorithm: 9,
            params: &[1, 2, 3],
        },
        PasswordAlgorithm::MD5,
    ];
    let wire = [0, 9, 0, 3, 1, 2, 3, 0xEE, 0, 1, 0, 0];
    assert_eq!(
        PasswordAlgorithms::new(&built),
        PasswordAlgorithms::decode(&wire, &ctx).unwrap()
    );
    let types = [AttributeType(0x7001)];
    assert_eq!(
        UnknownAttributes::new(&types),
        UnknownAttributes::decode(&[0x70, 0x01], &ctx).unwrap()
    );
}
