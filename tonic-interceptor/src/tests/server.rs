use std::convert::Infallible;
use std::sync::{Arc, Mutex};

use tower::{Layer, Service, ServiceBuilder, ServiceExt, service_fn};
use tracewire::testing::Recorder;
use tracewire::{Context, SpanKind, Status, TracewireLayer};
use tracing::Dispatch;
use tracing_subscriber::layer::SubscriberExt;

use crate::test_helpers::*;
use crate::{
    Grpc, GrpcResponseBody, GrpcServer, GrpcServerLayer, RequestFilter, RpcPath, SemconvStability,
    SkipServices, TraceRpcs, Trust, TrustPolicy,
};
use tracewire_tower::MakeSpanName;

fn layer(semconv: SemconvStability) -> GrpcServerLayer {
    GrpcServerLayer::new().protocol(Grpc::new().semconv(semconv))
}

fn request(path: &str, headers: &[(&str, &str)], body: Script) -> http::Request<Script> {
    let mut req = http::Request::builder()
        .method("POST")
        .uri(format!("http://dispatch.internal:50051{path}"))
        .header("content-type", "application/grpc")
        .header("te", "trailers");
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    req.body(body).unwrap()
}

fn ok_response(body: Script) -> http::Response<Script> {
    http::Response::builder()
        .header("content-type", "application/grpc")
        .body(body)
        .unwrap()
}

fn trailers_only(code: i32, message: Option<&str>) -> http::Response<Script> {
    let mut resp = ok_response(Script::empty());
    resp.headers_mut().extend(trailers(code, message));
    resp
}

/// A handler that reads the whole request, then answers with `make()`.
fn handler(
    make: impl Fn() -> http::Response<Script> + Clone,
) -> impl tower::Service<
    http::Request<Script>,
    Response = http::Response<Script>,
    Error = Infallible,
    Future = impl Future<Output = Result<http::Response<Script>, Infallible>>,
> + Clone {
    service_fn(move |req: http::Request<Script>| {
        let make = make.clone();
        async move {
            drain(req.into_body()).await.unwrap();
            Ok::<_, Infallible>(make())
        }
    })
}

async fn call<S>(svc: S, req: http::Request<Script>) -> Option<http::HeaderMap>
where
    S: tower::Service<http::Request<Script>, Response = http::Response<GrpcResponseBody<Script>>>,
    S::Error: std::fmt::Debug,
{
    let resp = svc.oneshot(req).await.unwrap();
    drain(resp.into_body()).await.ok().flatten()
}

#[test]
fn unary_span_has_name_kind_attributes_and_remote_parent() {
    let recorder = Recorder::new();
    let svc = layer(SemconvStability::Stable).layer(handler(|| ok_response(Script::unary_ok())));
    let trailers = run(
        &recorder,
        call(
            svc,
            request(
                "/echo.Echo/UnaryEcho",
                &[("traceparent", TRACEPARENT)],
                Script::unary_ok(),
            ),
        ),
    );
    assert_eq!(trailers.unwrap()["grpc-status"], "0");
    let span = recorder.span("echo.Echo/UnaryEcho");
    span.assert_kind(SpanKind::Server)
        .assert_remote_parent(PARENT_TRACE.parse().unwrap(), PARENT_SPAN.parse().unwrap())
        .assert_attr("rpc.system.name", "grpc")
        .assert_attr("rpc.method", "echo.Echo/UnaryEcho")
        .assert_attr("rpc.response.status_code", "OK")
        .assert_attr("server.address", "dispatch.internal")
        .assert_attr("server.port", 50051_i64)
        .assert_no_attr("error.type")
        .assert_no_attr("rpc.system")
        .assert_no_attr("rpc.service")
        .assert_no_attr("rpc.grpc.status_code")
        .assert_no_attr("rpc.method_original")
        .assert_status(Status::Unset);
    assert_eq!(span.data().target, "tracewire_tonic");
}

#[test]
fn status_table_trailers_only_every_code() {
    let errors = [2, 4, 12, 13, 14, 15];
    for code in 0..=16 {
        let recorder = Recorder::new();
        let svc = layer(SemconvStability::StableAndLegacy)
            .layer(handler(move || trailers_only(code, Some("went%20wrong"))));
        let got = run(
            &recorder,
            call(
                svc,
                request("/echo.Echo/UnaryEcho", &[], Script::unary_ok()),
            ),
        );
        assert_eq!(got, None, "trailers-only responses have no trailers");
        let span = recorder.span("echo.Echo/UnaryEcho");
        span.assert_attr(
            "rpc.response.status_code",
            crate::code_name(code).into_owned(),
        )
        .assert_attr("rpc.grpc.status_code", i64::from(code));
        if errors.contains(&code) {
            span.assert_attr("error.type", crate::code_name(code).into_owned())
                .assert_status(Status::error("went wrong"));
        } else {
            span.assert_no_attr("error.type")
                .assert_status(Status::Unset);
        }
    }
}

