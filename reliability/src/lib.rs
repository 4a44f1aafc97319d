//! tracewire's fault suite: the attacks of a hostile network, run against the real
//! `tracewire-collector` binary and a traced two-hop service on loopback, each scenario bounded
//! in time and memory and reporting a figure.
//!
//! | scenario | what it does | figure |
//! |---|---|---|
//! | [`corpus`](scenario::corpus) | the hostile OTLP corpus ([`corpus`]) over HTTP (protobuf, JSON, gzip) and gRPC | the collector's peak RSS against its budgets, status codes, still answering |
//! | [`slow`](scenario::slow) | slowloris heads, dripped bodies, idle sockets | a well-behaved exporter's latency during the attack |
//! | [`queries`](scenario::queries) | the costliest API queries while spans arrive | OTLP export latency while two such queries run |
//! | [`exporter`](scenario::exporter) | the traced service against dead, hanging, 503 and hostile-`Retry-After` endpoints | request latency against an untraced baseline, RSS, drops |
//! | [`restart`](scenario::restart) | the collector killed with `kill -9` mid-run and restarted | time until spans are exported again, drops |
//! | [`headline`](scenario::headline) | requests through the service while the collector is dead, hostile, back and attacked | failed requests, the service's RSS range, time to export again, the collector's peak RSS |
//!
//! The binary `fault-suite` runs them (see `reliability/README.md`); `tests/fault_suite.rs`
//! runs each scaled down and asserts outcomes, never timings.

use std::time::{Duration, Instant};

pub mod collide;
pub mod corpus;
pub mod endpoint;
pub mod hostile;
pub mod load;
pub mod net;
pub mod payload;
pub mod process;
pub mod report;
pub mod rss;
pub mod scenario;
pub mod service;

/// Any error, as a message.
pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// A point in time to give up at.
#[derive(Debug, Clone, Copy)]
pub struct Deadline(Instant);

impl Deadline {
    /// `d` from now.
    pub fn after(d: Duration) -> Self {
        Deadline(Instant::now() + d)
    }

    /// Whether it has passed.
    pub fn passed(&self) -> bool {
        Instant::now() >= self.0
    }

    /// The time left (zero once passed).
    pub fn left(&self) -> Duration {
        self.0.saturating_duration_since(Instant::now())
    }
}

/// How big a run is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Scale {
    /// Scaled down to seconds per scenario: what `cargo test` runs.
    Quick,
    /// The recorded figures: minutes per scenario.
    Full,
}

impl Scale {
    /// `quick` or `full`.
    pub fn parse(s: &str) -> Option<Scale> {
        match s {
            "quick" => Some(Scale::Quick),
            "full" => Some(Scale::Full),
            _ => None,
        }
    }

    /// `quick` at `Quick`, `full` at `Full`.
    pub fn pick<T>(self, quick: T, full: T) -> T {
        match self {
            Scale::Quick => quick,
            Scale::Full => full,
        }
    }
}
