//! The export queue: finished spans wait in chunks of at most one batch, and the worker takes
//! each chunk whole as the batch it hands to the exporters.
//!
//! Memory follows what is queued, not the configured bound. A chunk (a `Vec` with room for
//! `min(max_batch, queue_size)` spans) is taken when the one being filled is full, and spans are
//! written into it only as they arrive; an empty queue holds no chunk at all. The worker gives
//! each chunk back once exported, and the queue keeps at most [`SPARE_CHUNKS`] of them for the
//! next spans (a chunk whose storage an exporter took away is not kept), so after a burst the
//! queue returns to that many chunks.
//!
//! One lock guards it. A producer holds it to move one span in, never to allocate or free a
//! chunk (a new one is allocated with the lock released, then the lock is taken again); the
//! worker holds it to take a chunk out or give one back, once per batch, so the worker does
//! nothing per span. Closing takes what is left in the same step, so a span is either taken by
//! the worker or refused (and counted as dropped by the caller), never left behind.
//!
//! The lock is a [`SpinLock`]: every critical section is a few dozen instructions, so a waiter
//! almost always finds it free again within a few spins, and a lock released by a plain store
//! costs each span one atomic read-modify-write instead of the two of a sleeping mutex.

use std::collections::VecDeque;

use spin::mutex::SpinMutexGuard;

use crate::span::SpanData;
use crate::sync::SpinLock;

/// How many emptied chunks the queue keeps for the next spans.
pub(super) const SPARE_CHUNKS: usize = 2;

/// What [`SpanQueue::push`] did with a span.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Push {
    /// Queued; its chunk has room for more.
    Queued,
    /// Queued, and it filled its chunk: a full batch is waiting.
    Filled,
    /// Refused, the queue being full or closed, and dropped.
    Refused,
}

/// The queue shared by a pipeline's handles and its worker.
pub(super) struct SpanQueue {
    state: SpinLock<State>,
    /// The most spans waiting at once.
    bound: usize,
    /// Spans per chunk: `min(max_batch, bound)`.
    chunk: usize,
}

struct State {
    /// Full chunks, oldest first.
    full: VecDeque<Vec<SpanData>>,
    /// The chunk being filled: either empty with no storage, or with room for `chunk` spans
    /// and fewer than that in it.
    open: Vec<SpanData>,
    /// Spans waiting, in `full` and `open`.
    len: usize,
    /// Spans ever accepted.
    accepted: u64,
    /// Emptied chunks for the next spans, at most [`SPARE_CHUNKS`].
    spare: Vec<Vec<SpanData>>,
    closed: bool,
}

impl SpanQueue {
    /// A queue of at most `bound` spans, taken out in batches of at most `max_batch`.
    pub(super) fn new(bound: usize, max_batch: usize) -> Self {
        let bound = bound.max(1);
        SpanQueue {
            state: SpinLock::new(State {
                full: VecDeque::new(),
                open: Vec::new(),
                len: 0,
                accepted: 0,
                spare: Vec::new(),
                closed: false,
            }),
            bound,
            chunk: max_batch.clamp(1, bound),
        }
    }

    #[inline]
    fn lock(&self) -> SpinMutexGuard<'_, State> {
        self.state.lock()
    }

    /// Queues `span`, or drops it (with the lock released) when the queue is full or closed.
    pub(super) fn push(&self, span: SpanData) -> Push {
        // A chunk allocated with the lock released, when neither the open chunk nor a spare
        // had room.
        let mut fresh: Option<Vec<SpanData>> = None;
        loop {
            let mut s = self.lock();
            if s.closed || s.len >= self.bound {
                drop(s);
                drop(span);
                return Push::Refused;
            }
            if s.open.capacity() < self.chunk {
                match s.spare.pop().or_else(|| fresh.take()) {
                    Some(chunk) => s.open = chunk,
                    None => {
                        drop(s);
                        fresh = Some(Vec::with_capacity(self.chunk));
                        continue;
                    }
                }
            }
            s.open.push(span);
            s.len += 1;
            s.accepted += 1;
            let pushed = if s.open.len() >= self.chunk {
                let chunk = std::mem::take(&mut s.open);
                s.full.push_back(chunk);
                Push::Filled
            } else {
                Push::Queued
            };
            // Another producer supplied the chunk meanwhile: keep ours as a spare if there is
            // room, else free it below, unlocked.
            if s.spare.len() < SPARE_CHUNKS
                && let Some(chunk) = fresh.take()
            {
                s.spare.push(chunk);
            }
            drop(s);
            drop(fresh);
            return pushed;
        }
    }

    /// The oldest full chunk, if any.
    pub(super) fn take_full(&self) -> Option<Vec<SpanData>> {
        let mut s = self.lock();
        let chunk = s.full.pop_front()?;
        s.len -= chunk.len();
        Some(chunk)
    }

    /// The oldest chunk, full or not, if any span is waiting.
    pub(super) fn take_any(&self) -> Option<Vec<SpanData>> {
        let mut s = self.lock();
        let chunk = match s.full.pop_front() {
            Some(chunk) => chunk,
            None if !s.open.is_empty() => std::mem::take(&mut s.open),
            None => return None,
        };
        s.len -= chunk.len();
        Some(chunk)
    }

    /// Refuses every later span and takes every waiting one, oldest chunk first, in one step.
    pub(super) fn close(&self) -> Vec<Vec<SpanData>> {
        let mut s = self.lock();
        s.closed = true;
        s.len = 0;
        let mut left: Vec<Vec<SpanData>> = std::mem::take(&mut s.full).into();
        let open = std::mem::take(&mut s.open);
        let spare = std::mem::take(&mut s.spare);
        drop(s);
        drop(spare);
        if !open.is_empty() {
            left.push(open);
        }
        left
    }

    /// Takes back a chunk the worker has exported, to fill again, if it is a whole chunk and
    /// fewer than [`SPARE_CHUNKS`] are kept; otherwise it is freed.
    pub(super) fn give_back(&self, mut chunk: Vec<SpanData>) {
        chunk.clear();
        if chunk.capacity() != self.chunk {
            return;
        }
        let mut s = self.lock();
        if !s.closed && s.spare.len() < SPARE_CHUNKS {
            s.spare.push(chunk);
        }
    }

    /// Spans waiting now.
    pub(super) fn len(&self) -> usize {
        self.lock().len
    }

    /// Spans ever accepted.
    pub(super) fn accepted(&self) -> u64 {
        self.lock().accepted
    }

    /// Chunks held (full, being filled and spare) and their room in spans: the queue's storage.
    #[cfg(test)]
    pub(super) fn retained(&self) -> (usize, usize) {
        let s = self.lock();
        let chunks = s.full.iter().chain(&s.spare).chain([&s.open]);
        let held: Vec<usize> = chunks.map(Vec::capacity).filter(|&c| c > 0).collect();
        (held.len(), held.iter().sum())
    }
}

#[cfg(test)]
mod tests;
