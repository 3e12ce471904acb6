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

/// The longest a gather run may take (a hang guard, not a measurement).
const RUN: Duration = Duration::from_secs(60);

fn serve(listen: &str) -> (Running, String) {
    let mut server = Running::start(&[
        "serve",
        "--listen",
        listen,
        "--user",
        "alice:wonderland",
        "--json",
    ]);
    let ann = server.json(LINE);
    assert_eq!(ann["event"], "listening", "{ann}");
    let stun = ann["stun"].as_str().unwrap();
    (server, stun.strip_prefix("stun:").unwrap().to_owned())
}

fn lines(stdout: &[u8]) -> Vec<serde_json::Value> {
    String::from_utf8_lossy(stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
        .collect()
}

fn of_kind<'a>(lines: &'a [serde_json::Value], kind: &str) -> Vec<&'a serde_json::Value> {
    lines
        .iter()
        .filter(|v| v["type"] == "candidate" && v["kind"] == kind)
        .collect()
}

#[test]
fn loopback_gives_host_and_relayed_candidates_and_explains_the_missing_srflx() {
    let (_server, addr) = serve("127.0.0.1:0");
    let stun = format!("stun:{addr}");
    let turn = format!("turn:{addr}");
    let args = [
        "gather",
        "--local",
        "127.0.0.1",
        "--stun",
        &stun,
        "--turn",
        &turn,
        "--user",
        "alice",
        "--pass",
        "wonderland",
    ];
    let mut json_args = args.to_vec();
    json_args.push("--json");
    let out = run(&json_args, RUN);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{err}");
    let v = lines(&out.stdout);
    let host = of_kind(&v, "host");
    let relay = of_kind(&v, "relay");
    assert_eq!(host.len(), 1, "{v:?}");
    assert_eq!(host[0]["address"], "127.0.0.1");
    assert_eq!(relay.len(), 1, "{v:?}");
    // RFC 8445 §5.1.1.2: a relayed candidate's related address is the
    // mapped address, here the host candidate itself.
    assert_eq!(relay[0]["related_address"], "127.0.0.1");
    assert_eq!(relay[0]["related_port"], host[0]["port"]);
    assert!(
        relay[0]["sdp"]
            .as_str()
            .unwrap()
            .contains("typ relay raddr")
    );
    assert!(of_kind(&v, "srflx").is_empty());
    let done = v.last().unwrap();
    assert_eq!(done["type"], "done", "{done}");
    assert_eq!(done["complete"], true, "{done}");
    for s in done["servers"].as_array().unwrap() {
        assert_eq!(s["result"], "ok", "{s}");
    }

    let out = run(&args, RUN);
    assert_eq!(out.status.code(), Some(0));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("gathering finished after"), "{text}");
    assert!(text.contains("1 host, 0 srflx, 1 relay"), "{text}");
    assert!(text.contains("no NAT between"), "{text}");
}

#[test]
fn behind_a_kernel_nat_the_srflx_candidate_is_the_nat_address() {
    require(&[Need::Root, Need::Netns, Need::Nft]);
    let lab = NatLab::new(Middlebox::nat(
        Mapping::EndpointIndependent,
        F::AddressAndPortDependent,
    ))
    .unwrap_or_else(|e| panic!("lab: {e}"));
    let icectl = env!("CARGO_BIN_EXE_icectl");
    let listen = SocketAddr::new(IpAddr::V4(SERVER_IP), 3478);
    let mut server = Running::from_command(lab.server.command(icectl).args([
        "serve",
        "--listen",
        &listen.to_string(),
        "--user",
        "alice:wonderland",
        "--json",
    ]));
    let ann = server.json(LINE);
    assert_eq!(ann["event"], "listening", "{ann}");
    let out = lab
        .client
        .run(
            icectl,
            &[
                "gather",
                "--stun",
                &format!("stun:{listen}"),
                "--turn",
                &format!("turn:{listen}"),
                "--user",
                "alice",
                "--pass",
                "wonderland",
                "--json",
            ],
            RUN,
        )
        .unwrap_or_else(|e| panic!("gather: {e}"));
    assert!(
        out.success(),
        "gather failed:\n{}{}",
        out.stderr,
        out.stdout
    );
    let v = lines(out.stdout.as_bytes());
    let host = of_kind(&v, "host");
    let srflx = of_kind(&v, "srflx");
    let relay = of_kind(&v, "relay");
    assert_eq!(host.len(), 1, "{v:?}");
    assert_eq!(srflx.len(), 1, "{v:?}");
    assert_eq!(relay.len(), 1, "{v:?}");
    assert_eq!(srflx[0]["address"], EXTERNAL_IP.to_string(), "{v:?}");
    // §5.1.1.2: the srflx's related address is its base, the host.
    assert_eq!(srflx[0]["related_address"], host[0]["address"]);
    assert_eq!(srflx[0]["related_port"], host[0]["port"]);
    assert_eq!(relay[0]["address"], SERVER_IP.to_string());
    // The relayed candidate's related address is the mapped (NAT) address.
    assert_eq!(relay[0]["related_address"], EXTERNAL_IP.to_string());
    drop(server);
}

