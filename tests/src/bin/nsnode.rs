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
//! ```
//!
//! Exit status 0 when the run finished (whatever it found), 1 on an error
//! (printed on stderr), 2 on bad arguments.

use std::collections::HashMap;
use std::io::Read;
use std::net::{IpAddr, SocketAddr, UdpSocket};
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use ice_tests::kernel_nat::{classic_report_lines, nat_report_lines};
use ice_tests::realnet::RealNet;
use ice_tests::realnet::tasks::{self, DiscoveryOptions};
use turn_server::StunServer;

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
