//! Search parameters ([`TraceQuery`]), results ([`TraceSummary`]) and store counters
//! ([`StoreStats`]); the pool queries run on (`pool.rs`).

mod pool;

use std::sync::Arc;

pub(crate) use self::pool::{PoolLimits, QueryError, QueryPool, expired};

use crate::model::TraceId;

/// What to search for. A trace matches when at least one of its spans meets every condition.
///
/// ```
/// use std::time::Duration;
/// use tracewire_collector::TraceQuery;
///
/// let q = TraceQuery::new()
///     .service("checkout")
///     .operation("POST /orders")
///     .min_duration(Duration::from_millis(100))
///     .error_only(true)
///     .tag("http.response.status_code", "500")
///     .limit(10);
/// assert_eq!(q.limit, 10);
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct TraceQuery {
    /// The span's service.
    pub service: Option<String>,
    /// The span's name; usually given with `service`.
    pub operation: Option<String>,
    /// Shortest span duration, in nanoseconds (inclusive).
    pub min_duration_nanos: Option<u64>,
    /// Longest span duration, in nanoseconds (inclusive).
    pub max_duration_nanos: Option<u64>,
    /// Only spans whose status is an error.
    pub error_only: bool,
    /// Attribute `key=value` pairs the span must all have. A value matches string, integer,
    /// boolean and double attributes by their text.
    pub tags: Vec<(String, String)>,
    /// Earliest span start, nanoseconds since the Unix epoch (inclusive).
    pub start_unix_nano: Option<u64>,
    /// Latest span start, nanoseconds since the Unix epoch (inclusive).
    pub end_unix_nano: Option<u64>,
    /// The most traces to return, newest first (default 20, at most [`TraceQuery::MAX_LIMIT`]).
    pub limit: usize,
}

impl Default for TraceQuery {
    fn default() -> Self {
        TraceQuery {
            service: None,
            operation: None,
            min_duration_nanos: None,
            max_duration_nanos: None,
            error_only: false,
            tags: Vec::new(),
            start_unix_nano: None,
            end_unix_nano: None,
            limit: 20,
        }
    }
}

impl TraceQuery {
    /// The largest `limit` honoured.
    pub const MAX_LIMIT: usize = 1000;

    /// The most distinct `tags` the JSON API and the UI accept in one search (a repeated
    /// condition counts once; the store also ignores repeats).
    pub const MAX_TAGS: usize = 16;

    /// A query matching every trace (newest 20).
    pub fn new() -> Self {
        TraceQuery::default()
    }

    /// Sets the service.
    #[must_use]
    pub fn service(mut self, service: impl Into<String>) -> Self {
        self.service = Some(service.into());
        self
    }

    /// Sets the operation (span name).
    #[must_use]
    pub fn operation(mut self, operation: impl Into<String>) -> Self {
        self.operation = Some(operation.into());
        self
    }

    /// Sets the shortest duration.
    #[must_use]
    pub fn min_duration(mut self, d: std::time::Duration) -> Self {
        self.min_duration_nanos = Some(u64::try_from(d.as_nanos()).unwrap_or(u64::MAX));
        self
    }

    /// Sets the longest duration.
    #[must_use]
    pub fn max_duration(mut self, d: std::time::Duration) -> Self {
        self.max_duration_nanos = Some(u64::try_from(d.as_nanos()).unwrap_or(u64::MAX));
        self
    }

    /// Only error spans.
    #[must_use]
    pub fn error_only(mut self, yes: bool) -> Self {
        self.error_only = yes;
        self
    }

    /// Adds an attribute condition.
    #[must_use]
    pub fn tag(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.tags.push((key.into(), value.into()));
        self
    }

    /// Span start bounds, nanoseconds since the Unix epoch.
    #[must_use]
    pub fn time_range(mut self, start: Option<u64>, end: Option<u64>) -> Self {
        self.start_unix_nano = start;
        self.end_unix_nano = end;
        self
    }

    /// The most traces to return.
    #[must_use]
    pub fn limit(mut self, limit: usize) -> Self {
        self.limit = limit;
        self
    }
}

/// One trace in a search result.
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub struct TraceSummary {
    /// The trace.
    pub trace_id: TraceId,
    /// The root span's service, or the earliest span's when the root has not arrived.
    pub root_service: Arc<str>,
    /// The root span's name (same fallback).
    pub root_name: Arc<str>,
    /// Whether a span without a parent is present.
    pub has_root: bool,
    /// Earliest span start, nanoseconds since the Unix epoch.
    pub start_unix_nano: u64,
    /// Latest span end minus earliest start.
    pub duration_nanos: u64,
    /// Spans stored for the trace.
    pub span_count: usize,
    /// Of those, spans with an error status.
    pub error_count: usize,
    /// Services taking part, with their span counts, sorted by name.
    pub services: Vec<(Arc<str>, usize)>,
}

/// The store's counters.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct StoreStats {
    /// Spans stored now.
    pub spans: usize,
    /// Traces with at least one stored span.
    pub traces: usize,
    /// Bytes the store accounts for now (spans, strings, indexes).
    pub bytes: usize,
    /// The byte budget.
    pub max_bytes: usize,
    /// The span budget.
    pub max_spans: usize,
    /// Spans stored since start.
    pub stored_total: u64,
    /// Spans evicted (budget or retention) since start.
    pub evicted: u64,
    /// Spans refused or rejected since start: invalid ids, or a full ingest queue.
    pub rejected: u64,
    /// Spans waiting in the ingest queue.
    pub queued: usize,
    /// Heap bytes the queued spans hold.
    pub queued_bytes: usize,
    /// The ingest queue's byte budget.
    pub max_queue_bytes: usize,
    /// Distinct interned strings.
    pub strings: usize,
    /// Distinct resources stored (each kept once however many spans and scopes share it).
    pub resources: usize,
    /// Batches whose insertion panicked: each is counted and the store is reset, so ingest goes
    /// on (a panic is a bug; please report it).
    pub writer_panics: u64,
    /// Calls to an [`IngestObserver`](crate::IngestObserver) that panicked (caught and counted;
    /// the span is stored regardless).
    pub observer_panics: u64,
}
