//! STUN and TURN server URLs: RFC 7064 (`stun:`) and RFC 7065 (`turn:`).
//!
//! ```text
//! stun:host[:port]                      RFC 7064 §3.1
//! turn:host[:port][?transport=udp|tcp]  RFC 7065 §3.1
//! ```
//!
//! `host` is an IPv4 address, an IPv6 address in brackets, or a DNS name
//! (RFC 3986 reg-name, here limited to letters, digits, `-`, `.` and `_`);
//! the port defaults to 3478 (RFC 8489 §9). The URIs have no `//`, no
//! user information and no path. `stuns:` and `turns:` are valid URIs but
//! need TLS or DTLS, which this stack does not implement: they are refused
//! with that reason. Names are resolved at the edge, with tokio's
//! `lookup_host` ([`ServerUrl::resolve`]).
//!
//! Commands that take a bare server (`HOST[:PORT]`) parse it as the body of
//! a `stun:` URL ([`ServerUrl::parse_server`]).

use std::fmt;
use std::net::{IpAddr, Ipv6Addr, SocketAddr};

use crate::error::CliError;

/// The default STUN and TURN port over UDP and TCP (RFC 8489 §9, RFC 8656
/// §3).
pub const DEFAULT_PORT: u16 = 3478;

/// Which protocol a URL names.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Scheme {
    /// `stun:`: Binding requests only.
    Stun,
    /// `turn:`: relayed candidates (RFC 8656).
    Turn,
}

/// The `transport` parameter of a `turn:` URL (RFC 7065 §3.1).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum UrlTransport {
    /// `?transport=udp`.
    Udp,
    /// `?transport=tcp`.
    Tcp,
}

/// Where the server is: an address, or a name to resolve.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Host {
    /// An IPv4 or IPv6 address.
    Ip(IpAddr),
    /// A DNS name.
    Name(String),
}

/// A parsed `stun:` or `turn:` URL.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ServerUrl {
    /// The scheme.
    pub scheme: Scheme,
    /// The host.
    pub host: Host,
    /// The port ([`DEFAULT_PORT`] when the URL has none).
    pub port: u16,
    /// The transport of a `turn:` URL, if it names one (RFC 7065: UDP when
    /// absent).
    pub transport: Option<UrlTransport>,
}

/// Examples of right URLs, for error messages.
const EXAMPLES: &str = "a URL like `stun:stun.example.org:3478`, `stun:192.0.2.1`, `stun:[2001:db8::1]:3478` or `turn:192.0.2.1:3478?transport=tcp`";

impl ServerUrl {
    /// Parses a `stun:` or `turn:` URL.
    pub fn parse(input: &str) -> Result<ServerUrl, CliError> {
        let bad = |why: String| {
            CliError::usage(
                format!("bad server URL `{input}`"),
                why,
                format!("give {EXAMPLES}"),
            )
        };
        let Some((scheme, rest)) = input.split_once(':') else {
            return Err(bad("it has no scheme (`stun:` or `turn:`)".into()));
        };
        let scheme = match scheme.to_ascii_lowercase().as_str() {
            "stun" => Scheme::Stun,
            "turn" => Scheme::Turn,
            secure @ ("stuns" | "turns") => {
                let plain = if secure == "stuns" { "stun" } else { "turn" };
                return Err(CliError::usage(
                    format!("cannot use server URL `{input}`"),
                    format!(
                        "`{secure}:` needs TLS or DTLS, and TLS is not supported by this stack"
                    ),
                    format!(
                        "use the server's plain port instead, e.g. `{plain}:{}`",
                        rest.split('?').next().unwrap_or(rest)
                    ),
                ));
            }
            other => {
                return Err(bad(format!(
                    "the scheme `{other}:` is neither `stun:` nor `turn:`"
                )));
            }
        };
        let (authority, query) = match rest.split_once('?') {
            Some((a, q)) => (a, Some(q)),
            None => (rest, None),
        };
        if authority.starts_with("//") {
            return Err(bad(
                "STUN and TURN URLs have no `//` after the scheme (RFC 7064, RFC 7065)".into(),
            ));
        }
        let transport = match (scheme, query) {
            (_, None) => None,
            (Scheme::Stun, Some(_)) => {
                return Err(bad(
                    "a `stun:` URL takes no `?` parameters (only `turn:` has `?transport=`)".into(),
                ));
            }
            (Scheme::Turn, Some(q)) => Some(parse_transport(q).map_err(bad)?),
        };
        let (host, port) = parse_host_port(authority).map_err(bad)?;
        Ok(ServerUrl {
            scheme,
            host,
            port,
            transport,
        })
    }

