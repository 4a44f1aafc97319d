//! Trace analysis: critical path, waterfall rows, service map and per-operation health.
//!
//! Everything here is pure computation over [`AnalysisSpan`], a small, owned view of one span
//! (ids, service, name, kind, timing, error flag). The store converts what it holds into
//! `AnalysisSpan`s ([`AnalysisSpan::from_span_data`] does it for a [`tracewire::SpanData`]), so
//! the algorithms can be tested on constructed traces and reused by any front end.
//!
//! | Question | Entry point |
//! |---|---|
//! | Which chain of spans made this trace take as long as it did? | [`critical_path()`] |
//! | What does the trace look like as a timeline? | [`waterfall()`] |
//! | Which services call which, how often, how fast, how often failing? | [`ServiceMapBuilder`] |
//! | How is each operation doing over the last minutes, with example traces? | [`HealthAggregator`] |
//!
//! Times are nanoseconds since the Unix epoch; a span whose end is before its start is read as
//! zero-length at its start.
//!
//! ```
//! use tracewire::{SpanId, TraceId};
//! use tracewire_collector::analysis::{critical_path, AnalysisSpan};
//!
//! let t = TraceId::from_u128(1);
//! let root = AnalysisSpan::new(t, SpanId::from_u64(1), "api", "GET /ride", 0, 100);
//! let db = AnalysisSpan::new(t, SpanId::from_u64(2), "api", "SELECT", 10, 70)
//!     .with_parent(SpanId::from_u64(1));
//! let path = critical_path(&[root, db]);
//! let ids: Vec<u64> = path.segments.iter().map(|s| s.span_id.to_u64()).collect();
//! assert_eq!(ids, [1, 2, 1]); // root until 10, the query until 70, the root again until 100
//! assert_eq!(path.total_ns, 100);
//! ```

use std::sync::Arc;

use tracewire::{SpanData, SpanId, SpanKind, TraceId};

mod critical_path;
mod health;
mod histogram;
mod service_map;
mod skew;
mod tree;
mod waterfall;

pub use self::critical_path::{CriticalPath, PathSegment, PathSpan, critical_path};
pub(crate) use self::health::Sample;
pub use self::health::{
    DEFAULT_MAX_NAME_BYTES, Exemplar, HealthAggregator, HealthConfig, HealthCounters,
    OperationHealth, rate_per_second,
};
pub use self::histogram::{LatencyHistogram, LatencySummary};
pub use self::service_map::{ServiceEdge, ServiceMap, ServiceMapBuilder, ServiceNode};
pub use self::waterfall::{Waterfall, WaterfallRow, waterfall};

/// One span as the analysis sees it.
///
/// Build one with [`AnalysisSpan::new`] and the `with_*` methods, or convert a finished span
/// with [`AnalysisSpan::from_span_data`].
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct AnalysisSpan {
    /// The trace the span belongs to.
    pub trace_id: TraceId,
    /// The span's id.
    pub span_id: SpanId,
    /// The parent's id; `None` for a root.
    pub parent_span_id: Option<SpanId>,
    /// The `service.name` of the process that recorded the span.
    pub service: Arc<str>,
    /// The span (operation) name.
    pub name: Arc<str>,
    /// The span's kind.
    pub kind: SpanKind,
    /// Start, in nanoseconds since the Unix epoch.
    pub start_ns: u64,
    /// End, in nanoseconds since the Unix epoch.
    pub end_ns: u64,
    /// Whether the span's status is an error.
    pub is_error: bool,
    /// For a client or producer span, the service it called when the callee may not report
    /// spans itself (`peer.service`, else `db.system`, else `server.address`).
    pub peer_service: Option<Arc<str>>,
}

impl AnalysisSpan {
    /// A root span of kind `Internal`, not an error, with no peer.
    pub fn new(
        trace_id: TraceId,
        span_id: SpanId,
        service: &str,
        name: &str,
        start_ns: u64,
        end_ns: u64,
    ) -> Self {
        AnalysisSpan {
            trace_id,
            span_id,
            parent_span_id: None,
            service: Arc::from(service),
            name: Arc::from(name),
            kind: SpanKind::Internal,
            start_ns,
            end_ns,
            is_error: false,
            peer_service: None,
        }
    }

    /// Sets the parent span id.
    #[must_use]
    pub fn with_parent(mut self, parent: SpanId) -> Self {
        self.parent_span_id = Some(parent);
        self
    }

    /// Sets the kind.
    #[must_use]
    pub fn with_kind(mut self, kind: SpanKind) -> Self {
        self.kind = kind;
        self
    }

    /// Marks the span as failed (or not).
    #[must_use]
    pub fn with_error(mut self, is_error: bool) -> Self {
        self.is_error = is_error;
        self
    }

    /// Sets the called service, for client spans whose callee may be uninstrumented.
    #[must_use]
    pub fn with_peer_service(mut self, peer: &str) -> Self {
        self.peer_service = Some(Arc::from(peer));
        self
    }

