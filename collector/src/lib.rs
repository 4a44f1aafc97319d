//! An embeddable trace collector: OTLP receiver, bounded trace store, analysis and web UI.
//!
//! This crate is filled by the collector work; until then it only re-exports the core crate so
//! dependants compile.

pub use tracewire;
