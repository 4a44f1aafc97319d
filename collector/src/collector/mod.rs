//! Starting and stopping a collector: [`Collector::builder`] and [`CollectorBuilder`] here;
//! the running [`CollectorHandle`] in `handle.rs`; the read side shared by everything,
//! [`TraceStore`], in `trace_store.rs`; [`CollectorError`] in `error.rs`.

mod error;
mod handle;
mod trace_store;

pub use self::error::CollectorError;
pub use self::handle::CollectorHandle;
pub use self::trace_store::TraceStore;

use std::fmt;
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;
use tracewire::export::SpanExporter;

use crate::analysis::{HealthAggregator, HealthConfig};
use crate::ingest::Shared;
use crate::model::IngestObserver;
use crate::sampling::{Clock, SamplingConfig, SamplingStage, SystemClock};
use crate::serve::{EdgeConfig, ListenerKind};
use crate::store::{Limits, Store};
use crate::ui::HealthObserver;

/// The entry point: `Collector::builder()`.
#[derive(Debug, Clone, Copy)]
#[non_exhaustive]
pub struct Collector;

impl Collector {
    /// A builder with the defaults: OTLP/HTTP on `127.0.0.1:4318`, OTLP/gRPC on
    /// `127.0.0.1:4317`, the API on `127.0.0.1:16686`; 1,000,000 spans, 512 MiB, one hour of
    /// retention; 4 MiB request cap; an ingest queue of 262,144 spans.
    pub fn builder() -> CollectorBuilder {
        CollectorBuilder::default()
    }
}

const LOCALHOST: Ipv4Addr = Ipv4Addr::LOCALHOST;

/// Configures and starts a collector.
#[must_use]
pub struct CollectorBuilder {
    otlp_http: Option<SocketAddr>,
    otlp_grpc: Option<SocketAddr>,
    api: Option<SocketAddr>,
    pub(crate) limits: Limits,
    pub(crate) max_request_bytes: usize,
    queue_spans: usize,
    observers: Vec<Arc<dyn IngestObserver>>,
    sampling: Option<SamplingConfig>,
    sampling_clock: Option<Arc<dyn Clock>>,
    sampling_health: Option<Arc<HealthAggregator>>,
    forward_exporter: Option<Box<dyn SpanExporter>>,
    /// Connection limits, timeouts, TLS and access control (`serve::builder`).
    pub(crate) edge: EdgeConfig,
}

impl fmt::Debug for CollectorBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CollectorBuilder")
            .field("otlp_http", &self.otlp_http)
            .field("otlp_grpc", &self.otlp_grpc)
            .field("api", &self.api)
            .field("limits", &self.limits)
            .field("max_request_bytes", &self.max_request_bytes)
            .field("queue_spans", &self.queue_spans)
            .field("observers", &self.observers.len())
            .field("sampling", &self.sampling)
            .field("forward_exporter", &self.forward_exporter.is_some())
            .field("edge", &self.edge)
            .finish()
    }
}

impl Default for CollectorBuilder {
    fn default() -> Self {
        CollectorBuilder {
            otlp_http: Some(SocketAddr::from((LOCALHOST, 4318))),
            otlp_grpc: Some(SocketAddr::from((LOCALHOST, 4317))),
            api: Some(SocketAddr::from((LOCALHOST, 16686))),
            limits: Limits::default(),
            max_request_bytes: 4 << 20,
            queue_spans: 1 << 18,
            observers: Vec::new(),
            sampling: None,
            sampling_clock: None,
            sampling_health: None,
            forward_exporter: None,
            edge: EdgeConfig::default(),
        }
    }
}

impl CollectorBuilder {
    /// The OTLP/HTTP address (port 0 picks a free port); `None` disables the listener.
    pub fn otlp_http_addr(mut self, addr: impl Into<Option<SocketAddr>>) -> Self {
        self.otlp_http = addr.into();
        self
    }

    /// The OTLP/gRPC address (port 0 picks a free port); `None` disables the listener.
    pub fn otlp_grpc_addr(mut self, addr: impl Into<Option<SocketAddr>>) -> Self {
        self.otlp_grpc = addr.into();
        self
    }

