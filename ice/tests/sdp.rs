//! SDP candidate lines and ICE attributes (RFC 8839 §5, RFC 8838): lines
//! as Chrome, Firefox, libnice and pion write them, round trips, every
//! rejection, whole SDPs, and properties over random candidates and random
//! text.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use ice::candidate::{Candidate, CandidateAddress, CandidateType, TransportProtocol};
use ice::credentials::{CredentialPart, CredentialsError};
use ice::sdp::{
    AddressError, Field, IceAttribute, MAX_EXTENSIONS, MAX_LINE_LEN, SdpError, parse_candidate,
    parse_sdp, write_candidate,
};
use proptest::prelude::*;

fn sa(s: &str) -> SocketAddr {
    s.parse().unwrap()
}

fn ext(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs
        .iter()
        .map(|(n, v)| (n.to_string(), v.to_string()))
        .collect()
}

/// Parses, checks the canonical rewrite, and that the rewrite parses back
/// to the same candidate.
fn roundtrip(line: &str, canonical: &str) -> Candidate {
    let c = parse_candidate(line).unwrap_or_else(|e| panic!("{line}: {e}"));
    let written = write_candidate(&c).unwrap();
    assert_eq!(written, canonical, "from {line}");
    assert_eq!(parse_candidate(&written).unwrap(), c);
    assert_eq!(parse_candidate(&format!("a={written}\r\n")).unwrap(), c);
    assert_eq!(
        IceAttribute::parse(&format!("a={written}")).unwrap(),
        IceAttribute::Candidate(c.clone())
    );
    c
}

fn err(line: &str) -> SdpError {
    match parse_candidate(line) {
        Ok(c) => panic!("{line} parsed as {c:?}"),
        Err(e) => e,
    }
}

const BASE: &str = "candidate:1 1 UDP 2130706431 192.0.2.1 5000 typ host";

// ---------------------------------------------------------------------
// Real-world lines.

#[test]
fn rfc8839_examples() {
    let c = roundtrip(
        "a=candidate:1 1 UDP 2130706431 203.0.113.141 8998 typ host",
        "candidate:1 1 UDP 2130706431 203.0.113.141 8998 typ host",
    );
    assert_eq!(
        c,
        Candidate {
            foundation: "1".into(),
            component: 1,
            transport: TransportProtocol::Udp,
            priority: 2_130_706_431,
            address: CandidateAddress::Ip(sa("203.0.113.141:8998")),
            kind: CandidateType::Host,
            related: None,
            extensions: vec![],
        }
    );
    let c = roundtrip(
        "a=candidate:2 1 UDP 1694498815 192.0.2.3 45664 typ srflx raddr 203.0.113.141 rport 8998",
        "candidate:2 1 UDP 1694498815 192.0.2.3 45664 typ srflx raddr 203.0.113.141 rport 8998",
    );
    assert_eq!(c.kind, CandidateType::ServerReflexive);
    assert_eq!(c.related, Some(sa("203.0.113.141:8998")));
}

#[test]
fn chrome_srflx_with_extensions() {
    let c = roundtrip(
        "candidate:842163049 1 udp 1677729535 203.0.113.7 40075 typ srflx raddr 192.168.1.5 rport 40075 generation 0 ufrag sXt1 network-cost 999",
        "candidate:842163049 1 UDP 1677729535 203.0.113.7 40075 typ srflx raddr 192.168.1.5 rport 40075 generation 0 ufrag sXt1 network-cost 999",
    );
    assert_eq!(c.foundation, "842163049");
    assert_eq!(c.priority, 1_677_729_535);
    assert_eq!(c.socket_addr(), Some(sa("203.0.113.7:40075")));
    assert_eq!(c.related, Some(sa("192.168.1.5:40075")));
    assert_eq!(
        c.extensions,
        ext(&[
            ("generation", "0"),
            ("ufrag", "sXt1"),
            ("network-cost", "999")
        ])
    );
}

#[test]
fn chrome_mdns_host() {
    let c = roundtrip(
        "candidate:3442447574 1 udp 2122260223 7b8e4a2c-1f3d-4e5a-9b6c-0d1e2f3a4b5c.local 54321 typ host generation 0 ufrag sXt1 network-id 1 network-cost 10",
        "candidate:3442447574 1 UDP 2122260223 7b8e4a2c-1f3d-4e5a-9b6c-0d1e2f3a4b5c.local 54321 typ host generation 0 ufrag sXt1 network-id 1 network-cost 10",
    );
    assert_eq!(
        c.address,
        CandidateAddress::Name {
            name: "7b8e4a2c-1f3d-4e5a-9b6c-0d1e2f3a4b5c.local".into(),
            port: 54321
        }
    );
    assert_eq!(c.socket_addr(), None);
    assert_eq!(c.extensions.len(), 4);
}

#[test]
fn chrome_ipv6_host_and_hidden_related_addresses() {
    let c = roundtrip(
        "candidate:1138836290 1 udp 2122262783 2001:db8:85a3::8a2e:370:7334 51789 typ host generation 0 ufrag sXt1 network-id 2 network-cost 10",
        "candidate:1138836290 1 UDP 2122262783 2001:db8:85a3::8a2e:370:7334 51789 typ host generation 0 ufrag sXt1 network-id 2 network-cost 10",
    );
    assert_eq!(
        c.socket_addr(),
        Some(sa("[2001:db8:85a3::8a2e:370:7334]:51789"))
    );

    // With mDNS on, Chrome hides the base of srflx candidates.
    let c = roundtrip(
        "candidate:3720000405 1 udp 1685987071 203.0.113.7 51234 typ srflx raddr 0.0.0.0 rport 0 generation 0 ufrag sXt1 network-id 1 network-cost 10",
        "candidate:3720000405 1 UDP 1685987071 203.0.113.7 51234 typ srflx raddr 0.0.0.0 rport 0 generation 0 ufrag sXt1 network-id 1 network-cost 10",
    );
    assert_eq!(c.related, Some(sa("0.0.0.0:0")));
    let c = roundtrip(
        "candidate:2999745851 1 udp 1685921535 2001:db8:1::7 51235 typ srflx raddr :: rport 0 generation 0",
        "candidate:2999745851 1 UDP 1685921535 2001:db8:1::7 51235 typ srflx raddr :: rport 0 generation 0",
    );
    assert_eq!(
        c.related,
        Some(SocketAddr::new(IpAddr::V6(Ipv6Addr::UNSPECIFIED), 0))
    );
}

