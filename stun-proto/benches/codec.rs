//! The codec side by side: stun-proto ("ours"), webrtc-rs `stun` 0.17 and
//! librice `stun-types` 2, each fed the same bytes, plus a "floor" that does
//! only the unavoidable work (HMAC-SHA1 with a prepared key, CRC-32 with
//! `crc32fast`) over exactly the bytes the RFC covers.
//!
//! One criterion group per case:
//!
//! - `decode_verify`: RFC 5769 §2.1 request; parse, read USERNAME, verify
//!   MESSAGE-INTEGRITY and FINGERPRINT.
//! - `build_response`: Binding success with XOR-MAPPED-ADDRESS,
//!   MESSAGE-INTEGRITY and FINGERPRINT into a reused buffer.
//! - `decode_data_indication`: TURN Data indication (XOR-PEER-ADDRESS, 160
//!   bytes of DATA, FINGERPRINT); read both, verify the fingerprint.
//! - `decode_channel_data`: a ChannelData frame on channel 0x4001 carrying
//!   160 bytes.
//!
//! Before anything is timed, [`check_all`] asserts that every implementation
//! accepts the good input and rejects tampered copies, through the very
//! functions the timed loops call, so no implementation is measured on a path
//! that skips a check. See BENCHMARKS.md for results and how to reproduce.
//!
//! Allocations per call of every implementation are counted through a
//! `stats_alloc` global allocator that only builds with debug assertions
//! enabled (see `alloc_count` and BENCHMARKS.md), so the timed build runs
//! on the plain system allocator.

// Benches are not tests, so clippy.toml's unwrap/expect/panic exemption for
// tests does not reach this file; setup failures here should abort loudly.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

use std::hint::black_box;
use std::net::SocketAddr;
use std::time::Duration;

use criterion::{Criterion, Throughput};
use hmac::{Hmac, KeyInit, Mac};
use sha1::Sha1;

use stun_proto::attr::{Data, Username, XorMappedAddress, XorPeerAddress};
use stun_proto::{
    ChannelData, Class, FINGERPRINT_XOR, IntegrityKey, Message, MessageType, MessageWriter, Method,
    TransactionId, Transport,
};

/// Password of the RFC 5769 §2.1 and §2.2 samples.
const PASSWORD: &str = "VOkJxbRl1RmTxUk/WvJxBt";

/// RFC 5769 §2.1 "Sample Request": SOFTWARE, PRIORITY, ICE-CONTROLLED,
/// USERNAME "evtj:h6vY" (padded with spaces), MESSAGE-INTEGRITY, FINGERPRINT.
const RFC5769_REQUEST: [u8; 108] = [
    // Binding request, length 0x58, magic cookie, transaction id.
    0x00, 0x01, 0x00, 0x58, 0x21, 0x12, 0xa4, 0x42, //
    0xb7, 0xe7, 0xa7, 0x01, 0xbc, 0x34, 0xd6, 0x86, 0xfa, 0x87, 0xdf, 0xae, //
    // SOFTWARE "STUN test client".
    0x80, 0x22, 0x00, 0x10, 0x53, 0x54, 0x55, 0x4e, 0x20, 0x74, 0x65, 0x73, //
    0x74, 0x20, 0x63, 0x6c, 0x69, 0x65, 0x6e, 0x74, //
    // PRIORITY.
    0x00, 0x24, 0x00, 0x04, 0x6e, 0x00, 0x01, 0xff, //
    // ICE-CONTROLLED.
    0x80, 0x29, 0x00, 0x08, 0x93, 0x2f, 0xf9, 0xb1, 0x51, 0x26, 0x3b, 0x36, //
    // USERNAME "evtj:h6vY" and three bytes of padding.
    0x00, 0x06, 0x00, 0x09, 0x65, 0x76, 0x74, 0x6a, 0x3a, 0x68, 0x36, 0x76, //
    0x59, 0x20, 0x20, 0x20, //
    // MESSAGE-INTEGRITY.
    0x00, 0x08, 0x00, 0x14, 0x9a, 0xea, 0xa7, 0x0c, 0xbf, 0xd8, 0xcb, 0x56, //
    0x78, 0x1e, 0xf2, 0xb5, 0xb2, 0xd3, 0xf2, 0x49, 0xc1, 0xb5, 0x71, 0xa2, //
    // FINGERPRINT.
    0x80, 0x28, 0x00, 0x04, 0xe5, 0x7a, 0x3b, 0xcf,
];

/// The RFC 5769 §2.1/§2.2 transaction id.
const TID: [u8; 12] = [
    0xb7, 0xe7, 0xa7, 0x01, 0xbc, 0x34, 0xd6, 0x86, 0xfa, 0x87, 0xdf, 0xae,
];

