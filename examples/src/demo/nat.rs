//! NAT names for `icectl demo --nat-a/--nat-b`: the classic RFC 3489
//! names and the RFC 4787 behaviours (mapping EIM/ADM/APDM × filtering
//! EIF/ADF/APDF), mapped onto the situations netsim places a peer in
//! ([`Kind`]), and what theory says about two of them, in words.

use ice_tests::netsim::{FilteringBehavior as F, MappingBehavior as M};
use ice_tests::theory::{Kind, predict_ice};

use crate::error::CliError;

/// The names accepted, for the error message.
pub const NAMES: &str = "open (or none), full-cone, restricted, port-restricted, symmetric, \
                         blocked, or an RFC 4787 MAPPING-FILTERING pair with MAPPING one of \
                         eim, adm, apdm and FILTERING one of eif, adf, apdf (e.g. eim-apdf, \
                         apdm-adf; also spelt out, e.g. \
                         endpoint-independent-mapping-address-dependent-filtering)";

/// The RFC 4787 terms spelt out, and their abbreviations. The longer
/// "address-and-port" forms come first: "address-dependent-mapping" is
/// not a substring of them, but replacing in this order keeps it obvious.
const LONG: [(&str, &str); 6] = [
    ("endpoint-independent-mapping", "eim"),
    ("address-and-port-dependent-mapping", "apdm"),
    ("address-dependent-mapping", "adm"),
    ("endpoint-independent-filtering", "eif"),
    ("address-and-port-dependent-filtering", "apdf"),
    ("address-dependent-filtering", "adf"),
];

/// Parses a NAT name: case-insensitive; `-`, `+`, `_`, `/`, `,` or a
/// space between the two RFC 4787 parts.
pub fn parse(name: &str) -> Result<Kind, CliError> {
    let mut n = name.trim().to_ascii_lowercase().replace(['_', ' '], "-");
    let classic = match n.as_str() {
        "open" | "none" | "no-nat" | "open-internet" => Some(Kind::Open),
        "blocked" | "udp-blocked" => Some(Kind::Blocked),
        "full-cone" | "fullcone" => Some(Kind::Nat(M::EndpointIndependent, F::EndpointIndependent)),
        "restricted" | "restricted-cone" | "address-restricted" | "address-restricted-cone" => {
            Some(Kind::Nat(M::EndpointIndependent, F::AddressDependent))
        }
        "port-restricted" | "port-restricted-cone" => Some(Kind::Nat(
            M::EndpointIndependent,
            F::AddressAndPortDependent,
        )),
        "symmetric" => Some(Kind::Nat(
            M::AddressAndPortDependent,
            F::AddressAndPortDependent,
        )),
        _ => None,
    };
    if let Some(k) = classic {
        return Ok(k);
    }
    for (long, short) in LONG {
        n = n.replace(long, short);
    }
    let parts: Vec<&str> = n.split(['-', '+', '/', ',']).collect();
    let mapping = |s: &str| match s {
        "eim" => Some(M::EndpointIndependent),
        "adm" => Some(M::AddressDependent),
        "apdm" => Some(M::AddressAndPortDependent),
        _ => None,
    };
    let filtering = |s: &str| match s {
        "eif" => Some(F::EndpointIndependent),
        "adf" => Some(F::AddressDependent),
        "apdf" => Some(F::AddressAndPortDependent),
        _ => None,
    };
    if let [m, f] = parts.as_slice()
        && let (Some(m), Some(f)) = (mapping(m), filtering(f))
    {
        return Ok(Kind::Nat(m, f));
    }
    Err(CliError::usage(
        format!("unknown NAT `{name}`"),
        "it is neither a classic NAT name nor an RFC 4787 mapping-filtering pair",
        format!("give one of: {NAMES}"),
    ))
}

/// The classic name, if the NAT has one.
pub fn classic(k: Kind) -> Option<&'static str> {
    Some(match k {
        Kind::Open => "open",
        Kind::Blocked => "blocked",
        Kind::Nat(M::EndpointIndependent, F::EndpointIndependent) => "full-cone",
        Kind::Nat(M::EndpointIndependent, F::AddressDependent) => "restricted",
        Kind::Nat(M::EndpointIndependent, F::AddressAndPortDependent) => "port-restricted",
        Kind::Nat(M::AddressAndPortDependent, F::AddressAndPortDependent) => "symmetric",
        Kind::Nat(..) => return None,
    })
}

/// The RFC 4787 behaviours, e.g. `EIM+APDF` (`None` for no NAT or a
/// firewall).
pub fn rfc4787(k: Kind) -> Option<String> {
    match k {
        Kind::Nat(..) => Some(k.label().split(' ').next().unwrap_or_default().to_owned()),
        Kind::Open | Kind::Blocked => None,
    }
}

/// How the demo names a NAT: `port-restricted (EIM+APDF)`, `ADM+EIF`,
/// `no NAT (open Internet)`, `UDP blocked`.
pub fn display(k: Kind) -> String {
    match (k, classic(k), rfc4787(k)) {
        (Kind::Open, ..) => "no NAT (open Internet)".into(),
        (Kind::Blocked, ..) => "a firewall that blocks UDP".into(),
        (_, Some(c), Some(r)) => format!("{c} ({r})"),
        (_, None, Some(r)) => r,
        (_, _, None) => k.label(),
    }
}

