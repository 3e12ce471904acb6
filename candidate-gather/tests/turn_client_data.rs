//! Relayed data over UDP: Send indications before a channel, ChannelData
//! after (RFC 8656 §10, §12), data held until its permission exists (§9),
//! and what is taken from the server (§10.4, §12.6).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod turn_client_server;

use std::net::SocketAddr;
use std::time::Duration;

use candidate_gather::turn::{
    DropReason, Handled, MAX_QUEUED_DATAGRAMS, Operation, PERMISSION_REFUSAL_HOLD, TurnError,
    TurnEvent, UsageError,
};
use stun_proto::attr::{Data, ErrorCode, XorMappedAddress, XorPeerAddress};
use stun_proto::{ChannelData, Class, Message, MessageType, MessageWriter, Method, Transport};
use turn_client_server::*;

const PEER: &str = "198.51.100.20:7000";

/// What the client sent after `from` in the wire log, classified.
fn kinds_since(net: &Net, from: usize) -> Vec<String> {
    net.wire[from..]
        .iter()
        .map(|(_, t)| match Message::parse(&t.data) {
            Ok(m) => format!("{:?}/{:?}", m.method(), m.class()),
            Err(_) => match ChannelData::parse(&t.data, Transport::Datagram) {
                Ok(cd) => format!("ChannelData {:#06x}", cd.channel()),
                Err(_) => "?".to_owned(),
            },
        })
        .collect()
}

#[test]
fn rfc8656_9_data_waits_for_its_permission_then_goes_as_send_indications() {
    let mut net = Net::allocated();
    let peer = addr(PEER);
    let mark = net.wire.len();
    let now = net.now;
    net.client.send_to(now, peer, b"one").unwrap();
    net.client.send_to(now, peer, b"two").unwrap();
    let out = net.take();
    assert_eq!(
        kinds_since(&net, mark),
        ["CreatePermission/Request"],
        "nothing relayed before the permission"
    );
    let req = Message::parse(&out[0].data).unwrap();
    assert_eq!(req.require::<XorPeerAddress>().unwrap().0, peer);
    let answer = net.server.handle(net.now, &out[0].data).unwrap();
    net.deliver(&answer);
    net.pump();
    assert_eq!(
        kinds_since(&net, mark)[1..],
        ["Send/Indication", "Send/Indication"]
    );
    assert_eq!(
        net.server.relayed_out,
        [
            (peer, b"one".to_vec(), "send"),
            (peer, b"two".to_vec(), "send")
        ]
    );
    assert!(
        net.events
            .contains(&TurnEvent::PermissionCreated(peer.ip()))
    );
    // Installed: the next datagram goes at once, no new request.
    let mark = net.wire.len();
    let now = net.now;
    net.client.send_to(now, peer, b"three").unwrap();
    net.pump();
    assert_eq!(kinds_since(&net, mark), ["Send/Indication"]);
    // Another port of the same IP shares the permission (§9: per IP).
    let other_port = SocketAddr::new(peer.ip(), 7001);
    let mark = net.wire.len();
    net.client.send_to(now, other_port, b"four").unwrap();
    net.pump();
    assert_eq!(kinds_since(&net, mark), ["Send/Indication"]);
    assert_eq!(net.server.relayed_out.last().unwrap().0, other_port);
}

#[test]
fn rfc8656_9_the_queue_is_bounded_and_dropped_if_the_permission_fails() {
    let mut net = Net::allocated();
    let peer = addr(PEER);
    let now = net.now;
    for i in 0..MAX_QUEUED_DATAGRAMS {
        net.client.send_to(now, peer, &[i as u8]).unwrap();
    }
    assert_eq!(
        net.client.send_to(now, peer, b"one too many"),
        Err(UsageError::QueueFull { peer })
    );
    let out = net.take();
    assert_eq!(out.len(), 1, "one CreatePermission for all of it");
    let req = Message::parse(&out[0].data).unwrap();
    let refusal = net.server.error(&req, 403, true);
    net.deliver(&refusal);
    let err = TurnError::Forbidden {
        operation: Operation::CreatePermission(peer.ip()),
        reason: "Forbidden".to_owned(),
    };
    assert!(
        net.events
            .contains(&TurnEvent::PermissionFailed(peer.ip(), err.clone()))
    );
    assert!(
        err.to_string()
            .contains("forbids CreatePermission for 198.51.100.20")
    );
    assert!(net.take().is_empty(), "the queue was dropped");
    assert!(net.failed().is_none(), "the allocation is fine");
}

