//! Per-operation health, kept up to date at ingest.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use parking_lot::Mutex;
use serde::Serialize;
use tracewire::{SpanId, TraceId};

use super::AnalysisSpan;
use super::histogram::{LatencyHistogram, LatencySummary};

/// Settings of a [`HealthAggregator`].
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct HealthConfig {
    /// Width of one time bucket (default one minute).
    pub bucket_width: Duration,
    /// Buckets kept per operation (default 15): the longest window a query can cover.
    pub buckets: usize,
    /// Most `(service, operation)` pairs tracked (default 1,000).
    pub max_operations: usize,
    /// Exemplars kept per list (default 5).
    pub exemplars: usize,
}

impl Default for HealthConfig {
    fn default() -> Self {
        HealthConfig {
            bucket_width: Duration::from_secs(60),
            buckets: 15,
            max_operations: 1000,
            exemplars: 5,
        }
    }
}

impl HealthConfig {
    /// Sets the bucket width (at least one millisecond).
    #[must_use]
    pub fn with_bucket_width(mut self, width: Duration) -> Self {
        self.bucket_width = width.max(Duration::from_millis(1));
        self
    }

    /// Sets the number of buckets (at least one).
    #[must_use]
    pub fn with_buckets(mut self, buckets: usize) -> Self {
        self.buckets = buckets.max(1);
        self
    }

    /// Sets the limit on tracked operations.
    #[must_use]
    pub fn with_max_operations(mut self, max: usize) -> Self {
        self.max_operations = max;
        self
    }

    /// Sets the length of each exemplar list.
    #[must_use]
    pub fn with_exemplars(mut self, n: usize) -> Self {
        self.exemplars = n;
        self
    }
}

/// An example span of an operation, to jump to its trace.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct Exemplar {
    /// The trace.
    #[serde(serialize_with = "super::ser::trace_id")]
    pub trace_id: TraceId,
    /// The span of the operation in that trace.
    #[serde(serialize_with = "super::ser::span_id")]
    pub span_id: SpanId,
    /// The span's duration.
    pub duration_ns: u64,
    /// The span's end, ns since the Unix epoch.
    pub end_ns: u64,
}

/// Health of one operation over a window.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[non_exhaustive]
pub struct OperationHealth {
    /// The service.
    #[serde(serialize_with = "super::ser::arc_str")]
    pub service: Arc<str>,
    /// The operation (span name).
    #[serde(serialize_with = "super::ser::arc_str")]
    pub operation: Arc<str>,
    /// Spans in the window.
    pub count: u64,
    /// Failed spans in the window.
    pub errors: u64,
    /// Spans per second over the covered time.
    pub rate_per_sec: f64,
    /// `errors / count`.
    pub error_rate: f64,
    /// Latency percentiles.
    pub latency: LatencySummary,
    /// The slowest spans, slowest first, one per trace.
    pub slowest: Vec<Exemplar>,
    /// The most recent failed spans, latest first, one per trace.
    pub recent_errors: Vec<Exemplar>,
}

/// Spans the aggregator did not record.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct HealthCounters {
    /// Spans recorded.
    pub recorded: u64,
    /// Spans that ended before the oldest bucket still kept.
    pub too_old: u64,
    /// Spans of operations beyond [`HealthConfig::max_operations`].
    pub over_limit: u64,
}

#[derive(Default)]
struct Bucket {
    epoch: u64,
    count: u64,
    errors: u64,
    hist: LatencyHistogram,
    slowest: Vec<Exemplar>,
    errors_recent: Vec<Exemplar>,
}

impl Bucket {
    fn reset(&mut self, epoch: u64) {
        self.epoch = epoch;
        self.count = 0;
        self.errors = 0;
        self.hist = LatencyHistogram::new();
        self.slowest.clear();
        self.errors_recent.clear();
    }
}

struct Ring {
    buckets: Vec<Bucket>,
}

