//! A scripted TURN server for the client's tests, built with stun-proto,
//! and a harness that runs a client against it in virtual time.
//!
//! The server checks what a real one checks of the client's requests
//! (RFC 8489 §9.2.4: USERNAME or USERHASH, REALM, NONCE, the
//! PASSWORD-ALGORITHM(S) echo and the integrity with the long-term key) and
//! answers as RFC 8656 §7-§12 say, signing with MESSAGE-INTEGRITY-SHA256
//! when the request negotiated password algorithms and MESSAGE-INTEGRITY
//! otherwise. Tests change its fields or answer requests themselves to
//! script anything else.

#![allow(dead_code)]

use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, Instant};

use candidate_gather::turn::{Handled, PeerData, TurnClient, TurnConfig, TurnEvent};
use stun_proto::attr::{
    ChannelNumber, Data, ErrorCode, Lifetime, Nonce, PasswordAlgorithm, PasswordAlgorithms, Realm,
    Userhash, Username, XorMappedAddress, XorPeerAddress, XorRelayedAddress,
};
use stun_proto::{
    ChannelData, Class, IntegrityKey, LongTermAlgorithm, Message, MessageType, MessageWriter,
    Method, Transmit, Transport,
};

pub fn addr(s: &str) -> SocketAddr {
    s.parse().unwrap()
}

pub const SERVER: &str = "192.0.2.1:3478";
pub const LOCAL: &str = "10.0.0.2:5000";
pub const MAPPED: &str = "198.51.100.7:61000";
pub const RELAYED: &str = "192.0.2.1:49152";
pub const USER: &str = "alice";
pub const PASS: &str = "secret-password";
pub const REALM: &str = "example.org";

/// The nonce cookie of RFC 8489 §9.2 with 24 feature bits, then `rest`.
pub fn cookie_nonce(password_algorithms: bool, anonymity: bool, rest: &str) -> String {
    let b64 = match (password_algorithms, anonymity) {
        (false, false) => "AAAA",
        (true, false) => "gAAA",
        (false, true) => "QAAA",
        (true, true) => "wAAA",
    };
    format!("obMatJos2{b64}{rest}")
}

/// What the server answers on its own.
pub struct Server {
    pub addr: SocketAddr,
    pub realm: String,
    pub nonce: String,
    pub username: String,
    pub password: String,
    /// PASSWORD-ALGORITHMS to offer (numbers); `None` for an RFC 5389
    /// server (MD5 and MESSAGE-INTEGRITY only).
    pub algorithms: Option<Vec<u16>>,
    pub relayed: SocketAddr,
    pub mapped: SocketAddr,
    pub lifetime: u32,
    pub allocated: bool,
    /// Answer nothing (requests are still recorded).
    pub silent: bool,
    /// Every request and indication received, with when.
    pub received: Vec<(Instant, Vec<u8>)>,
    /// Data relayed to peers: (peer, data, how: "send" or "channel").
    pub relayed_out: Vec<(SocketAddr, Vec<u8>, &'static str)>,
    pub permissions: Vec<(Instant, IpAddr)>,
    pub channel_binds: Vec<(Instant, u16, SocketAddr)>,
    pub refreshes: Vec<(Instant, u32)>,
}

impl Server {
    pub fn new() -> Server {
        Server {
            addr: addr(SERVER),
            realm: REALM.to_owned(),
            nonce: "f00dcafe".to_owned(),
            username: USER.to_owned(),
            password: PASS.to_owned(),
            algorithms: None,
            relayed: addr(RELAYED),
            mapped: addr(MAPPED),
            lifetime: 600,
            allocated: false,
            silent: false,
            received: Vec::new(),
            relayed_out: Vec::new(),
            permissions: Vec::new(),
            channel_binds: Vec::new(),
            refreshes: Vec::new(),
        }
    }

    /// The key the request's PASSWORD-ALGORITHM selects (MD5 without one).
    pub fn key_for(&self, req: &Message<'_>) -> IntegrityKey {
        let algorithm = match req.get::<PasswordAlgorithm>() {
            Ok(Some(a)) => LongTermAlgorithm::from_number(a.algorithm).unwrap(),
            _ => LongTermAlgorithm::Md5,
        };
        IntegrityKey::long_term(&self.username, &self.realm, &self.password, algorithm).unwrap()
    }

