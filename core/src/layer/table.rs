//! [`SpanTable`]: the layer's per-span state, kept by span id outside the registry.
//!
//! The registry offers every layer a type map per span (`Extensions`), but each insert boxes the
//! value (one heap allocation per span), and reaching it costs a slab lookup plus a lock on the
//! span's map, on creation, on every record, on close and for every parent lookup. The layer
//! keeps its state here instead: a few hash maps keyed by the span id (a subscriber's ids are
//! unique among its live spans), each behind a [`SpinLock`] (released by a store: the table is
//! locked at a span's creation, its parent lookup, each `record` and its close, and a sleeping
//! mutex's release would add an atomic swap to each), sharded so that threads working on
//! different spans rarely meet on one lock. Each layer attached to a subscriber has its own
//! table, so ids of different subscribers never mix.
//!
//! No lock is held while user code runs (field values' `Debug`, exporters), so a `tracing`
//! call from there cannot deadlock on the table.

use std::collections::HashMap;
use std::collections::hash_map::Entry;
use std::hash::{BuildHasherDefault, Hasher};
use std::sync::atomic::{AtomicBool, Ordering};

use spin::mutex::SpinMutexGuard;
use tracing::span::Id;

use super::state::SpanState;
#[cfg(feature = "fmt")]
use crate::id::{SpanId, TraceId};
use crate::sync::SpinLock;

/// How many shards: a power of two, well above the number of threads that create spans at
/// once on most machines.
const SHARDS: usize = 32;

/// Mixes the id's bits (a registry id changes mostly in its high, generation bits when a slot is
/// reused) into both ends of the word: the high bits pick the shard, the map uses the rest.
#[inline]
fn mix(id: u64) -> u64 {
    let wide = u128::from(id).wrapping_mul(0x9e37_79b9_7f4a_7c15_f39c_c060_5ced_c835);
    (wide as u64) ^ ((wide >> 64) as u64)
}

/// The hasher of the shard maps: the keys are already mixed.
#[derive(Default)]
struct IdHasher(u64);

impl Hasher for IdHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = mix(self.0 ^ u64::from(b));
        }
    }

    fn write_u64(&mut self, n: u64) {
        self.0 = n;
    }
}

type Map = HashMap<u64, SpanState, BuildHasherDefault<IdHasher>>;

/// One shard on its own cache line, so two threads on neighbouring shards do not slow each
/// other down.
#[repr(align(64))]
#[derive(Default)]
struct Shard(SpinLock<Map>);

/// The state of every live span a layer knows, by span id.
pub(crate) struct SpanTable {
    shards: Box<[Shard]>,
    /// Set when a layer holding this table is added to a subscriber; a clone of that layer added
    /// to another subscriber starts a table of its own.
    claimed: AtomicBool,
}

impl SpanTable {
    pub(super) fn new() -> Self {
        SpanTable {
            shards: (0..SHARDS).map(|_| Shard::default()).collect(),
            claimed: AtomicBool::new(false),
        }
    }

    /// Marks the table as used by a subscriber; `false` if one already uses it.
    pub(super) fn claim(&self) -> bool {
        !self.claimed.swap(true, Ordering::AcqRel)
    }

    #[inline]
    fn shard(&self, key: u64) -> SpinMutexGuard<'_, Map> {
        let i = (key >> (64 - SHARDS.trailing_zeros())) as usize;
        self.shards[i].0.lock()
    }

    /// Adds a new span's state (replacing any left by a span with the same id whose close the
    /// layer never saw).
    #[inline]
    pub(super) fn insert(&self, id: &Id, state: SpanState) {
        let key = mix(id.into_u64());
        let mut shard = self.shard(key);
        // Through the entry: a new key (the usual case) writes the state in place, with no
        // `Option` of the old state to copy out and drop.
        match shard.entry(key) {
            Entry::Vacant(slot) => {
                slot.insert(state);
            }
            Entry::Occupied(mut slot) => {
                let stale = slot.insert(state);
                drop(shard);
                drop(stale);
            }
        }
    }

    /// Takes a span's state out, when it closes.
    #[inline]
    pub(super) fn remove(&self, id: &Id) -> Option<SpanState> {
        let key = mix(id.into_u64());
        self.shard(key).remove(&key)
    }

    /// Runs `f` on a span's state, if the layer knows the span. `f` runs under the shard's lock:
    /// it must not call into `tracing` or user code.
    #[inline]
    pub(super) fn with<R>(&self, id: &Id, f: impl FnOnce(&mut SpanState) -> R) -> Option<R> {
        let key = mix(id.into_u64());
        self.shard(key).get_mut(&key).map(f)
    }

    /// The trace and span ids of a span the layer knows.
    #[cfg(feature = "fmt")]
    pub(crate) fn ids(&self, id: &Id) -> Option<(TraceId, SpanId)> {
        self.with(id, |s| (s.cx.trace_id(), s.cx.span_id()))
    }

    /// Whether the layer knows the span.
    #[cfg(test)]
    pub(super) fn contains(&self, id: &Id) -> bool {
        let key = mix(id.into_u64());
        self.shard(key).contains_key(&key)
    }

    /// How many spans the table holds (for tests).
    #[cfg(test)]
    pub(super) fn len(&self) -> usize {
        self.shards.iter().map(|s| s.0.lock().len()).sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::context::SpanContext;

    fn state(n: u64) -> SpanState {
        SpanState {
            cx: SpanContext::new(
                crate::TraceId::from_u128(1),
                crate::SpanId::from_u64(n),
                crate::TraceFlags::SAMPLED,
                Default::default(),
                false,
            ),
            baggage: Default::default(),
            parent_span_id: crate::SpanId::INVALID,
            parent_is_remote: false,
            recording: None,
        }
    }

    #[test]
    fn ids_that_differ_only_in_high_bits_are_distinct() {
        let table = SpanTable::new();
        // Registry ids of a reused slot differ in their generation bits.
        let ids: Vec<Id> = (1..200u64)
            .map(|g| Id::from_u64((g << 51) | 5))
            .chain((1..200).map(Id::from_u64))
            .collect();
        for (n, id) in ids.iter().enumerate() {
            table.insert(id, state(n as u64 + 1));
        }
        assert_eq!(table.len(), ids.len());
        let used = table
            .shards
            .iter()
            .filter(|s| !s.0.lock().is_empty())
            .count();
        assert_eq!(used, SHARDS, "every shard takes a share");
        for (n, id) in ids.iter().enumerate() {
            assert_eq!(
                table.with(id, |s| s.cx.span_id()),
                Some(crate::SpanId::from_u64(n as u64 + 1))
            );
        }
        for id in &ids {
            assert!(table.remove(id).is_some());
            assert!(!table.contains(id));
        }
        assert_eq!(table.len(), 0);
        assert!(table.remove(&Id::from_u64(5)).is_none());
    }

    #[test]
    fn a_stale_state_is_replaced() {
        let table = SpanTable::new();
        let id = Id::from_u64(42);
        table.insert(&id, state(1));
        table.insert(&id, state(2));
        assert_eq!(table.len(), 1);
        assert_eq!(
            table.with(&id, |s| s.cx.span_id()),
            Some(crate::SpanId::from_u64(2))
        );
        let removed = table.remove(&id).map(|s| s.cx.span_id());
        assert_eq!(removed, Some(crate::SpanId::from_u64(2)));
        assert_eq!(table.len(), 0);
        assert!(table.remove(&id).is_none());
    }

    #[test]
    fn a_table_is_claimed_once() {
        let table = SpanTable::new();
        assert!(table.claim());
        assert!(!table.claim());
    }
}
