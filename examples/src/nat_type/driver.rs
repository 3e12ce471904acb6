//! Runs sans-IO discovery state machines over real UDP sockets with tokio:
//! the verb grammar of the stack (`handle_packet`, `handle_timeout`, then
//! drain `poll_transmit` and `poll_event`, sleep until `poll_timeout`)
//! around sockets and tokio's timer.
//!
//! The edge also decides one thing the state machines cannot: a server
//! that answers nothing at all. If no datagram arrives within one STUN
//! transaction timeout (RFC 8489 §6.2.1: 39.5 s with the defaults), the
//! run stops with [`Unreachable`] instead of letting every test exhaust its
//! retries.

use std::collections::HashMap;
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::{Duration, Instant};

use candidate_gather::nat::{ClassicDiscovery, DiscoveryEvent, Rfc5780Discovery};
use stun_proto::Transmit;
use tokio::net::UdpSocket;
use tokio::sync::mpsc;
use tokio::task::JoinSet;

use crate::clock::now;

/// A discovery state machine as the driver sees it.
pub trait Discovery {
    /// Offers a datagram (ignored ones change nothing).
    fn handle_packet(&mut self, now: Instant, local: SocketAddr, remote: SocketAddr, data: &[u8]);
    /// Wakes it at or after its timeout.
    fn handle_timeout(&mut self, now: Instant);
    /// The next datagram to send.
    fn poll_transmit(&mut self) -> Option<Transmit>;
    /// When to wake it.
    fn poll_timeout(&self) -> Option<Instant>;
    /// Progress.
    fn poll_event(&mut self) -> Option<DiscoveryEvent>;
    /// Whether its report is ready.
    fn is_finished(&self) -> bool;
}

macro_rules! discovery {
    ($t:ty) => {
        impl Discovery for $t {
            fn handle_packet(
                &mut self,
                now: Instant,
                local: SocketAddr,
                remote: SocketAddr,
                data: &[u8],
            ) {
                // Stray and malformed datagrams are the network's; ignored.
                let _ = <$t>::handle_packet(self, now, local, remote, data);
            }
            fn handle_timeout(&mut self, now: Instant) {
                <$t>::handle_timeout(self, now)
            }
            fn poll_transmit(&mut self) -> Option<Transmit> {
                <$t>::poll_transmit(self)
            }
            fn poll_timeout(&self) -> Option<Instant> {
                <$t>::poll_timeout(self)
            }
            fn poll_event(&mut self) -> Option<DiscoveryEvent> {
                <$t>::poll_event(self)
            }
            fn is_finished(&self) -> bool {
                self.report().is_some()
            }
        }
    };
}

discovery!(Rfc5780Discovery);
discovery!(ClassicDiscovery);

/// No datagram at all came back within the deadline.
#[derive(Debug)]
pub struct Unreachable {
    /// Requests sent.
    pub sent: usize,
    /// How long the run waited.
    pub waited: Duration,
    /// The first error a send returned, if any (e.g. no route).
    pub send_error: Option<io::Error>,
}

/// UDP sockets with one reader task each, feeding one queue.
pub struct Sockets {
    sockets: HashMap<SocketAddr, Arc<UdpSocket>>,
    received: mpsc::Receiver<(SocketAddr, SocketAddr, Vec<u8>)>,
    _readers: JoinSet<()>,
}

impl Sockets {
    /// Binds `n` sockets on `ip`, ports picked by the system; returns them
    /// and their addresses in order.
    pub fn bind(ip: IpAddr, n: usize) -> io::Result<(Sockets, Vec<SocketAddr>)> {
        let (tx, received) = mpsc::channel(1024);
        let mut readers = JoinSet::new();
        let mut sockets = HashMap::new();
        let mut addrs = Vec::new();
        for _ in 0..n {
            let std = std::net::UdpSocket::bind(SocketAddr::new(ip, 0))?;
            std.set_nonblocking(true)?;
            let socket = Arc::new(UdpSocket::from_std(std)?);
            let local = socket.local_addr()?;
            readers.spawn(read(socket.clone(), local, tx.clone()));
            sockets.insert(local, socket);
            addrs.push(local);
        }
        Ok((
            Sockets {
                sockets,
                received,
                _readers: readers,
            },
            addrs,
        ))
    }
}

