//! `nsnode`: runs the stack's sans-IO components over real sockets, for
//! tests that start it inside a network namespace (`ip netns exec NS
//! nsnode ...`); see `ice_tests::kernel_nat` for why it is a binary.
//!
//! ```text
//! nsnode stun-server --primary IP:PORT [--alternate IP:PORT] [--lifetime-ms N]
//!     serves until stdin closes (or the lifetime ends); prints `ready`
//!     once bound, and its counters when it stops.
//! nsnode rfc5780 --server IP:PORT --bind IP [--sockets N] [--rto-ms N]
//!                [--max-transactions N] [--limit-ms N] [--seed N] [--rfc3489]
//! nsnode classic ...same options...
//!     runs discovery and prints its report as key=value lines, then `done`.
//! nsnode udp-send --bind IP:PORT --to IP:PORT [--to IP:PORT ...]
//!     sends one datagram to each destination, in order, from one socket.
//! nsnode turn-server --listen IP:PORT --user U --pass P [--realm R] [--seed N]
//!                    [--lifetime-ms N]
//!     serves our TURN server (which answers Binding requests too) until
//!     stdin closes, binding each relay socket it asks for; prints
//!     `ready`, then `allocated ...`, `deallocated ...`, `released ...`,
//!     `error-response <method> <code> ...` and `dropped <from> -> <to>:
//!     <reason>` as they happen,
//!     and its counters as key=value lines when it stops (`peer_in_data`
//!     and `peer_out_data`: non-STUN datagrams that arrived on or left
//!     from a relay socket, i.e. application data relayed between peers).
//! nsnode ice-agent --role controlling|controlled --bind IP [--port N]
//!                  [--stun IP:PORT] [--turn IP:PORT --user U --pass P]
//!                  [--seed N] [--lifetime-ms N]
//!     runs an ICE agent with one stream of one component on one socket.
//!     Prints `socket <addr>`, `credentials <ufrag> <pwd>`,
//!     `local <candidate-line>`,
//!     `gathered`, `state <State>`, `selected <local-type> <remote-type>
//!     <local-addr> <remote-addr>` and `path <base> <remote-addr>` (the
//!     socket the pair sends from and where to), `received <hex>` for
//!     application data, `sent <hex>`; on selection it sends
//!     `0x80 "hello from <role>"` over the pair. Reads the peer's
//!     `remote-credentials <ufrag> <pwd>`, `remote <candidate-line>`,
//!     `remote-gathered`, and `send <hex>` from stdin. When stdin closes
//!     it closes the agent (releasing its TURN allocations), prints
//!     `closed` and its socket counters.
//! ```
//!
//! Exit status 0 when the run finished (whatever it found), 1 on an error
//! (printed on stderr), 2 on bad arguments.

use std::collections::{BTreeSet, HashMap};
use std::io::{BufRead, Read};
use std::net::{IpAddr, SocketAddr, UdpSocket};
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use ice::{AgentConfig, Credentials, Event, Role, StreamId};
use ice_tests::ice_pair::Peer;
use ice_tests::kernel_nat::{classic_report_lines, nat_report_lines};
use ice_tests::netsim::Endpoint;
use ice_tests::realnet::RealNet;
use ice_tests::realnet::tasks::{self, DiscoveryOptions};
use stun_proto::attr::ErrorCode;
use stun_proto::{Class, Message, Transmit, Transport};
use turn_server::{StunServer, TurnEvent, TurnServer, TurnServerConfig};

/// Parsed `--key value` options (and `--flag`s, with an empty value).
struct Args {
    mode: String,
    values: HashMap<String, Vec<String>>,
}

const FLAGS: [&str; 1] = ["rfc3489"];

impl Args {
    fn parse() -> Result<Args, String> {
        let mut it = std::env::args().skip(1);
        let mode = it.next().ok_or("no mode given")?;
        let mut values: HashMap<String, Vec<String>> = HashMap::new();
        while let Some(a) = it.next() {
            let key = a
                .strip_prefix("--")
                .ok_or_else(|| format!("unexpected argument {a}"))?;
            let value = if FLAGS.contains(&key) {
                String::new()
            } else {
                it.next().ok_or_else(|| format!("--{key} needs a value"))?
            };
            values.entry(key.to_owned()).or_default().push(value);
        }
        Ok(Args { mode, values })
    }

