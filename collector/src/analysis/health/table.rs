//! The operations table: `(service, operation)` → ring, bounded by a count and a byte budget,
//! evicting the least recently seen operation first.
//!
//! Slots live in a vector and form a doubly linked list in order of last use (by ingest, not by
//! span time), so touching an operation and evicting the idlest one are O(1). Lookups go through
//! a nested map, service → operation → slot, so a lookup by `&str` allocates nothing.

use std::collections::HashMap;
use std::mem::size_of;
use std::sync::Arc;

use super::ring::Ring;

const NONE: usize = usize::MAX;

pub(super) struct Slot {
    pub(super) service: Arc<str>,
    pub(super) operation: Arc<str>,
    pub(super) ring: Ring,
    /// Everything this slot costs: the slot, its strings, its map entries and the ring.
    pub(super) bytes: usize,
    prev: usize,
    next: usize,
}

#[derive(Default)]
pub(super) struct Table {
    index: HashMap<Arc<str>, HashMap<Arc<str>, usize>>,
    slots: Vec<Option<Slot>>,
    free: Vec<usize>,
    /// Most recently used.
    head: Option<usize>,
    /// Least recently used.
    tail: Option<usize>,
    pub(super) len: usize,
    pub(super) bytes: usize,
}

/// A map entry's share of its table (the key, the value, a control byte, load-factor slack).
fn entry_bytes<K, V>() -> usize {
    (size_of::<(K, V)>() + 1) * 8 / 7 + 1
}

/// What a new slot for these names costs before anything is recorded in it.
pub(super) fn slot_bytes(service: &str, operation: &str, buckets: usize) -> usize {
    size_of::<Option<Slot>>()
        + (16 + service.len()).next_multiple_of(16)
        + (16 + operation.len()).next_multiple_of(16)
        + entry_bytes::<Arc<str>, usize>()
        + entry_bytes::<Arc<str>, HashMap<Arc<str>, usize>>()
        + Ring::base_bytes(buckets)
}

impl Table {
    pub(super) fn find(&self, service: &str, operation: &str) -> Option<usize> {
        self.index.get(service)?.get(operation).copied()
    }

    pub(super) fn slot_mut(&mut self, i: usize) -> Option<&mut Slot> {
        self.slots.get_mut(i)?.as_mut()
    }

    pub(super) fn slots(&self) -> impl Iterator<Item = &Slot> {
        self.slots.iter().flatten()
    }

    /// Marks slot `i` as just used.
    pub(super) fn touch(&mut self, i: usize) {
        if self.head == Some(i) {
            return;
        }
        self.unlink(i);
        self.push_front(i);
    }

    /// Adds a slot (the caller has made room) and returns its index.
    pub(super) fn insert(&mut self, service: &str, operation: &str, ring: Ring) -> usize {
        let bytes = slot_bytes(service, operation, ring.buckets.len());
        let service: Arc<str> = match self.index.get_key_value(service) {
            Some((k, _)) => k.clone(),
            None => Arc::from(service),
        };
        let operation: Arc<str> = Arc::from(operation);
        let slot = Slot {
            service: service.clone(),
            operation: operation.clone(),
            ring,
            bytes,
            prev: NONE,
            next: NONE,
        };
        let i = match self.free.pop() {
            Some(i) => {
                self.slots[i] = Some(slot);
                i
            }
            None => {
                self.slots.push(Some(slot));
                self.slots.len() - 1
            }
        };
        self.index.entry(service).or_default().insert(operation, i);
        self.push_front(i);
        self.len += 1;
        self.bytes += bytes;
        i
    }

    /// Adds `delta` to slot `i`'s bytes (its ring grew or shrank).
    pub(super) fn grow(&mut self, i: usize, delta: isize) {
        if let Some(s) = self.slot_mut(i) {
            s.bytes = s.bytes.saturating_add_signed(delta);
            self.bytes = self.bytes.saturating_add_signed(delta);
        }
    }

    /// Removes the least recently used slot; `false` when the table is empty.
    pub(super) fn evict_idlest(&mut self) -> bool {
        let Some(i) = self.tail else { return false };
        self.unlink(i);
        if let Some(slot) = self.slots[i].take() {
            if let Some(ops) = self.index.get_mut(&slot.service) {
                ops.remove(&slot.operation);
                if ops.is_empty() {
                    self.index.remove(&slot.service);
                }
            }
            self.len -= 1;
            self.bytes -= slot.bytes;
        }
        self.free.push(i);
        true
    }

    fn unlink(&mut self, i: usize) {
        let Some(s) = self.slots[i].as_ref() else {
            return;
        };
        let (prev, next) = (s.prev, s.next);
        match prev {
            NONE => self.head = (next != NONE).then_some(next),
            p => {
                if let Some(ps) = self.slots[p].as_mut() {
                    ps.next = next;
                }
            }
        }
        match next {
            NONE => self.tail = (prev != NONE).then_some(prev),
            n => {
                if let Some(ns) = self.slots[n].as_mut() {
                    ns.prev = prev;
                }
            }
        }
        if let Some(s) = self.slots[i].as_mut() {
            s.prev = NONE;
            s.next = NONE;
        }
    }

    fn push_front(&mut self, i: usize) {
        let old = self.head;
        if let Some(s) = self.slots[i].as_mut() {
            s.prev = NONE;
            s.next = old.unwrap_or(NONE);
        }
        if let Some(h) = old
            && let Some(hs) = self.slots[h].as_mut()
        {
            hs.prev = i;
        }
        self.head = Some(i);
        if self.tail.is_none() {
            self.tail = Some(i);
        }
    }

    /// Operations from least to most recently used (for tests).
    #[cfg(test)]
    pub(super) fn lru_order(&self) -> Vec<(String, String)> {
        let mut out = Vec::new();
        let mut cur = self.tail;
        while let Some(i) = cur {
            let s = self.slots[i].as_ref().expect("linked slot is live");
            out.push((s.service.to_string(), s.operation.to_string()));
            cur = (s.prev != NONE).then_some(s.prev);
        }
        out
    }
}
