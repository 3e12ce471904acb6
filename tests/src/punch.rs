//! UDP hole punching through a rendezvous server, as sans-IO endpoints for
//! netsim: the experiment that shows, NAT pair by NAT pair, where punching
//! works (the table in the README).
//!
//! Protocol (text datagrams, one socket per client):
//! - `REG <room> <name> <private-addr>`: a client registers, every 500 ms
//!   until it hears of a peer (which also keeps its NAT mapping alive). The
//!   server notes the public address the datagram came from.
//! - `PEER <name> <public-addr> <private-addr>`: once two clients are in a
//!   room, the server tells each about the other (and repeats it to every
//!   later REG).
//! - `PUNCH <name>` every 100 ms to the peer's public and (if enabled)
//!   private address, and to any address a PUNCH or ACK from the peer came
//!   from (a peer-reflexive address, as ICE would learn it).
//! - `ACK <name>`: the answer to a PUNCH, sent to where the PUNCH came from.
//!   A client that receives an ACK has a path both ways: it is connected.
//!   Punching stops after [`PUNCH_FOR`].
//!
//! Malformed datagrams are ignored: these endpoints parse network input and
//! must not panic on it.

use std::collections::{BTreeMap, VecDeque};
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use stun_proto::Transmit;

/// How often a client re-registers while waiting for a peer.
pub const REGISTER_EVERY: Duration = Duration::from_millis(500);
/// How often a client punches.
pub const PUNCH_EVERY: Duration = Duration::from_millis(100);
/// How long a client punches before giving up.
pub const PUNCH_FOR: Duration = Duration::from_secs(10);

/// The rendezvous server.
#[derive(Debug, Default)]
pub struct Rendezvous {
    rooms: BTreeMap<String, Vec<(String, SocketAddr, SocketAddr)>>,
    out: VecDeque<Transmit>,
}

impl Rendezvous {
    /// An empty server.
    pub fn new() -> Self {
        Self::default()
    }

    /// Takes a REG; anything else is ignored.
    pub fn handle_packet(
        &mut self,
        _now: Instant,
        local: SocketAddr,
        remote: SocketAddr,
        data: &[u8],
    ) {
        let Some(text) = std::str::from_utf8(data).ok() else {
            return;
        };
        let mut words = text.split(' ');
        let (Some("REG"), Some(room), Some(name), Some(private), None) = (
            words.next(),
            words.next(),
            words.next(),
            words.next(),
            words.next(),
        ) else {
            return;
        };
        let Ok(private) = private.parse::<SocketAddr>() else {
            return;
        };
        let peers = self.rooms.entry(room.to_owned()).or_default();
        let entry = (name.to_owned(), remote, private);
        match peers.iter().position(|(n, _, _)| n == name) {
            Some(i) => {
                if let Some(slot) = peers.get_mut(i) {
                    *slot = entry;
                }
            }
            None if peers.len() < 2 => peers.push(entry),
            None => return,
        }
        let peers = peers.clone();
        if let [a, b] = peers.as_slice() {
            for (to, other) in [(a, b), (b, a)] {
                let msg = format!("PEER {} {} {}", other.0, other.1, other.2);
                self.out.push_back(Transmit {
                    from: local,
                    to: to.1,
                    data: msg.into_bytes(),
                });
            }
        }
    }

    /// Nothing times out on the server.
    pub fn handle_timeout(&mut self, _now: Instant) {}

    /// The next datagram to send.
    pub fn poll_transmit(&mut self) -> Option<Transmit> {
        self.out.pop_front()
    }

    /// The server has no timers.
    pub fn poll_timeout(&self) -> Option<Instant> {
        None
    }
}

/// Which of the peer's addresses the working path uses.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum PathKind {
    /// The peer's private (LAN) address.
    Private,
    /// The public address the rendezvous server saw.
    Public,
    /// An address learnt from the peer's packets (a new NAT mapping).
    PeerReflexive,
}

/// How punching ended (or `Pending`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PunchState {
    /// Registering or punching.
    Pending,
    /// An ACK came back: the path works both ways.
    Connected {
        /// The peer address the ACK came from.
        remote: SocketAddr,
        /// Which kind of address that is.
        path: PathKind,
    },
    /// Punching ran out of time, or no peer ever showed up.
    Failed,
}

#[derive(Clone, Copy, Debug)]
struct Peer {
    public: SocketAddr,
    private: SocketAddr,
}

