use std::convert::Infallible;
use std::sync::{Arc, Mutex};

use http::HeaderMap;
use tower::{Layer, Service, ServiceBuilder, ServiceExt, service_fn};
use tracewire::testing::Recorder;
use tracewire::{Context, SpanKind, Status, TracewireLayer};
use tracing::Dispatch;
use tracing_subscriber::layer::SubscriberExt;

use crate::test_helpers::*;
use crate::{
    Grpc, GrpcClient, GrpcClientLayer, GrpcResponseBody, PropagationInterceptor, SemconvStability,
    SkipServices,
};

fn layer(semconv: SemconvStability) -> GrpcClientLayer {
    GrpcClientLayer::new().protocol(Grpc::new().semconv(semconv))
}

/// A fake channel: reads the whole request, remembers its headers, answers with `make()`.
fn channel(
    sent: Arc<Mutex<Vec<HeaderMap>>>,
    make: impl Fn() -> http::Response<Script> + Clone,
) -> impl Service<
    http::Request<Script>,
    Response = http::Response<Script>,
    Error = tonic::Status,
    Future = impl Future<Output = Result<http::Response<Script>, tonic::Status>>,
> + Clone {
    service_fn(move |req: http::Request<Script>| {
        let sent = sent.clone();
        let make = make.clone();
        async move {
            sent.lock().unwrap().push(req.headers().clone());
            drain(req.into_body()).await?;
            Ok(make())
        }
    })
}

fn ok_response(body: Script) -> http::Response<Script> {
    http::Response::builder()
        .header("content-type", "application/grpc")
        .body(body)
        .unwrap()
}

fn request(path: &str, body: Script) -> http::Request<Script> {
    http::Request::builder()
        .method("POST")
        .uri(path)
        .header("content-type", "application/grpc")
        .body(body)
        .unwrap()
}

async fn call<S>(svc: S, req: http::Request<Script>) -> Result<Option<HeaderMap>, tonic::Status>
where
    S: Service<
            http::Request<Script>,
            Response = http::Response<GrpcResponseBody<Script>>,
            Error = tonic::Status,
        >,
{
    let resp = svc.oneshot(req).await?;
    drain(resp.into_body()).await
}

/// One unary call through `svc`, on a fresh recorder.
fn unary<S>(svc: S) -> Recorder
where
    S: Service<
            http::Request<Script>,
            Response = http::Response<GrpcResponseBody<Script>>,
            Error = tonic::Status,
        >,
{
    let recorder = Recorder::new();
    let req = request("/echo.Echo/UnaryEcho", Script::unary_ok());
    run(&recorder, call(svc, req)).unwrap();
    recorder
}

fn traceparent_of(headers: &HeaderMap) -> String {
    headers["traceparent"].to_str().unwrap().to_owned()
}

#[test]
fn client_span_is_a_child_of_the_current_span_and_is_injected() {
    let recorder = Recorder::new();
    let sent = Arc::new(Mutex::new(Vec::new()));
    let svc = GrpcClientLayer::for_protocol(
        Grpc::new()
            .semconv(SemconvStability::Stable)
            .server_address("dispatch", Some(50051)),
    )
    .layer(channel(sent.clone(), || ok_response(Script::unary_ok())));
    run(&recorder, async {
        let parent = tracing::info_span!("ride.request");
        let _entered = parent.enter();
        let body = Script::new([Step::Data(message(b"a")), Step::Data(message(b"bc"))]);
        call(svc, request("/echo.Echo/ClientStream", body))
            .await
            .unwrap();
    });
    let parent = recorder.span("ride.request");
    let client = recorder.span("echo.Echo/ClientStream");
    client
        .assert_child_of(&parent)
        .assert_kind(SpanKind::Client)
        .assert_status(Status::Unset);
    // Exactly the current conventions' attributes, nothing more.
    let mut attrs: Vec<String> = client
        .data()
        .attributes
        .iter()
        .map(|kv| format!("{}={}", kv.key, kv.value))
        .collect();
    attrs.sort();
    assert_eq!(
        attrs,
        [
            "rpc.method=echo.Echo/ClientStream",
            "rpc.response.status_code=OK",
            "rpc.system.name=grpc",
            "server.address=dispatch",
            "server.port=50051",
        ]
    );
    assert_eq!(
        traceparent_of(&sent.lock().unwrap()[0]),
        format!("00-{}-{}-03", client.trace_id(), client.span_id())
    );
}

