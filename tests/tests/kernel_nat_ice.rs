//! Two ICE agents behind two real Linux NATs connect through our STUN/TURN
//! server: directly where the NATs let checks through, by relay where
//! they do not (issue 6, "Kernel NAT").
//!
//! Each test builds its own [`TwoNatLab`] (client A 192.168.1.10 behind
//! NAT A 203.0.113.1, client B 192.168.2.20 behind NAT B 203.0.113.2, our
//! TURN server, which answers STUN Binding too, at 198.51.100.1:3478 in
//! the internet namespace between them), loads each NAT's nftables
//! ruleset from `kernel_nat::rules`, starts `nsnode turn-server` and one
//! `nsnode ice-agent` per client (A controlling, B controlled, both with
//! the server as STUN and TURN server), and carries their credentials,
//! candidates and end-of-candidates between them as the signalling
//! channel. It then asserts:
//!
//! 1. both agents offered host, server-reflexive and relayed candidates
//!    (the relay was there to use in every case);
//! 2. both reach Connected or Completed with a selected pair, and the
//!    pairs agree: A's local candidate address is B's remote one and the
//!    other way round;
//! 3. data goes both ways over the selected pair (each agent receives
//!    the other's `hello`);
//! 4. the pair is direct or relayed as `theory::predict_ice` says for the
//!    two NATs' RFC 4787 behaviours (`two_nats::theory_kind`);
//! 5. the server's own counters agree: application data crossed its relay
//!    sockets both ways in a relayed case, and not at all in a direct one;
//! 6. the NATs' flow tables (`conntrack`) agree: in a direct case each
//!    NAT holds a replied flow from its client's socket to exactly the
//!    address the client's selected pair sends to, on the other NAT; in a
//!    relayed case no flow between the two NATs was ever answered.
//!
//! Waits are bounded (30 s to connect, 15 s for the data), never
//! asserted; on failure the message carries both agents' and the
//! server's stdout and stderr and the NATs' flows
//! (`KERNEL_NAT_ICE_LOGS=1` prints them on success too). A missing tool or capability (root, `ip`,
//! `nft`, `conntrack`) fails the test with its name and package.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::net::{IpAddr, SocketAddr};
use std::path::Path;
use std::time::Duration;

use candidate_gather::nat::FilteringBehavior as F;
use ice::CandidateType;
use ice_tests::kernel_nat::conntrack::{self, Flow};
use ice_tests::kernel_nat::two_nats::{
    CLIENT_A_IP, CLIENT_B_IP, NAT_A_IP, NAT_B_IP, SERVER_IP, theory_kind,
};
use ice_tests::kernel_nat::{
    AgentView, Background, IceCall, Mapping, Middlebox, Need, Netns, Output, Randomization,
    Transcript, TwoNatLab, require,
};
use ice_tests::realnet::RealNet;
use ice_tests::theory::predict_ice;

const USER: &str = "alice";
const PASS: &str = "correct horse";

/// The longest the agents may take to connect.
const CONNECT_LIMIT: Duration = Duration::from_secs(30);
/// The longest the data may take to cross, resends included.
const DATA_LIMIT: Duration = Duration::from_secs(15);
/// How long a process may take to stop once told.
const STOP_LIMIT: Duration = Duration::from_secs(15);

fn needs() {
    require(&[Need::Root, Need::Netns, Need::Nft, Need::Conntrack]);
}

fn nsnode() -> &'static Path {
    Path::new(env!("CARGO_BIN_EXE_nsnode"))
}

fn server() -> SocketAddr {
    SocketAddr::new(IpAddr::V4(SERVER_IP), 3478)
}

/// What an agent sends on selection (`nsnode ice-agent`): 0x80 (not STUN,
/// RFC 7983) and a greeting naming its role.
fn hello(role: &str) -> Vec<u8> {
    [&[0x80u8][..], format!("hello from {role}").as_bytes()].concat()
}

