//! The tokio front on loopback with real sockets: a minimal client (built
//! with stun-proto) allocates, creates a permission, binds a channel and
//! exchanges data both ways with a peer socket, over UDP and over TCP
//! (where ChannelData is padded); Binding is answered on both.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod turn_support;

use std::net::SocketAddr;
use std::time::Duration;

use stun_proto::attr::{Data, XorMappedAddress, XorPeerAddress, XorRelayedAddress};
use stun_proto::{
    ChannelData, Class, Frame, Message, MessageType, MessageWriter, Method, StreamFramer,
    TransactionId, Transport,
};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpStream, UdpSocket};
use tokio::time::timeout;
use turn_server::TurnServerConfig;
use turn_server::front::TurnFront;
use turn_server::turn::Prefix;
use turn_support::{Client, PASSWORD, REALM, USER};

const WAIT: Duration = Duration::from_secs(5);

enum Conn {
    Udp(UdpSocket, SocketAddr),
    Tcp(TcpStream, StreamFramer),
}

impl Conn {
    async fn send(&mut self, bytes: &[u8]) {
        match self {
            Conn::Udp(s, server) => {
                s.send_to(bytes, *server).await.unwrap();
            }
            Conn::Tcp(s, _) => s.write_all(bytes).await.unwrap(),
        }
    }

    /// One datagram or one frame (ChannelData as its 4-byte header and
    /// padded data, as on the wire).
    async fn recv(&mut self) -> Vec<u8> {
        match self {
            Conn::Udp(s, server) => {
                let mut buf = vec![0; 2048];
                let (n, from) = timeout(WAIT, s.recv_from(&mut buf))
                    .await
                    .expect("answer in time")
                    .unwrap();
                assert_eq!(from, *server);
                buf.truncate(n);
                buf
            }
            Conn::Tcp(s, framer) => loop {
                if let Some(frame) = framer.next_frame() {
                    return match frame.unwrap() {
                        Frame::Stun(b) => b.to_vec(),
                        Frame::ChannelData(cd) => {
                            let mut out = Vec::new();
                            cd.write(&mut out, Transport::Stream);
                            out
                        }
                    };
                }
                let mut buf = vec![0; 2048];
                let n = timeout(WAIT, s.read(&mut buf))
                    .await
                    .expect("answer in time")
                    .unwrap();
                assert!(n > 0, "server closed the connection");
                framer.push(&buf[..n]);
            },
        }
    }

    fn transport(&self) -> Transport {
        match self {
            Conn::Udp(..) => Transport::Datagram,
            Conn::Tcp(..) => Transport::Stream,
        }
    }
}