#[test]
fn status_table_every_non_ok_code_is_an_error() {
    for code in 0..=16_i32 {
        for trailers_only in [true, false] {
            let recorder = Recorder::new();
            let sent = Arc::new(Mutex::new(Vec::new()));
            let svc = layer(SemconvStability::StableAndLegacy).layer(channel(sent, move || {
                if trailers_only {
                    let mut r = ok_response(Script::empty());
                    r.headers_mut().extend(trailers(code, Some("nope")));
                    r
                } else {
                    ok_response(Script::new([Step::Trailers(trailers(code, Some("nope")))]))
                }
            }));
            run(
                &recorder,
                call(svc, request("/echo.Echo/UnaryEcho", Script::unary_ok())),
            )
            .unwrap();
            let span = recorder.span("echo.Echo/UnaryEcho");
            span.assert_attr(
                "rpc.response.status_code",
                crate::code_name(code).into_owned(),
            )
            .assert_attr("rpc.grpc.status_code", i64::from(code))
            .assert_attr("rpc.system", "grpc")
            .assert_attr("rpc.service", "echo.Echo");
            if code == 0 {
                span.assert_no_attr("error.type")
                    .assert_status(Status::Unset);
            } else {
                span.assert_attr("error.type", crate::code_name(code).into_owned())
                    .assert_status(Status::error("nope"));
            }
        }
    }
}

#[test]
fn http_status_without_grpc_status_is_mapped() {
    let svc = GrpcClientLayer::new().layer(channel(Arc::default(), || {
        let mut r = ok_response(Script::empty());
        *r.status_mut() = http::StatusCode::SERVICE_UNAVAILABLE;
        r
    }));
    unary(svc)
        .span("echo.Echo/UnaryEcho")
        .assert_attr("rpc.response.status_code", "UNAVAILABLE")
        .assert_attr("error.type", "UNAVAILABLE");
}

#[test]
fn transport_error_and_cancellation() {
    let recorder = Recorder::new();
    let failing = service_fn(|_req: http::Request<Script>| async {
        Err::<http::Response<Script>, _>(tonic::Status::unavailable("connection refused"))
    });
    let pending = service_fn(|_req: http::Request<Script>| {
        std::future::pending::<Result<http::Response<Script>, Infallible>>()
    });
    run(&recorder, async {
        let err = GrpcClientLayer::new()
            .layer(failing)
            .oneshot(request("/e.E/Down", Script::unary_ok()))
            .await
            .unwrap_err();
        assert_eq!(err.code(), tonic::Code::Unavailable);
        let mut svc = GrpcClientLayer::new().layer(pending);
        drop(svc.call(request("/e.E/Dropped", Script::unary_ok())));
    });
    recorder
        .span("e.E/Down")
        .assert_attr("rpc.response.status_code", "UNAVAILABLE")
        .assert_attr("error.type", "UNAVAILABLE")
        .assert_status(Status::error("connection refused"));
    recorder
        .span("e.E/Dropped")
        .assert_attr("rpc.response.status_code", "CANCELLED")
        .assert_attr("error.type", "CANCELLED")
        .assert_status(Status::error("CANCELLED"));
}

#[test]
fn filtered_or_disabled_client_span_still_injects_the_current_context() {
    let remote: Context = tracewire::propagation::Propagators::w3c()
        .extract(&{
            let mut h = HeaderMap::new();
            h.insert("traceparent", TRACEPARENT.parse().unwrap());
            h
        })
        .unwrap();
    // Filtered out: no span, the ambient context is injected as is.
    let recorder = Recorder::new();
    let sent = Arc::new(Mutex::new(Vec::new()));
    let svc = GrpcClientLayer::new()
        .filter(SkipServices::health())
        .layer(channel(sent.clone(), || ok_response(Script::unary_ok())));
    run(
        &recorder,
        tracewire::FutureExt::in_context(
            call(
                svc,
                request("/grpc.health.v1.Health/Check", Script::unary_ok()),
            ),
            remote.clone(),
        ),
    )
    .unwrap();
    assert!(recorder.spans().is_empty());
    assert_eq!(traceparent_of(&sent.lock().unwrap()[0]), TRACEPARENT);

    // Disabled by a `tracing` filter: the enclosing span's context is injected.
    let recorder = Recorder::with_layer_and(TracewireLayer::builder(), |s| {
        Dispatch::new(s.with(tracing_subscriber::filter::filter_fn(|meta| {
            meta.target() != "tracewire_tonic"
        })))
    });
    let sent = Arc::new(Mutex::new(Vec::new()));
    let svc =
        GrpcClientLayer::new().layer(channel(sent.clone(), || ok_response(Script::unary_ok())));
    run(&recorder, async {
        let parent = tracing::info_span!("ride.request");
        let _entered = parent.enter();
        call(svc, request("/echo.Echo/UnaryEcho", Script::unary_ok()))
            .await
            .unwrap();
    });
    let parent = recorder.span("ride.request");
    assert_eq!(recorder.spans().len(), 1);
    assert_eq!(
        traceparent_of(&sent.lock().unwrap()[0]),
        format!("00-{}-{}-03", parent.trace_id(), parent.span_id())
    );
}

