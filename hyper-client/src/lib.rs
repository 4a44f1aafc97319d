//! A traced HTTP client built on `hyper_util::client::legacy::Client` for [`tracewire`].
//!
//! This crate will hold the ready-to-use traced client wrapper. It is filled by the HTTP plugins
//! work; until then it only re-exports the core crate so dependants compile.

pub use tracewire;
