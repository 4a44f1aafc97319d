//! Spans exported in process, queued as the pipeline built them ([`SpanData`]), and the heap
//! bytes they hold while they wait in the ingest queue.

use std::borrow::Cow;
use std::mem::size_of;

use tracewire::{Array, Event, KeyValue, Link, SpanData, Text, TraceState, Value};

use crate::store::alloc_bytes;

#[expect(
    clippy::ptr_arg,
    reason = "whether the string is owned is what is counted"
)]
fn cow_bytes(s: &Cow<'static, str>) -> usize {
    match s {
        Cow::Borrowed(_) => 0,
        Cow::Owned(s) => alloc_bytes(s.capacity()),
    }
}

/// A shared text's allocation, counted for each span that holds it (an upper bound).
fn text_bytes(t: &Text) -> usize {
    alloc_bytes(t.heap_bytes())
}

fn value_bytes(v: &Value) -> usize {
    match v {
        Value::Bool(_) | Value::I64(_) | Value::F64(_) => 0,
        Value::String(t) => text_bytes(t),
        Value::Array(Array::Bool(v)) => alloc_bytes(v.capacity()),
        Value::Array(Array::I64(v)) => alloc_bytes(v.capacity() * size_of::<i64>()),
        Value::Array(Array::F64(v)) => alloc_bytes(v.capacity() * size_of::<f64>()),
        Value::Array(Array::String(v)) => {
            alloc_bytes(v.capacity() * size_of::<Text>()) + v.iter().map(text_bytes).sum::<usize>()
        }
        // Kinds a later tracewire adds: their text's length stands for their size.
        other => alloc_bytes(other.to_string().len()),
    }
}

fn attrs_bytes(attrs: &Vec<KeyValue>) -> usize {
    alloc_bytes(attrs.capacity() * size_of::<KeyValue>())
        + attrs
            .iter()
            .map(|kv| cow_bytes(&kv.key) + value_bytes(&kv.value))
            .sum::<usize>()
}

/// A `tracestate`'s shared member list, counted for each span that holds it (an upper bound).
fn trace_state_bytes(state: &TraceState) -> usize {
    if state.is_empty() {
        return 0;
    }
    alloc_bytes(2 * size_of::<usize>() + state.len() * 2 * size_of::<Box<str>>())
        + state
            .iter()
            .map(|(k, v)| alloc_bytes(k.len()) + alloc_bytes(v.len()))
            .sum::<usize>()
}

fn span_bytes(s: &SpanData) -> usize {
    let status = match &s.status {
        tracewire::Status::Error { description } => cow_bytes(description),
        _ => 0,
    };
    text_bytes(&s.name)
        + cow_bytes(&s.target)
        + attrs_bytes(&s.attributes)
        + status
        + trace_state_bytes(s.span_context.trace_state())
        + alloc_bytes(s.events.capacity() * size_of::<Event>())
        + s.events
            .iter()
            .map(|e| text_bytes(&e.name) + attrs_bytes(&e.attributes))
            .sum::<usize>()
        + alloc_bytes(s.links.capacity() * size_of::<Link>())
        + s.links
            .iter()
            .map(|l| attrs_bytes(&l.attributes) + trace_state_bytes(l.span_context.trace_state()))
            .sum::<usize>()
}

/// Heap bytes `spans` hold once queued: the vector they are moved into (exactly as long as
/// the batch) and everything each span owns.
pub(crate) fn spans_bytes(spans: &[SpanData]) -> usize {
    alloc_bytes(size_of_val(spans)) + spans.iter().map(span_bytes).sum::<usize>()
}
