//! In-process tests of the server and client layers: `service_fn` + `oneshot`, no sockets.

use std::convert::Infallible;
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use http::{HeaderMap, Method, Request, Response, StatusCode};
use http_body_util::{BodyExt, Full};
use tower::{Layer, Service, ServiceExt, service_fn};
use tracewire::testing::Recorder;
use tracewire::{FutureExt, SpanKind, Status, TracewireLayer};
use tracing::Dispatch;
use tracing_subscriber::EnvFilter;
use tracing_subscriber::layer::SubscriberExt;

use crate::test_helpers::{ChannelBody, FieldLog, assert_send_sync};
use crate::{
    HttpClient, HttpClientLayer, HttpRoute, HttpServer, HttpServerLayer, SkipPaths, Trust,
};

const TRACE_ID: &str = "4bf92f3577b34da6a3ce929d0e0e4736";
const PARENT_ID: &str = "00f067aa0ba902b7";
const SAMPLED: &str = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
const UNSAMPLED: &str = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00";

type Body = Full<Bytes>;

fn request(method: Method, uri: &str, headers: &[(&'static str, &str)]) -> Request<Body> {
    let mut req = Request::builder()
        .method(method)
        .uri(uri)
        .body(Full::new(Bytes::from_static(b"")))
        .unwrap();
    for (k, v) in headers {
        req.headers_mut().append(*k, v.parse().unwrap());
    }
    req
}

fn get(uri: &str, headers: &[(&'static str, &str)]) -> Request<Body> {
    let mut h = vec![("host", "api.local:8080")];
    h.extend_from_slice(headers);
    request(Method::GET, uri, &h)
}

fn status_service(
    status: StatusCode,
) -> impl Service<
    Request<Body>,
    Response = Response<Body>,
    Error = Infallible,
    Future = impl Future<Output = Result<Response<Body>, Infallible>> + Send,
> + Clone {
    service_fn(move |_req: Request<Body>| async move {
        let mut res = Response::new(Full::new(Bytes::from_static(b"body")));
        *res.status_mut() = status;
        res.headers_mut()
            .insert("content-type", "text/plain".parse().unwrap());
        res.headers_mut()
            .insert("set-cookie", "s=1".parse().unwrap());
        Ok::<_, Infallible>(res)
    })
}

/// A handler that records `tracewire::current()` as the handler sees it.
#[expect(clippy::type_complexity, reason = "an opaque service type")]
fn context_probe() -> (
    Arc<Mutex<Option<tracewire::Context>>>,
    impl Service<
        Request<Body>,
        Response = Response<Body>,
        Error = Infallible,
        Future = impl Future<Output = Result<Response<Body>, Infallible>> + Send,
    > + Clone,
) {
    let seen = Arc::new(Mutex::new(None));
    let s = seen.clone();
    let svc = service_fn(move |_req: Request<Body>| {
        let s = s.clone();
        async move {
            *s.lock().unwrap() = Some(tracewire::current());
            Ok::<_, Infallible>(Response::new(Full::new(Bytes::new())))
        }
    });
    (seen, svc)
}

async fn serve<L, S, B>(layer: L, svc: S, req: Request<Body>) -> Response<Bytes>
where
    L: Layer<S>,
    L::Service: Service<Request<Body>, Response = Response<B>>,
    <L::Service as Service<Request<Body>>>::Error: std::fmt::Debug,
    B: http_body::Body<Data = Bytes>,
    B::Error: std::fmt::Debug,
{
    let res = layer.layer(svc).oneshot(req).await.unwrap();
    let (parts, body) = res.into_parts();
    Response::from_parts(parts, body.collect().await.unwrap().to_bytes())
}

fn attr_keys(recorder: &Recorder, name: &str) -> Vec<String> {
    let mut keys: Vec<String> = recorder
        .span(name)
        .data()
        .attributes
        .iter()
        .map(|kv| kv.key.to_string())
        .collect();
    keys.sort();
    keys
}

#[tokio::test]
async fn server_span_continues_the_inbound_trace() {
    let recorder = Recorder::new();
    let _guard = recorder.set_default();
    let req = get(
        "/users/7?token=secret",
        &[("traceparent", SAMPLED), ("user-agent", "curl/8.0")],
    );
    let res = serve(HttpServerLayer::new(), status_service(StatusCode::OK), req).await;
    assert_eq!(res.status(), StatusCode::OK);
    assert!(res.headers().get("traceresponse").is_none());

    let span = recorder.span("GET");
    span.assert_kind(SpanKind::Server)
        .assert_remote_parent(TRACE_ID.parse().unwrap(), PARENT_ID.parse().unwrap())
        .assert_status(Status::Unset)
        .assert_attr("http.request.method", "GET")
        .assert_attr("url.path", "/users/7")
        .assert_attr("url.scheme", "http")
        .assert_attr("server.address", "api.local")
        .assert_attr("server.port", 8080i64)
        .assert_attr("network.protocol.version", "1.1")
        .assert_attr("user_agent.original", "curl/8.0")
        .assert_attr("http.response.status_code", 200i64)
        .assert_no_attr("url.query")
        .assert_no_attr("http.route");
    assert_eq!(
        attr_keys(&recorder, "GET"),
        [
            "http.request.method",
            "http.response.status_code",
            "network.protocol.version",
            "server.address",
            "server.port",
            "url.path",
            "url.scheme",
            "user_agent.original",
        ]
    );
}

/// A recorder whose subscriber also keeps the fields of the spans named `span`, as another
/// layer sees them.
fn recorder_and_fields(span: &'static str) -> (Recorder, FieldLog) {
    let fields = FieldLog::new(span);
    let f = fields.clone();
    let recorder =
        Recorder::with_layer_and(TracewireLayer::builder(), |s| Dispatch::new(s.with(f)));
    (recorder, fields)
}

#[tokio::test]
async fn unsampled_spans_keep_only_their_creation_fields() {
    let (recorder, fields) = recorder_and_fields("HTTP request");
    let _guard = recorder.set_default();
    let req = get(
        "/users/7",
        &[("traceparent", UNSAMPLED), ("user-agent", "curl/8.0")],
    );
    serve(HttpServerLayer::new(), status_service(StatusCode::OK), req).await;
    assert!(recorder.spans().is_empty());
    // No `otel.name`, `server.address`, `server.port`, nor the status code of a response that
    // did not fail: nothing exports them.
    assert_eq!(
        fields.fields(),
        [
            "otel.kind=server",
            "http.request.method=GET",
            "url.path=/users/7",
            "url.scheme=http",
            "network.protocol.version=1.1",
            "user_agent.original=curl/8.0",
        ]
    );

    // A failure is still recorded, for the other subscribers' sake.
    let fields = {
        let (recorder, fields) = recorder_and_fields("HTTP request");
        let _guard = recorder.set_default();
        let req = get("/", &[("traceparent", UNSAMPLED)]);
        serve(
            HttpServerLayer::new(),
            status_service(StatusCode::BAD_GATEWAY),
            req,
        )
        .await;
        assert!(recorder.spans().is_empty());
        fields.fields()
    };
    assert_eq!(
        fields[fields.len() - 3..],
        [
            "http.response.status_code=502",
            "otel.status_code=error",
            "error.type=502"
        ]
    );
}

#[tokio::test]
async fn a_sampled_request_records_its_later_fields_in_one_call_per_hook() {
    let head = [
        "otel.kind=server",
        "http.request.method=GET",
        "url.path=/users/7",
        "url.scheme=http",
        "network.protocol.version=1.1",
        // The first record.
        "otel.name=GET",
        "server.address=api.local",
        "server.port=8080",
    ];
    for (status, tail) in [
        (StatusCode::OK, &["http.response.status_code=200"][..]),
        (
            StatusCode::BAD_GATEWAY,
            &[
                "http.response.status_code=502",
                "otel.status_code=error",
                "error.type=502",
            ],
        ),
    ] {
        let (recorder, fields) = recorder_and_fields("HTTP request");
        let _guard = recorder.set_default();
        let req = get("/users/7", &[("traceparent", SAMPLED)]);
        serve(HttpServerLayer::new(), status_service(status), req).await;
        assert_eq!(
            fields.records(),
            2,
            "{status}: the name, address and port; then the response's fields"
        );
        assert_eq!(fields.fields(), [&head[..], tail].concat());
    }
    let (recorder, fields) = recorder_and_fields("HTTP client request");
    let _guard = recorder.set_default();
    call_down(StatusCode::SERVICE_UNAVAILABLE).await;
    assert_eq!(
        fields.records(),
        2,
        "address, port and URL; then the response's"
    );
    assert_eq!(
        fields.fields(),
        [
            "otel.name=GET",
            "otel.kind=client",
            "http.request.method=GET",
            "server.address=down.local",
            "server.port=80",
            "url.full=http://down.local/",
            "http.response.status_code=503",
            "otel.status_code=error",
            "error.type=503",
            "network.protocol.version=1.1",
        ]
    );
}

#[tokio::test]
async fn spans_only_other_subscribers_see_get_every_field() {
    // No tracewire layer: another subscriber sees the span, so it records in full.
    let fields = FieldLog::new("HTTP request");
    let dispatch = Dispatch::new(tracing_subscriber::registry().with(fields.clone()));
    let _guard = tracing::dispatcher::set_default(&dispatch);
    let req = get("/users/7", &[("traceparent", SAMPLED)]);
    serve(HttpServerLayer::new(), status_service(StatusCode::OK), req).await;
    assert_eq!(
        fields.names(),
        [
            "http.request.method",
            "http.response.status_code",
            "network.protocol.version",
            "otel.kind",
            "otel.name",
            "server.address",
            "server.port",
            "url.path",
            "url.scheme",
        ]
    );
    assert!(
        fields
            .fields()
            .contains(&"server.address=api.local".to_owned())
    );
    assert!(fields.fields().contains(&"server.port=8080".to_owned()));
}

#[tokio::test]
async fn span_name_uses_the_route_template_never_the_path() {
    let recorder = Recorder::new();
    let _guard = recorder.set_default();
    let mut req = get("/users/7", &[]);
    req.extensions_mut().insert(HttpRoute::new("/users/{id}"));
    serve(HttpServerLayer::new(), status_service(StatusCode::OK), req).await;
    let mut req = request(Method::from_bytes(b"PURGE").unwrap(), "/cache/9", &[]);
    req.extensions_mut().insert(HttpRoute::new("/cache/{key}"));
    serve(HttpServerLayer::new(), status_service(StatusCode::OK), req).await;
    serve(
        HttpServerLayer::new(),
        status_service(StatusCode::OK),
        request(Method::POST, "/raw/path/1", &[]),
    )
    .await;

    recorder
        .span("GET /users/{id}")
        .assert_attr("http.route", "/users/{id}");
    recorder
        .span("HTTP /cache/{key}")
        .assert_attr("http.request.method", "_OTHER")
        .assert_attr("http.request.method_original", "PURGE");
    recorder.span("POST").assert_attr("url.path", "/raw/path/1");
    assert_eq!(recorder.spans().len(), 3);
}

#[tokio::test]
async fn custom_span_name_closure() {
    let recorder = Recorder::new();
    let _guard = recorder.set_default();
    let layer =
        HttpServerLayer::new().span_name(|parts: &http::request::Parts, route: Option<&str>| {
            format!("{} {}", parts.method, route.unwrap_or("unmatched"))
        });
    serve(layer, status_service(StatusCode::OK), get("/x", &[])).await;
    recorder.span("GET unmatched");
}

#[tokio::test]
async fn server_status_mapping_table() {
    for (code, error) in [
        (200, false),
        (201, false),
        (302, false),
        (400, false),
        (404, false),
        (429, false),
        (500, true),
        (502, true),
        (503, true),
    ] {
        let recorder = Recorder::new();
        let _guard = recorder.set_default();
        let status = StatusCode::from_u16(code).unwrap();
        serve(
            HttpServerLayer::new(),
            status_service(status),
            get("/", &[]),
        )
        .await;
        let span = recorder.span("GET");
        span.assert_attr("http.response.status_code", i64::from(code));
        if error {
            span.assert_status(Status::error(""))
                .assert_attr("error.type", code.to_string());
        } else {
            span.assert_status(Status::Unset)
                .assert_no_attr("error.type");
        }
    }
}

#[derive(Debug)]
struct Boom;

impl std::fmt::Display for Boom {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("upstream exploded")
    }
}

#[tokio::test]
async fn inner_service_error_marks_the_span_failed() {
    let recorder = Recorder::new();
    let _guard = recorder.set_default();
    let svc = service_fn(|_req: Request<Body>| async { Err::<Response<Body>, _>(Boom) });
    let err = HttpServerLayer::new()
        .layer(svc)
        .oneshot(get("/", &[]))
        .await
        .unwrap_err();
    assert_eq!(err.to_string(), "upstream exploded");
    recorder
        .span("GET")
        .assert_status(Status::error("upstream exploded"))
        .assert_attr("error.type", "tracewire_tower::tests::Boom")
        .assert_no_attr("http.response.status_code");
}

#[tokio::test]
async fn peer_address_and_error_types() {
    let recorder = Recorder::new();
    let _guard = recorder.set_default();
    let mut req = get("/peer", &[]);
    let peer: std::net::SocketAddr = "[2001:db8::7]:51234".parse().unwrap();
    req.extensions_mut().insert(peer);
    serve(HttpServerLayer::new(), status_service(StatusCode::OK), req).await;
    recorder
        .span("GET")
        .assert_attr("client.address", "2001:db8::7")
        .assert_no_attr("client.port")
        .assert_attr("network.peer.address", "2001:db8::7")
        .assert_attr("network.peer.port", 51234i64);
    // `client.port` is opt-in.
    recorder.clear();
    let mut req = get("/peer", &[]);
    req.extensions_mut().insert(peer);
    serve(
        HttpServerLayer::new().record_client_port(true),
        status_service(StatusCode::OK),
        req,
    )
    .await;
    recorder
        .span("GET")
        .assert_attr("client.address", "2001:db8::7")
        .assert_attr("client.port", 51234i64)
        .assert_attr("network.peer.port", 51234i64);

    // A boxed error says nothing by its type: its I/O cause, or `_OTHER`; never a Rust
    // container's name.
    type BoxError = Box<dyn std::error::Error + Send + Sync>;
    for (err, expected) in [
        (
            BoxError::from(std::io::Error::from(std::io::ErrorKind::ConnectionRefused)),
            "connection_refused",
        ),
        (BoxError::from("deadline elapsed"), "_OTHER"),
    ] {
        let recorder = Recorder::new();
        let _guard = recorder.set_default();
        let err = std::sync::Mutex::new(Some(err));
        let svc = service_fn(move |_req: Request<Body>| {
            let err = err.lock().unwrap().take().unwrap();
            async move { Err::<Response<Body>, BoxError>(err) }
        });
        HttpServerLayer::new()
            .layer(svc)
            .oneshot(get("/", &[]))
            .await
            .unwrap_err();
        recorder.span("GET").assert_attr("error.type", expected);
    }
}

#[tokio::test]
async fn trust_restart_with_link_drops_baggage() {
    let recorder = Recorder::new();
    let _guard = recorder.set_default();
    let (seen, svc) = context_probe();
    let layer = HttpServerLayer::new().trust(Trust::RestartWithLink);
    serve(
        layer,
        svc,
        get(
            "/",
            &[("traceparent", UNSAMPLED), ("baggage", "user=alice")],
        ),
    )
    .await;
    let span = recorder.span("GET");
    span.assert_root();
    assert_ne!(span.trace_id().to_string(), TRACE_ID);
    let links = &span.data().links;
    assert_eq!(links.len(), 1);
    assert_eq!(links[0].span_context.trace_id().to_string(), TRACE_ID);
    assert_eq!(links[0].span_context.span_id().to_string(), PARENT_ID);
    let cx = seen.lock().unwrap().take().unwrap();
    assert!(cx.baggage().is_empty());
    assert_eq!(cx.trace_id(), Some(span.trace_id()));
}

#[tokio::test]
async fn trust_ignore_sampled_flag_and_continue() {
    // Continue + unsampled parent: the span is not recorded, the trace still flows.
    let recorder = Recorder::new();
    let _guard = recorder.set_default();
    let (seen, svc) = context_probe();
    serve(
        HttpServerLayer::new(),
        svc.clone(),
        get(
            "/",
            &[("traceparent", UNSAMPLED), ("baggage", "user=alice")],
        ),
    )
    .await;
    assert!(recorder.spans().is_empty());
    let cx = seen.lock().unwrap().take().unwrap();
    assert_eq!(cx.trace_id().unwrap().to_string(), TRACE_ID);
    assert_ne!(cx.span_id().unwrap().to_string(), PARENT_ID);
    assert!(!cx.span_context().unwrap().is_sampled());
    assert_eq!(cx.baggage().get("user"), Some("alice"));

    // IgnoreSampledFlag: same trace and parent, local decision (always on) records it.
    let layer = HttpServerLayer::new().trust(Trust::IgnoreSampledFlag);
    serve(layer, svc, get("/", &[("traceparent", UNSAMPLED)])).await;
    recorder
        .span("GET")
        .assert_remote_parent(TRACE_ID.parse().unwrap(), PARENT_ID.parse().unwrap());
}

#[tokio::test]
async fn trust_policy_closure_per_request() {
    let recorder = Recorder::new();
    let _guard = recorder.set_default();
    let layer = HttpServerLayer::new().trust(|parts: &http::request::Parts| {
        if parts.uri.path().starts_with("/public") {
            Trust::RestartWithLink
        } else {
            Trust::Continue
        }
    });
    serve(
        layer.clone(),
        status_service(StatusCode::OK),
        request(Method::GET, "/public/x", &[("traceparent", SAMPLED)]),
    )
    .await;
    serve(
        layer,
        status_service(StatusCode::OK),
        request(Method::POST, "/internal", &[("traceparent", SAMPLED)]),
    )
    .await;
    recorder.span("GET").assert_root();
    recorder
        .span("POST")
        .assert_remote_parent(TRACE_ID.parse().unwrap(), PARENT_ID.parse().unwrap());
}

#[tokio::test]
async fn filtered_requests_have_no_span_but_keep_the_context() {
    let recorder = Recorder::new();
    let _guard = recorder.set_default();
    let (seen, svc) = context_probe();
    let layer = HttpServerLayer::new().filter(SkipPaths::new(["/health"]));
    serve(
        layer.clone(),
        svc.clone(),
        get("/health", &[("traceparent", SAMPLED), ("baggage", "k=v")]),
    )
    .await;
    assert!(recorder.spans().is_empty());
    let cx = seen.lock().unwrap().take().unwrap();
    assert_eq!(cx.trace_id().unwrap().to_string(), TRACE_ID);
    assert_eq!(cx.span_id().unwrap().to_string(), PARENT_ID);
    assert_eq!(cx.baggage().get("k"), Some("v"));

    serve(layer, svc, get("/healthz", &[])).await;
    assert_eq!(recorder.spans().len(), 1);
}

#[tokio::test]
async fn header_allowlist_never_records_sensitive_headers() {
    let recorder = Recorder::new();
    let _guard = recorder.set_default();
    let layer = HttpServerLayer::new()
        .record_request_headers([
            "x-request-id",
            "authorization",
            "cookie",
            "accept",
            "x-tenant",
        ])
        .record_response_headers(["content-type", "set-cookie"]);
    serve(
        layer,
        status_service(StatusCode::OK),
        get(
            "/",
            &[
                ("x-request-id", "req-1"),
                ("authorization", "Bearer t"),
                ("cookie", "a=b"),
                ("content-type", "application/json"),
                ("x-tenant", "acme"),
                ("x-tenant", "globex"),
            ],
        ),
    )
    .await;
    let span = recorder.span("GET");
    span.assert_attr("http.request.header.x-request-id", vec!["req-1"])
        .assert_attr("http.request.header.x-tenant", vec!["acme", "globex"])
        .assert_attr("http.response.header.content-type", vec!["text/plain"])
        .assert_no_attr("http.request.header.content-type")
        .assert_no_attr("http.request.header.accept");
    let keys = attr_keys(&recorder, "GET");
    assert!(
        keys.iter()
            .all(|k| !k.contains("authorization") && !k.contains("cookie")),
        "{keys:?}"
    );
}

#[tokio::test]
async fn host_and_method_the_request_chooses_are_capped() {
    use tracewire::limits::UNTRUSTED_MAX_BYTES;
    let recorder = Recorder::new();
    let _guard = recorder.set_default();
    let host = format!("{}.example", "h".repeat(4 * 1024));
    let method = "M".repeat(4 * 1024);
    let req = request(
        Method::from_bytes(method.as_bytes()).unwrap(),
        "/",
        &[("host", &host)],
    );
    serve(HttpServerLayer::new(), status_service(StatusCode::OK), req).await;
    recorder
        .span("HTTP")
        .assert_attr("server.address", host[..UNTRUSTED_MAX_BYTES].to_owned())
        .assert_attr(
            "http.request.method_original",
            method[..UNTRUSTED_MAX_BYTES].to_owned(),
        );
}

#[tokio::test]
async fn query_recording_is_opt_in_and_redacted() {
    let recorder = Recorder::new();
    let _guard = recorder.set_default();
    serve(
        HttpServerLayer::new().record_query(true),
        status_service(StatusCode::OK),
        get("/search?q=rust&access_token=abc&page=2", &[]),
    )
    .await;
    recorder
        .span("GET")
        .assert_attr("url.query", "q=rust&access_token=REDACTED&page=2")
        .assert_attr("url.path", "/search");
}

#[tokio::test]
async fn request_chosen_values_are_capped() {
    use tracewire::limits::UNTRUSTED_MAX_BYTES;
    let recorder = Recorder::new();
    let _guard = recorder.set_default();
    // Every value 4 KiB (core's tests cover the cut at a character boundary).
    let long = |c: char| c.to_string().repeat(4 * 1024);
    let (agent, tenant) = (long('a'), long('t'));
    let uri = format!("/{}?q={}", long('p'), long('q'));
    serve(
        HttpServerLayer::new()
            .record_query(true)
            .record_request_headers(["x-tenant"]),
        status_service(StatusCode::OK),
        get(&uri, &[("user-agent", &agent), ("x-tenant", &tenant)]),
    )
    .await;
    let cut = |s: &str| s[..UNTRUSTED_MAX_BYTES].to_owned();
    recorder
        .span("GET")
        .assert_attr("url.path", cut(&uri))
        .assert_attr("url.query", cut(uri.split_once('?').unwrap().1))
        .assert_attr("user_agent.original", cut(&agent))
        .assert_attr("http.request.header.x-tenant", vec![cut(&tenant)]);
}

#[tokio::test]
async fn trace_response_header_bytes() {
    let recorder = Recorder::new();
    let _guard = recorder.set_default();
    let res = serve(
        HttpServerLayer::new().trace_response_header(),
        status_service(StatusCode::OK),
        get("/", &[("traceparent", SAMPLED)]),
    )
    .await;
    let span = recorder.span("GET");
    assert_eq!(
        res.headers()["traceresponse"],
        format!("00-{TRACE_ID}-{}-01", span.span_id())
    );

    let res = serve(
        HttpServerLayer::new()
            .trace_response_header_named(http::HeaderName::from_static("x-trace-id")),
        status_service(StatusCode::OK),
        get("/", &[("traceparent", UNSAMPLED)]),
    )
    .await;
    let value = res.headers()["x-trace-id"].to_str().unwrap().to_owned();
    assert!(value.starts_with(&format!("00-{TRACE_ID}-")), "{value}");
    assert!(value.ends_with("-00"), "{value}");
    assert_eq!(value.len(), 55);
}

/// Answers `GET /stream` through the server layer with `body`, leaving the response's body
/// unread.
async fn serve_streaming(
    body: ChannelBody,
) -> Response<impl http_body::Body<Data = Bytes, Error: std::fmt::Debug> + Unpin> {
    let body = Mutex::new(Some(body));
    let svc = service_fn(move |_req: Request<Body>| {
        let body = body.lock().unwrap().take().unwrap();
        async move { Ok::<_, Infallible>(Response::new(body)) }
    });
    HttpServerLayer::new()
        .layer(svc)
        .oneshot(get("/stream", &[]))
        .await
        .unwrap()
}

#[tokio::test]
async fn server_span_ends_with_the_streaming_body() {
    let recorder = Recorder::new();
    let _guard = recorder.set_default();
    let (tx, body) = ChannelBody::new();
    let res = serve_streaming(body).await;
    assert_eq!(res.status(), StatusCode::OK);
    assert!(recorder.spans().is_empty(), "span ended with the headers");

    let mut body = res.into_body();
    tx.send(Bytes::from_static(b"chunk-1")).unwrap();
    let frame = body.frame().await.unwrap().unwrap();
    assert_eq!(frame.into_data().unwrap(), "chunk-1");
    assert!(recorder.spans().is_empty(), "span ended mid-stream");

    drop(tx);
    assert!(body.frame().await.is_none());
    recorder
        .span("GET")
        .assert_attr("http.response.status_code", 200i64)
        .assert_status(Status::Unset);
}

#[tokio::test]
async fn server_span_ends_when_the_body_is_dropped() {
    let recorder = Recorder::new();
    let _guard = recorder.set_default();
    let (_tx, body) = ChannelBody::new();
    let res = serve_streaming(body).await;
    assert!(recorder.spans().is_empty());
    drop(res);
    let span = recorder.span("GET");
    assert_eq!(span.data().events.len(), 1);
    assert_eq!(
        span.data().events[0].name,
        "response body dropped before its end"
    );
}

/// A downstream service that records the headers it receives.
#[derive(Clone, Default)]
struct Downstream {
    seen: Arc<Mutex<Vec<HeaderMap>>>,
    status: Option<StatusCode>,
}

impl Downstream {
    fn service(
        &self,
    ) -> impl Service<
        Request<Body>,
        Response = Response<Body>,
        Error = Infallible,
        Future = impl Future<Output = Result<Response<Body>, Infallible>> + Send,
    > + Clone
    + Send
    + 'static {
        let seen = self.seen.clone();
        let status = self.status.unwrap_or(StatusCode::OK);
        service_fn(move |req: Request<Body>| {
            seen.lock().unwrap().push(req.headers().clone());
            async move {
                let mut res = Response::new(Full::new(Bytes::from_static(b"down")));
                *res.status_mut() = status;
                Ok::<_, Infallible>(res)
            }
        })
    }

    fn headers(&self) -> Vec<HeaderMap> {
        self.seen.lock().unwrap().clone()
    }
}

fn values(h: &HeaderMap, name: &str) -> Vec<String> {
    h.get_all(name)
        .iter()
        .map(|v| v.to_str().unwrap().to_owned())
        .collect()
}

/// A server whose handler makes one outbound call through the traced client.
async fn call_through(
    recorder_filter: Option<&str>,
    inbound: &[(&'static str, &str)],
) -> (Recorder, Vec<HeaderMap>) {
    let recorder = match recorder_filter {
        Some(f) => {
            let filter = EnvFilter::new(f);
            Recorder::with_layer_and(TracewireLayer::builder(), |s| Dispatch::new(s.with(filter)))
        }
        None => Recorder::new(),
    };
    let _guard = recorder.set_default();
    let down = Downstream::default();
    let client = HttpClient::new(down.service());
    let handler = service_fn(move |_req: Request<Body>| {
        let client = client.clone();
        async move {
            let res = client
                .oneshot(request(Method::GET, "http://down.local/x", &[]))
                .await
                .unwrap();
            res.into_body().collect().await.unwrap();
            Ok::<_, Infallible>(Response::new(Full::new(Bytes::new())))
        }
    });
    serve(HttpServerLayer::new(), handler, get("/in", inbound)).await;
    drop(_guard);
    (recorder, down.headers())
}

#[tokio::test]
async fn client_span_is_a_child_of_the_server_span_and_is_injected() {
    let (recorder, seen) = call_through(
        None,
        &[
            ("traceparent", SAMPLED),
            ("tracestate", "vendor=a,other=b"),
            ("baggage", "user=alice%20b"),
        ],
    )
    .await;
    let spans = recorder.spans();
    assert_eq!(spans.len(), 2, "{}", recorder.tree());
    let server = spans.iter().find(|s| s.kind == SpanKind::Server).unwrap();
    let client = spans.iter().find(|s| s.kind == SpanKind::Client).unwrap();
    assert_eq!(server.name, "GET");
    assert_eq!(client.name, "GET");
    assert_eq!(server.parent_span_id.to_string(), PARENT_ID);
    assert_eq!(client.parent_span_id, server.span_context.span_id());
    assert_eq!(client.span_context.trace_id().to_string(), TRACE_ID);
    assert_eq!(seen.len(), 1);
    assert_eq!(
        values(&seen[0], "traceparent"),
        [format!(
            "00-{TRACE_ID}-{}-01",
            client.span_context.span_id()
        )]
    );
    assert_eq!(values(&seen[0], "tracestate"), ["vendor=a,other=b"]);
    assert_eq!(values(&seen[0], "baggage"), ["user=alice%20b"]);
}

#[tokio::test]
async fn disabled_server_span_still_propagates() {
    // Server span off: the client span continues the inbound context directly.
    let (recorder, seen) = call_through(
        Some("info,tracewire_tower::server=off"),
        &[("traceparent", SAMPLED), ("baggage", "k=v")],
    )
    .await;
    let spans = recorder.spans();
    assert_eq!(spans.len(), 1, "{}", recorder.tree());
    assert_eq!(spans[0].kind, SpanKind::Client);
    assert_eq!(spans[0].parent_span_id.to_string(), PARENT_ID);
    assert_eq!(
        values(&seen[0], "traceparent"),
        [format!(
            "00-{TRACE_ID}-{}-01",
            spans[0].span_context.span_id()
        )]
    );
    assert_eq!(values(&seen[0], "baggage"), ["k=v"]);

    // Every span off: the inbound context passes through unchanged.
    let (recorder, seen) =
        call_through(Some("off"), &[("traceparent", SAMPLED), ("baggage", "k=v")]).await;
    assert!(recorder.spans().is_empty());
    assert_eq!(values(&seen[0], "traceparent"), [SAMPLED]);
    assert_eq!(values(&seen[0], "baggage"), ["k=v"]);
}

#[tokio::test]
async fn client_replaces_caller_trace_headers() {
    let recorder = Recorder::new();
    let _guard = recorder.set_default();
    let down = Downstream::default();
    let mut req = request(
        Method::POST,
        "http://user:pw@down.local:9000/p?api_key=k&x=1",
        &[
            ("traceparent", UNSAMPLED),
            ("traceparent", SAMPLED),
            ("tracestate", "stale=1"),
            ("x-other", "kept"),
        ],
    );
    *req.body_mut() = Full::new(Bytes::from_static(b"{}"));
    let res = HttpClientLayer::new()
        .layer(down.service())
        .oneshot(req)
        .await
        .unwrap();
    assert!(
        recorder.spans().is_empty(),
        "client span ended before the body"
    );
    res.into_body().collect().await.unwrap();
    let span = recorder.span("POST");
    span.assert_kind(SpanKind::Client)
        .assert_root()
        .assert_attr("http.request.method", "POST")
        .assert_attr("server.address", "down.local")
        .assert_attr("server.port", 9000i64)
        .assert_attr(
            "url.full",
            "http://REDACTED:REDACTED@down.local:9000/p?api_key=REDACTED&x=1",
        )
        .assert_attr("http.response.status_code", 200i64)
        .assert_attr("network.protocol.version", "1.1");
    let seen = down.headers();
    assert_eq!(
        values(&seen[0], "traceparent"),
        [format!("00-{}-{}-03", span.trace_id(), span.span_id())]
    );
    assert!(values(&seen[0], "tracestate").is_empty());
    assert_eq!(values(&seen[0], "x-other"), ["kept"]);
}

#[tokio::test]
async fn unsampled_client_spans_keep_only_their_creation_fields() {
    let parent = |flags| {
        tracewire::Context::from_span_context(tracewire::SpanContext::new(
            TRACE_ID.parse().unwrap(),
            PARENT_ID.parse().unwrap(),
            flags,
            tracewire::TraceState::new(),
            true,
        ))
    };
    let call = |status, flags| async move {
        let (recorder, fields) = recorder_and_fields("HTTP client request");
        let _guard = recorder.set_default();
        let down = Downstream {
            status: Some(status),
            ..Downstream::default()
        };
        let client = HttpClient::new(down.service());
        let req = request(Method::GET, "http://down.local:8080/x?q=1", &[]);
        let res = client.oneshot(req).in_context(parent(flags)).await.unwrap();
        res.into_body().collect().await.unwrap();
        // Only the sampled span is exported.
        let exported = usize::from(flags == tracewire::TraceFlags::SAMPLED);
        assert_eq!(recorder.spans().len(), exported);
        // The trace goes on downstream all the same.
        assert_eq!(
            values(&down.headers()[0], "traceparent")[0][..35],
            format!("00-{TRACE_ID}")
        );
        fields.fields()
    };
    // No `server.address`, `server.port`, `url.full`, nor the status code and version of a
    // response that did not fail: nothing exports them.
    let creation = [
        "otel.name=GET",
        "otel.kind=client",
        "http.request.method=GET",
    ];
    assert_eq!(
        call(StatusCode::OK, tracewire::TraceFlags::NONE).await,
        creation
    );
    let failed = call(StatusCode::NOT_FOUND, tracewire::TraceFlags::NONE).await;
    assert_eq!(failed[..3], creation);
    assert_eq!(
        failed[3..],
        [
            "http.response.status_code=404",
            "otel.status_code=error",
            "error.type=404",
            "network.protocol.version=1.1",
        ]
    );
    // Sampled: every field.
    let sampled = call(StatusCode::OK, tracewire::TraceFlags::SAMPLED).await;
    assert_eq!(
        sampled[3..],
        [
            "server.address=down.local",
            "server.port=8080",
            "url.full=http://down.local:8080/x?q=1",
            "http.response.status_code=200",
            "network.protocol.version=1.1",
        ]
    );
}

/// A traced `GET http://down.local/` answered with `status`, its response dropped.
async fn call_down(status: StatusCode) {
    let down = Downstream {
        status: Some(status),
        ..Default::default()
    };
    let res = HttpClient::new(down.service())
        .oneshot(request(Method::GET, "http://down.local/", &[]))
        .await
        .unwrap();
    drop(res);
}

#[tokio::test]
async fn client_status_mapping_table() {
    for (code, error) in [
        (200, false),
        (304, false),
        (400, true),
        (404, true),
        (500, true),
        (503, true),
    ] {
        let recorder = Recorder::new();
        let _guard = recorder.set_default();
        call_down(StatusCode::from_u16(code).unwrap()).await;
        let span = recorder.span("GET");
        span.assert_attr("http.response.status_code", i64::from(code));
        if error {
            span.assert_status(Status::error(""))
                .assert_attr("error.type", code.to_string());
        } else {
            span.assert_status(Status::Unset);
        }
    }
}

#[tokio::test]
async fn client_transport_error_marks_the_span_failed() {
    let recorder = Recorder::new();
    let _guard = recorder.set_default();
    let svc = service_fn(|_req: Request<Body>| async { Err::<Response<Body>, _>(Boom) });
    HttpClient::new(svc)
        .oneshot(request(Method::GET, "http://down.local/", &[]))
        .await
        .unwrap_err();
    recorder
        .span("GET")
        .assert_status(Status::error("upstream exploded"))
        .assert_attr("error.type", "tracewire_tower::tests::Boom");
}

#[test]
fn services_and_futures_are_send_and_sync() {
    type Svc = tower::util::BoxCloneSyncService<Request<Body>, Response<Body>, Infallible>;
    type Ready = std::future::Ready<Result<Response<Body>, Infallible>>;
    assert_send_sync::<HttpServerLayer>();
    assert_send_sync::<HttpServer<Svc>>();
    assert_send_sync::<crate::HttpResponseFuture<Ready>>();
    assert_send_sync::<crate::HttpResponseBody<Body>>();
    assert_send_sync::<HttpClientLayer>();
    assert_send_sync::<HttpClient<Svc>>();
}

/// The attribute vectors of exported HTTP server spans (20 declared fields) go back to the
/// pipeline for the next spans to record into, so a sampled request's span takes its vector from
/// the pool instead of allocating it on the request thread and freeing it on the worker's.
#[test]
fn exported_server_spans_give_their_attribute_vectors_back_to_the_pipeline() {
    use std::time::Duration;
    use tracewire::export::{InMemoryExporter, Pipeline, SpanSink as _};

    let mem = InMemoryExporter::new();
    let p = Pipeline::builder()
        .batch_timeout(Duration::from_secs(60))
        .exporter(mem.clone())
        .build();
    let dispatch = Dispatch::new(
        tracing_subscriber::registry().with(TracewireLayer::builder().build(p.clone())),
    );
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    tracing::dispatcher::with_default(&dispatch, || {
        rt.block_on(async {
            for _ in 0..5 {
                let req = get("/x", &[("traceparent", SAMPLED)]);
                serve(HttpServerLayer::new(), status_service(StatusCode::OK), req).await;
            }
        });
    });
    p.flush(Duration::from_secs(5)).unwrap();
    assert_eq!(mem.spans().len(), 5);
    // A thread of its own starts with an empty cache, so it takes from the pipeline's pool.
    let back = std::thread::scope(|s| {
        s.spawn(|| std::iter::from_fn(|| p.recycled_attributes(20)).count())
            .join()
            .unwrap()
    });
    assert_eq!(back, 5, "one vector back for each exported server span");
    p.shutdown(Duration::from_secs(5)).unwrap();
}
