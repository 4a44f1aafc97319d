//! Collector benchmarks: in-process ingest, OTLP/HTTP protobuf ingest over loopback, bytes per
//! stored span, and search latency on a store of 1,000,000 spans.
//!
//! Run: `cargo bench -p tracewire-collector --bench ingest -- --warm-up-time 1 --measurement-time 3`
//!
//! Memory per span is printed (not timed): the store's own accounting, cross-checked against the
//! process's resident-set growth while the store fills (a counting global allocator would need
//! `unsafe impl GlobalAlloc`, which the workspace forbids).

mod support;

use std::hint::black_box;
use std::time::Duration;

use criterion::{BenchmarkId, Criterion, Throughput};
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use prost::Message;
use tracewire::export::SpanExporter;
use tracewire::{Resource, SpanData};
use tracewire_collector::{Collector, TraceQuery};

use support::{BASE, Conn, fill, otlp_http_collector, otlp_request, span_data};

fn rss_bytes() -> usize {
    std::fs::read_to_string("/proc/self/statm")
        .ok()
        .and_then(|s| s.split_whitespace().nth(1)?.parse::<usize>().ok())
        .map_or(0, |pages| pages * 4096)
}

fn in_process(c: &mut Criterion) {
    const N: usize = 51_200;
    let batches: Vec<Vec<SpanData>> = (0..N as u64 / 512)
        .map(|b| (b * 512..(b + 1) * 512).map(span_data).collect())
        .collect();
    let resource = Resource::new("gateway");
    let mut g = c.benchmark_group("ingest_in_process");
    g.throughput(Throughput::Elements(N as u64));
    g.sample_size(10);
    // Baseline: the least any exporter that keeps spans does with a batch, cloning it.
    g.bench_function("baseline/clone_batches", |b| {
        b.iter(|| {
            for batch in &batches {
                black_box(batch.to_vec());
            }
        })
    });
    let store = Collector::builder()
        .max_spans(1_000_000)
        .max_bytes(1 << 30)
        .build_store();
    let mut exp = store.in_process_exporter();
    g.bench_function("exporter_to_store", |b| {
        b.iter(|| {
            for batch in &batches {
                while exp.export(batch, &resource).is_err() {
                    std::thread::yield_now();
                }
            }
            store.flush_blocking();
        })
    });
    g.finish();
    store.close();
}

fn otlp_http(c: &mut Criterion) {
    const PER_REQUEST: u64 = 512;
    const REQUESTS: u64 = 20;
    let bodies: Vec<Vec<u8>> = (0..REQUESTS)
        .map(|r| otlp_request(r * PER_REQUEST, PER_REQUEST))
        .collect();
    let handle = otlp_http_collector(1_000_000);
    let mut conn = Conn::new(handle.otlp_http_addr().unwrap());
    let mut g = c.benchmark_group("ingest_otlp_http");
    g.throughput(Throughput::Elements(PER_REQUEST * REQUESTS));
    g.sample_size(10);
    // Baseline: decoding the same protobuf bodies, with no network and no store.
    g.bench_function("baseline/protobuf_decode", |b| {
        b.iter(|| {
            for body in &bodies {
                black_box(ExportTraceServiceRequest::decode(&body[..]).unwrap());
            }
        })
    });
    g.bench_function("post_protobuf_keepalive", |b| {
        b.iter(|| {
            for body in &bodies {
                let status = conn.post(body);
                assert_eq!(status, 200);
            }
            handle.store().flush_blocking();
        })
    });
    g.finish();
    drop(conn);
    handle.shutdown_blocking();
}

fn search(c: &mut Criterion) {
    const N: u64 = 1_000_000;
    let rss_before = rss_bytes();
    let store = Collector::builder()
        .max_spans(N as usize)
        .max_bytes(2 << 30)
        .retention(Duration::ZERO)
        .build_store();
    let started = std::time::Instant::now();
    fill(&store, N);
    let took = started.elapsed();
    let stats = store.stats();
    let rss_after = rss_bytes();
    println!(
        "store of {} spans ({} traces) filled in {:.2?}: {:.0} spans/s in-process including batch construction",
        stats.spans,
        stats.traces,
        took,
        stats.spans as f64 / took.as_secs_f64()
    );
    println!(
        "bytes per stored span: store accounting {:.1} ({} bytes), process RSS growth {:.1}",
        stats.bytes as f64 / stats.spans as f64,
        stats.bytes,
        rss_after.saturating_sub(rss_before) as f64 / stats.spans as f64,
    );
    let mut g = c.benchmark_group("search_1m_spans");
    g.sample_size(20);
    let queries = [
        (
            "service_operation",
            TraceQuery::new().service("dispatch").operation("/cars"),
        ),
        (
            "service_error",
            TraceQuery::new().service("pricing").error_only(true),
        ),
        (
            "tag_indexed",
            TraceQuery::new().tag("http.response.status_code", "500"),
        ),
        (
            "tag_unindexed_unique",
            TraceQuery::new().tag("url.path", "/rides/1234"),
        ),
        (
            "min_duration_45ms",
            TraceQuery::new().min_duration(Duration::from_millis(45)),
        ),
        (
            "time_range",
            TraceQuery::new().time_range(Some(BASE + 400_000_000), Some(BASE + 400_100_000)),
        ),
        (
            "no_match",
            TraceQuery::new()
                .service("gateway")
                .tag("http.route", "/nope"),
        ),
    ];
    for (name, q) in &queries {
        let found = store.search(q).len();
        println!("search {name}: {found} traces");
        g.bench_with_input(BenchmarkId::new("search", name), q, |b, q| {
            b.iter(|| black_box(store.search(q)))
        });
    }
    let some_trace = store.search(&TraceQuery::new().limit(1))[0].trace_id;
    g.bench_function("get_trace_assembled", |b| {
        b.iter(|| black_box(store.trace(some_trace)))
    });
    g.finish();
    store.close();
}

fn main() {
    let mut c = Criterion::default().configure_from_args();
    in_process(&mut c);
    otlp_http(&mut c);
    search(&mut c);
    c.final_summary();
}