/// The mapped address of RFC 5769 §2.2.
const MAPPED: &str = "192.0.2.1:32853";
/// The peer of the Data indication.
const PEER: &str = "198.51.100.7:49152";
/// Application data carried by the Data indication and the ChannelData frame.
const PAYLOAD_LEN: usize = 160;
/// The ChannelData channel.
const CHANNEL: u16 = 0x4001;

const USERNAME: &str = "evtj:h6vY";

/// Everything the cases need, prepared once.
struct Fixture {
    request: Vec<u8>,
    /// Offsets of MESSAGE-INTEGRITY and FINGERPRINT in `request`.
    request_mi: usize,
    request_fp: usize,
    mapped: SocketAddr,
    peer: SocketAddr,
    payload: Vec<u8>,
    /// The expected Binding response (built by ours, checked against both
    /// peers byte for byte in [`check_all`]).
    response: Vec<u8>,
    response_mi: usize,
    response_fp: usize,
    indication: Vec<u8>,
    indication_fp: usize,
    channel_data: Vec<u8>,
    ours_key: IntegrityKey,
    webrtc_key: stun::integrity::MessageIntegrity,
    librice_key: stun_types::message::IntegrityKey,
    floor_key: Hmac<Sha1>,
}

fn be16(b: &[u8], at: usize) -> u16 {
    u16::from_be_bytes([b[at], b[at + 1]])
}

/// Offset of the first attribute of type `t` (a plain TLV walk, setup only).
fn offset_of(msg: &[u8], t: u16) -> usize {
    let mut at = 20;
    while at + 4 <= msg.len() {
        if be16(msg, at) == t {
            return at;
        }
        at += 4 + usize::from(be16(msg, at + 2)).next_multiple_of(4);
    }
    panic!("attribute {t:#06x} not found");
}

impl Fixture {
    fn new() -> Fixture {
        let ours_key = IntegrityKey::short_term(PASSWORD).unwrap();
        let mapped: SocketAddr = MAPPED.parse().unwrap();
        let peer: SocketAddr = PEER.parse().unwrap();
        let payload: Vec<u8> = (0..PAYLOAD_LEN)
            .map(|i| (i * 7 + 3) as u8)
            .collect::<Vec<_>>();

        let mut response = Vec::new();
        ours_build(&mut response, &ours_key, mapped).unwrap();

        let mut indication = Vec::new();
        let mut w = MessageWriter::new(
            &mut indication,
            MessageType::new(Method::DATA, Class::Indication),
            TransactionId::Rfc5389(TID),
        );
        w.add(&XorPeerAddress(peer))
            .unwrap()
            .add(&Data(&payload))
            .unwrap()
            .add_fingerprint()
            .unwrap();

        let mut channel_data = Vec::new();
        ChannelData::new(CHANNEL, &payload)
            .unwrap()
            .write(&mut channel_data, Transport::Datagram);

        let request = RFC5769_REQUEST.to_vec();
        Fixture {
            request_mi: offset_of(&request, 0x0008),
            request_fp: offset_of(&request, 0x8028),
            request,
            mapped,
            peer,
            response_mi: offset_of(&response, 0x0008),
            response_fp: offset_of(&response, 0x8028),
            response,
            indication_fp: offset_of(&indication, 0x8028),
            indication,
            channel_data,
            payload,
            ours_key,
            webrtc_key: stun::integrity::MessageIntegrity::new_short_term_integrity(
                PASSWORD.to_owned(),
            ),
            // The cached key: `IntegrityKey` keeps the keyed HMAC state
            // (behind a mutex) after its first use.
            librice_key: stun_types::message::ShortTermCredentials::new(PASSWORD.to_owned())
                .make_key(),
            floor_key: <Hmac<Sha1> as KeyInit>::new_from_slice(PASSWORD.as_bytes()).unwrap(),
        }
    }
}

// ---------------------------------------------------------------------------
// decode_verify
// ---------------------------------------------------------------------------

/// Ours: parse, USERNAME, MESSAGE-INTEGRITY, FINGERPRINT. `f` receives the
/// username (the timed loop takes its length, the checks compare it).
fn ours_decode_verify<R>(
    bytes: &[u8],
    key: &IntegrityKey,
    f: impl FnOnce(&str) -> R,
) -> Result<R, &'static str> {
    let msg = Message::parse(bytes).map_err(|_| "parse")?;
    let user = msg
        .get::<Username>()
        .map_err(|_| "username")?
        .ok_or("username missing")?;
    msg.verify_integrity(key).map_err(|_| "integrity")?;
    msg.verify_fingerprint().map_err(|_| "fingerprint")?;
    Ok(f(user.as_str()))
}

