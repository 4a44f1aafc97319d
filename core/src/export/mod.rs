//! The export pipeline: finished spans go into a bounded queue, a worker thread hands them in
//! batches to one or more [`SpanExporter`]s.
//!
//! The request path never waits for the worker or an exporter: [`Pipeline::submit`] moves the
//! span into the queue under a lock held for that move alone; a full queue drops the span and
//! counts it. The queue is kept in chunks of one batch, allocated as spans arrive and handed
//! whole to the exporters, so its memory follows what it holds, not its bound
//! ([`PipelineBuilder::queue_size`]): an idle pipeline holds no span storage, and after a burst
//! it keeps two chunks. The worker is a plain OS thread, so no async runtime is needed of
//! the application and shutdown cannot deadlock against one. Exporters that need a runtime (OTLP
//! over gRPC, say) own a small one on the worker thread.
//!
//! ```
//! use std::time::Duration;
//! use tracewire::export::{InMemoryExporter, Pipeline};
//! use tracewire::{SpanContext, SpanData};
//!
//! let memory = InMemoryExporter::new();
//! let pipeline = Pipeline::builder().exporter(memory.clone()).build();
//! pipeline.submit(SpanData::new(SpanContext::default(), "work"));
//! pipeline.flush(Duration::from_secs(5)).unwrap();
//! assert_eq!(memory.spans().len(), 1);
//! assert_eq!(pipeline.stats().exported, 1);
//! pipeline.shutdown(Duration::from_secs(5)).unwrap();
//! ```

mod buffers;
mod memory;
mod pipeline;
mod queue;
mod stdout;
mod worker;

use std::fmt;

pub use self::buffers::{RECYCLED_BUFFERS, SpanRecycler};
pub use self::memory::InMemoryExporter;
pub use self::pipeline::{DEFAULT_MAX_BATCH, MAX_QUEUE_SIZE, Pipeline, PipelineBuilder};
pub use self::stdout::{StdoutExporter, StdoutFormat};
use crate::error::ExportError;
use crate::resource::Resource;
use crate::span::{Event, SpanData};
use crate::value::KeyValue;

/// Nanoseconds since the Unix epoch, as OTLP and the exporters write timestamps (0 before the
/// epoch, saturating far in the future).
pub fn unix_nanos(t: std::time::SystemTime) -> u64 {
    t.duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX))
}

/// Delivers batches of finished spans somewhere. Called only from the pipeline's worker thread,
/// one call at a time, so implementations may block (with their own timeout).
///
/// A call that panics is caught: it counts as a failed call ([`PipelineStats::panics`]), is
/// reported once per [`diagnostics::LOG_INTERVAL`](crate::diagnostics::LOG_INTERVAL), and the
/// exporter is called again for the next batch.
pub trait SpanExporter: Send + 'static {
    /// Delivers one batch.
    fn export(&mut self, batch: &[SpanData], resource: &Resource) -> Result<(), ExportError>;

    /// Delivers one batch the exporter may keep: it may move spans out of `batch` (with
    /// `std::mem::take`, `drain`…) instead of copying them. A [`Pipeline`]'s worker calls this
    /// instead of [`export`](Self::export) for the last exporter a batch goes to (the only one,
    /// usually), so an exporter that keeps spans in memory does not copy them.
    ///
    /// The outcome counts for the whole batch as handed over, whatever was taken: `Ok` counts
    /// every span as exported, an error (or a panic) every span as failed. Spans left in
    /// `batch` stay the worker's, which hands their attribute vectors back to the layer
    /// ([`SpanSink::recycled_attributes`]); an exporter that takes spans should give them to
    /// `recycler` once it is done with them (from any thread), else their vectors are freed and
    /// the layer allocates new ones.
    ///
    /// The default borrows the batch and calls [`export`](Self::export).
    fn export_owned(
        &mut self,
        batch: &mut Vec<SpanData>,
        resource: &Resource,
        recycler: &SpanRecycler,
    ) -> Result<(), ExportError> {
        let _ = recycler;
        self.export(batch, resource)
    }

    /// The batch size this exporter works best with, when it differs from the pipeline's
    /// default ([`DEFAULT_MAX_BATCH`]). A [`Pipeline`] whose batch size was not set (in code or
    /// by `OTEL_BSP_MAX_EXPORT_BATCH_SIZE`) takes the smallest of its exporters' preferences
    /// when every exporter states one, and the default otherwise. An exporter that does its
    /// work per batch on a thread the service shares CPUs with (an embedded store, say) states
    /// a small one, so that each batch's work is a short burst; one that pays per call (a
    /// network round trip) states none.
    ///
    /// The default states none.
    fn preferred_batch(&self) -> Option<usize> {
        None
    }

    /// Delivers anything the exporter buffers itself.
    fn force_flush(&mut self) -> Result<(), ExportError> {
        Ok(())
    }

    /// Releases resources; no `export` follows.
    fn shutdown(&mut self) -> Result<(), ExportError> {
        Ok(())
    }

    /// A name for diagnostics (default: the type's name).
    fn name(&self) -> &'static str {
        std::any::type_name::<Self>()
    }
}

