//! `icectl demo` as a process: the default run exits 0 after a live
//! connection on loopback (both agents on one pair, data both ways, the
//! server's allocations released) and two simulated cases, one punched
//! directly and one relayed where theory says punching cannot work; the
//! NAT flags take classic and RFC 4787 names; `--relay-only` relays the
//! live pair; the same seed replays the same simulation; an unknown NAT
//! is a usage error that lists the names. Assertions are on the `--json`
//! fields, never on prose or wall-clock time.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::time::Duration;

use common::run;
use serde_json::Value;

/// A hang guard, not a measurement.
const LIMIT: Duration = Duration::from_secs(60);

/// `icectl demo --json FLAGS`, which must exit 0; its lines.
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

/// The live selected pair of `agent` (the last one it reported).
fn live_selected<'a>(v: &'a [Value], agent: &str) -> &'a Value {
    live(v, "selected")
        .into_iter()
        .rev()
        .find(|x| x["agent"] == agent)
        .unwrap_or_else(|| panic!("no live selected pair for {agent}: {v:?}"))
}

/// The simulated cases' results.
fn cases(v: &[Value]) -> Vec<&Value> {
    v.iter()
        .filter(|x| x["part"] == "sim" && x["event"] == "case")
        .collect()
}

/// Both ends of a case's selected pair are of these types (either order).
fn types(case: &Value) -> (String, String) {
    let s = &case["selected"];
    (
        s["local_type"].as_str().unwrap_or_default().to_owned(),
        s["remote_type"].as_str().unwrap_or_default().to_owned(),
    )
}

#[test]
fn the_default_demo_connects_live_then_punches_and_relays_in_netsim() {
    let v = demo(&[]);

    // Live: both agents selected the same direct pair, from either end.
    let a = live_selected(&v, "A");
    let b = live_selected(&v, "B");
    assert_eq!(a["path"], "direct", "{a}");
    assert_eq!(a["local_type"], "host", "{a}");
    assert_eq!(a["local"], b["remote"]);
    assert_eq!(a["remote"], b["local"]);
    // Gathering found relayed candidates on the in-process TURN server.
    let candidates = live(&v, "candidate");
    assert!(
        candidates.iter().any(|c| c["type"] == "host"),
        "{candidates:?}"
    );
    assert!(
        candidates.iter().any(|c| c["type"] == "relay"),
        "{candidates:?}"
    );
    for agent in ["A", "B"] {
        assert!(
            live(&v, "gathering-complete")
                .iter()
                .any(|g| g["agent"] == agent),
            "{agent} completed gathering"
        );
    }
    // The checklist: the selected pair succeeded and is nominated.
    let checks = live(&v, "checks");
    let pairs = checks[0]["pairs"].as_array().unwrap();
    assert!(
        pairs.iter().any(|p| p["nominated"] == true
            && p["state"] == "succeeded"
            && p["local"] == a["local"]
            && p["remote"] == a["remote"]),
        "{pairs:?}"
    );
    // Data both ways.
    let data = live(&v, "data");
    assert_eq!(data.len(), 2, "{data:?}");
    assert!(
        data.iter()
            .any(|d| d["from"] == "A" && d["to"] == "B" && d["text"] == "hello from A")
    );
    assert!(
        data.iter()
            .any(|d| d["from"] == "B" && d["to"] == "A" && d["text"] == "hello from B")
    );
    // The server answered and closing released every allocation.
    let server = live(&v, "server");
    assert_eq!(server[0]["allocations_left"], 0, "{server:?}");
    assert!(server[0]["successes"].as_u64().unwrap() >= 2, "{server:?}");
    assert_eq!(live(&v, "result")[0]["path"], "direct");

    // Simulated: punched, then relayed.
    let c = cases(&v);
    assert_eq!(c.len(), 2, "{c:?}");
    assert_eq!(c[0]["nat_a"], "EIM+APDF (port-restricted)");
    assert_eq!(c[0]["nat_b"], "EIM+APDF (port-restricted)");
    assert_eq!(c[0]["punchable"], true);
    assert_eq!(c[0]["path"], "direct", "{}", c[0]);
    let (l, r) = types(c[0]);
    for t in [&l, &r] {
        assert!(["srflx", "host", "prflx"].contains(&t.as_str()), "{}", c[0]);
    }
    assert!(l == "srflx" || r == "srflx", "{}", c[0]);
    assert_eq!(c[0]["data_both_ways"], true);
    assert_eq!(c[0]["as_predicted"], true);

    assert_eq!(c[1]["nat_a"], "APDM+APDF (symmetric)");
    assert_eq!(c[1]["nat_b"], "EIM+APDF (port-restricted)");
    assert_eq!(c[1]["punchable"], false);
    assert_eq!(c[1]["path"], "relayed", "{}", c[1]);
    let (l, r) = types(c[1]);
    assert!(l == "relay" || r == "relay", "{}", c[1]);
    assert_eq!(c[1]["data_both_ways"], true);
    assert_eq!(c[1]["as_predicted"], true);

    // Each case's timeline: both agents' candidates, first valid pair and
    // selected pair.
    for n in [1, 2] {
        let timeline: Vec<&Value> = v
            .iter()
            .filter(|x| x["part"] == "sim" && x["case"] == n)
            .collect();
        for (event, agent) in [
            ("candidate", "A"),
            ("candidate", "B"),
            ("first-valid", "A"),
            ("first-valid", "B"),
            ("selected", "A"),
            ("selected", "B"),
        ] {
            assert!(
                timeline
                    .iter()
                    .any(|x| x["event"] == event && x["agent"] == agent),
                "case {n}: no {event} for {agent}"
            );
        }
    }
}

