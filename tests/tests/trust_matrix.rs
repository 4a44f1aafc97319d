//! Every request filter × trust policy × inbound sampled flag, on the HTTP and the gRPC server
//! layers (one table, one checker, both protocols): what the handler sees of the caller's
//! context while it runs and while its response body is polled, and which span is recorded.
//!
//! The point: a request the filter skips carries on no more of the caller's context than the
//! trust policy allows a traced one — with `RestartWithLink`, no trace id, flag or baggage.

use std::convert::Infallible;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context as TaskContext, Poll};

use bytes::Bytes;
use http::{HeaderMap, Request, Response};
use http_body::{Body, Frame};
use http_body_util::BodyExt;
use http_body_util::combinators::UnsyncBoxBody;
use tower::util::BoxService;
use tower::{Layer, Service, ServiceExt, service_fn};
use tracewire::Context;
use tracewire::testing::Recorder;
use tracewire_tonic::{Grpc, GrpcServerLayer, SemconvStability, SkipServices};
use tracewire_tower::{HttpServerLayer, SkipPaths, Trust};

const TRACE_ID: &str = "4bf92f3577b34da6a3ce929d0e0e4736";
const PARENT_ID: &str = "00f067aa0ba902b7";

/// What the handler sees of the caller's context.
#[derive(Debug, PartialEq, Eq)]
enum Seen {
    /// A recorded server span, child of the caller's span; the handler runs in it with the
    /// caller's baggage.
    ChildSpan,
    /// An unrecorded span continuing the caller's trace (its flag was honoured).
    UnsampledChild,
    /// A recorded new root linked to the caller's span; no caller baggage.
    LinkedRoot,
    /// No span: the handler runs with the caller's context, sampled flag as given.
    Inbound { sampled: bool },
    /// No span and nothing of the caller's context.
    Nothing,
}

use Seen::*;

/// (skipped by the filter, trust policy, caller sampled, what the handler sees)
const CASES: [(bool, Trust, bool, Seen); 12] = [
    (false, Trust::Continue, true, ChildSpan),
    (false, Trust::Continue, false, UnsampledChild),
    (false, Trust::IgnoreSampledFlag, true, ChildSpan),
    (false, Trust::IgnoreSampledFlag, false, ChildSpan),
    (false, Trust::RestartWithLink, true, LinkedRoot),
    (false, Trust::RestartWithLink, false, LinkedRoot),
    (true, Trust::Continue, true, Inbound { sampled: true }),
    (true, Trust::Continue, false, Inbound { sampled: false }),
    // Without a span no local decision is taken: the trace goes on, unsampled.
    (
        true,
        Trust::IgnoreSampledFlag,
        true,
        Inbound { sampled: false },
    ),
    (
        true,
        Trust::IgnoreSampledFlag,
        false,
        Inbound { sampled: false },
    ),
    (true, Trust::RestartWithLink, true, Nothing),
    (true, Trust::RestartWithLink, false, Nothing),
];

/// A response body that records `tracewire::current()` when first polled, then sends one data
/// frame and OK trailers (a valid gRPC response; HTTP ignores the trailers).
struct ProbeBody {
    seen: Arc<Mutex<Vec<Context>>>,
    step: u8,
}

impl Body for ProbeBody {
    type Data = Bytes;
    type Error = Infallible;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        _cx: &mut TaskContext<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Infallible>>> {
        self.step += 1;
        Poll::Ready(match self.step {
            1 => {
                self.seen.lock().unwrap().push(tracewire::current());
                Some(Ok(Frame::data(Bytes::from_static(b"\0\0\0\0\0"))))
            }
            2 => {
                let mut trailers = HeaderMap::new();
                trailers.insert("grpc-status", "0".parse().unwrap());
                Some(Ok(Frame::trailers(trailers)))
            }
            _ => None,
        })
    }
}

/// The handler: records `tracewire::current()` when called, and answers with a [`ProbeBody`].
type Handler = BoxService<Request<String>, Response<ProbeBody>, Infallible>;

/// The handler behind a server layer.
type Traced = BoxService<Request<String>, Response<UnsyncBoxBody<Bytes, Infallible>>, Infallible>;

