//! The trace map: each stored trace's spans, by trace id.
//!
//! It is split into [`SHARDS`] hash tables by a mix of the trace id's bits. One table would do
//! for lookups, but keeping a table at its size under eviction means rebuilding it now and then
//! (see [`TraceMap::push`]), and a rebuild holds the old and the new table at once: with one
//! table that is a second copy of the whole table on top of the store's budget; with sixteen it
//! is a sixteenth of it.
//!
//! A sender who chooses trace ids can steer them all into one shard; that shard then behaves as
//! the single table did, with its lookups still hashed under the process's secret seed.
//!
//! Each trace has a slot in one slab of posting lists, with its id beside it (`ids`), and each
//! stored span keeps its trace's slot: evicting a span goes straight to its trace's list, with no
//! hash and no probe. The tables hold only the slots (4 bytes a bucket, not the 20 of an id and a
//! slot) and hash the id kept at the slot. A lookup by id compares the ids at the slots whose
//! hash tag matches; removing a trace, when its last span is evicted, finds its entry by slot, so
//! it reads the table's control bytes and 4-byte buckets and never the ids. Traces are evicted
//! long after they were written, so that probe misses the cache: a table a quarter of the size
//! (5 bytes a bucket with its control byte, not 21) misses it less.

use std::hash::BuildHasher;
use std::mem::size_of;

use hashbrown::HashTable;

use super::posting::Posting;
use super::table::TableSize;
use crate::hash::SeededState;
use crate::model::TraceId;

/// How many tables the trace map is split into.
pub(super) const SHARDS: usize = 16;

#[derive(Default)]
struct Shard {
    /// The slots, in [`TraceMap::slab`], of this shard's traces, hashed by the id at the slot
    /// ([`TraceMap::ids`]).
    table: HashTable<u32>,
    /// The size of `table`: the tombstones of evicted traces lower `capacity()` but not the
    /// table's size (see [`Shard::rebuilds`]).
    size: TableSize<u32, ()>,
    hasher: SeededState,
}

pub(super) struct TraceMap {
    shards: [Shard; SHARDS],
    /// Every stored trace's spans, at the slot its shard's table holds; free slots are empty.
    slab: Vec<Posting>,
    /// The trace id at each slot of `slab` (a free slot's is stale).
    ids: Vec<TraceId>,
    /// Free slots of `slab`.
    free: Vec<u32>,
    /// Bytes of every shard's table, kept in step so that the store's byte count, read for every
    /// span it stores, does not add up sixteen tables.
    bytes: usize,
}

impl Default for TraceMap {
    fn default() -> Self {
        TraceMap {
            shards: std::array::from_fn(|_| Shard::default()),
            slab: Vec::new(),
            ids: Vec::new(),
            free: Vec::new(),
            bytes: 0,
        }
    }
}

/// Which shard holds `id`: the id's two halves folded and mixed by a multiply (the top bits of
/// the product), so that random ids, and ids counting up in either half, spread evenly.
#[inline]
fn shard_of(id: TraceId) -> usize {
    let v = id.to_u128();
    let folded = (v as u64) ^ ((v >> 64) as u64);
    (folded.wrapping_mul(0x9e37_79b9_7f4a_7c15) >> (64 - SHARDS.trailing_zeros())) as usize
}

/// The hash of the trace at `slot`, for a table that moves its entries (growing, shrinking,
/// rebuilding). Every slot in a table is live, so its id is there (indexing cannot fail; were
/// it to, a panic beats an entry rehashed under another id, never to be found again).
#[inline]
fn rehash<'a>(hasher: &'a SeededState, ids: &'a [TraceId]) -> impl Fn(&u32) -> u64 + 'a {
    move |&slot| hasher.hash_one(ids[slot as usize])
}

impl Shard {
    /// Whether the next new trace finds this table with no free slot left (`cap`, its capacity
    /// now, is the live traces plus the free slots) while it holds fewer traces than it has
    /// room for: too many for hashbrown's in-place rehash, which would double it, and few
    /// enough that [`TraceMap::push`] rebuilds it at its size instead.
    #[inline]
    fn rebuilds(&self, cap: usize) -> bool {
        let (len, room) = (self.table.len(), self.size.full());
        len == cap && len < room && len + 1 > room / 2 && len <= room / 3 * 2
    }

