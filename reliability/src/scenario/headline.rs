//! The headline run: requests through the traced two-hop service while its collector is up,
//! then dead (`kill -9`), then replaced by a hostile endpoint on the same port (hanging, 503,
//! hostile `Retry-After`, garbage, in turn per connection), then back, restarted and attacked
//! with the whole corpus. The service must fail no request and keep its resident set flat; the
//! collector must export again within seconds of coming back and stay within its budgets.

use std::time::Duration;

use serde::Serialize;

use super::corpus::{CorpusFigure, attack, flood_size, plan};
use super::exporter::service_stats;
use super::restart::{first_span, restart};
use super::{Env, Figure};
use crate::corpus::Plan;
use crate::endpoint::{Behaviour, Endpoint};
use crate::load::{LatencySummary, Load, LoadCounts};
use crate::process::{Collector, Service, ServiceConfig};
use crate::rss::{RssRange, Sampler, mib};
use crate::service::ServiceStats;
use crate::{BoxError, Scale};

/// Closed-loop connections.
const CONNECTIONS: usize = 8;
/// The resident set may move this far from its value after the warm-up.
pub const RSS_BAND: u64 = 10 << 20;

/// One phase of the run.
#[derive(Debug, Clone, Serialize)]
pub struct Phase {
    /// `warm-up`, `dead`, `hostile`, `back`.
    pub name: &'static str,
    /// Requests completed by the end of the phase.
    pub requests_at_end: u64,
    /// Latency of the phase's requests.
    pub latency: LatencySummary,
}

/// The figure.
#[derive(Debug, Clone, Serialize)]
pub struct HeadlineFigure {
    /// Requests made and failed.
    pub requests: LoadCounts,
    /// The phases.
    pub phases: Vec<Phase>,
    /// The service's resident set after the warm-up.
    pub service_rss: RssRange,
    /// Whether it stayed within ±[`RSS_BAND`] of its first reading.
    pub service_rss_flat: bool,
    /// From the collector's return to the first span stored, ms.
    pub export_again_ms: Option<u64>,
    /// The service's export counters at the end.
    pub service_stats: ServiceStats,
    /// Export requests the hostile endpoint saw.
    pub hostile_requests: u64,
    /// The corpus against the restarted collector (its peak RSS against its budgets).
    pub corpus: CorpusFigure,
}

impl Figure for HeadlineFigure {
    fn text(&self) -> String {
        let phases: Vec<String> = self
            .phases
            .iter()
            .map(|p| format!("{} {}", p.name, p.latency.text()))
            .collect();
        let c = &self.corpus;
        format!(
            "{} requests, {} failed; service RSS {}..{} MiB after warm-up (first {}, last {}, \
             max deviation {} MiB: {}); spans exported again {} after the collector's return; \
             service counted {} spans dropped, {} in failed batches, {} exported; collector \
             peak RSS under the corpus {} MiB vs budgets {} MiB ({}; {} of {} answers \
             unexpected); phases: {}",
            self.requests.total(),
            self.requests.failed,
            mib(self.service_rss.min),
            mib(self.service_rss.max),
            mib(self.service_rss.first),
            mib(self.service_rss.last),
            mib(self.service_rss.max_deviation()),
            if self.service_rss_flat {
                "flat"
            } else {
                "NOT FLAT"
            },
            self.export_again_ms
                .map_or_else(|| "NOT within 60 s".to_owned(), |ms| format!("{ms} ms")),
            self.service_stats.pipeline.dropped,
            self.service_stats.pipeline.failed,
            self.service_stats.pipeline.exported,
            mib(c.peak_rss_bytes),
            mib(c.idle_rss_bytes
                + c.budget_store_bytes
                + c.budget_queue_bytes
                + c.budget_in_flight_bytes),
            if c.within_budget { "within" } else { "OVER" },
            c.unexpected,
            c.cases,
            phases.join("; "),
        )
    }
}

/// Runs the headline: `requests` requests in all.
pub async fn run(env: &Env, requests: u64) -> Result<HeadlineFigure, BoxError> {
    let mut collector = Collector::start(&super::corpus::collector_config(env))?;
    let http = collector.addrs().http;
    let service = Service::start(&ServiceConfig::traced(&env.suite, format!("http://{http}")))?;
    let sampler = Sampler::start(service.pid(), Duration::from_millis(100));
    let load = Load::start(
        service.addr(),
        CONNECTIONS,
        requests,
        Duration::from_secs(10),
    );
    let mut phases = Vec::new();
    let mut end_phase = |name, load: &Load| {
        phases.push(Phase {
            name,
            requests_at_end: load.counts().total(),
            latency: load.take_phase().summary(),
        });
    };

    load.reach((requests / 50).max(500)).await;
    end_phase("warm-up", &load);
    sampler.mark();

    collector.kill9();
    load.reach(requests / 3).await;
    end_phase("dead", &load);

    let hostile = Endpoint::bind(http, Behaviour::Mixed).await?;
    load.reach(requests * 2 / 3).await;
    // A short (scaled-down) phase can end while the exporter is still in its retry backoff from
    // the dead phase (up to 5 s): give it that long to meet the hostile endpoint at least once.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while hostile.requests() == 0 && tokio::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let hostile_requests = hostile.requests();
    hostile.stop().await;
    end_phase("hostile", &load);

    restart(&mut collector)?;
    let back = first_span(&collector).await;
    // Scaled down, a lighter corpus: the corpus scenario itself runs the whole of it.
    let (plan, flood) = match env.scale {
        Scale::Quick => (
            Plan {
                mutations: 40,
                bomb_bytes: 16 << 20,
            },
            (2000, Duration::from_secs(20)),
        ),
        Scale::Full => (plan(Scale::Full), flood_size(Scale::Full)),
    };
    let corpus = attack(&mut collector, plan, flood, 0xbeef).await?;
    let counts = load.wait().await;
    end_phase("back", &load);
    let service_rss = sampler.finish();
    let service_stats = service_stats(&service).await?;
    Ok(HeadlineFigure {
        requests: counts,
        phases,
        service_rss_flat: service_rss.max_deviation() <= RSS_BAND,
        service_rss,
        export_again_ms: back.map(|d| d.as_millis() as u64),
        service_stats,
        hostile_requests,
        corpus,
    })
}
