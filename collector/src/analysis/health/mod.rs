//! Per-operation health, kept up to date at ingest: the aggregator and its answers here, one
//! operation's ring of time buckets in `ring.rs`, and the bounded operations table (least
//! recently seen evicted first) in `table.rs`.

mod ring;
mod table;

use std::sync::Arc;
use std::time::Duration;

use parking_lot::Mutex;
use serde::Serialize;
use tracewire::{SpanId, TraceId};

use self::ring::{Recorded, Ring, keep_top, later, slower};
use self::table::{Table, slot_bytes};
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
    /// Most `(service, operation)` pairs tracked (default 10,000); past it the least recently
    /// seen pair is evicted.
    pub max_operations: usize,
    /// Most bytes the table may take: every pair's ring, histograms, exemplars, names and map
    /// entries (default 32 MiB); past it the least recently seen pairs are evicted.
    pub max_bytes: usize,
    /// Exemplars kept per list (default 5).
    pub exemplars: usize,
    /// Longest service and operation name kept, in bytes (default
    /// [`DEFAULT_MAX_NAME_BYTES`]): a longer name is cut at a character boundary at or below
    /// it, so one hostile name cannot hold megabytes of the table, and names that differ only
    /// past the cap share one entry.
    pub max_name_bytes: usize,
}

/// Default for [`HealthConfig::max_name_bytes`].
pub const DEFAULT_MAX_NAME_BYTES: usize = 256;

