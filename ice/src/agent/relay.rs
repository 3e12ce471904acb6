//! Relayed candidates through TURN (RFC 8445 §5.1.1.2, RFC 8656), with the
//! TURN client of `candidate_gather::turn`.
//!
//! - Gathering: one allocation per usable base and configured TURN server
//!   of the base's family (over UDP). Each counts as a pending relay:
//!   `GatheringComplete` waits until it is allocated or has failed. The
//!   relayed candidate's base is the relayed address and its related
//!   address the mapped one (§5.1.1.2).
//! - The relayed address then behaves as one more socket of its component:
//!   what the agent sends from it goes through the allocation (Send
//!   indication, or ChannelData once a channel is bound), and what the
//!   server relays from a peer is handled as if it had arrived on it.
//! - Permissions are made as pairs form (RFC 8656 §9: one per peer IP), so
//!   that checks find them in place; the selected pair's peer gets a
//!   channel (§12), cheaper per datagram than Send indications. A refused
//!   permission (a server whose policy forbids private peers answers 403
//!   for the peer's host candidates) fails the pairs from that relayed
//!   address to that IP at once: no check could pass there.
//! - A lost allocation (437, `Reallocated`) trickles the new relayed
//!   candidate; sending from the old address stops. A failed allocation is
//!   reported as [`Event::RelayFailed`](super::Event) with the server's
//!   typed error.
//! - Closing the agent releases every allocation (Refresh with LIFETIME 0).

use std::collections::BTreeSet;
use std::net::{IpAddr, SocketAddr};
use std::time::Instant;

use candidate_gather::turn::{Handled, TurnClient, TurnConfig, TurnEvent};
use rand_core::Rng;

use super::checklist::PairState;
use super::{Agent, Event, Relayed};

/// One TURN allocation of the agent.
pub(super) struct Relay {
    pub stream: usize,
    pub component: u16,
    pub client: TurnClient,
    /// The current relayed address, once allocated.
    pub relayed: Option<SocketAddr>,
    /// Relayed addresses this allocation had before a reallocation: the
    /// agent no longer sends from them.
    pub retired: Vec<SocketAddr>,
    /// Peer IPs a permission was asked for.
    pub permitted: BTreeSet<IpAddr>,
    /// Peer IPs whose permission the server refused: pairs from this
    /// relayed address to them fail.
    pub refused: BTreeSet<IpAddr>,
    /// The peer a channel was bound for (the selected pair's).
    pub channel: Option<SocketAddr>,
    /// Whether gathering has stopped waiting for it.
    pub settled: bool,
}

impl Agent {
    /// Starts the allocations of a stream's bases (§5.1.1.2). Returns how
    /// many there are, for gathering to wait on.
    pub(super) fn start_relays(
        &mut self,
        now: Instant,
        stream: usize,
        bases: &[(u16, SocketAddr)],
    ) -> usize {
        if self.config.lite {
            return 0;
        }
        let mut started = 0;
        for &(component, base) in bases {
            for server in self.config.turn_servers.clone() {
                if server.server.is_ipv4() != base.is_ipv4() {
                    continue;
                }
                let mut config =
                    TurnConfig::new(server.server, &server.username, &server.password, 0);
                config.seed = self.rng.next_u64();
                config.software = None;
                config.retransmit = self.config.retransmit;
                let client = TurnClient::new(config, base, now);
                self.relays.push(Relay {
                    stream,
                    component,
                    client,
                    relayed: None,
                    retired: Vec::new(),
                    permitted: BTreeSet::new(),
                    refused: BTreeSet::new(),
                    channel: None,
                    settled: false,
                });
                started += 1;
            }
        }
        started
    }

    /// Hands a datagram from a TURN server to its client. `true` if it was
    /// the client's (relayed data is handled as arriving on the relayed
    /// address).
    pub(super) fn relay_input(
        &mut self,
        now: Instant,
        local: SocketAddr,
        remote: SocketAddr,
        data: &[u8],
    ) -> bool {
        let Some(i) = self
            .relays
            .iter()
            .position(|r| r.client.local() == local && r.client.server() == remote)
        else {
            return false;
        };
        let Some(r) = self.relays.get_mut(i) else {
            return false;
        };
        let relayed = r.relayed;
        let inner = match r.client.handle_datagram(now, remote, data) {
            Handled::NotMine => return false,
            Handled::Data { peer, payload } => relayed.map(|at| (at, peer, payload.to_vec())),
            _ => None,
        };
        self.pump_relays(now);
        if let Some((at, peer, payload)) = inner {
            self.handle_arrival(now, at, peer, &payload);
        }
        true
    }

    /// Drives the clients' timers.
    pub(super) fn relay_timeouts(&mut self, now: Instant) {
        for r in &mut self.relays {
            r.client.handle_timeout(now);
        }
        self.pump_relays(now);
    }

    /// The clients' next timer.
    pub(super) fn relay_deadline(&self) -> Option<Instant> {
        self.relays
            .iter()
            .filter_map(|r| r.client.poll_timeout())
            .min()
    }

