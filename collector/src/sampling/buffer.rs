//! The recent-span buffer (the flight recorder): every received span, grouped by trace id,
//! until its trace is kept (the spans move on to the store) or the trace is evicted — by the
//! time window or the byte budget, oldest trace first.
//!
//! An undecided trace holds its spans as received, so a kept trace moves on to the store without
//! a copy. Once a trace is dropped its spans are encoded (`encode`) into one byte vector — a
//! few bytes of header plus the span's own text — where it waits out the window for a
//! retroactive keep, which decodes it. Bytes are accounted the way the store accounts them
//! ([`alloc_bytes`]: every allocation rounded to the allocator's 16-byte granule, capacities
//! rather than lengths, hash tables by the size of their tables, [`TableSize`]): each trace's
//! spans (as received, or encoded), its list of sources and its root's name; the entries, the
//! index and the eviction queue; and each distinct resource/scope once, however many buffered
//! traces share it.
//!
//! The index is keyed by trace ids, which senders choose, so it hashes with std's randomly seeded
//! SipHash ([`RandomState`]): a sender cannot make its ids collide.

use std::collections::hash_map::RandomState;
use std::collections::{HashMap, VecDeque};
use std::mem::size_of;
use std::sync::Arc;

use super::clock::Nanos;
use super::decision_cache::Decision;
use super::encode::{Reader, encode};
use super::policy::errors::http_status;
use super::size::{SourceRef, source_bytes, source_key, span_heap};
use crate::ingest::{NewBatch, NewSource, NewSpan};
use crate::model::TraceId;
use crate::store::{TableSize, alloc_bytes};

/// What the policies need of a trace's root span, taken when it arrives.
#[derive(Debug)]
pub(crate) struct RootInfo {
    /// Index into the trace's sources.
    source: usize,
    pub(crate) name: Box<str>,
    pub(crate) duration: u64,
    pub(crate) http_status: Option<i64>,
}

/// One trace in the buffer.
#[derive(Debug)]
pub(crate) struct Entry {
    pub(crate) trace_id: TraceId,
    /// The spans as received, with their source's index, while the trace is undecided.
    received: Vec<(usize, NewSpan)>,
    /// What `received`'s spans own.
    received_heap: usize,
    /// The spans of a dropped trace, encoded (see `encode`).
    data: Vec<u8>,
    /// The distinct resources/scopes the spans came with; spans refer to them by index.
    sources: Vec<Arc<NewSource>>,
    /// Spans held.
    pub(crate) spans: usize,
    pub(crate) root: Option<RootInfo>,
    /// Arrival of the first and the latest span.
    pub(crate) first: Nanos,
    pub(crate) last: Nanos,
    /// When the root span arrived.
    pub(crate) root_at: Option<Nanos>,
    pub(crate) error: bool,
    pub(crate) forced: bool,
    /// `None` while undecided; the drop decision once dropped (kept traces leave the buffer).
    pub(crate) dropped: Option<Decision>,
    /// When the completion queue will next look at this trace.
    pub(crate) scheduled: Option<Nanos>,
}

impl Entry {
    /// Heap bytes the entry owns.
    fn heap(&self) -> usize {
        alloc_bytes(self.received.capacity() * size_of::<(usize, NewSpan)>())
            + self.received_heap
            + alloc_bytes(self.data.capacity())
            + alloc_bytes(self.sources.capacity() * size_of::<Arc<NewSource>>())
            + self.root.as_ref().map_or(0, |r| alloc_bytes(r.name.len()))
    }

    /// The root's service.
    pub(crate) fn root_service(&self) -> Option<&str> {
        let r = self.root.as_ref()?;
        self.sources.get(r.source).map(|s| &*s.resource.service)
    }

    /// Moves the spans into `out` by source, after calling `head` on the root (or, without
    /// one, the earliest span).
    pub(crate) fn into_batches(mut self, head: impl FnOnce(&mut NewSpan), out: &mut Vec<NewBatch>) {
        if !self.data.is_empty() {
            let mut spans = self.into_spans();
            if let Some(i) = head_of(spans.iter().map(|(_, s)| s)) {
                head(&mut spans[i].1);
            }
            for (source, span) in spans {
                push_span(out, source, span);
            }
            return;
        }
        // The usual case, an undecided trace kept: its spans move on as received.
        if let Some(i) = head_of(self.received.iter().map(|(_, s)| s)) {
            head(&mut self.received[i].1);
        }
        for (i, span) in self.received {
            if let Some(src) = self.sources.get(i) {
                push_span(out, src.clone(), span);
            }
        }
    }

