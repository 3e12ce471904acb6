//! The amplification bound: the largest answer / request size ratio any
//! request can get, measured over every kind of request the server answers
//! (the numbers the module documentation of `turn_server::stun` states).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::*;
use stun_proto::AttributeType;
use stun_proto::attr::{ChangeRequest, ResponsePort};
use turn_server::stun::{DEFAULT_SOFTWARE, MAX_SOFTWARE_LEN};
use turn_server::{StunServer, StunServerConfig};

struct Case {
    what: &'static str,
    server: fn() -> StunServer,
    local: &'static str,
    client: &'static str,
    request: Vec<u8>,
    /// Measured once and written down: a change is a change of the bound.
    expected: (usize, usize),
}

fn v6_alt_no_software() -> StunServer {
    StunServer::new(
        StunServerConfig::new(addr(V6_PRIMARY))
            .with_alternate(V6_ALT.0.parse().unwrap(), V6_ALT.1)
            .unwrap()
            .without_software(),
    )
}

fn v6_alt_longest_software() -> StunServer {
    StunServer::new(
        StunServerConfig::new(addr(V6_PRIMARY))
            .with_alternate(V6_ALT.0.parse().unwrap(), V6_ALT.1)
            .unwrap()
            .with_software(&"s".repeat(MAX_SOFTWARE_LEN))
            .unwrap(),
    )
}

fn cases() -> Vec<Case> {
    let empty = || binding(|_| {});
    vec![
        Case {
            what: "Binding, IPv4",
            server: plain_v4,
            local: V4_PRIMARY,
            client: V4_CLIENT,
            request: empty(),
            expected: (20, 72),
        },
        Case {
            what: "Binding, IPv6",
            server: plain_v6,
            local: V6_PRIMARY,
            client: V6_CLIENT,
            request: empty(),
            expected: (20, 84),
        },
        Case {
            what: "Binding, IPv4, alternate",
            server: rfc5780_v4,
            local: V4_PRIMARY,
            client: V4_CLIENT,
            request: empty(),
            expected: (20, 108),
        },
        Case {
            what: "Binding, IPv6, alternate",
            server: rfc5780_v6,
            local: V6_PRIMARY,
            client: V6_CLIENT,
            request: empty(),
            expected: (20, 156),
        },
        Case {
            what: "RFC 3489 Binding, IPv4",
            server: plain_v4,
            local: V4_PRIMARY,
            client: V4_CLIENT,
            request: legacy_binding(|_| {}),
            expected: (20, 76),
        },
        Case {
            what: "RFC 3489 Binding, IPv6, alternate",
            server: rfc5780_v6,
            local: V6_PRIMARY,
            client: V6_CLIENT,
            request: legacy_binding(|_| {}),
            expected: (20, 124),
        },
        Case {
            what: "CHANGE-REQUEST, IPv6, alternate",
            server: rfc5780_v6,
            local: V6_PRIMARY,
            client: V6_CLIENT,
            request: binding(|w| {
                w.add(&ChangeRequest {
                    change_ip: true,
                    change_port: true,
                })
                .unwrap();
            }),
            expected: (28, 156),
        },
        Case {
            what: "RESPONSE-PORT, IPv6, alternate",
            server: rfc5780_v6,
            local: V6_PRIMARY,
            client: V6_CLIENT,
            request: binding(|w| {
                w.add(&ResponsePort(50000)).unwrap();
            }),
            expected: (28, 156),
        },
        Case {
            what: "PADDING (empty), IPv6, alternate",
            server: rfc5780_v6,
            local: V6_PRIMARY,
            client: V6_CLIENT,
            request: binding(|w| {
                w.add_raw(AttributeType::PADDING, &[]).unwrap();
            }),
            expected: (24, 160),
        },
        Case {
            what: "PADDING (1000), IPv6, alternate",
            server: rfc5780_v6,
            local: V6_PRIMARY,
            client: V6_CLIENT,
            request: binding(|w| {
                w.add_raw(AttributeType::PADDING, &[0; 1000]).unwrap();
            }),
            expected: (1024, 1024),
        },
        Case {
            what: "420, one unknown attribute",
            server: plain_v6,
            local: V6_PRIMARY,
            client: V6_CLIENT,
            request: binding(|w| {
                w.add_raw(AttributeType(0x7F00), &[]).unwrap();
            }),
            expected: (24, 96),
        },
        Case {
            what: "420, sixteen unknown attributes",
            server: plain_v4,
            local: V4_PRIMARY,
            client: V4_CLIENT,
            request: binding(|w| {
                for t in 0x7F00..0x7F10 {
                    w.add_raw(AttributeType(t), &[]).unwrap();
                }
            }),
            expected: (84, 124),
        },
        Case {
            what: "420, CHANGE-REQUEST without alternate",
            server: plain_v4,
            local: V4_PRIMARY,
            client: V4_CLIENT,
            request: binding(|w| {
                w.add(&ChangeRequest::default()).unwrap();
            }),
            expected: (28, 96),
        },
        Case {
            what: "400, RESPONSE-PORT 80",
            server: rfc5780_v6,
            local: V6_PRIMARY,
            client: V6_CLIENT,
            request: binding(|w| {
                w.add(&ResponsePort(80)).unwrap();
            }),
            expected: (28, 80),
        },
        Case {
            what: "400, empty CHANGE-REQUEST",
            server: rfc5780_v6,
            local: V6_PRIMARY,
            client: V6_CLIENT,
            request: binding(|w| {
                w.add_raw(AttributeType::CHANGE_REQUEST, &[]).unwrap();
            }),
            expected: (24, 80),
        },
        Case {
            what: "Binding, IPv6, alternate, no SOFTWARE",
            server: v6_alt_no_software,
            local: V6_PRIMARY,
            client: V6_CLIENT,
            request: empty(),
            expected: (20, 124),
        },
        Case {
            what: "Binding, IPv6, alternate, 64-byte SOFTWARE",
            server: v6_alt_longest_software,
            local: V6_PRIMARY,
            client: V6_CLIENT,
            request: empty(),
            expected: (20, 192),
        },
    ]
}

