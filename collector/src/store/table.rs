//! The heap bytes of a hash map's table, followed through the map's inserts.
//!
//! `HashMap::capacity()` is the entries a map holds plus those it can still take before it
//! must grow or rebuild its table. A removal that leaves a tombstone (a slot marked deleted, so
//! probes keep going past it) uses one of those up, so `capacity()` falls as entries come and
//! go while the table keeps its size. Counted from `capacity()`, a churned map reads smaller than
//! its table, and its rebuild shows up as a jump. Right after the table grows or is rebuilt,
//! `capacity()` is the whole table's again; the most it has reported since the table last
//! changed size is therefore what the table holds.

use std::fmt;
use std::marker::PhantomData;

use super::intern::map_bytes;

/// The size of one map's table, in entries, with the map's key and value types for its bytes.
pub(crate) struct TableSize<K, V> {
    full: usize,
    kv: PhantomData<fn() -> (K, V)>,
}

impl<K, V> TableSize<K, V> {
    /// For a map just made with `capacity()` (an empty map: 0).
    pub(crate) fn new(capacity: usize) -> Self {
        TableSize {
            full: capacity,
            kv: PhantomData,
        }
    }

    /// The table's heap bytes.
    pub(crate) fn bytes(&self) -> usize {
        map_bytes::<K, V>(self.full)
    }

    /// The table's capacity: what it holds with no tombstones.
    pub(crate) fn full(&self) -> usize {
        self.full
    }

    /// The bytes the table grows by if it doubles.
    pub(crate) fn doubled(&self) -> usize {
        map_bytes::<K, V>(self.full.saturating_mul(2).max(4)) - self.bytes()
    }

    /// After an insert (which may have grown or rebuilt the table), with the map's
    /// `capacity()`: the bytes the table grew by.
    #[inline]
    pub(crate) fn inserted(&mut self, capacity: usize) -> usize {
        if capacity <= self.full {
            return 0;
        }
        let before = self.bytes();
        self.full = capacity;
        self.bytes() - before
    }

    /// After the map was shrunk or replaced, with its `capacity()`: the change in bytes.
    pub(crate) fn reset(&mut self, capacity: usize) -> isize {
        let before = self.bytes() as isize;
        self.full = capacity;
        self.bytes() as isize - before
    }

    /// The most the table grows by if up to `new` entries are added to a map of `len` entries
    /// and `capacity()`. A table with no free slot left is rebuilt in place (dropping its
    /// tombstones, taking nothing) while at most half its capacity is live, and doubles
    /// otherwise; so it can grow only if it runs out of free slots with more than half of it
    /// live.
    pub(crate) fn growth(&self, len: usize, capacity: usize, new: usize) -> usize {
        let after = len.saturating_add(new);
        if after <= capacity || after <= self.full / 2 {
            return 0;
        }
        map_bytes::<K, V>(self.full.saturating_mul(2).max(after)) - self.bytes()
    }

    /// After a shrink, with `capacity()` before and after it: a shrink that rebuilt the table
    /// changes `capacity()` (to the new table's, with no tombstones); one that did nothing leaves
    /// the table, and its size, as they were. Returns the change in bytes.
    pub(crate) fn shrunk(&mut self, before: usize, after: usize) -> isize {
        if after == before {
            return 0;
        }
        self.reset(after)
    }
}

impl<K, V> Default for TableSize<K, V> {
    fn default() -> Self {
        TableSize::new(0)
    }
}

impl<K, V> fmt::Debug for TableSize<K, V> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("TableSize").field(&self.full).finish()
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    #[test]
    fn a_churned_map_is_counted_at_its_table() {
        // Fill a map, empty most of it, then replace entries one at a time: tombstones make
        // `capacity()` fall while the table keeps its size, until a rebuild restores it.
        let mut map: HashMap<u64, u64> = HashMap::new();
        let mut size = TableSize::<u64, u64>::default();
        let mut counted = 0usize;
        for k in 0..1700 {
            map.insert(k, k);
            counted += size.inserted(map.capacity());
        }
        assert_eq!(counted, size.bytes());
        assert_eq!(size.full(), map.capacity());
        let mut fell = false;
        let mut next = 1700;
        for k in 0..40_000u64 {
            map.remove(&k);
            fell |= map_bytes::<u64, u64>(map.capacity()) < size.bytes();
            if map.len() > 300 && k % 2 == 0 {
                continue;
            }
            let grow = size.growth(map.len(), map.capacity(), 1);
            let before = size.bytes();
            map.insert(next, next);
            next += 1;
            let grew = size.inserted(map.capacity());
            assert!(grew <= grow, "grew {grew}, bounded by {grow}");
            assert_eq!(size.bytes(), before + grew);
            assert!(map.capacity() <= size.full());
        }
        assert!(
            fell,
            "capacity() never fell below the table: no tombstones were made"
        );
        let change = size.reset({
            map.shrink_to_fit();
            map.capacity()
        });
        assert!(change < 0);
        assert_eq!(size.full(), map.capacity());
    }
}
