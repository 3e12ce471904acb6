//! Interop with coturn (issue 6): our sans-IO TURN client
//! (`candidate_gather::turn`), driven over real loopback sockets by
//! `realnet`, against the production TURN server `turnserver` (Debian
//! package `coturn`), over UDP and over TCP to the server.
//!
//! Each test starts its own coturn (`ice_tests::coturn`: long-term
//! credentials `alice:secret` in realm `example.test`, a free loopback
//! port, a relay port range of its own, loopback peers allowed) and stops
//! it at the end. The peer is a plain `std` UDP socket on 127.0.0.1.
//!
//! `the_whole_life_of_an_allocation_over_{udp,tcp}` checks, in order:
//! 1. Allocate: coturn's 401, then success with credentials; the relayed
//!    address is 127.0.0.1 within coturn's relay range, the mapped address
//!    is our socket (or our end of the TCP connection).
//! 2. Refresh: the client's clock is moved past 80 % of the lifetime (the
//!    client takes `now`; coturn judges by its own clock), a signed
//!    Refresh goes out and `TurnEvent::Refreshed` follows; coturn logs it.
//! 3. CreatePermission for the peer, then data as a Send indication (seen
//!    on the wire): the peer gets the exact bytes from the relayed address;
//!    its answer comes back as a Data indication and is handed out as
//!    `Handled::Data` with the peer's address.
//! 4. ChannelBind, then data both ways again: our transmits are ChannelData
//!    on the bound channel (first byte 0x40-0x7F, on the wire), and so are
//!    coturn's.
//! 5. Release (Refresh with LIFETIME 0): `Released { confirmed: true }`;
//!    coturn logs the session's deletion and closes the relayed port (a
//!    connected peer socket sending to it gets ICMP port unreachable).
//!
//! `a_wrong_password_is_a_typed_error_over_{udp,tcp}`: the second 401 is
//! `TurnError::Unauthorized` naming the realm, with a message that says
//! to check the username and password; coturn made no allocation.
//!
//! `a_refresh_in_real_time_through_a_stale_nonce_over_{udp,tcp}`: coturn
//! caps the lifetime at 5 s (`max-allocate-lifetime`), lets nonces go
//! stale after 1 s and adds FINGERPRINT to everything; the client's own
//! refresh at 4 s (real time) meets a 438, retries with the new nonce and
//! gets `Refreshed`; past the first 5 s the allocation still relays both
//! ways. (These two take about 6 s: they wait for coturn's clock.)
//!
//! A missing `turnserver` fails these tests naming the package; they never
//! skip. Waits are bounded and generous; nothing asserts a duration.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::net::{IpAddr, Ipv4Addr, SocketAddr, UdpSocket};
use std::time::{Duration, Instant};

use candidate_gather::turn::{
    Handled, TurnClient, TurnConfig, TurnError, TurnEvent, TurnState, TurnTransport,
};
use ice_tests::coturn::{Coturn, CoturnConfig};
use ice_tests::netsim::Endpoint;
use ice_tests::realnet::{EndpointId, RealNet};
use stun_proto::attr::{ChannelNumber, Data, Lifetime, XorPeerAddress};
use stun_proto::{ChannelData, Class, Message, Method, Transmit, Transport};

const REALM: &str = "example.test";
const USER: &str = "alice";
const PASSWORD: &str = "secret";

/// The longest any one step may take (a loaded machine may be slow; the
/// exchanges themselves take milliseconds on loopback).
const LIMIT: Duration = Duration::from_secs(20);

const LOCALHOST: IpAddr = IpAddr::V4(Ipv4Addr::LOCALHOST);

/// A TURN client as a realnet endpoint, with everything that crossed the
/// wire recorded, and a clock that can be moved ahead of the real one.
struct TurnEndpoint {
    /// `None` until the TCP connection exists (the client sends from it).
    client: Option<TurnClient>,
    /// Added to the real time before the client sees it.
    skew: Duration,
    /// A real instant no timer is earlier than.
    epoch: Instant,
    events: Vec<TurnEvent>,
    /// Peer data handed out, in order.
    data: Vec<(SocketAddr, Vec<u8>)>,
    /// Everything the client sent.
    sent: Vec<Transmit>,
    /// Every datagram or stream frame that arrived, with where from.
    received: Vec<(SocketAddr, Vec<u8>)>,
    /// Datagrams or frames the client dropped or refused, described.
    rejected: Vec<String>,
}

