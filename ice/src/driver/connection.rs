//! The connection over the selected pair ([`IceAgent::connect`](super::IceAgent::connect)).

use tokio::sync::{mpsc, oneshot, watch};

use super::ConnectionError;
use super::task::{Command, Status};
use crate::{AgentError, Candidate, ConnectionState};

/// Datagrams to and from the peer over the selected pair.
///
/// The pair follows the agent: a renomination or an ICE restart moves the
/// data to the new selected pair without the application noticing. On a
/// direct pair datagrams go straight to and from the socket; on a relayed
/// one through the agent's TURN client (Send indications, then a
/// channel). Application data must not look like STUN (RFC 7983: a first
/// byte of 0-3 is taken for STUN).
pub struct Connection {
    commands: mpsc::UnboundedSender<Command>,
    status: watch::Receiver<Status>,
    data: mpsc::Receiver<Vec<u8>>,
}

impl Connection {
    pub(super) fn new(
        commands: mpsc::UnboundedSender<Command>,
        status: watch::Receiver<Status>,
        data: mpsc::Receiver<Vec<u8>>,
    ) -> Connection {
        Connection {
            commands,
            status,
            data,
        }
    }

    /// Sends one datagram to the peer over the selected pair.
    pub async fn send(&self, data: &[u8]) -> Result<(), ConnectionError> {
        let direct = {
            let s = self.status.borrow();
            s.path
                .as_ref()
                .and_then(|p| p.direct().map(|(socket, to)| (socket.clone(), to)))
        };
        if let Some((socket, to)) = direct {
            return socket
                .send_to(data, to)
                .await
                .map(|_| ())
                .map_err(ConnectionError::Io);
        }
        let (tx, rx) = oneshot::channel();
        self.commands
            .send(Command::Send(data.to_vec(), tx))
            .map_err(|_| ConnectionError::Closed)?;
        match rx.await {
            Ok(Ok(())) => Ok(()),
            Ok(Err(AgentError::Closed)) | Err(_) => Err(ConnectionError::Closed),
            Ok(Err(e)) => Err(ConnectionError::NotConnected(e)),
        }
    }

    /// The next datagram from the peer; [`ConnectionError::Closed`] once
    /// the agent has stopped.
    pub async fn recv(&mut self) -> Result<Vec<u8>, ConnectionError> {
        self.data.recv().await.ok_or(ConnectionError::Closed)
    }

    /// The selected pair now: (local, remote).
    pub fn selected_pair(&self) -> Option<(Candidate, Candidate)> {
        self.status
            .borrow()
            .path
            .as_ref()
            .map(|p| (p.local.clone(), p.remote.clone()))
    }

    /// The stream's state now.
    pub fn state(&self) -> ConnectionState {
        self.status.borrow().state
    }

    /// Closes the agent (TURN allocations released), as
    /// [`IceAgent::close`](super::IceAgent::close).
    pub async fn close(self) {
        super::close(&self.commands).await;
    }
}