#[test]
fn dropped_response_stream_is_cancelled() {
    let recorder = Recorder::new();
    let svc = GrpcClientLayer::new().layer(channel(Arc::default(), || {
        ok_response(Script::two_messages())
    }));
    let req = request("/echo.Echo/ServerStream", Script::unary_ok());
    run(&recorder, cancel_after_one_frame(svc, req, || {}));
    recorder
        .span("echo.Echo/ServerStream")
        .assert_attr("rpc.response.status_code", "CANCELLED");
}

#[test]
fn interceptor_injects_the_current_span() {
    use tonic::service::Interceptor;
    let recorder = Recorder::new();
    let headers = recorder.in_scope(|| {
        let span = tracing::info_span!("caller");
        let _entered = span.enter();
        let req = PropagationInterceptor::new()
            .call(tonic::Request::new(()))
            .unwrap();
        req.metadata().as_ref().clone()
    });
    let caller = recorder.span("caller");
    assert_eq!(
        traceparent_of(&headers),
        format!("00-{}-{}-03", caller.trace_id(), caller.span_id())
    );
    // With another format.
    let headers = recorder.in_scope(|| {
        let span = tracing::info_span!("caller2");
        let _entered = span.enter();
        PropagationInterceptor::new()
            .with_propagators(tracewire::propagation::Propagators::from_names("b3").unwrap())
            .call(tonic::Request::new(()))
            .unwrap()
            .metadata()
            .as_ref()
            .clone()
    });
    assert!(headers.get("traceparent").is_none());
    assert!(headers.get("b3").is_some());
}

#[test]
fn server_address_from_the_uri_replaces_caller_trace_metadata() {
    let recorder = Recorder::new();
    let sent = Arc::new(Mutex::new(Vec::new()));
    let svc = GrpcClientLayer::for_protocol(Grpc::new().server_address("configured", Some(1)))
        .layer(channel(sent.clone(), || ok_response(Script::unary_ok())));
    let mut req = request("http://[::1]:50051/echo.Echo/UnaryEcho", Script::unary_ok());
    req.headers_mut().insert(
        "traceparent",
        "00-11111111111111111111111111111111-2222222222222222-01"
            .parse()
            .unwrap(),
    );
    req.headers_mut()
        .insert("tracestate", "forged=1".parse().unwrap());
    run(&recorder, call(svc, req)).unwrap();
    let span = recorder.span("echo.Echo/UnaryEcho");
    span.assert_root()
        .assert_attr("server.address", "::1")
        .assert_attr("server.port", 50051_i64);
    let sent = sent.lock().unwrap();
    assert_eq!(
        traceparent_of(&sent[0]),
        format!("00-{}-{}-03", span.trace_id(), span.span_id())
    );
    assert!(sent[0].get("tracestate").is_none());
}

#[test]
fn server_address_from_the_endpoint() {
    let uri: http::Uri = "https://dispatch.internal".parse().unwrap();
    let svc = GrpcClientLayer::for_protocol(Grpc::new().server_uri(&uri))
        .layer(channel(Arc::default(), || ok_response(Script::unary_ok())));
    unary(svc)
        .span("echo.Echo/UnaryEcho")
        .assert_attr("server.address", "dispatch.internal")
        .assert_attr("server.port", 443_i64);

    // A channel from `connect_lazy` knows its endpoint; here nothing listens there.
    let recorder = Recorder::new();
    run(&recorder, async {
        let endpoint = tonic::transport::Endpoint::from_static("http://127.0.0.1:1");
        let client = crate::connect_lazy(&endpoint);
        let req = http::Request::post("/echo.Echo/UnaryEcho")
            .header("content-type", "application/grpc")
            .body(tonic::body::Body::empty())
            .unwrap();
        client.oneshot(req).await.unwrap_err();
    });
    recorder
        .span("echo.Echo/UnaryEcho")
        .assert_attr("server.address", "127.0.0.1")
        .assert_attr("server.port", 1_i64)
        .assert_attr("error.type", "tonic::transport::error::Error");
}

#[test]
fn public_types_are_send_sync() {
    assert_send_sync::<GrpcClientLayer>();
    assert_send_sync::<GrpcClient<tonic::transport::Channel>>();
    assert_send_sync::<PropagationInterceptor>();
    assert_send::<
        crate::GrpcResponseFuture<
            <tonic::transport::Channel as Service<http::Request<tonic::body::Body>>>::Future,
        >,
    >();
    run(&Recorder::new(), async {
        let _svc = ServiceBuilder::new()
            .layer(GrpcClientLayer::new())
            .service(tonic::transport::Channel::from_static("http://127.0.0.1:1").connect_lazy());
    });
}