fn agent_args(role: &str, bind: IpAddr, seed: u64) -> Vec<String> {
    [
        "--role",
        role,
        "--bind",
        &bind.to_string(),
        "--stun",
        &server().to_string(),
        "--turn",
        &server().to_string(),
        "--user",
        USER,
        "--pass",
        PASS,
        "--seed",
        &seed.to_string(),
    ]
    .iter()
    .map(|s| (*s).to_owned())
    .collect()
}

fn start_turn_server(ns: &Netns) -> Background {
    let args = [
        "turn-server".to_owned(),
        "--listen".to_owned(),
        server().to_string(),
        "--user".to_owned(),
        USER.to_owned(),
        "--pass".to_owned(),
        PASS.to_owned(),
    ];
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let mut turn = ns
        .spawn("nsnode turn-server", nsnode(), &args)
        .expect("start nsnode turn-server");
    turn.wait_for_line(Duration::from_secs(10), |l| l.starts_with("ready"))
        .unwrap_or_else(|e| panic!("nsnode turn-server did not start: {e}"));
    turn
}

/// A counter the TURN server printed when it stopped.
fn counter(out: &Output, key: &str) -> Option<u64> {
    out.stdout
        .lines()
        .find_map(|l| l.strip_prefix(key)?.strip_prefix('=')?.parse().ok())
}

/// Everything a run left behind.
struct Run {
    connected: bool,
    delivered: bool,
    agents: [Transcript; 2],
    turn: Output,
    /// Each NAT's UDP flows while the call was up.
    flows: [Vec<Flow>; 2],
}

impl Run {
    /// Both agents' and the server's output, for failure messages.
    fn logs(&self) -> String {
        format!(
            "{}{}--- turn server ({:?}) stdout:\n{}\n--- turn server stderr:\n{}\n--- NAT A flows: {:#?}\n--- NAT B flows: {:#?}",
            self.agents[0],
            self.agents[1],
            self.turn.status,
            self.turn.stdout,
            self.turn.stderr,
            self.flows[0],
            self.flows[1],
        )
    }
}

/// Builds the lab, connects the two agents, exchanges data, and stops
/// everything.
fn call(a: Middlebox, b: Middlebox, seed: u64) -> Run {
    needs();
    let lab = TwoNatLab::new(a, b).unwrap_or_else(|e| panic!("building the lab: {e}"));
    let turn = start_turn_server(&lab.internet);
    let args_a = agent_args("controlling", IpAddr::V4(CLIENT_A_IP), seed);
    let args_b = agent_args("controlled", IpAddr::V4(CLIENT_B_IP), seed + 1);
    let mut call = IceCall::start(nsnode(), (&lab.client_a, &args_a), (&lab.client_b, &args_b))
        .unwrap_or_else(|e| panic!("starting the agents: {e}"));

    let connected = call.run_until(CONNECT_LIMIT, |v| v.iter().all(|v| v.connected()));

    // Each agent sent its hello on selection; the other may have dropped
    // it if it arrived before the pair was valid there, so resend until
    // it is in (a bounded wait, not a timing assertion).
    let hellos = [hello("Controlling"), hello("Controlled")];
    let mut delivered = false;
    if connected {
        let deadline = RealNet::now() + DATA_LIMIT;
        let all_in = |v: &[AgentView; 2]| {
            v[1].received.contains(&hellos[0]) && v[0].received.contains(&hellos[1])
        };
        loop {
            delivered = all_in(&call.views);
            if delivered || RealNet::now() >= deadline {
                break;
            }
            for (to, from) in [(1, 0), (0, 1)] {
                if !call.views[to].received.contains(&hellos[from]) {
                    call.send(from, &hellos[from]);
                }
            }
            call.run_until(Duration::from_millis(500), all_in);
        }
    }

    let flows = [&lab.nat_a, &lab.nat_b].map(|ns| {
        conntrack::udp_flows(ns).unwrap_or_else(|e| panic!("reading a NAT's flows: {e}"))
    });
    let agents = call.finish(STOP_LIMIT);
    let turn = turn.finish(STOP_LIMIT);
    Run {
        connected,
        delivered,
        agents,
        turn,
        flows,
    }
}