/// webrtc-rs `stun`: a `Message` reused across calls (`write` copies the
/// bytes in and decodes), the typed USERNAME getter, then its integrity and
/// fingerprint checkers.
fn webrtc_decode_verify<R>(
    m: &mut stun::message::Message,
    bytes: &[u8],
    key: &stun::integrity::MessageIntegrity,
    f: impl FnOnce(&str) -> R,
) -> Result<R, &'static str> {
    m.write(bytes).map_err(|_| "parse")?;
    let user = stun::textattrs::TextAttribute::get_from_as(m, stun::attributes::ATTR_USERNAME)
        .map_err(|_| "username")?;
    key.check(m).map_err(|_| "integrity")?;
    stun::fingerprint::FINGERPRINT
        .check(m)
        .map_err(|_| "fingerprint")?;
    Ok(f(&user.text))
}

/// librice `stun-types`: `Message::from_bytes` verifies FINGERPRINT while
/// parsing; typed USERNAME (it copies into a `String`); integrity with the
/// cached key.
fn librice_decode_verify<R>(
    bytes: &[u8],
    key: &stun_types::message::IntegrityKey,
    f: impl FnOnce(&str) -> R,
) -> Result<R, &'static str> {
    let msg = stun_types::message::Message::from_bytes(bytes).map_err(|_| "parse/fingerprint")?;
    let user = msg
        .attribute::<stun_types::attribute::Username>()
        .map_err(|_| "username")?;
    msg.validate_integrity_with_key(key)
        .map_err(|_| "integrity")?;
    Ok(f(user.username()))
}

/// librice `stun-types`, at its fastest: USERNAME read from the raw
/// attribute, so nothing is allocated.
fn librice_raw_decode_verify<R>(
    bytes: &[u8],
    key: &stun_types::message::IntegrityKey,
    f: impl FnOnce(&str) -> R,
) -> Result<R, &'static str> {
    use stun_types::attribute::AttributeStaticType;
    let msg = stun_types::message::Message::from_bytes(bytes).map_err(|_| "parse/fingerprint")?;
    let raw = msg
        .raw_attribute(stun_types::attribute::Username::TYPE)
        .ok_or("username missing")?;
    let user = core::str::from_utf8(&raw.value).map_err(|_| "username")?;
    msg.validate_integrity_with_key(key)
        .map_err(|_| "integrity")?;
    Ok(f(user))
}

/// The floor: HMAC-SHA1 over the header (length adjusted to end after
/// MESSAGE-INTEGRITY) and the attributes before it, constant-time compare;
/// CRC-32 over everything before FINGERPRINT. Offsets are known in advance.
fn floor_verify(bytes: &[u8], key: &Hmac<Sha1>, mi: usize, fp: usize) -> Result<(), &'static str> {
    let adjusted = ((mi + 24 - 20) as u16).to_be_bytes();
    let mut mac = key.clone();
    mac.update(&[bytes[0], bytes[1], adjusted[0], adjusted[1]]);
    mac.update(&bytes[4..mi]);
    mac.verify_slice(&bytes[mi + 4..mi + 24])
        .map_err(|_| "integrity")?;
    floor_fingerprint(bytes, fp)
}

fn floor_fingerprint(bytes: &[u8], fp: usize) -> Result<(), &'static str> {
    let crc = crc32fast::hash(&bytes[..fp]) ^ FINGERPRINT_XOR;
    if bytes[fp + 4..fp + 8] == crc.to_be_bytes() {
        Ok(())
    } else {
        Err("fingerprint")
    }
}

fn bench_decode_verify(c: &mut Criterion, fx: &Fixture) {
    let mut g = c.benchmark_group("decode_verify");
    g.throughput(Throughput::Bytes(fx.request.len() as u64));
    let bytes = fx.request.as_slice();
    g.bench_function("ours", |b| {
        b.iter(|| ours_decode_verify(black_box(bytes), &fx.ours_key, str::len))
    });
    let mut m = stun::message::Message::new();
    g.bench_function("webrtc-stun", |b| {
        b.iter(|| webrtc_decode_verify(&mut m, black_box(bytes), &fx.webrtc_key, str::len))
    });
    g.bench_function("stun-types", |b| {
        b.iter(|| librice_decode_verify(black_box(bytes), &fx.librice_key, str::len))
    });
    g.bench_function("stun-types-raw", |b| {
        b.iter(|| librice_raw_decode_verify(black_box(bytes), &fx.librice_key, str::len))
    });
    g.bench_function("floor", |b| {
        b.iter(|| {
            floor_verify(
                black_box(bytes),
                &fx.floor_key,
                fx.request_mi,
                fx.request_fp,
            )
        })
    });
    g.finish();
}

// ---------------------------------------------------------------------------
// build_response
// ---------------------------------------------------------------------------

/// Ours: a `Vec<u8>` kept by the caller; `MessageWriter::new` clears it.
fn ours_build<'b>(
    buf: &'b mut Vec<u8>,
    key: &IntegrityKey,
    mapped: SocketAddr,
) -> Result<&'b [u8], stun_proto::BuildError> {
    let mut w = MessageWriter::new(
        buf,
        MessageType::BINDING_REQUEST.success(),
        TransactionId::Rfc5389(TID),
    );
    w.add(&XorMappedAddress(mapped))?
        .add_message_integrity(key)?
        .add_fingerprint()?;
    Ok(w.finish())
}

