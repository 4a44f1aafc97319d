//! What the store's write path reads from a span, whichever way it arrived: [`IngestSpan`],
//! implemented by the OTLP-decoded [`NewSpan`] and by the [`SpanData`] an in-process export
//! queues as it is. The store packs either straight into its own form, so a span exported in
//! process is never copied into an intermediate model, and a span reads the same whichever way
//! it came (the store's tests check both ways field by field).

use std::borrow::Cow;

use tracewire::export::unix_nanos;
use tracewire::{Array, Event, KeyValue, Link, SpanData, Status, Text, Value};

use super::batch::{NewEvent, NewLink, NewSpan, NewValue, Str};
use crate::model::{SpanId, SpanKind, StatusCode, TraceId};

/// A string as the store interns it: `'static` strings are looked up by their address first,
/// a [`Text`] by its bytes.
#[derive(Clone, Copy, Debug)]
pub(crate) enum StrRef<'a> {
    Static(&'static str),
    Other(&'a str),
    /// A string value exported in process. Its length and bytes are read as they are kept;
    /// `str` access checks a short (inline) text's bytes as UTF-8 on every call, so the write
    /// path asks for it only to keep a string it has not seen (or to cut one).
    Text(&'a Text),
}

impl<'a> StrRef<'a> {
    /// The string (for a [`StrRef::Text`], its bytes checked as UTF-8).
    pub(crate) fn as_str(self) -> &'a str {
        match self {
            StrRef::Static(s) => s,
            StrRef::Other(s) => s,
            StrRef::Text(t) => t.as_str(),
        }
    }

    /// The length in bytes, without checking anything.
    pub(crate) fn len(self) -> usize {
        match self {
            StrRef::Static(s) => s.len(),
            StrRef::Other(s) => s.len(),
            StrRef::Text(t) => t.len(),
        }
    }
}

/// A literal by address (interned without reading it), any other text by its bytes.
impl<'a> From<&'a Text> for StrRef<'a> {
    fn from(t: &'a Text) -> Self {
        match t.as_static() {
            Some(s) => StrRef::Static(s),
            None => StrRef::Text(t),
        }
    }
}

impl<'a> From<&'a Str> for StrRef<'a> {
    fn from(s: &'a Str) -> Self {
        match s {
            Cow::Borrowed(s) => StrRef::Static(s),
            Cow::Owned(s) => StrRef::Other(s),
        }
    }
}