impl SpanExporter for Box<dyn SpanExporter> {
    fn export(&mut self, batch: &[SpanData], resource: &Resource) -> Result<(), ExportError> {
        (**self).export(batch, resource)
    }

    fn export_owned(
        &mut self,
        batch: &mut Vec<SpanData>,
        resource: &Resource,
        recycler: &SpanRecycler,
    ) -> Result<(), ExportError> {
        (**self).export_owned(batch, resource, recycler)
    }

    fn preferred_batch(&self) -> Option<usize> {
        (**self).preferred_batch()
    }

    fn force_flush(&mut self) -> Result<(), ExportError> {
        (**self).force_flush()
    }

    fn shutdown(&mut self) -> Result<(), ExportError> {
        (**self).shutdown()
    }

    fn name(&self) -> &'static str {
        (**self).name()
    }
}

/// Where the `tracing` layer sends each finished, sampled span.
pub trait SpanSink: Send + Sync + 'static {
    /// Takes a finished span. Must not block.
    fn on_end(&self, span: SpanData);

    /// Whether finished spans reach anything (default `true`). A [`Pipeline`] with no
    /// exporter says `false`: the layer then records nothing (sampled spans keep their ids
    /// and sampled flag for propagation) and reports each with [`on_discard`](Self::on_discard).
    fn is_exporting(&self) -> bool {
        true
    }

    /// A sampled span ended unrecorded because [`is_exporting`](Self::is_exporting) is `false`.
    fn on_discard(&self) {}

    /// An empty attribute vector with room for at least `capacity` attributes, taken back from
    /// spans this sink is done with, if it keeps any (default: none). The layer asks for one
    /// when a sampled span starts and when an event is recorded in one, so that the vector is
    /// neither allocated on the request path nor freed on another thread. A [`Pipeline`]'s
    /// worker returns the vectors of exported spans and of their events, up to a fixed number
    /// ([`RECYCLED_BUFFERS`]).
    fn recycled_attributes(&self, capacity: usize) -> Option<Vec<KeyValue>> {
        let _ = capacity;
        None
    }

    /// An empty vector of events, taken back from spans this sink is done with, if it keeps
    /// any (default: none). The layer asks for one when a sampled span records its first
    /// event, for the same reason as [`recycled_attributes`](Self::recycled_attributes). A
    /// [`Pipeline`]'s worker returns those of exported spans with room for up to 8 events, up
    /// to 256 of them.
    fn recycled_events(&self) -> Option<Vec<Event>> {
        None
    }
}

/// Why a pipeline could not start, or a flush or shutdown did not complete.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum PipelineError {
    /// The worker did not finish within the deadline (it carries on in the background).
    Timeout,
    /// The pipeline was already shut down.
    AlreadyShutdown,
    /// The operating system refused to start the worker thread
    /// ([`PipelineBuilder::try_build`]).
    Spawn(std::io::ErrorKind),
}

impl fmt::Display for PipelineError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PipelineError::Timeout => {
                f.write_str("export pipeline did not finish before the deadline")
            }
            PipelineError::AlreadyShutdown => f.write_str("export pipeline is already shut down"),
            PipelineError::Spawn(kind) => {
                write!(f, "could not start the export worker thread: {kind}")
            }
        }
    }
}

impl std::error::Error for PipelineError {}

/// A snapshot of the pipeline's counters.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct PipelineStats {
    /// Spans accepted into the queue.
    pub queued: u64,
    /// Spans delivered by every exporter.
    pub exported: u64,
    /// Spans dropped because the queue was full or the pipeline shut down.
    pub dropped: u64,
    /// Spans in batches that at least one exporter failed to deliver.
    pub failed: u64,
    /// Failed exporter calls (panics included).
    pub export_errors: u64,
    /// Exporter calls that panicked (caught; the worker carries on).
    pub panics: u64,
    /// Sampled spans that ended while the pipeline had no exporter: neither recorded nor
    /// exported (and not in `queued` or `exported`).
    pub discarded: u64,
}
