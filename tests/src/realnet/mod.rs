//! `realnet`: the stack's sans-IO endpoints over real sockets and the real
//! clock.
//!
//! [`RealNet`] is the loop of DESIGN.md ("How a datagram flows") around
//! operating-system sockets: it owns UDP sockets and TCP streams, hands
//! every datagram or stream frame to the [`Endpoint`] that owns the socket
//! it arrived on, sends every [`Transmit`] from the socket bound to its
//! `from`, and wakes each endpoint at its `poll_timeout`. It drives exactly
//! the endpoints netsim drives (`crate::adapters` makes the STUN server and
//! the discovery clients endpoints), so a component proven in simulation
//! runs unchanged against a real kernel, a real NAT or another program.
//!
//! ```
//! use std::time::Duration;
//! use ice_tests::netsim::{Echo, Probe};
//! use ice_tests::realnet::RealNet;
//!
//! let mut net = RealNet::new();
//! let echo_addr = net.bind_udp("127.0.0.1:0".parse()?)?;
//! let probe_addr = net.bind_udp("127.0.0.1:0".parse()?)?;
//! let echo = net.add_endpoint(Echo::new(), &[echo_addr])?;
//! let probe = net.add_endpoint(Probe::new(), &[probe_addr])?;
//! net.with_endpoint::<Probe, _>(probe, |p, _now| p.send(probe_addr, echo_addr, *b"hi"));
//! let back = net.run_until(Duration::from_secs(10), |net| {
//!     !net.endpoint::<Probe>(probe).received.is_empty()
//! });
//! assert!(back);
//! assert_eq!(net.endpoint::<Echo>(echo).received[0].remote, probe_addr);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! # Design
//!
//! - **Threads and one channel.** `std` has no readiness polling, and this
//!   crate forbids `unsafe`; so every socket has a reader thread that
//!   blocks in `recv_from` (with a short read timeout, to notice shutdown)
//!   and posts what it reads to one channel. The loop waits on that channel
//!   until the earliest endpoint timer, so it sleeps when nothing happens
//!   and wakes at once when something does. Sends happen on the loop's
//!   thread, from the socket itself.
//! - **Packets before timers.** After waking, the loop first hands over
//!   every datagram already queued, then fires the timers that are due. A
//!   loop that was descheduled for a while thus never declares a
//!   transaction lost whose answer is sitting in the queue.
//! - **Several sockets per endpoint, several endpoints per net.** An
//!   endpoint owns the sockets named in [`RealNet::add_endpoint`] (and the
//!   streams [`RealNet::connect_tcp`] / [`RealNet::listen_tcp`] give it);
//!   it may send only from those.
//! - **TCP.** A stream is identified by its (local, remote) pair, as a
//!   [`Transmit`] is. Incoming bytes are cut into STUN and ChannelData
//!   frames (RFC 8489 §6.2.2, RFC 8656 §12.5, [`stun_proto::frame_len`]),
//!   each handed over like a datagram; a transmit whose (from, to) is a
//!   stream is written to it (the endpoint pads ChannelData itself). A
//!   stream that is out of step is closed.
//! - **The real clock.** This module is an edge in the sense of DESIGN.md:
//!   the only place here that reads the wall clock is [`RealNet::now`].
//!   Nothing is deterministic, so tests built on it keep their waits
//!   bounded and generous and assert outcomes, not timings.
//!
//! A net is not `Send` (endpoints need not be); to serve in the background,
//! build it inside the thread that runs it. [`tasks`] has ready-made runs
//! (our STUN server, RFC 5780 and classic discovery), which the `nsnode`
//! helper binary (`src/bin/nsnode.rs`) runs inside network namespaces.
//!
//! `REALNET_TRACE=1` prints every datagram, frame and send error to stderr.

pub mod tasks;
mod tcp;

use std::any::Any;
use std::collections::HashMap;
use std::fmt;
use std::io;
use std::net::{IpAddr, SocketAddr, TcpStream, UdpSocket};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use stun_proto::Transmit;

use crate::netsim::Endpoint;

/// How long a reader thread blocks before it looks at the stop flag.
const READ_POLL: Duration = Duration::from_millis(50);

/// The longest the loop sleeps before it evaluates a run's condition again,
/// so that conditions on the outside world (a child process exiting) are
/// noticed even when no endpoint has a timer.
const CONDITION_POLL: Duration = Duration::from_millis(20);

/// The largest datagram read.
const MAX_DATAGRAM: usize = 65_535;

const TRACE_ENV: &str = "REALNET_TRACE";

/// Which endpoint of a [`RealNet`] (in the order they were added).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct EndpointId(usize);