/// An attribute value as the write path reads it.
#[derive(Clone, Copy, Debug)]
pub(crate) enum ValueRef<'a> {
    Str(StrRef<'a>),
    Bool(bool),
    Int(i64),
    Double(f64),
    /// Arrays, maps and bytes already written as JSON text (decoded from OTLP).
    Json(&'a str),
    /// An in-process array, stored as its JSON text ([`array_json`]).
    Array(&'a Array),
    /// A kind of value a later tracewire adds, stored as its text.
    Other(&'a Value),
}

/// A key/value attribute.
pub(crate) trait IngestAttr {
    fn key(&self) -> StrRef<'_>;
    fn value(&self) -> ValueRef<'_>;
}

/// A span event.
pub(crate) trait IngestEvent {
    type Attr: IngestAttr;
    fn time_unix_nano(&self) -> u64;
    fn name(&self) -> &str;
    fn attributes(&self) -> &[Self::Attr];
}

/// A link to another span.
pub(crate) trait IngestLink {
    type Attr: IngestAttr;
    fn trace_id(&self) -> TraceId;
    fn span_id(&self) -> SpanId;
    fn attributes(&self) -> &[Self::Attr];
}

/// A span on its way into the store.
pub(crate) trait IngestSpan {
    type Attr: IngestAttr;
    type Event: IngestEvent<Attr = Self::Attr>;
    type Link: IngestLink<Attr = Self::Attr>;
    fn trace_id(&self) -> TraceId;
    fn span_id(&self) -> SpanId;
    fn parent_span_id(&self) -> SpanId;
    fn name(&self) -> StrRef<'_>;
    fn kind(&self) -> SpanKind;
    fn start_unix_nano(&self) -> u64;
    fn end_unix_nano(&self) -> u64;
    fn attributes(&self) -> &[Self::Attr];
    fn status(&self) -> StatusCode;
    /// The status message; `None` when there is none or it is empty.
    fn status_message(&self) -> Option<&str>;
    fn events(&self) -> &[Self::Event];
    fn links(&self) -> &[Self::Link];
    /// The W3C `tracestate` header value; `None` when empty.
    fn trace_state(&self) -> Option<Cow<'_, str>>;
    /// The W3C trace flags (the low byte of OTLP's `flags`).
    fn flags(&self) -> u8;
    fn dropped_attributes(&self) -> u32;
    fn dropped_events(&self) -> u32;
    fn dropped_links(&self) -> u32;
}

impl IngestAttr for (Str, NewValue) {
    fn key(&self) -> StrRef<'_> {
        (&self.0).into()
    }

    fn value(&self) -> ValueRef<'_> {
        match &self.1 {
            NewValue::Str(s) => ValueRef::Str(s.into()),
            NewValue::Bool(b) => ValueRef::Bool(*b),
            NewValue::Int(i) => ValueRef::Int(*i),
            NewValue::Double(d) => ValueRef::Double(*d),
            NewValue::Json(s) => ValueRef::Json(s),
        }
    }
}

impl IngestEvent for NewEvent {
    type Attr = (Str, NewValue);

    fn time_unix_nano(&self) -> u64 {
        self.time_unix_nano
    }

    fn name(&self) -> &str {
        &self.name
    }

    fn attributes(&self) -> &[Self::Attr] {
        &self.attributes
    }
}

impl IngestLink for NewLink {
    type Attr = (Str, NewValue);

    fn trace_id(&self) -> TraceId {
        self.trace_id
    }

    fn span_id(&self) -> SpanId {
        self.span_id
    }

    fn attributes(&self) -> &[Self::Attr] {
        &self.attributes
    }
}

impl IngestSpan for NewSpan {
    type Attr = (Str, NewValue);
    type Event = NewEvent;
    type Link = NewLink;

    fn trace_id(&self) -> TraceId {
        self.trace_id
    }

    fn span_id(&self) -> SpanId {
        self.span_id
    }

    fn parent_span_id(&self) -> SpanId {
        self.parent_span_id
    }

    fn name(&self) -> StrRef<'_> {
        (&self.name).into()
    }

    fn kind(&self) -> SpanKind {
        self.kind
    }

    fn start_unix_nano(&self) -> u64 {
        self.start_unix_nano
    }

    fn end_unix_nano(&self) -> u64 {
        self.end_unix_nano
    }

    fn attributes(&self) -> &[Self::Attr] {
        &self.attributes
    }

    fn status(&self) -> StatusCode {
        self.status
    }

    fn status_message(&self) -> Option<&str> {
        self.status_message.as_deref().filter(|m| !m.is_empty())
    }

    fn events(&self) -> &[NewEvent] {
        &self.events
    }

    fn links(&self) -> &[NewLink] {
        &self.links
    }

    fn trace_state(&self) -> Option<Cow<'_, str>> {
        self.trace_state
            .as_deref()
            .filter(|t| !t.is_empty())
            .map(Cow::Borrowed)
    }

    fn flags(&self) -> u8 {
        self.flags as u8
    }

    fn dropped_attributes(&self) -> u32 {
        self.dropped_attributes
    }

    fn dropped_events(&self) -> u32 {
        self.dropped_events
    }

    fn dropped_links(&self) -> u32 {
        self.dropped_links
    }
}

