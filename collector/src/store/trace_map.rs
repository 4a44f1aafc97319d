//! The trace map: each stored trace's spans, by trace id.
//!
//! It is split into [`SHARDS`] hash maps by a mix of the trace id's bits. One map would do for
//! lookups, but keeping a map at its size under eviction means rebuilding it now and then
//! (see [`TraceMap::push`]), and a rebuild holds the old and the new table at once: with one map
//! that is a second copy of the whole map on top of the store's budget; with sixteen it is a
//! sixteenth of it.
//!
//! A sender who chooses trace ids can steer them all into one shard; that shard then behaves as
//! the single map did, with its lookups still hashed under the process's secret seed.
//!
//! The maps name each trace's slot in one slab of posting lists, and each stored span keeps its
//! trace's slot: evicting a span goes straight to its trace's list, with no hash and no probe
//! of a table far larger than the cache (traces are evicted long after they were written, so
//! the probe's two loads missed the cache; it was a sixth of the store writer's time). The map
//! is looked up once per trace at eviction, when its last span goes.

use std::mem::size_of;

use super::posting::Posting;
use super::table::TableSize;
use crate::hash::SeededMap;
use crate::model::TraceId;

/// How many maps the trace map is split into.
pub(super) const SHARDS: usize = 16;

#[derive(Default)]
struct Shard {
    /// Each trace's slot in [`TraceMap::slab`].
    map: SeededMap<TraceId, u32>,
    /// The size of `map`'s table: the tombstones of evicted traces lower `capacity()` but not
    /// the table's size (see [`Shard::rebuilds`]).
    table: TableSize<TraceId, u32>,
}

pub(super) struct TraceMap {
    shards: [Shard; SHARDS],
    /// Every stored trace's spans, at the slot its shard's map names; free slots are empty.
    slab: Vec<Posting>,
    /// Free slots of `slab`.
    free: Vec<u32>,
    /// Bytes of every shard's table, kept in step so that the store's byte count, read for every
    /// span it stores, does not add up sixteen maps.
    bytes: usize,
}

