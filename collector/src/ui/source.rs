//! What the UI reads: the [`UiSource`] trait, its data types, and [`MemorySource`].

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;

use parking_lot::RwLock;
use serde::Serialize;
use tracewire::{SpanData, SpanId, TraceId};

use crate::analysis::{AnalysisSpan, HealthAggregator, unix_nanos};

/// One span with everything the span-details panel shows.
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub struct UiSpan {
    /// Ids, service, name, kind, timing and error flag.
    pub span: AnalysisSpan,
    /// Attributes as `(key, value as text)`.
    pub attributes: Vec<(String, String)>,
    /// Events.
    pub events: Vec<UiEvent>,
    /// Links to other spans.
    pub links: Vec<UiLink>,
    /// The status message of a failed span.
    pub status_message: Option<String>,
}

/// An event inside a span.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct UiEvent {
    /// When, ns since the Unix epoch.
    pub time_ns: u64,
    /// The event's name or message.
    pub name: String,
    /// Attributes as `(key, value as text)`.
    pub attributes: Vec<(String, String)>,
}

/// A link from a span to another span.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct UiLink {
    /// The linked trace.
    #[serde(serialize_with = "crate::analysis::ser::trace_id")]
    pub trace_id: TraceId,
    /// The linked span.
    #[serde(serialize_with = "crate::analysis::ser::span_id")]
    pub span_id: SpanId,
    /// Attributes as `(key, value as text)`.
    pub attributes: Vec<(String, String)>,
}

impl UiSpan {
    /// A span with no attributes, events or links.
    pub fn new(span: AnalysisSpan) -> Self {
        UiSpan {
            span,
            attributes: Vec::new(),
            events: Vec::new(),
            links: Vec::new(),
            status_message: None,
        }
    }

    /// Adds an attribute.
    #[must_use]
    pub fn with_attribute(mut self, key: &str, value: &str) -> Self {
        self.attributes.push((key.to_owned(), value.to_owned()));
        self
    }

    /// Adds an event.
    #[must_use]
    pub fn with_event(mut self, time_ns: u64, name: &str) -> Self {
        self.events.push(UiEvent {
            time_ns,
            name: name.to_owned(),
            attributes: Vec::new(),
        });
        self
    }

    /// Adds a link.
    #[must_use]
    pub fn with_link(mut self, trace_id: TraceId, span_id: SpanId) -> Self {
        self.links.push(UiLink {
            trace_id,
            span_id,
            attributes: Vec::new(),
        });
        self
    }

    /// Sets the status message.
    #[must_use]
    pub fn with_status_message(mut self, message: &str) -> Self {
        self.status_message = Some(message.to_owned());
        self
    }

    /// The UI view of a finished span recorded by `service`.
    pub fn from_span_data(data: &SpanData, service: &str) -> Self {
        let kv = |kvs: &[tracewire::KeyValue]| -> Vec<(String, String)> {
            kvs.iter()
                .map(|kv| (kv.key.to_string(), kv.value.to_string()))
                .collect()
        };
        UiSpan {
            span: AnalysisSpan::from_span_data(data, service),
            attributes: kv(&data.attributes),
            events: data
                .events
                .iter()
                .map(|e| UiEvent {
                    time_ns: unix_nanos(e.time),
                    name: e.name.to_string(),
                    attributes: kv(&e.attributes),
                })
                .collect(),
            links: data
                .links
                .iter()
                .map(|l| UiLink {
                    trace_id: l.span_context.trace_id(),
                    span_id: l.span_context.span_id(),
                    attributes: kv(&l.attributes),
                })
                .collect(),
            status_message: match &data.status {
                tracewire::Status::Error { description } if !description.is_empty() => {
                    Some(description.to_string())
                }
                _ => None,
            },
        }
    }
}

