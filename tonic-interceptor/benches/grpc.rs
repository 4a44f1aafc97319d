//! Per-RPC overhead of the gRPC server and client layers against the same stack without them.
//!
//! Each iteration builds a unary gRPC request (one length-prefixed message, `traceparent` in
//! the metadata), calls the service with `oneshot`, and reads the response body to its
//! trailers. The inner service is a hand-written "handler" (server) or "channel" (client), so
//! the numbers show the layers' own cost: context extraction/injection, the span, the body
//! wrapper and the status recording. Spans are sampled and handed to a sink that drops them.

use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::{BufMut, Bytes, BytesMut};
use criterion::{Criterion, criterion_main};
use http::HeaderMap;
use http_body::{Body, Frame};
use tower::{Layer, Service, ServiceExt, service_fn};
use tracewire::export::SpanSink;
use tracewire::{SpanData, TracewireLayer};
use tracewire_tonic::{Grpc, GrpcClientLayer, GrpcServerLayer, SemconvStability};
use tracing_subscriber::layer::SubscriberExt;

const TRACEPARENT: &str = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";

struct Discard;

impl SpanSink for Discard {
    fn on_end(&self, span: SpanData) {
        std::hint::black_box(span);
    }
}

/// A unary gRPC body: one message, then `grpc-status: 0` trailers.
struct Unary {
    message: Option<Bytes>,
    trailers: Option<HeaderMap>,
}

impl Unary {
    fn new(with_trailers: bool) -> Self {
        let mut b = BytesMut::with_capacity(5 + 16);
        b.put_u8(0);
        b.put_u32(16);
        b.put_slice(&[7; 16]);
        let trailers = with_trailers.then(|| {
            let mut h = HeaderMap::new();
            h.insert("grpc-status", http::HeaderValue::from_static("0"));
            h
        });
        Unary {
            message: Some(b.freeze()),
            trailers,
        }
    }
}

impl Body for Unary {
    type Data = Bytes;
    type Error = tonic::Status;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, tonic::Status>>> {
        Poll::Ready(if let Some(m) = self.message.take() {
            Some(Ok(Frame::data(m)))
        } else {
            self.trailers.take().map(|t| Ok(Frame::trailers(t)))
        })
    }

    fn is_end_stream(&self) -> bool {
        self.message.is_none() && self.trailers.is_none()
    }
}

fn request<B>(body: B) -> http::Request<B> {
    http::Request::builder()
        .method("POST")
        .uri("/echo.Echo/UnaryEcho")
        .header("content-type", "application/grpc")
        .header("te", "trailers")
        .header("traceparent", TRACEPARENT)
        .body(body)
        .unwrap()
}

fn response() -> http::Response<Unary> {
    http::Response::builder()
        .header("content-type", "application/grpc")
        .body(Unary::new(true))
        .unwrap()
}

async fn drain<B: Body + Unpin>(mut body: B) {
    while let Some(frame) = std::future::poll_fn(|cx| Pin::new(&mut body).poll_frame(cx)).await {
        std::hint::black_box(frame.ok());
    }
}

/// A server handler: reads the request body, answers with one message and trailers.
fn handler<B: Body<Data = Bytes> + Unpin + Send>()
-> impl Service<http::Request<B>, Response = http::Response<Unary>, Error = Infallible> + Clone {
    service_fn(|req: http::Request<B>| async move {
        drain(req.into_body()).await;
        Ok::<_, Infallible>(response())
    })
}

/// A client "channel": reads the request body, answers like a server.
fn channel()
-> impl Service<http::Request<tonic::body::Body>, Response = http::Response<Unary>, Error = Infallible>
+ Clone {
    service_fn(|req: http::Request<tonic::body::Body>| async move {
        drain(req.into_body()).await;
        Ok::<_, Infallible>(response())
    })
}

fn call<S, Req, B>(rt: &tokio::runtime::Runtime, svc: &S, req: Req) -> impl Sized
where
    S: Service<Req, Response = http::Response<B>> + Clone,
    S::Error: std::fmt::Debug,
    B: Body + Unpin,
{
    let svc = svc.clone();
    rt.block_on(async move {
        let resp = svc.oneshot(req).await.unwrap();
        drain(resp.into_body()).await;
    })
}

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
