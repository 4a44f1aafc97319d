//! The write path: packing spans and adding them to the ring and its indexes. Spans are read
//! through [`IngestSpan`], so OTLP-decoded spans and in-process `SpanData` take the same path.

use std::mem::size_of;
use std::panic::AssertUnwindSafe;
use std::sync::Arc;

use super::Store;
use super::index::{BLOCK_SHIFT, Block, ServiceIndex, indexable};
use super::intern::{NO_SLOT, Sym, arc_str_bytes};
use super::limits::{adjust, alloc_bytes, truncate};
use super::posting::Posting;
use super::source::{ResourceCache, resolved_attr};
use super::span::{
    Extra, PackedAttr, StoredSpan, TAG_BOOL, TAG_DOUBLE, TAG_INT, TAG_JSON, TAG_STR, packed_bytes,
};
use tracewire::SpanData;

use crate::hash::SeededMap;
use crate::ingest::{
    IngestAttr, IngestEvent, IngestLink, IngestSpan, NewBatch, NewSource, ValueRef, array_json,
};
use crate::model::{
    Attribute, IngestObserver, IngestedSpan, SpanEvent, SpanLink, kind_from_u8, kind_to_u8,
};

impl Store {
    /// Stores `batches`, evicting the oldest spans to stay within the budgets, and tells the
    /// observers about each stored span. An observer that panics is caught and counted, so one
    /// faulty observer neither loses spans nor stops the others.
    pub(crate) fn insert(&mut self, batches: Vec<NewBatch>, observers: &[Arc<dyn IngestObserver>]) {
        #[cfg(test)]
        if batches
            .iter()
            .any(|b| b.source.resource.service == tests_support::PANIC_SERVICE)
        {
            panic!("store insert panicked (test)");
        }
        let arrived = self.now_ticks();
        let mut cache = ResourceCache::default();
        for batch in &batches {
            self.insert_spans(&batch.source, &batch.spans, arrived, &mut cache, observers);
        }
        self.end_resource_cache(&mut cache);
        self.enforce_bytes();
    }

    /// [`Store::insert`] for spans exported in process, all from `source`: each is packed
    /// straight from its `SpanData`.
    pub(crate) fn insert_local(
        &mut self,
        source: &NewSource,
        spans: &[SpanData],
        observers: &[Arc<dyn IngestObserver>],
    ) {
        #[cfg(test)]
        if source.resource.service == tests_support::PANIC_SERVICE {
            panic!("store insert panicked (test)");
        }
        let arrived = self.now_ticks();
        let mut cache = ResourceCache::default();
        self.insert_spans(source, spans, arrived, &mut cache, observers);
        self.end_resource_cache(&mut cache);
        self.enforce_bytes();
    }

    fn insert_spans<S: IngestSpan>(
        &mut self,
        from: &NewSource,
        spans: &[S],
        arrived: u32,
        cache: &mut ResourceCache,
        observers: &[Arc<dyn IngestObserver>],
    ) {
        if spans.is_empty() {
            return;
        }
        let source = self.source_for(from, cache);
        let service = self
            .strings
            .intern(truncate(&from.resource.service, self.limits.max_value_len));
        // Bytes known to be free: summed once, then reduced by each span's bound, so a store far
        // from its byte budget is summed about once a batch, not once a span.
        let mut headroom = 0;
        let evicted = self.evicted;
        self.touch_front(spans.len());
        for span in spans {
            let trace_state = span.trace_state();
            let trace_state = trace_state.as_deref();
            let bound = self.span_cost_bound(span);
            let strings = self.span_strings_bound(span);
            self.make_room(span.trace_id(), bound, strings, &mut headroom, |store| {
                store.span_cost(span, trace_state)
            });
            self.strings.retain(service);
            self.retain_source(source);
            let stored = self.pack(span, trace_state, source, service, arrived);
            let (seq, grown) = self.push(stored);
            // What the indexes grew by comes out of the headroom too.
            headroom = headroom.saturating_sub(grown);
            #[cfg(test)]
            {
                self.peak_bytes = self.peak_bytes.max(self.bytes());
            }
            if !observers.is_empty() {
                self.observe(seq, observers);
            }
        }
        self.last_evictions =
            usize::try_from(self.evicted.saturating_sub(evicted)).unwrap_or(usize::MAX);
        // The batch's own references were taken per span.
        self.release_sym(service);
        self.release_source(source);
    }

