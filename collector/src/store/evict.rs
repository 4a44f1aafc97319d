//! Eviction: the oldest spans go first, to stay within the span and byte budgets and the
//! retention window, and everything they held (index entries, strings, sources) goes with them.

use std::mem::size_of;

use super::index::{BLOCK_SHIFT, indexable};
use super::intern::Sym;
use super::limits::adjust;
use super::span::{StoredSpan, TAG_JSON, TAG_STR, packed_bytes};
use super::{SPARE_ATTRS, Store};
use crate::model::TraceId;

/// The most spans [`Store::touch_front`] reads ahead of a batch: two of the in-process
/// exporter's batches (64 spans), and for larger batches about what the cache keeps until their
/// evictions.
pub(super) const TOUCH_AHEAD: usize = 128;

impl Store {
    /// Evicts spans past the retention window.
    pub(crate) fn expire(&mut self) {
        if self.limits.retention.is_zero() {
            return;
        }
        let now = self.now_ticks();
        let keep = u32::try_from(self.limits.retention.as_millis() / 100).unwrap_or(u32::MAX);
        while let Some(front) = self.spans.front() {
            if now.saturating_sub(front.arrived) >= keep.max(1) {
                self.evict_front();
            } else {
                break;
            }
        }
    }

    /// Makes room for one more span of trace `trace_id` that will allocate at most `cost`
    /// bytes: under the span budget, and under the byte budget counting the span and any growth
    /// of the ring, the trace map and the interner (for up to `strings` new strings) its
    /// insertion triggers, before anything is allocated. `bound` is a cheap bound on `cost`:
    /// with room for that much, `cost` is not computed.
    ///
    /// `headroom` carries what is known to be free from one span of a batch to the next (the
    /// caller starts it at 0, and takes out what the indexes grew by): while the bounds of the
    /// spans since the last sum of [`bytes`](Self::bytes) fit in it, the store is not summed
    /// again for each span.
    pub(super) fn make_room(
        &mut self,
        trace_id: TraceId,
        bound: usize,
        strings: usize,
        headroom: &mut usize,
        cost: impl FnOnce(&Self) -> usize,
    ) {
        while self.spans.len() >= self.limits.max_spans.max(1) {
            self.evict_front();
        }
        let need = bound.saturating_add(self.growth_bytes(trace_id, strings));
        if need <= *headroom {
            *headroom -= need;
            return;
        }
        let bytes = self.bytes();
        #[cfg(test)]
        {
            self.sums += 1;
        }
        if let Some(left) = self
            .limits
            .max_bytes
            .checked_sub(bytes.saturating_add(need))
        {
            *headroom = left;
            return;
        }
        *headroom = 0;
        let cost = cost(self);
        while !self.spans.is_empty()
            && self.bytes() + cost + self.growth_bytes(trace_id, strings) > self.limits.max_bytes
        {
            self.evict_front();
        }
    }

    /// Bytes the ring, the trace map and the interner add if one more span, with up to
    /// `strings` new strings, makes them grow (each doubles).
    fn growth_bytes(&self, trace_id: TraceId, strings: usize) -> usize {
        let ring = if self.spans.len() == self.spans.capacity() {
            self.spans.capacity().max(4) * size_of::<StoredSpan>()
        } else {
            0
        };
        ring + self.traces.growth_bytes(trace_id) + self.strings.growth_bytes(strings)
    }

    pub(super) fn enforce_bytes(&mut self) {
        while !self.spans.is_empty() && self.bytes() > self.limits.max_bytes {
            self.evict_front();
        }
        if self.spans.is_empty() && self.bytes() > self.limits.max_bytes {
            self.shrink();
        }
    }

    /// Releases spare capacity (when an emptied store still holds on to a burst's worth).
    pub(super) fn shrink(&mut self) {
        self.spare_attrs = Vec::new();
        self.spare_bytes = 0;
        self.spans.shrink_to_fit();
        self.traces.shrink_to_fit();
        let before = self.by_service.capacity();
        self.by_service.shrink_to_fit();
        self.by_service_table
            .shrunk(before, self.by_service.capacity());
        self.by_attr.shrink();
        self.blocks.shrink_to_fit();
        let before = self.source_ids.capacity();
        self.source_ids.shrink_to_fit();
        self.source_table.shrunk(before, self.source_ids.capacity());
        if self.source_ids.is_empty() {
            self.sources = Vec::new();
            self.free_sources = Vec::new();
        }
        self.strings.shrink();
    }

