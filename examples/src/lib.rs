//! The tracewire ride-hailing demo: services, supervisor, load generator and report.
//!
//! `cargo run --release -p tracewire-examples --bin demo` starts an embedded collector with its
//! web UI, the four services as separate processes exporting over OTLP, sends traffic, and prints
//! what the traces show.
//!
//! | where | what |
//! |---|---|
//! | [`services`] | the four services' business logic and their tracing wiring |
//! | [`serve`] | a service process serving until stopped, then draining |
//! | [`telemetry`] | a service's tracing set-up: `tracewire_otlp::setup()`, logs on stderr |
//! | [`control`] | the pipes between supervisor and service: `LISTENING`, `flush`, `STATS`, stop |
//! | [`supervisor`] | starting, flushing and stopping the service processes |
//! | [`destination`] | where spans go: the embedded collector or `--otlp-endpoint`, and the protocol |
//! | [`tail_sampling`] | the embedded collector's tail sampling and its report |
//! | [`faults`], [`load`], [`report`] | injected faults, the traffic, the printed report |
//! | [`cli`] | flag parsing and error printing shared by every binary |
//! | [`conformance`] | what `w3c-test-service` and `hop-service` share |

pub mod cli;
pub mod conformance;
pub mod control;
pub mod destination;
pub mod faults;
pub mod load;
pub mod report;
pub mod serve;
pub mod services;
pub mod supervisor;
pub mod tail_sampling;
pub mod telemetry;

/// The generated protobuf types and gRPC stubs of `proto/ride.proto`.
#[allow(missing_docs, clippy::all)]
pub mod proto {
    tonic::include_proto!("ride.v1");
}