    /// The spans with their sources: the encoded ones (decoded) in arrival order, then the
    /// ones held as received.
    pub(crate) fn into_spans(self) -> Vec<(Arc<NewSource>, NewSpan)> {
        let mut out = Vec::with_capacity(self.spans);
        let mut r = Reader::new(&self.data);
        while let Some((i, span)) = r.next_span(self.trace_id) {
            if let Some(src) = self.sources.get(i) {
                out.push((src.clone(), span));
            }
        }
        for (i, span) in self.received {
            if let Some(src) = self.sources.get(i) {
                out.push((src.clone(), span));
            }
        }
        out
    }
}

/// The root among `spans` (no parent), else the earliest to start.
fn head_of<'a>(spans: impl Iterator<Item = &'a NewSpan> + Clone) -> Option<usize> {
    spans
        .clone()
        .position(|s| !s.parent_span_id.is_valid())
        .or_else(|| {
            spans
                .enumerate()
                .min_by_key(|(_, s)| s.start_unix_nano)
                .map(|(i, _)| i)
        })
}

/// Where an entry lives; stale once the entry is removed (the generation moves on).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Slot {
    pub(crate) idx: u32,
    pub(crate) generation: u32,
}

#[derive(Debug)]
struct Cell {
    generation: u32,
    entry: Option<Entry>,
}

/// The entry at `slot`, unless it has been removed since.
fn live(cells: &mut [Cell], slot: Slot) -> Option<&mut Entry> {
    cells
        .get_mut(slot.idx as usize)
        .filter(|c| c.generation == slot.generation)
        .and_then(|c| c.entry.as_mut())
}

/// The buffer.
#[derive(Debug, Default)]
pub(crate) struct Buffer {
    index: HashMap<TraceId, Slot, RandomState>,
    /// The sizes of the three maps' tables (`capacity()` falls below them as entries go).
    index_table: TableSize<TraceId, Slot>,
    by_content_table: TableSize<Box<str>, Arc<NewSource>>,
    sources_table: TableSize<usize, SourceRef>,
    cells: Vec<Cell>,
    free: Vec<u32>,
    /// Traces by first arrival; entries of removed traces are skipped when they reach the front.
    order: VecDeque<Slot>,
    /// Distinct sources by content (service, scope, resource): each is held once however many
    /// batches brought a copy of it.
    by_content: HashMap<Box<str>, Arc<NewSource>, RandomState>,
    /// The same sources by address, with the traces referring to them.
    sources: HashMap<usize, SourceRef, RandomState>,
    /// The last source looked up and its shared copy (holding the former keeps its address
    /// from being reused while cached).
    last_source: Option<(Arc<NewSource>, Arc<NewSource>)>,
    source_bytes: usize,
    entries_heap: usize,
    spans: usize,
    /// Where a dropped trace's spans are encoded before they get an allocation of their own.
    scratch: Vec<u8>,
}

impl Buffer {
    /// Every byte the buffer accounts for.
    pub(crate) fn bytes(&self) -> usize {
        self.index_table.bytes()
            + alloc_bytes(self.cells.capacity() * size_of::<Cell>())
            + alloc_bytes(self.free.capacity() * size_of::<u32>())
            + alloc_bytes(self.order.capacity() * size_of::<Slot>())
            + self.by_content_table.bytes()
            + self.sources_table.bytes()
            + self.source_bytes
            + self.entries_heap
            + alloc_bytes(self.scratch.capacity())
    }

    /// Traces buffered (undecided and dropped).
    pub(crate) fn traces(&self) -> usize {
        self.index.len()
    }

    /// Spans buffered.
    pub(crate) fn spans(&self) -> usize {
        self.spans
    }

    pub(crate) fn get(&self, trace_id: TraceId) -> Option<Slot> {
        self.index.get(&trace_id).copied()
    }

    pub(crate) fn entry(&self, slot: Slot) -> Option<&Entry> {
        let c = self.cells.get(slot.idx as usize)?;
        (c.generation == slot.generation)
            .then_some(c.entry.as_ref())
            .flatten()
    }

