//! Middleboxes built from the kernel's own NAT and firewall, as nftables
//! rulesets, with the behaviour each must show in RFC 4787 terms.
//!
//! # What the kernel gives, and what takes rules
//!
//! - **Mapping.** For a new flow, `masquerade` (like `snat`) first reuses
//!   the mapping the same inside address and port already has
//!   (`nf_nat_core`: "If this srcip/proto/src-proto-part is currently
//!   mapped, and that same mapping gives a unique tuple within the given
//!   range, use that"), then tries to keep the port, then takes any free
//!   one: endpoint-independent mapping by design, port preserving when the
//!   port is free. The one exception is a destination whose reply tuple is
//!   already taken by another tracked flow (see `KernelNat::input_firewall`).
//!   `masquerade random` and `masquerade fully-random` skip that lookup
//!   and draw a new port for every flow: nft(8) says `random` has been the
//!   same as `fully-random` since Linux 5.0 (before, `random` was a keyed
//!   hash of source, destination address and destination port, so the same
//!   destination got the same port again). Both are address-and-port-
//!   dependent mapping. The kernel has no address-dependent mapping of its
//!   own; this module builds one with `snat` to a second external address
//!   for the server's second address (one external IP per destination IP,
//!   ports kept): the mapping is reused for every port of one destination
//!   address and differs between addresses, which is RFC 4787 §4.1's
//!   definition.
//! - **Filtering.** Connection tracking only lets in what matches a
//!   tracked flow's reply tuple: address- and port-dependent filtering by
//!   default. Anything looser takes rules. Here, a chain after source NAT
//!   learns every outbound flow's mapping in a dynamic map (external
//!   address and port → inside address and port, read from the packet
//!   after NAT and from `ct original`), and a destination-NAT rule sends
//!   inbound packets for a known mapping to its owner:
//!   endpoint-independent filtering ("full cone") for any sender, or
//!   address-dependent filtering for senders whose address the mapping has
//!   sent to (a second dynamic set). Unlike a static port forward, a
//!   mapping is only open after the inside socket has used it.
//! - **Hairpinning.** The same map, consulted for packets from the inside
//!   to an external address, plus a source NAT on the way back in so the
//!   receiver sees the sender's external address.
//! - **Firewalls** without NAT: stateful filtering in the forward chain
//!   (address- and port-dependent with conntrack alone, address-dependent
//!   with a learned set), and a UDP-blocking one.
//!
//! Interface names are those of [`super::NatLab`]: `lan` inside, `wan`
//! outside.

use std::fmt;
use std::net::Ipv4Addr;

use candidate_gather::nat::{ClassicNat, FilteringBehavior, MappingBehavior, PortAssignment};

/// How a kernel NAT picks mappings.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mapping {
    /// `masquerade`: ports kept, one mapping per inside socket.
    EndpointIndependent,
    /// `snat` to a second external address towards the server's second
    /// address: one mapping per destination address, ports kept.
    AddressDependent,
    /// `masquerade random` or `fully-random`: a random port per flow.
    AddressAndPortDependent(Randomization),
}

/// The port-randomisation flag of `masquerade`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Randomization {
    /// `random`.
    Random,
    /// `fully-random`.
    FullyRandom,
}

/// A NAT built from the kernel's connection tracking and nftables.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct KernelNat {
    /// Mapping behaviour.
    pub mapping: Mapping,
    /// Filtering behaviour.
    pub filtering: FilteringBehavior,
    /// Whether packets from the inside to an external mapping are looped
    /// back in (only with endpoint-independent mapping and filtering here).
    pub hairpinning: bool,
    /// Whether the NAT drops unsolicited packets addressed to itself from
    /// the outside before connection tracking confirms them, as a router's
    /// input firewall does. Without it, a packet the filter refuses is
    /// delivered locally (to no socket) and so becomes a tracked, unreplied
    /// flow from the remote to the mapped address; that tuple is then
    /// taken, and the inside socket's next flow to that remote address and
    /// port gets a new mapping instead of its existing one.
    pub input_firewall: bool,
}

/// What stands between the client and the server.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Middlebox {
    /// A plain router: the client's address is public.
    Router,
    /// A stateful firewall without NAT (address-dependent or address- and
    /// port-dependent filtering).
    Firewall(FilteringBehavior),
    /// A router that drops all UDP.
    BlockUdp,
    /// A NAT.
    Nat(KernelNat),
}

