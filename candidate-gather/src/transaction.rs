//! STUN client transactions over UDP (RFC 8489 §6.2.1, §6.3.3).
//!
//! A request is retransmitted after RTO, then at doubling intervals, until
//! Rc requests have been sent; if no response arrives within Rm × RTO after
//! the last one, the transaction fails. With the defaults (RTO 500 ms,
//! Rc 7, Rm 16) requests leave at 0, 0.5, 1.5, 3.5, 7.5, 15.5 and 31.5 s and
//! the transaction fails at 39.5 s.
//!
//! [`RetransmitConfig::max_interval`] optionally caps the doubling (an ICE
//! agent uses it for connectivity checks, whose rate its pacing bounds; see
//! `RetransmitConfig::steady`), and [`Transactions::start_with`] gives one
//! transaction its own parameters (RFC 8445 §14.3 scales each check's RTO
//! with the number of checks under way).
//!
//! A response is accepted only if its transaction id is one of ours, it
//! arrives on the socket the request left from, and it comes from the
//! address the caller said the answer must come from (RFC 8489 §6.3.3 and
//! RFC 5780 §4, whose CHANGE-REQUEST answers come from the server's other
//! address). Anything else is reported as ignored and changes nothing.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use stun_proto::{Message, TransactionId, Transmit};

/// Retransmission parameters (RFC 8489 §6.2.1).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RetransmitConfig {
    /// The initial retransmission timeout; RFC 8489 recommends 500 ms.
    pub rto: Duration,
    /// Requests sent in all (Rc); RFC 8489 default 7.
    pub rc: u32,
    /// The wait after the last request, in multiples of RTO (Rm); default 16.
    pub rm: u32,
    /// The longest interval between two requests. RFC 8489 doubles without
    /// bound (`Duration::MAX`, the default).
    pub max_interval: Duration,
}

impl Default for RetransmitConfig {
    fn default() -> Self {
        RetransmitConfig {
            rto: Duration::from_millis(500),
            rc: 7,
            rm: 16,
            max_interval: Duration::MAX,
        }
    }
}

impl RetransmitConfig {
    /// Requests every RTO, for as long as the RFC 8489 defaults with this
    /// RTO last (79 × RTO: 39.5 s at 500 ms): 64 requests instead of 7.
    /// For requests whose rate something else bounds, such as ICE checks
    /// (RFC 8445 §14.3 stretches their RTO with the number under way).
    pub fn steady(rto: Duration) -> Self {
        RetransmitConfig {
            rto,
            rc: 64,
            rm: 16,
            max_interval: rto,
        }
    }

    /// The same schedule stretched so that its RTO is `rto`.
    pub fn with_rto(self, rto: Duration) -> Self {
        let max_interval = if self.max_interval == Duration::MAX || self.rto.is_zero() {
            self.max_interval
        } else {
            self.max_interval
                .mul_f64(rto.as_secs_f64() / self.rto.as_secs_f64())
        };
        RetransmitConfig {
            rto,
            max_interval,
            ..self
        }
    }

    /// The interval after `interval`: doubled, at most `max_interval`.
    fn next_interval(&self, interval: Duration) -> Duration {
        interval.saturating_mul(2).min(self.max_interval)
    }

    /// How long a transaction lasts when nothing answers.
    pub fn timeout(&self) -> Duration {
        // The intervals before the last request, then Rm × RTO.
        let mut total = Duration::ZERO;
        let mut interval = self.rto.min(self.max_interval);
        for _ in 1..self.rc.clamp(1, 1000) {
            total = total.saturating_add(interval);
            interval = self.next_interval(interval);
        }
        total.saturating_add(self.rto.saturating_mul(self.rm))
    }
}

/// Where a response must come from and arrive.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Expect {
    /// The address the answer must come from; `None` accepts any source,
    /// which is only right for a request sent to ourselves (the hairpinning
    /// test), where the transaction id is the evidence.
    pub source: Option<SocketAddr>,
    /// The local socket the answer must arrive on (usually the one the
    /// request left from; RESPONSE-PORT and hairpinning use another).
    pub socket: SocketAddr,
}

