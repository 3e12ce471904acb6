//! Debian's classic STUN tools, for interop tests: the `stun` client
//! (package `stun-client`) and the `stund` server (package `stun-server`),
//! both the Vovida 0.97 RFC 3489 implementation.
//!
//! # What `stun` does
//!
//! It binds two sockets, port P and P+1 (`-p P`, otherwise random), on
//! every address (or on the one `-i` names), and runs these tests in
//! parallel, each repeated every
//! 150 ms until answered or seven rounds pass without news:
//!
//! | test | socket | to | asks |
//! |------|--------|----|------|
//! | I | P | server | plain Binding request: gives the mapped address and CHANGED-ADDRESS |
//! | I(2) | P | changed IP, *primary* port | plain request: a different mapping means "Dependent Mapping" |
//! | II | P+1 | server | change IP (only): an answer means independent filtering |
//! | III | P+1 | server | change port: an answer means address-dependent filtering |
//! | hairpin | P | its own mapped address | the request looping back means the NAT hairpins |
//!
//! It decides "NAT or not" by trying to bind the mapped address locally.
//! On one line of stdout it prints `Primary: ` and one of `Open`,
//! `Firewall`, `Blocked or could not reach STUN server`,
//! `Independent Mapping, Independent Filter`,
//! `Independent Mapping, Address Dependent Filter`,
//! `Independent Mapping, Port Dependent Filter` or `Dependent Mapping`,
//! the NAT types followed by `, preserves ports` / `, random port` and
//! `, will hairpin` / `, no hairpin`. With `-v` it also logs every message
//! (`MappedAddress = ...`) and the test results (`test I = 1`).
//!
//! Note the differences from our flows: its filtering tests run on a
//! socket of their own, and its mapping test goes to the other IP at the
//! primary port, not to CHANGED-ADDRESS.

use std::collections::BTreeMap;
use std::fmt;
use std::net::{IpAddr, SocketAddr};

use candidate_gather::nat::ClassicNat;

/// The NAT type `stun` prints after `Primary: `.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum StunNatType {
    /// `Open`: no NAT, change-IP answers arrive.
    Open,
    /// `Firewall`: no NAT, change-IP answers do not arrive.
    Firewall,
    /// `Blocked or could not reach STUN server`.
    Blocked,
    /// `Independent Mapping, Independent Filter`.
    IndependentFilter,
    /// `Independent Mapping, Address Dependent Filter`.
    AddressDependentFilter,
    /// `Independent Mapping, Port Dependent Filter`.
    PortDependentFilter,
    /// `Dependent Mapping`.
    DependentMapping,
    /// Anything else (its error messages).
    Other(String),
}

impl StunNatType {
    /// The RFC 3489 name it stands for, as our discovery names it.
    pub fn classic(&self) -> Option<ClassicNat> {
        Some(match self {
            StunNatType::Open => ClassicNat::OpenInternet,
            StunNatType::Firewall => ClassicNat::SymmetricUdpFirewall,
            StunNatType::Blocked => ClassicNat::UdpBlocked,
            StunNatType::IndependentFilter => ClassicNat::FullCone,
            StunNatType::AddressDependentFilter => ClassicNat::RestrictedCone,
            StunNatType::PortDependentFilter => ClassicNat::PortRestrictedCone,
            StunNatType::DependentMapping => ClassicNat::Symmetric,
            StunNatType::Other(_) => return None,
        })
    }

    fn parse(text: &str) -> StunNatType {
        const PHRASES: [(&str, StunNatType); 7] = [
            (
                "Independent Mapping, Independent Filter",
                StunNatType::IndependentFilter,
            ),
            (
                "Independent Mapping, Address Dependent Filter",
                StunNatType::AddressDependentFilter,
            ),
            (
                "Independent Mapping, Port Dependent Filter",
                StunNatType::PortDependentFilter,
            ),
            ("Dependent Mapping", StunNatType::DependentMapping),
            (
                "Blocked or could not reach STUN server",
                StunNatType::Blocked,
            ),
            ("Firewall", StunNatType::Firewall),
            ("Open", StunNatType::Open),
        ];
        PHRASES
            .into_iter()
            .find(|(p, _)| text.starts_with(p))
            .map_or_else(|| StunNatType::Other(text.to_owned()), |(_, t)| t)
    }
}

impl fmt::Display for StunNatType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StunNatType::Open => f.write_str("Open"),
            StunNatType::Firewall => f.write_str("Firewall"),
            StunNatType::Blocked => f.write_str("Blocked or could not reach STUN server"),
            StunNatType::IndependentFilter => {
                f.write_str("Independent Mapping, Independent Filter")
            }
            StunNatType::AddressDependentFilter => {
                f.write_str("Independent Mapping, Address Dependent Filter")
            }
            StunNatType::PortDependentFilter => {
                f.write_str("Independent Mapping, Port Dependent Filter")
            }
            StunNatType::DependentMapping => f.write_str("Dependent Mapping"),
            StunNatType::Other(s) => f.write_str(s),
        }
    }
}

