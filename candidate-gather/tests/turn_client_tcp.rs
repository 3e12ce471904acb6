//! TURN over TCP (RFC 8656 §12.5, RFC 8489 §6.2.2): the server's byte
//! stream in any split or merge, padded ChannelData both ways, no
//! retransmissions, and a stream out of step failing the client.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod turn_client_server;

use std::time::Duration;

use candidate_gather::turn::{
    Operation, TurnConfig, TurnError, TurnEvent, TurnState, TurnTransport, UsageError,
};
use stun_proto::{ChannelData, Class, Message, Method, Transport};
use turn_client_server::*;

const PEER: &str = "198.51.100.20:7000";

fn tcp_config() -> TurnConfig {
    let mut config = Net::config();
    config.transport = TurnTransport::Tcp;
    config
}

/// Runs the 401 exchange and allocation, feeding each server answer to
/// the client in chunks of `chunk` bytes.
fn allocate_in_chunks(chunk: usize) -> Net {
    let mut net = Net::new(tcp_config(), Server::new());
    for _ in 0..2 {
        let out = net.take();
        assert_eq!(out.len(), 1);
        let answer = net.server.handle(net.now, &out[0].data).unwrap();
        for piece in answer.chunks(chunk) {
            net.deliver(piece);
        }
    }
    net
}

#[test]
fn rfc8656_12_5_answers_split_at_every_size_are_reassembled() {
    let len = {
        let net = allocate_in_chunks(10_000);
        assert_eq!(net.client.relayed(), Some(addr(RELAYED)));
        net.server.received.len()
    };
    assert_eq!(len, 2);
    for chunk in 1..=120 {
        let net = allocate_in_chunks(chunk);
        assert_eq!(net.client.relayed(), Some(addr(RELAYED)), "chunk {chunk}");
        assert!(net.failed().is_none());
    }
}

#[test]
fn rfc8656_12_5_merged_reads_and_padded_channeldata_in() {
    let mut net = allocate_in_chunks(10_000);
    let peer = addr(PEER);
    let now = net.now;
    let channel = net.client.bind_channel(now, peer).unwrap();
    net.pump();
    assert_eq!(net.client.channel(net.now, peer), Some(channel));
    // Several frames in one read, and frames split across reads: a Data
    // indication, two padded ChannelData (5 and 8 bytes of data), then a
    // Data indication again.
    let mut stream = Vec::new();
    stream.extend(net.server.data_indication(peer, b"first"));
    stream.extend(
        net.server
            .channel_data(channel, b"odd-5", Transport::Stream),
    );
    stream.extend(
        net.server
            .channel_data(channel, b"even-8!!", Transport::Stream),
    );
    stream.extend(net.server.data_indication(peer, b"last"));
    let expected = vec![
        (peer, b"first".to_vec()),
        (peer, b"odd-5".to_vec()),
        (peer, b"even-8!!".to_vec()),
        (peer, b"last".to_vec()),
    ];
    for chunk in 1..=stream.len() {
        net.delivered.clear();
        for piece in stream.chunks(chunk) {
            net.deliver(piece);
        }
        assert_eq!(net.delivered, expected, "chunk {chunk}");
    }
    assert_eq!(net.client.state(), TurnState::Allocated);
}

#[test]
fn rfc8656_12_5_channeldata_out_is_padded_over_tcp() {
    let mut net = allocate_in_chunks(10_000);
    let peer = addr(PEER);
    let now = net.now;
    let channel = net.client.bind_channel(now, peer).unwrap();
    net.pump();
    for len in 0..9usize {
        let data = vec![0xAB; len];
        net.client.send_to(now, peer, &data).unwrap();
        let out = net.take();
        assert_eq!(out.len(), 1);
        let bytes = &out[0].data;
        assert_eq!(bytes.len() % 4, 0, "padded: {len}");
        assert_eq!(bytes.len(), 4 + len.div_ceil(4) * 4);
        let cd = ChannelData::parse(bytes, Transport::Stream).unwrap();
        assert_eq!((cd.channel(), cd.data()), (channel, &data[..]));
        assert!(bytes[4 + len..].iter().all(|b| *b == 0));
    }
    // STUN requests and indications are multiples of 4 by construction.
    for (_, t) in &net.wire {
        assert_eq!(t.data.len() % 4, 0);
        assert_eq!(t.to, addr(SERVER));
    }
}

