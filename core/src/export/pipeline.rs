//! The [`Pipeline`] handle and its [`PipelineBuilder`]: what producers submit to (the bounded
//! queue itself is in `queue.rs`).

use std::fmt;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use crossbeam_channel::{Sender, bounded};

use super::buffers::{Buffers, Emptied, SpanRecycler};
use super::queue::{Push, SpanQueue};
use super::worker::{Control, Counters, Worker, deadline_after};
use super::{PipelineError, PipelineStats, SpanExporter, SpanSink};
use crate::error::ExportError;
use crate::resource::Resource;
use crate::span::{Event, SpanData};
use crate::value::KeyValue;

struct Inner {
    queue: Arc<SpanQueue>,
    /// Attribute vectors of exported spans, emptied by the worker, for the next spans.
    buffers: Arc<Buffers>,
    control: Sender<Control>,
    /// Set by the producer that sends a [`Control::Wake`], cleared by the worker when it drains,
    /// so a burst sends one wake, not one per span.
    wake_pending: Arc<AtomicBool>,
    counters: Arc<Counters>,
    last_error: Arc<Mutex<Option<ExportError>>>,
    worker: Mutex<Option<JoinHandle<()>>>,
    shut_down: AtomicBool,
    /// Whether any exporter was added.
    exporting: bool,
}

/// A handle to the export pipeline. Cheap to clone; all clones share one queue and worker.
#[derive(Clone)]
pub struct Pipeline {
    inner: Arc<Inner>,
}

impl fmt::Debug for Pipeline {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Pipeline")
            .field("stats", &self.stats())
            .finish_non_exhaustive()
    }
}

/// The largest export queue or batch a [`PipelineBuilder`] accepts; larger values, from code or
/// from `OTEL_BSP_*`, are cut to this. The queue's memory follows what it holds (it takes room
/// for one batch at a time as spans arrive), so the bound is what a stalled exporter lets pile
/// up: a few hundred bytes a span plus its attributes and events. Uncapped, a mistaken
/// `OTEL_BSP_MAX_QUEUE_SIZE=1000000000000` would let memory grow until the process is killed,
/// and a batch that large could not be allocated at all.
pub const MAX_QUEUE_SIZE: usize = 1 << 18;

/// The most spans in one exporter call when neither code, `OTEL_BSP_MAX_EXPORT_BATCH_SIZE` nor
/// the exporters ([`SpanExporter::preferred_batch`]) say otherwise: OpenTelemetry's default.
pub const DEFAULT_MAX_BATCH: usize = 512;

/// Configures a [`Pipeline`].
#[must_use]
pub struct PipelineBuilder {
    queue_size: usize,
    /// Set in code or by `OTEL_BSP_MAX_EXPORT_BATCH_SIZE`; else the exporters' preference, else
    /// [`DEFAULT_MAX_BATCH`].
    max_batch: Option<usize>,
    batch_timeout: Duration,
    resource: Resource,
    exporters: Vec<Box<dyn SpanExporter>>,
    /// The worker thread's stack size, when not the platform default.
    worker_stack_size: Option<usize>,
}

impl fmt::Debug for PipelineBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PipelineBuilder")
            .field("queue_size", &self.queue_size)
            .field("max_batch", &self.max_batch)
            .field("batch_timeout", &self.batch_timeout)
            .field("resource", &self.resource)
            .field("exporters", &self.exporters.len())
            .finish()
    }
}

impl Default for PipelineBuilder {
    fn default() -> Self {
        PipelineBuilder {
            queue_size: 2048,
            max_batch: None,
            batch_timeout: Duration::from_secs(1),
            resource: Resource::default(),
            exporters: Vec::new(),
            worker_stack_size: None,
        }
    }
}

impl PipelineBuilder {
    /// Reads `OTEL_BSP_MAX_QUEUE_SIZE`, `OTEL_BSP_MAX_EXPORT_BATCH_SIZE` and
    /// `OTEL_BSP_SCHEDULE_DELAY` (milliseconds) over the defaults (2048, see
    /// [`max_batch`](Self::max_batch), 1000 ms); sizes are capped at [`MAX_QUEUE_SIZE`].
    pub fn from_env() -> Self {
        let num = |var| {
            std::env::var(var)
                .ok()
                .and_then(|v| v.trim().parse::<u64>().ok())
        };
        let mut b = PipelineBuilder::default();
        if let Some(n) = num("OTEL_BSP_MAX_QUEUE_SIZE").filter(|&n| n > 0) {
            b = b.queue_size(usize::try_from(n).unwrap_or(MAX_QUEUE_SIZE));
        }
        if let Some(n) = num("OTEL_BSP_MAX_EXPORT_BATCH_SIZE").filter(|&n| n > 0) {
            b = b.max_batch(usize::try_from(n).unwrap_or(MAX_QUEUE_SIZE));
        }
        if let Some(n) = num("OTEL_BSP_SCHEDULE_DELAY") {
            b.batch_timeout = Duration::from_millis(n);
        }
        b
    }