impl Expect {
    /// The usual case: the answer comes from where the request went and
    /// arrives where it left.
    pub fn reply(from: SocketAddr, to: SocketAddr) -> Self {
        Expect {
            source: Some(to),
            socket: from,
        }
    }
}

/// Why a packet was not taken as a response.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Ignored {
    /// No transaction of ours has this id (or it already finished).
    UnknownTransaction,
    /// Right id, but it arrived on another socket or from another address.
    WrongPath,
    /// Not a well-formed STUN answer (framing, FINGERPRINT, or an attribute
    /// value that does not decode).
    Malformed,
}

struct Entry<K> {
    key: K,
    id: TransactionId,
    from: SocketAddr,
    to: SocketAddr,
    expect: Expect,
    request: Vec<u8>,
    sent: u32,
    next: Instant,
    interval: Duration,
    deadline: Instant,
    config: RetransmitConfig,
    /// Cancelled: no more retransmissions, and running out is not a
    /// failure; an answer is still taken until the deadline.
    cancelled: bool,
}

/// A finished transaction.
#[derive(Debug, PartialEq, Eq)]
pub enum Finished<K> {
    /// A response matched; `transmissions` requests had been sent.
    Answered {
        /// The caller's key.
        key: K,
        /// Requests sent before the answer arrived.
        transmissions: u32,
    },
    /// Rc requests went unanswered for Rm × RTO after the last.
    TimedOut {
        /// The caller's key.
        key: K,
        /// Requests sent.
        transmissions: u32,
    },
}

/// The client transactions of one component.
pub struct Transactions<K> {
    config: RetransmitConfig,
    entries: Vec<Entry<K>>,
    out: VecDeque<Transmit>,
}

impl<K: Copy + PartialEq> Transactions<K> {
    /// An empty table.
    pub fn new(config: RetransmitConfig) -> Self {
        Transactions {
            config,
            entries: Vec::new(),
            out: VecDeque::new(),
        }
    }

    /// The retransmission parameters.
    pub fn config(&self) -> RetransmitConfig {
        self.config
    }

    /// Starts a transaction: the request goes out now.
    #[allow(clippy::too_many_arguments)]
    pub fn start(
        &mut self,
        now: Instant,
        key: K,
        id: TransactionId,
        from: SocketAddr,
        to: SocketAddr,
        expect: Expect,
        request: Vec<u8>,
    ) {
        let config = self.config;
        self.start_with(now, key, id, from, to, expect, request, config);
    }

    /// Starts a transaction with its own retransmission parameters.
    #[allow(clippy::too_many_arguments)]
    pub fn start_with(
        &mut self,
        now: Instant,
        key: K,
        id: TransactionId,
        from: SocketAddr,
        to: SocketAddr,
        expect: Expect,
        request: Vec<u8>,
        config: RetransmitConfig,
    ) {
        self.out.push_back(Transmit {
            from,
            to,
            data: request.clone(),
        });
        let rc = config.rc.max(1);
        let deadline = if rc == 1 {
            now + config.rto * config.rm
        } else {
            now
        };
        let interval = config.rto.min(config.max_interval);
        self.entries.push(Entry {
            key,
            id,
            from,
            to,
            expect,
            request,
            sent: 1,
            next: now + interval,
            interval,
            deadline,
            config,
            cancelled: false,
        });
    }

    /// Cancels the running transactions whose key matches, as RFC 8445
    /// §7.3.1.4 cancels an in-progress check: they are not retransmitted
    /// and their running out is no failure, but an answer is still taken
    /// for the transaction timeout from now. Returns how many there were.
    pub fn cancel(&mut self, now: Instant, mut matches: impl FnMut(&K) -> bool) -> usize {
        let mut n = 0;
        for e in self.entries.iter_mut().filter(|e| !e.cancelled) {
            if matches(&e.key) {
                e.cancelled = true;
                e.deadline = now + e.config.timeout();
                n += 1;
            }
        }
        n
    }

