//! The dynamic per-key sampler: a target of kept traces per second shared among keys so that
//! rare keys are kept at a higher rate than frequent ones.
//!
//! Every `adjust_every` (on the stage's clock) the sampler smooths each key's trace count, scaled
//! to one interval, with an exponential moving average (weight ½ per interval elapsed) and
//! shares the interval's goal — `target_per_sec × interval` traces — by max-min fairness: keys
//! whose count fits under an equal share are kept whole (rate 1), and the rest split what
//! remains equally. A key's sample rate is `count / share` (at least 1); its traces are kept with
//! probability `1 / rate`. A key seen for the first time is kept at rate 1 until the next
//! adjustment; so that a start (or a burst) does not keep everything for a whole interval, the
//! sampler adjusts early once twice the goal has arrived and a tenth of the interval has passed.
//! Keys idle for a whole interval decay and are forgotten once their average falls below one
//! trace; at most `max_keys` keys are tracked, further keys share one overflow key.

use std::collections::HashMap;
use std::collections::hash_map::RandomState;

use crate::sampling::clock::Nanos;
use crate::sampling::config::Dynamic;

const OVERFLOW_KEY: &str = "\u{0}overflow";

struct KeyState {
    count: u64,
    ema: f64,
    rate: f64,
}

/// The sampler's state.
pub(crate) struct DynamicSampler {
    cfg: Dynamic,
    interval_ns: u64,
    keys: HashMap<Box<str>, KeyState, RandomState>,
    /// Start of the current interval.
    since: Option<Nanos>,
    /// Traces counted in it.
    total: u64,
}

impl DynamicSampler {
    pub(crate) fn new(cfg: Dynamic) -> Self {
        DynamicSampler {
            interval_ns: u64::try_from(cfg.adjust_every.as_nanos())
                .unwrap_or(u64::MAX)
                .max(1),
            cfg,
            keys: HashMap::default(),
            since: None,
            total: 0,
        }
    }

    /// Counts a trace of `key` and returns the probability of keeping it.
    pub(crate) fn probability(&mut self, key: &str, now: Nanos) -> f64 {
        let since = *self.since.get_or_insert(now);
        let elapsed = now.saturating_sub(since);
        let goal = self.goal();
        let early = self.total as f64 >= 2.0 * goal && elapsed >= self.interval_ns / 10;
        if elapsed > 0 && (elapsed >= self.interval_ns || early) {
            // Counts over a longer stretch (idle intervals) or a shorter one (early) are scaled
            // to one interval.
            self.adjust(elapsed as f64 / self.interval_ns as f64);
            self.since = Some(now);
            self.total = 0;
        }
        self.total += 1;
        // The overflow key takes the last of the `max_keys` places.
        let key = if self.keys.contains_key(key) || self.keys.len() + 1 < self.cfg.max_keys.max(2) {
            key
        } else {
            OVERFLOW_KEY
        };
        let state = match self.keys.get_mut(key) {
            Some(s) => s,
            None => self.keys.entry(Box::from(key)).or_insert(KeyState {
                count: 0,
                ema: f64::NAN,
                rate: 1.0,
            }),
        };
        state.count += 1;
        1.0 / state.rate
    }

    /// The sample rate of `key` (1 for unknown keys).
    #[cfg(test)]
    pub(crate) fn rate(&self, key: &str) -> f64 {
        self.keys.get(key).map_or(1.0, |s| s.rate)
    }

    /// Keys tracked.
    #[cfg(test)]
    pub(crate) fn keys(&self) -> usize {
        self.keys.len()
    }

    /// Traces to keep per interval.
    fn goal(&self) -> f64 {
        self.cfg.target_per_sec * self.interval_ns as f64 / 1e9
    }

    /// Folds in the counts of the `intervals` (a fraction or a multiple of one) just ended.
    fn adjust(&mut self, intervals: f64) {
        // Half the weight per interval goes to the newest: an average over a tenth of an
        // interval moves a little, one over ten intervals replaces the history.
        let keep = 0.5f64.powf(intervals);
        for s in self.keys.values_mut() {
            let c = s.count as f64 / intervals;
            s.ema = if s.ema.is_nan() {
                c
            } else {
                keep.mul_add(s.ema, (1.0 - keep) * c)
            };
            s.count = 0;
        }
        self.keys.retain(|_, s| s.ema >= 0.5);
        let goal = self.goal();
        let mut emas: Vec<f64> = self.keys.values().map(|s| s.ema).collect();
        emas.sort_by(f64::total_cmp);
        let share = fair_share(&emas, goal);
        for s in self.keys.values_mut() {
            s.rate = (s.ema / share).max(1.0);
        }
    }
}

