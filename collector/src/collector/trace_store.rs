//! [`TraceStore`]: the read side of a collector's store.

use std::fmt;
use std::sync::Arc;

use crate::assembly::Trace;
use crate::exporter::InProcessExporter;
use crate::ingest::Shared;
use crate::model::{Span, TraceId};
use crate::query::{StoreStats, TraceQuery, TraceSummary};

/// The read side of a collector's store, cheap to clone. The JSON API, the exporter and any
/// further routes are built on it.
#[derive(Clone)]
pub struct TraceStore {
    pub(crate) shared: Arc<Shared>,
}

impl fmt::Debug for TraceStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TraceStore")
            .field("stats", &self.stats())
            .finish()
    }
}

impl TraceStore {
    /// Traces with a span matching `q`, newest match first.
    pub fn search(&self, q: &TraceQuery) -> Vec<TraceSummary> {
        self.shared.store.read().search(q)
    }

    /// Every stored span of a trace, in arrival order (empty when unknown).
    pub fn spans(&self, trace_id: TraceId) -> Vec<Span> {
        self.shared.store.read().trace(trace_id)
    }

    /// One trace, assembled; `None` when no span of it is stored.
    pub fn trace(&self, trace_id: TraceId) -> Option<Trace> {
        let spans = self.spans(trace_id);
        (!spans.is_empty()).then(|| Trace::assemble(trace_id, spans))
    }

    /// Services with stored spans, sorted.
    pub fn services(&self) -> Vec<String> {
        self.shared.store.read().services()
    }

    /// Operations (span names) of `service` with stored spans, sorted.
    pub fn operations(&self, service: &str) -> Vec<String> {
        self.shared.store.read().operations(service)
    }

    /// Calls `f` with every stored span, oldest first, under the store's read lock (so keep it
    /// quick: ingest waits meanwhile).
    pub fn for_each_span(&self, f: impl FnMut(&Span)) {
        self.shared.store.read().for_each_span(f)
    }

    /// The store's counters.
    pub fn stats(&self) -> StoreStats {
        let mut s = self.shared.store.read().stats();
        s.rejected = self.shared.rejected();
        s.queued = self.shared.queued();
        s
    }

    /// An exporter feeding this store without the network.
    pub fn in_process_exporter(&self) -> InProcessExporter {
        InProcessExporter::new(self.shared.clone())
    }

    /// Waits until every span accepted so far is stored and searchable.
    pub async fn flush(&self) {
        self.shared.flush().await
    }

    /// [`TraceStore::flush`] for non-async code; do not call it on a runtime thread.
    pub fn flush_blocking(&self) {
        self.shared.flush_blocking()
    }

    /// Stores what is queued and stops the writer thread; later spans are refused. For stores
    /// from [`CollectorBuilder::build_store`](super::CollectorBuilder::build_store) (a [`CollectorHandle`](super::CollectorHandle) does this on shutdown).
    pub fn close(&self) {
        self.shared.stop()
    }
}