/// Counters of what the net did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Stats {
    /// Datagrams and stream frames handed to endpoints.
    pub received: u64,
    /// Datagrams and stream frames sent.
    pub sent: u64,
    /// Sends the operating system refused (for example no route: a NAT or
    /// a firewall under test may cause these).
    pub send_errors: u64,
    /// Datagrams that arrived on a socket no endpoint owns yet.
    pub unowned: u64,
    /// Transmits whose `from` is not a socket or stream of the endpoint
    /// that sent them (an endpoint bug: tests should assert this is 0).
    pub bad_source: u64,
    /// Streams closed because their bytes were neither STUN nor
    /// ChannelData.
    pub out_of_step: u64,
}

/// What the reader threads post to the loop.
pub(crate) enum Event {
    /// A datagram (or one frame of a stream) arrived at `local` from
    /// `remote`.
    Packet {
        local: SocketAddr,
        remote: SocketAddr,
        data: Vec<u8>,
    },
    /// A listener accepted a stream.
    Accepted {
        listener: SocketAddr,
        stream: TcpStream,
    },
    /// A stream ended (closed by the peer, an error, or out of step).
    StreamClosed {
        local: SocketAddr,
        remote: SocketAddr,
        out_of_step: bool,
    },
}

/// An endpoint the net can also downcast to its concrete type.
trait Driven: Endpoint {
    fn as_any(&self) -> &dyn Any;
    fn as_any_mut(&mut self) -> &mut dyn Any;
}

impl<E: Endpoint> Driven for E {
    fn as_any(&self) -> &dyn Any {
        self
    }

    fn as_any_mut(&mut self) -> &mut dyn Any {
        self
    }
}

struct Udp {
    socket: UdpSocket,
    owner: Option<EndpointId>,
}

/// Why an endpoint could not be added.
#[derive(Debug)]
pub enum AddError {
    /// The socket was never bound with [`RealNet::bind_udp`].
    NotBound(SocketAddr),
    /// Another endpoint owns the socket already.
    Owned(SocketAddr),
}

impl fmt::Display for AddError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AddError::NotBound(a) => write!(f, "no socket is bound at {a}; bind_udp it first"),
            AddError::Owned(a) => write!(f, "the socket {a} belongs to another endpoint"),
        }
    }
}

impl std::error::Error for AddError {}

/// Sans-IO endpoints over real sockets (see the module documentation).
pub struct RealNet {
    endpoints: Vec<Box<dyn Driven>>,
    udp: HashMap<SocketAddr, Udp>,
    tcp: tcp::Streams,
    tx: Sender<Event>,
    rx: Receiver<Event>,
    stop: Arc<AtomicBool>,
    threads: Vec<JoinHandle<()>>,
    stats: Stats,
    trace: bool,
}

impl Default for RealNet {
    fn default() -> Self {
        RealNet::new()
    }
}

impl fmt::Debug for RealNet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RealNet")
            .field("endpoints", &self.endpoints.len())
            .field("udp", &self.udp.keys().collect::<Vec<_>>())
            .field("stats", &self.stats)
            .finish_non_exhaustive()
    }
}

impl RealNet {
    /// A net without sockets or endpoints.
    pub fn new() -> RealNet {
        let (tx, rx) = mpsc::channel();
        RealNet {
            endpoints: Vec::new(),
            udp: HashMap::new(),
            tcp: tcp::Streams::default(),
            tx,
            rx,
            stop: Arc::new(AtomicBool::new(false)),
            threads: Vec::new(),
            stats: Stats::default(),
            trace: std::env::var_os(TRACE_ENV).is_some(),
        }
    }

    /// The wall clock: the one place of this module that reads it.
    pub fn now() -> Instant {
        // realnet is an edge (DESIGN.md principle 1): it feeds real time to
        // the sans-IO components, which never read a clock themselves.
        #[allow(clippy::disallowed_methods)]
        Instant::now()
    }

    /// Binds a UDP socket at `addr` (port 0 picks a free port) and starts
    /// reading it; returns the address bound. Bind to a specific IP: the
    /// endpoint's transmits name it as `from`, and an answer must leave
    /// from the address the request arrived on.
    pub fn bind_udp(&mut self, addr: SocketAddr) -> io::Result<SocketAddr> {
        let socket = UdpSocket::bind(addr)?;
        self.register_udp(socket)
    }

