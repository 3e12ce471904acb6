//! The driver's edge to the operating system: which local addresses to
//! use (RFC 8445 §5.1.1.1: one host candidate per interface address) and
//! one UDP socket bound on each, with a reader task per socket.

use std::io;
use std::net::{IpAddr, SocketAddr, SocketAddrV6};
use std::sync::Arc;

use tokio::net::UdpSocket;
use tokio::sync::{mpsc, watch};

use super::DriverError;
use super::path::is_application_data;
use super::task::Status;

/// Where the driver binds its sockets.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum LocalAddresses {
    /// Every address of every interface that is not down, as the
    /// `if-addrs` crate lists them; loopback and link-local ones only if
    /// [`AgentConfig::include_loopback`](crate::AgentConfig) /
    /// `include_link_local` ask for them. Each gets an ephemeral port.
    Interfaces,
    /// These IPs, each on an ephemeral port.
    Ips(Vec<IpAddr>),
    /// Exactly these socket addresses (port 0 picks one).
    Sockets(Vec<SocketAddr>),
}

/// The addresses [`LocalAddresses::Interfaces`] stands for.
pub(super) fn interface_addresses(
    include_loopback: bool,
    include_link_local: bool,
) -> Result<Vec<SocketAddr>, DriverError> {
    let interfaces = if_addrs::get_if_addrs().map_err(DriverError::Interfaces)?;
    let mut out = Vec::new();
    for i in interfaces {
        let down = matches!(
            i.oper_status,
            if_addrs::IfOperStatus::Down | if_addrs::IfOperStatus::NotPresent
        );
        if down || (i.is_loopback() && !include_loopback) {
            continue;
        }
        if i.is_link_local() && !include_link_local {
            continue;
        }
        let addr = match i.ip() {
            // A link-local IPv6 address names its interface.
            IpAddr::V6(v6) if i.is_link_local() => {
                SocketAddr::V6(SocketAddrV6::new(v6, 0, 0, i.index.unwrap_or(0)))
            }
            ip => SocketAddr::new(ip, 0),
        };
        if !out.contains(&addr) {
            out.push(addr);
        }
    }
    Ok(out)
}

/// Binds one UDP socket per address.
pub(super) async fn bind_all(addrs: &[SocketAddr]) -> Result<Vec<Arc<UdpSocket>>, DriverError> {
    let mut sockets = Vec::with_capacity(addrs.len());
    for &addr in addrs {
        let socket = UdpSocket::bind(addr)
            .await
            .map_err(|source| DriverError::Bind { addr, source })?;
        sockets.push(Arc::new(socket));
    }
    Ok(sockets)
}

/// A datagram for the agent: the local socket it arrived on, the sender,
/// the bytes.
pub(super) type Arrival = (SocketAddr, SocketAddr, Vec<u8>);

/// The largest datagram read (UDP's limit).
const MAX_DATAGRAM: usize = 65_535;

/// Reads `socket` until the agent goes away. Application data on the
/// selected path goes straight to the connection; everything else to the
/// agent's task.
pub(super) async fn read_loop(
    socket: Arc<UdpSocket>,
    local: SocketAddr,
    to_agent: mpsc::Sender<Arrival>,
    to_app: mpsc::Sender<Vec<u8>>,
    status: watch::Receiver<Status>,
) {
    let mut buf = vec![0u8; MAX_DATAGRAM];
    loop {
        let (n, from) = match socket.recv_from(&mut buf).await {
            Ok(r) => r,
            Err(e) if transient(&e) => continue,
            Err(e) => {
                tracing::warn!(%local, error = %e, "socket read failed; no longer reading it");
                return;
            }
        };
        let data = buf.get(..n).unwrap_or_default();
        let direct = status
            .borrow()
            .path
            .as_ref()
            .is_some_and(|p| p.receives(local, from) && is_application_data(data));
        if direct {
            // Datagram semantics: when the application is not reading,
            // new data is dropped rather than stalling the checks.
            let _ = to_app.try_send(data.to_vec());
            continue;
        }
        if to_agent.send((local, from, data.to_vec())).await.is_err() {
            return;
        }
    }
}

/// Errors a UDP socket reports for an earlier datagram (ICMP port
/// unreachable and the like): the socket itself still works.
fn transient(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::ConnectionRefused
            | io::ErrorKind::ConnectionReset
            | io::ErrorKind::HostUnreachable
            | io::ErrorKind::NetworkUnreachable
            | io::ErrorKind::Interrupted
            | io::ErrorKind::WouldBlock
    )
}