#[test]
fn chrome_relay_and_tcp() {
    let c = roundtrip(
        "candidate:2157334355 1 udp 41885439 198.51.100.20 61234 typ relay raddr 203.0.113.7 rport 40075 generation 0 ufrag sXt1 network-id 1 network-cost 10",
        "candidate:2157334355 1 UDP 41885439 198.51.100.20 61234 typ relay raddr 203.0.113.7 rport 40075 generation 0 ufrag sXt1 network-id 1 network-cost 10",
    );
    assert_eq!(c.kind, CandidateType::Relayed);
    assert_eq!(c.related, Some(sa("203.0.113.7:40075")));

    let c = roundtrip(
        "candidate:1876313031 1 tcp 1518280447 192.168.1.5 9 typ host tcptype active generation 0 ufrag sXt1 network-id 1 network-cost 10",
        "candidate:1876313031 1 TCP 1518280447 192.168.1.5 9 typ host tcptype active generation 0 ufrag sXt1 network-id 1 network-cost 10",
    );
    assert_eq!(c.transport, TransportProtocol::Tcp);
    assert_eq!(
        c.extensions.first(),
        Some(&("tcptype".to_string(), "active".to_string()))
    );
}

#[test]
fn firefox_lines() {
    roundtrip(
        "candidate:0 1 UDP 2122252543 192.168.1.5 53927 typ host",
        "candidate:0 1 UDP 2122252543 192.168.1.5 53927 typ host",
    );
    roundtrip(
        "candidate:1 1 UDP 2122187007 2001:db8::5 61456 typ host",
        "candidate:1 1 UDP 2122187007 2001:db8::5 61456 typ host",
    );
    roundtrip(
        "candidate:2 1 TCP 2105524479 192.168.1.5 9 typ host tcptype active",
        "candidate:2 1 TCP 2105524479 192.168.1.5 9 typ host tcptype active",
    );
    roundtrip(
        "candidate:3 1 UDP 1686052863 203.0.113.7 53927 typ srflx raddr 192.168.1.5 rport 53927",
        "candidate:3 1 UDP 1686052863 203.0.113.7 53927 typ srflx raddr 192.168.1.5 rport 53927",
    );
    roundtrip(
        "candidate:4 1 UDP 92217087 198.51.100.20 56718 typ relay raddr 198.51.100.20 rport 56718",
        "candidate:4 1 UDP 92217087 198.51.100.20 56718 typ relay raddr 198.51.100.20 rport 56718",
    );
    let c = roundtrip(
        "candidate:0 1 UDP 2122252543 2e1b4a6b-5b0b-4d2a-9c8f-7e6d5c4b3a21.local 49349 typ host",
        "candidate:0 1 UDP 2122252543 2e1b4a6b-5b0b-4d2a-9c8f-7e6d5c4b3a21.local 49349 typ host",
    );
    assert!(matches!(
        c.address,
        CandidateAddress::Name { port: 49349, .. }
    ));
    // RTP and RTCP components of a non-muxed session.
    let c = roundtrip(
        "candidate:0 2 UDP 2122252542 192.168.1.5 53928 typ host",
        "candidate:0 2 UDP 2122252542 192.168.1.5 53928 typ host",
    );
    assert_eq!(c.component, 2);
}

#[test]
fn libnice_lines() {
    roundtrip(
        "a=candidate:1 1 UDP 2013266431 192.168.1.5 43809 typ host",
        "candidate:1 1 UDP 2013266431 192.168.1.5 43809 typ host",
    );
    let active = roundtrip(
        "a=candidate:2 1 TCP 1015023359 192.168.1.5 9 typ host tcptype active",
        "candidate:2 1 TCP 1015023359 192.168.1.5 9 typ host tcptype active",
    );
    let passive = roundtrip(
        "a=candidate:3 1 TCP 1010828543 192.168.1.5 43255 typ host tcptype passive",
        "candidate:3 1 TCP 1010828543 192.168.1.5 43255 typ host tcptype passive",
    );
    assert_eq!(active.extensions, ext(&[("tcptype", "active")]));
    assert_eq!(passive.extensions, ext(&[("tcptype", "passive")]));
    roundtrip(
        "a=candidate:4 1 UDP 1677721855 203.0.113.7 43809 typ srflx raddr 192.168.1.5 rport 43809\r\n",
        "candidate:4 1 UDP 1677721855 203.0.113.7 43809 typ srflx raddr 192.168.1.5 rport 43809",
    );
}

#[test]
fn pion_lines() {
    roundtrip(
        "candidate:1966762134 1 udp 2130706431 192.168.1.5 50000 typ host",
        "candidate:1966762134 1 UDP 2130706431 192.168.1.5 50000 typ host",
    );
    roundtrip(
        "candidate:233762139 1 udp 2130706431 fe80::1 50001 typ host",
        "candidate:233762139 1 UDP 2130706431 fe80::1 50001 typ host",
    );
    roundtrip(
        "candidate:1052353102 1 udp 1694498815 203.0.113.7 50002 typ srflx raddr 0.0.0.0 rport 50002",
        "candidate:1052353102 1 UDP 1694498815 203.0.113.7 50002 typ srflx raddr 0.0.0.0 rport 50002",
    );
    roundtrip(
        "candidate:3171484346 1 udp 16777215 198.51.100.20 50003 typ relay raddr 203.0.113.7 rport 50004",
        "candidate:3171484346 1 UDP 16777215 198.51.100.20 50003 typ relay raddr 203.0.113.7 rport 50004",
    );
    roundtrip(
        "candidate:1966762134 1 udp 2130706431 f8b5f1c4-6c1e-4b8e-8f4a-2f1f0d7f5c3a.local 50000 typ host",
        "candidate:1966762134 1 UDP 2130706431 f8b5f1c4-6c1e-4b8e-8f4a-2f1f0d7f5c3a.local 50000 typ host",
    );
}

#[test]
fn prflx_and_fqdn() {
    let c = roundtrip(
        "candidate:Zm9v+/1 1 udp 1845501695 198.51.100.9 3478 typ prflx raddr 10.0.0.2 rport 3478",
        "candidate:Zm9v+/1 1 UDP 1845501695 198.51.100.9 3478 typ prflx raddr 10.0.0.2 rport 3478",
    );
    assert_eq!(c.kind, CandidateType::PeerReflexive);
    let c = roundtrip(
        "candidate:1 1 UDP 100 turn.example.com 3478 typ relay raddr 203.0.113.7 rport 1",
        "candidate:1 1 UDP 100 turn.example.com 3478 typ relay raddr 203.0.113.7 rport 1",
    );
    assert_eq!(
        c.address,
        CandidateAddress::Name {
            name: "turn.example.com".into(),
            port: 3478
        }
    );
}

// ---------------------------------------------------------------------
// Leniency and canonical form.