#[derive(Default)]
struct Inner {
    /// service → operation → ring; nested so lookups by `&str` need no allocation.
    ops: HashMap<Arc<str>, HashMap<Arc<str>, Ring>>,
    operations: usize,
    counters: HealthCounters,
}

/// The fields of a span the aggregator uses.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Sample<'a> {
    pub(crate) trace_id: TraceId,
    pub(crate) span_id: SpanId,
    pub(crate) service: &'a str,
    pub(crate) operation: &'a str,
    pub(crate) start_ns: u64,
    pub(crate) end_ns: u64,
    pub(crate) is_error: bool,
}

impl<'a> From<&'a AnalysisSpan> for Sample<'a> {
    fn from(s: &'a AnalysisSpan) -> Self {
        Sample {
            trace_id: s.trace_id,
            span_id: s.span_id,
            service: &s.service,
            operation: &s.name,
            start_ns: s.start_ns,
            end_ns: s.end_ns,
            is_error: s.is_error,
        }
    }
}

/// Incremental per-operation rates, error rates, latency percentiles and exemplars.
///
/// Share it (`Arc`) between the ingest path, which calls [`record`](Self::record), and the
/// query side, which calls [`snapshot`](Self::snapshot).
///
/// Each `(service, operation)` pair gets a ring of time buckets ([`HealthConfig::bucket_width`],
/// one minute by default; [`HealthConfig::buckets`] of them, 15 by default). A span is recorded
/// in the bucket of its *end* time. A bucket holds a count, an error count, a
/// [`LatencyHistogram`] and two small exemplar lists: the slowest spans and the most recent
/// failed ones ([`HealthConfig::exemplars`] each). When the ring wraps, a bucket is reset before
/// reuse; a span older than the ring is counted in [`HealthCounters::too_old`] and dropped.
///
/// A query ([`HealthAggregator::snapshot`]) merges the buckets of the window that ends at `now`:
/// the current, partly filled bucket and the ones before it, `ceil(window / bucket_width)` in
/// all (at least one, at most the ring). Rates divide by the time that window covers so far,
/// from the start of its oldest bucket to `now`. Work per query is proportional to the number
/// of operations times buckets, not to the number of spans.
///
/// Accuracy: counts, error counts and maxima are exact; p50/p90/p99 come from the histogram
/// and overestimate by less than 3.2% (exact below 64 ns); see [`LatencyHistogram`].
///
/// Memory is bounded: at most [`HealthConfig::max_operations`] pairs are tracked; spans of
/// further pairs are counted in [`HealthCounters::over_limit`] and dropped.
///
/// ```
/// use std::time::Duration;
/// use tracewire::{SpanId, TraceId};
/// use tracewire_collector::analysis::{AnalysisSpan, HealthAggregator, HealthConfig};
///
/// let health = HealthAggregator::new(HealthConfig::default());
/// let min = 60_000_000_000u64;
/// health.record(&AnalysisSpan::new(TraceId::from_u128(1), SpanId::from_u64(1), "api", "GET /", 10 * min, 10 * min + 40));
/// let ops = health.snapshot(10 * min + 30_000_000_000, Duration::from_secs(60));
/// assert_eq!(ops[0].count, 1);
/// assert_eq!(ops[0].latency.max_ns, 40);
/// assert_eq!(ops[0].slowest[0].trace_id, TraceId::from_u128(1));
/// ```
pub struct HealthAggregator {
    config: HealthConfig,
    width_ns: u64,
    inner: Mutex<Inner>,
}

impl std::fmt::Debug for HealthAggregator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HealthAggregator")
            .field("config", &self.config)
            .field("counters", &self.counters())
            .finish_non_exhaustive()
    }
}

impl Default for HealthAggregator {
    fn default() -> Self {
        Self::new(HealthConfig::default())
    }
}

