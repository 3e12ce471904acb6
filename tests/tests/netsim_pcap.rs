//! Captures are classic pcap files that tshark reads, with correct IPv4
//! header and UDP checksums (RFC 768, RFC 1071, RFC 8200 §8.1) and STUN
//! dissected on 3478.
//!
//! These tests need `tshark` (Debian package `tshark`, which scripts/test
//! installs); without it they fail rather than skip.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use common::*;
use ice_tests::netsim::pcap::{LINKTYPE_RAW, PCAP_MAGIC};
use ice_tests::netsim::{Endpoint, Link, NatConfig, NetworkId, Probe, Sim};
use stun_proto::attr::XorMappedAddress;
use stun_proto::{Class, Message, MessageType, MessageWriter, TransactionId, Transmit};

/// Answers Binding requests with the source it saw (RFC 8489 §3).
#[derive(Default)]
struct StunResponder {
    out: VecDeque<Transmit>,
}

impl Endpoint for StunResponder {
    fn handle_packet(&mut self, _: Instant, local: SocketAddr, remote: SocketAddr, data: &[u8]) {
        let Ok(req) = Message::parse(data) else {
            return;
        };
        if req.class() != Class::Request {
            return;
        }
        let mut buf = Vec::new();
        let mut w = MessageWriter::new(&mut buf, req.msg_type().success(), req.transaction_id());
        w.add(&XorMappedAddress(remote)).unwrap();
        let data = w.finish().to_vec();
        self.out.push_back(Transmit {
            from: local,
            to: remote,
            data,
        });
    }
    fn handle_timeout(&mut self, _: Instant) {}
    fn poll_transmit(&mut self) -> Option<Transmit> {
        self.out.pop_front()
    }
    fn poll_timeout(&self) -> Option<Instant> {
        None
    }
}

fn binding_request(id: u8) -> Vec<u8> {
    let mut buf = Vec::new();
    let w = MessageWriter::new(
        &mut buf,
        MessageType::BINDING_REQUEST,
        TransactionId::Rfc5389([id; 12]),
    );
    w.finish().to_vec()
}

/// Runs tshark on `file` and returns one row of `fields` per packet.
fn tshark(file: &Path, fields: &[&str]) -> Vec<Vec<String>> {
    let mut cmd = Command::new("tshark");
    cmd.arg("-r").arg(file);
    cmd.args([
        "-o",
        "ip.check_checksum:TRUE",
        "-o",
        "udp.check_checksum:TRUE",
    ]);
    cmd.args(["-T", "fields", "-E", "separator=|"]);
    for f in fields {
        cmd.args(["-e", f]);
    }
    let out = match cmd.output() {
        Ok(out) => out,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => panic!(
            "tshark is not installed: install tshark (scripts/test does), \
             e.g. `apt-get install tshark`"
        ),
        Err(e) => panic!("running tshark: {e}"),
    };
    assert!(
        out.status.success(),
        "tshark failed on {}: {}",
        file.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| l.split('|').map(str::to_owned).collect())
        .collect()
}

fn pcap_path(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(format!("netsim-{name}.pcap"))
}

/// A client behind a NAT asks a STUN server on the Internet for its
/// mapped address over IPv4, and a v6 host asks over IPv6; both networks
/// are captured.
fn stun_scene(seed: u64) -> (Sim, NetworkId) {
    let mut sim = Sim::new(seed);
    let inet = sim.internet();
    sim.set_link(inet, Link::with_latency(ms(20)));
    let nat = sim.add_nat(inet, NatConfig::port_restricted_cone(), &[ip(NAT_IP)]);
    let lan = sim.nat_inside(nat);
    sim.set_link(lan, Link::with_latency(ms(1)));
    sim.capture(inet);
    sim.capture(lan);
    sim.add_host(
        inet,
        &[ip(S1), ip("2001:db8::53")],
        StunResponder::default(),
    );
    let client = Probe::new().with_send_at(
        sim.at(ms(0)),
        sa("192.168.1.10:5000"),
        sa("198.51.100.1:3478"),
        binding_request(1),
    );
    sim.add_host(lan, &[ip(CLIENT)], client);
    let v6 = Probe::new().with_send_at(
        sim.at(ms(100)),
        sa("[2001:db8::a]:6000"),
        sa("[2001:db8::53]:3478"),
        binding_request(2),
    );
    sim.add_host(inet, &[ip("2001:db8::a")], v6);
    sim.run_for(ms(500));
    (sim, lan)
}

#[test]
fn captures_have_the_classic_pcap_header() {
    let (sim, _) = stun_scene(1);
    let bytes = sim.pcap(sim.internet()).unwrap();
    assert_eq!(bytes[0..4], PCAP_MAGIC.to_le_bytes());
    assert_eq!(bytes[20..24], LINKTYPE_RAW.to_le_bytes());
}

#[test]
fn tshark_reads_the_internet_capture_with_good_checksums() {
    let (sim, _) = stun_scene(1);
    let file = pcap_path("internet");
    sim.write_pcap(sim.internet(), &file).unwrap();
    let rows = tshark(
        &file,
        &[
            "frame.time_epoch",
            "ip.src",
            "ipv6.src",
            "udp.srcport",
            "udp.dstport",
            "stun.type",
            "stun.att.ipv4",
            "stun.att.ipv6",
            "stun.att.port",
            "ip.checksum.status",
            "udp.checksum.status",
        ],
    );
    let rows: Vec<Vec<&str>> = rows
        .iter()
        .map(|r| r.iter().map(String::as_str).collect())
        .collect();
    assert_eq!(
        rows,
        vec![
            // The request left the NAT at 1 ms and crossed the Internet in 20.
            vec![
                "0.021000000",
                "203.0.113.1",
                "",
                "5000",
                "3478",
                "0x0001",
                "",
                "",
                "",
                "1",
                "1",
            ],
            vec![
                "0.041000000",
                "198.51.100.1",
                "",
                "3478",
                "5000",
                "0x0101",
                "203.0.113.1",
                "",
                "5000",
                "1",
                "1",
            ],
            vec![
                "0.120000000",
                "",
                "2001:db8::a",
                "6000",
                "3478",
                "0x0001",
                "",
                "",
                "",
                "",
                "1",
            ],
            vec![
                "0.140000000",
                "",
                "2001:db8::53",
                "3478",
                "6000",
                "0x0101",
                "",
                "2001:db8::a",
                "6000",
                "",
                "1",
            ],
        ]
    );
}

#[test]
fn tshark_sees_private_addresses_on_the_lan_capture() {
    let (sim, lan) = stun_scene(1);
    let file = pcap_path("lan");
    sim.write_pcap(lan, &file).unwrap();
    let rows = tshark(
        &file,
        &["ip.src", "ip.dst", "udp.checksum.status", "stun.type"],
    );
    assert_eq!(
        rows,
        vec![
            vec!["192.168.1.10", "198.51.100.1", "1", "0x0001"],
            vec!["198.51.100.1", "192.168.1.10", "1", "0x0101"],
        ]
    );
}

#[test]
fn writing_a_network_that_is_not_captured_fails() {
    let sim = Sim::new(0);
    assert!(sim.pcap(sim.internet()).is_none());
    assert!(sim.write_pcap(sim.internet(), pcap_path("none")).is_err());
}
