//! Arbitrary bytes as a datagram: parse them as STUN, touch everything a
//! parsed message offers, then rebuild the message from its processed
//! attributes and check that the rebuilt one decodes to the same thing.
//! The same bytes also go to the demultiplexer and the ChannelData parser.

#![no_main]

use std::fmt::Write as _;
use std::hint::black_box;

use libfuzzer_sys::fuzz_target;
use stun_proto::attr::AttributeType;
use stun_proto::demux::{self, PacketKind};
use stun_proto::{
    BuildError, ChannelData, IntegrityKey, Message, MessageType, MessageWriter, RawAttribute,
    Transport, frame_len,
};
use stun_proto_fuzz::{Typed, add, decode, get};

fuzz_target!(|data: &[u8]| {
    let kind = demux::classify(data);
    black_box(kind);
    check_frame_len(data);
    for transport in [Transport::Datagram, Transport::Stream] {
        check_channel_data(data, transport, kind);
    }
    let mut s = String::new();
    match Message::parse(data) {
        Ok(msg) => {
            check_message(data, &msg);
            reencode(&msg);
        }
        Err(e) => {
            let _ = write!(s, "{e} {e:?} {} {}", e.offset(), e.check());
        }
    }
    black_box(s);
});

/// The key the integrity checks run with; the seeds that carry integrity
/// were made with it.
fn key() -> IntegrityKey {
    IntegrityKey::from_bytes(b"fuzz-key")
}

fn check_frame_len(data: &[u8]) {
    match frame_len(data) {
        Ok(Some(len)) => assert!(data.len() >= 4 && len >= 4, "frame_len {len}"),
        Ok(None) => assert!(data.len() < 4),
        Err(e) => {
            let first = data.first().copied().unwrap_or(0);
            assert!(first >= 0x50, "{e} for first byte {first:#04x}");
        }
    }
}

fn check_channel_data(data: &[u8], transport: Transport, kind: PacketKind) {
    let Ok(cd) = ChannelData::parse(data, transport) else {
        return;
    };
    assert_eq!(kind, PacketKind::ChannelData);
    let (channel, payload) = (cd.channel(), cd.data());
    assert_eq!(data.get(4..4 + payload.len()), Some(payload));
    assert_eq!(u16::from_be_bytes([data[0], data[1]]), channel);
    let encoded = cd.encoded_len(transport);
    let padded = 4 + payload.len().next_multiple_of(4);
    match transport {
        Transport::Stream => assert_eq!(data.len(), padded),
        Transport::Datagram => assert!((4 + payload.len()..=padded).contains(&data.len())),
    }
    if transport == Transport::Stream {
        assert_eq!(frame_len(data), Ok(Some(data.len())));
    }
    // Writing it back gives the same header and data, zero padding, and
    // parses to the same message.
    let mut out = Vec::new();
    cd.write(&mut out, transport);
    assert_eq!(out.len(), encoded);
    assert_eq!(out.get(..4 + payload.len()), data.get(..4 + payload.len()));
    assert!(out.iter().skip(4 + payload.len()).all(|&b| b == 0));
    assert_eq!(ChannelData::parse(&out, transport), Ok(cd));
    assert_eq!(ChannelData::new(channel, payload), Ok(cd));
}

/// Everything a parsed message offers, checked for consistency where the
/// answer is known.
fn check_message(data: &[u8], msg: &Message<'_>) {
    assert_eq!(msg.as_bytes(), data);
    assert_eq!(frame_len(data), Ok(Some(data.len())));
    let msg_type = msg.msg_type();
    assert_eq!(msg_type.class, msg.class());
    assert_eq!(msg_type.method, msg.method());
    assert_eq!(msg_type.to_u16().to_be_bytes(), [data[0], data[1]]);
    assert_eq!(MessageType::from_u16(msg_type.to_u16()), Some(msg_type));
    let id = msg.transaction_id();
    assert_eq!(id.is_rfc3489(), msg.is_rfc3489());
    assert_eq!(id.as_bytes().len(), if msg.is_rfc3489() { 16 } else { 12 });
    assert!(data[4..stun_proto::HEADER_LEN].ends_with(id.as_bytes()));
    black_box((
        msg.context(),
        msg.class().is_response(),
        msg.method().name(),
        format!("{:?} {} {id:?}", msg.method(), msg.method()),
    ));

    // The processed attributes are a subsequence of all of them, in order
    // and within the message.
    let all: Vec<RawAttribute<'_>> = msg.all_attributes().collect();
    let processed: Vec<RawAttribute<'_>> = msg.attributes().collect();
    let mut rest = all.iter();
    for p in &processed {
        assert!(rest.any(|a| a == p), "{p:?} not among all attributes");
    }
    let mut end = stun_proto::HEADER_LEN;
    for a in &all {
        assert_eq!(a.offset, end, "attributes are contiguous");
        assert_eq!(
            data.get(a.offset + 4..a.offset + 4 + a.value.len()),
            Some(a.value)
        );
        end = a.offset + 4 + a.value.len().next_multiple_of(4);
    }
    assert_eq!(end, data.len(), "attributes cover the message");

    let ctx = msg.context();
    let mut seen: Vec<AttributeType> = Vec::new();
    for raw in &processed {
        let typed = decode(raw, &ctx);
        typed.touch();
        let _ = format!("{} {:?}", raw.attr_type, raw.attr_type.name());
        // `Message::get` answers with the first processed attribute of the
        // type.
        if !seen.contains(&raw.attr_type) {
            seen.push(raw.attr_type);
            assert_eq!(get(msg, raw.attr_type), Some(typed));
            assert_eq!(msg.get_raw(raw.attr_type), Some(*raw));
        }
        retype(msg, &typed);
    }
    for raw in all.iter().filter(|a| !processed.contains(a)) {
        decode(raw, &ctx).touch();
    }

    let unknown: Vec<AttributeType> = msg.unknown_comprehension_required().collect();
    let expected: Vec<AttributeType> = processed
        .iter()
        .map(|a| a.attr_type)
        .filter(|t| t.is_comprehension_required() && !t.is_known())
        .collect();
    assert_eq!(unknown, expected);
    assert_eq!(msg.unknown_comprehension_required_by(|_| true).count(), 0);

    let key = key();
    let sha1 = msg.verify_message_integrity(&key);
    let sha256 = msg.verify_message_integrity_sha256(&key);
    let either = msg.verify_integrity(&key);
    let fingerprint = msg.verify_fingerprint();
    assert_eq!(
        sha1.is_err_and(|e| e == stun_proto::IntegrityError::Missing),
        !msg.has_message_integrity()
    );
    assert_eq!(
        sha256.is_err_and(|e| e == stun_proto::IntegrityError::Missing),
        !msg.has_message_integrity_sha256()
    );
    assert_eq!(
        fingerprint.is_err_and(|e| e == stun_proto::FingerprintError::Missing),
        !msg.has_fingerprint()
    );
    match msg.integrity_algorithm() {
        Some(stun_proto::IntegrityAlgorithm::Sha256) => {
            assert_eq!(either.map(|_| ()), sha256);
        }
        Some(stun_proto::IntegrityAlgorithm::Sha1) => {
            assert!(!msg.has_message_integrity_sha256());
            assert_eq!(either.map(|_| ()), sha1);
        }
        None => assert_eq!(either, Err(stun_proto::IntegrityError::Missing)),
    }
    let mut s = String::new();
    for e in [sha1, sha256].into_iter().filter_map(Result::err) {
        let _ = write!(s, "{e}");
    }
    if let Err(e) = fingerprint {
        let _ = write!(s, "{e}");
    }
    black_box(s);
}

