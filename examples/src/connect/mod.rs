//! `icectl connect`: ICE netcat. Two `icectl connect` processes meet in a
//! room of `icectl signal` ([`crate::signal::SignalClient`]; the first to
//! join controls), exchange credentials and trickled candidates
//! (RFC 8838: `a=candidate` values, then end-of-candidates), connect with
//! the tokio driver of `ice`, and then copy stdin to the peer and the
//! peer to stdout over the selected pair. The chosen pair and its type go
//! to stderr.
//!
//! ICE gives datagrams; a file needs bytes in order and none lost, so the
//! copy runs [`crate::reliable::Stream`] over the connection. Each side
//! ends its output with a FIN once stdin closes, and the command exits when
//! both directions are complete.

mod pump;
mod signalling;

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use clap::Args;
use ice::driver::{IceAgent, IceConfig, LocalAddresses};
use ice::{AgentConfig, CandidatePolicy};

use crate::error::CliError;
use crate::servers::ServerArgs;
use crate::signal::{Role, SignalClient};

/// `icectl connect`: connect to a peer through a signalling server.
#[derive(Args, Debug, Clone)]
pub struct ConnectArgs {
    /// The signalling server (`icectl signal`), IP:PORT.
    #[arg(long, value_name = "IP:PORT", default_value = "127.0.0.1:7000")]
    pub signal: SocketAddr,
    /// The room to meet the peer in.
    #[arg(long, value_name = "NAME")]
    pub room: String,
    /// STUN and TURN servers and credentials.
    #[command(flatten)]
    pub servers: ServerArgs,
    /// Only relayed candidates (RTCIceTransportPolicy "relay").
    #[arg(long)]
    pub relay_only: bool,
    /// Bind only on these local IPs (repeatable); default: every
    /// interface except loopback.
    #[arg(long, value_name = "IP")]
    pub local: Vec<IpAddr>,
    /// Also offer loopback addresses (for two peers on one machine).
    #[arg(long)]
    pub include_loopback: bool,
    /// How long to wait for the peer and for ICE before giving up.
    #[arg(long, value_name = "DURATION", default_value = "60s", value_parser = crate::duration::parse_duration)]
    pub timeout: Duration,
    /// How long the peer may stay silent once connected before giving up.
    #[arg(long, value_name = "DURATION", default_value = "30s", value_parser = crate::duration::parse_duration)]
    pub idle_timeout: Duration,
    /// Status lines on stderr as JSON objects (stdout carries the data).
    #[arg(long)]
    pub json: bool,
}

/// Joins the room, connects, copies stdin and stdout until both ends are
/// done.
pub async fn run(args: ConnectArgs) -> Result<(), CliError> {
    let servers = args.servers.resolve().await?;
    let status = pump::Status::new(args.json);
    let spinner = crate::progress::Spinner::start(format!(
        "waiting for a peer in room `{}` on {}",
        args.room, args.signal
    ));
    let joined = tokio::time::timeout(args.timeout, SignalClient::join(args.signal, &args.room))
        .await
        .map_err(|_| {
            CliError::new(
                format!("no peer joined room `{}` on {}", args.room, args.signal),
                format!("waited {:?}", args.timeout),
                "start the other `icectl connect` with the same --signal and --room, or raise --timeout",
            )
        })?;
    let (role, to_peer, from_peer) = joined.map_err(|e| {
        CliError::new(
            format!("cannot join room `{}` on {}", args.room, args.signal),
            e.to_string(),
            "check that `icectl signal` runs there and that the room is not taken by two peers",
        )
    })?;
    status.joined(&args.room, role);

    let mut config = AgentConfig::new(
        match role {
            Role::Controlling => ice::Role::Controlling,
            Role::Controlled => ice::Role::Controlled,
        },
        crate::clock::seed(),
    );
    config.stun_servers = servers.stun.clone();
    config.turn_servers = servers.turn.clone();
    config.include_loopback = args.include_loopback || args.local.iter().any(|ip| ip.is_loopback());
    if args.relay_only {
        config.policy = CandidatePolicy::Relay;
    }
    let local = if args.local.is_empty() {
        LocalAddresses::Interfaces
    } else {
        LocalAddresses::Ips(args.local.clone())
    };
    let agent = IceAgent::new(IceConfig::new(config).with_local(local))
        .await
        .map(Arc::new)
        .map_err(|e| {
            CliError::new(
                "cannot start the ICE agent",
                e.to_string(),
                "give the local addresses to use with --local IP (and --include-loopback on one machine)",
            )
        })?;
    let events = agent.events();
    spinner.set_message("connecting");
    let mut signalling = signalling::start(&agent, to_peer, from_peer, status.clone());
    let connected = tokio::select! {
        c = tokio::time::timeout(args.timeout, agent.connect()) => c,
        () = signalling.peer_gone() => {
            // A last look: the peer may have left right after connecting.
            Ok(tokio::time::timeout(Duration::from_millis(100), agent.connect())
                .await
                .unwrap_or(Err(ice::driver::ConnectError::Closed)))
        }
    };
    drop(spinner);
    let conn = match connected {
        Ok(Ok(conn)) => conn,
        Ok(Err(e)) => {
            agent.close().await;
            let what = "ICE found no path to the peer";
            return Err(match e {
                ice::driver::ConnectError::Closed => {
                    signalling.explain("the peer left before ICE connected".into())
                }
                e => CliError::new(
                    what,
                    e.to_string(),
                    "give both sides a --stun server, or a --turn server with --user and --pass",
                ),
            });
        }
        Err(_) => {
            agent.close().await;
            return Err(signalling.explain(format!(
                "no ICE connection to the peer within {:?}",
                args.timeout
            )));
        }
    };
    status.connected(&conn);
    let result = pump::copy(conn, events, &status, args.idle_timeout).await;
    signalling.bye().await;
    agent.close().await;
    result
}
