//! The worker thread: takes the queue's chunks, each one batch, and hands each to every
//! exporter, borrowed, except the last, which may keep it ([`SpanExporter::export_owned`]) and
//! gets a [`SpanRecycler`] to give the spans' vectors back to the pools. The emptied
//! chunk goes back to the queue for the next spans.
//!
//! Exporters run with no `tracing` subscriber (their own HTTP clients, h2 or tonic must never
//! produce spans that come back into this pipeline), and inside `catch_unwind`: an exporter that
//! panics fails that call — counted, reported through [`diagnostics`](crate::diagnostics) — and is
//! called again for the next batch; the other exporters and the worker carry on.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, Sender, select};

use super::SpanExporter;
use super::buffers::{Buffers, Emptied, SpanRecycler};
use super::queue::SpanQueue;
use crate::error::ExportError;
use crate::resource::Resource;
use crate::span::SpanData;

pub(super) enum Control {
    /// A full batch is waiting.
    Wake,
    Flush(Sender<()>),
    Shutdown(Sender<()>),
}

#[derive(Default)]
pub(super) struct Counters {
    pub(super) exported: AtomicU64,
    pub(super) dropped: AtomicU64,
    pub(super) failed: AtomicU64,
    pub(super) export_errors: AtomicU64,
    pub(super) panics: AtomicU64,
    pub(super) discarded: AtomicU64,
}

pub(super) struct Worker {
    pub(super) queue: Arc<SpanQueue>,
    /// Where emptied attribute vectors go back to the layer (bounded; see `recycle`).
    pub(super) buffers: Arc<Buffers>,
    /// The same pool, for the last exporter of each batch to give back the spans it keeps.
    pub(super) recycler: SpanRecycler,
    /// The vectors of the batch being recycled (kept to reuse its allocation).
    pub(super) emptied: Emptied,
    pub(super) control: Receiver<Control>,
    pub(super) counters: Arc<Counters>,
    pub(super) last_error: Arc<Mutex<Option<ExportError>>>,
    pub(super) wake_pending: Arc<AtomicBool>,
    pub(super) exporters: Vec<Box<dyn SpanExporter>>,
    pub(super) resource: Resource,
    pub(super) batch_timeout: Duration,
}

/// `now + d`, or `None` when that is beyond what an `Instant` can hold (a timeout so long it
/// never comes).
pub(super) fn deadline_after(d: Duration) -> Option<Instant> {
    Instant::now().checked_add(d)
}

/// Which exporter call failed, for the diagnostics.
#[derive(Clone, Copy)]
enum Call {
    Export,
    Flush,
    Shutdown,
}

impl Call {
    fn name(self) -> &'static str {
        match self {
            Call::Export => "export",
            Call::Flush => "force_flush",
            Call::Shutdown => "shutdown",
        }
    }
}

impl Worker {
    pub(super) fn run(mut self) {
        let mut deadline = deadline_after(self.batch_timeout);
        loop {
            // `Duration::MAX` (no timer) is fine: the channel caps it itself.
            let wait = deadline.map_or(Duration::MAX, |d| {
                d.saturating_duration_since(Instant::now())
            });
            // Only control messages wake the worker; spans wait in the queue until a batch is
            // full (a producer sends `Wake`) or the batch timeout passes.
            select! {
                recv(self.control) -> msg => match msg {
                    Ok(Control::Wake) => {
                        // Cleared before the queue is looked at: a chunk filled after this
                        // sends another wake.
                        self.wake_pending.store(false, Ordering::Release);
                        while let Some(chunk) = self.queue.take_full() {
                            self.export_chunk(chunk);
                        }
                    }
                    Ok(Control::Flush(ack)) => {
                        self.drain();
                        for i in 0..self.exporters.len() {
                            let _ = self.call(i, Call::Flush, |e, _| e.force_flush());
                        }
                        let _ = ack.send(());
                    }
                    Ok(Control::Shutdown(ack)) => {
                        self.close();
                        self.shutdown_exporters();
                        let _ = ack.send(());
                        return;
                    }
                    // Every handle is gone: export what is left and stop.
                    Err(_) => {
                        self.close();
                        self.shutdown_exporters();
                        return;
                    }
                },
                default(wait) => {
                    self.drain();
                    deadline = deadline_after(self.batch_timeout);
                }
            }
        }
    }

