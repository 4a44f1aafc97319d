//! The decision cache: what was decided for recent traces, so spans that arrive after their
//! trace's decision follow it — kept spans go on to the store and the forwarder, dropped ones are
//! dropped — for a bounded time (`ttl`) and a bounded number of traces (`max`), the oldest
//! decision forgotten first. A span of a forgotten trace starts a new trace in the buffer.
//!
//! Keyed by sender-chosen trace ids, hence std's randomly seeded hasher.

use std::collections::hash_map::RandomState;
use std::collections::{HashMap, VecDeque};
use std::mem::size_of;

use super::clock::Nanos;
use super::policy::{Reason, Trigger};
use crate::model::TraceId;
use crate::store::{TableSize, alloc_bytes};

/// One decision.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) struct Decision {
    pub(crate) reason: Reason,
    pub(crate) trigger: Trigger,
    pub(crate) rate: f64,
    /// When it was taken, on the stage's clock.
    pub(crate) at: Nanos,
}

impl Decision {
    pub(crate) fn kept(&self) -> bool {
        self.reason.is_keep()
    }
}

/// The cache.
#[derive(Debug)]
pub(crate) struct DecisionCache {
    map: HashMap<TraceId, Decision, RandomState>,
    /// The size of `map`'s table (`capacity()` falls below it as decisions go).
    table: TableSize<TraceId, Decision>,
    order: VecDeque<(TraceId, Nanos)>,
    ttl: Nanos,
    max: usize,
    /// Decisions forgotten because the cache was full.
    pub(crate) evicted: u64,
}

impl DecisionCache {
    pub(crate) fn new(ttl: Nanos, max: usize) -> Self {
        DecisionCache {
            map: HashMap::default(),
            table: TableSize::default(),
            order: VecDeque::new(),
            ttl: ttl.max(1),
            max: max.max(1),
            evicted: 0,
        }
    }

    /// Remembers (or replaces) the decision for `trace_id`.
    pub(crate) fn insert(&mut self, trace_id: TraceId, d: Decision) {
        self.map.insert(trace_id, d);
        self.table.inserted(self.map.capacity());
        self.order.push_back((trace_id, d.at));
        while self.map.len() > self.max || self.order.len() > 2 * self.max {
            if self.pop_front() {
                self.evicted += 1;
            }
        }
    }

    /// The live decision for `trace_id`.
    pub(crate) fn get(&self, trace_id: TraceId, now: Nanos) -> Option<Decision> {
        self.map
            .get(&trace_id)
            .copied()
            .filter(|d| d.at.saturating_add(self.ttl) > now)
    }

    /// Forgets decisions older than the time to live.
    pub(crate) fn expire(&mut self, now: Nanos) {
        while let Some(&(_, at)) = self.order.front() {
            if at.saturating_add(self.ttl) > now {
                break;
            }
            self.pop_front();
        }
        if self.map.capacity() > 1024 && self.map.len() * 8 < self.map.capacity() {
            let before = self.map.capacity();
            self.map.shrink_to(self.map.len() * 2);
            self.table.shrunk(before, self.map.capacity());
            self.order.shrink_to(self.order.len() * 2);
        }
    }

    /// Pops the oldest queue entry; true when it removed a live decision.
    fn pop_front(&mut self) -> bool {
        let Some((id, at)) = self.order.pop_front() else {
            return false;
        };
        // A later decision for the same trace has its own, later, queue entry.
        if self.map.get(&id).is_some_and(|d| d.at == at) {
            self.map.remove(&id);
            return true;
        }
        false
    }

    /// Decisions remembered.
    pub(crate) fn len(&self) -> usize {
        self.map.len()
    }

    /// Bytes accounted: the table and the queue.
    pub(crate) fn bytes(&self) -> usize {
        self.table.bytes() + alloc_bytes(self.order.capacity() * size_of::<(TraceId, Nanos)>())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::map_bytes;

    fn d(reason: Reason, at: Nanos) -> Decision {
        Decision {
            reason,
            trigger: Trigger::IdleGap,
            rate: 1.0,
            at,
        }
    }

    #[test]
    fn decisions_live_for_the_ttl() {
        let mut c = DecisionCache::new(100, 10);
        let t = TraceId::from_u128(1);
        c.insert(t, d(Reason::Error, 0));
        assert!(c.get(t, 99).unwrap().kept());
        assert_eq!(c.get(t, 100), None);
        c.expire(100);
        assert_eq!(c.len(), 0);
    }

    #[test]
    fn replaced_decisions_survive_their_old_queue_entry() {
        let mut c = DecisionCache::new(100, 10);
        let t = TraceId::from_u128(1);
        c.insert(t, d(Reason::SampledOut, 0));
        c.insert(t, d(Reason::Retroactive, 50));
        c.expire(120);
        assert_eq!(c.get(t, 120).unwrap().reason, Reason::Retroactive);
        c.expire(150);
        assert_eq!(c.len(), 0);
    }

    #[test]
    fn the_oldest_is_forgotten_when_full_and_counted() {
        let mut c = DecisionCache::new(1_000, 3);
        for i in 0..5u128 {
            c.insert(TraceId::from_u128(i), d(Reason::SampledOut, i as u64));
        }
        assert_eq!((c.len(), c.evicted), (3, 2));
        assert!(c.get(TraceId::from_u128(0), 10).is_none());
        assert!(c.get(TraceId::from_u128(4), 10).is_some());
        assert!(c.bytes() >= map_bytes::<TraceId, Decision>(3));
    }
}
