//! [`SamplingStage`]: the buffer, the completion queue, the policies and the decision cache put
//! together. It lives on the collector's ingest worker, which calls [`SamplingStage::offer`]
//! with each batch, [`SamplingStage::tick`] when a deadline is due, and
//! [`SamplingStage::handle`] for API requests; each returns the kept spans for the store (they
//! are already queued for the forwarder). Receivers never call it: their request path ends at
//! the ingest queue.

use std::sync::Arc;
use std::time::Duration;

use parking_lot::Mutex;
use tracewire::export::SpanExporter;

use super::buffer::{Buffer, Entry, Slot, push_span};
use super::clock::{Clock, Nanos, nanos_of};
use super::completion::Completion;
use super::config::SamplingConfig;
use super::decision_cache::{Decision, DecisionCache};
use super::emit::annotate;
use super::forward::Forwarder;
use super::policy::errors::flags;
use super::policy::{Facts, Policies, Root, Trigger, Verdict};
use super::stats::{Counters, OpTable, SamplingShared};
use crate::analysis::{HealthAggregator, HealthConfig, LatencyHistogram, Sample};
use crate::ingest::{NewBatch, NewSource, NewSpan};
use crate::model::StatusCode;

/// The stage.
pub(crate) struct SamplingStage {
    clock: Arc<dyn Clock>,
    buffer: Buffer,
    completion: Completion,
    cache: DecisionCache,
    policies: Policies,
    health: Option<Arc<HealthAggregator>>,
    forwarder: Option<Forwarder>,
    shared: Arc<SamplingShared>,
    counters: Counters,
    latencies: Vec<u64>,
    out: Vec<NewBatch>,
    window: Nanos,
    max_bytes: usize,
    max_spans: usize,
    keep_errors: bool,
    force: Option<String>,
}

impl std::fmt::Debug for SamplingStage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SamplingStage")
            .field("traces", &self.buffer.traces())
            .field("spans", &self.buffer.spans())
            .finish_non_exhaustive()
    }
}

/// How long the forwarder may keep sending at shutdown.
const FORWARD_GRACE: Duration = Duration::from_secs(5);

impl SamplingStage {
    /// A stage for `config`. `health` is fed with every span received; `exporter`, when given,
    /// replaces the OTLP exporter the configuration's `forward` section describes.
    pub(crate) fn new(
        config: SamplingConfig,
        clock: Arc<dyn Clock>,
        health: Option<Arc<HealthAggregator>>,
        exporter: Option<Box<dyn SpanExporter>>,
    ) -> SamplingStage {
        let forward = config.forward.clone();
        let mut forward_error = None;
        let exporter = match (exporter, &forward) {
            (Some(e), _) => Some(e),
            (None, Some(f)) => match f.build_exporter() {
                Ok(e) => Some(Box::new(e) as Box<dyn SpanExporter>),
                Err(e) => {
                    forward_error = Some(e.to_string());
                    None
                }
            },
            (None, None) => None,
        };
        let forward = forward.unwrap_or_else(|| super::ForwardConfig::new(""));
        let forwarder = exporter.and_then(|e| {
            let (initial, max) = forward.retry();
            Forwarder::start(e, forward.get_max_buffer_bytes(), initial, max)
                .map_err(|e| forward_error = Some(format!("cannot start the forwarder: {e}")))
                .ok()
        });
        let hc = health
            .as_ref()
            .map_or_else(HealthConfig::default, |h| h.config().clone());
        let shared = Arc::new(SamplingShared {
            counters: Mutex::new(Counters::default()),
            latency: Mutex::new(LatencyHistogram::new()),
            ops: Mutex::new(OpTable::new(hc.bucket_width, hc.buckets, hc.max_operations)),
            max_buffer_bytes: config.buffer_max_bytes,
            forward: forwarder.as_ref().map(Forwarder::counters),
            forward_error,
        });
        SamplingStage {
            clock,
            buffer: Buffer::default(),
            completion: Completion::new(config.idle_gap, config.max_wait),
            cache: DecisionCache::new(nanos_of(config.decision_ttl), config.decision_cache_traces),
            policies: Policies::new(&config),
            health,
            forwarder,
            shared,
            counters: Counters::default(),
            latencies: Vec::new(),
            out: Vec::new(),
            window: nanos_of(config.buffer_window),
            max_bytes: config.buffer_max_bytes,
            max_spans: config.max_spans_per_trace,
            keep_errors: config.keep_errors,
            force: config.force_attribute,
        }
    }

    /// What readers share.
    pub(crate) fn shared(&self) -> Arc<SamplingShared> {
        self.shared.clone()
    }

    /// The stage's clock, read.
    pub(crate) fn now(&self) -> Nanos {
        nanos_of(self.clock.now())
    }