#[test]
fn accepted_prefixes() {
    let expected = parse_candidate(BASE).unwrap();
    for line in [
        "a=candidate:1 1 UDP 2130706431 192.0.2.1 5000 typ host",
        "candidate:1 1 UDP 2130706431 192.0.2.1 5000 typ host",
        "1 1 UDP 2130706431 192.0.2.1 5000 typ host",
        "  a=candidate:1 1 UDP 2130706431 192.0.2.1 5000 typ host\r\n",
        "a=candidate: 1 1 UDP 2130706431 192.0.2.1 5000 typ host",
        "Candidate:1 1 UDP 2130706431 192.0.2.1 5000 typ host",
        "candidate:1\t1  UDP   2130706431 192.0.2.1 5000\ttyp host",
    ] {
        assert_eq!(parse_candidate(line), Ok(expected.clone()), "{line:?}");
    }
}

#[test]
fn keywords_are_case_insensitive_and_written_canonically() {
    roundtrip(
        "candidate:1 001 Udp 0000000042 192.0.2.1 05000 TYP HOST",
        "candidate:1 1 UDP 42 192.0.2.1 5000 typ host",
    );
    roundtrip(
        "candidate:1 1 udp 1 192.0.2.1 5000 typ SrFlx RADDR 10.0.0.1 RPORT 7",
        "candidate:1 1 UDP 1 192.0.2.1 5000 typ srflx raddr 10.0.0.1 rport 7",
    );
    // IPv6 addresses are written in their RFC 5952 form.
    roundtrip(
        "candidate:1 1 udp 1 2001:DB8:0:0:0:0:0:1 5000 typ host",
        "candidate:1 1 UDP 1 2001:db8::1 5000 typ host",
    );
}

#[test]
fn limits_of_each_field_are_accepted() {
    let f32 = "a".repeat(32);
    let c = roundtrip(
        &format!(
            "candidate:{f32} 256 UDP 4294967295 255.255.255.255 65535 typ relay raddr 0.0.0.0 rport 0"
        ),
        &format!(
            "candidate:{f32} 256 UDP 4294967295 255.255.255.255 65535 typ relay raddr 0.0.0.0 rport 0"
        ),
    );
    assert_eq!((c.component, c.priority), (256, u32::MAX));
    roundtrip(
        "candidate:+ 1 UDP 0 0.0.0.0 0 typ host",
        "candidate:+ 1 UDP 0 0.0.0.0 0 typ host",
    );
    // 32 extension pairs are fine.
    let exts: String = (0..MAX_EXTENSIONS).map(|i| format!(" x{i} {i}")).collect();
    let c = parse_candidate(&format!("{BASE}{exts}")).unwrap();
    assert_eq!(c.extensions.len(), MAX_EXTENSIONS);
    // Extension names and values may be any visible ASCII, repeated names
    // included, and are kept in order.
    let c = roundtrip(
        &format!("{BASE} x-Foo@bar {{\"a\":1}} generation 0 generation 1"),
        &format!("{BASE} x-Foo@bar {{\"a\":1}} generation 0 generation 1"),
    );
    assert_eq!(
        c.extensions,
        ext(&[
            ("x-Foo@bar", "{\"a\":1}"),
            ("generation", "0"),
            ("generation", "1")
        ])
    );
    // A value may be a keyword: it is not in keyword position.
    roundtrip(&format!("{BASE} note raddr"), &format!("{BASE} note raddr"));
}

#[test]
fn host_name_related_address_is_dropped() {
    let c = parse_candidate(
        "candidate:1 1 udp 5 203.0.113.7 1 typ srflx raddr abcd.local rport 9 generation 0",
    )
    .unwrap();
    assert_eq!(c.related, None);
    assert_eq!(c.extensions, ext(&[("generation", "0")]));
    assert_eq!(
        write_candidate(&c).unwrap(),
        "candidate:1 1 UDP 5 203.0.113.7 1 typ srflx generation 0"
    );
}

#[test]
fn ipv6_scope_is_not_written() {
    let mut c = parse_candidate("candidate:1 1 udp 5 fe80::1 9 typ host").unwrap();
    let CandidateAddress::Ip(SocketAddr::V6(mut v6)) = c.address else {
        unreachable!()
    };
    v6.set_scope_id(3);
    v6.set_flowinfo(7);
    c.address = CandidateAddress::Ip(SocketAddr::V6(v6));
    assert_eq!(
        write_candidate(&c).unwrap(),
        "candidate:1 1 UDP 5 fe80::1 9 typ host"
    );
}

// ---------------------------------------------------------------------
// Rejections, field by field.

#[test]
fn rejects_overlong_lines() {
    let long = format!("{BASE} x {}", "y".repeat(MAX_LINE_LEN));
    assert_eq!(err(&long), SdpError::LineTooLong { len: long.len() });
    assert!(matches!(
        IceAttribute::parse(&long),
        Err(SdpError::LineTooLong { .. })
    ));
    // Exactly at the limit is fine...
    let pad = MAX_LINE_LEN - "a=".len() - "\r\n".len() - BASE.len() - " x ".len();
    let at_limit = format!("a={BASE} x {}\r\n", "y".repeat(pad));
    assert_eq!(at_limit.len(), MAX_LINE_LEN);
    assert!(parse_candidate(&at_limit).is_ok());
    // ...but a bare line whose canonical form would not fit is not.
    let bare = BASE.strip_prefix("candidate:").unwrap();
    let pad = MAX_LINE_LEN - bare.len() - " x ".len();
    let bare_long = format!("{bare} x {}", "y".repeat(pad));
    assert_eq!(bare_long.len(), MAX_LINE_LEN);
    assert!(matches!(err(&bare_long), SdpError::LineTooLong { len } if len > MAX_LINE_LEN - 4));
}

#[test]
fn rejects_missing_fields() {
    let cases = [
        ("candidate:", Field::Foundation),
        ("", Field::Foundation),
        ("candidate:1", Field::Component),
        ("candidate:1 1", Field::Transport),
        ("candidate:1 1 udp", Field::Priority),
        ("candidate:1 1 udp 1", Field::Address),
        ("candidate:1 1 udp 1 192.0.2.1", Field::Port),
        ("candidate:1 1 udp 1 192.0.2.1 9", Field::CandidateType),
        ("candidate:1 1 udp 1 192.0.2.1 9 typ", Field::CandidateType),
        (
            "candidate:1 1 udp 1 192.0.2.1 9 typ srflx raddr",
            Field::RelatedAddress,
        ),
        (
            "candidate:1 1 udp 1 192.0.2.1 9 typ srflx raddr 10.0.0.1 rport",
            Field::RelatedPort,
        ),
    ];
    for (line, field) in cases {
        assert_eq!(err(line), SdpError::Missing { field }, "{line:?}");
    }
}

