//! Spoofed, damaged and foreign packets never change what NAT discovery
//! reports, and never make it panic.
//!
//! A wrapper endpoint stands between the network and the discovery client.
//! For every request the client sends, it forges answers with the right
//! transaction id but from every server address the answer must *not* come
//! from (the other test's source, as an off-path spoofer guessing the id
//! would), and from an attacker's address. For every real packet it delivers
//! damaged copies first (each single-bit flip of it, truncations, random
//! bytes) and a copy to the wrong local socket. Every forgery must be
//! refused, and the final report must equal the report of the same seed
//! without the wrapper.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, Instant};

use candidate_gather::nat::{DiscoveryConfig, NatReport, Rfc5780Discovery};
use ice_tests::netsim::{self, Endpoint, Link, NatConfig, Sim, seed};
use stun_proto::attr::{ChangeRequest, OtherAddress, XorMappedAddress};
use stun_proto::{Class, Message, MessageType, MessageWriter, Method, Transmit};
use turn_server::{StunServer, StunServerConfig};

const PRIMARY: &str = "198.51.100.1:3478";
const ALTERNATE_IP: &str = "198.51.100.2";
const ALTERNATE_PORT: u16 = 3479;
const ATTACKER: &str = "192.0.2.66:3478";

fn addr(s: &str) -> SocketAddr {
    s.parse().unwrap()
}

/// The four server sockets.
fn server_sockets() -> [SocketAddr; 4] {
    let p = addr(PRIMARY);
    let alt: IpAddr = ALTERNATE_IP.parse().unwrap();
    [
        p,
        SocketAddr::new(p.ip(), ALTERNATE_PORT),
        SocketAddr::new(alt, p.port()),
        SocketAddr::new(alt, ALTERNATE_PORT),
    ]
}

/// Where the answer to a request must come from (RFC 5780 Table 1).
fn expected_source(request: &Message<'_>, to: SocketAddr) -> SocketAddr {
    let change = request
        .get::<ChangeRequest>()
        .ok()
        .flatten()
        .unwrap_or_default();
    let alt: IpAddr = ALTERNATE_IP.parse().unwrap();
    let ip = if change.change_ip { alt } else { to.ip() };
    let port = if change.change_port {
        ALTERNATE_PORT
    } else {
        to.port()
    };
    SocketAddr::new(ip, port)
}

struct Hostile {
    inner: Rfc5780Discovery,
    sockets: Vec<SocketAddr>,
    forged: Vec<(SocketAddr, SocketAddr, Vec<u8>)>,
    refused: u64,
    rng: u64,
}

impl Hostile {
    fn next(&mut self) -> u64 {
        // xorshift64: the wrapper's own randomness, separate from the sim.
        self.rng ^= self.rng << 13;
        self.rng ^= self.rng >> 7;
        self.rng ^= self.rng << 17;
        self.rng
    }

    fn refuse(
        &mut self,
        now: Instant,
        local: SocketAddr,
        remote: SocketAddr,
        data: &[u8],
        what: &str,
    ) {
        let r = self.inner.handle_packet(now, local, remote, data);
        assert!(
            r.is_err(),
            "accepted a forgery ({what}) from {remote} at {local}: {data:02x?}"
        );
        self.refused += 1;
    }

    fn inject_forged(&mut self, now: Instant) {
        for (local, remote, data) in std::mem::take(&mut self.forged) {
            self.refuse(now, local, remote, &data, "spoofed source");
        }
    }
}

impl Endpoint for Hostile {
    fn handle_packet(&mut self, now: Instant, local: SocketAddr, remote: SocketAddr, data: &[u8]) {
        self.inject_forged(now);
        // Damaged copies: every single-bit flip of an RFC 8489 answer fails
        // its FINGERPRINT or its parse, or carries another transaction id; a
        // flip in the FINGERPRINT type leaves an intact answer, which is
        // genuine and so is not sent ahead of the real one.
        let fp_type_at = data.len().saturating_sub(8);
        for bit in 0..data.len() * 8 {
            if (fp_type_at..fp_type_at + 2).contains(&(bit / 8)) {
                continue;
            }
            let mut d = data.to_vec();
            d[bit / 8] ^= 1 << (bit % 8);
            self.refuse(now, local, remote, &d, "bit flip");
        }
        for cut in 0..data.len() {
            self.refuse(now, local, remote, &data[..cut], "truncation");
        }
        let junk: Vec<u8> = (0..(self.next() % 120) as usize)
            .map(|_| self.next() as u8)
            .collect();
        self.refuse(now, local, remote, &junk, "random bytes");
        // The real packet on a socket it was not for (not a hairpinned
        // request, which may legitimately arrive on another socket).
        let is_request = Message::parse(data).is_ok_and(|m| m.class() == Class::Request);
        if !is_request {
            for other in self.sockets.clone().into_iter().filter(|s| *s != local) {
                self.refuse(now, other, remote, data, "wrong socket");
            }
        }
        let _ = self.inner.handle_packet(now, local, remote, data);
    }

