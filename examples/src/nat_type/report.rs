//! The result of `icectl nat-type`, in RFC 4787 terms, the classic names
//! of RFC 3489, and plain words: one struct, printed as a table or as
//! JSON.
//!
//! What "can reach you directly" means comes from the hole-punching table
//! of the README (every pair of RFC 4787 behaviours, simulated in netsim
//! by `tests/tests/hole_punching.rs`), with its one ICE exception: two
//! peers that both map address-and-port-dependently need a relay.

use std::collections::BTreeMap;
use std::net::SocketAddr;

use candidate_gather::nat::{
    ClassicReport, FilteringBehavior, MappingBehavior, NatReport, Outcome, PortAssignment, Reason,
};
use serde::Serialize;

use crate::output::Table;

/// What `icectl nat-type` found (`--json`: this object).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct NatTypeReport {
    /// The STUN server asked.
    pub server: SocketAddr,
    /// The local address of the socket whose mapping is reported.
    pub local_address: SocketAddr,
    /// The address the server saw (server-reflexive).
    pub mapped_address: Option<SocketAddr>,
    /// Whether the mapped address differs from the local one.
    pub behind_nat: Option<bool>,
    /// `no-nat`, `endpoint-independent`, `address-dependent` or
    /// `address-and-port-dependent` (RFC 4787 §4.1).
    pub mapping: Option<&'static str>,
    /// `endpoint-independent`, `address-dependent` or
    /// `address-and-port-dependent` (RFC 4787 §5).
    pub filtering: Option<&'static str>,
    /// Whether the NAT loops packets to its own mappings back in (RFC 4787
    /// §6).
    pub hairpinning: Option<bool>,
    /// Whether the NAT kept local ports (RFC 4787 §4.2.1).
    pub port_preservation: Option<bool>,
    /// The RFC 3489 name implied by the mapping and filtering.
    pub classic: Option<String>,
    /// The name the RFC 3489 §10.1 flow gave on its own socket.
    pub rfc3489_flow: Option<String>,
    /// Whether the server named a second address (OTHER-ADDRESS); without
    /// one only a partial result is possible.
    pub server_has_alternate: bool,
    /// Why a field is null, by field name.
    pub inconclusive: BTreeMap<&'static str, String>,
    /// What the result means for direct connections.
    pub meaning: String,
    /// What to do for a fuller result, if anything.
    pub hint: Option<String>,
}

fn mapping_name(m: MappingBehavior) -> &'static str {
    match m {
        MappingBehavior::NoNat => "no-nat",
        MappingBehavior::EndpointIndependent => "endpoint-independent",
        MappingBehavior::AddressDependent => "address-dependent",
        MappingBehavior::AddressAndPortDependent => "address-and-port-dependent",
    }
}

fn filtering_name(f: FilteringBehavior) -> &'static str {
    match f {
        FilteringBehavior::EndpointIndependent => "endpoint-independent",
        FilteringBehavior::AddressDependent => "address-dependent",
        FilteringBehavior::AddressAndPortDependent => "address-and-port-dependent",
    }
}

/// The hint for a server without a second address.
pub const NO_ALTERNATE_HINT: &str = "the server has no second address (no OTHER-ADDRESS), so only a partial result is possible: use a server with two IP addresses, e.g. `icectl serve --alt-ip IP` (on one machine: `icectl serve --alt-ip 127.0.0.2`)";