    fn observe(&mut self, seq: u64, observers: &[Arc<dyn IngestObserver>]) {
        let s = &self.spans[(seq - self.head) as usize];
        let ingested = IngestedSpan {
            trace_id: s.trace_id,
            span_id: s.span_id,
            parent_span_id: s.parent_span_id,
            service: self.strings.resolve(s.service),
            name: self.strings.resolve(s.name),
            kind: kind_from_u8(s.kind),
            start_unix_nano: s.start,
            end_unix_nano: s.end,
            error: s.is_error(),
        };
        let mut panics = 0;
        for o in observers {
            if std::panic::catch_unwind(AssertUnwindSafe(|| o.on_span(&ingested))).is_err() {
                panics += 1;
            }
        }
        self.observer_panics += panics;
    }

    #[inline]
    fn intern_value(&mut self, v: ValueRef<'_>) -> (u8, u64) {
        let max = self.limits.max_value_len;
        let (tag, sym) = match v {
            ValueRef::Str(s) => (TAG_STR, self.strings.intern_ref(s, max)),
            ValueRef::Bool(b) => return (TAG_BOOL, u64::from(b)),
            ValueRef::Int(i) => return (TAG_INT, i as u64),
            ValueRef::Double(d) => return (TAG_DOUBLE, d.to_bits()),
            ValueRef::Json(s) => (TAG_JSON, self.strings.intern(truncate(s, max))),
            ValueRef::Array(a) => (TAG_JSON, self.strings.intern(truncate(&array_json(a), max))),
            ValueRef::Other(v) => (TAG_STR, self.strings.intern(truncate(&v.to_string(), max))),
        };
        (tag, u64::from(sym))
    }