    /// Exports the spans waiting now, a chunk at a time (not those that arrive meanwhile, so a
    /// steady stream cannot keep it going).
    fn drain(&mut self) {
        let mut left = self.queue.len();
        while left > 0
            && let Some(chunk) = self.queue.take_any()
        {
            left = left.saturating_sub(chunk.len());
            self.export_chunk(chunk);
        }
    }

    /// Closes the queue and exports what it held: a span submitted later is refused and
    /// counted as dropped.
    fn close(&mut self) {
        for chunk in self.queue.close() {
            self.export_chunk(chunk);
        }
    }

    /// Exports one chunk as a batch and gives the emptied chunk back to the queue.
    fn export_chunk(&mut self, mut chunk: Vec<SpanData>) {
        self.export(&mut chunk);
        self.queue.give_back(chunk);
    }

    fn export(&mut self, batch: &mut Vec<SpanData>) {
        if batch.is_empty() {
            return;
        }
        let n = batch.len() as u64;
        if self.exporters.is_empty() {
            // Nothing receives them: say so rather than count them as exported.
            self.counters.discarded.fetch_add(n, Ordering::Relaxed);
            self.recycle(batch);
            return;
        }
        // Every exporter but the last borrows the batch; the last may keep what it takes.
        let last = self.exporters.len() - 1;
        let mut ok = true;
        for i in 0..last {
            ok &= self.call(i, Call::Export, |e, resource| e.export(batch, resource));
        }
        let recycler = self.recycler.clone();
        ok &= self.call(last, Call::Export, |e, resource| {
            e.export_owned(batch, resource, &recycler)
        });
        if ok {
            self.counters.exported.fetch_add(n, Ordering::Relaxed);
        } else {
            self.counters.failed.fetch_add(n, Ordering::Relaxed);
        }
        self.recycle(batch);
    }

    /// Empties the batch, handing its spans' vectors (attributes, events, events' attributes),
    /// emptied, back to the layer (within the pools' bounds; see [`Buffers`]).
    fn recycle(&mut self, batch: &mut Vec<SpanData>) {
        for span in batch.drain(..) {
            Buffers::harvest(span, &mut self.emptied);
        }
        self.buffers.give(&mut self.emptied);
    }

    /// Calls exporter `i` with no subscriber and the unwind caught; records a failure or a
    /// panic. Returns whether the call succeeded.
    fn call(
        &mut self,
        i: usize,
        call: Call,
        f: impl FnOnce(&mut dyn SpanExporter, &Resource) -> Result<(), ExportError>,
    ) -> bool {
        let exporter = &mut *self.exporters[i];
        let resource = &self.resource;
        let outcome = tracing::dispatcher::with_default(&tracing::Dispatch::none(), || {
            catch_unwind(AssertUnwindSafe(|| f(exporter, resource)))
        });
        match outcome {
            Ok(Ok(())) => true,
            Ok(Err(err)) => {
                self.record_error(err);
                false
            }
            Err(payload) => {
                let message = panic_message(&*payload);
                self.counters.panics.fetch_add(1, Ordering::Relaxed);
                crate::diagnostics::report_exporter_panic(
                    self.exporters[i].name(),
                    call.name(),
                    &message,
                );
                self.record_error(ExportError::Panicked(message));
                false
            }
        }
    }

    fn record_error(&self, err: ExportError) {
        self.counters.export_errors.fetch_add(1, Ordering::Relaxed);
        *self.last_error.lock().unwrap_or_else(|e| e.into_inner()) = Some(err);
    }

    fn shutdown_exporters(&mut self) {
        for i in 0..self.exporters.len() {
            let _ = self.call(i, Call::Shutdown, |e, _| e.shutdown());
        }
        // Dropping an exporter runs its code too (runtimes, connections): same rules.
        let exporters = std::mem::take(&mut self.exporters);
        tracing::dispatcher::with_default(&tracing::Dispatch::none(), || {
            let _ = catch_unwind(AssertUnwindSafe(|| drop(exporters)));
        });
    }
}

/// The text of a panic payload (`panic!("...")` gives a `&str` or a `String`).
fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    payload
        .downcast_ref::<&str>()
        .map(|s| (*s).to_owned())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "a panic with a non-string payload".to_owned())
}