/// webrtc-rs `stun`: the `Message` is reset and rebuilt in place; setters are
/// called directly (`Message::build` would box each one).
fn webrtc_build<'m>(
    m: &'m mut stun::message::Message,
    key: &stun::integrity::MessageIntegrity,
    mapped: &stun::xoraddr::XorMappedAddress,
) -> Result<&'m [u8], stun::Error> {
    use stun::message::Setter;
    m.reset();
    m.typ = stun::message::BINDING_SUCCESS;
    m.transaction_id = stun::agent::TransactionId(TID);
    m.write_header();
    mapped.add_to(m)?;
    key.add_to(m)?;
    stun::fingerprint::FINGERPRINT.add_to(m)?;
    Ok(&m.raw)
}

/// librice `stun-types`: `MessageWriteMutSlice` over a buffer kept by the
/// caller, integrity with the cached key.
fn librice_build<'b>(
    buf: &'b mut [u8],
    key: &stun_types::message::IntegrityKey,
    mapped: SocketAddr,
) -> Result<&'b [u8], stun_types::message::StunWriteError> {
    use stun_types::message::{
        BINDING, IntegrityAlgorithm, MessageClass, MessageType as LMessageType, MessageWrite,
        MessageWriteExt, MessageWriteMutSlice,
    };
    let tid = stun_types::message::TransactionId::from(u128::from_be_bytes(tid16()));
    let mut w = stun_types::message::Message::builder(
        LMessageType::from_class_method(MessageClass::Success, BINDING),
        tid,
        MessageWriteMutSlice::new(&mut *buf),
    );
    w.add_attribute(&stun_types::attribute::XorMappedAddress::new(mapped, tid))?;
    w.add_message_integrity_with_key(key, IntegrityAlgorithm::Sha1)?;
    w.add_fingerprint()?;
    let len = w.finish();
    Ok(&buf[..len])
}

/// The transaction id as the low 96 bits of a `u128`, for stun-types.
fn tid16() -> [u8; 16] {
    let mut b = [0u8; 16];
    b[4..].copy_from_slice(&TID);
    b
}

/// The floor: the HMAC and CRC a response with these attributes needs, over
/// the expected response's bytes (nothing is written).
fn floor_build(bytes: &[u8], key: &Hmac<Sha1>, mi: usize, fp: usize) -> ([u8; 20], u32) {
    let adjusted = ((mi + 24 - 20) as u16).to_be_bytes();
    let mut mac = key.clone();
    mac.update(&[bytes[0], bytes[1], adjusted[0], adjusted[1]]);
    mac.update(&bytes[4..mi]);
    let tag: [u8; 20] = mac.finalize().into_bytes().into();
    (tag, crc32fast::hash(&bytes[..fp]) ^ FINGERPRINT_XOR)
}

fn bench_build_response(c: &mut Criterion, fx: &Fixture) {
    let mut g = c.benchmark_group("build_response");
    g.throughput(Throughput::Bytes(fx.response.len() as u64));
    let mut buf = Vec::with_capacity(128);
    g.bench_function("ours", |b| {
        b.iter(|| ours_build(&mut buf, &fx.ours_key, black_box(fx.mapped)).map(<[u8]>::len))
    });
    let mut m = stun::message::Message::new();
    let mapped = stun::xoraddr::XorMappedAddress {
        ip: fx.mapped.ip(),
        port: fx.mapped.port(),
    };
    g.bench_function("webrtc-stun", |b| {
        b.iter(|| webrtc_build(&mut m, &fx.webrtc_key, black_box(&mapped)).map(<[u8]>::len))
    });
    let mut slice = [0u8; 128];
    g.bench_function("stun-types", |b| {
        b.iter(|| librice_build(&mut slice, &fx.librice_key, black_box(fx.mapped)).map(<[u8]>::len))
    });
    g.bench_function("floor", |b| {
        b.iter(|| {
            floor_build(
                black_box(&fx.response),
                &fx.floor_key,
                fx.response_mi,
                fx.response_fp,
            )
        })
    });
    g.finish();
}

// ---------------------------------------------------------------------------
// decode_data_indication
// ---------------------------------------------------------------------------

fn ours_data_indication<R>(
    bytes: &[u8],
    f: impl FnOnce(SocketAddr, &[u8]) -> R,
) -> Result<R, &'static str> {
    let msg = Message::parse(bytes).map_err(|_| "parse")?;
    if msg.msg_type() != MessageType::new(Method::DATA, Class::Indication) {
        return Err("type");
    }
    let peer = msg
        .get::<XorPeerAddress>()
        .map_err(|_| "peer")?
        .ok_or("peer missing")?;
    let data = msg
        .get::<Data>()
        .map_err(|_| "data")?
        .ok_or("data missing")?;
    msg.verify_fingerprint().map_err(|_| "fingerprint")?;
    Ok(f(peer.0, data.0))
}