    /// The key of the running transaction with this id.
    pub fn key_of(&self, id: TransactionId) -> Option<K> {
        self.entries.iter().find(|e| e.id == id).map(|e| e.key)
    }

    /// Whether a transaction with this key is running.
    pub fn is_running(&self, key: K) -> bool {
        self.entries.iter().any(|e| e.key == key)
    }

    /// Takes a response (or, for the hairpinning test, our own request
    /// coming back) and finishes its transaction.
    pub fn handle_response(
        &mut self,
        local: SocketAddr,
        remote: SocketAddr,
        msg: &Message<'_>,
    ) -> Result<Finished<K>, Ignored> {
        let id = msg.transaction_id();
        let i = self
            .entries
            .iter()
            .position(|e| e.id == id)
            .ok_or(Ignored::UnknownTransaction)?;
        let e = self.entries.get(i).ok_or(Ignored::UnknownTransaction)?;
        let source_ok = e.expect.source.is_none_or(|s| s == remote);
        let arrived_on = e.expect.socket == local;
        if !source_ok || !arrived_on {
            return Err(Ignored::WrongPath);
        }
        let e = self.entries.swap_remove(i);
        Ok(Finished::Answered {
            key: e.key,
            transmissions: e.sent,
        })
    }

    /// Retransmits what is due and fails what has run out.
    pub fn handle_timeout(&mut self, now: Instant) -> Vec<Finished<K>> {
        let mut finished = Vec::new();
        let out = &mut self.out;
        self.entries.retain_mut(|e| {
            if e.cancelled {
                return now < e.deadline;
            }
            let rc = e.config.rc.max(1);
            if e.sent >= rc {
                if now >= e.deadline {
                    finished.push(Finished::TimedOut {
                        key: e.key,
                        transmissions: e.sent,
                    });
                    return false;
                }
                return true;
            }
            if now >= e.next {
                out.push_back(Transmit {
                    from: e.from,
                    to: e.to,
                    data: e.request.clone(),
                });
                e.sent += 1;
                e.interval = e.config.next_interval(e.interval);
                e.next = now + e.interval;
                if e.sent >= rc {
                    e.deadline = now + e.config.rto * e.config.rm;
                }
            }
            true
        });
        finished
    }

    /// The next datagram to send.
    pub fn poll_transmit(&mut self) -> Option<Transmit> {
        self.out.pop_front()
    }

    /// When [`Transactions::handle_timeout`] must next be called.
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.entries
            .iter()
            .map(|e| {
                if e.sent >= e.config.rc.max(1) || e.cancelled {
                    e.deadline
                } else {
                    e.next
                }
            })
            .min()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn addr(s: &str) -> SocketAddr {
        s.parse().unwrap()
    }

    #[test]
    fn rfc8489_schedule_and_timeout() {
        let config = RetransmitConfig::default();
        assert_eq!(config.timeout(), Duration::from_millis(39_500));
        // Any instant will do: only differences from it are looked at.
        #[allow(clippy::disallowed_methods)]
        let t0 = Instant::now();
        let mut t = Transactions::new(config);
        let id = TransactionId::Rfc5389([1; 12]);
        t.start(
            t0,
            7u8,
            id,
            addr("10.0.0.1:1"),
            addr("10.0.0.2:2"),
            Expect::reply(addr("10.0.0.1:1"), addr("10.0.0.2:2")),
            vec![1],
        );
        let mut sends = vec![];
        let mut now = t0;
        let mut done = None;
        while let Some(next) = t.poll_timeout() {
            while t.poll_transmit().is_some() {
                sends.push(now - t0);
            }
            now = next;
            let f = t.handle_timeout(now);
            if let Some(f) = f.into_iter().next() {
                done = Some((now - t0, f));
            }
        }
        while t.poll_transmit().is_some() {
            sends.push(now - t0);
        }
        let ms: Vec<u128> = sends.iter().map(|d| d.as_millis()).collect();
        assert_eq!(ms, [0, 500, 1500, 3500, 7500, 15500, 31500]);
        assert_eq!(
            done,
            Some((
                Duration::from_millis(39_500),
                Finished::TimedOut {
                    key: 7,
                    transmissions: 7
                }
            ))
        );
    }

