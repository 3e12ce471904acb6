//! `icectl serve` and `icectl nat-type` as processes on loopback: the
//! server with an RFC 5780 alternate on 127.0.0.2 finds no NAT, in text
//! and JSON; a server without one gives the partial result and the hint;
//! Ctrl-C prints the counters; bad URLs, an unreachable server and wrong
//! arguments fail with the promised messages and exit codes.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::time::Duration;

use common::{LINE, Running, run};

/// Loopback answers in microseconds: 2 s per transaction (RTO 25 ms) is
/// plenty, and keeps the negative paths short.
const TIMEOUT: &str = "2s";
/// The longest a nat-type run may take here.
const RUN: Duration = Duration::from_secs(60);

/// Starts `icectl serve --json` on a free loopback port with `extra`
/// flags; returns it and its announcement.
fn serve(extra: &[&str]) -> (Running, serde_json::Value) {
    let mut args = vec!["serve", "--listen", "127.0.0.1:0", "--json"];
    args.extend_from_slice(extra);
    let mut server = Running::start(&args);
    let announcement = server.json(LINE);
    assert_eq!(announcement["event"], "listening", "{announcement}");
    (server, announcement)
}

fn primary(announcement: &serde_json::Value) -> String {
    let stun = announcement["stun"].as_str().unwrap();
    stun.strip_prefix("stun:").unwrap().to_owned()
}

#[test]
fn nat_type_against_serve_with_alt_ip_finds_no_nat() {
    let (server, a) = serve(&["--alt-ip", "127.0.0.2"]);
    let addr = primary(&a);
    assert_eq!(a["rfc5780"]["primary"], addr.as_str());
    assert!(
        a["rfc5780"]["alternate"]
            .as_str()
            .unwrap()
            .starts_with("127.0.0.2:")
    );
    // Four UDP sockets (RFC 5780) and one TCP listener.
    assert_eq!(a["udp"].as_array().unwrap().len(), 4, "{a}");
    assert_eq!(a["tcp"].as_array().unwrap().len(), 1, "{a}");

    let out = run(
        &[
            "nat-type",
            "--server",
            &addr,
            "--timeout",
            TIMEOUT,
            "--json",
        ],
        RUN,
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8(out.stdout).unwrap();
    assert_eq!(stdout.lines().count(), 1, "one JSON object: {stdout}");
    let r: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(r["server"], addr.as_str());
    assert_eq!(r["behind_nat"], false);
    assert_eq!(r["mapping"], "no-nat");
    assert_eq!(r["filtering"], "endpoint-independent");
    assert_eq!(r["classic"], "Open Internet");
    assert_eq!(r["rfc3489_flow"], "Open Internet");
    assert_eq!(r["server_has_alternate"], true);
    assert_eq!(r["mapped_address"], r["local_address"]);
    assert!(r["hint"].is_null());
    assert!(
        r["meaning"]
            .as_str()
            .unwrap()
            .contains("peers behind any NAT can reach you directly")
    );

    // The same as text, through a stun: URL.
    let url = a["stun"].as_str().unwrap();
    let out = run(&["nat-type", "--server", url, "--timeout", TIMEOUT], RUN);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).unwrap();
    for needle in [
        "mapping            no NAT",
        "filtering          endpoint-independent (EIF)",
        "classic name       Open Internet",
        "RFC 3489 flow      Open Internet",
        "What this means: No NAT and no filtering",
    ] {
        assert!(text.contains(needle), "{needle:?} missing from:\n{text}");
    }

    // Ctrl-C: the counters, as JSON, and a clean exit.
    let (status, rest) = server.interrupt(LINE);
    assert!(status.success(), "{status}");
    let stopped: serde_json::Value = serde_json::from_str(rest.last().unwrap()).unwrap();
    assert_eq!(stopped["event"], "stopped");
    // Both runs were answered (Binding successes counted by the server).
    assert!(stopped["successes"].as_u64().unwrap() >= 10, "{stopped}");
}