#[test]
fn a_refused_permission_is_not_asked_again_with_every_datagram() {
    // An ICE check retransmitting towards a peer the server's policy
    // forbids (a private address) must not draw a CreatePermission and a
    // 403 per retransmission.
    let mut net = Net::allocated();
    let peer = addr(PEER);
    let now = net.now;
    net.client.send_to(now, peer, b"check").unwrap();
    let out = net.take();
    let req = Message::parse(&out[0].data).unwrap();
    let refusal = net.server.error(&req, 403, true);
    net.deliver(&refusal);
    for i in 0..10u64 {
        let at = now + Duration::from_millis(500 * i);
        let refused = net.client.send_to(at, peer, b"check again");
        assert_eq!(refused, Err(UsageError::PermissionRefused { peer }));
        assert!(
            refused
                .unwrap_err()
                .to_string()
                .contains("refused a permission for 198.51.100.20")
        );
    }
    assert!(net.take().is_empty(), "no request while the refusal holds");
    // After the hold, data asks again.
    let later = now + PERMISSION_REFUSAL_HOLD;
    net.now = later;
    net.client.send_to(later, peer, b"much later").unwrap();
    let out = net.take();
    assert_eq!(out.len(), 1);
    assert_eq!(
        Message::parse(&out[0].data).unwrap().method(),
        Method::CREATE_PERMISSION
    );
    // And an explicit create_permission asks again at once.
    let req = Message::parse(&out[0].data).unwrap();
    let refusal = net.server.error(&req, 403, true);
    net.deliver(&refusal);
    assert!(net.client.send_to(later, peer, b"x").is_err());
    net.client.create_permission(later, peer.ip()).unwrap();
    let out = net.take();
    assert_eq!(out.len(), 1, "an explicit request goes out");
    // Other peers are not affected.
    let other = addr("198.51.100.21:7000");
    net.client.send_to(later, other, b"other").unwrap();
    assert_eq!(net.take().len(), 1);
}

#[test]
fn rfc8656_12_channeldata_only_after_the_bind_succeeded() {
    let mut net = Net::allocated();
    let peer = addr(PEER);
    let now = net.now;
    net.client.create_permission(now, peer.ip()).unwrap();
    net.pump();
    let mark = net.wire.len();
    let channel = net.client.bind_channel(now, peer).unwrap();
    assert_eq!(channel, 0x4000);
    let out = net.take();
    assert_eq!(kinds_since(&net, mark), ["ChannelBind/Request"]);
    // While the bind is under way: Send indications.
    net.client.send_to(now, peer, b"before").unwrap();
    assert_eq!(net.client.channel(now, peer), None);
    net.take();
    assert_eq!(
        kinds_since(&net, mark),
        ["ChannelBind/Request", "Send/Indication"]
    );
    let answer = net.server.handle(net.now, &out[0].data).unwrap();
    net.deliver(&answer);
    assert!(
        net.events
            .contains(&TurnEvent::ChannelBound { peer, channel })
    );
    assert_eq!(net.client.channel(net.now, peer), Some(channel));
    let mark = net.wire.len();
    net.client.send_to(now, peer, b"after").unwrap();
    let out = net.take();
    assert_eq!(kinds_since(&net, mark), ["ChannelData 0x4000"]);
    let cd = ChannelData::parse(&out[0].data, Transport::Datagram).unwrap();
    assert_eq!(cd.data(), b"after");
    assert_eq!(out[0].data.len(), 4 + 5, "no padding over UDP");
}

