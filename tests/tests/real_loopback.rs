//! The realnet runner on loopback: our components over real UDP and TCP
//! sockets and the real clock, no privileges needed.
//!
//! - RFC 5780 and classic discovery against our server on 127.0.0.1 and
//!   127.0.0.2 find no NAT (Open Internet), with RFC 5389 and RFC 3489
//!   requests;
//! - several endpoints with several sockets each, and timers;
//! - STUN over TCP: our server answers a Binding request on a stream, and
//!   frames split over reads or merged into one are cut apart;
//! - a transmit from a socket the endpoint does not own is refused.
//!
//! Waits are bounded and generous (a shared machine may be slow); nothing
//! asserts a duration.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::io::Write;
use std::net::{IpAddr, SocketAddr, TcpStream};
use std::time::Duration;

use candidate_gather::nat::{ClassicNat, FilteringBehavior, MappingBehavior, Outcome};
use ice_tests::netsim::{Echo, Probe};
use ice_tests::realnet::RealNet;
use ice_tests::realnet::tasks::{self, DiscoveryOptions};
use stun_proto::attr::XorMappedAddress;
use stun_proto::{Message, MessageType, MessageWriter, TransactionId};
use turn_server::StunServer;

const LIMIT: Duration = Duration::from_secs(20);

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

fn sa(s: &str) -> SocketAddr {
    s.parse().unwrap()
}

/// Our RFC 5780 server on 127.0.0.1 and 127.0.0.2, served from a thread
/// until `stop` is dropped; returns its primary address.
fn serve_on_loopback() -> (
    SocketAddr,
    std::sync::mpsc::Sender<()>,
    std::thread::JoinHandle<()>,
) {
    let (addr_tx, addr_rx) = std::sync::mpsc::channel();
    let (stop_tx, stop_rx) = std::sync::mpsc::channel::<()>();
    let handle = std::thread::spawn(move || {
        let mut net = RealNet::new();
        let (_, primary, _) =
            tasks::add_stun_server_any_ports(&mut net, ip("127.0.0.1"), ip("127.0.0.2")).unwrap();
        addr_tx.send(primary).unwrap();
        net.run_until(Duration::from_secs(120), |_| {
            !matches!(
                stop_rx.try_recv(),
                Err(std::sync::mpsc::TryRecvError::Empty)
            )
        });
    });
    (addr_rx.recv().unwrap(), stop_tx, handle)
}

#[test]
fn discovery_on_loopback_finds_no_nat() {
    let (server, stop, handle) = serve_on_loopback();
    for rfc3489_requests in [false, true] {
        let o = DiscoveryOptions {
            rfc3489_requests,
            limit: LIMIT,
            ..DiscoveryOptions::default()
        };
        let r = tasks::rfc5780(server, ip("127.0.0.1"), &o).unwrap();
        let report = &r.report;
        assert_eq!(report.udp, Outcome::Known(true), "{report:#?}");
        assert_eq!(report.mapping, Outcome::Known(MappingBehavior::NoNat));
        assert_eq!(
            report.filtering,
            Outcome::Known(FilteringBehavior::EndpointIndependent)
        );
        assert_eq!(report.classic, Outcome::Known(ClassicNat::OpenInternet));
        assert_eq!(report.mapped_address, r.sockets.first().copied());
        assert_eq!(r.stats.bad_source, 0);

        let c = tasks::classic(server, ip("127.0.0.1"), &o).unwrap();
        assert_eq!(c.report.nat, Outcome::Known(ClassicNat::OpenInternet));
        assert_eq!(c.report.mapped_address, c.sockets.first().copied());
    }
    drop(stop);
    handle.join().unwrap();
}

#[test]
fn several_endpoints_with_several_sockets_and_timers() {
    let mut net = RealNet::new();
    let e1 = net.bind_udp(sa("127.0.0.1:0")).unwrap();
    let e2 = net.bind_udp(sa("127.0.0.2:0")).unwrap();
    let p1 = net.bind_udp(sa("127.0.0.1:0")).unwrap();
    let p2 = net.bind_udp(sa("127.0.0.1:0")).unwrap();
    let echo = net.add_endpoint(Echo::new(), &[e1, e2]).unwrap();
    let now = RealNet::now();
    // Timers: two datagrams scheduled in the future, from each socket.
    let probe = Probe::new()
        .with_send_at(now + Duration::from_millis(30), p1, e1, *b"one")
        .with_send_at(now + Duration::from_millis(60), p2, e2, *b"two");
    let probe = net.add_endpoint(probe, &[p1, p2]).unwrap();
    let done = net.run_until(LIMIT, |n| n.endpoint::<Probe>(probe).received.len() == 2);
    assert!(done, "{:?}", net.stats());
    let got = &net.endpoint::<Probe>(probe).received;
    let mut seen: Vec<_> = got
        .iter()
        .map(|r| (r.local, r.remote, r.data.clone()))
        .collect();
    seen.sort();
    let mut want = vec![(p1, e1, b"one".to_vec()), (p2, e2, b"two".to_vec())];
    want.sort();
    assert_eq!(seen, want);
    // Each arrived after it was scheduled.
    assert!(got.iter().all(|r| r.at >= now + Duration::from_millis(30)));
    let echoed = &net.endpoint::<Echo>(echo).received;
    assert_eq!(echoed.len(), 2);
    assert_eq!(net.stats().bad_source, 0);
    assert_eq!(net.stats().sent, 4);
}