    /// The most heap bytes storing `span` can add: its packed attributes and rare parts, every
    /// string as if it were new, and posting-list growth for each index entry.
    pub(super) fn span_cost<S: IngestSpan>(&self, span: &S, trace_state: Option<&str>) -> usize {
        let l = &self.limits;
        let text = |len: usize| arc_str_bytes(len.min(l.max_value_len));
        let value = |v: ValueRef<'_>| match v {
            ValueRef::Str(s) => text(s.len()),
            ValueRef::Json(s) => text(s.len()),
            ValueRef::Array(a) => text(array_json(a).len()),
            ValueRef::Other(v) => text(v.to_string().len()),
            ValueRef::Bool(_) | ValueRef::Int(_) | ValueRef::Double(_) => 0,
        };
        let attr = |a: &S::Attr| text(a.key().len()) + value(a.value());
        let resolved = |attrs: &[S::Attr]| {
            let kept = &attrs[..attrs.len().min(l.max_attributes)];
            alloc_bytes(kept.len() * size_of::<Attribute>()) + kept.iter().map(attr).sum::<usize>()
        };
        let attributes = span.attributes();
        let kept = &attributes[..attributes.len().min(l.max_attributes)];
        let mut n = text(span.name().len())
            + alloc_bytes(kept.len() * size_of::<PackedAttr>())
            + kept.iter().map(attr).sum::<usize>()
            // Trace, service, operation, error and one entry per attribute; a new trace takes
            // a map slot.
            + (4 + kept.len()) * POSTING_GROWTH;
        let events = span.events();
        let events = &events[..events.len().min(l.max_events)];
        let links = span.links();
        let links = &links[..links.len().min(l.max_links)];
        n += alloc_bytes(size_of::<Extra>())
            + span
                .status_message()
                .map_or(0, |m| alloc_bytes(m.len().min(l.max_value_len)))
            + trace_state.map_or(0, |t| alloc_bytes(t.len().min(l.max_value_len)))
            + alloc_bytes(events.len() * size_of::<SpanEvent>())
            + events
                .iter()
                .map(|e| text(e.name().len()) + resolved(e.attributes()))
                .sum::<usize>()
            + alloc_bytes(links.len() * size_of::<SpanLink>())
            + links
                .iter()
                .map(|lk| resolved(lk.attributes()))
                .sum::<usize>();
        n
    }

    /// A bound on [`span_cost`](Self::span_cost) from the span's counts alone, every string as
    /// long as `max_value_len` lets it be: no walk over the attributes, so a store far from its
    /// byte budget does not sum their lengths ([`make_room`](Self::make_room)). Saturates
    /// rather than overflows (a huge `max_value_len` makes it useless, not wrong).
    pub(super) fn span_cost_bound<S: IngestSpan>(&self, span: &S) -> usize {
        let l = &self.limits;
        // The most any one string costs (`text` in `span_cost`, which cuts at `max_value_len`),
        // any one attribute (its key and value), and the status message or trace state.
        let text = 16usize
            .checked_add(l.max_value_len)
            .and_then(|n| n.checked_next_multiple_of(16))
            .unwrap_or(usize::MAX);
        let attr = text.saturating_mul(2);
        let message = l
            .max_value_len
            .checked_next_multiple_of(16)
            .unwrap_or(usize::MAX);
        // Counts are of what the span holds, so the sizes below them cannot overflow.
        let resolved = |count: usize| {
            let kept = count.min(l.max_attributes);
            alloc_bytes(kept * size_of::<Attribute>()).saturating_add(kept.saturating_mul(attr))
        };
        let kept = span.attributes().len().min(l.max_attributes);
        let events = span.events();
        let events = &events[..events.len().min(l.max_events)];
        let links = span.links();
        let links = &links[..links.len().min(l.max_links)];
        let events_cost = events.iter().fold(0, |n: usize, e| {
            n.saturating_add(text.saturating_add(resolved(e.attributes().len())))
        });
        let links_cost = links.iter().fold(0, |n: usize, lk| {
            n.saturating_add(resolved(lk.attributes().len()))
        });
        [
            text,
            alloc_bytes(kept * size_of::<PackedAttr>()),
            kept.saturating_mul(attr),
            (4 + kept) * POSTING_GROWTH,
            alloc_bytes(size_of::<Extra>()),
            message.saturating_mul(2),
            alloc_bytes(events.len() * size_of::<SpanEvent>()),
            events_cost,
            alloc_bytes(links.len() * size_of::<SpanLink>()),
            links_cost,
        ]
        .into_iter()
        .fold(0, usize::saturating_add)
    }

    /// The most strings storing `span` can intern: its name and each kept attribute's key and
    /// value (events' and links' strings are kept as they are, not interned).
    fn span_strings_bound<S: IngestSpan>(&self, span: &S) -> usize {
        1 + 2 * span.attributes().len().min(self.limits.max_attributes)
    }

    fn pack<S: IngestSpan>(
        &mut self,
        span: &S,
        trace_state: Option<&str>,
        source: u32,
        service: Sym,
        arrived: u32,
    ) -> StoredSpan {
        let max = self.limits.max_value_len;
        let name = self.strings.intern_ref(span.name(), max);
        let attributes = span.attributes();
        let kept = attributes.len().min(self.limits.max_attributes);
        let over_attrs = saturating_u32(attributes.len() - kept);
        // An evicted span's slots when one had as many, else a new allocation.
        let mut attrs = match self.spare_attrs.iter().rposition(|b| b.len() == kept) {
            Some(i) => {
                self.spare_bytes -= packed_bytes(kept);
                self.spare_attrs.swap_remove(i)
            }
            None => vec![PackedAttr::default(); kept].into_boxed_slice(),
        };
        for (slot, a) in attrs.iter_mut().zip(&attributes[..kept]) {
            let key = self.strings.intern_ref(a.key(), max);
            let (tag, bits) = self.intern_value(a.value());
            *slot = PackedAttr { bits, key, tag };
        }
        let (events, links) = (span.events(), span.links());
        let over_events = saturating_u32(events.len().saturating_sub(self.limits.max_events));
        let over_links = saturating_u32(links.len().saturating_sub(self.limits.max_links));
        let status_message = span.status_message();
        let has_extra = status_message.is_some()
            || trace_state.is_some()
            || !events.is_empty()
            || !links.is_empty()
            || span.dropped_attributes() > 0
            || over_attrs > 0
            || span.dropped_events() > 0
            || span.dropped_links() > 0;
        let extra = has_extra.then(|| {
            let max_attrs = self.limits.max_attributes;
            Box::new(Extra {
                status_message: status_message.map(|m| truncate(m, max).into()),
                trace_state: trace_state.map(|t| truncate(t, max).into()),
                events: events
                    .iter()
                    .take(self.limits.max_events)
                    .map(|e| SpanEvent {
                        time_unix_nano: e.time_unix_nano(),
                        name: Arc::from(truncate(e.name(), max)),
                        attributes: resolved_attrs(e.attributes(), max_attrs, max),
                    })
                    .collect(),
                links: links
                    .iter()
                    .take(self.limits.max_links)
                    .map(|l| SpanLink {
                        trace_id: l.trace_id(),
                        span_id: l.span_id(),
                        attributes: resolved_attrs(l.attributes(), max_attrs, max),
                    })
                    .collect(),
                dropped_attributes: span.dropped_attributes().saturating_add(over_attrs),
                dropped_events: span.dropped_events().saturating_add(over_events),
                dropped_links: span.dropped_links().saturating_add(over_links),
            })
        });
        StoredSpan {
            trace_id: span.trace_id(),
            span_id: span.span_id(),
            parent_span_id: span.parent_span_id(),
            start: span.start_unix_nano(),
            end: span.end_unix_nano(),
            attrs,
            extra,
            source,
            service,
            name,
            arrived,
            trace_slot: 0,
            flags: span.flags(),
            kind: kind_to_u8(span.kind()),
            status: span.status().to_u8(),
        }
    }

    /// Stores `span` and indexes it. Returns its sequence number and the bytes its indexes
    /// grew by (posting lists and maps doubling), which its bound does not cover.
    fn push(&mut self, mut span: StoredSpan) -> (u64, usize) {
        let seq = self.head + self.spans.len() as u64;
        self.span_heap += span.heap_bytes();
        // Indexes.
        let mut heap: isize = 0;
        let mut maps = 0;
        span.trace_slot = self.traces.push(span.trace_id, seq, &mut heap);
        match self.by_service.get_mut(&span.service) {
            Some(si) => {
                let (h, grown) = si.push(span.name, seq);
                heap += h;
                self.op_maps_bytes += grown;
                maps += grown;
            }
            None => {
                let (si, ops) = ServiceIndex::new(span.name, seq);
                self.by_service.insert(span.service, si);
                maps += self.by_service_table.inserted(self.by_service.capacity()) + ops;
                self.op_maps_bytes += ops;
            }
        }
        if span.is_error() {
            match &mut self.errors {
                Some(p) => heap += p.push(seq),
                None => self.errors = Some(Posting::new(seq)),
            }
        }
        let max_values = self.limits.max_values_per_key;
        for a in span.attrs.iter() {
            if !indexable(a.tag) {
                continue;
            }
            let mut slot = self.strings.key_slot(a.key);
            if slot == NO_SLOT {
                let before = self.by_attr.bytes();
                slot = self.by_attr.insert();
                self.strings.set_key_slot(a.key, slot);
                maps += self.by_attr.bytes().saturating_sub(before);
            }
            let Some(ki) = self.by_attr.get_mut(slot) else {
                continue;
            };
            if ki.disabled {
                continue;
            }
            if let Some(p) = ki.values.get_mut(&(a.tag, a.bits)) {
                // The map's table changes only when a value is added.
                heap += p.push(seq);
                continue;
            }
            ki.values.insert((a.tag, a.bits), Posting::new(seq));
            let grown = ki.table.inserted(ki.values.capacity());
            self.attr_maps_bytes += grown;
            maps += grown;
            if ki.values.len() > max_values {
                // Too many distinct values to be worth indexing: searches on this key scan.
                for p in ki.values.values() {
                    heap -= p.heap_bytes() as isize;
                }
                ki.values = SeededMap::default();
                adjust(&mut self.attr_maps_bytes, ki.table.reset(0));
                ki.disabled = true;
            }
        }
        adjust(&mut self.posting_heap, heap);
        // Zone map.
        let block_no = seq >> BLOCK_SHIFT;
        if self.blocks.is_empty() {
            self.blocks_head = block_no;
        }
        while self.blocks_head + (self.blocks.len() as u64) <= block_no {
            let before = self.blocks.capacity();
            self.blocks.push_back(Block::EMPTY);
            maps += (self.blocks.capacity() - before) * size_of::<Block>();
        }
        let b = &mut self.blocks[(block_no - self.blocks_head) as usize];
        b.min_start = b.min_start.min(span.start);
        b.max_start = b.max_start.max(span.start);
        b.max_duration = b.max_duration.max(span.duration());
        b.errors += u32::from(span.is_error());
        self.spans.push_back(span);
        self.stored_total += 1;
        (seq, maps + heap.max(0) as usize)
    }
}

/// Posting-list growth allowed per index entry of a new span (most lists are short and inline
/// and grow by nothing; a list moving to the heap or doubling grows by more, rarely, and is
/// accounted right after).
const POSTING_GROWTH: usize = 16;

/// The first `max_attrs` of `attrs`, resolved with values cut at `max` bytes.
fn resolved_attrs(attrs: &[impl IngestAttr], max_attrs: usize, max: usize) -> Vec<Attribute> {
    attrs
        .iter()
        .take(max_attrs)
        .map(|a| resolved_attr(a, max))
        .collect()
}

/// A count as the `u32` OTLP uses, saturating rather than wrapping.
fn saturating_u32(n: usize) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}

/// What tests use to reach the writer's failure paths.
#[cfg(test)]
pub(crate) mod tests_support {
    /// A batch from this service makes [`Store::insert`](super::Store::insert) panic.
    pub(crate) const PANIC_SERVICE: &str = "tracewire.test.panic";
}
