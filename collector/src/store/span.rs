//! How a span is kept: [`StoredSpan`] with its attributes packed into 16 bytes each
//! ([`PackedAttr`]) and the rarely used parts behind one pointer ([`Extra`]).

use std::mem::size_of;

use super::intern::{Sym, arc_str_bytes};
use super::limits::{alloc_bytes, attrs_bytes};
use crate::model::{SpanEvent, SpanId, SpanLink, StatusCode, TraceId};

pub(super) const TAG_STR: u8 = 0;
pub(super) const TAG_BOOL: u8 = 1;
pub(super) const TAG_INT: u8 = 2;
pub(super) const TAG_DOUBLE: u8 = 3;
pub(super) const TAG_JSON: u8 = 4;

/// One attribute in 16 bytes: the key's symbol, a type tag and the value's bits (a symbol for
/// strings).
#[derive(Clone, Copy, Default)]
pub(super) struct PackedAttr {
    pub(super) bits: u64,
    pub(super) key: Sym,
    pub(super) tag: u8,
}

/// What few spans carry: kept behind one pointer so the common span stays small.
pub(super) struct Extra {
    pub(super) status_message: Option<Box<str>>,
    pub(super) trace_state: Option<Box<str>>,
    pub(super) events: Box<[SpanEvent]>,
    pub(super) links: Box<[SpanLink]>,
    pub(super) dropped_attributes: u32,
    pub(super) dropped_events: u32,
    pub(super) dropped_links: u32,
}

pub(super) struct StoredSpan {
    pub(super) trace_id: TraceId,
    pub(super) span_id: SpanId,
    pub(super) parent_span_id: SpanId,
    pub(super) start: u64,
    pub(super) end: u64,
    pub(super) attrs: Box<[PackedAttr]>,
    pub(super) extra: Option<Box<Extra>>,
    pub(super) source: u32,
    pub(super) service: Sym,
    pub(super) name: Sym,
    /// Tenths of a second since the store started, for the retention window.
    pub(super) arrived: u32,
    /// Its trace's slot in the trace map, set when the span is stored.
    pub(super) trace_slot: u32,
    pub(super) flags: u8,
    pub(super) kind: u8,
    pub(super) status: u8,
}

/// Heap bytes of `len` packed attribute slots.
pub(super) fn packed_bytes(len: usize) -> usize {
    alloc_bytes(len * size_of::<PackedAttr>())
}

impl StoredSpan {
    pub(super) fn is_error(&self) -> bool {
        self.status == StatusCode::Error.to_u8()
    }

    pub(super) fn duration(&self) -> u64 {
        self.end.saturating_sub(self.start)
    }

    /// Heap bytes owned by this span outside the ring slot (strings it shares through the
    /// interner are accounted there).
    pub(super) fn heap_bytes(&self) -> usize {
        let mut n = packed_bytes(self.attrs.len());
        if let Some(extra) = &self.extra {
            n += alloc_bytes(size_of::<Extra>());
            n += extra
                .status_message
                .as_ref()
                .map_or(0, |s| alloc_bytes(s.len()));
            n += extra
                .trace_state
                .as_ref()
                .map_or(0, |s| alloc_bytes(s.len()));
            n += alloc_bytes(extra.events.len() * size_of::<SpanEvent>());
            for e in extra.events.iter() {
                n += arc_str_bytes(e.name.len()) + attrs_bytes(&e.attributes);
            }
            n += alloc_bytes(extra.links.len() * size_of::<SpanLink>());
            for l in extra.links.iter() {
                n += attrs_bytes(&l.attributes);
            }
        }
        n
    }
}
