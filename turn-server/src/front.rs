//! The tokio front: the sockets, the TCP framing and the timers around the
//! sans-IO [`TurnServer`] (which answers Binding requests through the
//! crate's [`StunServer`](crate::StunServer)).
//!
//! [`TurnFront::start`] binds a UDP socket on every
//! [`TurnServer::udp_addresses`] and a TCP listener on every
//! [`TurnServer::tcp_addresses`] (a listener configured with port 0 gets
//! the port the operating system picks for UDP, then TCP on the same
//! port), then runs one task that owns the core:
//! - every datagram and every TCP frame goes to
//!   [`TurnServer::handle_packet`]; a TCP stream is split into STUN and
//!   ChannelData frames ([`tcp`]), and a stream that goes out of step is
//!   closed;
//! - [`TurnEvent::BindRelay`] binds a UDP socket at exactly that address
//!   (synchronously) and reports it with
//!   [`TurnServer::handle_relay_bound`]; [`TurnEvent::ReleaseRelay`]
//!   closes it;
//! - transmits leave from the socket bound at `from`, or on the TCP
//!   connection `from`↔`to`;
//! - the core is woken at [`TurnServer::poll_timeout`] by tokio's timer,
//!   and told the wall-clock time
//!   ([`TurnServer::handle_unix_time`]) with every input, for the
//!   shared-secret credentials.
//!
//! The front is an edge: it reads tokio's clock and the system clock.
//! The core's RNG seed is the configuration's; [`random_seed`] gives one
//! from the process's random state for deployments.

pub mod tcp;

use core::net::SocketAddr;
use std::collections::BTreeMap;
use std::io;
use std::sync::Arc;

use stun_proto::Transport;
use tokio::net::{TcpListener, TcpStream, UdpSocket};
use tokio::sync::{mpsc, oneshot, watch};
use tokio::task::{JoinHandle, JoinSet};

use crate::turn::{
    TurnConfigError, TurnEvent, TurnServer, TurnServerConfig, TurnServerStats, TurnTransmit,
};

/// Frames waiting to be written on one TCP connection before new ones are
/// dropped (the client is not reading).
const TCP_WRITE_QUEUE: usize = 256;
/// Inputs waiting for the core task.
const INPUT_QUEUE: usize = 4096;

/// A seed from the process's random state (the operating system's
/// randomness, through `std`'s hasher keys), for
/// [`TurnServerConfig::with_seed`] outside tests.
pub fn random_seed() -> u64 {
    use std::hash::{BuildHasher, Hasher};
    std::collections::hash_map::RandomState::new()
        .build_hasher()
        .finish()
}

/// What the socket tasks hand the core task.
enum Input {
    Packet {
        local: SocketAddr,
        remote: SocketAddr,
        transport: Transport,
        data: Vec<u8>,
    },
    TcpOpened {
        local: SocketAddr,
        remote: SocketAddr,
        writer: mpsc::Sender<Vec<u8>>,
    },
    TcpClosed {
        local: SocketAddr,
        remote: SocketAddr,
    },
}

/// A running TURN server on real sockets.
#[derive(Debug)]
pub struct TurnFront {
    udp: Vec<SocketAddr>,
    tcp: Vec<SocketAddr>,
    stop: Option<oneshot::Sender<()>>,
    task: JoinHandle<()>,
    stats: watch::Receiver<TurnServerStats>,
}

/// Why the front could not start.
#[derive(Debug)]
#[non_exhaustive]
pub enum FrontError {
    /// The configuration is refused by the core.
    Config(TurnConfigError),
    /// A socket could not be bound.
    Io(io::Error),
}

impl core::fmt::Display for FrontError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            FrontError::Config(e) => write!(f, "configuration: {e}"),
            FrontError::Io(e) => write!(f, "socket: {e}"),
        }
    }
}

impl std::error::Error for FrontError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            FrontError::Config(e) => Some(e),
            FrontError::Io(e) => Some(e),
        }
    }
}

impl From<io::Error> for FrontError {
    fn from(e: io::Error) -> Self {
        FrontError::Io(e)
    }
}

/// The core's clock: tokio's (so that tests may pause it).
fn now() -> std::time::Instant {
    tokio::time::Instant::now().into_std()
}