    /// The analysis view of a finished span recorded by `service`.
    ///
    /// An invalid parent id means a root; an error [`Status`](tracewire::Status) sets
    /// `is_error`; for client and producer spans the peer comes from the `peer.service`,
    /// `db.system` or `server.address` attribute, the first that is a string.
    pub fn from_span_data(data: &SpanData, service: &str) -> Self {
        let parent = data.parent_span_id;
        let peer_service = peer_of(data.kind, |key| {
            data.attribute(key).and_then(|v| v.as_str())
        });
        AnalysisSpan {
            trace_id: data.span_context.trace_id(),
            span_id: data.span_context.span_id(),
            parent_span_id: parent.is_valid().then_some(parent),
            service: Arc::from(service),
            name: Arc::from(&*data.name),
            kind: data.kind,
            start_ns: unix_nanos(data.start_time),
            end_ns: unix_nanos(data.end_time),
            is_error: data.status.is_error(),
            peer_service,
        }
    }

    /// The analysis view of a span held by the collector's store, with the peer taken from the
    /// same attributes as [`AnalysisSpan::from_span_data`].
    pub fn from_span(s: &crate::model::Span) -> Self {
        let peer_service = peer_of(s.kind(), |key| s.attribute(key).and_then(|v| v.as_str()));
        AnalysisSpan {
            trace_id: s.trace_id(),
            span_id: s.span_id(),
            parent_span_id: s.parent_span_id(),
            service: Arc::from(s.service()),
            name: Arc::from(s.name()),
            kind: s.kind(),
            start_ns: s.start_unix_nano(),
            end_ns: s.end_unix_nano(),
            is_error: s.is_error(),
            peer_service,
        }
    }

    /// The duration in nanoseconds (zero if the end is before the start).
    pub fn duration_ns(&self) -> u64 {
        self.end_ns.saturating_sub(self.start_ns)
    }
}

pub(crate) use tracewire::export::unix_nanos;

/// The service a client or producer span calls, from the first of `peer.service`, `db.system`
/// and `server.address` that is a string.
fn peer_of<'a>(kind: SpanKind, attr: impl Fn(&str) -> Option<&'a str>) -> Option<Arc<str>> {
    match kind {
        SpanKind::Client | SpanKind::Producer => ["peer.service", "db.system", "server.address"]
            .iter()
            .find_map(|key| attr(key))
            .map(Arc::from),
        _ => None,
    }
}

/// Serde helpers: ids as lowercase hex strings, kinds as their lowercase names.
pub(crate) mod ser {
    use serde::Serializer;
    use tracewire::{SpanId, SpanKind, TraceId};

    pub(crate) fn span_id<S: Serializer>(id: &SpanId, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(id)
    }

    pub(crate) fn opt_span_id<S: Serializer>(id: &Option<SpanId>, s: S) -> Result<S::Ok, S::Error> {
        match id {
            Some(id) => s.collect_str(id),
            None => s.serialize_none(),
        }
    }

    /// A time in ns since the Unix epoch as a decimal string (it does not fit a JavaScript
    /// number).
    pub(crate) fn unix_nano<S: Serializer>(ns: &u64, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(ns)
    }

    pub(crate) fn trace_id<S: Serializer>(id: &TraceId, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(id)
    }

    pub(crate) fn arc_str<S: Serializer>(v: &std::sync::Arc<str>, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(v)
    }

    pub(crate) fn arc_strs<S: Serializer>(
        v: &[std::sync::Arc<str>],
        s: S,
    ) -> Result<S::Ok, S::Error> {
        s.collect_seq(v.iter().map(|x| &**x))
    }

    pub(crate) fn kind<S: Serializer>(kind: &SpanKind, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(kind.as_str())
    }
}

#[cfg(test)]
pub(crate) mod test_support {
    //! Compact builders for constructed traces.
    use super::AnalysisSpan;
    use tracewire::{SpanId, SpanKind, TraceId};

    /// Span `id` of trace 1 in service `svc`, child of `parent` (0 = root), over `[start, end]`.
    pub(crate) fn span(id: u64, parent: u64, svc: &str, start: u64, end: u64) -> AnalysisSpan {
        span_in(1, id, parent, svc, start, end)
    }

    /// Like [`span`] in trace `trace`.
    pub(crate) fn span_in(
        trace: u128,
        id: u64,
        parent: u64,
        svc: &str,
        start: u64,
        end: u64,
    ) -> AnalysisSpan {
        let s = AnalysisSpan::new(
            TraceId::from_u128(trace),
            SpanId::from_u64(id),
            svc,
            &format!("op{id}"),
            start,
            end,
        );
        if parent == 0 {
            s
        } else {
            s.with_parent(SpanId::from_u64(parent))
        }
    }

    /// Spans 1 to `n` of service `a`, each the parent of the next, span `i` over
    /// `[i, end - i]`: a chain nested `n` deep.
    pub(crate) fn chain(n: u64, end: u64) -> Vec<AnalysisSpan> {
        (1..=n).map(|i| span(i, i - 1, "a", i, end - i)).collect()
    }

    pub(crate) fn client(s: AnalysisSpan) -> AnalysisSpan {
        s.with_kind(SpanKind::Client)
    }

    pub(crate) fn server(s: AnalysisSpan) -> AnalysisSpan {
        s.with_kind(SpanKind::Server)
    }
}
