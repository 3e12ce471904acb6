//! NAT names for `icectl demo --nat-a/--nat-b`: the classic RFC 3489
//! names and the RFC 4787 behaviours (mapping EIM/ADM/APDM × filtering
//! EIF/ADF/APDF), mapped onto the situations netsim places a peer in.

use ice_tests::netsim::{FilteringBehavior as F, MappingBehavior as M};
use ice_tests::theory::Kind;

use crate::error::CliError;

/// The names accepted, for the error message and `--help`.
pub const NAMES: &str = "open, full-cone, restricted, port-restricted, symmetric, blocked, \
                         or MAPPING-FILTERING with MAPPING one of eim, adm, apdm and FILTERING \
                         one of eif, adf, apdf (RFC 4787), e.g. eim-apdf";

/// Parses a NAT name (case-insensitive; `-`, `+` or `_` between the two
/// RFC 4787 parts).
pub fn parse(name: &str) -> Result<Kind, CliError> {
    let n = name.trim().to_ascii_lowercase().replace(['_', ' '], "-");
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
    let parts: Vec<&str> = n.split(['-', '+']).collect();
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

/// What a NAT does, in words, for the demo's narration.
pub fn describe(k: Kind) -> String {
    match k {
        Kind::Open => "no NAT (open Internet)".into(),
        Kind::Blocked => "a firewall that drops all UDP".into(),
        Kind::Nat(m, f) => {
            let m = match m {
                M::EndpointIndependent => "keeps one public port for all destinations",
                M::AddressDependent => "gives a new public port per destination IP",
                M::AddressAndPortDependent => "gives a new public port per destination",
            };
            let f = match f {
                F::EndpointIndependent => "lets anyone in",
                F::AddressDependent => "lets in IPs it has sent to",
                F::AddressAndPortDependent => "lets in only the exact address:port it has sent to",
            };
            format!("{}: {m}, {f}", k.label())
        }
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
        assert_eq!(
            parse("adm-eif").unwrap(),
            Kind::Nat(M::AddressDependent, F::EndpointIndependent)
        );
        for bad in ["", "cone", "eim", "eim-apdm", "apdf-eim", "eim-apdf-x"] {
            let e = parse(bad).unwrap_err();
            assert_eq!(e.code, crate::error::EXIT_USAGE, "{bad}");
            assert!(e.hint.contains("port-restricted"), "{bad}: {e}");
        }
    }
}
