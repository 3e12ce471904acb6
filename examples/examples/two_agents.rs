//! Two ICE agents on this machine, with the signalling done by two tasks
//! that trickle candidates while the checks already run; then an echo
//! over the selected pair. Run it with
//!
//! ```sh
//! cargo run -p icectl --example two_agents
//! ```
//!
//! Replace the channels with your own signalling (a WebSocket, an SDP
//! offer and answer) and the loopback address with
//! `LocalAddresses::Interfaces` to connect two machines; add
//! `config.stun_servers` and `config.turn_servers` to cross NATs.

use std::sync::Arc;

use ice::driver::{IceAgent, IceConfig, LocalAddresses};
use ice::{AgentConfig, Event, Role};
use tokio::sync::mpsc;

/// What one agent tells the other: the lines of an SDP's ICE attributes.
#[derive(Debug)]
enum Signal {
    Credentials(ice::Credentials),
    Candidate(String),
    EndOfCandidates,
}

async fn agent(role: Role, seed: u64) -> Result<Arc<IceAgent>, Box<dyn std::error::Error>> {
    let mut config = AgentConfig::new(role, seed);
    config.include_loopback = true;
    let local = LocalAddresses::Ips(vec!["127.0.0.1".parse()?]);
    Ok(Arc::new(
        IceAgent::new(IceConfig::new(config).with_local(local)).await?,
    ))
}

/// Sends `agent`'s description to the peer as it is gathered.
fn send_description(agent: Arc<IceAgent>, to_peer: mpsc::UnboundedSender<Signal>) {
    tokio::spawn(async move {
        let _ = to_peer.send(Signal::Credentials(agent.local_credentials()));
        let mut candidates = agent.local_candidates();
        while let Some(c) = candidates.next().await {
            if let Ok(line) = ice::sdp::write_candidate(&c) {
                let _ = to_peer.send(Signal::Candidate(line));
            }
        }
        let _ = to_peer.send(Signal::EndOfCandidates);
    });
}

/// Feeds the peer's description into `agent` as it arrives.
fn take_description(agent: Arc<IceAgent>, mut from_peer: mpsc::UnboundedReceiver<Signal>) {
    tokio::spawn(async move {
        while let Some(signal) = from_peer.recv().await {
            let done = match signal {
                Signal::Credentials(c) => agent.set_remote_credentials(c).await,
                // Remote input: a line that does not parse is skipped.
                Signal::Candidate(line) => match ice::sdp::parse_candidate(&line) {
                    Ok(c) => agent.add_remote_candidate(c).await,
                    Err(e) => {
                        eprintln!("skipping `{line}`: {e}");
                        Ok(())
                    }
                },
                Signal::EndOfCandidates => agent.end_of_remote_candidates().await,
            };
            if done.is_err() {
                return;
            }
        }
    });
}

/// Prints what an agent reports, as it happens.
fn log_events(name: &'static str, agent: &IceAgent) {
    let mut events = agent.events();
    tokio::spawn(async move {
        while let Some(e) = events.next().await {
            match e {
                Event::LocalCandidate { candidate, .. } => {
                    println!("{name}: candidate {} {}", candidate.kind, candidate.address)
                }
                Event::StateChanged { state, .. } => println!("{name}: {state:?}"),
                Event::SelectedPair { local, remote, .. } => println!(
                    "{name}: selected {} {} -> {} {}",
                    local.kind, local.address, remote.kind, remote.address
                ),
                _ => {}
            }
        }
    });
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let a = agent(Role::Controlling, 1).await?;
    let b = agent(Role::Controlled, 2).await?;
    log_events("A", &a);
    log_events("B", &b);
    let (a_to_b, b_inbox) = mpsc::unbounded_channel();
    let (b_to_a, a_inbox) = mpsc::unbounded_channel();
    send_description(a.clone(), a_to_b);
    send_description(b.clone(), b_to_a);
    take_description(a.clone(), a_inbox);
    take_description(b.clone(), b_inbox);

    let (ca, cb) = tokio::join!(a.connect(), b.connect());
    let (ca, mut cb) = (ca?, cb?);
    // RFC 7983: application datagrams must not start like STUN (0-3).
    ca.send(b"\x80ping").await?;
    let got = cb.recv().await?;
    cb.send(&got).await?;
    let mut ca = ca;
    let echo = ca.recv().await?;
    println!(
        "A sent ping, B echoed {:?}",
        String::from_utf8_lossy(echo.get(1..).unwrap_or_default())
    );
    assert_eq!(echo, b"\x80ping");
    a.close().await;
    b.close().await;
    Ok(())
}