    /// Binds a UDP socket at exactly `addr` for an endpoint already added
    /// (a TURN server's relay socket, asked for while it runs); returns
    /// the address bound. A socket already bound there and owned by no
    /// other endpoint is given to `owner` as it is (sockets are never
    /// closed before the net is dropped, so a relay address given back
    /// and asked for again finds its socket still there).
    pub fn bind_udp_for(&mut self, owner: EndpointId, addr: SocketAddr) -> io::Result<SocketAddr> {
        let local = match self.udp.get(&addr) {
            Some(Udp {
                owner: Some(other), ..
            }) if *other != owner => {
                return Err(io::Error::new(
                    io::ErrorKind::AddrInUse,
                    format!("{addr} belongs to another endpoint"),
                ));
            }
            Some(_) => addr,
            None => self.bind_udp(addr)?,
        };
        if let Some(udp) = self.udp.get_mut(&local) {
            udp.owner = Some(owner);
        }
        Ok(local)
    }

    /// Binds the four sockets of an RFC 5780 server, `primary:P1`,
    /// `primary:P2`, `alternate:P1`, `alternate:P2`, with ports P1 and P2
    /// that are free on both IPs; returns (P1, P2).
    pub fn bind_udp_quad(&mut self, primary: IpAddr, alternate: IpAddr) -> io::Result<(u16, u16)> {
        let mut last_error = io::Error::other("no free port pair");
        for _ in 0..32 {
            let quad = bind_pair(primary, alternate, None).and_then(|(a1, b1, p1)| {
                let (a2, b2, p2) = bind_pair(primary, alternate, Some(p1))?;
                Ok(([a1, a2, b1, b2], p1, p2))
            });
            match quad {
                Ok((sockets, p1, p2)) => {
                    for s in sockets {
                        self.register_udp(s)?;
                    }
                    return Ok((p1, p2));
                }
                Err(e) => last_error = e,
            }
        }
        Err(last_error)
    }

    /// Starts reading a bound socket.
    fn register_udp(&mut self, socket: UdpSocket) -> io::Result<SocketAddr> {
        let local = socket.local_addr()?;
        socket.set_read_timeout(Some(READ_POLL))?;
        let reader = socket.try_clone()?;
        let tx = self.tx.clone();
        let stop = Arc::clone(&self.stop);
        let handle = std::thread::Builder::new()
            .name(format!("realnet udp {local}"))
            .spawn(move || read_udp(reader, local, tx, stop))?;
        self.threads.push(handle);
        self.udp.insert(
            local,
            Udp {
                socket,
                owner: None,
            },
        );
        Ok(local)
    }

    /// Adds an endpoint that owns `sockets` (each bound with
    /// [`RealNet::bind_udp`]). Its first transmits are sent at once.
    pub fn add_endpoint<E: Endpoint>(
        &mut self,
        endpoint: E,
        sockets: &[SocketAddr],
    ) -> Result<EndpointId, AddError> {
        for s in sockets {
            match self.udp.get(s) {
                None => return Err(AddError::NotBound(*s)),
                Some(Udp { owner: Some(_), .. }) => return Err(AddError::Owned(*s)),
                Some(_) => {}
            }
        }
        let id = EndpointId(self.endpoints.len());
        for s in sockets {
            if let Some(udp) = self.udp.get_mut(s) {
                udp.owner = Some(id);
            }
        }
        self.endpoints.push(Box::new(endpoint));
        self.flush(id);
        Ok(id)
    }

    /// Opens a TCP connection to `remote` for endpoint `owner`; returns the
    /// stream's local address (the `from` of transmits meant for it).
    pub fn connect_tcp(
        &mut self,
        owner: EndpointId,
        remote: SocketAddr,
        timeout: Duration,
    ) -> io::Result<SocketAddr> {
        let stream = TcpStream::connect_timeout(&remote, timeout)?;
        self.adopt_stream(owner, stream)
    }

    /// Listens for TCP connections at `addr` for endpoint `owner`; every
    /// accepted stream belongs to it. Returns the address bound.
    pub fn listen_tcp(&mut self, owner: EndpointId, addr: SocketAddr) -> io::Result<SocketAddr> {
        let (local, handle) = tcp::listen(addr, self.tx.clone(), Arc::clone(&self.stop))?;
        self.tcp.listeners.insert(local, owner);
        self.threads.push(handle);
        Ok(local)
    }

    fn adopt_stream(&mut self, owner: EndpointId, stream: TcpStream) -> io::Result<SocketAddr> {
        let local = stream.local_addr()?;
        let remote = stream.peer_addr()?;
        let handle = tcp::spawn_reader(&stream, self.tx.clone(), Arc::clone(&self.stop))?;
        self.threads.push(handle);
        self.tcp.streams.insert((local, remote), (stream, owner));
        Ok(local)
    }