/// Keeps the top `k` of `list` by `better` (first = best), one entry per trace.
fn keep_top(
    list: &mut Vec<Exemplar>,
    e: Exemplar,
    k: usize,
    better: fn(&Exemplar, &Exemplar) -> bool,
) {
    if k == 0 {
        return;
    }
    if let Some(pos) = list.iter().position(|x| x.trace_id == e.trace_id) {
        if !better(&e, &list[pos]) {
            return;
        }
        list.remove(pos);
    }
    let at = list
        .iter()
        .position(|x| better(&e, x))
        .unwrap_or(list.len());
    if at < k {
        list.insert(at, e);
        list.truncate(k);
    }
}

fn slower(a: &Exemplar, b: &Exemplar) -> bool {
    (a.duration_ns, std::cmp::Reverse(a.trace_id)) > (b.duration_ns, std::cmp::Reverse(b.trace_id))
}

fn later(a: &Exemplar, b: &Exemplar) -> bool {
    (a.end_ns, std::cmp::Reverse(a.trace_id)) > (b.end_ns, std::cmp::Reverse(b.trace_id))
}

impl HealthAggregator {
    /// An empty aggregator.
    pub fn new(config: HealthConfig) -> Self {
        let width_ns = u64::try_from(config.bucket_width.as_nanos())
            .unwrap_or(u64::MAX)
            .max(1);
        HealthAggregator {
            config,
            width_ns,
            inner: Mutex::new(Inner::default()),
        }
    }

    /// The settings.
    pub fn config(&self) -> &HealthConfig {
        &self.config
    }

    /// Records one finished span.
    pub fn record(&self, span: &AnalysisSpan) {
        let mut inner = self.inner.lock();
        self.record_locked(&mut inner, span.into());
    }

