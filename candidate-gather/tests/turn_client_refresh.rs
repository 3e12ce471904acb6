//! Keeping things alive in virtual time: allocation refreshes (RFC 8656
//! §8), reallocation after 437, permission (§9) and channel (§12) refreshes,
//! and release on close.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod turn_client_server;

use std::net::IpAddr;
use std::time::Duration;

use candidate_gather::turn::{Operation, TurnError, TurnEvent, TurnState};
use stun_proto::attr::{ChannelNumber, Lifetime, XorPeerAddress};
use stun_proto::{Class, Message, Method};
use turn_client_server::*;

const PEER: &str = "198.51.100.20:7000";

fn secs(d: &[Duration]) -> Vec<f64> {
    d.iter().map(|d| d.as_secs_f64()).collect()
}

#[test]
fn rfc8656_8_refresh_goes_out_at_80_percent_of_the_lifetime_and_not_before() {
    let mut net = Net::allocated();
    net.run_until(Duration::from_millis(479_999));
    assert!(
        net.sent_at(Method::REFRESH).is_empty(),
        "nothing before 480 s"
    );
    net.run_until(Duration::from_secs(480));
    assert_eq!(secs(&net.sent_at(Method::REFRESH)), [480.0]);
    let sent_refresh = net.sent(Method::REFRESH);
    let refresh = Message::parse(&sent_refresh[0]).unwrap();
    assert_eq!(refresh.require::<Lifetime>().unwrap(), Lifetime(600));
    assert!(
        refresh.has_message_integrity(),
        "signed like every request after the 401"
    );
    // Refreshed at 480 s for 600 s: the next at 480 + 480.
    net.run_until(Duration::from_secs(3000));
    assert_eq!(
        secs(&net.sent_at(Method::REFRESH)),
        [480.0, 960.0, 1440.0, 1920.0, 2400.0, 2880.0]
    );
    assert_eq!(net.client.state(), TurnState::Allocated);
    assert!(net.failed().is_none());
}

#[test]
fn rfc8656_8_refresh_follows_the_granted_lifetime() {
    let mut server = Server::new();
    server.lifetime = 1200;
    let mut net = Net::new(Net::config(), server);
    net.pump();
    assert_eq!(net.client.lifetime(), Some(Duration::from_secs(1200)));
    net.server.lifetime = 100;
    net.run_until(Duration::from_secs(1100));
    // 80 % of 1200 s, then 80 % of the 100 s granted by that refresh.
    assert_eq!(secs(&net.sent_at(Method::REFRESH)), [960.0, 1040.0]);
}

#[test]
fn rfc8656_8_unanswered_refreshes_are_retried_then_the_allocation_expires() {
    let mut net = Net::allocated();
    net.server.silent = true;
    net.run_until(Duration::from_secs(700));
    let refreshes = net.sent_at(Method::REFRESH);
    // The first transaction (480 s) times out at 519.5 s; the next starts
    // at half the 80.5 s left, and so on, all before the 600 s expiry.
    let starts: Vec<f64> = secs(&refreshes)
        .into_iter()
        .filter(|t| [480.0, 519.5 + 40.25].contains(t))
        .collect();
    assert_eq!(starts, [480.0, 559.75], "{:?}", secs(&refreshes));
    assert!(refreshes.iter().all(|t| *t < Duration::from_secs(600)));
    let err = net.failed().unwrap();
    match err {
        TurnError::AllocationExpired {
            last_refresh_error: Some(last),
        } => assert!(matches!(**last, TurnError::Timeout { .. }), "{last:?}"),
        other => panic!("{other:?}"),
    }
    assert!(
        err.to_string()
            .contains("expired because refreshing it failed")
    );
    assert_eq!(net.client.relayed(), None);
    assert_eq!(net.client.poll_timeout(), None);
}

