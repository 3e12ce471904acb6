//! `icectl demo` as a process: the default run exits 0 after a live
//! connection on loopback (data both ways, the server's allocations
//! released) and two simulated cases, one punched directly and one
//! relayed where theory says punching cannot work; the NAT flags take
//! classic and RFC 4787 names; `--relay-only` makes every selected pair
//! relayed; the same seed replays the same simulation; an unknown NAT is
//! a usage error that lists the names.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::time::Duration;

use common::run;
use serde_json::Value;

/// A hang guard, not a measurement.
const LIMIT: Duration = Duration::from_secs(60);

fn demo(flags: &[&str]) -> Vec<Value> {
    let mut args = vec!["demo", "--json"];
    args.extend_from_slice(flags);
    let out = run(&args, LIMIT);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "icectl {args:?}: {err}");
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
        .collect()
}

fn live<'a>(v: &'a [Value], event: &str) -> Vec<&'a Value> {
    v.iter()
        .filter(|x| x["part"] == "live" && x["event"] == event)
        .collect()
}

fn cases(v: &[Value]) -> Vec<&Value> {
    v.iter()
        .filter(|x| x["part"] == "sim" && x["event"] == "case")
        .collect()
}

#[test]
fn the_default_demo_connects_live_then_punches_and_relays_in_netsim() {
    let v = demo(&[]);
    // Live: both agents selected the same direct pair, in opposite
    // directions, and a datagram crossed each way.
    let selected = live(&v, "selected");
    let a = selected.iter().find(|x| x["agent"] == "A").unwrap();
    let b = selected.iter().find(|x| x["agent"] == "B").unwrap();
    assert_eq!(a["path"], "direct", "{a}");
    assert_eq!(a["local"], b["remote"]);
    assert_eq!(a["remote"], b["local"]);
    assert!(live(&v, "candidate").iter().any(|c| c["type"] == "relay"));
    let data = live(&v, "data");
    assert_eq!(data.len(), 2, "{data:?}");
    assert!(
        data.iter()
            .any(|d| d["from"] == "A" && d["text"] == "hello from A")
    );
    assert!(
        data.iter()
            .any(|d| d["from"] == "B" && d["text"] == "hello from B")
    );
    let checks = live(&v, "checks");
    assert!(
        checks[0]["pairs"]
            .as_array()
            .unwrap()
            .iter()
            .any(|p| p["nominated"] == true && p["state"] == "succeeded"),
        "{checks:?}"
    );
    let server = live(&v, "server");
    assert_eq!(
        server[0]["allocations_left"], 0,
        "close releases: {server:?}"
    );
    assert!(server[0]["successes"].as_u64().unwrap() >= 4, "{server:?}");

    let c = cases(&v);
    assert_eq!(c.len(), 2);
    assert_eq!(c[0]["nat_a"], "EIM+APDF (port-restricted)");
    assert_eq!(c[0]["punchable"], true);
    assert_eq!(c[0]["path"], "direct");
    assert_eq!(c[0]["selected"]["local_type"], "srflx", "{}", c[0]);
    assert_eq!(c[0]["data_both_ways"], true);
    assert_eq!(c[1]["nat_a"], "APDM+APDF (symmetric)");
    assert_eq!(c[1]["punchable"], false);
    assert_eq!(c[1]["path"], "relayed", "{}", c[1]);
    assert_eq!(c[1]["data_both_ways"], true);
}

#[test]
fn nat_flags_take_classic_and_rfc4787_names() {
    let v = demo(&["--sim-only", "--nat-a", "symmetric", "--nat-b", "APDM-APDF"]);
    assert!(
        live(&v, "start").is_empty(),
        "--sim-only skips the live part"
    );
    let c = cases(&v);
    assert_eq!(c.len(), 1);
    assert_eq!(c[0]["nat_b"], "APDM+APDF (symmetric)");
    assert_eq!(c[0]["path"], "relayed", "{}", c[0]);

    let v = demo(&["--sim-only", "--nat-a", "eim-eif", "--nat-b", "apdm-apdf"]);
    let c = cases(&v);
    assert_eq!(c[0]["nat_a"], "EIM+EIF (full cone)");
    assert_eq!(c[0]["punchable"], true);
    assert_eq!(c[0]["path"], "direct", "{}", c[0]);
}

#[test]
fn relay_only_relays_live_and_in_netsim() {
    let v = demo(&["--relay-only", "--nat-a", "full-cone", "--nat-b", "open"]);
    let selected = live(&v, "selected");
    assert!(!selected.is_empty());
    for s in &selected {
        assert_eq!(s["path"], "relayed", "{s}");
    }
    for c in live(&v, "candidate") {
        assert_eq!(
            c["type"], "relay",
            "relay-only offers relayed candidates only: {c}"
        );
    }
    let server = live(&v, "server");
    assert!(server[0]["to_peers"].as_u64().unwrap() > 0, "{server:?}");
    let c = cases(&v);
    assert_eq!(c[0]["path"], "relayed", "{}", c[0]);
    assert_eq!(c[0]["data_both_ways"], true);
}

#[test]
fn the_same_seed_replays_the_same_simulation() {
    let sim = |seed: &str| -> Vec<Value> {
        demo(&["--sim-only", "--seed", seed])
            .into_iter()
            .filter(|x| x["part"] == "sim")
            .collect()
    };
    let first = sim("7");
    assert_eq!(first, sim("7"));
    assert_ne!(first, sim("8"), "another seed, another run");
}

#[test]
fn an_unknown_nat_is_a_usage_error_listing_the_names() {
    let out = run(&["demo", "--nat-a", "cone"], LIMIT);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("error: unknown NAT `cone`"), "{err}");
    assert!(err.contains("port-restricted"), "{err}");
    assert!(err.contains("eim-apdf"), "{err}");
}