    #[test]
    fn a_cancelled_transaction_stops_retransmitting_and_never_fails_but_still_takes_its_answer() {
        let config = RetransmitConfig::default();
        #[allow(clippy::disallowed_methods)]
        let t0 = Instant::now();
        let mut t = Transactions::new(config);
        let (a, b) = (addr("10.0.0.1:1"), addr("10.0.0.2:2"));
        let id = TransactionId::Rfc5389([2; 12]);
        t.start(t0, 1u8, id, a, b, Expect::reply(a, b), vec![1]);
        t.start(
            t0,
            2u8,
            TransactionId::Rfc5389([3; 12]),
            a,
            b,
            Expect::reply(a, b),
            vec![2],
        );
        while t.poll_transmit().is_some() {}
        assert_eq!(t.cancel(t0, |k| *k == 1), 1);
        assert_eq!(t.cancel(t0, |k| *k == 1), 0, "already cancelled");
        let mut sent = Vec::new();
        let mut finished = Vec::new();
        let mut now = t0;
        let mut awaited_at_30s = None;
        while now <= t0 + config.timeout() + Duration::from_millis(100) {
            now += Duration::from_millis(100);
            finished.extend(t.handle_timeout(now));
            while let Some(x) = t.poll_transmit() {
                sent.push(x.data);
            }
            if now == t0 + Duration::from_secs(30) {
                awaited_at_30s = t.key_of(id);
            }
        }
        assert_eq!(sent, vec![vec![2]; 6], "only the other one retransmits");
        assert_eq!(awaited_at_30s, Some(1), "the answer is still awaited");
        // Only the other one fails; the cancelled one is gone, silently.
        assert_eq!(
            finished,
            vec![Finished::TimedOut {
                key: 2,
                transmissions: 7
            }]
        );
        assert_eq!(t.key_of(id), None);
    }

    #[test]
    fn a_steady_schedule_lasts_as_long_as_rfc8489_with_a_request_every_rto() {
        let rto = Duration::from_millis(500);
        let config = RetransmitConfig::steady(rto);
        assert_eq!(config.timeout(), RetransmitConfig::default().timeout());
        let scaled = config.with_rto(Duration::from_secs(1));
        assert_eq!(scaled.max_interval, Duration::from_secs(1));
        assert_eq!(scaled.timeout(), Duration::from_secs(79));
        #[allow(clippy::disallowed_methods)]
        let t0 = Instant::now();
        let mut t = Transactions::new(RetransmitConfig::default());
        let (a, b) = (addr("10.0.0.1:1"), addr("10.0.0.2:2"));
        t.start_with(
            t0,
            1u8,
            TransactionId::Rfc5389([4; 12]),
            a,
            b,
            Expect::reply(a, b),
            vec![1],
            config,
        );
        let mut sends = vec![];
        let mut now = t0;
        let mut done = None;
        while let Some(next) = t.poll_timeout() {
            while t.poll_transmit().is_some() {
                sends.push((now - t0).as_millis());
            }
            now = next;
            if let Some(f) = t.handle_timeout(now).into_iter().next() {
                done = Some((now - t0, f));
            }
        }
        let expected: Vec<u128> = (0..64).map(|i| 500 * i).collect();
        assert_eq!(sends, expected);
        assert_eq!(
            done,
            Some((
                Duration::from_millis(39_500),
                Finished::TimedOut {
                    key: 1,
                    transmissions: 64
                }
            ))
        );
    }
}