#[test]
fn a_server_without_alternate_gives_a_partial_result_and_says_how_to_fix_it() {
    let (_server, a) = serve(&[]);
    assert!(a["rfc5780"].is_null());
    let out = run(
        &[
            "nat-type",
            "--server",
            &primary(&a),
            "--timeout",
            TIMEOUT,
            "--json",
        ],
        RUN,
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let r: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(r["server_has_alternate"], false);
    // The mapping needs no alternate when there is no NAT; filtering does.
    assert_eq!(r["mapping"], "no-nat");
    assert!(r["filtering"].is_null());
    assert!(
        r["inconclusive"]["filtering"]
            .as_str()
            .unwrap()
            .contains("no second address")
    );
    assert!(
        r["hint"]
            .as_str()
            .unwrap()
            .contains("icectl serve --alt-ip"),
        "{r}"
    );
}

#[test]
fn serve_announces_urls_and_credentials_as_text() {
    let mut server = Running::start(&[
        "serve",
        "--listen",
        "127.0.0.1:0",
        "--user",
        "alice:wonderland",
        "--secret",
        "s3cret",
        "--realm",
        "test.example",
    ]);
    let mut text = Vec::new();
    loop {
        let line = server.line(LINE);
        let end = line.contains("Serving until Ctrl-C");
        text.push(line);
        if end {
            break;
        }
    }
    let text = text.join("\n");
    for needle in [
        "  STUN           stun:127.0.0.1:",
        "?transport=udp",
        "?transport=tcp",
        "  user           alice  password wonderland",
        "  realm          test.example",
        "openssl dgst -binary -sha1 -hmac",
        "valid for 24 h:  username ",
        "  RFC 5780       off (one address)",
        "new RTCPeerConnection",
    ] {
        assert!(text.contains(needle), "{needle:?} missing from:\n{text}");
    }
    let (status, rest) = server.interrupt(LINE);
    assert!(status.success());
    let rest = rest.join("\n");
    assert!(
        rest.contains("icectl serve: stopped") && rest.contains("answered"),
        "{rest}"
    );
}

#[test]
fn serve_refuses_a_taken_port_and_bad_settings_with_what_to_try() {
    let (_server, a) = serve(&[]);
    let taken = primary(&a);
    let out = run(&["serve", "--listen", &taken], LINE);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains(&format!("error: cannot listen on {taken}")),
        "{err}"
    );
    assert!(err.contains("try: another process uses it"), "{err}");

    let out = run(&["serve", "--listen", "0.0.0.0:0"], LINE);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("--relay-ip"), "{err}");

    let out = run(&["serve", "--user", "nopassword", "--json"], LINE);
    assert_eq!(out.status.code(), Some(2));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["error"]["what"], "bad user `nopassword`");
    assert!(
        v["error"]["try"]
            .as_str()
            .unwrap()
            .contains("--user alice:secret")
    );
}

#[test]
fn bad_urls_name_the_url_the_fault_and_a_right_one() {
    for (server, fault) in [
        ("stuns:example.org", "TLS is not supported"),
        ("turn:example.org?transport=sctp", "`sctp` is not supported"),
        ("stun://example.org", "no `//`"),
        ("example.org:99999", "not a port"),
        ("2001:db8::1", "in brackets"),
    ] {
        let out = run(&["nat-type", "--server", server], LINE);
        assert_eq!(out.status.code(), Some(2), "{server}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains(&format!("`{server}`")), "{server}: {err}");
        assert!(err.contains(fault), "{server}: {err}");
        assert!(err.contains("try: "), "{server}: {err}");
        assert!(out.stdout.is_empty(), "no result on stdout");
    }
}

#[test]
fn an_unreachable_server_fails_after_one_transaction() {
    // A port nothing listens on (bound and dropped: free, and silent).
    let port = std::net::UdpSocket::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let server = format!("127.0.0.1:{port}");
    let out = run(
        &["nat-type", "--server", &server, "--timeout", "1s", "--json"],
        RUN,
    );
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains(&format!("no answer from the STUN server {server}")),
        "{err}"
    );
    assert!(err.contains("went unanswered for 1.0 s"), "{err}");
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(
        v["error"]["try"]
            .as_str()
            .unwrap()
            .contains("icectl serve --alt-ip")
    );
}

#[test]
fn wrong_arguments_exit_2_with_usage() {
    for args in [
        &["nat-type"][..],
        &["nat-type", "--server", "h", "--timeout", "soon"],
        &["serve", "--listen", "nowhere"],
        &["no-such-command"],
        &["signal", "--listen", "127.0.0.1"],
        &["connect"],
        &["demo", "--seed", "x"],
        &["gather", "--timeout", "soon"],
    ] {
        let out = run(args, LINE);
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains("error:"), "{args:?}: {err}");
    }
}