#[test]
fn rejects_bad_foundations() {
    assert_eq!(
        err("candidate:ab-c 1 udp 1 192.0.2.1 9 typ host"),
        SdpError::InvalidChar {
            field: Field::Foundation,
            ch: '-',
            index: 2
        }
    );
    assert_eq!(
        err(&format!(
            "candidate:{} 1 udp 1 192.0.2.1 9 typ host",
            "a".repeat(33)
        )),
        SdpError::Length {
            field: Field::Foundation,
            len: 33,
            min: 1,
            max: 32
        }
    );
    assert!(matches!(
        err("candidate:fé 1 udp 1 192.0.2.1 9 typ host"),
        SdpError::InvalidChar {
            field: Field::Foundation,
            ch: 'é',
            index: 1
        }
    ));
}

#[test]
fn rejects_bad_components() {
    let e = err("candidate:1 0 udp 1 192.0.2.1 9 typ host");
    assert_eq!(
        e,
        SdpError::OutOfRange {
            field: Field::Component,
            value: 0,
            min: 1,
            max: 256
        }
    );
    assert_eq!(e.to_string(), "component id 0 is outside 1..=256");
    assert_eq!(
        err("candidate:1 257 udp 1 192.0.2.1 9 typ host"),
        SdpError::OutOfRange {
            field: Field::Component,
            value: 257,
            min: 1,
            max: 256
        }
    );
    assert_eq!(
        err("candidate:1 0001 udp 1 192.0.2.1 9 typ host"),
        SdpError::TooManyDigits {
            field: Field::Component,
            digits: 4,
            max: 3
        }
    );
    for bad in ["x", "-1", "+1", "1.0", "１"] {
        assert_eq!(
            err(&format!("candidate:1 {bad} udp 1 192.0.2.1 9 typ host")),
            SdpError::NotANumber {
                field: Field::Component,
                found: bad.into()
            }
        );
    }
}

#[test]
fn rejects_unknown_transports_so_callers_can_skip_them() {
    for t in ["sctp", "ssltcp", "UDP/TLS", "DTLS"] {
        let e = err(&format!("candidate:1 1 {t} 1 192.0.2.1 9 typ host"));
        assert_eq!(
            e,
            SdpError::UnknownTransport {
                transport: t.into()
            }
        );
    }
}

#[test]
fn rejects_bad_priorities() {
    assert_eq!(
        err("candidate:1 1 udp 4294967296 192.0.2.1 9 typ host"),
        SdpError::OutOfRange {
            field: Field::Priority,
            value: 4_294_967_296,
            min: 0,
            max: u64::from(u32::MAX)
        }
    );
    assert_eq!(
        err("candidate:1 1 udp 12345678901 192.0.2.1 9 typ host"),
        SdpError::TooManyDigits {
            field: Field::Priority,
            digits: 11,
            max: 10
        }
    );
    assert_eq!(
        err("candidate:1 1 udp 1e9 192.0.2.1 9 typ host"),
        SdpError::NotANumber {
            field: Field::Priority,
            found: "1e9".into()
        }
    );
}

#[test]
fn rejects_bad_addresses() {
    let cases: [(&str, AddressError); 12] = [
        ("256.1.1.1", AddressError::Ipv4),
        ("1.2.3", AddressError::Ipv4),
        ("01.2.3.4", AddressError::Ipv4),
        ("2001:db8::g", AddressError::Ipv6),
        ("fe80::1%eth0", AddressError::Ipv6),
        ("[::1]", AddressError::Ipv6),
        ("host_name.local", AddressError::NameChar { ch: '_' }),
        ("a..local", AddressError::EmptyLabel),
        (".local", AddressError::EmptyLabel),
        ("abcd.local.", AddressError::EmptyLabel),
        ("ab\u{e9}.local", AddressError::NameChar { ch: '\u{e9}' }),
        ("x*", AddressError::NameChar { ch: '*' }),
    ];
    for (addr, reason) in cases {
        assert_eq!(
            err(&format!("candidate:1 1 udp 1 {addr} 9 typ host")),
            SdpError::InvalidAddress {
                field: Field::Address,
                found: addr.into(),
                reason
            },
            "{addr}"
        );
    }
    let label = format!("{}.local", "a".repeat(64));
    assert!(matches!(
        err(&format!("candidate:1 1 udp 1 {label} 9 typ host")),
        SdpError::InvalidAddress {
            reason: AddressError::LabelTooLong { len: 64 },
            ..
        }
    ));
    let name = [
        "a".repeat(63),
        "b".repeat(63),
        "c".repeat(63),
        "d".repeat(61),
    ]
    .join(".");
    assert_eq!(name.len(), 253);
    assert!(parse_candidate(&format!("candidate:1 1 udp 1 {name} 9 typ host")).is_ok());
    let name = format!("{name}e");
    assert!(matches!(
        err(&format!("candidate:1 1 udp 1 {name} 9 typ host")),
        SdpError::InvalidAddress {
            reason: AddressError::NameTooLong { len: 254 },
            ..
        }
    ));
    let e = err("candidate:1 1 udp 1 999.1.1.1 9 typ host");
    assert_eq!(
        e.to_string(),
        "connection address \"999.1.1.1\" is not a valid IPv4 address"
    );
}

#[test]
fn rejects_bad_ports() {
    assert_eq!(
        err("candidate:1 1 udp 1 192.0.2.1 65536 typ host"),
        SdpError::OutOfRange {
            field: Field::Port,
            value: 65536,
            min: 0,
            max: 65535
        }
    );
    assert_eq!(
        err("candidate:1 1 udp 1 192.0.2.1 123456 typ host"),
        SdpError::TooManyDigits {
            field: Field::Port,
            digits: 6,
            max: 5
        }
    );
    assert_eq!(
        err("candidate:1 1 udp 1 192.0.2.1 -1 typ host"),
        SdpError::NotANumber {
            field: Field::Port,
            found: "-1".into()
        }
    );
}

#[test]
fn rejects_bad_types() {
    assert_eq!(
        err("candidate:1 1 udp 1 192.0.2.1 9 type host"),
        SdpError::ExpectedTyp {
            found: "type".into()
        }
    );
    assert_eq!(
        err("candidate:1 1 udp 1 192.0.2.1 9 host"),
        SdpError::ExpectedTyp {
            found: "host".into()
        }
    );
    assert_eq!(
        err("candidate:1 1 udp 1 192.0.2.1 9 typ nat"),
        SdpError::UnknownCandidateType { kind: "nat".into() }
    );
}

