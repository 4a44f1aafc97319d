//! Expensive queries during ingest: a store holding a huge trace, thousands of services and
//! spans with many attributes, then two clients sending the API's costliest queries without a
//! pause while a well-behaved exporter keeps exporting. The figure is the export latency with
//! and without the queries, in the same run.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use serde::Serialize;

use super::{API_LIMIT, Env, Figure, Survival, stored_total, wait_stored};
use crate::BoxError;
use crate::load::{Latencies, LatencySummary, Probe, ProbeOutcome};
use crate::net::Http1;
use crate::payload::{self, PROTOBUF, Rng, attr};
use crate::process::Collector;
use crate::rss::mib;

/// Spans per preload request.
const BATCH: usize = 4000;
/// The longest the queries may take to go round once each.
const ROUNDS_LIMIT: Duration = Duration::from_secs(180);

/// One query's answers.
#[derive(Debug, Clone, Default, Serialize)]
pub struct QueryTally {
    /// Answers by status (`error` when none came).
    pub statuses: BTreeMap<String, u64>,
    /// Latencies.
    pub latency: LatencySummary,
    /// The largest answer, bytes.
    pub max_body_bytes: usize,
}

/// The figure.
#[derive(Debug, Clone, Serialize)]
pub struct QueriesFigure {
    /// Spans preloaded (huge trace + services + tagged spans).
    pub stored_spans: u64,
    /// The huge trace's spans.
    pub huge_trace_spans: usize,
    /// Distinct services.
    pub services: usize,
    /// Exports alone.
    pub baseline: ProbeOutcome,
    /// Exports while two clients query.
    pub during: ProbeOutcome,
    /// p50 during / alone.
    pub p50_ratio: f64,
    /// p99 during / alone.
    pub p99_ratio: f64,
    /// Per query.
    pub queries: BTreeMap<String, QueryTally>,
    /// The collector's peak resident set.
    pub peak_rss_bytes: u64,
    /// The collector afterwards.
    pub survival: Survival,
}

