//! `icectl gather` as a process against `icectl serve`: on loopback it
//! lists the host and relayed candidates (no NAT, so no server-reflexive
//! one, and it says why); behind a kernel NAT (namespaces and nftables,
//! as root) host, server-reflexive at the NAT's address and relayed; a
//! wrong password, a server that does not answer and bad URLs fail with
//! the promised messages and exit codes.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use candidate_gather::nat::FilteringBehavior as F;
use common::{LINE, Running, run};
use ice_tests::kernel_nat::{EXTERNAL_IP, Mapping, Middlebox, NatLab, Need, SERVER_IP, require};
use serde_json::Value;

/// The longest a gather run may take (a hang guard, not a measurement).
const RUN: Duration = Duration::from_secs(60);

/// `icectl serve` on `listen` with user alice:wonderland; its address.
fn serve(listen: &str) -> (Running, String) {
    let mut server = Running::start(&words(&format!(
        "serve --listen {listen} --user alice:wonderland --json"
    )));
    let ann = server.json(LINE);
    assert_eq!(ann["event"], "listening", "{ann}");
    let stun = ann["stun"].as_str().unwrap();
    (server, stun.strip_prefix("stun:").unwrap().to_owned())
}

/// A command line's words (no argument here holds a space).
fn words(line: &str) -> Vec<&str> {
    line.split_whitespace().collect()
}

fn lines(stdout: &[u8]) -> Vec<Value> {
    String::from_utf8_lossy(stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
        .collect()
}

fn of_kind<'a>(lines: &'a [Value], kind: &str) -> Vec<&'a Value> {
    lines
        .iter()
        .filter(|v| v["type"] == "candidate" && v["kind"] == kind)
        .collect()
}

/// A candidate's address and port, or (`prefix` "related_") its related
/// address and port.
fn at(c: &Value, prefix: &str) -> (Value, Value) {
    let field = |f: &str| c[format!("{prefix}{f}")].clone();
    (field("address"), field("port"))
}

#[test]
fn loopback_gives_host_and_relayed_candidates_and_explains_the_missing_srflx() {
    let (_server, addr) = serve("127.0.0.1:0");
    let (stun, turn) = (format!("stun:{addr}"), format!("turn:{addr}"));
    let flags = format!("--stun {stun} --turn {turn} --user alice --pass wonderland");
    // Every interface and loopback: one relay per IPv4 base, none of
    // them behind a NAT.
    let line = format!("gather --include-loopback {flags} --json");
    let out = run(&words(&line), RUN);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{err}");
    let v = lines(&out.stdout);
    let (host, relay) = (of_kind(&v, "host"), of_kind(&v, "relay"));
    assert!(host.iter().any(|h| h["address"] == "127.0.0.1"), "{v:?}");
    let v4 = |c: &&&Value| !c["address"].as_str().unwrap().contains(':');
    assert_eq!(relay.len(), host.iter().filter(v4).count(), "{v:?}");
    for r in &relay {
        assert_eq!(r["address"], "127.0.0.1", "{r}");
        // RFC 8445 §5.1.1.2: a relayed candidate's related address is the
        // mapped address, here (no NAT) a host candidate itself.
        assert!(host.iter().any(|h| at(h, "") == at(r, "related_")), "{r}");
        let sdp = r["sdp"].as_str().unwrap();
        assert!(sdp.starts_with("candidate:"), "{sdp}");
        assert!(sdp.contains(" typ relay raddr "), "{sdp}");
    }
    // §5.1.3: the mapped address equals the host address, so no srflx.
    assert!(of_kind(&v, "srflx").is_empty(), "{v:?}");
    let done = v.last().unwrap();
    assert_eq!(done["type"], "done", "{done}");
    assert_eq!(done["complete"], true, "{done}");
    let servers = done["servers"].as_array().unwrap();
    assert_eq!(servers[0]["url"], stun.as_str(), "{done}");
    assert_eq!(servers[1]["url"], turn.as_str(), "{done}");
    assert!(servers.iter().all(|s| s["result"] == "ok"), "{done}");
    let note = servers[0]["notes"][0].as_str().unwrap();
    assert!(note.contains("no NAT between"), "{note}");
    let relays = servers[1]["candidates"].as_array().unwrap();
    assert_eq!(relays.len(), relay.len(), "{done}");

    // The table, on loopback alone.
    let line = format!("gather --local 127.0.0.1 {flags}");
    let out = run(&words(&line), RUN);
    assert_eq!(out.status.code(), Some(0));
    let text = String::from_utf8_lossy(&out.stdout);
    let rows: Vec<&str> = text.lines().collect();
    let headings = "ms  comp  type   foundation  proto  address";
    assert!(rows[1].trim_start().starts_with(headings), "{text}");
    assert!(
        rows[2].contains(" host ") && rows[3].contains(" relay "),
        "{text}"
    );
    assert!(text.contains("gathering finished after"), "{text}");
    assert!(text.contains("1 host, 0 srflx, 1 relay"), "{text}");
    let why = "answered; the mapped address equals the host address (no NAT between), \
               so no srflx candidate";
    assert!(text.contains(&format!("{stun}  {why}")), "{text}");
    assert!(
        text.contains(&format!("{turn}  relay 127.0.0.1:")),
        "{text}"
    );
}

