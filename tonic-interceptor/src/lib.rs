//! gRPC server and client layers and a propagation-only interceptor for tonic, for [`tracewire`].
//!
//! This crate will hold the tonic server layer, the client layer for `Channel`, and a named
//! `Interceptor`. It is filled by the gRPC plugin work; until then it only re-exports the core
//! crate so dependants compile.

pub use tracewire;
