//! The argument parser and the dispatch to the subcommands.

use std::process::ExitCode;

use clap::{Parser, Subcommand};

use crate::error::{CliError, EXIT_FAILURE};
use crate::{connect, demo, gather, nat_type, serve, signal};

/// ICE, STUN and TURN from the command line.
#[derive(Parser, Debug)]
#[command(name = "icectl", version, about, long_about = None)]
pub struct Cli {
    /// The command.
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands.
#[derive(Subcommand, Debug)]
pub enum Command {
    /// Two ICE agents connect through an in-process STUN/TURN server, then
    /// behind simulated NATs.
    Demo(demo::DemoArgs),
    /// List this machine's ICE candidates as they trickle in.
    Gather(gather::GatherArgs),
    /// Discover the NAT between here and a STUN server (RFC 5780, RFC 3489).
    NatType(nat_type::NatTypeArgs),
    /// Run a STUN/TURN server (RFC 8489, RFC 5780 with --alt-ip, RFC 8656).
    Serve(serve::ServeArgs),
    /// Run the rendezvous server that pairs `icectl connect` peers.
    Signal(signal::SignalArgs),
    /// ICE netcat: connect to a peer through `icectl signal`.
    Connect(connect::ConnectArgs),
}

impl Command {
    /// Whether `--json` was asked for.
    pub fn json(&self) -> bool {
        match self {
            Command::Demo(a) => a.json,
            Command::Gather(a) => a.json,
            Command::NatType(a) => a.json,
            Command::Serve(a) => a.json,
            Command::Signal(a) => a.json,
            Command::Connect(a) => a.json,
        }
    }

    /// Runs the command.
    pub async fn run(self) -> Result<(), CliError> {
        match self {
            Command::Demo(a) => demo::run(a).await,
            Command::Gather(a) => gather::run(a).await,
            Command::NatType(a) => nat_type::run(a).await,
            Command::Serve(a) => serve::run(a).await,
            Command::Signal(a) => signal::run(a).await,
            Command::Connect(a) => connect::run(a).await,
        }
    }
}

/// Parses the process's arguments, runs the command on a tokio runtime,
/// prints a failure (on stderr; also as JSON on stdout with `--json`) and
/// returns the exit code.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    let json = cli.command.json();
    let result = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| {
            CliError::new(
                "cannot start the async runtime",
                e.to_string(),
                "check the process limits (threads, file descriptors)",
            )
        })
        .and_then(|rt| rt.block_on(cli.command.run()));
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            if json {
                crate::output::print_line(&e.to_json());
            }
            eprintln!("{e}");
            ExitCode::from(if e.code == 0 { EXIT_FAILURE } else { e.code })
        }
    }
}
