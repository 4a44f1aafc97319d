//! axum middleware for [`tracewire`]: route-aware span names from `MatchedPath` and an extractor
//! giving handlers the current trace context.
//!
//! This crate is filled by the HTTP plugins work; until then it only re-exports the core crate so
//! dependants compile.

pub use tracewire;
