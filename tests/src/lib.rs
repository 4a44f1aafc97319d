//! Shared helpers for tracewire's cross-crate integration tests.

/// Code generated from `proto/echo.proto`: an echo service with one method of each RPC kind.
#[allow(missing_docs, unreachable_pub, clippy::all, clippy::pedantic)]
pub mod echo {
    tonic::include_proto!("echo");
}
