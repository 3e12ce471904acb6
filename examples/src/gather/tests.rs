//! The pure parts of `gather`: which server gave what (the tally) and
//! what is printed (the rendering).

use std::net::SocketAddr;
use std::time::Duration;

use ice::candidate::foundation;
use ice::{Candidate, CandidateAddress, CandidateType, StunError, TransportProtocol, TurnError};

use super::render::{self, HEADINGS};
use super::result::{Cause, Redundant};
use super::tally::Tally;
use crate::error::EXIT_FAILURE;
use crate::servers::Server;
use crate::url::{Scheme, url_for};

const T: Duration = Duration::from_secs(10);

fn addr(s: &str) -> SocketAddr {
    s.parse().unwrap()
}

fn server(scheme: Scheme, a: &str) -> Server {
    Server {
        url: url_for(scheme, addr(a), None),
        addr: addr(a),
        scheme,
    }
}

fn candidate(kind: CandidateType, at: &str, related: Option<&str>, f: &str) -> Candidate {
    Candidate {
        foundation: f.to_owned(),
        component: 1,
        transport: TransportProtocol::Udp,
        priority: 2_130_706_431,
        address: CandidateAddress::Ip(addr(at)),
        kind,
        related: related.map(addr),
        extensions: Vec::new(),
    }
}

fn host(at: &str) -> Candidate {
    candidate(CandidateType::Host, at, None, "hostfnd1")
}

/// A server-reflexive candidate with the foundation the agent gives it
/// for `stun` (RFC 8445 §5.1.1.3).
fn srflx(at: &str, base: &str, stun: &str) -> Candidate {
    let kind = CandidateType::ServerReflexive;
    let f = foundation(
        kind,
        addr(base).ip(),
        Some(addr(stun).ip()),
        TransportProtocol::Udp,
    );
    candidate(kind, at, Some(base), &f)
}

fn relay(at: &str, mapped: &str) -> Candidate {
    candidate(CandidateType::Relayed, at, Some(mapped), "relayfnd")
}

#[test]
fn a_stun_answer_equal_to_the_host_is_no_nat_once_gathering_completes() {
    let stun = server(Scheme::Stun, "192.0.2.9:3478");
    let mut t = Tally::new(std::slice::from_ref(&stun));
    t.candidate(&host("192.0.2.2:5000"));
    assert_eq!(t.waiting(), [stun.url.as_str()]);
    let done = Tally::finish(t, true, T);
    assert_eq!(done[0].redundant, [Redundant::Host]);
    assert!(done[0].ok());
    assert!(render::failure(&done).is_none());

    // The same silence when the timeout ends the wait proves nothing.
    let mut t = Tally::new(std::slice::from_ref(&stun));
    t.candidate(&host("192.0.2.2:5000"));
    let late = t.finish(false, T);
    assert!(!late[0].ok());
    assert_eq!(late[0].failures[0].cause, Cause::Silent);
    assert_eq!(late[0].failures[0].base, Some(addr("192.0.2.2:5000")));
}

#[test]
fn srflx_candidates_go_to_their_server_by_foundation() {
    let (a, b) = (
        server(Scheme::Stun, "198.51.100.1:3478"),
        server(Scheme::Stun, "198.51.100.2:3478"),
    );
    let mut t = Tally::new(&[a.clone(), b.clone()]);
    t.candidate(&host("10.0.0.2:5000"));
    t.candidate(&srflx(
        "203.0.113.7:6000",
        "10.0.0.2:5000",
        "198.51.100.2:3478",
    ));
    let done = t.finish(true, T);
    assert_eq!(done[1].gave, [addr("203.0.113.7:6000")]);
    // The first server's answer was the same address: dropped (§5.1.3).
    assert_eq!(done[0].redundant, [Redundant::SameAs(b.url.clone())]);
    assert!(done.iter().all(|r| r.ok()));
}

