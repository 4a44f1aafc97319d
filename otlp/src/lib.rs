//! OTLP span exporter for [`tracewire`]: HTTP/protobuf, HTTP/JSON and gRPC.
//!
//! This crate is filled by the OTLP export work; until then it only re-exports the core crate so
//! dependants compile.

pub use tracewire;