async fn read(
    socket: Arc<UdpSocket>,
    local: SocketAddr,
    tx: mpsc::Sender<(SocketAddr, SocketAddr, Vec<u8>)>,
) {
    let mut buf = vec![0u8; 2048];
    loop {
        // ICMP errors may surface as failed reads; they are lost datagrams.
        let Ok((n, remote)) = socket.recv_from(&mut buf).await else {
            continue;
        };
        let data = buf.get(..n).unwrap_or_default().to_vec();
        if tx.send((local, remote, data)).await.is_err() {
            return;
        }
    }
}

/// One state machine and the sockets it owns.
pub struct Machine<'a> {
    /// The state machine.
    pub discovery: &'a mut dyn Discovery,
    /// Its sockets (datagrams arriving on them are its).
    pub sockets: Vec<SocketAddr>,
}

/// Runs `machines` until all are finished, or fails with [`Unreachable`]
/// if nothing at all arrives within `unreachable_after`. `progress` sees
/// every event.
pub async fn drive(
    sockets: &mut Sockets,
    machines: &mut [Machine<'_>],
    unreachable_after: Duration,
    mut progress: impl FnMut(&DiscoveryEvent),
) -> Result<(), Unreachable> {
    let start = tokio::time::Instant::now();
    let mut heard = false;
    let mut sent = 0usize;
    let mut send_error = None;
    loop {
        for m in machines.iter_mut() {
            while let Some(t) = m.discovery.poll_transmit() {
                let Some(socket) = sockets.sockets.get(&t.from) else {
                    continue;
                };
                sent += 1;
                // A failed send is a lost datagram, as on the wire.
                if let Err(e) = socket.send_to(&t.data, t.to).await {
                    send_error.get_or_insert(e);
                }
            }
            while let Some(e) = m.discovery.poll_event() {
                progress(&e);
            }
        }
        if machines.iter().all(|m| m.discovery.is_finished()) {
            return Ok(());
        }
        let wake = machines
            .iter()
            .filter_map(|m| m.discovery.poll_timeout())
            .min()
            .map(tokio::time::Instant::from_std);
        let give_up = start + unreachable_after;
        tokio::select! {
            received = sockets.received.recv() => {
                let Some((local, remote, data)) = received else { continue };
                heard = true;
                let t = now();
                if let Some(m) = machines.iter_mut().find(|m| m.sockets.contains(&local)) {
                    m.discovery.handle_packet(t, local, remote, &data);
                }
            }
            () = sleep_until(wake) => {
                let t = now();
                // Early calls are harmless: only what is due happens.
                for m in machines.iter_mut() {
                    m.discovery.handle_timeout(t);
                }
            }
            () = tokio::time::sleep_until(give_up), if !heard => {
                return Err(Unreachable { sent, waited: unreachable_after, send_error });
            }
        }
    }
}

async fn sleep_until(deadline: Option<tokio::time::Instant>) {
    match deadline {
        Some(d) => tokio::time::sleep_until(d).await,
        None => std::future::pending().await,
    }
}

/// The local IP the system would send from to reach `server` (no packet is
/// sent: a connected UDP socket only picks a route).
pub fn route_source(server: SocketAddr) -> io::Result<IpAddr> {
    let any: SocketAddr = if server.is_ipv4() {
        (std::net::Ipv4Addr::UNSPECIFIED, 0).into()
    } else {
        (std::net::Ipv6Addr::UNSPECIFIED, 0).into()
    };
    let probe = std::net::UdpSocket::bind(any)?;
    probe.connect(server)?;
    Ok(probe.local_addr()?.ip())
}
