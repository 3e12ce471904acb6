//! What `icectl serve` runs with: the flags over the TOML file over the
//! defaults, checked, and turned into a [`TurnServerConfig`].
//!
//! Choices for a developer on their own machine:
//! - **Listen on 127.0.0.1:3478 by default.** A relay is an open door to
//!   whatever the server can reach; on loopback only this machine can use
//!   it, which is what a browser tab or a test on the same machine needs.
//!   Serving a network is one flag away (`--listen 192.168.1.10:3478`).
//! - **Loopback peers allowed when listening on loopback.** The TURN
//!   server refuses loopback, private and link-local peers by default
//!   (the CVE-2020-26262 class: a relay must not hand remote clients the
//!   server's own services). When the listener is loopback every client
//!   is already on this machine and can reach its loopback anyway, and a
//!   local test relays between loopback addresses, so 127.0.0.0/8 and ::1
//!   are allowed. Anything else takes `--allow-peer PREFIX`.
//! - **A user even when none is given.** TURN needs credentials; without
//!   `--user` or `--secret` the server makes user `icectl` with a random
//!   password and prints both.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::path::Path;

use serde::Deserialize;
use turn_server::front::random_seed;
use turn_server::turn::{Prefix, TurnConfigError, TurnServerConfig};

use super::ServeArgs;
use crate::error::CliError;

/// The default listener: loopback only (see the module documentation).
pub const DEFAULT_LISTEN: SocketAddr = SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), 3478);
/// The default realm.
pub const DEFAULT_REALM: &str = "icectl";
/// The user made when no credentials are given.
pub const DEFAULT_USER: &str = "icectl";

/// The `--config` file: the flags' names as keys.
///
/// ```toml
/// listen = "127.0.0.1:3478"
/// alt-ip = "127.0.0.2"
/// user = ["alice:secret"]
/// realm = "example.org"
/// allow-peer = ["192.168.0.0/16"]
/// ```
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct FileConfig {
    /// `--listen`.
    pub listen: Option<SocketAddr>,
    /// `--alt-ip`.
    pub alt_ip: Option<IpAddr>,
    /// `--alt-port`.
    pub alt_port: Option<u16>,
    /// `--relay-ip`.
    pub relay_ip: Option<IpAddr>,
    /// `--user`, as `NAME:PASS` strings.
    pub user: Option<Vec<String>>,
    /// `--secret`.
    pub secret: Option<String>,
    /// `--realm`.
    pub realm: Option<String>,
    /// `--allow-peer`.
    pub allow_peer: Option<Vec<String>>,
}

/// Everything resolved.
#[derive(Clone, Debug)]
pub struct Settings {
    /// The listener (port 0: the system picks).
    pub listen: SocketAddr,
    /// The RFC 5780 alternate IP and port (`None`: listen port + 1).
    pub alt: Option<(IpAddr, Option<u16>)>,
    /// The relay IP, if not the listener's.
    pub relay_ip: Option<IpAddr>,
    /// Long-term credential users.
    pub users: Vec<(String, String)>,
    /// Whether the only user was made up here (and its password must be
    /// shown).
    pub generated_user: bool,
    /// The shared secret (coturn's `use-auth-secret`).
    pub secret: Option<String>,
    /// The realm.
    pub realm: String,
    /// Peer prefixes allowed beyond the default policy, as given.
    pub allow_peers: Vec<(Prefix, String)>,
}