    /// Reads, before a batch of `n` spans is stored, what evicting the spans it will evict
    /// reads first: each one's packed attributes, its trace's slab entry and its trace's bucket
    /// in the trace map. Those were written long ago and are no longer in the cache; evicting
    /// spans one at a time, between insertions, waits for each of them in turn, while these
    /// loads, independent of one another, are in flight together. The spans read are as many
    /// as the span budget makes this batch evict, or as the last batch evicted (the byte
    /// budget's share), at most [`TOUCH_AHEAD`]. Returns how many it read.
    pub(super) fn touch_front(&self, n: usize) -> usize {
        let over = (self.spans.len() + n).saturating_sub(self.limits.max_spans.max(1));
        let k = over
            .max(self.last_evictions.min(n))
            .min(TOUCH_AHEAD)
            .min(self.spans.len());
        if k == 0 {
            return 0;
        }
        let mut seen = 0u64;
        for span in self.spans.iter().take(k) {
            seen ^= span.attrs.first().map_or(0, |a| a.bits);
            seen ^= self.traces.touch(span.trace_id, span.trace_slot);
        }
        std::hint::black_box(seen);
        k
    }

    pub(super) fn evict_front(&mut self) {
        let Some(span) = self.spans.pop_front() else {
            return;
        };
        let seq = self.head;
        self.head += 1;
        self.evicted += 1;
        self.span_heap -= span.heap_bytes();
        let mut heap: isize = 0;
        self.traces
            .pop(span.trace_id, span.trace_slot, seq, &mut heap);
        if self.traces.wants_compaction() {
            self.compact_traces();
        }
        if let Some(si) = self.by_service.get_mut(&span.service) {
            let (empty, h, maps) = si.pop_front(span.name, seq);
            heap += h;
            adjust(&mut self.op_maps_bytes, maps);
            if empty {
                // The table keeps its size ([`TableSize`]).
                self.by_service.remove(&span.service);
            }
        }
        if span.is_error()
            && let Some(p) = &mut self.errors
        {
            let (empty, d) = p.pop_front(seq);
            heap += d;
            if empty {
                self.errors = None;
            }
        }
        for a in span.attrs.iter() {
            if !indexable(a.tag) {
                continue;
            }
            let Some(ki) = self.by_attr.get_mut(self.strings.key_slot(a.key)) else {
                continue;
            };
            if ki.disabled {
                continue;
            }
            if let Some(p) = ki.values.get_mut(&(a.tag, a.bits)) {
                let (empty, d) = p.pop_front(seq);
                heap += d;
                if empty {
                    // The table keeps its size ([`TableSize`]).
                    ki.values.remove(&(a.tag, a.bits));
                }
            }
        }
        adjust(&mut self.posting_heap, heap);
        // Strings: the key index lives exactly as long as its key's symbol.
        for a in span.attrs.iter() {
            if matches!(a.tag, TAG_STR | TAG_JSON) {
                self.release_sym(a.bits as Sym);
            }
            self.release_sym(a.key);
        }
        self.release_sym(span.name);
        self.release_sym(span.service);
        self.release_source(span.source);
        // Kept for the next span with as many attributes.
        if !span.attrs.is_empty() {
            if self.spare_attrs.len() == SPARE_ATTRS {
                let oldest = self.spare_attrs.remove(0);
                self.spare_bytes -= packed_bytes(oldest.len());
            }
            self.spare_bytes += packed_bytes(span.attrs.len());
            self.spare_attrs.push(span.attrs);
        }
        // Zone map: drop blocks that are wholly evicted.
        while !self.blocks.is_empty() && (self.blocks_head + 1) << BLOCK_SHIFT <= self.head {
            self.blocks.pop_front();
            self.blocks_head += 1;
        }
    }

    /// Packs the trace map's slab (mostly free after a burst of traces went) and renames the
    /// slots the stored spans hold: O(traces + spans), once the slab is eight times the live
    /// traces, so rarely.
    #[cold]
    #[inline(never)]
    fn compact_traces(&mut self) {
        let renamed = self.traces.compact();
        for s in &mut self.spans {
            s.trace_slot = renamed[s.trace_slot as usize];
        }
    }

    /// Drops a reference to a symbol; when it is freed, so is the key index under it (no live
    /// span can have that key any more, and the symbol may be reused for another string).
    /// Always inlined: most releases only decrement a count.
    #[inline(always)]
    pub(super) fn release_sym(&mut self, sym: Sym) {
        if let Some(slot) = self.strings.release(sym) {
            self.free_key_index(slot);
        }
    }

    /// Frees the key index in `slot`, if any (its key's symbol was just freed).
    #[cold]
    #[inline(never)]
    fn free_key_index(&mut self, slot: u32) {
        if let Some(ki) = self.by_attr.remove(slot) {
            self.attr_maps_bytes -= ki.table.bytes();
        }
    }
}
