//! The scenarios. Each starts what it needs (the collector binary, the traced service, stand-in
//! endpoints) on loopback, runs for a bounded time, stops everything, and returns a figure:
//! a serializable struct with a one-line [`text`](Figure::text).

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use serde::Serialize;

use crate::net::{Http1, stat};
use crate::process::{Collector, CollectorConfig};
use crate::{BoxError, Scale};

pub mod corpus;
pub mod exporter;
pub mod headline;
pub mod queries;
pub mod restart;
pub mod slow;

/// The longest any single API call of the suite may take.
pub(crate) const API_LIMIT: Duration = Duration::from_secs(30);

/// What every scenario needs.
#[derive(Debug, Clone)]
pub struct Env {
    /// The `tracewire-collector` binary.
    pub collector: PathBuf,
    /// The binary that runs the traced service as `<exe> service` (`fault-suite`).
    pub suite: PathBuf,
    /// How big the run is.
    pub scale: Scale,
}

impl Env {
    /// A collector configuration with a store budget of `max_bytes`.
    pub fn collector_config(&self, max_bytes: usize) -> CollectorConfig {
        CollectorConfig::new(&self.collector, max_bytes)
    }
}

/// A scenario's result.
pub trait Figure: Serialize {
    /// One line for the terminal.
    fn text(&self) -> String;
}

/// The collector's `/api/stats` (`{"data": {...}}`), or an error.
pub(crate) async fn api_stats(api: SocketAddr) -> Result<serde_json::Value, BoxError> {
    let a = Http1::new(api, API_LIMIT).get("/api/stats").await?;
    if !a.status.is_success() {
        return Err(format!("/api/stats answered {}", a.status).into());
    }
    Ok(a.json())
}

/// Spans the collector has stored since it started (0 when it does not answer).
pub(crate) async fn stored_total(api: SocketAddr) -> u64 {
    api_stats(api).await.map_or(0, |s| stat(&s, "storedTotal"))
}

/// Waits until the collector has stored at least `n` spans since it started and its ingest
/// queue is empty, for at most `limit`. Returns whether it got there.
pub(crate) async fn wait_stored(api: SocketAddr, n: u64, limit: Duration) -> bool {
    let deadline = crate::Deadline::after(limit);
    loop {
        if let Ok(s) = api_stats(api).await
            && stat(&s, "storedTotal") >= n
            && stat(&s, "queued") == 0
        {
            return true;
        }
        if deadline.passed() {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// The collector's state at the end of a scenario: running, and answering both an OTLP export
/// (200) and the API.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Survival {
    /// The process is still running.
    pub alive: bool,
    /// A small valid export was answered 200.
    pub exports: bool,
    /// `/api/stats` was answered 200.
    pub answers_api: bool,
}

impl Survival {
    /// Checks `collector`.
    pub(crate) async fn check(collector: &mut Collector) -> Survival {
        let alive = collector.alive();
        let addrs = collector.addrs();
        let mut rng = crate::payload::Rng::from_clock();
        let exports = Http1::new(addrs.http, API_LIMIT)
            .post_otlp(
                crate::payload::PROTOBUF,
                false,
                crate::payload::probe(&mut rng, "reliability-after"),
            )
            .await
            .is_ok_and(|a| a.status.as_u16() == 200);
        let answers_api = api_stats(addrs.api).await.is_ok();
        Survival {
            alive,
            exports,
            answers_api,
        }
    }

    /// Whether all three hold.
    pub fn ok(&self) -> bool {
        self.alive && self.exports && self.answers_api
    }

    /// `survived` or what failed.
    pub fn text(&self) -> String {
        if self.ok() {
            "survived".to_owned()
        } else {
            format!(
                "DID NOT SURVIVE (alive {}, exports {}, API {})",
                self.alive, self.exports, self.answers_api
            )
        }
    }
}