    /// A response to `req`: `attrs` adds the attributes, then the integrity
    /// RFC 8489 §9.2.4 asks for if `signed` (SHA-256 after negotiation).
    pub fn respond(
        &self,
        req: &Message<'_>,
        class: Class,
        signed: bool,
        attrs: impl FnOnce(&mut MessageWriter<'_>),
    ) -> Vec<u8> {
        self.respond_with_key(req, class, signed.then(|| self.key_for(req)), attrs)
    }

    pub fn respond_with_key(
        &self,
        req: &Message<'_>,
        class: Class,
        key: Option<IntegrityKey>,
        attrs: impl FnOnce(&mut MessageWriter<'_>),
    ) -> Vec<u8> {
        let mut buf = Vec::new();
        let t = MessageType::new(req.method(), class);
        let mut w = MessageWriter::new(&mut buf, t, req.transaction_id());
        attrs(&mut w);
        if let Some(key) = key {
            if req
                .get_raw(stun_proto::AttributeType::PASSWORD_ALGORITHM)
                .is_some()
            {
                w.add_message_integrity_sha256(&key).unwrap();
            } else {
                w.add_message_integrity(&key).unwrap();
            }
        }
        w.finish().to_vec()
    }

    /// An error response, signed or not.
    pub fn error(&self, req: &Message<'_>, code: u16, signed: bool) -> Vec<u8> {
        self.respond(req, Class::Error, signed, |w| {
            w.add(&ErrorCode::from_code(code).unwrap()).unwrap();
        })
    }

    /// A 401 or 438 with REALM, NONCE and the offered algorithms.
    pub fn challenge(&self, req: &Message<'_>, code: u16) -> Vec<u8> {
        let list: Option<Vec<PasswordAlgorithm<'static>>> = self.algorithms.as_ref().map(|l| {
            l.iter()
                .map(|&algorithm| PasswordAlgorithm {
                    algorithm,
                    params: &[],
                })
                .collect()
        });
        self.respond(req, Class::Error, false, |w| {
            w.add(&ErrorCode::from_code(code).unwrap()).unwrap();
            w.add(&Realm::new(&self.realm).unwrap()).unwrap();
            w.add(&Nonce::new(&self.nonce).unwrap()).unwrap();
            if let Some(list) = &list {
                w.add(&PasswordAlgorithms::new(list)).unwrap();
            }
        })
    }

    /// The Allocate success: relayed, mapped, lifetime; signed.
    pub fn allocate_success(&self, req: &Message<'_>) -> Vec<u8> {
        self.respond(req, Class::Success, true, |w| {
            w.add(&XorRelayedAddress(self.relayed)).unwrap();
            w.add(&XorMappedAddress(self.mapped)).unwrap();
            w.add(&Lifetime(self.lifetime)).unwrap();
        })
    }

    /// Checks the request's credentials as RFC 8489 §9.2.4 orders; `Err`
    /// is the challenge to send.
    pub fn authenticate(&self, req: &Message<'_>) -> Result<(), Vec<u8>> {
        if req.integrity_algorithm().is_none() {
            return Err(self.challenge(req, 401));
        }
        let user_ok = match (req.get::<Username>(), req.get::<Userhash>()) {
            (Ok(Some(u)), _) => u.as_str() == self.username,
            (_, Ok(Some(h))) => {
                *h.0 == stun_proto::auth::userhash(&self.username, &self.realm).unwrap()
            }
            _ => false,
        };
        let realm_ok = matches!(req.get::<Realm>(), Ok(Some(r)) if r.as_str() == self.realm);
        if !user_ok || !realm_ok {
            return Err(self.challenge(req, 401));
        }
        if !matches!(req.get::<Nonce>(), Ok(Some(n)) if n.as_str() == self.nonce) {
            return Err(self.challenge(req, 438));
        }
        if let Some(offered) = &self.algorithms {
            // §9.2.4: the list echoed and one of it chosen.
            let echoed: Vec<u16> = match req.get::<PasswordAlgorithms>() {
                Ok(Some(l)) => l.iter().map(|a| a.algorithm).collect(),
                _ => Vec::new(),
            };
            let chosen = req.get::<PasswordAlgorithm>().ok().flatten();
            assert_eq!(&echoed, offered, "PASSWORD-ALGORITHMS echoed as offered");
            assert!(chosen.is_some_and(|c| offered.contains(&c.algorithm)));
        }
        if req.verify_integrity(&self.key_for(req)).is_err() {
            return Err(self.challenge(req, 401));
        }
        Ok(())
    }

