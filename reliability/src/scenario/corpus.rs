//! The hostile OTLP corpus against the collector: every case sent, its answer tallied against
//! what a sound collector may answer, the resident set's peak compared with the configured
//! budgets, and hash flooding timed against ordinary keys in the same run.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::trace::v1::ResourceSpans;
use serde::Serialize;

use super::{API_LIMIT, Env, Figure, Survival, wait_stored};
use crate::collide::colliding;
use crate::corpus::{Case, Check, Family, Plan, Transport, cases};
use crate::net::{Grpc, Http1, stat};
use crate::payload::{self, PROTOBUF, Rng, attr};
use crate::process::{Collector, CollectorConfig};
use crate::rss::{Rss, mib};
use crate::{BoxError, Scale};

/// Unexpected answers listed in the figure (all are counted).
const LISTED: usize = 20;
/// Spans per request of the flooding test.
const FLOOD_BATCH: usize = 2000;

/// The answers of one family.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Tally {
    /// Cases sent.
    pub sent: u64,
    /// Answers by `http <status>`, `grpc <code>`, or `<transport> error` (no answer).
    pub answers: BTreeMap<String, u64>,
}

/// One amplification case's cost.
#[derive(Debug, Clone, Serialize)]
pub struct Amplification {
    /// The case.
    pub name: String,
    /// Where it went.
    pub transport: &'static str,
    /// Bytes sent.
    pub body_bytes: usize,
    /// The answer.
    pub answer: String,
    /// How much the collector's peak resident set (`VmHWM`) rose while it was handled.
    pub peak_growth_bytes: u64,
}

/// Hash flooding: the same number of spans with keys that collide under FxHash and with
/// ordinary keys, each timed from the first request to the last span stored.
#[derive(Debug, Clone, Copy, Default, Serialize)]
pub struct Flood {
    /// Spans (each with its own service, name, attribute key and value).
    pub spans: usize,
    /// How long the suite waited for each set to be stored, ms.
    pub limit_ms: u64,
    /// Ordinary keys, ms (`None`: not all stored within the limit).
    pub ordinary_ms: Option<u64>,
    /// Colliding keys, ms (`None`: not all stored within the limit).
    pub colliding_ms: Option<u64>,
    /// `colliding / ordinary`, when both were stored.
    pub ratio: Option<f64>,
}

impl Flood {
    /// `1.05x` or what was not stored in time.
    pub fn text(&self) -> String {
        match (self.ordinary_ms, self.colliding_ms, self.ratio) {
            (_, _, Some(r)) => format!("{r}x the time of ordinary ones ({} spans)", self.spans),
            (Some(o), None, _) => format!(
                "NOT stored within {} ms ({} spans; ordinary keys: {o} ms)",
                self.limit_ms, self.spans
            ),
            _ => format!(
                "not measured: ordinary keys were not stored within {} ms",
                self.limit_ms
            ),
        }
    }
}

/// What the corpus did to the collector.
#[derive(Debug, Clone, Serialize)]
pub struct CorpusFigure {
    /// Cases sent.
    pub cases: u64,
    /// Per family.
    pub families: BTreeMap<Family, Tally>,
    /// Answers no sound collector gives (or none at all): how many.
    pub unexpected: u64,
    /// The first of them.
    pub unexpected_cases: Vec<String>,
    /// Each amplification case.
    pub amplification: Vec<Amplification>,
    /// The saturation check: `Some(true)` when the span's dropped counts read `u32::MAX`.
    pub saturated: Option<bool>,
    /// Hash flooding.
    pub flood: Flood,
    /// Resident set before the corpus.
    pub idle_rss_bytes: u64,
    /// Peak resident set (`VmHWM`) over the whole scenario.
    pub peak_rss_bytes: u64,
    /// The configured budgets: store, ingest queue, request bytes in flight.
    pub budget_store_bytes: u64,
    /// The ingest queue's byte budget.
    pub budget_queue_bytes: u64,
    /// Request bytes in flight.
    pub budget_in_flight_bytes: u64,
    /// Whether the peak stayed within the idle resident set plus every budget.
    pub within_budget: bool,
    /// The collector afterwards.
    pub survival: Survival,
    /// Wall time, ms.
    pub elapsed_ms: u64,
}

impl Figure for CorpusFigure {
    fn text(&self) -> String {
        let mut answers: BTreeMap<&str, u64> = BTreeMap::new();
        for t in self.families.values() {
            for (k, v) in &t.answers {
                *answers.entry(k).or_insert(0) += v;
            }
        }
        format!(
            "{} cases, {} unexpected; answers {:?}; collector peak RSS {} MiB (idle {} MiB) vs \
             budgets {} MiB (store {} + queue {} + in flight {}): {}; FxHash-colliding keys \
             stored in {}; dropped counts saturate: {:?}; {}",
            self.cases,
            self.unexpected,
            answers,
            mib(self.peak_rss_bytes),
            mib(self.idle_rss_bytes),
            mib(self.budget_store_bytes + self.budget_queue_bytes + self.budget_in_flight_bytes),
            mib(self.budget_store_bytes),
            mib(self.budget_queue_bytes),
            mib(self.budget_in_flight_bytes),
            if self.within_budget { "within" } else { "OVER" },
            self.flood.text(),
            self.saturated,
            self.survival.text(),
        )
    }
}