    pub(crate) fn entry_mut(&mut self, slot: Slot) -> Option<&mut Entry> {
        live(&mut self.cells, slot)
    }

    /// Starts a trace arriving at `now`.
    pub(crate) fn insert(&mut self, trace_id: TraceId, now: Nanos) -> Slot {
        let entry = Entry {
            trace_id,
            received: Vec::new(),
            received_heap: 0,
            data: Vec::new(),
            sources: Vec::new(),
            spans: 0,
            root: None,
            first: now,
            last: now,
            root_at: None,
            error: false,
            forced: false,
            dropped: None,
            scheduled: None,
        };
        let slot = match self.free.pop() {
            Some(idx) => {
                let cell = &mut self.cells[idx as usize];
                cell.entry = Some(entry);
                Slot {
                    idx,
                    generation: cell.generation,
                }
            }
            None => {
                self.cells.push(Cell {
                    generation: 0,
                    entry: Some(entry),
                });
                Slot {
                    idx: (self.cells.len() - 1) as u32,
                    generation: 0,
                }
            }
        };
        self.index.insert(trace_id, slot);
        self.index_table.inserted(self.index.capacity());
        self.order.push_back(slot);
        slot
    }

    /// Adds a span, arriving at `now`, to a live trace — as received while the trace is
    /// undecided, encoded once it is dropped; the first root span (no parent) is remembered as
    /// the trace's root.
    pub(crate) fn push(&mut self, slot: Slot, source: &Arc<NewSource>, span: NewSpan, now: Nanos) {
        let Some(e) = live(&mut self.cells, slot) else {
            return;
        };
        let before = e.heap();
        let shared = match &self.last_source {
            Some((raw, shared)) if Arc::ptr_eq(raw, source) => shared.clone(),
            _ => {
                let key = source_key(source);
                let shared = match self.by_content.get(key.as_str()) {
                    Some(s) => s.clone(),
                    None => {
                        let bytes = source_bytes(source) + 2 * alloc_bytes(key.len());
                        self.source_bytes += bytes;
                        let key: Box<str> = key.into_boxed_str();
                        self.sources.insert(
                            Arc::as_ptr(source) as usize,
                            SourceRef {
                                refs: 0,
                                bytes,
                                key: key.clone(),
                            },
                        );
                        self.by_content.insert(key, source.clone());
                        self.sources_table.inserted(self.sources.capacity());
                        self.by_content_table.inserted(self.by_content.capacity());
                        source.clone()
                    }
                };
                self.last_source = Some((source.clone(), shared.clone()));
                shared
            }
        };
        let index = match e.sources.iter().position(|s| Arc::ptr_eq(s, &shared)) {
            Some(i) => i,
            None => {
                if let Some(r) = self.sources.get_mut(&(Arc::as_ptr(&shared) as usize)) {
                    r.refs += 1;
                }
                e.sources.push(shared);
                e.sources.len() - 1
            }
        };
        if e.root.is_none() && !span.parent_span_id.is_valid() {
            e.root = Some(RootInfo {
                source: index,
                name: Box::from(&*span.name),
                duration: span.end_unix_nano.saturating_sub(span.start_unix_nano),
                http_status: http_status(&span),
            });
            e.root_at = Some(now);
        }
        if e.dropped.is_some() {
            encode(&mut e.data, index, &span);
        } else {
            e.received_heap += span_heap(&span);
            e.received.push((index, span));
        }
        e.spans += 1;
        e.last = e.last.max(now);
        self.entries_heap += e.heap() - before;
        self.spans += 1;
    }

    /// Encodes the spans of a trace just dropped, and gives back the spare capacity.
    pub(crate) fn compact(&mut self, slot: Slot) {
        let Some(e) = live(&mut self.cells, slot) else {
            return;
        };
        let before = e.heap();
        // Encoded into the scratch vector first, so the trace's own allocation is exact.
        self.scratch.clear();
        for (i, span) in &e.received {
            encode(&mut self.scratch, *i, span);
        }
        e.data.reserve_exact(self.scratch.len());
        e.data.extend_from_slice(&self.scratch);
        if self.scratch.capacity() > 1 << 20 {
            self.scratch = Vec::new();
        }
        e.received = Vec::new();
        e.received_heap = 0;
        self.entries_heap = self.entries_heap - before + e.heap();
    }