/// A typed value that decoded is written again with `MessageWriter::add`
/// into a message with the same header; it must decode to the same value.
fn retype(msg: &Message<'_>, typed: &Typed<'_>) {
    let mut buf = Vec::new();
    let mut w = MessageWriter::new(&mut buf, msg.msg_type(), msg.transaction_id());
    match add(&mut w, typed) {
        None => return,
        Some(Ok(())) => {}
        Some(Err(BuildError::ComputedAttribute { attribute })) => {
            assert!(matches!(
                attribute,
                AttributeType::MESSAGE_INTEGRITY
                    | AttributeType::MESSAGE_INTEGRITY_SHA256
                    | AttributeType::FINGERPRINT
            ));
            return;
        }
        Some(Err(e)) => panic!("writer refused a decoded {typed:?}: {e}"),
    }
    let bytes = w.finish();
    let again = Message::parse(bytes).expect("a one-attribute message parses");
    let raws: Vec<RawAttribute<'_>> = again.all_attributes().collect();
    assert_eq!(raws.len(), 1);
    let back = decode(&raws[0], &again.context());
    assert!(
        back.same_value(typed),
        "{typed:?} re-encoded as {:02x?} decodes as {back:?}",
        raws[0].value
    );
}

/// Builds a message from the processed attributes with `add_raw` and
/// checks that it decodes like the original.
fn reencode(msg: &Message<'_>) {
    let processed: Vec<RawAttribute<'_>> = msg.attributes().collect();
    let mut buf = Vec::new();
    let mut w = MessageWriter::new(&mut buf, msg.msg_type(), msg.transaction_id());
    for raw in &processed {
        if let Err(e) = w.add_raw(raw.attr_type, raw.value) {
            panic!(
                "the writer refuses the processed attribute {} at offset {} of a parsed message: {e}",
                raw.attr_type, raw.offset
            );
        }
    }
    let bytes = w.finish();
    let again = match Message::parse(bytes) {
        Ok(m) => m,
        Err(e) => panic!("rebuilt message does not parse: {e}\n{bytes:02x?}"),
    };
    assert_eq!(again.msg_type(), msg.msg_type());
    assert_eq!(again.class(), msg.class());
    assert_eq!(again.method(), msg.method());
    assert_eq!(again.transaction_id(), msg.transaction_id());
    assert_eq!(again.is_rfc3489(), msg.is_rfc3489());
    assert_eq!(again.context(), msg.context());
    assert_eq!(again.integrity_algorithm(), msg.integrity_algorithm());
    assert_eq!(again.has_message_integrity(), msg.has_message_integrity());
    assert_eq!(
        again.has_message_integrity_sha256(),
        msg.has_message_integrity_sha256()
    );
    assert_eq!(again.has_fingerprint(), msg.has_fingerprint());

    // Only processed attributes were written, so all are processed again.
    let pairs = |m: &Message<'_>, all: bool| -> Vec<(AttributeType, Vec<u8>)> {
        let it = if all {
            m.all_attributes()
        } else {
            m.attributes()
        };
        it.map(|a| (a.attr_type, a.value.to_vec())).collect()
    };
    let original = pairs(msg, false);
    assert_eq!(pairs(&again, false), original);
    assert_eq!(pairs(&again, true), original);
    assert!(
        again
            .unknown_comprehension_required()
            .eq(msg.unknown_comprehension_required())
    );

    let (ctx, ctx_again) = (msg.context(), again.context());
    for (a, b) in processed.iter().zip(again.attributes()) {
        assert_eq!(decode(a, &ctx), decode(&b, &ctx_again), "{}", a.attr_type);
    }
}