/// The plan at `scale`.
pub fn plan(scale: Scale) -> Plan {
    Plan {
        mutations: scale.pick(240, 10_000),
        bomb_bytes: scale.pick(16 << 20, 1 << 30),
    }
}

/// The flood at `scale`: spans per set, and how long to wait for each set.
pub fn flood_size(scale: Scale) -> (usize, Duration) {
    scale.pick(
        (4 * FLOOD_BATCH, Duration::from_secs(20)),
        (20 * FLOOD_BATCH, Duration::from_secs(120)),
    )
}

/// The collector's settings for this scenario at `scale`.
pub fn collector_config(env: &Env) -> CollectorConfig {
    env.collector_config(env.scale.pick(128 << 20, 512 << 20))
}

/// Runs the scenario against a collector of its own.
pub async fn run(env: &Env) -> Result<CorpusFigure, BoxError> {
    let mut collector = Collector::start(&collector_config(env))?;
    attack(
        &mut collector,
        plan(env.scale),
        flood_size(env.scale),
        0x5eed,
    )
    .await
}

/// Sends the corpus of `plan` and the flood of `flood_spans` spans to a running collector
/// (the headline run uses this on its restarted collector).
pub async fn attack(
    collector: &mut Collector,
    plan: Plan,
    flood_size: (usize, Duration),
    seed: u64,
) -> Result<CorpusFigure, BoxError> {
    let start = Instant::now();
    let addrs = collector.addrs();
    let pid = collector.pid().ok_or("the collector is not running")?;
    let idle = Rss::of(pid)?;
    let mut http = Http1::new(addrs.http, API_LIMIT);
    let mut grpc = Grpc::new(addrs.grpc, API_LIMIT);
    let mut families: BTreeMap<Family, Tally> = BTreeMap::new();
    let (mut sent, mut unexpected) = (0u64, 0u64);
    let mut unexpected_cases = Vec::new();
    let mut amplification = Vec::new();
    let mut saturated = None;
    for case in cases(plan, seed) {
        let before = Rss::of(pid).map(|r| r.hwm).unwrap_or(0);
        let (answer, code) = send(&case, &mut http, &mut grpc).await;
        sent += 1;
        let tally = families.entry(case.family).or_default();
        tally.sent += 1;
        *tally.answers.entry(answer.clone()).or_insert(0) += 1;
        if !code.is_some_and(|c| case.expect.contains(&c)) {
            unexpected += 1;
            if unexpected_cases.len() < LISTED {
                unexpected_cases.push(format!(
                    "{} ({}): {answer}, expected one of {:?}",
                    case.name,
                    case.transport.label(),
                    case.expect
                ));
            }
        }
        if case.family == Family::Amplification {
            // Let the store take what was accepted before reading the peak.
            wait_stored(addrs.api, 0, Duration::from_secs(30)).await;
            let after = Rss::of(pid).map(|r| r.hwm).unwrap_or(before);
            amplification.push(Amplification {
                name: case.name.clone(),
                transport: case.transport.label(),
                body_bytes: case.body.len(),
                answer: answer.clone(),
                peak_growth_bytes: after.saturating_sub(before),
            });
        }
        if let Some(Check::Saturated { trace_id }) = &case.check {
            saturated = Some(check_saturated(addrs.api, trace_id).await);
        }
    }
    let flood = flood(collector, flood_size, seed).await?;
    let peak = collector.rss().map_or(0, |r| r.hwm);
    let stats = super::api_stats(addrs.api).await.unwrap_or_default();
    let config = collector.config();
    let store = stat(&stats, "maxBytes").max(config.max_bytes as u64);
    let queue = match stat(&stats, "maxQueueBytes") {
        0 => config.queue_bytes() as u64,
        q => q,
    };
    let in_flight = config.max_in_flight_bytes as u64;
    let survival = Survival::check(collector).await;
    Ok(CorpusFigure {
        cases: sent,
        families,
        unexpected,
        unexpected_cases,
        amplification,
        saturated,
        flood,
        idle_rss_bytes: idle.rss,
        peak_rss_bytes: peak,
        budget_store_bytes: store,
        budget_queue_bytes: queue,
        budget_in_flight_bytes: in_flight,
        within_budget: peak <= idle.rss + store + queue + in_flight,
        survival,
        elapsed_ms: start.elapsed().as_millis() as u64,
    })
}

