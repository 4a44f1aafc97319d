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

mod intern;
mod posting;

use std::collections::{HashSet, VecDeque};
use std::mem::size_of;
use std::sync::Arc;
use std::time::{Duration, Instant};

pub(crate) use self::intern::map_bytes;
use self::intern::{Interner, Sym, arc_str_bytes};
use self::posting::Posting;
use crate::fxhash::FxHashMap;
use crate::ingest::{NewBatch, NewSource, NewSpan, NewValue, Str};
use crate::model::{
    AttrValue, Attribute, IngestObserver, IngestedSpan, Scope, Span, SpanEvent, SpanId, SpanLink,
    StatusCode, TraceId, kind_from_u8, kind_to_u8,
};
use crate::query::{StoreStats, TraceQuery, TraceSummary};

/// The store's budgets and per-span caps.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Limits {
    pub(crate) max_spans: usize,
    pub(crate) max_bytes: usize,
    pub(crate) retention: Duration,
    pub(crate) max_attributes: usize,
    pub(crate) max_value_len: usize,
    pub(crate) max_events: usize,
    pub(crate) max_links: usize,
    pub(crate) max_values_per_key: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_spans: 1_000_000,
            max_bytes: 512 << 20,
            retention: Duration::from_secs(3600),
            max_attributes: 128,
            max_value_len: 4096,
            max_events: 128,
            max_links: 128,
            max_values_per_key: 4096,
        }
    }
}

const TAG_STR: u8 = 0;
const TAG_BOOL: u8 = 1;
const TAG_INT: u8 = 2;
const TAG_DOUBLE: u8 = 3;
const TAG_JSON: u8 = 4;

/// One attribute in 16 bytes: the key's symbol, a type tag and the value's bits (a symbol for
/// strings).
#[derive(Clone, Copy)]
struct PackedAttr {
    bits: u64,
    key: Sym,
    tag: u8,
}

/// What few spans carry: kept behind one pointer so the common span stays small.
struct Extra {
    status_message: Option<Box<str>>,
    trace_state: Option<Box<str>>,
    events: Box<[SpanEvent]>,
    links: Box<[SpanLink]>,
    dropped_attributes: u32,
    dropped_events: u32,
    dropped_links: u32,
}

struct StoredSpan {
    trace_id: TraceId,
    span_id: SpanId,
    parent_span_id: SpanId,
    start: u64,
    end: u64,
    attrs: Box<[PackedAttr]>,
    extra: Option<Box<Extra>>,
    source: u32,
    service: Sym,
    name: Sym,
    /// Tenths of a second since the store started, for the retention window.
    arrived: u32,
    flags: u8,
    kind: u8,
    status: u8,
}

impl StoredSpan {
    fn is_error(&self) -> bool {
        self.status == StatusCode::Error.to_u8()
    }

    fn duration(&self) -> u64 {
        self.end.saturating_sub(self.start)
    }

