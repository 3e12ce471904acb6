//! Interop with webrtc-ice 0.17 (issue 8), in this process over loopback
//! UDP: our tokio driver ([`OurPeer`]) against a webrtc-ice agent in the
//! opposite role (`dial` is controlling, `accept` controlled), RFC 8445.
//!
//! - `direct`: host candidates only, exchanged as a batch after both
//!   sides have gathered, then end-of-candidates.
//! - `relay (our TURN)`: our TURN server (RFC 8656) given to both agents,
//!   ours relay-only: the selected pair holds our relayed candidate, so
//!   webrtc-ice's checks and data reach us through the server (its
//!   counters must show packets relayed both ways).
//! - `trickle`: trickle ICE (RFC 8838): credentials first, both agents
//!   told to connect before any remote candidate is known, each candidate
//!   handed over alone as its agent gathers it, end-of-candidates last. Both
//!   agents also use our TURN server here (no policy), so a second,
//!   relayed candidate trickles in while checks already run.
//!
//! Each run records its row, then asserts: both agents connected, webrtc-ice's
//! selected pair is ours mirrored (its local address is our remote one and
//! the other way round), and a datagram goes each way over it.

mod webrtc;

use std::time::Duration;

use ice::Role;
use ice::driver::Connection;
use ice_interop::ours::{Options, OurPeer};
use ice_interop::relay::{self, Relay};
use ice_interop::table::{self, Row};
use webrtc::{TheirConn, Theirs, signal};

/// Turns a hang into a failure.
const LIMIT: Duration = Duration::from_secs(20);

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Variant {
    Direct,
    Relay,
    Trickle,
}

