//! When a trace is complete enough to decide, without one static wait for every trace.
//!
//! - **Idle gap**: once the root span has arrived (spans are sent when they end, so the root
//!   has ended), the trace is decided when no span of it has arrived for `idle_gap`. A short
//!   trace is decided `idle_gap` after its last span; a long one waits as long as spans keep
//!   coming.
//! - **Maximum wait**: `max_wait` after its first span, a trace is decided whatever it holds (a
//!   root that never comes, a trace still growing).
//! - **At once**, by the stage, when a policy can decide without seeing the rest: a failed span
//!   or the force attribute (the rest follows through the decision cache), or a trace reaching
//!   the most spans it may hold.
//! - **Early**, by the stage, under memory pressure: the oldest undecided trace is decided
//!   rather than evicted unseen.
//!
//! Deadlines sit in a min-heap of `(time, slot)`. A trace has at most one live heap entry
//! (recorded in the trace as `scheduled`), plus at most one stale one when its root arrival
//! brought its deadline forward; a popped entry that is stale, or whose trace's deadline has
//! moved later since, is discarded or pushed again at the new time. Arrivals of further spans
//! never touch the heap, so the cost per span is nil and per trace is O(log n).

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::mem::size_of;
use std::time::Duration;

use super::buffer::{Entry, Slot};
use super::clock::{Nanos, nanos_of};
use super::policy::Trigger;
use crate::store::alloc_bytes;

type HeapItem = Reverse<(Nanos, u32, u32)>;

/// The deadline queue.
#[derive(Debug)]
pub(crate) struct Completion {
    heap: BinaryHeap<HeapItem>,
    idle_gap: Nanos,
    max_wait: Nanos,
}

impl Completion {
    pub(crate) fn new(idle_gap: Duration, max_wait: Duration) -> Self {
        Completion {
            heap: BinaryHeap::new(),
            idle_gap: nanos_of(idle_gap),
            max_wait: nanos_of(max_wait),
        }
    }

    /// The time `e` is due, and what makes it due then.
    pub(crate) fn due(&self, e: &Entry) -> (Nanos, Trigger) {
        let max = e.first.saturating_add(self.max_wait);
        if e.root_at.is_some() {
            let idle = e.last.saturating_add(self.idle_gap);
            if idle < max {
                return (idle, Trigger::IdleGap);
            }
        }
        (max, Trigger::MaxWait)
    }

    /// Makes sure the queue looks at `e` no later than it is due.
    pub(crate) fn schedule(&mut self, slot: Slot, e: &mut Entry) {
        let (at, _) = self.due(e);
        if e.scheduled.is_none_or(|s| at < s) {
            e.scheduled = Some(at);
            self.heap.push(Reverse((at, slot.idx, slot.generation)));
        }
    }

    /// Pops the next queue entry due at or before `now`: the slot and the time it was queued
    /// for (compare with the trace's `scheduled` to tell a stale entry).
    pub(crate) fn pop_due(&mut self, now: Nanos) -> Option<(Slot, Nanos)> {
        let &Reverse((at, idx, generation)) = self.heap.peek()?;
        if at > now {
            return None;
        }
        self.heap.pop();
        Some((Slot { idx, generation }, at))
    }

    /// When the earliest queued deadline falls.
    pub(crate) fn next(&self) -> Option<Nanos> {
        self.heap.peek().map(|r| r.0.0)
    }

    /// Queue entries, live and stale.
    pub(crate) fn len(&self) -> usize {
        self.heap.len()
    }

    /// Bytes of the heap's allocation.
    pub(crate) fn bytes(&self) -> usize {
        alloc_bytes(self.heap.capacity() * size_of::<HeapItem>())
    }

    /// Drops queue entries for which `live(slot, time)` is false (traces decided or evicted
    /// before their deadline), and the capacity they held.
    pub(crate) fn purge(&mut self, mut live: impl FnMut(Slot, Nanos) -> bool) {
        self.heap.retain(|Reverse((at, idx, generation))| {
            live(
                Slot {
                    idx: *idx,
                    generation: *generation,
                },
                *at,
            )
        });
        self.heap.shrink_to(self.heap.len() * 2);
    }

    /// Releases spare capacity after a burst.
    pub(crate) fn shrink(&mut self) {
        if self.heap.capacity() > 1024 && self.heap.len() * 8 < self.heap.capacity() {
            self.heap.shrink_to(self.heap.len() * 2);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::TraceId;
    use crate::sampling::buffer::Buffer;

    const S: u64 = 1_000_000_000;

    #[test]
    fn idle_gap_after_the_root_and_max_wait_without_it() {
        let c = Completion::new(Duration::from_secs(2), Duration::from_secs(30));
        let mut b = Buffer::default();
        let slot = b.insert(TraceId::from_u128(1), 10 * S);
        let e = b.entry_mut(slot).unwrap();
        assert_eq!(c.due(e), (40 * S, Trigger::MaxWait));
        e.root_at = Some(e.last);
        e.last = 11 * S;
        assert_eq!(c.due(e), (13 * S, Trigger::IdleGap));
        // Spans still arriving near the maximum wait: the maximum wait wins.
        e.last = 39 * S;
        assert_eq!(c.due(e), (40 * S, Trigger::MaxWait));
    }

    #[test]
    fn one_live_entry_per_trace_brought_forward_by_the_root() {
        let mut c = Completion::new(Duration::from_secs(2), Duration::from_secs(30));
        let mut b = Buffer::default();
        let slot = b.insert(TraceId::from_u128(1), 0);
        let e = b.entry_mut(slot).unwrap();
        c.schedule(slot, e);
        c.schedule(slot, e);
        assert_eq!((c.len(), e.scheduled), (1, Some(30 * S)));
        e.root_at = Some(e.last);
        e.last = S;
        c.schedule(slot, e);
        assert_eq!(
            (c.len(), e.scheduled, c.next()),
            (2, Some(3 * S), Some(3 * S))
        );
        assert_eq!(c.pop_due(2 * S), None);
        assert_eq!(c.pop_due(3 * S), Some((slot, 3 * S)));
        // The stale entry at the maximum wait is still queued.
        assert_eq!(c.pop_due(u64::MAX), Some((slot, 30 * S)));
        assert_eq!(c.next(), None);
        assert!(c.bytes() > 0);
    }
}
