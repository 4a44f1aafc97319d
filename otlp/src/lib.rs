//! OTLP span exporter for [`tracewire`]: OTLP/HTTP with protobuf (the default) or JSON bodies,
//! and OTLP/gRPC, built on the official [`opentelemetry-proto`](opentelemetry_proto) messages.
//!
//! Point it at anything that speaks OTLP — an OpenTelemetry Collector, Jaeger, Grafana Tempo,
//! `tracewire-collector` — and hand it to the [`tracewire::export::Pipeline`]:
//!
//! ```no_run
//! use std::time::Duration;
//! use tracewire::Resource;
//! use tracewire::export::Pipeline;
//! use tracewire_otlp::{Compression, OtlpExporter, Protocol};
//!
//! let exporter = OtlpExporter::builder()
//!     .protocol(Protocol::HttpProtobuf)
//!     .endpoint("http://localhost:4318/v1/traces")
//!     .compression(Compression::Gzip)
//!     .from_env() // OTEL_EXPORTER_OTLP_* override what is set above
//!     .build()?;
//! let stats = exporter.stats_handle();
//! let pipeline = Pipeline::builder()
//!     .resource(Resource::new("checkout"))
//!     .exporter(exporter)
//!     .build();
//! // ... the application runs; spans are submitted by the tracing layer ...
//! pipeline.shutdown(Duration::from_secs(5))?;
//! let s = stats.snapshot();
//! println!("{} spans sent, {} retries, {} failed batches", s.exported_spans, s.retries, s.failed_batches);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! # Behaviour
//!
//! - **Protocols**: [`Protocol::HttpProtobuf`] (`application/x-protobuf`, default
//!   `http://localhost:4318/v1/traces`), [`Protocol::HttpJson`] (`application/json`, the
//!   OTLP/JSON encoding: lowercase hex ids, enums as integers, 64-bit integers as decimal
//!   strings), [`Protocol::Grpc`] (`TraceService/Export`, default `http://localhost:4317`).
//!   Optional gzip ([`Compression::Gzip`]). Plain `http://` only: this build has no TLS.
//! - **Configuration**: the builder, and the `OTEL_EXPORTER_OTLP_{,TRACES_}{ENDPOINT, PROTOCOL,
//!   HEADERS, TIMEOUT, COMPRESSION}` variables with the specification's precedence
//!   ([`OtlpExporterBuilder::from_env`]). Invalid values are errors, never silently ignored.
//! - **Retries** ([`RetryPolicy`]): on HTTP 429/502/503/504, retryable gRPC codes, connection
//!   failures and timeouts; exponential backoff with jitter; `Retry-After` (seconds or HTTP-date)
//!   honoured; bounded by an attempt count and a time budget per batch.
//! - **Partial success**: rejected spans are counted ([`OtlpStatsSnapshot::rejected_spans`]) and
//!   reported as [`ExportError::Rejected`](tracewire::ExportError::Rejected); never retried.
//! - **Never in the way**: each request is bounded by the timeout (default 10 s). The exporter
//!   runs on the pipeline's worker thread on its own small runtime, so the application never
//!   waits for it; a dead or slow endpoint makes the pipeline's bounded queue drop (and count)
//!   spans instead of growing. The exporter's own HTTP/gRPC calls produce no spans.
//! - **Counters**: [`OtlpExporter::stats_handle`].
//!
//! The span → OTLP mapping is in [`convert`], public so receivers and other exporters can reuse
//! it; the message types are re-exported as [`proto`].
//!
//! # OTLP/JSON notes
//!
//! JSON bodies are produced by `opentelemetry-proto`'s `with-serde` encoding, which follows the
//! OTLP/JSON rules (hex ids, integer enums, `intValue` and nanosecond times as strings) with one
//! known gap: a non-finite `f64` attribute (NaN, ±infinity) is written as `null`, where the
//! protobuf JSON mapping asks for the strings `"NaN"`/`"Infinity"`; receivers read it as an empty
//! value. Fields at their default value are written out rather than omitted, which receivers
//! accept.

mod builder;
mod config;
mod env;
mod error;
mod exporter;
mod retry;
mod setup;
mod stats;
mod tls;
mod transport;

pub mod convert;
pub mod diagnostics;

pub use opentelemetry_proto as proto;
pub use tracewire;

pub use crate::builder::OtlpExporterBuilder;
pub use crate::config::{Compression, MAX_TIMEOUT, Protocol, RetryPolicy};
pub use crate::error::{OtlpConfigError, OtlpExportError, TlsError};
pub use crate::exporter::OtlpExporter;
pub use crate::setup::{
    Config, ExporterKind, Guard, InitError, MAX_QUEUE_SIZE, OtlpTarget, Setup, init, setup,
};
pub use crate::stats::{OtlpStats, OtlpStatsSnapshot};
