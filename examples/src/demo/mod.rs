//! `icectl demo`: the README's main job. No outside server, no
//! configuration, a few seconds:
//!
//! 1. [`live`]: an in-process STUN/TURN server and two agents of the tokio
//!    driver on 127.0.0.1, their gathering, checks, nomination and selected
//!    pair printed as they happen, then data over it.
//! 2. [`sim`]: the same two peers in netsim behind NATs (`--nat-a`,
//!    `--nat-b`, classic names or RFC 4787 terms, see [`nat`]): by default
//!    one pair that hole punching gets through and one that needs the
//!    relay.

pub mod live;
pub mod nat;
pub mod sim;

use clap::Args;
use ice::CandidateType;
use ice_tests::theory::Kind;
use serde_json::json;

use crate::error::CliError;
use crate::output::print_line;

/// `icectl demo`: two agents connect, live on loopback, then behind
/// simulated NATs.
#[derive(Args, Debug, Clone)]
pub struct DemoArgs {
    /// Peer A's NAT in the simulated part: open, full-cone, restricted,
    /// port-restricted, symmetric, blocked, or an RFC 4787 pair such as
    /// eim-apdf or apdm-adf. Default: a tour of two cases.
    #[arg(long, value_name = "NAT")]
    pub nat_a: Option<String>,
    /// Peer B's NAT (default port-restricted when only --nat-a is given).
    #[arg(long, value_name = "NAT")]
    pub nat_b: Option<String>,
    /// Only relayed candidates (RTCIceTransportPolicy "relay"), in both
    /// parts.
    #[arg(long)]
    pub relay_only: bool,
    /// The seed of the simulated part (the same seed gives the same run).
    #[arg(long, value_name = "N", default_value_t = 1)]
    pub seed: u64,
    /// Skip the live part (only the simulation).
    #[arg(long)]
    pub sim_only: bool,
    /// One JSON object per line instead of text.
    #[arg(long)]
    pub json: bool,
}

/// Text or JSON lines on stdout.
#[derive(Clone, Copy, Debug)]
pub struct Out {
    json: bool,
}

impl Out {
    /// A line of text, or its JSON form.
    pub fn line(&self, text: &str, value: serde_json::Value) {
        if self.json {
            print_line(&value.to_string());
        } else {
            print_line(text);
        }
    }

    /// A section title (an empty line before it in text).
    pub fn heading(&self, text: &str, value: serde_json::Value) {
        if !self.json {
            print_line("");
        }
        self.line(text, value);
    }
}

/// Runs both parts.
pub async fn run(args: DemoArgs) -> Result<(), CliError> {
    let cases = cases(&args)?;
    let out = Out { json: args.json };
    if !args.json {
        print_line("icectl demo: ICE (RFC 8445) in two parts, live and simulated.");
    }
    if !args.sim_only {
        let spinner = crate::progress::Spinner::start("live demo on 127.0.0.1");
        let relayed = live::run(&out, args.relay_only).await?;
        drop(spinner);
        out.line(
            &format!(
                "  => connected {} on loopback",
                if relayed {
                    "through the TURN relay"
                } else {
                    "directly (host to host: no NAT between them)"
                }
            ),
            json!({"part": "live", "event": "result", "path": if relayed { "relayed" } else { "direct" }}),
        );
    }
    out.heading(
        &format!(
            "2. Simulated (netsim, virtual time, seed {}): the same peers behind NATs, our \
             STUN/TURN server on the simulated Internet{}",
            args.seed,
            if args.relay_only { ", relay only" } else { "" }
        ),
        json!({"part": "sim", "event": "start", "seed": args.seed, "relay_only": args.relay_only}),
    );
    for (i, (a, b)) in cases.into_iter().enumerate() {
        let case = sim::run_case(a, b, args.seed.wrapping_add(i as u64), args.relay_only)?;
        show(&out, i + 1, &case, args.seed)?;
    }
    Ok(())
}

/// The cases asked for, or the default tour.
fn cases(args: &DemoArgs) -> Result<Vec<(Kind, Kind)>, CliError> {
    let port_restricted = || nat::parse("port-restricted");
    Ok(match (&args.nat_a, &args.nat_b) {
        (None, None) => vec![
            (port_restricted()?, port_restricted()?),
            (nat::parse("symmetric")?, port_restricted()?),
        ],
        (a, b) => {
            let side = |n: &Option<String>| n.as_deref().map_or_else(port_restricted, nat::parse);
            vec![(side(a)?, side(b)?)]
        }
    })
}

