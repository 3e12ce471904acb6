//! `netsim`: the deterministic network simulator of DESIGN.md.
//!
//! A [`Sim`] is a virtual clock, one seeded RNG and a tree of networks:
//! the Internet at the root, and below it the inside networks of NATs
//! (RFC 4787 mapping §4.1, port assignment §4.2, refresh §4.3, filtering §5,
//! hairpinning §6), firewalls and routers. Hosts on those networks run
//! [`Endpoint`]s, the sans-IO components of the stack; the simulator is the
//! same loop as the tokio driver, around virtual links instead of sockets.
//!
//! ```
//! use std::time::Duration;
//! use ice_tests::netsim::{Echo, Link, NatConfig, Probe, Sim};
//!
//! let mut sim = Sim::new(7);
//! let inet = sim.internet();
//! sim.set_link(inet, Link::with_latency(Duration::from_millis(20)));
//! let nat = sim.add_nat(inet, NatConfig::port_restricted_cone(), &["203.0.113.1".parse()?]);
//! let lan = sim.nat_inside(nat);
//! let client = sim.add_host(lan, &["192.168.1.10".parse()?], Probe::new());
//! let server = sim.add_host(inet, &["198.51.100.1".parse()?], Echo::new());
//! sim.with_endpoint::<Probe, _>(client, |p, _now| {
//!     p.send("192.168.1.10:5000".parse().unwrap(), "198.51.100.1:3478".parse().unwrap(), *b"hi")
//! });
//! sim.run_for(Duration::from_secs(1));
//! let reply = &sim.endpoint::<Probe>(client).received[0];
//! assert_eq!(reply.at - sim.start(), Duration::from_millis(40));
//! assert_eq!(sim.endpoint::<Echo>(server).received[0].remote.ip().to_string(), "203.0.113.1");
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! # Determinism
//!
//! Time is virtual: the simulator reads the wall clock once, for the base
//! [`Instant`] the components' `now` is measured from, and everything it
//! outputs (pcap timestamps, the trace) uses the elapsed virtual time. Every
//! random decision draws from one ChaCha8 RNG in event order, and events at
//! the same instant run in the order they were scheduled. A run is thus
//! reproducible byte for byte from its seed; see [`seed`].
//!
//! # Where things are
//!
//! - `run.rs`: the event loop (queue, timers, the datagram path);
//! - `topology.rs`: networks, hosts, middleboxes and routing;
//! - `link.rs`: latency, jitter, loss, duplication, reordering, MTU;
//! - `nat.rs`: RFC 4787 NATs; `firewall.rs`: firewalls and routers;
//! - `endpoint.rs`: the [`Endpoint`] trait, [`Probe`] and [`Echo`];
//! - `stats.rs`: drop counters and the trace; [`pcap`]; [`seed`].

#![warn(missing_docs)]

mod endpoint;
mod firewall;
mod link;
mod nat;
pub mod pcap;
mod run;
pub mod seed;
mod stats;
mod topology;

use std::any::type_name;
use std::collections::BinaryHeap;
use std::net::IpAddr;
use std::path::Path;
use std::time::{Duration, Instant};

use rand_chacha::ChaCha8Rng;
use rand_core::SeedableRng;
use stun_proto::Transmit;

pub use endpoint::{Echo, Endpoint, Probe, Received};
pub use firewall::FirewallConfig;
pub use link::{DEFAULT_MTU, Link, MIN_REORDER_DELAY};
pub use nat::{
    DEFAULT_MAPPING_LIFETIME, FilteringBehavior, MappingBehavior, MappingScope, NatConfig,
    NatMapping, PortAssignment,
};
pub use stats::{DropReason, Stats, TraceEvent, TraceKind};
pub use topology::{HostId, NatId, NetworkId};

use endpoint::Hosted;
use firewall::Firewall;
use nat::Nat;
use pcap::Capture;
use run::Event;
use topology::{BoxKind, Topology};

/// The default of [`Sim::set_event_limit`].
pub const DEFAULT_EVENT_LIMIT: u64 = 100_000;

/// The environment variable that makes every simulation print its trace to
/// stderr as it runs.
pub const TRACE_ENV: &str = "NETSIM_TRACE";

struct Host {
    network: NetworkId,
    ips: Vec<IpAddr>,
    endpoint: Box<dyn Hosted>,
    type_name: &'static str,
    /// The instant the pending timer event is for, if any.
    armed: Option<Duration>,
    /// Bumped whenever the timer is re-armed; older timer events are stale.
    generation: u64,
}

/// The simulator: networks, middleboxes, hosts, a virtual clock and one RNG.
pub struct Sim {
    seed: u64,
    base: Instant,
    now: Duration,
    rng: ChaCha8Rng,
    topo: Topology,
    hosts: Vec<Host>,
    queue: BinaryHeap<Event>,
    next_seq: u64,
    stats: Stats,
    trace: Option<Vec<TraceEvent>>,
    trace_stderr: bool,
    event_limit: u64,
    events_now: u64,
}

