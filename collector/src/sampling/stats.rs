//! What the sampling stage reports: counters ([`SamplingStats`]), seen vs kept spans per
//! operation over a window ([`OperationSampling`]), and the answers to a trace lookup
//! ([`TraceSampling`]) and a retroactive keep ([`KeepOutcome`]).
//!
//! The stage owns its state on the ingest worker; what readers see is published here, under
//! short locks, after each batch and each tick.

use std::collections::HashMap;
use std::collections::hash_map::RandomState;
use std::sync::Arc;
use std::time::Duration;

use parking_lot::Mutex;

use super::forward::{ForwardCounters, ForwardStats};
use super::policy::{Reason, Trigger};
use crate::analysis::{LatencyHistogram, LatencySummary};

/// The stage's counters since start.
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub struct SamplingStats {
    /// Spans received by the stage.
    pub received_spans: u64,
    /// Spans passed on to the store (and the forwarder): of kept traces, late ones included.
    pub kept_spans: u64,
    /// Traces in the buffer, undecided or dropped.
    pub buffered_traces: usize,
    /// Spans in the buffer.
    pub buffered_spans: usize,
    /// Bytes the buffer accounts for (plus the completion queue).
    pub buffer_bytes: usize,
    /// The buffer's byte budget.
    pub max_buffer_bytes: usize,
    /// Traces waiting for a decision.
    pub pending_traces: usize,
    /// Traces decided, by reason (kept and dropped), in [`Reason::ALL`] order.
    pub decisions: [(Reason, u64); 9],
    /// Traces decided, by what made them due, in [`Trigger::ALL`] order.
    pub triggers: [(Trigger, u64); 7],
    /// Spans of kept traces that arrived after the decision and were passed on.
    pub late_kept_spans: u64,
    /// Spans of dropped traces that arrived after the decision (kept in the buffer while the
    /// trace is, so a retroactive keep still gets them).
    pub late_dropped_spans: u64,
    /// Traces (and their spans and bytes) evicted from the buffer because they outlived its
    /// window.
    pub expired_traces: u64,
    /// Spans evicted with them.
    pub expired_spans: u64,
    /// Traces evicted because the buffer was over its byte budget.
    pub evicted_traces: u64,
    /// Spans evicted with them.
    pub evicted_spans: u64,
    /// Bytes freed by budget evictions.
    pub evicted_bytes: u64,
    /// Retroactive keeps that found their trace in the buffer.
    pub retroactive_keeps: u64,
    /// Decisions remembered for late spans.
    pub decision_cache_traces: usize,
    /// Bytes of the decision cache.
    pub decision_cache_bytes: usize,
    /// Decisions forgotten early because the cache was full.
    pub decision_cache_evicted: u64,
    /// Root operations tracked by the adaptive latency policy beyond its limit (abstained).
    pub adaptive_over_limit: u64,
    /// Time from a root span's arrival to its trace's decision, over every decided trace whose
    /// root arrived.
    pub decision_latency: LatencySummary,
    /// Forwarding counters, when kept traces are forwarded.
    pub forward: Option<ForwardStats>,
    /// Why forwarding is not running although it was configured.
    pub forward_error: Option<String>,
}

impl Default for SamplingStats {
    fn default() -> Self {
        SamplingStats {
            received_spans: 0,
            kept_spans: 0,
            buffered_traces: 0,
            buffered_spans: 0,
            buffer_bytes: 0,
            max_buffer_bytes: 0,
            pending_traces: 0,
            decisions: Reason::ALL.map(|r| (r, 0)),
            triggers: Trigger::ALL.map(|t| (t, 0)),
            late_kept_spans: 0,
            late_dropped_spans: 0,
            expired_traces: 0,
            expired_spans: 0,
            evicted_traces: 0,
            evicted_spans: 0,
            evicted_bytes: 0,
            retroactive_keeps: 0,
            decision_cache_traces: 0,
            decision_cache_bytes: 0,
            decision_cache_evicted: 0,
            adaptive_over_limit: 0,
            decision_latency: LatencySummary::default(),
            forward: None,
            forward_error: None,
        }
    }
}

