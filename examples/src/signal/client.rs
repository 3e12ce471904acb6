//! The peer's side of the rendezvous protocol: join a room, wait to be
//! paired, then exchange [`PeerMessage`]s.
//!
//! ```no_run
//! # async fn demo() -> Result<(), icectl::signal::SignalError> {
//! use icectl::signal::{Incoming, PeerMessage, SignalClient};
//! let (role, mut tx, mut rx) = SignalClient::join("127.0.0.1:7000".parse().unwrap(), "lobby").await?;
//! tx.send(&PeerMessage::EndOfCandidates).await?;
//! while let Incoming::Peer(msg) = rx.recv().await? {
//!     println!("{role:?} got {msg:?}");
//! }
//! # Ok(()) }
//! ```

use std::fmt;
use std::io;
use std::net::SocketAddr;

use tokio::net::TcpStream;
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};

use super::lines::{Line, LineReader, write_line};
use super::protocol::{ClientMessage, MAX_LINE, PeerMessage, Role, ServerMessage, check_room};

/// Why signalling failed.
#[derive(Debug)]
#[non_exhaustive]
pub enum SignalError {
    /// The server could not be reached.
    Connect {
        /// The server.
        server: SocketAddr,
        /// The socket error.
        error: io::Error,
    },
    /// The room name is not acceptable.
    Room(String),
    /// The server refused (its `error` message).
    Refused(String),
    /// The server or peer sent something that is not the protocol.
    Protocol(String),
    /// Reading or writing failed.
    Io(io::Error),
}

impl fmt::Display for SignalError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SignalError::Connect { server, error } => {
                write!(
                    f,
                    "cannot connect to the signalling server {server}: {error}"
                )
            }
            SignalError::Room(why) => write!(f, "bad room name: {why}"),
            SignalError::Refused(why) => write!(f, "the signalling server refused: {why}"),
            SignalError::Protocol(why) => write!(f, "signalling protocol error: {why}"),
            SignalError::Io(e) => write!(f, "signalling connection failed: {e}"),
        }
    }
}

impl std::error::Error for SignalError {}

impl From<io::Error> for SignalError {
    fn from(e: io::Error) -> Self {
        SignalError::Io(e)
    }
}

/// What the other side said.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Incoming {
    /// A message from the peer.
    Peer(PeerMessage),
    /// The peer left; the room is closed.
    PeerLeft,
    /// The server closed the connection.
    Closed,
}

/// Joins rooms on a rendezvous server.
#[derive(Debug)]
pub struct SignalClient;

impl SignalClient {
    /// Connects to `server`, joins `room` and waits (as long as it takes)
    /// until a second peer joins; returns this peer's role and the two
    /// halves of the conversation.
    pub async fn join(
        server: SocketAddr,
        room: &str,
    ) -> Result<(Role, SignalSender, SignalReceiver), SignalError> {
        check_room(room).map_err(SignalError::Room)?;
        let stream = TcpStream::connect(server)
            .await
            .map_err(|error| SignalError::Connect { server, error })?;
        let (read, mut write) = stream.into_split();
        let join = ClientMessage::Join {
            room: room.to_owned(),
        };
        write_line(&mut write, &to_line(&join)?).await?;
        let mut rx = SignalReceiver {
            lines: LineReader::new(read, MAX_LINE),
        };
        let Some(line) = rx.next_text().await? else {
            return Err(SignalError::Protocol(
                "the server closed the connection before pairing".into(),
            ));
        };
        let role = match serde_json::from_str::<ServerMessage>(&line) {
            Ok(ServerMessage::Paired { role }) => role,
            Ok(ServerMessage::Error { message }) => return Err(SignalError::Refused(message)),
            Ok(ServerMessage::PeerLeft) | Err(_) => {
                return Err(SignalError::Protocol(format!(
                    "expected `paired`, got {line}"
                )));
            }
        };
        Ok((role, SignalSender { write }, rx))
    }
}

fn to_line<T: serde::Serialize>(msg: &T) -> Result<String, SignalError> {
    serde_json::to_string(msg).map_err(|e| SignalError::Protocol(e.to_string()))
}

/// Sends [`PeerMessage`]s to the peer.
#[derive(Debug)]
pub struct SignalSender {
    write: OwnedWriteHalf,
}

impl SignalSender {
    /// Sends one message.
    pub async fn send(&mut self, msg: &PeerMessage) -> Result<(), SignalError> {
        write_line(&mut self.write, &to_line(msg)?).await?;
        Ok(())
    }
}

/// Receives the peer's messages.
#[derive(Debug)]
pub struct SignalReceiver {
    lines: LineReader<OwnedReadHalf>,
}

impl SignalReceiver {
    async fn next_text(&mut self) -> Result<Option<String>, SignalError> {
        match self.lines.next().await? {
            Line::Text(t) => Ok(Some(t)),
            Line::Eof => Ok(None),
            Line::TooLong => Err(SignalError::Protocol(format!(
                "a line longer than {MAX_LINE} bytes"
            ))),
            Line::NotUtf8 => Err(SignalError::Protocol("a line that is not UTF-8".into())),
        }
    }

    /// The next message. A server `error` (a line of ours it refused) is
    /// returned as [`SignalError::Refused`]; the connection stays usable.
    /// Peer messages of unknown types are skipped.
    pub async fn recv(&mut self) -> Result<Incoming, SignalError> {
        loop {
            let Some(line) = self.next_text().await? else {
                return Ok(Incoming::Closed);
            };
            if let Ok(msg) = serde_json::from_str::<PeerMessage>(&line) {
                return Ok(Incoming::Peer(msg));
            }
            match serde_json::from_str::<ServerMessage>(&line) {
                Ok(ServerMessage::PeerLeft) => return Ok(Incoming::PeerLeft),
                Ok(ServerMessage::Error { message }) => return Err(SignalError::Refused(message)),
                Ok(ServerMessage::Paired { .. }) => {
                    return Err(SignalError::Protocol("paired twice".into()));
                }
                // An extension this client does not know.
                Err(_) => continue,
            }
        }
    }
}
