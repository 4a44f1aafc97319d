//! The decoded form of spans ([`NewBatch`]) and how many heap bytes it holds.
//!
//! A resource is decoded once per OTLP `ResourceSpans` and shared ([`Arc`]) by every scope's
//! batch under it, so a request's converted size stays proportional to what it decoded to.

use std::borrow::Cow;
use std::mem::size_of;
use std::sync::Arc;

use crate::model::{SpanId, SpanKind, StatusCode, TraceId};

/// A string that is usually `'static` in process and owned when decoded from the wire.
pub(crate) type Str = Cow<'static, str>;

/// A decoded attribute value.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum NewValue {
    Str(Str),
    Bool(bool),
    Int(i64),
    Double(f64),
    /// Arrays, maps and bytes, as JSON text.
    Json(String),
}

/// A decoded event.
#[derive(Clone, Debug)]
pub(crate) struct NewEvent {
    pub(crate) time_unix_nano: u64,
    pub(crate) name: Str,
    pub(crate) attributes: Vec<(Str, NewValue)>,
}

/// A decoded link.
#[derive(Clone, Debug)]
pub(crate) struct NewLink {
    pub(crate) trace_id: TraceId,
    pub(crate) span_id: SpanId,
    pub(crate) attributes: Vec<(Str, NewValue)>,
}

/// A decoded span with valid ids.
#[derive(Clone, Debug)]
pub(crate) struct NewSpan {
    pub(crate) trace_id: TraceId,
    pub(crate) span_id: SpanId,
    pub(crate) parent_span_id: SpanId,
    pub(crate) name: Str,
    pub(crate) kind: SpanKind,
    pub(crate) start_unix_nano: u64,
    pub(crate) end_unix_nano: u64,
    pub(crate) attributes: Vec<(Str, NewValue)>,
    pub(crate) status: StatusCode,
    pub(crate) status_message: Option<String>,
    pub(crate) events: Vec<NewEvent>,
    pub(crate) links: Vec<NewLink>,
    pub(crate) trace_state: Option<String>,
    pub(crate) flags: u32,
    pub(crate) dropped_attributes: u32,
    pub(crate) dropped_events: u32,
    pub(crate) dropped_links: u32,
}

/// A decoded resource, shared by the batches of all its scopes.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct NewResource {
    /// `service.name`, or `unknown_service`.
    pub(crate) service: Str,
    pub(crate) attributes: Vec<(Str, NewValue)>,
    /// Attributes the sender dropped plus those over the collector's cap.
    pub(crate) dropped_attributes: u32,
}

/// The resource and scope shared by a group of spans.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct NewSource {
    pub(crate) resource: Arc<NewResource>,
    pub(crate) scope_name: Str,
    pub(crate) scope_version: Str,
}

/// Spans from one resource and scope.
#[derive(Clone, Debug)]
pub(crate) struct NewBatch {
    pub(crate) source: Arc<NewSource>,
    pub(crate) spans: Vec<NewSpan>,
}

fn str_bytes(s: &Str) -> usize {
    match s {
        Cow::Borrowed(_) => 0,
        Cow::Owned(s) => s.capacity(),
    }
}

fn value_bytes(v: &NewValue) -> usize {
    match v {
        NewValue::Str(s) => str_bytes(s),
        NewValue::Json(s) => s.capacity(),
        NewValue::Bool(_) | NewValue::Int(_) | NewValue::Double(_) => 0,
    }
}

fn attrs_bytes(attrs: &Vec<(Str, NewValue)>) -> usize {
    attrs.capacity() * size_of::<(Str, NewValue)>()
        + attrs
            .iter()
            .map(|(k, v)| str_bytes(k) + value_bytes(v))
            .sum::<usize>()
}

impl NewSpan {
    /// A server span of trace `trace` with id `id`, child of `parent` (0 = root), from
    /// `start` for `dur` nanoseconds, with nothing else set.
    #[cfg(test)]
    pub(crate) fn test(
        trace: u128,
        id: u64,
        parent: u64,
        name: &'static str,
        start: u64,
        dur: u64,
    ) -> Self {
        NewSpan {
            trace_id: TraceId::from_u128(trace),
            span_id: SpanId::from_u64(id),
            parent_span_id: SpanId::from_u64(parent),
            name: Cow::Borrowed(name),
            kind: SpanKind::Server,
            start_unix_nano: start,
            end_unix_nano: start + dur,
            attributes: Vec::new(),
            status: StatusCode::Unset,
            status_message: None,
            events: Vec::new(),
            links: Vec::new(),
            trace_state: None,
            flags: 1,
            dropped_attributes: 0,
            dropped_events: 0,
            dropped_links: 0,
        }
    }

    /// Heap bytes owned by the span (its struct is counted by its vector).
    pub(crate) fn heap_bytes(&self) -> usize {
        str_bytes(&self.name)
            + attrs_bytes(&self.attributes)
            + self.status_message.as_ref().map_or(0, String::capacity)
            + self.trace_state.as_ref().map_or(0, String::capacity)
            + self.events.capacity() * size_of::<NewEvent>()
            + self
                .events
                .iter()
                .map(|e| str_bytes(&e.name) + attrs_bytes(&e.attributes))
                .sum::<usize>()
            + self.links.capacity() * size_of::<NewLink>()
            + self
                .links
                .iter()
                .map(|l| attrs_bytes(&l.attributes))
                .sum::<usize>()
    }
}

impl NewResource {
    /// Bytes of the shared allocation: the `Arc` with its counters and everything it owns.
    pub(crate) fn shared_bytes(&self) -> usize {
        arc_bytes::<NewResource>() + str_bytes(&self.service) + attrs_bytes(&self.attributes)
    }
}

impl NewSource {
    /// Bytes of the shared allocation, not counting the resource it points to.
    pub(crate) fn shared_bytes(&self) -> usize {
        arc_bytes::<NewSource>() + str_bytes(&self.scope_name) + str_bytes(&self.scope_version)
    }
}

/// Bytes of an `Arc<T>`'s allocation: its two counters and the value.
fn arc_bytes<T>() -> usize {
    2 * size_of::<usize>() + size_of::<T>()
}

/// Heap bytes held by `batches` and everything they own, shared sources and resources counted
/// once (batches that share one are adjacent, as the decoder and the exporter produce them).
/// This is what a request costs while it waits in the ingest queue.
pub(crate) fn batches_bytes(batches: &Vec<NewBatch>) -> usize {
    let mut n = batches.capacity() * size_of::<NewBatch>();
    let mut last_source: Option<&Arc<NewSource>> = None;
    let mut last_resource: Option<&Arc<NewResource>> = None;
    for b in batches {
        if !last_source.is_some_and(|s| Arc::ptr_eq(s, &b.source)) {
            n += b.source.shared_bytes();
            last_source = Some(&b.source);
        }
        let resource = &b.source.resource;
        if !last_resource.is_some_and(|r| Arc::ptr_eq(r, resource)) {
            n += resource.shared_bytes();
            last_resource = Some(resource);
        }
        n += b.spans.capacity() * size_of::<NewSpan>();
        n += b.spans.iter().map(NewSpan::heap_bytes).sum::<usize>();
    }
    n
}