#[test]
fn rejects_bad_related_addresses() {
    let base = "candidate:1 1 udp 1 192.0.2.1 9 typ srflx";
    assert_eq!(
        err(&format!("{base} raddr 10.0.0.1")),
        SdpError::RelatedAddressWithoutPort
    );
    assert_eq!(
        err(&format!("{base} raddr 10.0.0.1 generation 0")),
        SdpError::RelatedAddressWithoutPort
    );
    assert_eq!(
        err(&format!("{base} rport 9")),
        SdpError::RelatedPortWithoutAddress
    );
    assert_eq!(
        err(&format!("{base} raddr 10.0.0.256 rport 9")),
        SdpError::InvalidAddress {
            field: Field::RelatedAddress,
            found: "10.0.0.256".into(),
            reason: AddressError::Ipv4
        }
    );
    assert_eq!(
        err(&format!("{base} raddr 10.0.0.1 rport 70000")),
        SdpError::OutOfRange {
            field: Field::RelatedPort,
            value: 70000,
            min: 0,
            max: 65535
        }
    );
}

#[test]
fn rejects_bad_extensions() {
    assert_eq!(
        err(&format!("{BASE} generation")),
        SdpError::ExtensionWithoutValue {
            name: "generation".into()
        }
    );
    assert_eq!(
        err(&format!("{BASE} generation 0 raddr 10.0.0.1 rport 9")),
        SdpError::MisplacedKeyword {
            keyword: "raddr".into()
        }
    );
    assert_eq!(
        err(&format!("{BASE} typ host")),
        SdpError::MisplacedKeyword {
            keyword: "typ".into()
        }
    );
    assert_eq!(
        err("candidate:1 1 udp 1 192.0.2.1 9 typ srflx raddr 10.0.0.1 rport 9 RPORT 9"),
        SdpError::MisplacedKeyword {
            keyword: "RPORT".into()
        }
    );
    let exts: String = (0..=MAX_EXTENSIONS).map(|i| format!(" x{i} {i}")).collect();
    assert_eq!(err(&format!("{BASE}{exts}")), SdpError::TooManyExtensions);
    assert_eq!(
        err(&format!("{BASE} ufrag ab\u{e9}")),
        SdpError::InvalidChar {
            field: Field::ExtensionValue,
            ch: '\u{e9}',
            index: 2
        }
    );
    assert_eq!(
        err(&format!("{BASE} a\u{1}b 0")),
        SdpError::InvalidChar {
            field: Field::ExtensionName,
            ch: '\u{1}',
            index: 1
        }
    );
    assert_eq!(
        err(&format!("{BASE} name va\nlue")),
        SdpError::InvalidChar {
            field: Field::ExtensionValue,
            ch: '\n',
            index: 2
        }
    );
}

#[test]
fn error_excerpts_are_bounded() {
    let t = "z".repeat(500);
    let SdpError::UnknownTransport { transport } =
        err(&format!("candidate:1 1 {t} 1 192.0.2.1 9 typ host"))
    else {
        panic!()
    };
    assert_eq!(transport.len(), 64);
}

// ---------------------------------------------------------------------
// Writing.

fn host(foundation: &str, addr: CandidateAddress) -> Candidate {
    Candidate {
        foundation: foundation.into(),
        component: 1,
        transport: TransportProtocol::Udp,
        priority: 2_130_706_431,
        address: addr,
        kind: CandidateType::Host,
        related: None,
        extensions: vec![],
    }
}

#[test]
fn writes_every_type_and_transport() {
    let mut c = host("abc", CandidateAddress::Ip(sa("[2001:db8::1]:9")));
    for (kind, name) in [
        (CandidateType::Host, "host"),
        (CandidateType::ServerReflexive, "srflx"),
        (CandidateType::PeerReflexive, "prflx"),
        (CandidateType::Relayed, "relay"),
    ] {
        for (transport, t) in [
            (TransportProtocol::Udp, "UDP"),
            (TransportProtocol::Tcp, "TCP"),
        ] {
            c.kind = kind;
            c.transport = transport;
            c.related = (kind != CandidateType::Host).then(|| sa("10.0.0.1:1"));
            let line = write_candidate(&c).unwrap();
            let raddr = if kind == CandidateType::Host {
                ""
            } else {
                " raddr 10.0.0.1 rport 1"
            };
            assert_eq!(
                line,
                format!("candidate:abc 1 {t} 2130706431 2001:db8::1 9 typ {name}{raddr}")
            );
            assert_eq!(parse_candidate(&line).unwrap(), c);
        }
    }
}

#[test]
fn write_rejects_what_would_not_parse_back() {
    let ok = host("1", CandidateAddress::Ip(sa("192.0.2.1:9")));
    assert!(write_candidate(&ok).is_ok());
    let with = |f: &dyn Fn(&mut Candidate)| {
        let mut c = ok.clone();
        f(&mut c);
        write_candidate(&c).unwrap_err()
    };
    assert_eq!(
        with(&|c| c.foundation.clear()),
        SdpError::Length {
            field: Field::Foundation,
            len: 0,
            min: 1,
            max: 32
        }
    );
    assert_eq!(
        with(&|c| c.foundation = "a b".into()),
        SdpError::InvalidChar {
            field: Field::Foundation,
            ch: ' ',
            index: 1
        }
    );
    assert_eq!(
        with(&|c| c.component = 0),
        SdpError::OutOfRange {
            field: Field::Component,
            value: 0,
            min: 1,
            max: 256
        }
    );
    assert_eq!(
        with(&|c| c.component = 257),
        SdpError::OutOfRange {
            field: Field::Component,
            value: 257,
            min: 1,
            max: 256
        }
    );
    // A name that would parse back as an IP address, or not at all.
    assert_eq!(
        with(&|c| c.address = CandidateAddress::Name {
            name: "192.0.2.1".into(),
            port: 9
        }),
        SdpError::InvalidAddress {
            field: Field::Address,
            found: "192.0.2.1".into(),
            reason: AddressError::Ipv4
        }
    );
    assert_eq!(
        with(&|c| c.address = CandidateAddress::Name {
            name: "::1".into(),
            port: 9
        }),
        SdpError::InvalidAddress {
            field: Field::Address,
            found: "::1".into(),
            reason: AddressError::Ipv6
        }
    );
    assert_eq!(
        with(&|c| c.address = CandidateAddress::Name {
            name: "two words".into(),
            port: 9
        }),
        SdpError::InvalidAddress {
            field: Field::Address,
            found: "two words".into(),
            reason: AddressError::NameChar { ch: ' ' }
        }
    );
    assert_eq!(
        with(&|c| c.address = CandidateAddress::Name {
            name: String::new(),
            port: 9
        }),
        SdpError::InvalidAddress {
            field: Field::Address,
            found: String::new(),
            reason: AddressError::EmptyLabel
        }
    );
    assert_eq!(
        with(&|c| c.extensions = ext(&[("a b", "1")])),
        SdpError::InvalidChar {
            field: Field::ExtensionName,
            ch: ' ',
            index: 1
        }
    );
    assert_eq!(
        with(&|c| c.extensions = ext(&[("", "1")])),
        SdpError::Length {
            field: Field::ExtensionName,
            len: 0,
            min: 1,
            max: usize::MAX
        }
    );
    assert_eq!(
        with(&|c| c.extensions = ext(&[("a", "")])),
        SdpError::ExtensionWithoutValue { name: "a".into() }
    );
    assert_eq!(
        with(&|c| c.extensions = ext(&[("a", "1 2")])),
        SdpError::InvalidChar {
            field: Field::ExtensionValue,
            ch: ' ',
            index: 1
        }
    );
    assert_eq!(
        with(&|c| c.extensions = ext(&[("raddr", "10.0.0.1")])),
        SdpError::MisplacedKeyword {
            keyword: "raddr".into()
        }
    );
    assert_eq!(
        with(&|c| c.extensions = (0..=MAX_EXTENSIONS)
            .map(|i| (format!("x{i}"), "1".to_string()))
            .collect()),
        SdpError::TooManyExtensions
    );
    assert!(matches!(
        with(&|c| c.extensions = ext(&[("big", "v".repeat(2000).as_str())])),
        SdpError::LineTooLong { len } if len > 2000
    ));
}

