//! What theory predicts for UDP hole punching (and ICE, which punches the
//! same way) between two clients behind NATs.
//!
//! Peer A (mapping `Ma`, filtering `Fa`, registered public address `Ra`)
//! punches B at `Rb` from mapping `a1`: `a1 = Ra` if `Ma` is
//! endpoint-independent, a new mapping otherwise (the rendezvous or STUN server has
//! another IP). B meanwhile punches `Ra`, from `Rb` only if `Mb` is
//! endpoint-independent. So:
//!
//! 1. A's punch gets into `Rb` if `Fb` is endpoint-independent, or
//!    address-dependent and `Mb` endpoint-independent (B has sent to A's
//!    IP from `Rb`), or address-and-port-dependent and both mappings
//!    endpoint-independent (B has sent to exactly `a1 = Ra` from `Rb`).
//! 2. B answers from `b2 = map_B(a1)`, which is `Rb` only if `Mb` is
//!    endpoint-independent. It gets into `a1` (which has sent to `Rb`) if
//!    `Fa` is endpoint-independent or address-dependent (same IP), or
//!    `b2 = Rb`. Then A is connected.
//! 3. A answers B's punches from `b2` from `map_A(b2)`, which is `a1` unless
//!    `Ma` is address-and-port-dependent and `b2 ≠ Rb`; it gets into `b2`
//!    (which has sent to `a1`) if it is `a1` or `Fb` is not
//!    address-and-port-dependent. Then B is connected too.
//!
//! Both are connected when some chain of these works in one direction or
//! the other. Open Internet behaves as an endpoint-independent NAT with open
//! filtering; a blocked client never registers.

use std::net::IpAddr;
use std::time::Duration;

use crate::netsim::{
    FilteringBehavior, FirewallConfig, Link, MappingBehavior, NatConfig, NetworkId, PortAssignment,
    Sim,
};

/// A client's situation in the hole-punching and ICE matrices.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// Behind a NAT with these RFC 4787 behaviours.
    Nat(MappingBehavior, FilteringBehavior),
    /// On the Internet itself.
    Open,
    /// Behind a firewall that drops all UDP.
    Blocked,
}

impl Kind {
    /// The nine NATs, open Internet and blocked.
    pub fn all() -> Vec<Kind> {
        let m = [
            MappingBehavior::EndpointIndependent,
            MappingBehavior::AddressDependent,
            MappingBehavior::AddressAndPortDependent,
        ];
        let f = [
            FilteringBehavior::EndpointIndependent,
            FilteringBehavior::AddressDependent,
            FilteringBehavior::AddressAndPortDependent,
        ];
        let mut v: Vec<Kind> = m
            .iter()
            .flat_map(|m| f.iter().map(|f| Kind::Nat(*m, *f)))
            .collect();
        v.push(Kind::Open);
        v.push(Kind::Blocked);
        v
    }

    /// A short name for tables.
    pub fn label(self) -> String {
        let short = |m: MappingBehavior| match m {
            MappingBehavior::EndpointIndependent => "EIM",
            MappingBehavior::AddressDependent => "ADM",
            MappingBehavior::AddressAndPortDependent => "APDM",
        };
        let shortf = |f: FilteringBehavior| match f {
            FilteringBehavior::EndpointIndependent => "EIF",
            FilteringBehavior::AddressDependent => "ADF",
            FilteringBehavior::AddressAndPortDependent => "APDF",
        };
        match self {
            Kind::Nat(m, f) => {
                let classic = match (m, f) {
                    (
                        MappingBehavior::EndpointIndependent,
                        FilteringBehavior::EndpointIndependent,
                    ) => " (full cone)",
                    (MappingBehavior::EndpointIndependent, FilteringBehavior::AddressDependent) => {
                        " (restricted)"
                    }
                    (
                        MappingBehavior::EndpointIndependent,
                        FilteringBehavior::AddressAndPortDependent,
                    ) => " (port-restricted)",
                    (
                        MappingBehavior::AddressAndPortDependent,
                        FilteringBehavior::AddressAndPortDependent,
                    ) => " (symmetric)",
                    _ => "",
                };
                format!("{}+{}{classic}", short(m), shortf(f))
            }
            Kind::Open => "open Internet".into(),
            Kind::Blocked => "UDP blocked".into(),
        }
    }

