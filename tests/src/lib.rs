//! Shared helpers for tracewire's cross-crate integration tests.