#[test]
fn stun_failures_are_per_base_and_grouped_when_told() {
    let stun = server(Scheme::Stun, "192.0.2.9:3478");
    let mut t = Tally::new(std::slice::from_ref(&stun));
    t.candidate(&host("192.0.2.2:5000"));
    t.candidate(&host("10.0.0.2:5001"));
    t.candidate(&host("[2001:db8::2]:5002"));
    let s = stun.addr;
    let (url, f) = t
        .stun_failed(s, addr("192.0.2.2:5000"), &StunError::Timeout)
        .unwrap();
    assert_eq!(
        (url.as_str(), f.cause),
        (stun.url.as_str(), Cause::NoAnswer)
    );
    t.stun_failed(s, addr("10.0.0.2:5001"), &StunError::Timeout);
    // A second report for a base already failed is not counted twice.
    assert!(
        t.stun_failed(s, addr("10.0.0.2:5001"), &StunError::Timeout)
            .is_none()
    );
    let done = t.finish(true, T);
    assert_eq!(
        done[0].asked, 2,
        "the IPv6 base does not ask an IPv4 server"
    );
    let errors = render::grouped(&done[0].failures);
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert!(errors[0].starts_with("from 192.0.2.2:5000, 10.0.0.2:5001: no answer"));
    let e = render::failure(&done).unwrap();
    assert_eq!(e.code, EXIT_FAILURE);
    assert_eq!(e.what, format!("no candidate from {}", stun.url));
    assert!(
        e.why
            .starts_with(&format!("{}: from 192.0.2.2:5000", stun.url))
    );
    assert!(e.hint.contains("address and port"), "{}", e.hint);
}

#[test]
fn relays_go_to_the_turn_server_at_their_ip_and_credentials_are_named() {
    let (a, b) = (
        server(Scheme::Turn, "198.51.100.1:3478"),
        server(Scheme::Turn, "198.51.100.2:3478"),
    );
    let mut t = Tally::new(&[a.clone(), b.clone()]);
    t.candidate(&host("10.0.0.2:5000"));
    t.candidate(&relay("198.51.100.2:40000", "203.0.113.7:6000"));
    let wrong = TurnError::Unauthorized { realm: "r".into() };
    let (url, f) = t.turn_failed(a.addr, &wrong).unwrap();
    assert_eq!((url, f.cause), (a.url.clone(), Cause::Credentials));
    let done = t.finish(true, T);
    assert_eq!(done[1].gave, [addr("198.51.100.2:40000")]);
    assert!(!done[0].ok() && done[1].ok());
    let e = render::failure(&done).unwrap();
    assert_eq!(e.what, format!("no candidate from {}", a.url));
    assert!(e.why.contains("401"), "{}", e.why);
    assert_eq!(
        e.hint,
        "check the TURN credentials given with --user and --pass"
    );
}

#[test]
fn relays_that_cannot_be_told_apart_count_for_the_servers_owing_them() {
    let (a, b) = (
        server(Scheme::Turn, "198.51.100.1:3478"),
        server(Scheme::Turn, "198.51.100.2:3478"),
    );
    let mut t = Tally::new(&[a, b]);
    t.candidate(&host("10.0.0.2:5000"));
    t.candidate(&relay("203.0.113.50:40000", "10.0.0.2:5000"));
    t.candidate(&relay("203.0.113.51:40000", "10.0.0.2:5000"));
    let done = t.finish(true, T);
    assert_eq!((done[0].untold, done[1].untold), (1, 1));
    assert!(done.iter().all(|r| r.ok() && r.gave.is_empty()));
    let text = render::summary(true, 5.0, T, &[], &done);
    assert!(text.contains("not told apart"), "{text}");
}

#[test]
fn a_server_of_a_family_without_local_address_is_not_asked() {
    let v6 = server(Scheme::Stun, "[2001:db8::9]:3478");
    let mut t = Tally::new(std::slice::from_ref(&v6));
    t.candidate(&host("192.0.2.2:5000"));
    let done = t.finish(true, T);
    assert_eq!(done[0].asked, 0);
    assert_eq!(done[0].failures[0].cause, Cause::Family);
    assert!(
        render::failure(&done)
            .unwrap()
            .hint
            .contains("address family")
    );
}