/// webrtc-rs `stun` has no TURN attribute types (they live in the `turn`
/// crate); its XOR address getter takes the attribute type, and DATA is read
/// with `Message::get`.
fn webrtc_data_indication<R>(
    m: &mut stun::message::Message,
    bytes: &[u8],
    f: impl FnOnce(SocketAddr, &[u8]) -> R,
) -> Result<R, &'static str> {
    use stun::message::{CLASS_INDICATION, METHOD_DATA, MessageType as WMessageType};
    m.write(bytes).map_err(|_| "parse")?;
    if m.typ != WMessageType::new(METHOD_DATA, CLASS_INDICATION) {
        return Err("type");
    }
    let mut peer = stun::xoraddr::XorMappedAddress::default();
    peer.get_from_as(m, stun::attributes::ATTR_XOR_PEER_ADDRESS)
        .map_err(|_| "peer")?;
    let data = m.get(stun::attributes::ATTR_DATA).map_err(|_| "data")?;
    stun::fingerprint::FINGERPRINT
        .check(m)
        .map_err(|_| "fingerprint")?;
    Ok(f(SocketAddr::new(peer.ip, peer.port), &data))
}

/// librice `stun-types` has no TURN attribute types either (they live in
/// `turn-types`): raw attributes, decoded with its `XorSocketAddr` helper.
/// FINGERPRINT is verified by `from_bytes`.
fn librice_data_indication<R>(
    bytes: &[u8],
    f: impl FnOnce(SocketAddr, &[u8]) -> R,
) -> Result<R, &'static str> {
    use stun_types::attribute::{AttributeType, XorSocketAddr};
    use stun_types::message::{MessageClass, Method as LMethod};
    let msg = stun_types::message::Message::from_bytes(bytes).map_err(|_| "parse/fingerprint")?;
    if !msg.has_class(MessageClass::Indication) || !msg.has_method(LMethod::new(0x007)) {
        return Err("type");
    }
    let raw_peer = msg
        .raw_attribute(AttributeType::new(0x0012))
        .ok_or("peer missing")?;
    let peer = XorSocketAddr::from_raw(&raw_peer)
        .map_err(|_| "peer")?
        .addr(msg.transaction_id());
    let raw_data = msg
        .raw_attribute(AttributeType::new(0x0013))
        .ok_or("data missing")?;
    Ok(f(peer, &raw_data.value))
}

fn bench_data_indication(c: &mut Criterion, fx: &Fixture) {
    let mut g = c.benchmark_group("decode_data_indication");
    g.throughput(Throughput::Bytes(fx.indication.len() as u64));
    let bytes = fx.indication.as_slice();
    let take = |a: SocketAddr, d: &[u8]| (a.port(), d.len());
    g.bench_function("ours", |b| {
        b.iter(|| ours_data_indication(black_box(bytes), take))
    });
    let mut m = stun::message::Message::new();
    g.bench_function("webrtc-stun", |b| {
        b.iter(|| webrtc_data_indication(&mut m, black_box(bytes), take))
    });
    g.bench_function("stun-types", |b| {
        b.iter(|| librice_data_indication(black_box(bytes), take))
    });
    g.bench_function("floor", |b| {
        b.iter(|| floor_fingerprint(black_box(bytes), fx.indication_fp))
    });
    g.finish();
}

// ---------------------------------------------------------------------------
// decode_channel_data
// ---------------------------------------------------------------------------

fn ours_channel_data(bytes: &[u8]) -> Result<(u16, &[u8]), &'static str> {
    let cd = ChannelData::parse(bytes, Transport::Datagram).map_err(|_| "parse")?;
    Ok((cd.channel(), cd.data()))
}

/// The floor for ChannelData (there is no crypto): read the two header
/// fields, check the channel range and the length, slice.
fn floor_channel_data(bytes: &[u8]) -> Result<(u16, &[u8]), &'static str> {
    let (Some(&[c0, c1, l0, l1]), Some(rest)) = (bytes.first_chunk::<4>(), bytes.get(4..)) else {
        return Err("short");
    };
    let channel = u16::from_be_bytes([c0, c1]);
    if !(0x4000..=0x4FFF).contains(&channel) {
        return Err("channel");
    }
    let data = rest
        .get(..usize::from(u16::from_be_bytes([l0, l1])))
        .ok_or("truncated")?;
    Ok((channel, data))
}

fn bench_channel_data(c: &mut Criterion, fx: &Fixture) {
    let mut g = c.benchmark_group("decode_channel_data");
    g.throughput(Throughput::Bytes(fx.channel_data.len() as u64));
    let bytes = fx.channel_data.as_slice();
    g.bench_function("ours", |b| b.iter(|| ours_channel_data(black_box(bytes))));
    g.bench_function("floor", |b| b.iter(|| floor_channel_data(black_box(bytes))));
    g.finish();
}