// ---------------------------------------------------------------------
// Other ICE attributes.

#[test]
fn ice_attributes_parse_and_write() {
    let pwd = "asd88fgpdd777uzjYhagZg";
    let pwd_line = format!("a=ice-pwd:{pwd}");
    let cases = [
        ("a=ice-ufrag:8hhY", IceAttribute::Ufrag("8hhY".into())),
        (pwd_line.as_str(), IceAttribute::Pwd(pwd.into())),
        (
            "a=ice-options:trickle",
            IceAttribute::Options(vec!["trickle".into()]),
        ),
        (
            "a=ice-options:ice2 trickle x-vendor",
            IceAttribute::Options(vec!["ice2".into(), "trickle".into(), "x-vendor".into()]),
        ),
        ("a=ice-pacing:50", IceAttribute::Pacing(50)),
        ("a=ice-lite", IceAttribute::Lite),
        ("a=end-of-candidates", IceAttribute::EndOfCandidates),
        (
            "a=candidate:1 1 UDP 2130706431 203.0.113.141 8998 typ host",
            IceAttribute::Candidate(
                parse_candidate("candidate:1 1 UDP 2130706431 203.0.113.141 8998 typ host")
                    .unwrap(),
            ),
        ),
    ];
    for (line, attr) in cases {
        assert_eq!(IceAttribute::parse(line), Ok(attr.clone()), "{line}");
        assert_eq!(attr.write().unwrap(), line);
        assert_eq!(
            IceAttribute::parse(line.strip_prefix("a=").unwrap()),
            Ok(attr.clone())
        );
        assert_eq!(
            IceAttribute::parse(&format!("{line}\r\n")),
            Ok(attr.clone())
        );
    }
    // Tags wider than the ice-char grammar, as old Chrome's, are kept.
    assert!(
        matches!(IceAttribute::parse("a=ice-options:google-ice"), Ok(IceAttribute::Options(o)) if o == ["google-ice"])
    );
    // Lenient spacing and case.
    assert_eq!(
        IceAttribute::parse("a=ICE-UFRAG: abcd "),
        Ok(IceAttribute::Ufrag("abcd".into()))
    );
    assert_eq!(
        IceAttribute::parse("a=ice-options:trickle  ice2"),
        Ok(IceAttribute::Options(vec!["trickle".into(), "ice2".into()]))
    );
    assert_eq!(IceAttribute::parse("a=ice-lite:"), Ok(IceAttribute::Lite));
    assert_eq!(IceAttribute::Ufrag("abcd".into()).name(), "ice-ufrag");
}

#[test]
fn ice_attribute_rejections() {
    let short_ufrag = IceAttribute::parse("a=ice-ufrag:abc").unwrap_err();
    assert_eq!(
        short_ufrag,
        SdpError::Credentials(CredentialsError::Length {
            part: CredentialPart::Ufrag,
            len: 3,
            min: 4,
            max: 256
        })
    );
    assert_eq!(
        short_ufrag.to_string(),
        "ice-ufrag is 3 characters long, outside 4..=256"
    );
    assert!(std::error::Error::source(&short_ufrag).is_some());
    assert_eq!(
        IceAttribute::parse("a=ice-ufrag"),
        Err(SdpError::Credentials(CredentialsError::Length {
            part: CredentialPart::Ufrag,
            len: 0,
            min: 4,
            max: 256
        }))
    );
    assert_eq!(
        IceAttribute::parse("a=ice-pwd:asd88fgpdd777uzjYhagZ="),
        Err(SdpError::Credentials(CredentialsError::InvalidChar {
            part: CredentialPart::Pwd,
            ch: '=',
            index: 21
        }))
    );
    assert_eq!(
        IceAttribute::parse("a=ice-pwd:tooshort"),
        Err(SdpError::Credentials(CredentialsError::Length {
            part: CredentialPart::Pwd,
            len: 8,
            min: 22,
            max: 256
        }))
    );
    assert_eq!(
        IceAttribute::parse("a=ice-options:"),
        Err(SdpError::Missing {
            field: Field::IceOption
        })
    );
    assert_eq!(
        IceAttribute::parse("a=ice-options:trickle ic\u{e9}2"),
        Err(SdpError::InvalidChar {
            field: Field::IceOption,
            ch: '\u{e9}',
            index: 2
        })
    );
    assert_eq!(
        IceAttribute::parse("a=ice-pacing:fast"),
        Err(SdpError::NotANumber {
            field: Field::Pacing,
            found: "fast".into()
        })
    );
    assert_eq!(
        IceAttribute::parse("a=ice-pacing"),
        Err(SdpError::Missing {
            field: Field::Pacing
        })
    );
    assert_eq!(
        IceAttribute::parse("a=ice-lite:yes"),
        Err(SdpError::UnexpectedValue {
            attribute: "ice-lite"
        })
    );
    assert_eq!(
        IceAttribute::parse("a=end-of-candidates:1"),
        Err(SdpError::UnexpectedValue {
            attribute: "end-of-candidates"
        })
    );
    assert_eq!(
        IceAttribute::parse("a=rtpmap:111 opus/48000/2"),
        Err(SdpError::NotIceAttribute {
            name: "rtpmap".into()
        })
    );
    assert_eq!(
        IceAttribute::parse(""),
        Err(SdpError::NotIceAttribute {
            name: String::new()
        })
    );
    assert_eq!(
        IceAttribute::parse("a=candidate"),
        Err(SdpError::Missing {
            field: Field::Foundation
        })
    );
    assert_eq!(
        IceAttribute::parse("a=candidate:1 1 sctp 1 192.0.2.1 9 typ host"),
        Err(SdpError::UnknownTransport {
            transport: "sctp".into()
        })
    );
    // Options whose line would not fit.
    let many = vec!["abcdefghij".to_string(); 100];
    assert!(matches!(
        IceAttribute::Options(many).write(),
        Err(SdpError::LineTooLong { .. })
    ));
    // Writing checks as parsing does.
    assert!(IceAttribute::Ufrag("a:b".into()).write().is_err());
    assert!(IceAttribute::Pwd("short".into()).write().is_err());
    assert_eq!(
        IceAttribute::Options(vec![]).write(),
        Err(SdpError::Missing {
            field: Field::IceOption
        })
    );
    assert!(IceAttribute::Options(vec!["a b".into()]).write().is_err());
}

