//! Dapper-style distributed tracing for Rust services.
//!
//! `tracewire` is the small context crate every tracewire plugin builds on:
//!
//! - **In-band context**: [`TraceId`], [`SpanId`], [`TraceFlags`], [`TraceState`], [`Baggage`],
//!   [`SpanContext`] and the [`Context`] that carries them, plus the [`propagation`] formats
//!   (W3C Trace Context and Baggage, B3, Jaeger) that read and write them as headers.
//! - **Spans from `tracing`**: the [`TracewireLayer`] gives every `tracing` span a span context
//!   the moment it is created, links it to its parent, samples at local roots ([`Sampler`]) and
//!   records fields and events. `#[instrument]` works unchanged.
//! - **Context without spans**: [`current()`], [`scope`] and [`FutureExt`] carry the request's
//!   context even when a filter disables every span, so propagation never depends on logging
//!   settings; [`spawn`] and [`spawn_blocking`] keep it across tasks.
//! - **Out-of-band data**: finished spans ([`SpanData`]) go through the non-blocking [`export`]
//!   pipeline to exporters, off the request path.
//! - **Setup**: [`init`] in one call, a [`Builder`] with every knob, and a `testing::Recorder`
//!   for tests.
//!
//! # Quick start
//!
//! ```no_run
//! use tracing::instrument;
//!
//! #[instrument]
//! fn price(distance_km: f64) -> f64 {
//!     2.5 + distance_km * 1.2
//! }
//!
//! fn main() -> Result<(), tracewire::InitError> {
//!     let _guard = tracewire::init()?; // OTEL_SERVICE_NAME, OTEL_TRACES_SAMPLER, ...
//!     let _request = tracing::info_span!("GET /ride", otel.kind = "server").entered();
//!     tracing::info!(fare = price(3.0), "quoted"); // log line ends with trace_id=… span_id=…
//!     Ok(())
//! }
//! ```
//!
//! # Features
//!
//! | feature | default | adds |
//! |---|---|---|
//! | `fmt` | yes | [`init`]'s fmt layer with trace ids; `EnvFilter` syntax for `RUST_LOG` (logs) and `TRACEWIRE_SPANS` (spans) |
//! | `tokio` | yes | [`spawn`] and [`spawn_blocking`] |
//! | `testing` | no | `testing`: a scoped recorder of finished spans and tree assertions, for `[dev-dependencies]` |
//!
//! # Where to find what
//!
//! | file (under `src/`) | what it holds |
//! |---|---|
//! | `id.rs`, `rng.rs` | [`TraceId`], [`SpanId`], [`TraceFlags`]; the per-thread id generator (reseeded after `fork`) |
//! | `context.rs`, `tracestate.rs`, `baggage.rs` | [`SpanContext`] and [`Context`]; [`TraceState`]; [`Baggage`] |
//! | `propagation/` | the [`propagation::Propagator`] trait, carriers, one file per format |
//! | `ambient.rs` | [`current()`], [`scope`], [`FutureExt`], [`spawn`] |
//! | `sampler.rs` | [`Sampler`] and `OTEL_TRACES_SAMPLER` |
//! | `layer/mod.rs` | [`TracewireLayer`]: the `tracing` callbacks |
//! | `layer/parent.rs` | [`with_parent`], [`Parent`] and the parent rules |
//! | `layer/state.rs`, `layer/visit.rs` | per-span state and recording; fields to attribute values |
//! | `layer/table.rs` | the layer's table of live spans' state, by span id |
//! | `layer/span_ext.rs` | [`SpanExt`]: context, baggage and attributes from a plain `tracing::Span` |
//! | `layer/builder.rs` | [`LayerBuilder`] |
//! | `limits.rs` | [`SpanLimits`] (`OTEL_*_LIMIT`), [`limits::untrusted`] for request data |
//! | `span.rs`, `resource.rs` | [`SpanData`], [`Value`] and the other exported parts; [`Resource`] |
//! | `export/mod.rs` | [`export::SpanExporter`], [`export::SpanSink`], counters |
//! | `export/pipeline.rs`, `export/queue.rs`, `export/worker.rs` | the handle and its builder; the queue, in chunks of one batch; the exporting thread |
//! | `export/memory.rs`, `export/stdout.rs` | the built-in exporters |
//! | `setup/` | [`init`], [`Builder`], [`Guard`], [`InitError`]; `setup/logs.rs`: log output and the log/span filters |
//! | `fmt.rs` | the log-line format with trace ids, [`fmt::LogFormat`] |
//! | `diagnostics.rs`, `error.rs` | counted diagnostics; the error types |
//! | `testing.rs` | `testing::Recorder` and span assertions (feature `testing`) |
//!
//! # Minimum supported Rust version
//!
//! The current stable release and the three before it; raising it is not a breaking change.

mod ambient;
mod baggage;
mod context;
mod error;
mod id;
mod layer;
mod resource;
mod rng;
mod sampler;
mod setup;
mod span;
mod sync;
mod tracestate;
mod value;

pub mod diagnostics;
pub mod export;
#[cfg(feature = "fmt")]
pub mod fmt;
pub mod limits;
pub mod propagation;
#[cfg(feature = "testing")]
pub mod testing;

pub use crate::ambient::{FutureExt, InContext, current, scope, scope_mut};
#[cfg(feature = "tokio")]
pub use crate::ambient::{spawn, spawn_blocking};
pub use crate::baggage::{Baggage, BaggageEntry};
pub use crate::context::{Context, SpanContext};
pub use crate::error::{
    BaggageError, ConfigError, ExportError, ExtractError, ParseIdError, TraceStateError,
};
pub use crate::id::{SpanId, TraceFlags, TraceId};
pub use crate::layer::{
    LayerBuilder, Parent, SpanExt, TracewireLayer, with_parent, with_parent_and_context,
};
pub use crate::limits::SpanLimits;
pub use crate::resource::Resource;
pub use crate::sampler::{ParentBased, RateLimiter, Sampler, SamplingInput};
pub use crate::setup::{Builder, Guard, InitError, init};
pub use crate::span::{Event, Link, SpanData, SpanKind, Status};
pub use crate::tracestate::TraceState;
pub use crate::value::{Array, KeyValue, Text, Value};

/// A [`Builder`] for [`init`]'s setup with every knob.
pub fn builder() -> Builder {
    Builder::new()
}