impl TurnEndpoint {
    fn new(epoch: Instant) -> TurnEndpoint {
        TurnEndpoint {
            client: None,
            skew: Duration::ZERO,
            epoch,
            events: Vec::new(),
            data: Vec::new(),
            sent: Vec::new(),
            received: Vec::new(),
            rejected: Vec::new(),
        }
    }

    fn start(&mut self, config: TurnConfig, local: SocketAddr, now: Instant) {
        let now = self.virtual_now(now);
        self.client = Some(TurnClient::new(config, local, now));
    }

    fn virtual_now(&self, now: Instant) -> Instant {
        now + self.skew
    }

    fn client(&mut self) -> &mut TurnClient {
        self.client.as_mut().expect("the client was started")
    }

    fn client_ref(&self) -> &TurnClient {
        self.client.as_ref().expect("the client was started")
    }

    /// Calls `f` with the client and the client's `now`.
    fn with<R>(&mut self, now: Instant, f: impl FnOnce(&mut TurnClient, Instant) -> R) -> R {
        let now = self.virtual_now(now);
        f(self.client(), now)
    }

    fn drain_events(&mut self) {
        if let Some(c) = self.client.as_mut() {
            while let Some(e) = c.poll_event() {
                self.events.push(e);
            }
        }
    }
}

impl Endpoint for TurnEndpoint {
    fn handle_packet(&mut self, now: Instant, _local: SocketAddr, remote: SocketAddr, data: &[u8]) {
        self.received.push((remote, data.to_vec()));
        let now = self.virtual_now(now);
        let Some(client) = self.client.as_mut() else {
            self.rejected
                .push(format!("{} bytes before the start", data.len()));
            return;
        };
        match client.transport() {
            TurnTransport::Tcp => match client.handle_stream(now, data) {
                Ok(peer_data) => {
                    self.data
                        .extend(peer_data.into_iter().map(|d| (d.peer, d.data)));
                }
                Err(e) => self.rejected.push(format!("stream refused: {e}")),
            },
            _ => match client.handle_datagram(now, remote, data) {
                Handled::Data { peer, payload } => self.data.push((peer, payload.to_vec())),
                Handled::Consumed => {}
                other => self.rejected.push(format!("{other:?} from {remote}")),
            },
        }
        self.drain_events();
    }

    fn handle_timeout(&mut self, now: Instant) {
        let now = self.virtual_now(now);
        if let Some(c) = self.client.as_mut() {
            c.handle_timeout(now);
        }
        self.drain_events();
    }

    fn poll_transmit(&mut self) -> Option<Transmit> {
        // realnet drains this after every input: the events queued by the
        // same input come out here too.
        let t = self.client.as_mut().and_then(TurnClient::poll_transmit);
        match t {
            Some(t) => {
                self.sent.push(t.clone());
                Some(t)
            }
            None => {
                self.drain_events();
                None
            }
        }
    }

    fn poll_timeout(&self) -> Option<Instant> {
        let t = self.client.as_ref()?.poll_timeout()?;
        Some(
            t.checked_sub(self.skew)
                .unwrap_or(self.epoch)
                .max(self.epoch),
        )
    }
}

/// One coturn and one client on it.
struct Setup {
    coturn: Coturn,
    net: RealNet,
    id: EndpointId,
    /// The client's socket, or its end of the TCP connection.
    local: SocketAddr,
    transport: TurnTransport,
}

fn start_coturn(config: &CoturnConfig) -> Coturn {
    Coturn::start(config).unwrap_or_else(|e| panic!("{e}"))
}