#[test]
fn rfc8656_8_437_on_refresh_makes_a_new_allocation_and_reports_it() {
    let mut net = Net::allocated();
    let now = net.now;
    let channel = net.client.bind_channel(now, addr(PEER)).unwrap();
    net.pump();
    net.run_until(Duration::from_secs(479));
    // The server loses the allocation just before the refresh at 480 s
    // (which goes out first, before the permission's and channel's).
    net.server.allocated = false;
    net.server.relayed = addr("192.0.2.1:50000");
    net.run_until(Duration::from_secs(480));
    let at_480: Vec<Method> = net
        .wire
        .iter()
        .filter(|(t, _)| *t - net.t0 == Duration::from_secs(480))
        .map(|(_, t)| Message::parse(&t.data).unwrap().method())
        .collect();
    assert_eq!(at_480[0], Method::REFRESH);
    assert!(at_480.contains(&Method::ALLOCATE), "{at_480:?}");
    let allocs = net.sent_at(Method::ALLOCATE);
    assert_eq!(allocs.len(), 3, "401 exchange, then one reallocation");
    assert_eq!(allocs[2], Duration::from_secs(480));
    assert!(net.events.contains(&TurnEvent::Reallocated {
        previous: addr(RELAYED),
        relayed: addr("192.0.2.1:50000"),
        mapped: addr(MAPPED),
        lifetime: Duration::from_secs(600),
    }));
    assert_eq!(net.server.channel_binds.last().unwrap().1, channel);
    assert_eq!(net.client.channel(net.now, addr(PEER)), Some(channel));
    assert!(net.failed().is_none());
}

#[test]
fn rfc8656_9_1_437_on_a_permission_refresh_also_makes_a_new_allocation() {
    let mut net = Net::allocated();
    let now = net.now;
    net.client.create_permission(now, addr(PEER).ip()).unwrap();
    let channel = net.client.bind_channel(now, addr(PEER)).unwrap();
    net.pump();
    assert_eq!(net.client.channel(net.now, addr(PEER)), Some(channel));

    // The server restarts and forgets the allocation.
    net.server.allocated = false;
    net.server.relayed = addr("192.0.2.1:50000");
    let binds_before = net.server.channel_binds.len();
    let perms_before = net.server.permissions.len();
    // The first request to meet the empty server is the permission's
    // refresh at 240 s (80 % of 300 s): its authentic 437 says the
    // allocation is gone.
    net.run_until(Duration::from_secs(480));
    let allocs = net.sent_at(Method::ALLOCATE);
    assert_eq!(allocs.len(), 3, "401 exchange, then one reallocation");
    assert_eq!(allocs[2], Duration::from_secs(240));
    let sent_again = net.sent(Method::ALLOCATE);
    let again = Message::parse(&sent_again[2]).unwrap();
    assert!(again.has_message_integrity(), "with the cached credentials");
    assert!(net.events.contains(&TurnEvent::Reallocated {
        previous: addr(RELAYED),
        relayed: addr("192.0.2.1:50000"),
        mapped: addr(MAPPED),
        lifetime: Duration::from_secs(600),
    }));
    assert_eq!(net.client.relayed(), Some(addr("192.0.2.1:50000")));
    assert_eq!(net.client.state(), TurnState::Allocated);
    // Permission and channel installed again on the new allocation.
    assert!(net.server.permissions.len() > perms_before);
    assert_eq!(net.server.channel_binds.len(), binds_before + 1);
    assert_eq!(net.server.channel_binds.last().unwrap().1, channel);
    assert_eq!(net.client.channel(net.now, addr(PEER)), Some(channel));
    assert!(net.failed().is_none());
}

#[test]
fn rfc8656_8_an_unsigned_437_on_refresh_changes_nothing() {
    let mut net = Net::allocated();
    net.server.silent = true;
    net.run_until(Duration::from_secs(480));
    let refresh = net.sent(Method::REFRESH);
    let req = Message::parse(&refresh[0]).unwrap();
    let forged = net.server.error(&req, 437, false);
    net.deliver(&forged);
    assert_eq!(net.client.state(), TurnState::Allocated);
    assert_eq!(net.client.relayed(), Some(addr(RELAYED)));
    // The real answer still counts.
    let genuine = net.server.respond(&req, Class::Success, true, |w| {
        w.add(&Lifetime(600)).unwrap();
    });
    net.deliver(&genuine);
    assert!(net.events.contains(&TurnEvent::Refreshed {
        lifetime: Duration::from_secs(600)
    }));
    assert!(
        !net.events
            .iter()
            .any(|e| matches!(e, TurnEvent::Reallocated { .. }))
    );
}

/// The largest gap between successive installs or refreshes the server
/// saw for `ip`, counting CreatePermission and ChannelBind (§12.2: a bind
/// refreshes the permission), from the first to `end`.
fn largest_gap(net: &Net, ip: IpAddr, end: Duration) -> Duration {
    let mut times: Vec<Duration> = net
        .server
        .permissions
        .iter()
        .filter(|(_, p)| *p == ip)
        .map(|(t, _)| *t - net.t0)
        .collect();
    times.sort();
    times.push(end);
    times.windows(2).map(|w| w[1] - w[0]).max().unwrap()
}