    fn get<T: std::str::FromStr>(&self, key: &str) -> Result<Option<T>, String> {
        match self.values.get(key).and_then(|v| v.last()) {
            None => Ok(None),
            Some(v) => v
                .parse()
                .map(Some)
                .map_err(|_| format!("--{key}: cannot parse {v:?}")),
        }
    }

    fn need<T: std::str::FromStr>(&self, key: &str) -> Result<T, String> {
        self.get(key)?.ok_or_else(|| format!("--{key} is required"))
    }

    fn all<T: std::str::FromStr>(&self, key: &str) -> Result<Vec<T>, String> {
        self.values
            .get(key)
            .map(|vs| {
                vs.iter()
                    .map(|v| {
                        v.parse()
                            .map_err(|_| format!("--{key}: cannot parse {v:?}"))
                    })
                    .collect()
            })
            .unwrap_or(Ok(Vec::new()))
    }

    fn flag(&self, key: &str) -> bool {
        self.values.contains_key(key)
    }

    fn millis(&self, key: &str) -> Result<Option<Duration>, String> {
        Ok(self.get::<u64>(key)?.map(Duration::from_millis))
    }

    fn discovery(&self) -> Result<DiscoveryOptions, String> {
        let d = DiscoveryOptions::default();
        Ok(DiscoveryOptions {
            rto: self.millis("rto-ms")?.unwrap_or(d.rto),
            sockets: self.get("sockets")?.unwrap_or(d.sockets),
            max_transactions: self.get("max-transactions")?.unwrap_or(d.max_transactions),
            rfc3489_requests: self.flag("rfc3489"),
            limit: self.millis("limit-ms")?.unwrap_or(d.limit),
            seed: self.get("seed")?.unwrap_or(d.seed),
        })
    }
}

fn main() -> ExitCode {
    let args = match Args::parse() {
        Ok(a) => a,
        Err(e) => {
            eprintln!("nsnode: {e} (see the header of tests/src/bin/nsnode.rs)");
            return ExitCode::from(2);
        }
    };
    let result = match args.mode.as_str() {
        "stun-server" => stun_server(&args),
        "rfc5780" => discovery(&args, true),
        "classic" => discovery(&args, false),
        "udp-send" => udp_send(&args),
        "turn-server" => turn_server(&args),
        "ice-agent" => ice_agent(&args),
        other => {
            eprintln!("nsnode: unknown mode {other}");
            return ExitCode::from(2);
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("nsnode {}: {e}", args.mode);
            ExitCode::from(1)
        }
    }
}

fn stun_server(args: &Args) -> Result<(), String> {
    let primary: SocketAddr = args.need("primary")?;
    let alternate: Option<SocketAddr> = args.get("alternate")?;
    let lifetime = args
        .millis("lifetime-ms")?
        .unwrap_or(Duration::from_secs(600));
    let mut net = RealNet::new();
    let id = tasks::add_stun_server(&mut net, primary, alternate).map_err(|e| e.to_string())?;
    // The test's signal to stop: our stdin closes (also when the test
    // process dies).
    let stop = Arc::new(AtomicBool::new(false));
    let flag = Arc::clone(&stop);
    std::thread::spawn(move || {
        let _ = std::io::stdin().read_to_end(&mut Vec::new());
        flag.store(true, Ordering::SeqCst);
    });
    let addresses = net.endpoint::<StunServer>(id).local_addresses();
    let list: Vec<String> = addresses.iter().map(ToString::to_string).collect();
    println!("ready {}", list.join(" "));
    net.run_until(lifetime, |_| stop.load(Ordering::SeqCst));
    let s = net.endpoint::<StunServer>(id).stats();
    println!("successes={}", s.successes);
    println!("errors={}", s.errors);
    println!("dropped={}", s.dropped);
    Ok(())
}