#[test]
fn behind_a_kernel_nat_the_srflx_candidate_is_the_nat_address() {
    require(&[Need::Root, Need::Netns, Need::Nft]);
    let nat = Middlebox::nat(Mapping::EndpointIndependent, F::AddressAndPortDependent);
    let lab = NatLab::new(nat).unwrap_or_else(|e| panic!("lab: {e}"));
    let icectl = env!("CARGO_BIN_EXE_icectl");
    let listen = SocketAddr::new(IpAddr::V4(SERVER_IP), 3478);
    // Declared after the lab: killed before the namespaces are deleted.
    let line = format!("serve --listen {listen} --user alice:wonderland --json");
    let mut server = Running::from_command(lab.server.command(icectl).args(words(&line)));
    let ann = server.json(LINE);
    assert_eq!(ann["event"], "listening", "{ann}");
    let (stun, turn) = (format!("stun:{listen}"), format!("turn:{listen}"));
    let line = format!("gather --stun {stun} --turn {turn} --user alice --pass wonderland");
    let gather = |json: &str| {
        let out = lab
            .client
            .run(icectl, &words(&format!("{line} {json}")), RUN)
            .unwrap_or_else(|e| panic!("gather: {e}"));
        assert!(
            out.success(),
            "gather failed:\n{}{}",
            out.stderr,
            out.stdout
        );
        out.stdout
    };
    let v = lines(gather("--json").as_bytes());
    let host = of_kind(&v, "host");
    let srflx = of_kind(&v, "srflx");
    let relay = of_kind(&v, "relay");
    assert_eq!((host.len(), srflx.len(), relay.len()), (1, 1, 1), "{v:?}");
    assert_eq!(srflx[0]["address"], EXTERNAL_IP.to_string(), "{v:?}");
    // §5.1.1.2: the srflx's related address is its base, the host.
    assert_eq!(at(srflx[0], "related_"), at(host[0], ""));
    assert_eq!(relay[0]["address"], SERVER_IP.to_string());
    // The relayed candidate's related address is the mapped (NAT) address.
    assert_eq!(at(relay[0], "related_"), at(srflx[0], ""));
    let done = v.last().unwrap();
    assert_eq!(done["complete"], true, "{done}");
    let srflx_at = format!("{EXTERNAL_IP}:{}", srflx[0]["port"]);
    assert_eq!(done["servers"][0]["candidates"][0], srflx_at, "{done}");
    assert_eq!(done["servers"][1]["result"], "ok", "{done}");

    // The table says the same, for people.
    let text = gather("");
    assert!(text.contains("1 host, 1 srflx, 1 relay"), "{text}");
    assert!(
        text.contains(&format!("{stun}  srflx {EXTERNAL_IP}:")),
        "{text}"
    );
    assert!(
        text.contains(&format!("{turn}  relay {SERVER_IP}:")),
        "{text}"
    );
    drop(server);
}