impl Setup {
    fn new(transport: TurnTransport, password: &str, seed: u64) -> Setup {
        Setup::with_config(
            &CoturnConfig::new(REALM, USER, PASSWORD),
            transport,
            password,
            seed,
        )
    }

    fn with_config(
        coturn_config: &CoturnConfig,
        transport: TurnTransport,
        password: &str,
        seed: u64,
    ) -> Setup {
        let coturn = start_coturn(coturn_config);
        let mut net = RealNet::new();
        let epoch = RealNet::now();
        let mut config = TurnConfig::new(coturn.addr(), USER, password, seed);
        config.transport = transport;
        let (id, local) = match transport {
            TurnTransport::Tcp => {
                let id = net.add_endpoint(TurnEndpoint::new(epoch), &[]).unwrap();
                let local = net
                    .connect_tcp(id, coturn.addr(), Duration::from_secs(5))
                    .unwrap_or_else(|e| panic!("cannot connect to coturn over TCP: {e}"));
                (id, local)
            }
            _ => {
                let local = net.bind_udp(SocketAddr::new(LOCALHOST, 0)).unwrap();
                let id = net
                    .add_endpoint(TurnEndpoint::new(epoch), &[local])
                    .unwrap();
                (id, local)
            }
        };
        net.with_endpoint::<TurnEndpoint, _>(id, |e, now| e.start(config, local, now));
        Setup {
            coturn,
            net,
            id,
            local,
            transport,
        }
    }

    fn ep(&self) -> &TurnEndpoint {
        self.net.endpoint::<TurnEndpoint>(self.id)
    }

    fn client(&self) -> &TurnClient {
        self.ep().client_ref()
    }

    /// Calls `f` with the client and its `now`, then sends what it queued.
    fn with<R>(&mut self, f: impl FnOnce(&mut TurnClient, Instant) -> R) -> R {
        self.net
            .with_endpoint::<TurnEndpoint, _>(self.id, |e, now| e.with(now, f))
    }

    /// Runs until an event after the first `from` satisfies `want`;
    /// returns it. Fails, with the events and coturn's log, on a timeout
    /// or a `Failed` event.
    fn wait_event(
        &mut self,
        from: usize,
        what: &str,
        want: impl Fn(&TurnEvent) -> bool,
    ) -> TurnEvent {
        let id = self.id;
        let found = |net: &RealNet| {
            let events = &net.endpoint::<TurnEndpoint>(id).events;
            events.get(from..).is_some_and(|new| {
                new.iter()
                    .any(|e| want(e) || matches!(e, TurnEvent::Failed(_)))
            })
        };
        let done = self.net.run_until(LIMIT, found);
        let events = &self.ep().events;
        let hit = events
            .get(from..)
            .unwrap_or_default()
            .iter()
            .find(|e| want(e));
        match hit {
            Some(e) if done => e.clone(),
            _ => panic!(
                "no {what} over {:?} within {LIMIT:?}\nevents: {events:#?}\nrejected: {:?}\nclient: {:?}\nnet: {:?}\n--- coturn log ---\n{}",
                self.transport,
                self.ep().rejected,
                self.client(),
                self.net.stats(),
                self.coturn.log()
            ),
        }
    }

    /// Runs until peer data after the first `from` arrives; returns it.
    fn wait_data(&mut self, from: usize) -> (SocketAddr, Vec<u8>) {
        let id = self.id;
        let done = self.net.run_until(LIMIT, |net| {
            net.endpoint::<TurnEndpoint>(id).data.len() > from
        });
        assert!(
            done,
            "no relayed data over {:?} within {LIMIT:?}\nreceived: {:?}\nrejected: {:?}\n--- coturn log ---\n{}",
            self.transport,
            self.ep().received,
            self.ep().rejected,
            self.coturn.log()
        );
        self.ep().data[from].clone()
    }

    /// What the client sent since the first `from` transmits.
    fn sent_since(&self, from: usize) -> Vec<Transmit> {
        self.ep().sent.get(from..).unwrap_or_default().to_vec()
    }

