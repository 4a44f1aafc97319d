//! Vectors handed back by the export worker for the next spans and events to record into, so a
//! sampled span's attribute vector, its events' and its vector of events are neither allocated
//! on the request path nor freed on the worker's thread (where the allocator would take the
//! slow path on both sides).
//!
//! The worker empties the vectors of each exported batch and puts them in shared pools (one for
//! attribute vectors, one for vectors of events) under one lock per pool and batch. A thread
//! recording spans takes them from a pool [`LOCAL_BATCH`] at a time into a cache of its own, so
//! a span costs one thread-local pop and the lock is taken once every [`LOCAL_BATCH`] spans.
//! Everything is bounded: the attribute pool holds at most [`RECYCLED_BUFFERS`] vectors of at
//! most [`RECYCLED_MAX_ATTRIBUTES`] attributes, the events pool [`RECYCLED_EVENT_BUFFERS`] of at
//! most [`RECYCLED_MAX_EVENTS`] events, and each thread's caches [`LOCAL_BATCH`] each; larger
//! vectors, and those past the bounds, are freed.

use std::cell::RefCell;
use std::fmt;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::thread::LocalKey;

use crate::span::{Event, SpanData};
use crate::value::KeyValue;

/// How many emptied attribute vectors a [`Pipeline`](super::Pipeline)'s worker keeps for the
/// layer to reuse ([`SpanSink::recycled_attributes`](super::SpanSink::recycled_attributes)).
/// Twice the default batch, so a steady stream of spans finds a vector for each (a span with
/// events needs one more per event; past the bound, vectors are freed as before). Only vectors
/// with room for at most 24 attributes are kept, so the pool holds at most 1024 × 24 attribute
/// slots (1.5 MiB), whatever the spans' sizes.
pub const RECYCLED_BUFFERS: usize = 1024;

/// The largest attribute vector (in attributes) the worker keeps for reuse; larger ones are
/// freed. The layer sizes a span's vector by its call site's field count, so this covers the
/// spans a service records most: the HTTP server span declares 20 fields (its `otel.*` fields
/// included), the HTTP client and gRPC spans fewer.
pub(super) const RECYCLED_MAX_ATTRIBUTES: usize = 24;

/// How many emptied vectors of events the worker keeps
/// ([`SpanSink::recycled_events`](super::SpanSink::recycled_events)): only spans with events
/// have one, so fewer than attribute vectors.
pub(super) const RECYCLED_EVENT_BUFFERS: usize = 256;

/// The largest vector of events (in events) the worker keeps: the first push makes room for
/// four, and a span with a few more grows it to eight. At most 256 × 8 events' room (160 KiB).
pub(super) const RECYCLED_MAX_EVENTS: usize = 8;

/// How many vectors a thread takes from a pool at once, and keeps at most.
const LOCAL_BATCH: usize = 16;

thread_local! {
    /// This thread's share of recycled attribute vectors, freed when the thread exits.
    static LOCAL: RefCell<Vec<Vec<KeyValue>>> = const { RefCell::new(Vec::new()) };
    /// This thread's share of recycled vectors of events.
    static LOCAL_EVENTS: RefCell<Vec<Vec<Event>>> = const { RefCell::new(Vec::new()) };
}

/// One kind of emptied vector, shared by a pipeline's handles and its worker.
struct Pool<T> {
    vectors: Mutex<Vec<Vec<T>>>,
    /// How many vectors the pool holds, read without the lock so an empty pool costs one load.
    available: AtomicUsize,
    /// The most vectors it keeps.
    bound: usize,
}

impl<T> Pool<T> {
    fn new(bound: usize) -> Self {
        Pool {
            vectors: Mutex::new(Vec::new()),
            available: AtomicUsize::new(0),
            bound,
        }
    }

    /// An empty vector with room for `capacity` items, if this thread's cache (`local`) or the
    /// pool has one. The cache is searched from its top for one already large enough (spans'
    /// and events' attribute vectors share a pool, and a span's is not grown from an event's);
    /// only if none is does the top one grow.
    fn take(
        &self,
        local: &'static LocalKey<RefCell<Vec<Vec<T>>>>,
        capacity: usize,
    ) -> Option<Vec<T>> {
        let mut v = local
            .try_with(|local| {
                let mut local = local.borrow_mut();
                if local.is_empty() {
                    self.refill(&mut local);
                }
                match local.iter().rposition(|v| v.capacity() >= capacity) {
                    Some(i) => Some(local.swap_remove(i)),
                    None => local.pop(),
                }
            })
            .ok()
            .flatten()?;
        v.reserve_exact(capacity);
        Some(v)
    }

