//! Heavy queries against a store of about 1,050,000 spans, and what they do to ingest.
//!
//! Run: `cargo bench -p tracewire-collector --bench queries -- --warm-up-time 1 --measurement-time 5`
//!
//! The store holds 800,000 realistic spans (160,000 traces of five), one trace of 200,000 spans
//! and 50,000 one-span traces of 50,000 distinct services. Each heavy query is timed once over
//! HTTP and printed (with its answer's size). Then criterion measures the latency of a small
//! OTLP/HTTP export (one span, about 100 bytes, over a keep-alive connection) with nothing else
//! running (the baseline) and while two threads keep asking the two heaviest queries; the
//! loaded run's percentiles over 2,000 exports are printed too.

#[path = "../tests/analysis_fixture/mod.rs"]
mod analysis_fixture;
mod support;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant, UNIX_EPOCH};

use criterion::Criterion;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::resource::v1::Resource as PResource;
use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans, Span as PSpan};
use prost::Message;
use tracewire::export::SpanExporter;
use tracewire::{Resource, SpanData, TraceId};
use tracewire_collector::Collector;

use support::{Conn, fill};

const BIG: u128 = 0xb16_b16;
const BIG_SPANS: u64 = 200_000;

fn span(trace: u128, id: u64, parent: u64, name: String) -> SpanData {
    let mut d = analysis_fixture::data(trace, id, parent, name);
    d.start_time = UNIX_EPOCH + Duration::from_nanos(support::BASE + id * 1000);
    d.end_time = d.start_time + Duration::from_micros(if parent == 0 { 300_000 } else { 1 });
    d
}

/// One span with a one-attribute resource: about 100 bytes of protobuf.
fn small_export() -> Vec<u8> {
    ExportTraceServiceRequest {
        resource_spans: vec![ResourceSpans {
            resource: Some(PResource {
                attributes: vec![support::kv("service.name", "edge")],
                ..Default::default()
            }),
            scope_spans: vec![ScopeSpans {
                spans: vec![PSpan {
                    trace_id: 7u128.to_be_bytes().to_vec(),
                    span_id: 7u64.to_be_bytes().to_vec(),
                    name: "GET /health".into(),
                    kind: 2,
                    start_time_unix_nano: support::BASE,
                    end_time_unix_nano: support::BASE + 1000,
                    attributes: vec![support::kv("http.route", "/health")],
                    ..Default::default()
                }],
                ..Default::default()
            }],
            ..Default::default()
        }],
    }
    .encode_to_vec()
}

fn percentile(sorted: &[Duration], q: f64) -> Duration {
    sorted[((sorted.len() as f64 * q).ceil() as usize).clamp(1, sorted.len()) - 1]
}

fn main() {
    let handle = Collector::builder()
        .ephemeral_ports()
        .otlp_grpc_addr(None)
        .max_spans(1_200_000)
        .max_bytes(4 << 30)
        .retention(Duration::ZERO)
        .start()
        .unwrap();
    let store = handle.store().clone();
    let started = Instant::now();
    fill(&store, 800_000);
    let mut exp = store.in_process_exporter();
    let big: Vec<SpanData> = (1..=BIG_SPANS)
        .map(|i| span(BIG, i, u64::from(i > 1), format!("step {}", i % 1000)))
        .collect();
    for chunk in big.chunks(512) {
        while exp.export(chunk, &Resource::new("batch")).is_err() {
            std::thread::sleep(Duration::from_millis(1));
        }
    }
    for s in 0..50_000u64 {
        let one = [span(u128::from(s) + (1 << 100), 1, 0, "op".into())];
        while exp
            .export(&one, &Resource::new(format!("svc-{s:05}")))
            .is_err()
        {
            std::thread::sleep(Duration::from_millis(1));
        }
    }
    store.flush_blocking();
    let stats = store.stats();
    println!(
        "store: {} spans, {} traces, {} bytes, filled in {:.1?}",
        stats.spans,
        stats.traces,
        stats.bytes,
        started.elapsed()
    );

    let api = handle.api_addr().unwrap();
    let big_id = TraceId::from_u128(BIG);
    // Sixteen conditions on a key too diverse to be indexed: every span is scanned.
    let scan = (1..=16)
        .map(|i| format!("tags=url.path%3D%2Frides%2F{i}"))
        .collect::<Vec<_>>()
        .join("&");
    let heavy = [
        (
            "trace of 200,000 spans, first page",
            format!("/api/traces/{big_id}"),
        ),
        (
            "trace of 200,000 spans, last page",
            format!("/api/traces/{big_id}?offset=199000"),
        ),
        (
            "waterfall of 200,000 spans, first page",
            format!("/api/analysis/traces/{big_id}"),
        ),
        (
            "search, 16 unindexed tags (full scan)",
            format!("/api/traces?{scan}"),
        ),
        ("services (50,004)", "/api/services".to_owned()),
        (
            "statistics of 200,000 spans",
            format!("/api/analysis/traces/{big_id}/stats"),
        ),
        (
            "dependencies (newest 100,000 spans)",
            "/api/analysis/dependencies".to_owned(),
        ),
    ];
    let mut conn = Conn::new(api);
    for (name, path) in &heavy {
        let t = Instant::now();
        let (status, len) = conn.get(path);
        println!("query {name}: {status} in {:.1?}, {len} bytes", t.elapsed());
    }

    let body = small_export();
    println!("export body: {} bytes", body.len());
    let mut export = Conn::new(handle.otlp_http_addr().unwrap());
    let mut c = Criterion::default().configure_from_args();
    let mut g = c.benchmark_group("otlp_export_latency");
    g.sample_size(50);
    g.bench_function("baseline/no_queries", |b| {
        b.iter(|| assert_eq!(export.post(&body), 200))
    });

    let stop = Arc::new(AtomicBool::new(false));
    let load: Vec<_> = [heavy[2].1.clone(), heavy[3].1.clone()]
        .into_iter()
        .map(|path| {
            let stop = stop.clone();
            std::thread::spawn(move || {
                let mut conn = Conn::new(api);
                let mut n = 0u64;
                while !stop.load(Ordering::Relaxed) {
                    conn.get(&path);
                    n += 1;
                }
                n
            })
        })
        .collect();
    g.bench_function("while_two_heavy_queries_run", |b| {
        b.iter(|| assert_eq!(export.post(&body), 200))
    });
    g.finish();
    let mut lat: Vec<Duration> = (0..2000)
        .map(|_| {
            let t = Instant::now();
            assert_eq!(export.post(&body), 200);
            t.elapsed()
        })
        .collect();
    stop.store(true, Ordering::Relaxed);
    let answered: Vec<u64> = load.into_iter().map(|h| h.join().unwrap()).collect();
    lat.sort_unstable();
    println!(
        "export latency while two heavy queries run (2,000 exports): p50 {:.2?}, p99 {:.2?}, \
         max {:.2?}; heavy queries answered meanwhile: {answered:?}",
        percentile(&lat, 0.5),
        percentile(&lat, 0.99),
        lat[lat.len() - 1]
    );
    c.final_summary();
    handle.shutdown_blocking();
}
