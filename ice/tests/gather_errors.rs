//! A STUN server that gives no server-reflexive candidate is reported per
//! server (`Event::ServerReflexiveFailed`), and gathering still completes:
//! silence is a timeout after RFC 8489's retransmissions, an error answer
//! carries its code and reason.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use ice::{Agent, AgentConfig, Event, Role, StreamConfig, StunError};
use stun_proto::attr::ErrorCode;
use stun_proto::{Message, MessageType, MessageWriter};

const BASE: &str = "192.0.2.10:5000";
const SILENT: &str = "198.51.100.1:3478";
const REFUSING: &str = "198.51.100.2:3478";

fn addr(s: &str) -> SocketAddr {
    s.parse().unwrap()
}

#[test]
fn each_failed_stun_server_is_reported_and_gathering_completes() {
    #[allow(clippy::disallowed_methods)]
    let t0 = Instant::now();
    let mut config = AgentConfig::new(Role::Controlling, 9);
    config.stun_servers = vec![addr(SILENT), addr(REFUSING)];
    let mut agent = Agent::new(config, t0);
    agent
        .add_stream(t0, StreamConfig::single(vec![addr(BASE)]))
        .unwrap();
    let mut now = t0;
    let mut events = Vec::new();
    let mut answered = false;
    while now < t0 + Duration::from_secs(60) {
        while let Some(t) = agent.poll_transmit() {
            if t.to == addr(REFUSING) && !answered {
                let req = Message::parse(&t.data).unwrap();
                let mut out = Vec::new();
                let mut w = MessageWriter::new(
                    &mut out,
                    MessageType::BINDING_REQUEST.error(),
                    req.transaction_id(),
                );
                w.add(&ErrorCode::new(403, "Forbidden").unwrap()).unwrap();
                answered = true;
                agent.handle_packet(now, t.from, t.to, &out);
            }
        }
        while let Some(e) = agent.poll_event() {
            events.push(e);
        }
        if events
            .iter()
            .any(|e| matches!(e, Event::GatheringComplete { .. }))
        {
            break;
        }
        now = agent.poll_timeout().unwrap().max(now);
        agent.handle_timeout(now);
    }
    let failures: Vec<(SocketAddr, StunError)> = events
        .iter()
        .filter_map(|e| match e {
            Event::ServerReflexiveFailed {
                server,
                base,
                error,
                ..
            } => {
                assert_eq!(*base, addr(BASE));
                Some((*server, error.clone()))
            }
            _ => None,
        })
        .collect();
    assert_eq!(
        failures,
        [
            (
                addr(REFUSING),
                StunError::Refused {
                    code: 403,
                    reason: "Forbidden".to_owned()
                }
            ),
            (addr(SILENT), StunError::Timeout),
        ]
    );
    // The silent server is given up after RFC 8489 §6.2.1's 39.5 s.
    let elapsed = now - t0;
    assert!(
        elapsed >= Duration::from_millis(39_500) && elapsed < Duration::from_secs(41),
        "{elapsed:?}"
    );
    assert!(StunError::Timeout.to_string().contains("UDP"));
    assert!(
        events
            .iter()
            .any(|e| matches!(e, Event::GatheringComplete { .. })),
        "gathering completed"
    );
}
