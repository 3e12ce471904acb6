//! webrtc-ice 0.17 as the peer of `tests/webrtc_ice.rs`: one agent in this
//! process on 127.0.0.1 (UDP over IPv4, no mDNS, optionally our TURN
//! server), its candidate strings, and the conversion between them and
//! our SDP candidate values (RFC 8839 §5.1).
//!
//! webrtc-ice's `Candidate::marshal` writes the attribute value without
//! the `candidate:` prefix (`1234 1 udp 2130706431 127.0.0.1 5000 typ
//! host`), and `unmarshal_candidate` takes it without the prefix too: with
//! it, `candidate:1234` would become the foundation. The SDP layer of
//! webrtc-rs adds and strips the prefix; so do [`Theirs`] here.

pub mod signal;

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;
use webrtc_ice::agent::Agent;
use webrtc_ice::agent::agent_config::AgentConfig;
use webrtc_ice::candidate::candidate_base::unmarshal_candidate;
use webrtc_ice::candidate::{Candidate, CandidateType};
use webrtc_ice::mdns::MulticastDnsMode;
use webrtc_ice::network_type::NetworkType;
use webrtc_ice::state::ConnectionState;
use webrtc_ice::url::Url;
use webrtc_util::Conn;

const LOOPBACK: IpAddr = IpAddr::V4(Ipv4Addr::LOCALHOST);

/// webrtc-ice's connection over its selected pair.
pub type TheirConn = Arc<dyn Conn + Send + Sync>;

/// One webrtc-ice agent.
pub struct Theirs {
    agent: Arc<Agent>,
    controlling: bool,
    state: watch::Receiver<ConnectionState>,
}

/// A `dial` (controlling) or `accept` (controlled) under way.
pub struct Dialing {
    task: JoinHandle<Result<TheirConn, String>>,
    // Dropping the sender cancels the dial: kept until it returns.
    _cancel: mpsc::Sender<()>,
}

impl Theirs {
    /// Creates the agent; with `turn` (server, user, password) it also
    /// gathers a relayed candidate there.
    pub async fn start(
        controlling: bool,
        turn: Option<(SocketAddr, &str, &str)>,
    ) -> Result<Theirs, String> {
        let mut urls = Vec::new();
        let mut candidate_types = vec![CandidateType::Host];
        if let Some((server, user, pass)) = turn {
            let mut url = Url::parse_url(&format!("turn:{server}?transport=udp"))
                .map_err(|e| format!("webrtc-ice refuses the TURN url of {server}: {e}"))?;
            url.username = user.to_owned();
            url.password = pass.to_owned();
            urls.push(url);
            candidate_types.push(CandidateType::Relay);
        }
        let config = AgentConfig {
            urls,
            network_types: vec![NetworkType::Udp4],
            candidate_types,
            multicast_dns_mode: MulticastDnsMode::Disabled,
            include_loopback: true,
            // webrtc-ice binds every interface address that passes the
            // filter: only loopback does.
            ip_filter: Arc::new(Some(Box::new(|ip: IpAddr| ip == LOOPBACK))),
            is_controlling: controlling,
            ..AgentConfig::default()
        };
        let agent = Agent::new(config)
            .await
            .map_err(|e| format!("webrtc-ice agent did not start: {e}"))?;
        let (tx, state) = watch::channel(ConnectionState::New);
        agent.on_connection_state_change(Box::new(move |s| {
            let _ = tx.send(s);
            Box::pin(async {})
        }));
        Ok(Theirs {
            agent: Arc::new(agent),
            controlling,
            state,
        })
    }

    /// Its ufrag and password.
    pub async fn credentials(&self) -> (String, String) {
        self.agent.get_local_user_credentials().await
    }

    /// Starts gathering; the receiver yields each candidate as an SDP
    /// candidate value (`candidate:…`) as it is gathered, and closes when
    /// gathering is complete.
    pub fn gather(&self) -> Result<mpsc::UnboundedReceiver<String>, String> {
        let (tx, rx) = mpsc::unbounded_channel();
        let mut tx = Some(tx);
        self.agent.on_candidate(Box::new(
            move |c: Option<Arc<dyn Candidate + Send + Sync>>| {
                match c {
                    Some(c) => {
                        if let Some(tx) = &tx {
                            let _ = tx.send(format!("candidate:{}", c.marshal()));
                        }
                    }
                    None => tx = None,
                }
                Box::pin(async {})
            },
        ));
        self.agent
            .gather_candidates()
            .map_err(|e| format!("webrtc-ice gather_candidates: {e}"))?;
        Ok(rx)
    }

    /// Gives it one of our candidate values (`candidate:…`).
    pub fn add_line(&self, line: &str) -> Result<(), String> {
        let value = line.strip_prefix("candidate:").unwrap_or(line);
        let c = unmarshal_candidate(value)
            .map_err(|e| format!("webrtc-ice cannot parse our candidate {line:?}: {e}"))?;
        let c: Arc<dyn Candidate + Send + Sync> = Arc::new(c);
        self.agent
            .add_remote_candidate(&c)
            .map_err(|e| format!("webrtc-ice refused our candidate {line:?}: {e}"))
    }

