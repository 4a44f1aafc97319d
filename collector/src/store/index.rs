//! Index helpers: posting-list maintenance, the per-key attribute index and the zone map.

use super::posting::Posting;
use super::span::{TAG_BOOL, TAG_INT, TAG_STR};
use std::collections::HashMap;
use std::hash::{BuildHasher, Hash};
use std::mem::size_of;

use super::intern::Sym;
use super::table::TableSize;
use crate::hash::{SeededMap, SymMap};

pub(super) const BLOCK_SHIFT: u32 = 10;

/// Zone map entry for 1024 consecutive sequence numbers. Only widened, never narrowed by
/// eviction, so it is always a safe over-approximation.
#[derive(Clone, Copy)]
pub(super) struct Block {
    pub(super) min_start: u64,
    pub(super) max_start: u64,
    pub(super) max_duration: u64,
    pub(super) errors: u32,
}

impl Block {
    pub(super) const EMPTY: Block = Block {
        min_start: u64::MAX,
        max_start: 0,
        max_duration: 0,
        errors: 0,
    };
}

#[derive(Default)]
pub(super) struct KeyIndex {
    pub(super) values: SeededMap<(u8, u64), Posting>,
    /// The size of `values`' table.
    pub(super) table: TableSize<(u8, u64), Posting>,
    /// Set once the key has had too many distinct values; searches on it scan instead.
    pub(super) disabled: bool,
}

/// The attribute indexes, one per key some stored span has, each in a slot that the key's
/// interned symbol names ([`Interner::key_slot`](super::intern::Interner::key_slot)): the write
/// path and eviction reach a key's index from the symbol in hand, with no map lookup. A slot is
/// freed with its key's symbol and reused; the vector never holds more slots than the most keys
/// live at once, and an emptied one is released by [`KeyIndexes::shrink`].
#[derive(Default)]
pub(super) struct KeyIndexes {
    slots: Vec<Option<KeyIndex>>,
    free: Vec<u32>,
}

impl KeyIndexes {
    pub(super) fn get(&self, slot: u32) -> Option<&KeyIndex> {
        self.slots.get(slot as usize)?.as_ref()
    }

    pub(super) fn get_mut(&mut self, slot: u32) -> Option<&mut KeyIndex> {
        self.slots.get_mut(slot as usize)?.as_mut()
    }

    /// A new, empty index; returns its slot.
    pub(super) fn insert(&mut self) -> u32 {
        match self.free.pop() {
            Some(slot) => {
                self.slots[slot as usize] = Some(KeyIndex::default());
                slot
            }
            None => {
                self.slots.push(Some(KeyIndex::default()));
                u32::try_from(self.slots.len() - 1).expect("fewer keys than symbols")
            }
        }
    }

    /// Frees a slot, returning its index.
    pub(super) fn remove(&mut self, slot: u32) -> Option<KeyIndex> {
        let ki = self.slots.get_mut(slot as usize)?.take()?;
        self.free.push(slot);
        Some(ki)
    }

    /// Live indexes.
    pub(super) fn len(&self) -> usize {
        self.slots.len() - self.free.len()
    }

    /// Slots in the table, live or free.
    #[cfg(test)]
    pub(super) fn table_len(&self) -> usize {
        self.slots.len()
    }

    /// Bytes of the two vectors (the indexes' value maps are counted by the store).
    pub(super) fn bytes(&self) -> usize {
        self.slots.capacity() * size_of::<Option<KeyIndex>>()
            + self.free.capacity() * size_of::<u32>()
    }

    /// Releases both vectors when no index is live (slots are named by symbols, so a live one
    /// cannot move).
    pub(super) fn shrink(&mut self) {
        if self.len() == 0 {
            *self = KeyIndexes::default();
        }
    }
}

pub(super) fn indexable(tag: u8) -> bool {
    matches!(tag, TAG_STR | TAG_BOOL | TAG_INT)
}

pub(super) fn push_posting<K: Hash + Eq, S: BuildHasher>(
    map: &mut HashMap<K, Posting, S>,
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

pub(super) fn pop_posting<K: Hash + Eq, S: BuildHasher>(
    map: &mut HashMap<K, Posting, S>,
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

/// One service's spans, and its spans per operation: listing a service's operations costs the
/// number of its operations, not of every operation stored.
pub(super) struct ServiceIndex {
    pub(super) spans: Posting,
    pub(super) ops: SymMap<Sym, Posting>,
    /// The size of `ops`' table.
    ops_table: TableSize<Sym, Posting>,
}

impl ServiceIndex {
    /// Adds span `seq` of operation `op`; returns the change in posting heap and what the map
    /// grew by.
    pub(super) fn push(&mut self, op: Sym, seq: u64) -> (isize, usize) {
        let mut heap = self.spans.push(seq);
        push_posting(&mut self.ops, op, seq, &mut heap);
        (heap, self.ops_table.inserted(self.ops.capacity()))
    }

    /// Removes span `seq` of operation `op` from the front; returns whether the service has
    /// no span left, and the changes in posting heap and in map bytes.
    pub(super) fn pop_front(&mut self, op: Sym, seq: u64) -> (bool, isize, isize) {
        let (empty, mut heap) = self.spans.pop_front(seq);
        pop_posting(&mut self.ops, op, seq, &mut heap);
        if empty {
            return (true, heap, -(self.ops_table.bytes() as isize));
        }
        // A removal leaves the table its size ([`TableSize`]).
        (false, heap, 0)
    }

    pub(super) fn new(op: Sym, seq: u64) -> (ServiceIndex, usize) {
        let mut ops = SymMap::default();
        ops.insert(op, Posting::new(seq));
        let ops_table = TableSize::new(ops.capacity());
        let bytes = ops_table.bytes();
        (
            ServiceIndex {
                spans: Posting::new(seq),
                ops,
                ops_table,
            },
            bytes,
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_index_slots_are_reused_and_counted_and_an_empty_table_is_released() {
        let mut k = KeyIndexes::default();
        let (a, b, c) = (k.insert(), k.insert(), k.insert());
        assert_eq!((a, b, c), (0, 1, 2));
        k.get_mut(b).unwrap().disabled = true;
        assert!(k.get(b).unwrap().disabled && !k.get(a).unwrap().disabled);
        assert!(k.remove(b).unwrap().disabled);
        assert!(k.remove(b).is_none(), "a freed slot is freed once");
        assert!(k.get(b).is_none() && k.get_mut(b).is_none() && k.get(9).is_none());
        assert_eq!(k.len(), 2);
        assert_eq!(k.insert(), b, "the freed slot is reused");
        assert!(!k.get(b).unwrap().disabled, "as a new, empty index");
        assert_eq!(k.len(), 3);
        // Many cycles of insert and remove never grow the table past the most live at once.
        for _ in 0..1000 {
            let s = k.insert();
            assert_eq!(s, 3);
            k.remove(s);
        }
        assert_eq!(k.slots.len(), 4);
        assert_eq!(
            k.bytes(),
            k.slots.capacity() * size_of::<Option<KeyIndex>>() + k.free.capacity() * 4
        );
        k.shrink();
        assert_eq!(k.slots.len(), 4, "live indexes keep their slots");
        for s in [a, b, c] {
            k.remove(s);
        }
        assert_eq!(k.len(), 0);
        k.shrink();
        assert_eq!(k.bytes(), 0);
        assert_eq!(k.insert(), 0);
    }
}