fn show(out: &Out, n: usize, case: &sim::Case, seed: u64) -> Result<(), CliError> {
    let theory = if case.punchable {
        "theory: ICE checks can punch through these two NATs".to_owned()
    } else {
        format!("theory: {}", why_not(case.a, case.b))
    };
    if !out.json {
        print_line("");
        print_line(&format!("  case {n}: A behind {}", nat::describe(case.a)));
        print_line(&format!("          B behind {}", nat::describe(case.b)));
        print_line(&format!("          {theory}"));
        for l in &case.timeline {
            print_line(&format!("  {:>8.1} ms  {}  {}", l.ms, l.agent, l.text));
        }
    }
    let path = case.selected.as_ref().map(|(lk, _, rk, _)| {
        if *lk == CandidateType::Relayed || *rk == CandidateType::Relayed {
            "relayed"
        } else {
            "direct"
        }
    });
    let verdict = match (&case.selected, case.connected_ms, path) {
        (Some((lk, la, rk, ra)), Some(ms), Some(path)) => {
            let how = if path == "direct" {
                "hole punching worked"
            } else if case.punchable {
                "connected through the TURN relay"
            } else {
                "hole punching cannot work here; ICE fell back to the TURN relay"
            };
            format!(
                "  => {how}: {lk} {la} -> {rk} {ra}, both connected after {ms:.0} ms (virtual){}",
                if case.data_both_ways {
                    "; a datagram crossed each way"
                } else {
                    "; but no datagram crossed"
                }
            )
        }
        _ => "  => no connection".to_owned(),
    };
    let timeline: Vec<_> = case
        .timeline
        .iter()
        .map(|l| json!({"ms": l.ms, "agent": l.agent, "text": l.text}))
        .collect();
    out.line(
        &verdict,
        json!({
            "part": "sim", "event": "case", "case": n,
            "nat_a": case.a.label(), "nat_b": case.b.label(),
            "punchable": case.punchable, "path": path,
            "selected": case.selected.as_ref().map(|(lk, la, rk, ra)| json!({
                "local_type": lk.sdp_name(), "local": la,
                "remote_type": rk.sdp_name(), "remote": ra})),
            "connected_ms": case.connected_ms, "data_both_ways": case.data_both_ways,
            "timeline": timeline,
        }),
    );
    let blocked = matches!(case.a, Kind::Blocked) || matches!(case.b, Kind::Blocked);
    if (path.is_none() || !case.data_both_ways) && !blocked {
        return Err(CliError::new(
            format!("simulated case {n} did not connect"),
            format!(
                "A behind {}, B behind {}, seed {}",
                case.a.label(),
                case.b.label(),
                seed.wrapping_add(n as u64 - 1)
            ),
            "this is a bug: report it with the command line (the seed replays it exactly)",
        ));
    }
    Ok(())
}

/// Why checks cannot punch between `a` and `b`, in words.
fn why_not(a: Kind, b: Kind) -> String {
    use ice_tests::netsim::{FilteringBehavior as F, MappingBehavior as M};
    match (a, b) {
        (Kind::Blocked, _) | (_, Kind::Blocked) => {
            "UDP is blocked, so neither a direct path nor the relay (TURN over UDP) works".into()
        }
        (Kind::Nat(M::AddressAndPortDependent, _), Kind::Nat(M::AddressAndPortDependent, _)) => {
            "both NATs give a new port per destination, so no address pair answers from where \
             it was asked (RFC 8445 §7.2.5.2.1): ICE needs the relay"
                .into()
        }
        (Kind::Nat(m, _), Kind::Nat(_, F::AddressAndPortDependent))
        | (Kind::Nat(_, F::AddressAndPortDependent), Kind::Nat(m, _))
            if m != M::EndpointIndependent =>
        {
            "one NAT gives a new port per destination, so the address its peer learnt is not \
             the one it sends from, and the other NAT lets in only the exact address:port it \
             sent to: ICE needs the relay"
                .into()
        }
        _ => "these NATs' mapping and filtering leave no direct path: ICE needs the relay".into(),
    }
}