#[test]
fn the_default_text_is_text() {
    let out = run(&["demo"], LIMIT);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(!text.is_empty());
    assert!(
        text.lines().all(|l| !l.starts_with('{')),
        "JSON only with --json:\n{text}"
    );
}

#[test]
fn two_symmetric_nats_fall_back_to_the_relay() {
    let v = demo(&["--sim-only", "--nat-a", "symmetric", "--nat-b", "symmetric"]);
    assert!(
        live(&v, "start").is_empty(),
        "--sim-only skips the live part"
    );
    let c = cases(&v);
    assert_eq!(c.len(), 1);
    assert_eq!(c[0]["nat_a"], "APDM+APDF (symmetric)");
    assert_eq!(c[0]["nat_b"], "APDM+APDF (symmetric)");
    assert_eq!(c[0]["punchable"], false);
    assert_eq!(c[0]["path"], "relayed", "{}", c[0]);
    let (l, r) = types(c[0]);
    assert!(l == "relay" || r == "relay", "{}", c[0]);
    assert_eq!(c[0]["data_both_ways"], true);
}

#[test]
fn rfc4787_names_full_cone_against_symmetric_punches() {
    let v = demo(&["--sim-only", "--nat-a", "eim-eif", "--nat-b", "APDM-APDF"]);
    let c = cases(&v);
    assert_eq!(c.len(), 1);
    assert_eq!(c[0]["nat_a"], "EIM+EIF (full cone)");
    assert_eq!(c[0]["nat_b"], "APDM+APDF (symmetric)");
    assert_eq!(c[0]["punchable"], true);
    assert_eq!(c[0]["path"], "direct", "{}", c[0]);
    assert_eq!(c[0]["data_both_ways"], true);

    // One side given: the other is port-restricted.
    let v = demo(&["--sim-only", "--nat-b", "open"]);
    let c = cases(&v);
    assert_eq!(c.len(), 1);
    assert_eq!(c[0]["nat_a"], "EIM+APDF (port-restricted)");
    assert_eq!(c[0]["nat_b"], "open Internet");
    assert_eq!(c[0]["path"], "direct", "{}", c[0]);
}

#[test]
fn relay_only_relays_the_live_pair() {
    let v = demo(&["--relay-only", "--nat-a", "full-cone", "--nat-b", "open"]);
    for agent in ["A", "B"] {
        let s = live_selected(&v, agent);
        assert_eq!(s["path"], "relayed", "{s}");
    }
    for c in live(&v, "candidate") {
        assert_eq!(c["type"], "relay", "relay only: {c}");
    }
    assert_eq!(live(&v, "data").len(), 2);
    let server = live(&v, "server");
    assert!(server[0]["to_peers"].as_u64().unwrap() > 0, "{server:?}");
    assert_eq!(server[0]["allocations_left"], 0, "{server:?}");
    let c = cases(&v);
    assert_eq!(c[0]["path"], "relayed", "{}", c[0]);
    assert_eq!(c[0]["as_predicted"], true, "{}", c[0]);
    assert_eq!(c[0]["data_both_ways"], true);
}

#[test]
fn the_same_seed_replays_the_same_simulation() {
    let sim = |seed: &str| -> Vec<Value> {
        demo(&["--seed", seed])
            .into_iter()
            .filter(|x| x["part"] == "sim")
            .collect()
    };
    let first = sim("7");
    assert!(first.len() > 10, "{first:?}");
    assert_eq!(first, sim("7"));
    assert_ne!(first, sim("8"), "another seed, another run");
}

#[test]
fn an_unknown_nat_is_a_usage_error_listing_the_names() {
    let out = run(&["demo", "--nat-a", "cone"], LIMIT);
    assert_eq!(out.status.code(), Some(2));
    assert!(out.stdout.is_empty(), "nothing ran");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("error: unknown NAT `cone`"), "{err}");
    for name in [
        "open",
        "full-cone",
        "restricted",
        "port-restricted",
        "symmetric",
        "eim-apdf",
    ] {
        assert!(err.contains(name), "{name}: {err}");
    }

    let out = run(&["demo", "--json", "--nat-b", "eim-apdm"], LIMIT);
    assert_eq!(out.status.code(), Some(2));
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(v["error"]["try"].as_str().unwrap().contains("apdm"), "{v}");
}
