//! STUN client transactions over UDP (RFC 8489 §6.2.1, §6.3.3).
//!
//! A request is retransmitted after RTO, then at doubling intervals, until
//! Rc requests have been sent; if no response arrives within Rm × RTO after
//! the last one, the transaction fails. With the defaults (RTO 500 ms,
//! Rc 7, Rm 16) requests leave at 0, 0.5, 1.5, 3.5, 7.5, 15.5 and 31.5 s and
//! the transaction fails at 39.5 s.
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
}

impl Default for RetransmitConfig {
    fn default() -> Self {
        RetransmitConfig {
            rto: Duration::from_millis(500),
            rc: 7,
            rm: 16,
        }
    }
}

impl RetransmitConfig {
    /// How long a transaction lasts when nothing answers.
    pub fn timeout(&self) -> Duration {
        let doublings = self.rc.saturating_sub(1).min(20);
        // Sum of the intervals before the last request: RTO * (2^(Rc-1) - 1).
        let before_last = self
            .rto
            .saturating_mul((1u32 << doublings).saturating_sub(1));
        before_last.saturating_add(self.rto.saturating_mul(self.rm))
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
        self.out.push_back(Transmit {
            from,
            to,
            data: request.clone(),
        });
        let rc = self.config.rc.max(1);
        let deadline = if rc == 1 {
            now + self.config.rto * self.config.rm
        } else {
            now
        };
        self.entries.push(Entry {
            key,
            id,
            from,
            to,
            expect,
            request,
            sent: 1,
            next: now + self.config.rto,
            interval: self.config.rto,
            deadline,
        });
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
        let rc = self.config.rc.max(1);
        let rm = self.config.rm;
        let rto = self.config.rto;
        let out = &mut self.out;
        self.entries.retain_mut(|e| {
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
                e.interval = e.interval.saturating_mul(2);
                e.next = now + e.interval;
                if e.sent >= rc {
                    e.deadline = now + rto * rm;
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
        let rc = self.config.rc.max(1);
        self.entries
            .iter()
            .map(|e| if e.sent >= rc { e.deadline } else { e.next })
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
}
