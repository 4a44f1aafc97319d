//! What buffered spans and their sources cost, accounted like the store's bytes: every
//! allocation at its capacity, rounded to the allocator's 16-byte granule ([`alloc_bytes`]);
//! text borrowed for the whole program costs nothing.

use std::mem::size_of;

use crate::ingest::{NewSource, NewSpan, NewValue, Str};
use crate::store::alloc_bytes;

fn str_heap(s: &Str) -> usize {
    match s {
        Str::Owned(s) => alloc_bytes(s.capacity()),
        Str::Borrowed(_) => 0,
    }
}

fn value_heap(v: &NewValue) -> usize {
    match v {
        NewValue::Str(s) => str_heap(s),
        NewValue::Json(s) => alloc_bytes(s.capacity()),
        NewValue::Bool(_) | NewValue::Int(_) | NewValue::Double(_) => 0,
    }
}

fn attrs_heap(attrs: &Vec<(Str, NewValue)>) -> usize {
    alloc_bytes(attrs.capacity() * size_of::<(Str, NewValue)>())
        + attrs
            .iter()
            .map(|(k, v)| str_heap(k) + value_heap(v))
            .sum::<usize>()
}

/// Heap bytes owned by a decoded span (what the forwarder's queue accounts per span, with the
/// span itself).
pub(crate) fn span_heap(s: &NewSpan) -> usize {
    let opt = |o: &Option<String>| o.as_ref().map_or(0, |s| alloc_bytes(s.capacity()));
    str_heap(&s.name)
        + attrs_heap(&s.attributes)
        + opt(&s.status_message)
        + opt(&s.trace_state)
        + alloc_bytes(s.events.capacity() * size_of::<crate::ingest::NewEvent>())
        + s.events
            .iter()
            .map(|e| str_heap(&e.name) + attrs_heap(&e.attributes))
            .sum::<usize>()
        + alloc_bytes(s.links.capacity() * size_of::<crate::ingest::NewLink>())
        + s.links
            .iter()
            .map(|l| attrs_heap(&l.attributes))
            .sum::<usize>()
}

/// Bytes of a source: its `Arc` allocation and what it owns.
pub(crate) fn source_bytes(s: &NewSource) -> usize {
    alloc_bytes(16 + size_of::<NewSource>())
        + str_heap(&s.resource.service)
        + str_heap(&s.scope_name)
        + str_heap(&s.scope_version)
        + attrs_heap(&s.resource.attributes)
}

/// A source held by the buffer.
#[derive(Debug)]
pub(crate) struct SourceRef {
    /// Traces referring to it.
    pub(crate) refs: u32,
    /// Its bytes and its key's.
    pub(crate) bytes: usize,
    pub(crate) key: Box<str>,
}

/// The text that identifies a source's content: equal texts, equal sources.
pub(crate) fn source_key(s: &NewSource) -> String {
    use std::fmt::Write as _;
    let mut key = String::with_capacity(64);
    for part in [&s.resource.service, &s.scope_name, &s.scope_version] {
        key.push_str(part);
        key.push('\0');
    }
    for (k, v) in &s.resource.attributes {
        key.push_str(k);
        let _ = match v {
            NewValue::Str(t) => write!(key, "=s{t}"),
            NewValue::Bool(b) => write!(key, "=b{b}"),
            NewValue::Int(i) => write!(key, "=i{i}"),
            NewValue::Double(d) => write!(key, "=d{}", d.to_bits()),
            NewValue::Json(j) => write!(key, "=j{j}"),
        };
        key.push('\0');
    }
    key
}
