//! In-process tests: axum routers driven with `oneshot`.

use std::net::SocketAddr;

use axum::Router;
use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::routing::get;
use http::{Request, StatusCode};
use http_body_util::BodyExt;
use tower::ServiceExt;
use tracewire::SpanKind;
use tracewire::testing::Recorder;

use super::*;

const TRACEPARENT: &str = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";

async fn send(app: &Router, method: &str, uri: &str) -> (StatusCode, String) {
    let req = Request::builder()
        .method(method)
        .uri(uri)
        .header("traceparent", TRACEPARENT)
        .header("baggage", "user.id=42")
        .body(Body::empty())
        .unwrap();
    let res = app.clone().oneshot(req).await.unwrap();
    let status = res.status();
    let body = res.into_body().collect().await.unwrap().to_bytes();
    (status, String::from_utf8(body.to_vec()).unwrap())
}

fn app() -> Router {
    let api = Router::new()
        .route("/rides/{ride}", get(|| async { "ride" }))
        .route("/inner", get(|| async { "inner" }));
    Router::new()
        .route("/users/{id}", get(|| async { "user" }))
        .nest("/api", api)
}

#[tokio::test]
async fn span_names_come_from_the_matched_route() {
    let recorder = Recorder::new();
    let _guard = recorder.set_default();
    let app = app().layer(layer());
    assert_eq!(send(&app, "GET", "/users/7").await.0, StatusCode::OK);
    assert_eq!(send(&app, "GET", "/api/rides/9").await.0, StatusCode::OK);
    assert_eq!(send(&app, "GET", "/nowhere").await.0, StatusCode::NOT_FOUND);
    assert_eq!(
        send(&app, "POST", "/users/7").await.0,
        StatusCode::METHOD_NOT_ALLOWED
    );

    recorder
        .span("GET /users/{id}")
        .assert_kind(SpanKind::Server)
        .assert_attr("http.route", "/users/{id}")
        .assert_attr("url.path", "/users/7");
    recorder
        .span("GET /api/rides/{ride}")
        .assert_attr("http.route", "/api/rides/{ride}");
    recorder
        .span("GET")
        .assert_no_attr("http.route")
        .assert_attr("http.response.status_code", 404i64);
    recorder
        .span("POST /users/{id}")
        .assert_attr("http.response.status_code", 405i64);
    assert_eq!(recorder.spans().len(), 4, "{}", recorder.tree());
}

#[tokio::test]
async fn custom_fallback_is_named_by_method_only() {
    let recorder = Recorder::new();
    let _guard = recorder.set_default();
    let app = app()
        .fallback(|| async { (StatusCode::IM_A_TEAPOT, "fallback") })
        .layer(layer());
    assert_eq!(
        send(&app, "DELETE", "/nope").await,
        (StatusCode::IM_A_TEAPOT, "fallback".to_owned())
    );
    recorder
        .span("DELETE")
        .assert_no_attr("http.route")
        .assert_attr("url.path", "/nope");
}

#[tokio::test]
async fn layer_on_a_nested_router_sees_the_full_route() {
    let recorder = Recorder::new();
    let _guard = recorder.set_default();
    let api = Router::new()
        .route("/rides/{ride}", get(|| async { "ride" }))
        .layer(layer());
    let app = Router::new().nest("/api", api);
    assert_eq!(send(&app, "GET", "/api/rides/1").await.0, StatusCode::OK);
    recorder.span("GET /api/rides/{ride}");
}

#[tracing::instrument]
async fn instrumented(trace: CurrentTrace) -> String {
    tracing::info!("working");
    let (Some(t), Some(s)) = (trace.trace_id(), trace.span_id()) else {
        return "none".to_owned();
    };
    format!("{t} {s} {}", trace.baggage().get("user.id").unwrap_or("-"))
}

#[tokio::test]
async fn instrumented_handlers_nest_and_the_extractor_sees_their_span() {
    let recorder = Recorder::new();
    let _guard = recorder.set_default();
    let app = Router::new()
        .route("/work", get(instrumented))
        .layer(layer());
    let (status, body) = send(&app, "GET", "/work").await;
    assert_eq!(status, StatusCode::OK);
    let server = recorder.span("GET /work");
    server.assert_remote_parent(
        "4bf92f3577b34da6a3ce929d0e0e4736".parse().unwrap(),
        "00f067aa0ba902b7".parse().unwrap(),
    );
    // The extractor runs before the handler's span is entered: it sees the server span.
    assert_eq!(
        body,
        format!("{} {} 42", server.trace_id(), server.span_id())
    );
    let handler = recorder.span("instrumented");
    handler.assert_child_of(&server);
    assert_eq!(handler.data().events[0].name, "working");
}

#[tokio::test]
async fn peer_from_connect_info() {
    let recorder = Recorder::new();
    let _guard = recorder.set_default();
    let app = Router::new()
        .route("/", get(|| async { "" }))
        .layer(layer());
    let mut req = Request::get("/").body(Body::empty()).unwrap();
    let addr: SocketAddr = "10.1.2.3:5555".parse().unwrap();
    req.extensions_mut().insert(ConnectInfo(addr));
    app.oneshot(req).await.unwrap();
    let span = recorder.span("GET /");
    // The peer is the client: no proxy information. `client.port` is opt-in.
    span.assert_attr("client.address", "10.1.2.3")
        .assert_no_attr("client.port")
        .assert_attr("network.peer.address", "10.1.2.3")
        .assert_attr("network.peer.port", 5555i64);

    recorder.clear();
    let app = Router::new()
        .route("/", get(|| async { "" }))
        .layer(layer().record_client_port(true));
    let mut req = Request::get("/").body(Body::empty()).unwrap();
    req.extensions_mut().insert(ConnectInfo(addr));
    app.oneshot(req).await.unwrap();
    recorder
        .span("GET /")
        .assert_attr("client.address", "10.1.2.3")
        .assert_attr("client.port", 5555i64);
}

/// The extractor alone. Deliberately not the `#[instrument]`ed handler above: `tracing` caches
/// a call site's interest globally, and registering that call site from a thread with no
/// subscriber while another test registers its recorder can leave it disabled for both.
async fn ids(trace: CurrentTrace) -> String {
    match (trace.trace_id(), trace.span_id()) {
        (Some(t), Some(s)) => format!("{t} {s}"),
        _ => "none".to_owned(),
    }
}

#[tokio::test]
async fn extractor_without_tracing_has_no_ids() {
    let app: Router = Router::new().route("/", get(ids));
    let (_, body) = send(&app, "GET", "/").await;
    assert_eq!(body, "none");
}

#[test]
fn layer_and_service_are_send_and_sync() {
    fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<AxumLayer>();
    assert_send_sync::<CurrentTrace>();
    assert_send_sync::<<AxumLayer as tower::Layer<axum::routing::Route>>::Service>();
}