#[test]
fn a_wrong_password_names_the_server_and_the_flags_to_check() {
    let (_server, addr) = serve("127.0.0.1:0");
    let turn = format!("turn:{addr}");
    let line = format!("gather --local 127.0.0.1 --turn {turn} --user alice --pass wrong");
    let out = run(&words(&line), RUN);
    assert_eq!(out.status.code(), Some(1));
    let stdout = String::from_utf8_lossy(&out.stdout);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(stdout.contains(&format!("{turn}  error:")), "{stdout}");
    assert!(
        err.contains(&format!("error: no candidate from {turn}")),
        "{err}"
    );
    assert!(err.contains("401") && err.contains("credentials"), "{err}");
    let hint = "try: check the TURN credentials given with --user and --pass";
    assert!(err.contains(hint), "{err}");
}

#[test]
fn a_silent_server_fails_within_the_timeout_with_the_reason() {
    // A port nothing answers on, as a STUN and as a TURN server. With
    // --timeout 1s the requests are retransmitted within 0.75 s.
    let socket = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    let silent = socket.local_addr().unwrap();
    drop(socket);
    let (stun, turn) = (format!("stun:{silent}"), format!("turn:{silent}"));
    let line = format!(
        "gather --local 127.0.0.1 --stun {stun} --turn {turn} --user a --pass b --timeout 1s --json"
    );
    let out = run(&words(&line), RUN);
    assert_eq!(out.status.code(), Some(1));
    let v = lines(&out.stdout);
    let (done, error) = (&v[v.len() - 2], &v[v.len() - 1]);
    assert_eq!(done["type"], "done", "{v:?}");
    for (i, url) in [&stun, &turn].into_iter().enumerate() {
        let s = &done["servers"][i];
        assert_eq!(s["url"], url.as_str(), "{done}");
        assert_eq!(s["result"], "error", "{done}");
        let e = s["errors"][0].as_str().unwrap();
        assert!(e.contains("no answer"), "{e}");
    }
    let what = format!("no candidate from {stun}, {turn}");
    assert_eq!(error["error"]["what"], what);
    let why = error["error"]["why"].as_str().unwrap();
    assert!(
        why.starts_with(&format!("{stun}: from 127.0.0.1:")),
        "{why}"
    );
    let turn_why = format!("{turn}: no answer from the TURN server {silent}");
    assert!(why.contains(&turn_why), "{why}");
    let hint = error["error"]["try"].as_str().unwrap();
    assert!(
        hint.contains("address and port") && hint.contains("UDP"),
        "{hint}"
    );
    // The same on stderr, for people.
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains(&format!("error: {what}")), "{err}");
    // The host candidate is still listed.
    assert_eq!(of_kind(&v, "host").len(), 1);
}

#[test]
fn bad_urls_and_missing_credentials_are_usage_errors() {
    let cases = [
        ("--stun http://x", "error: bad server `http://x`"),
        (
            "--stun http://example.org",
            "error: bad server `http://example.org`",
        ),
        (
            "--turn turn:host:99999 --user a --pass b",
            "error: bad server URL",
        ),
        (
            "--turn turn:1.2.3.4?transport=tcp --user a --pass b",
            "UDP only",
        ),
        (
            "--turn turn:127.0.0.1",
            "error: a TURN server needs credentials",
        ),
        (
            "--turn turn:127.0.0.1 --user a",
            "error: a TURN server needs credentials",
        ),
        ("--turn turns:127.0.0.1 --user a --pass b", "TLS"),
        ("--stun turn:127.0.0.1", "given to --stun"),
        ("--timeout soon", "error: invalid value 'soon'"),
    ];
    for (flags, wanted) in cases {
        let line = format!("gather {flags}");
        let out = run(&words(&line), LINE);
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{flags}: {err}");
        assert!(err.contains(wanted), "{flags}: {err}");
        if !flags.starts_with("--timeout") {
            assert!(err.contains("try: "), "{flags}: {err}");
        }
    }
}