    /// How ChannelData is framed on this transport.
    fn framing(&self) -> Transport {
        match self.transport {
            TurnTransport::Tcp => Transport::Stream,
            _ => Transport::Datagram,
        }
    }
}

/// A plain UDP socket on loopback: the peer on the far side of the relay.
fn peer_socket() -> UdpSocket {
    let s = UdpSocket::bind(SocketAddr::new(LOCALHOST, 0)).unwrap();
    s.set_read_timeout(Some(Duration::from_millis(10))).unwrap();
    s
}

/// The next datagram at `peer`, within [`LIMIT`]; the net runs
/// meanwhile (the client may have to finish a permission first).
fn peer_recv(s: &mut Setup, peer: &UdpSocket) -> (Vec<u8>, SocketAddr) {
    let deadline = RealNet::now() + LIMIT;
    let mut buf = vec![0u8; 2048];
    while RealNet::now() < deadline {
        match peer.recv_from(&mut buf) {
            Ok((n, from)) => return (buf[..n].to_vec(), from),
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) =>
            {
                s.net.run_for(Duration::from_millis(10));
            }
            Err(e) => panic!("peer socket: {e}"),
        }
    }
    panic!(
        "the peer received nothing through the relay within {LIMIT:?}\nevents: {:?}\n--- coturn log ---\n{}",
        s.ep().events,
        s.coturn.log()
    );
}