#[test]
fn status_from_trailers_at_end_of_stream() {
    let recorder = Recorder::new();
    let svc = GrpcServerLayer::new().layer(handler(|| {
        ok_response(Script::new([
            Step::Data(message(b"a")),
            Step::Data(message(b"b")),
            Step::Trailers(trailers(13, Some("db%20gone"))),
        ]))
    }));
    let trailers = run(
        &recorder,
        call(
            svc,
            request("/echo.Echo/ServerStream", &[], Script::unary_ok()),
        ),
    );
    assert_eq!(trailers.unwrap()["grpc-status"], "13");
    recorder
        .span("echo.Echo/ServerStream")
        .assert_attr("rpc.response.status_code", "INTERNAL")
        .assert_attr("error.type", "INTERNAL")
        .assert_status(Status::error("db gone"));
}

#[test]
fn missing_status_is_unknown_and_body_error_keeps_its_code() {
    let recorder = Recorder::new();
    let svc = GrpcServerLayer::new().layer(handler(|| {
        ok_response(Script::new([Step::Data(message(b"a"))]))
    }));
    run(
        &recorder,
        call(
            svc,
            request("/echo.Echo/NoTrailers", &[], Script::unary_ok()),
        ),
    );
    recorder
        .span("echo.Echo/NoTrailers")
        .assert_attr("rpc.response.status_code", "UNKNOWN")
        .assert_status(Status::error("UNKNOWN"));

    let svc = GrpcServerLayer::new().layer(handler(|| {
        ok_response(Script::new([Step::Error(tonic::Status::data_loss("torn"))]))
    }));
    let resp = run(&recorder, async {
        let resp = svc
            .oneshot(request("/echo.Echo/Torn", &[], Script::unary_ok()))
            .await
            .unwrap();
        drain(resp.into_body()).await
    });
    assert_eq!(resp.unwrap_err().code(), tonic::Code::DataLoss);
    recorder
        .span("echo.Echo/Torn")
        .assert_attr("error.type", "DATA_LOSS")
        .assert_status(Status::error("torn"));
}

#[test]
fn legacy_names_with_dup() {
    let recorder = Recorder::new();
    let svc =
        layer(SemconvStability::StableAndLegacy).layer(handler(|| ok_response(Script::unary_ok())));
    run(
        &recorder,
        call(
            svc,
            request("/ride.v1.Dispatch/Find", &[], Script::unary_ok()),
        ),
    );
    recorder
        .span("ride.v1.Dispatch/Find")
        .assert_attr("rpc.system.name", "grpc")
        .assert_attr("rpc.system", "grpc")
        .assert_attr("rpc.service", "ride.v1.Dispatch")
        .assert_attr("rpc.method", "ride.v1.Dispatch/Find")
        .assert_attr("rpc.grpc.status_code", 0_i64)
        .assert_attr("rpc.response.status_code", "OK");
}

#[test]
fn bad_metadata_never_fails_the_rpc() {
    let long = format!("{TRACEPARENT}{}", "x".repeat(10_000));
    let cases: [&[(&str, &str)]; 4] = [
        &[("traceparent", "00-zz-yy-01")],
        &[("traceparent", long.as_str()), ("tracestate", "a=1")],
        &[
            (
                "traceparent-bin",
                "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8",
            ),
            (
                "grpc-trace-bin",
                "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8",
            ),
        ],
        &[("baggage", &"k=v,".repeat(5000))],
    ];
    for headers in cases {
        let recorder = Recorder::new();
        let svc = GrpcServerLayer::new().layer(handler(|| ok_response(Script::unary_ok())));
        let trailers = run(
            &recorder,
            call(
                svc,
                request("/echo.Echo/UnaryEcho", headers, Script::unary_ok()),
            ),
        );
        assert_eq!(trailers.unwrap()["grpc-status"], "0", "{headers:?}");
        recorder
            .span("echo.Echo/UnaryEcho")
            .assert_root()
            .assert_attr("rpc.response.status_code", "OK");
    }
}

