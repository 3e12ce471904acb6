//! Link impairments: what a datagram suffers while it crosses one network.
//!
//! Every network of the simulator has one [`Link`] profile, applied to each
//! datagram that enters the network (from a host or from a middlebox), once
//! per hop. The profile models what ICE must survive on a real path:
//!
//! - latency plus uniform jitter (RFC 8445 §14 sizes its pacing and
//!   retransmission timers against such delays);
//! - independent loss, duplication and reordering, the three failure modes of
//!   the best-effort datagram service UDP gets (RFC 768, RFC 8085 §3.3 on
//!   reordering and duplication);
//! - a maximum transmission unit: a datagram whose IP packet would exceed it
//!   is dropped, as on a path that does not fragment (RFC 8085 §3.2; IPv6
//!   routers never fragment, RFC 8200 §5, and 1280 is the IPv6 minimum).
//!
//! Every random draw comes from the simulator's one RNG, and a zero
//! probability or zero jitter draws nothing, so an ideal link leaves the
//! random stream to the rest of the run.

use std::time::Duration;

use rand_core::Rng;

use super::DropReason;

/// The impairments of one network, applied to every datagram entering it.
///
/// Build it with struct update syntax:
/// `Link { latency: Duration::from_millis(20), loss: 0.01, ..Link::default() }`.
#[derive(Clone, Debug, PartialEq)]
pub struct Link {
    /// Fixed one-way delay.
    pub latency: Duration,
    /// Extra delay drawn uniformly from `0..=jitter` for each copy.
    pub jitter: Duration,
    /// Probability in `0.0..=1.0` that a datagram is lost.
    pub loss: f64,
    /// Probability that a datagram is delivered twice (each copy gets its
    /// own jitter).
    pub duplicate: f64,
    /// Probability that a copy is held back so that later datagrams overtake
    /// it: it gets an extra delay of [`Link::reorder_delay`].
    pub reorder: f64,
    /// Largest IP packet (IP header + 8-byte UDP header + payload) the
    /// network carries; larger ones are dropped with [`DropReason::Mtu`].
    pub mtu: usize,
}

/// The Ethernet MTU, the default of every network.
pub const DEFAULT_MTU: usize = 1500;

/// The smallest extra delay of a reordered datagram, so that reordering has
/// an effect on a link without latency.
pub const MIN_REORDER_DELAY: Duration = Duration::from_millis(1);

impl Default for Link {
    /// An ideal link: no delay, no loss, MTU 1500.
    fn default() -> Self {
        Link {
            latency: Duration::ZERO,
            jitter: Duration::ZERO,
            loss: 0.0,
            duplicate: 0.0,
            reorder: 0.0,
            mtu: DEFAULT_MTU,
        }
    }
}

/// One copy of a datagram that survived a link, and when it arrives.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Arrival {
    /// Delay from entering the network to arriving at the next hop.
    pub delay: Duration,
    /// Whether this copy was held back by reordering.
    pub reordered: bool,
}

impl Link {
    /// An ideal link with a fixed one-way `latency`.
    pub fn with_latency(latency: Duration) -> Link {
        Link {
            latency,
            ..Link::default()
        }
    }

    /// The extra delay of a reordered datagram: one more `latency`, at least
    /// [`MIN_REORDER_DELAY`].
    pub fn reorder_delay(&self) -> Duration {
        self.latency.max(MIN_REORDER_DELAY)
    }

    /// Decides the fate of one datagram whose IP packet is `ip_len` bytes:
    /// dropped (MTU first, then loss), or one or two copies with delays.
    ///
    /// Draw order (part of the determinism contract): loss, duplication, then
    /// for each copy jitter and reordering.
    pub(crate) fn transit<R: Rng + ?Sized>(
        &self,
        ip_len: usize,
        rng: &mut R,
    ) -> Result<Vec<Arrival>, DropReason> {
        if ip_len > self.mtu {
            return Err(DropReason::Mtu);
        }
        if chance(rng, self.loss) {
            return Err(DropReason::Loss);
        }
        let copies = if chance(rng, self.duplicate) { 2 } else { 1 };
        let mut out = Vec::with_capacity(copies);
        for _ in 0..copies {
            let mut delay = self.latency + uniform_duration(rng, self.jitter);
            let reordered = chance(rng, self.reorder);
            if reordered {
                delay += self.reorder_delay();
            }
            out.push(Arrival { delay, reordered });
        }
        Ok(out)
    }
}

/// True with probability `p`; draws nothing when `p` is 0 or 1 (or beyond).
pub(crate) fn chance<R: Rng + ?Sized>(rng: &mut R, p: f64) -> bool {
    if p <= 0.0 || p.is_nan() {
        false
    } else if p >= 1.0 {
        true
    } else {
        unit(rng) < p
    }
}

/// A uniform float in `[0, 1)` with 53 bits of precision.
fn unit<R: Rng + ?Sized>(rng: &mut R) -> f64 {
    const SCALE: f64 = 1.0 / (1u64 << 53) as f64;
    (rng.next_u64() >> 11) as f64 * SCALE
}

/// A uniform duration in `0..=max` at nanosecond resolution; draws nothing
/// when `max` is zero.
fn uniform_duration<R: Rng + ?Sized>(rng: &mut R, max: Duration) -> Duration {
    let max_ns = u64::try_from(max.as_nanos()).unwrap_or(u64::MAX);
    if max_ns == 0 {
        return Duration::ZERO;
    }
    let ns = match max_ns.checked_add(1) {
        Some(span) => rng.next_u64() % span,
        None => rng.next_u64(),
    };
    Duration::from_nanos(ns)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand_chacha::ChaCha8Rng;
    use rand_core::SeedableRng;

    #[test]
    fn ideal_link_draws_nothing() {
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        let mut twin = rng.clone();
        let copies = Link::default().transit(100, &mut rng).unwrap();
        assert_eq!(
            copies,
            vec![Arrival {
                delay: Duration::ZERO,
                reordered: false
            }]
        );
        assert_eq!(rng.next_u64(), twin.next_u64());
    }

    #[test]
    fn mtu_is_checked_before_loss() {
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        let link = Link {
            loss: 1.0,
            mtu: 1280,
            ..Link::default()
        };
        assert_eq!(link.transit(1281, &mut rng), Err(DropReason::Mtu));
        assert_eq!(link.transit(1280, &mut rng), Err(DropReason::Loss));
    }

    #[test]
    fn jitter_stays_in_bounds() {
        let mut rng = ChaCha8Rng::seed_from_u64(2);
        let link = Link {
            latency: Duration::from_millis(10),
            jitter: Duration::from_millis(5),
            ..Link::default()
        };
        for _ in 0..1000 {
            let c = link.transit(100, &mut rng).unwrap();
            assert!(c[0].delay >= Duration::from_millis(10));
            assert!(c[0].delay <= Duration::from_millis(15));
        }
    }

    #[test]
    fn reorder_without_latency_still_delays() {
        let mut rng = ChaCha8Rng::seed_from_u64(3);
        let link = Link {
            reorder: 1.0,
            ..Link::default()
        };
        let c = link.transit(100, &mut rng).unwrap();
        assert_eq!(c[0].delay, MIN_REORDER_DELAY);
        assert!(c[0].reordered);
    }
}