// ---------------------------------------------------------------------------
// Checks, run once before timing
// ---------------------------------------------------------------------------

/// Copies `bytes` with `bytes[at] ^= 1`.
fn flipped(bytes: &[u8], at: usize) -> Vec<u8> {
    let mut v = bytes.to_vec();
    v[at] ^= 0x01;
    v
}

/// Rewrites the FINGERPRINT at `fp` so that it matches the bytes before it.
fn refingerprint(bytes: &mut [u8], fp: usize) {
    let crc = crc32fast::hash(&bytes[..fp]) ^ FINGERPRINT_XOR;
    bytes[fp + 4..fp + 8].copy_from_slice(&crc.to_be_bytes());
}

/// Asserts that every implementation accepts the good inputs and rejects
/// tampered ones, through the same functions the timed loops call.
fn check_all(fx: &Fixture) {
    check_decode_verify(fx);
    check_build_response(fx);
    check_data_indication(fx);
    check_channel_data(fx);
    eprintln!("codec bench: all implementations verified on good and tampered inputs");
}

fn check_decode_verify(fx: &Fixture) {
    let good = fx.request.as_slice();
    // A body byte (the PRIORITY value) flipped: both checks break.
    let body = 20 + 20 + 4;
    let tampered = flipped(good, body);
    // The same, with FINGERPRINT recomputed: only MESSAGE-INTEGRITY catches it.
    let mut integrity_only = tampered.clone();
    refingerprint(&mut integrity_only, fx.request_fp);
    // Only the FINGERPRINT value flipped: only FINGERPRINT catches it.
    let fingerprint_only = flipped(good, fx.request_fp + 5);

    let mut m = stun::message::Message::new();
    let mut run = |name: &str, bytes: &[u8]| -> [Result<String, &'static str>; 5] {
        let r = [
            ours_decode_verify(bytes, &fx.ours_key, str::to_owned),
            webrtc_decode_verify(&mut m, bytes, &fx.webrtc_key, str::to_owned),
            librice_decode_verify(bytes, &fx.librice_key, str::to_owned),
            librice_raw_decode_verify(bytes, &fx.librice_key, str::to_owned),
            floor_verify(bytes, &fx.floor_key, fx.request_mi, fx.request_fp)
                .map(|()| USERNAME.to_owned()),
        ];
        eprintln!("decode_verify {name}: {r:?}");
        r
    };
    for (i, r) in run("good", good).into_iter().enumerate() {
        assert_eq!(r.as_deref(), Ok(USERNAME), "impl #{i} on the good vector");
    }
    for (name, bytes) in [
        ("flipped body byte", &tampered),
        ("flipped body byte, fingerprint fixed", &integrity_only),
        ("flipped fingerprint", &fingerprint_only),
    ] {
        for (i, r) in run(name, bytes).into_iter().enumerate() {
            assert!(r.is_err(), "impl #{i} accepted: {name}");
        }
    }
    // The tamper that leaves FINGERPRINT valid must be caught by integrity.
    let mut m = stun::message::Message::new();
    assert_eq!(
        ours_decode_verify(&integrity_only, &fx.ours_key, |_| ()),
        Err("integrity")
    );
    assert_eq!(
        webrtc_decode_verify(&mut m, &integrity_only, &fx.webrtc_key, |_| ()),
        Err("integrity")
    );
    assert_eq!(
        librice_decode_verify(&integrity_only, &fx.librice_key, |_| ()),
        Err("integrity")
    );
    assert_eq!(
        librice_raw_decode_verify(&integrity_only, &fx.librice_key, |_| ()),
        Err("integrity")
    );
}

/// Checks a built response with our parser: integrity, fingerprint, address.
fn check_response_with_ours(fx: &Fixture, name: &str, bytes: &[u8]) {
    let msg = Message::parse(bytes).unwrap_or_else(|e| panic!("{name}: {e}"));
    assert_eq!(
        msg.msg_type(),
        MessageType::BINDING_REQUEST.success(),
        "{name}"
    );
    assert_eq!(msg.transaction_id(), TransactionId::Rfc5389(TID), "{name}");
    msg.verify_integrity(&fx.ours_key)
        .unwrap_or_else(|e| panic!("{name}: {e}"));
    msg.verify_fingerprint()
        .unwrap_or_else(|e| panic!("{name}: {e}"));
    let addr = msg.get::<XorMappedAddress>().unwrap().unwrap();
    assert_eq!(addr.0, fx.mapped, "{name}");
}