#[test]
fn a_transmit_from_a_foreign_socket_is_refused() {
    let mut net = RealNet::new();
    let mine = net.bind_udp(sa("127.0.0.1:0")).unwrap();
    let other = net.bind_udp(sa("127.0.0.1:0")).unwrap();
    let _echo = net.add_endpoint(Echo::new(), &[other]).unwrap();
    let probe = net.add_endpoint(Probe::new(), &[mine]).unwrap();
    net.with_endpoint::<Probe, _>(probe, |p, _| p.send(other, mine, *b"spoofed"));
    net.run_for(Duration::from_millis(50));
    assert_eq!(net.stats().bad_source, 1);
    assert_eq!(net.stats().sent, 0);
    assert!(net.endpoint::<Probe>(probe).received.is_empty());
}

fn binding_request(id: u8) -> Vec<u8> {
    let mut buf = Vec::new();
    let mut w = MessageWriter::new(
        &mut buf,
        MessageType::BINDING_REQUEST,
        TransactionId::Rfc5389([id; 12]),
    );
    w.add_fingerprint().unwrap();
    w.finish().to_vec()
}

#[test]
fn our_server_answers_over_tcp() {
    // UDP and TCP on the same address, the server's primary socket (a
    // fresh net per try, in case the TCP port is taken).
    let (mut net, primary, server) = (0..10)
        .find_map(|_| {
            let mut net = RealNet::new();
            let primary = net.bind_udp(sa("127.0.0.1:0")).unwrap();
            let server = StunServer::new(turn_server::StunServerConfig::new(primary));
            let server = net.add_endpoint(server, &[primary]).unwrap();
            net.listen_tcp(server, primary).ok()?;
            Some((net, primary, server))
        })
        .expect("a port free for UDP and TCP");
    let client = net.add_endpoint(Probe::new(), &[]).unwrap();
    let local = net
        .connect_tcp(client, primary, Duration::from_secs(5))
        .unwrap();
    // Two requests in one write: the server must see two frames.
    let mut both = binding_request(1);
    both.extend(binding_request(2));
    net.with_endpoint::<Probe, _>(client, |p, _| p.send(local, primary, both));
    let done = net.run_until(LIMIT, |n| n.endpoint::<Probe>(client).received.len() == 2);
    assert!(done, "{:?}", net.stats());
    for answer in &net.endpoint::<Probe>(client).received {
        assert_eq!((answer.local, answer.remote), (local, primary));
        let msg = Message::parse(&answer.data).unwrap();
        assert_eq!(
            msg.get::<XorMappedAddress>().unwrap(),
            Some(XorMappedAddress(local))
        );
    }
    assert_eq!(net.endpoint::<StunServer>(server).stats().successes, 2);
    assert_eq!(net.streams_of(server).len(), 1);
}

#[test]
fn stream_frames_split_over_reads_are_reassembled() {
    let mut net = RealNet::new();
    let probe = net.add_endpoint(Probe::new(), &[]).unwrap();
    let addr = net.listen_tcp(probe, sa("127.0.0.1:0")).unwrap();
    let mut peer = TcpStream::connect(addr).unwrap();
    let a = binding_request(7);
    // A ChannelData frame (RFC 8656 §12.5): channel 0x4000, 3 bytes, padded
    // to 4 on a stream.
    let cd = [0x40, 0x00, 0x00, 0x03, b'x', b'y', b'z', 0];
    let mut bytes = a.clone();
    bytes.extend_from_slice(&cd);
    let (first, rest) = bytes.split_at(13);
    peer.write_all(first).unwrap();
    peer.flush().unwrap();
    net.run_for(Duration::from_millis(50));
    assert!(net.endpoint::<Probe>(probe).received.is_empty());
    peer.write_all(rest).unwrap();
    let done = net.run_until(LIMIT, |n| n.endpoint::<Probe>(probe).received.len() == 2);
    assert!(done, "{:?}", net.stats());
    let got = net.endpoint::<Probe>(probe).payloads();
    assert_eq!(got, vec![a.as_slice(), &cd[..]]);
    // Bytes that are neither STUN nor ChannelData close the stream.
    peer.write_all(&[0xFF; 8]).unwrap();
    let closed = net.run_until(LIMIT, |n| n.stats().out_of_step == 1);
    assert!(closed, "{:?}", net.stats());
    assert!(net.streams_of(probe).is_empty());
}
