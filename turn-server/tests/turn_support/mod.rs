//! Helpers for the TURN server tests: a server on documentation addresses
//! (RFC 5737) driven in virtual time, and a small scripted client built
//! with stun-proto that does the long-term credential dance.

#![allow(dead_code)]
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use stun_proto::attr::{
    ErrorCode, Nonce, PasswordAlgorithm, PasswordAlgorithms, Realm, RequestedTransport, Username,
};
use stun_proto::{
    Class, IntegrityAlgorithm, IntegrityKey, LongTermAlgorithm, Message, MessageType,
    MessageWriter, Method, TransactionId, Transport,
};
use turn_server::TurnDropped;
use turn_server::turn::{FiveTuple, TurnEvent, TurnServer, TurnServerConfig, TurnTransmit};

pub const SERVER: &str = "192.0.2.1:3478";
pub const CLIENT: &str = "198.51.100.7:40000";
pub const CLIENT2: &str = "198.51.100.8:40001";
pub const PEER: &str = "203.0.113.9:5000";
pub const PEER2: &str = "203.0.113.10:6000";
pub const REALM: &str = "example.org";
pub const USER: &str = "alice";
pub const PASSWORD: &str = "alice-secret";
pub const SECRET: &[u8] = b"rest-secret";

pub fn addr(s: &str) -> SocketAddr {
    s.parse().unwrap()
}

/// The configuration most tests use: one user, a shared secret, seed 1.
pub fn config() -> TurnServerConfig {
    TurnServerConfig::new(addr(SERVER), REALM)
        .unwrap()
        .with_user(USER, PASSWORD)
        .unwrap()
        .with_user("bob", "bob-secret")
        .unwrap()
        .with_shared_secret(SECRET)
        .with_seed(1)
}

/// A server in virtual time that binds every relay it asks for (as
/// netsim does) unless told otherwise.
pub struct Harness {
    pub server: TurnServer,
    pub t0: Instant,
    pub now: Instant,
    pub events: Vec<TurnEvent>,
    /// Relay addresses whose bind fails (AddrInUse).
    pub taken: Vec<SocketAddr>,
    /// Bound relay sockets (as a driver would hold them).
    pub bound: Vec<SocketAddr>,
}

impl Harness {
    pub fn new(config: TurnServerConfig) -> Harness {
        #[allow(clippy::disallowed_methods)]
        let t0 = Instant::now();
        Harness {
            server: TurnServer::new(config, t0).unwrap(),
            t0,
            now: t0,
            events: Vec::new(),
            taken: Vec::new(),
            bound: Vec::new(),
        }
    }

    pub fn default() -> Harness {
        Harness::new(config())
    }

    /// Answers bind requests, records events.
    pub fn drain_events(&mut self) {
        while let Some(e) = self.server.poll_event() {
            match &e {
                TurnEvent::BindRelay { relay } => {
                    assert!(!self.bound.contains(relay), "bound twice: {relay}");
                    let result = if self.taken.contains(relay) {
                        Err(std::io::ErrorKind::AddrInUse)
                    } else {
                        self.bound.push(*relay);
                        Ok(())
                    };
                    self.events.push(e.clone());
                    self.server
                        .handle_relay_bound(self.now, *relay, result)
                        .unwrap();
                    continue;
                }
                TurnEvent::ReleaseRelay { relay } => {
                    let at = self.bound.iter().position(|r| r == relay);
                    assert!(at.is_some(), "released but never bound: {relay}");
                    self.bound.retain(|r| r != relay);
                }
                _ => {}
            }
            self.events.push(e);
        }
    }

    pub fn transmits(&mut self) -> Vec<TurnTransmit> {
        std::iter::from_fn(|| self.server.poll_transmit()).collect()
    }

    /// Feeds a packet: the transmits it caused, or why it was dropped.
    pub fn feed(
        &mut self,
        local: SocketAddr,
        remote: SocketAddr,
        transport: Transport,
        data: &[u8],
    ) -> Result<Vec<TurnTransmit>, TurnDropped> {
        let r = self
            .server
            .handle_packet(self.now, local, remote, transport, data);
        self.drain_events();
        r.map(|()| self.transmits())
    }

    /// Moves virtual time forward, running timers on the way.
    pub fn advance(&mut self, d: Duration) {
        let end = self.now + d;
        while let Some(t) = self.server.poll_timeout() {
            if t > end {
                break;
            }
            self.now = self.now.max(t);
            self.server.handle_timeout(self.now);
            self.drain_events();
        }
        self.now = end;
        self.server.handle_timeout(self.now);
        self.drain_events();
    }

    /// A datagram from a peer arriving at a relay address.
    pub fn peer_sends(
        &mut self,
        relay: SocketAddr,
        peer: SocketAddr,
        data: &[u8],
    ) -> Result<Vec<TurnTransmit>, TurnDropped> {
        self.feed(relay, peer, Transport::Datagram, data)
    }
}

