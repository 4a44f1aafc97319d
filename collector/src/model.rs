//! The stored-span model as readers see it: [`Span`], its [`Attribute`]s, [`SpanEvent`]s and
//! [`SpanLink`]s, and the [`IngestedSpan`] handed to [`IngestObserver`]s.
//!
//! Inside the store spans are kept compactly (interned strings, packed attributes); every read
//! resolves them into these owned types, whose strings are cheap `Arc<str>` clones of the
//! store's interned copies. Everything here is plain data with read accessors.

use std::fmt;
use std::sync::Arc;

pub use tracewire::{SpanId, SpanKind, TraceId};

/// An attribute value.
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub enum AttrValue {
    /// A string.
    String(Arc<str>),
    /// A boolean.
    Bool(bool),
    /// A 64-bit signed integer.
    Int(i64),
    /// A double.
    Double(f64),
    /// An array, key/value list or bytes value, kept as its JSON text (bytes as a base16
    /// string), since the store does not search inside them.
    Json(Arc<str>),
}

impl AttrValue {
    /// The string, if this is a string value.
    pub fn as_str(&self) -> Option<&str> {
        match self {
            AttrValue::String(s) => Some(s),
            _ => None,
        }
    }

    /// The integer, if this is an integer value.
    pub fn as_i64(&self) -> Option<i64> {
        match self {
            AttrValue::Int(v) => Some(*v),
            _ => None,
        }
    }

    /// The value as JSON.
    pub fn to_json(&self) -> serde_json::Value {
        match self {
            AttrValue::String(s) => serde_json::Value::String(s.to_string()),
            AttrValue::Bool(b) => serde_json::Value::Bool(*b),
            AttrValue::Int(i) => serde_json::Value::from(*i),
            AttrValue::Double(d) => serde_json::Number::from_f64(*d)
                .map(serde_json::Value::Number)
                .unwrap_or_else(|| serde_json::Value::String(d.to_string())),
            AttrValue::Json(s) => {
                serde_json::from_str(s).unwrap_or_else(|_| serde_json::Value::String(s.to_string()))
            }
        }
    }
}

impl fmt::Display for AttrValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AttrValue::String(s) | AttrValue::Json(s) => f.write_str(s),
            AttrValue::Bool(v) => write!(f, "{v}"),
            AttrValue::Int(v) => write!(f, "{v}"),
            AttrValue::Double(v) => write!(f, "{v}"),
        }
    }
}

/// A key/value attribute of a span, event, link or resource.
#[derive(Clone, Debug, PartialEq)]
pub struct Attribute {
    /// The key, e.g. `http.request.method`.
    pub key: Arc<str>,
    /// The value.
    pub value: AttrValue,
}

/// A span's status code, as OTLP defines it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
#[non_exhaustive]
pub enum StatusCode {
    /// Not set.
    #[default]
    Unset,
    /// Explicitly successful.
    Ok,
    /// Failed.
    Error,
}

impl StatusCode {
    /// The lowercase name: `unset`, `ok` or `error`.
    pub fn as_str(self) -> &'static str {
        match self {
            StatusCode::Unset => "unset",
            StatusCode::Ok => "ok",
            StatusCode::Error => "error",
        }
    }

    pub(crate) fn to_u8(self) -> u8 {
        match self {
            StatusCode::Unset => 0,
            StatusCode::Ok => 1,
            StatusCode::Error => 2,
        }
    }

    pub(crate) fn from_u8(v: u8) -> Self {
        match v {
            1 => StatusCode::Ok,
            2 => StatusCode::Error,
            _ => StatusCode::Unset,
        }
    }
}

pub(crate) fn kind_to_u8(kind: SpanKind) -> u8 {
    match kind {
        SpanKind::Server => 1,
        SpanKind::Client => 2,
        SpanKind::Producer => 3,
        SpanKind::Consumer => 4,
        _ => 0,
    }
}

pub(crate) fn kind_from_u8(v: u8) -> SpanKind {
    match v {
        1 => SpanKind::Server,
        2 => SpanKind::Client,
        3 => SpanKind::Producer,
        4 => SpanKind::Consumer,
        _ => SpanKind::Internal,
    }
}

/// A timestamped event inside a span.
#[derive(Clone, Debug, PartialEq)]
pub struct SpanEvent {
    /// When it happened, in nanoseconds since the Unix epoch.
    pub time_unix_nano: u64,
    /// The event's name.
    pub name: Arc<str>,
    /// Its attributes.
    pub attributes: Vec<Attribute>,
}

