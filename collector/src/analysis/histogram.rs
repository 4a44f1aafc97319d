//! A small, mergeable latency histogram with bounded relative error.

use serde::Serialize;

/// Sub-buckets per power of two, as a power of two.
const PRECISION_BITS: u32 = 5;
const SUB: u64 = 1 << PRECISION_BITS;

fn bucket_of(v: u64) -> u16 {
    if v < 2 * SUB {
        return v as u16;
    }
    let msb = 63 - v.leading_zeros();
    let shift = msb - PRECISION_BITS;
    let mantissa = (v >> shift) - SUB; // 0..SUB
    (SUB + u64::from(shift) * SUB + mantissa) as u16
}

/// The largest value that falls in bucket `b`.
fn upper_bound_of(b: u16) -> u64 {
    let b = u64::from(b);
    if b < 2 * SUB {
        return b;
    }
    let shift = (b - SUB) / SUB;
    let mantissa = (b - SUB) % SUB;
    let low = (SUB + mantissa) << shift;
    low + ((1u64 << shift) - 1)
}

/// Nearest-rank index (1-based) of quantile `q` among `n` values.
pub(crate) fn rank(q: f64, n: u64) -> u64 {
    // The small slack keeps float noise (0.99 * 200 = 198.00000000000003) from moving a rank.
    let r = q.mul_add(n as f64, -1e-9).ceil() as u64;
    r.clamp(1, n.max(1))
}

/// The nearest-rank percentile of an already sorted slice (0 when empty).
pub(crate) fn exact_percentile(sorted: &[u64], q: f64) -> u64 {
    if sorted.is_empty() {
        return 0;
    }
    sorted[rank(q, sorted.len() as u64) as usize - 1]
}

/// A mergeable latency histogram.
///
/// Values (nanoseconds) below 64 get a bucket each and are exact. Above, each power of two is
/// split into 32 equal buckets, so a bucket's width is at most 1/32 of its lower bound. A
/// percentile is reported as the *upper bound* of the bucket that holds the ranked value,
/// capped at the largest value recorded, so it never underestimates and overestimates by less
/// than 3.2% (1/32 of the true value). The maximum and minimum are exact.
///
/// Only occupied buckets are stored (a sorted vector), so a histogram of one operation's
/// latencies, which usually spans a few powers of two, costs a few hundred bytes, and merging
/// two is a linear merge.
///
/// ```
/// use tracewire_collector::analysis::LatencyHistogram;
///
/// let mut h = LatencyHistogram::new();
/// for v in 1..=100 {
///     h.record(v * 1_000);
/// }
/// assert_eq!(h.count(), 100);
/// assert_eq!(h.max(), 100_000);
/// let p50 = h.percentile(0.5);
/// assert!((50_000..=50_000 + 50_000 / 32).contains(&p50));
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct LatencyHistogram {
    /// `(bucket, count)`, sorted by bucket.
    buckets: Vec<(u16, u32)>,
    count: u64,
    min: u64,
    max: u64,
}

impl LatencyHistogram {
    /// An empty histogram.
    pub fn new() -> Self {
        Self::default()
    }

    /// Heap bytes of the occupied-bucket vector.
    pub(crate) fn heap_bytes(&self) -> usize {
        self.buckets.capacity() * std::mem::size_of::<(u16, u32)>()
    }

    /// Adds one value.
    pub fn record(&mut self, ns: u64) {
        let b = bucket_of(ns);
        match self.buckets.binary_search_by_key(&b, |&(k, _)| k) {
            Ok(i) => self.buckets[i].1 = self.buckets[i].1.saturating_add(1),
            Err(i) => self.buckets.insert(i, (b, 1)),
        }
        if self.count == 0 || ns < self.min {
            self.min = ns;
        }
        self.max = self.max.max(ns);
        self.count += 1;
    }

    /// Adds every value of `other`.
    pub fn merge(&mut self, other: &LatencyHistogram) {
        if other.count == 0 {
            return;
        }
        let mut out = Vec::with_capacity(self.buckets.len() + other.buckets.len());
        let (mut i, mut j) = (0, 0);
        while i < self.buckets.len() || j < other.buckets.len() {
            let a = self.buckets.get(i);
            let b = other.buckets.get(j);
            match (a, b) {
                (Some(&(ka, ca)), Some(&(kb, cb))) if ka == kb => {
                    out.push((ka, ca.saturating_add(cb)));
                    i += 1;
                    j += 1;
                }
                (Some(&(ka, ca)), Some(&(kb, _))) if ka < kb => {
                    out.push((ka, ca));
                    i += 1;
                }
                (Some(&a), None) => {
                    out.push(a);
                    i += 1;
                }
                (_, Some(&b)) => {
                    out.push(b);
                    j += 1;
                }
                (None, None) => break,
            }
        }
        self.buckets = out;
        self.min = if self.count == 0 {
            other.min
        } else {
            self.min.min(other.min)
        };
        self.max = self.max.max(other.max);
        self.count += other.count;
    }

