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

use std::convert::Infallible;
use std::hint::black_box;
use std::pin::pin;
use std::task::{Context, Poll, Waker};

use bytes::Bytes;
use criterion::{Criterion, criterion_group, criterion_main};
use http::{Request, Response};
use http_body::Body;
use http_body_util::Full;
use tower::{Layer, Service, service_fn};
use tracewire::TracewireLayer;
use tracewire::export::Pipeline;
use tracewire::{Context as TraceContext, SpanContext, SpanId, TraceFlags, TraceId, TraceState};
use tracewire_tower::{HttpClientLayer, HttpServerLayer};
use tracing::Dispatch;
use tracing_subscriber::EnvFilter;
use tracing_subscriber::layer::SubscriberExt;

const SAMPLED: &str = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
const UNSAMPLED: &str = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00";

fn block<F: Future>(f: F) -> F::Output {
    let mut f = pin!(f);
    let mut cx = Context::from_waker(Waker::noop());
    loop {
        if let Poll::Ready(v) = f.as_mut().poll(&mut cx) {
            return v;
        }
    }
}

fn drain<B: Body>(body: B) {
    let mut body = pin!(body);
    let mut cx = Context::from_waker(Waker::noop());
    while let Poll::Ready(Some(frame)) = body.as_mut().poll_frame(&mut cx) {
        black_box(frame.is_ok());
    }
}

fn request(traceparent: Option<&'static str>) -> Request<Full<Bytes>> {
    let mut b = Request::get("/users/7")
        .header("host", "api.local:8080")
        .header("user-agent", "bench/1.0");
    if let Some(tp) = traceparent {
        b = b.header("traceparent", tp);
    }
    b.body(Full::new(Bytes::new())).unwrap()
}

fn handler() -> impl Service<
    Request<Full<Bytes>>,
    Response = Response<Full<Bytes>>,
    Error = Infallible,
    Future = impl Future<Output = Result<Response<Full<Bytes>>, Infallible>>,
> + Clone {
    service_fn(|_req: Request<Full<Bytes>>| async {
        Ok::<_, Infallible>(Response::new(Full::new(Bytes::from_static(b"ok"))))
    })
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

fn parent(flags: TraceFlags) -> TraceContext {
    TraceContext::from_span_context(SpanContext::new(
        TraceId::from_u128(0x4bf9_2f35_77b3_4da6_a3ce_929d_0e0e_4736),
        SpanId::from_u64(0x00f0_67aa_0ba9_02b7),
        flags,
        TraceState::new(),
        true,
    ))
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