impl Settings {
    /// Flags over the file over the defaults. Lists given as flags replace
    /// the file's lists.
    pub fn resolve(args: &ServeArgs) -> Result<Settings, CliError> {
        let file = match &args.config {
            Some(path) => read_file(path)?,
            None => FileConfig::default(),
        };
        let listen = args.listen.or(file.listen).unwrap_or(DEFAULT_LISTEN);
        let alt_ip = args.alt_ip.or(file.alt_ip);
        let alt_port = args.alt_port.or(file.alt_port);
        if alt_port.is_some() && alt_ip.is_none() {
            return Err(CliError::usage(
                "--alt-port given without --alt-ip",
                "the alternate port belongs to the RFC 5780 alternate address",
                "add --alt-ip with a second IP address of this machine, e.g. --alt-ip 127.0.0.2",
            ));
        }
        let user_strings = if args.user.is_empty() {
            file.user.unwrap_or_default()
        } else {
            args.user.clone()
        };
        let mut users = user_strings
            .iter()
            .map(|u| parse_user(u))
            .collect::<Result<Vec<_>, _>>()?;
        let secret = args.secret.clone().or(file.secret);
        let generated_user = users.is_empty() && secret.is_none();
        if generated_user {
            users.push((DEFAULT_USER.to_owned(), random_password()));
        }
        let peer_strings = if args.allow_peer.is_empty() {
            file.allow_peer.unwrap_or_default()
        } else {
            args.allow_peer.clone()
        };
        let allow_peers = peer_strings
            .iter()
            .map(|p| parse_prefix(p).map(|prefix| (prefix, p.clone())))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Settings {
            listen,
            alt: alt_ip.map(|ip| (ip, alt_port)),
            relay_ip: args.relay_ip.or(file.relay_ip),
            users,
            generated_user,
            secret,
            realm: args
                .realm
                .clone()
                .or(file.realm)
                .unwrap_or_else(|| DEFAULT_REALM.to_owned()),
            allow_peers,
        })
    }

    /// The peer prefixes allowed: the loopback ones when listening on
    /// loopback (see the module documentation), then `--allow-peer`.
    pub fn allowed_peers(&self) -> Vec<(Prefix, String)> {
        let mut all = Vec::new();
        if self.listen.ip().is_loopback() {
            let v4 = Prefix::new(IpAddr::V4(Ipv4Addr::new(127, 0, 0, 0)), 8);
            all.extend(v4.map(|p| (p, "127.0.0.0/8".to_owned())));
            all.push((
                Prefix::host(IpAddr::V6(Ipv6Addr::LOCALHOST)),
                "::1".to_owned(),
            ));
        }
        all.extend(self.allow_peers.iter().cloned());
        all
    }

    /// The server's configuration, for a listener on `listen` (the port
    /// chosen) with the alternate on `alt` if any.
    pub fn turn_config(
        &self,
        listen: SocketAddr,
        alt: Option<SocketAddr>,
    ) -> Result<TurnServerConfig, CliError> {
        let mut c = TurnServerConfig::new(listen, &self.realm).map_err(config_error)?;
        match (self.relay_ip, listen.ip().is_unspecified()) {
            (Some(ip), _) => c = c.with_relay_ip(ip).map_err(config_error)?,
            (None, true) => return Err(wildcard_needs_relay_ip(listen)),
            (None, false) => {}
        }
        for (name, pass) in &self.users {
            c = c.with_user(name, pass).map_err(config_error)?;
        }
        if let Some(secret) = &self.secret {
            c = c.with_shared_secret(secret.as_bytes());
        }
        if let Some(alt) = alt {
            c = c
                .with_stun_alternate(alt.ip(), alt.port())
                .map_err(config_error)?;
        }
        for (prefix, _) in self.allowed_peers() {
            c = c.allow_peers(prefix);
        }
        Ok(c.with_seed(random_seed()))
    }
}

fn read_file(path: &Path) -> Result<FileConfig, CliError> {
    let text = std::fs::read_to_string(path).map_err(|e| {
        CliError::usage(
            format!("cannot read the config file {}", path.display()),
            e.to_string(),
            "check the path given with --config",
        )
    })?;
    toml::from_str(&text).map_err(|e| {
        CliError::usage(
            format!("bad config file {}", path.display()),
            e.to_string().trim().replace('\n', "\n       "),
            "keys are the flags' names: listen, alt-ip, alt-port, relay-ip, user = [\"NAME:PASS\"], secret, realm, allow-peer = [\"PREFIX\"]",
        )
    })
}