    /// How many values were recorded.
    pub fn count(&self) -> u64 {
        self.count
    }

    /// The largest value (0 when empty).
    pub fn max(&self) -> u64 {
        self.max
    }

    /// The smallest value (0 when empty).
    pub fn min(&self) -> u64 {
        self.min
    }

    /// The nearest-rank `q`-quantile (`q` in `(0, 1]`), as the upper bound of its bucket capped
    /// at [`max`](Self::max); 0 when empty.
    pub fn percentile(&self, q: f64) -> u64 {
        if self.count == 0 {
            return 0;
        }
        let want = rank(q, self.count);
        let mut seen = 0u64;
        for &(b, c) in &self.buckets {
            seen += u64::from(c);
            if seen >= want {
                return upper_bound_of(b).clamp(self.min, self.max);
            }
        }
        self.max
    }

    /// p50, p90, p99 and max.
    pub fn summary(&self) -> LatencySummary {
        LatencySummary {
            p50_ns: self.percentile(0.50),
            p90_ns: self.percentile(0.90),
            p99_ns: self.percentile(0.99),
            max_ns: self.max,
        }
    }
}

/// Latency percentiles, nearest-rank, in nanoseconds.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
#[non_exhaustive]
#[serde(rename_all = "camelCase")]
pub struct LatencySummary {
    /// Median.
    #[serde(rename = "p50Nanos")]
    pub p50_ns: u64,
    /// 90th percentile.
    #[serde(rename = "p90Nanos")]
    pub p90_ns: u64,
    /// 99th percentile.
    #[serde(rename = "p99Nanos")]
    pub p99_ns: u64,
    /// Maximum.
    #[serde(rename = "maxNanos")]
    pub max_ns: u64,
}

impl LatencySummary {
    /// Exact nearest-rank percentiles of `values` (sorted in place).
    pub fn exact(values: &mut [u64]) -> Self {
        values.sort_unstable();
        LatencySummary {
            p50_ns: exact_percentile(values, 0.50),
            p90_ns: exact_percentile(values, 0.90),
            p99_ns: exact_percentile(values, 0.99),
            max_ns: values.last().copied().unwrap_or(0),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_are_monotonic_and_bounds_contain_their_values() {
        let mut prev = 0;
        for v in (0..5000).chain([1 << 20, (1 << 20) + 12345, u64::MAX / 3, u64::MAX]) {
            let b = bucket_of(v);
            assert!(b >= prev, "bucket of {v}");
            prev = b;
            let ub = upper_bound_of(b);
            assert!(ub >= v, "upper bound {ub} below {v}");
            if v >= 64 {
                assert!((ub - v) as f64 <= v as f64 / 32.0, "bucket too wide at {v}");
            } else {
                assert_eq!(ub, v);
            }
        }
        assert_eq!(bucket_of(u64::MAX), 1919);
        assert_eq!(upper_bound_of(1919), u64::MAX);
    }

    #[test]
    fn small_values_are_exact() {
        let mut h = LatencyHistogram::new();
        for v in [5, 1, 9, 3, 7, 2, 8, 4, 6, 10] {
            h.record(v);
        }
        assert_eq!(
            h.summary(),
            LatencySummary {
                p50_ns: 5,
                p90_ns: 9,
                p99_ns: 10,
                max_ns: 10
            }
        );
        assert_eq!(h.min(), 1);
    }

    #[test]
    fn large_values_report_the_bucket_upper_bound() {
        let mut h = LatencyHistogram::new();
        h.record(1000);
        h.record(1_000_000);
        // 1000 = 0b1111101000: msb 9, shift 4, bucket covers [992, 1007].
        assert_eq!(h.percentile(0.5), 1007);
        // The top value is capped at the exact maximum.
        assert_eq!(h.percentile(1.0), 1_000_000);
    }

    #[test]
    fn merge_equals_recording_everything_in_one() {
        let mut a = LatencyHistogram::new();
        let mut b = LatencyHistogram::new();
        let mut all = LatencyHistogram::new();
        for v in 0..300u64 {
            let x = v * v * 37 + 3;
            if v % 3 == 0 { &mut a } else { &mut b }.record(x);
            all.record(x);
        }
        let mut m = LatencyHistogram::new();
        m.merge(&a);
        m.merge(&b);
        assert_eq!(m, all);
    }

    #[test]
    fn exact_summary_uses_nearest_rank() {
        let mut v: Vec<u64> = (1..=200).rev().collect();
        let s = LatencySummary::exact(&mut v);
        assert_eq!(
            (s.p50_ns, s.p90_ns, s.p99_ns, s.max_ns),
            (100, 180, 198, 200)
        );
        assert_eq!(LatencySummary::exact(&mut []), LatencySummary::default());
    }
}
