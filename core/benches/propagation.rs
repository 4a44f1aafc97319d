//! Propagation micro-benchmarks: `traceparent` extract, inject and extract+inject on an
//! `http::HeaderMap`, and parsing a 64-member `baggage` header.
//!
//! The `baseline` group measures a bare `HeaderMap` insert+get of the same `traceparent` value in
//! the same run, so results can be reported as ratios, which travel between machines better than
//! absolute numbers. Run with
//! `cargo bench -p tracewire --bench propagation -- --warm-up-time 1 --measurement-time 3`.

use std::hint::black_box;

use criterion::Criterion;
use http::header::HeaderName;
use http::{HeaderMap, HeaderValue};
use tracewire::propagation::{BaggagePropagator, Propagator, Propagators, TraceContextPropagator};
use tracewire::{Baggage, Context};

use headers::inbound;

#[path = "support/headers.rs"]
mod headers;

const TRACEPARENT: &str = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";

fn baseline(c: &mut Criterion) {
    let mut g = c.benchmark_group("baseline");
    let name = HeaderName::from_static("traceparent");
    let value = HeaderValue::from_static(TRACEPARENT);
    let mut out = HeaderMap::new();
    // `value` is a `from_static` value: cloning it copies a pointer and allocates nothing, so
    // this is a hashed insert plus a hashed `get` and no more.
    g.bench_function("headermap_insert_get", |b| {
        b.iter(|| {
            out.insert(name.clone(), black_box(value.clone()));
            black_box(out.get("traceparent").map(HeaderValue::len))
        })
    });
    // The same, but building the value from bytes as an injector must.
    g.bench_function("headermap_insert_from_bytes_get", |b| {
        b.iter(|| {
            let v = HeaderValue::from_bytes(black_box(TRACEPARENT.as_bytes())).unwrap();
            out.insert(name.clone(), v);
            black_box(out.get("traceparent").map(HeaderValue::len))
        })
    });
    g.finish();
}

fn traceparent(c: &mut Criterion) {
    let mut g = c.benchmark_group("traceparent");
    let crowded = inbound(TRACEPARENT, 300);
    let inbound = inbound(TRACEPARENT, 0);
    let bare = TraceContextPropagator::new();
    let w3c = Propagators::w3c();
    let cx = w3c.extract(&inbound).unwrap();
    let mut out = HeaderMap::new();

    g.bench_function("extract/bare", |b| {
        b.iter(|| {
            let mut cx = Context::new();
            let found = bare.extract(black_box(&inbound), &mut cx);
            black_box((found, cx))
        })
    });
    g.bench_function("extract/w3c", |b| {
        b.iter(|| black_box(w3c.extract(black_box(&inbound))))
    });
    g.bench_function("inject/bare", |b| {
        b.iter(|| bare.inject(black_box(&cx), &mut out))
    });
    g.bench_function("inject/w3c", |b| {
        b.iter(|| w3c.inject(black_box(&cx), &mut out))
    });
    g.bench_function("extract_inject/bare", |b| {
        b.iter(|| {
            let mut cx = Context::new();
            let _ = bare.extract(black_box(&inbound), &mut cx);
            bare.inject(&cx, &mut out);
        })
    });
    g.bench_function("extract_inject/w3c", |b| {
        b.iter(|| {
            let cx = w3c.extract(black_box(&inbound)).unwrap_or_default();
            w3c.inject(&cx, &mut out);
        })
    });
    // The same among 300 other headers: the cost when a peer sends many.
    g.bench_function("extract_inject/w3c_300_headers", |b| {
        b.iter(|| {
            let cx = w3c.extract(black_box(&crowded)).unwrap_or_default();
            w3c.inject(&cx, &mut out);
        })
    });
    g.finish();
}

fn baggage(c: &mut Criterion) {
    let mut g = c.benchmark_group("baggage");
    let header: String = (0..64)
        .map(|i| format!("key{i:02}=value{i:02}"))
        .collect::<Vec<_>>()
        .join(",");
    let mut h = HeaderMap::new();
    h.insert("baggage", HeaderValue::from_str(&header).unwrap());
    let (bag, dropped) = Baggage::parse_values([header.as_bytes()]);
    assert_eq!((bag.len(), dropped), (64, 0));

    g.bench_function("parse_64/parse_values", |b| {
        b.iter(|| black_box(Baggage::parse_values([black_box(header.as_bytes())])))
    });
    g.bench_function("parse_64/extract", |b| {
        b.iter(|| {
            let mut cx = Context::new();
            let found = BaggagePropagator::new().extract(black_box(&h), &mut cx);
            black_box((found, cx))
        })
    });
    g.finish();
}

// What `criterion_group!`/`criterion_main!` expand to, written out so the entry point is not an
// undocumented public function.
fn main() {
    let mut c = Criterion::default().configure_from_args();
    baseline(&mut c);
    traceparent(&mut c);
    baggage(&mut c);
    c.final_summary();
}
