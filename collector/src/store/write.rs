//! The write path: packing decoded spans and adding them to the ring and its indexes.

use std::sync::Arc;

use super::Store;
use super::index::{BLOCK_SHIFT, Block, indexable, push_posting};
use super::intern::{Sym, map_bytes};
use super::limits::{adjust, truncate};
use super::posting::Posting;
use super::source::resolved_attr;
use super::span::{
    Extra, PackedAttr, StoredSpan, TAG_BOOL, TAG_DOUBLE, TAG_INT, TAG_JSON, TAG_STR,
};
use crate::hash::SeededMap;
use crate::ingest::{NewBatch, NewSpan, NewValue};
use crate::model::{IngestObserver, IngestedSpan, SpanEvent, SpanLink, kind_from_u8, kind_to_u8};

impl Store {
    /// Stores `batches`, evicting the oldest spans to stay within the budgets, and tells the
    /// observers about each stored span.
    pub(crate) fn insert(&mut self, batches: Vec<NewBatch>, observers: &[Arc<dyn IngestObserver>]) {
        let arrived = self.now_ticks();
        for batch in batches {
            if batch.spans.is_empty() {
                continue;
            }
            let source = self.source_for(&batch.source);
            let service = self
                .strings
                .intern(truncate(&batch.source.service, self.limits.max_value_len));
            for span in batch.spans {
                self.make_room();
                self.strings.retain(service);
                self.retain_source(source);
                let stored = self.pack(span, source, service, arrived);
                let seq = self.push(stored);
                if !observers.is_empty() {
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
                    for o in observers {
                        o.on_span(&ingested);
                    }
                }
            }
            // The batch's own references were taken per span.
            self.release_sym(service);
            self.release_source(source);
        }
        self.enforce_bytes();
    }

    fn intern_value(&mut self, v: &NewValue) -> (u8, u64) {
        let max = self.limits.max_value_len;
        match v {
            NewValue::Str(s) => (TAG_STR, u64::from(self.strings.intern(truncate(s, max)))),
            NewValue::Bool(b) => (TAG_BOOL, u64::from(*b)),
            NewValue::Int(i) => (TAG_INT, *i as u64),
            NewValue::Double(d) => (TAG_DOUBLE, d.to_bits()),
            NewValue::Json(s) => (TAG_JSON, u64::from(self.strings.intern(truncate(s, max)))),
        }
    }

    fn pack(&mut self, span: NewSpan, source: u32, service: Sym, arrived: u32) -> StoredSpan {
        let max = self.limits.max_value_len;
        let name = self.strings.intern(truncate(&span.name, max));
        let kept = span.attributes.len().min(self.limits.max_attributes);
        let over_attrs = (span.attributes.len() - kept) as u32;
        let mut attrs = Vec::with_capacity(kept);
        for (k, v) in span.attributes.iter().take(kept) {
            let key = self.strings.intern(truncate(k, max));
            let (tag, bits) = self.intern_value(v);
            attrs.push(PackedAttr { bits, key, tag });
        }
        let over_events = span.events.len().saturating_sub(self.limits.max_events) as u32;
        let over_links = span.links.len().saturating_sub(self.limits.max_links) as u32;
        let has_extra = span
            .status_message
            .as_deref()
            .is_some_and(|m| !m.is_empty())
            || span.trace_state.as_deref().is_some_and(|t| !t.is_empty())
            || !span.events.is_empty()
            || !span.links.is_empty()
            || span.dropped_attributes + over_attrs > 0
            || span.dropped_events > 0
            || span.dropped_links > 0;
        let extra = has_extra.then(|| {
            let max_attrs = self.limits.max_attributes;
            Box::new(Extra {
                status_message: span
                    .status_message
                    .filter(|m| !m.is_empty())
                    .map(|m| truncate(&m, max).into()),
                trace_state: span
                    .trace_state
                    .filter(|t| !t.is_empty())
                    .map(|t| truncate(&t, max).into()),
                events: span
                    .events
                    .iter()
                    .take(self.limits.max_events)
                    .map(|e| SpanEvent {
                        time_unix_nano: e.time_unix_nano,
                        name: Arc::from(truncate(&e.name, max)),
                        attributes: e
                            .attributes
                            .iter()
                            .take(max_attrs)
                            .map(|(k, v)| resolved_attr(k, v, max))
                            .collect(),
                    })
                    .collect(),
                links: span
                    .links
                    .iter()
                    .take(self.limits.max_links)
                    .map(|l| SpanLink {
                        trace_id: l.trace_id,
                        span_id: l.span_id,
                        attributes: l
                            .attributes
                            .iter()
                            .take(max_attrs)
                            .map(|(k, v)| resolved_attr(k, v, max))
                            .collect(),
                    })
                    .collect(),
                dropped_attributes: span.dropped_attributes.saturating_add(over_attrs),
                dropped_events: span.dropped_events.saturating_add(over_events),
                dropped_links: span.dropped_links.saturating_add(over_links),
            })
        });
        StoredSpan {
            trace_id: span.trace_id,
            span_id: span.span_id,
            parent_span_id: span.parent_span_id,
            start: span.start_unix_nano,
            end: span.end_unix_nano,
            attrs: attrs.into_boxed_slice(),
            extra,
            source,
            service,
            name,
            arrived,
            flags: span.flags as u8,
            kind: kind_to_u8(span.kind),
            status: span.status.to_u8(),
        }
    }

    fn push(&mut self, span: StoredSpan) -> u64 {
        let seq = self.head + self.spans.len() as u64;
        self.span_heap += span.heap_bytes();
        // Indexes.
        let mut heap: isize = 0;
        push_posting(&mut self.traces, span.trace_id, seq, &mut heap);
        push_posting(&mut self.by_service, span.service, seq, &mut heap);
        push_posting(
            &mut self.by_operation,
            (span.service, span.name),
            seq,
            &mut heap,
        );
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
            let ki = self.by_attr.entry(a.key).or_default();
            if ki.disabled {
                continue;
            }
            let before = map_bytes::<(u8, u64), Posting>(ki.values.capacity());
            match ki.values.get_mut(&(a.tag, a.bits)) {
                Some(p) => heap += p.push(seq),
                None => {
                    ki.values.insert((a.tag, a.bits), Posting::new(seq));
                }
            }
            if ki.values.len() > max_values {
                // Too many distinct values to be worth indexing: searches on this key scan.
                for p in ki.values.values() {
                    heap -= p.heap_bytes() as isize;
                }
                ki.values = SeededMap::default();
                ki.disabled = true;
            }
            let after = map_bytes::<(u8, u64), Posting>(ki.values.capacity());
            adjust(&mut self.attr_maps_bytes, after as isize - before as isize);
        }
        adjust(&mut self.posting_heap, heap);
        // Zone map.
        let block_no = seq >> BLOCK_SHIFT;
        if self.blocks.is_empty() {
            self.blocks_head = block_no;
        }
        while self.blocks_head + (self.blocks.len() as u64) <= block_no {
            self.blocks.push_back(Block::EMPTY);
        }
        let b = &mut self.blocks[(block_no - self.blocks_head) as usize];
        b.min_start = b.min_start.min(span.start);
        b.max_start = b.max_start.max(span.start);
        b.max_duration = b.max_duration.max(span.duration());
        b.errors += u32::from(span.is_error());
        self.spans.push_back(span);
        self.stored_total += 1;
        seq
    }
}
