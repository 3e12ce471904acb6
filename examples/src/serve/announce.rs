//! What `icectl serve` prints: the URLs and credentials to paste into a
//! page or a client when it starts, and the counters when it stops.

use std::net::SocketAddr;

use serde::Serialize;
use turn_server::TurnServerStats;
use turn_server::turn::auth::shared_secret_password;

use super::settings::Settings;
use crate::output::Table;
use crate::url::{Scheme, UrlTransport, url_for};

/// How long the shared-secret credential printed at start stays valid.
pub const SAMPLE_CREDENTIAL_SECS: u64 = 24 * 3600;

/// A username and password for the TURN URLs.
#[derive(Clone, Debug, Serialize)]
pub struct Credential {
    /// The username.
    pub username: String,
    /// The password (`credential` in `RTCIceServer`).
    pub credential: String,
    /// For a shared-secret credential: when it expires (Unix seconds).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expires: Option<u64>,
}

/// One `RTCIceServer` of the WebRTC API.
#[derive(Clone, Debug, Serialize)]
pub struct IceServer {
    /// The URLs.
    pub urls: Vec<String>,
    /// The username, for TURN.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub username: Option<String>,
    /// The password, for TURN.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub credential: Option<String>,
}

/// The RFC 5780 addresses.
#[derive(Clone, Copy, Debug, Serialize)]
pub struct Rfc5780 {
    /// A1:P1, where clients send.
    pub primary: SocketAddr,
    /// A2:P2, named in OTHER-ADDRESS.
    pub alternate: SocketAddr,
}

/// What the server announces when it starts (`--json`: this object).
#[derive(Clone, Debug, Serialize)]
pub struct Announcement {
    /// Always `"listening"`.
    pub event: &'static str,
    /// The STUN URL.
    pub stun: String,
    /// The TURN URLs, UDP then TCP.
    pub turn: Vec<String>,
    /// The realm.
    pub realm: String,
    /// Users of the user list.
    pub users: Vec<Credential>,
    /// A credential made from the shared secret, valid for
    /// [`SAMPLE_CREDENTIAL_SECS`].
    pub shared_secret_credential: Option<Credential>,
    /// RFC 5780 NAT behaviour discovery, if `--alt-ip` was given.
    pub rfc5780: Option<Rfc5780>,
    /// The UDP sockets served.
    pub udp: Vec<SocketAddr>,
    /// The TCP listeners.
    pub tcp: Vec<SocketAddr>,
    /// The peer prefixes allowed beyond the default policy.
    pub allowed_peers: Vec<String>,
    /// `iceServers` for `new RTCPeerConnection({iceServers})`.
    pub ice_servers: Vec<IceServer>,
}

impl Announcement {
    /// Builds the announcement of a server listening on `primary`.
    pub fn new(
        settings: &Settings,
        primary: SocketAddr,
        alternate: Option<SocketAddr>,
        udp: Vec<SocketAddr>,
        tcp: Vec<SocketAddr>,
        unix_now: u64,
    ) -> Announcement {
        let stun = url_for(Scheme::Stun, primary, None);
        let turn = vec![
            url_for(Scheme::Turn, primary, Some(UrlTransport::Udp)),
            url_for(Scheme::Turn, primary, Some(UrlTransport::Tcp)),
        ];
        let users: Vec<Credential> = settings
            .users
            .iter()
            .map(|(u, p)| Credential {
                username: u.clone(),
                credential: p.clone(),
                expires: None,
            })
            .collect();
        let shared_secret_credential = settings.secret.as_ref().map(|secret| {
            let expires = unix_now + SAMPLE_CREDENTIAL_SECS;
            let username = format!("{expires}:icectl");
            Credential {
                credential: shared_secret_password(secret.as_bytes(), &username),
                username,
                expires: Some(expires),
            }
        });
        let turn_credential = users.first().or(shared_secret_credential.as_ref());
        let ice_servers = vec![
            IceServer {
                urls: vec![stun.clone()],
                username: None,
                credential: None,
            },
            IceServer {
                urls: turn.clone(),
                username: turn_credential.map(|c| c.username.clone()),
                credential: turn_credential.map(|c| c.credential.clone()),
            },
        ];
        Announcement {
            event: "listening",
            stun,
            turn,
            realm: settings.realm.clone(),
            users,
            shared_secret_credential,
            rfc5780: alternate.map(|alternate| Rfc5780 { primary, alternate }),
            udp,
            tcp,
            allowed_peers: settings
                .allowed_peers()
                .into_iter()
                .map(|(_, text)| text)
                .collect(),
            ice_servers,
        }
    }