impl SamplingStats {
    /// Traces kept (by any reason).
    pub fn kept_traces(&self) -> u64 {
        self.decisions
            .iter()
            .filter(|(r, _)| r.is_keep())
            .map(|(_, n)| n)
            .sum()
    }

    /// Traces dropped.
    pub fn dropped_traces(&self) -> u64 {
        self.decisions
            .iter()
            .filter(|(r, _)| !r.is_keep())
            .map(|(_, n)| n)
            .sum()
    }

    /// Traces decided for `reason`.
    pub fn decided(&self, reason: Reason) -> u64 {
        self.decisions[reason.index()].1
    }

    /// Traces decided because of `trigger`.
    pub fn triggered(&self, trigger: Trigger) -> u64 {
        self.triggers[trigger.index()].1
    }
}

/// Plain counters the stage bumps; copied out under the lock.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Counters {
    pub(crate) received_spans: u64,
    pub(crate) kept_spans: u64,
    pub(crate) buffered_traces: usize,
    pub(crate) buffered_spans: usize,
    pub(crate) buffer_bytes: usize,
    pub(crate) pending_traces: usize,
    pub(crate) decisions: [u64; 9],
    pub(crate) triggers: [u64; 7],
    pub(crate) late_kept_spans: u64,
    pub(crate) late_dropped_spans: u64,
    pub(crate) expired_traces: u64,
    pub(crate) expired_spans: u64,
    pub(crate) evicted_traces: u64,
    pub(crate) evicted_spans: u64,
    pub(crate) evicted_bytes: u64,
    pub(crate) retroactive_keeps: u64,
    pub(crate) decision_cache_traces: usize,
    pub(crate) decision_cache_bytes: usize,
    pub(crate) decision_cache_evicted: u64,
    pub(crate) adaptive_over_limit: u64,
}

/// Seen vs kept spans of one operation over a window.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct OperationSampling {
    /// The service.
    pub service: Arc<str>,
    /// The operation (span name).
    pub operation: Arc<str>,
    /// Spans received.
    pub seen: u64,
    /// Spans kept (passed on to the store).
    pub kept: u64,
}

#[derive(Clone, Copy, Default)]
struct Bucket {
    epoch: u64,
    seen: u64,
    kept: u64,
}

type ByOp = HashMap<Arc<str>, Box<[Bucket]>, RandomState>;

/// Per-operation counts in time buckets of span end time, like the health table: the same
/// bucket width and count, so windows line up with `/api/analysis/operations`.
pub(crate) struct OpTable {
    ops: HashMap<Arc<str>, ByOp, RandomState>,
    tracked: usize,
    max_operations: usize,
    width_ns: u64,
    buckets: usize,
    pub(crate) over_limit: u64,
}

impl OpTable {
    pub(crate) fn new(bucket_width: Duration, buckets: usize, max_operations: usize) -> Self {
        OpTable {
            ops: HashMap::default(),
            tracked: 0,
            max_operations,
            width_ns: u64::try_from(bucket_width.as_nanos())
                .unwrap_or(u64::MAX)
                .max(1),
            buckets: buckets.max(1),
            over_limit: 0,
        }
    }

