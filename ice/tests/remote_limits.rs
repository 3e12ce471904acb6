//! A peer that signals endless candidates cannot grow the agent: after
//! `MAX_REMOTE_CANDIDATES` distinct ones (IP or mDNS name) the rest are
//! refused with a typed error, repeats of known ones still pass, the
//! checklist stays within `max_pairs`, and the agent still works.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::net::SocketAddr;
use std::time::Instant;

use ice::{
    Agent, AgentConfig, AgentError, Candidate, CandidateAddress, CandidateType,
    MAX_REMOTE_CANDIDATES, Role, StreamConfig, TransportProtocol,
};

fn candidate(address: CandidateAddress) -> Candidate {
    Candidate {
        foundation: "1".into(),
        component: 1,
        transport: TransportProtocol::Udp,
        priority: 2_130_706_431,
        address,
        kind: CandidateType::Host,
        related: None,
        extensions: Vec::new(),
    }
}

fn ip(n: usize) -> CandidateAddress {
    let addr: SocketAddr = format!("10.{}.{}.{}:5000", n / 65536 % 256, n / 256 % 256, n % 256)
        .parse()
        .unwrap();
    CandidateAddress::Ip(addr)
}

#[test]
fn endless_candidates_are_refused_after_the_limit_and_nothing_else_changes() {
    #[allow(clippy::disallowed_methods)]
    let now = Instant::now();
    let mut agent = Agent::new(AgentConfig::new(Role::Controlling, 1), now);
    let local: SocketAddr = "192.0.2.1:4000".parse().unwrap();
    let stream = agent
        .add_stream(now, StreamConfig::single(vec![local]))
        .unwrap();
    let peer = ice::Credentials::new("peer", "apasswordof22charsplus").unwrap();
    agent.set_remote_credentials(stream, peer).unwrap();
    for n in 0..MAX_REMOTE_CANDIDATES {
        agent
            .add_remote_candidate(stream, candidate(ip(n)))
            .unwrap();
    }
    for n in MAX_REMOTE_CANDIDATES..MAX_REMOTE_CANDIDATES + 1000 {
        assert_eq!(
            agent.add_remote_candidate(stream, candidate(ip(n))),
            Err(AgentError::TooManyCandidates)
        );
    }
    // A repeat of a known candidate (trickle may duplicate) is no error.
    agent
        .add_remote_candidate(stream, candidate(ip(7)))
        .unwrap();
    let pairs = agent.pair_stats(stream).unwrap();
    // One local candidate: at most one pair per remote kept, and the
    // checklist's live pairs within the cap (§6.1.2.5).
    assert!(pairs.len() <= MAX_REMOTE_CANDIDATES, "{}", pairs.len());
    let live = pairs
        .iter()
        .filter(|p| p.state != ice::CandidatePairState::Failed)
        .count();
    assert!(
        live <= AgentConfig::new(Role::Controlling, 1).max_pairs,
        "{live}"
    );
    assert!(
        pairs
            .iter()
            .all(|p| p.remote.socket_addr() != ip_addr(MAX_REMOTE_CANDIDATES)),
        "no pair towards a refused candidate"
    );

    // mDNS names wait for resolution; they are bounded the same way.
    for n in 0..MAX_REMOTE_CANDIDATES {
        let name = CandidateAddress::Name {
            name: format!("{n}.local"),
            port: 5000,
        };
        agent.add_remote_candidate(stream, candidate(name)).unwrap();
    }
    let one_more = CandidateAddress::Name {
        name: "x.local".into(),
        port: 5000,
    };
    assert_eq!(
        agent.add_remote_candidate(stream, candidate(one_more)),
        Err(AgentError::TooManyCandidates)
    );
    // The agent still runs: checks go out, to accepted candidates only.
    let mut t = None;
    for step in 1..=20 {
        agent.handle_timeout(now + std::time::Duration::from_millis(50 * step));
        t = agent.poll_transmit();
        if t.is_some() {
            break;
        }
    }
    let states: Vec<_> = agent
        .pair_stats(stream)
        .unwrap()
        .iter()
        .map(|p| p.state)
        .collect();
    let t = t.unwrap_or_else(|| panic!("a check within 20 Ta: {states:?}"));
    assert!(
        (0..MAX_REMOTE_CANDIDATES).any(|n| ip_addr(n) == Some(t.to)),
        "{}",
        t.to
    );
}

fn ip_addr(n: usize) -> Option<SocketAddr> {
    match ip(n) {
        CandidateAddress::Ip(a) => Some(a),
        CandidateAddress::Name { .. } => None,
    }
}