    #[cold]
    #[inline(never)]
    fn rebuild(&mut self, ids: &[TraceId]) {
        let hash = rehash(&self.hasher, ids);
        let mut fresh = HashTable::with_capacity(self.table.len() + 1);
        for &slot in self.table.iter() {
            fresh.insert_unique(hash(&slot), slot, &hash);
        }
        self.table = fresh;
        self.size.reset(self.table.capacity());
    }

    /// The slot of trace `id` (hashed to `hash`), if stored.
    #[inline]
    fn find(&self, hash: u64, id: TraceId, ids: &[TraceId]) -> Option<u32> {
        self.table
            .find(hash, |&slot| ids.get(slot as usize) == Some(&id))
            .copied()
    }
}

impl TraceMap {
    pub(super) fn get(&self, id: &TraceId) -> Option<&Posting> {
        let shard = &self.shards[shard_of(*id)];
        let slot = shard.find(shard.hasher.hash_one(id), *id, &self.ids)?;
        self.slab.get(slot as usize)
    }

    /// Stored traces: every slot of the slab holds one, or is free.
    #[inline]
    pub(super) fn len(&self) -> usize {
        self.slab.len() - self.free.len()
    }

    pub(super) fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Traces the tables have room for, over every shard.
    #[cfg(test)]
    pub(super) fn capacity(&self) -> usize {
        self.shards.iter().map(|s| s.table.capacity()).sum()
    }

    /// Bytes of one slot: its posting list and its trace id.
    const SLOT_BYTES: usize = size_of::<Posting>() + size_of::<TraceId>();

    /// Heap bytes of the tables, the slab and the ids (the posting lists' own heap is counted by
    /// the store with every other list's).
    #[inline]
    pub(super) fn bytes(&self) -> usize {
        self.bytes
            + self.slab.capacity() * size_of::<Posting>()
            + self.ids.capacity() * size_of::<TraceId>()
            + self.free.capacity() * size_of::<u32>()
    }

    /// Bytes the tables, the slab and the ids add if a span of a new trace `id` makes them grow
    /// (hashbrown doubles a table with no free slot left, unless [`TraceMap::push`] rebuilds it
    /// at its size first; the slab and the ids double when there is no free slot).
    pub(super) fn growth_bytes(&self, id: TraceId) -> usize {
        let shard = &self.shards[shard_of(id)];
        let cap = shard.table.capacity();
        let table = if shard.table.len() == cap && !shard.rebuilds(cap) {
            shard.size.doubled()
        } else {
            0
        };
        let slab = if self.free.is_empty() && self.slab.len() == self.slab.capacity() {
            self.slab.capacity().max(4) * Self::SLOT_BYTES
        } else {
            0
        };
        table + slab
    }

    /// Adds span `seq` to trace `id`; `heap` takes the change in posting heap.
    ///
    /// First keeps the shard at the size its live traces need. Evicted traces leave tombstones
    /// that use up a table's free slots; once none is left, the next insert rehashes a table at
    /// most half full in place but doubles one more than half full, which a store that keeps
    /// evicting reaches sooner or later (in the load benchmark ~33,000 live traces doubled a
    /// 65,536-bucket table, for nothing). Just before that insert the shard is rebuilt at
    /// its own size instead — O(its traces) — when it is at most two thirds full, so that at
    /// least a third of its room is free again and the rebuilds stay rare; fuller, it is left to
    /// double (rebuilt, it would run out again within a few evictions).
    ///
    /// Returns the trace's slot, for [`TraceMap::pop`].
    #[inline]
    pub(super) fn push(&mut self, id: TraceId, seq: u64, heap: &mut isize) -> u32 {
        let shard = &mut self.shards[shard_of(id)];
        let hash = shard.hasher.hash_one(id);
        if let Some(slot) = shard.find(hash, id, &self.ids) {
            *heap += self.slab[slot as usize].push(seq);
            return slot;
        }
        let before = shard.size.bytes();
        if shard.rebuilds(shard.table.capacity()) {
            shard.rebuild(&self.ids);
        }
        let slot = match self.free.pop() {
            Some(slot) => {
                self.slab[slot as usize] = Posting::new(seq);
                self.ids[slot as usize] = id;
                slot
            }
            None => {
                self.slab.push(Posting::new(seq));
                self.ids.push(id);
                u32::try_from(self.slab.len() - 1).expect("fewer traces than spans")
            }
        };
        shard
            .table
            .insert_unique(hash, slot, rehash(&shard.hasher, &self.ids));
        shard.size.inserted(shard.table.capacity());
        self.bytes = self.bytes + shard.size.bytes() - before;
        slot
    }