/// Connects the agents behind `a` and `b` and checks everything the
/// module documentation lists; returns the selected pairs for the caller
/// to look at.
fn connects_as_theory_says(a: Middlebox, b: Middlebox, seed: u64) -> [String; 2] {
    let start = RealNet::now();
    let run = call(a, b, seed);
    let logs = run.logs();
    let direct = predict_ice(theory_kind(&a), theory_kind(&b));
    let case = format!(
        "A behind {a}, B behind {b}: expected a {} pair",
        if direct { "direct" } else { "relayed" }
    );

    for t in &run.agents {
        for kind in [
            CandidateType::Host,
            CandidateType::ServerReflexive,
            CandidateType::Relayed,
        ] {
            assert!(
                t.view.offered(kind),
                "{case}: agent {} offered no {kind} candidate\n{logs}",
                t.name
            );
        }
        assert!(
            t.status.is_some_and(|s| s.success()),
            "{case}: agent {} did not exit cleanly\n{logs}",
            t.name
        );
    }
    assert!(
        run.connected,
        "{case}: the agents did not both connect within {CONNECT_LIMIT:?}\n{logs}"
    );
    let [va, vb] = [&run.agents[0].view, &run.agents[1].view];
    let (sa, sb) = (va.selected.clone().unwrap(), vb.selected.clone().unwrap());
    assert!(
        sa.local == sb.remote && sb.local == sa.remote,
        "{case}: the selected pairs disagree: A {sa}, B {sb}\n{logs}"
    );
    assert!(
        run.delivered,
        "{case}: data did not cross both ways within {DATA_LIMIT:?}\n{logs}"
    );
    assert_eq!(
        (sa.relayed(), sb.relayed()),
        (!direct, !direct),
        "{case}: A selected {sa}, B selected {sb}\n{logs}"
    );

    // The server's view of the data.
    let peer_in = counter(&run.turn, "peer_in_data");
    let peer_out = counter(&run.turn, "peer_out_data");
    assert!(
        run.turn.success() && peer_in.is_some() && peer_out.is_some(),
        "{case}: the TURN server did not report its counters\n{logs}"
    );
    let (peer_in, peer_out) = (peer_in.unwrap_or(0), peer_out.unwrap_or(0));
    if direct {
        assert!(
            peer_in == 0 && peer_out == 0,
            "{case}: application data went through the relay on a direct pair ({peer_in} in, {peer_out} out)\n{logs}"
        );
    } else {
        assert!(
            peer_in > 0 && peer_out > 0,
            "{case}: no application data crossed the relay both ways ({peer_in} in, {peer_out} out)\n{logs}"
        );
    }

    // The NATs' view of the path. A flow between the client and the other
    // NAT either left from the client (original direction) or came in from
    // the other NAT and was let through to the client (an open filter's
    // destination NAT): then its reply direction is the client's.
    let between_nats = |flows: &[Flow], client: IpAddr, other_nat: IpAddr| -> Vec<Flow> {
        flows
            .iter()
            .filter(|f| {
                f.replied
                    && ((f.original.0.ip() == client && f.original.1.ip() == other_nat)
                        || (f.original.0.ip() == other_nat && f.reply.0.ip() == client))
            })
            .copied()
            .collect()
    };
    let sides = [
        (
            &run.flows[0],
            IpAddr::V4(CLIENT_A_IP),
            IpAddr::V4(NAT_B_IP),
            va,
        ),
        (
            &run.flows[1],
            IpAddr::V4(CLIENT_B_IP),
            IpAddr::V4(NAT_A_IP),
            vb,
        ),
    ];
    for (i, (flows, client, other_nat, view)) in sides.into_iter().enumerate() {
        let answered = between_nats(flows, client, other_nat);
        let name = ["A", "B"][i];
        if direct {
            let (base, to) = view
                .path
                .unwrap_or_else(|| panic!("{case}: agent {name} printed no path\n{logs}"));
            assert!(
                answered
                    .iter()
                    .any(|f| f.original == (base, to) || f.reply == (base, to)),
                "{case}: NAT {name} has no answered flow {base} -> {to} (the selected path)\n{logs}"
            );
        } else {
            assert!(
                answered.is_empty(),
                "{case}: NAT {name} let answers through directly from the other NAT: {answered:?}\n{logs}"
            );
            // The selected pair runs through the server: from a relayed
            // address of it, or to one.
            let path = view.path;
            assert!(
                path.is_some_and(
                    |(base, to)| base.ip() == server().ip() || to.ip() == server().ip()
                ),
                "{case}: agent {name}'s selected path {path:?} does not go through the relay\n{logs}"
            );
        }
    }
    eprintln!(
        "{case}: A selected {sa}, B selected {sb}; relay data {peer_in} in / {peer_out} out; {:?}",
        start.elapsed()
    );
    if std::env::var_os("KERNEL_NAT_ICE_LOGS").is_some() {
        eprintln!("{logs}");
    }
    [sa.to_string(), sb.to_string()]
}

