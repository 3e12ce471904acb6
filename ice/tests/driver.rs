//! The tokio driver over real loopback sockets: two agents trickle their
//! candidates to each other through a channel (the signalling), connect,
//! and carry datagrams; through our TURN server with the relay-only
//! policy; across an ICE restart; and a hopeless checklist fails instead
//! of hanging. Waits are bounded (a shared machine may be slow), never
//! asserted.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use ice::driver::{ConnectError, Connection, IceAgent, IceConfig, LocalAddresses};
use ice::{AgentConfig, CandidatePolicy, CandidateType, ConnectionState, Role, TurnServer};
use tokio::time::timeout;
use turn_server::TurnServerConfig;
use turn_server::front::TurnFront;
use turn_server::turn::Prefix;

const WAIT: Duration = Duration::from_secs(20);

fn loopback() -> IpAddr {
    "127.0.0.1".parse().unwrap()
}

fn config(role: Role, seed: u64) -> AgentConfig {
    let mut c = AgentConfig::new(role, seed);
    c.include_loopback = true;
    c
}

async fn agent(c: AgentConfig) -> Arc<IceAgent> {
    let config = IceConfig::new(c).with_local(LocalAddresses::Ips(vec![loopback()]));
    Arc::new(IceAgent::new(config).await.unwrap())
}

/// Signals `from`'s credentials and trickles its candidates (then
/// end-of-candidates) to `to`, as a signalling channel would.
async fn signal(from: Arc<IceAgent>, to: Arc<IceAgent>) {
    to.set_remote_credentials(from.local_credentials())
        .await
        .unwrap();
    let mut candidates = from.local_candidates();
    while let Some(c) = candidates.next().await {
        // Through the SDP line, as a real signalling channel carries it.
        let line = ice::sdp::write_candidate(&c).unwrap();
        to.add_remote_candidate(ice::sdp::parse_candidate(&line).unwrap())
            .await
            .unwrap();
    }
    to.end_of_remote_candidates().await.unwrap();
}

async fn connect_pair(a: &Arc<IceAgent>, b: &Arc<IceAgent>) -> (Connection, Connection) {
    tokio::spawn(signal(a.clone(), b.clone()));
    tokio::spawn(signal(b.clone(), a.clone()));
    let (ca, cb) = timeout(WAIT, async { tokio::join!(a.connect(), b.connect()) })
        .await
        .expect("both connect in time");
    (ca.unwrap(), cb.unwrap())
}