/// Serves one request and returns what the handler saw, in its body and in its response
/// stream.
async fn observe(
    traced: impl FnOnce(Handler) -> Traced,
    path: &str,
    traceparent: &str,
) -> Vec<Context> {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let s = seen.clone();
    let handler = BoxService::new(service_fn(move |_req: Request<String>| {
        s.lock().unwrap().push(tracewire::current());
        let body = ProbeBody {
            seen: s.clone(),
            step: 0,
        };
        std::future::ready(Ok::<_, Infallible>(Response::new(body)))
    }));
    let req = Request::post(format!("http://server.local{path}"))
        .header("content-type", "application/grpc")
        .header("traceparent", traceparent)
        .header("baggage", "tenant=evil")
        .body(String::new())
        .unwrap();
    let res = traced(handler).oneshot(req).await.unwrap();
    res.into_body().collect().await.unwrap();
    let seen = seen.lock().unwrap();
    seen.clone()
}

/// What the recorded spans and the handler's context say happened.
fn classify(case: &str, recorder: &Recorder, cx: &Context) -> Seen {
    let spans = recorder.spans();
    match (spans.as_slice(), cx.span_context()) {
        ([], None) => {
            assert!(cx.baggage().is_empty(), "{case}: baggage leaked");
            Nothing
        }
        ([], Some(sc)) if sc.span_id().to_string() == PARENT_ID => {
            assert_eq!(sc.trace_id().to_string(), TRACE_ID, "{case}");
            assert_eq!(cx.baggage().get("tenant"), Some("evil"), "{case}");
            Inbound {
                sampled: sc.is_sampled(),
            }
        }
        ([], Some(sc)) => {
            assert_eq!(sc.trace_id().to_string(), TRACE_ID, "{case}");
            assert!(!sc.is_sampled(), "{case}");
            UnsampledChild
        }
        ([span], Some(sc)) => {
            assert_eq!(sc.span_id(), span.span_context.span_id(), "{case}");
            assert!(sc.is_sampled(), "{case}");
            if span.parent_span_id.to_string() == PARENT_ID {
                assert_eq!(span.span_context.trace_id().to_string(), TRACE_ID, "{case}");
                assert!(span.links.is_empty(), "{case}");
                assert_eq!(cx.baggage().get("tenant"), Some("evil"), "{case}");
                ChildSpan
            } else {
                assert!(!span.parent_span_id.is_valid(), "{case}");
                assert_ne!(span.span_context.trace_id().to_string(), TRACE_ID, "{case}");
                assert_eq!(span.links.len(), 1, "{case}");
                let link = &span.links[0].span_context;
                assert_eq!(link.span_id().to_string(), PARENT_ID, "{case}");
                assert!(cx.baggage().is_empty(), "{case}: baggage leaked");
                LinkedRoot
            }
        }
        other => panic!("{case}: unexpected {other:?}"),
    }
}

/// Runs every case through the server layer `traced` puts around the handler, on the
/// `[traced, skipped]` paths.
async fn matrix(protocol: &str, paths: [&str; 2], traced: impl Fn(Trust, Handler) -> Traced) {
    for (skipped, trust, sampled, expected) in CASES {
        let case = format!("{protocol}: skipped={skipped} {trust:?} sampled={sampled}");
        let recorder = Recorder::new();
        let _guard = recorder.set_default();
        let traceparent = format!("00-{TRACE_ID}-{PARENT_ID}-0{}", u8::from(sampled));
        let path = paths[usize::from(skipped)];
        let seen = observe(|handler| traced(trust, handler), path, &traceparent).await;
        // The handler and its response stream run in the same context.
        assert_eq!(seen.len(), 2, "{case}");
        assert_eq!(seen[0], seen[1], "{case}");
        assert_eq!(classify(&case, &recorder, &seen[0]), expected, "{case}");
    }
}

/// Boxes the response body, so both layers' services have one type.
fn boxed<S, B>(svc: S) -> Traced
where
    S: Service<Request<String>, Response = Response<B>, Error = Infallible> + Send + 'static,
    S::Future: Send + 'static,
    B: Body<Data = Bytes, Error = Infallible> + Send + 'static,
{
    BoxService::new(svc.map_response(|res: Response<B>| res.map(BodyExt::boxed_unsync)))
}

#[tokio::test]
async fn http_server_layer() {
    matrix("http", ["/work", "/health"], |trust, handler| {
        let layer = HttpServerLayer::new()
            .filter(SkipPaths::new(["/health"]))
            .trust(trust);
        boxed(layer.layer(handler))
    })
    .await;
}

#[tokio::test]
async fn grpc_server_layer() {
    let paths = ["/echo.Echo/UnaryEcho", "/grpc.health.v1.Health/Check"];
    matrix("grpc", paths, |trust, handler| {
        let layer = GrpcServerLayer::new()
            .protocol(Grpc::new().semconv(SemconvStability::Stable))
            .filter(SkipServices::health())
            .trust(trust);
        boxed(layer.layer(handler))
    })
    .await;
}