/// What a handler answers when it records what `tracewire::current()` is while it runs and
/// while its response stream is polled, opening a span in each place. (Run by [`handler`]
/// inside the handler's future, after the request is read.)
fn observing(seen: Arc<Mutex<Vec<Context>>>) -> impl Fn() -> http::Response<Script> + Clone {
    move || {
        seen.lock().unwrap().push(tracewire::current());
        let _work = tracing::info_span!("handler.lookup").entered();
        let seen = seen.clone();
        ok_response(Script::new([
            Step::Run(Box::new(move || {
                seen.lock().unwrap().push(tracewire::current());
                let _s = tracing::info_span!("handler.stream_item").entered();
            })),
            Step::Data(message(b"x")),
            Step::Trailers(trailers(0, None)),
        ]))
    }
}

/// Serves one RPC to `path`, from a sampled caller, through `layer` around the [`observing`]
/// handler; returns the contexts the handler saw.
fn observe<N, F, T>(
    recorder: &Recorder,
    layer: GrpcServerLayer<N, F, T>,
    path: &str,
) -> Vec<Context>
where
    N: MakeSpanName + Clone,
    F: RequestFilter + Clone,
    T: TrustPolicy + Clone,
{
    let seen = Arc::new(Mutex::new(Vec::new()));
    let svc = layer.layer(handler(observing(seen.clone())));
    let req = request(path, &[("traceparent", TRACEPARENT)], Script::unary_ok());
    run(recorder, call(svc, req));
    let seen = seen.lock().unwrap();
    seen.clone()
}

#[test]
fn handler_work_while_streaming_stays_in_the_trace() {
    let recorder = Recorder::new();
    let seen = observe(&recorder, GrpcServerLayer::new(), "/echo.Echo/ServerStream");
    let server = recorder.span("echo.Echo/ServerStream");
    recorder.span("handler.lookup").assert_child_of(&server);
    recorder
        .span("handler.stream_item")
        .assert_child_of(&server);
    assert_eq!(seen.len(), 2);
    for cx in &seen {
        assert_eq!(cx.span_id(), Some(server.span_id()));
    }
}

#[test]
fn filtered_rpc_has_no_span_but_keeps_the_context() {
    let recorder = Recorder::new();
    let layer = GrpcServerLayer::new().filter(SkipServices::health());
    let seen = observe(&recorder, layer, "/grpc.health.v1.Health/Check");
    assert!(
        recorder
            .spans_named("grpc.health.v1.Health/Check")
            .is_empty()
    );
    assert_in_callers_context(&recorder, &seen);
}

/// Without a server span, the handler (while it runs and while its stream is polled) and its
/// own spans continue the caller's trace.
fn assert_in_callers_context(recorder: &Recorder, seen: &[Context]) {
    for name in ["handler.lookup", "handler.stream_item"] {
        recorder
            .span(name)
            .assert_remote_parent(PARENT_TRACE.parse().unwrap(), PARENT_SPAN.parse().unwrap());
    }
    assert_eq!(seen.len(), 2);
    for cx in seen {
        assert_eq!(cx.span_id().unwrap().to_string(), PARENT_SPAN);
    }
}