/// A punching client on one socket.
#[derive(Debug)]
pub struct PunchClient {
    name: String,
    room: String,
    local: SocketAddr,
    rendezvous: SocketAddr,
    use_private: bool,
    peer: Option<Peer>,
    learnt: Vec<SocketAddr>,
    punch_started: Option<Instant>,
    next: Instant,
    state: PunchState,
    stopped: bool,
    out: VecDeque<Transmit>,
    give_up_at: Instant,
}

impl PunchClient {
    /// A client named `name` in `room`, on socket `local` (which is also
    /// the private address it announces).
    pub fn new(
        now: Instant,
        name: &str,
        room: &str,
        local: SocketAddr,
        rendezvous: SocketAddr,
        use_private: bool,
    ) -> Self {
        PunchClient {
            name: name.to_owned(),
            room: room.to_owned(),
            local,
            rendezvous,
            use_private,
            peer: None,
            learnt: Vec::new(),
            punch_started: None,
            next: now,
            state: PunchState::Pending,
            stopped: false,
            out: VecDeque::new(),
            // Without a peer within a minute, give up too.
            give_up_at: now + Duration::from_secs(60),
        }
    }

    /// How punching stands.
    pub fn state(&self) -> PunchState {
        self.state
    }

    fn send(&mut self, to: SocketAddr, text: String) {
        self.out.push_back(Transmit {
            from: self.local,
            to,
            data: text.into_bytes(),
        });
    }

    fn classify(&self, addr: SocketAddr) -> PathKind {
        match self.peer {
            Some(p) if p.private == addr => PathKind::Private,
            Some(p) if p.public == addr => PathKind::Public,
            _ => PathKind::PeerReflexive,
        }
    }

    /// Takes PEER, PUNCH and ACK; anything else is ignored.
    pub fn handle_packet(
        &mut self,
        now: Instant,
        local: SocketAddr,
        remote: SocketAddr,
        data: &[u8],
    ) {
        if local != self.local || self.stopped {
            return;
        }
        let Some(text) = std::str::from_utf8(data).ok() else {
            return;
        };
        let words: Vec<&str> = text.split(' ').collect();
        match words.as_slice() {
            ["PEER", _, public, private] if remote == self.rendezvous => {
                let (Ok(public), Ok(private)) = (public.parse(), private.parse()) else {
                    return;
                };
                if self.peer.is_none() {
                    self.peer = Some(Peer { public, private });
                    self.punch_started = Some(now);
                    self.next = now;
                }
            }
            ["PUNCH", name] if *name != self.name && self.peer.is_some() => {
                if !self.learnt.contains(&remote) {
                    self.learnt.push(remote);
                }
                let ack = format!("ACK {}", self.name);
                self.send(remote, ack);
            }
            ["ACK", name] if *name != self.name && self.peer.is_some() => {
                if self.state == PunchState::Pending {
                    self.state = PunchState::Connected {
                        remote,
                        path: self.classify(remote),
                    };
                }
                if !self.learnt.contains(&remote) {
                    self.learnt.push(remote);
                }
            }
            _ => {}
        }
    }

    /// Registers or punches, as due.
    pub fn handle_timeout(&mut self, now: Instant) {
        if self.stopped || now < self.next.min(self.deadline()) {
            return;
        }
        if now >= self.deadline() {
            self.stopped = true;
            if self.state == PunchState::Pending {
                self.state = PunchState::Failed;
            }
            return;
        }
        match self.peer {
            None => {
                let reg = format!("REG {} {} {}", self.room, self.name, self.local);
                self.send(self.rendezvous, reg);
                self.next = now + REGISTER_EVERY;
            }
            Some(peer) => {
                let mut targets = vec![peer.public];
                if self.use_private && peer.private != peer.public {
                    targets.push(peer.private);
                }
                targets.extend(
                    self.learnt
                        .iter()
                        .copied()
                        .filter(|a| *a != peer.public && *a != peer.private),
                );
                for to in targets {
                    let punch = format!("PUNCH {}", self.name);
                    self.send(to, punch);
                }
                self.next = now + PUNCH_EVERY;
            }
        }
    }

    /// Registration gives up after a minute without a peer; punching after
    /// [`PUNCH_FOR`]. (A connected client keeps punching until then, so the
    /// peer gets its ACK too.)
    fn deadline(&self) -> Instant {
        match self.punch_started {
            Some(t) => t + PUNCH_FOR,
            None => self.give_up_at,
        }
    }

    /// The next datagram to send.
    pub fn poll_transmit(&mut self) -> Option<Transmit> {
        self.out.pop_front()
    }

    /// When to call [`PunchClient::handle_timeout`].
    pub fn poll_timeout(&self) -> Option<Instant> {
        (!self.stopped).then(|| self.next.min(self.deadline()))
    }
}
