//! OTLP export for [`tracewire`]: the one-call set-up of a deployed service ([`init()`]), and the
//! span exporter behind it — OTLP/HTTP with protobuf (the default) or JSON bodies and OTLP/gRPC,
//! in plain text or over TLS, built on the official [`opentelemetry-proto`](opentelemetry_proto)
//! messages.
//!
//! # Quick start
//!
//! ```no_run
//! fn main() -> Result<(), tracewire_otlp::InitError> {
//!     // OTEL_SERVICE_NAME=checkout
//!     // OTEL_EXPORTER_OTLP_ENDPOINT=https://otlp.example.com
//!     // OTEL_EXPORTER_OTLP_HEADERS=x-api-key=...
//!     let _guard = tracewire_otlp::init!()?; // service.version = this crate's version
//!     tracing::info!("ready");
//!     Ok(())
//! } // the guard flushes the export pipeline
//! ```
//!
//! [`init()`] / [`init!`] install the `tracewire` subscriber (logs with trace ids, the span
//! layer) with the exporters `OTEL_TRACES_EXPORTER` names (`otlp` by default, `console`,
//! `console_json`, `none`, or a comma list), and read every standard variable:
//!
//! | variable | effect | default |
//! |---|---|---|
//! | `OTEL_SDK_DISABLED` | `true`: no exporter; new traces not sampled, inbound sampled flags passed on; propagation as configured | `false` |
//! | `OTEL_TRACES_EXPORTER` | `otlp`, `console`, `console_json`, `none`, comma-separated; unknown names are an error | `otlp` |
//! | `OTEL_SERVICE_NAME` | `service.name` (wins over the code and `OTEL_RESOURCE_ATTRIBUTES`) | `unknown_service:<executable>` |
//! | `OTEL_RESOURCE_ATTRIBUTES` | `k=v,...` resource attributes (percent-decoded; the code's own attributes win) | none |
//! | `OTEL_TRACES_SAMPLER`, `_ARG` | the sampler (see [`tracewire::Sampler::from_vars`]) | `parentbased_always_on` |
//! | `OTEL_PROPAGATORS` | formats for [`Guard::propagators`] | `tracecontext,baggage` |
//! | `OTEL_BSP_MAX_QUEUE_SIZE` | export queue bound (at most [`MAX_QUEUE_SIZE`]) | 2048 |
//! | `OTEL_BSP_MAX_EXPORT_BATCH_SIZE` | spans per export (at most the queue) | 512 |
//! | `OTEL_BSP_SCHEDULE_DELAY` | ms a partial batch waits | 1000 |
//! | `OTEL_BSP_EXPORT_TIMEOUT` | ms one batch may take, retries included (`0` = no limit) | 30000 |
//! | `OTEL_EXPORTER_OTLP_*` | endpoint, protocol, headers, timeout, compression, certificate, client certificate and key, insecure: see [`OtlpExporterBuilder::from_env`] | |
//!
//! The resource also carries `host.name`, `process.pid` and `telemetry.sdk.{name,language,version}`
//! (OpenTelemetry semantic conventions 1.37). [`setup`] is the same with knobs: code defaults,
//! extra resource attributes, OTLP adjustments, any [`tracewire::Builder`] setting, or the
//! layer alone for a subscriber of your own.
//!
//! # The exporter alone
//!
//! ```no_run
//! use std::time::Duration;
//! use tracewire_otlp::{Compression, OtlpExporter, Protocol};
//!
//! let exporter = OtlpExporter::builder()
//!     .protocol(Protocol::HttpProtobuf)
//!     .endpoint("https://collector.internal:4318/v1/traces")
//!     .ca_certificate_file("/etc/otel/ca.pem")
//!     .compression(Compression::Gzip)
//!     .from_env() // OTEL_EXPORTER_OTLP_* override what is set above
//!     .build()?;
//! let stats = exporter.stats_handle();
//! let _guard = tracewire::builder().exporter(exporter).install()?;
//! // ... the application runs ...
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
//!   Optional gzip ([`Compression::Gzip`]).
//! - **TLS**: `https://` endpoints (and gRPC `host:port` endpoints unless `insecure`), with
//!   rustls and the ring provider. Trusted roots: the system's store, or Mozilla's roots
//!   compiled in when the system has none (`scratch`/distroless images), or only a custom CA
//!   (`OTEL_EXPORTER_OTLP_CERTIFICATE`). mTLS with a client certificate and key. A handshake
//!   failure is a [`TlsError`] (unknown CA, expired, name mismatch, client certificate required
//!   or refused), not retried, counted ([`OtlpStatsSnapshot::tls_errors`]) and logged once.
//! - **Retries** ([`RetryPolicy`]): on HTTP 429/502/503/504, retryable gRPC codes, connection
//!   failures and timeouts; exponential backoff with jitter; `Retry-After` (seconds or any
//!   HTTP-date form) and gRPC `RetryInfo` honoured; bounded by an attempt count and a time budget
//!   per batch that no server's answer can stretch.
//! - **Partial success**: rejected spans are counted ([`OtlpStatsSnapshot::rejected_spans`]) and
//!   reported as [`ExportError::Rejected`](tracewire::ExportError::Rejected); never retried.
//! - **Never in the way**: each request is bounded by the timeout (default 10 s). The exporter
//!   runs on the pipeline's worker thread on its own small runtime, so the application never
//!   waits for it; a dead or slow endpoint makes the pipeline's bounded queue drop (and count)
//!   spans instead of growing. The exporter's own HTTP/gRPC calls produce no spans.
//! - **Failures are visible**: the first failure of each kind is logged (target
//!   `tracewire_otlp`), then only counted until exports succeed again;
//!   [`OtlpStats::last_error`] keeps the latest, typed ([`OtlpExportError`]).
//!
//! The span → OTLP mapping is in [`convert`], public so receivers and other exporters can reuse
//! it; the message types are re-exported as [`proto`].
//!
//! # Features
//!
//! | feature | default | adds |
//! |---|---|---|
//! | `http-proto` | yes | OTLP/HTTP with protobuf bodies (hyper, HTTP/1.1) |
//! | `tls` | yes | `https://` endpoints, custom CAs, mTLS (rustls with ring; system roots, `webpki-roots` fallback) |
//! | `http-json` | no | OTLP/HTTP with JSON bodies (`serde_json`, `opentelemetry-proto/with-serde`) |
//! | `grpc` | no | OTLP/gRPC (tonic's channel, HTTP/2) |
//!
//! A protocol that is not compiled in is a clear error ([`OtlpConfigError::ProtocolNotEnabled`]
//! names the feature), never a silent fallback.
//!
//! # OTLP/JSON notes
//!
//! JSON bodies are produced by `opentelemetry-proto`'s `with-serde` encoding, which follows the
//! OTLP/JSON rules (hex ids, integer enums, `intValue` and nanosecond times as strings) with one
//! known gap: a non-finite `f64` attribute (NaN, ±infinity) is written as `null`, where the
//! protobuf JSON mapping asks for the strings `"NaN"`/`"Infinity"`; receivers read it as an empty
//! value. Fields at their default value are written out rather than omitted, which receivers
//! accept.
//!
//! # Where to find what
//!
//! | file | holds |
//! |---|---|
//! | `setup/` | [`init()`], [`init!`], [`setup()`]: `mod.rs` the [`Setup`] builder, `env.rs` the general `OTEL_*` variables, `resource.rs` the resource, `guard.rs` [`Config`] and [`Guard`], `error.rs` [`InitError`] |
//! | `builder.rs` | [`OtlpExporterBuilder`]: code settings and `OTEL_EXPORTER_OTLP_*` |
//! | `env.rs` | reading the `OTEL_EXPORTER_OTLP_*` variables and the configuration spec's value rules |
//! | `config.rs` | [`Protocol`], [`Compression`], [`RetryPolicy`], the timeout ceiling |
//! | `exporter.rs` | [`OtlpExporter`]: one batch delivered, retried within its budget |
//! | `transport/` | one request over HTTP (`http_client.rs`) or gRPC (`grpc_client.rs`), and its answer read |
//! | `retry.rs` | jitter, `Retry-After` and `RetryInfo`, parsed with checked arithmetic |
//! | `tls.rs` | roots, custom CA, client identity, rustls configuration, [`TlsError`] translation |
//! | `convert.rs` | [`convert`]: span → OTLP messages |
//! | `stats.rs`, `diagnostics.rs` | the counters, and the log-once failure reporting |
//! | `error.rs` | [`OtlpConfigError`], [`OtlpExportError`], [`TlsError`] |
//!
//! # Minimum supported Rust version
//!
//! The workspace's (`rust-version`): the current stable release and the three before it.

mod builder;
mod config;
mod env;
mod error;
mod exporter;
#[cfg_attr(
    not(feature = "_http"),
    allow(dead_code, reason = "Retry-After is read by the HTTP transport only")
)]
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