/// Parses `NAME:PASS`.
pub fn parse_user(s: &str) -> Result<(String, String), CliError> {
    match s.split_once(':') {
        Some((name, pass)) if !name.is_empty() && !pass.is_empty() => {
            Ok((name.to_owned(), pass.to_owned()))
        }
        _ => Err(CliError::usage(
            format!("bad user `{s}`"),
            "a user is a name and a password separated by `:`, both non-empty",
            "give --user alice:secret",
        )),
    }
}

/// Parses `IP/LEN` or a single `IP`.
pub fn parse_prefix(s: &str) -> Result<Prefix, CliError> {
    let bad = |why: &str| {
        CliError::usage(
            format!("bad peer prefix `{s}`"),
            why.to_owned(),
            "give an address or a prefix, e.g. --allow-peer 192.168.0.0/16 or --allow-peer 10.0.0.5",
        )
    };
    let (ip, len) = match s.split_once('/') {
        Some((ip, len)) => (ip, Some(len)),
        None => (s, None),
    };
    let ip: IpAddr = ip
        .parse()
        .map_err(|_| bad("it does not start with an IP address"))?;
    match len {
        None => Ok(Prefix::host(ip)),
        Some(len) => {
            let len: u8 = len
                .parse()
                .map_err(|_| bad("the length after `/` is not a number"))?;
            Prefix::new(ip, len)
                .ok_or_else(|| bad("the length is longer than the address (32 or 128)"))
        }
    }
}

/// 20 random letters and digits (about 119 bits), from the process's
/// random state.
fn random_password() -> String {
    const CHARS: &[u8] = b"abcdefghijkmnopqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789";
    let mut out = String::new();
    let mut bits = random_seed();
    let mut left = 10;
    let base = CHARS.len() as u64;
    while out.len() < 20 {
        if left == 0 {
            bits = random_seed();
            left = 10;
        }
        let i = usize::try_from(bits % base).unwrap_or(0);
        out.push(char::from(CHARS.get(i).copied().unwrap_or(b'x')));
        bits /= base;
        left -= 1;
    }
    out
}

fn wildcard_needs_relay_ip(listen: SocketAddr) -> CliError {
    let mine: Vec<String> = if_addrs::get_if_addrs()
        .unwrap_or_default()
        .into_iter()
        .filter(|i| !i.is_loopback() && i.ip().is_ipv4() == listen.is_ipv4())
        .map(|i| i.ip().to_string())
        .collect();
    let example = mine
        .first()
        .cloned()
        .unwrap_or_else(|| "192.168.1.10".into());
    CliError::usage(
        format!("cannot relay from the wildcard address {listen}"),
        "relayed addresses are handed to peers, so they need a real IP of this machine",
        format!(
            "listen on one address (--listen {example}:{}) or add --relay-ip {example}{}",
            listen.port(),
            if mine.is_empty() {
                String::new()
            } else {
                format!(" (this machine has {})", mine.join(", "))
            }
        ),
    )
}

