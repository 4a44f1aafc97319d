//! The store's writer thread: applies the ingest queue's messages to the store, through the
//! tail-sampling stage when there is one.
//!
//! Spans exported in process arrive as the pipeline built them ([`SpanData`]) and are packed
//! straight from it; with a sampling stage, which buffers and rewrites the decoded form, they
//! are converted to it first, here. Once stored, their attribute vectors go back to the
//! exporting pipeline's pool ([`SpanRecycler`]), outside the store's lock.

use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::time::Duration;

use crossbeam_channel::{Receiver, RecvTimeoutError};
use tracewire::SpanData;
use tracewire::export::SpanRecycler;

use super::batch::{NewBatch, NewSource};
use super::queue::{Msg, Shared};
use crate::exporter::convert_span;
use crate::model::IngestObserver;
use crate::sampling::{Reply, SamplingStage};
use crate::store::Store;

/// How many queued messages the writer applies under one write lock, so readers are never held
/// off for long.
const MAX_MSGS_PER_LOCK: usize = 64;

/// What the writer does under the store's lock, in the order the messages came.
enum Work {
    /// Inserts batches the sampling stage let through (or all, without one); `release` gives
    /// back a queued message's share of the queue's budget once they are stored.
    Insert {
        batches: Vec<NewBatch>,
        release: Option<(usize, usize)>,
    },
    /// Inserts spans exported in process, read straight from their `SpanData`; `release` as
    /// above.
    InsertLocal {
        source: Arc<NewSource>,
        spans: Vec<SpanData>,
        release: (usize, usize),
        recycler: SpanRecycler,
    },
    /// Answers a sampling command once what it released is stored.
    Reply(Reply),
}

/// Runs `f` on the store; a panic is counted and leaves an empty store with the same limits and
/// counters, since a half-done update may have left its indexes inconsistent.
fn guarded(store: &mut Store, f: impl FnOnce(&mut Store)) {
    if std::panic::catch_unwind(AssertUnwindSafe(|| f(store))).is_err() {
        store.reset_after_panic();
    }
}

pub(super) fn writer(
    shared: &Shared,
    rx: &Receiver<Msg>,
    observers: &[Arc<dyn IngestObserver>],
    mut stage: Option<SamplingStage>,
) {
    let mut pending_acks = Vec::new();
    let idle = Duration::from_millis(500);
    loop {
        // Wake for the sampling stage's next deadline, else at least twice a second.
        let wait = stage
            .as_ref()
            .and_then(|s| s.next_wake(s.now()))
            .map_or(idle, |w| w.min(idle));
        let first = match rx.recv_timeout(wait) {
            Ok(msg) => msg,
            Err(RecvTimeoutError::Timeout) => {
                let kept = stage.as_mut().map(|s| s.tick(s.now()));
                let mut store = shared.store.write();
                if let Some(kept) = kept {
                    guarded(&mut store, |s| s.insert(kept, observers));
                }
                guarded(&mut store, Store::expire);
                continue;
            }
            Err(RecvTimeoutError::Disconnected) => return,
        };
        // The messages are taken and run through the sampling stage first, without the store's
        // lock, so queries wait only for the inserts themselves.
        let mut stop = false;
        let mut work = Vec::new();
        // In-process spans once stored, given back after the store's lock is released.
        let mut spent: Vec<(Vec<SpanData>, SpanRecycler)> = Vec::new();
        let mut msg = Some(first);
        while let Some(m) = msg.take() {
            match m {
                Msg::Spans {
                    batches,
                    spans,
                    bytes,
                } => {
                    let batches = match &mut stage {
                        Some(s) => s.offer(batches, s.now()),
                        None => batches,
                    };
                    work.push(Work::Insert {
                        batches,
                        release: Some((spans, bytes)),
                    });
                }
                Msg::Local {
                    source,
                    spans,
                    bytes,
                    recycler,
                } => {
                    let release = (spans.len(), bytes);
                    match &mut stage {
                        Some(s) => {
                            let batch = NewBatch {
                                source,
                                spans: spans.iter().map(convert_span).collect(),
                            };
                            let batches = s.offer(vec![batch], s.now());
                            work.push(Work::Insert {
                                batches,
                                release: Some(release),
                            });
                            spent.push((spans, recycler));
                        }
                        None => work.push(Work::InsertLocal {
                            source,
                            spans,
                            release,
                            recycler,
                        }),
                    }
                }
                Msg::Flush(ack) => pending_acks.push(ack),
                Msg::Sampling(cmd) => {
                    if let Some(s) = &mut stage {
                        let (kept, reply) = s.handle(cmd, s.now());
                        work.push(Work::Insert {
                            batches: kept,
                            release: None,
                        });
                        work.push(Work::Reply(reply));
                    }
                }
                Msg::Stop => {
                    if let Some(s) = &mut stage {
                        let kept = s.shutdown(s.now());
                        work.push(Work::Insert {
                            batches: kept,
                            release: None,
                        });
                    }
                    stop = true;
                    break;
                }
            }
            if work.len() < MAX_MSGS_PER_LOCK {
                msg = rx.try_recv().ok();
            }
        }
        // Deadlines that fell due while busy (and everything due before a flush's ack).
        if let Some(s) = &mut stage
            && !stop
        {
            work.push(Work::Insert {
                batches: s.tick(s.now()),
                release: None,
            });
        }
        let mut replies = Vec::new();
        {
            let mut store = shared.store.write();
            for w in work {
                match w {
                    Work::Insert { batches, release } => {
                        if !batches.is_empty() {
                            guarded(&mut store, |s| s.insert(batches, observers));
                        }
                        if let Some((spans, bytes)) = release {
                            shared.release(spans, bytes);
                        }
                    }
                    Work::InsertLocal {
                        source,
                        spans,
                        release: (n, bytes),
                        recycler,
                    } => {
                        guarded(&mut store, |s| s.insert_local(&source, &spans, observers));
                        shared.release(n, bytes);
                        spent.push((spans, recycler));
                    }
                    Work::Reply(reply) => replies.push(reply),
                }
            }
            guarded(&mut store, Store::expire);
        }
        for (spans, recycler) in spent {
            recycler.recycle(spans);
        }
        for reply in replies {
            reply.send();
        }
        for ack in pending_acks.drain(..) {
            let _ = ack.send(());
        }
        if stop {
            return;
        }
    }
}