    /// The most spans waiting for export; more are dropped and counted (default 2048, at most
    /// [`MAX_QUEUE_SIZE`]). A bound, not a reservation: the queue takes memory for the spans
    /// waiting, one batch's room at a time, and gives it back once they are exported.
    pub fn queue_size(mut self, n: usize) -> Self {
        self.queue_size = n.clamp(1, MAX_QUEUE_SIZE);
        self
    }

    /// The most spans in one exporter call, at most [`MAX_QUEUE_SIZE`]. Unset, it is the
    /// smallest [`SpanExporter::preferred_batch`] when every exporter states one (an embedded
    /// collector's does), else [`DEFAULT_MAX_BATCH`] (512).
    pub fn max_batch(mut self, n: usize) -> Self {
        self.max_batch = Some(n.clamp(1, MAX_QUEUE_SIZE));
        self
    }

    /// The batch size [`try_build`](Self::try_build) uses: see [`max_batch`](Self::max_batch).
    fn effective_max_batch(&self) -> usize {
        if let Some(n) = self.max_batch {
            return n;
        }
        let mut preferred = None::<usize>;
        for e in &self.exporters {
            match e.preferred_batch() {
                Some(n) => preferred = Some(preferred.map_or(n, |p| p.min(n))),
                None => return DEFAULT_MAX_BATCH,
            }
        }
        preferred.map_or(DEFAULT_MAX_BATCH, |n| n.clamp(1, MAX_QUEUE_SIZE))
    }

    /// How long a partial batch waits before it is exported (default 1 s).
    pub fn batch_timeout(mut self, d: Duration) -> Self {
        self.batch_timeout = d;
        self
    }

    /// The resource handed to exporters with every batch.
    pub fn resource(mut self, resource: Resource) -> Self {
        self.resource = resource;
        self
    }

    /// Adds an exporter; every batch goes to every exporter, in order.
    pub fn exporter<E: SpanExporter>(mut self, exporter: E) -> Self {
        self.exporters.push(Box::new(exporter));
        self
    }

    /// Starts the worker thread.
    ///
    /// # Panics
    ///
    /// If the operating system cannot start a thread, as `std::thread::spawn` does; use
    /// [`try_build`](PipelineBuilder::try_build) to handle that case.
    pub fn build(self) -> Pipeline {
        match self.try_build() {
            Ok(pipeline) => pipeline,
            Err(e) => panic!("{e}"),
        }
    }

    /// Starts the worker thread, or says why the operating system would not.
    pub fn try_build(self) -> Result<Pipeline, PipelineError> {
        // A forked child setting itself up again gets ids of its own from here on.
        crate::rng::check_fork();
        let exporting = !self.exporters.is_empty();
        let queue = Arc::new(SpanQueue::new(self.queue_size, self.effective_max_batch()));
        let (ctl_tx, ctl_rx) = bounded(16);
        let buffers = Arc::new(Buffers::default());
        let counters = Arc::new(Counters::default());
        let wake_pending = Arc::new(AtomicBool::new(false));
        let last_error = Arc::new(Mutex::new(None));
        let worker = Worker {
            queue: queue.clone(),
            buffers: buffers.clone(),
            recycler: SpanRecycler::new(buffers.clone()),
            emptied: Emptied::default(),
            control: ctl_rx,
            counters: counters.clone(),
            last_error: last_error.clone(),
            wake_pending: wake_pending.clone(),
            exporters: self.exporters,
            resource: self.resource,
            batch_timeout: self.batch_timeout,
        };
        let mut thread = std::thread::Builder::new().name("tracewire-export".into());
        if let Some(size) = self.worker_stack_size {
            thread = thread.stack_size(size);
        }
        // The worker runs every exporter call with no subscriber (see `worker`).
        let handle = thread
            .spawn(move || worker.run())
            .map_err(|e| PipelineError::Spawn(e.kind()))?;
        Ok(Pipeline {
            inner: Arc::new(Inner {
                queue,
                buffers,
                control: ctl_tx,
                wake_pending,
                counters,
                last_error,
                worker: Mutex::new(Some(handle)),
                shut_down: AtomicBool::new(false),
                exporting,
            }),
        })
    }

    /// A worker stack so large the operating system refuses it, to test spawn failures.
    #[cfg(test)]
    pub(crate) fn unspawnable(mut self) -> Self {
        self.worker_stack_size = Some(1 << 50);
        self
    }
}

