//! Interop with headless Chromium (issue 8): our agent (RFC 8445, the
//! tokio driver on 127.0.0.1) against the browser's RTCPeerConnection, in
//! both roles. When the browser offers it is the controlling agent and we
//! are controlled; when we offer (a full agent, no `ice-lite`), we control
//! (RFC 8445 §6.1.1). Three variants, each a test running both roles:
//!
//! - `mDNS on`: the browser's default; its host candidates are
//!   `<uuid>.local` names (RFC 8839 §5.1 FQDN) that our agent cannot
//!   resolve, so it reaches the browser through peer-reflexive candidates
//!   learnt from the browser's checks (RFC 8445 §7.3.1.3).
//! - `mDNS off`: `--disable-features=WebRtcHideLocalIpsWithMdns`, plain
//!   host candidates.
//! - `relay (icectl serve)`: the browser under `iceTransportPolicy:
//!   "relay"` with our `icectl serve` as its TURN server (RFC 8656).
//!
//! Each run records its row, then asserts: both sides connected, both
//! name the same pair (addresses, as far as `getStats()` shows them), and
//! datagrams crossed the pair both ways: the browser's DTLS ClientHello to
//! us (RFC 7983 first byte 20-63), and ours to the browser (its
//! candidate-pair `bytesReceived`). The DTLS handshake itself fails (our
//! fingerprint is a placeholder); only ICE is under test.
//!
//! What really happens (Chromium 156, an http page on 127.0.0.1): without
//! a media permission the browser gathers on its default-route addresses
//! only, even with `--allow-loopback-in-peer-connection`, so it advertises
//! e.g. 192.0.2.2 and fd00::2 (or `.local` names for them), never
//! 127.0.0.1. Its sockets are bound to the wildcard address, though, so
//! its checks to our 127.0.0.1 candidate leave from 127.0.0.1: our agent
//! learns a peer-reflexive 127.0.0.1:<advertised port>, and our check to
//! the advertised 192.0.2.2 is answered from 127.0.0.1 and fails (RFC 8445
//! §7.2.5.2.1, non-symmetric addresses). The selected pair is `host →
//! prflx` with mDNS on and off alike; the browser sees its own side as
//! prflx too. Relayed: `host → relay`, through 127.0.0.1 on both sides.
//! When we offer, the browser's first check through the relay may reach us
//! before its answer does: our agent learns the relayed address as
//! peer-reflexive and selects that pair; the answer then names it `relay`.
//! Our selected pair used to keep saying `prflx` then (fixed, replayed in
//! `tests/tests/interop_regressions.rs`); the run fails if our selected
//! pair and our checklist disagree on the type.
//!
//! Needs the Debian packages `chromium chromium-driver` (and `procps` for
//! `kill`). The browsers run one at a time.

mod browser;

use std::time::Duration;

use ice::Role;
use ice_interop::ours::{Options, OurPeer};
use ice_interop::table::{self, Row};
use serde_json::{Value, json};
use tokio::sync::Mutex;

use browser::icectl::{self, IcectlServe};
use browser::page::Page;
use browser::sdp::{BrowserIce, Setup, our_description};

/// Turns a hang into a failure.
const LIMIT: Duration = Duration::from_secs(20);

/// One browser at a time: the tests of this file run in parallel threads.
static BROWSER: Mutex<()> = Mutex::const_new(());

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Variant {
    MdnsOn,
    MdnsOff,
    Relay,
}

impl Variant {
    fn name(self) -> &'static str {
        match self {
            Variant::MdnsOn => "mDNS on",
            Variant::MdnsOff => "mDNS off",
            Variant::Relay => "relay (icectl serve)",
        }
    }
}

