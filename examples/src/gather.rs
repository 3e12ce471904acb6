//! `icectl gather`: gathers this machine's ICE candidates (host,
//! server-reflexive, relayed) and prints them as `a=candidate` lines. Not
//! implemented yet: the arguments are fixed here, the body comes with the
//! agent's tokio driver.

use clap::Args;

use crate::error::CliError;

/// `icectl gather`: list the candidates this machine would offer.
#[derive(Args, Debug, Clone)]
pub struct GatherArgs {
    /// A STUN server (`stun:` URL or `HOST[:PORT]`) for server-reflexive
    /// candidates; repeatable.
    #[arg(long, value_name = "URL")]
    pub stun: Vec<String>,
    /// A TURN server (turn: URL, `?transport=udp|tcp`) for relayed
    /// candidates; repeatable; needs --user.
    #[arg(long, value_name = "URL")]
    pub turn: Vec<String>,
    /// TURN credentials, NAME:PASS.
    #[arg(long, value_name = "NAME:PASS")]
    pub user: Option<String>,
    /// Also offer loopback and link-local addresses.
    #[arg(long)]
    pub include_loopback: bool,
    /// How long to wait for server-reflexive and relayed candidates.
    #[arg(long, value_name = "DURATION", default_value = "10s", value_parser = crate::duration::parse_duration)]
    pub timeout: std::time::Duration,
    /// Print the candidates as one JSON object.
    #[arg(long)]
    pub json: bool,
}

/// Not implemented yet.
pub async fn run(_args: GatherArgs) -> Result<(), CliError> {
    Err(CliError::not_implemented("gather"))
}
