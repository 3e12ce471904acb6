//! The one place `icectl` reads the clock and draws seeds. The sans-IO
//! crates take `now` and a seed as parameters (DESIGN.md); the command line
//! is the edge of the stack where they come from.

use std::time::Instant;

/// The monotonic clock, through tokio (so that tests with paused time
/// see the same time as the timers).
pub fn now() -> Instant {
    tokio::time::Instant::now().into_std()
}

/// A seed for an agent's credentials and tie-breaker: the wall clock's
/// nanoseconds and the process id. The agent only needs seeds that differ
/// between runs and between peers; its credentials' secrecy comes from
/// the signalling channel, as in any ICE deployment.
#[allow(clippy::disallowed_methods)]
pub fn seed() -> u64 {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(0);
    nanos ^ (u64::from(std::process::id()) << 32)
}

/// Milliseconds from `start` to `t`, to a tenth (for timelines).
pub fn ms(start: Instant, t: Instant) -> f64 {
    let ms = t.saturating_duration_since(start).as_secs_f64() * 1000.0;
    (ms * 10.0).round() / 10.0
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn ms_rounds_to_a_tenth_and_never_goes_negative() {
        let t0 = now();
        assert_eq!(ms(t0, t0 + Duration::from_micros(12_345)), 12.3);
        assert_eq!(ms(t0 + Duration::from_secs(1), t0), 0.0);
    }
}