fn the_whole_life_of_an_allocation(transport: TurnTransport, seed: u64) {
    let mut s = Setup::new(transport, PASSWORD, seed);

    // 1. Allocate: 401, then success with credentials.
    let allocated = s.wait_event(0, "Allocated", |e| matches!(e, TurnEvent::Allocated { .. }));
    let TurnEvent::Allocated {
        relayed,
        mapped,
        lifetime,
    } = allocated
    else {
        unreachable!()
    };
    assert_eq!(relayed.ip(), LOCALHOST, "relayed {relayed}");
    assert!(
        s.coturn.relay_ports().contains(&relayed.port()),
        "relayed {relayed} outside coturn's range {:?}",
        s.coturn.relay_ports()
    );
    assert_eq!(mapped, s.local, "XOR-MAPPED-ADDRESS is our socket");
    assert!(lifetime > Duration::ZERO);
    assert_eq!(s.client().state(), TurnState::Allocated);
    assert_eq!(s.client().relayed(), Some(relayed));
    assert_eq!(s.client().mapped(), Some(mapped));
    // On the wire: an Allocate without credentials, coturn's 401, then a
    // signed Allocate and coturn's success.
    {
        let ep = s.ep();
        let allocates: Vec<Message> = ep
            .sent
            .iter()
            .map(|t| Message::parse(&t.data).unwrap())
            .filter(|m| m.method() == Method::ALLOCATE)
            .collect();
        assert!(allocates.len() >= 2, "{} Allocates", allocates.len());
        assert!(!allocates[0].has_message_integrity());
        assert!(allocates.last().unwrap().has_message_integrity());
        let answers: Vec<(Class, Option<u16>)> = ep
            .received
            .iter()
            .filter_map(|(_, d)| Message::parse(d).ok())
            .filter(|m| m.method() == Method::ALLOCATE)
            .map(|m| {
                let code = m
                    .get::<stun_proto::attr::ErrorCode>()
                    .ok()
                    .flatten()
                    .map(|c| c.code());
                (m.class(), code)
            })
            .collect();
        assert_eq!(answers.first(), Some(&(Class::Error, Some(401))));
        assert_eq!(answers.last(), Some(&(Class::Success, None)));
        assert!(ep.rejected.is_empty(), "{:?}", ep.rejected);
    }
    assert!(
        s.coturn.wait_for_log(
            0,
            &format!("new, realm=<{REALM}>, username=<{USER}>"),
            LIMIT
        ),
        "coturn did not log the allocation:\n{}",
        s.coturn.log()
    );

    // 2. Refresh: the client's clock jumps to 81 % of the lifetime, past
    // the 80 % at which it refreshes.
    let (events, sent, log) = (s.ep().events.len(), s.ep().sent.len(), s.coturn.log().len());
    s.net.endpoint_mut::<TurnEndpoint>(s.id).skew = lifetime / 100 * 81;
    let refreshed = s.wait_event(events, "Refreshed", |e| {
        matches!(e, TurnEvent::Refreshed { .. })
    });
    assert_eq!(refreshed, TurnEvent::Refreshed { lifetime });
    let refreshes: Vec<Transmit> = s
        .sent_since(sent)
        .into_iter()
        .filter(|t| Message::parse(&t.data).is_ok_and(|m| m.method() == Method::REFRESH))
        .collect();
    assert!(!refreshes.is_empty(), "no Refresh on the wire");
    for r in &refreshes {
        let m = Message::parse(&r.data).unwrap();
        assert_eq!(m.class(), Class::Request);
        assert!(m.has_message_integrity());
        assert_eq!(
            m.require::<Lifetime>().unwrap(),
            Lifetime(u32::try_from(lifetime.as_secs()).unwrap())
        );
    }
    assert!(
        s.coturn.wait_for_log(
            log,
            &format!("refreshed, realm=<{REALM}>, username=<{USER}>, lifetime="),
            LIMIT
        ),
        "coturn did not log the refresh:\n{}",
        s.coturn.log()
    );
    assert_eq!(s.client().state(), TurnState::Allocated);
    assert_eq!(s.client().relayed(), Some(relayed));

    // 3. Permission, then data as Send and Data indications.
    let peer = peer_socket();
    let peer_addr = peer.local_addr().unwrap();
    let events = s.ep().events.len();
    s.with(|c, now| c.create_permission(now, peer_addr.ip()))
        .unwrap();
    let created = s.wait_event(events, "PermissionCreated", |e| {
        matches!(e, TurnEvent::PermissionCreated(_))
    });
    assert_eq!(created, TurnEvent::PermissionCreated(peer_addr.ip()));
    let now = RealNet::now() + s.ep().skew;
    assert!(s.client().has_permission(now, peer_addr.ip()));

    let sent = s.ep().sent.len();
    let hello = b"hello peer, via a Send indication".to_vec();
    s.with(|c, now| c.send_to(now, peer_addr, &hello)).unwrap();
    let out = s.sent_since(sent);
    assert_eq!(out.len(), 1, "one Send indication: {out:?}");
    {
        let m = Message::parse(&out[0].data).unwrap();
        assert_eq!((m.class(), m.method()), (Class::Indication, Method::SEND));
        assert_eq!(
            m.require::<XorPeerAddress>().unwrap(),
            XorPeerAddress(peer_addr)
        );
        assert_eq!(m.require::<Data>().unwrap().0, hello.as_slice());
        assert_eq!(out[0].to, s.coturn.addr());
        assert_eq!(out[0].from, s.local);
    }
    let (got, from) = peer_recv(&mut s, &peer);
    assert_eq!(got, hello);
    assert_eq!(from, relayed, "the peer sees the relayed address");

    let received = s.ep().received.len();
    let data = s.ep().data.len();
    let back = b"hello client, via a Data indication".to_vec();
    peer.send_to(&back, relayed).unwrap();
    assert_eq!(s.wait_data(data), (peer_addr, back.clone()));
    {
        let ep = s.ep();
        let frames: Vec<&Vec<u8>> = ep.received[received..].iter().map(|(_, d)| d).collect();
        let m = Message::parse(frames.last().unwrap()).unwrap();
        assert_eq!((m.class(), m.method()), (Class::Indication, Method::DATA));
        assert_eq!(
            m.require::<XorPeerAddress>().unwrap(),
            XorPeerAddress(peer_addr)
        );
        assert_eq!(m.require::<Data>().unwrap().0, back.as_slice());
        assert!(
            ep.received[received..]
                .iter()
                .all(|(from, _)| *from == s.coturn.addr())
        );
    }

    // 4. ChannelBind, then ChannelData both ways.
    let events = s.ep().events.len();
    let sent = s.ep().sent.len();
    let channel = s.with(|c, now| c.bind_channel(now, peer_addr)).unwrap();
    assert!((0x4000..=0x4FFF).contains(&channel), "{channel:#x}");
    let bound = s.wait_event(events, "ChannelBound", |e| {
        matches!(e, TurnEvent::ChannelBound { .. })
    });
    assert_eq!(
        bound,
        TurnEvent::ChannelBound {
            peer: peer_addr,
            channel
        }
    );
    let binds: Vec<Transmit> = s
        .sent_since(sent)
        .into_iter()
        .filter(|t| Message::parse(&t.data).is_ok_and(|m| m.method() == Method::CHANNEL_BIND))
        .collect();
    assert!(!binds.is_empty());
    {
        let m = Message::parse(&binds[0].data).unwrap();
        assert_eq!(m.require::<ChannelNumber>().unwrap().get(), channel);
        assert_eq!(
            m.require::<XorPeerAddress>().unwrap(),
            XorPeerAddress(peer_addr)
        );
    }
    let now = RealNet::now() + s.ep().skew;
    assert_eq!(s.client().channel(now, peer_addr), Some(channel));

    for round in 0..3u8 {
        let sent = s.ep().sent.len();
        // Lengths 21, 22, 23: the padding on TCP differs.
        let mut out_data = b"over channel, round ".to_vec();
        out_data.extend(std::iter::repeat_n(b'0' + round, usize::from(round) + 1));
        s.with(|c, now| c.send_to(now, peer_addr, &out_data))
            .unwrap();
        let out = s.sent_since(sent);
        assert_eq!(out.len(), 1, "{out:?}");
        let first = out[0].data[0];
        assert!(
            (0x40..=0x7F).contains(&first),
            "not ChannelData on the wire: first byte {first:#04x}"
        );
        let cd = ChannelData::parse(&out[0].data, s.framing()).unwrap();
        assert_eq!((cd.channel(), cd.data()), (channel, out_data.as_slice()));
        let (got, from) = peer_recv(&mut s, &peer);
        assert_eq!((got, from), (out_data.clone(), relayed));

        let received = s.ep().received.len();
        let data = s.ep().data.len();
        let mut back = b"channel answer ".to_vec();
        back.extend(std::iter::repeat_n(b'a' + round, usize::from(round) + 1));
        peer.send_to(&back, relayed).unwrap();
        assert_eq!(s.wait_data(data), (peer_addr, back.clone()));
        let ep = s.ep();
        let (from, frame) = ep.received[received..].last().unwrap();
        assert_eq!(*from, s.coturn.addr());
        assert!(
            (0x40..=0x7F).contains(&frame[0]),
            "coturn did not use the channel: {frame:02x?}"
        );
        let cd = ChannelData::parse(frame, s.framing()).unwrap();
        assert_eq!((cd.channel(), cd.data()), (channel, back.as_slice()));
    }

    // 5. Release.
    let events = s.ep().events.len();
    let sent = s.ep().sent.len();
    let log = s.coturn.log().len();
    s.with(|c, now| c.close(now));
    assert_eq!(s.client().state(), TurnState::Closing);
    let released = s.wait_event(events, "Released", |e| {
        matches!(e, TurnEvent::Released { .. })
    });
    assert_eq!(released, TurnEvent::Released { confirmed: true });
    assert_eq!(s.client().state(), TurnState::Closed);
    let release = s
        .sent_since(sent)
        .into_iter()
        .find(|t| Message::parse(&t.data).is_ok_and(|m| m.method() == Method::REFRESH))
        .expect("a Refresh went out");
    assert_eq!(
        Message::parse(&release.data)
            .unwrap()
            .require::<Lifetime>()
            .unwrap(),
        Lifetime(0)
    );
    // coturn logs the refresh to 0, then deletes the session.
    for line in [
        format!("refreshed, realm=<{REALM}>, username=<{USER}>, lifetime=0"),
        format!("delete: realm=<{REALM}>, username=<{USER}>"),
    ] {
        assert!(
            s.coturn.wait_for_log(log, &line, LIMIT),
            "coturn did not log `{line}`:\n{}",
            &s.coturn.log()[log..]
        );
    }
    // The relayed port is closed: a connected peer socket that sends to it
    // gets the ICMP port unreachable back as ECONNREFUSED.
    let data = s.ep().data.len();
    peer.connect(relayed).unwrap();
    let deadline = RealNet::now() + LIMIT;
    let mut refused = false;
    while !refused && RealNet::now() < deadline {
        let sent = peer.send(b"anyone there?");
        let mut buf = [0u8; 64];
        let got = peer.recv(&mut buf);
        refused = [sent.err(), got.err()]
            .into_iter()
            .flatten()
            .any(|e| e.kind() == std::io::ErrorKind::ConnectionRefused);
    }
    assert!(
        refused,
        "the relayed port {relayed} still accepts datagrams after the release"
    );
    s.net.run_for(Duration::from_millis(100));
    assert_eq!(s.ep().data.len(), data, "nothing relayed after the release");

    assert_eq!(s.net.stats().bad_source, 0);
    assert_eq!(s.net.stats().out_of_step, 0);
    assert!(s.ep().rejected.is_empty(), "{:?}", s.ep().rejected);
    assert!(s.coturn.is_running(), "coturn died:\n{}", s.coturn.log());
    let Setup { coturn, .. } = s;
    coturn.stop();
}

