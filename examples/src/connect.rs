//! `icectl connect`: one peer of a real ICE session. Two `icectl connect`
//! processes meet in a room of `icectl signal` ([`crate::signal::SignalClient`]),
//! exchange credentials and trickled candidates, connect, and exchange a
//! message over the selected pair. Not implemented yet: the arguments are
//! fixed here, the body comes with the agent's tokio driver.

use std::net::SocketAddr;

use clap::Args;

use crate::error::CliError;

/// `icectl connect`: connect to a peer through a signalling server.
#[derive(Args, Debug, Clone)]
pub struct ConnectArgs {
    /// The signalling server (`icectl signal`), IP:PORT.
    #[arg(long, value_name = "IP:PORT", default_value = "127.0.0.1:7000")]
    pub signal: SocketAddr,
    /// The room to meet the peer in.
    #[arg(long, value_name = "NAME")]
    pub room: String,
    /// A STUN server (`stun:` URL or `HOST[:PORT]`); repeatable.
    #[arg(long, value_name = "URL")]
    pub stun: Vec<String>,
    /// A TURN server (turn: URL); repeatable; needs --user.
    #[arg(long, value_name = "URL")]
    pub turn: Vec<String>,
    /// TURN credentials, NAME:PASS.
    #[arg(long, value_name = "NAME:PASS")]
    pub user: Option<String>,
    /// Only relayed candidates.
    #[arg(long)]
    pub relay_only: bool,
    /// The message to send once connected.
    #[arg(long, value_name = "TEXT", default_value = "hello")]
    pub message: String,
    /// How long to try before giving up.
    #[arg(long, value_name = "DURATION", default_value = "60s", value_parser = crate::duration::parse_duration)]
    pub timeout: std::time::Duration,
    /// Print events and the result as JSON lines.
    #[arg(long)]
    pub json: bool,
}

/// Not implemented yet.
pub async fn run(_args: ConnectArgs) -> Result<(), CliError> {
    Err(CliError::not_implemented("connect"))
}
