//! TCP for [`super::RealNet`]: listeners that post accepted streams, and
//! stream readers that cut bytes into STUN and ChannelData frames
//! (RFC 8489 §6.2.2, RFC 8656 §12.5) and post each like a datagram.

use std::collections::HashMap;
use std::io::{self, Read};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::Sender;
use std::thread::JoinHandle;

use super::{EndpointId, Event, READ_POLL};

/// The net's streams by (local, remote), and its listeners by address.
#[derive(Default)]
pub(super) struct Streams {
    pub(super) streams: HashMap<(SocketAddr, SocketAddr), (TcpStream, EndpointId)>,
    pub(super) listeners: HashMap<SocketAddr, EndpointId>,
}

/// Binds a listener and starts its accept thread.
pub(super) fn listen(
    addr: SocketAddr,
    tx: Sender<Event>,
    stop: Arc<AtomicBool>,
) -> io::Result<(SocketAddr, JoinHandle<()>)> {
    let listener = TcpListener::bind(addr)?;
    let local = listener.local_addr()?;
    // std has no accept timeout: poll a non-blocking listener.
    listener.set_nonblocking(true)?;
    let handle = std::thread::Builder::new()
        .name(format!("realnet listen {local}"))
        .spawn(move || {
            while !stop.load(Ordering::SeqCst) {
                match listener.accept() {
                    Ok((stream, _)) => {
                        if stream.set_nonblocking(false).is_err() {
                            continue;
                        }
                        let event = Event::Accepted {
                            listener: local,
                            stream,
                        };
                        if tx.send(event).is_err() {
                            return;
                        }
                    }
                    Err(_) => std::thread::sleep(READ_POLL / 5),
                }
            }
        })?;
    Ok((local, handle))
}

/// Starts the reader of a stream.
pub(super) fn spawn_reader(
    stream: &TcpStream,
    tx: Sender<Event>,
    stop: Arc<AtomicBool>,
) -> io::Result<JoinHandle<()>> {
    let local = stream.local_addr()?;
    let remote = stream.peer_addr()?;
    let mut reader = stream.try_clone()?;
    reader.set_read_timeout(Some(READ_POLL))?;
    std::thread::Builder::new()
        .name(format!("realnet tcp {local}<->{remote}"))
        .spawn(move || {
            let out_of_step = read_frames(&mut reader, local, remote, &tx, &stop);
            let _ = tx.send(Event::StreamClosed {
                local,
                remote,
                out_of_step,
            });
        })
}

/// Reads until the stream ends or the net stops; returns whether it ended
/// because the bytes were out of step.
fn read_frames(
    reader: &mut TcpStream,
    local: SocketAddr,
    remote: SocketAddr,
    tx: &Sender<Event>,
    stop: &AtomicBool,
) -> bool {
    let mut pending: Vec<u8> = Vec::new();
    let mut buf = vec![0u8; 16 * 1024];
    while !stop.load(Ordering::SeqCst) {
        let n = match reader.read(&mut buf) {
            Ok(0) => return false,
            Ok(n) => n,
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::WouldBlock
                        | io::ErrorKind::TimedOut
                        | io::ErrorKind::Interrupted
                ) =>
            {
                continue;
            }
            Err(_) => return false,
        };
        pending.extend_from_slice(buf.get(..n).unwrap_or_default());
        loop {
            match stun_proto::frame_len(&pending) {
                Ok(Some(len)) if len <= pending.len() => {
                    let data: Vec<u8> = pending.drain(..len).collect();
                    let event = Event::Packet {
                        local,
                        remote,
                        data,
                    };
                    if tx.send(event).is_err() {
                        return false;
                    }
                }
                Ok(_) => break,
                Err(_) => return true,
            }
        }
    }
    false
}