    /// How long until the next deadline (`None`: nothing queued).
    pub(crate) fn next_wake(&self, now: Nanos) -> Option<Duration> {
        self.completion
            .next()
            .map(|at| Duration::from_nanos(at.saturating_sub(now)))
    }

    /// Bytes counted against the buffer's budget.
    fn bytes(&self) -> usize {
        self.buffer.bytes() + self.completion.bytes()
    }

    // --- input --------------------------------------------------------------------------

    /// Takes received spans; returns the kept ones.
    pub(crate) fn offer(&mut self, batches: Vec<NewBatch>, now: Nanos) -> Vec<NewBatch> {
        let shared = self.shared.clone();
        let mut ops = shared.ops.lock();
        for batch in batches {
            let source = batch.source;
            ops.seen(
                &source.resource.service,
                batch.spans.iter().map(|s| (&*s.name, s.end_unix_nano)),
            );
            for span in batch.spans {
                self.counters.received_spans += 1;
                if let Some(h) = &self.health {
                    h.record_sample(Sample {
                        trace_id: span.trace_id,
                        span_id: span.span_id,
                        service: &source.resource.service,
                        operation: &span.name,
                        start_ns: span.start_unix_nano,
                        end_ns: span.end_unix_nano,
                        is_error: span.status == StatusCode::Error,
                    });
                }
                self.route(&source, span, now);
            }
        }
        drop(ops);
        self.enforce(now);
        self.finish()
    }

    fn route(&mut self, source: &Arc<NewSource>, span: NewSpan, now: Nanos) {
        let trace_id = span.trace_id;
        let slot = match self.buffer.get(trace_id) {
            Some(slot) => slot,
            None => match self.cache.get(trace_id, now) {
                Some(d) if d.kept() => {
                    self.counters.late_kept_spans += 1;
                    let mut span = span;
                    if !span.parent_span_id.is_valid() {
                        annotate(&mut span, &d);
                    }
                    push_span(&mut self.out, source.clone(), span);
                    return;
                }
                Some(_) => {
                    // Dropped, and the trace has left the buffer.
                    self.counters.late_dropped_spans += 1;
                    return;
                }
                None => {
                    self.counters.pending_traces += 1;
                    self.buffer.insert(trace_id, now)
                }
            },
        };
        if let Some(e) = self.buffer.entry(slot)
            && e.dropped.is_some()
        {
            // Held for a retroactive keep, up to the size limit of a trace.
            self.counters.late_dropped_spans += 1;
            if e.spans < self.max_spans {
                self.buffer.push(slot, source, span, now);
            }
            return;
        }
        let (error, forced) = flags(&span, self.force.as_deref());
        self.buffer.push(slot, source, span, now);
        let Some(e) = self.buffer.entry_mut(slot) else {
            return;
        };
        e.error |= error;
        e.forced |= forced;
        let full = e.spans >= self.max_spans;
        self.completion.schedule(slot, e);
        if forced || (error && self.keep_errors) {
            self.decide(slot, Trigger::AtOnce, now);
        } else if full {
            self.decide(slot, Trigger::TraceSize, now);
        }
    }

    // --- time ---------------------------------------------------------------------------

    /// Decides what is due at `now` and evicts what has outlived the window; returns the kept
    /// spans.
    pub(crate) fn tick(&mut self, now: Nanos) -> Vec<NewBatch> {
        while let Some((slot, at)) = self.completion.pop_due(now) {
            let Some(e) = self.buffer.entry_mut(slot) else {
                continue;
            };
            if e.dropped.is_some() || e.scheduled != Some(at) {
                continue;
            }
            e.scheduled = None;
            let (due, trigger) = self.completion.due(e);
            if due <= now {
                self.decide(slot, trigger, now);
            } else {
                self.completion.schedule(slot, e);
            }
        }
        self.enforce(now);
        self.cache.expire(now);
        self.completion.shrink();
        self.finish()
    }

    /// Keeps the buffer within its window and byte budget, oldest trace first; an undecided
    /// trace is decided rather than evicted unseen.
    fn enforce(&mut self, now: Nanos) {
        loop {
            let over = self.bytes() > self.max_bytes;
            if over {
                self.purge_deadlines();
            }
            let window = self.window;
            let Some((slot, e)) = self.buffer.oldest() else {
                if self.bytes() > self.max_bytes {
                    // Only spare capacity is left over the budget.
                    self.buffer.shrink_all();
                    self.completion.purge(|_, _| false);
                }
                break;
            };
            let expired = e.first.saturating_add(window) <= now;
            if !expired && !over {
                break;
            }
            if e.dropped.is_none() {
                let trigger = if expired {
                    Trigger::MaxWait
                } else {
                    Trigger::MemoryPressure
                };
                self.decide(slot, trigger, now);
                continue;
            }
            let before = self.bytes();
            let Some(gone) = self.buffer.take(slot) else {
                break;
            };
            let spans = gone.spans as u64;
            if expired {
                self.counters.expired_traces += 1;
                self.counters.expired_spans += spans;
            } else {
                self.counters.evicted_traces += 1;
                self.counters.evicted_spans += spans;
                self.counters.evicted_bytes += before.saturating_sub(self.bytes()) as u64;
            }
        }
    }