fn discovery(args: &Args, rfc5780: bool) -> Result<(), String> {
    let server: SocketAddr = args.need("server")?;
    let bind: IpAddr = args.need("bind")?;
    let options = args.discovery()?;
    let start = RealNet::now();
    let (lines, sockets, stats) = if rfc5780 {
        let f = tasks::rfc5780(server, bind, &options).map_err(|e| e.to_string())?;
        (nat_report_lines(&f.report), f.sockets, f.stats)
    } else {
        let f = tasks::classic(server, bind, &options).map_err(|e| e.to_string())?;
        (classic_report_lines(&f.report), f.sockets, f.stats)
    };
    for l in lines {
        println!("{l}");
    }
    let sockets: Vec<String> = sockets.iter().map(ToString::to_string).collect();
    println!("sockets={}", sockets.join(","));
    println!("elapsed_ms={}", start.elapsed().as_millis());
    println!("sent={}", stats.sent);
    println!("received={}", stats.received);
    println!("bad_source={}", stats.bad_source);
    println!("done");
    Ok(())
}

fn udp_send(args: &Args) -> Result<(), String> {
    let bind: SocketAddr = args.need("bind")?;
    let to: Vec<SocketAddr> = args.all("to")?;
    let socket = UdpSocket::bind(bind).map_err(|e| format!("bind {bind}: {e}"))?;
    for dest in to {
        socket
            .send_to(b"probe", dest)
            .map_err(|e| format!("send to {dest}: {e}"))?;
    }
    println!("done");
    Ok(())
}

/// A flag that turns true when our stdin closes (the test's signal to
/// stop, also when the test process dies).
fn stop_on_stdin_eof() -> Arc<AtomicBool> {
    let stop = Arc::new(AtomicBool::new(false));
    let flag = Arc::clone(&stop);
    std::thread::spawn(move || {
        let _ = std::io::stdin().read_to_end(&mut Vec::new());
        flag.store(true, Ordering::SeqCst);
    });
    stop
}

/// RFC 7983: a first byte 0-3 is STUN; anything else between peers here
/// is application data (ChannelData never crosses a relay socket).
fn is_stun(data: &[u8]) -> bool {
    data.first().is_some_and(|b| *b < 4)
}

/// Datagrams through the relay sockets, by kind.
#[derive(Clone, Copy, Debug, Default)]
struct RelayCounts {
    peer_in_stun: u64,
    peer_in_data: u64,
    peer_out_stun: u64,
    peer_out_data: u64,
}

/// Our TURN server over real sockets: the relay sockets it asks for
/// (`TurnEvent::BindRelay`) are collected here and bound by the loop of
/// [`turn_server()`], which owns the net.
struct RealTurn {
    server: TurnServer,
    to_bind: Vec<SocketAddr>,
    relays: BTreeSet<SocketAddr>,
    counts: RelayCounts,
    lines: Vec<String>,
}

impl RealTurn {
    fn events(&mut self) {
        while let Some(e) = self.server.poll_event() {
            match e {
                TurnEvent::BindRelay { relay } => self.to_bind.push(relay),
                TurnEvent::ReleaseRelay { relay } => {
                    self.relays.remove(&relay);
                    self.lines.push(format!("released {relay}"));
                }
                TurnEvent::Allocated {
                    five_tuple, relays, ..
                } => {
                    let relays: Vec<String> = relays.iter().map(ToString::to_string).collect();
                    self.lines.push(format!(
                        "allocated client={} relay={}",
                        five_tuple.client,
                        relays.join(",")
                    ));
                }
                TurnEvent::Deallocated { five_tuple, reason } => self.lines.push(format!(
                    "deallocated client={} reason={reason:?}",
                    five_tuple.client
                )),
                _ => {}
            }
        }
    }
}

impl Endpoint for RealTurn {
    fn handle_packet(&mut self, now: Instant, local: SocketAddr, remote: SocketAddr, data: &[u8]) {
        if self.relays.contains(&local) {
            if is_stun(data) {
                self.counts.peer_in_stun += 1;
            } else {
                self.counts.peer_in_data += 1;
            }
        }
        if let Err(e) = self
            .server
            .handle_packet(now, local, remote, Transport::Datagram, data)
        {
            self.lines
                .push(format!("dropped {remote} -> {local}: {e:?}"));
        }
        self.events();
    }

    fn handle_timeout(&mut self, now: Instant) {
        self.server.handle_timeout(now);
        self.events();
    }

