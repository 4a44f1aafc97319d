//! Per-RPC overhead of the gRPC server and client layers against the same stack without them.
//!
//! Each iteration builds a unary gRPC request (one length-prefixed message, `traceparent` in
//! the metadata), calls the service with `oneshot`, and reads the response body to its
//! trailers. The inner service is a hand-written "handler" (server) or "channel" (client), so
//! the numbers show the layers' own cost: context extraction/injection, the span, the body
//! wrapper and the status recording. Spans are sampled and handed to a sink that drops them.

use std::future::Future;

use criterion::{Criterion, criterion_main};
use tower::Layer;
use tracewire::TracewireLayer;
use tracewire_tonic::{Grpc, GrpcClientLayer, GrpcServerLayer, SemconvStability};
use tracing_subscriber::layer::SubscriberExt;

use support::{Discard, Unary, call, channel, handler, request};

mod support;

fn block<F: Future>(rt: &tokio::runtime::Runtime, f: F) -> F::Output {
    rt.block_on(f)
}

fn benches(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let subscriber = tracing_subscriber::registry().with(TracewireLayer::builder().build(Discard));
    let _guard = tracing::subscriber::set_default(subscriber);
    block(&rt, async {});

    let mut g = c.benchmark_group("grpc_server");
    let bare = handler::<Unary>();
    g.bench_function("bare", |b| {
        b.iter(|| call(&rt, &bare, request(Unary::new(false))))
    });
    let traced = GrpcServerLayer::new()
        .protocol(Grpc::new().semconv(SemconvStability::Stable))
        .layer(handler());
    g.bench_function("layer", |b| {
        b.iter(|| call(&rt, &traced, request(Unary::new(false))))
    });
    let dup = GrpcServerLayer::new()
        .protocol(Grpc::new().semconv(SemconvStability::StableAndLegacy))
        .layer(handler());
    g.bench_function("layer_rpc_dup", |b| {
        b.iter(|| call(&rt, &dup, request(Unary::new(false))))
    });
    g.finish();

    let mut g = c.benchmark_group("grpc_client");
    // What a tonic client sends: its own body type around the message.
    let client_request = || request(tonic::body::Body::new(Unary::new(false)));
    let bare = channel();
    g.bench_function("bare", |b| b.iter(|| call(&rt, &bare, client_request())));
    let traced = GrpcClientLayer::new()
        .protocol(Grpc::new().semconv(SemconvStability::Stable))
        .layer(channel());
    g.bench_function("layer", |b| b.iter(|| call(&rt, &traced, client_request())));
    g.finish();
}

// `criterion_group!` generates an undocumented `pub fn`; a private module keeps it internal.
mod group {
    criterion::criterion_group!(grpc, super::benches);
}
use group::grpc;
criterion_main!(grpc);