    /// The JSON API address (port 0 picks a free port); `None` disables the listener.
    pub fn api_addr(mut self, addr: impl Into<Option<SocketAddr>>) -> Self {
        self.api = addr.into();
        self
    }

    /// Binds every enabled listener to `127.0.0.1` port 0: handy in tests.
    pub fn ephemeral_ports(self) -> Self {
        let any = SocketAddr::from((LOCALHOST, 0));
        let http = self.otlp_http.map(|_| any);
        let grpc = self.otlp_grpc.map(|_| any);
        let api = self.api.map(|_| any);
        self.otlp_http_addr(http).otlp_grpc_addr(grpc).api_addr(api)
    }

    /// The most spans kept; older spans are evicted first (default 1,000,000).
    pub fn max_spans(mut self, n: usize) -> Self {
        self.limits.max_spans = n.max(1);
        self
    }

    /// The most bytes the store may account for (spans, strings, indexes; default 512 MiB).
    pub fn max_bytes(mut self, n: usize) -> Self {
        self.limits.max_bytes = n;
        self
    }

    /// How long a span is kept after it arrives (default one hour; zero keeps spans until a
    /// budget evicts them).
    pub fn retention(mut self, d: Duration) -> Self {
        self.limits.retention = d;
        self
    }

    /// The largest OTLP request body, compressed or decompressed (default 4 MiB).
    pub fn max_request_bytes(mut self, n: usize) -> Self {
        self.max_request_bytes = n.max(1);
        self
    }

    /// The most spans waiting to be stored; when full, receivers answer 429 / `UNAVAILABLE`
    /// and the in-process exporter reports an error (default 262,144).
    pub fn ingest_queue_spans(mut self, n: usize) -> Self {
        self.queue_spans = n.max(1);
        self
    }

    /// The most attributes kept per span (default 128); the rest are counted as dropped.
    pub fn max_attributes_per_span(mut self, n: usize) -> Self {
        self.limits.max_attributes = n;
        self
    }

    /// Registers an observer called for each newly stored span (see [`IngestObserver`]).
    pub fn observer(mut self, observer: impl IngestObserver) -> Self {
        self.observers.push(Arc::new(observer));
        self
    }

    /// Registers an already shared observer.
    pub fn observer_arc(mut self, observer: Arc<dyn IngestObserver>) -> Self {
        self.observers.push(observer);
        self
    }

    /// Puts a tail-sampling stage in front of the store (off by default: every span is
    /// stored). See [`sampling`](crate::sampling) for what it does and how to configure it.
    pub fn sampling(mut self, config: impl Into<Option<SamplingConfig>>) -> Self {
        self.sampling = config.into();
        self
    }

    /// The clock the sampling stage reads (default [`SystemClock`]); a
    /// [`ManualClock`](crate::sampling::ManualClock) lets tests decide traces without waiting.
    pub fn sampling_clock(mut self, clock: impl Clock) -> Self {
        self.sampling_clock = Some(Arc::new(clock));
        self
    }

    /// Forwards kept traces with `exporter` instead of the OTLP exporter the sampling
    /// configuration's `forward` settings describe (its retry buffer settings still apply).
    /// Needs [`sampling`](Self::sampling).
    pub fn forward_exporter(mut self, exporter: impl SpanExporter) -> Self {
        self.forward_exporter = Some(Box::new(exporter));
        self
    }

    /// Starts the store's writer thread without any listener: a store fed only by
    /// [`TraceStore::in_process_exporter`] and read through the [`TraceStore`]. Needs no
    /// runtime. Stop it with [`TraceStore::close`].
    ///
    /// # Panics
    ///
    /// When the writer thread cannot be started; [`try_build_store`](Self::try_build_store)
    /// returns that as an error instead.
    pub fn build_store(self) -> TraceStore {
        match self.try_build_store() {
            Ok(store) => store,
            Err(e) => panic!("{e}"),
        }
    }