impl NatTypeReport {
    /// Combines the two runs' reports.
    pub fn new(
        server: SocketAddr,
        local_address: SocketAddr,
        rfc5780: &NatReport,
        classic: &ClassicReport,
    ) -> NatTypeReport {
        let mut inconclusive = BTreeMap::new();
        let mut lacks_alternate = false;
        let mut known = |field: &'static str, reason: Option<Reason>| {
            if let Some(r) = reason {
                lacks_alternate |= r == Reason::ServerLacksAlternateAddress;
                inconclusive.insert(field, r.to_string());
            }
        };
        known("mapping", reason_of(&rfc5780.mapping));
        known("filtering", reason_of(&rfc5780.filtering));
        known("hairpinning", reason_of(&rfc5780.hairpinning));
        known("port_preservation", reason_of(&rfc5780.port_assignment));
        known("classic", reason_of(&rfc5780.classic));
        known("rfc3489_flow", reason_of(&classic.nat));
        let mapping = rfc5780.mapping.known();
        let filtering = rfc5780.filtering.known();
        let mapped = rfc5780.mapped_address;
        let behind_nat = mapped.map(|m| m != local_address);
        let meaning = meaning(mapping, filtering, behind_nat);
        NatTypeReport {
            server,
            local_address,
            mapped_address: mapped,
            behind_nat,
            mapping: mapping.map(mapping_name),
            filtering: filtering.map(filtering_name),
            hairpinning: rfc5780.hairpinning.known(),
            port_preservation: rfc5780
                .port_assignment
                .known()
                .map(|p| p == PortAssignment::Preserving),
            classic: rfc5780.classic.known().map(|c| c.to_string()),
            rfc3489_flow: classic.nat.known().map(|c| c.to_string()),
            server_has_alternate: !lacks_alternate,
            inconclusive,
            meaning,
            hint: lacks_alternate.then(|| NO_ALTERNATE_HINT.to_owned()),
        }
    }

    /// The text for people.
    pub fn render(&self) -> String {
        let unknown = |field: &str| match self.inconclusive.get(field) {
            Some(why) if *why == Reason::NoNat.to_string() => {
                "not applicable: there is no NAT".to_owned()
            }
            Some(why) => format!("not determined: {why}"),
            None => "not determined".to_owned(),
        };
        let mut t = Table::new();
        t.row("server", self.server.to_string());
        t.row("local address", self.local_address.to_string());
        t.row(
            "mapped address",
            self.mapped_address
                .map_or_else(|| "none".to_owned(), |m| m.to_string()),
        );
        t.row(
            "NAT",
            match self.behind_nat {
                Some(true) => "yes: the server sees another address than yours",
                Some(false) => "none: the server sees your own address",
                None => "unknown",
            },
        );
        let behaviour = |v: Option<&str>, field: &str| match v {
            Some("no-nat") => "no NAT".to_owned(),
            Some(v) => format!("{v} ({})", rfc4787_abbrev(field, v)),
            None => unknown(field),
        };
        t.row("mapping", behaviour(self.mapping, "mapping"));
        t.row("filtering", behaviour(self.filtering, "filtering"));
        let yes_no = |v: Option<bool>, yes: &str, no: &str, field: &str| match v {
            Some(true) => yes.to_owned(),
            Some(false) => no.to_owned(),
            None => unknown(field),
        };
        t.row(
            "hairpinning",
            yes_no(self.hairpinning, "yes", "no", "hairpinning"),
        );
        t.row(
            "port preservation",
            yes_no(
                self.port_preservation,
                "yes: mapped ports equal local ports",
                "no: the NAT picks other ports",
                "port_preservation",
            ),
        );
        t.row(
            "classic name",
            self.classic.clone().unwrap_or_else(|| unknown("classic")),
        );
        t.row(
            "RFC 3489 flow",
            self.rfc3489_flow
                .clone()
                .unwrap_or_else(|| unknown("rfc3489_flow")),
        );
        let mut out = format!(
            "NAT behaviour (RFC 5780, RFC 4787 terms)\n{}\nWhat this means: {}",
            t.render(),
            self.meaning
        );
        if let Some(hint) = &self.hint {
            out.push_str(&format!("\nTry: {hint}"));
        }
        out
    }
}

fn reason_of<T: Copy>(o: &Outcome<T>) -> Option<Reason> {
    match o {
        Outcome::Inconclusive(r) => Some(*r),
        Outcome::Known(_) => None,
    }
}

fn rfc4787_abbrev(field: &str, v: &str) -> &'static str {
    match (field, v) {
        ("mapping", "endpoint-independent") => "EIM",
        ("mapping", "address-dependent") => "ADM",
        ("mapping", "address-and-port-dependent") => "APDM",
        (_, "endpoint-independent") => "EIF",
        (_, "address-dependent") => "ADF",
        _ => "APDF",
    }
}