    /// Puts a client of this kind on the Internet of `sim`, behind its own
    /// box: a NAT (sequential ports, a 1 ms LAN) with address `public`, a
    /// UDP-blocking firewall, or nothing. Returns the client's network and
    /// address (`private` behind a NAT, `public` otherwise).
    pub fn place(self, sim: &mut Sim, public: IpAddr, private: IpAddr) -> (NetworkId, IpAddr) {
        let inet = sim.internet();
        match self {
            Kind::Open => (inet, public),
            Kind::Blocked => {
                let f = sim.add_firewall(inet, FirewallConfig::block_udp());
                (sim.nat_inside(f), public)
            }
            Kind::Nat(m, f) => {
                let config = NatConfig {
                    port_assignment: PortAssignment::Sequential,
                    ..NatConfig::new(m, f)
                };
                let n = sim.add_nat(inet, config, &[public]);
                let lan = sim.nat_inside(n);
                sim.set_link(lan, Link::with_latency(Duration::from_millis(1)));
                (lan, private)
            }
        }
    }

    /// Mapping and filtering as the prediction sees them (`None`: blocked).
    pub fn behaviour(self) -> Option<(MappingBehavior, FilteringBehavior)> {
        match self {
            Kind::Nat(m, f) => Some((m, f)),
            Kind::Open => Some((
                MappingBehavior::EndpointIndependent,
                FilteringBehavior::EndpointIndependent,
            )),
            Kind::Blocked => None,
        }
    }
}

/// The chain of the module documentation, initiated by A. Returns (A
/// connected, B connected).
fn chain(
    a: (MappingBehavior, FilteringBehavior),
    b: (MappingBehavior, FilteringBehavior),
) -> (bool, bool) {
    use FilteringBehavior as F;
    use MappingBehavior as M;
    let ((ma, fa), (mb, fb)) = (a, b);
    let a1_is_ra = ma == M::EndpointIndependent;
    let b_sent_from_rb = mb == M::EndpointIndependent;
    let step1 = match fb {
        F::EndpointIndependent => true,
        F::AddressDependent => b_sent_from_rb,
        F::AddressAndPortDependent => b_sent_from_rb && a1_is_ra,
    };
    let b2_is_rb = mb == M::EndpointIndependent;
    let step2 = matches!(fa, F::EndpointIndependent | F::AddressDependent) || b2_is_rb;
    let a_reply_from_a1 = ma != M::AddressAndPortDependent || b2_is_rb;
    let step3 = a_reply_from_a1 || fb != F::AddressAndPortDependent;
    (step1 && step2, step1 && step2 && step3)
}

/// Whether two clients connect by punching (or ICE checks) at all.
pub fn predict(a: Kind, b: Kind) -> bool {
    let (Some(a), Some(b)) = (a.behaviour(), b.behaviour()) else {
        return false;
    };
    let (a_by_a, b_by_a) = chain(a, b);
    let (b_by_b, a_by_b) = chain(b, a);
    (a_by_a || a_by_b) && (b_by_a || b_by_b)
}

/// Whether two ICE agents (with a STUN server, no relay) connect.
///
/// ICE is stricter than punching: a check succeeds only if its response
/// comes from the address the request went to (RFC 8445 §7.2.5.2.1), so
/// the agents need a pair of public addresses `(a, b)` with
/// `a = map_A(b)` and `b = map_B(a)`. When both mappings are
/// address-and-port-dependent no such pair can exist: `a` is created by
/// A's first packet to `b`, which must already exist, and `b` by B's first
/// packet to `a`, which must already exist. Punching with endpoint-
/// independent or address-dependent filtering still gets datagrams
/// through both ways there, but on four different addresses, and that is
/// not a usable ICE pair. Everywhere else ICE connects exactly where
/// punching does.
pub fn predict_ice(a: Kind, b: Kind) -> bool {
    let apdm = |k: Kind| {
        matches!(
            k.behaviour(),
            Some((MappingBehavior::AddressAndPortDependent, _))
        )
    };
    predict(a, b) && !(apdm(a) && apdm(b))
}
