//! `icectl signal`: the rendezvous server two peers use to find each other
//! and exchange ICE credentials and candidates, and the client side of
//! its protocol for `icectl connect`.
//!
//! - [`protocol`]: the JSON line messages and their rules;
//! - [`lines`]: bounded line reading and writing;
//! - [`server`]: the server;
//! - [`client`]: the peer's side, [`SignalClient::join`].

pub mod client;
pub mod lines;
pub mod protocol;
pub mod server;

use std::net::SocketAddr;
use std::sync::Arc;

use clap::Args;

pub use client::{Incoming, SignalClient, SignalError, SignalReceiver, SignalSender};
pub use protocol::{ClientMessage, PeerMessage, Role, ServerMessage};
pub use server::{Limits, SignalEvent, SignalServer};

use crate::error::CliError;
use crate::output::{print_json, print_line};

/// `icectl signal`: run the rendezvous server.
#[derive(Args, Debug, Clone)]
pub struct SignalArgs {
    /// The TCP address to listen on. Loopback by default: only peers on
    /// this machine can join; give 0.0.0.0:7000 to serve a network.
    #[arg(long, value_name = "IP:PORT", default_value = "127.0.0.1:7000")]
    pub listen: SocketAddr,
    /// Print events as JSON lines.
    #[arg(long)]
    pub json: bool,
}

/// Runs the server until Ctrl-C.
pub async fn run(args: SignalArgs) -> Result<(), CliError> {
    let server = SignalServer::bind(args.listen, Limits::default())
        .await
        .map_err(|e| CliError::bind(args.listen, "--listen", &e))?;
    let json = args.json;
    let events: server::EventSink = Arc::new(move |event: SignalEvent| {
        if json {
            let _ = print_json(&event);
        } else {
            print_line(&event.to_string());
        }
    });
    tokio::select! {
        () = server.run(events) => Ok(()),
        r = crate::shutdown::ctrl_c() => r,
    }
}
