//! Finished spans as the export pipeline sees them: [`SpanData`] and its parts.

use std::borrow::Cow;
use std::time::SystemTime;

use crate::context::SpanContext;
use crate::id::SpanId;
use crate::value::{KeyValue, Text, Value};

/// Every kind, the most common first.
const KINDS: [SpanKind; 5] = [
    SpanKind::Server,
    SpanKind::Client,
    SpanKind::Internal,
    SpanKind::Producer,
    SpanKind::Consumer,
];

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
        // The lowercase names (what the plugins declare) first, by plain comparison; any other
        // case compared in place, with no lowercased copy of the value.
        KINDS
            .into_iter()
            .find(|kind| kind.as_str() == s)
            .or_else(|| {
                KINDS
                    .into_iter()
                    .find(|kind| kind.as_str().eq_ignore_ascii_case(s))
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
#[non_exhaustive]
pub struct Event {
    /// The event's message: inline when short (up to 30 bytes), a call-site literal by
    /// reference, so recording one allocates nothing and the export thread frees nothing.
    pub name: Text,
    /// When it happened.
    pub time: SystemTime,
    /// Its fields.
    pub attributes: Vec<KeyValue>,
    /// Attributes dropped over the per-event cap.
    pub dropped_attributes: u32,
}

impl Event {
    /// An event with nothing dropped.
    pub fn new(name: impl Into<Text>, time: SystemTime, attributes: Vec<KeyValue>) -> Self {
        Event {
            name: name.into(),
            time,
            attributes,
            dropped_attributes: 0,
        }
    }
}

/// A link to another span, e.g. the inbound context of a request that started a new trace.
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub struct Link {
    /// The linked span.
    pub span_context: SpanContext,
    /// Attributes describing the link.
    pub attributes: Vec<KeyValue>,
    /// Attributes dropped over the per-link cap.
    pub dropped_attributes: u32,
}

impl Link {
    /// A link with nothing dropped.
    pub fn new(span_context: SpanContext, attributes: Vec<KeyValue>) -> Self {
        Link {
            span_context,
            attributes,
            dropped_attributes: 0,
        }
    }
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
    /// The span's name (the `otel.name` field if set, else the `tracing` span name). A [`Text`]:
    /// a name recorded at run time (`otel.name`, such as `GET /users/{id}`) is kept inline when
    /// short, so it is neither allocated on the thread that records the span nor freed on the
    /// one that exports it.
    pub name: Text,
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
    /// Links dropped over the per-span cap.
    pub dropped_links: u32,
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
            name: Text::from(name.into()),
            target: Cow::Borrowed(""),
            start_time: now,
            end_time: now,
            attributes: Vec::new(),
            dropped_attributes: 0,
            events: Vec::new(),
            dropped_events: 0,
            links: Vec::new(),
            dropped_links: 0,
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

#[cfg(test)]
mod tests {
    use super::SpanKind;

    #[test]
    fn kinds_parse_in_any_case_and_nothing_else_does() {
        for kind in [
            SpanKind::Internal,
            SpanKind::Server,
            SpanKind::Client,
            SpanKind::Producer,
            SpanKind::Consumer,
        ] {
            let name = kind.as_str();
            assert_eq!(SpanKind::parse(name), Some(kind));
            assert_eq!(SpanKind::parse(&name.to_ascii_uppercase()), Some(kind));
            let mixed: String = name
                .chars()
                .enumerate()
                .map(|(i, c)| {
                    if i % 2 == 0 {
                        c.to_ascii_uppercase()
                    } else {
                        c
                    }
                })
                .collect();
            assert_eq!(SpanKind::parse(&mixed), Some(kind), "{mixed}");
        }
        for not_a_kind in [
            "", "serv", "servers", " server", "server ", "clíent", "SERVER\0",
        ] {
            assert_eq!(SpanKind::parse(not_a_kind), None, "{not_a_kind:?}");
        }
    }
}
