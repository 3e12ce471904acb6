//! `icectl gather`: the terminal version of the trickle-ICE page. It
//! gathers this machine's candidates with the ICE agent (RFC 8445 §5.1.1:
//! host, server-reflexive through STUN servers, relayed through TURN
//! servers), prints each as it trickles in (time, component, type,
//! foundation, protocol, address, port, priority, related address), then
//! the time gathering finished and, per server, what it gave or why it
//! gave nothing. A server that gave nothing makes the exit status 1.
//!
//! - `tally`: which server gave which candidate (a candidate does not
//!   name its server), and why a server gave none.
//! - `result`: what came of each server, and why.
//! - `render`: the table, the JSON lines, the summary and the error.
//!
//! The agent's STUN and TURN requests are retransmitted on RFC 8489's
//! schedule scaled into three quarters of `--timeout`, so a server that
//! does not answer is reported as such before the timeout ends the wait.

mod render;
mod result;
mod tally;
#[cfg(test)]
mod tests;

use std::future::Future;
use std::net::IpAddr;
use std::time::{Duration, Instant};

use clap::Args;
use ice::driver::{DriverError, IceAgent, IceConfig, LocalAddresses};
use ice::{AgentConfig, Event, Role};

use crate::clock::now;
use crate::error::CliError;
use crate::output::{print_json, print_line};
use crate::progress::Spinner;
use crate::servers::ServerArgs;
use tally::Tally;

/// A spinner appears after this long without news.
const QUIET: Duration = Duration::from_secs(1);

/// `icectl gather`: list the candidates this machine would offer.
#[derive(Args, Debug, Clone)]
pub struct GatherArgs {
    /// STUN and TURN servers and credentials.
    #[command(flatten)]
    pub servers: ServerArgs,
    /// Gather only on these local IPs (repeatable); default: every
    /// interface.
    #[arg(long, value_name = "IP")]
    pub local: Vec<IpAddr>,
    /// Also offer loopback addresses.
    #[arg(long)]
    pub include_loopback: bool,
    /// How long to wait for the servers; their requests are retransmitted
    /// within three quarters of it (RFC 8489's schedule, scaled).
    #[arg(long, value_name = "DURATION", default_value = "10s", value_parser = crate::duration::parse_duration)]
    pub timeout: Duration,
    /// One JSON object per candidate as it comes, then one for the end.
    #[arg(long)]
    pub json: bool,
}

/// Gathers and prints; exit 1 if a server gave nothing.
pub async fn run(args: GatherArgs) -> Result<(), CliError> {
    let servers = args.servers.resolve().await?;
    let mut config = AgentConfig::new(Role::Controlling, crate::clock::seed());
    config.stun_servers = servers.stun.clone();
    config.turn_servers = servers.turn.clone();
    config.include_loopback = args.include_loopback || args.local.iter().any(|ip| ip.is_loopback());
    config.retransmit = crate::nat_type::retransmit_for(args.timeout.mul_f64(0.75));
    let local = if args.local.is_empty() {
        LocalAddresses::Interfaces
    } else {
        LocalAddresses::Ips(args.local.clone())
    };
    let start = now();
    let agent = IceAgent::new(IceConfig::new(config).with_local(local))
        .await
        .map_err(|e| no_sockets(&e))?;
    let mut events = agent.events();
    let sockets = agent.local_sockets();
    let ips = sockets.iter().chain(servers.all.iter().map(|s| &s.addr));
    let width = render::address_width(ips.map(|a| a.ip()));
    if !args.json {
        print_line(&render::header(sockets.len(), &servers.all));
        print_line(&render::row_text(
            &render::HEADINGS.map(str::to_owned),
            width,
        ));
    }
    let mut tally = Tally::new(&servers.all);
    let mut candidates = Vec::new();
    let mut spinner: Option<Spinner> = None;
    let deadline = tokio::time::sleep(args.timeout);
    let quiet = tokio::time::sleep(QUIET);
    let interrupt = crate::shutdown::ctrl_c();
    tokio::pin!(deadline, quiet, interrupt);
    let (mut interrupted, mut can_interrupt) = (false, true);
    let complete = loop {
        tokio::select! {
            e = events.next() => {
                // Cleared before anything is printed under it.
                spinner = None;
                quiet.as_mut().reset(tokio::time::Instant::now() + QUIET);
                let ms = ms_since(start);
                let failed = match e {
                    Some(Event::LocalCandidate { candidate, .. }) => {
                        if args.json {
                            print_json(&render::candidate_json(ms, &candidate))?;
                        } else {
                            print_line(&render::row_text(&render::row(ms, &candidate), width));
                        }
                        tally.candidate(&candidate);
                        candidates.push(candidate);
                        None
                    }
                    Some(Event::GatheringComplete { .. }) => break true,
                    Some(Event::ServerReflexiveFailed { server, base, error, .. }) => {
                        tally.stun_failed(server, base, &error)
                    }
                    Some(Event::RelayFailed { server, error, .. }) => {
                        tally.turn_failed(server, &error)
                    }
                    Some(_) => None,
                    None => break false,
                };
                if let (Some((url, f)), false) = (failed, args.json) {
                    let what = render::grouped(&[f]).join("");
                    print_line(&format!("{:>8}  error  {url}: {what}", format!("{ms:.1}")));
                }
            }
            () = &mut quiet, if spinner.is_none() => {
                let waiting = tally.waiting();
                spinner = Some(Spinner::start(if waiting.is_empty() {
                    "gathering".to_owned()
                } else {
                    format!("waiting for {}", waiting.join(", "))
                }));
            }
            () = &mut deadline => break false,
            r = &mut interrupt, if can_interrupt => match r {
                Ok(()) => {
                    interrupted = true;
                    break false;
                }
                // No signals to wait for: gathering goes on.
                Err(_) => can_interrupt = false,
            },
        }
    };
    drop(spinner);
    let ms = ms_since(start);
    if interrupted {
        after_a_second(agent.close(), "releasing the TURN allocations").await;
        return Err(CliError::new(
            "gathering interrupted",
            format!("stopped after {ms:.1} ms, before gathering completed"),
            "let it finish, or give a shorter --timeout",
        ));
    }
    let results = tally.finish(complete, args.timeout);
    if args.json {
        print_json(&render::done_json(complete, ms, candidates.len(), &results))?;
    } else {
        let text = render::summary(complete, ms, args.timeout, &candidates, &results);
        print_line(&text);
    }
    // Releases the TURN allocations (Refresh with LIFETIME 0).
    after_a_second(agent.close(), "releasing the TURN allocations").await;
    match render::failure(&results) {
        Some(e) => Err(e),
        None => Ok(()),
    }
}

/// Awaits `work`, with a spinner showing `message` once it takes longer
/// than [`QUIET`].
async fn after_a_second<F: Future>(work: F, message: &str) -> F::Output {
    tokio::pin!(work);
    tokio::select! {
        out = &mut work => return out,
        () = tokio::time::sleep(QUIET) => {}
    }
    let _spinner = Spinner::start(message);
    work.await
}

fn no_sockets(e: &DriverError) -> CliError {
    let hint = match e {
        DriverError::NoAddresses => {
            "add --include-loopback, or give a local address with --local IP"
        }
        DriverError::Bind { .. } => "give addresses of this machine with --local IP",
        _ => "give a local address with --local IP",
    };
    CliError::new("cannot gather host candidates", e.to_string(), hint)
}

fn ms_since(start: Instant) -> f64 {
    crate::clock::ms(start, now())
}