#[test]
fn rfc8656_9_permissions_are_refreshed_before_their_300_s_lifetime() {
    let mut net = Net::allocated();
    let ip = addr(PEER).ip();
    net.run_until(Duration::from_secs(10));
    let now = net.now;
    net.client.create_permission(now, ip).unwrap();
    net.pump();
    assert!(net.events.contains(&TurnEvent::PermissionCreated(ip)));
    assert!(net.client.has_permission(net.now, ip));
    net.run_until(Duration::from_secs(1210));
    let sent = secs(&net.sent_at(Method::CREATE_PERMISSION));
    assert_eq!(sent, [10.0, 250.0, 490.0, 730.0, 970.0, 1210.0]);
    assert!(largest_gap(&net, ip, Duration::from_secs(1210)) < Duration::from_secs(300));
    let sent_req = net.sent(Method::CREATE_PERMISSION);
    let req = Message::parse(&sent_req[1]).unwrap();
    assert_eq!(req.require::<XorPeerAddress>().unwrap().0.ip(), ip);
    assert!(req.has_message_integrity());
    assert_eq!(
        net.events
            .iter()
            .filter(|e| matches!(e, TurnEvent::PermissionCreated(_)))
            .count(),
        1,
        "announced once, refreshed silently"
    );
}

#[test]
fn rfc8656_12_channels_are_refreshed_before_600_s_and_keep_the_permission() {
    let mut net = Net::allocated();
    let peer = addr(PEER);
    let now = net.now;
    let channel = net.client.bind_channel(now, peer).unwrap();
    assert_eq!(channel, ChannelNumber::MIN);
    assert_eq!(
        net.client.bind_channel(now, peer).unwrap(),
        channel,
        "one channel per peer"
    );
    assert_eq!(
        net.client
            .bind_channel(now, addr("198.51.100.21:7000"))
            .unwrap(),
        channel + 1
    );
    net.pump();
    assert!(
        net.events
            .contains(&TurnEvent::ChannelBound { peer, channel })
    );
    net.run_until(Duration::from_secs(2000));
    let binds: Vec<f64> = net
        .server
        .channel_binds
        .iter()
        .filter(|(_, _, p)| *p == peer)
        .map(|(t, _, _)| (*t - net.t0).as_secs_f64())
        .collect();
    assert_eq!(binds, [0.0, 480.0, 960.0, 1440.0, 1920.0]);
    assert!(
        net.server
            .channel_binds
            .iter()
            .all(|(_, n, p)| (*p == peer) == (*n == channel)),
        "the same number each time"
    );
    // The permission lives on: ChannelBinds and CreatePermissions together
    // never leave 300 s uncovered.
    assert!(largest_gap(&net, peer.ip(), Duration::from_secs(2000)) < Duration::from_secs(300));
    assert_eq!(net.client.channel(net.now, peer), Some(channel));
}

#[test]
fn rfc8656_8_close_releases_with_lifetime_zero() {
    let mut net = Net::allocated();
    let now = net.now;
    net.client.create_permission(now, addr(PEER).ip()).unwrap();
    net.pump();
    net.client.close(net.now);
    assert_eq!(net.client.state(), TurnState::Closing);
    net.pump();
    let refresh = net.sent(Method::REFRESH);
    assert_eq!(refresh.len(), 1);
    let req = Message::parse(&refresh[0]).unwrap();
    assert_eq!(req.require::<Lifetime>().unwrap(), Lifetime(0));
    assert!(req.has_message_integrity());
    assert!(!net.server.allocated);
    assert_eq!(
        net.events.last(),
        Some(&TurnEvent::Released { confirmed: true })
    );
    assert_eq!(net.client.state(), TurnState::Closed);
    assert_eq!(net.client.poll_timeout(), None);
    assert_eq!(net.client.relayed(), None);
    // Nothing more: no refreshes, no permission refreshes, no sending.
    net.run_until(Duration::from_secs(2000));
    assert_eq!(net.sent(Method::REFRESH).len(), 1);
    let now = net.now;
    assert!(net.client.send_to(now, addr(PEER), b"late").is_err());
    assert!(net.take().is_empty());
}

#[test]
fn rfc8656_8_release_unanswered_or_answered_437() {
    // Unanswered: closed anyway, unconfirmed.
    let mut net = Net::allocated();
    net.server.silent = true;
    net.client.close(net.now);
    net.run_until(Duration::from_secs(100));
    assert_eq!(
        net.events.last(),
        Some(&TurnEvent::Released { confirmed: false })
    );
    assert_eq!(net.sent(Method::REFRESH).len(), 7, "retransmitted as usual");

    // 437: the server had nothing, which is what we wanted.
    let mut net = Net::allocated();
    net.client.close(net.now);
    let out = net.take();
    let req = Message::parse(&out[0].data).unwrap();
    let answer = net.server.error(&req, 437, true);
    net.deliver(&answer);
    assert_eq!(
        net.events.last(),
        Some(&TurnEvent::Released { confirmed: true })
    );
}

