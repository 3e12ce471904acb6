//! The rendezvous server: pairs two peers by room name and relays their
//! lines (see [`super::protocol`] for the messages).
//!
//! One task per connection; the rooms live in one map behind a mutex,
//! held only to look up and change an entry. A room is `Waiting` (one peer
//! and its inbox) or `Paired` (two connection ids); each paired connection
//! holds the other's inbox sender, so a departure is seen by the other as
//! its sender closing, and the room ends with it.
//!
//! Bounds, so that hostile or broken clients cannot take the server down:
//! lines of [`MAX_LINE`] bytes (longer closes the connection), at most
//! [`Limits::max_rooms`] rooms and [`Limits::max_connections`]
//! connections, a first line within [`Limits::join_timeout`], inboxes of
//! [`Limits::inbox`] lines (a peer that does not read loses lines, and its
//! sender is told), and writes within [`super::lines::WRITE_TIMEOUT`].

use std::collections::HashMap;
use std::fmt;
use std::io;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use serde::Serialize;
use tokio::io::AsyncWrite;
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Semaphore, mpsc};

use super::lines::{Line, LineReader, write_line};
use super::protocol::{
    ClientMessage, MAX_LINE, Role, ServerMessage, check_forwardable, check_room,
};

/// The server's bounds.
#[derive(Clone, Copy, Debug)]
pub struct Limits {
    /// Rooms open at once (waiting or paired).
    pub max_rooms: usize,
    /// Connections at once; more are told so and closed.
    pub max_connections: usize,
    /// How long a new connection has to send its `join`.
    pub join_timeout: Duration,
    /// Lines waiting for a slow peer.
    pub inbox: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_rooms: 1000,
            max_connections: 1024,
            join_timeout: Duration::from_secs(30),
            inbox: 64,
        }
    }
}

/// What happened, for the operator (printed as text or as JSON lines).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "event", rename_all = "kebab-case")]
pub enum SignalEvent {
    /// The server is accepting connections.
    Listening {
        /// The bound address.
        address: SocketAddr,
    },
    /// A peer is waiting in a room.
    Joined {
        /// The room.
        room: String,
        /// The peer's address.
        peer: SocketAddr,
    },
    /// Two peers were paired.
    Paired {
        /// The room.
        room: String,
        /// The first joiner.
        controlling: SocketAddr,
        /// The second joiner.
        controlled: SocketAddr,
    },
    /// A connection was refused and closed.
    Refused {
        /// The peer's address.
        peer: SocketAddr,
        /// Why.
        reason: String,
    },
    /// A line was not forwarded; the connection stays.
    Rejected {
        /// The peer's address.
        peer: SocketAddr,
        /// Why.
        reason: String,
    },
    /// A peer left its room.
    Left {
        /// The room.
        room: String,
        /// The peer's address.
        peer: SocketAddr,
        /// Lines it had forwarded to its peer.
        forwarded: u64,
        /// Why the connection ended.
        reason: String,
    },
}

impl fmt::Display for SignalEvent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SignalEvent::Listening { address } => write!(
                f,
                "signalling server listening on {address} (TCP, one JSON object per line)"
            ),
            SignalEvent::Joined { room, peer } => {
                write!(f, "{peer} joined room {room:?}, waiting for a peer")
            }
            SignalEvent::Paired {
                room,
                controlling,
                controlled,
            } => write!(
                f,
                "room {room:?} paired: {controlling} controlling, {controlled} controlled"
            ),
            SignalEvent::Refused { peer, reason } => write!(f, "{peer} refused: {reason}"),
            SignalEvent::Rejected { peer, reason } => {
                write!(f, "{peer}: line not forwarded: {reason}")
            }
            SignalEvent::Left {
                room,
                peer,
                forwarded,
                reason,
            } => write!(
                f,
                "{peer} left room {room:?} ({reason}; {forwarded} lines forwarded)"
            ),
        }
    }
}

/// Where events go.
pub type EventSink = Arc<dyn Fn(SignalEvent) + Send + Sync>;

/// What a connection's inbox receives.
enum Inbox {
    /// A second peer joined this connection's room.
    Paired {
        role: Role,
        peer: mpsc::Sender<Inbox>,
    },
    /// A line from the peer.
    Line(String),
}

enum Room {
    Waiting {
        conn: u64,
        addr: SocketAddr,
        tx: mpsc::Sender<Inbox>,
    },
    Paired {
        conns: [u64; 2],
    },
}

type Rooms = Arc<Mutex<HashMap<String, Room>>>;

/// A running rendezvous server.
pub struct SignalServer {
    listener: TcpListener,
    limits: Limits,
}

impl SignalServer {
    /// Binds `addr`.
    pub async fn bind(addr: SocketAddr, limits: Limits) -> io::Result<SignalServer> {
        Ok(SignalServer {
            listener: TcpListener::bind(addr).await?,
            limits,
        })
    }