    /// Parses a server given as `HOST[:PORT]` or as a `stun:` URL.
    pub fn parse_server(input: &str) -> Result<ServerUrl, CliError> {
        let lower = input.to_ascii_lowercase();
        let has_scheme = ["stun:", "stuns:", "turn:", "turns:"]
            .iter()
            .any(|s| lower.starts_with(s));
        if has_scheme {
            return ServerUrl::parse(input);
        }
        let (host, port) = parse_host_port(input).map_err(|why| {
            CliError::usage(
                format!("bad server `{input}`"),
                why,
                "give HOST[:PORT], e.g. `stun.example.org`, `192.0.2.1:3478` or `[2001:db8::1]:3478`, or a stun: URL",
            )
        })?;
        Ok(ServerUrl {
            scheme: Scheme::Stun,
            host,
            port,
            transport: None,
        })
    }

    /// The socket address: the IP itself, or the first address the name
    /// resolves to (IPv4 first, since the NAT questions are mostly IPv4
    /// ones).
    pub async fn resolve(&self) -> Result<SocketAddr, CliError> {
        let name = match &self.host {
            Host::Ip(ip) => return Ok(SocketAddr::new(*ip, self.port)),
            Host::Name(name) => name,
        };
        let failed = |why: String| {
            CliError::new(
                format!("cannot resolve the server name `{name}`"),
                why,
                "check the spelling and your DNS, or give the server's IP address",
            )
        };
        let addrs: Vec<SocketAddr> = tokio::net::lookup_host((name.as_str(), self.port))
            .await
            .map_err(|e| failed(e.to_string()))?
            .collect();
        addrs
            .iter()
            .find(|a| a.is_ipv4())
            .or(addrs.first())
            .copied()
            .ok_or_else(|| failed("the name has no address".into()))
    }
}

impl fmt::Display for Host {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Host::Ip(IpAddr::V6(v6)) => write!(f, "[{v6}]"),
            Host::Ip(IpAddr::V4(v4)) => write!(f, "{v4}"),
            Host::Name(n) => f.write_str(n),
        }
    }
}

impl fmt::Display for ServerUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let scheme = match self.scheme {
            Scheme::Stun => "stun",
            Scheme::Turn => "turn",
        };
        write!(f, "{scheme}:{}:{}", self.host, self.port)?;
        match self.transport {
            Some(UrlTransport::Udp) => f.write_str("?transport=udp"),
            Some(UrlTransport::Tcp) => f.write_str("?transport=tcp"),
            None => Ok(()),
        }
    }
}

/// The URL of a server at `addr` (`stun:IP:PORT`, IPv6 in brackets).
pub fn url_for(scheme: Scheme, addr: SocketAddr, transport: Option<UrlTransport>) -> String {
    ServerUrl {
        scheme,
        host: Host::Ip(addr.ip()),
        port: addr.port(),
        transport,
    }
    .to_string()
}

fn parse_transport(query: &str) -> Result<UrlTransport, String> {
    let Some(value) = query.strip_prefix("transport=") else {
        return Err(format!(
            "the only parameter a `turn:` URL takes is `transport=udp` or `transport=tcp`, not `{query}`"
        ));
    };
    match value.to_ascii_lowercase().as_str() {
        "udp" => Ok(UrlTransport::Udp),
        "tcp" => Ok(UrlTransport::Tcp),
        other => Err(format!(
            "the transport `{other}` is not supported (only `udp` and `tcp`)"
        )),
    }
}