#[test]
fn close_while_allocating_releases_what_the_answer_creates() {
    // Before any credentials: nothing can exist on the server.
    let mut net = Net::new(Net::config(), Server::new());
    net.client.close(net.now);
    net.collect_events();
    assert_eq!(
        net.events.last(),
        Some(&TurnEvent::Released { confirmed: true })
    );
    assert_eq!(net.client.poll_timeout(), None);

    // With the credentialed Allocate in flight: its success is released.
    let mut net = Net::new(Net::config(), Server::new());
    let first = net.take();
    let req = Message::parse(&first[0].data).unwrap();
    let challenge = net.server.challenge(&req, 401);
    net.deliver(&challenge);
    let second = net.take();
    net.client.close(net.now);
    assert_eq!(net.client.state(), TurnState::Closing);
    let answer = net.server.handle(net.now, &second[0].data).unwrap();
    net.deliver(&answer);
    net.pump();
    assert!(
        !net.events
            .iter()
            .any(|e| matches!(e, TurnEvent::Allocated { .. }))
    );
    let release = net.sent(Method::REFRESH);
    assert_eq!(release.len(), 1);
    assert_eq!(
        Message::parse(&release[0])
            .unwrap()
            .require::<Lifetime>()
            .unwrap(),
        Lifetime(0)
    );
    assert_eq!(
        net.events.last(),
        Some(&TurnEvent::Released { confirmed: true })
    );
}

#[test]
fn rfc8656_9_a_failed_permission_refresh_is_retried_and_then_reported() {
    let mut net = Net::allocated();
    let ip = addr(PEER).ip();
    let now = net.now;
    net.client.create_permission(now, ip).unwrap();
    net.pump();
    // From now on CreatePermission gets no answer (the allocation's
    // refreshes still do: only permissions are refused here).
    net.run_until(Duration::from_secs(239));
    net.server.silent = true;
    net.run_until(Duration::from_secs(300));
    assert!(!net.client.has_permission(net.now, ip), "lapsed at 300 s");
    net.run_until(Duration::from_secs(340));
    let sent = secs(&net.sent_at(Method::CREATE_PERMISSION));
    assert_eq!(sent[0], 0.0);
    assert_eq!(sent[1], 240.0, "refresh at 80 % of 300 s");
    assert!(
        sent.contains(&(279.5 + 10.25)),
        "retried at half the time left: {sent:?}"
    );
    assert!(net.events.iter().any(|e| matches!(
        e,
        TurnEvent::PermissionFailed(p, TurnError::Timeout { operation: Operation::CreatePermission(_), .. }
            | TurnError::Expired { .. }) if *p == ip
    )), "{:?}", net.events);
}

#[test]
fn rfc8656_8_data_sent_while_reallocating_waits_and_then_goes() {
    let mut net = Net::allocated();
    let peer = addr(PEER);
    let now = net.now;
    net.client.create_permission(now, peer.ip()).unwrap();
    net.pump();
    net.run_until(Duration::from_secs(479));
    net.now = net.t0 + Duration::from_secs(480);
    net.client.handle_timeout(net.now);
    let out = net.take();
    let refresh = out
        .iter()
        .find(|t| Message::parse(&t.data).unwrap().method() == Method::REFRESH)
        .unwrap();
    let req = Message::parse(&refresh.data).unwrap();
    net.server.allocated = false;
    let lost = net.server.error(&req, 437, true);
    net.deliver(&lost);
    assert_eq!(net.client.state(), TurnState::Reallocating);
    assert_eq!(net.client.relayed(), None);
    let now = net.now;
    net.client.send_to(now, peer, b"held").unwrap();
    assert!(
        net.take()
            .iter()
            .all(|t| Message::parse(&t.data).unwrap().method() == Method::ALLOCATE),
        "only the new Allocate goes out"
    );
    // Answer the new Allocate (taken above) and what follows.
    let allocate = net.sent(Method::ALLOCATE).pop().unwrap();
    let answer = net.server.handle(net.now, &allocate).unwrap();
    net.deliver(&answer);
    net.pump();
    assert_eq!(net.client.state(), TurnState::Allocated);
    assert_eq!(
        net.server.relayed_out.last(),
        Some(&(peer, b"held".to_vec(), "send"))
    );
}