    /// The bound address.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.listener.local_addr()
    }

    /// Serves until the task is dropped, reporting to `events` (first
    /// [`SignalEvent::Listening`]).
    pub async fn run(self, events: EventSink) {
        if let Ok(address) = self.listener.local_addr() {
            events(SignalEvent::Listening { address });
        }
        let rooms: Rooms = Arc::default();
        let permits = Arc::new(Semaphore::new(self.limits.max_connections));
        let ids = AtomicU64::new(0);
        let mut tasks = tokio::task::JoinSet::new();
        loop {
            tokio::select! {
                accepted = self.listener.accept() => {
                    let (stream, peer) = match accepted {
                        Ok(a) => a,
                        // Out of descriptors and the like: wait, then go on.
                        Err(_) => {
                            tokio::time::sleep(Duration::from_millis(100)).await;
                            continue;
                        }
                    };
                    let conn = Connection {
                        id: ids.fetch_add(1, Ordering::Relaxed),
                        peer,
                        limits: self.limits,
                        rooms: rooms.clone(),
                        events: events.clone(),
                    };
                    match permits.clone().try_acquire_owned() {
                        Ok(permit) => {
                            tasks.spawn(async move {
                                conn.serve(stream).await;
                                drop(permit);
                            });
                        }
                        Err(_) => {
                            tasks.spawn(async move {
                                let mut stream = stream;
                                let why = "the server is at its connection limit; try again later";
                                conn.refuse(&mut stream, why.into()).await;
                            });
                        }
                    }
                }
                Some(_) = tasks.join_next(), if !tasks.is_empty() => {}
            }
        }
    }
}

/// One client connection.
struct Connection {
    id: u64,
    peer: SocketAddr,
    limits: Limits,
    rooms: Rooms,
    events: EventSink,
}

/// Where a connection stands after its `join`.
enum Joined {
    Waiting,
    Paired(mpsc::Sender<Inbox>),
}

fn error_line(message: &str) -> String {
    serde_json::to_string(&ServerMessage::Error {
        message: message.to_owned(),
    })
    .unwrap_or_default()
}

fn server_line(message: &ServerMessage) -> String {
    serde_json::to_string(message).unwrap_or_default()
}

impl Connection {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Room>> {
        // A panic while holding the lock cannot leave a half-changed entry
        // (every change is one insert or remove), so a poisoned map is fine.
        self.rooms.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Records the refusal before telling the peer (see `reject`).
    async fn refuse<W: AsyncWrite + Unpin>(&self, write: &mut W, reason: String) {
        let line = error_line(&reason);
        (self.events)(SignalEvent::Refused {
            peer: self.peer,
            reason,
        });
        let _ = write_line(write, &line).await;
    }

    /// The room of the first line, a `join`; otherwise the connection is
    /// refused (`None`).
    async fn read_join(
        &self,
        reader: &mut LineReader<OwnedReadHalf>,
        write: &mut OwnedWriteHalf,
    ) -> Option<String> {
        let first = tokio::time::timeout(self.limits.join_timeout, reader.next()).await;
        match first {
            Ok(Ok(Line::Text(line))) => match serde_json::from_str::<ClientMessage>(&line) {
                Ok(ClientMessage::Join { room }) => match check_room(&room) {
                    Ok(()) => return Some(room),
                    Err(why) => self.refuse(write, why).await,
                },
                Err(_) => {
                    let why = r#"the first line must be {"type":"join","room":"NAME"}"#;
                    self.refuse(write, why.into()).await;
                }
            },
            Ok(Ok(Line::TooLong)) => {
                let why = format!("a line longer than {MAX_LINE} bytes");
                self.refuse(write, why).await;
            }
            Ok(Ok(Line::NotUtf8)) => {
                let why = "the first line is not UTF-8".to_owned();
                self.refuse(write, why).await;
            }
            Ok(Ok(Line::Eof) | Err(_)) => {}
            Err(_) => {
                let why = format!("no join within {} s", self.limits.join_timeout.as_secs());
                self.refuse(write, why).await;
            }
        }
        None
    }