fn mapping_words(m: M) -> &'static str {
    match m {
        M::EndpointIndependent => "endpoint-independent mapping (one public port per socket)",
        M::AddressDependent => "address-dependent mapping (a new public port per peer IP)",
        M::AddressAndPortDependent => "symmetric mapping (a new public port per peer)",
    }
}

fn filtering_words(f: F) -> &'static str {
    match f {
        F::EndpointIndependent => "full-cone filtering (anyone gets in)",
        F::AddressDependent => "restricted filtering (only IPs it sent to get in)",
        F::AddressAndPortDependent => {
            "port-restricted filtering (only the address:port it sent to gets in)"
        }
    }
}

/// Theory's prediction for A behind `a` and B behind `b`, in words:
/// whether ICE checks can punch through (`predict_ice`), and why.
pub fn prediction(a: Kind, b: Kind) -> (bool, String) {
    let punchable = predict_ice(a, b);
    let why = match (a.behaviour(), b.behaviour()) {
        (None, _) | (_, None) => {
            "UDP is blocked, so neither checks nor TURN over UDP get through".to_owned()
        }
        _ if punchable => works(a, b),
        (Some((ma, fa)), Some((mb, fb))) => {
            let apdm = M::AddressAndPortDependent;
            if ma == apdm && mb == apdm {
                "both NATs map per destination, so no address answers from where it was asked \
                 (RFC 8445 §7.2.5.2.1)"
                    .to_owned()
            } else if ma != M::EndpointIndependent && fb != F::EndpointIndependent {
                format!("A's {} vs B's {}", mapping_words(ma), filtering_words(fb))
            } else if mb != M::EndpointIndependent && fa != F::EndpointIndependent {
                format!("B's {} vs A's {}", mapping_words(mb), filtering_words(fa))
            } else {
                "these mappings and filterings leave no direct path".to_owned()
            }
        }
    };
    (punchable, why)
}

fn works(a: Kind, b: Kind) -> String {
    let eim = |k: Kind| matches!(k.behaviour(), Some((M::EndpointIndependent, _)));
    match (a, b) {
        (Kind::Open, Kind::Open) => "no NAT on either side".into(),
        (Kind::Open, _) => {
            "A has no NAT: B's checks reach it and open B's NAT for the answers".into()
        }
        (_, Kind::Open) => {
            "B has no NAT: A's checks reach it and open A's NAT for the answers".into()
        }
        _ if eim(a) && eim(b) => {
            "both NATs keep one public port per socket, and each side's checks open its own NAT \
             for the other's"
                .into()
        }
        _ => "a NAT maps per destination, but the other side's filtering lets its checks in \
              (learnt as peer-reflexive)"
            .into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classic_and_rfc4787_names() {
        assert_eq!(parse("Symmetric").unwrap(), parse("apdm-apdf").unwrap());
        assert_eq!(
            parse("port-restricted").unwrap(),
            parse("EIM+APDF").unwrap()
        );
        assert_eq!(parse("full_cone").unwrap(), parse("eim-eif").unwrap());
        assert_eq!(parse("restricted").unwrap(), parse("eim-adf").unwrap());
        assert_eq!(parse("open").unwrap(), Kind::Open);
        assert_eq!(parse("none").unwrap(), Kind::Open);
        assert_eq!(
            parse("adm-eif").unwrap(),
            Kind::Nat(M::AddressDependent, F::EndpointIndependent)
        );
        assert_eq!(
            parse("Address-And-Port-Dependent-Mapping address-dependent-filtering").unwrap(),
            Kind::Nat(M::AddressAndPortDependent, F::AddressDependent)
        );
        assert_eq!(
            parse("endpoint-independent-mapping+address-and-port-dependent-filtering").unwrap(),
            parse("port-restricted").unwrap()
        );
        for bad in ["", "cone", "eim", "eim-apdm", "apdf-eim", "eim-apdf-x"] {
            let e = parse(bad).unwrap_err();
            assert_eq!(e.code, crate::error::EXIT_USAGE, "{bad}");
            assert!(e.hint.contains("port-restricted"), "{bad}: {e}");
        }
    }

    #[test]
    fn every_pair_has_a_prediction_in_words() {
        for a in Kind::all() {
            for b in Kind::all() {
                let (punchable, why) = prediction(a, b);
                assert_eq!(punchable, predict_ice(a, b));
                assert!(!why.contains("leave no direct path"), "{a:?} {b:?}");
            }
        }
        let (p, why) = prediction(
            parse("symmetric").unwrap(),
            parse("port-restricted").unwrap(),
        );
        assert!(!p);
        assert!(why.starts_with("A's symmetric mapping"), "{why}");
        assert_eq!(
            display(parse("eim-apdf").unwrap()),
            "port-restricted (EIM+APDF)"
        );
        assert_eq!(display(parse("adm-eif").unwrap()), "ADM+EIF");
    }
}