/// Search conditions of the search page. A trace matches when one of its spans meets all of
/// them.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct SearchQuery {
    /// The span's service.
    pub service: Option<String>,
    /// The span's name.
    pub operation: Option<String>,
    /// Shortest span duration, ns (inclusive).
    pub min_duration_ns: Option<u64>,
    /// Longest span duration, ns (inclusive).
    pub max_duration_ns: Option<u64>,
    /// Only failed spans.
    pub errors_only: bool,
    /// Attributes `key = value` the span must have.
    pub tags: Vec<(String, String)>,
    /// Most results, newest first.
    pub limit: usize,
}

/// One trace in the results list.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct TraceListItem {
    /// The trace.
    #[serde(serialize_with = "crate::analysis::ser::trace_id")]
    pub trace_id: TraceId,
    /// Service of the root (or earliest) span.
    pub root_service: String,
    /// Name of the root (or earliest) span.
    pub root_name: String,
    /// Earliest start, ns since the Unix epoch.
    pub start_ns: u64,
    /// Latest end minus earliest start.
    pub duration_ns: u64,
    /// Spans in the trace.
    pub span_count: u64,
    /// Failed spans.
    pub error_count: u64,
    /// Services taking part, sorted.
    pub services: Vec<String>,
}

impl TraceListItem {
    /// The list item of a trace's spans (`None` for no spans).
    pub fn summarize(spans: &[UiSpan]) -> Option<Self> {
        let first = spans.first()?;
        let root = spans
            .iter()
            .filter(|s| s.span.parent_span_id.is_none())
            .min_by_key(|s| s.span.start_ns)
            .or_else(|| spans.iter().min_by_key(|s| s.span.start_ns))
            .unwrap_or(first);
        let start = spans.iter().map(|s| s.span.start_ns).min().unwrap_or(0);
        let end = spans
            .iter()
            .map(|s| s.span.end_ns.max(s.span.start_ns))
            .max()
            .unwrap_or(0);
        let mut services: Vec<String> = spans.iter().map(|s| s.span.service.to_string()).collect();
        services.sort();
        services.dedup();
        Some(TraceListItem {
            trace_id: first.span.trace_id,
            root_service: root.span.service.to_string(),
            root_name: root.span.name.to_string(),
            start_ns: start,
            duration_ns: end - start,
            span_count: spans.len() as u64,
            error_count: spans.iter().filter(|s| s.span.is_error).count() as u64,
            services,
        })
    }
}

impl SearchQuery {
    /// Whether one span meets every condition.
    pub fn matches(&self, s: &UiSpan) -> bool {
        let d = s.span.duration_ns();
        self.service
            .as_deref()
            .is_none_or(|v| *s.span.service == *v)
            && self.operation.as_deref().is_none_or(|v| *s.span.name == *v)
            && self.min_duration_ns.is_none_or(|v| d >= v)
            && self.max_duration_ns.is_none_or(|v| d <= v)
            && (!self.errors_only || s.span.is_error)
            && self
                .tags
                .iter()
                .all(|(k, v)| s.attributes.iter().any(|(ak, av)| ak == k && av == v))
    }
}

/// Where the UI's pages and analysis endpoints read traces from.
///
/// The collector's store implements it; [`MemorySource`] is a simple in-memory one. The UI
/// calls it on its query threads, never on the runtime serving requests.
pub trait UiSource: Send + Sync + 'static {
    /// Every span of a trace (empty when unknown).
    fn trace(&self, trace_id: TraceId) -> Vec<UiSpan>;

    /// The analysis view of every span of a trace, for its waterfall (empty when unknown).
    /// The default takes it from [`UiSource::trace`]; a source holding big traces should
    /// produce it without building the attributes.
    fn analysis_spans(&self, trace_id: TraceId) -> Vec<AnalysisSpan> {
        self.trace(trace_id).into_iter().map(|s| s.span).collect()
    }

    /// One span of a trace. The default looks it up in [`UiSource::trace`].
    fn span(&self, trace_id: TraceId, span_id: SpanId) -> Option<UiSpan> {
        self.trace(trace_id)
            .into_iter()
            .find(|s| s.span.span_id == span_id)
    }

    /// Traces with a span matching `query`, newest first, at most `query.limit`.
    fn search(&self, query: &SearchQuery) -> Vec<TraceListItem>;

    /// Known services with their operations, sorted.
    fn services(&self) -> Vec<(String, Vec<String>)>;

    /// Calls `visit` once per trace with its spans, for the service map, and returns whether
    /// every stored trace was visited. A source may visit only a bounded sample (the
    /// collector's store visits its newest traces, up to 100,000 spans).
    fn for_each_trace(&self, visit: &mut dyn FnMut(&[AnalysisSpan])) -> bool;
}