impl Default for TraceMap {
    fn default() -> Self {
        TraceMap {
            shards: std::array::from_fn(|_| Shard::default()),
            slab: Vec::new(),
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

impl Shard {
    /// Whether the next new trace finds this map with no free slot left (`cap`, its capacity
    /// now, is the live traces plus the free slots) while it holds fewer traces than it has
    /// room for: too many for hashbrown's in-place rehash, which would double it, and few
    /// enough that [`TraceMap::push`] rebuilds it at its size instead.
    #[inline]
    fn rebuilds(&self, cap: usize) -> bool {
        let (len, room) = (self.map.len(), self.table.full());
        len == cap && len < room && len + 1 > room / 2 && len <= room / 3 * 2
    }

    #[cold]
    #[inline(never)]
    fn rebuild(&mut self) {
        let hasher = *self.map.hasher();
        let fresh = SeededMap::with_capacity_and_hasher(self.map.len() + 1, hasher);
        let old = std::mem::replace(&mut self.map, fresh);
        self.map.extend(old);
        self.table.reset(self.map.capacity());
    }
}

impl TraceMap {
    pub(super) fn get(&self, id: &TraceId) -> Option<&Posting> {
        let slot = *self.shards[shard_of(*id)].map.get(id)?;
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
        self.shards.iter().map(|s| s.map.capacity()).sum()
    }

    /// Heap bytes of the tables and the slab (the posting lists' own heap is counted by the
    /// store with every other list's).
    #[inline]
    pub(super) fn bytes(&self) -> usize {
        self.bytes
            + self.slab.capacity() * size_of::<Posting>()
            + self.free.capacity() * size_of::<u32>()
    }

    /// Bytes the tables and the slab add if a span of a new trace `id` makes them grow
    /// (hashbrown doubles a table with no free slot left, unless [`TraceMap::push`] rebuilds it
    /// at its size first; the slab doubles when it has no free slot).
    pub(super) fn growth_bytes(&self, id: TraceId) -> usize {
        let shard = &self.shards[shard_of(id)];
        let cap = shard.map.capacity();
        let table = if shard.map.len() == cap && !shard.rebuilds(cap) {
            shard.table.doubled()
        } else {
            0
        };
        let slab = if self.free.is_empty() && self.slab.len() == self.slab.capacity() {
            self.slab.capacity().max(4) * size_of::<Posting>()
        } else {
            0
        };
        table + slab
    }

    /// Adds span `seq` to trace `id`; `heap` takes the change in posting heap.
    ///
    /// First keeps the shard at the size its live traces need. Evicted traces leave tombstones
    /// that use up a map's free slots; once none is left, the next insert rehashes a table at
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
        if let Some(&slot) = shard.map.get(&id) {
            *heap += self.slab[slot as usize].push(seq);
            return slot;
        }
        let before = shard.table.bytes();
        if shard.rebuilds(shard.map.capacity()) {
            shard.rebuild();
        }
        let slot = match self.free.pop() {
            Some(slot) => {
                self.slab[slot as usize] = Posting::new(seq);
                slot
            }
            None => {
                self.slab.push(Posting::new(seq));
                u32::try_from(self.slab.len() - 1).expect("fewer traces than spans")
            }
        };
        shard.map.insert(id, slot);
        shard.table.inserted(shard.map.capacity());
        self.bytes = self.bytes + shard.table.bytes() - before;
        slot
    }

    /// Removes span `seq` from trace `id` at `slot` (the span is the trace's oldest); `heap`
    /// takes the change in posting heap. The trace's map entry goes with its last span; a shard
    /// left with fewer than an eighth of its room in use is shrunk.
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
        let shard = &mut self.shards[shard_of(id)];
        if let Some(named) = shard.map.remove(&id) {
            debug_assert_eq!(named, slot, "a span names its trace's slot");
            self.free.push(slot);
        }
        let room = shard.table.full();
        if room > 1024 / SHARDS && shard.map.len() * 8 < room {
            let before = shard.map.capacity();
            shard.map.shrink_to(shard.map.len() * 2);
            let change = shard.table.shrunk(before, shard.map.capacity());
            self.bytes = self.bytes.saturating_add_signed(change);
        }
    }

    /// Whether the slab is mostly free slots (after a burst of traces has been evicted): eight
    /// times the live traces, and large enough to be worth [`TraceMap::compact`].
    #[inline]
    pub(super) fn wants_compaction(&self) -> bool {
        self.slab.len() > 1024 && self.len() * 8 < self.slab.len()
    }

    /// Packs the live traces' lists at the front of a slab sized for them, so the slab keeps
    /// to the size its live traces need as the shards' maps do. Returns each old slot's new
    /// one (`u32::MAX` for a free slot); the caller renames the slots its spans hold.
    pub(super) fn compact(&mut self) -> Vec<u32> {
        let mut renamed = vec![u32::MAX; self.slab.len()];
        let mut slab = Vec::with_capacity(self.len() * 2);
        for shard in &mut self.shards {
            for slot in shard.map.values_mut() {
                let new = u32::try_from(slab.len()).expect("fewer traces than slots");
                renamed[*slot as usize] = new;
                slab.push(std::mem::take(&mut self.slab[*slot as usize]));
                *slot = new;
            }
        }
        self.slab = slab;
        self.free = Vec::new();
        renamed
    }

    /// Releases every shard's spare room.
    pub(super) fn shrink_to_fit(&mut self) {
        for shard in &mut self.shards {
            let before = shard.map.capacity();
            shard.map.shrink_to_fit();
            shard.table.shrunk(before, shard.map.capacity());
        }
        self.bytes = self.shards.iter().map(|s| s.table.bytes()).sum();
        // Live slots cannot move (spans name them); only an empty slab is released.
        if self.is_empty() {
            self.slab = Vec::new();
            self.free = Vec::new();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn consecutive_and_random_looking_ids_spread_over_every_shard() {
        let mut counts = [0usize; SHARDS];
        for i in 1..=1_600u128 {
            counts[shard_of(TraceId::from_u128(i))] += 1;
        }
        assert!(
            counts.iter().all(|&n| (80..=120).contains(&n)),
            "{counts:?}"
        );
        let mut counts = [0usize; SHARDS];
        for i in 1..=1_600u128 {
            // Ids that differ only in their high half.
            counts[shard_of(TraceId::from_u128(i << 64))] += 1;
        }
        assert!(
            counts.iter().all(|&n| (80..=120).contains(&n)),
            "{counts:?}"
        );
    }

    #[test]
    fn the_byte_count_follows_every_table_as_it_grows_is_rebuilt_and_shrinks() {
        let mut m = TraceMap::default();
        let mut heap = 0;
        let exact = |m: &TraceMap| {
            m.shards
                .iter()
                .map(|s| {
                    assert!(s.table.full() >= s.map.capacity());
                    s.table.bytes()
                })
                .sum::<usize>()
                + m.slab.capacity() * size_of::<Posting>()
                + m.free.capacity() * size_of::<u32>()
        };
        let mut slots = Vec::new();
        for i in 1..=5_000u64 {
            slots.push(m.push(TraceId::from_u128(u128::from(i)), i, &mut heap));
            assert_eq!(m.bytes(), exact(&m));
        }
        assert_eq!(m.len(), 5_000);
        // Evict most: shards shrink once an eighth full.
        for i in 1..=4_990u64 {
            m.pop(
                TraceId::from_u128(u128::from(i)),
                slots[i as usize - 1],
                i,
                &mut heap,
            );
            assert_eq!(m.bytes(), exact(&m));
        }
        assert_eq!(m.len(), 10);
        assert!(m.capacity() < 5_000, "room for {}", m.capacity());
        m.shrink_to_fit();
        let tables = m
            .shards
            .iter()
            .map(|s| TableSize::<TraceId, u32>::new(s.map.capacity()).bytes());
        assert_eq!(
            m.bytes(),
            tables.sum::<usize>()
                + m.slab.capacity() * size_of::<Posting>()
                + m.free.capacity() * size_of::<u32>()
        );
        assert_eq!(heap, 0);
        for i in 4_991..=5_000u64 {
            let id = TraceId::from_u128(u128::from(i));
            assert_eq!(m.get(&id).map(Posting::len), Some(1));
            m.pop(id, slots[i as usize - 1], i, &mut heap);
        }
        assert!(m.is_empty());
        m.shrink_to_fit();
        assert_eq!(m.bytes(), exact(&m));
    }

    #[test]
    fn a_trace_keeps_its_slot_until_its_last_span_goes_and_the_slot_is_reused() {
        let mut m = TraceMap::default();
        let mut heap = 0;
        let (a, b) = (TraceId::from_u128(7), TraceId::from_u128(8));
        let sa = m.push(a, 1, &mut heap);
        let sb = m.push(b, 2, &mut heap);
        assert_ne!(sa, sb);
        assert_eq!(
            m.push(a, 3, &mut heap),
            sa,
            "a trace's spans share its slot"
        );
        assert_eq!(m.get(&a).map(Posting::len), Some(2));
        m.pop(a, sa, 1, &mut heap);
        assert_eq!(m.get(&a).map(Posting::len), Some(1), "one span left");
        m.pop(b, sb, 2, &mut heap);
        assert!(m.get(&b).is_none());
        assert_eq!(m.len(), 1);
        // A new trace takes the freed slot.
        let c = TraceId::from_u128(9);
        assert_eq!(m.push(c, 4, &mut heap), sb);
        assert_eq!(m.get(&c).map(Posting::len), Some(1));
        assert_eq!(m.get(&a).map(Posting::len), Some(1));
    }

    #[test]
    fn an_emptied_list_gives_its_buffer_back_at_once() {
        let mut m = TraceMap::default();
        let mut heap = 0;
        let id = TraceId::from_u128(3);
        let slot = m.push(id, 1, &mut heap);
        for seq in 2..=10 {
            m.push(id, seq, &mut heap);
        }
        assert!(heap > 0, "ten spans moved the list to the heap");
        assert!(matches!(m.slab[slot as usize], Posting::Many(_)));
        for seq in 1..=10 {
            m.pop(id, slot, seq, &mut heap);
        }
        assert_eq!(heap, 0);
        assert!(
            matches!(m.slab[slot as usize], Posting::Few { len: 0, .. }),
            "the free slot holds no buffer"
        );
    }

    #[test]
    fn a_mostly_free_slab_is_packed_and_its_slots_renamed() {
        let mut m = TraceMap::default();
        let mut heap = 0;
        let slots: Vec<u32> = (1..=5_000u64)
            .map(|i| m.push(TraceId::from_u128(u128::from(i)), i, &mut heap))
            .collect();
        for i in 1..=4_990u64 {
            assert!(!m.wants_compaction() || i > 4_370, "asked at {i}");
            m.pop(
                TraceId::from_u128(u128::from(i)),
                slots[i as usize - 1],
                i,
                &mut heap,
            );
        }
        assert!(m.wants_compaction());
        let before = m.bytes();
        let renamed = m.compact();
        assert!(!m.wants_compaction());
        assert_eq!(m.slab.len(), 10);
        assert!(m.bytes() < before, "{} against {before}", m.bytes());
        assert_eq!(renamed[0], u32::MAX, "a freed slot has no new name");
        for i in 4_991..=5_000u64 {
            let id = TraceId::from_u128(u128::from(i));
            let slot = renamed[slots[i as usize - 1] as usize];
            assert!(slot < 10);
            assert_eq!(m.get(&id).map(Posting::len), Some(1));
            m.pop(id, slot, i, &mut heap);
            assert!(m.get(&id).is_none());
        }
        assert!(m.is_empty());
        assert_eq!(heap, 0);
    }
}
