//! Our side of an interop run: one agent of the tokio driver on
//! 127.0.0.1, optionally with our TURN server, and the signalling glue
//! every peer needs (credentials, candidate lines, end-of-candidates).

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use ice::driver::{Connection, IceAgent, IceConfig, LocalAddresses};
use ice::{AgentConfig, Candidate, CandidatePolicy, Credentials, Role, TurnServer};

/// How our agent is set up for one run.
#[derive(Clone, Debug)]
pub struct Options {
    /// Our role.
    pub role: Role,
    /// The agent's seed (printed by a failing test).
    pub seed: u64,
    /// Our TURN server and its credentials, for relayed runs.
    pub turn: Option<(SocketAddr, String, String)>,
    /// Offer and check relayed candidates only (`iceTransportPolicy: relay`).
    pub relay_only: bool,
}

impl Options {
    /// A direct run in `role`.
    pub fn new(role: Role, seed: u64) -> Options {
        Options {
            role,
            seed,
            turn: None,
            relay_only: false,
        }
    }
}

/// Our agent for one run.
pub struct OurPeer {
    /// The driver's agent.
    pub agent: Arc<IceAgent>,
}

/// The peer's candidate lines our agent did not take, with why: an mDNS
/// name it cannot resolve is taken (and waits for peer-reflexive
/// discovery); a line that does not parse is reported here.
pub type Refused = Vec<(String, String)>;

impl OurPeer {
    /// Starts our agent on 127.0.0.1.
    pub async fn start(o: &Options) -> Result<OurPeer, String> {
        let mut config = AgentConfig::new(o.role, o.seed);
        config.include_loopback = true;
        if let Some((server, user, pass)) = &o.turn {
            config.turn_servers = vec![TurnServer::new(*server, user, pass)];
        }
        if o.relay_only {
            config.policy = CandidatePolicy::Relay;
        }
        let local = LocalAddresses::Ips(vec![IpAddr::V4(Ipv4Addr::LOCALHOST)]);
        let agent = IceAgent::new(IceConfig::new(config).with_local(local))
            .await
            .map_err(|e| format!("our agent did not start: {e}"))?;
        Ok(OurPeer {
            agent: Arc::new(agent),
        })
    }

    /// Our ufrag and password.
    pub fn credentials(&self) -> Credentials {
        self.agent.local_credentials()
    }

    /// Waits until gathering completes and returns our candidates as SDP
    /// candidate values (`candidate:…`, without `a=`).
    pub async fn gathered(&self, limit: Duration) -> Result<Vec<String>, String> {
        let mut stream = self.agent.local_candidates();
        let collect = async {
            let mut lines = Vec::new();
            while let Some(c) = stream.next().await {
                lines.push(
                    ice::sdp::write_candidate(&c)
                        .map_err(|e| format!("cannot write {c:?}: {e}"))?,
                );
            }
            Ok(lines)
        };
        tokio::time::timeout(limit, collect)
            .await
            .map_err(|_| format!("our gathering did not complete within {limit:?}"))?
    }

    /// Gives our agent the peer's ufrag and password.
    pub async fn set_remote_credentials(&self, ufrag: &str, pwd: &str) -> Result<(), String> {
        let c = Credentials::new(ufrag, pwd).map_err(|e| format!("the peer's credentials: {e}"))?;
        self.agent
            .set_remote_credentials(c)
            .await
            .map_err(|e| format!("our agent refused the peer's credentials: {e}"))
    }

    /// Gives our agent the peer's candidate lines (with or without `a=`);
    /// returns the ones it refused, and why.
    pub async fn add_remote_lines<S: AsRef<str>>(&self, lines: &[S]) -> Result<Refused, String> {
        let mut refused = Vec::new();
        for line in lines {
            let line = line.as_ref();
            match ice::sdp::parse_candidate(line) {
                Ok(c) => {
                    if let Err(e) = self.agent.add_remote_candidate(c).await {
                        refused.push((line.to_owned(), e.to_string()));
                    }
                }
                Err(e) => refused.push((line.to_owned(), e.to_string())),
            }
        }
        Ok(refused)
    }

    /// Tells our agent the peer has no more candidates.
    pub async fn end_of_candidates(&self) -> Result<(), String> {
        self.agent
            .end_of_remote_candidates()
            .await
            .map_err(|e| format!("end-of-candidates: {e}"))
    }

    /// Waits for the selected pair and returns the connection over it.
    pub async fn connected(&self, limit: Duration) -> Result<Connection, String> {
        match tokio::time::timeout(limit, self.agent.connect()).await {
            Ok(Ok(c)) => Ok(c),
            Ok(Err(e)) => Err(format!("our agent did not connect: {e}")),
            Err(_) => Err(format!(
                "our agent did not connect within {limit:?} (state {:?})",
                self.agent.state()
            )),
        }
    }

    /// The selected pair, ours first.
    pub fn selected(&self) -> Option<(Candidate, Candidate)> {
        self.agent.selected_pair()
    }

    /// Closes the agent (releasing a TURN allocation).
    pub async fn close(&self) {
        self.agent.close().await;
    }
}
