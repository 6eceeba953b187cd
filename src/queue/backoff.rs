//! Exponential backoff with full jitter (the AWS "Exponential Backoff and Jitter"
//! scheme): the n-th retry waits a uniformly random time in `[0, min(cap, base·2ⁿ⁻¹)]`,
//! which spreads a crowd of retries instead of synchronising it.

use std::time::Duration;

/// Retry delays: base 5 s and cap 10 min by default; tests use smaller ones.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Backoff {
    /// The ceiling of the first retry.
    pub base: Duration,
    /// No delay is ever longer.
    pub cap: Duration,
}

impl Default for Backoff {
    fn default() -> Backoff {
        Backoff {
            base: Duration::from_secs(5),
            cap: Duration::from_secs(600),
        }
    }
}

impl Backoff {
    /// The largest delay before retry number `retry` (1 for the first retry).
    pub fn ceiling(&self, retry: u32) -> Duration {
        let doublings = retry.saturating_sub(1).min(30);
        self.base.saturating_mul(1 << doublings).min(self.cap)
    }

    /// A random delay before retry number `retry`.
    pub fn delay(&self, retry: u32) -> Duration {
        let ceiling = u64::try_from(self.ceiling(retry).as_millis()).unwrap_or(u64::MAX);
        Duration::from_millis(rand::random_range(0..=ceiling))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ceilings_double_from_the_base_up_to_the_cap() {
        let backoff = Backoff::default();
        assert_eq!(backoff.ceiling(1), Duration::from_secs(5));
        assert_eq!(backoff.ceiling(2), Duration::from_secs(10));
        assert_eq!(backoff.ceiling(4), Duration::from_secs(40));
        assert_eq!(backoff.ceiling(8), Duration::from_secs(600));
        assert_eq!(backoff.ceiling(1000), Duration::from_secs(600));
    }

    #[test]
    fn delays_stay_under_their_ceiling_and_grow_on_average() {
        let backoff = Backoff {
            base: Duration::from_millis(100),
            cap: Duration::from_secs(60),
        };
        let mean = |retry| {
            let total: Duration = (0..2000).map(|_| backoff.delay(retry)).sum();
            total / 2000
        };
        for retry in 1..=5 {
            assert!((0..100).all(|_| backoff.delay(retry) <= backoff.ceiling(retry)));
        }
        assert!(mean(1) < mean(3) && mean(3) < mean(5));
    }
}
