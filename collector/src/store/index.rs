//! Index helpers: posting-list maintenance, the per-key attribute index and the zone map.

use super::posting::Posting;
use super::span::{TAG_BOOL, TAG_INT, TAG_STR};
use std::collections::HashMap;
use std::hash::{BuildHasher, Hash};

use super::intern::{Sym, map_bytes};
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
    /// Set once the key has had too many distinct values; searches on it scan instead.
    pub(super) disabled: bool,
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
}

impl ServiceIndex {
    /// Adds span `seq` of operation `op`; returns the change in posting heap and in map bytes.
    pub(super) fn push(&mut self, op: Sym, seq: u64) -> (isize, isize) {
        let mut heap = self.spans.push(seq);
        let before = map_bytes::<Sym, Posting>(self.ops.capacity());
        push_posting(&mut self.ops, op, seq, &mut heap);
        let after = map_bytes::<Sym, Posting>(self.ops.capacity());
        (heap, after as isize - before as isize)
    }

    /// Removes span `seq` of operation `op` from the front; returns whether the service has
    /// no span left, and the changes in posting heap and in map bytes.
    pub(super) fn pop_front(&mut self, op: Sym, seq: u64) -> (bool, isize, isize) {
        let (empty, mut heap) = self.spans.pop_front(seq);
        let before = map_bytes::<Sym, Posting>(self.ops.capacity());
        pop_posting(&mut self.ops, op, seq, &mut heap);
        if empty {
            return (true, heap, -(before as isize));
        }
        let after = map_bytes::<Sym, Posting>(self.ops.capacity());
        (false, heap, after as isize - before as isize)
    }

    pub(super) fn new(op: Sym, seq: u64) -> (ServiceIndex, usize) {
        let mut ops = SymMap::default();
        ops.insert(op, Posting::new(seq));
        let bytes = map_bytes::<Sym, Posting>(ops.capacity());
        (
            ServiceIndex {
                spans: Posting::new(seq),
                ops,
            },
            bytes,
        )
    }
}