fn a_wrong_password_is_a_typed_error(transport: TurnTransport, seed: u64) {
    let mut s = Setup::new(transport, "not-the-secret", seed);
    let failed = s.wait_event(0, "Failed", |e| matches!(e, TurnEvent::Failed(_)));
    let TurnEvent::Failed(error) = failed else {
        unreachable!()
    };
    assert_eq!(
        error,
        TurnError::Unauthorized {
            realm: REALM.to_owned()
        }
    );
    let message = error.to_string();
    assert!(
        message.contains("401") && message.contains("username and password"),
        "{message}"
    );
    assert!(message.contains(REALM), "{message}");
    assert_eq!(s.client().state(), TurnState::Failed);
    assert_eq!(s.client().relayed(), None);
    // Two Allocates (without, then with credentials), two 401s.
    let ep = s.ep();
    let allocates = ep
        .sent
        .iter()
        .filter(|t| Message::parse(&t.data).is_ok_and(|m| m.method() == Method::ALLOCATE))
        .count();
    assert_eq!(allocates, 2);
    // coturn logs each request after answering it.
    let two = s
        .coturn
        .wait_for(LIMIT, |log| log.matches("error 401").count() >= 2);
    let log = s.coturn.log();
    assert!(two, "coturn did not log two 401s:\n{log}");
    assert_eq!(log.matches("error 401").count(), 2, "coturn's log:\n{log}");
    assert!(!log.contains("new, realm="), "coturn allocated:\n{log}");
    let Setup { coturn, .. } = s;
    coturn.stop();
}