#[test]
fn rfc8656_12_a_failed_bind_keeps_send_indications_and_does_not_reuse_the_number() {
    let mut net = Net::allocated();
    let peer = addr(PEER);
    let now = net.now;
    let channel = net.client.bind_channel(now, peer).unwrap();
    let out = net.take();
    let req = Message::parse(&out[0].data).unwrap();
    let refusal = net.server.error(&req, 400, true);
    net.deliver(&refusal);
    assert!(net.events.iter().any(|e| matches!(
        e,
        TurnEvent::ChannelBindFailed { peer: p, channel: c, error: TurnError::Rejected { code: 400, .. } }
            if *p == peer && *c == channel
    )));
    assert_eq!(net.client.bind_channel(now, peer).unwrap(), channel + 1);
}

#[test]
fn rfc8656_10_4_data_indications_only_from_the_server_and_permitted_peers() {
    let mut net = Net::allocated();
    let peer = addr(PEER);
    let now = net.now;
    net.client.create_permission(now, peer.ip()).unwrap();
    net.pump();
    let di = net.server.data_indication(peer, b"hello");
    assert_eq!(net.deliver(&di), Handled::Data { peer, payload: &[] });
    assert_eq!(net.delivered, [(peer, b"hello".to_vec())]);
    // Another port of a permitted IP is fine (permissions are per IP).
    let di = net
        .server
        .data_indication(SocketAddr::new(peer.ip(), 1), b"x");
    assert!(matches!(net.deliver(&di), Handled::Data { .. }));
    // No permission for this IP.
    let stranger = addr("203.0.113.66:7000");
    let di = net.server.data_indication(stranger, b"spam");
    assert_eq!(net.deliver(&di), Handled::Dropped(DropReason::NoPermission));
    // Not from the server: the owner's business.
    let di = net.server.data_indication(peer, b"hello");
    assert_eq!(net.deliver_from(peer, &di), Handled::NotMine);
    // Missing DATA.
    let mut buf = Vec::new();
    let t = MessageType::new(Method::DATA, Class::Indication);
    let mut w = MessageWriter::new(&mut buf, t, [3; 12].into());
    w.add(&XorPeerAddress(peer)).unwrap();
    assert_eq!(
        net.deliver(&buf.clone()),
        Handled::Dropped(DropReason::Malformed)
    );
    // An unknown comprehension-required attribute.
    let mut buf = net.server.data_indication(peer, b"hi");
    buf.extend_from_slice(&[0x7F, 0xFE, 0, 0]);
    let len = (buf.len() - 20) as u16;
    buf[2..4].copy_from_slice(&len.to_be_bytes());
    assert_eq!(net.deliver(&buf), Handled::Dropped(DropReason::Malformed));
    assert_eq!(net.delivered.len(), 2);
}

#[test]
fn rfc8656_12_6_channeldata_only_on_our_channels() {
    let mut net = Net::allocated();
    let peer = addr(PEER);
    let now = net.now;
    let channel = net.client.bind_channel(now, peer).unwrap();
    net.pump();
    let cd = net
        .server
        .channel_data(channel, b"media", Transport::Datagram);
    assert!(matches!(net.deliver(&cd), Handled::Data { peer: p, .. } if p == peer));
    // Padding is optional over UDP.
    let padded = net
        .server
        .channel_data(channel, b"media", Transport::Stream);
    assert!(matches!(net.deliver(&padded), Handled::Data { .. }));
    assert_eq!(
        net.delivered,
        [(peer, b"media".to_vec()), (peer, b"media".to_vec())]
    );
    let unknown = net
        .server
        .channel_data(channel + 7, b"x", Transport::Datagram);
    assert_eq!(
        net.deliver(&unknown),
        Handled::Dropped(DropReason::UnknownChannel)
    );
    let mut truncated = cd.clone();
    truncated.pop();
    assert_eq!(
        net.deliver(&truncated),
        Handled::Dropped(DropReason::Malformed)
    );
    assert_eq!(net.deliver_from(peer, &cd), Handled::NotMine);
    assert_eq!(net.delivered.len(), 2);
}

