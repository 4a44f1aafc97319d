//! Finished spans as the export pipeline sees them: [`SpanData`] and its parts.

use std::borrow::Cow;
use std::fmt;
use std::hash::{Hash, Hasher};
use std::sync::Arc;
use std::time::SystemTime;

use crate::context::SpanContext;
use crate::id::SpanId;

/// A string attribute value that does not allocate when it is short.
///
/// Most attribute values are a few bytes (`GET`, `http`, `/rides/{id}`, `127.0.0.1`); they are
/// kept inline (up to 30 bytes), so recording them costs no heap allocation — and no
/// cross-thread free when the export worker drops the span. Static strings are kept by
/// reference; longer ones are shared (`Arc<str>`), so cloning never copies them.
///
/// ```
/// use tracewire::Text;
///
/// let t = Text::new("GET");
/// assert_eq!(t.as_str(), "GET");
/// assert_eq!(t, Text::from("GET"));
/// assert_eq!(Text::new(&"x".repeat(100)).len(), 100);
/// ```
#[derive(Clone)]
pub struct Text(TextRepr);

const INLINE: usize = 30;

#[derive(Clone)]
enum TextRepr {
    Static(&'static str),
    Inline { len: u8, buf: [u8; INLINE] },
    Shared(Arc<str>),
}

impl Text {
    /// A copy of `s`, inline when it is short.
    pub fn new(s: &str) -> Self {
        if s.len() <= INLINE {
            let mut buf = [0u8; INLINE];
            buf[..s.len()].copy_from_slice(s.as_bytes());
            Text(TextRepr::Inline {
                len: s.len() as u8,
                buf,
            })
        } else {
            Text(TextRepr::Shared(Arc::from(s)))
        }
    }

    /// The string.
    pub fn as_str(&self) -> &str {
        match &self.0 {
            TextRepr::Static(s) => s,
            // Only whole `str`s are copied in, so the bytes are valid UTF-8.
            TextRepr::Inline { len, buf } => {
                std::str::from_utf8(&buf[..*len as usize]).unwrap_or("")
            }
            TextRepr::Shared(s) => s,
        }
    }

    /// The string as a `Cow` (borrowed when static, else owned).
    pub fn into_cow(self) -> Cow<'static, str> {
        match self.0 {
            TextRepr::Static(s) => Cow::Borrowed(s),
            _ => Cow::Owned(self.as_str().to_owned()),
        }
    }
}

impl std::ops::Deref for Text {
    type Target = str;

    fn deref(&self) -> &str {
        self.as_str()
    }
}

impl AsRef<str> for Text {
    fn as_ref(&self) -> &str {
        self.as_str()
    }
}

impl PartialEq for Text {
    fn eq(&self, other: &Self) -> bool {
        self.as_str() == other.as_str()
    }
}

impl Eq for Text {}

impl PartialEq<str> for Text {
    fn eq(&self, other: &str) -> bool {
        self.as_str() == other
    }
}

impl PartialEq<&str> for Text {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
}

impl Hash for Text {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.as_str().hash(state);
    }
}

impl fmt::Debug for Text {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self.as_str(), f)
    }
}

impl fmt::Display for Text {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl From<&'static str> for Text {
    fn from(s: &'static str) -> Self {
        Text(TextRepr::Static(s))
    }
}

impl From<String> for Text {
    fn from(s: String) -> Self {
        if s.len() <= INLINE {
            Text::new(&s)
        } else {
            Text(TextRepr::Shared(Arc::from(s)))
        }
    }
}

impl From<Cow<'static, str>> for Text {
    fn from(s: Cow<'static, str>) -> Self {
        match s {
            Cow::Borrowed(s) => Text::from(s),
            Cow::Owned(s) => Text::from(s),
        }
    }
}

/// An attribute value.
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub enum Value {
    /// A boolean.
    Bool(bool),
    /// A signed integer.
    I64(i64),
    /// A float.
    F64(f64),
    /// A string.
    String(Text),
}

impl Value {
    /// The string, if this is a string value.
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::String(s) => Some(s.as_str()),
            _ => None,
        }
    }

    /// The integer, if this is an integer value.
    pub fn as_i64(&self) -> Option<i64> {
        match self {
            Value::I64(v) => Some(*v),
            _ => None,
        }
    }
}

impl fmt::Display for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Value::Bool(v) => write!(f, "{v}"),
            Value::I64(v) => write!(f, "{v}"),
            Value::F64(v) => write!(f, "{v}"),
            Value::String(v) => f.write_str(v.as_str()),
        }
    }
}

impl From<bool> for Value {
    fn from(v: bool) -> Self {
        Value::Bool(v)
    }
}

impl From<i64> for Value {
    fn from(v: i64) -> Self {
        Value::I64(v)
    }
}

impl From<f64> for Value {
    fn from(v: f64) -> Self {
        Value::F64(v)
    }
}

impl From<&'static str> for Value {
    fn from(v: &'static str) -> Self {
        Value::String(Text::from(v))
    }
}

impl From<String> for Value {
    fn from(v: String) -> Self {
        Value::String(Text::from(v))
    }
}

impl From<Text> for Value {
    fn from(v: Text) -> Self {
        Value::String(v)
    }
}

