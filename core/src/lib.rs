//! Dapper-style distributed tracing for Rust services.
//!
//! `tracewire` is the small context crate every tracewire plugin builds on:
//!
//! - **In-band context**: [`TraceId`], [`SpanId`], [`TraceFlags`], [`TraceState`], [`Baggage`],
//!   [`SpanContext`] and the [`Context`] that carries them, plus the [`propagation`] formats
//!   (W3C Trace Context and Baggage, B3, Jaeger) that read and write them as headers.
//! - **Out-of-band data**: finished spans ([`SpanData`]) go through the non-blocking
//!   [`export`] pipeline to exporters, off the request path.

mod context;
mod error;
mod id;
mod resource;
mod span;

pub mod export;
pub mod propagation;

pub use crate::context::{Baggage, BaggageEntry, Context, SpanContext, TraceState};
pub use crate::error::{
    BaggageError, ConfigError, ExportError, ExtractError, ParseIdError, TraceStateError,
};
pub use crate::id::{SpanId, TraceFlags, TraceId};
pub use crate::resource::Resource;
pub use crate::span::{Event, KeyValue, Link, SpanData, SpanKind, Status, Value};