/// What discovery must find behind a middlebox.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Expected {
    /// Whether UDP gets through.
    pub udp: bool,
    /// Mapping behaviour (meaningless when UDP is blocked).
    pub mapping: MappingBehavior,
    /// Filtering behaviour.
    pub filtering: FilteringBehavior,
    /// Port preservation; `None` without a NAT.
    pub port: Option<PortAssignment>,
    /// Hairpinning, when it can be seen (RFC 5780 §4.5 needs mapping or
    /// filtering to be endpoint-independent; see `Rfc5780Discovery`).
    pub hairpinning: Option<bool>,
    /// The classic name.
    pub classic: ClassicNat,
}

/// The lab's addresses the rules refer to.
#[derive(Clone, Copy, Debug)]
pub struct Addresses {
    /// The inside network, /24.
    pub lan: Ipv4Addr,
    /// The NAT's external address.
    pub external: Ipv4Addr,
    /// Its second external address (address-dependent mapping).
    pub external2: Ipv4Addr,
    /// The server's second (alternate) address.
    pub server_alternate: Ipv4Addr,
}

impl fmt::Display for Middlebox {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Middlebox::Router => f.write_str("router (no NAT)"),
            Middlebox::Firewall(fl) => write!(f, "firewall {}", filtering_name(*fl)),
            Middlebox::BlockUdp => f.write_str("UDP blocked"),
            Middlebox::Nat(n) => {
                let m = match n.mapping {
                    Mapping::EndpointIndependent => "EIM (masquerade)",
                    Mapping::AddressDependent => "ADM (snat per destination address)",
                    Mapping::AddressAndPortDependent(Randomization::Random) => {
                        "APDM (masquerade random)"
                    }
                    Mapping::AddressAndPortDependent(Randomization::FullyRandom) => {
                        "APDM (masquerade fully-random)"
                    }
                };
                write!(f, "NAT {m} + {}", filtering_name(n.filtering))?;
                if n.hairpinning {
                    f.write_str(" + hairpinning")?;
                }
                if !n.input_firewall {
                    f.write_str(", no input firewall")?;
                }
                Ok(())
            }
        }
    }
}

fn filtering_name(f: FilteringBehavior) -> &'static str {
    match f {
        FilteringBehavior::EndpointIndependent => "EIF",
        FilteringBehavior::AddressDependent => "ADF",
        FilteringBehavior::AddressAndPortDependent => "APDF",
    }
}

impl Middlebox {
    /// A NAT without hairpinning.
    pub fn nat(mapping: Mapping, filtering: FilteringBehavior) -> Middlebox {
        Middlebox::Nat(KernelNat {
            mapping,
            filtering,
            hairpinning: false,
            input_firewall: true,
        })
    }

    /// Whether it translates addresses.
    pub fn is_nat(&self) -> bool {
        matches!(self, Middlebox::Nat(_))
    }

    /// What discovery must report behind it.
    pub fn expected(&self) -> Expected {
        use FilteringBehavior as F;
        use MappingBehavior as M;
        let (udp, mapping, filtering, port, hairpinning) = match *self {
            Middlebox::Router => (true, M::NoNat, F::EndpointIndependent, None, None),
            Middlebox::Firewall(f) => (true, M::NoNat, f, None, None),
            Middlebox::BlockUdp => (false, M::NoNat, F::AddressAndPortDependent, None, None),
            Middlebox::Nat(n) => {
                let (m, p) = match n.mapping {
                    Mapping::EndpointIndependent => {
                        (M::EndpointIndependent, PortAssignment::Preserving)
                    }
                    Mapping::AddressDependent => (M::AddressDependent, PortAssignment::Preserving),
                    Mapping::AddressAndPortDependent(_) => {
                        (M::AddressAndPortDependent, PortAssignment::NotPreserving)
                    }
                };
                let visible = m == M::EndpointIndependent || n.filtering == F::EndpointIndependent;
                (
                    true,
                    m,
                    n.filtering,
                    Some(p),
                    visible.then_some(n.hairpinning),
                )
            }
        };
        let classic = if udp {
            ClassicNat::from_behaviors(mapping, filtering)
        } else {
            ClassicNat::UdpBlocked
        };
        Expected {
            udp,
            mapping,
            filtering,
            port,
            hairpinning,
            classic,
        }
    }

    /// The nftables ruleset of the middlebox namespace (empty for a router).
    pub fn ruleset(&self, a: &Addresses) -> String {
        match *self {
            Middlebox::Router => String::new(),
            Middlebox::BlockUdp => "table inet icelab {\n\
                 \x20 chain forward {\n\
                 \x20   type filter hook forward priority filter; policy accept;\n\
                 \x20   meta l4proto udp drop\n\
                 \x20 }\n\
                 }\n"
            .to_owned(),
            Middlebox::Firewall(f) => firewall(f),
            Middlebox::Nat(n) => nat(&n, a),
        }
    }
}