fn parse_host_port(authority: &str) -> Result<(Host, u16), String> {
    if authority.is_empty() {
        return Err("the host is missing".into());
    }
    if authority.contains('@') {
        return Err(
            "STUN and TURN URLs carry no user name (`user@`); give credentials with --user".into(),
        );
    }
    if authority.contains('/') {
        return Err("STUN and TURN URLs have no path (`/`)".into());
    }
    let (host, port) = if let Some(rest) = authority.strip_prefix('[') {
        let Some((v6, after)) = rest.split_once(']') else {
            return Err("the IPv6 address has no closing `]`".into());
        };
        let ip: Ipv6Addr = v6
            .parse()
            .map_err(|_| format!("`{v6}` is not an IPv6 address"))?;
        let port = match after {
            "" => None,
            p => Some(
                p.strip_prefix(':')
                    .ok_or_else(|| format!("unexpected `{p}` after the IPv6 address"))?,
            ),
        };
        (Host::Ip(IpAddr::V6(ip)), port)
    } else {
        if authority.matches(':').count() > 1 {
            return Err("an IPv6 address must be in brackets, e.g. `[2001:db8::1]:3478`".into());
        }
        let (host, port) = match authority.split_once(':') {
            Some((h, p)) => (h, Some(p)),
            None => (authority, None),
        };
        (parse_host(host)?, port)
    };
    let port = match port {
        None => DEFAULT_PORT,
        Some(p) => match p.parse::<u16>() {
            Ok(0) => return Err("port 0 cannot be a server's port".into()),
            Ok(n) if p.chars().all(|c| c.is_ascii_digit()) => n,
            _ => return Err(format!("`{p}` is not a port (1-65535)")),
        },
    };
    Ok((host, port))
}