#[test]
fn a_wrong_password_names_the_server_and_the_flags_to_check() {
    let (_server, addr) = serve("127.0.0.1:0");
    let turn = format!("turn:{addr}");
    let out = run(
        &[
            "gather",
            "--local",
            "127.0.0.1",
            "--turn",
            &turn,
            "--user",
            "alice",
            "--pass",
            "wrong",
        ],
        RUN,
    );
    assert_eq!(out.status.code(), Some(1));
    let stdout = String::from_utf8_lossy(&out.stdout);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(stdout.contains(&format!("{turn}  error:")), "{stdout}");
    assert!(
        err.contains(&format!("error: no candidate from {turn}")),
        "{err}"
    );
    assert!(err.contains("401"), "{err}");
    assert!(
        err.contains("try: check the TURN credentials given with --user and --pass"),
        "{err}"
    );
}

#[test]
fn a_silent_server_fails_within_the_timeout_with_the_reason() {
    // A port nothing answers on.
    let socket = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    let silent = socket.local_addr().unwrap();
    drop(socket);
    let stun = format!("stun:{silent}");
    let out = run(
        &[
            "gather",
            "--local",
            "127.0.0.1",
            "--stun",
            &stun,
            "--timeout",
            "1s",
            "--json",
        ],
        RUN,
    );
    assert_eq!(out.status.code(), Some(1));
    let v = lines(&out.stdout);
    let (done, error) = (&v[v.len() - 2], &v[v.len() - 1]);
    assert_eq!(done["type"], "done", "{v:?}");
    assert_eq!(done["servers"][0]["result"], "error", "{done}");
    assert!(
        done["servers"][0]["errors"][0]
            .as_str()
            .unwrap()
            .contains("no answer"),
        "{done}"
    );
    assert_eq!(error["error"]["what"], format!("no candidate from {stun}"));
    assert!(
        error["error"]["try"]
            .as_str()
            .unwrap()
            .contains("address and port")
    );
    // The host candidate is still listed.
    assert_eq!(of_kind(&v, "host").len(), 1);
}

#[test]
fn bad_urls_and_missing_credentials_are_usage_errors() {
    let cases: [(&[&str], &str); 5] = [
        (
            &["--stun", "http://example.org"],
            "error: bad server `http://example.org`",
        ),
        (
            &[
                "--turn",
                "turn:127.0.0.1:99999",
                "--user",
                "a",
                "--pass",
                "b",
            ],
            "error: bad server URL",
        ),
        (
            &[
                "--turn",
                "turn:127.0.0.1?transport=tcp",
                "--user",
                "a",
                "--pass",
                "b",
            ],
            "UDP only",
        ),
        (
            &["--turn", "turn:127.0.0.1"],
            "error: a TURN server needs credentials",
        ),
        (
            &["--turn", "turns:127.0.0.1", "--user", "a", "--pass", "b"],
            "TLS",
        ),
    ];
    for (flags, wanted) in cases {
        let mut args = vec!["gather"];
        args.extend_from_slice(flags);
        let out = run(&args, LINE);
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{flags:?}: {err}");
        assert!(err.contains(wanted), "{flags:?}: {err}");
        assert!(err.contains("try: "), "{flags:?}: {err}");
    }
}