impl Pipeline {
    /// A builder with the default limits.
    pub fn builder() -> PipelineBuilder {
        PipelineBuilder::default()
    }

    /// Queues a finished span without waiting for the worker or an exporter (the queue's lock
    /// is held only to move one span in or one batch out). Returns `false` (and counts a drop)
    /// when the queue is full or the pipeline is shut down.
    ///
    /// The worker is not woken for each span — a wake-up costs a context switch, which on a busy
    /// server costs more than recording the span. It wakes when a full batch is waiting, when
    /// the batch timeout passes, and on flush or shutdown.
    pub fn submit(&self, span: SpanData) -> bool {
        match self.inner.queue.push(span) {
            Push::Queued => true,
            Push::Filled => {
                if !self.inner.wake_pending.swap(true, Ordering::AcqRel) {
                    // A full control queue already holds a message that will drain the spans.
                    let _ = self.inner.control.try_send(Control::Wake);
                }
                true
            }
            Push::Refused => {
                self.inner.counters.dropped.fetch_add(1, Ordering::Relaxed);
                false
            }
        }
    }

    /// The counters now.
    pub fn stats(&self) -> PipelineStats {
        let c = &self.inner.counters;
        PipelineStats {
            queued: self.inner.queue.accepted(),
            exported: c.exported.load(Ordering::Relaxed),
            dropped: c.dropped.load(Ordering::Relaxed),
            failed: c.failed.load(Ordering::Relaxed),
            export_errors: c.export_errors.load(Ordering::Relaxed),
            panics: c.panics.load(Ordering::Relaxed),
            discarded: c.discarded.load(Ordering::Relaxed),
        }
    }

    /// The most recent exporter error, if any.
    pub fn last_error(&self) -> Option<ExportError> {
        self.inner
            .last_error
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// Exports everything queued so far and flushes the exporters, waiting at most `timeout`.
    pub fn flush(&self, timeout: Duration) -> Result<(), PipelineError> {
        if self.inner.shut_down.load(Ordering::Acquire) {
            return Err(PipelineError::AlreadyShutdown);
        }
        self.ask_worker(Control::Flush, timeout)
    }

    /// Sends the worker a control message carrying an acknowledgement channel and waits for the
    /// answer, both within `timeout` (any length: one too long for an `Instant` waits as long
    /// as it takes).
    fn ask_worker(
        &self,
        message: fn(Sender<()>) -> Control,
        timeout: Duration,
    ) -> Result<(), PipelineError> {
        let (ack_tx, ack_rx) = bounded(1);
        let control = &self.inner.control;
        let sent_and_answered = match deadline_after(timeout) {
            Some(deadline) => {
                control.send_deadline(message(ack_tx), deadline).is_ok()
                    && ack_rx.recv_deadline(deadline).is_ok()
            }
            None => control.send(message(ack_tx)).is_ok() && ack_rx.recv().is_ok(),
        };
        if sent_and_answered {
            Ok(())
        } else {
            Err(PipelineError::Timeout)
        }
    }

    /// Exports what is queued, shuts the exporters down and stops the worker, waiting at most
    /// `timeout`. Later spans are dropped and counted. A second call returns
    /// [`PipelineError::AlreadyShutdown`].
    pub fn shutdown(&self, timeout: Duration) -> Result<(), PipelineError> {
        if self.inner.shut_down.swap(true, Ordering::AcqRel) {
            return Err(PipelineError::AlreadyShutdown);
        }
        self.ask_worker(Control::Shutdown, timeout)?;
        // The worker has answered and is returning; joining cannot wait on an exporter.
        let handle = self
            .inner
            .worker
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .take();
        if let Some(h) = handle {
            let _ = h.join();
        }
        Ok(())
    }
}

#[cfg(test)]
impl Pipeline {
    /// A recycler giving back to this pipeline's pool, as its worker hands out.
    pub(crate) fn inner_recycler(&self) -> SpanRecycler {
        SpanRecycler::new(self.inner.buffers.clone())
    }

    /// The queue's chunks and their room in spans.
    pub(crate) fn retained(&self) -> (usize, usize) {
        self.inner.queue.retained()
    }
}

impl SpanSink for Pipeline {
    fn on_end(&self, span: SpanData) {
        self.submit(span);
    }

    fn is_exporting(&self) -> bool {
        self.inner.exporting
    }

    fn on_discard(&self) {
        self.inner
            .counters
            .discarded
            .fetch_add(1, Ordering::Relaxed);
    }

    fn recycled_attributes(&self, capacity: usize) -> Option<Vec<KeyValue>> {
        self.inner.buffers.take(capacity)
    }

    fn recycled_events(&self) -> Option<Vec<Event>> {
        self.inner.buffers.take_events()
    }
}

#[cfg(test)]
mod tests;