impl Sim {
    /// An empty Internet with an ideal link, at virtual time zero.
    pub fn new(seed: u64) -> Sim {
        // The one wall-clock read of a simulation: components take
        // `std::time::Instant`, so virtual time is this base plus the elapsed
        // virtual duration. Nothing observable depends on its value.
        #[allow(clippy::disallowed_methods)]
        let base = Instant::now();
        Sim {
            seed,
            base,
            now: Duration::ZERO,
            rng: ChaCha8Rng::seed_from_u64(seed),
            topo: Topology::new(),
            hosts: Vec::new(),
            queue: BinaryHeap::new(),
            next_seq: 0,
            stats: Stats::default(),
            trace: None,
            trace_stderr: std::env::var_os(TRACE_ENV).is_some(),
            event_limit: DEFAULT_EVENT_LIMIT,
            events_now: 0,
        }
    }

    /// The seed this simulation was created with.
    pub fn seed(&self) -> u64 {
        self.seed
    }

    // ----- time -----

    /// The current virtual time.
    pub fn now(&self) -> Instant {
        self.base + self.now
    }

    /// Virtual time zero.
    pub fn start(&self) -> Instant {
        self.base
    }

    /// Virtual time elapsed since the start.
    pub fn elapsed(&self) -> Duration {
        self.now
    }

    /// The instant `elapsed` after the start.
    pub fn at(&self, elapsed: Duration) -> Instant {
        self.base + elapsed
    }

    fn elapsed_of(&self, t: Instant) -> Duration {
        t.saturating_duration_since(self.base)
    }

    // ----- topology -----

    /// The Internet, the root network.
    pub fn internet(&self) -> NetworkId {
        NetworkId(0)
    }

    /// Sets the impairments of datagrams entering `net`.
    pub fn set_link(&mut self, net: NetworkId, link: Link) {
        self.topo.network_mut(net).link = link;
    }

    /// The impairments of `net`.
    pub fn link(&self, net: NetworkId) -> &Link {
        &self.topo.network(net).link
    }

    /// Attaches a host running `endpoint` to `net` with addresses `ips`,
    /// then sends whatever the endpoint already has queued and arms its
    /// timer.
    ///
    /// # Panics
    ///
    /// If `ips` is empty or an address is already in use on `net`.
    pub fn add_host<E: Endpoint>(&mut self, net: NetworkId, ips: &[IpAddr], endpoint: E) -> HostId {
        assert!(!ips.is_empty(), "netsim: a host needs at least one address");
        let id = HostId(self.hosts.len());
        self.topo.attach_host(net, ips, id);
        self.hosts.push(Host {
            network: net,
            ips: ips.to_vec(),
            endpoint: Box::new(endpoint),
            type_name: type_name::<E>(),
            armed: None,
            generation: 0,
        });
        self.after_input(id);
        id
    }

    /// Adds a NAT whose external addresses `public_ips` are on `outside`;
    /// its inside network is [`Sim::nat_inside`].
    ///
    /// # Panics
    ///
    /// If `public_ips` is empty or an address is already in use on
    /// `outside`.
    pub fn add_nat(
        &mut self,
        outside: NetworkId,
        config: NatConfig,
        public_ips: &[IpAddr],
    ) -> NatId {
        assert!(
            !public_ips.is_empty(),
            "netsim: a NAT needs at least one public address"
        );
        let nat = Nat::new(config, public_ips.to_vec());
        self.topo.add_box(outside, BoxKind::Nat(nat))
    }

    /// Adds a firewall (no translation) between `outside` and a new inside
    /// network, whose hosts are reachable from outside by their own
    /// addresses.
    pub fn add_firewall(&mut self, outside: NetworkId, config: FirewallConfig) -> NatId {
        self.topo
            .add_box(outside, BoxKind::Firewall(Firewall::new(config)))
    }

    /// Adds a plain router (a firewall that filters nothing).
    pub fn add_router(&mut self, outside: NetworkId) -> NatId {
        self.add_firewall(outside, FirewallConfig::router())
    }

    /// The inside network of a NAT, firewall or router.
    pub fn nat_inside(&self, id: NatId) -> NetworkId {
        self.topo.middlebox(id).inside
    }

    /// The outside network of a NAT, firewall or router.
    pub fn nat_outside(&self, id: NatId) -> NetworkId {
        self.topo.middlebox(id).outside
    }

    /// The external addresses of a NAT (empty for a firewall or router).
    pub fn nat_public_ips(&self, id: NatId) -> &[IpAddr] {
        match &self.topo.middlebox(id).kind {
            BoxKind::Nat(nat) => nat.public_ips(),
            BoxKind::Firewall(_) => &[],
        }
    }

    /// The configuration of a NAT (`None` for a firewall or router).
    pub fn nat_config(&self, id: NatId) -> Option<&NatConfig> {
        match &self.topo.middlebox(id).kind {
            BoxKind::Nat(nat) => Some(nat.config()),
            BoxKind::Firewall(_) => None,
        }
    }

    /// The configuration of a firewall or router (`None` for a NAT).
    pub fn firewall_config(&self, id: NatId) -> Option<&FirewallConfig> {
        match &self.topo.middlebox(id).kind {
            BoxKind::Nat(_) => None,
            BoxKind::Firewall(fw) => Some(fw.config()),
        }
    }

