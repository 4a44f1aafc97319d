//! [`CollectorHandle`]: a running collector's addresses, store, health and shutdown.

use std::fmt;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::analysis::{HealthAggregator, OperationHealth};
use crate::assembly::Trace;
use crate::exporter::InProcessExporter;
use crate::model::TraceId;
use crate::query::{StoreStats, TraceQuery, TraceSummary};
use crate::serve::Budget;

use super::TraceStore;

/// A running collector: its bound addresses, its store, and a clean shutdown.
///
/// Dropping the handle without calling [`CollectorHandle::shutdown`] (or
/// [`CollectorHandle::shutdown_blocking`]) leaves the listeners running on the runtime they were
/// spawned on.
pub struct CollectorHandle {
    pub(super) store: TraceStore,
    pub(super) health: Arc<HealthAggregator>,
    pub(super) budget: Budget,
    pub(super) warnings: Vec<String>,
    pub(super) otlp_http: Option<SocketAddr>,
    pub(super) otlp_grpc: Option<SocketAddr>,
    pub(super) api: Option<SocketAddr>,
    pub(super) stop: watch::Sender<bool>,
    pub(super) tasks: Vec<JoinHandle<()>>,
    pub(super) runtime: Option<tokio::runtime::Runtime>,
}

impl fmt::Debug for CollectorHandle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CollectorHandle")
            .field("otlp_http", &self.otlp_http)
            .field("otlp_grpc", &self.otlp_grpc)
            .field("api", &self.api)
            .field("own_runtime", &self.runtime.is_some())
            .finish_non_exhaustive()
    }
}

impl CollectorHandle {
    /// The bound OTLP/HTTP address (send to `http://{addr}/v1/traces`).
    pub fn otlp_http_addr(&self) -> Option<SocketAddr> {
        self.otlp_http
    }

    /// The bound OTLP/gRPC address.
    pub fn otlp_grpc_addr(&self) -> Option<SocketAddr> {
        self.otlp_grpc
    }

    /// The bound JSON API address.
    pub fn api_addr(&self) -> Option<SocketAddr> {
        self.api
    }

    /// What start-up found worth a warning: each listener bound beyond loopback, and what that
    /// exposes given the token and TLS settings. Also logged with `tracing` at `WARN`.
    pub fn warnings(&self) -> &[String] {
        &self.warnings
    }

    /// Request-body bytes held now by requests in flight, over every listener (see
    /// [`CollectorBuilder::max_in_flight_bytes`](super::CollectorBuilder::max_in_flight_bytes)).
    pub fn bytes_in_flight(&self) -> usize {
        self.budget.used()
    }

    /// The store, for queries and for building more routes over it.
    pub fn store(&self) -> &TraceStore {
        &self.store
    }

    /// Per-operation health (rate, errors, latency percentiles, exemplar traces) over the
    /// last `window`, computed incrementally as spans arrive.
    pub fn operation_health(&self, window: Duration) -> Vec<OperationHealth> {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos() as u64);
        self.health.snapshot(now, window)
    }

    /// The per-operation health aggregator fed at ingest.
    pub fn health(&self) -> &Arc<HealthAggregator> {
        &self.health
    }

    /// An exporter feeding this collector without the network.
    pub fn in_process_exporter(&self) -> InProcessExporter {
        self.store.in_process_exporter()
    }

    /// Traces matching `q`, newest first.
    pub fn search(&self, q: &TraceQuery) -> Vec<TraceSummary> {
        self.store.search(q)
    }

    /// One assembled trace.
    pub fn trace(&self, trace_id: TraceId) -> Option<Trace> {
        self.store.trace(trace_id)
    }

    /// Services with stored spans.
    pub fn services(&self) -> Vec<String> {
        self.store.services()
    }

    /// Operations of a service.
    pub fn operations(&self, service: &str) -> Vec<String> {
        self.store.operations(service)
    }

    /// The store's counters.
    pub fn stats(&self) -> StoreStats {
        self.store.stats()
    }

    /// Waits until every span accepted so far is stored and searchable.
    pub async fn flush(&self) {
        self.store.flush().await
    }

    /// Stops accepting connections, closes idle ones, gives in-flight requests the
    /// [shutdown timeout](super::CollectorBuilder::shutdown_timeout) and cuts what remains, stores
    /// what was queued and stops the writer thread. A request whose head was read is answered,
    /// over HTTP/1.1 with `Connection: close`; one whose head had not fully arrived is not (see
    /// the crate docs on shutdown).
    pub async fn shutdown(mut self) {
        let _ = self.stop.send(true);
        for t in self.tasks.drain(..) {
            let _ = t.await;
        }
        let shared = self.store.shared.clone();
        let _ = tokio::task::spawn_blocking(move || shared.stop()).await;
        if let Some(rt) = self.runtime.take() {
            // Cannot drop a runtime inside an async context: hand it to a plain thread.
            std::thread::spawn(move || drop(rt));
        }
    }

    /// [`CollectorHandle::shutdown`] for non-async code (a collector from
    /// [`CollectorBuilder::start`](super::CollectorBuilder::start), or any handle when called outside a runtime).
    pub fn shutdown_blocking(mut self) {
        match self.runtime.take() {
            Some(rt) => {
                rt.block_on(self.shutdown());
                drop(rt);
            }
            None => {
                let rt = tokio::runtime::Builder::new_current_thread().build();
                if let Ok(rt) = rt {
                    rt.block_on(self.shutdown());
                }
            }
        }
    }
}