fn config_error(e: TurnConfigError) -> CliError {
    let hint = match &e {
        TurnConfigError::Realm => "give a realm of plain printable characters, e.g. --realm example.org".to_owned(),
        TurnConfigError::User { .. } => "use printable characters without spaces at either end in --user NAME:PASS".to_owned(),
        TurnConfigError::RelayIp { .. } => "give a unicast address of this machine with --relay-ip".to_owned(),
        TurnConfigError::Stun(_) => "give --alt-ip a second address of this machine, of the listener's family and other than it (e.g. 127.0.0.2 beside 127.0.0.1), and --alt-port a port other than the listener's".to_owned(),
        _ => "check the flags and the config file".to_owned(),
    };
    CliError::usage("the server configuration is refused", e.to_string(), hint)
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Parser)]
    struct Wrap {
        #[command(flatten)]
        args: ServeArgs,
    }

    fn args(extra: &[&str]) -> ServeArgs {
        let mut all = vec!["serve"];
        all.extend_from_slice(extra);
        Wrap::try_parse_from(all).unwrap().args
    }

    #[test]
    fn defaults_make_a_loopback_server_with_a_user() {
        let s = Settings::resolve(&args(&[])).unwrap();
        assert_eq!(s.listen, DEFAULT_LISTEN);
        assert!(s.generated_user);
        assert_eq!(s.users.len(), 1);
        assert_eq!(s.users[0].0, DEFAULT_USER);
        assert_eq!(s.users[0].1.len(), 20);
        assert_eq!(s.allowed_peers().len(), 2);
        assert!(s.turn_config(s.listen, None).is_ok());
        let other = Settings::resolve(&args(&[])).unwrap();
        assert_ne!(s.users[0].1, other.users[0].1, "passwords are random");
    }

    #[test]
    fn flags_override_the_file() {
        let dir = std::env::temp_dir().join(format!("icectl-settings-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("serve.toml");
        std::fs::write(
            &path,
            "listen = \"127.0.0.1:4000\"\nrealm = \"file\"\nuser = [\"a:b\"]\nallow-peer = [\"10.0.0.0/8\"]\nalt-ip = \"127.0.0.2\"\n",
        )
        .unwrap();
        let p = path.to_str().unwrap();
        let s = Settings::resolve(&args(&["--config", p])).unwrap();
        assert_eq!(s.listen.port(), 4000);
        assert_eq!(s.realm, "file");
        assert_eq!(s.users, vec![("a".into(), "b".into())]);
        assert!(!s.generated_user);
        assert_eq!(s.alt, Some(("127.0.0.2".parse().unwrap(), None)));
        let s = Settings::resolve(&args(&[
            "--config",
            p,
            "--realm",
            "flag",
            "--user",
            "c:d",
            "--listen",
            "127.0.0.1:5000",
        ]))
        .unwrap();
        assert_eq!((s.realm.as_str(), s.listen.port()), ("flag", 5000));
        assert_eq!(s.users, vec![("c".into(), "d".into())]);
        assert_eq!(s.allow_peers.len(), 1);

        std::fs::write(&path, "listen = \"127.0.0.1:4000\"\nport = 5\n").unwrap();
        let e = Settings::resolve(&args(&["--config", p])).unwrap_err();
        assert!(
            e.what.contains("bad config file") && e.why.contains("port"),
            "{e}"
        );
        let e = Settings::resolve(&args(&["--config", "/no/such/file.toml"])).unwrap_err();
        assert!(e.what.contains("/no/such/file.toml"), "{e}");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn bad_users_prefixes_and_wildcards_are_explained() {
        for bad in ["alice", ":x", "alice:"] {
            let e = parse_user(bad).unwrap_err();
            assert!(e.hint.contains("alice:secret"), "{e}");
        }
        assert_eq!(parse_user("a:b:c").unwrap(), ("a".into(), "b:c".into()));
        assert!(parse_prefix("10.0.0.0/8").is_ok());
        assert!(parse_prefix("::1").is_ok());
        for bad in ["10.0.0.0/33", "x/8", "10.0.0.0/x"] {
            assert!(
                parse_prefix(bad).unwrap_err().hint.contains("--allow-peer"),
                "{bad}"
            );
        }
        let s = Settings::resolve(&args(&["--listen", "0.0.0.0:3478"])).unwrap();
        let e = s.turn_config(s.listen, None).unwrap_err();
        assert!(e.hint.contains("--relay-ip"), "{e}");
        assert!(s.allowed_peers().is_empty());
        let e = Settings::resolve(&args(&["--alt-port", "5"])).unwrap_err();
        assert!(e.what.contains("--alt-ip"), "{e}");
        let s = Settings::resolve(&args(&[])).unwrap();
        let alt = SocketAddr::new(s.listen.ip(), 3479);
        let e = s.turn_config(s.listen, Some(alt)).unwrap_err();
        assert!(e.hint.contains("--alt-ip"), "{e}");
    }
}
