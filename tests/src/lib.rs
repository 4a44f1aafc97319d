//! Shared helpers for tracewire's cross-crate integration tests.
//!
//! # Where to find what
//!
//! One file per cross-crate behaviour in `tests/`:
//!
//! | file | what it shows |
//! |---|---|
//! | `http_end_to_end.rs` | one trace across two axum servers and the traced hyper client |
//! | `grpc_echo.rs` | tracewire-tonic against a real tonic server and client: all four RPC kinds, every status code on both sides, cancellation, deadlines, nested HTTP |
//! | `trust_matrix.rs` | every request filter × trust policy × sampled flag on the HTTP and gRPC server layers |
//! | `e2e_ride.rs` | the ride-hailing chain (axum → tonic → hyper) in process: one trace, exact parents, the collector's critical path and service map, other propagation formats |
//!
//! This file holds the code generated from `proto/echo.proto`.

/// Code generated from `proto/echo.proto`: an echo service with one method of each RPC kind.
#[allow(missing_docs, unreachable_pub, clippy::all, clippy::pedantic)]
pub mod echo {
    tonic::include_proto!("echo");
}
