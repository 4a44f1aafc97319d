//! Tower HTTP server and client layers for [`tracewire`].
//!
//! This crate will hold the server layer (extract the inbound context, start a `SERVER` span that
//! ends with the response body) and the client layer (start a `CLIENT` span, inject the context
//! into the outgoing headers). It is filled by the HTTP plugins work; until then it only re-exports
//! the core crate so dependants compile.

pub use tracewire;
