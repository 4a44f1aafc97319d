//! The global kept-traces/s limit: a token bucket on the stage's clock holding at most one
//! second's worth of tokens (at least one). Tokens are counted in billionths, so refills of
//! whole nanoseconds at a rate with few fractional digits add up exactly.

use crate::sampling::clock::Nanos;

const ONE: f64 = 1e9;

/// A token bucket.
pub(crate) struct Limiter {
    per_sec: f64,
    burst: f64,
    /// Billionths of a token.
    tokens: f64,
    last: Option<Nanos>,
}

impl Limiter {
    pub(crate) fn new(per_sec: f64) -> Self {
        let burst = per_sec.max(1.0) * ONE;
        Limiter {
            per_sec,
            burst,
            tokens: burst,
            last: None,
        }
    }

    /// Takes a token if one is left.
    pub(crate) fn admit(&mut self, now: Nanos) -> bool {
        if let Some(last) = self.last {
            let elapsed = now.saturating_sub(last) as f64;
            self.tokens = elapsed.mul_add(self.per_sec, self.tokens).min(self.burst);
        }
        self.last = Some(now.max(self.last.unwrap_or(0)));
        if self.tokens >= ONE {
            self.tokens -= ONE;
            true
        } else {
            false
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: u64 = 1_000_000;

    #[test]
    fn admits_the_rate_with_one_second_of_burst() {
        let mut l = Limiter::new(10.0);
        let admitted = (0..100).filter(|_| l.admit(0)).count();
        assert_eq!(admitted, 10);
        // 100 ms later one more token.
        assert!(l.admit(100 * MS));
        assert!(!l.admit(100 * MS));
        // Over 10 s, 10/s: 100 more, never more than the burst at once.
        let mut n = 0;
        for i in 1..=1000 {
            n += usize::from(l.admit(100 * MS + i * 10 * MS));
        }
        assert_eq!(n, 100);
        // A slow rate still admits one at a time.
        let mut slow = Limiter::new(0.5);
        assert!(slow.admit(0));
        assert!(!slow.admit(1000 * MS));
        assert!(slow.admit(2000 * MS));
    }
}