    /// Counts received spans of `service`, given as (operation, end time in ns).
    pub(crate) fn seen<'a>(&mut self, service: &str, spans: impl Iterator<Item = (&'a str, u64)>) {
        let n = self.buckets;
        let width = self.width_ns;
        let (tracked, max, over) = (&mut self.tracked, self.max_operations, &mut self.over_limit);
        let by_op = match self.ops.get_mut(service) {
            Some(m) => m,
            None => self.ops.entry(Arc::from(service)).or_default(),
        };
        for (op, end_ns) in spans {
            let ring = match by_op.get_mut(op) {
                Some(r) => r,
                None if *tracked < max => {
                    *tracked += 1;
                    by_op
                        .entry(Arc::from(op))
                        .or_insert_with(|| vec![Bucket::default(); n].into_boxed_slice())
                }
                None => {
                    *over += 1;
                    continue;
                }
            };
            let epoch = end_ns / width;
            let b = &mut ring[(epoch % n as u64) as usize];
            if b.epoch > epoch && b.seen > 0 {
                continue;
            }
            if b.epoch != epoch {
                *b = Bucket {
                    epoch,
                    seen: 0,
                    kept: 0,
                };
            }
            b.seen += 1;
        }
    }

    /// Counts kept spans of `service`, given as (operation, end time in ns); spans whose bucket
    /// has moved on, or of untracked operations, are ignored.
    pub(crate) fn kept<'a>(&mut self, service: &str, spans: impl Iterator<Item = (&'a str, u64)>) {
        let Some(by_op) = self.ops.get_mut(service) else {
            return;
        };
        for (op, end_ns) in spans {
            let Some(ring) = by_op.get_mut(op) else {
                continue;
            };
            let epoch = end_ns / self.width_ns;
            let b = &mut ring[(epoch % ring.len() as u64) as usize];
            if b.epoch == epoch {
                b.kept += 1;
            }
        }
    }

    /// Operations with spans in the `window` ending at `now_ns`, sorted by service and
    /// operation.
    pub(crate) fn snapshot(&self, now_ns: u64, window: Duration) -> Vec<OperationSampling> {
        let n = self.buckets as u64;
        let window_ns = u64::try_from(window.as_nanos()).unwrap_or(u64::MAX);
        let k = window_ns.div_ceil(self.width_ns).clamp(1, n);
        let now_epoch = now_ns / self.width_ns;
        let first = (now_epoch + 1).saturating_sub(k);
        let mut out: Vec<OperationSampling> = self
            .ops
            .iter()
            .flat_map(|(s, m)| m.iter().map(move |(o, r)| (s, o, r)))
            .filter_map(|(service, operation, ring)| {
                let (mut seen, mut kept) = (0, 0);
                for b in ring.iter() {
                    if b.seen > 0 && b.epoch >= first && b.epoch <= now_epoch {
                        seen += b.seen;
                        kept += b.kept;
                    }
                }
                (seen > 0).then(|| OperationSampling {
                    service: service.clone(),
                    operation: operation.clone(),
                    seen,
                    kept,
                })
            })
            .collect();
        out.sort_by(|a, b| (&a.service, &a.operation).cmp(&(&b.service, &b.operation)));
        out
    }

    /// The longest window the table covers.
    pub(crate) fn longest_window(&self) -> Duration {
        Duration::from_nanos(self.width_ns.saturating_mul(self.buckets as u64))
    }
}

/// Shared between the stage (writer) and readers.
pub(crate) struct SamplingShared {
    pub(crate) counters: Mutex<Counters>,
    pub(crate) latency: Mutex<LatencyHistogram>,
    pub(crate) ops: Mutex<OpTable>,
    pub(crate) max_buffer_bytes: usize,
    pub(crate) forward: Option<Arc<ForwardCounters>>,
    pub(crate) forward_error: Option<String>,
}

impl SamplingShared {
    /// The public snapshot.
    pub(crate) fn stats(&self) -> SamplingStats {
        let c = *self.counters.lock();
        let latency = self.latency.lock().summary();
        let mut decisions = Reason::ALL.map(|r| (r, 0));
        for (slot, n) in decisions.iter_mut().zip(c.decisions) {
            slot.1 = n;
        }
        let mut triggers = Trigger::ALL.map(|t| (t, 0));
        for (slot, n) in triggers.iter_mut().zip(c.triggers) {
            slot.1 = n;
        }
        SamplingStats {
            received_spans: c.received_spans,
            kept_spans: c.kept_spans,
            buffered_traces: c.buffered_traces,
            buffered_spans: c.buffered_spans,
            buffer_bytes: c.buffer_bytes,
            max_buffer_bytes: self.max_buffer_bytes,
            pending_traces: c.pending_traces,
            decisions,
            triggers,
            late_kept_spans: c.late_kept_spans,
            late_dropped_spans: c.late_dropped_spans,
            expired_traces: c.expired_traces,
            expired_spans: c.expired_spans,
            evicted_traces: c.evicted_traces,
            evicted_spans: c.evicted_spans,
            evicted_bytes: c.evicted_bytes,
            retroactive_keeps: c.retroactive_keeps,
            decision_cache_traces: c.decision_cache_traces,
            decision_cache_bytes: c.decision_cache_bytes,
            decision_cache_evicted: c.decision_cache_evicted,
            adaptive_over_limit: c.adaptive_over_limit,
            decision_latency: latency,
            forward: self.forward.as_ref().map(|f| f.snapshot()),
            forward_error: self.forward_error.clone(),
        }
    }
}