/// What a run found, recorded whatever the result.
#[derive(Default)]
struct Outcome {
    version: String,
    pair: String,
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chromium_mdns_on_both_roles() {
    both_roles(Variant::MdnsOn, 0xC401).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chromium_mdns_off_both_roles() {
    both_roles(Variant::MdnsOff, 0xC402).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chromium_relay_through_icectl_serve_both_roles() {
    both_roles(Variant::Relay, 0xC403).await;
}

/// The browser's offer, then ours; both rows are recorded before either
/// is asserted.
async fn both_roles(variant: Variant, seed: u64) {
    let _one_browser = BROWSER.lock().await;
    let mut failures = Vec::new();
    for (role, seed) in [
        (Role::Controlled, seed << 4),
        (Role::Controlling, seed << 4 | 1),
    ] {
        let mut outcome = Outcome::default();
        let result = run(variant, role, seed, &mut outcome).await;
        let our_role = table::role_name(role);
        let version = if outcome.version.is_empty() {
            "unknown"
        } else {
            &outcome.version
        };
        let why = result.as_ref().map_err(|e| e.lines().next().unwrap_or(""));
        let row = Row::new(
            "Chromium",
            version,
            variant.name(),
            role,
            outcome.pair.clone(),
            why.copied(),
        );
        println!("row: {row:?}");
        table::record(&row).expect("cannot record the row");
        if let Err(e) = result {
            failures.push(format!(
                "{} / we {our_role} (seed {seed:#x}): {e}",
                variant.name()
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

/// One run; fills `out` as it learns the browser's version and our pair.
async fn run(variant: Variant, role: Role, seed: u64, out: &mut Outcome) -> Result<(), String> {
    let turn = match variant {
        Variant::Relay => Some(IcectlServe::start().await?),
        _ => None,
    };
    let config = match &turn {
        Some(t) => json!({
            "iceServers": [{
                "urls": [t.turn_url()],
                "username": icectl::USER,
                "credential": icectl::PASSWORD,
            }],
            "iceTransportPolicy": "relay",
        }),
        None => json!({}),
    };
    let page = Page::open(variant != Variant::MdnsOff).await?;
    out.version.clone_from(&page.chromium.version);
    let ours = OurPeer::start(&Options::new(role, seed)).await?;
    let result = exchange_and_check(&page, &ours, role, &config, out).await;
    ours.close().await;
    let result = match result {
        Err(e) => Err(format!("{e}\n  browser: {}", page.log().await)),
        ok => ok,
    };
    drop(page);
    if let Some(turn) = turn {
        let counters = turn.stop().await;
        if let Ok(c) = &counters {
            println!("  icectl serve: {c}");
        }
        result.and_then(|()| icectl::relayed_both_ways(&counters?))
    } else {
        result
    }
}

/// Signalling, then the checks of the module header.
async fn exchange_and_check(
    page: &Page,
    ours: &OurPeer,
    role: Role,
    config: &Value,
    out: &mut Outcome,
) -> Result<(), String> {
    let our_lines = ours.gathered(LIMIT).await?;
    let creds = ours.credentials();
    match role {
        Role::Controlled => {
            let offer = BrowserIce::parse(&page.offer(config, LIMIT).await?)?;
            take(ours, &offer).await?;
            let answer = our_description(&creds, &our_lines, &offer.mid, Setup::Passive)?;
            page.accept(&answer).await?;
        }
        Role::Controlling => {
            let offer = our_description(&creds, &our_lines, "0", Setup::ActPass)?;
            let answer = BrowserIce::parse(&page.answer(&offer, config, LIMIT).await?)?;
            take(ours, &answer).await?;
        }
    }
    let (connection, state) = tokio::join!(ours.connected(LIMIT), page.wait(LIMIT));
    let selected = ours.selected();
    if let Some((local, remote)) = &selected {
        out.pair = table::pair_cell(local, remote);
    }
    let mut connection = connection?;
    let state = state?;
    if state != "connected" && state != "completed" {
        return Err(format!("the browser's iceConnectionState is {state}"));
    }
    let (local, remote) = selected.ok_or("our agent connected without a selected pair")?;
    let theirs = page
        .selected()
        .await?
        .ok_or("the browser has no selected pair")?;
    println!(
        "  ours: {} {} → {} {}; browser's: {}",
        local.kind, local.address, remote.kind, remote.address, theirs.raw
    );
    theirs.same_as(&local, &remote)?;
    let remote_addr = remote.socket_addr();

    // Browser → us: its DTLS ClientHello (it is the DTLS client).
    let first = tokio::time::timeout(LIMIT, connection.recv())
        .await
        .map_err(|_| format!("no datagram from the browser within {LIMIT:?}"))?
        .map_err(|e| format!("receiving from the browser: {e}"))?;
    if !matches!(first.first(), Some(20..=63)) {
        return Err(format!(
            "the browser's first datagram is not DTLS: {first:02x?}"
        ));
    }
    // Us → browser: counted in its candidate pair's bytesReceived.
    let data = b"\xffinterop: our agent to the browser";
    let before = theirs.bytes_received;
    connection
        .send(data)
        .await
        .map_err(|e| format!("sending to the browser: {e}"))?;
    let arrived = async {
        loop {
            match page.selected().await {
                Ok(Some(p)) if p.bytes_received >= before + data.len() as u64 => return Ok(()),
                Err(e) => return Err(e),
                _ => tokio::time::sleep(Duration::from_millis(100)).await,
            }
        }
    };
    tokio::time::timeout(LIMIT, arrived)
        .await
        .map_err(|_| format!("the browser did not count our {} bytes", data.len()))??;
    for p in ours.agent.pair_stats().await.unwrap_or_default() {
        println!(
            "  our pair {} {} → {} {}: {:?}{}{}",
            p.local.kind,
            p.base,
            p.remote.kind,
            p.remote_addr,
            p.state,
            if p.valid { ", valid" } else { "" },
            if p.nominated { ", nominated" } else { "" },
        );
        // The selected pair once kept the peer-reflexive copy of a
        // candidate the signalling then named (fixed; replayed in
        // tests/tests/interop_regressions.rs).
        if p.nominated && Some(p.remote_addr) == remote_addr && p.remote.kind != remote.kind {
            return Err(format!(
                "our selected pair says {} where our checklist says {}: a stale selected pair",
                remote.kind, p.remote.kind
            ));
        }
    }
    Ok(())
}

/// Gives our agent the browser's credentials and candidates.
async fn take(ours: &OurPeer, b: &BrowserIce) -> Result<(), String> {
    println!("  browser candidates: {:?}", b.candidates);
    ours.set_remote_credentials(&b.ufrag, &b.pwd).await?;
    let refused = ours.add_remote_lines(&b.candidates).await?;
    if !refused.is_empty() {
        println!("  our agent refused: {refused:?}");
    }
    ours.end_of_candidates().await
}
