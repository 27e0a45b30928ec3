//! When to try again after a failure: exponential, capped, with jitter so that many servers
//! failing together (the network came back) do not retry in lockstep.

use std::time::Duration;

use rand::Rng;

#[derive(Debug, Clone, Copy)]
pub struct Backoff {
    pub base: Duration,
    pub cap: Duration,
}

impl Default for Backoff {
    fn default() -> Self {
        Backoff {
            base: Duration::from_millis(500),
            cap: Duration::from_secs(60),
        }
    }
}

impl Backoff {
    /// Delay before attempt number `failures` (1 = after the first failure).
    pub fn delay(&self, failures: u32) -> Duration {
        let exp = self
            .base
            .saturating_mul(1u32 << failures.saturating_sub(1).min(16));
        let full = exp.min(self.cap);
        // "Equal jitter": at least half the delay, so retries never bunch at zero.
        let half = full / 2;
        half + half.mul_f64(rand::rng().random::<f64>())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grows_then_caps_and_stays_within_bounds() {
        let b = Backoff {
            base: Duration::from_millis(100),
            cap: Duration::from_secs(2),
        };
        for n in 1..40 {
            let full = (Duration::from_millis(100) * 2u32.pow((n - 1).min(16)))
                .min(Duration::from_secs(2));
            let d = b.delay(n);
            assert!(
                d >= full / 2 && d <= full,
                "attempt {n}: {d:?} not in [{:?}, {full:?}]",
                full / 2
            );
        }
    }
}