    /// Drops the deadlines of traces no longer waiting, once they are the majority.
    fn purge_deadlines(&mut self) {
        if self.completion.len() <= 2 * self.counters.pending_traces + 16 {
            return;
        }
        let buffer = &self.buffer;
        self.completion.purge(|slot, at| {
            buffer
                .entry(slot)
                .is_some_and(|e| e.dropped.is_none() && e.scheduled == Some(at))
        });
    }

    // --- decisions ----------------------------------------------------------------------

    fn decide(&mut self, slot: Slot, trigger: Trigger, now: Nanos) {
        let Some(e) = self.buffer.entry(slot) else {
            return;
        };
        let facts = Facts {
            error: e.error,
            forced: e.forced,
            root: e.root.as_ref().map(|r| Root {
                service: e.root_service().unwrap_or(""),
                name: &r.name,
                duration: r.duration,
                http_status: r.http_status,
            }),
        };
        let verdict = self.policies.decide(e.trace_id, &facts, now);
        self.apply(slot, verdict, trigger, now);
    }

    fn apply(&mut self, slot: Slot, v: Verdict, trigger: Trigger, now: Nanos) {
        let d = Decision {
            reason: v.reason,
            trigger,
            rate: v.rate,
            at: now,
        };
        let Some(e) = self.buffer.entry_mut(slot) else {
            return;
        };
        let trace_id = e.trace_id;
        self.counters.decisions[v.reason.index()] += 1;
        self.counters.triggers[trigger.index()] += 1;
        self.counters.pending_traces = self.counters.pending_traces.saturating_sub(1);
        if let Some(root_at) = e.root_at {
            self.latencies.push(now.saturating_sub(root_at));
        }
        self.cache.insert(trace_id, d);
        if d.kept() {
            if let Some(entry) = self.buffer.take(slot) {
                self.emit_trace(entry, &d);
            }
        } else {
            e.dropped = Some(d);
            self.buffer.compact(slot);
        }
    }

    /// Passes a kept trace on, its root annotated (or, without a root, its earliest span).
    fn emit_trace(&mut self, entry: Entry, d: &Decision) {
        entry.into_batches(|head| annotate(head, d), &mut self.out);
    }

    /// Decides every undecided trace (the collector is stopping), returns the kept spans and
    /// gives the forwarder a few seconds to send what it holds.
    pub(crate) fn shutdown(&mut self, now: Nanos) -> Vec<NewBatch> {
        for slot in self.buffer.pending() {
            self.decide(slot, Trigger::Shutdown, now);
        }
        let out = self.finish();
        if let Some(f) = &mut self.forwarder {
            f.shutdown(FORWARD_GRACE);
        }
        out
    }

    // --- output -------------------------------------------------------------------------

    /// Hands the kept spans over (counted per operation, queued for the forwarder) and
    /// publishes the counters.
    fn finish(&mut self) -> Vec<NewBatch> {
        let out = std::mem::take(&mut self.out);
        if !out.is_empty() {
            let mut ops = self.shared.ops.lock();
            for b in &out {
                ops.kept(
                    &b.source.resource.service,
                    b.spans.iter().map(|s| (&*s.name, s.end_unix_nano)),
                );
                self.counters.kept_spans += b.spans.len() as u64;
            }
            drop(ops);
            if let Some(f) = &self.forwarder {
                f.enqueue(&out);
            }
        }
        self.publish();
        out
    }

    fn publish(&mut self) {
        let c = &mut self.counters;
        c.buffered_traces = self.buffer.traces();
        c.buffered_spans = self.buffer.spans();
        c.buffer_bytes = self.buffer.bytes() + self.completion.bytes();
        c.decision_cache_traces = self.cache.len();
        c.decision_cache_bytes = self.cache.bytes();
        c.decision_cache_evicted = self.cache.evicted;
        c.adaptive_over_limit = self.policies.adaptive_over_limit();
        *self.shared.counters.lock() = *c;
        if !self.latencies.is_empty() {
            let mut h = self.shared.latency.lock();
            for l in self.latencies.drain(..) {
                h.record(l);
            }
        }
    }
}

mod requests;
#[cfg(test)]
mod tests;

pub(crate) use self::requests::Command;