    /// Takes in what the clients report.
    pub(super) fn pump_relays(&mut self, now: Instant) {
        for i in 0..self.relays.len() {
            while let Some(ev) = self.relays.get_mut(i).and_then(|r| r.client.poll_event()) {
                let Some(r) = self.relays.get_mut(i) else {
                    break;
                };
                let (stream, component) = (r.stream, r.component);
                match ev {
                    TurnEvent::Allocated {
                        relayed, mapped, ..
                    } => {
                        r.relayed = Some(relayed);
                        r.settled = true;
                        self.relayed(
                            stream,
                            Relayed {
                                component,
                                relayed,
                                mapped,
                            },
                        );
                    }
                    TurnEvent::Reallocated {
                        previous,
                        relayed,
                        mapped,
                        ..
                    } => {
                        r.retired.push(previous);
                        r.relayed = Some(relayed);
                        r.permitted.clear();
                        r.refused.clear();
                        r.channel = None;
                        self.sockets.remove(&previous);
                        self.relayed(
                            stream,
                            Relayed {
                                component,
                                relayed,
                                mapped,
                            },
                        );
                    }
                    TurnEvent::PermissionFailed(ip, _) => {
                        r.refused.insert(ip);
                        if let Some(relayed) = r.relayed {
                            self.fail_pairs_to(now, stream, relayed, ip);
                        }
                    }
                    TurnEvent::Failed(error) => {
                        let server = r.client.server();
                        let settle = !r.settled;
                        r.settled = true;
                        if let Some(gone) = r.relayed.take() {
                            r.retired.push(gone);
                            self.sockets.remove(&gone);
                        }
                        self.events.push_back(Event::RelayFailed {
                            stream: Agent::stream_id(stream),
                            server,
                            error,
                        });
                        if settle {
                            self.relay_settled(stream);
                        }
                    }
                    _ => {}
                }
            }
        }
    }

    /// Fails the unfinished pairs from relayed address `base` to `ip`, whose
    /// permission the server refused, and stops their checks.
    fn fail_pairs_to(&mut self, now: Instant, stream: usize, base: SocketAddr, ip: IpAddr) {
        let Some(s) = self.streams.get_mut(stream) else {
            return;
        };
        let generation = s.generation;
        let mut failed = Vec::new();
        for (i, p) in s.list.pairs.iter_mut().enumerate() {
            let open = matches!(
                p.state,
                PairState::Frozen | PairState::Waiting | PairState::InProgress
            );
            if open && p.base == base && p.remote_addr.ip() == ip {
                p.state = PairState::Failed;
                failed.push(i);
            }
        }
        if failed.is_empty() {
            return;
        }
        s.list.triggered.retain(|i| !failed.contains(i));
        self.checks.cancel(now, |k| {
            k.stream == stream && k.generation == generation && failed.contains(&k.pair)
        });
    }

    /// Permissions for the peers of pairs on relayed candidates (as pairs
    /// form), and a channel for a selected pair on one.
    pub(super) fn maintain_relays(&mut self, now: Instant) {
        let mut refused = Vec::new();
        for r in &mut self.relays {
            let Some(relayed) = r.relayed else { continue };
            let Some(s) = self.streams.get(r.stream) else {
                continue;
            };
            for p in s.list.pairs.iter().filter(|p| p.base == relayed) {
                let ip = p.remote_addr.ip();
                if r.refused.contains(&ip) {
                    if p.state != PairState::Failed && p.state != PairState::Succeeded {
                        refused.push((r.stream, relayed, ip));
                    }
                } else if r.permitted.insert(ip) {
                    let _ = r.client.create_permission(now, ip);
                }
            }
            let selected = s
                .component(r.component)
                .and_then(|c| c.selected.as_ref())
                .filter(|sel| sel.base == relayed)
                .map(|sel| sel.remote_addr);
            if let Some(peer) = selected {
                if r.channel != Some(peer) && r.client.bind_channel(now, peer).is_ok() {
                    r.channel = Some(peer);
                }
            }
        }
        refused.dedup();
        for (stream, base, ip) in refused {
            self.fail_pairs_to(now, stream, base, ip);
        }
    }

    /// Sends `t` through the allocation whose relayed address it leaves
    /// from. `None` if it was taken (sent, queued or, from a retired
    /// address, dropped); the transmit back if it is not relayed.
    pub(super) fn relay_output(
        &mut self,
        now: Instant,
        t: stun_proto::Transmit,
    ) -> Option<stun_proto::Transmit> {
        for r in &mut self.relays {
            if r.relayed == Some(t.from) {
                let _ = r.client.send_to(now, t.to, &t.data);
                return None;
            }
            if r.retired.contains(&t.from) {
                return None;
            }
        }
        Some(t)
    }

    /// The next datagram a client wants sent to its server.
    pub(super) fn relay_transmit(&mut self) -> Option<stun_proto::Transmit> {
        self.relays
            .iter_mut()
            .find_map(|r| r.client.poll_transmit())
    }

    /// Releases every allocation.
    pub(super) fn close_relays(&mut self, now: Instant) {
        for r in &mut self.relays {
            r.client.close(now);
        }
    }
}
