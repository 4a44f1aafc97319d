//! One trace across real sockets: a client → axum server A → traced hyper client → axum
//! server B, with the exact parent chain and one trace id end to end.

use std::net::SocketAddr;

use axum::Router;
use axum::extract::{Path, State};
use axum::routing::get;
use http_body_util::BodyExt;
use tracewire::SpanKind;
use tracewire::testing::Recorder;
use tracewire_axum::CurrentTrace;

const TRACE_ID: &str = "4bf92f3577b34da6a3ce929d0e0e4736";
const PARENT_ID: &str = "00f067aa0ba902b7";

async fn serve(app: Router) -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let app = app.into_make_service_with_connect_info::<SocketAddr>();
    tokio::spawn(async move { axum::serve(listener, app).await });
    addr
}

#[tracing::instrument(skip(trace))]
async fn back(Path(id): Path<u32>, trace: CurrentTrace) -> String {
    format!(
        "{id} {} {}",
        trace.baggage().get("tenant").unwrap_or("-"),
        trace.trace_id().map(|t| t.to_string()).unwrap_or_default()
    )
}

async fn front(State((client, b)): State<(tracewire_hyper::Client, SocketAddr)>) -> String {
    let res = client
        .get(format!("http://{b}/back/7").parse().unwrap())
        .await
        .unwrap();
    let body = res.into_body().collect().await.unwrap().to_bytes();
    String::from_utf8(body.to_vec()).unwrap()
}

#[tokio::test]
async fn one_trace_across_two_axum_servers() {
    // A current-thread runtime: every task (servers, connections, client) runs on this
    // thread, under the recorder.
    let recorder = Recorder::new();
    let _guard = recorder.set_default();

    let b = serve(
        Router::new()
            .route("/back/{id}", get(back))
            .layer(tracewire_axum::layer()),
    )
    .await;
    let a = serve(
        Router::new()
            .route("/front", get(front))
            .with_state((tracewire_hyper::Client::new(), b))
            .layer(tracewire_axum::layer()),
    )
    .await;

    // The outside caller: a plain hyper client with hand-made headers.
    let plain = hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
        .build_http::<http_body_util::Full<bytes::Bytes>>();
    let req = http::Request::get(format!("http://{a}/front"))
        .header("traceparent", format!("00-{TRACE_ID}-{PARENT_ID}-01"))
        .header("baggage", "tenant=acme")
        .body(Default::default())
        .unwrap();
    let res = plain.request(req).await.unwrap();
    assert_eq!(res.status(), 200);
    let body = res.into_body().collect().await.unwrap().to_bytes();
    assert_eq!(body, format!("7 acme {TRACE_ID}"));

    // A server span ends once its body is written, which can be just after the caller read
    // it: wait (bounded) until the server tasks got there.
    for _ in 0..200 {
        if recorder.spans().len() >= 4 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    }
    let front = recorder.span("GET /front");
    let client = recorder.span("GET");
    let back_server = recorder.span("GET /back/{id}");
    let handler = recorder.span("back");

    front
        .assert_kind(SpanKind::Server)
        .assert_remote_parent(TRACE_ID.parse().unwrap(), PARENT_ID.parse().unwrap())
        .assert_attr("http.route", "/front")
        .assert_attr("http.response.status_code", 200i64);
    client
        .assert_kind(SpanKind::Client)
        .assert_child_of(&front)
        .assert_attr("server.port", i64::from(b.port()))
        .assert_attr("url.full", format!("http://{b}/back/7"))
        .assert_attr("http.response.status_code", 200i64);
    back_server
        .assert_kind(SpanKind::Server)
        .assert_remote_parent(TRACE_ID.parse().unwrap(), client.span_id())
        .assert_attr("client.address", "127.0.0.1")
        .assert_attr("http.route", "/back/{id}");
    handler.assert_child_of(&back_server);
    assert_eq!(recorder.spans().len(), 4, "{}", recorder.tree());
    assert_eq!(
        recorder.tree(),
        "GET /front [server]\n  GET [client]\n    GET /back/{id} [server]\n      back [internal]\n"
    );
}