/// What one run of `stun` reported.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StunClientReport {
    /// The NAT type.
    pub nat: StunNatType,
    /// `preserves ports` (true) or `random port` (false); only printed
    /// for NATs.
    pub preserves_ports: Option<bool>,
    /// `will hairpin` or `no hairpin`; only printed for NATs.
    pub hairpin: Option<bool>,
    /// The first mapped address logged (with `-v`): test I's.
    pub mapped: Option<SocketAddr>,
    /// The `test I = 1` lines (with `-v`), by test name.
    pub tests: BTreeMap<String, bool>,
    /// The `Primary:` line.
    pub primary_line: String,
}

/// Parses the output of `stun SERVER -v` (stdout and stderr together);
/// `None` without a `Primary:` line.
pub fn parse_stun_client(output: &str) -> Option<StunClientReport> {
    let line = output
        .lines()
        .find_map(|l| l.trim_start().strip_prefix("Primary:"))?
        .trim();
    let flag = |yes: &str, no: &str| {
        if line.contains(yes) {
            Some(true)
        } else if line.contains(no) {
            Some(false)
        } else {
            None
        }
    };
    let mapped = output.lines().find_map(|l| {
        l.trim()
            .strip_prefix("MappedAddress = ")
            .and_then(|a| a.trim().parse().ok())
    });
    let tests = output
        .lines()
        .filter_map(|l| {
            let (name, value) = l.split_once(" = ")?;
            let name = name.trim();
            if !name.starts_with("test ") {
                return None;
            }
            Some((name.to_owned(), value.trim() == "1"))
        })
        .collect();
    Some(StunClientReport {
        nat: StunNatType::parse(line),
        preserves_ports: flag(", preserves ports", ", random port"),
        hairpin: flag(", will hairpin", ", no hairpin"),
        mapped,
        tests,
        primary_line: format!("Primary: {line}"),
    })
}

/// Arguments for `stun`: the server as `IP:PORT`, verbose, local port
/// `port` (and `port + 1`; give concurrent clients distinct ports, since
/// it binds them without retrying), on `interface` (`-i`) or, without
/// one, on every address.
pub fn stun_client_args(server: SocketAddr, port: u16, interface: Option<IpAddr>) -> Vec<String> {
    let mut args = vec![
        server.to_string(),
        "-v".to_owned(),
        "-p".to_owned(),
        port.to_string(),
    ];
    if let Some(ip) = interface {
        args.extend(["-i".to_owned(), ip.to_string()]);
    }
    args
}

/// Arguments for `stund` serving on `primary` and `alternate` (it binds
/// both ports on both IPs).
pub fn stund_args(primary: SocketAddr, alternate: SocketAddr) -> Vec<String> {
    vec![
        "-h".to_owned(),
        primary.ip().to_string(),
        "-a".to_owned(),
        alternate.ip().to_string(),
        "-p".to_owned(),
        primary.port().to_string(),
        "-o".to_owned(),
        alternate.port().to_string(),
    ]
}

/// The four sockets an RFC 3489 / RFC 5780 server on `primary` and
/// `alternate` binds.
pub fn four_sockets(primary: SocketAddr, alternate: SocketAddr) -> [SocketAddr; 4] {
    [
        primary,
        SocketAddr::new(primary.ip(), alternate.port()),
        SocketAddr::new(alternate.ip(), primary.port()),
        alternate,
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_primary_line_and_the_verbose_log() {
        let out = "STUN client version 0.97\n\
                   MappedAddress = 203.0.113.1:21240\n\
                   XorMappedAddress = 203.0.113.1:21240\n\
                   test I = 1\ntest II = 0\n\
                   Primary: Independent Mapping, Port Dependent Filter, preserves ports, no hairpin\t\n\
                   Return value is 0x000017\n";
        let r = parse_stun_client(out).unwrap();
        assert_eq!(r.nat, StunNatType::PortDependentFilter);
        assert_eq!(r.nat.classic(), Some(ClassicNat::PortRestrictedCone));
        assert_eq!(r.preserves_ports, Some(true));
        assert_eq!(r.hairpin, Some(false));
        assert_eq!(r.mapped, Some("203.0.113.1:21240".parse().unwrap()));
        assert_eq!(r.tests.get("test II"), Some(&false));
        let open = parse_stun_client("Primary: Open\t\n").unwrap();
        assert_eq!((open.nat, open.hairpin), (StunNatType::Open, None));
        let sym = parse_stun_client("Primary: Dependent Mapping, random port, will hairpin\n");
        assert_eq!(sym.unwrap().nat.classic(), Some(ClassicNat::Symmetric));
        assert_eq!(parse_stun_client("usage"), None);
    }
}
