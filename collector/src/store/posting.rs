//! Posting lists: the sequence numbers of the spans under one index key, oldest first.
//!
//! Spans are evicted strictly oldest first, so an evicted span is always at the front of every
//! list it is in. Sequence numbers are kept as their low 32 bits; the live window is always
//! smaller than 2^32 spans, so [`full`] recovers the full number from the store's head.

use std::collections::VecDeque;
use std::mem::size_of;

/// Most keys index one span (a unique value, a one-span trace); those need no heap at all.
pub(crate) enum Posting {
    One(u32),
    Many(VecDeque<u32>),
}

impl Posting {
    pub(crate) fn new(seq: u64) -> Self {
        Posting::One(seq as u32)
    }

    /// Heap bytes owned by the list.
    pub(crate) fn heap_bytes(&self) -> usize {
        match self {
            Posting::One(_) => 0,
            Posting::Many(v) => v.capacity() * size_of::<u32>(),
        }
    }

    /// Appends `seq` (the newest); returns the change in heap bytes.
    pub(crate) fn push(&mut self, seq: u64) -> isize {
        let before = self.heap_bytes();
        match self {
            Posting::One(first) => {
                let mut v = VecDeque::with_capacity(4);
                v.push_back(*first);
                v.push_back(seq as u32);
                *self = Posting::Many(v);
            }
            Posting::Many(v) => v.push_back(seq as u32),
        }
        self.heap_bytes() as isize - before as isize
    }

    /// Removes `seq` from the front if it is there. Returns whether the list is now empty and the
    /// change in heap bytes.
    pub(crate) fn pop_front(&mut self, seq: u64) -> (bool, isize) {
        let s = seq as u32;
        match self {
            Posting::One(first) => (*first == s, 0),
            Posting::Many(v) => {
                if v.front() == Some(&s) {
                    v.pop_front();
                }
                match v.len() {
                    0 => (true, -((v.capacity() * size_of::<u32>()) as isize)),
                    // Shrink a list that has emptied a lot, so a burst does not pin memory.
                    n if v.capacity() >= 64 && n * 4 <= v.capacity() => {
                        let before = v.capacity();
                        v.shrink_to(n * 2);
                        (false, (v.capacity() as isize - before as isize) * 4)
                    }
                    _ => (false, 0),
                }
            }
        }
    }

    pub(crate) fn len(&self) -> usize {
        match self {
            Posting::One(_) => 1,
            Posting::Many(v) => v.len(),
        }
    }

    /// Full sequence numbers, newest first. `head` is the oldest live sequence number.
    pub(crate) fn iter_newest(&self, head: u64) -> impl Iterator<Item = u64> + '_ {
        let (one, many) = match self {
            Posting::One(s) => (Some(*s), None),
            Posting::Many(v) => (None, Some(v.iter().rev())),
        };
        one.into_iter()
            .chain(many.into_iter().flatten().copied())
            .map(move |s| full(head, s))
    }

    /// Full sequence numbers, oldest first.
    pub(crate) fn iter_oldest(&self, head: u64) -> impl Iterator<Item = u64> + '_ {
        let (one, many) = match self {
            Posting::One(s) => (Some(*s), None),
            Posting::Many(v) => (None, Some(v.iter())),
        };
        one.into_iter()
            .chain(many.into_iter().flatten().copied())
            .map(move |s| full(head, s))
    }
}

/// The full sequence number whose low 32 bits are `low`, at or after `head`.
pub(crate) fn full(head: u64, low: u32) -> u64 {
    head + u64::from(low.wrapping_sub(head as u32))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn push_pop_and_wrap() {
        let head = u64::from(u32::MAX) - 1;
        let mut p = Posting::new(head);
        assert_eq!(p.push(head + 1), 16);
        p.push(head + 3);
        assert_eq!(
            p.iter_newest(head).collect::<Vec<_>>(),
            vec![head + 3, head + 1, head]
        );
        assert!(!p.pop_front(head).0);
        assert_eq!(
            p.iter_oldest(head + 1).collect::<Vec<_>>(),
            vec![head + 1, head + 3]
        );
        // Not at the front: nothing happens.
        assert!(!p.pop_front(head + 3).0);
        assert_eq!(p.len(), 2);
        p.pop_front(head + 1);
        let (empty, delta) = p.pop_front(head + 3);
        assert!(empty);
        assert_eq!(delta, -16);
    }
}