#[test]
fn rows_line_up_under_the_headings() {
    let width = render::address_width(["192.0.2.2".parse().unwrap()]);
    assert_eq!(width, "255.255.255.255".len());
    let v6 = render::address_width(["2001:db8:1234:5678::2".parse().unwrap()]);
    assert_eq!(v6, "2001:db8:1234:5678::2".len());
    let head = render::row_text(&HEADINGS.map(str::to_owned), width);
    let h = host("192.0.2.2:5000");
    let r = relay("198.51.100.2:40000", "192.0.2.2:5000");
    let cells = render::row(12.34, &r);
    assert_eq!(cells[0], "12.3");
    assert_eq!(cells[2], "relay");
    assert_eq!(cells[8], "192.0.2.2:5000");
    assert_eq!(render::row(1.0, &h)[8], "-");
    let line = render::row_text(&cells, width);
    assert_eq!(line.find("relay"), head.find("type"));
    assert_eq!(line.find("192.0.2.2:5000"), head.find("related"));
    assert_eq!(
        line.find("40000").map(|i| i + 5),
        head.find("port").map(|i| i + 4)
    );
}

#[test]
fn candidate_json_carries_the_fields_and_the_sdp_line() {
    let r = relay("198.51.100.2:40000", "203.0.113.7:6000");
    let v = render::candidate_json(3.5, &r);
    assert_eq!(v["type"], "candidate");
    assert_eq!(v["kind"], "relay");
    assert_eq!(v["address"], "198.51.100.2");
    assert_eq!(v["port"], 40000);
    assert_eq!(v["related_address"], "203.0.113.7");
    assert_eq!(v["related_port"], 6000);
    assert_eq!(
        v["sdp"],
        "candidate:relayfnd 1 UDP 2130706431 198.51.100.2 40000 typ relay raddr 203.0.113.7 rport 6000"
    );
    assert_eq!(
        render::candidate_json(0.0, &host("192.0.2.2:5000"))["related_port"],
        serde_json::Value::Null
    );
}

#[test]
fn the_summary_and_done_line_say_what_each_server_gave() {
    let (stun, turn) = (
        server(Scheme::Stun, "127.0.0.1:3478"),
        server(Scheme::Turn, "127.0.0.1:3478"),
    );
    let mut t = Tally::new(&[stun.clone(), turn.clone()]);
    let cs = [
        host("127.0.0.1:5000"),
        relay("127.0.0.1:40000", "127.0.0.1:5000"),
    ];
    for c in &cs {
        t.candidate(c);
    }
    let done = t.finish(true, T);
    let text = render::summary(true, 12.34, T, &cs, &done);
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(
        lines[0],
        "gathering finished after 12.3 ms: 1 host, 0 srflx, 1 relay"
    );
    assert!(lines[1].starts_with(&format!(
        "  {}  answered; the mapped address equals the host address (no NAT between)",
        stun.url
    )));
    assert_eq!(lines[2], format!("  {}  relay 127.0.0.1:40000", turn.url));
    let v = render::done_json(true, 12.3, cs.len(), &done);
    assert_eq!(v["type"], "done");
    assert_eq!(v["servers"][0]["result"], "ok");
    assert_eq!(v["servers"][0]["candidates"], serde_json::json!([]));
    assert_eq!(v["servers"][1]["candidates"][0], "127.0.0.1:40000");
    assert_eq!(v["servers"][1]["errors"], serde_json::json!([]));

    let mut t = Tally::new(std::slice::from_ref(&turn));
    t.candidate(&cs[0]);
    let late = t.finish(false, Duration::from_secs(2));
    let text = render::summary(false, 2000.0, Duration::from_secs(2), &cs[..1], &late);
    assert!(
        text.starts_with("gathering did not finish within --timeout 2s"),
        "{text}"
    );
    assert!(
        text.contains(&format!("no result yet from {}", turn.url)),
        "{text}"
    );
    let v = render::done_json(false, 2000.0, 1, &late);
    assert_eq!(v["servers"][0]["result"], "error");
    assert_eq!(
        v["servers"][0]["errors"][0],
        "no answer within --timeout 2s"
    );
}