#[test]
fn closure_filter() {
    let recorder = Recorder::new();
    let svc = GrpcServerLayer::new()
        .filter(TraceRpcs::new(|rpc: &RpcPath<'_>| rpc.method() != "Ping"))
        .layer(handler(|| ok_response(Script::unary_ok())));
    run(&recorder, async {
        call(
            svc.clone(),
            request("/echo.Echo/Ping", &[], Script::unary_ok()),
        )
        .await;
        call(svc, request("/echo.Echo/Pong", &[], Script::unary_ok())).await;
    });
    let names: Vec<_> = recorder.spans().into_iter().map(|s| s.name).collect();
    assert_eq!(names, ["echo.Echo/Pong"]);
}

#[test]
fn disabled_span_still_propagates() {
    // The server span is disabled by a per-layer filter; the handler's spans are not.
    let recorder = Recorder::with_layer_and(TracewireLayer::builder(), |s| {
        Dispatch::new(s.with(tracing_subscriber::filter::filter_fn(|meta| {
            meta.target() != "tracewire_tonic"
        })))
    });
    let seen = observe(&recorder, GrpcServerLayer::new(), "/echo.Echo/ServerStream");
    assert!(recorder.spans_named("echo.Echo/ServerStream").is_empty());
    assert_in_callers_context(&recorder, &seen);
}

#[test]
fn trust_closure_per_request() {
    let recorder = Recorder::new();
    let svc = GrpcServerLayer::new()
        .trust(|parts: &http::request::Parts| {
            if parts.headers.contains_key("x-internal") {
                Trust::Continue
            } else {
                Trust::RestartWithLink
            }
        })
        .layer(handler(|| ok_response(Script::unary_ok())));
    run(&recorder, async {
        let internal = &[("traceparent", TRACEPARENT), ("x-internal", "1")];
        call(
            svc.clone(),
            request("/e.E/Internal", internal, Script::unary_ok()),
        )
        .await;
        let public = &[("traceparent", TRACEPARENT)];
        call(svc, request("/e.E/Public", public, Script::unary_ok())).await;
    });
    recorder
        .span("e.E/Internal")
        .assert_remote_parent(PARENT_TRACE.parse().unwrap(), PARENT_SPAN.parse().unwrap());
    recorder.span("e.E/Public").assert_root();
}

#[test]
fn span_name_hook_metadata_allowlist_and_traceresponse() {
    let recorder = Recorder::new();
    let svc = GrpcServerLayer::new()
        .span_name(|parts: &http::request::Parts, method: Option<&str>| {
            format!("{} via {}", method.unwrap_or("?"), parts.method)
        })
        .record_request_headers(["x-tenant", "authorization"])
        .record_response_headers(["x-served-by"])
        .trace_response_header()
        .layer(handler(|| {
            let mut resp = ok_response(Script::unary_ok());
            resp.headers_mut()
                .insert("x-served-by", "dispatch-1".parse().unwrap());
            resp
        }));
    let headers = run(&recorder, async {
        let resp = svc
            .oneshot(request(
                "/echo.Echo/UnaryEcho",
                &[
                    ("traceparent", TRACEPARENT),
                    ("x-tenant", "acme"),
                    ("authorization", "Bearer secret"),
                ],
                Script::unary_ok(),
            ))
            .await
            .unwrap();
        let (parts, body) = resp.into_parts();
        drain(body).await.unwrap();
        parts.headers
    });
    let span = recorder.span("echo.Echo/UnaryEcho via POST");
    span.assert_attr("rpc.request.metadata.x-tenant", vec!["acme"])
        .assert_attr("rpc.response.metadata.x-served-by", vec!["dispatch-1"])
        .assert_no_attr("rpc.request.metadata.authorization");
    assert_eq!(
        headers["traceresponse"],
        format!("00-{PARENT_TRACE}-{}-01", span.span_id())
    );

    // A trailers-only response carries it too.
    let recorder = Recorder::new();
    let svc = GrpcServerLayer::new()
        .trace_response_header()
        .layer(handler(|| trailers_only(5, None)));
    let resp = run(&recorder, async {
        svc.oneshot(request("/e.E/Missing", &[], Script::unary_ok()))
            .await
            .unwrap()
    });
    let span = recorder.span("e.E/Missing");
    span.assert_attr("rpc.response.status_code", "NOT_FOUND");
    assert_eq!(
        resp.headers()["traceresponse"],
        format!("00-{}-{}-03", span.trace_id(), span.span_id())
    );
}

#[test]
fn dropped_response_body_records_cancelled() {
    let recorder = Recorder::new();
    let svc = GrpcServerLayer::new().layer(handler(|| ok_response(Script::two_messages())));
    let req = request("/echo.Echo/ServerStream", &[], Script::unary_ok());
    run(
        &recorder,
        cancel_after_one_frame(svc, req, || {
            assert!(recorder.spans().is_empty(), "span still open mid-stream");
        }),
    );
    recorder
        .span("echo.Echo/ServerStream")
        .assert_attr("rpc.response.status_code", "CANCELLED")
        .assert_no_attr("error.type")
        .assert_status(Status::Unset);
}

#[test]
fn dropped_future_records_cancelled_or_deadline_exceeded() {
    let pending = service_fn(|_req: http::Request<Script>| {
        std::future::pending::<Result<http::Response<Script>, Infallible>>()
    });
    let recorder = Recorder::new();
    run(&recorder, async {
        let mut svc = GrpcServerLayer::new().layer(pending);
        let fut = svc.call(request("/e.E/Slow", &[], Script::unary_ok()));
        drop(fut);
        // A `grpc-timeout` that has passed by the time the call is dropped.
        let fut = svc.call(request(
            "/e.E/Late",
            &[("grpc-timeout", "1u")],
            Script::unary_ok(),
        ));
        std::thread::sleep(std::time::Duration::from_millis(2));
        drop(fut);
    });
    recorder
        .span("e.E/Slow")
        .assert_attr("rpc.response.status_code", "CANCELLED")
        .assert_status(Status::Unset);
    recorder
        .span("e.E/Late")
        .assert_attr("rpc.response.status_code", "DEADLINE_EXCEEDED")
        .assert_attr("error.type", "DEADLINE_EXCEEDED")
        .assert_status(Status::error("DEADLINE_EXCEEDED"));
}

#[test]
fn service_error_is_recorded() {
    let failing = service_fn(|_req: http::Request<Script>| async {
        Err::<http::Response<Script>, _>(tonic::Status::internal("boom").to_string())
    });
    let recorder = Recorder::new();
    let err = run(&recorder, async {
        GrpcServerLayer::new()
            .layer(failing)
            .oneshot(request("/e.E/M", &[], Script::unary_ok()))
            .await
            .unwrap_err()
    });
    recorder
        .span("e.E/M")
        .assert_attr("error.type", "_OTHER")
        .assert_no_attr("rpc.response.status_code")
        .assert_status(Status::error(err));
}

#[test]
fn non_grpc_path() {
    let recorder = Recorder::new();
    let svc = GrpcServerLayer::new().layer(handler(|| trailers_only(12, None)));
    run(
        &recorder,
        call(svc, request("/metrics", &[], Script::empty())),
    );
    recorder
        .span("grpc")
        .assert_attr("rpc.method", "_OTHER")
        .assert_attr("rpc.method_original", "/metrics")
        .assert_attr("rpc.response.status_code", "UNIMPLEMENTED");
}

#[test]
fn a_caller_chosen_method_is_capped() {
    use tracewire::limits::UNTRUSTED_MAX_BYTES;
    let recorder = Recorder::new();
    let svc = GrpcServerLayer::new().layer(handler(|| trailers_only(12, None)));
    let method = format!("pkg.Svc/{}", "m".repeat(4 * 1024));
    let other = format!("/{}", "x".repeat(4 * 1024));
    run(
        &recorder,
        call(
            svc.clone(),
            request(&format!("/{method}"), &[], Script::empty()),
        ),
    );
    run(&recorder, call(svc, request(&other, &[], Script::empty())));
    let capped = &method[..UNTRUSTED_MAX_BYTES];
    recorder
        .span(capped)
        .assert_attr("rpc.method", capped.to_owned());
    recorder.span("grpc").assert_attr(
        "rpc.method_original",
        other[..UNTRUSTED_MAX_BYTES].to_owned(),
    );
}

#[test]
fn works_in_a_service_builder_and_is_send_sync() {
    assert_send_sync::<GrpcServer<tonic::service::Routes>>();
    assert_send_sync::<GrpcServerLayer>();
    assert_send_sync::<GrpcServerLayer<crate::GrpcSpanName, SkipServices>>();
    type Ready =
        std::future::Ready<Result<http::Response<http_body_util::Full<bytes::Bytes>>, Infallible>>;
    assert_send_sync::<crate::GrpcResponseFuture<Ready>>();
    assert_send::<
        crate::GrpcResponseFuture<
            <tonic::service::Routes as tower::Service<http::Request<tonic::body::Body>>>::Future,
        >,
    >();
    assert_send::<GrpcResponseBody<tonic::body::Body>>();
    assert_send_sync::<GrpcResponseBody<http_body_util::Full<bytes::Bytes>>>();
    let _svc = ServiceBuilder::new()
        .layer(GrpcServerLayer::new())
        .service(tonic::service::Routes::default());
}

/// tonic's `named_layer` keeps a wrapped service's name, so one service can be traced on its
/// own and still be added to a router.
#[test]
fn one_service_with_named_layer() {
    use tonic::server::NamedService;
    use tonic::service::LayerExt;

    #[derive(Clone)]
    struct Echo;
    impl NamedService for Echo {
        const NAME: &'static str = "echo.Echo";
    }
    fn name_of<S: NamedService>(_: &S) -> &'static str {
        S::NAME
    }
    let svc = GrpcServerLayer::new().named_layer(Echo);
    assert_eq!(name_of(&svc), "echo.Echo");
}

#[test]
fn a_caller_chosen_authority_is_capped() {
    use tracewire::limits::UNTRUSTED_MAX_BYTES;
    let recorder = Recorder::new();
    let svc = GrpcServerLayer::new().layer(handler(|| ok_response(Script::unary_ok())));
    let host = format!("{}.internal", "h".repeat(4 * 1024));
    let mut req = request("/echo.Echo/UnaryEcho", &[], Script::unary_ok());
    *req.uri_mut() = format!("http://{host}:50051/echo.Echo/UnaryEcho")
        .parse()
        .unwrap();
    run(&recorder, call(svc, req));
    recorder
        .span("echo.Echo/UnaryEcho")
        .assert_attr("server.address", host[..UNTRUSTED_MAX_BYTES].to_owned());
}