/// Sends a request, answering a 401 or 438 challenge once.
async fn transact(
    conn: &mut Conn,
    c: &mut Client,
    method: Method,
    build: impl Fn(&mut MessageWriter<'_>),
) -> Vec<u8> {
    let mut answer = {
        conn.send(&c.request(method, &build)).await;
        conn.recv().await
    };
    let code = |b: &[u8]| {
        Message::parse(b)
            .unwrap()
            .get::<stun_proto::attr::ErrorCode>()
            .unwrap()
            .map(|e| e.code())
    };
    if matches!(code(&answer), Some(401 | 438)) {
        let m = Message::parse(&answer).unwrap();
        c.realm = m
            .get::<stun_proto::attr::Realm>()
            .unwrap()
            .map(|r| r.as_str().to_owned());
        c.nonce = m
            .get::<stun_proto::attr::Nonce>()
            .unwrap()
            .map(|n| n.as_str().to_owned());
        conn.send(&c.request(method, &build)).await;
        answer = conn.recv().await;
    }
    let m = Message::parse(&answer).unwrap();
    assert_eq!(m.method(), method);
    assert_eq!(m.class(), Class::Success, "{method}: {:?}", code(&answer));
    m.verify_message_integrity(&c.key()).unwrap();
    answer
}

fn config() -> TurnServerConfig {
    TurnServerConfig::new("127.0.0.1:0".parse().unwrap(), REALM)
        .unwrap()
        .with_user(USER, PASSWORD)
        .unwrap()
        .allow_peers(Prefix::new("127.0.0.0".parse().unwrap(), 8).unwrap())
        .with_seed(11)
}

async fn exchange(transport: Transport) {
    let front = TurnFront::start(config()).await.unwrap();
    let server = front.udp_addresses()[0];
    assert_eq!(front.tcp_addresses(), [server]);
    let mut conn = match transport {
        Transport::Datagram => {
            let s = UdpSocket::bind("127.0.0.1:0").await.unwrap();
            Conn::Udp(s, server)
        }
        Transport::Stream => Conn::Tcp(
            TcpStream::connect(server).await.unwrap(),
            StreamFramer::new(),
        ),
    };
    let local = match &conn {
        Conn::Udp(s, _) => s.local_addr().unwrap(),
        Conn::Tcp(s, _) => s.local_addr().unwrap(),
    };
    let mut c = Client::on(
        &local.to_string(),
        &server.to_string(),
        transport,
        USER,
        PASSWORD,
    );
    let peer = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let peer_addr = peer.local_addr().unwrap();

    // Binding, answered by the STUN server behind the same port.
    let mut binding = Vec::new();
    MessageWriter::new(
        &mut binding,
        MessageType::BINDING_REQUEST,
        TransactionId::Rfc5389([1; 12]),
    );
    conn.send(&binding).await;
    let answer = conn.recv().await;
    let m = Message::parse(&answer).unwrap();
    assert_eq!(m.get::<XorMappedAddress>().unwrap().unwrap().0, local);

    let answer = transact(&mut conn, &mut c, Method::ALLOCATE, |w| {
        w.add(&stun_proto::attr::RequestedTransport::UDP).unwrap();
    })
    .await;
    let relay = Message::parse(&answer)
        .unwrap()
        .get::<XorRelayedAddress>()
        .unwrap()
        .unwrap()
        .0;
    assert_eq!(relay.ip(), server.ip());

    transact(&mut conn, &mut c, Method::CREATE_PERMISSION, |w| {
        w.add(&XorPeerAddress(peer_addr)).unwrap();
    })
    .await;

    // Send indication -> peer.
    conn.send(&c.send_indication(peer_addr, b"to the peer"))
        .await;
    let mut buf = vec![0; 2048];
    let (n, from) = timeout(WAIT, peer.recv_from(&mut buf))
        .await
        .unwrap()
        .unwrap();
    assert_eq!((&buf[..n], from), (&b"to the peer"[..], relay));

    // Peer -> Data indication.
    peer.send_to(b"to the client", relay).await.unwrap();
    let data = conn.recv().await;
    let m = Message::parse(&data).unwrap();
    assert_eq!((m.method(), m.class()), (Method::DATA, Class::Indication));
    assert_eq!(m.get::<XorPeerAddress>().unwrap().unwrap().0, peer_addr);
    assert_eq!(m.get::<Data>().unwrap().unwrap().0, b"to the client");

    // Channel both ways.
    transact(&mut conn, &mut c, Method::CHANNEL_BIND, |w| {
        w.add_raw(
            stun_proto::AttributeType::CHANNEL_NUMBER,
            &[0x40, 0x07, 0, 0],
        )
        .unwrap();
        w.add(&XorPeerAddress(peer_addr)).unwrap();
    })
    .await;
    let mut cd = Vec::new();
    ChannelData::new(0x4007, b"abcde")
        .unwrap()
        .write(&mut cd, transport);
    conn.send(&cd).await;
    let (n, from) = timeout(WAIT, peer.recv_from(&mut buf))
        .await
        .unwrap()
        .unwrap();
    assert_eq!((&buf[..n], from), (&b"abcde"[..], relay));
    peer.send_to(b"fghij", relay).await.unwrap();
    let frame = conn.recv().await;
    let expected_len = match conn.transport() {
        Transport::Datagram => 9,
        Transport::Stream => 12,
    };
    assert_eq!(frame.len(), expected_len, "padding only over TCP");
    let cd = ChannelData::parse(&frame, conn.transport()).unwrap();
    assert_eq!((cd.channel(), cd.data()), (0x4007, &b"fghij"[..]));

    // Delete: the relay socket closes (its port can be bound again).
    transact(&mut conn, &mut c, Method::REFRESH, |w| {
        w.add(&stun_proto::attr::Lifetime(0)).unwrap();
    })
    .await;
    let mut rebound = None;
    for _ in 0..50 {
        if let Ok(s) = std::net::UdpSocket::bind(relay) {
            rebound = Some(s);
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(rebound.is_some(), "relay socket released");
    front.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn allocate_permission_channel_and_data_over_udp() {
    exchange(Transport::Datagram).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn allocate_permission_channel_and_data_over_tcp() {
    exchange(Transport::Stream).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tcp_stream_out_of_step_is_closed() {
    let front = TurnFront::start(config()).await.unwrap();
    let server = front.udp_addresses()[0];
    let mut s = TcpStream::connect(server).await.unwrap();
    s.write_all(&[0xFF, 0, 0, 0]).await.unwrap();
    let mut buf = [0u8; 16];
    let n = timeout(WAIT, s.read(&mut buf)).await.unwrap().unwrap_or(0);
    assert_eq!(n, 0, "closed");
    front.shutdown().await;
}
