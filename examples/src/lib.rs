//! The tracewire ride-hailing demo: services, supervisor, load generator and report.
//!
//! `cargo run --release -p tracewire-examples --bin demo` starts an embedded collector with its
//! web UI, the four services as separate processes exporting over OTLP, sends traffic, and prints
//! what the traces show.

pub mod args;
pub mod conformance;
pub mod faults;
pub mod load;
pub mod report;
pub mod services;
pub mod supervisor;

/// The generated protobuf types and gRPC stubs of `proto/ride.proto`.
#[allow(missing_docs, clippy::all)]
pub mod proto {
    tonic::include_proto!("ride.v1");
}