    /// A NAT's mappings that are live now, sorted by external endpoint
    /// (empty for a firewall or router).
    pub fn nat_mappings(&self, id: NatId) -> Vec<NatMapping> {
        match &self.topo.middlebox(id).kind {
            BoxKind::Nat(nat) => nat.mappings(self.now, self.base),
            BoxKind::Firewall(_) => Vec::new(),
        }
    }

    /// The addresses of a host.
    pub fn host_ips(&self, host: HostId) -> &[IpAddr] {
        &self.hosts[host.0].ips
    }

    /// The network a host is attached to.
    pub fn host_network(&self, host: HostId) -> NetworkId {
        self.hosts[host.0].network
    }

    // ----- endpoints -----

    /// The endpoint of `host` as its concrete type.
    ///
    /// # Panics
    ///
    /// If the host runs another type.
    pub fn endpoint<E: Endpoint>(&self, host: HostId) -> &E {
        let h = &self.hosts[host.0];
        match h.endpoint.as_any().downcast_ref::<E>() {
            Some(e) => e,
            None => panic!(
                "netsim: {host} runs {}, not {}",
                h.type_name,
                type_name::<E>()
            ),
        }
    }

    /// The endpoint of `host`, mutably. Output it queues is not sent until
    /// its next input or [`Sim::wake`]; [`Sim::with_endpoint`] does both.
    ///
    /// # Panics
    ///
    /// If the host runs another type.
    pub fn endpoint_mut<E: Endpoint>(&mut self, host: HostId) -> &mut E {
        let h = &mut self.hosts[host.0];
        let name = h.type_name;
        match h.endpoint.as_any_mut().downcast_mut::<E>() {
            Some(e) => e,
            None => panic!("netsim: {host} runs {name}, not {}", type_name::<E>()),
        }
    }

    /// Calls `f` with the endpoint of `host` and the current time, then
    /// sends what it queued and re-arms its timer.
    pub fn with_endpoint<E: Endpoint, R>(
        &mut self,
        host: HostId,
        f: impl FnOnce(&mut E, Instant) -> R,
    ) -> R {
        let now = self.now();
        let r = f(self.endpoint_mut::<E>(host), now);
        self.after_input(host);
        r
    }

    /// Sends what the endpoint of `host` has queued and re-arms its timer.
    pub fn wake(&mut self, host: HostId) {
        self.after_input(host);
    }

    /// Sends `transmit` from `host` now, as if its endpoint had returned it.
    pub fn inject(&mut self, host: HostId, transmit: Transmit) {
        self.emit(host, transmit);
    }

    // ----- observation -----

    /// The counters so far.
    pub fn stats(&self) -> &Stats {
        &self.stats
    }

    /// Starts recording the trace (see [`Sim::trace`]).
    pub fn enable_trace(&mut self) {
        self.trace.get_or_insert_with(Vec::new);
    }

    /// The trace recorded since [`Sim::enable_trace`] (empty if not
    /// enabled). Setting `NETSIM_TRACE` prints it to stderr as it happens.
    pub fn trace(&self) -> &[TraceEvent] {
        self.trace.as_deref().unwrap_or(&[])
    }

    fn record(&mut self, kind: TraceKind) {
        if self.trace.is_none() && !self.trace_stderr {
            return;
        }
        let event = TraceEvent { at: self.now, kind };
        if self.trace_stderr {
            eprintln!("netsim[seed {}] {event}", self.seed);
        }
        if let Some(trace) = &mut self.trace {
            trace.push(event);
        }
    }

    /// Starts capturing the datagrams that cross `net` (recorded when they
    /// arrive at the next hop, after the link's delay; lost ones are not
    /// recorded, duplicates are recorded twice).
    pub fn capture(&mut self, net: NetworkId) {
        self.topo
            .network_mut(net)
            .capture
            .get_or_insert_with(Capture::new);
    }

    /// The pcap file captured on `net` so far, if capturing.
    pub fn pcap(&self, net: NetworkId) -> Option<&[u8]> {
        self.topo.network(net).capture.as_ref().map(Capture::bytes)
    }

    /// Writes the pcap file captured on `net` to `path`.
    ///
    /// # Errors
    ///
    /// If `net` is not being captured, or writing fails.
    pub fn write_pcap(&self, net: NetworkId, path: impl AsRef<Path>) -> std::io::Result<()> {
        let bytes = self
            .pcap(net)
            .ok_or_else(|| std::io::Error::other(format!("netsim: {net} is not being captured")))?;
        std::fs::write(path, bytes)
    }
}

impl Drop for Sim {
    /// If the thread is panicking (a failed assertion while this simulation
    /// was alive), says which seed and virtual time it had reached, so that
    /// a failure is never reported without its seed.
    fn drop(&mut self) {
        if std::thread::panicking() {
            eprintln!(
                "netsim: panicked with a simulation of seed {} alive at virtual time {:?}",
                self.seed, self.now
            );
        }
    }
}