/// `from` sends until `to` receives `payload` (UDP may drop one while the
/// pair settles).
async fn deliver(from: &Connection, to: &mut Connection, payload: &[u8]) {
    timeout(WAIT, async {
        loop {
            from.send(payload).await.unwrap();
            if let Ok(Ok(got)) = timeout(Duration::from_millis(200), to.recv()).await {
                assert_eq!(got, payload);
                return;
            }
        }
    })
    .await
    .expect("data crosses in time");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_agents_on_loopback_connect_and_carry_datagrams_both_ways() {
    let a = agent(config(Role::Controlling, 1)).await;
    let b = agent(config(Role::Controlled, 2)).await;
    let (ca, mut cb) = connect_pair(&a, &b).await;
    let (la, ra) = ca.selected_pair().unwrap();
    let (lb, rb) = cb.selected_pair().unwrap();
    assert_eq!(la.address, rb.address, "A's local is B's remote");
    assert_eq!(ra.address, lb.address);
    assert_eq!(la.kind, CandidateType::Host);
    deliver(&ca, &mut cb, b"\x80from a").await;
    let mut ca = ca;
    deliver(&cb, &mut ca, b"\x80from b").await;
    // Rounds of datagrams back to back: each round (well under a socket
    // buffer) arrives whole and in order on loopback.
    for round in 0..10u32 {
        for i in 0..50u32 {
            let mut d = vec![0x80];
            d.extend_from_slice(&(round * 50 + i).to_be_bytes());
            ca.send(&d).await.unwrap();
        }
        for i in 0..50u32 {
            let d = timeout(WAIT, cb.recv()).await.unwrap().unwrap();
            let mut want = vec![0x80];
            want.extend_from_slice(&(round * 50 + i).to_be_bytes());
            assert_eq!(d, want);
        }
    }
    assert!(matches!(
        a.state(),
        ConnectionState::Connected | ConnectionState::Completed
    ));
    // A second connect on the same agent is refused, clearly.
    assert_eq!(
        a.connect().await.err(),
        Some(ConnectError::AlreadyConnected)
    );
    ca.close().await;
    assert_eq!(a.state(), ConnectionState::Closed);
    assert!(ca_closed_recv(&a).await);
    b.close().await;
    assert!(matches!(
        cb.recv().await,
        Err(ice::driver::ConnectionError::Closed)
    ));
}

/// After close, the agent refuses calls with `Gone`.
async fn ca_closed_recv(a: &IceAgent) -> bool {
    matches!(
        a.add_remote_candidate(
            ice::sdp::parse_candidate("candidate:1 1 udp 1 127.0.0.1 9 typ host").unwrap()
        )
        .await,
        Err(ice::driver::DriverError::Gone)
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn local_candidates_and_first_events_replay_to_late_readers() {
    let a = agent(config(Role::Controlling, 3)).await;
    let mut first = Vec::new();
    let mut s = a.local_candidates();
    while let Some(c) = timeout(WAIT, s.next()).await.unwrap() {
        first.push(c);
    }
    assert_eq!(first.len(), 1, "one host candidate on 127.0.0.1");
    assert_eq!(first[0].kind, CandidateType::Host);
    // A reader that comes after gathering completed gets the same, then
    // the end.
    let mut again = Vec::new();
    let mut s = a.local_candidates();
    while let Some(c) = timeout(WAIT, s.next()).await.unwrap() {
        again.push(c);
    }
    assert_eq!(first, again);
    // The first events() call replays from the start, even though it
    // comes after gathering completed; a later call starts from now.
    let mut events = a.events();
    let mut replayed = Vec::new();
    while let Ok(Some(e)) = timeout(Duration::from_millis(200), events.next()).await {
        replayed.push(e);
    }
    assert!(
        matches!(replayed.first(), Some(ice::Event::LocalCandidate { candidate, .. }) if *candidate == first[0]),
        "{replayed:?}"
    );
    assert!(
        replayed
            .iter()
            .any(|e| matches!(e, ice::Event::GatheringComplete { .. })),
        "{replayed:?}"
    );
    let mut later = a.events();
    assert!(
        timeout(Duration::from_millis(200), later.next())
            .await
            .is_err(),
        "a second subscriber starts from now"
    );
    a.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn relay_only_agents_connect_through_our_turn_server_and_close_releases() {
    let server = TurnServerConfig::new(SocketAddr::new(loopback(), 0), "example.org")
        .unwrap()
        .with_user("alice", "secret")
        .unwrap()
        .allow_peers(Prefix::new(loopback(), 8).unwrap())
        .with_seed(5);
    let front = TurnFront::start(server).await.unwrap();
    let turn = front.udp_addresses()[0];
    let relay_config = |role, seed| {
        let mut c = config(role, seed);
        c.turn_servers = vec![TurnServer::new(turn, "alice", "secret")];
        c.policy = CandidatePolicy::Relay;
        c
    };
    let a = agent(relay_config(Role::Controlling, 7)).await;
    let b = agent(relay_config(Role::Controlled, 8)).await;
    let (ca, mut cb) = connect_pair(&a, &b).await;
    let (la, ra) = ca.selected_pair().unwrap();
    assert_eq!(
        (la.kind, ra.kind),
        (CandidateType::Relayed, CandidateType::Relayed)
    );
    deliver(&ca, &mut cb, b"\x80through the relay").await;
    let mut ca = ca;
    deliver(&cb, &mut ca, b"\x80and back").await;
    let relayed = front.stats();
    assert!(relayed.to_peers.0 >= 2 && relayed.to_clients.0 >= 2);
    assert_eq!(relayed.allocations, 2);
    // Closing releases the allocations (Refresh with LIFETIME 0) before
    // the sockets close.
    a.close().await;
    b.close().await;
    let stats = front.shutdown().await;
    assert_eq!(stats.allocations, 0, "both allocations released: {stats:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn data_keeps_flowing_across_an_ice_restart() {
    let a = agent(config(Role::Controlling, 11)).await;
    let b = agent(config(Role::Controlled, 12)).await;
    let (mut ca, mut cb) = connect_pair(&a, &b).await;
    deliver(&ca, &mut cb, b"\x80before").await;
    let old_a = a.local_credentials();
    let new_a = a.restart().await.unwrap();
    let new_b = b.restart().await.unwrap();
    assert_ne!(old_a, new_a);
    assert_eq!(a.local_credentials(), new_a);
    // Data still goes on the old pair while the new checks run.
    deliver(&ca, &mut cb, b"\x80during").await;
    assert_eq!(b.local_credentials(), new_b);
    tokio::spawn(signal(a.clone(), b.clone()));
    tokio::spawn(signal(b.clone(), a.clone()));
    timeout(WAIT, async {
        let mut events = a.events();
        while a.state() != ConnectionState::Completed {
            if events.next().await.is_none() {
                break;
            }
        }
    })
    .await
    .expect("the restarted checklist completes");
    deliver(&ca, &mut cb, b"\x80after").await;
    deliver(&cb, &mut ca, b"\x80after, back").await;
    a.close().await;
    b.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hopeless_checklist_fails_connect_instead_of_hanging() {
    // Checks give up after 7 tries 100 ms apart instead of RFC 8489's
    // 39.5 s, to keep the test short.
    let mut c = config(Role::Controlling, 21);
    c.check_retransmit = candidate_gather::transaction::RetransmitConfig {
        rto: Duration::from_millis(100),
        rc: 7,
        rm: 1,
        max_interval: Duration::from_millis(100),
    };
    let a = agent(c).await;
    // A peer that never answers: a socket nobody reads.
    let silent = std::net::UdpSocket::bind((loopback(), 0)).unwrap();
    let port = silent.local_addr().unwrap().port();
    a.set_remote_credentials(ice::Credentials::new("abcd", "0123456789abcdef01234567").unwrap())
        .await
        .unwrap();
    let line = format!("candidate:1 1 udp 2130706431 127.0.0.1 {port} typ host");
    a.add_remote_candidate(ice::sdp::parse_candidate(&line).unwrap())
        .await
        .unwrap();
    a.end_of_remote_candidates().await.unwrap();
    let r = timeout(Duration::from_secs(60), a.connect())
        .await
        .expect("fails within the check lifetime");
    match r {
        Err(ConnectError::Failed { pairs_tried }) => {
            assert_eq!(pairs_tried, 1);
            let msg = ConnectError::Failed { pairs_tried }.to_string();
            assert!(msg.contains("TURN server"), "{msg}");
        }
        Err(e) => panic!("expected Failed, got {e}"),
        Ok(_) => panic!("connected to a silent socket"),
    }
    a.close().await;
}
