//! The NAT's own account of its mappings: the UDP entries of the
//! connection-tracking table, read with `conntrack -L`.
//!
//! Every flow the kernel tracks has an original tuple (as the first packet
//! left its sender) and a reply tuple (what an answer must look like). For
//! a flow from inside through source NAT, the reply tuple's destination is
//! the mapped address (RFC 4787 §4.1's X':x'); so this table tells the
//! mapping behaviour without any STUN, which makes it an independent check
//! of what discovery reports.

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use super::netns::Netns;
use super::process::{self, CommandError};
use super::require::{Need, program};

/// One tracked UDP flow.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Flow {
    /// Source and destination of the original direction.
    pub original: (SocketAddr, SocketAddr),
    /// Source and destination an answer has (after NAT, reversed).
    pub reply: (SocketAddr, SocketAddr),
    /// Whether an answer has been seen.
    pub replied: bool,
}

impl Flow {
    /// Where answers to this flow are addressed: for a flow through source
    /// NAT, the mapped address of `original.0` towards `original.1`.
    pub fn mapped(&self) -> SocketAddr {
        self.reply.1
    }

    /// Parses one line of `conntrack -L -p udp`, e.g.
    /// `udp 17 29 src=10.0.0.2 dst=203.0.113.10 sport=40000 dport=3478
    /// [UNREPLIED] src=203.0.113.10 dst=203.0.113.1 sport=3478 dport=5881
    /// mark=0 use=1`.
    pub fn parse(line: &str) -> Option<Flow> {
        let mut src = Vec::new();
        let mut dst = Vec::new();
        let mut sport = Vec::new();
        let mut dport = Vec::new();
        for token in line.split_whitespace() {
            let Some((key, value)) = token.split_once('=') else {
                continue;
            };
            match key {
                "src" => src.push(value.parse::<IpAddr>().ok()?),
                "dst" => dst.push(value.parse::<IpAddr>().ok()?),
                "sport" => sport.push(value.parse::<u16>().ok()?),
                "dport" => dport.push(value.parse::<u16>().ok()?),
                _ => {}
            }
        }
        let tuple = |i: usize| -> Option<(SocketAddr, SocketAddr)> {
            Some((
                SocketAddr::new(*src.get(i)?, *sport.get(i)?),
                SocketAddr::new(*dst.get(i)?, *dport.get(i)?),
            ))
        };
        Some(Flow {
            original: tuple(0)?,
            reply: tuple(1)?,
            replied: !line.contains("[UNREPLIED]"),
        })
    }
}

const TIMEOUT: Duration = Duration::from_secs(10);

/// The UDP flows the kernel of `ns` tracks.
pub fn udp_flows(ns: &Netns) -> Result<Vec<Flow>, CommandError> {
    let mut cmd = ns.command(program(Need::Conntrack));
    cmd.args(["-L", "-p", "udp"]);
    let out = process::run_ok(&mut cmd, None, TIMEOUT)?;
    Ok(out.stdout.lines().filter_map(Flow::parse).collect())
}

/// The flows that left `from` (original direction), with their mapped
/// addresses.
pub fn flows_from(ns: &Netns, from: SocketAddr) -> Result<Vec<Flow>, CommandError> {
    Ok(udp_flows(ns)?
        .into_iter()
        .filter(|f| f.original.0 == from)
        .collect())
}

/// Forgets every tracked flow of `ns` (its NAT mappings with them).
pub fn flush(ns: &Netns) -> Result<(), CommandError> {
    let mut cmd = ns.command(program(Need::Conntrack));
    cmd.arg("-F");
    process::run_ok(&mut cmd, None, TIMEOUT).map(|_| ())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_replied_and_unreplied_lines() {
        let f = Flow::parse("udp      17 29 src=10.0.0.2 dst=203.0.113.10 sport=40000 dport=3478 [UNREPLIED] src=203.0.113.10 dst=203.0.113.1 sport=3478 dport=5881 mark=0 use=1").unwrap();
        assert_eq!(f.original.0, "10.0.0.2:40000".parse().unwrap());
        assert_eq!(f.mapped(), "203.0.113.1:5881".parse().unwrap());
        assert!(!f.replied);
        let g = Flow::parse("udp 17 28 src=10.0.0.2 dst=203.0.113.11 sport=1 dport=2 src=203.0.113.11 dst=203.0.113.1 sport=2 dport=1 mark=0 use=1").unwrap();
        assert!(g.replied);
        assert_eq!(Flow::parse("conntrack v1.4.7: 2 flow entries"), None);
    }
}