fn check_build_response(fx: &Fixture) {
    let mut buf = Vec::new();
    let mut m = stun::message::Message::new();
    let mapped = stun::xoraddr::XorMappedAddress {
        ip: fx.mapped.ip(),
        port: fx.mapped.port(),
    };
    let mut slice = [0u8; 128];
    // Twice, so the second pass runs on reused buffers as the timed loop does.
    for pass in 0..2 {
        let ours = ours_build(&mut buf, &fx.ours_key, fx.mapped)
            .unwrap()
            .to_vec();
        let webrtc = webrtc_build(&mut m, &fx.webrtc_key, &mapped)
            .unwrap()
            .to_vec();
        let librice = librice_build(&mut slice, &fx.librice_key, fx.mapped)
            .unwrap()
            .to_vec();
        for (name, bytes) in [
            ("ours", &ours),
            ("webrtc-stun", &webrtc),
            ("stun-types", &librice),
        ] {
            check_response_with_ours(fx, name, bytes);
            assert_eq!(bytes, &fx.response, "{name} pass {pass}: bytes differ");
        }
    }
    let (tag, crc) = floor_build(&fx.response, &fx.floor_key, fx.response_mi, fx.response_fp);
    assert_eq!(
        tag[..],
        fx.response[fx.response_mi + 4..fx.response_mi + 24]
    );
    assert_eq!(
        crc.to_be_bytes()[..],
        fx.response[fx.response_fp + 4..fx.response_fp + 8]
    );
    eprintln!(
        "build_response: {} identical bytes from all three",
        fx.response.len()
    );
}

fn check_data_indication(fx: &Fixture) {
    let good = fx.indication.as_slice();
    // A DATA byte flipped: only FINGERPRINT can catch it.
    let data_at = offset_of(good, 0x0013) + 4 + 17;
    let tampered = flipped(good, data_at);
    let own = |a: SocketAddr, d: &[u8]| (a, d.to_vec());
    let mut m = stun::message::Message::new();
    let expected = Ok((fx.peer, fx.payload.clone()));
    assert_eq!(ours_data_indication(good, own), expected, "ours");
    assert_eq!(
        webrtc_data_indication(&mut m, good, own),
        expected,
        "webrtc-stun"
    );
    assert_eq!(librice_data_indication(good, own), expected, "stun-types");
    assert_eq!(floor_fingerprint(good, fx.indication_fp), Ok(()), "floor");
    assert!(ours_data_indication(&tampered, own).is_err(), "ours");
    assert!(
        webrtc_data_indication(&mut m, &tampered, own).is_err(),
        "webrtc-stun"
    );
    assert!(
        librice_data_indication(&tampered, own).is_err(),
        "stun-types"
    );
    assert!(floor_fingerprint(&tampered, fx.indication_fp).is_err());
}

fn check_channel_data(fx: &Fixture) {
    let expected = Ok((CHANNEL, fx.payload.as_slice()));
    assert_eq!(ours_channel_data(&fx.channel_data), expected);
    assert_eq!(floor_channel_data(&fx.channel_data), expected);
    let mut bad = fx.channel_data.clone();
    bad[0] = 0x50;
    assert!(ours_channel_data(&bad).is_err());
    assert!(floor_channel_data(&bad).is_err());
}

// ---------------------------------------------------------------------------
// Allocations per call (counting builds only)
// ---------------------------------------------------------------------------

/// Allocation counting, compiled in only with debug assertions. For counts
/// from the optimised code, enable them for this package alone, so the peers
/// are compiled exactly as in the timed build:
///
/// ```text
/// cargo bench -p stun-proto --bench codec \
///     --config 'profile.bench.package.stun-proto.debug-assertions=true'
/// ```
///
/// (A `cargo test` build counts too, but unoptimised: there webrtc-rs keeps
/// short-lived temporaries that the optimiser removes.) The counting
/// allocator adds a few atomic read-modify-writes per allocation, which
/// slowed the allocating peers measurably (webrtc-rs `stun` by about 10 % in
/// an A/B run), so the timed build leaves it out.
#[cfg(debug_assertions)]
mod alloc_count {
    use std::alloc::System;
    use std::hint::black_box;
    use std::net::SocketAddr;

    use stats_alloc::{INSTRUMENTED_SYSTEM, Region, StatsAlloc};

    use super::*;

    #[global_allocator]
    static GLOBAL: &StatsAlloc<System> = &INSTRUMENTED_SYSTEM;

    /// Every (case, implementation) pair of the groups above.
    const IMPLS: [(&str, &str); 15] = [
        ("decode_verify", "ours"),
        ("decode_verify", "webrtc-stun"),
        ("decode_verify", "stun-types"),
        ("decode_verify", "stun-types-raw"),
        ("decode_verify", "floor"),
        ("build_response", "ours"),
        ("build_response", "webrtc-stun"),
        ("build_response", "stun-types"),
        ("build_response", "floor"),
        ("decode_data_indication", "ours"),
        ("decode_data_indication", "webrtc-stun"),
        ("decode_data_indication", "stun-types"),
        ("decode_data_indication", "floor"),
        ("decode_channel_data", "ours"),
        ("decode_channel_data", "floor"),
    ];