impl Figure for QueriesFigure {
    fn text(&self) -> String {
        let q: Vec<String> = self
            .queries
            .iter()
            .map(|(k, t)| format!("{k} {:?} p50 {} ms", t.statuses, t.latency.p50_us / 1000))
            .collect();
        format!(
            "OTLP export latency alone {}, with two worst-case queries running {} (p50 x{}, \
             p99 x{}; aim p99 < 50 ms); {} spans stored ({}-span trace, {} services); \
             queries: {}; collector peak RSS {} MiB; {}",
            self.baseline.latency.text(),
            self.during.latency.text(),
            self.p50_ratio,
            self.p99_ratio,
            self.stored_spans,
            self.huge_trace_spans,
            self.services,
            q.join("; "),
            mib(self.peak_rss_bytes),
            self.survival.text(),
        )
    }
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// Preloads the store: one trace of `huge` spans (a wide, shallow tree), `services` services
/// with one span each, and `tagged` spans with 64 attributes each. Returns the huge trace's id.
async fn preload(
    http: SocketAddr,
    huge: usize,
    services: usize,
    tagged: usize,
) -> Result<String, BoxError> {
    let mut rng = Rng::new(0x9e77);
    let mut client = Http1::new(http, API_LIMIT);
    let mut send = async |req: &ExportTraceServiceRequest| -> Result<(), BoxError> {
        let a = client
            .post_otlp(PROTOBUF, false, payload::protobuf(req))
            .await?;
        if !a.status.is_success() {
            return Err(format!("preloading was answered {}", a.status).into());
        }
        Ok(())
    };
    let trace = rng.trace_id();
    let root = payload::span(&mut rng, &trace, &[], "root");
    let root_id = root.span_id.clone();
    let mut batch = vec![root];
    for i in 1..huge {
        let parent = if i % 10 == 0 || batch.is_empty() {
            root_id.clone()
        } else {
            batch[batch.len() - 1].span_id.clone()
        };
        batch.push(payload::span(
            &mut rng,
            &trace,
            &parent,
            &format!("op-{}", i % 50),
        ));
        if batch.len() == BATCH {
            send(&payload::request(
                payload::resource("huge"),
                std::mem::take(&mut batch),
            ))
            .await?;
        }
    }
    if !batch.is_empty() {
        send(&payload::request(payload::resource("huge"), batch)).await?;
    }
    let mut done = 0;
    while done < services {
        let n = BATCH.min(services - done);
        let mut req = ExportTraceServiceRequest::default();
        for s in done..done + n {
            let t = rng.trace_id();
            let span = payload::span(&mut rng, &t, &[], &format!("call-{}", s % 7));
            let mut r = payload::request(payload::resource(&format!("svc-{s}")), vec![span]);
            req.resource_spans.append(&mut r.resource_spans);
        }
        send(&req).await?;
        done += n;
    }
    let mut done = 0;
    while done < tagged {
        let n = (BATCH / 4).min(tagged - done);
        let t = rng.trace_id();
        let spans = (done..done + n)
            .map(|i| {
                let mut s = payload::span(&mut rng, &t, &[], "tagged");
                s.attributes = (0..64)
                    .map(|k| attr(format!("tag.{k}"), format!("{}", (i * 64 + k) % 1000)))
                    .collect();
                s
            })
            .collect();
        send(&payload::request(payload::resource("tagged"), spans)).await?;
        done += n;
    }
    Ok(hex(&trace))
}

/// The costliest queries the API takes, for a store holding trace `huge`.
fn worst_queries(huge: &str) -> Vec<(&'static str, String)> {
    let many_tags: String = (0..4000).map(|i| format!("&tags=a{i}=b")).collect();
    let sixteen: String = (0..16)
        .map(|i| format!("&tags=tag.{i}%3D{}", 999 - i))
        .collect();
    vec![
        (
            "trace, largest page",
            format!("/api/traces/{huge}?limit=10000"),
        ),
        (
            "waterfall, largest page",
            format!("/api/analysis/traces/{huge}?limit=10000"),
        ),
        (
            "search, 4000 tags",
            format!("/api/traces?limit=1000{many_tags}"),
        ),
        (
            "search, 16 tags",
            format!("/api/traces?limit=1000{sixteen}"),
        ),
        ("services", "/api/services".to_owned()),
        ("dependencies", "/api/analysis/dependencies".to_owned()),
    ]
}

/// Sends the queries in turn, starting at `first`, until `stop`; counts each full round in
/// `rounds`.
async fn query_loop(
    api: SocketAddr,
    queries: Arc<Vec<(&'static str, String)>>,
    first: usize,
    stop: Arc<AtomicBool>,
    rounds: Arc<AtomicUsize>,
) -> BTreeMap<String, (BTreeMap<String, u64>, Latencies, usize)> {
    let mut out: BTreeMap<String, (BTreeMap<String, u64>, Latencies, usize)> = BTreeMap::new();
    let mut client = Http1::new(api, API_LIMIT);
    let mut i = first;
    while !stop.load(Ordering::Relaxed) {
        let (name, path) = &queries[i % queries.len()];
        i += 1;
        let t0 = std::time::Instant::now();
        let r = client.get(path).await;
        let e = out.entry((*name).to_owned()).or_default();
        e.1.record(t0.elapsed());
        let key = match &r {
            Ok(a) => {
                e.2 = e.2.max(a.body.len());
                a.status.as_u16().to_string()
            }
            Err(_) => "error".to_owned(),
        };
        *e.0.entry(key).or_insert(0) += 1;
        if (i - first).is_multiple_of(queries.len()) {
            rounds.fetch_add(1, Ordering::Relaxed);
        }
    }
    out
}

/// Runs the scenario against a collector of its own.
pub async fn run(env: &Env) -> Result<QueriesFigure, BoxError> {
    let (huge, services, tagged) = env
        .scale
        .pick((20_000, 2_000, 8_000), (200_000, 50_000, 100_000));
    let window = env
        .scale
        .pick(Duration::from_secs(3), Duration::from_secs(30));
    let mut collector =
        Collector::start(&env.collector_config(env.scale.pick(256 << 20, 1 << 30)))?;
    let addrs = collector.addrs();
    let trace = preload(addrs.http, huge, services, tagged).await?;
    let expected = (huge + services + tagged) as u64;
    if !wait_stored(addrs.api, expected, Duration::from_secs(300)).await {
        return Err("the preloaded spans were not stored within 300 s".into());
    }
    let stored_spans = stored_total(addrs.api).await;

    let every = Duration::from_millis(20);
    let probe = Probe::start(addrs.http, every, Duration::from_secs(60));
    tokio::time::sleep(window).await;
    let baseline = probe.finish().await;

    let queries = Arc::new(worst_queries(&trace));
    let stop = Arc::new(AtomicBool::new(false));
    let rounds = Arc::new(AtomicUsize::new(0));
    let loops: Vec<_> = [0, 3]
        .into_iter()
        .map(|first| {
            let (q, s, r) = (queries.clone(), stop.clone(), rounds.clone());
            tokio::spawn(query_loop(addrs.api, q, first, s, r))
        })
        .collect();
    let probe = Probe::start(addrs.http, every, Duration::from_secs(60));
    // At least the window, and until the clients have gone through every query twice between
    // them.
    tokio::time::sleep(window).await;
    let deadline = crate::Deadline::after(ROUNDS_LIMIT);
    while rounds.load(Ordering::Relaxed) < 2 && !deadline.passed() {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let during = probe.finish().await;
    stop.store(true, Ordering::Relaxed);
    let mut tallies: BTreeMap<String, QueryTally> = BTreeMap::new();
    let mut merged: BTreeMap<String, Latencies> = BTreeMap::new();
    for l in loops {
        for (name, (statuses, lat, max_body)) in l.await? {
            let t = tallies.entry(name.clone()).or_default();
            for (k, v) in statuses {
                *t.statuses.entry(k).or_insert(0) += v;
            }
            t.max_body_bytes = t.max_body_bytes.max(max_body);
            merged.entry(name).or_default().merge(&lat);
        }
    }
    for (name, lat) in merged {
        if let Some(t) = tallies.get_mut(&name) {
            t.latency = lat.summary();
        }
    }
    let peak_rss_bytes = collector.rss().map_or(0, |r| r.hwm);
    let survival = Survival::check(&mut collector).await;
    Ok(QueriesFigure {
        stored_spans,
        huge_trace_spans: huge,
        services,
        p50_ratio: LatencySummary::ratio(during.latency.p50_us, baseline.latency.p50_us),
        p99_ratio: LatencySummary::ratio(during.latency.p99_us, baseline.latency.p99_us),
        baseline,
        during,
        queries: tallies,
        peak_rss_bytes,
        survival,
    })
}