impl Variant {
    fn name(self) -> &'static str {
        match self {
            Variant::Direct => "direct",
            Variant::Relay => "relay (our TURN)",
            Variant::Trickle => "trickle",
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn direct_ours_controlling() {
    run(Variant::Direct, Role::Controlling, 0x8_0101).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn direct_ours_controlled() {
    run(Variant::Direct, Role::Controlled, 0x8_0102).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn relay_ours_controlling() {
    run(Variant::Relay, Role::Controlling, 0x8_0201).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn relay_ours_controlled() {
    run(Variant::Relay, Role::Controlled, 0x8_0202).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn trickle_ours_controlling() {
    run(Variant::Trickle, Role::Controlling, 0x8_0301).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn trickle_ours_controlled() {
    run(Variant::Trickle, Role::Controlled, 0x8_0302).await;
}

/// One run: record the row, then assert.
async fn run(variant: Variant, role: Role, seed: u64) {
    let version = webrtc::version().expect("the webrtc-ice version from Cargo.lock");
    let relay = match variant {
        Variant::Direct => None,
        Variant::Relay | Variant::Trickle => {
            Some(Relay::start().await.expect("our TURN server starts"))
        }
    };
    let (pair, outcome) = attempt(variant, role, seed, relay.as_ref()).await;
    if let Some(r) = relay {
        r.stop().await;
    }
    let our_role = table::role_name(role);
    let row = Row::new(
        "webrtc-ice",
        &version,
        variant.name(),
        role,
        pair,
        outcome.as_ref().map(|_| ()).map_err(String::as_str),
    );
    table::record(&row).expect("the row is written");
    if let Err(e) = outcome {
        panic!(
            "webrtc-ice, {}, ours {our_role}, seed {seed:#x}: {e}",
            variant.name()
        );
    }
}

/// Starts both agents, runs the exchange, closes both; returns our
/// selected pair's table cell (empty if none) and the outcome.
async fn attempt(
    variant: Variant,
    role: Role,
    seed: u64,
    relay: Option<&Relay>,
) -> (String, Result<(), String>) {
    let mut options = Options::new(role, seed);
    options.turn = relay.map(|r| (r.udp, relay::USER.into(), relay::PASSWORD.into()));
    options.relay_only = variant == Variant::Relay;
    let ours = match OurPeer::start(&options).await {
        Ok(p) => p,
        Err(e) => return (String::new(), Err(e)),
    };
    let turn = relay.map(|r| (r.udp, relay::USER, relay::PASSWORD));
    let theirs = match Theirs::start(role != Role::Controlling, turn).await {
        Ok(t) => t,
        Err(e) => {
            ours.close().await;
            return (String::new(), Err(e));
        }
    };
    let outcome = exchange(variant, &ours, &theirs, relay).await;
    let (pair, named) = match pair_cell(&ours).await {
        Ok(cell) => (cell, Ok(())),
        Err(e) => (String::new(), Err(e)),
    };
    ours.close().await;
    let closed = theirs.close(LIMIT).await;
    (pair, outcome.and(named).and(closed))
}

/// Our selected pair's table cell, empty if none; an error if the
/// selected pair and the checklist disagree on the remote candidate's type.
/// That was a bug: when a check from webrtc-ice came before the candidate
/// it was sent from (trickle), the selected pair kept the peer-reflexive
/// guess after the signalled candidate replaced it in the checklist
/// (fixed; replayed in `tests/tests/interop_regressions.rs`).
async fn pair_cell(ours: &OurPeer) -> Result<String, String> {
    let Some((local, remote)) = ours.selected() else {
        return Ok(String::new());
    };
    let stats = ours.agent.pair_stats().await.unwrap_or_default();
    let known = stats
        .into_iter()
        .find(|p| p.local.address == local.address && Some(p.remote_addr) == remote.socket_addr());
    match known {
        Some(p) if p.remote.kind != remote.kind => Err(format!(
            "our selected pair says {} for {}, our checklist {}: a stale selected pair",
            remote.kind, remote.address, p.remote.kind
        )),
        _ => Ok(table::pair_cell(&local, &remote)),
    }
}

/// Signalling, connection, the pair check and data both ways.
async fn exchange(
    variant: Variant,
    ours: &OurPeer,
    theirs: &Theirs,
    relay: Option<&Relay>,
) -> Result<(), String> {
    let mine = ours.credentials();
    let (ufrag, pwd) = theirs.credentials().await;
    let (mut conn, their_conn) = match variant {
        Variant::Direct | Variant::Relay => {
            let rx = theirs.gather()?;
            let (our_lines, their_lines) =
                tokio::join!(ours.gathered(LIMIT), webrtc::gathered(rx, LIMIT));
            let (our_lines, their_lines) = (our_lines?, their_lines?);
            ours.set_remote_credentials(&ufrag, &pwd).await?;
            signal::refused(ours.add_remote_lines(&their_lines).await?)?;
            ours.end_of_candidates().await?;
            for line in &our_lines {
                theirs.add_line(line)?;
            }
            let dialing = theirs.connect(mine.ufrag(), mine.pwd());
            let (a, b) = tokio::join!(ours.connected(LIMIT), dialing.connected(theirs, LIMIT));
            both(a, b)?
        }
        Variant::Trickle => {
            ours.set_remote_credentials(&ufrag, &pwd).await?;
            theirs
                .set_remote_credentials(mine.ufrag(), mine.pwd())
                .await?;
            let dialing = theirs.connect(mine.ufrag(), mine.pwd());
            let rx = theirs.gather()?;
            let (to_theirs, to_ours, a, b) = tokio::join!(
                signal::trickle_to_theirs(ours, theirs, LIMIT),
                signal::trickle_to_ours(rx, ours, LIMIT),
                ours.connected(LIMIT),
                dialing.connected(theirs, LIMIT)
            );
            // A candidate either side refused explains a failed connection.
            let (sent, received) = both(to_theirs, to_ours)?;
            let conns = both(a, b)?;
            println!("trickled {sent} of our candidates, {received} of webrtc-ice's");
            conns
        }
    };
    same_pair(ours, theirs, variant)?;
    data_both_ways(&mut conn, &their_conn).await?;
    if let Some(r) = relay {
        let s = r.stats();
        if variant == Variant::Relay && (s.to_peers.0 == 0 || s.to_clients.0 == 0) {
            return Err(format!(
                "our TURN server relayed {} packets to peers and {} to clients: not both ways",
                s.to_peers.0, s.to_clients.0
            ));
        }
    }
    Ok(())
}

/// Both connections, or what went wrong on either side.
fn both<A, B>(a: Result<A, String>, b: Result<B, String>) -> Result<(A, B), String> {
    match (a, b) {
        (Ok(a), Ok(b)) => Ok((a, b)),
        (Err(e), Ok(_)) | (Ok(_), Err(e)) => Err(e),
        (Err(a), Err(b)) => Err(format!("{a}; {b}")),
    }
}

/// webrtc-ice's selected pair is ours mirrored.
fn same_pair(ours: &OurPeer, theirs: &Theirs, variant: Variant) -> Result<(), String> {
    let (local, remote) = ours.selected().ok_or("our agent has no selected pair")?;
    let ((their_local, tl), (their_remote, tr)) = theirs
        .selected()
        .ok_or("webrtc-ice connected without a selected pair")?;
    if local.socket_addr() != Some(their_remote) || remote.socket_addr() != Some(their_local) {
        return Err(format!(
            "the pairs differ: ours {} {} -> {} {}, webrtc-ice's {tl} {their_local} -> {tr} {their_remote}",
            local.kind, local.address, remote.kind, remote.address
        ));
    }
    if variant == Variant::Relay && local.kind != ice::CandidateType::Relayed {
        return Err(format!(
            "relay-only, yet our selected local candidate is {} {}",
            local.kind, local.address
        ));
    }
    Ok(())
}

/// One datagram each way over the selected pair.
async fn data_both_ways(conn: &mut Connection, their_conn: &TheirConn) -> Result<(), String> {
    // 0x80: not STUN, not ChannelData (RFC 7983), as RTP would be.
    let ping = b"\x80ours to webrtc-ice";
    conn.send(ping)
        .await
        .map_err(|e| format!("our send: {e}"))?;
    let mut buf = vec![0u8; 1500];
    let n = tokio::time::timeout(LIMIT, their_conn.recv(&mut buf))
        .await
        .map_err(|_| format!("webrtc-ice received nothing within {LIMIT:?}"))?
        .map_err(|e| format!("webrtc-ice recv: {e}"))?;
    if buf.get(..n) != Some(&ping[..]) {
        return Err(format!("webrtc-ice received {:?}", buf.get(..n)));
    }
    let pong = b"\x80webrtc-ice to ours";
    their_conn
        .send(pong)
        .await
        .map_err(|e| format!("webrtc-ice send: {e}"))?;
    let got = tokio::time::timeout(LIMIT, conn.recv())
        .await
        .map_err(|_| format!("our agent received nothing within {LIMIT:?}"))?
        .map_err(|e| format!("our recv: {e}"))?;
    if got != pong {
        return Err(format!("our agent received {got:?}"));
    }
    Ok(())
}