    /// What a TURN server does with what the client sent at `now`.
    pub fn handle(&mut self, now: Instant, bytes: &[u8]) -> Option<Vec<u8>> {
        self.received.push((now, bytes.to_vec()));
        if let Ok(cd) = ChannelData::parse(bytes, Transport::Datagram) {
            let peer = self
                .channel_binds
                .iter()
                .find(|(_, n, _)| *n == cd.channel())
                .map(|(_, _, p)| *p)?;
            self.relayed_out.push((peer, cd.data().to_vec(), "channel"));
            return None;
        }
        let req = Message::parse(bytes).expect("the client sends well-formed STUN");
        if req.class() == Class::Indication {
            assert_eq!(req.method(), Method::SEND);
            let peer = req.require::<XorPeerAddress>().unwrap().0;
            let data = req.require::<Data>().unwrap().0.to_vec();
            if self.permissions.iter().any(|(_, ip)| *ip == peer.ip()) {
                self.relayed_out.push((peer, data, "send"));
            }
            return None;
        }
        if self.silent {
            return None;
        }
        if let Err(challenge) = self.authenticate(&req) {
            return Some(challenge);
        }
        let method = req.method();
        if method == Method::ALLOCATE {
            self.allocated = true;
            return Some(self.allocate_success(&req));
        }
        if !self.allocated {
            return Some(self.error(&req, 437, true));
        }
        if method == Method::REFRESH {
            let lifetime = req.require::<Lifetime>().unwrap().0;
            self.refreshes.push((now, lifetime));
            let granted = if lifetime == 0 { 0 } else { self.lifetime };
            if lifetime == 0 {
                self.allocated = false;
            }
            return Some(self.respond(&req, Class::Success, true, |w| {
                w.add(&Lifetime(granted)).unwrap();
            }));
        }
        if method == Method::CREATE_PERMISSION {
            let peer = req.require::<XorPeerAddress>().unwrap().0;
            self.permissions.push((now, peer.ip()));
        } else if method == Method::CHANNEL_BIND {
            let number = req.require::<ChannelNumber>().unwrap().get();
            let peer = req.require::<XorPeerAddress>().unwrap().0;
            self.channel_binds.push((now, number, peer));
            self.permissions.push((now, peer.ip()));
        }
        Some(self.respond(&req, Class::Success, true, |_| {}))
    }

    /// A Data indication from `peer`.
    pub fn data_indication(&self, peer: SocketAddr, data: &[u8]) -> Vec<u8> {
        let mut buf = Vec::new();
        let t = MessageType::new(Method::DATA, Class::Indication);
        let mut w = MessageWriter::new(&mut buf, t, [9; 12].into());
        w.add(&XorPeerAddress(peer)).unwrap();
        w.add(&Data(data)).unwrap();
        w.finish().to_vec()
    }

    /// ChannelData for `channel`.
    pub fn channel_data(&self, channel: u16, data: &[u8], transport: Transport) -> Vec<u8> {
        let mut buf = Vec::new();
        ChannelData::new(channel, data)
            .unwrap()
            .write(&mut buf, transport);
        buf
    }

    /// The requests of a method received so far.
    pub fn requests(&self, method: Method) -> Vec<Vec<u8>> {
        self.received
            .iter()
            .filter(|(_, b)| {
                Message::parse(b).is_ok_and(|m| m.method() == method && m.class() == Class::Request)
            })
            .map(|(_, b)| b.clone())
            .collect()
    }
}

/// A client, the server, and a virtual clock.
pub struct Net {
    pub client: TurnClient,
    pub server: Server,
    pub t0: Instant,
    pub now: Instant,
    pub events: Vec<TurnEvent>,
    /// Data the client delivered from peers (UDP and TCP).
    pub delivered: Vec<(SocketAddr, Vec<u8>)>,
    /// Everything the client sent, with when.
    pub wire: Vec<(Instant, Transmit)>,
    /// Every answer the server gave during `pump`.
    pub answers: Vec<Vec<u8>>,
    pub tcp: bool,
}

impl Net {
    pub fn config() -> TurnConfig {
        TurnConfig::new(addr(SERVER), USER, PASS, 42)
    }