    /// Moves up to [`LOCAL_BATCH`] vectors from the pool to `local`.
    fn refill(&self, local: &mut Vec<Vec<T>>) {
        if self.available.load(Ordering::Relaxed) == 0 {
            return;
        }
        let mut pool = self.vectors.lock().unwrap_or_else(PoisonError::into_inner);
        let n = pool.len().min(LOCAL_BATCH);
        if local.capacity() == 0 {
            local.reserve_exact(LOCAL_BATCH);
        }
        let from = pool.len() - n;
        local.extend(pool.drain(from..));
        self.available.store(pool.len(), Ordering::Relaxed);
    }

    /// Puts emptied vectors back, as many as the pool has room for; the rest are freed.
    fn give(&self, vectors: &mut Vec<Vec<T>>) {
        if vectors.is_empty() {
            return;
        }
        let mut pool = self.vectors.lock().unwrap_or_else(PoisonError::into_inner);
        let room = self.bound.saturating_sub(pool.len());
        if pool.capacity() == 0 {
            pool.reserve_exact(self.bound);
        }
        let n = vectors.len().min(room);
        pool.extend(vectors.drain(..n));
        self.available.store(pool.len(), Ordering::Relaxed);
        drop(pool);
        vectors.clear();
    }

    #[cfg(test)]
    fn pooled(&self) -> usize {
        self.vectors.lock().unwrap().len()
    }
}

/// Vectors emptied from exported spans, on their way back to the pools.
#[derive(Default)]
pub(super) struct Emptied {
    attributes: Vec<Vec<KeyValue>>,
    events: Vec<Vec<Event>>,
}

/// The pools shared by a pipeline's handles and its worker.
pub(super) struct Buffers {
    attributes: Pool<KeyValue>,
    events: Pool<Event>,
}

impl Default for Buffers {
    fn default() -> Self {
        Buffers {
            attributes: Pool::new(RECYCLED_BUFFERS),
            events: Pool::new(RECYCLED_EVENT_BUFFERS),
        }
    }
}

impl Buffers {
    /// An empty attribute vector with room for `capacity` attributes, if this thread's cache or
    /// the pool has one.
    pub(super) fn take(&self, capacity: usize) -> Option<Vec<KeyValue>> {
        self.attributes.take(&LOCAL, capacity)
    }

    /// An empty vector of events, if this thread's cache or the pool has one.
    pub(super) fn take_events(&self) -> Option<Vec<Event>> {
        self.events.take(&LOCAL_EVENTS, 1)
    }

    /// Puts emptied vectors back, as many as the pools have room for; the rest are freed.
    pub(super) fn give(&self, emptied: &mut Emptied) {
        self.attributes.give(&mut emptied.attributes);
        self.events.give(&mut emptied.events);
    }

    /// Whether the worker should keep `v` (emptied) for reuse.
    pub(super) fn keeps(v: &Vec<KeyValue>) -> bool {
        (1..=RECYCLED_MAX_ATTRIBUTES).contains(&v.capacity())
    }

    /// Drops `span`, adding to `emptied` the vectors of it and its events that are worth
    /// keeping, emptied: its attribute vector and its events' ([`Buffers::keeps`]), and its
    /// vector of events if it has room for at most [`RECYCLED_MAX_EVENTS`].
    pub(super) fn harvest(span: SpanData, emptied: &mut Emptied) {
        let mut keep = |mut v: Vec<KeyValue>| {
            if Buffers::keeps(&v) {
                v.clear();
                emptied.attributes.push(v);
            }
        };
        keep(span.attributes);
        let mut events = span.events;
        for event in events.drain(..) {
            keep(event.attributes);
        }
        if (1..=RECYCLED_MAX_EVENTS).contains(&events.capacity()) {
            emptied.events.push(events);
        }
    }

    #[cfg(test)]
    pub(super) fn pooled(&self) -> usize {
        self.attributes.pooled()
    }

    #[cfg(test)]
    pub(super) fn pooled_events(&self) -> usize {
        self.events.pooled()
    }
}

/// Gives the vectors of spans an exporter kept
/// ([`SpanExporter::export_owned`](super::SpanExporter::export_owned)) back to the pipeline that
/// exported them, for the layer to record its next spans into
/// ([`SpanSink::recycled_attributes`](super::SpanSink::recycled_attributes),
/// [`SpanSink::recycled_events`](super::SpanSink::recycled_events)), as the worker does with the
/// spans it keeps. Within the same bounds ([`RECYCLED_BUFFERS`] attribute vectors of at most 24
/// attributes, 256 vectors of at most 8 events); the rest are freed. Cheap to clone, and usable from any thread, so an exporter
/// that hands spans on to a thread of its own can recycle them there once it is done.
#[derive(Clone, Default)]
pub struct SpanRecycler(Option<Arc<Buffers>>);