    /// The open TCP streams of `owner`, as (local, remote) pairs.
    pub fn streams_of(&self, owner: EndpointId) -> Vec<(SocketAddr, SocketAddr)> {
        let mut v: Vec<_> = self
            .tcp
            .streams
            .iter()
            .filter(|(_, (_, o))| *o == owner)
            .map(|(k, _)| *k)
            .collect();
        v.sort();
        v
    }

    /// The endpoint `id` as its concrete type.
    ///
    /// # Panics
    ///
    /// If `id` is not an endpoint of this net or not of type `E`.
    pub fn endpoint<E: Endpoint>(&self, id: EndpointId) -> &E {
        let e = self.endpoints.get(id.0).map(|e| e.as_any());
        match e.and_then(|e| e.downcast_ref::<E>()) {
            Some(e) => e,
            None => panic_wrong_endpoint::<E>(id),
        }
    }

    /// The endpoint `id` as its concrete type, mutably. Transmits it
    /// queues are sent at the next run; use [`RealNet::with_endpoint`] to
    /// send them at once.
    ///
    /// # Panics
    ///
    /// If `id` is not an endpoint of this net or not of type `E`.
    pub fn endpoint_mut<E: Endpoint>(&mut self, id: EndpointId) -> &mut E {
        let e = self.endpoints.get_mut(id.0).map(|e| e.as_any_mut());
        match e.and_then(|e| e.downcast_mut::<E>()) {
            Some(e) => e,
            None => panic_wrong_endpoint::<E>(id),
        }
    }

    /// Calls `f` with endpoint `id` and the current time, then sends what it
    /// queued.
    pub fn with_endpoint<E: Endpoint, R>(
        &mut self,
        id: EndpointId,
        f: impl FnOnce(&mut E, Instant) -> R,
    ) -> R {
        let now = RealNet::now();
        let r = f(self.endpoint_mut::<E>(id), now);
        self.flush(id);
        r
    }

    /// What happened so far.
    pub fn stats(&self) -> Stats {
        self.stats
    }

    /// Runs until `done` holds (checked after every event and at least every
    /// 20 ms) or `limit` has passed; returns whether `done` held.
    pub fn run_until(&mut self, limit: Duration, mut done: impl FnMut(&RealNet) -> bool) -> bool {
        let deadline = RealNet::now() + limit;
        for i in 0..self.endpoints.len() {
            self.flush(EndpointId(i));
        }
        loop {
            if done(self) {
                return true;
            }
            let now = RealNet::now();
            if now >= deadline {
                return false;
            }
            let mut wake = (now + CONDITION_POLL).min(deadline);
            if let Some(t) = self.next_timeout() {
                wake = wake.min(t);
            }
            match self.rx.recv_timeout(wake.saturating_duration_since(now)) {
                Ok(event) => self.dispatch(event),
                Err(RecvTimeoutError::Timeout) => {}
                // The net holds a sender itself, so the channel never
                // disconnects; nothing to do either way.
                Err(RecvTimeoutError::Disconnected) => {}
            }
            // Everything already queued goes in before any timer fires.
            while let Ok(event) = self.rx.try_recv() {
                self.dispatch(event);
            }
            self.fire_timers(RealNet::now());
        }
    }

    /// Runs for `duration`, whatever happens.
    pub fn run_for(&mut self, duration: Duration) {
        self.run_until(duration, |_| false);
    }

    fn next_timeout(&self) -> Option<Instant> {
        self.endpoints.iter().filter_map(|e| e.poll_timeout()).min()
    }

    fn fire_timers(&mut self, now: Instant) {
        for i in 0..self.endpoints.len() {
            let due = self
                .endpoints
                .get(i)
                .and_then(|e| e.poll_timeout())
                .is_some_and(|t| t <= now);
            if due {
                if let Some(e) = self.endpoints.get_mut(i) {
                    e.handle_timeout(now);
                }
                self.flush(EndpointId(i));
            }
        }
    }

