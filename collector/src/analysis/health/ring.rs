//! One operation's ring of time buckets: counts, a latency histogram and exemplars per bucket.

use std::mem::size_of;

use super::{Exemplar, Sample};
use crate::analysis::histogram::LatencyHistogram;

#[derive(Default)]
pub(super) struct Bucket {
    pub(super) epoch: u64,
    pub(super) count: u64,
    pub(super) errors: u64,
    /// The earliest start of a span recorded in the bucket (meaningless while `count` is 0).
    pub(super) first_start_ns: u64,
    pub(super) hist: LatencyHistogram,
    pub(super) slowest: Vec<Exemplar>,
    pub(super) errors_recent: Vec<Exemplar>,
}

impl Bucket {
    fn reset(&mut self, epoch: u64) {
        self.epoch = epoch;
        self.count = 0;
        self.errors = 0;
        self.first_start_ns = 0;
        self.hist = LatencyHistogram::new();
        self.slowest.clear();
        self.errors_recent.clear();
    }

    /// Heap bytes the bucket owns.
    fn heap_bytes(&self) -> usize {
        self.hist.heap_bytes()
            + (self.slowest.capacity() + self.errors_recent.capacity()) * size_of::<Exemplar>()
    }
}

/// What recording a span into a ring did.
pub(super) enum Recorded {
    /// Recorded; the ring's heap changed by this many bytes.
    Yes(isize),
    /// Older than every bucket the ring keeps.
    TooOld,
}

pub(super) struct Ring {
    pub(super) buckets: Vec<Bucket>,
}

impl Ring {
    pub(super) fn new(n: usize) -> Ring {
        Ring {
            buckets: (0..n).map(|_| Bucket::default()).collect(),
        }
    }

    /// Bytes of a new ring of `n` buckets.
    pub(super) fn base_bytes(n: usize) -> usize {
        n * size_of::<Bucket>()
    }

    pub(super) fn record(&mut self, span: &Sample<'_>, epoch: u64, exemplars: usize) -> Recorded {
        let n = self.buckets.len() as u64;
        let newest = self.buckets.iter().map(|b| b.epoch).max().unwrap_or(0);
        let b = &mut self.buckets[(epoch % n) as usize];
        if b.count > 0 && b.epoch > epoch || newest >= epoch + n {
            return Recorded::TooOld;
        }
        let before = b.heap_bytes();
        if b.epoch != epoch {
            b.reset(epoch);
        }
        let dur = span.end_ns.saturating_sub(span.start_ns);
        let ex = Exemplar {
            trace_id: span.trace_id,
            span_id: span.span_id,
            duration_ns: dur,
            end_ns: span.end_ns,
        };
        let start = span.start_ns.min(span.end_ns);
        b.first_start_ns = if b.count == 0 {
            start
        } else {
            b.first_start_ns.min(start)
        };
        b.count += 1;
        b.hist.record(dur);
        keep_top(&mut b.slowest, ex, exemplars, slower);
        if span.is_error {
            b.errors += 1;
            keep_top(&mut b.errors_recent, ex, exemplars, later);
        }
        Recorded::Yes(b.heap_bytes() as isize - before as isize)
    }
}

/// Keeps the top `k` of `list` by `better` (first = best), one entry per trace.
pub(super) fn keep_top(
    list: &mut Vec<Exemplar>,
    e: Exemplar,
    k: usize,
    better: fn(&Exemplar, &Exemplar) -> bool,
) {
    if k == 0 {
        return;
    }
    if let Some(pos) = list.iter().position(|x| x.trace_id == e.trace_id) {
        if !better(&e, &list[pos]) {
            return;
        }
        list.remove(pos);
    }
    let at = list
        .iter()
        .position(|x| better(&e, x))
        .unwrap_or(list.len());
    if at < k {
        list.insert(at, e);
        list.truncate(k);
    }
}

pub(super) fn slower(a: &Exemplar, b: &Exemplar) -> bool {
    (a.duration_ns, std::cmp::Reverse(a.trace_id)) > (b.duration_ns, std::cmp::Reverse(b.trace_id))
}

pub(super) fn later(a: &Exemplar, b: &Exemplar) -> bool {
    (a.end_ns, std::cmp::Reverse(a.trace_id)) > (b.end_ns, std::cmp::Reverse(b.trace_id))
}
