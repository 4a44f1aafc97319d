//! Posting lists: the sequence numbers of the spans under one index key, oldest first.
//!
//! Spans are evicted strictly oldest first, so an evicted span is always at the front of every
//! list it is in. Sequence numbers are kept as their low 32 bits; the live window is always
//! smaller than 2^32 spans, so [`full`] recovers the full number from the store's head.

use std::collections::VecDeque;
use std::mem::size_of;

/// Entries a list keeps inline before it moves to the heap.
const INLINE: usize = 5;
// `Posting::pop_front` shifts the inline entries with a shuffle written for five.
const _: () = assert!(INLINE == 5);

/// Capacity of a list when it moves to the heap.
const FIRST_HEAP: usize = 8;

/// Most keys index a few spans (a unique value, a trace's spans, a rare value): up to [`INLINE`]
/// of them are kept in the list itself (no heap, and no allocation, reallocation or free as the
/// list comes and goes), in the same 32 bytes a heap list takes.
pub(crate) enum Posting {
    Few { len: u8, seqs: [u32; INLINE] },
    Many(VecDeque<u32>),
}

/// An empty list, with nothing on the heap.
impl Default for Posting {
    fn default() -> Self {
        Posting::Few {
            len: 0,
            seqs: [0; INLINE],
        }
    }
}

impl Posting {
    pub(crate) fn new(seq: u64) -> Self {
        let mut seqs = [0; INLINE];
        seqs[0] = seq as u32;
        Posting::Few { len: 1, seqs }
    }

    /// Heap bytes owned by the list.
    pub(crate) fn heap_bytes(&self) -> usize {
        match self {
            Posting::Few { .. } => 0,
            Posting::Many(v) => v.capacity() * size_of::<u32>(),
        }
    }

    /// Appends `seq` (the newest); returns the change in heap bytes.
    #[inline]
    pub(crate) fn push(&mut self, seq: u64) -> isize {
        match self {
            Posting::Few { len, seqs } if usize::from(*len) < INLINE => {
                seqs[usize::from(*len)] = seq as u32;
                *len += 1;
                0
            }
            Posting::Few { len, seqs } => {
                let mut v = VecDeque::with_capacity(FIRST_HEAP);
                v.extend(&seqs[..usize::from(*len)]);
                v.push_back(seq as u32);
                *self = Posting::Many(v);
                self.heap_bytes() as isize
            }
            Posting::Many(v) => {
                let before = v.capacity();
                v.push_back(seq as u32);
                ((v.capacity() - before) * size_of::<u32>()) as isize
            }
        }
    }

    /// Removes `seq` from the front if it is there. Returns whether the list is now empty and the
    /// change in heap bytes.
    #[inline(always)]
    pub(crate) fn pop_front(&mut self, seq: u64) -> (bool, isize) {
        let s = seq as u32;
        match self {
            Posting::Few { len, seqs } => {
                if *len > 0 && seqs[0] == s {
                    // A fixed shuffle, cheaper than a `memmove` of the live part.
                    *seqs = [seqs[1], seqs[2], seqs[3], seqs[4], 0];
                    *len -= 1;
                }
                (*len == 0, 0)
            }
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
            Posting::Few { len, .. } => usize::from(*len),
            Posting::Many(v) => v.len(),
        }
    }

    /// The low 32 bits of the sequence numbers, oldest first, in two parts.
    fn as_slices(&self) -> (&[u32], &[u32]) {
        match self {
            Posting::Few { len, seqs } => (&seqs[..usize::from(*len)], &[]),
            Posting::Many(v) => v.as_slices(),
        }
    }

    /// Full sequence numbers, newest first. `head` is the oldest live sequence number.
    pub(crate) fn iter_newest(&self, head: u64) -> impl Iterator<Item = u64> + '_ {
        let (a, b) = self.as_slices();
        b.iter()
            .rev()
            .chain(a.iter().rev())
            .map(move |&s| full(head, s))
    }

    /// Full sequence numbers, oldest first.
    pub(crate) fn iter_oldest(&self, head: u64) -> impl Iterator<Item = u64> + '_ {
        let (a, b) = self.as_slices();
        a.iter().chain(b).map(move |&s| full(head, s))
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
        assert_eq!(p.push(head + 1), 0, "short lists are inline");
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
        assert_eq!(delta, 0);
        assert_eq!(p.heap_bytes(), 0);
    }

    #[test]
    fn a_list_moves_to_the_heap_past_its_inline_entries_and_keeps_every_entry_in_order() {
        let head = u64::from(u32::MAX) - 3;
        let mut p = Posting::new(head);
        for i in 1..INLINE as u64 {
            assert_eq!(p.push(head + i), 0);
        }
        assert!(matches!(p, Posting::Few { len: 5, .. }));
        // The sixth entry moves the list to the heap: exactly its first capacity, counted.
        assert_eq!(p.push(head + 5), (FIRST_HEAP * 4) as isize);
        assert_eq!(p.heap_bytes(), 32);
        assert_eq!(p.push(head + 6), 0);
        assert_eq!(p.push(head + 7), 0);
        assert_eq!(p.push(head + 8), 32, "then it doubles");
        assert_eq!(p.len(), 9);
        assert_eq!(
            p.iter_oldest(head).collect::<Vec<_>>(),
            (0..9).map(|i| head + i).collect::<Vec<_>>()
        );
        assert_eq!(
            p.iter_newest(head).collect::<Vec<_>>(),
            (0..9).rev().map(|i| head + i).collect::<Vec<_>>()
        );
        let mut freed = 0;
        for i in 0..9 {
            let (empty, d) = p.pop_front(head + i);
            assert_eq!(empty, i == 8);
            assert_eq!(
                p.iter_oldest(head + i + 1).collect::<Vec<_>>(),
                (i + 1..9).map(|j| head + j).collect::<Vec<_>>()
            );
            freed += d;
        }
        assert_eq!(freed, -64, "every heap byte comes back");
    }

    #[test]
    fn an_inline_list_pops_only_its_front_and_refills() {
        let mut p = Posting::new(10);
        for s in 11..15 {
            p.push(s);
        }
        assert_eq!(p.pop_front(12), (false, 0), "not the front");
        assert_eq!(p.pop_front(10), (false, 0));
        assert_eq!(p.pop_front(11), (false, 0));
        assert_eq!(p.len(), 3);
        // Room again inline: no heap until a sixth entry.
        p.push(15);
        p.push(16);
        assert_eq!(p.heap_bytes(), 0);
        assert_eq!(
            p.iter_oldest(12).collect::<Vec<_>>(),
            vec![12, 13, 14, 15, 16]
        );
        assert_eq!(p.push(17), 32);
        assert_eq!(
            p.iter_newest(12).collect::<Vec<_>>(),
            vec![17, 16, 15, 14, 13, 12]
        );
    }
}