    fn dispatch(&mut self, event: Event) {
        match event {
            Event::Packet {
                local,
                remote,
                data,
            } => {
                let owner = match self.tcp.streams.get(&(local, remote)) {
                    Some((_, owner)) => Some(*owner),
                    None => self.udp.get(&local).and_then(|u| u.owner),
                };
                let Some(owner) = owner else {
                    self.stats.unowned += 1;
                    return;
                };
                if self.trace {
                    eprintln!("realnet: {remote} -> {local}: {} bytes", data.len());
                }
                self.stats.received += 1;
                let now = RealNet::now();
                if let Some(e) = self.endpoints.get_mut(owner.0) {
                    e.handle_packet(now, local, remote, &data);
                }
                self.flush(owner);
            }
            Event::Accepted { listener, stream } => {
                let Some(owner) = self.tcp.listeners.get(&listener).copied() else {
                    return;
                };
                if let Err(e) = self.adopt_stream(owner, stream) {
                    if self.trace {
                        eprintln!("realnet: accepted stream on {listener} lost: {e}");
                    }
                }
            }
            Event::StreamClosed {
                local,
                remote,
                out_of_step,
            } => {
                if out_of_step {
                    self.stats.out_of_step += 1;
                }
                if let Some((stream, _)) = self.tcp.streams.remove(&(local, remote)) {
                    let _ = stream.shutdown(std::net::Shutdown::Both);
                }
                if self.trace {
                    eprintln!("realnet: stream {local} <-> {remote} closed");
                }
            }
        }
    }

    /// Sends everything endpoint `id` has queued.
    fn flush(&mut self, id: EndpointId) {
        loop {
            let Some(t) = self.endpoints.get_mut(id.0).and_then(|e| e.poll_transmit()) else {
                return;
            };
            self.send(id, &t);
        }
    }

    fn send(&mut self, id: EndpointId, t: &Transmit) {
        let result = if let Some((stream, owner)) = self.tcp.streams.get_mut(&(t.from, t.to)) {
            if *owner != id {
                self.stats.bad_source += 1;
                return;
            }
            io::Write::write_all(stream, &t.data)
        } else {
            match self.udp.get(&t.from) {
                Some(Udp {
                    socket,
                    owner: Some(owner),
                }) if *owner == id => socket.send_to(&t.data, t.to).map(|_| ()),
                _ => {
                    self.stats.bad_source += 1;
                    if self.trace {
                        eprintln!("realnet: {t:?} from a socket the endpoint does not own");
                    }
                    return;
                }
            }
        };
        match result {
            Ok(()) => {
                self.stats.sent += 1;
                if self.trace {
                    eprintln!("realnet: {} -> {}: {} bytes", t.from, t.to, t.data.len());
                }
            }
            Err(e) => {
                self.stats.send_errors += 1;
                if self.trace {
                    eprintln!("realnet: {t:?} failed: {e}");
                }
            }
        }
    }
}

impl Drop for RealNet {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        for (stream, _) in self.tcp.streams.values() {
            let _ = stream.shutdown(std::net::Shutdown::Both);
        }
        for handle in self.threads.drain(..) {
            let _ = handle.join();
        }
    }
}

fn panic_wrong_endpoint<E>(id: EndpointId) -> ! {
    // A test asked for an endpoint that is not there: a bug in the test.
    #[allow(clippy::panic)]
    {
        panic!("endpoint {id:?} is not a {}", std::any::type_name::<E>())
    }
}

/// Binds `a:P` and `b:P` for a port P free on both (and not `avoid`).
fn bind_pair(a: IpAddr, b: IpAddr, avoid: Option<u16>) -> io::Result<(UdpSocket, UdpSocket, u16)> {
    let first = UdpSocket::bind(SocketAddr::new(a, 0))?;
    let port = first.local_addr()?.port();
    if Some(port) == avoid {
        return Err(io::Error::new(
            io::ErrorKind::AddrInUse,
            "the same port twice",
        ));
    }
    let second = UdpSocket::bind(SocketAddr::new(b, port))?;
    Ok((first, second, port))
}

/// A reader thread: every datagram goes to the loop until the net stops.
fn read_udp(socket: UdpSocket, local: SocketAddr, tx: Sender<Event>, stop: Arc<AtomicBool>) {
    let mut buf = vec![0u8; MAX_DATAGRAM];
    while !stop.load(Ordering::SeqCst) {
        match socket.recv_from(&mut buf) {
            Ok((n, remote)) => {
                let data = buf.get(..n).unwrap_or_default().to_vec();
                if tx
                    .send(Event::Packet {
                        local,
                        remote,
                        data,
                    })
                    .is_err()
                {
                    return;
                }
            }
            // Timeouts let the thread look at `stop`; ICMP errors reported
            // on the socket (Linux may report a port unreachable this way)
            // are not datagrams.
            Err(e) if is_transient(&e) => continue,
            // Anything else: do not spin.
            Err(_) => std::thread::sleep(READ_POLL),
        }
    }
}

/// Read errors that only mean "nothing to read now".
pub(crate) fn is_transient(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::WouldBlock
            | io::ErrorKind::TimedOut
            | io::ErrorKind::Interrupted
            | io::ErrorKind::ConnectionRefused
            | io::ErrorKind::ConnectionReset
    )
}