    fn poll_transmit(&mut self) -> Option<Transmit> {
        let t = self.server.poll_transmit()?;
        if let Some(line) = error_response(&t.data) {
            self.lines.push(format!("{line} to={}", t.to));
        }
        if self.relays.contains(&t.from) {
            if is_stun(&t.data) {
                self.counts.peer_out_stun += 1;
            } else {
                self.counts.peer_out_data += 1;
            }
        }
        Some(Transmit {
            from: t.from,
            to: t.to,
            data: t.data,
        })
    }

    fn poll_timeout(&self) -> Option<Instant> {
        self.server.poll_timeout()
    }
}

/// `error-response <method> <code> <reason>` for a STUN error response,
/// so that a log shows what the server refused.
fn error_response(data: &[u8]) -> Option<String> {
    let m = Message::parse(data).ok()?;
    if m.class() != Class::Error {
        return None;
    }
    let e = m.get::<ErrorCode>().ok()??;
    Some(format!(
        "error-response {} {} {:?}",
        m.method(),
        e.code(),
        e.reason()
    ))
}

fn turn_server(args: &Args) -> Result<(), String> {
    let listen: SocketAddr = args.need("listen")?;
    let user: String = args.need("user")?;
    let pass: String = args.need("pass")?;
    let realm: String = args
        .get("realm")?
        .unwrap_or_else(|| "example.org".to_owned());
    let seed: u64 = args.get("seed")?.unwrap_or(1);
    let lifetime = args
        .millis("lifetime-ms")?
        .unwrap_or(Duration::from_secs(600));
    let config = TurnServerConfig::new(listen, &realm)
        .and_then(|c| c.with_user(&user, &pass))
        .map_err(|e| e.to_string())?
        .with_seed(seed);
    let server = TurnServer::new(config, RealNet::now()).map_err(|e| e.to_string())?;
    let mut net = RealNet::new();
    let addresses = server.udp_addresses();
    for a in &addresses {
        net.bind_udp(*a).map_err(|e| format!("bind {a}: {e}"))?;
    }
    let turn = RealTurn {
        server,
        to_bind: Vec::new(),
        relays: BTreeSet::new(),
        counts: RelayCounts::default(),
        lines: Vec::new(),
    };
    let id = net
        .add_endpoint(turn, &addresses)
        .map_err(|e| e.to_string())?;
    let stop = stop_on_stdin_eof();
    let list: Vec<String> = addresses.iter().map(ToString::to_string).collect();
    println!("ready {}", list.join(" "));
    let deadline = RealNet::now() + lifetime;
    loop {
        let left = deadline.saturating_duration_since(RealNet::now());
        net.run_until(left, |n| {
            let t = n.endpoint::<RealTurn>(id);
            stop.load(Ordering::SeqCst) || !t.to_bind.is_empty() || !t.lines.is_empty()
        });
        for line in std::mem::take(&mut net.endpoint_mut::<RealTurn>(id).lines) {
            println!("{line}");
        }
        let binds = std::mem::take(&mut net.endpoint_mut::<RealTurn>(id).to_bind);
        for relay in binds {
            let result = net
                .bind_udp_for(id, relay)
                .map(|_| ())
                .map_err(|e| e.kind());
            net.with_endpoint::<RealTurn, _>(id, |t, now| {
                if result.is_ok() {
                    t.relays.insert(relay);
                }
                let _ = t.server.handle_relay_bound(now, relay, result);
                t.events();
            });
        }
        if stop.load(Ordering::SeqCst) || RealNet::now() >= deadline {
            break;
        }
    }
    let t = net.endpoint::<RealTurn>(id);
    for line in &t.lines {
        println!("{line}");
    }
    let s = t.server.stats();
    let c = t.counts;
    println!("successes={}", s.successes);
    println!("errors={}", s.errors);
    println!("dropped={}", s.dropped);
    println!("allocations={}", s.allocations);
    println!("to_peers={}", s.to_peers.0);
    println!("to_clients={}", s.to_clients.0);
    println!("peer_in_stun={}", c.peer_in_stun);
    println!("peer_in_data={}", c.peer_in_data);
    println!("peer_out_stun={}", c.peer_out_stun);
    println!("peer_out_data={}", c.peer_out_data);
    let n = net.stats();
    println!("send_errors={}", n.send_errors);
    println!("bad_source={}", n.bad_source);
    println!("done");
    Ok(())
}