    /// Gives it our credentials ahead of `dial`/`accept`, as a trickling
    /// application does when the description arrives.
    pub async fn set_remote_credentials(&self, ufrag: &str, pwd: &str) -> Result<(), String> {
        self.agent
            .set_remote_credentials(ufrag.to_owned(), pwd.to_owned())
            .await
            .map_err(|e| format!("webrtc-ice refused our credentials: {e}"))
    }

    /// Starts `dial` (controlling) or `accept` (controlled) towards our
    /// credentials.
    pub fn connect(&self, ufrag: &str, pwd: &str) -> Dialing {
        let (cancel, cancel_rx) = mpsc::channel(1);
        let (agent, ufrag, pwd) = (self.agent.clone(), ufrag.to_owned(), pwd.to_owned());
        let controlling = self.controlling;
        let task = tokio::spawn(async move {
            let conn: TheirConn = if controlling {
                agent
                    .dial(cancel_rx, ufrag, pwd)
                    .await
                    .map_err(|e| e.to_string())?
            } else {
                agent
                    .accept(cancel_rx, ufrag, pwd)
                    .await
                    .map_err(|e| e.to_string())?
            };
            Ok(conn)
        });
        Dialing {
            task,
            _cancel: cancel,
        }
    }

    /// Its connection state now.
    pub fn state(&self) -> ConnectionState {
        *self.state.borrow()
    }

    /// Waits until its state handler has reported `Connected` (the
    /// handler runs in a task of its own, so it may come after `dial`
    /// returned), or a state after which it cannot.
    async fn reported_connected(&self, limit: Duration) -> Result<(), String> {
        let mut state = self.state.clone();
        let settled = state.wait_for(|s| {
            matches!(
                s,
                ConnectionState::Connected | ConnectionState::Failed | ConnectionState::Closed
            )
        });
        match tokio::time::timeout(limit, settled).await {
            Ok(Ok(s)) if *s == ConnectionState::Connected => Ok(()),
            Ok(Ok(s)) => Err(format!(
                "webrtc-ice returned a connection, then reported {}",
                *s
            )),
            Ok(Err(_)) => Err("webrtc-ice dropped its state handler".into()),
            Err(_) => Err(format!(
                "webrtc-ice returned a connection but reported no connected state within {limit:?} (state {})",
                self.state()
            )),
        }
    }

    /// Its selected pair: (local, remote) addresses and types.
    pub fn selected(&self) -> Option<((SocketAddr, String), (SocketAddr, String))> {
        let p = self.agent.get_selected_candidate_pair()?;
        let side =
            |c: &Arc<dyn Candidate + Send + Sync>| (c.addr(), c.candidate_type().to_string());
        Some((side(&p.local), side(&p.remote)))
    }

    /// Closes the agent (its TURN allocation too).
    pub async fn close(&self, limit: Duration) -> Result<(), String> {
        match tokio::time::timeout(limit, self.agent.close()).await {
            Ok(r) => r.map_err(|e| format!("webrtc-ice close: {e}")),
            Err(_) => Err(format!("webrtc-ice did not close within {limit:?}")),
        }
    }
}

impl Dialing {
    /// Waits until `dial`/`accept` returns: webrtc-ice has selected a pair.
    pub async fn connected(self, theirs: &Theirs, limit: Duration) -> Result<TheirConn, String> {
        let verb = if theirs.controlling { "dial" } else { "accept" };
        match tokio::time::timeout(limit, self.task).await {
            Ok(Ok(Ok(conn))) => theirs.reported_connected(limit).await.map(|()| conn),
            Ok(Ok(Err(e))) => Err(format!("webrtc-ice {verb} failed: {e}")),
            Ok(Err(e)) => Err(format!("webrtc-ice {verb} task: {e}")),
            Err(_) => Err(format!(
                "webrtc-ice did not connect within {limit:?} (state {})",
                theirs.state()
            )),
        }
    }
}

/// Collects every line of `rx` until gathering completes.
pub async fn gathered(
    mut rx: mpsc::UnboundedReceiver<String>,
    limit: Duration,
) -> Result<Vec<String>, String> {
    let collect = async {
        let mut lines = Vec::new();
        while let Some(l) = rx.recv().await {
            lines.push(l);
        }
        lines
    };
    tokio::time::timeout(limit, collect)
        .await
        .map_err(|_| format!("webrtc-ice gathering did not complete within {limit:?}"))
}

/// The webrtc-ice version this workspace builds, from its `Cargo.lock`.
pub fn version() -> Result<String, String> {
    let path = ice_interop::table::workspace_root().join("Cargo.lock");
    let lock = std::fs::read_to_string(&path)
        .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    let mut lines = lock.lines();
    while let Some(line) = lines.next() {
        if line.trim() == "name = \"webrtc-ice\"" {
            let version = lines
                .next()
                .and_then(|l| l.trim().strip_prefix("version = "));
            if let Some(v) = version {
                return Ok(v.trim_matches('"').to_owned());
            }
        }
    }
    Err(format!("no webrtc-ice package in {}", path.display()))
}