/// Seconds since the Unix epoch, for the shared-secret credentials.
fn unix_seconds() -> u64 {
    // The front is the edge that owns the wall clock (DESIGN.md principle 1).
    #[allow(clippy::disallowed_methods)]
    let t = std::time::SystemTime::now();
    t.duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// Binds UDP and TCP on the same port for a listener configured with
/// port 0 (a few tries: the TCP port may be taken).
async fn bind_pair(addr: SocketAddr) -> io::Result<(UdpSocket, TcpListener)> {
    let mut last = None;
    for _ in 0..16 {
        let udp = UdpSocket::bind(addr).await?;
        let bound = udp.local_addr()?;
        match TcpListener::bind(bound).await {
            Ok(tcp) => return Ok((udp, tcp)),
            Err(e) if addr.port() == 0 => last = Some(e),
            Err(e) => return Err(e),
        }
    }
    Err(last.unwrap_or_else(|| io::Error::other("no port free for UDP and TCP")))
}

impl TurnFront {
    /// Binds every socket of `config` and starts serving (on the current
    /// tokio runtime). Listeners configured with port 0 are bound on a
    /// port the operating system picks; [`udp_addresses`](Self::udp_addresses)
    /// tells which.
    pub async fn start(mut config: TurnServerConfig) -> Result<TurnFront, FrontError> {
        let mut udp_bound = BTreeMap::new();
        let mut tcp_bound = BTreeMap::new();
        for listen in config.listeners().to_vec() {
            let (udp, tcp) = bind_pair(listen).await?;
            let real = udp.local_addr()?;
            config.set_listener(listen, real);
            udp_bound.insert(real, udp);
            tcp_bound.insert(real, tcp);
        }
        let core = TurnServer::new(config, now()).map_err(FrontError::Config)?;
        for addr in core.udp_addresses() {
            if let std::collections::btree_map::Entry::Vacant(slot) = udp_bound.entry(addr) {
                slot.insert(UdpSocket::bind(addr).await?);
            }
        }
        let udp: Vec<SocketAddr> = udp_bound.keys().copied().collect();
        let tcp: Vec<SocketAddr> = tcp_bound.keys().copied().collect();
        let (stop, stopped) = oneshot::channel();
        let (stats_tx, stats) = watch::channel(core.stats());
        let task = tokio::spawn(run(core, udp_bound, tcp_bound, stopped, stats_tx));
        Ok(TurnFront {
            udp,
            tcp,
            stop: Some(stop),
            task,
            stats,
        })
    }

    /// The UDP sockets served (listeners first by address order).
    pub fn udp_addresses(&self) -> &[SocketAddr] {
        &self.udp
    }

    /// The TCP listeners served.
    pub fn tcp_addresses(&self) -> &[SocketAddr] {
        &self.tcp
    }

    /// The core's counters, as of its last input.
    pub fn stats(&self) -> TurnServerStats {
        *self.stats.borrow()
    }

    /// Stops serving and closes every socket; returns the final counters.
    pub async fn shutdown(mut self) -> TurnServerStats {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        let _ = (&mut self.task).await;
        *self.stats.borrow()
    }
}

impl Drop for TurnFront {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Reads datagrams from `socket` into the core's input.
async fn read_udp(socket: Arc<UdpSocket>, local: SocketAddr, input: mpsc::Sender<Input>) {
    let mut buf = vec![0u8; 65536];
    loop {
        let (n, remote) = match socket.recv_from(&mut buf).await {
            Ok(r) => r,
            // ICMP errors surface as failed reads on some platforms.
            Err(_) => continue,
        };
        let data = buf.get(..n).unwrap_or_default().to_vec();
        let packet = Input::Packet {
            local,
            remote,
            transport: Transport::Datagram,
            data,
        };
        if input.send(packet).await.is_err() {
            return;
        }
    }
}

/// Accepts TCP connections on one listener.
async fn accept_tcp(
    listener: TcpListener,
    local: SocketAddr,
    input: mpsc::Sender<Input>,
    legacy: bool,
) {
    let mut connections = JoinSet::new();
    loop {
        tokio::select! {
            accepted = listener.accept() => {
                let Ok((stream, remote)) = accepted else { continue };
                connections.spawn(serve_tcp(stream, local, remote, input.clone(), legacy));
            }
            Some(_) = connections.join_next(), if !connections.is_empty() => {}
        }
    }
}

/// One TCP connection: frames in, frames out, and the close reported.
async fn serve_tcp(
    stream: TcpStream,
    local: SocketAddr,
    remote: SocketAddr,
    input: mpsc::Sender<Input>,
    legacy: bool,
) {
    let (mut reader, mut writer) = stream.into_split();
    let (tx, mut rx) = mpsc::channel::<Vec<u8>>(TCP_WRITE_QUEUE);
    if input
        .send(Input::TcpOpened {
            local,
            remote,
            writer: tx,
        })
        .await
        .is_err()
    {
        return;
    }
    let write = async move {
        use tokio::io::AsyncWriteExt;
        while let Some(frame) = rx.recv().await {
            if writer.write_all(&frame).await.is_err() {
                break;
            }
        }
    };
    let read = async {
        use tokio::io::AsyncReadExt;
        let mut framer = tcp::Framer::new(legacy);
        let mut buf = vec![0u8; 16384];
        loop {
            let n = match reader.read(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(n) => n,
            };
            framer.push(buf.get(..n).unwrap_or_default());
            loop {
                match framer.next_frame() {
                    Ok(Some(data)) => {
                        let packet = Input::Packet {
                            local,
                            remote,
                            transport: Transport::Stream,
                            data,
                        };
                        if input.send(packet).await.is_err() {
                            return;
                        }
                    }
                    Ok(None) => break,
                    // Out of step: RFC 8489 §6.2.2 leaves no way to
                    // resynchronise; close.
                    Err(_) => return,
                }
            }
        }
    };
    tokio::select! {
        () = read => {}
        () = write => {}
    }
    let _ = input.send(Input::TcpClosed { local, remote }).await;
}

/// The core task.
async fn run(
    mut core: TurnServer,
    udp: BTreeMap<SocketAddr, UdpSocket>,
    tcp: BTreeMap<SocketAddr, TcpListener>,
    mut stopped: oneshot::Receiver<()>,
    stats: watch::Sender<TurnServerStats>,
) {
    let legacy = core.config().legacy_channels;
    let (input, mut inputs) = mpsc::channel(INPUT_QUEUE);
    let mut tasks = JoinSet::new();
    let mut sockets: BTreeMap<SocketAddr, Arc<UdpSocket>> = BTreeMap::new();
    for (addr, socket) in udp {
        let socket = Arc::new(socket);
        tasks.spawn(read_udp(socket.clone(), addr, input.clone()));
        sockets.insert(addr, socket);
    }
    for (addr, listener) in tcp {
        tasks.spawn(accept_tcp(listener, addr, input.clone(), legacy));
    }
    let mut relays: BTreeMap<SocketAddr, (Arc<UdpSocket>, tokio::task::AbortHandle)> =
        BTreeMap::new();
    let mut connections: BTreeMap<(SocketAddr, SocketAddr), mpsc::Sender<Vec<u8>>> =
        BTreeMap::new();
    core.handle_unix_time(now(), unix_seconds());
    loop {
        let deadline = core.poll_timeout().map(tokio::time::Instant::from_std);
        tokio::select! {
            _ = &mut stopped => break,
            received = inputs.recv() => {
                let Some(received) = received else { break };
                let t = now();
                core.handle_unix_time(t, unix_seconds());
                match received {
                    Input::Packet { local, remote, transport, data } => {
                        // Drops are the protocol working (RFC 8489 §6.3).
                        let _ = core.handle_packet(t, local, remote, transport, &data);
                    }
                    Input::TcpOpened { local, remote, writer } => {
                        connections.insert((local, remote), writer);
                    }
                    Input::TcpClosed { local, remote } => {
                        connections.remove(&(local, remote));
                        core.handle_connection_closed(t, local, remote);
                    }
                }
            }
            () = sleep_until(deadline) => core.handle_timeout(now()),
        }
        drive(
            &mut core,
            &mut tasks,
            &input,
            &sockets,
            &mut relays,
            &connections,
        )
        .await;
        stats.send_replace(core.stats());
    }
    tasks.abort_all();
}

async fn sleep_until(deadline: Option<tokio::time::Instant>) {
    match deadline {
        Some(d) => tokio::time::sleep_until(d).await,
        None => std::future::pending().await,
    }
}

/// Drains the core: events (relay binds first), then transmits.
async fn drive(
    core: &mut TurnServer,
    tasks: &mut JoinSet<()>,
    input: &mpsc::Sender<Input>,
    sockets: &BTreeMap<SocketAddr, Arc<UdpSocket>>,
    relays: &mut BTreeMap<SocketAddr, (Arc<UdpSocket>, tokio::task::AbortHandle)>,
    connections: &BTreeMap<(SocketAddr, SocketAddr), mpsc::Sender<Vec<u8>>>,
) {
    loop {
        while let Some(event) = core.poll_event() {
            match event {
                TurnEvent::BindRelay { relay } => {
                    let result = bind_relay(relay).map(|socket| {
                        let socket = Arc::new(socket);
                        let reader = tasks.spawn(read_udp(socket.clone(), relay, input.clone()));
                        relays.insert(relay, (socket, reader));
                    });
                    let _ = core.handle_relay_bound(now(), relay, result.map_err(|e| e.kind()));
                }
                TurnEvent::ReleaseRelay { relay } => {
                    if let Some((_, reader)) = relays.remove(&relay) {
                        reader.abort();
                    }
                }
                _ => {}
            }
        }
        let Some(t) = core.poll_transmit() else {
            break;
        };
        send(t, sockets, relays, connections).await;
    }
}

fn bind_relay(relay: SocketAddr) -> io::Result<UdpSocket> {
    let socket = std::net::UdpSocket::bind(relay)?;
    socket.set_nonblocking(true)?;
    UdpSocket::from_std(socket)
}

async fn send(
    t: TurnTransmit,
    sockets: &BTreeMap<SocketAddr, Arc<UdpSocket>>,
    relays: &BTreeMap<SocketAddr, (Arc<UdpSocket>, tokio::task::AbortHandle)>,
    connections: &BTreeMap<(SocketAddr, SocketAddr), mpsc::Sender<Vec<u8>>>,
) {
    match t.transport {
        Transport::Datagram => {
            let socket = sockets
                .get(&t.from)
                .or_else(|| relays.get(&t.from).map(|(s, _)| s));
            if let Some(socket) = socket {
                // A failed send is a lost datagram, as on the wire.
                let _ = socket.send_to(&t.data, t.to).await;
            }
        }
        Transport::Stream => {
            if let Some(writer) = connections.get(&(t.from, t.to)) {
                let _ = writer.try_send(t.data);
            }
        }
    }
}