#[test]
fn the_whole_life_of_an_allocation_over_udp() {
    the_whole_life_of_an_allocation(TurnTransport::Udp, 1);
}

#[test]
fn the_whole_life_of_an_allocation_over_tcp() {
    the_whole_life_of_an_allocation(TurnTransport::Tcp, 2);
}

#[test]
fn a_wrong_password_is_a_typed_error_over_udp() {
    a_wrong_password_is_a_typed_error(TurnTransport::Udp, 3);
}

#[test]
fn a_wrong_password_is_a_typed_error_over_tcp() {
    a_wrong_password_is_a_typed_error(TurnTransport::Tcp, 4);
}

fn a_refresh_in_real_time_through_a_stale_nonce(transport: TurnTransport, seed: u64) {
    let mut config = CoturnConfig::new(REALM, USER, PASSWORD);
    // coturn caps the lifetime at this (our client asks for 600 s), and
    // its nonces go stale after 1 s: the refresh at 80 % (4 s) meets a
    // 438.
    config.max_allocate_lifetime = Some(5);
    config.stale_nonce = Some(1);
    config.fingerprint = true;
    let mut s = Setup::with_config(&config, transport, PASSWORD, seed);
    let allocated = s.wait_event(0, "Allocated", |e| matches!(e, TurnEvent::Allocated { .. }));
    let allocated_at = RealNet::now();
    let TurnEvent::Allocated {
        relayed, lifetime, ..
    } = allocated
    else {
        unreachable!()
    };
    assert_eq!(lifetime, Duration::from_secs(5), "coturn's cap");

    let events = s.ep().events.len();
    let received = s.ep().received.len();
    let refreshed = s.wait_event(events, "Refreshed", |e| {
        matches!(e, TurnEvent::Refreshed { .. })
    });
    assert_eq!(refreshed, TurnEvent::Refreshed { lifetime });
    // On the wire: coturn's 438 to the first Refresh, then its success to
    // the retry with the new nonce.
    let answers: Vec<(Class, Option<u16>)> = s.ep().received[received..]
        .iter()
        .filter_map(|(_, d)| Message::parse(d).ok())
        .filter(|m| m.method() == Method::REFRESH)
        .map(|m| {
            let code = m
                .get::<stun_proto::attr::ErrorCode>()
                .ok()
                .flatten()
                .map(|c| c.code());
            (m.class(), code)
        })
        .collect();
    assert_eq!(
        answers,
        [(Class::Error, Some(438)), (Class::Success, None)],
        "coturn's log:\n{}",
        s.coturn.log()
    );
    for line in [
        "error 438: Stale nonce".to_owned(),
        format!("refreshed, realm=<{REALM}>, username=<{USER}>, lifetime=5"),
    ] {
        assert!(
            s.coturn.wait_for_log(0, &line, LIMIT),
            "coturn did not log `{line}`:\n{}",
            s.coturn.log()
        );
    }
    // coturn was configured to sign with FINGERPRINT: every message of it
    // carries one, and the client took them all.
    for (_, frame) in &s.ep().received {
        let m = Message::parse(frame).unwrap();
        assert!(
            m.attributes()
                .any(|a| a.attr_type == stun_proto::AttributeType::FINGERPRINT),
            "no FINGERPRINT in {:?} {:?}",
            m.class(),
            m.method()
        );
    }
    assert!(s.ep().rejected.is_empty(), "{:?}", s.ep().rejected);

    // Past the first lifetime by coturn's clock, the allocation is still
    // there: data goes through it both ways.
    let deadline = allocated_at + lifetime + Duration::from_millis(500);
    s.net.run_until(LIMIT, |_| RealNet::now() >= deadline);
    assert!(
        !s.coturn.log().contains("delete:"),
        "coturn expired the allocation:\n{}",
        s.coturn.log()
    );
    let peer = peer_socket();
    let peer_addr = peer.local_addr().unwrap();
    s.with(|c, now| c.send_to(now, peer_addr, b"still here"))
        .unwrap();
    let (got, from) = peer_recv(&mut s, &peer);
    assert_eq!((got.as_slice(), from), (&b"still here"[..], relayed));
    let data = s.ep().data.len();
    peer.send_to(b"so am I", relayed).unwrap();
    assert_eq!(s.wait_data(data), (peer_addr, b"so am I".to_vec()));
    assert_eq!(s.client().state(), TurnState::Allocated);
    assert!(
        !s.ep()
            .events
            .iter()
            .any(|e| matches!(e, TurnEvent::Reallocated { .. } | TurnEvent::Failed(_))),
        "{:?}",
        s.ep().events
    );
    assert!(s.coturn.is_running(), "coturn died:\n{}", s.coturn.log());
    let Setup { coturn, .. } = s;
    coturn.stop();
}

#[test]
fn a_refresh_in_real_time_through_a_stale_nonce_over_udp() {
    a_refresh_in_real_time_through_a_stale_nonce(TurnTransport::Udp, 5);
}

#[test]
fn a_refresh_in_real_time_through_a_stale_nonce_over_tcp() {
    a_refresh_in_real_time_through_a_stale_nonce(TurnTransport::Tcp, 6);
}