    /// Removes a trace, returning it with its spans.
    pub(crate) fn take(&mut self, slot: Slot) -> Option<Entry> {
        let cell = self.cells.get_mut(slot.idx as usize)?;
        if cell.generation != slot.generation {
            return None;
        }
        let entry = cell.entry.take()?;
        cell.generation = cell.generation.wrapping_add(1);
        self.free.push(slot.idx);
        self.index.remove(&entry.trace_id);
        self.entries_heap -= entry.heap();
        self.spans -= entry.spans;
        for s in &entry.sources {
            self.release_source(s);
        }
        if self.index.is_empty() {
            self.order.clear();
        }
        self.shrink();
        Some(entry)
    }

    fn release_source(&mut self, source: &Arc<NewSource>) {
        let ptr = Arc::as_ptr(source) as usize;
        let Some(r) = self.sources.get_mut(&ptr) else {
            return;
        };
        r.refs = r.refs.saturating_sub(1);
        if r.refs > 0 {
            return;
        }
        if let Some(r) = self.sources.remove(&ptr) {
            self.source_bytes -= r.bytes;
            self.by_content.remove(&r.key);
        }
        if self
            .last_source
            .as_ref()
            .is_some_and(|(_, s)| Arc::ptr_eq(s, source))
        {
            self.last_source = None;
        }
    }

    /// Gives back every spare allocation. An empty buffer also forgets its slots: handles to
    /// them held elsewhere (the completion queue's) must be dropped too.
    pub(crate) fn shrink_all(&mut self) {
        if self.index.is_empty() {
            self.cells.clear();
            self.free.clear();
            self.order.clear();
        }
        let before = self.capacities();
        self.index.shrink_to_fit();
        self.cells.shrink_to_fit();
        self.scratch = Vec::new();
        self.free.shrink_to_fit();
        self.order.shrink_to_fit();
        self.sources.shrink_to_fit();
        self.by_content.shrink_to_fit();
        self.tables_shrunk(before);
    }

    /// The three maps' `capacity()`.
    fn capacities(&self) -> [usize; 3] {
        [
            self.index.capacity(),
            self.sources.capacity(),
            self.by_content.capacity(),
        ]
    }

    /// After the maps were asked to shrink (`before`: their `capacity()` then): their tables'
    /// sizes now.
    fn tables_shrunk(&mut self, before: [usize; 3]) {
        let [index, sources, by_content] = before;
        self.index_table.shrunk(index, self.index.capacity());
        self.sources_table.shrunk(sources, self.sources.capacity());
        self.by_content_table
            .shrunk(by_content, self.by_content.capacity());
    }

    /// Gives back spare capacity once the buffer has emptied out (after a burst).
    fn shrink(&mut self) {
        if self.index.capacity() > 1024 && self.index.len() * 8 < self.index.capacity() {
            let before = self.capacities();
            self.index.shrink_to(self.index.len() * 2);
            self.order.shrink_to(self.order.len() * 2);
            self.sources.shrink_to(self.sources.len() * 2);
            self.by_content.shrink_to(self.by_content.len() * 2);
            self.tables_shrunk(before);
        }
    }

    /// The undecided traces.
    pub(crate) fn pending(&self) -> Vec<Slot> {
        self.index
            .values()
            .copied()
            .filter(|&s| self.entry(s).is_some_and(|e| e.dropped.is_none()))
            .collect()
    }

    /// The oldest live trace, dropping queue entries of removed ones.
    pub(crate) fn oldest(&mut self) -> Option<(Slot, &Entry)> {
        while let Some(&slot) = self.order.front() {
            let live = self.cells[slot.idx as usize].generation == slot.generation
                && self.cells[slot.idx as usize].entry.is_some();
            if live {
                return self.entry(slot).map(|e| (slot, e));
            }
            self.order.pop_front();
        }
        None
    }
}

/// Appends one span to the batch of its source (searching the last few batches).
pub(crate) fn push_span(out: &mut Vec<NewBatch>, source: Arc<NewSource>, span: NewSpan) {
    let found = out
        .iter_mut()
        .rev()
        .take(16)
        .find(|b| Arc::ptr_eq(&b.source, &source));
    match found {
        Some(b) => b.spans.push(span),
        None => out.push(NewBatch {
            source,
            spans: vec![span],
        }),
    }
}

#[cfg(test)]
mod tests;