/// The per-key share λ for which `Σ min(count, λ) = goal` (infinite when everything fits).
/// `sorted` is ascending.
fn fair_share(sorted: &[f64], goal: f64) -> f64 {
    let mut remaining = goal;
    for (i, &c) in sorted.iter().enumerate() {
        let keys_left = (sorted.len() - i) as f64;
        if c * keys_left > remaining {
            return (remaining / keys_left).max(f64::MIN_POSITIVE);
        }
        remaining -= c;
    }
    f64::INFINITY
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::sampling::config::KeyPart;

    const SEC: u64 = 1_000_000_000;

    fn sampler(target: f64, max_keys: usize) -> DynamicSampler {
        DynamicSampler::new(Dynamic {
            target_per_sec: target,
            key: vec![KeyPart::Operation],
            adjust_every: Duration::from_secs(10),
            max_keys,
        })
    }

    #[test]
    fn shares_are_max_min_fair() {
        assert_eq!(fair_share(&[1.0, 2.0], 10.0), f64::INFINITY);
        // 2 fits under an equal share; 3 and the two big keys split the remaining 8.
        assert_eq!(fair_share(&[2.0, 3.0, 100.0, 1000.0], 10.0), 8.0 / 3.0);
        assert_eq!(fair_share(&[50.0, 50.0], 10.0), 5.0);
    }

    #[test]
    fn rare_keys_are_kept_whole_and_frequent_keys_meet_the_target() {
        // Target 1 trace/s over 10 s intervals: 10 traces per interval.
        let mut s = sampler(1.0, 100);
        // First interval: everything at rate 1.
        for _ in 0..1000 {
            assert_eq!(s.probability("busy", 0), 1.0);
        }
        for _ in 0..4 {
            s.probability("rare", 0);
        }
        // The next trace, after the interval, triggers the adjustment.
        s.probability("rare", 10 * SEC);
        // rare (4) fits; busy gets the remaining 6 of its 1000: rate 1000/6.
        assert_eq!(s.rate("rare"), 1.0);
        assert!(
            (s.rate("busy") - 1000.0 / 6.0).abs() < 1e-9,
            "{}",
            s.rate("busy")
        );
        // Expected kept per interval at these rates: 4 + 1000 × 6/1000 = 10 = the goal.
        assert_eq!(s.probability("busy", 10 * SEC), 6.0 / 1000.0);
    }

    #[test]
    fn a_start_under_heavy_traffic_adjusts_early_and_scales_counts() {
        // Target 1/s, 10 s intervals: a goal of 10 traces per interval.
        let mut s = sampler(1.0, 100);
        // 1,000 traces in the first second: twice the goal arrived, but not yet a tenth of the
        // interval.
        for _ in 0..1000 {
            assert_eq!(s.probability("busy", 0), 1.0);
        }
        // At 1 s the sampler adjusts: 1,000 per second is 10,000 per interval, rate 1,000.
        let p = s.probability("busy", SEC);
        assert!((p - 1.0 / 1000.0).abs() < 1e-12, "{p}");
        // A long idle stretch counts as such: 1 trace over 100 s is 0.1 per interval.
        s.probability("busy", 101 * SEC);
        assert_eq!(s.rate("busy"), 1.0);
    }

    #[test]
    fn idle_keys_decay_and_key_count_is_bounded() {
        let mut s = sampler(1.0, 2);
        s.probability("a", 0);
        // Past the limit, new keys share the overflow key.
        for _ in 0..30 {
            s.probability("b", 0);
            s.probability("c", 0);
        }
        assert_eq!(s.keys(), 2);
        // Adjust: a = 1 fits, the overflow key (60) gets the other 9 of the goal of 10.
        s.probability("a", 10 * SEC);
        assert!((s.rate(OVERFLOW_KEY) - 60.0 / 9.0).abs() < 1e-9);
        assert_eq!(s.rate("b"), 1.0);
        // The overflow key is idle from now on: 60 → 30 → 15 → ... → below 0.5 after 7
        // intervals, then forgotten, while `a` stays.
        for i in 0..8 {
            s.probability("a", (20 + 10 * i) * SEC);
        }
        assert_eq!(s.keys(), 1);
        assert_eq!(s.rate(OVERFLOW_KEY), 1.0);
    }
}
