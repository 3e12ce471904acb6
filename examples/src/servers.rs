//! The `--stun`, `--turn`, `--user` and `--pass` flags that `gather` and
//! `connect` share, checked before any packet leaves: a bad URL or a TURN
//! server without credentials is a usage error, not a timeout later.

use std::net::SocketAddr;

use clap::Args;
use ice::TurnServer;

use crate::error::CliError;
use crate::url::{Scheme, ServerUrl, UrlTransport};

/// STUN and TURN servers for the agent.
#[derive(Args, Debug, Clone, Default)]
pub struct ServerArgs {
    /// A STUN server (`stun:HOST[:PORT]` or `HOST[:PORT]`) for
    /// server-reflexive candidates; repeatable.
    #[arg(long, value_name = "URL")]
    pub stun: Vec<String>,
    /// A TURN server (`turn:HOST[:PORT]`, UDP) for relayed candidates;
    /// repeatable; needs --user and --pass.
    #[arg(long, value_name = "URL")]
    pub turn: Vec<String>,
    /// The TURN username.
    #[arg(long, value_name = "NAME")]
    pub user: Option<String>,
    /// The TURN password.
    #[arg(long, value_name = "PASSWORD")]
    pub pass: Option<String>,
}

/// One server as given and where it resolved to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Server {
    /// The URL as the person gave it, normalised (`stun:IP:PORT`).
    pub url: String,
    /// Its address.
    pub addr: SocketAddr,
    /// STUN or TURN.
    pub scheme: Scheme,
}

/// The servers, ready for [`ice::AgentConfig`].
#[derive(Clone, Debug, Default)]
pub struct Servers {
    /// For `AgentConfig::stun_servers`.
    pub stun: Vec<SocketAddr>,
    /// For `AgentConfig::turn_servers`.
    pub turn: Vec<TurnServer>,
    /// Every server, STUN first, for reports.
    pub all: Vec<Server>,
}

impl ServerArgs {
    /// Parses every URL and checks the credentials (usage errors).
    pub fn parse(&self) -> Result<(Vec<ServerUrl>, Vec<ServerUrl>), CliError> {
        let stun = self
            .stun
            .iter()
            .map(|s| ServerUrl::parse_server(s))
            .collect::<Result<Vec<_>, _>>()?;
        for (given, url) in self.stun.iter().zip(&stun) {
            if url.scheme == Scheme::Turn {
                return Err(CliError::usage(
                    format!("`{given}` given to --stun"),
                    "it is a turn: URL",
                    format!("give it with --turn {given}"),
                ));
            }
        }
        let turn = self
            .turn
            .iter()
            .map(|s| {
                let lower = s.to_ascii_lowercase();
                if lower.starts_with("turn:") || lower.starts_with("turns:") {
                    ServerUrl::parse(s)
                } else {
                    ServerUrl::parse(&format!("turn:{s}"))
                }
            })
            .collect::<Result<Vec<_>, _>>()?;
        for (given, url) in self.turn.iter().zip(&turn) {
            if url.transport == Some(UrlTransport::Tcp) {
                return Err(CliError::usage(
                    format!("cannot use TURN server `{given}`"),
                    "the agent's TURN client runs over UDP only for now (TURN over TCP is \
                     in the client library, not yet in the agent)",
                    "use the server's UDP transport: drop `?transport=tcp` or write `?transport=udp`",
                ));
            }
        }
        match (&self.user, &self.pass, turn.is_empty()) {
            (Some(_), Some(_), false) | (None, None, true) => {}
            (_, _, false) => {
                return Err(CliError::usage(
                    "a TURN server needs credentials",
                    "--turn was given without both --user and --pass",
                    "add --user NAME --pass PASSWORD (the TURN server's long-term credentials)",
                ));
            }
            (_, _, true) => {
                return Err(CliError::usage(
                    "--user and --pass are TURN credentials",
                    "no --turn server was given to use them with",
                    "add --turn turn:HOST[:PORT], or drop --user and --pass",
                ));
            }
        }
        Ok((stun, turn))
    }

    /// Parses, then resolves every server's name.
    pub async fn resolve(&self) -> Result<Servers, CliError> {
        let (stun, turn) = self.parse()?;
        let mut out = Servers::default();
        for url in &stun {
            let addr = url.resolve().await?;
            out.stun.push(addr);
            out.all.push(Server {
                url: crate::url::url_for(Scheme::Stun, addr, None),
                addr,
                scheme: Scheme::Stun,
            });
        }
        let user = self.user.as_deref().unwrap_or_default();
        let pass = self.pass.as_deref().unwrap_or_default();
        for url in &turn {
            let addr = url.resolve().await?;
            out.turn.push(TurnServer::new(addr, user, pass));
            out.all.push(Server {
                url: crate::url::url_for(Scheme::Turn, addr, None),
                addr,
                scheme: Scheme::Turn,
            });
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(stun: &[&str], turn: &[&str], user: Option<&str>, pass: Option<&str>) -> ServerArgs {
        ServerArgs {
            stun: stun.iter().map(|s| s.to_string()).collect(),
            turn: turn.iter().map(|s| s.to_string()).collect(),
            user: user.map(str::to_owned),
            pass: pass.map(str::to_owned),
        }
    }

    #[test]
    fn usage_errors_come_before_any_packet() {
        let cases = [
            (args(&["http://x"], &[], None, None), "bad server"),
            (args(&["turn:1.2.3.4"], &[], None, None), "given to --stun"),
            (args(&[], &["1.2.3.4"], None, None), "needs credentials"),
            (
                args(&[], &["1.2.3.4"], Some("u"), None),
                "needs credentials",
            ),
            (args(&[], &[], Some("u"), Some("p")), "TURN credentials"),
            (
                args(&[], &["turn:1.2.3.4?transport=tcp"], Some("u"), Some("p")),
                "cannot use TURN server",
            ),
            (
                args(&[], &["turn:1.2.3.4:99999"], Some("u"), Some("p")),
                "bad server URL",
            ),
        ];
        for (a, what) in cases {
            let e = a.parse().expect_err(what);
            assert!(e.what.contains(what), "{a:?}: {e}");
            assert_eq!(e.code, crate::error::EXIT_USAGE);
        }
    }

    #[test]
    fn plain_host_port_is_a_udp_server() {
        let a = args(&["127.0.0.1:3478"], &["127.0.0.1"], Some("u"), Some("p"));
        let (stun, turn) = a.parse().expect("valid");
        assert_eq!(stun[0].port, 3478);
        assert_eq!(turn[0].scheme, Scheme::Turn);
        assert_eq!(turn[0].port, crate::url::DEFAULT_PORT);
    }
}
