//! Closing an agent (the `closed` state of `RTCIceTransportState`): every
//! stream reports `Closed` once, nothing more is sent or scheduled, checks
//! from the peer go unanswered, and the API refuses further work.

// Any instant will do as the origin: only differences from it matter.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::disallowed_methods
)]

use std::time::{Duration, Instant};

use ice::{Agent, AgentConfig, AgentError, ConnectionState, Event, Role, StreamConfig, StreamId};

fn agent(role: Role, seed: u64, host: &str, now: Instant) -> (Agent, StreamId) {
    let mut a = Agent::new(AgentConfig::new(role, seed), now);
    let s = a
        .add_stream(now, StreamConfig::single(vec![host.parse().unwrap()]))
        .unwrap();
    (a, s)
}

/// Carries `me`'s candidates to `peer` and its datagrams; returns the
/// states `me` reported and whether anything moved.
fn step(
    me: &mut Agent,
    peer: &mut Agent,
    ps: StreamId,
    now: Instant,
    states: &mut Vec<ConnectionState>,
) -> bool {
    let mut busy = false;
    while let Some(e) = me.poll_event() {
        busy = true;
        match e {
            Event::LocalCandidate { candidate, .. } => {
                let _ = peer.add_remote_candidate(ps, candidate);
            }
            Event::StateChanged { state, .. } => states.push(state),
            _ => {}
        }
    }
    while let Some(t) = me.poll_transmit() {
        busy = true;
        peer.handle_packet(now, t.to, t.from, &t.data);
    }
    busy
}

#[test]
fn a_closed_agent_reports_closed_once_and_then_does_nothing() {
    let t0 = Instant::now();
    let mut now = t0;
    let (mut a, sa) = agent(Role::Controlling, 1, "192.0.2.1:5000", now);
    let (mut b, sb) = agent(Role::Controlled, 2, "192.0.2.2:5000", now);
    a.set_remote_credentials(sa, b.local_credentials(sb).unwrap())
        .unwrap();
    b.set_remote_credentials(sb, a.local_credentials(sa).unwrap())
        .unwrap();
    let (mut sta, mut stb) = (Vec::new(), Vec::new());
    while now < t0 + Duration::from_secs(3) {
        while step(&mut a, &mut b, sb, now, &mut sta) | step(&mut b, &mut a, sa, now, &mut stb) {}
        now = [a.poll_timeout(), b.poll_timeout()]
            .into_iter()
            .flatten()
            .min()
            .unwrap()
            .max(now);
        a.handle_timeout(now);
        b.handle_timeout(now);
    }
    assert!(sta.contains(&ConnectionState::Connected), "{sta:?}");

    a.close();
    a.close();
    let events: Vec<Event> = std::iter::from_fn(|| a.poll_event()).collect();
    assert_eq!(
        events,
        [Event::StateChanged {
            stream: sa,
            state: ConnectionState::Closed
        }]
    );
    assert!(a.poll_transmit().is_none());
    assert_eq!(a.poll_timeout(), None, "nothing left to wake up for");
    assert_eq!(a.send(sa, 1, b"\x80late"), Err(AgentError::Closed));
    assert_eq!(
        a.add_stream(
            now,
            StreamConfig::single(vec!["192.0.2.1:5001".parse().unwrap()])
        ),
        Err(AgentError::Closed)
    );
    // The peer's consent checks go unanswered, and time changes nothing.
    for _ in 0..20 {
        now += Duration::from_secs(1);
        b.handle_timeout(now);
        while let Some(t) = b.poll_transmit() {
            a.handle_packet(now, t.to, t.from, &t.data);
        }
        a.handle_timeout(now);
        assert!(a.poll_transmit().is_none());
        assert!(a.poll_event().is_none());
    }
}