/// A scripted TURN client.
pub struct Client {
    pub five: FiveTuple,
    pub username: String,
    pub password: String,
    pub realm: Option<String>,
    pub nonce: Option<String>,
    /// PASSWORD-ALGORITHMS as the server sent it (raw entries).
    pub offered: Vec<u16>,
    pub algorithm: LongTermAlgorithm,
    pub integrity: IntegrityAlgorithm,
    /// Sends PASSWORD-ALGORITHMS and PASSWORD-ALGORITHM even for MD5.
    pub send_algorithms: bool,
    pub counter: u32,
}

/// An answer, kept as bytes.
#[derive(Clone, Debug)]
pub struct Answer {
    pub bytes: Vec<u8>,
    pub from: SocketAddr,
    pub to: SocketAddr,
    pub transport: Transport,
}

impl Answer {
    pub fn msg(&self) -> Message<'_> {
        Message::parse(&self.bytes).unwrap()
    }

    pub fn class(&self) -> Class {
        self.msg().class()
    }

    /// The error code, or `None` for a success.
    pub fn code(&self) -> Option<u16> {
        let m = self.msg();
        m.get::<ErrorCode>().unwrap().map(|e| e.code())
    }

    pub fn is_success(&self) -> bool {
        self.class() == Class::Success
    }
}

impl Client {
    pub fn new(client: &str, username: &str, password: &str) -> Client {
        Client::on(client, SERVER, Transport::Datagram, username, password)
    }

    pub fn on(
        client: &str,
        server: &str,
        transport: Transport,
        username: &str,
        password: &str,
    ) -> Client {
        Client {
            five: FiveTuple {
                client: addr(client),
                server: addr(server),
                transport,
            },
            username: username.to_owned(),
            password: password.to_owned(),
            realm: None,
            nonce: None,
            offered: Vec::new(),
            algorithm: LongTermAlgorithm::Md5,
            integrity: IntegrityAlgorithm::Sha1,
            send_algorithms: false,
            counter: 0,
        }
    }

    pub fn alice() -> Client {
        Client::new(CLIENT, USER, PASSWORD)
    }

    pub fn next_id(&mut self) -> TransactionId {
        self.counter += 1;
        let mut id = [0u8; 12];
        id[..4].copy_from_slice(&self.counter.to_be_bytes());
        id[4..8].copy_from_slice(&self.five.client.port().to_be_bytes().repeat(2));
        TransactionId::Rfc5389(id)
    }

    pub fn key(&self) -> IntegrityKey {
        IntegrityKey::long_term(
            &self.username,
            self.realm.as_deref().unwrap_or(REALM),
            &self.password,
            self.algorithm,
        )
        .unwrap()
    }