/// An in-memory [`UiSource`] for tests, demos and small embedded uses: traces in a map,
/// optionally feeding a [`HealthAggregator`] as spans are inserted.
///
/// Bounded by a span count (default [`MemorySource::DEFAULT_MAX_SPANS`]): past it, whole traces
/// are evicted oldest first (by when their first span was inserted; never the trace the new
/// span belongs to), and a single trace larger than the bound keeps its first spans. Evicted
/// and refused spans are counted.
///
/// ```
/// use tracewire::{SpanId, TraceId};
/// use tracewire_collector::analysis::AnalysisSpan;
/// use tracewire_collector::ui::{MemorySource, UiSpan};
///
/// let source = MemorySource::with_max_spans(2);
/// for t in 1..=3u128 {
///     let s = AnalysisSpan::new(TraceId::from_u128(t), SpanId::from_u64(1), "api", "GET /", 0, 1);
///     source.insert([UiSpan::new(s)]);
/// }
/// assert_eq!(source.len(), 2);
/// assert_eq!(source.dropped(), 1);
/// ```
#[derive(Debug)]
pub struct MemorySource {
    inner: RwLock<Traces>,
    health: Option<Arc<HealthAggregator>>,
    max_spans: usize,
}

#[derive(Debug, Default)]
struct Traces {
    by_id: HashMap<TraceId, Vec<UiSpan>>,
    /// Trace ids in the order their first span arrived.
    order: VecDeque<TraceId>,
    spans: usize,
    dropped: u64,
}

impl Default for MemorySource {
    fn default() -> Self {
        Self::with_max_spans(Self::DEFAULT_MAX_SPANS)
    }
}

impl MemorySource {
    /// The default bound on stored spans.
    pub const DEFAULT_MAX_SPANS: usize = 100_000;

    /// An empty source holding at most [`MemorySource::DEFAULT_MAX_SPANS`] spans.
    pub fn new() -> Self {
        Self::default()
    }

    /// An empty source holding at most `max_spans` spans.
    pub fn with_max_spans(max_spans: usize) -> Self {
        MemorySource {
            inner: RwLock::default(),
            health: None,
            max_spans,
        }
    }

    /// An empty source that records every inserted span into `health`.
    pub fn with_health(health: Arc<HealthAggregator>) -> Self {
        MemorySource {
            health: Some(health),
            ..Self::default()
        }
    }

    /// Adds spans (of any traces), evicting the oldest traces past the bound.
    pub fn insert(&self, spans: impl IntoIterator<Item = UiSpan>) {
        let mut t = self.inner.write();
        for s in spans {
            if let Some(h) = &self.health {
                h.record(&s.span);
            }
            let id = s.span.trace_id;
            // Trace ids in `order` are distinct, so another trace is there unless `id` is alone.
            while t.spans >= self.max_spans
                && (t.order.len() > 1 || t.order.front().is_some_and(|&o| o != id))
            {
                if t.order.front() == Some(&id) {
                    // The trace growing now is the newest use: keep it, evict the next oldest.
                    t.order.rotate_left(1);
                }
                t.evict_oldest();
            }
            if t.spans >= self.max_spans {
                // Only this trace is left and it is full.
                t.dropped += 1;
                continue;
            }
            let Traces {
                by_id,
                order,
                spans,
                ..
            } = &mut *t;
            by_id
                .entry(id)
                .or_insert_with(|| {
                    order.push_back(id);
                    Vec::new()
                })
                .push(s);
            *spans += 1;
        }
    }

