//! The exporter's side: the traced service under load while its OTLP endpoint is dead,
//! hanging, answering 503, or answering hostile `Retry-After` values, against the same service
//! untraced and traced to a healthy collector, all in the same run. The figure is request
//! latency against the untraced baseline, the service's resident set, and its drop counters.

use std::time::Duration;

use serde::Serialize;

use super::{Env, Figure};
use crate::BoxError;
use crate::endpoint::{Behaviour, Endpoint, dead_addr};
use crate::load::{LatencySummary, Load, LoadCounts};
use crate::net::Http1;
use crate::process::{Collector, Service, ServiceConfig};
use crate::rss::mib;
use crate::service::ServiceStats;

/// Closed-loop connections.
const CONNECTIONS: usize = 8;
/// The longest one request through the service may take before it counts as failed.
const REQUEST_LIMIT: Duration = Duration::from_secs(10);

/// One endpoint's run.
#[derive(Debug, Clone, Serialize)]
pub struct EndpointRun {
    /// `untraced`, `collector`, `dead`, `hanging`, `503`, `hostile-retry-after`.
    pub endpoint: String,
    /// Requests made and failed.
    pub requests: LoadCounts,
    /// Request latency.
    pub latency: LatencySummary,
    /// p50 over the untraced baseline's.
    pub p50_ratio: f64,
    /// p99 over the untraced baseline's.
    pub p99_ratio: f64,
    /// The service's resident set at the end.
    pub rss_bytes: u64,
    /// Its peak.
    pub peak_rss_bytes: u64,
    /// The export counters.
    pub stats: ServiceStats,
    /// Export requests the endpoint saw (stand-ins only).
    pub endpoint_requests: u64,
    /// The service was still running at the end.
    pub alive: bool,
}

/// The figure.
#[derive(Debug, Clone, Serialize)]
pub struct ExporterFigure {
    /// Requests per endpoint (after a warm-up).
    pub requests_per_run: u64,
    /// The runs, the untraced baseline first.
    pub runs: Vec<EndpointRun>,
}

impl Figure for ExporterFigure {
    fn text(&self) -> String {
        let runs: Vec<String> = self
            .runs
            .iter()
            .map(|r| {
                format!(
                    "{}: p50 {:.2} ms (x{}), p99 {:.2} ms (x{}), {} failed, RSS {} MiB (peak {}), \
                     dropped {}, failed spans {}, exported {}",
                    r.endpoint,
                    r.latency.p50_us as f64 / 1000.0,
                    r.p50_ratio,
                    r.latency.p99_us as f64 / 1000.0,
                    r.p99_ratio,
                    r.requests.failed,
                    mib(r.rss_bytes),
                    mib(r.peak_rss_bytes),
                    r.stats.pipeline.dropped,
                    r.stats.pipeline.failed,
                    r.stats.pipeline.exported,
                )
            })
            .collect();
        format!(
            "{} requests each; {}",
            self.requests_per_run,
            runs.join("; ")
        )
    }
}

/// Reads the service's `/stats`.
pub(crate) async fn service_stats(service: &Service) -> Result<ServiceStats, BoxError> {
    let a = Http1::new(service.addr(), Duration::from_secs(10))
        .get("/stats")
        .await?;
    Ok(serde_json::from_slice(&a.body)?)
}

/// Starts the service, warms it up, then measures `requests` requests.
async fn measure(
    name: &str,
    config: &ServiceConfig,
    warmup: u64,
    requests: u64,
) -> Result<(EndpointRun, Service), BoxError> {
    let mut service = Service::start(config)?;
    let warm = Load::start(service.addr(), CONNECTIONS, warmup, REQUEST_LIMIT);
    let warmed = warm.wait().await;
    let load = Load::start(service.addr(), CONNECTIONS, requests, REQUEST_LIMIT);
    let mut counts = load.wait().await;
    counts.failed += warmed.failed;
    let latency = load.take_phase().summary();
    let rss = service.rss()?;
    let stats = service_stats(&service).await?;
    let alive = service.alive();
    Ok((
        EndpointRun {
            endpoint: name.to_owned(),
            requests: counts,
            latency,
            p50_ratio: 0.0,
            p99_ratio: 0.0,
            rss_bytes: rss.rss,
            peak_rss_bytes: rss.hwm,
            stats,
            endpoint_requests: 0,
            alive,
        },
        service,
    ))
}

/// Runs the scenario.
pub async fn run(env: &Env) -> Result<ExporterFigure, BoxError> {
    let (warmup, requests) = env.scale.pick((200, 2_000), (5_000, 100_000));
    let any = "127.0.0.1:0".parse().expect("an address");
    let url = |a: std::net::SocketAddr| format!("http://{a}");
    let mut runs = Vec::new();

    let (base, _s) = measure(
        "untraced",
        &ServiceConfig::untraced(&env.suite),
        warmup,
        requests,
    )
    .await?;
    runs.push(base);

    let collector = Collector::start(&env.collector_config(256 << 20))?;
    let traced = ServiceConfig::traced(&env.suite, url(collector.addrs().http));
    runs.push(measure("collector", &traced, warmup, requests).await?.0);
    drop(collector);

    let dead = ServiceConfig::traced(&env.suite, url(dead_addr()?));
    runs.push(measure("dead", &dead, warmup, requests).await?.0);

    for behaviour in [
        Behaviour::Hang,
        Behaviour::Unavailable,
        Behaviour::HostileRetryAfter,
    ] {
        let endpoint = Endpoint::bind(any, behaviour).await?;
        let config = ServiceConfig::traced(&env.suite, url(endpoint.addr()));
        let (mut run, service) = measure(behaviour.name(), &config, warmup, requests).await?;
        run.endpoint_requests = endpoint.requests();
        drop(service);
        endpoint.stop().await;
        runs.push(run);
    }
    let (b50, b99) = (runs[0].latency.p50_us, runs[0].latency.p99_us);
    for r in &mut runs {
        r.p50_ratio = LatencySummary::ratio(r.latency.p50_us, b50);
        r.p99_ratio = LatencySummary::ratio(r.latency.p99_us, b99);
    }
    Ok(ExporterFigure {
        requests_per_run: requests,
        runs,
    })
}