fn nat(mapping: Mapping, filtering: F) -> Middlebox {
    Middlebox::nat(mapping, filtering)
}

const EIM: Mapping = Mapping::EndpointIndependent;
const RANDOM: Mapping = Mapping::AddressAndPortDependent(Randomization::Random);
const FULLY_RANDOM: Mapping = Mapping::AddressAndPortDependent(Randomization::FullyRandom);

/// Port-restricted cone on both sides (RFC 4787: endpoint-independent
/// mapping, address- and port-dependent filtering): each agent's mapping
/// is the same towards the server and the peer, so A's check to B's
/// server-reflexive address opens A's NAT for exactly B's, and B's to A's
/// opens B's for A's: whichever arrives second gets in. Direct.
#[test]
fn port_restricted_cones_connect_directly() {
    connects_as_theory_says(
        nat(EIM, F::AddressAndPortDependent),
        nat(EIM, F::AddressAndPortDependent),
        10,
    );
}

/// Full cone facing restricted cone: endpoint-independent mappings both
/// sides, so the reflexive addresses are the peers' real addresses and
/// the filters open once each side has sent. Direct.
#[test]
fn full_cone_and_restricted_cone_connect_directly() {
    connects_as_theory_says(
        nat(EIM, F::EndpointIndependent),
        nat(EIM, F::AddressDependent),
        20,
    );
}

/// Random ports both sides (`masquerade random` and `fully-random`:
/// address- and port-dependent mapping): A's check to B's reflexive
/// address leaves from a new mapping B has never sent to, and the other
/// way round; no pair of public addresses can satisfy both NATs
/// (`theory::predict_ice`). Relayed.
#[test]
fn random_port_nats_connect_through_the_relay() {
    connects_as_theory_says(
        nat(RANDOM, F::AddressAndPortDependent),
        nat(FULLY_RANDOM, F::AddressAndPortDependent),
        30,
    );
}

/// Random ports facing a port-restricted cone: B's filter admits only
/// endpoints B has sent to, and A's checks come from mappings B has never
/// seen (A's reflexive address is its mapping towards the server); B's
/// checks to A's reflexive address meet A's port-dependent filter. Relayed.
#[test]
fn random_port_nat_and_port_restricted_cone_connect_through_the_relay() {
    connects_as_theory_says(
        nat(RANDOM, F::AddressAndPortDependent),
        nat(EIM, F::AddressAndPortDependent),
        40,
    );
}

/// Random ports facing a full cone: A's check from a fresh mapping gets
/// through B's open filter, B's answer comes back on the flow A opened,
/// and A's address on that flow becomes a peer-reflexive candidate on
/// both sides. Direct, with a mapping neither agent learnt from the
/// server.
#[test]
fn random_port_nat_and_full_cone_connect_directly() {
    connects_as_theory_says(
        nat(RANDOM, F::AddressAndPortDependent),
        nat(EIM, F::EndpointIndependent),
        50,
    );
}
