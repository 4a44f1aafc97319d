//! The bounded trace store.
//!
//! Spans live in a ring in arrival order; each has a sequence number, and eviction always takes
//! the oldest, so every index is a list of sequence numbers that only grows at the back and
//! shrinks at the front. Strings are interned with reference counts; attributes are packed into
//! 16 bytes each. Budgets: a span count, a byte count (every allocation the store makes is
//! accounted, capacities included), and a retention window.
//!
//! Indexes: trace id → spans; service → spans, and per service operation → spans; error spans;
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
//! | `trace_map.rs` | trace id → spans, in shards kept at the size their live traces need |
//! | `write.rs` | the write path: packing spans and indexing them |
//! | `evict.rs` | eviction by span count, bytes and retention |
//! | `read.rs` | resolving spans for readers: traces, services, operations |
//! | `search.rs` | trace search |
//! | `traces.rs` | cheap reads of big traces: skeletons, one span, analysis views, samples |

mod evict;
mod index;
mod intern;
mod limits;
mod posting;
mod read;
mod search;
mod source;
mod span;
mod table;
mod trace_map;
mod traces;
mod write;

use std::collections::VecDeque;
use std::mem::size_of;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Instant;

use self::index::{Block, KeyIndex, KeyIndexes, ServiceIndex};
#[cfg(test)]
pub(crate) use self::intern::map_bytes;
use self::intern::{Interner, Sym};
pub(crate) use self::limits::{Limits, alloc_bytes};

/// How many evicted spans' attribute slots the store keeps for reuse ([`Store::spare_attrs`]):
/// enough for the few span shapes a service's spans take turns in.
const SPARE_ATTRS: usize = 8;
use self::posting::Posting;
use self::source::{ResourceEntry, ResourceKey, Source};
use self::span::{PackedAttr, StoredSpan};
pub(crate) use self::table::TableSize;
use self::trace_map::TraceMap;
#[cfg(test)]
pub(crate) use self::write::tests_support::PANIC_SERVICE;
use crate::hash::{SeededMap, SymMap};
use crate::ingest::QueueGauge;
use crate::query::StoreStats;

