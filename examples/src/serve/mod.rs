//! `icectl serve`: our STUN/TURN server (`turn_server::front`) on real
//! sockets, for browsers, clients and `icectl nat-type` to use.
//!
//! - [`settings`]: flags, the config file, defaults and their reasons;
//! - [`announce`]: the URLs printed at start, the counters at the end.
//!
//! With `--alt-ip` the server answers RFC 5780 NAT behaviour discovery:
//! the front binds the four sockets A1:P1, A1:P2, A2:P1 and A2:P2 (P2 is
//! `--alt-port`, by default the listen port + 1). With port 0 and
//! `--alt-ip` the two ports are picked here, free on both addresses.

pub mod announce;
pub mod settings;

use std::io;
use std::net::{IpAddr, SocketAddr, TcpListener, UdpSocket};
use std::path::PathBuf;

use clap::Args;
use turn_server::front::{FrontError, TurnFront};

use crate::error::CliError;
use crate::output::{print_json, print_line};
use announce::{Announcement, Stopped};
use settings::Settings;

/// `icectl serve`: run a STUN/TURN server.
#[derive(Args, Debug, Clone, Default)]
pub struct ServeArgs {
    /// Where to listen (UDP and TCP). Default 127.0.0.1:3478: only this
    /// machine can use the relay; give an address of a network interface
    /// to serve others. Port 0 picks a free port.
    #[arg(long, value_name = "IP:PORT")]
    pub listen: Option<SocketAddr>,
    /// A second IP address of this machine: answers RFC 5780 NAT behaviour
    /// discovery (`icectl nat-type`) from two addresses and two ports.
    #[arg(long, value_name = "IP")]
    pub alt_ip: Option<IpAddr>,
    /// The second port for RFC 5780 (default: the listen port + 1).
    #[arg(long, value_name = "PORT")]
    pub alt_port: Option<u16>,
    /// The IP relayed addresses are on (default: the listen IP; needed when
    /// listening on 0.0.0.0).
    #[arg(long, value_name = "IP")]
    pub relay_ip: Option<IpAddr>,
    /// A TURN user, NAME:PASS (repeatable). Without --user and --secret a
    /// user `icectl` with a random password is made and printed.
    #[arg(long, value_name = "NAME:PASS")]
    pub user: Vec<String>,
    /// A shared secret for time-limited credentials (coturn's
    /// use-auth-secret): username `<expiry>:<name>`, password
    /// base64(HMAC-SHA1(secret, username)).
    #[arg(long, value_name = "SECRET")]
    pub secret: Option<String>,
    /// The realm (default `icectl`).
    #[arg(long, value_name = "REALM")]
    pub realm: Option<String>,
    /// A TOML file with the same keys as the flags (listen, alt-ip,
    /// alt-port, relay-ip, user, secret, realm, allow-peer); flags win.
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Let the relay reach peers in this prefix, which the default policy
    /// refuses (loopback, private, link-local), e.g. 192.168.0.0/16
    /// (repeatable).
    #[arg(long, value_name = "PREFIX")]
    pub allow_peer: Vec<String>,
    /// Print the URLs as one JSON object, and the counters as another
    /// when stopping.
    #[arg(long)]
    pub json: bool,
}

/// How often a start with picked ports is retried when another process
/// takes one of them in between.
const PICK_ATTEMPTS: usize = 8;

/// Runs the server until Ctrl-C or SIGTERM.
pub async fn run(args: ServeArgs) -> Result<(), CliError> {
    let settings = Settings::resolve(&args)?;
    let (front, primary, alternate) = start(&settings).await?;
    let announcement = Announcement::new(
        &settings,
        primary,
        alternate,
        front.udp_addresses().to_vec(),
        front.tcp_addresses().to_vec(),
        unix_now(),
    );
    if args.json {
        print_json(&announcement)?;
    } else {
        print_line(&announcement.render(&settings));
    }
    let waited = crate::shutdown::ctrl_c().await;
    let stopped = Stopped::new(front.shutdown().await);
    if args.json {
        print_json(&stopped)?;
    } else {
        print_line(&stopped.render());
    }
    waited
}

/// Starts the front; returns it, the primary address and the alternate.
async fn start(
    settings: &Settings,
) -> Result<(TurnFront, SocketAddr, Option<SocketAddr>), CliError> {
    let listen = settings.listen;
    let pick = settings.alt.is_some() && listen.port() == 0;
    let mut attempt = 0;
    loop {
        attempt += 1;
        let (primary, alternate) = match settings.alt {
            None => (listen, None),
            Some((ip, port)) if !pick => {
                let port = port.unwrap_or_else(|| listen.port().wrapping_add(1));
                (listen, Some(SocketAddr::new(ip, port)))
            }
            Some((ip, _)) => {
                let (p1, p2) = pick_ports(listen.ip(), ip)
                    .map_err(|e| CliError::bind(SocketAddr::new(ip, 0), "--alt-ip", &e))?;
                (
                    SocketAddr::new(listen.ip(), p1),
                    Some(SocketAddr::new(ip, p2)),
                )
            }
        };
        let config = settings.turn_config(primary, alternate)?;
        match TurnFront::start(config).await {
            Ok(front) => {
                let primary = front.tcp_addresses().first().copied().unwrap_or(primary);
                return Ok((front, primary, alternate));
            }
            Err(FrontError::Io(e))
                if pick && e.kind() == io::ErrorKind::AddrInUse && attempt < PICK_ATTEMPTS => {}
            Err(FrontError::Io(e)) => {
                let (addr, flag) = match alternate {
                    Some(alt) if e.kind() == io::ErrorKind::AddrNotAvailable => (alt, "--alt-ip"),
                    _ => (primary, "--listen"),
                };
                return Err(CliError::bind(addr, flag, &e));
            }
            Err(e) => {
                return Err(CliError::usage(
                    "the server configuration is refused",
                    e.to_string(),
                    "check the flags and the config file",
                ));
            }
        }
    }
}

/// Two ports P1 ≠ P2 such that UDP A1:P1, TCP A1:P1, UDP A1:P2, UDP A2:P1
/// and UDP A2:P2 are all free now.
fn pick_ports(a1: IpAddr, a2: IpAddr) -> io::Result<(u16, u16)> {
    let mut last = None;
    for _ in 0..64 {
        let s1 = UdpSocket::bind(SocketAddr::new(a1, 0))?;
        let p1 = s1.local_addr()?.port();
        let s2 = UdpSocket::bind(SocketAddr::new(a2, 0))?;
        let p2 = s2.local_addr()?.port();
        if p1 == p2 {
            continue;
        }
        let rest = (
            TcpListener::bind(SocketAddr::new(a1, p1)),
            UdpSocket::bind(SocketAddr::new(a1, p2)),
            UdpSocket::bind(SocketAddr::new(a2, p1)),
        );
        match rest {
            (Ok(_), Ok(_), Ok(_)) => return Ok((p1, p2)),
            (Err(e), _, _) | (_, Err(e), _) | (_, _, Err(e)) => last = Some(e),
        }
    }
    Err(last.unwrap_or_else(|| io::Error::from(io::ErrorKind::AddrInUse)))
}

/// Seconds since the Unix epoch, for the shared-secret credential shown.
fn unix_now() -> u64 {
    // The command line is an edge: it may read the wall clock (the sans-IO
    // crates take time as a parameter; DESIGN.md principle 1).
    #[allow(clippy::disallowed_methods)]
    let now = std::time::SystemTime::now();
    now.duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}
