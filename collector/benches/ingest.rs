//! Collector benchmarks: in-process ingest, OTLP/HTTP protobuf ingest over loopback, bytes per
//! stored span, and search latency on a store of 1,000,000 spans.
//!
//! Run: `cargo bench -p tracewire-collector --bench ingest -- --warm-up-time 1 --measurement-time 3`
//!
//! Memory per span is printed (not timed): the store's own accounting, cross-checked against the
//! process's resident-set growth while the store fills (a counting global allocator would need
//! `unsafe impl GlobalAlloc`, which the workspace forbids).

use std::hint::black_box;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, UNIX_EPOCH};

use criterion::{BenchmarkId, Criterion, Throughput};
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::{AnyValue, KeyValue as PKeyValue, any_value};
use opentelemetry_proto::tonic::resource::v1::Resource as PResource;
use opentelemetry_proto::tonic::trace::v1::{
    ResourceSpans, ScopeSpans, Span as PSpan, Status as PStatus,
};
use prost::Message;
use tracewire::export::SpanExporter;
use tracewire::{
    KeyValue, Resource, SpanContext, SpanData, SpanId, SpanKind, Status, TraceFlags, TraceId,
    TraceState,
};
use tracewire_collector::{Collector, TraceQuery, TraceStore};

const SERVICES: [&str; 4] = ["gateway", "dispatch", "ranking", "pricing"];
const ROUTES: [&str; 5] = ["/rides", "/rides/{id}", "/cars", "/price", "/rank"];
const BASE: u64 = 1_750_000_000_000_000_000;

/// A realistic span: five per trace, six attributes (one of them unique per span), 2% errors.
fn span_data(i: u64) -> SpanData {
    let trace = i / 5 + 1;
    let cx = SpanContext::new(
        TraceId::from_u128(u128::from(trace) * 0x9e37_79b9_7f4a_7c15 + 1),
        SpanId::from_u64(i + 1),
        TraceFlags::SAMPLED,
        TraceState::default(),
        false,
    );
    let route = ROUTES[(i % 5) as usize];
    let mut d = SpanData::new(cx, route);
    d.parent_span_id = if i.is_multiple_of(5) {
        SpanId::INVALID
    } else {
        SpanId::from_u64(i - i % 5 + 1)
    };
    d.kind = if i.is_multiple_of(5) {
        SpanKind::Server
    } else {
        SpanKind::Client
    };
    d.start_time = UNIX_EPOCH + Duration::from_nanos(BASE + i * 1000);
    d.end_time = d.start_time + Duration::from_micros(100 + (i * 7919) % 50_000);
    d.attributes = vec![
        KeyValue::new(
            "http.request.method",
            if i.is_multiple_of(3) { "POST" } else { "GET" },
        ),
        KeyValue::new("http.route", route),
        KeyValue::new(
            "http.response.status_code",
            if i.is_multiple_of(50) { 500i64 } else { 200 },
        ),
        KeyValue::new("url.path", format!("/rides/{}", i / 5)),
        KeyValue::new("server.address", SERVICES[(i % 4) as usize]),
        KeyValue::new("network.protocol.version", "1.1"),
    ];
    if i.is_multiple_of(50) {
        d.status = Status::error("upstream failed");
    }
    d
}

fn fill(store: &TraceStore, n: u64) {
    let resources: Vec<Resource> = SERVICES.iter().map(|s| Resource::new(*s)).collect();
    let mut exp = store.in_process_exporter();
    let mut i = 0;
    while i < n {
        let batch: Vec<SpanData> = (i..(i + 512).min(n)).map(span_data).collect();
        let r = &resources[((i / 512) % 4) as usize];
        while exp.export(&batch, r).is_err() {
            std::thread::sleep(Duration::from_millis(1));
        }
        i += 512;
    }
    store.flush_blocking();
}

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