impl fmt::Debug for SpanRecycler {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("SpanRecycler")
            .field(&if self.0.is_some() { "pipeline" } else { "none" })
            .finish()
    }
}

impl SpanRecycler {
    /// One that keeps nothing: spans given to it are dropped. For calling an exporter outside a
    /// pipeline.
    pub fn none() -> Self {
        SpanRecycler(None)
    }

    pub(super) fn new(buffers: Arc<Buffers>) -> Self {
        SpanRecycler(Some(buffers))
    }

    /// Drops `spans`, keeping their vectors (attributes, events, events' attributes), emptied,
    /// for reuse (as many as the pools have room for).
    pub fn recycle(&self, spans: impl IntoIterator<Item = SpanData>) {
        let Some(buffers) = &self.0 else { return };
        let spans = spans.into_iter();
        let mut emptied = Emptied {
            attributes: Vec::with_capacity(spans.size_hint().0),
            events: Vec::new(),
        };
        for span in spans {
            Buffers::harvest(span, &mut emptied);
        }
        buffers.give(&mut emptied);
    }

    /// Whether two recyclers give back to the same pipeline (or both keep nothing).
    pub fn same_pipeline(&self, other: &SpanRecycler) -> bool {
        match (&self.0, &other.0) {
            (Some(a), Some(b)) => Arc::ptr_eq(a, b),
            (None, None) => true,
            _ => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vectors(n: usize, capacity: usize) -> Vec<Vec<KeyValue>> {
        (0..n).map(|_| Vec::with_capacity(capacity)).collect()
    }

    #[test]
    fn the_pool_and_each_threads_cache_are_capped() {
        let buffers = Buffers::default();
        let mut given = vectors(RECYCLED_BUFFERS + 40, 4);
        buffers.attributes.give(&mut given);
        assert!(given.is_empty(), "what does not fit is freed");
        assert_eq!(buffers.pooled(), RECYCLED_BUFFERS);
        std::thread::scope(|s| {
            s.spawn(|| {
                let v = buffers.take(3).unwrap();
                assert!(v.is_empty() && v.capacity() >= 4);
                // One batch moved to this thread: one taken, the rest cached.
                assert_eq!(buffers.pooled(), RECYCLED_BUFFERS - LOCAL_BATCH);
                assert_eq!(LOCAL.with(|l| l.borrow().len()), LOCAL_BATCH - 1);
                let bigger = buffers.take(10).unwrap();
                assert!(bigger.capacity() >= 10, "grown to the capacity asked for");
            });
        });
    }

    #[test]
    fn a_vector_large_enough_is_taken_before_a_small_one_is_grown() {
        let buffers = Buffers::default();
        // Spans' and events' vectors mixed, as the worker gives them back: the newest on top.
        let mut given = vec![Vec::with_capacity(20), Vec::with_capacity(3)];
        given.extend(vectors(2, 4));
        let large = given[0].as_ptr() as usize;
        buffers.attributes.give(&mut given);
        std::thread::scope(|s| {
            s.spawn(|| {
                let v = buffers.take(20).unwrap();
                assert_eq!(
                    (v.as_ptr() as usize, v.capacity()),
                    (large, 20),
                    "the one large enough, not grown"
                );
                assert_eq!(buffers.take(4).unwrap().capacity(), 4);
                assert_eq!(buffers.take(4).unwrap().capacity(), 4);
                // Only the 3-slot vector is left: it is grown.
                let grown = buffers.take(5).unwrap();
                assert!(grown.capacity() >= 5);
                assert_eq!(LOCAL.with(|l| l.borrow().len()), 0);
            });
        });
    }

    #[test]
    fn an_empty_pool_gives_nothing_and_large_vectors_are_not_kept() {
        let buffers = Buffers::default();
        std::thread::scope(|s| {
            s.spawn(|| assert!(buffers.take(3).is_none()));
        });
        assert!(Buffers::keeps(&Vec::with_capacity(RECYCLED_MAX_ATTRIBUTES)));
        assert!(!Buffers::keeps(&Vec::with_capacity(
            RECYCLED_MAX_ATTRIBUTES + 1
        )));
        assert!(!Buffers::keeps(&Vec::new()));
    }
}