    async fn serve(self, stream: TcpStream) {
        let (read, mut write) = stream.into_split();
        let mut reader = LineReader::new(read, MAX_LINE);
        let Some(room) = self.read_join(&mut reader, &mut write).await else {
            return;
        };
        let (tx, mut rx) = mpsc::channel(self.limits.inbox.max(1));
        let joined = match self.join(&room, tx) {
            Ok(j) => j,
            Err(why) => return self.refuse(&mut write, why).await,
        };
        let mut peer = match joined {
            Joined::Waiting => {
                (self.events)(SignalEvent::Joined {
                    room: room.clone(),
                    peer: self.peer,
                });
                None
            }
            Joined::Paired(peer) => {
                let paired = server_line(&ServerMessage::Paired {
                    role: Role::Controlled,
                });
                if write_line(&mut write, &paired).await.is_err() {
                    drop(peer);
                    return self.leave(&room, 0, "could not write").await;
                }
                Some(peer)
            }
        };
        let mut forwarded = 0u64;
        let reason = loop {
            tokio::select! {
                biased;
                inbox = rx.recv() => match inbox {
                    Some(Inbox::Paired { role, peer: p }) => {
                        peer = Some(p);
                        if write_line(&mut write, &server_line(&ServerMessage::Paired { role })).await.is_err() {
                            break "could not write";
                        }
                    }
                    Some(Inbox::Line(line)) => {
                        if write_line(&mut write, &line).await.is_err() {
                            break "could not write";
                        }
                    }
                    None => {
                        let _ = write_line(&mut write, &server_line(&ServerMessage::PeerLeft)).await;
                        break "its peer left";
                    }
                },
                () = closed(&peer) => {
                    let _ = write_line(&mut write, &server_line(&ServerMessage::PeerLeft)).await;
                    break "its peer left";
                }
                line = reader.next() => {
                    let line = match line {
                        Ok(Line::Text(line)) => line,
                        Ok(Line::NotUtf8) => {
                            self.reject(&mut write, "the line is not UTF-8".into()).await;
                            continue;
                        }
                        Ok(Line::TooLong) => {
                            let why = format!("a line longer than {MAX_LINE} bytes; closing");
                            let _ = write_line(&mut write, &error_line(&why)).await;
                            break "it sent a line that is too long";
                        }
                        Ok(Line::Eof) | Err(_) => break "it closed the connection",
                    };
                    let Some(p) = &peer else {
                        self.reject(&mut write, "no peer yet: wait for {\"type\":\"paired\"}".into()).await;
                        continue;
                    };
                    if let Err(why) = check_forwardable(&line) {
                        self.reject(&mut write, why).await;
                        continue;
                    }
                    match p.try_send(Inbox::Line(line)) {
                        Ok(()) => forwarded += 1,
                        Err(mpsc::error::TrySendError::Full(_)) => {
                            let why = "the peer is not reading; the line was dropped".to_owned();
                            self.reject(&mut write, why).await;
                        }
                        // Its task is ending; `closed` reports it next.
                        Err(mpsc::error::TrySendError::Closed(_)) => {}
                    }
                }
            }
        };
        drop(peer);
        self.leave(&room, forwarded, reason).await;
    }

    /// Enters `room`: waits there, or pairs with the peer waiting.
    fn join(&self, room: &str, tx: mpsc::Sender<Inbox>) -> Result<Joined, String> {
        let mut rooms = self.lock();
        let waiting = match rooms.get(room) {
            None => None,
            Some(Room::Waiting { tx: first, .. }) if first.is_closed() => None,
            Some(Room::Waiting {
                conn,
                addr,
                tx: first,
            }) => Some((*conn, *addr, first.clone())),
            Some(Room::Paired { .. }) => return Err(format!("room {room} is full")),
        };
        let mine = Room::Waiting {
            conn: self.id,
            addr: self.peer,
            tx: tx.clone(),
        };
        let Some((first_id, first_addr, first)) = waiting else {
            if !rooms.contains_key(room) && rooms.len() >= self.limits.max_rooms {
                return Err(format!(
                    "the server has {} rooms open, its limit; try again later",
                    self.limits.max_rooms
                ));
            }
            rooms.insert(room.to_owned(), mine);
            return Ok(Joined::Waiting);
        };
        let paired = Inbox::Paired {
            role: Role::Controlling,
            peer: tx,
        };
        if first.try_send(paired).is_err() {
            // The first peer is going: take its place.
            rooms.insert(room.to_owned(), mine);
            return Ok(Joined::Waiting);
        }
        rooms.insert(
            room.to_owned(),
            Room::Paired {
                conns: [first_id, self.id],
            },
        );
        drop(rooms);
        (self.events)(SignalEvent::Paired {
            room: room.to_owned(),
            controlling: first_addr,
            controlled: self.peer,
        });
        Ok(Joined::Paired(first))
    }

    /// Records the refusal, then tells the peer. The event comes first so
    /// the server's log never shows a refusal after what the peer did next.
    async fn reject<W: AsyncWrite + Unpin>(&self, write: &mut W, reason: String) {
        let line = error_line(&reason);
        (self.events)(SignalEvent::Rejected {
            peer: self.peer,
            reason,
        });
        let _ = write_line(write, &line).await;
    }

    async fn leave(&self, room: &str, forwarded: u64, reason: &str) {
        {
            let mut rooms = self.lock();
            let mine = match rooms.get(room) {
                Some(Room::Waiting { conn, .. }) => *conn == self.id,
                Some(Room::Paired { conns }) => conns.contains(&self.id),
                None => false,
            };
            if mine {
                rooms.remove(room);
            }
        }
        (self.events)(SignalEvent::Left {
            room: room.to_owned(),
            peer: self.peer,
            forwarded,
            reason: reason.to_owned(),
        });
    }
}

/// Resolves when the peer's inbox is gone (never without a peer).
async fn closed(peer: &Option<mpsc::Sender<Inbox>>) {
    match peer {
        Some(p) => p.closed().await,
        None => std::future::pending().await,
    }
}