// ---------------------------------------------------------------------
// Whole SDPs.

const CHROME_OFFER: &str = "v=0\r\n\
o=- 4611731400430051336 2 IN IP4 127.0.0.1\r\n\
s=-\r\n\
t=0 0\r\n\
a=group:BUNDLE 0 1\r\n\
a=extmap-allow-mixed\r\n\
a=msid-semantic: WMS\r\n\
m=audio 9 UDP/TLS/RTP/SAVPF 111 63\r\n\
c=IN IP4 0.0.0.0\r\n\
a=rtcp:9 IN IP4 0.0.0.0\r\n\
a=candidate:3442447574 1 udp 2122260223 7b8e4a2c-1f3d-4e5a-9b6c-0d1e2f3a4b5c.local 54321 typ host generation 0 network-id 1 network-cost 10\r\n\
a=candidate:842163049 1 udp 1677729535 203.0.113.7 54321 typ srflx raddr 0.0.0.0 rport 0 generation 0 network-id 1 network-cost 10\r\n\
a=candidate:1 1 sctp 1 192.0.2.1 9 typ host\r\n\
a=ice-ufrag:sXt1\r\n\
a=ice-pwd:Jq4VyTEJ3t+qMoVpUCvjKgd/\r\n\
a=ice-options:trickle\r\n\
a=fingerprint:sha-256 00:11:22:33:44:55:66:77:88:99:AA:BB:CC:DD:EE:FF:00:11:22:33:44:55:66:77:88:99:AA:BB:CC:DD:EE:FF\r\n\
a=setup:actpass\r\n\
a=mid:0\r\n\
a=rtpmap:111 opus/48000/2\r\n\
a=end-of-candidates\r\n\
m=application 9 UDP/DTLS/SCTP webrtc-datachannel\r\n\
c=IN IP4 0.0.0.0\r\n\
a=ice-ufrag:sXt1\r\n\
a=ice-pwd:Jq4VyTEJ3t+qMoVpUCvjKgd/\r\n\
a=ice-options:trickle\r\n\
a=mid:1\r\n\
a=sctp-port:5000\r\n";

#[test]
fn chrome_style_offer() {
    let ice = parse_sdp(CHROME_OFFER);
    assert_eq!(ice.media.len(), 2);
    let audio = &ice.media[0];
    assert_eq!(audio.media, "audio");
    assert_eq!(audio.mid.as_deref(), Some("0"));
    assert_eq!(audio.ufrag.as_deref(), Some("sXt1"));
    assert_eq!(audio.pwd.as_deref(), Some("Jq4VyTEJ3t+qMoVpUCvjKgd/"));
    assert!(audio.trickle());
    assert!(!audio.lite);
    assert!(audio.end_of_candidates);
    assert_eq!(audio.candidates.len(), 2);
    assert_eq!(audio.candidates[1].kind, CandidateType::ServerReflexive);
    let data = &ice.media[1];
    assert_eq!(
        (data.media.as_str(), data.mid.as_deref()),
        ("application", Some("1"))
    );
    assert!(data.candidates.is_empty());
    assert!(!data.end_of_candidates);
    // The SCTP candidate is skipped and reported with its line number.
    assert_eq!(ice.errors.len(), 1);
    assert_eq!(ice.errors[0].line, 13);
    assert_eq!(
        ice.errors[0].error,
        SdpError::UnknownTransport {
            transport: "sctp".into()
        }
    );
}

#[test]
fn session_level_fallbacks_lf_line_ends_and_lite() {
    let sdp = "v=0\n\
o=- 1 1 IN IP4 192.0.2.1\n\
s=-\n\
a=ice-lite\n\
a=ice-ufrag:SESS\n\
a=ice-pwd:sessionpasswordsession\n\
a=ice-options:ice2\n\
a=ice-pacing:20\n\
t=0 0\n\
m=audio 5000 RTP/AVP 0\n\
a=candidate:1 1 UDP 2130706431 192.0.2.1 5000 typ host\n\
a=ice-options:trickle ice2\n\
m=video 5002 RTP/AVP 31\n\
a=ice-ufrag:VIDEO\n\
a=ice-ufrag:IGNORED\n\
a=ice-pwd:bad\n\
a=candidate:1 1 UDP 2130706431 192.0.2.1 5002 typ host\n\
a=candidate:1 2 UDP 2130706430 192.0.2.1 5003 typ host\n\
a=end-of-candidates";
    let ice = parse_sdp(sdp);
    assert_eq!(ice.media.len(), 2);
    let (audio, video) = (&ice.media[0], &ice.media[1]);
    assert!(audio.lite && video.lite);
    assert_eq!(audio.ufrag.as_deref(), Some("SESS"));
    assert_eq!(audio.pwd.as_deref(), Some("sessionpasswordsession"));
    assert_eq!(audio.options, ["ice2", "trickle"]);
    assert_eq!(audio.pacing, Some(20));
    assert_eq!(audio.mid, None);
    assert!(!audio.end_of_candidates);
    assert_eq!(video.ufrag.as_deref(), Some("VIDEO"));
    // The bad media-level password is reported; the session one applies.
    assert_eq!(video.pwd.as_deref(), Some("sessionpasswordsession"));
    assert_eq!(video.options, ["ice2"]);
    assert!(!video.trickle());
    assert_eq!(video.candidates.len(), 2);
    assert!(video.end_of_candidates);
    assert_eq!(ice.errors.len(), 1);
    assert_eq!(ice.errors[0].line, 16);
    assert!(matches!(ice.errors[0].error, SdpError::Credentials(_)));
}

