//! Parsing, verifying and building into a reused buffer allocate nothing.
//!
//! A counting global allocator counts allocations while the hot paths run,
//! after one warm-up pass that lets the reused buffers reach their size.

// Integration tests: a panic here is a failed assertion, not a crash on input.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::alloc::System;

use common::vectors::{RFC5769_PASSWORD, RFC5769_REQUEST};
use stats_alloc::{INSTRUMENTED_SYSTEM, Region, StatsAlloc};
use stun_proto::attr::*;
use stun_proto::*;

// Counts every allocation in the process. This binary holds a single test so
// that no other test thread allocates while a region is measured.
#[global_allocator]
static GLOBAL: &StatsAlloc<System> = &INSTRUMENTED_SYSTEM;

/// One server round: parse and authenticate a request, answer it; parse a
/// Data indication and a ChannelData frame, and frame a TCP stream.
fn round(
    key: &IntegrityKey,
    response: &mut Vec<u8>,
    indication: &[u8],
    channel: &[u8],
    cd_out: &mut Vec<u8>,
    framer: &mut StreamFramer,
) -> usize {
    let mut seen = 0;
    let msg = Message::parse(&RFC5769_REQUEST).unwrap();
    let user = msg.require::<Username>().unwrap();
    seen += user.as_str().len();
    msg.verify_integrity(key).unwrap();
    msg.verify_fingerprint().unwrap();
    assert_eq!(msg.unknown_comprehension_required().count(), 0);

    let mut w = MessageWriter::new(response, msg.msg_type().success(), msg.transaction_id());
    w.add(&XorMappedAddress("192.0.2.1:32853".parse().unwrap()))
        .unwrap()
        .add(&Software::new("no-alloc").unwrap())
        .unwrap()
        .add_message_integrity(key)
        .unwrap()
        .add_fingerprint()
        .unwrap();
    seen += w.finish().len();

    let ind = Message::parse(indication).unwrap();
    let peer = ind.require::<XorPeerAddress>().unwrap();
    seen += usize::from(peer.0.port()) + ind.require::<Data>().unwrap().0.len();
    ind.verify_fingerprint().unwrap();

    let cd = ChannelData::parse(channel, Transport::Datagram).unwrap();
    seen += cd.data().len();
    cd.write(cd_out, Transport::Stream);

    framer.push(&RFC5769_REQUEST);
    framer.push(cd_out);
    while let Some(frame) = framer.next_frame() {
        seen += match frame.unwrap() {
            Frame::Stun(b) => b.len(),
            Frame::ChannelData(c) => c.data().len(),
        };
    }
    seen
}

#[test]
fn hot_paths_do_not_allocate() {
    // Set-up may allocate: key preparation, test inputs, buffer capacity.
    let key = IntegrityKey::short_term(RFC5769_PASSWORD).unwrap();
    let payload = [0xA5u8; 160];
    let mut indication = Vec::new();
    let mut w = MessageWriter::new(
        &mut indication,
        MessageType::new(Method::DATA, Class::Indication),
        TransactionId::Rfc5389([4; 12]),
    );
    w.add(&XorPeerAddress("[2001:db8::1]:5000".parse().unwrap()))
        .unwrap()
        .add(&Data(&payload))
        .unwrap()
        .add_fingerprint()
        .unwrap();
    let mut channel = Vec::new();
    ChannelData::new(0x4001, &payload)
        .unwrap()
        .write(&mut channel, Transport::Datagram);
    let mut response = Vec::new();
    let mut cd_out = Vec::new();
    let mut framer = StreamFramer::new();
    let warm = round(
        &key,
        &mut response,
        &indication,
        &channel,
        &mut cd_out,
        &mut framer,
    );

    let region = Region::new(GLOBAL);
    let mut total = 0;
    for _ in 0..100 {
        total += round(
            &key,
            &mut response,
            &indication,
            &channel,
            &mut cd_out,
            &mut framer,
        );
    }
    let stats = region.change();
    assert_eq!(total, warm * 100);
    assert_eq!(
        (stats.allocations, stats.reallocations),
        (0, 0),
        "hot paths allocated in 100 rounds: {stats:?}"
    );

    // The counter does count: a fresh message buffer allocates.
    let region = Region::new(GLOBAL);
    let mut fresh = Vec::new();
    MessageWriter::new(
        &mut fresh,
        MessageType::BINDING_REQUEST,
        TransactionId::Rfc5389([0; 12]),
    );
    assert!(region.change().allocations >= 1);
}