fn otlp_request(first: u64, n: u64) -> Vec<u8> {
    let kv = |k: &str, v: any_value::Value| PKeyValue {
        key: k.into(),
        value: Some(AnyValue { value: Some(v) }),
        ..Default::default()
    };
    let spans = (first..first + n)
        .map(|i| {
            let d = span_data(i);
            let t =
                |t: std::time::SystemTime| t.duration_since(UNIX_EPOCH).unwrap().as_nanos() as u64;
            PSpan {
                trace_id: d.span_context.trace_id().to_bytes().to_vec(),
                span_id: d.span_context.span_id().to_bytes().to_vec(),
                parent_span_id: if d.parent_span_id.is_valid() {
                    d.parent_span_id.to_bytes().to_vec()
                } else {
                    Vec::new()
                },
                name: d.name.to_string(),
                kind: if d.kind == SpanKind::Server { 2 } else { 3 },
                start_time_unix_nano: t(d.start_time),
                end_time_unix_nano: t(d.end_time),
                attributes: d
                    .attributes
                    .iter()
                    .map(|a| match &a.value {
                        tracewire::Value::I64(v) => kv(&a.key, any_value::Value::IntValue(*v)),
                        v => kv(&a.key, any_value::Value::StringValue(v.to_string())),
                    })
                    .collect(),
                status: Some(PStatus {
                    code: if d.status.is_error() { 2 } else { 0 },
                    message: String::new(),
                }),
                ..Default::default()
            }
        })
        .collect();
    ExportTraceServiceRequest {
        resource_spans: vec![ResourceSpans {
            resource: Some(PResource {
                attributes: vec![kv(
                    "service.name",
                    any_value::Value::StringValue("gateway".into()),
                )],
                ..Default::default()
            }),
            scope_spans: vec![ScopeSpans {
                spans,
                ..Default::default()
            }],
            ..Default::default()
        }],
    }
    .encode_to_vec()
}

/// A keep-alive HTTP/1.1 connection that posts one body and reads the answer.
struct Conn {
    s: TcpStream,
    buf: Vec<u8>,
}

impl Conn {
    fn new(addr: SocketAddr) -> Conn {
        let s = TcpStream::connect(addr).unwrap();
        s.set_nodelay(true).unwrap();
        Conn {
            s,
            buf: Vec::with_capacity(4096),
        }
    }

    fn post(&mut self, body: &[u8]) -> u16 {
        let head = format!(
            "POST /v1/traces HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/x-protobuf\r\nContent-Length: {}\r\n\r\n",
            body.len()
        );
        self.s.write_all(head.as_bytes()).unwrap();
        self.s.write_all(body).unwrap();
        self.buf.clear();
        let mut chunk = [0u8; 4096];
        loop {
            let n = self.s.read(&mut chunk).unwrap();
            assert!(n > 0, "connection closed");
            self.buf.extend_from_slice(&chunk[..n]);
            if let Some(end) = self.buf.windows(4).position(|w| w == b"\r\n\r\n") {
                let head = std::str::from_utf8(&self.buf[..end])
                    .unwrap()
                    .to_ascii_lowercase();
                let len: usize = head
                    .lines()
                    .find_map(|l| l.strip_prefix("content-length:"))
                    .map_or(0, |v| v.trim().parse().unwrap());
                while self.buf.len() < end + 4 + len {
                    let n = self.s.read(&mut chunk).unwrap();
                    self.buf.extend_from_slice(&chunk[..n]);
                }
                return head[9..12].parse().unwrap();
            }
        }
    }
}

fn otlp_http(c: &mut Criterion) {
    const PER_REQUEST: u64 = 512;
    const REQUESTS: u64 = 20;
    let bodies: Vec<Vec<u8>> = (0..REQUESTS)
        .map(|r| otlp_request(r * PER_REQUEST, PER_REQUEST))
        .collect();
    let handle = Collector::builder()
        .ephemeral_ports()
        .otlp_grpc_addr(None)
        .api_addr(None)
        .max_spans(1_000_000)
        .max_bytes(1 << 30)
        .start()
        .unwrap();
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