fn parse_host(host: &str) -> Result<Host, String> {
    if host.is_empty() {
        return Err("the host is missing".into());
    }
    if let Ok(ip) = host.parse::<IpAddr>() {
        return Ok(Host::Ip(ip));
    }
    let dotted_digits = host.chars().all(|c| c.is_ascii_digit() || c == '.');
    if dotted_digits {
        return Err(format!("`{host}` is not an IPv4 address"));
    }
    if host.len() > 253 {
        return Err("the host name is longer than 253 characters".into());
    }
    if let Some(c) = host
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '-' | '.' | '_')))
    {
        return Err(format!(
            "the host name `{host}` contains `{c}`; names have letters, digits, `-` and `.`"
        ));
    }
    Ok(Host::Name(host.to_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(s: &str) -> ServerUrl {
        ServerUrl::parse(s).unwrap_or_else(|e| panic!("{s}: {e}"))
    }

    fn why(s: &str) -> String {
        ServerUrl::parse(s).unwrap_err().why
    }

    #[test]
    fn rfc7064_stun_urls() {
        let u = ok("stun:stun.example.org");
        assert_eq!(u.scheme, Scheme::Stun);
        assert_eq!(u.host, Host::Name("stun.example.org".into()));
        assert_eq!(u.port, DEFAULT_PORT);
        assert_eq!(u.transport, None);
        let u = ok("stun:192.0.2.1:19302");
        assert_eq!(u.host, Host::Ip("192.0.2.1".parse().unwrap()));
        assert_eq!(u.port, 19302);
        let u = ok("STUN:[2001:db8::1]:3479");
        assert_eq!(u.host, Host::Ip("2001:db8::1".parse().unwrap()));
        assert_eq!(u.port, 3479);
        assert_eq!(ok("stun:[::1]").port, DEFAULT_PORT);
        assert_eq!(u.to_string(), "stun:[2001:db8::1]:3479");
    }

    #[test]
    fn rfc7065_turn_urls() {
        let u = ok("turn:192.0.2.1?transport=tcp");
        assert_eq!(u.scheme, Scheme::Turn);
        assert_eq!(u.port, DEFAULT_PORT);
        assert_eq!(u.transport, Some(UrlTransport::Tcp));
        assert_eq!(
            ok("turn:h:5000?transport=UDP").transport,
            Some(UrlTransport::Udp)
        );
        assert_eq!(ok("turn:h").transport, None);
        assert_eq!(
            ok("turn:relay.example.org:3478?transport=udp").to_string(),
            "turn:relay.example.org:3478?transport=udp"
        );
    }

    #[test]
    fn tls_schemes_are_refused_with_the_reason() {
        for s in ["stuns:example.org", "turns:example.org:5349?transport=tcp"] {
            let e = ServerUrl::parse(s).unwrap_err();
            assert!(e.why.contains("TLS is not supported"), "{s}: {e}");
            assert!(e.what.contains(s), "{e}");
        }
        assert!(
            ServerUrl::parse("turns:h:5349?transport=tcp")
                .unwrap_err()
                .hint
                .contains("`turn:h:5349`")
        );
    }

    #[test]
    fn bad_urls_say_what_is_wrong_and_show_a_right_one() {
        for (url, needle) in [
            ("example.org", "no scheme"),
            ("http://example.org", "neither"),
            ("stun://example.org", "no `//`"),
            ("stun:", "host is missing"),
            ("stun::3478", "host is missing"),
            ("stun:host:0", "port 0"),
            ("stun:host:65536", "not a port"),
            ("stun:host:+80", "not a port"),
            ("stun:host:abc", "not a port"),
            ("stun:2001:db8::1", "in brackets"),
            ("stun:[2001:db8::1", "closing"),
            ("stun:[nope]:1", "not an IPv6"),
            ("stun:[::1]x", "unexpected"),
            ("stun:300.1.1.1", "not an IPv4"),
            ("stun:user@host", "user name"),
            ("stun:host/path", "no path"),
            ("stun:ho st", "contains ` `"),
            ("stun:host?transport=udp", "no `?`"),
            ("turn:host?transport=sctp", "`sctp` is not supported"),
            ("turn:host?foo=bar", "only parameter"),
        ] {
            let e = ServerUrl::parse(url).unwrap_err();
            assert!(e.why.contains(needle), "{url}: {e}");
            assert!(e.what.contains(url), "{url}: {e}");
            assert!(e.hint.contains("stun:stun.example.org:3478"), "{url}: {e}");
            assert_eq!(e.code, crate::error::EXIT_USAGE);
        }
        assert!(why(&format!("stun:{}", "a".repeat(254))).contains("253"));
    }

    #[test]
    fn bare_servers() {
        let u = ServerUrl::parse_server("192.0.2.1").unwrap();
        assert_eq!((u.scheme, u.port), (Scheme::Stun, DEFAULT_PORT));
        assert_eq!(ServerUrl::parse_server("h:1").unwrap().port, 1);
        assert_eq!(ServerUrl::parse_server("[::1]:9").unwrap().port, 9);
        assert_eq!(ServerUrl::parse_server("stun:h:7").unwrap().port, 7);
        let e = ServerUrl::parse_server("h:x").unwrap_err();
        assert!(
            e.what.contains("`h:x`") && e.hint.contains("HOST[:PORT]"),
            "{e}"
        );
        assert!(
            ServerUrl::parse_server("stuns:h")
                .unwrap_err()
                .why
                .contains("TLS")
        );
    }

    #[test]
    fn url_for_brackets_ipv6() {
        let a: SocketAddr = "[::1]:3478".parse().unwrap();
        assert_eq!(
            url_for(Scheme::Turn, a, Some(UrlTransport::Tcp)),
            "turn:[::1]:3478?transport=tcp"
        );
    }

    #[tokio::test]
    async fn resolves_ips_and_names() {
        let u = ServerUrl::parse("stun:127.0.0.1:5").unwrap();
        assert_eq!(u.resolve().await.unwrap(), "127.0.0.1:5".parse().unwrap());
        let u = ServerUrl::parse("stun:localhost:6").unwrap();
        let a = u.resolve().await.unwrap();
        assert!(a.ip().is_loopback() && a.port() == 6, "{a}");
        let u = ServerUrl::parse("stun:no-such-host.invalid").unwrap();
        let e = u.resolve().await.unwrap_err();
        assert!(e.what.contains("no-such-host.invalid"), "{e}");
    }
}