impl IngestAttr for KeyValue {
    fn key(&self) -> StrRef<'_> {
        (&self.key).into()
    }

    fn value(&self) -> ValueRef<'_> {
        match &self.value {
            Value::Bool(b) => ValueRef::Bool(*b),
            Value::I64(i) => ValueRef::Int(*i),
            Value::F64(d) => ValueRef::Double(*d),
            Value::String(t) => ValueRef::Str(t.into()),
            Value::Array(a) => ValueRef::Array(a),
            other => ValueRef::Other(other),
        }
    }
}

impl IngestEvent for Event {
    type Attr = KeyValue;

    fn time_unix_nano(&self) -> u64 {
        unix_nanos(self.time)
    }

    fn name(&self) -> &str {
        &self.name
    }

    fn attributes(&self) -> &[KeyValue] {
        &self.attributes
    }
}

impl IngestLink for Link {
    type Attr = KeyValue;

    fn trace_id(&self) -> TraceId {
        self.span_context.trace_id()
    }

    fn span_id(&self) -> SpanId {
        self.span_context.span_id()
    }

    fn attributes(&self) -> &[KeyValue] {
        &self.attributes
    }
}

impl IngestSpan for SpanData {
    type Attr = KeyValue;
    type Event = Event;
    type Link = Link;

    fn trace_id(&self) -> TraceId {
        self.span_context.trace_id()
    }

    fn span_id(&self) -> SpanId {
        self.span_context.span_id()
    }

    fn parent_span_id(&self) -> SpanId {
        self.parent_span_id
    }

    fn name(&self) -> StrRef<'_> {
        (&self.name).into()
    }

    fn kind(&self) -> SpanKind {
        self.kind
    }

    fn start_unix_nano(&self) -> u64 {
        unix_nanos(self.start_time)
    }

    fn end_unix_nano(&self) -> u64 {
        unix_nanos(self.end_time)
    }

    fn attributes(&self) -> &[KeyValue] {
        &self.attributes
    }

    fn status(&self) -> StatusCode {
        match &self.status {
            Status::Ok => StatusCode::Ok,
            Status::Error { .. } => StatusCode::Error,
            // `Status` is non-exhaustive: a future kind reads as unset.
            _ => StatusCode::Unset,
        }
    }

    fn status_message(&self) -> Option<&str> {
        match &self.status {
            Status::Error { description } if !description.is_empty() => Some(description),
            _ => None,
        }
    }

    fn events(&self) -> &[Event] {
        &self.events
    }

    fn links(&self) -> &[Link] {
        &self.links
    }

    fn trace_state(&self) -> Option<Cow<'_, str>> {
        let state = self.span_context.trace_state();
        (!state.is_empty()).then(|| Cow::Owned(state.header()))
    }

    fn flags(&self) -> u8 {
        self.span_context.flags().to_u8()
    }

    fn dropped_attributes(&self) -> u32 {
        self.dropped_attributes
    }

    fn dropped_events(&self) -> u32 {
        self.dropped_events
    }

    fn dropped_links(&self) -> u32 {
        self.dropped_links
    }
}

/// An array as the store keeps arrays: JSON text, written exactly as the OTLP receiver writes an
/// `ArrayValue` (a float that JSON cannot hold becomes its text, e.g. `"NaN"`), so a span reads
/// the same whichever way it arrived.
pub(crate) fn array_json(a: &Array) -> String {
    use serde_json::Value as J;
    let items: Vec<J> = match a {
        Array::Bool(v) => v.iter().map(|b| J::Bool(*b)).collect(),
        Array::I64(v) => v.iter().map(|i| J::from(*i)).collect(),
        Array::F64(v) => v
            .iter()
            .map(|d| {
                serde_json::Number::from_f64(*d).map_or_else(|| J::String(d.to_string()), J::Number)
            })
            .collect(),
        Array::String(v) => v.iter().map(|s| J::String(s.as_str().to_owned())).collect(),
        // `Array` is non-exhaustive: a future kind is kept as its text.
        other => return other.to_string(),
    };
    J::Array(items).to_string()
}
