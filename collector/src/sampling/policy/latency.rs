//! The adaptive latency policy: is this trace slower than the p-quantile of its root operation
//! over a recent window?
//!
//! Each root operation (service, span name) has a ring of five sub-windows, each a
//! [`LatencyHistogram`] (the histogram the collector's per-operation health uses), covering the
//! configured window on the stage's clock. The threshold is the quantile of the merged ring,
//! recomputed when the ring turns and after the count grows by a sixteenth (at most 64 new
//! traces), so a decision usually costs a map lookup. The histogram overestimates a quantile by less than 3.2%, so the threshold errs on
//! the side of keeping fewer traces. Until an operation has `min_samples` traces in the window
//! the policy abstains. At most `max_operations` operations are tracked; traces of further ones
//! are counted and abstain.

use std::collections::HashMap;
use std::collections::hash_map::RandomState;

use crate::analysis::LatencyHistogram;
use crate::sampling::clock::Nanos;
use crate::sampling::config::Adaptive;

const SLOTS: u64 = 5;
const RECOMPUTE_EVERY: u64 = 64;

#[derive(Default)]
struct Slot {
    epoch: u64,
    hist: LatencyHistogram,
}

#[derive(Default)]
struct OpWindow {
    slots: [Slot; SLOTS as usize],
    /// (epoch, records when computed, threshold, samples)
    cached: Option<(u64, u64, u64, u64)>,
    records: u64,
}

impl OpWindow {
    fn threshold(&mut self, epoch: u64, quantile: f64, min_samples: u64) -> (u64, u64) {
        // Recomputed when the ring turns, while under `min_samples`, and once the count has
        // grown by a sixteenth (at least one trace, at most 64).
        if let Some((e, at, t, n)) = self.cached
            && e == epoch
            && (n >= min_samples || self.records == at)
            && self.records < at + (n / 16).clamp(1, RECOMPUTE_EVERY)
        {
            return (t, n);
        }
        let mut merged = LatencyHistogram::new();
        for s in &self.slots {
            if s.hist.count() > 0 && s.epoch + SLOTS > epoch && s.epoch <= epoch {
                merged.merge(&s.hist);
            }
        }
        let (t, n) = (merged.percentile(quantile), merged.count());
        self.cached = Some((epoch, self.records, t, n));
        (t, n)
    }

    fn record(&mut self, epoch: u64, ns: u64) {
        let slot = &mut self.slots[(epoch % SLOTS) as usize];
        if slot.epoch != epoch {
            slot.epoch = epoch;
            slot.hist = LatencyHistogram::new();
        }
        slot.hist.record(ns);
        self.records += 1;
    }
}

/// Per-root-operation latency windows.
pub(crate) struct AdaptiveLatency {
    cfg: Adaptive,
    slot_ns: u64,
    ops: HashMap<Box<str>, HashMap<Box<str>, OpWindow, RandomState>, RandomState>,
    tracked: usize,
    pub(crate) over_limit: u64,
}

impl AdaptiveLatency {
    pub(crate) fn new(cfg: Adaptive) -> Self {
        let window = u64::try_from(cfg.window.as_nanos()).unwrap_or(u64::MAX);
        AdaptiveLatency {
            slot_ns: (window / SLOTS).max(1),
            cfg,
            ops: HashMap::default(),
            tracked: 0,
            over_limit: 0,
        }
    }

    fn epoch(&self, now: Nanos) -> u64 {
        now / self.slot_ns
    }

    /// The current threshold of an operation and the traces it is computed from.
    pub(crate) fn threshold(&mut self, service: &str, op: &str, now: Nanos) -> Option<(u64, u64)> {
        let epoch = self.epoch(now);
        let (q, min) = (self.cfg.quantile, self.cfg.min_samples);
        let w = self.ops.get_mut(service)?.get_mut(op)?;
        Some(w.threshold(epoch, q, min))
    }

    /// Whether `duration` is over the operation's quantile (with enough samples).
    pub(crate) fn exceeds(&mut self, service: &str, op: &str, duration: u64, now: Nanos) -> bool {
        let min = self.cfg.min_samples.max(1);
        self.threshold(service, op, now)
            .is_some_and(|(t, n)| n >= min && duration > t)
    }

    /// Adds a root duration to its operation's window.
    pub(crate) fn record(&mut self, service: &str, op: &str, duration: u64, now: Nanos) {
        let epoch = self.epoch(now);
        if let Some(w) = self.ops.get_mut(service).and_then(|m| m.get_mut(op)) {
            w.record(epoch, duration);
            return;
        }
        if self.tracked >= self.cfg.max_operations {
            self.over_limit += 1;
            return;
        }
        self.tracked += 1;
        let by_op = match self.ops.get_mut(service) {
            Some(m) => m,
            None => self.ops.entry(Box::from(service)).or_default(),
        };
        by_op
            .entry(Box::from(op))
            .or_default()
            .record(epoch, duration);
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    const SEC: u64 = 1_000_000_000;

    fn policy(min_samples: u64, max_operations: usize) -> AdaptiveLatency {
        AdaptiveLatency::new(Adaptive {
            quantile: 0.9,
            window: Duration::from_secs(50),
            min_samples,
            max_operations,
        })
    }

    #[test]
    fn threshold_follows_the_window_quantile() {
        let mut p = policy(10, 10);
        assert!(!p.exceeds("api", "GET /", u64::MAX, 0));
        // 100 traces of 1..=100 µs: p90 is 90 µs (within the histogram's 3.2%).
        for i in 1..=100 {
            p.record("api", "GET /", i * 1000, i);
        }
        let (t, n) = p.threshold("api", "GET /", 200).unwrap();
        assert_eq!(n, 100);
        assert!((90_000..=92_880).contains(&t), "{t}");
        assert!(p.exceeds("api", "GET /", 100_000, 200));
        assert!(!p.exceeds("api", "GET /", 50_000, 200));
        // Another operation has its own window.
        assert!(!p.exceeds("api", "POST /", 100_000, 200));
        // Fifty seconds later the old sub-windows have left the window.
        assert_eq!(p.threshold("api", "GET /", 60 * SEC), Some((0, 0)));
        assert!(!p.exceeds("api", "GET /", 100_000, 60 * SEC));
    }

    #[test]
    fn abstains_without_enough_samples_and_bounds_operations() {
        let mut p = policy(50, 2);
        for i in 0..49 {
            p.record("a", "x", 10, i);
        }
        assert!(!p.exceeds("a", "x", 1_000_000, 100));
        p.record("a", "x", 10, 100);
        assert!(p.exceeds("a", "x", 1_000_000, 100));
        p.record("a", "y", 10, 100);
        p.record("b", "z", 10, 100);
        p.record("b", "z", 10, 101);
        assert_eq!(p.over_limit, 2);
        assert!(p.threshold("b", "z", 101).is_none());
    }

    #[test]
    fn cached_threshold_is_refreshed_after_new_records() {
        let mut p = policy(1, 10);
        for _ in 0..100 {
            p.record("a", "x", 1000, 0);
        }
        assert_eq!(p.threshold("a", "x", 0), Some((1000, 100)));
        for _ in 0..1000 {
            p.record("a", "x", 5000, 0);
        }
        assert_eq!(p.threshold("a", "x", 0), Some((5000, 1100)));
    }
}