    fn handle_timeout(&mut self, now: Instant) {
        self.inject_forged(now);
        self.inner.handle_timeout(now)
    }

    fn poll_transmit(&mut self) -> Option<Transmit> {
        let t = self.inner.poll_transmit()?;
        if let Ok(req) = Message::parse(&t.data) {
            if req.class() == Class::Request && server_sockets().contains(&t.to) {
                let expected = expected_source(&req, t.to);
                let mut sources: Vec<SocketAddr> = server_sockets()
                    .into_iter()
                    .filter(|s| *s != expected)
                    .collect();
                sources.push(addr(ATTACKER));
                for source in sources {
                    let mut buf = Vec::new();
                    let mut w = MessageWriter::new(
                        &mut buf,
                        MessageType::new(Method::BINDING, Class::Success),
                        req.transaction_id(),
                    );
                    w.add(&XorMappedAddress(addr("6.6.6.6:666"))).unwrap();
                    w.add(&OtherAddress(addr("6.6.6.7:667"))).unwrap();
                    if !req.is_rfc3489() {
                        w.add_fingerprint().unwrap();
                    }
                    self.forged.push((t.from, source, buf));
                }
            }
        }
        Some(t)
    }

    fn poll_timeout(&self) -> Option<Instant> {
        self.inner.poll_timeout()
    }
}

fn run(seed: u64, nat: &NatConfig, loss: f64, hostile: bool) -> (NatReport, u64) {
    let mut sim = Sim::new(seed);
    let inet = sim.internet();
    sim.set_link(
        inet,
        Link {
            latency: Duration::from_millis(20),
            loss,
            ..Link::default()
        },
    );
    let config = StunServerConfig::new(addr(PRIMARY))
        .with_alternate(ALTERNATE_IP.parse().unwrap(), ALTERNATE_PORT)
        .unwrap();
    let alt: IpAddr = ALTERNATE_IP.parse().unwrap();
    sim.add_host(inet, &[addr(PRIMARY).ip(), alt], StunServer::new(config));
    let n = sim.add_nat(inet, nat.clone(), &["203.0.113.1".parse().unwrap()]);
    let lan = sim.nat_inside(n);
    let client: IpAddr = "192.168.1.10".parse().unwrap();
    let sockets: Vec<SocketAddr> = (0..3).map(|i| SocketAddr::new(client, 5000 + i)).collect();
    let d = Rfc5780Discovery::new(
        DiscoveryConfig::new(addr(PRIMARY), sockets.clone(), seed::derive_seed(seed, 1)),
        sim.now(),
    );
    if hostile {
        let h = sim.add_host(
            lan,
            &[client],
            Hostile {
                inner: d,
                sockets,
                forged: Vec::new(),
                refused: 0,
                rng: seed | 1,
            },
        );
        assert!(sim.run_until_condition(Duration::from_secs(3600), |s| {
            s.endpoint::<Hostile>(h).inner.report().is_some()
        }));
        let e = sim.endpoint::<Hostile>(h);
        (e.inner.report().cloned().unwrap(), e.refused)
    } else {
        let h = sim.add_host(lan, &[client], d);
        assert!(sim.run_until_condition(Duration::from_secs(3600), |s| {
            s.endpoint::<Rfc5780Discovery>(h).report().is_some()
        }));
        (
            sim.endpoint::<Rfc5780Discovery>(h)
                .report()
                .cloned()
                .unwrap(),
            0,
        )
    }
}

#[test]
fn forgeries_are_refused_and_change_nothing() {
    let nats = [
        NatConfig::full_cone(),
        NatConfig::restricted_cone(),
        NatConfig::port_restricted_cone(),
        NatConfig::symmetric(),
        NatConfig::new(
            netsim::MappingBehavior::AddressDependent,
            netsim::FilteringBehavior::EndpointIndependent,
        ),
    ];
    for (i, nat) in nats.iter().enumerate() {
        for loss in [0.0, 0.2] {
            seed::for_each_seed(3, |s| {
                let s = seed::derive_seed(s, i as u64);
                let (baseline, _) = run(s, nat, loss, false);
                let (attacked, refused) = run(s, nat, loss, true);
                assert!(refused > 1000, "only {refused} forgeries were tried");
                assert_eq!(attacked, baseline, "{nat:?} at {loss} loss");
            });
        }
    }
}