    /// The text for people.
    pub fn render(&self, settings: &Settings) -> String {
        let mut t = Table::new();
        t.row("STUN", self.stun.clone());
        t.row("TURN", self.turn.join("\n"));
        t.row("realm", self.realm.clone());
        for u in &self.users {
            t.row("user", format!("{}  password {}", u.username, u.credential));
        }
        if settings.generated_user {
            t.row(
                "",
                "(made up for this run: no --user or --secret was given)",
            );
        }
        if let Some(c) = &self.shared_secret_credential {
            t.row(
                "shared secret",
                format!(
                    "username <expiry unix time>:<name>, password base64(HMAC-SHA1(secret, username)); e.g.\n\
                     u=\"$(( $(date +%s) + 3600 )):me\"; p=$(printf %s \"$u\" | openssl dgst -binary -sha1 -hmac \"$SECRET\" | base64)\n\
                     valid for 24 h:  username {}  password {}",
                    c.username, c.credential
                ),
            );
        }
        match &self.rfc5780 {
            Some(r) => t.row(
                "RFC 5780",
                format!(
                    "primary {}, alternate {}: try `icectl nat-type --server {}`",
                    r.primary, r.alternate, r.primary
                ),
            ),
            None => t.row(
                "RFC 5780",
                "off (one address): add --alt-ip with a second address of this machine",
            ),
        };
        let peers = if self.allowed_peers.is_empty() {
            "public addresses only (the TURN default); allow more with --allow-peer PREFIX"
                .to_owned()
        } else {
            format!(
                "public addresses, and {} (allowed)",
                self.allowed_peers.join(", ")
            )
        };
        t.row("relay peers", peers);
        let servers: Vec<String> = self
            .ice_servers
            .iter()
            .map(|s| format!("    {},", serde_json::to_string(s).unwrap_or_default()))
            .collect();
        format!(
            "icectl serve: STUN and TURN on UDP and TCP\n{}\nIn a web page:\n  new RTCPeerConnection({{ iceServers: [\n{}\n  ] }})\n\nServing until Ctrl-C.",
            t.render(),
            servers.join("\n")
        )
    }
}

/// The counters printed when the server stops (`--json`: this object).
#[derive(Clone, Copy, Debug, Serialize)]
pub struct Stopped {
    /// Always `"stopped"`.
    pub event: &'static str,
    /// Success responses (Binding included).
    pub successes: u64,
    /// Error responses.
    pub errors: u64,
    /// Packets neither answered nor relayed.
    pub dropped: u64,
    /// Allocations still live.
    pub allocations: usize,
    /// Packets and bytes relayed from clients to peers.
    pub to_peers: (u64, u64),
    /// Packets and bytes relayed from peers to clients.
    pub to_clients: (u64, u64),
    /// Packets dropped by the bandwidth cap.
    pub over_bandwidth: u64,
}

impl Stopped {
    /// From the server's counters.
    pub fn new(s: TurnServerStats) -> Stopped {
        Stopped {
            event: "stopped",
            successes: s.successes,
            errors: s.errors,
            dropped: s.dropped,
            allocations: s.allocations,
            to_peers: s.to_peers,
            to_clients: s.to_clients,
            over_bandwidth: s.over_bandwidth,
        }
    }

    /// The text for people.
    pub fn render(&self) -> String {
        let mut t = Table::new();
        t.row(
            "answered",
            format!("{} successes, {} errors", self.successes, self.errors),
        )
        .row("dropped", self.dropped.to_string())
        .row("allocations live", self.allocations.to_string())
        .row(
            "relayed",
            format!(
                "{} packets ({} bytes) to peers, {} packets ({} bytes) to clients",
                self.to_peers.0, self.to_peers.1, self.to_clients.0, self.to_clients.1
            ),
        )
        .row("over bandwidth", self.over_bandwidth.to_string());
        format!("icectl serve: stopped\n{}", t.render().trim_end())
    }
}