    /// Spans held now.
    pub fn len(&self) -> usize {
        self.inner.read().spans
    }

    /// Whether no span is held.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Spans evicted or refused to stay within the bound, since creation.
    pub fn dropped(&self) -> u64 {
        self.inner.read().dropped
    }
}

impl Traces {
    fn evict_oldest(&mut self) {
        if let Some(id) = self.order.pop_front()
            && let Some(spans) = self.by_id.remove(&id)
        {
            self.spans -= spans.len();
            self.dropped += spans.len() as u64;
        }
    }
}

impl UiSource for MemorySource {
    fn trace(&self, trace_id: TraceId) -> Vec<UiSpan> {
        self.inner
            .read()
            .by_id
            .get(&trace_id)
            .cloned()
            .unwrap_or_default()
    }

    fn search(&self, query: &SearchQuery) -> Vec<TraceListItem> {
        let traces = self.inner.read();
        let mut out: Vec<TraceListItem> = traces
            .by_id
            .values()
            .filter(|spans| spans.iter().any(|s| query.matches(s)))
            .filter_map(|spans| TraceListItem::summarize(spans))
            .collect();
        out.sort_by(|a, b| {
            b.start_ns
                .cmp(&a.start_ns)
                .then(a.trace_id.cmp(&b.trace_id))
        });
        out.truncate(query.limit);
        out
    }

    fn services(&self) -> Vec<(String, Vec<String>)> {
        let traces = self.inner.read();
        let mut map: HashMap<&str, Vec<&str>> = HashMap::new();
        for s in traces.by_id.values().flatten() {
            map.entry(&s.span.service).or_default().push(&s.span.name);
        }
        let mut out: Vec<(String, Vec<String>)> = map
            .into_iter()
            .map(|(svc, mut ops)| {
                ops.sort_unstable();
                ops.dedup();
                (svc.to_owned(), ops.into_iter().map(str::to_owned).collect())
            })
            .collect();
        out.sort();
        out
    }

    fn for_each_trace(&self, visit: &mut dyn FnMut(&[AnalysisSpan])) -> bool {
        let traces = self.inner.read();
        let mut buf = Vec::new();
        for spans in traces.by_id.values() {
            buf.clear();
            buf.extend(spans.iter().map(|s| s.span.clone()));
            visit(&buf);
        }
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn span(trace: u128, id: u64) -> UiSpan {
        UiSpan::new(AnalysisSpan::new(
            TraceId::from_u128(trace),
            SpanId::from_u64(id),
            "api",
            "GET /",
            id,
            id + 1,
        ))
    }

    fn held(s: &MemorySource) -> Vec<(u128, usize)> {
        let mut v: Vec<(u128, usize)> = s
            .inner
            .read()
            .by_id
            .iter()
            .map(|(t, spans)| (t.to_u128(), spans.len()))
            .collect();
        v.sort_unstable();
        v
    }

    #[test]
    fn the_oldest_traces_go_first_but_never_the_one_growing() {
        let s = MemorySource::with_max_spans(4);
        s.insert([span(1, 1), span(2, 1), span(3, 1), span(1, 2)]);
        // Full: trace 1 grows again, so trace 2 (the oldest other) goes.
        s.insert([span(1, 3)]);
        assert_eq!(held(&s), [(1, 3), (3, 1)]);
        s.insert([span(4, 1)]);
        assert_eq!(held(&s), [(1, 3), (4, 1)], "trace 3 was older than 4");
        assert_eq!((s.len(), s.dropped()), (4, 2));
    }

    #[test]
    fn one_trace_larger_than_the_bound_keeps_its_first_spans() {
        let s = MemorySource::with_max_spans(3);
        s.insert((1..=5).map(|i| span(7, i)));
        assert_eq!(held(&s), [(7, 3)]);
        assert_eq!(
            s.trace(TraceId::from_u128(7))[2].span.span_id,
            SpanId::from_u64(3)
        );
        assert_eq!(s.dropped(), 2);
    }
}