fn hex(data: &[u8]) -> String {
    data.iter().map(|b| format!("{b:02x}")).collect()
}

fn unhex(s: &str) -> Result<Vec<u8>, String> {
    if s.len() % 2 != 0 {
        return Err(format!("odd hex length: {s:?}"));
    }
    (0..s.len())
        .step_by(2)
        .map(|i| {
            s.get(i..i + 2)
                .and_then(|h| u8::from_str_radix(h, 16).ok())
                .ok_or_else(|| format!("bad hex: {s:?}"))
        })
        .collect()
}

/// One line of the peer's signalling, applied to the agent.
fn signal(peer: &mut Peer, now: Instant, line: &str) -> Result<Option<String>, String> {
    let (verb, rest) = line.split_once(' ').unwrap_or((line, ""));
    let stream: StreamId = peer.stream;
    let agent = &mut peer.agent;
    let mut reply = None;
    match verb {
        "remote-credentials" => {
            let (ufrag, pwd) = rest
                .split_once(' ')
                .ok_or("remote-credentials needs <ufrag> <pwd>")?;
            let creds = Credentials::new(ufrag, pwd).map_err(|e| format!("{e:?}"))?;
            agent
                .set_remote_credentials(stream, creds)
                .map_err(|e| e.to_string())?;
        }
        "remote" => {
            let c = ice::sdp::parse_candidate(rest).map_err(|e| format!("{rest:?}: {e:?}"))?;
            agent
                .add_remote_candidate(stream, c)
                .map_err(|e| e.to_string())?;
        }
        "remote-gathered" => agent
            .end_of_remote_candidates(stream)
            .map_err(|e| e.to_string())?,
        "send" => {
            let data = unhex(rest)?;
            reply = Some(match agent.send(stream, 1, &data) {
                Ok(()) => format!("sent {rest}"),
                Err(e) => format!("send-error {e}"),
            });
        }
        "" => {}
        other => return Err(format!("unknown line {other:?}")),
    }
    // Checks start (or a triggered one is sent) at once; this also drains
    // the agent's events into the peer's log.
    Endpoint::handle_timeout(peer, now);
    Ok(reply)
}

/// The `path` line of the selected pair: the base it sends from and
/// where to, from the agent's pair statistics.
fn path_line(peer: &Peer, local: &ice::Candidate, remote: &ice::Candidate) -> Option<String> {
    // The checklist's pair may name the host candidate the check left
    // from where the selected pair names the (server- or peer-)reflexive
    // one it was mapped to, so match the nominated pair on its remote.
    let stats = peer.agent.pair_stats(peer.stream).ok()?;
    let p = stats
        .iter()
        .filter(|p| p.nominated && p.local == *local && p.remote == *remote)
        .chain(stats.iter().filter(|p| p.nominated && p.remote == *remote))
        .chain(stats.iter().filter(|p| p.nominated))
        .next()?;
    Some(format!("path {} {}", p.base, p.remote_addr))
}

