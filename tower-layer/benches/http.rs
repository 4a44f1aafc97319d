//! Per-request cost of the HTTP server and client layers against the same stack without them,
//! with the span sampled, unsampled, and disabled by a filter. Futures are polled inline with
//! a no-op waker (the inner service is immediately ready), so the numbers are the layers' own
//! work: extraction, span creation, injection, body wrapping and span end.
//!
//! `cargo bench -p tracewire-tower --bench http -- --warm-up-time 1 --measurement-time 3`

#![expect(
    missing_docs,
    reason = "criterion_group! generates an undocumented function"
)]

use bytes::Bytes;
use criterion::{Criterion, criterion_group, criterion_main};
use http::{Request, Response};
use http_body::Body;
use http_body_util::Full;
use tower::{Layer, Service};
use tracewire::TraceFlags;
use tracewire::TracewireLayer;
use tracewire::export::Pipeline;
use tracewire_tower::{HttpClientLayer, HttpServerLayer};
use tracing::Dispatch;
use tracing_subscriber::EnvFilter;
use tracing_subscriber::layer::SubscriberExt;

use support::{block, drain, handler, parent};

mod support;

const SAMPLED: &str = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
const UNSAMPLED: &str = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00";

fn request(traceparent: Option<&'static str>) -> Request<Full<Bytes>> {
    let mut b = Request::get("/users/7")
        .header("host", "api.local:8080")
        .header("user-agent", "bench/1.0");
    if let Some(tp) = traceparent {
        b = b.header("traceparent", tp);
    }
    b.body(Full::new(Bytes::new())).unwrap()
}

fn dispatch(filter: Option<&str>) -> Dispatch {
    let layer = TracewireLayer::builder().build(Pipeline::builder().build());
    let registry = tracing_subscriber::registry().with(layer);
    match filter {
        Some(f) => Dispatch::new(registry.with(EnvFilter::new(f))),
        None => Dispatch::new(registry),
    }
}

fn run<S>(svc: &mut S, req: Request<Full<Bytes>>)
where
    S: Service<Request<Full<Bytes>>>,
    S::Response: IntoBody,
    S::Error: std::fmt::Debug,
{
    let res = block(svc.call(req)).unwrap();
    res.drain();
}

trait IntoBody {
    fn drain(self);
}

impl<B: Body> IntoBody for Response<B> {
    fn drain(self) {
        drain(self.into_body());
    }
}

fn server(c: &mut Criterion) {
    let enabled = dispatch(None);
    let disabled = dispatch(Some("info,tracewire_tower=off"));
    let mut group = c.benchmark_group("server");
    tracing::dispatcher::with_default(&enabled, || {
        let mut bare = handler();
        group.bench_function("bare", |b| {
            b.iter(|| run(&mut bare, request(Some(SAMPLED))))
        });
        let mut traced = HttpServerLayer::new().layer(handler());
        group.bench_function("sampled", |b| {
            b.iter(|| run(&mut traced, request(Some(SAMPLED))))
        });
        group.bench_function("unsampled", |b| {
            b.iter(|| run(&mut traced, request(Some(UNSAMPLED))))
        });
    });
    tracing::dispatcher::with_default(&disabled, || {
        let mut traced = HttpServerLayer::new().layer(handler());
        group.bench_function("disabled", |b| {
            b.iter(|| run(&mut traced, request(Some(SAMPLED))))
        });
    });
    group.finish();
}

fn client(c: &mut Criterion) {
    let enabled = dispatch(None);
    let disabled = dispatch(Some("info,tracewire_tower=off"));
    let sampled = parent(TraceFlags::SAMPLED);
    let unsampled = parent(TraceFlags::NONE);
    let out = || {
        Request::get("http://ranking.local:8080/rank?city=paris")
            .body(Full::new(Bytes::new()))
            .unwrap()
    };
    let mut group = c.benchmark_group("client");
    tracing::dispatcher::with_default(&enabled, || {
        let mut bare = handler();
        group.bench_function("bare", |b| {
            b.iter(|| tracewire::scope(sampled.clone(), || run(&mut bare, out())))
        });
        let mut traced = HttpClientLayer::new().layer(handler());
        group.bench_function("sampled", |b| {
            b.iter(|| tracewire::scope(sampled.clone(), || run(&mut traced, out())))
        });
        group.bench_function("unsampled", |b| {
            b.iter(|| tracewire::scope(unsampled.clone(), || run(&mut traced, out())))
        });
    });
    tracing::dispatcher::with_default(&disabled, || {
        let mut traced = HttpClientLayer::new().layer(handler());
        group.bench_function("disabled", |b| {
            b.iter(|| tracewire::scope(sampled.clone(), || run(&mut traced, out())))
        });
    });
    group.finish();
}

criterion_group!(benches, server, client);
criterion_main!(benches);