/// What a retroactive keep did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum KeepOutcome {
    /// The trace was in the buffer (undecided or dropped) and is kept now: its spans went to the
    /// store (and the forwarder), and later spans follow.
    Kept {
        /// Spans passed on.
        spans: usize,
    },
    /// The trace had already been kept.
    AlreadyKept,
    /// The trace is not in the buffer: never seen, or evicted. Spans of it arriving while its
    /// decision is remembered are kept from now on.
    NotBuffered,
    /// Tail sampling is off: every received span is stored.
    Disabled,
}

/// Where a trace stands in the sampling stage.
#[derive(Clone, Copy, Debug, PartialEq)]
#[non_exhaustive]
pub enum TraceSampling {
    /// In the buffer, waiting for its decision.
    Pending {
        /// Spans buffered so far.
        spans: usize,
        /// Time since its first span arrived.
        waiting: Duration,
    },
    /// Kept.
    Kept {
        /// Why.
        reason: Reason,
        /// When it was decided.
        trigger: Trigger,
        /// How many traces it stands for.
        rate: f64,
    },
    /// Dropped.
    Dropped {
        /// Why.
        reason: Reason,
        /// When it was decided.
        trigger: Trigger,
        /// Spans still in the buffer (a retroactive keep can take them while there are some).
        buffered_spans: usize,
    },
    /// Neither buffered nor remembered.
    Unknown,
    /// Tail sampling is off.
    Disabled,
}

#[cfg(test)]
mod tests {
    use super::*;

    const MIN: u64 = 60_000_000_000;

    #[test]
    fn seen_and_kept_per_operation_in_windows() {
        let mut t = OpTable::new(Duration::from_secs(60), 3, 2);
        let t0 = 1000 * MIN;
        let span = |op, end| std::iter::once((op, end));
        t.seen("api", std::iter::repeat_n(("GET /", t0 + 5), 10));
        t.kept("api", span("GET /", t0 + 5));
        t.seen("api", span("GET /", t0 + MIN + 5));
        t.kept("api", span("GET /", t0 + MIN + 5));
        t.seen("db", span("SELECT", t0));
        // A third operation is over the limit: counted, not tracked.
        t.seen("db", span("INSERT", t0));
        assert_eq!(t.over_limit, 1);
        // Kept spans of untracked operations are ignored.
        t.kept("db", span("INSERT", t0));
        let two = t.snapshot(t0 + MIN + 10, Duration::from_secs(120));
        let rows: Vec<(&str, &str, u64, u64)> = two
            .iter()
            .map(|o| (&*o.service, &*o.operation, o.seen, o.kept))
            .collect();
        assert_eq!(rows, [("api", "GET /", 11, 2), ("db", "SELECT", 1, 0)]);
        let one = t.snapshot(t0 + MIN + 10, Duration::from_secs(60));
        assert_eq!((one[0].seen, one[0].kept), (1, 1));
        // Three minutes on, the ring has moved past minute 0: its bucket is reused.
        t.seen("api", span("GET /", t0 + 3 * MIN));
        t.kept("api", span("GET /", t0 + 5));
        let later = t.snapshot(t0 + 3 * MIN, Duration::from_secs(180));
        assert_eq!((later[0].seen, later[0].kept), (2, 1));
        assert_eq!(t.longest_window(), Duration::from_secs(180));
    }

    #[test]
    fn stats_totals() {
        let mut s = SamplingStats::default();
        s.decisions[Reason::Error.index()].1 = 3;
        s.decisions[Reason::SampledOut.index()].1 = 5;
        s.decisions[Reason::RateLimited.index()].1 = 1;
        assert_eq!((s.kept_traces(), s.dropped_traces()), (3, 6));
        assert_eq!(s.decided(Reason::Error), 3);
    }
}