    /// Heap bytes owned by this span outside the ring slot (strings it shares through the
    /// interner are accounted there).
    fn heap_bytes(&self) -> usize {
        let mut n = alloc_bytes(self.attrs.len() * size_of::<PackedAttr>());
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

/// Bytes of one allocation of `n` bytes, rounded to the allocator's 16-byte granule (zero-sized
/// allocations do not allocate).
pub(crate) fn alloc_bytes(n: usize) -> usize {
    if n == 0 { 0 } else { n.next_multiple_of(16) }
}

fn attrs_bytes(attrs: &[Attribute]) -> usize {
    let mut n = alloc_bytes(std::mem::size_of_val(attrs));
    for a in attrs {
        n += arc_str_bytes(a.key.len());
        if let AttrValue::String(s) | AttrValue::Json(s) = &a.value {
            n += arc_str_bytes(s.len());
        }
    }
    n
}

/// A resource plus scope, shared by the spans that came with it.
struct Source {
    key: Box<str>,
    resource: Arc<[Attribute]>,
    scope: Scope,
    refs: u32,
    bytes: usize,
}

const BLOCK_SHIFT: u32 = 10;

/// Zone map entry for 1024 consecutive sequence numbers. Only widened, never narrowed by
/// eviction, so it is always a safe over-approximation.
#[derive(Clone, Copy)]
struct Block {
    min_start: u64,
    max_start: u64,
    max_duration: u64,
    errors: u32,
}

impl Block {
    const EMPTY: Block = Block {
        min_start: u64::MAX,
        max_start: 0,
        max_duration: 0,
        errors: 0,
    };
}

#[derive(Default)]
struct KeyIndex {
    values: FxHashMap<(u8, u64), Posting>,
    /// Set once the key has had too many distinct values; searches on it scan instead.
    disabled: bool,
}

/// The store. Written by one thread; read under a shared lock.
pub(crate) struct Store {
    limits: Limits,
    epoch: Instant,
    strings: Interner,
    sources: Vec<Option<Source>>,
    source_ids: FxHashMap<Box<str>, u32>,
    free_sources: Vec<u32>,
    source_bytes: usize,
    spans: VecDeque<StoredSpan>,
    /// Sequence number of `spans[0]`.
    head: u64,
    span_heap: usize,
    traces: FxHashMap<TraceId, Posting>,
    by_service: FxHashMap<Sym, Posting>,
    by_operation: FxHashMap<(Sym, Sym), Posting>,
    errors: Option<Posting>,
    by_attr: FxHashMap<Sym, KeyIndex>,
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

fn adjust(total: &mut usize, delta: isize) {
    *total = total.wrapping_add_signed(delta);
}

/// Truncates `s` to at most `max` bytes on a character boundary.
fn truncate(s: &str, max: usize) -> &str {
    if s.len() <= max {
        return s;
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}

impl Store {
    pub(crate) fn new(limits: Limits) -> Self {
        Store {
            limits,
            epoch: Instant::now(),
            strings: Interner::default(),
            sources: Vec::new(),
            source_ids: FxHashMap::default(),
            free_sources: Vec::new(),
            source_bytes: 0,
            spans: VecDeque::new(),
            head: 0,
            span_heap: 0,
            traces: FxHashMap::default(),
            by_service: FxHashMap::default(),
            by_operation: FxHashMap::default(),
            errors: None,
            by_attr: FxHashMap::default(),
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

    fn now_ticks(&self) -> u32 {
        u32::try_from(self.epoch.elapsed().as_millis() / 100).unwrap_or(u32::MAX)
    }

    // --- writing ---------------------------------------------------------------------------

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

    /// Makes room for one more span: under the span budget, and under the byte budget with a
    /// typical span's worth of headroom.
    fn make_room(&mut self) {
        while self.spans.len() >= self.limits.max_spans.max(1) {
            self.evict_front();
        }
        let headroom = size_of::<StoredSpan>() * 2 + 256;
        while !self.spans.is_empty() && self.bytes() + headroom > self.limits.max_bytes {
            self.evict_front();
        }
    }

    fn enforce_bytes(&mut self) {
        while !self.spans.is_empty() && self.bytes() > self.limits.max_bytes {
            self.evict_front();
        }
        if self.spans.is_empty() && self.bytes() > self.limits.max_bytes {
            self.shrink();
        }
    }

    /// Releases spare capacity (when an emptied store still holds on to a burst's worth).
    fn shrink(&mut self) {
        self.spans.shrink_to_fit();
        self.traces.shrink_to_fit();
        self.by_service.shrink_to_fit();
        self.by_operation.shrink_to_fit();
        self.by_attr.shrink_to_fit();
        self.blocks.shrink_to_fit();
        self.source_ids.shrink_to_fit();
        if self.source_ids.is_empty() {
            self.sources = Vec::new();
            self.free_sources = Vec::new();
        }
        self.strings.shrink();
    }

    fn source_for(&mut self, source: &NewSource) -> u32 {
        let mut key = String::with_capacity(64);
        key.push_str(&source.service);
        key.push('\0');
        key.push_str(&source.scope_name);
        key.push('\0');
        key.push_str(&source.scope_version);
        for (k, v) in &source.resource {
            key.push('\0');
            key.push_str(k);
            key.push('=');
            push_value_text(&mut key, v);
        }
        if let Some(&id) = self.source_ids.get(key.as_str()) {
            self.retain_source(id);
            return id;
        }
        let max_len = self.limits.max_value_len;
        let resource: Arc<[Attribute]> = source
            .resource
            .iter()
            .take(self.limits.max_attributes)
            .map(|(k, v)| resolved_attr(k, v, max_len))
            .collect();
        let scope = Scope {
            name: Arc::from(truncate(&source.scope_name, max_len)),
            version: Arc::from(truncate(&source.scope_version, max_len)),
        };
        let key: Box<str> = key.into_boxed_str();
        let bytes = alloc_bytes(key.len()) * 2
            + (16 + resource.len() * size_of::<Attribute>()).next_multiple_of(16)
            + attrs_bytes(&resource)
            - alloc_bytes(resource.len() * size_of::<Attribute>())
            + arc_str_bytes(scope.name.len())
            + arc_str_bytes(scope.version.len());
        self.source_bytes += bytes;
        let entry = Source {
            key: key.clone(),
            resource,
            scope,
            refs: 1,
            bytes,
        };
        let id = match self.free_sources.pop() {
            Some(id) => {
                self.sources[id as usize] = Some(entry);
                id
            }
            None => {
                self.sources.push(Some(entry));
                (self.sources.len() - 1) as u32
            }
        };
        self.source_ids.insert(key, id);
        id
    }

    fn retain_source(&mut self, id: u32) {
        if let Some(s) = &mut self.sources[id as usize] {
            s.refs += 1;
        }
    }

    fn release_source(&mut self, id: u32) {
        let slot = &mut self.sources[id as usize];
        if let Some(s) = slot {
            s.refs -= 1;
            if s.refs == 0 {
                self.source_bytes -= s.bytes;
                self.source_ids.remove(&s.key);
                *slot = None;
                self.free_sources.push(id);
            }
        }
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
                ki.values = FxHashMap::default();
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

    fn evict_front(&mut self) {
        let Some(span) = self.spans.pop_front() else {
            return;
        };
        let seq = self.head;
        self.head += 1;
        self.evicted += 1;
        self.span_heap -= span.heap_bytes();
        let mut heap: isize = 0;
        pop_posting(&mut self.traces, span.trace_id, seq, &mut heap);
        pop_posting(&mut self.by_service, span.service, seq, &mut heap);
        pop_posting(
            &mut self.by_operation,
            (span.service, span.name),
            seq,
            &mut heap,
        );
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
            let Some(ki) = self.by_attr.get_mut(&a.key) else {
                continue;
            };
            if ki.disabled {
                continue;
            }
            let before = map_bytes::<(u8, u64), Posting>(ki.values.capacity());
            if let Some(p) = ki.values.get_mut(&(a.tag, a.bits)) {
                let (empty, d) = p.pop_front(seq);
                heap += d;
                if empty {
                    ki.values.remove(&(a.tag, a.bits));
                }
            }
            let after = map_bytes::<(u8, u64), Posting>(ki.values.capacity());
            adjust(&mut self.attr_maps_bytes, after as isize - before as isize);
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
        // Zone map: drop blocks that are wholly evicted.
        while !self.blocks.is_empty() && (self.blocks_head + 1) << BLOCK_SHIFT <= self.head {
            self.blocks.pop_front();
            self.blocks_head += 1;
        }
        if self.traces.capacity() > 1024 && self.traces.len() * 8 < self.traces.capacity() {
            self.traces.shrink_to(self.traces.len() * 2);
        }
    }

    /// Drops a reference to a symbol; when it is freed, so is the key index under it (no live
    /// span can have that key any more, and the symbol may be reused for another string).
    fn release_sym(&mut self, sym: Sym) {
        if self.strings.release(sym)
            && let Some(ki) = self.by_attr.remove(&sym)
        {
            let b = map_bytes::<(u8, u64), Posting>(ki.values.capacity());
            self.attr_maps_bytes -= b;
        }
    }

    // --- reading ---------------------------------------------------------------------------

    fn span_at(&self, seq: u64) -> Option<&StoredSpan> {
        self.spans.get(seq.checked_sub(self.head)? as usize)
    }

    fn resolve_attr(&self, a: &PackedAttr) -> Attribute {
        let value = match a.tag {
            TAG_STR => AttrValue::String(self.strings.resolve(a.bits as Sym).clone()),
            TAG_BOOL => AttrValue::Bool(a.bits != 0),
            TAG_INT => AttrValue::Int(a.bits as i64),
            TAG_DOUBLE => AttrValue::Double(f64::from_bits(a.bits)),
            _ => AttrValue::Json(self.strings.resolve(a.bits as Sym).clone()),
        };
        Attribute {
            key: self.strings.resolve(a.key).clone(),
            value,
        }
    }

    fn resolve(&self, s: &StoredSpan) -> Span {
        let (resource, scope) = match &self.sources[s.source as usize] {
            Some(src) => (src.resource.clone(), src.scope.clone()),
            None => (Arc::from(Vec::new()), Scope::default()),
        };
        let extra = s.extra.as_deref();
        Span {
            trace_id: s.trace_id,
            span_id: s.span_id,
            parent_span_id: s.parent_span_id,
            service: self.strings.resolve(s.service).clone(),
            name: self.strings.resolve(s.name).clone(),
            kind: kind_from_u8(s.kind),
            start_unix_nano: s.start,
            end_unix_nano: s.end,
            status: StatusCode::from_u8(s.status),
            status_message: extra.and_then(|e| e.status_message.as_deref().map(Arc::from)),
            attributes: s.attrs.iter().map(|a| self.resolve_attr(a)).collect(),
            resource,
            scope,
            events: extra.map(|e| e.events.to_vec()).unwrap_or_default(),
            links: extra.map(|e| e.links.to_vec()).unwrap_or_default(),
            trace_state: extra.and_then(|e| e.trace_state.as_deref().map(Arc::from)),
            flags: u32::from(s.flags),
            dropped_attributes: extra.map_or(0, |e| e.dropped_attributes),
            dropped_events: extra.map_or(0, |e| e.dropped_events),
            dropped_links: extra.map_or(0, |e| e.dropped_links),
        }
    }

    /// Every stored span of `trace_id`, in arrival order.
    pub(crate) fn trace(&self, trace_id: TraceId) -> Vec<Span> {
        let Some(p) = self.traces.get(&trace_id) else {
            return Vec::new();
        };
        p.iter_oldest(self.head)
            .filter_map(|seq| self.span_at(seq))
            .map(|s| self.resolve(s))
            .collect()
    }

    /// Services with stored spans, sorted.
    pub(crate) fn services(&self) -> Vec<String> {
        let mut v: Vec<String> = self
            .by_service
            .keys()
            .map(|&s| self.strings.resolve(s).to_string())
            .collect();
        v.sort();
        v
    }

    /// Operations (span names) of `service` with stored spans, sorted.
    pub(crate) fn operations(&self, service: &str) -> Vec<String> {
        let Some(svc) = self.strings.lookup(service) else {
            return Vec::new();
        };
        let mut v: Vec<String> = self
            .by_operation
            .keys()
            .filter(|(s, _)| *s == svc)
            .map(|&(_, op)| self.strings.resolve(op).to_string())
            .collect();
        v.sort();
        v
    }

    /// Traces with a span matching `q`, newest match first.
    pub(crate) fn search(&self, q: &TraceQuery) -> Vec<TraceSummary> {
        let limit = q.limit.clamp(1, TraceQuery::MAX_LIMIT);
        let Some(m) = self.matcher(q) else {
            return Vec::new();
        };
        let mut seen = HashSet::new();
        let mut found = Vec::new();
        let mut consider = |seq: u64| -> bool {
            if let Some(s) = self.span_at(seq)
                && m.matches(s)
                && seen.insert(s.trace_id)
            {
                found.push(s.trace_id);
            }
            found.len() < limit
        };
        // Drive from the shortest posting list that every match must be in.
        let mut driver: Option<&Posting> = None;
        let mut candidates: Vec<&Posting> = Vec::new();
        if let Some(svc) = m.service {
            match m.operation {
                Some(op) => candidates.extend(self.by_operation.get(&(svc, op))),
                None => candidates.extend(self.by_service.get(&svc)),
            }
        }
        if m.error_only {
            candidates.extend(self.errors.as_ref());
        }
        for t in &m.tags {
            if let Some(ki) = self.by_attr.get(&t.key)
                && !ki.disabled
                && t.values.iter().all(|v| indexable(v.0))
            {
                let lists: Vec<&Posting> =
                    t.values.iter().filter_map(|v| ki.values.get(v)).collect();
                match lists.len() {
                    0 => return Vec::new(),
                    1 => candidates.push(lists[0]),
                    _ => {}
                }
            }
        }
        for c in candidates {
            if driver.is_none_or(|d| c.len() < d.len()) {
                driver = Some(c);
            }
        }
        match driver {
            Some(p) => {
                for seq in p.iter_newest(self.head) {
                    if !consider(seq) {
                        break;
                    }
                }
            }
            None => {
                'blocks: for (i, b) in self.blocks.iter().enumerate().rev() {
                    if !m.block_may_match(b) {
                        continue;
                    }
                    let first = ((self.blocks_head + i as u64) << BLOCK_SHIFT).max(self.head);
                    let last = ((self.blocks_head + i as u64 + 1) << BLOCK_SHIFT)
                        .min(self.head + self.spans.len() as u64);
                    for seq in (first..last).rev() {
                        if !consider(seq) {
                            break 'blocks;
                        }
                    }
                }
            }
        }
        found.into_iter().filter_map(|t| self.summary(t)).collect()
    }

    fn summary(&self, trace_id: TraceId) -> Option<TraceSummary> {
        let p = self.traces.get(&trace_id)?;
        let mut start = u64::MAX;
        let mut end = 0;
        let mut count = 0;
        let mut errors = 0;
        let mut root: Option<&StoredSpan> = None;
        let mut earliest: Option<&StoredSpan> = None;
        let mut services: Vec<(Sym, usize)> = Vec::new();
        for seq in p.iter_oldest(self.head) {
            let Some(s) = self.span_at(seq) else { continue };
            count += 1;
            errors += usize::from(s.is_error());
            start = start.min(s.start);
            end = end.max(s.end);
            if !s.parent_span_id.is_valid() && root.is_none_or(|r| s.start < r.start) {
                root = Some(s);
            }
            if earliest.is_none_or(|e| s.start < e.start) {
                earliest = Some(s);
            }
            match services.iter_mut().find(|(svc, _)| *svc == s.service) {
                Some((_, n)) => *n += 1,
                None => services.push((s.service, 1)),
            }
        }
        let head = root.or(earliest)?;
        let mut services: Vec<(Arc<str>, usize)> = services
            .into_iter()
            .map(|(s, n)| (self.strings.resolve(s).clone(), n))
            .collect();
        services.sort();
        Some(TraceSummary {
            trace_id,
            root_service: self.strings.resolve(head.service).clone(),
            root_name: self.strings.resolve(head.name).clone(),
            has_root: root.is_some(),
            start_unix_nano: start,
            duration_nanos: end.saturating_sub(start),
            span_count: count,
            error_count: errors,
            services,
        })
    }

    /// Compiles a query into symbols; `None` when it cannot match anything.
    fn matcher(&self, q: &TraceQuery) -> Option<Matcher> {
        let service = match &q.service {
            Some(s) => Some(self.strings.lookup(s)?),
            None => None,
        };
        let operation = match &q.operation {
            Some(s) => Some(self.strings.lookup(s)?),
            None => None,
        };
        let mut tags = Vec::with_capacity(q.tags.len());
        for (k, v) in &q.tags {
            let key = self.strings.lookup(k)?;
            let mut values = Vec::with_capacity(4);
            if let Some(sym) = self.strings.lookup(v) {
                values.push((TAG_STR, u64::from(sym)));
            }
            if let Ok(i) = v.parse::<i64>() {
                values.push((TAG_INT, i as u64));
            } else if let Ok(d) = v.parse::<f64>() {
                values.push((TAG_DOUBLE, d.to_bits()));
            }
            if let Ok(b) = v.parse::<bool>() {
                values.push((TAG_BOOL, u64::from(b)));
            }
            if values.is_empty() {
                return None;
            }
            tags.push(TagMatch { key, values });
        }
        Some(Matcher {
            service,
            operation,
            min_duration: q.min_duration_nanos,
            max_duration: q.max_duration_nanos,
            error_only: q.error_only,
            start: q.start_unix_nano,
            end: q.end_unix_nano,
            tags,
        })
    }

    /// Calls `f` with every stored span, oldest first.
    pub(crate) fn for_each_span(&self, mut f: impl FnMut(&Span)) {
        for s in &self.spans {
            f(&self.resolve(s));
        }
    }
}

fn indexable(tag: u8) -> bool {
    matches!(tag, TAG_STR | TAG_BOOL | TAG_INT)
}

fn push_posting<K: std::hash::Hash + Eq>(
    map: &mut FxHashMap<K, Posting>,
    key: K,
    seq: u64,
    heap: &mut isize,
) {
    match map.get_mut(&key) {
        Some(p) => *heap += p.push(seq),
        None => {
            map.insert(key, Posting::new(seq));
        }
    }
}

fn pop_posting<K: std::hash::Hash + Eq>(
    map: &mut FxHashMap<K, Posting>,
    key: K,
    seq: u64,
    heap: &mut isize,
) {
    if let Some(p) = map.get_mut(&key) {
        let (empty, d) = p.pop_front(seq);
        *heap += d;
        if empty {
            map.remove(&key);
        }
    }
}

fn push_value_text(out: &mut String, v: &NewValue) {
    use std::fmt::Write;
    let _ = match v {
        NewValue::Str(s) => write!(out, "s{s}"),
        NewValue::Bool(b) => write!(out, "b{b}"),
        NewValue::Int(i) => write!(out, "i{i}"),
        NewValue::Double(d) => write!(out, "d{d}"),
        NewValue::Json(j) => write!(out, "j{j}"),
    };
}

fn resolved_attr(k: &Str, v: &NewValue, max: usize) -> Attribute {
    Attribute {
        key: Arc::from(truncate(k, max)),
        value: match v {
            NewValue::Str(s) => AttrValue::String(Arc::from(truncate(s, max))),
            NewValue::Bool(b) => AttrValue::Bool(*b),
            NewValue::Int(i) => AttrValue::Int(*i),
            NewValue::Double(d) => AttrValue::Double(*d),
            NewValue::Json(s) => AttrValue::Json(Arc::from(truncate(s, max))),
        },
    }
}

struct TagMatch {
    key: Sym,
    values: Vec<(u8, u64)>,
}

struct Matcher {
    service: Option<Sym>,
    operation: Option<Sym>,
    min_duration: Option<u64>,
    max_duration: Option<u64>,
    error_only: bool,
    start: Option<u64>,
    end: Option<u64>,
    tags: Vec<TagMatch>,
}

impl Matcher {
    fn matches(&self, s: &StoredSpan) -> bool {
        if self.service.is_some_and(|v| v != s.service)
            || self.operation.is_some_and(|v| v != s.name)
            || (self.error_only && !s.is_error())
            || self.start.is_some_and(|t| s.start < t)
            || self.end.is_some_and(|t| s.start > t)
        {
            return false;
        }
        let d = s.duration();
        if self.min_duration.is_some_and(|m| d < m) || self.max_duration.is_some_and(|m| d > m) {
            return false;
        }
        self.tags.iter().all(|t| {
            s.attrs
                .iter()
                .any(|a| a.key == t.key && t.values.contains(&(a.tag, a.bits)))
        })
    }

    fn block_may_match(&self, b: &Block) -> bool {
        !(self.start.is_some_and(|t| b.max_start < t)
            || self.end.is_some_and(|t| b.min_start > t)
            || self.min_duration.is_some_and(|m| b.max_duration < m)
            || (self.error_only && b.errors == 0))
    }
}

#[cfg(test)]
mod tests;