#[test]
fn rfc8489_6_2_2_no_retransmission_over_tcp_and_a_timeout_after_39_5_s() {
    let mut server = Server::new();
    server.silent = true;
    let mut net = Net::new(tcp_config(), server);
    net.run_until(Duration::from_secs(100));
    assert_eq!(
        net.sent_at(Method::ALLOCATE),
        [Duration::ZERO],
        "one request"
    );
    assert_eq!(
        net.failed(),
        Some(&TurnError::Timeout {
            operation: Operation::Allocate,
            server: addr(SERVER),
            after: Duration::from_millis(39_500),
        })
    );
}

#[test]
fn rfc8489_9_2_5_over_tcp_a_forged_answer_ends_the_transaction() {
    let mut net = Net::new(tcp_config(), Server::new());
    let out = net.take();
    let req = Message::parse(&out[0].data).unwrap();
    let challenge = net.server.challenge(&req, 401);
    net.deliver(&challenge);
    let out = net.take();
    let req = Message::parse(&out[0].data).unwrap();
    let unsigned = net.server.respond(&req, Class::Success, false, |_| {});
    net.deliver(&unsigned);
    assert_eq!(
        net.failed(),
        Some(&TurnError::IntegrityViolated {
            operation: Operation::Allocate
        })
    );
}

#[test]
fn rfc8656_12_5_a_stream_out_of_step_fails_the_client() {
    let mut net = allocate_in_chunks(10_000);
    let peer = addr(PEER);
    let now = net.now;
    net.client.create_permission(now, peer.ip()).unwrap();
    net.pump();
    let mut stream = net.server.data_indication(peer, b"ok");
    stream.extend_from_slice(&[0xFF, 0, 0, 0]);
    stream.extend(net.server.data_indication(peer, b"never"));
    net.deliver(&stream);
    assert_eq!(net.delivered, [(peer, b"ok".to_vec())]);
    let err = net.failed().unwrap().clone();
    assert!(matches!(err, TurnError::StreamBroken(_)));
    assert!(
        err.to_string().contains("connect and allocate again"),
        "{err}"
    );
    assert_eq!(net.client.state(), TurnState::Failed);
    assert_eq!(
        net.client.handle_stream(net.now, b"more"),
        Err(UsageError::Closed)
    );
    assert_eq!(net.client.poll_timeout(), None);
}

#[test]
fn rfc8489_10_redirect_over_tcp_reports_the_new_connection_to_make() {
    let alternate = addr("203.0.113.9:3478");
    let mut net = Net::new(tcp_config(), Server::new());
    let out = net.take();
    let req = Message::parse(&out[0].data).unwrap();
    let redirect = net.server.respond(&req, Class::Error, false, |w| {
        w.add(&stun_proto::attr::ErrorCode::from_code(300).unwrap())
            .unwrap();
        w.add(&stun_proto::attr::AlternateServer(alternate))
            .unwrap();
    });
    // Bytes of the old connection after the 300 are not read.
    let mut stream = redirect.clone();
    stream.extend_from_slice(&[0xFF; 8]);
    net.deliver(&stream);
    assert!(net.events.contains(&TurnEvent::Redirected {
        from: addr(SERVER),
        to: alternate
    }));
    assert!(net.failed().is_none(), "{:?}", net.events);
    net.server.addr = alternate;
    net.pump();
    assert_eq!(net.client.relayed(), Some(addr(RELAYED)));
}