    /// Buffers the implementations reuse across calls, as in the timed loops.
    struct Reused {
        message: stun::message::Message,
        vec: Vec<u8>,
        slice: [u8; 128],
        webrtc_mapped: stun::xoraddr::XorMappedAddress,
    }

    /// One call of one implementation, the same call its timed loop makes.
    fn call_once(fx: &Fixture, st: &mut Reused, case: &str, imp: &str) -> bool {
        let take = |a: SocketAddr, d: &[u8]| (a.port(), d.len());
        let req = fx.request.as_slice();
        let ind = fx.indication.as_slice();
        match (case, imp) {
            ("decode_verify", "ours") => ours_decode_verify(req, &fx.ours_key, str::len).is_ok(),
            ("decode_verify", "webrtc-stun") => {
                webrtc_decode_verify(&mut st.message, req, &fx.webrtc_key, str::len).is_ok()
            }
            ("decode_verify", "stun-types") => {
                librice_decode_verify(req, &fx.librice_key, str::len).is_ok()
            }
            ("decode_verify", "stun-types-raw") => {
                librice_raw_decode_verify(req, &fx.librice_key, str::len).is_ok()
            }
            ("decode_verify", "floor") => {
                floor_verify(req, &fx.floor_key, fx.request_mi, fx.request_fp).is_ok()
            }
            ("build_response", "ours") => ours_build(&mut st.vec, &fx.ours_key, fx.mapped).is_ok(),
            ("build_response", "webrtc-stun") => {
                webrtc_build(&mut st.message, &fx.webrtc_key, &st.webrtc_mapped).is_ok()
            }
            ("build_response", "stun-types") => {
                librice_build(&mut st.slice, &fx.librice_key, fx.mapped).is_ok()
            }
            ("build_response", "floor") => {
                floor_build(&fx.response, &fx.floor_key, fx.response_mi, fx.response_fp).1 != 0
            }
            ("decode_data_indication", "ours") => ours_data_indication(ind, take).is_ok(),
            ("decode_data_indication", "webrtc-stun") => {
                webrtc_data_indication(&mut st.message, ind, take).is_ok()
            }
            ("decode_data_indication", "stun-types") => librice_data_indication(ind, take).is_ok(),
            ("decode_data_indication", "floor") => floor_fingerprint(ind, fx.indication_fp).is_ok(),
            ("decode_channel_data", "ours") => ours_channel_data(&fx.channel_data).is_ok(),
            ("decode_channel_data", "floor") => floor_channel_data(&fx.channel_data).is_ok(),
            _ => panic!("unknown implementation {case}:{imp}"),
        }
    }

    /// Prints allocations (and reallocations) per call for every
    /// implementation, over a batch after a warm-up call on the reused buffers.
    pub(super) fn report(fx: &Fixture) {
        const CALLS: usize = 1000;
        eprintln!("allocations per call (mean of {CALLS} calls after one warm-up call):");
        for (case, imp) in IMPLS {
            let mut st = Reused {
                message: stun::message::Message::new(),
                vec: Vec::new(),
                slice: [0; 128],
                webrtc_mapped: stun::xoraddr::XorMappedAddress {
                    ip: fx.mapped.ip(),
                    port: fx.mapped.port(),
                },
            };
            assert!(call_once(fx, &mut st, case, imp), "{case}:{imp} failed");
            let region = Region::new(GLOBAL);
            let mut ok = 0usize;
            for _ in 0..CALLS {
                ok += usize::from(black_box(call_once(fx, &mut st, case, imp)));
            }
            let stats = region.change();
            assert_eq!(ok, CALLS, "{case}:{imp} failed");
            eprintln!(
                "  {case:<24} {imp:<15} allocs {:>6.2}  reallocs {:>5.2}  bytes {:>7.1}",
                stats.allocations as f64 / CALLS as f64,
                stats.reallocations as f64 / CALLS as f64,
                stats.bytes_allocated as f64 / CALLS as f64,
            );
        }
    }
}

fn main() {
    let fx = Fixture::new();
    check_all(&fx);
    #[cfg(debug_assertions)]
    {
        alloc_count::report(&fx);
        // Launched by `cargo bench` (which passes --bench): do not publish
        // timings skewed by the counting allocator. Under `cargo test` the
        // groups below still run once each, in criterion's test mode.
        if std::env::args().any(|a| a == "--bench") {
            eprintln!("allocation-counting build: timings skipped");
            return;
        }
    }
    let mut c = Criterion::default()
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3))
        .sample_size(50)
        .configure_from_args();
    bench_decode_verify(&mut c, &fx);
    bench_build_response(&mut c, &fx);
    bench_data_indication(&mut c, &fx);
    bench_channel_data(&mut c, &fx);
    c.final_summary();
}