    /// Reads trace `id`'s bucket in its shard and its slab entry, found as [`TraceMap::pop`]
    /// will find them (see [`Store::touch_front`](super::Store::touch_front)); returns a value
    /// of what was read (the slot found, mixed with the list's length), for the caller to keep
    /// the reads.
    #[inline]
    pub(super) fn touch(&self, id: TraceId, slot: u32) -> u64 {
        let shard = &self.shards[shard_of(id)];
        let found = shard
            .table
            .find(shard.hasher.hash_one(id), |&s| s == slot)
            .copied();
        let listed = self.slab.get(slot as usize).map_or(0, Posting::len);
        u64::from(found.unwrap_or(0)) ^ listed as u64
    }

    /// Removes span `seq` from trace `id` at `slot` (the span is the trace's oldest); `heap`
    /// takes the change in posting heap. The trace's table entry goes with its last span; a
    /// shard left with fewer than an eighth of its room in use is shrunk.
    pub(super) fn pop(&mut self, id: TraceId, slot: u32, seq: u64, heap: &mut isize) {
        let Some(p) = self.slab.get_mut(slot as usize) else {
            return;
        };
        let (empty, d) = p.pop_front(seq);
        *heap += d;
        if !empty {
            return;
        }
        // An emptied heap list's buffer goes now (`heap` has counted it gone), not when the
        // slot is next taken.
        *p = Posting::default();
        debug_assert_eq!(self.ids[slot as usize], id, "a span names its trace's slot");
        let shard = &mut self.shards[shard_of(id)];
        // Found by the slot: the ids are not read.
        if let Ok(entry) = shard
            .table
            .find_entry(shard.hasher.hash_one(id), |&s| s == slot)
        {
            entry.remove();
            self.free.push(slot);
        }
        let room = shard.size.full();
        if room > 1024 / SHARDS && shard.table.len() * 8 < room {
            let before = shard.table.capacity();
            let len = shard.table.len();
            shard
                .table
                .shrink_to(len * 2, rehash(&shard.hasher, &self.ids));
            let change = shard.size.shrunk(before, shard.table.capacity());
            self.bytes = self.bytes.saturating_add_signed(change);
        }
    }

    /// Whether the slab is mostly free slots (after a burst of traces has been evicted): eight
    /// times the live traces, and large enough to be worth [`TraceMap::compact`].
    #[inline]
    pub(super) fn wants_compaction(&self) -> bool {
        self.slab.len() > 1024 && self.len() * 8 < self.slab.len()
    }

    /// Packs the live traces' lists and ids at the front of a slab sized for them, so the slab
    /// keeps to the size its live traces need as the shards' tables do. Returns each old slot's
    /// new one (`u32::MAX` for a free slot); the caller renames the slots its spans hold. A
    /// trace's hash is its id's, so the tables keep their entries where they are.
    pub(super) fn compact(&mut self) -> Vec<u32> {
        let mut renamed = vec![u32::MAX; self.slab.len()];
        let mut slab = Vec::with_capacity(self.len() * 2);
        let mut ids = Vec::with_capacity(self.len() * 2);
        for shard in &mut self.shards {
            for slot in shard.table.iter_mut() {
                let new = u32::try_from(slab.len()).expect("fewer traces than slots");
                renamed[*slot as usize] = new;
                slab.push(std::mem::take(&mut self.slab[*slot as usize]));
                ids.push(self.ids[*slot as usize]);
                *slot = new;
            }
        }
        self.slab = slab;
        self.ids = ids;
        self.free = Vec::new();
        renamed
    }

    /// Releases every shard's spare room.
    pub(super) fn shrink_to_fit(&mut self) {
        for shard in &mut self.shards {
            let before = shard.table.capacity();
            shard.table.shrink_to_fit(rehash(&shard.hasher, &self.ids));
            shard.size.shrunk(before, shard.table.capacity());
        }
        self.bytes = self.shards.iter().map(|s| s.size.bytes()).sum();
        // Live slots cannot move (spans name them); only an empty slab is released.
        if self.is_empty() {
            self.slab = Vec::new();
            self.ids = Vec::new();
            self.free = Vec::new();
        }
    }
}

#[cfg(test)]
mod tests;