    /// Records a batch of finished spans under one lock.
    pub fn record_all<'a>(&self, spans: impl IntoIterator<Item = &'a AnalysisSpan>) {
        let mut inner = self.inner.lock();
        for s in spans {
            self.record_locked(&mut inner, s.into());
        }
    }

    /// Records one span given by its fields.
    pub(crate) fn record_sample(&self, sample: Sample<'_>) {
        let mut inner = self.inner.lock();
        self.record_locked(&mut inner, sample);
    }

    fn record_locked(&self, inner: &mut Inner, span: Sample<'_>) {
        let epoch = span.end_ns.max(span.start_ns) / self.width_ns;
        let n = self.config.buckets.max(1);
        let known = inner
            .ops
            .get(span.service)
            .is_some_and(|m| m.contains_key(span.operation));
        if !known {
            if inner.operations >= self.config.max_operations {
                inner.counters.over_limit += 1;
                return;
            }
            inner.operations += 1;
            let by_op = match inner.ops.get_mut(span.service) {
                Some(m) => m,
                None => inner.ops.entry(Arc::from(span.service)).or_default(),
            };
            by_op.insert(
                Arc::from(span.operation),
                Ring {
                    buckets: (0..n).map(|_| Bucket::default()).collect(),
                },
            );
        }
        let Some(ring) = inner
            .ops
            .get_mut(span.service)
            .and_then(|m| m.get_mut(span.operation))
        else {
            return;
        };
        let newest = ring.buckets.iter().map(|b| b.epoch).max().unwrap_or(0);
        let b = &mut ring.buckets[(epoch % n as u64) as usize];
        if b.count > 0 && b.epoch > epoch || newest >= epoch + n as u64 {
            inner.counters.too_old += 1;
            return;
        }
        if b.epoch != epoch {
            b.reset(epoch);
        }
        let dur = span.end_ns.saturating_sub(span.start_ns);
        let ex = Exemplar {
            trace_id: span.trace_id,
            span_id: span.span_id,
            duration_ns: dur,
            end_ns: span.end_ns,
        };
        b.count += 1;
        b.hist.record(dur);
        keep_top(&mut b.slowest, ex, self.config.exemplars, slower);
        if span.is_error {
            b.errors += 1;
            keep_top(&mut b.errors_recent, ex, self.config.exemplars, later);
        }
        inner.counters.recorded += 1;
    }

    /// What was recorded and dropped so far.
    pub fn counters(&self) -> HealthCounters {
        self.inner.lock().counters
    }

    /// Health of every operation with spans in the `window` that ends at `now_ns` (ns since the
    /// Unix epoch), sorted by service then operation.
    pub fn snapshot(&self, now_ns: u64, window: Duration) -> Vec<OperationHealth> {
        let n = self.config.buckets.max(1) as u64;
        let window_ns = u64::try_from(window.as_nanos()).unwrap_or(u64::MAX);
        let k = window_ns.div_ceil(self.width_ns).clamp(1, n);
        let now_epoch = now_ns / self.width_ns;
        let first_epoch = (now_epoch + 1).saturating_sub(k);
        let covered_ns = now_ns.saturating_sub(first_epoch * self.width_ns).max(1);
        let exemplars = self.config.exemplars;

        let inner = self.inner.lock();
        let mut out: Vec<OperationHealth> = inner
            .ops
            .iter()
            .flat_map(|(service, by_op)| by_op.iter().map(move |(op, ring)| (service, op, ring)))
            .filter_map(|(service, operation, ring)| {
                let mut count = 0;
                let mut errors = 0;
                let mut hist = LatencyHistogram::new();
                let mut slowest = Vec::new();
                let mut recent_errors = Vec::new();
                for b in &ring.buckets {
                    if b.count == 0 || b.epoch < first_epoch || b.epoch > now_epoch {
                        continue;
                    }
                    count += b.count;
                    errors += b.errors;
                    hist.merge(&b.hist);
                    for &e in &b.slowest {
                        keep_top(&mut slowest, e, exemplars, slower);
                    }
                    for &e in &b.errors_recent {
                        keep_top(&mut recent_errors, e, exemplars, later);
                    }
                }
                (count > 0).then(|| OperationHealth {
                    service: service.clone(),
                    operation: operation.clone(),
                    count,
                    errors,
                    rate_per_sec: count as f64 * 1e9 / covered_ns as f64,
                    error_rate: errors as f64 / count as f64,
                    latency: hist.summary(),
                    slowest,
                    recent_errors,
                })
            })
            .collect();
        drop(inner);
        out.sort_by(|a, b| (&a.service, &a.operation).cmp(&(&b.service, &b.operation)));
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analysis::test_support::span_in;

    const SEC: u64 = 1_000_000_000;
    const MIN: u64 = 60 * SEC;
    /// A round time far from the epoch.
    const T0: u64 = 1_000_000 * MIN;

    fn ids(list: &[Exemplar]) -> Vec<u128> {
        list.iter().map(|e| e.trace_id.to_u128()).collect()
    }

    /// Span of operation `op1` in service `api` in trace `trace`, ending at `end`, lasting `dur`.
    fn op(trace: u128, end: u64, dur: u64, err: bool) -> AnalysisSpan {
        span_in(trace, 1, 0, "api", end - dur, end).with_error(err)
    }

    #[test]
    fn counts_rates_percentiles_and_exemplars_over_a_window() {
        let h = HealthAggregator::new(HealthConfig::default().with_exemplars(3));
        // Minute 0: traces 1..=10 lasting 1..=10 µs (exact-ish), trace 4 and 7 fail.
        for t in 1..=10u64 {
            h.record(&op(t.into(), T0 + t * SEC, t * 1000, t == 4 || t == 7));
        }
        // Minute 1: trace 11 lasts 50 ns and fails.
        h.record(&op(11, T0 + MIN + 5 * SEC, 50, true));
        let now = T0 + MIN + 30 * SEC;

        let two = h.snapshot(now, Duration::from_secs(120));
        assert_eq!(two.len(), 1);
        let o = &two[0];
        assert_eq!((&*o.service, &*o.operation), ("api", "op1"));
        assert_eq!((o.count, o.errors), (11, 3));
        assert_eq!(o.error_rate, 3.0 / 11.0);
        // The window covers minute 0 and 30 s of minute 1: 90 s.
        assert_eq!(o.rate_per_sec, 11.0 / 90.0);
        // 11 values: 50, 1000..10000. p50 = 6th = 5000 (bucket [4992, 5119]).
        assert_eq!(o.latency.p50_ns, 5119);
        assert_eq!(o.latency.max_ns, 10_000);
        assert_eq!(o.latency.p99_ns, 10_000);
        assert_eq!(ids(&o.slowest), [10, 9, 8]);
        assert_eq!(ids(&o.recent_errors), [11, 7, 4]);

        let one = h.snapshot(now, Duration::from_secs(60));
        assert_eq!((one[0].count, one[0].errors), (1, 1));
        assert_eq!(one[0].latency.p50_ns, 50);
        assert_eq!(one[0].rate_per_sec, 1.0 / 30.0);
        assert_eq!(ids(&one[0].slowest), [11]);
    }

    #[test]
    fn exemplars_keep_one_span_per_trace() {
        let h = HealthAggregator::new(HealthConfig::default().with_exemplars(2));
        h.record(&op(1, T0 + 1, 100, true));
        h.record(&op(1, T0 + 2, 300, true));
        h.record(&op(2, T0 + 3, 200, false));
        let o = &h.snapshot(T0 + 10, Duration::from_secs(60))[0];
        assert_eq!(ids(&o.slowest), [1, 2]);
        assert_eq!(o.slowest[0].duration_ns, 300);
        assert_eq!(ids(&o.recent_errors), [1]);
        assert_eq!(o.recent_errors[0].end_ns, T0 + 2);
    }

    #[test]
    fn ring_wraps_and_drops_spans_older_than_it() {
        let h = HealthAggregator::new(HealthConfig::default().with_buckets(3));
        h.record(&op(1, T0 + 10, 10, false)); // minute 0
        h.record(&op(2, T0 + 3 * MIN + 10, 20, false)); // minute 3 reuses minute 0's slot
        h.record(&op(3, T0 + 20, 30, false)); // minute 0 again: too old now
        let c = h.counters();
        assert_eq!((c.recorded, c.too_old, c.over_limit), (2, 1, 0));
        let o = &h.snapshot(T0 + 3 * MIN + 20, Duration::from_secs(600))[0];
        assert_eq!(o.count, 1);
        assert_eq!(ids(&o.slowest), [2]);
    }

    #[test]
    fn windows_exclude_buckets_outside_them() {
        let h = HealthAggregator::default();
        h.record(&op(1, T0 + 10, 10, false));
        h.record(&op(2, T0 + 5 * MIN, 10, false));
        // Five minutes later, a one-minute window sees only the second span.
        let o = h.snapshot(T0 + 5 * MIN + 1, Duration::from_secs(60));
        assert_eq!(o[0].count, 1);
        // A span in the future of `now` is not in the window either.
        let early = h.snapshot(T0 + 20, Duration::from_secs(1));
        assert_eq!(early.len(), 1);
        assert_eq!(ids(&early[0].slowest), [1]);
        assert_eq!(h.snapshot(T0 + 4 * MIN, Duration::from_secs(60)).len(), 0);
    }

    #[test]
    fn operations_over_the_limit_are_counted_not_tracked() {
        let h = HealthAggregator::new(HealthConfig::default().with_max_operations(2));
        for (i, svc) in ["a", "b", "c", "a"].iter().enumerate() {
            h.record(&span_in(1, i as u64 + 1, 0, svc, T0, T0 + 5));
        }
        // Span names differ by id (op1..op4), so a/op1, b/op2 fit and c/op3, a/op4 do not.
        let c = h.counters();
        assert_eq!((c.recorded, c.over_limit), (2, 2));
        let ops: Vec<(String, String)> = h
            .snapshot(T0 + 10, Duration::from_secs(60))
            .iter()
            .map(|o| (o.service.to_string(), o.operation.to_string()))
            .collect();
        assert_eq!(
            ops,
            [("a".into(), "op1".into()), ("b".into(), "op2".into())]
        );
    }
}