/// Sends one case; returns the answer's label and code (HTTP status or gRPC code).
async fn send(case: &Case, http: &mut Http1, grpc: &mut Grpc) -> (String, Option<u32>) {
    match case.transport {
        Transport::Http {
            content_type,
            encoding,
        } => {
            let mut req = http::Request::post("/v1/traces").header("content-type", content_type);
            if let Some(e) = encoding {
                req = req.header("content-encoding", e);
            }
            let req = req
                .body(http_body_util::Full::new(case.body.clone()))
                .expect("a valid request");
            match http.send(req).await {
                Ok(a) => {
                    let s = a.status.as_u16();
                    (format!("http {s}"), Some(u32::from(s)))
                }
                Err(_) => ("http error".to_owned(), None),
            }
        }
        Transport::Grpc { gzip } => match grpc.export(case.body.clone(), gzip).await {
            Ok(a) => match a.code {
                Some(c) => (format!("grpc {c}"), Some(c)),
                None => (
                    format!("grpc http {} without status", a.http.as_u16()),
                    None,
                ),
            },
            Err(_) => ("grpc error".to_owned(), None),
        },
    }
}

/// Whether the stored span of `trace_id` reads `u32::MAX` for its three dropped counts.
async fn check_saturated(api: std::net::SocketAddr, trace_id: &str) -> bool {
    let deadline = crate::Deadline::after(Duration::from_secs(10));
    let mut client = Http1::new(api, API_LIMIT);
    while !deadline.passed() {
        if let Ok(a) = client.get(&format!("/api/traces/{trace_id}")).await
            && a.status.is_success()
        {
            let span = &a.json()["data"]["spans"][0];
            return [
                "droppedAttributesCount",
                "droppedEventsCount",
                "droppedLinksCount",
            ]
            .iter()
            .all(|k| span[*k].as_u64() == Some(u64::from(u32::MAX)));
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    false
}

/// Requests of [`FLOOD_BATCH`] spans, each span in a resource of its own, with service name,
/// span name, attribute key and value all taken from `keys`.
fn flood_requests(
    rng: &mut Rng,
    keys: &mut dyn Iterator<Item = String>,
    spans: usize,
) -> Vec<bytes::Bytes> {
    let trace = rng.trace_id();
    (0..spans.div_ceil(FLOOD_BATCH))
        .map(|b| {
            let n = FLOOD_BATCH.min(spans - b * FLOOD_BATCH);
            let resource_spans = (0..n)
                .map(|_| {
                    let k: Vec<String> = keys.take(4).collect();
                    let mut s = payload::span(rng, &trace, &[], &k[1]);
                    s.attributes = vec![attr(k[2].clone(), k[3].clone())];
                    payload::request(payload::resource(&k[0]), vec![s])
                        .resource_spans
                        .remove(0)
                })
                .collect::<Vec<ResourceSpans>>();
            payload::protobuf(&ExportTraceServiceRequest { resource_spans })
        })
        .collect()
}

/// Times storing `spans` spans with ordinary keys, then with FxHash-colliding ones, each
/// waited for at most `limit`.
async fn flood(
    collector: &mut Collector,
    (spans, limit): (usize, Duration),
    seed: u64,
) -> Result<Flood, BoxError> {
    let addrs = collector.addrs();
    let mut rng = Rng::new(seed ^ 0xf100d);
    let mut ordinary = (0u64..).map(|i| format!("key-{i:0>12}"));
    let mut colliding_keys = colliding(seed << 20);
    let mut time = async |keys: &mut dyn Iterator<Item = String>| -> Result<Option<u64>, BoxError> {
        let bodies = flood_requests(&mut rng, keys, spans);
        let target = super::stored_total(addrs.api).await + spans as u64;
        let mut http = Http1::new(addrs.http, API_LIMIT);
        let t0 = Instant::now();
        for body in bodies {
            let a = http.post_otlp(PROTOBUF, false, body).await?;
            if !a.status.is_success() {
                return Err(format!("a flood request was answered {}", a.status).into());
            }
        }
        let stored = wait_stored(addrs.api, target, limit.saturating_sub(t0.elapsed())).await;
        Ok(stored.then(|| t0.elapsed().as_millis() as u64))
    };
    let ordinary_ms = time(&mut ordinary).await?;
    let colliding_ms = match ordinary_ms {
        Some(_) => time(&mut colliding_keys).await?,
        None => None,
    };
    Ok(Flood {
        spans,
        limit_ms: limit.as_millis() as u64,
        ordinary_ms,
        colliding_ms,
        ratio: ordinary_ms
            .zip(colliding_ms)
            .map(|(o, c)| crate::load::LatencySummary::ratio(c, o.max(1))),
    })
}
