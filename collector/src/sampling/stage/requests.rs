//! Requests from the API, answered on the ingest worker: retroactive keeps and lookups.

use std::time::Duration;

use tokio::sync::oneshot;

use super::SamplingStage;
use crate::ingest::NewBatch;
use crate::model::TraceId;
use crate::sampling::clock::Nanos;
use crate::sampling::decision_cache::Decision;
use crate::sampling::policy::{Reason, Trigger, Verdict};
use crate::sampling::stats::{KeepOutcome, TraceSampling};

/// A request from the API, answered on the ingest worker.
#[derive(Debug)]
pub(crate) enum Command {
    /// Keep a trace retroactively.
    Keep(TraceId, oneshot::Sender<KeepOutcome>),
    /// Where a trace stands.
    Lookup(TraceId, oneshot::Sender<TraceSampling>),
}

/// The answer to a [`Command`], sent by [`Reply::send`].
#[derive(Debug)]
pub(crate) enum Reply {
    Keep(oneshot::Sender<KeepOutcome>, KeepOutcome),
    Lookup(oneshot::Sender<TraceSampling>, TraceSampling),
}

impl Reply {
    /// Sends the answer (a caller that stopped waiting is ignored).
    pub(crate) fn send(self) {
        match self {
            Reply::Keep(tx, v) => drop(tx.send(v)),
            Reply::Lookup(tx, v) => drop(tx.send(v)),
        }
    }
}

impl SamplingStage {
    /// Answers an API request: returns the kept spans, and the answer to send once they are
    /// stored (so a caller reading the store after a keep finds the trace).
    pub(crate) fn handle(&mut self, cmd: Command, now: Nanos) -> (Vec<NewBatch>, Reply) {
        let reply = match cmd {
            Command::Keep(id, tx) => Reply::Keep(tx, self.keep(id, now)),
            Command::Lookup(id, tx) => Reply::Lookup(tx, self.lookup(id, now)),
        };
        (self.finish(), reply)
    }

    fn keep(&mut self, trace_id: TraceId, now: Nanos) -> KeepOutcome {
        let retro = Verdict {
            reason: Reason::Retroactive,
            rate: 1.0,
        };
        if let Some(slot) = self.buffer.get(trace_id) {
            let spans = self.buffer.entry(slot).map_or(0, |e| e.spans);
            if self.buffer.entry(slot).is_some_and(|e| e.dropped.is_none()) {
                self.apply(slot, retro, Trigger::Retroactive, now);
            } else if let Some(entry) = self.buffer.take(slot) {
                let d = Decision {
                    reason: Reason::Retroactive,
                    trigger: Trigger::Retroactive,
                    rate: 1.0,
                    at: now,
                };
                self.counters.decisions[Reason::Retroactive.index()] += 1;
                self.counters.triggers[Trigger::Retroactive.index()] += 1;
                self.cache.insert(trace_id, d);
                self.emit_trace(entry, &d);
            }
            self.counters.retroactive_keeps += 1;
            return KeepOutcome::Kept { spans };
        }
        match self.cache.get(trace_id, now) {
            Some(d) if d.kept() => KeepOutcome::AlreadyKept,
            Some(_) => {
                // Its spans are gone, but later ones will be kept.
                self.cache.insert(
                    trace_id,
                    Decision {
                        reason: Reason::Retroactive,
                        trigger: Trigger::Retroactive,
                        rate: 1.0,
                        at: now,
                    },
                );
                KeepOutcome::NotBuffered
            }
            None => KeepOutcome::NotBuffered,
        }
    }

    pub(super) fn lookup(&self, trace_id: TraceId, now: Nanos) -> TraceSampling {
        if let Some(e) = self.buffer.get(trace_id).and_then(|s| self.buffer.entry(s)) {
            return match e.dropped {
                None => TraceSampling::Pending {
                    spans: e.spans,
                    waiting: Duration::from_nanos(now.saturating_sub(e.first)),
                },
                Some(d) => TraceSampling::Dropped {
                    reason: d.reason,
                    trigger: d.trigger,
                    buffered_spans: e.spans,
                },
            };
        }
        match self.cache.get(trace_id, now) {
            Some(d) if d.kept() => TraceSampling::Kept {
                reason: d.reason,
                trigger: d.trigger,
                rate: d.rate,
            },
            Some(d) => TraceSampling::Dropped {
                reason: d.reason,
                trigger: d.trigger,
                buffered_spans: 0,
            },
            None => TraceSampling::Unknown,
        }
    }
}