    /// [`build_store`](Self::build_store), with a writer thread that cannot be started
    /// ([`CollectorError::Spawn`]) or a configured forwarder that cannot start
    /// ([`CollectorError::Forward`]) as the error.
    pub fn try_build_store(self) -> Result<TraceStore, CollectorError> {
        let stage = self.sampling.map(|config| {
            let clock = self
                .sampling_clock
                .unwrap_or_else(|| Arc::new(SystemClock::new()));
            SamplingStage::new(config, clock, self.sampling_health, self.forward_exporter)
        });
        let shared = Shared::start(
            Store::new(self.limits),
            self.queue_spans,
            self.observers,
            stage,
        )
        .map_err(|source| CollectorError::Spawn {
            what: "store writer",
            source,
        })?;
        let store = TraceStore { shared };
        if let Some(e) = store.sampling_stats().and_then(|s| s.forward_error) {
            store.close();
            return Err(CollectorError::Forward(e));
        }
        Ok(store)
    }

    /// Binds the listeners and starts serving on the current Tokio runtime.
    ///
    /// ```no_run
    /// # async fn demo() -> Result<(), tracewire_collector::CollectorError> {
    /// use tracewire_collector::{Collector, TraceQuery};
    ///
    /// let collector = Collector::builder()
    ///     .ephemeral_ports()
    ///     .max_spans(100_000)
    ///     .spawn()
    ///     .await?;
    /// println!("send OTLP to http://{}/v1/traces", collector.otlp_http_addr().unwrap());
    /// let recent = collector.store().search(&TraceQuery::new());
    /// collector.shutdown().await;
    /// # Ok(()) }
    /// ```
    pub async fn spawn(mut self) -> Result<CollectorHandle, CollectorError> {
        let edge = self.edge()?;
        // Bind everything first, so a failure leaves nothing running.
        let http = crate::serve::bind(ListenerKind::OtlpHttp, self.otlp_http, &edge).await?;
        let grpc = crate::serve::bind(ListenerKind::OtlpGrpc, self.otlp_grpc, &edge).await?;
        let api = crate::serve::bind(ListenerKind::Api, self.api, &edge).await?;
        // Per-operation health is computed incrementally at ingest, for the UI and the API:
        // by the sampling stage from every span received when there is one, else as spans are
        // stored.
        let health = Arc::new(HealthAggregator::new(HealthConfig::default()));
        if self.sampling.is_some() {
            self.sampling_health = Some(health.clone());
        } else {
            self.observers
                .push(Arc::new(HealthObserver::new(health.clone())));
        }
        let max_request = self.max_request_bytes;
        let store = self.try_build_store()?;
        let local = |l: &Option<crate::serve::Listener>| l.as_ref().and_then(|l| l.local_addr());
        let addrs = (local(&http), local(&grpc), local(&api));
        let warnings = crate::serve::warnings([&http, &grpc, &api], &edge);
        let (stop_tx, stop_rx) = watch::channel(false);
        let mut tasks = Vec::new();
        if let Some(l) = http {
            let router = crate::receiver::http::router(store.shared.clone(), max_request);
            tasks.push(tokio::spawn(l.serve(router, stop_rx.clone())));
        }
        if let Some(l) = api {
            let router = crate::api::api_router(store.clone())
                .merge(crate::ui::collector_ui(store.clone(), health.clone()))
                .route(
                    "/",
                    axum::routing::get(|| async { axum::response::Redirect::temporary("/ui/") }),
                );
            tasks.push(tokio::spawn(l.serve(router, stop_rx.clone())));
        }
        if let Some(l) = grpc {
            let svc =
                crate::receiver::grpc::TraceServiceServer::new(store.shared.clone(), max_request);
            tasks.push(tokio::spawn(l.serve(svc, stop_rx.clone())));
        }
        Ok(CollectorHandle {
            store,
            health,
            budget: edge.budget,
            warnings,
            otlp_http: addrs.0,
            otlp_grpc: addrs.1,
            api: addrs.2,
            stop: stop_tx,
            tasks,
            runtime: None,
        })
    }

    /// Starts the collector on a runtime of its own (two worker threads), for programs that
    /// have no Tokio runtime, or do not want the collector on theirs. Call from outside any
    /// runtime; stop it with [`CollectorHandle::shutdown_blocking`].
    pub fn start(self) -> Result<CollectorHandle, CollectorError> {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("tracewire-collector")
            .enable_all()
            .build()
            .map_err(CollectorError::Runtime)?;
        let mut handle = runtime.block_on(self.spawn())?;
        handle.runtime = Some(runtime);
        Ok(handle)
    }
}