    /// A request of `method`, signed if the client knows a nonce.
    pub fn request_with_id(
        &self,
        method: Method,
        id: TransactionId,
        build: impl FnOnce(&mut MessageWriter<'_>),
    ) -> Vec<u8> {
        let mut buf = Vec::new();
        let mut w = MessageWriter::new(&mut buf, MessageType::new(method, Class::Request), id);
        build(&mut w);
        if let (Some(realm), Some(nonce)) = (&self.realm, &self.nonce) {
            w.add(&Username::new(&self.username).unwrap()).unwrap();
            w.add(&Realm::new(realm).unwrap()).unwrap();
            w.add(&Nonce::new(nonce).unwrap()).unwrap();
            if self.send_algorithms || self.algorithm != LongTermAlgorithm::Md5 {
                let list: Vec<PasswordAlgorithm<'static>> = self
                    .offered
                    .iter()
                    .map(|a| PasswordAlgorithm {
                        algorithm: *a,
                        params: &[],
                    })
                    .collect();
                w.add(&PasswordAlgorithms::new(&list)).unwrap();
                w.add(&PasswordAlgorithm {
                    algorithm: self.algorithm.number(),
                    params: &[],
                })
                .unwrap();
            }
            let key = self.key();
            match self.integrity {
                IntegrityAlgorithm::Sha256 => w.add_message_integrity_sha256(&key).unwrap(),
                _ => w.add_message_integrity(&key).unwrap(),
            };
        }
        w.add_fingerprint().unwrap();
        buf
    }

    pub fn request(
        &mut self,
        method: Method,
        build: impl FnOnce(&mut MessageWriter<'_>),
    ) -> Vec<u8> {
        let id = self.next_id();
        self.request_with_id(method, id, build)
    }

    /// Sends `bytes`, expects exactly one answer to the client.
    pub fn send(&self, h: &mut Harness, bytes: &[u8]) -> Answer {
        let out = h
            .feed(
                self.five.server,
                self.five.client,
                self.five.transport,
                bytes,
            )
            .unwrap_or_else(|e| panic!("dropped: {e}"));
        assert_eq!(out.len(), 1, "one answer: {out:?}");
        let t = out.into_iter().next().unwrap();
        assert_eq!(
            (t.from, t.to, t.transport),
            (self.five.server, self.five.client, self.five.transport)
        );
        let a = Answer {
            bytes: t.data,
            from: t.from,
            to: t.to,
            transport: t.transport,
        };
        let m = a.msg();
        m.verify_fingerprint().unwrap();
        a
    }

    /// Learns REALM, NONCE and PASSWORD-ALGORITHMS from a 401 or 438.
    pub fn learn(&mut self, a: &Answer) {
        let m = a.msg();
        if let Some(r) = m.get::<Realm>().unwrap() {
            self.realm = Some(r.as_str().to_owned());
        }
        if let Some(n) = m.get::<Nonce>().unwrap() {
            self.nonce = Some(n.as_str().to_owned());
        }
        if let Some(list) = m.get::<PasswordAlgorithms>().unwrap() {
            self.offered = list.iter().map(|a| a.algorithm).collect();
        }
    }

    /// Sends a request; on 401 or 438, learns and retries once. Checks a
    /// signed answer's integrity.
    pub fn transact(
        &mut self,
        h: &mut Harness,
        method: Method,
        build: impl Fn(&mut MessageWriter<'_>),
    ) -> Answer {
        let bytes = self.request(method, &build);
        let mut a = self.send(h, &bytes);
        if matches!(a.code(), Some(401 | 438)) {
            self.learn(&a);
            let bytes = self.request(method, &build);
            a = self.send(h, &bytes);
        }
        if a.code() != Some(401) {
            self.verify(&a);
        }
        a
    }

    /// Checks the answer is signed with this client's key, with the
    /// algorithm of the request.
    pub fn verify(&self, a: &Answer) {
        let m = a.msg();
        let key = self.key();
        match self.integrity {
            IntegrityAlgorithm::Sha256 => {
                assert!(m.has_message_integrity_sha256(), "signed with SHA-256");
                m.verify_message_integrity_sha256(&key).unwrap();
            }
            _ => {
                assert!(m.has_message_integrity(), "signed");
                m.verify_message_integrity(&key).unwrap();
            }
        }
    }

    /// Allocate with REQUESTED-TRANSPORT UDP and whatever `build` adds.
    pub fn allocate_with(
        &mut self,
        h: &mut Harness,
        build: impl Fn(&mut MessageWriter<'_>),
    ) -> Answer {
        self.transact(h, Method::ALLOCATE, |w| {
            w.add(&RequestedTransport::UDP).unwrap();
            build(w);
        })
    }

    /// A successful plain Allocate: the relayed address.
    pub fn allocate(&mut self, h: &mut Harness) -> SocketAddr {
        let a = self.allocate_with(h, |_| {});
        assert!(a.is_success(), "allocate: {:?}", a.code());
        a.msg()
            .get::<stun_proto::attr::XorRelayedAddress>()
            .unwrap()
            .unwrap()
            .0
    }

    pub fn create_permission(&mut self, h: &mut Harness, peers: &[SocketAddr]) -> Answer {
        let peers = peers.to_vec();
        self.transact(h, Method::CREATE_PERMISSION, move |w| {
            for p in &peers {
                w.add(&stun_proto::attr::XorPeerAddress(*p)).unwrap();
            }
        })
    }

    pub fn channel_bind(&mut self, h: &mut Harness, channel: u16, peer: SocketAddr) -> Answer {
        self.transact(h, Method::CHANNEL_BIND, move |w| {
            w.add_raw(
                stun_proto::AttributeType::CHANNEL_NUMBER,
                &[(channel >> 8) as u8, channel as u8, 0, 0],
            )
            .unwrap();
            w.add(&stun_proto::attr::XorPeerAddress(peer)).unwrap();
        })
    }

    pub fn refresh(&mut self, h: &mut Harness, lifetime: Option<u32>) -> Answer {
        self.transact(h, Method::REFRESH, move |w| {
            if let Some(l) = lifetime {
                w.add(&stun_proto::attr::Lifetime(l)).unwrap();
            }
        })
    }

    /// A Send indication to `peer`.
    pub fn send_indication(&self, peer: SocketAddr, data: &[u8]) -> Vec<u8> {
        static COUNTER: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
        let n = COUNTER.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let mut raw = [0xEE; 12];
        raw[..4].copy_from_slice(&n.to_be_bytes());
        let id = TransactionId::Rfc5389(raw);
        let mut buf = Vec::new();
        let mut w = MessageWriter::new(
            &mut buf,
            MessageType::new(Method::SEND, Class::Indication),
            id,
        );
        w.add(&stun_proto::attr::XorPeerAddress(peer)).unwrap();
        w.add(&stun_proto::attr::Data(data)).unwrap();
        buf
    }

    /// Feeds bytes from this client, expecting to be relayed: the transmits.
    pub fn relay(&self, h: &mut Harness, bytes: &[u8]) -> Result<Vec<TurnTransmit>, TurnDropped> {
        h.feed(
            self.five.server,
            self.five.client,
            self.five.transport,
            bytes,
        )
    }
}
