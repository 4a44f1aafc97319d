//! An embeddable trace collector: OTLP receiver, bounded trace store, trace assembly and a JSON
//! API.
//!
//! - **Receivers**: OTLP/HTTP `POST /v1/traces` (protobuf and JSON, gzip) and OTLP/gRPC
//!   `TraceService/Export`, so any OpenTelemetry SDK can send to it. Request bodies are capped
//!   (4 MiB by default, decompressed size included); malformed payloads, and payloads past the
//!   decode limits (4,096 resource or scope spans, 100,000 spans, 64 MiB once decoded, checked
//!   before decoding), are refused whole; a full ingest queue (bounded by spans and by bytes)
//!   answers 429 / `UNAVAILABLE`. Each limit is a [`CollectorBuilder`] setting
//!   ([`max_spans_per_request`](CollectorBuilder::max_spans_per_request),
//!   [`max_decoded_request_bytes`](CollectorBuilder::max_decoded_request_bytes),
//!   [`ingest_queue_bytes`](CollectorBuilder::ingest_queue_bytes), ...).
//! - **In process**: [`InProcessExporter`] hands spans from a [`tracewire`] export pipeline
//!   straight to the store, with no encoding and no network.
//! - **Store**: bounded by a span count, a byte budget and a retention window, oldest evicted
//!   first; indexed by trace id, service, operation, error, attribute `key=value`, with a zone
//!   map over time and duration. About 300 bytes per typical span.
//! - **Assembly**: [`Trace::assemble`] builds the tree at read time, so late and out-of-order
//!   spans merge; spans whose parent is missing are kept as flagged orphans.
//! - **API**: [`api_router`], documented below with examples; every answer is bounded (traces
//!   come a page at a time) and queries run on threads of their own with a time budget
//!   ([`query_threads`](CollectorBuilder::query_threads),
//!   [`query_time_budget`](CollectorBuilder::query_time_budget); 2 threads, 5 s by default).
//! - **Tail sampling** (off by default): [`sampling`] puts a stage between the receivers and the
//!   store that buffers every span for a few minutes, keeps whole traces by policy (errors, slow
//!   traces, forced, a dynamic per-key sampler, a probabilistic floor), lets a trace be kept
//!   after the fact, keeps per-operation health exact, and can forward kept traces upstream.
//!
//! # Embedded
//!
//! ```no_run
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! use std::time::Duration;
//! use tracewire_collector::{Collector, TraceQuery};
//!
//! let collector = Collector::builder()
//!     .max_spans(200_000)
//!     .max_bytes(64 << 20)
//!     .retention(Duration::from_secs(600))
//!     .spawn()
//!     .await?;
//! // The process's spans go straight into the collector's store.
//! let guard = tracewire::builder()
//!     .service_name("checkout")
//!     .exporter(collector.in_process_exporter())
//!     .install()?;
//! tracing::info_span!("GET /cart", otel.kind = "server").in_scope(|| tracing::info!("served"));
//! guard.flush(Duration::from_secs(5))?;
//! collector.flush().await;
//! for t in collector.search(&TraceQuery::new().service("checkout").error_only(true)) {
//!     println!("{} {} {} ns", t.trace_id, t.root_name, t.duration_nanos);
//! }
//! collector.shutdown().await;
//! # Ok(()) }
//! ```
//!
//! Programs without a Tokio runtime use [`CollectorBuilder::start`], which runs the collector on
//! a runtime of its own, and [`CollectorHandle::shutdown_blocking`]. A store with no listeners at
//! all (in-process export only) comes from [`CollectorBuilder::build_store`] (or
//! [`CollectorBuilder::try_build_store`], which returns a writer thread that cannot start as an
//! error).
//!
//! # Standalone
//!
//! The `tracewire-collector` binary takes `--otlp-http`, `--otlp-grpc`, `--api`,
//! `--max-spans`, `--max-bytes` and `--retention`, the per-request, ingest queue and query
//! limits (`--max-spans-per-request`, `--ingest-queue-bytes`, `--query-time-budget`, ...), the
//! connection, TLS and token settings below, and the tail-sampling flags (`--sampling`, `--sampling-config FILE`,
//! `--forward-to URL`, ...); run it with `--help`. Every listener binds `127.0.0.1` unless
//! told otherwise.
//!
//! # Extending
//!
//! [`IngestObserver`]s registered on the builder see each span as it is stored, for incremental
//! aggregates; [`api_router`] returns an `axum::Router` to `.merge()` more routes into, and
//! [`TraceStore`] is the read side they need.
//!
//! # Where to find what
//!
//! | path | holds |
//! |---|---|
//! | `collector/` | [`Collector::builder`] / [`CollectorBuilder`] (`mod.rs`), the running [`CollectorHandle`], the read side [`TraceStore`], [`CollectorError`] |
//! | `receiver/`, `otlp/` | the OTLP/HTTP and OTLP/gRPC receivers; decoding with per-request limits (`otlp/wire.rs` bounds a request before it is decoded) and conversion to the store's model |
//! | `exporter.rs` | [`InProcessExporter`]: a tracewire pipeline straight into the store |
//! | `ingest/` | the byte-bounded ingest queue and the writer thread in front of the store; what the write path reads from a span, decoded or in-process `SpanData` |
//! | `store/` | the bounded store: limits, spans, sources, indexes, writes, eviction, reads, search (its own table in `store/mod.rs`) |
//! | `sampling/` | tail and retroactive sampling: buffer, completion, policies, decision cache, forwarding, its API |
//! | `query/`, `reads.rs`, `assembly.rs` | the query pool with its time budget, paged trace reads, trace assembly |
//! | [`analysis`] | critical path, waterfall, clock skew, service map, per-operation health, latency histograms |
//! | [`api`] | the JSON API (one envelope; every route in API.md below) |
//! | [`ui`] | the web UI's pages; its scripts and style are in `assets/` |
//! | `serve/` | the listeners: timeouts, connection caps, the in-flight byte budget, TLS, Host check and token (EDGE.md below) |
//! | `hash.rs`, `json.rs` | the seeded hasher for sender-chosen keys; OTLP/JSON reading |
//!
#![doc = include_str!("../EDGE.md")]
#![doc = include_str!("../API.md")]

mod assembly;
mod collector;
mod exporter;
mod hash;
mod ingest;
mod json;
mod otlp;
mod query;
mod reads;
mod receiver;
mod serve;
mod store;

pub mod analysis;
pub mod api;
pub mod model;
pub mod sampling;
pub mod ui;

pub use tracewire;

pub use crate::api::api_router;
pub use crate::assembly::{Trace, TraceNode};
pub use crate::collector::{
    Collector, CollectorBuilder, CollectorError, CollectorHandle, TraceStore,
};
pub use crate::exporter::InProcessExporter;
pub use crate::model::{
    AttrValue, Attribute, IngestObserver, IngestedSpan, Scope, Span, SpanEvent, SpanLink,
    StatusCode,
};
pub use crate::query::{StoreStats, TraceQuery, TraceSummary};
pub use crate::reads::{PageNode, TracePage};
pub use crate::serve::{ServerTls, TlsError, TlsInput};
