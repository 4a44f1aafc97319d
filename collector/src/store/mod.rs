//! The bounded trace store.
//!
//! Spans live in a ring in arrival order; each has a sequence number, and eviction always takes
//! the oldest, so every index is a list of sequence numbers that only grows at the back and
//! shrinks at the front. Strings are interned with reference counts; attributes are packed into
//! 16 bytes each. Budgets: a span count, a byte count (every allocation the store makes is
//! accounted, capacities included), and a retention window.
//!
//! Indexes: trace id → spans; service → spans; (service, operation) → spans; error spans;
//! attribute key=value → spans (per key, until the key has too many distinct values to be worth
//! it, after which searches on it scan); and a zone map over blocks of 1024 spans (start-time
//! range, longest duration, error count) so scans skip blocks that cannot match.
//!
//! | File | What |
//! |---|---|
//! | `limits.rs` | [`Limits`] and the byte-accounting helpers |
//! | `span.rs` | how one span is kept (packed attributes, rare parts behind a pointer) |
//! | `intern.rs` | the reference-counted string interner |
//! | `source.rs` | resources and scopes shared by the spans that came with them |
//! | `posting.rs`, `index.rs` | posting lists, the attribute index and the zone map |
//! | `write.rs` | the write path: packing spans and indexing them |
//! | `evict.rs` | eviction by span count, bytes and retention |
//! | `read.rs` | resolving spans for readers: traces, services, operations |
//! | `search.rs` | trace search |

mod evict;
mod index;
mod intern;
mod limits;
mod posting;
mod read;
mod search;
mod source;
mod span;
mod write;

use std::collections::VecDeque;
use std::mem::size_of;
use std::time::Instant;

use self::index::{Block, KeyIndex};
use self::intern::{Interner, Sym, map_bytes};
pub(crate) use self::limits::Limits;
use self::posting::Posting;
use self::source::Source;
use self::span::StoredSpan;
use crate::hash::{SeededMap, SymMap};
use crate::model::TraceId;
use crate::query::StoreStats;

/// The store. Written by one thread; read under a shared lock.
pub(crate) struct Store {
    limits: Limits,
    epoch: Instant,
    strings: Interner,
    sources: Vec<Option<Source>>,
    source_ids: SeededMap<Box<str>, u32>,
    free_sources: Vec<u32>,
    source_bytes: usize,
    spans: VecDeque<StoredSpan>,
    /// Sequence number of `spans[0]`.
    head: u64,
    span_heap: usize,
    traces: SeededMap<TraceId, Posting>,
    by_service: SymMap<Sym, Posting>,
    by_operation: SymMap<(Sym, Sym), Posting>,
    errors: Option<Posting>,
    by_attr: SymMap<Sym, KeyIndex>,
    attr_maps_bytes: usize,
    posting_heap: usize,
    blocks: VecDeque<Block>,
    /// Block number of `blocks[0]`.
    blocks_head: u64,
    stored_total: u64,
    evicted: u64,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store")
            .field("spans", &self.spans.len())
            .field("bytes", &self.bytes())
            .finish_non_exhaustive()
    }
}

impl Store {
    pub(crate) fn new(limits: Limits) -> Self {
        Store {
            limits,
            epoch: Instant::now(),
            strings: Interner::default(),
            sources: Vec::new(),
            source_ids: SeededMap::default(),
            free_sources: Vec::new(),
            source_bytes: 0,
            spans: VecDeque::new(),
            head: 0,
            span_heap: 0,
            traces: SeededMap::default(),
            by_service: SymMap::default(),
            by_operation: SymMap::default(),
            errors: None,
            by_attr: SymMap::default(),
            attr_maps_bytes: 0,
            posting_heap: 0,
            blocks: VecDeque::new(),
            blocks_head: 0,
            stored_total: 0,
            evicted: 0,
        }
    }

    /// Every byte the store accounts for.
    pub(crate) fn bytes(&self) -> usize {
        self.spans.capacity() * size_of::<StoredSpan>()
            + self.span_heap
            + self.strings.heap_bytes()
            + self.source_bytes
            + self.sources.capacity() * size_of::<Option<Source>>()
            + map_bytes::<Box<str>, u32>(self.source_ids.capacity())
            + map_bytes::<TraceId, Posting>(self.traces.capacity())
            + map_bytes::<Sym, Posting>(self.by_service.capacity())
            + map_bytes::<(Sym, Sym), Posting>(self.by_operation.capacity())
            + map_bytes::<Sym, KeyIndex>(self.by_attr.capacity())
            + self.attr_maps_bytes
            + self.posting_heap
            + self.blocks.capacity() * size_of::<Block>()
    }

    pub(crate) fn stats(&self) -> StoreStats {
        StoreStats {
            spans: self.spans.len(),
            traces: self.traces.len(),
            bytes: self.bytes(),
            max_bytes: self.limits.max_bytes,
            max_spans: self.limits.max_spans,
            stored_total: self.stored_total,
            evicted: self.evicted,
            rejected: 0,
            queued: 0,
            strings: self.strings.len(),
        }
    }

    pub(super) fn now_ticks(&self) -> u32 {
        u32::try_from(self.epoch.elapsed().as_millis() / 100).unwrap_or(u32::MAX)
    }
}

#[cfg(test)]
mod tests;
