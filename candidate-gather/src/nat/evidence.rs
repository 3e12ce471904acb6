//! How much an unanswered request proves.
//!
//! Every request whose answer was expected (a plain Binding request, a
//! mapping test, the control requests sent beside each negative test)
//! counts: `sent` requests, `answered` of them answered. A test whose answer
//! may legitimately never come (filtering, hairpinning, lifetime) is
//! believed unanswered only when the chance that all its `n` requests were
//! lost on a path that works is at most [`Evidence::DOUBT`].
//!
//! That chance is computed without guessing the loss rate: with a uniform
//! prior on the per-request success probability `p`, the `a` answered and
//! `f` unanswered requests give the posterior Beta(a + 1, f + 1), and the
//! probability that `n` more requests all fail is its predictive
//! `E[(1 - p)^n] = Π_{i<n} (f + 1 + i) / (a + f + 2 + i)`. Few samples keep
//! it large (a path that answered 11 of 11 cannot yet rule out loss for 7
//! unanswered requests: 2e-5), so negative tests run beside several
//! control requests per request of their own.

/// Answered and unanswered requests seen on working paths.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct Evidence {
    sent: u32,
    answered: u32,
}

impl Evidence {
    /// The largest chance of mistaking loss for a missing answer that is
    /// accepted.
    pub(crate) const DOUBT: f64 = 1e-6;

    /// A transaction that was answered after `transmissions` requests.
    pub(crate) fn answered(&mut self, transmissions: u32) {
        self.sent = self.sent.saturating_add(transmissions);
        self.answered = self.answered.saturating_add(1);
    }

    /// A transaction whose answer was expected but never came.
    pub(crate) fn unanswered(&mut self, transmissions: u32) {
        self.sent = self.sent.saturating_add(transmissions);
    }

    /// The observed share of requests without an answer (for reports).
    pub(crate) fn loss(&self) -> f64 {
        if self.sent == 0 {
            return 0.0;
        }
        1.0 - f64::from(self.answered) / f64::from(self.sent)
    }

    /// The posterior predictive probability that `n` more requests all go
    /// unanswered on a path that works.
    pub(crate) fn chance_all_lost(&self, n: u32) -> f64 {
        let a = f64::from(self.answered);
        let f = f64::from(self.sent.saturating_sub(self.answered));
        let mut chance = 1.0;
        for i in 0..n {
            let i = f64::from(i);
            chance *= (f + 1.0 + i) / (a + f + 2.0 + i);
            if chance <= Self::DOUBT * 1e-3 {
                break;
            }
        }
        chance
    }

    /// Whether `unanswered` requests without an answer are beyond plausible
    /// loss.
    pub(crate) fn absence_is_real(&self, unanswered: u32) -> bool {
        self.chance_all_lost(unanswered) <= Self::DOUBT
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clean_paths_need_one_transaction_lossy_ones_more() {
        // 11 of 11 answered: 7 unanswered may still be loss (about 2e-5).
        let mut e = Evidence::default();
        (0..11).for_each(|_| e.answered(1));
        assert!((e.chance_all_lost(7) - 5040.0 / 253_955_520.0).abs() < 1e-12);
        assert!(!e.absence_is_real(7));
        // 26 of 26 (the controls of one negative transaction and a few
        // tests): 7 unanswered are convincing.
        (0..15).for_each(|_| e.answered(1));
        assert!(e.absence_is_real(7));
        // Half the requests lost: seven are not enough, thirty are.
        let mut lossy = Evidence::default();
        (0..40).for_each(|_| lossy.answered(2));
        assert!(!lossy.absence_is_real(7));
        assert!(lossy.absence_is_real(30));
        // Nothing known: nothing is convincing.
        assert!(!Evidence::default().absence_is_real(1000));
    }
}