    pub fn new(config: TurnConfig, server: Server) -> Net {
        #[allow(clippy::disallowed_methods)]
        let t0 = Instant::now();
        let tcp = config.transport == candidate_gather::turn::TurnTransport::Tcp;
        let client = TurnClient::new(config, addr(LOCAL), t0);
        Net {
            client,
            server,
            t0,
            now: t0,
            events: Vec::new(),
            delivered: Vec::new(),
            wire: Vec::new(),
            answers: Vec::new(),
            tcp,
        }
    }

    /// UDP defaults, allocated.
    pub fn allocated() -> Net {
        let mut net = Net::new(Net::config(), Server::new());
        net.pump();
        assert!(
            net.client.relayed().is_some(),
            "allocated: {:?}",
            net.events
        );
        net
    }

    pub fn elapsed(&self) -> Duration {
        self.now - self.t0
    }

    /// What the client wants sent, taken off it (not delivered).
    pub fn take(&mut self) -> Vec<Transmit> {
        let mut out = Vec::new();
        while let Some(t) = self.client.poll_transmit() {
            assert_eq!(t.from, addr(LOCAL));
            self.wire.push((self.now, t.clone()));
            out.push(t);
        }
        self.collect_events();
        out
    }

    pub fn collect_events(&mut self) {
        while let Some(e) = self.client.poll_event() {
            self.events.push(e);
        }
    }

    /// Gives `bytes` from `from` to the client (UDP).
    pub fn deliver_from(&mut self, from: SocketAddr, bytes: &[u8]) -> Handled<'static> {
        let handled = self.client.handle_datagram(self.now, from, bytes);
        let owned = match handled {
            Handled::Data { peer, payload } => {
                self.delivered.push((peer, payload.to_vec()));
                Handled::Data { peer, payload: &[] }
            }
            Handled::NotMine => Handled::NotMine,
            Handled::Consumed => Handled::Consumed,
            Handled::Dropped(r) => Handled::Dropped(r),
            _ => panic!("unknown Handled"),
        };
        self.collect_events();
        owned
    }

    /// Gives server bytes to the client: a datagram, or stream bytes.
    pub fn deliver(&mut self, bytes: &[u8]) -> Handled<'static> {
        if self.tcp {
            let data = self
                .client
                .handle_stream(self.now, bytes)
                .unwrap_or_default();
            let any = !data.is_empty();
            for PeerData { peer, data } in data {
                self.delivered.push((peer, data));
            }
            self.collect_events();
            return if any {
                Handled::Data {
                    peer: addr(SERVER),
                    payload: &[],
                }
            } else {
                Handled::Consumed
            };
        }
        let from = self.server.addr;
        self.deliver_from(from, bytes)
    }

    /// Exchanges messages until neither side has anything to say.
    pub fn pump(&mut self) {
        loop {
            let out = self.take();
            if out.is_empty() {
                break;
            }
            for t in out {
                assert_eq!(t.to, self.server.addr, "sent to the server");
                if let Some(answer) = self.server.handle(self.now, &t.data) {
                    self.deliver(&answer);
                    self.answers.push(answer);
                }
            }
        }
    }

    /// Runs the clock to `t0 + until`, waking the client at each of its
    /// timers and pumping after each.
    pub fn run_until(&mut self, until: Duration) {
        let end = self.t0 + until;
        self.pump();
        while let Some(next) = self.client.poll_timeout() {
            if next > end {
                break;
            }
            assert!(next >= self.now, "timers never go back");
            self.now = next;
            self.client.handle_timeout(self.now);
            self.pump();
        }
        self.now = self.now.max(end);
    }

    /// Times (since t0) the client sent requests of this method.
    pub fn sent_at(&self, method: Method) -> Vec<Duration> {
        self.wire
            .iter()
            .filter(|(_, t)| {
                Message::parse(&t.data)
                    .is_ok_and(|m| m.method() == method && m.class() == Class::Request)
            })
            .map(|(at, _)| *at - self.t0)
            .collect()
    }

    /// The requests of this method the client sent, in order.
    pub fn sent(&self, method: Method) -> Vec<Vec<u8>> {
        self.wire
            .iter()
            .filter(|(_, t)| {
                Message::parse(&t.data)
                    .is_ok_and(|m| m.method() == method && m.class() == Class::Request)
            })
            .map(|(_, t)| t.data.clone())
            .collect()
    }

    pub fn failed(&self) -> Option<&candidate_gather::turn::TurnError> {
        self.events.iter().find_map(|e| match e {
            TurnEvent::Failed(err) => Some(err),
            _ => None,
        })
    }
}