/// The store. Written by one thread; read under a shared lock.
pub(crate) struct Store {
    limits: Limits,
    epoch: Instant,
    strings: Interner,
    resources: Vec<Option<ResourceEntry>>,
    resource_ids: SeededMap<ResourceKey, u32>,
    resource_table: TableSize<ResourceKey, u32>,
    free_resources: Vec<u32>,
    sources: Vec<Option<Source>>,
    source_ids: SymMap<(u32, Sym, Sym), u32>,
    source_table: TableSize<(u32, Sym, Sym), u32>,
    free_sources: Vec<u32>,
    /// Heap bytes of the stored resources.
    source_bytes: usize,
    spans: VecDeque<StoredSpan>,
    /// Sequence number of `spans[0]`.
    head: u64,
    span_heap: usize,
    /// The packed attributes of the last evicted spans, each reused by the next span with as
    /// many attributes, so in a steady store the write path allocates nothing for them: spans of
    /// a few shapes (a server span, a client span) take turns, so one spare would rarely fit.
    /// At most [`SPARE_ATTRS`] (the oldest goes first); their bytes are `spare_bytes`, counted
    /// in [`Store::bytes`].
    spare_attrs: Vec<Box<[PackedAttr]>>,
    spare_bytes: usize,
    traces: TraceMap,
    by_service: SymMap<Sym, ServiceIndex>,
    by_service_table: TableSize<Sym, ServiceIndex>,
    /// Map bytes of every service's operation map.
    op_maps_bytes: usize,
    errors: Option<Posting>,
    /// Attribute indexes, reached from a key's symbol ([`Interner::key_slot`]).
    by_attr: KeyIndexes,
    attr_maps_bytes: usize,
    posting_heap: usize,
    blocks: VecDeque<Block>,
    /// Block number of `blocks[0]`.
    blocks_head: u64,
    stored_total: u64,
    evicted: u64,
    /// Spans the last batch evicted: about as many as the next batch will (see
    /// [`Store::touch_front`]).
    last_evictions: usize,
    /// Inserts that panicked (the store was reset each time).
    writer_panics: u64,
    /// Observer calls that panicked.
    observer_panics: u64,
    /// The ingest queue feeding this store, for its stats.
    queue: Option<Arc<QueueGauge>>,
    /// The most [`bytes`](Self::bytes) seen right after a span was stored, within a batch.
    #[cfg(test)]
    peak_bytes: usize,
    /// How often `make_room` summed the store.
    #[cfg(test)]
    sums: u64,
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
            resources: Vec::new(),
            resource_ids: SeededMap::default(),
            resource_table: TableSize::default(),
            free_resources: Vec::new(),
            sources: Vec::new(),
            source_ids: SymMap::default(),
            source_table: TableSize::default(),
            free_sources: Vec::new(),
            source_bytes: 0,
            spans: VecDeque::new(),
            head: 0,
            span_heap: 0,
            spare_attrs: Vec::new(),
            spare_bytes: 0,
            traces: TraceMap::default(),
            by_service: SymMap::default(),
            by_service_table: TableSize::default(),
            op_maps_bytes: 0,
            errors: None,
            by_attr: KeyIndexes::default(),
            attr_maps_bytes: 0,
            posting_heap: 0,
            blocks: VecDeque::new(),
            blocks_head: 0,
            stored_total: 0,
            evicted: 0,
            last_evictions: 0,
            writer_panics: 0,
            observer_panics: 0,
            queue: None,
            #[cfg(test)]
            peak_bytes: 0,
            #[cfg(test)]
            sums: 0,
        }
    }

    pub(crate) fn limits(&self) -> &Limits {
        &self.limits
    }

    /// Reports the queue feeding this store in [`Store::stats`].
    pub(crate) fn attach_queue(&mut self, gauge: Arc<QueueGauge>) {
        self.queue = Some(gauge);
    }

    /// Replaces the store with an empty one after an insert panicked part-way (its indexes may
    /// disagree with its spans); the counters and the queue link carry over.
    pub(crate) fn reset_after_panic(&mut self) {
        let mut fresh = Store::new(self.limits.clone());
        fresh.stored_total = self.stored_total;
        fresh.evicted = self.evicted + self.spans.len() as u64;
        fresh.writer_panics = self.writer_panics + 1;
        fresh.observer_panics = self.observer_panics;
        fresh.queue = self.queue.take();
        *self = fresh;
    }

    /// Every byte the store accounts for.
    pub(crate) fn bytes(&self) -> usize {
        self.spans.capacity() * size_of::<StoredSpan>()
            + self.span_heap
            + self.spare_bytes
            + self.spare_attrs.capacity() * size_of::<Box<[PackedAttr]>>()
            + self.strings.heap_bytes()
            + self.source_bytes
            + self.resources.capacity() * size_of::<Option<ResourceEntry>>()
            + self.resource_table.bytes()
            + self.free_resources.capacity() * size_of::<u32>()
            + self.sources.capacity() * size_of::<Option<Source>>()
            + self.source_table.bytes()
            + self.free_sources.capacity() * size_of::<u32>()
            + self.traces.bytes()
            + self.by_service_table.bytes()
            + self.op_maps_bytes
            + self.by_attr.bytes()
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
            queued: self
                .queue
                .as_ref()
                .map_or(0, |q| q.spans.load(Ordering::Relaxed)),
            queued_bytes: self
                .queue
                .as_ref()
                .map_or(0, |q| q.bytes.load(Ordering::Relaxed)),
            max_queue_bytes: self.limits.queue_bytes(),
            strings: self.strings.len(),
            resources: self.resource_ids.len(),
            writer_panics: self.writer_panics,
            observer_panics: self.observer_panics,
        }
    }

    /// The attribute index of key `key`, if some stored span has that key.
    fn key_index(&self, key: Sym) -> Option<&KeyIndex> {
        self.by_attr.get(self.strings.key_slot(key))
    }

    pub(super) fn now_ticks(&self) -> u32 {
        u32::try_from(self.epoch.elapsed().as_millis() / 100).unwrap_or(u32::MAX)
    }
}

#[cfg(test)]
mod tests;
#[cfg(test)]
mod tests_local;