#[test]
fn session_level_end_of_candidates_and_stray_candidates() {
    let sdp = "v=0\r\na=end-of-candidates\r\na=candidate:1 1 UDP 1 192.0.2.1 9 typ host\r\nm=audio 9 RTP/AVP 0\r\nm=video 9 RTP/AVP 0\r\n";
    let ice = parse_sdp(sdp);
    assert_eq!(ice.media.len(), 2);
    assert!(
        ice.media
            .iter()
            .all(|m| m.end_of_candidates && m.candidates.is_empty())
    );
    assert!(ice.errors.is_empty());
    assert_eq!(parse_sdp(""), Default::default());
    assert!(parse_sdp("garbage\n\n\r\nm=\na=\na=:\n").errors.is_empty());
}

// ---------------------------------------------------------------------
// Properties.

fn ice_chars(min: usize, max: usize) -> impl Strategy<Value = String> {
    proptest::string::string_regex(&format!("[A-Za-z0-9+/]{{{min},{max}}}")).unwrap()
}

fn ip() -> impl Strategy<Value = IpAddr> {
    prop_oneof![
        any::<u32>().prop_map(|v| IpAddr::V4(Ipv4Addr::from(v))),
        any::<u128>().prop_map(|v| IpAddr::V6(Ipv6Addr::from(v))),
        // Mapped and compatible forms, whose text mixes the families.
        any::<u32>().prop_map(|v| IpAddr::V6(Ipv4Addr::from(v).to_ipv6_mapped())),
        any::<u32>().prop_map(|v| IpAddr::V6(Ipv6Addr::from(u128::from(v)))),
    ]
}

fn host_name() -> impl Strategy<Value = String> {
    let label = proptest::string::string_regex("[A-Za-z0-9-]{1,20}").unwrap();
    let last =
        proptest::string::string_regex("[A-Za-z0-9-]{0,10}[A-Za-z-][A-Za-z0-9-]{0,10}").unwrap();
    (proptest::collection::vec(label, 0..4), last).prop_map(|(mut labels, last)| {
        labels.push(last);
        labels.join(".")
    })
}

fn extension() -> impl Strategy<Value = (String, String)> {
    let vchars = || proptest::string::string_regex("[!-~]{1,12}").unwrap();
    (vchars(), vchars()).prop_filter("keyword", |(n, _)| {
        !["typ", "raddr", "rport"]
            .iter()
            .any(|k| n.eq_ignore_ascii_case(k))
    })
}

fn candidate() -> impl Strategy<Value = Candidate> {
    let transport = prop_oneof![Just(TransportProtocol::Udp), Just(TransportProtocol::Tcp)];
    let kind = prop_oneof![
        Just(CandidateType::Host),
        Just(CandidateType::ServerReflexive),
        Just(CandidateType::PeerReflexive),
        Just(CandidateType::Relayed),
    ];
    let address = prop_oneof![
        (ip(), any::<u16>()).prop_map(|(ip, port)| CandidateAddress::Ip(SocketAddr::new(ip, port))),
        (host_name(), any::<u16>()).prop_map(|(name, port)| CandidateAddress::Name { name, port }),
    ];
    let related =
        proptest::option::of((ip(), any::<u16>()).prop_map(|(ip, port)| SocketAddr::new(ip, port)));
    (
        ice_chars(1, 32),
        1u16..=256,
        transport,
        any::<u32>(),
        address,
        kind,
        related,
        proptest::collection::vec(extension(), 0..8),
    )
        .prop_map(
            |(foundation, component, transport, priority, address, kind, related, extensions)| {
                Candidate {
                    foundation,
                    component,
                    transport,
                    priority,
                    address,
                    kind,
                    related,
                    extensions,
                }
            },
        )
}

/// Tokens to splice into valid lines: pieces of the grammar and junk.
fn token() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("typ".to_string()),
        Just("raddr".to_string()),
        Just("rport".to_string()),
        Just("host".to_string()),
        Just("udp".to_string()),
        Just("candidate:".to_string()),
        Just("a=".to_string()),
        Just("".to_string()),
        Just("::".to_string()),
        Just("4294967296".to_string()),
        "[0-9]{1,12}",
        "[ -~]{0,12}",
        any::<String>(),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn valid_candidates_round_trip(c in candidate()) {
        let line = write_candidate(&c).unwrap();
        prop_assert_eq!(parse_candidate(&line).unwrap(), c.clone());
        let attr = IceAttribute::Candidate(c);
        let sdp_line = attr.write().unwrap();
        prop_assert_eq!(IceAttribute::parse(&sdp_line).unwrap(), attr);
    }

    #[test]
    fn random_text_never_panics(s in any::<String>()) {
        check_text(&s)?;
    }

    #[test]
    fn random_ascii_lines_never_panic(s in "(a=)?(candidate:)?[ -~\t]{0,200}") {
        check_text(&s)?;
    }

    #[test]
    fn mutated_lines_never_panic(c in candidate(), at in any::<prop::sample::Index>(), tok in token(), insert in any::<bool>()) {
        let line = write_candidate(&c).unwrap();
        let mut fields: Vec<String> = line.split(' ').map(str::to_string).collect();
        let i = at.index(fields.len() + 1);
        if insert || i == fields.len() {
            fields.insert(i, tok);
        } else {
            fields[i] = tok;
        }
        check_text(&fields.join(" "))?;
    }

    #[test]
    fn valid_credentials_attributes_round_trip(u in ice_chars(4, 256), p in ice_chars(22, 256), tags in proptest::collection::vec(ice_chars(1, 16), 1..10)) {
        for attr in [IceAttribute::Ufrag(u.clone()), IceAttribute::Pwd(p.clone()), IceAttribute::Options(tags.clone())] {
            let line = attr.write().unwrap();
            prop_assert_eq!(IceAttribute::parse(&line).unwrap(), attr);
        }
    }
}

/// Whatever parses writes, parses back equal, and rewrites the same.
fn check_text(s: &str) -> Result<(), TestCaseError> {
    if let Ok(c) = parse_candidate(s) {
        let written =
            write_candidate(&c).map_err(|e| TestCaseError::fail(format!("{s:?}: {e}")))?;
        prop_assert_eq!(parse_candidate(&written).unwrap(), c.clone());
        prop_assert_eq!(
            write_candidate(&parse_candidate(&written).unwrap()).unwrap(),
            written
        );
    }
    if let Ok(a) = IceAttribute::parse(s) {
        let written = a
            .write()
            .map_err(|e| TestCaseError::fail(format!("{s:?}: {e}")))?;
        prop_assert_eq!(IceAttribute::parse(&written).unwrap(), a);
    }
    let _ = parse_sdp(s);
    Ok(())
}