/// Plain words for what the behaviours mean for direct (peer-to-peer)
/// connections.
pub fn meaning(
    mapping: Option<MappingBehavior>,
    filtering: Option<FilteringBehavior>,
    behind_nat: Option<bool>,
) -> String {
    use FilteringBehavior as F;
    use MappingBehavior as M;
    const RELAY: &str = "need a relay (TURN)";
    let text = match (mapping, filtering) {
        (Some(M::NoNat), Some(F::EndpointIndependent)) => {
            "no NAT and no filtering: peers behind any NAT can reach you directly.".to_owned()
        }
        (Some(M::NoNat), Some(F::AddressDependent)) => {
            "no NAT, but a firewall only lets in addresses you have sent to; ICE sends first, so peers behind any NAT can still reach you directly.".to_owned()
        }
        (Some(M::NoNat), Some(F::AddressAndPortDependent)) => format!(
            "no NAT, but a firewall only lets in the exact addresses and ports you have sent to: peers with no NAT or a NAT that maps independently of the destination can reach you directly; peers behind symmetric NATs {RELAY}."
        ),
        (Some(M::EndpointIndependent), Some(F::EndpointIndependent)) => {
            "a full-cone NAT: peers behind any NAT can reach you directly.".to_owned()
        }
        (Some(M::EndpointIndependent), Some(F::AddressDependent)) => {
            "a restricted-cone NAT: peers behind any NAT can reach you directly (ICE opens your filter by sending first).".to_owned()
        }
        (Some(M::EndpointIndependent), Some(F::AddressAndPortDependent)) => format!(
            "a port-restricted-cone NAT: only peers whose NAT maps independently of the destination (or who have no NAT) can reach you directly; peers behind symmetric NATs {RELAY}."
        ),
        (Some(m @ (M::AddressDependent | M::AddressAndPortDependent)), Some(f)) => {
            let who = match f {
                F::EndpointIndependent => format!(
                    "peers with no NAT, or whose NAT does not filter by port, can reach you directly; peers whose NAT filters by address and port (port-restricted cone, symmetric) {RELAY}"
                ),
                F::AddressDependent => format!(
                    "only peers with no NAT, a full-cone or restricted-cone NAT, or a NAT without filtering can reach you directly; others {RELAY}"
                ),
                F::AddressAndPortDependent => "only peers with no NAT, a full-cone or a restricted-cone NAT can reach you directly; everyone else needs a relay (TURN)".to_owned(),
            };
            let both_apdm = if m == M::AddressAndPortDependent {
                " With ICE, two peers that both map address-and-port-dependently always need a relay."
            } else {
                ""
            };
            format!(
                "a symmetric NAT (each destination gets its own mapping): {who}.{both_apdm}"
            )
        }
        (Some(M::NoNat), None) => "no NAT (the server sees your own address); whether a firewall filters inbound traffic could not be determined.".to_owned(),
        (Some(M::EndpointIndependent), None) => "a NAT that maps independently of the destination, which suits direct connections; its filtering could not be determined.".to_owned(),
        (Some(_), None) => format!(
            "a symmetric NAT (each destination gets its own mapping): peers behind restrictive NATs {RELAY}; its filtering could not be determined."
        ),
        (None, _) => match behind_nat {
            Some(true) => "you are behind a NAT, but its behaviour could not be determined (see above).".to_owned(),
            Some(false) => "no NAT (the server sees your own address); nothing more could be determined.".to_owned(),
            None => "nothing could be determined (see above).".to_owned(),
        },
    };
    let mut chars = text.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => text,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use candidate_gather::nat::ClassicNat;

    fn report(m: Outcome<MappingBehavior>, f: Outcome<FilteringBehavior>) -> NatReport {
        NatReport {
            mapped_address: Some("198.51.100.1:4000".parse().unwrap()),
            udp: Outcome::Known(true),
            mapping: m,
            filtering: f,
            hairpinning: Outcome::Inconclusive(Reason::FilteringHidesHairpinning),
            port_assignment: Outcome::Known(PortAssignment::Preserving),
            lifetime: None,
            classic: Outcome::Inconclusive(Reason::DependsOnUnknown),
        }
    }

    #[test]
    fn a_server_without_alternate_gives_a_partial_result_and_the_hint() {
        fn lacks<T>() -> Outcome<T> {
            Outcome::Inconclusive(Reason::ServerLacksAlternateAddress)
        }
        let r = NatTypeReport::new(
            "192.0.2.1:3478".parse().unwrap(),
            "10.0.0.2:4000".parse().unwrap(),
            &report(lacks(), lacks()),
            &ClassicReport {
                mapped_address: None,
                nat: lacks(),
            },
        );
        assert!(!r.server_has_alternate);
        assert_eq!(r.behind_nat, Some(true));
        assert_eq!(r.mapping, None);
        assert!(r.hint.as_deref().unwrap().contains("icectl serve --alt-ip"));
        assert!(r.inconclusive["mapping"].contains("no second address"));
        let text = r.render();
        assert!(
            text.contains("not determined: the server has no second address"),
            "{text}"
        );
        assert!(
            text.contains("Try: the server has no second address"),
            "{text}"
        );
        assert!(
            r.meaning.starts_with("You are behind a NAT"),
            "{}",
            r.meaning
        );
    }

    #[test]
    fn every_behaviour_pair_has_words() {
        use FilteringBehavior as F;
        use MappingBehavior as M;
        for m in [
            M::NoNat,
            M::EndpointIndependent,
            M::AddressDependent,
            M::AddressAndPortDependent,
        ] {
            for f in [
                F::EndpointIndependent,
                F::AddressDependent,
                F::AddressAndPortDependent,
            ] {
                let words = meaning(Some(m), Some(f), Some(m != M::NoNat));
                let c = ClassicNat::from_behaviors(m, f);
                assert!(words.ends_with('.'), "{m:?} {f:?}: {words}");
                let direct_for_all = words.contains("peers behind any NAT can");
                let all_expected = matches!(
                    c,
                    ClassicNat::OpenInternet | ClassicNat::FullCone | ClassicNat::RestrictedCone
                ) || (m == M::NoNat && f == F::AddressDependent);
                assert_eq!(direct_for_all, all_expected, "{m:?} {f:?}: {words}");
            }
        }
    }
}
