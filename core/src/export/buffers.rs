//! Attribute vectors handed back by the export worker for the next spans and events to record
//! into, so a sampled span's vector (or its events') is neither allocated on the request path
//! nor freed on the worker's thread (where the allocator would take the slow path on both
//! sides).
//!
//! The worker empties the vectors of each exported batch and puts them in a shared pool under
//! one lock per batch. A thread creating spans takes them from the pool [`LOCAL_BATCH`] at a
//! time into a cache of its own, so a span costs one thread-local pop and the lock is taken once
//! every [`LOCAL_BATCH`] spans. Everything is bounded: the pool holds at most
//! [`RECYCLED_BUFFERS`] vectors, each thread's cache at most [`LOCAL_BATCH`], and only vectors
//! with room for at most [`RECYCLED_MAX_ATTRIBUTES`] attributes are kept at all.

use std::cell::RefCell;
use std::fmt;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use crate::span::SpanData;
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

/// How many vectors a thread takes from the pool at once, and keeps at most.
const LOCAL_BATCH: usize = 16;

thread_local! {
    /// This thread's share of recycled vectors, freed when the thread exits.
    static LOCAL: RefCell<Vec<Vec<KeyValue>>> = const { RefCell::new(Vec::new()) };
}

/// The pool shared by a pipeline's handles and its worker.
#[derive(Default)]
pub(super) struct Buffers {
    pool: Mutex<Vec<Vec<KeyValue>>>,
    /// How many vectors the pool holds, read without the lock so an empty pool costs one load.
    available: AtomicUsize,
}

impl Buffers {
    /// An empty vector with room for `capacity` attributes, if this thread's cache or the pool
    /// has one. Spans' and events' vectors share the pool, so the cache is searched from its
    /// top for one already large enough (a span's vector is not grown from an event's); only
    /// if none is does the top one grow.
    pub(super) fn take(&self, capacity: usize) -> Option<Vec<KeyValue>> {
        let mut v = LOCAL
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
    fn refill(&self, local: &mut Vec<Vec<KeyValue>>) {
        if self.available.load(Ordering::Relaxed) == 0 {
            return;
        }
        let mut pool = self.pool.lock().unwrap_or_else(PoisonError::into_inner);
        let n = pool.len().min(LOCAL_BATCH);
        if local.capacity() == 0 {
            local.reserve_exact(LOCAL_BATCH);
        }
        let from = pool.len() - n;
        local.extend(pool.drain(from..));
        self.available.store(pool.len(), Ordering::Relaxed);
    }

    /// Puts emptied vectors back, as many as the pool has room for; the rest are freed.
    pub(super) fn give(&self, vectors: &mut Vec<Vec<KeyValue>>) {
        if vectors.is_empty() {
            return;
        }
        let mut pool = self.pool.lock().unwrap_or_else(PoisonError::into_inner);
        let room = RECYCLED_BUFFERS.saturating_sub(pool.len());
        if pool.capacity() == 0 {
            pool.reserve_exact(RECYCLED_BUFFERS);
        }
        let n = vectors.len().min(room);
        pool.extend(vectors.drain(..n));
        self.available.store(pool.len(), Ordering::Relaxed);
        drop(pool);
        vectors.clear();
    }

    /// Whether the worker should keep `v` (emptied) for reuse.
    pub(super) fn keeps(v: &Vec<KeyValue>) -> bool {
        (1..=RECYCLED_MAX_ATTRIBUTES).contains(&v.capacity())
    }

    /// Drops `span`, adding to `emptied` the attribute vectors of it and its events that are
    /// worth keeping ([`Buffers::keeps`]), emptied.
    pub(super) fn harvest(span: SpanData, emptied: &mut Vec<Vec<KeyValue>>) {
        let mut keep = |mut v: Vec<KeyValue>| {
            if Buffers::keeps(&v) {
                v.clear();
                emptied.push(v);
            }
        };
        keep(span.attributes);
        for event in span.events {
            keep(event.attributes);
        }
    }

    #[cfg(test)]
    pub(super) fn pooled(&self) -> usize {
        self.pool.lock().unwrap().len()
    }
}

/// Gives the attribute vectors of spans an exporter kept
/// ([`SpanExporter::export_owned`](super::SpanExporter::export_owned)) back to the pipeline that
/// exported them, for the layer to record its next spans into
/// ([`SpanSink::recycled_attributes`](super::SpanSink::recycled_attributes)), as the worker does
/// with the spans it keeps. Within the same bounds ([`RECYCLED_BUFFERS`] vectors of at most 24
/// attributes); the rest are freed. Cheap to clone, and usable from any thread, so an exporter
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

    /// Drops `spans`, keeping their and their events' attribute vectors, emptied, for reuse (as
    /// many as the pool has room for).
    pub fn recycle(&self, spans: impl IntoIterator<Item = SpanData>) {
        let Some(buffers) = &self.0 else { return };
        let spans = spans.into_iter();
        let mut emptied = Vec::with_capacity(spans.size_hint().0);
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
        buffers.give(&mut given);
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
        buffers.give(&mut given);
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