/// A link from a span to another span.
#[derive(Clone, Debug, PartialEq)]
pub struct SpanLink {
    /// The linked span's trace.
    pub trace_id: TraceId,
    /// The linked span.
    pub span_id: SpanId,
    /// Attributes describing the link.
    pub attributes: Vec<Attribute>,
}

/// The instrumentation scope (library) that produced a span.
#[derive(Clone, Debug, PartialEq, Default)]
pub struct Scope {
    /// The scope's name, e.g. `tracewire` or `opentelemetry.instrumentation.flask`.
    pub name: Arc<str>,
    /// Its version, empty when unknown.
    pub version: Arc<str>,
}

/// One stored span, resolved for reading.
///
/// Times are nanoseconds since the Unix epoch. A span whose `end` is before its `start` (a
/// clock step) reports a zero [`Span::duration_nanos`].
#[derive(Clone, Debug, PartialEq)]
pub struct Span {
    pub(crate) trace_id: TraceId,
    pub(crate) span_id: SpanId,
    pub(crate) parent_span_id: SpanId,
    pub(crate) service: Arc<str>,
    pub(crate) name: Arc<str>,
    pub(crate) kind: SpanKind,
    pub(crate) start_unix_nano: u64,
    pub(crate) end_unix_nano: u64,
    pub(crate) status: StatusCode,
    pub(crate) status_message: Option<Arc<str>>,
    pub(crate) attributes: Vec<Attribute>,
    pub(crate) resource: Arc<[Attribute]>,
    pub(crate) resource_dropped_attributes: u32,
    pub(crate) scope: Scope,
    pub(crate) events: Vec<SpanEvent>,
    pub(crate) links: Vec<SpanLink>,
    pub(crate) trace_state: Option<Arc<str>>,
    pub(crate) flags: u32,
    pub(crate) dropped_attributes: u32,
    pub(crate) dropped_events: u32,
    pub(crate) dropped_links: u32,
}

impl Span {
    /// A span of `trace_id` with every other field empty.
    pub(crate) fn empty(trace_id: TraceId) -> Span {
        let empty: Arc<str> = Arc::from("");
        Span {
            trace_id,
            span_id: SpanId::INVALID,
            parent_span_id: SpanId::INVALID,
            service: empty.clone(),
            name: empty,
            kind: SpanKind::Internal,
            start_unix_nano: 0,
            end_unix_nano: 0,
            status: StatusCode::Unset,
            status_message: None,
            attributes: Vec::new(),
            resource: Arc::from(Vec::new()),
            resource_dropped_attributes: 0,
            scope: Scope::default(),
            events: Vec::new(),
            links: Vec::new(),
            trace_state: None,
            flags: 0,
            dropped_attributes: 0,
            dropped_events: 0,
            dropped_links: 0,
        }
    }

    /// The trace this span belongs to.
    pub fn trace_id(&self) -> TraceId {
        self.trace_id
    }

    /// The span's id.
    pub fn span_id(&self) -> SpanId {
        self.span_id
    }

    /// The parent's id, or `None` for a root span.
    pub fn parent_span_id(&self) -> Option<SpanId> {
        self.parent_span_id
            .is_valid()
            .then_some(self.parent_span_id)
    }

    /// The producing service (`service.name` of the resource).
    pub fn service(&self) -> &str {
        &self.service
    }

    /// The span's name (the operation).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The span's kind.
    pub fn kind(&self) -> SpanKind {
        self.kind
    }

    /// Start time, nanoseconds since the Unix epoch.
    pub fn start_unix_nano(&self) -> u64 {
        self.start_unix_nano
    }

    /// End time, nanoseconds since the Unix epoch.
    pub fn end_unix_nano(&self) -> u64 {
        self.end_unix_nano
    }

    /// `end - start`, or zero if the end precedes the start.
    pub fn duration_nanos(&self) -> u64 {
        self.end_unix_nano.saturating_sub(self.start_unix_nano)
    }

    /// The status code.
    pub fn status(&self) -> StatusCode {
        self.status
    }

    /// The status message, if any.
    pub fn status_message(&self) -> Option<&str> {
        self.status_message.as_deref()
    }

    /// Whether the span's status is an error.
    pub fn is_error(&self) -> bool {
        self.status == StatusCode::Error
    }

    /// The span's attributes, in the order received (after the per-span cap).
    pub fn attributes(&self) -> &[Attribute] {
        &self.attributes
    }