fn ice_agent(args: &Args) -> Result<(), String> {
    let role = match args.need::<String>("role")?.as_str() {
        "controlling" => Role::Controlling,
        "controlled" => Role::Controlled,
        other => {
            return Err(format!(
                "--role: {other:?} is not controlling or controlled"
            ));
        }
    };
    let bind: IpAddr = args.need("bind")?;
    let port: u16 = args.get("port")?.unwrap_or(0);
    let seed: u64 = args.get("seed")?.unwrap_or(1);
    let lifetime = args
        .millis("lifetime-ms")?
        .unwrap_or(Duration::from_secs(300));
    let mut config = AgentConfig::new(role, seed);
    if let Some(stun) = args.get::<SocketAddr>("stun")? {
        config.stun_servers = vec![stun];
    }
    if let Some(turn) = args.get::<SocketAddr>("turn")? {
        let user: String = args.need("user")?;
        let pass: String = args.need("pass")?;
        config.turn_servers = vec![ice::TurnServer::new(turn, &user, &pass)];
    }
    let mut net = RealNet::new();
    let socket = net
        .bind_udp(SocketAddr::new(bind, port))
        .map_err(|e| format!("bind {bind}:{port}: {e}"))?;
    let peer = Peer::new(config, RealNet::now(), vec![socket]);
    let creds = peer
        .agent
        .local_credentials(peer.stream)
        .map_err(|e| e.to_string())?;
    println!("socket {socket}");
    println!("credentials {} {}", creds.ufrag(), creds.pwd());
    let id = net
        .add_endpoint(peer, &[socket])
        .map_err(|e| e.to_string())?;

    // The peer's lines, read on a thread; `None` once stdin closes.
    let (tx, rx) = mpsc::channel::<Option<String>>();
    std::thread::spawn(move || {
        for line in std::io::stdin().lock().lines() {
            let Ok(line) = line else { break };
            if tx.send(Some(line)).is_err() {
                return;
            }
        }
        let _ = tx.send(None);
    });

    let hello = [&[0x80u8][..], format!("hello from {role:?}").as_bytes()].concat();
    let mut printed = 0;
    let deadline = RealNet::now() + lifetime;
    let mut open = true;
    while open && RealNet::now() < deadline {
        net.run_until(Duration::from_millis(20), |n| {
            n.endpoint::<Peer>(id).log.len() > printed
        });
        loop {
            match rx.try_recv() {
                Ok(Some(line)) => {
                    let result =
                        net.with_endpoint::<Peer, _>(id, |p, now| signal(p, now, line.trim()));
                    match result {
                        Ok(Some(reply)) => println!("{reply}"),
                        Ok(None) => {}
                        Err(e) => eprintln!("nsnode ice-agent: {e}"),
                    }
                }
                Ok(None) | Err(mpsc::TryRecvError::Disconnected) => {
                    open = false;
                    break;
                }
                Err(mpsc::TryRecvError::Empty) => break,
            }
        }
        let events: Vec<Event> = net.endpoint::<Peer>(id).log[printed..]
            .iter()
            .map(|(_, e)| e.clone())
            .collect();
        printed += events.len();
        for e in events {
            match e {
                Event::LocalCandidate { candidate, .. } => {
                    match ice::sdp::write_candidate(&candidate) {
                        Ok(line) => println!("local {line}"),
                        Err(e) => eprintln!("nsnode ice-agent: cannot write {candidate:?}: {e:?}"),
                    }
                }
                Event::GatheringComplete { .. } => println!("gathered"),
                Event::StateChanged { state, .. } => println!("state {state:?}"),
                Event::RoleChanged { role } => println!("role {role:?}"),
                Event::RelayFailed { server, error, .. } => {
                    println!("relay-failed {server} {error:?}");
                }
                Event::Data { data, .. } => println!("received {}", hex(&data)),
                Event::SelectedPair { local, remote, .. } => {
                    let addr = |c: &ice::Candidate| c.address.to_string();
                    println!(
                        "selected {} {} {} {}",
                        local.kind.sdp_name(),
                        remote.kind.sdp_name(),
                        addr(&local),
                        addr(&remote)
                    );
                    if let Some(line) = path_line(net.endpoint::<Peer>(id), &local, &remote) {
                        println!("{line}");
                    }
                    let sent = net.with_endpoint::<Peer, _>(id, |p, _| {
                        let s = p.stream;
                        p.agent.send(s, 1, &hello)
                    });
                    match sent {
                        Ok(()) => println!("sent {}", hex(&hello)),
                        Err(e) => println!("send-error {e}"),
                    }
                }
                _ => {}
            }
        }
    }
    // Close: the TURN allocations are released (Refresh with lifetime 0)
    // before we exit.
    net.with_endpoint::<Peer, _>(id, |p, now| {
        p.agent.close();
        Endpoint::handle_timeout(p, now);
    });
    net.run_until(Duration::from_secs(5), |n| {
        n.endpoint::<Peer>(id).agent.poll_timeout().is_none()
    });
    let s = net.stats();
    println!("closed");
    println!("sent={}", s.sent);
    println!("received={}", s.received);
    println!("send_errors={}", s.send_errors);
    println!("bad_source={}", s.bad_source);
    println!("done");
    Ok(())
}
