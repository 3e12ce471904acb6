//! Ready-made runs over [`RealNet`]: our STUN server, RFC 5780 discovery
//! and the classic RFC 3489 flow, in the calling process. The `nsnode`
//! helper binary runs these inside network namespaces; tests on loopback
//! call them directly.

use std::io;
use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use candidate_gather::nat::{
    ClassicDiscovery, ClassicReport, DiscoveryConfig, NatReport, Rfc5780Discovery,
};
use candidate_gather::transaction::RetransmitConfig;
use turn_server::{StunServer, StunServerConfig};

use super::{EndpointId, RealNet, Stats};

/// How a discovery run over real sockets is set up.
#[derive(Clone, Debug)]
pub struct DiscoveryOptions {
    /// The initial retransmission timeout. RFC 8489's 500 ms assumes the
    /// Internet; the namespaces and loopback of these tests answer in well
    /// under a millisecond, so the default is 20 ms (a transaction then
    /// lasts 1.58 s instead of 39.5 s). A loaded machine that delays
    /// answers beyond that makes results inconclusive, not wrong: the
    /// discovery weighs every missing answer against its control requests.
    pub rto: Duration,
    /// Local sockets: 3 for mapping, filtering and hairpinning.
    pub sockets: usize,
    /// Transactions per test before giving up (`DiscoveryConfig`).
    pub max_transactions: u32,
    /// RFC 3489-style requests (no magic cookie).
    pub rfc3489_requests: bool,
    /// The longest the run may take.
    pub limit: Duration,
    /// Seed of the transaction ids.
    pub seed: u64,
}

impl Default for DiscoveryOptions {
    fn default() -> Self {
        DiscoveryOptions {
            rto: Duration::from_millis(20),
            sockets: 3,
            max_transactions: 6,
            rfc3489_requests: false,
            limit: Duration::from_secs(60),
            seed: u64::from(std::process::id()),
        }
    }
}

impl DiscoveryOptions {
    fn config(&self, server: SocketAddr, sockets: Vec<SocketAddr>) -> DiscoveryConfig {
        let mut c = DiscoveryConfig::new(server, sockets, self.seed);
        c.retransmit = RetransmitConfig::default().with_rto(self.rto);
        c.max_transactions = self.max_transactions;
        c.rfc3489_requests = self.rfc3489_requests;
        c
    }
}

/// What a discovery run found, and from where.
#[derive(Clone, Debug)]
pub struct Finished<R> {
    /// The report.
    pub report: R,
    /// The local sockets it used, in the order of `DiscoveryConfig::sockets`.
    pub sockets: Vec<SocketAddr>,
    /// The net's counters.
    pub stats: Stats,
}

fn bind_n(net: &mut RealNet, ip: IpAddr, n: usize) -> io::Result<Vec<SocketAddr>> {
    (0..n)
        .map(|_| net.bind_udp(SocketAddr::new(ip, 0)))
        .collect()
}

fn timed_out(what: &str, limit: Duration) -> io::Error {
    io::Error::new(
        io::ErrorKind::TimedOut,
        format!("{what} did not finish within {limit:?}"),
    )
}

fn add_error(e: super::AddError) -> io::Error {
    io::Error::other(e.to_string())
}

/// Runs RFC 5780 discovery from sockets on `local_ip` against `server`.
pub fn rfc5780(
    server: SocketAddr,
    local_ip: IpAddr,
    options: &DiscoveryOptions,
) -> io::Result<Finished<NatReport>> {
    let mut net = RealNet::new();
    let sockets = bind_n(&mut net, local_ip, options.sockets)?;
    let d = Rfc5780Discovery::new(options.config(server, sockets.clone()), RealNet::now());
    let id = net.add_endpoint(d, &sockets).map_err(add_error)?;
    let done = net.run_until(options.limit, |n| {
        n.endpoint::<Rfc5780Discovery>(id).report().is_some()
    });
    match net.endpoint::<Rfc5780Discovery>(id).report() {
        Some(r) if done => Ok(Finished {
            report: r.clone(),
            sockets,
            stats: net.stats(),
        }),
        _ => Err(timed_out("RFC 5780 discovery", options.limit)),
    }
}

/// Runs the classic RFC 3489 flow from a socket on `local_ip` against
/// `server`.
pub fn classic(
    server: SocketAddr,
    local_ip: IpAddr,
    options: &DiscoveryOptions,
) -> io::Result<Finished<ClassicReport>> {
    let mut net = RealNet::new();
    let sockets = bind_n(&mut net, local_ip, 1)?;
    let d = ClassicDiscovery::new(options.config(server, sockets.clone()), RealNet::now());
    let id = net.add_endpoint(d, &sockets).map_err(add_error)?;
    let done = net.run_until(options.limit, |n| {
        n.endpoint::<ClassicDiscovery>(id).report().is_some()
    });
    match net.endpoint::<ClassicDiscovery>(id).report() {
        Some(r) if done => Ok(Finished {
            report: r.clone(),
            sockets,
            stats: net.stats(),
        }),
        _ => Err(timed_out("classic discovery", options.limit)),
    }
}

/// Adds our STUN server to `net` on exactly `primary` and, for RFC 5780,
/// the three sockets `alternate` implies (both ports on both IPs).
pub fn add_stun_server(
    net: &mut RealNet,
    primary: SocketAddr,
    alternate: Option<SocketAddr>,
) -> io::Result<EndpointId> {
    let mut config = StunServerConfig::new(primary);
    if let Some(alt) = alternate {
        config = config
            .with_alternate(alt.ip(), alt.port())
            .map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e.to_string()))?;
    }
    let server = StunServer::new(config);
    let addresses = server.local_addresses();
    for a in &addresses {
        net.bind_udp(*a)?;
    }
    net.add_endpoint(server, &addresses).map_err(add_error)
}

/// Adds our RFC 5780 STUN server to `net` on `primary_ip` and
/// `alternate_ip` with two ports free on both; returns it and its primary
/// and alternate addresses.
pub fn add_stun_server_any_ports(
    net: &mut RealNet,
    primary_ip: IpAddr,
    alternate_ip: IpAddr,
) -> io::Result<(EndpointId, SocketAddr, SocketAddr)> {
    let (p1, p2) = net.bind_udp_quad(primary_ip, alternate_ip)?;
    let primary = SocketAddr::new(primary_ip, p1);
    let alternate = SocketAddr::new(alternate_ip, p2);
    let config = StunServerConfig::new(primary)
        .with_alternate(alternate_ip, p2)
        .map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e.to_string()))?;
    let server = StunServer::new(config);
    let addresses = server.local_addresses();
    let id = net.add_endpoint(server, &addresses).map_err(add_error)?;
    Ok((id, primary, alternate))
}