#[test]
fn rfc8656_12_6_channeldata_stops_when_the_binding_expires() {
    let mut net = Net::allocated();
    let peer = addr(PEER);
    let now = net.now;
    let channel = net.client.bind_channel(now, peer).unwrap();
    net.pump();
    // ChannelBinds go unanswered from now on; CreatePermission and Refresh
    // are answered.
    net.run_until(Duration::from_secs(479));
    let binds_answered = net.server.channel_binds.len();
    let server_down_for_binds = |net: &mut Net, until: Duration| {
        let end = net.t0 + until;
        while let Some(next) = net.client.poll_timeout() {
            if next > end {
                break;
            }
            net.now = next;
            net.client.handle_timeout(next);
            for t in net.take() {
                let m = Message::parse(&t.data).unwrap();
                if m.method() != Method::CHANNEL_BIND
                    && let Some(a) = net.server.handle(net.now, &t.data)
                {
                    net.deliver(&a);
                }
            }
        }
        net.now = end;
    };
    server_down_for_binds(&mut net, Duration::from_secs(700));
    assert_eq!(net.server.channel_binds.len(), binds_answered);
    assert_eq!(net.client.channel(net.now, peer), None);
    assert!(net.events.iter().any(|e| matches!(
        e,
        TurnEvent::ChannelBindFailed { channel: c, .. } if *c == channel
    )));
    let cd = net
        .server
        .channel_data(channel, b"late", Transport::Datagram);
    assert_eq!(
        net.deliver(&cd),
        Handled::Dropped(DropReason::UnknownChannel)
    );
    // Data still flows as Send indications: the permission was kept.
    let mark = net.wire.len();
    let now = net.now;
    net.client.send_to(now, peer, b"still").unwrap();
    assert_eq!(kinds_since(&net, mark).len(), 0);
    net.take();
    assert_eq!(kinds_since(&net, mark), ["Send/Indication"]);
}

#[test]
fn stun_answers_from_the_server_to_other_requests_are_not_mine() {
    // An ICE agent may use the same server for Binding on the same socket.
    let mut net = Net::allocated();
    let mut buf = Vec::new();
    let t = MessageType::new(Method::BINDING, Class::Success);
    let mut w = MessageWriter::new(&mut buf, t, [77; 12].into());
    w.add(&XorMappedAddress(addr(MAPPED))).unwrap();
    assert_eq!(net.deliver(&buf.clone()), Handled::NotMine);
    // Requests and unknown indications from the server are not ours either.
    let mut buf = Vec::new();
    let t = MessageType::new(Method::BINDING, Class::Request);
    MessageWriter::new(&mut buf, t, [78; 12].into());
    assert_eq!(net.deliver(&buf.clone()), Handled::NotMine);
    // An error with our transaction id but another method is dropped and
    // does not end the transaction.
    let now = net.now;
    net.client.create_permission(now, addr(PEER).ip()).unwrap();
    let out = net.take();
    let req = Message::parse(&out[0].data).unwrap();
    let mut wrong = Vec::new();
    let t = MessageType::new(Method::REFRESH, Class::Error);
    let mut w = MessageWriter::new(&mut wrong, t, req.transaction_id());
    w.add(&ErrorCode::from_code(437).unwrap()).unwrap();
    w.add(&Data(b"")).unwrap();
    assert_eq!(
        net.deliver(&wrong.clone()),
        Handled::Dropped(DropReason::UnexpectedMethod)
    );
    let answer = net.server.handle(net.now, &out[0].data).unwrap();
    assert_eq!(net.deliver(&answer), Handled::Consumed);
    assert!(net.client.has_permission(net.now, addr(PEER).ip()));
}
