//! `icectl demo`: two ICE agents connecting through an in-process
//! STUN/TURN server, then behind simulated NATs. Not implemented yet: the
//! arguments are fixed here, the body comes with the agent's tokio driver.

use clap::Args;

use crate::error::CliError;

/// `icectl demo`: two agents connect, first directly, then behind NATs.
#[derive(Args, Debug, Clone)]
pub struct DemoArgs {
    /// The NAT pair to put the agents behind, e.g. `eim-apdf,apdm-apdf`
    /// (RFC 4787 mapping-filtering per side); repeatable. Default: a short
    /// tour from open Internet to two symmetric NATs.
    #[arg(long, value_name = "A,B")]
    pub nat: Vec<String>,
    /// Only relayed candidates (RTCIceTransportPolicy "relay").
    #[arg(long)]
    pub relay_only: bool,
    /// The seed of the simulated network and the agents (the same seed
    /// gives the same run).
    #[arg(long, value_name = "N", default_value_t = 1)]
    pub seed: u64,
    /// Print one JSON object per scenario.
    #[arg(long)]
    pub json: bool,
}

/// Not implemented yet.
pub async fn run(_args: DemoArgs) -> Result<(), CliError> {
    Err(CliError::not_implemented("demo"))
}