impl Default for HealthConfig {
    fn default() -> Self {
        HealthConfig {
            bucket_width: Duration::from_secs(60),
            buckets: 15,
            max_operations: 10_000,
            max_bytes: 32 << 20,
            exemplars: 5,
            max_name_bytes: DEFAULT_MAX_NAME_BYTES,
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

    /// Sets the byte budget of the operations table.
    #[must_use]
    pub fn with_max_bytes(mut self, max: usize) -> Self {
        self.max_bytes = max;
        self
    }

    /// Sets the length of each exemplar list.
    #[must_use]
    pub fn with_exemplars(mut self, n: usize) -> Self {
        self.exemplars = n;
        self
    }

    /// Sets the longest service and operation name kept, in bytes.
    #[must_use]
    pub fn with_max_name_bytes(mut self, max: usize) -> Self {
        self.max_name_bytes = max;
        self
    }
}

/// An example span of an operation, to jump to its trace.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[non_exhaustive]
#[serde(rename_all = "camelCase")]
pub struct Exemplar {
    /// The trace.
    #[serde(serialize_with = "super::ser::trace_id")]
    pub trace_id: TraceId,
    /// The span of the operation in that trace.
    #[serde(serialize_with = "super::ser::span_id")]
    pub span_id: SpanId,
    /// The span's duration.
    #[serde(rename = "durationNanos")]
    pub duration_ns: u64,
    /// The span's end, ns since the Unix epoch.
    #[serde(rename = "endTimeUnixNano", serialize_with = "super::ser::unix_nano")]
    pub end_ns: u64,
}

/// Health of one operation over a window.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[non_exhaustive]
#[serde(rename_all = "camelCase")]
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
    /// Spans per second: `count` divided by the seconds from the earliest start of a span
    /// counted in the window (of any operation) to the window's end, at least one second (see
    /// [`HealthAggregator::snapshot`]).
    #[serde(rename = "ratePerSecond")]
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

/// What the aggregator recorded, dropped and holds.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
#[non_exhaustive]
#[serde(rename_all = "camelCase")]
pub struct HealthCounters {
    /// Spans recorded.
    pub recorded: u64,
    /// Spans that ended before the oldest bucket still kept.
    pub too_old: u64,
    /// Spans not recorded because the table cannot hold even one operation
    /// ([`HealthConfig::max_operations`] is 0, or [`HealthConfig::max_bytes`] is below one
    /// operation's cost).
    pub over_limit: u64,
    /// Operations evicted (least recently seen first) to stay within the limits.
    pub evicted_operations: u64,
    /// Operations tracked now.
    pub operations: usize,
    /// Bytes the table takes now.
    pub bytes: usize,
}

#[derive(Default)]
struct Inner {
    table: Table,
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
/// all (at least one, at most the ring). Rates divide by the time the data covers: from the
/// earliest start of a span counted in the window (of any operation; never before the oldest
/// bucket's start) to `now`, at least one second, so a burst of traffic a moment ago reads as
/// its real rate and the rates of all rows share one denominator, as the service map's do
/// ([`rate_per_second`]). Work per query is proportional to the number
/// of operations times buckets, not to the number of spans.
///
/// Accuracy: counts, error counts and maxima are exact; p50/p90/p99 come from the histogram
/// and overestimate by less than 3.2% (exact below 64 ns); see [`LatencyHistogram`].
///
/// Memory is bounded: at most [`HealthConfig::max_operations`] pairs and
/// [`HealthConfig::max_bytes`] bytes are kept. A new pair past either limit evicts the pairs
/// seen least recently (by arrival, not span time), counted in
/// [`HealthCounters::evicted_operations`], so a flood of one-off junk operations cannot crowd
/// out an endpoint that keeps reporting.
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

    fn record_locked(&self, inner: &mut Inner, mut span: Sample<'_>) {
        span.service = tracewire::limits::truncate_bytes(span.service, self.config.max_name_bytes);
        span.operation =
            tracewire::limits::truncate_bytes(span.operation, self.config.max_name_bytes);
        let epoch = span.end_ns.max(span.start_ns) / self.width_ns;
        let n = self.config.buckets.max(1);
        let slot = match inner.table.find(span.service, span.operation) {
            Some(i) => i,
            None => {
                let need = slot_bytes(span.service, span.operation, n);
                let t = &mut inner.table;
                while (t.len >= self.config.max_operations
                    || t.bytes + need > self.config.max_bytes)
                    && t.evict_idlest()
                {
                    inner.counters.evicted_operations += 1;
                }
                if t.len >= self.config.max_operations || t.bytes + need > self.config.max_bytes {
                    inner.counters.over_limit += 1;
                    return;
                }
                t.insert(span.service, span.operation, Ring::new(n))
            }
        };
        inner.table.touch(slot);
        let exemplars = self.config.exemplars;
        let Some(s) = inner.table.slot_mut(slot) else {
            return;
        };
        match s.ring.record(&span, epoch, exemplars) {
            Recorded::TooOld => inner.counters.too_old += 1,
            Recorded::Yes(delta) => {
                inner.table.grow(slot, delta);
                inner.counters.recorded += 1;
                // A ring that grew past the budget pushes out the idlest others (never itself:
                // it is the most recent).
                while inner.table.bytes > self.config.max_bytes
                    && inner.table.len > 1
                    && inner.table.evict_idlest()
                {
                    inner.counters.evicted_operations += 1;
                }
            }
        }
    }

    /// What was recorded, dropped and evicted so far, and what the table holds.
    pub fn counters(&self) -> HealthCounters {
        let inner = self.inner.lock();
        HealthCounters {
            operations: inner.table.len,
            bytes: inner.table.bytes,
            ..inner.counters
        }
    }

    /// Health of every operation with spans in the `window` that ends at `now_ns` (ns since the
    /// Unix epoch), sorted by service then operation.
    pub fn snapshot(&self, now_ns: u64, window: Duration) -> Vec<OperationHealth> {
        let n = self.config.buckets.max(1) as u64;
        let window_ns = u64::try_from(window.as_nanos()).unwrap_or(u64::MAX);
        let k = window_ns.div_ceil(self.width_ns).clamp(1, n);
        let now_epoch = now_ns / self.width_ns;
        let first_epoch = (now_epoch + 1).saturating_sub(k);
        let window_start = first_epoch * self.width_ns;
        let mut earliest = u64::MAX;
        let exemplars = self.config.exemplars;

        let inner = self.inner.lock();
        let mut out: Vec<OperationHealth> = inner
            .table
            .slots()
            .map(|s| (&s.service, &s.operation, &s.ring))
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
                    earliest = earliest.min(b.first_start_ns);
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
                    rate_per_sec: count as f64,
                    error_rate: errors as f64 / count as f64,
                    latency: hist.summary(),
                    slowest,
                    recent_errors,
                })
            })
            .collect();
        drop(inner);
        for o in &mut out {
            o.rate_per_sec = rate_per_second(o.count, earliest.max(window_start), now_ns);
        }
        out.sort_by(|a, b| (&a.service, &a.operation).cmp(&(&b.service, &b.operation)));
        out
    }
}

/// The one definition of a rate the API and the UI use: `count` over the seconds from `from_ns`
/// (the earliest start of a counted span) to `to_ns` (the end of the window, or now), at least
/// one second.
///
/// ```
/// use tracewire_collector::analysis::rate_per_second;
///
/// assert_eq!(rate_per_second(10, 0, 4_000_000_000), 2.5);
/// assert_eq!(rate_per_second(3, 0, 10), 3.0); // under a second reads as one second
/// ```
pub fn rate_per_second(count: u64, from_ns: u64, to_ns: u64) -> f64 {
    let covered = to_ns.saturating_sub(from_ns).max(1_000_000_000);
    count as f64 * 1e9 / covered as f64
}

#[cfg(test)]
mod tests;
