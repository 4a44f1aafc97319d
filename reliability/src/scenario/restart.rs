//! The collector killed with `kill -9` mid-run and restarted on the same ports while the
//! traced service keeps serving. The figure is the time from the new collector listening to
//! the first of the service's spans stored in it, and what the service counted meanwhile.

use std::time::{Duration, Instant};

use serde::Serialize;

use super::exporter::service_stats;
use super::{Env, Figure, stored_total};
use crate::load::{LatencySummary, Load, LoadCounts};
use crate::process::{Collector, Service, ServiceConfig};
use crate::service::ServiceStats;
use crate::{BoxError, Deadline};

/// Closed-loop connections.
const CONNECTIONS: usize = 4;
/// The longest the suite waits for spans after the restart.
const EXPORT_LIMIT: Duration = Duration::from_secs(60);

/// The figure.
#[derive(Debug, Clone, Serialize)]
pub struct RestartFigure {
    /// How long the collector was dead, ms.
    pub dead_ms: u64,
    /// From the restarted collector listening to its first span from the service, ms
    /// (`None`: not within a minute).
    pub export_again_ms: Option<u64>,
    /// Requests through the service, and failures.
    pub requests: LoadCounts,
    /// Request latency over the whole run.
    pub latency: LatencySummary,
    /// The service's export counters at the kill.
    pub at_kill: ServiceStats,
    /// And at the end.
    pub at_end: ServiceStats,
}

impl Figure for RestartFigure {
    fn text(&self) -> String {
        let d = |a: u64, b: u64| a.saturating_sub(b);
        format!(
            "collector dead {} ms; spans exported again {} after it came back; requests {} \
             ({} failed, {}); while dead and after: {} spans dropped, {} in failed batches, \
             {} retries counted",
            self.dead_ms,
            self.export_again_ms
                .map_or_else(|| "NOT within 60 s".to_owned(), |ms| format!("{ms} ms")),
            self.requests.total(),
            self.requests.failed,
            self.latency.text(),
            d(self.at_end.pipeline.dropped, self.at_kill.pipeline.dropped),
            d(self.at_end.pipeline.failed, self.at_kill.pipeline.failed),
            d(self.at_end.otlp.retries, self.at_kill.otlp.retries),
        )
    }
}

/// Kills the collector, waits `dead`, restarts it, and returns how long it was down (from the
/// kill until the new one listened) and the time from its return to the first stored span.
pub(crate) async fn kill_and_restart(
    collector: &mut Collector,
    dead: Duration,
) -> Result<(Duration, Option<Duration>), BoxError> {
    collector.kill9();
    let t0 = Instant::now();
    tokio::time::sleep(dead).await;
    restart(collector)?;
    let down = t0.elapsed();
    Ok((down, first_span(collector).await))
}

/// Restarts the (dead) collector. Starting a process blocks, so this needs a multi-threaded
/// runtime: its other workers keep the load going.
pub(crate) fn restart(collector: &mut Collector) -> Result<(), BoxError> {
    tokio::task::block_in_place(|| collector.restart())
}

/// The time until the (just restarted) collector has stored a span, if within a minute.
pub(crate) async fn first_span(collector: &Collector) -> Option<Duration> {
    let back = Instant::now();
    let api = collector.addrs().api;
    let deadline = Deadline::after(EXPORT_LIMIT);
    while !deadline.passed() {
        if stored_total(api).await > 0 {
            return Some(back.elapsed());
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    None
}

/// Runs the scenario.
pub async fn run(env: &Env) -> Result<RestartFigure, BoxError> {
    let (warmup, dead) = env.scale.pick(
        (Duration::from_secs(2), Duration::from_secs(2)),
        (Duration::from_secs(10), Duration::from_secs(15)),
    );
    let mut collector = Collector::start(&env.collector_config(128 << 20))?;
    let config = ServiceConfig::traced(&env.suite, format!("http://{}", collector.addrs().http));
    let service = Service::start(&config)?;
    let load = Load::start(
        service.addr(),
        CONNECTIONS,
        u64::MAX,
        Duration::from_secs(10),
    );
    tokio::time::sleep(warmup).await;
    if stored_total(collector.addrs().api).await == 0 {
        return Err("no span reached the collector during the warm-up".into());
    }
    let at_kill = service_stats(&service).await?;
    let (dead_for, back) = kill_and_restart(&mut collector, dead).await?;
    // Keep serving a little after spans flow again, so late failures would show.
    tokio::time::sleep(Duration::from_secs(1)).await;
    let latency = load.take_phase().summary();
    let requests = load.stop().await;
    let at_end = service_stats(&service).await?;
    Ok(RestartFigure {
        dead_ms: dead_for.as_millis() as u64,
        export_again_ms: back.map(|d| d.as_millis() as u64),
        requests,
        latency,
        at_kill,
        at_end,
    })
}