/// A key/value attribute.
#[derive(Clone, Debug, PartialEq)]
pub struct KeyValue {
    /// The key, e.g. `http.request.method`.
    pub key: Cow<'static, str>,
    /// The value.
    pub value: Value,
}

impl KeyValue {
    /// An attribute.
    pub fn new(key: impl Into<Cow<'static, str>>, value: impl Into<Value>) -> Self {
        KeyValue {
            key: key.into(),
            value: value.into(),
        }
    }
}

/// The role of a span in a request, as OpenTelemetry defines it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
#[non_exhaustive]
pub enum SpanKind {
    /// Work inside one process (the default).
    #[default]
    Internal,
    /// The server side of a remote call.
    Server,
    /// The client side of a remote call.
    Client,
    /// The sending side of an asynchronous message.
    Producer,
    /// The receiving side of an asynchronous message.
    Consumer,
}

impl SpanKind {
    /// Parses the `otel.kind` field's value (case-insensitive).
    pub fn parse(s: &str) -> Option<SpanKind> {
        Some(match s.to_ascii_lowercase().as_str() {
            "internal" => SpanKind::Internal,
            "server" => SpanKind::Server,
            "client" => SpanKind::Client,
            "producer" => SpanKind::Producer,
            "consumer" => SpanKind::Consumer,
            _ => return None,
        })
    }

    /// The lowercase name.
    pub fn as_str(self) -> &'static str {
        match self {
            SpanKind::Internal => "internal",
            SpanKind::Server => "server",
            SpanKind::Client => "client",
            SpanKind::Producer => "producer",
            SpanKind::Consumer => "consumer",
        }
    }
}

/// The outcome of a span.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum Status {
    /// Not set: the default, and what a successful server span keeps.
    #[default]
    Unset,
    /// Explicitly marked successful.
    Ok,
    /// Failed.
    Error {
        /// A human-readable description.
        description: Cow<'static, str>,
    },
}

impl Status {
    /// An error status with a description.
    pub fn error(description: impl Into<Cow<'static, str>>) -> Self {
        Status::Error {
            description: description.into(),
        }
    }

    /// Whether this is an error.
    pub fn is_error(&self) -> bool {
        matches!(self, Status::Error { .. })
    }
}

/// A timestamped event recorded inside a span (a `tracing` event).
#[derive(Clone, Debug, PartialEq)]
pub struct Event {
    /// The event's message.
    pub name: Cow<'static, str>,
    /// When it happened.
    pub time: SystemTime,
    /// Its fields.
    pub attributes: Vec<KeyValue>,
}

/// A link to another span, e.g. the inbound context of a request that started a new trace.
#[derive(Clone, Debug, PartialEq)]
pub struct Link {
    /// The linked span.
    pub span_context: SpanContext,
    /// Attributes describing the link.
    pub attributes: Vec<KeyValue>,
}

/// A finished span, handed to exporters.
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub struct SpanData {
    /// The span's own context.
    pub span_context: SpanContext,
    /// The parent's span id, or [`SpanId::INVALID`] for a root.
    pub parent_span_id: SpanId,
    /// Whether the parent lives in another process.
    pub parent_is_remote: bool,
    /// The span's kind.
    pub kind: SpanKind,
    /// The span's name (the `otel.name` field if set, else the `tracing` span name).
    pub name: Cow<'static, str>,
    /// The `tracing` target (usually the module path) that created the span.
    pub target: Cow<'static, str>,
    /// When the span started.
    pub start_time: SystemTime,
    /// When the span ended.
    pub end_time: SystemTime,
    /// Attributes, in recording order.
    pub attributes: Vec<KeyValue>,
    /// Attributes dropped over the per-span cap.
    pub dropped_attributes: u32,
    /// Events, in recording order.
    pub events: Vec<Event>,
    /// Events dropped over the per-span cap.
    pub dropped_events: u32,
    /// Links to other spans.
    pub links: Vec<Link>,
    /// The outcome.
    pub status: Status,
}

impl SpanData {
    /// A span with the given context and name, starting and ending now, with everything else
    /// empty. Useful for exporters' tests; the `tracing` layer fills every field.
    pub fn new(span_context: SpanContext, name: impl Into<Cow<'static, str>>) -> Self {
        let now = SystemTime::now();
        SpanData {
            span_context,
            parent_span_id: SpanId::INVALID,
            parent_is_remote: false,
            kind: SpanKind::Internal,
            name: name.into(),
            target: Cow::Borrowed(""),
            start_time: now,
            end_time: now,
            attributes: Vec::new(),
            dropped_attributes: 0,
            events: Vec::new(),
            dropped_events: 0,
            links: Vec::new(),
            status: Status::Unset,
        }
    }

    /// The value of attribute `key`, if recorded.
    pub fn attribute(&self, key: &str) -> Option<&Value> {
        self.attributes
            .iter()
            .find(|kv| kv.key == key)
            .map(|kv| &kv.value)
    }

    /// The span's duration (zero if the clock went backwards).
    pub fn duration(&self) -> std::time::Duration {
        self.end_time
            .duration_since(self.start_time)
            .unwrap_or_default()
    }
}
