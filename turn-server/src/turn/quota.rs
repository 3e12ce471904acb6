//! Limits: allocations per user and in total (RFC 8656 §7.2 item 10: 486
//! Allocation Quota Reached "based on the username"; 508 Insufficient
//! Capacity when the server as a whole is full), and a bandwidth cap per
//! allocation as a token bucket in the server's virtual time.

use std::collections::BTreeMap;
use std::time::Instant;

use super::config::Bandwidth;

/// Which limit a new allocation would break.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum QuotaExceeded {
    /// The user's (486).
    User,
    /// The server's (508).
    Total,
}

#[derive(Clone, Debug)]
pub(crate) struct Quotas {
    per_user: BTreeMap<String, usize>,
    total: usize,
    user_limit: usize,
    total_limit: usize,
}

impl Quotas {
    pub(crate) fn new(user_limit: usize, total_limit: usize) -> Quotas {
        Quotas {
            per_user: BTreeMap::new(),
            total: 0,
            user_limit,
            total_limit,
        }
    }

    /// Counts one more allocation (or pending one) for `user`.
    pub(crate) fn acquire(&mut self, user: &str) -> Result<(), QuotaExceeded> {
        let held = self.per_user.get(user).copied().unwrap_or(0);
        if held >= self.user_limit {
            return Err(QuotaExceeded::User);
        }
        if self.total >= self.total_limit {
            return Err(QuotaExceeded::Total);
        }
        self.per_user.insert(user.to_owned(), held + 1);
        self.total += 1;
        Ok(())
    }

    /// Returns one allocation of `user`.
    pub(crate) fn release(&mut self, user: &str) {
        if let Some(n) = self.per_user.get_mut(user) {
            *n = n.saturating_sub(1);
            if *n == 0 {
                self.per_user.remove(user);
            }
            self.total = self.total.saturating_sub(1);
        }
    }

    #[cfg(test)]
    pub(crate) fn total(&self) -> usize {
        self.total
    }
}

/// A token bucket: `burst` bytes, refilled at `bytes_per_second` as the
/// virtual clock advances.
#[derive(Clone, Copy, Debug)]
pub(crate) struct TokenBucket {
    cap: Bandwidth,
    tokens: u64,
    last: Instant,
}

impl TokenBucket {
    /// A full bucket.
    pub(crate) fn new(cap: Bandwidth, now: Instant) -> TokenBucket {
        TokenBucket {
            cap,
            tokens: cap.burst,
            last: now,
        }
    }

    /// Takes `n` bytes if the bucket holds them.
    pub(crate) fn take(&mut self, now: Instant, n: usize) -> bool {
        let elapsed = now.saturating_duration_since(self.last);
        let earned = u128::from(self.cap.bytes_per_second) * elapsed.as_nanos() / 1_000_000_000;
        if earned > 0 {
            let earned = u64::try_from(earned).unwrap_or(u64::MAX);
            self.tokens = self.tokens.saturating_add(earned).min(self.cap.burst);
            // Keep the remainder: advance `last` only by what was paid for.
            let spent_ns =
                u128::from(earned) * 1_000_000_000 / u128::from(self.cap.bytes_per_second.max(1));
            self.last +=
                core::time::Duration::from_nanos(u64::try_from(spent_ns).unwrap_or(u64::MAX));
            if self.tokens == self.cap.burst {
                self.last = now;
            }
        }
        let n = u64::try_from(n).unwrap_or(u64::MAX);
        if self.tokens >= n {
            self.tokens -= n;
            true
        } else {
            false
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use core::time::Duration;

    #[test]
    fn quotas_count_per_user_and_total() {
        let mut q = Quotas::new(2, 3);
        q.acquire("a").unwrap();
        q.acquire("a").unwrap();
        assert_eq!(q.acquire("a"), Err(QuotaExceeded::User));
        q.acquire("b").unwrap();
        assert_eq!(q.acquire("c"), Err(QuotaExceeded::Total));
        q.release("a");
        q.acquire("c").unwrap();
        q.release("nobody");
        assert_eq!(q.total(), 3);
    }

    #[test]
    fn bucket_refills_in_virtual_time() {
        #[allow(clippy::disallowed_methods)]
        let t0 = Instant::now();
        let cap = Bandwidth {
            bytes_per_second: 1000,
            burst: 1500,
        };
        let mut b = TokenBucket::new(cap, t0);
        assert!(b.take(t0, 1500));
        assert!(!b.take(t0, 1));
        assert!(!b.take(t0 + Duration::from_millis(99), 100));
        assert!(b.take(t0 + Duration::from_millis(100), 100));
        // 10 s idle fills only the burst.
        let later = t0 + Duration::from_secs(10);
        assert!(b.take(later, 1500));
        assert!(!b.take(later, 1));
        // Many small steps add up exactly.
        let mut t = later;
        let mut sent = 0;
        for _ in 0..1000 {
            t += Duration::from_millis(1);
            if b.take(t, 1) {
                sent += 1;
            }
        }
        assert_eq!(sent, 1000);
    }
}