    /// The value of attribute `key`, if present.
    pub fn attribute(&self, key: &str) -> Option<&AttrValue> {
        self.attributes
            .iter()
            .find(|a| &*a.key == key)
            .map(|a| &a.value)
    }

    /// The resource's attributes (shared by every span of the same resource).
    pub fn resource(&self) -> &[Attribute] {
        &self.resource
    }

    /// Resource attributes dropped by the sender or over the collector's cap (128 per resource).
    pub fn dropped_resource_attributes(&self) -> u32 {
        self.resource_dropped_attributes
    }

    /// The instrumentation scope.
    pub fn scope(&self) -> &Scope {
        &self.scope
    }

    /// The span's events.
    pub fn events(&self) -> &[SpanEvent] {
        &self.events
    }

    /// The span's links.
    pub fn links(&self) -> &[SpanLink] {
        &self.links
    }

    /// The W3C `tracestate`, if any was sent.
    pub fn trace_state(&self) -> Option<&str> {
        self.trace_state.as_deref()
    }

    /// The OTLP span flags (W3C trace flags in the low byte).
    pub fn flags(&self) -> u32 {
        self.flags
    }

    /// Attributes dropped by the sender or over the collector's per-span cap.
    pub fn dropped_attributes(&self) -> u32 {
        self.dropped_attributes
    }

    /// Events dropped by the sender or over the collector's cap.
    pub fn dropped_events(&self) -> u32 {
        self.dropped_events
    }

    /// Links dropped by the sender or over the collector's cap.
    pub fn dropped_links(&self) -> u32 {
        self.dropped_links
    }
}

/// What an [`IngestObserver`] sees of each newly stored span.
#[derive(Clone, Copy, Debug, PartialEq)]
#[non_exhaustive]
pub struct IngestedSpan<'a> {
    /// The span's trace.
    pub trace_id: TraceId,
    /// The span's id.
    pub span_id: SpanId,
    /// The parent's id, [`SpanId::INVALID`] for a root.
    pub parent_span_id: SpanId,
    /// The producing service.
    pub service: &'a str,
    /// The span's name (the operation).
    pub name: &'a str,
    /// The span's kind.
    pub kind: SpanKind,
    /// Start, nanoseconds since the Unix epoch.
    pub start_unix_nano: u64,
    /// End, nanoseconds since the Unix epoch.
    pub end_unix_nano: u64,
    /// Whether the status is an error.
    pub error: bool,
}

impl IngestedSpan<'_> {
    /// `end - start`, or zero if the end precedes the start.
    pub fn duration_nanos(&self) -> u64 {
        self.end_unix_nano.saturating_sub(self.start_unix_nano)
    }
}

/// Sees every span as it is stored, on the store's writer thread, in ingest order.
///
/// Used to keep incremental aggregates (per-operation latency and error rates, say) without
/// scanning the store. Calls happen while the writer holds the store, so implementations must be
/// quick and must not call back into the collector's query methods. Closures of the shape
/// `Fn(&IngestedSpan<'_>)` implement it.
///
/// ```
/// use std::sync::Arc;
/// use std::sync::atomic::{AtomicU64, Ordering};
/// use tracewire_collector::{Collector, IngestedSpan};
///
/// let errors = Arc::new(AtomicU64::new(0));
/// let seen = errors.clone();
/// let builder = Collector::builder().observer(move |span: &IngestedSpan<'_>| {
///     if span.error {
///         seen.fetch_add(1, Ordering::Relaxed);
///     }
/// });
/// # drop(builder);
/// ```
pub trait IngestObserver: Send + Sync + 'static {
    /// Called once for each span after it is stored.
    fn on_span(&self, span: &IngestedSpan<'_>);
}

impl<F> IngestObserver for F
where
    F: Fn(&IngestedSpan<'_>) + Send + Sync + 'static,
{
    fn on_span(&self, span: &IngestedSpan<'_>) {
        self(span)
    }
}

/// A span for unit tests: ids from integers (parent 0 = root), start time in nanoseconds, 1 ns
/// long.
#[cfg(test)]
pub(crate) fn test_span(trace_id: TraceId, id: u64, parent: u64, start: u64) -> Span {
    let mut s = Span::empty(trace_id);
    s.span_id = SpanId::from_u64(id);
    s.parent_span_id = SpanId::from_u64(parent);
    s.start_unix_nano = start;
    s.end_unix_nano = start + 1;
    s
}