fn firewall(f: FilteringBehavior) -> String {
    let (learn, allow) = match f {
        // Conntrack alone: only answers to tracked flows come in.
        FilteringBehavior::AddressAndPortDependent => (String::new(), String::new()),
        FilteringBehavior::AddressDependent => (
            "    iifname \"lan\" meta l4proto udp update @peers { ip saddr . udp sport . ip daddr }\n"
                .to_owned(),
            "    iifname \"wan\" meta l4proto udp ip daddr . udp dport . ip saddr @peers accept\n"
                .to_owned(),
        ),
        // Nothing filtered: a router.
        FilteringBehavior::EndpointIndependent => return String::new(),
    };
    format!(
        "table ip icelab {{\n\
         \x20 set peers {{ type ipv4_addr . inet_service . ipv4_addr; flags dynamic,timeout; timeout 5m; }}\n\
         \x20 chain forward {{\n\
         \x20   type filter hook forward priority filter; policy accept;\n\
         {learn}\
         \x20   iifname \"wan\" ct state established,related accept\n\
         {allow}\
         \x20   iifname \"wan\" drop\n\
         \x20 }}\n\
         }}\n"
    )
}

fn nat(n: &KernelNat, a: &Addresses) -> String {
    let Addresses {
        lan,
        external,
        external2,
        server_alternate,
    } = *a;
    let mut srcnat = match n.mapping {
        Mapping::EndpointIndependent => "    oifname \"wan\" masquerade\n".to_owned(),
        Mapping::AddressDependent => format!(
            "    oifname \"wan\" ip daddr {server_alternate} snat ip to {external2}\n\
             \x20   oifname \"wan\" snat ip to {external}\n"
        ),
        Mapping::AddressAndPortDependent(Randomization::Random) => {
            "    oifname \"wan\" masquerade random\n".to_owned()
        }
        Mapping::AddressAndPortDependent(Randomization::FullyRandom) => {
            "    oifname \"wan\" masquerade fully-random\n".to_owned()
        }
    };
    // Learn every outbound flow's mapping (after source NAT, so `ip saddr`
    // and `udp sport` are the external ones) and, for address-dependent
    // filtering, whom it talked to. Only the original direction creates
    // mappings: answers to an admitted inbound flow ride on that flow.
    let mut learn = "    oifname \"wan\" meta l4proto udp ct direction original update @mapped { ip saddr . udp sport : ct original ip saddr . ct original proto-src }\n".to_owned();
    let mut dstnat = String::new();
    match n.filtering {
        FilteringBehavior::EndpointIndependent => dstnat.push_str(
            "    iifname \"wan\" meta l4proto udp dnat ip to ip daddr . udp dport map @mapped\n",
        ),
        FilteringBehavior::AddressDependent => {
            learn.push_str("    oifname \"wan\" meta l4proto udp ct direction original update @peers { ip daddr . ip saddr . udp sport }\n");
            dstnat.push_str("    iifname \"wan\" meta l4proto udp ip saddr . ip daddr . udp dport @peers dnat ip to ip daddr . udp dport map @mapped\n");
        }
        FilteringBehavior::AddressAndPortDependent => {}
    }
    if n.hairpinning {
        dstnat.push_str(
            "    iifname \"lan\" meta l4proto udp dnat ip to ip daddr . udp dport map @mapped\n",
        );
        // The looped packet leaves from the sender's external address.
        srcnat.push_str(&format!(
            "    oifname \"lan\" ct status dnat ip saddr {lan}/24 snat ip to {external}\n"
        ));
    }
    let input = if n.input_firewall {
        "    iifname \"wan\" ct state new drop\n"
    } else {
        ""
    };
    format!(
        "table ip icelab {{\n\
         \x20 map mapped {{ type ipv4_addr . inet_service : ipv4_addr . inet_service; flags dynamic,timeout; timeout 5m; }}\n\
         \x20 set peers {{ type ipv4_addr . ipv4_addr . inet_service; flags dynamic,timeout; timeout 5m; }}\n\
         \x20 chain srcnat {{\n\
         \x20   type nat hook postrouting priority srcnat; policy accept;\n\
         {srcnat}\
         \x20 }}\n\
         \x20 chain learn {{\n\
         \x20   type filter hook postrouting priority srcnat + 10; policy accept;\n\
         {learn}\
         \x20 }}\n\
         \x20 chain dstnat {{\n\
         \x20   type nat hook prerouting priority dstnat; policy accept;\n\
         {dstnat}\
         \x20 }}\n\
         \x20 chain input {{\n\
         \x20   type filter hook input priority filter; policy accept;\n\
         {input}\
         \x20 }}\n\
         }}\n"
    )
}
