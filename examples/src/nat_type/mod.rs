//! `icectl nat-type`: what NAT stands between this machine and a STUN
//! server, by RFC 5780 NAT behaviour discovery (`Rfc5780Discovery`) and
//! the classic RFC 3489 flow (`ClassicDiscovery`), run side by side on
//! their own sockets.
//!
//! - [`driver`]: the tokio loop around the sans-IO state machines;
//! - [`report`]: the result and its plain words.

pub mod driver;
pub mod report;

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use candidate_gather::nat::{
    ClassicDiscovery, DiscoveryConfig, DiscoveryEvent, Rfc5780Discovery, Test,
};
use candidate_gather::transaction::RetransmitConfig;
use clap::Args;
use turn_server::front::random_seed;

use crate::duration::parse_duration;
use crate::error::CliError;
use crate::output::{print_json, print_line};
use crate::progress::Spinner;
use crate::url::ServerUrl;
use driver::{Machine, Sockets, Unreachable};
use report::NatTypeReport;

/// Sockets for RFC 5780: mapping, filtering, hairpinning.
const RFC5780_SOCKETS: usize = 3;

/// `icectl nat-type`: discover the NAT's behaviour.
#[derive(Args, Debug, Clone)]
pub struct NatTypeArgs {
    /// The STUN server: `HOST[:PORT]` or a `stun:` URL. It needs a second
    /// address (OTHER-ADDRESS) for a full result, as `icectl serve
    /// --alt-ip` has.
    #[arg(long, value_name = "HOST[:PORT]")]
    pub server: String,
    /// How long one STUN transaction waits for an answer (RFC 8489
    /// §6.2.1: 39.5 s, requests at 0, 0.5, 1.5, … 31.5 s). A shorter time
    /// scales the whole schedule down; only for a LAN or loopback, where
    /// answers take milliseconds. E.g. 2s, 500ms.
    #[arg(long, value_name = "DURATION", default_value = "39.5s", value_parser = parse_duration)]
    pub timeout: Duration,
    /// The local IP to test from (default: the one the system routes to
    /// the server from).
    #[arg(long, value_name = "IP")]
    pub bind: Option<IpAddr>,
    /// Print the result as one JSON object.
    #[arg(long)]
    pub json: bool,
}

/// Runs discovery and prints the report.
pub async fn run(args: NatTypeArgs) -> Result<(), CliError> {
    let url = ServerUrl::parse_server(&args.server)?;
    let server = url.resolve().await?;
    let local_ip = match args.bind {
        Some(ip) => ip,
        None => driver::route_source(server).map_err(|e| {
            CliError::new(
                format!("cannot reach {server} from this machine"),
                format!("no route: {e}"),
                "check the network connection, or give the local address with --bind",
            )
        })?,
    };
    let (mut sockets, addrs) = Sockets::bind(local_ip, RFC5780_SOCKETS + 1)
        .map_err(|e| CliError::bind(SocketAddr::new(local_ip, 0), "--bind", &e))?;
    let retransmit = retransmit_for(args.timeout);
    let config = |sockets: &[SocketAddr]| {
        let mut c = DiscoveryConfig::new(server, sockets.to_vec(), random_seed());
        c.retransmit = retransmit;
        c
    };
    let (ours, theirs) = addrs.split_at(RFC5780_SOCKETS.min(addrs.len()));
    let now = crate::clock::now();
    let mut rfc5780 = Rfc5780Discovery::new(config(ours), now);
    let mut classic = ClassicDiscovery::new(config(theirs), now);
    let spinner = Spinner::start(format!("asking {server} about the NAT"));
    let mut done = 0;
    let mut machines = [
        Machine {
            discovery: &mut rfc5780,
            sockets: ours.to_vec(),
        },
        Machine {
            discovery: &mut classic,
            sockets: theirs.to_vec(),
        },
    ];
    let waited = driver::drive(&mut sockets, &mut machines, args.timeout, |e| {
        if let DiscoveryEvent::TestDone { test, answered } = e {
            done += 1;
            let answer = if *answered { "answered" } else { "no answer" };
            spinner.set_message(format!(
                "asking {server} about the NAT: {done} tests done, last {} ({answer})",
                test_name(*test)
            ));
        }
    })
    .await;
    drop(spinner);
    if let Err(u) = waited {
        return Err(unreachable(&args.server, server, &u));
    }
    let (Some(found), Some(classic_found), Some(local)) =
        (rfc5780.report(), classic.report(), ours.first())
    else {
        return Err(CliError::new(
            "NAT discovery ended without a report",
            "the state machines finished without one, which is a bug",
            "report it, with the command line",
        ));
    };
    let report = NatTypeReport::new(server, *local, found, classic_found);
    if args.json {
        print_json(&report)
    } else {
        print_line(&report.render());
        Ok(())
    }
}

/// The RFC 8489 schedule stretched so that one transaction lasts
/// `timeout`.
pub fn retransmit_for(timeout: Duration) -> RetransmitConfig {
    let rfc = RetransmitConfig::default();
    let scale = timeout.as_secs_f64() / rfc.timeout().as_secs_f64();
    rfc.with_rto(rfc.rto.mul_f64(scale))
}

fn test_name(test: Test) -> &'static str {
    match test {
        Test::Binding => "binding test",
        Test::OtherAddress => "mapping test to the other address",
        Test::OtherAddressAndPort => "mapping test to the other address and port",
        Test::ChangeIpAndPort => "filtering test (change IP and port)",
        Test::ChangePort => "filtering test (change port)",
        Test::Hairpin => "hairpinning test",
        Test::Lifetime => "lifetime test",
    }
}

fn unreachable(given: &str, server: SocketAddr, u: &Unreachable) -> CliError {
    let why = match &u.send_error {
        Some(e) => format!(
            "sending failed ({e}) and nothing came back in {:.1} s",
            u.waited.as_secs_f64()
        ),
        None => format!(
            "{} requests went unanswered for {:.1} s (one RFC 8489 transaction): the server is down, the address or port is wrong, or UDP is blocked on the way",
            u.sent,
            u.waited.as_secs_f64()
        ),
    };
    CliError::new(
        format!("no answer from the STUN server {given} ({server})"),
        why,
        "check the address and port (a local test server: `icectl serve --alt-ip 127.0.0.2`, then `icectl nat-type --server 127.0.0.1:3478`), or try another network",
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_timeout_scales_the_rfc_schedule() {
        let r = retransmit_for(Duration::from_millis(39_500));
        assert_eq!(r, RetransmitConfig::default());
        let r = retransmit_for(Duration::from_millis(1580));
        assert_eq!(r.rto, Duration::from_millis(20));
        assert_eq!(r.timeout(), Duration::from_millis(1580));
    }
}