fn factor(request: usize, answer: usize) -> f64 {
    answer as f64 / request as f64
}

#[test]
fn amplification_factor_is_measured_and_bounded() {
    assert_eq!(DEFAULT_SOFTWARE.len(), 27, "the numbers below assume it");
    // (request bytes, answer bytes, what): compared as exact ratios.
    let mut worst = (1, 0, "");
    for case in cases() {
        let mut server = (case.server)();
        let t = exchange(
            &mut server,
            addr(case.local),
            addr(case.client),
            &case.request,
        );
        let measured = (case.request.len(), t.data.len());
        println!(
            "{:<45} {:>5} -> {:>5} bytes  x{:.2}",
            case.what,
            measured.0,
            measured.1,
            factor(measured.0, measured.1)
        );
        assert_eq!(measured, case.expected, "{}", case.what);
        let default_software = !case.what.contains("SOFTWARE");
        if default_software && measured.1 * worst.0 > worst.1 * measured.0 {
            worst = (measured.0, measured.1, case.what);
        }
    }
    assert_eq!(
        worst,
        (20, 156, "Binding, IPv6, alternate"),
        "the largest factor with the default configuration: 7.8"
    );
}

#[test]
fn no_request_gets_a_factor_above_the_documented_bound() {
    // The longest SOFTWARE allowed sets the absolute bound: 192 / 20 = 9.6.
    let (bound_request, bound_answer) = (20, 192);
    for case in cases() {
        let mut server = (case.server)();
        let t = exchange(
            &mut server,
            addr(case.local),
            addr(case.client),
            &case.request,
        );
        assert!(
            t.data.len() * bound_request <= bound_answer * case.request.len(),
            "{}",
            case.what
        );
    }
    // PADDING adds nothing: an answer is at most as long as the larger of
    // its request and the unpadded answer plus the empty PADDING header.
    let mut server = rfc5780_v6();
    for len in (0..4000).step_by(4) {
        let request = binding(|w| {
            w.add_raw(AttributeType::PADDING, &vec![0; len]).unwrap();
        });
        let t = exchange(&mut server, addr(V6_PRIMARY), addr(V6_CLIENT), &request);
        assert!(t.data.len() <= request.len().max(160), "{len}");
    }
}
