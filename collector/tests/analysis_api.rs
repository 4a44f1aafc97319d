//! The analysis routes (trace analysis, statistics, find, service map, operation health), the
//! span and OTLP/JSON routes the UI reads, over a real collector store fed through the
//! in-process exporter, with the health aggregator registered as an ingest observer. Every
//! answer is `{"data": …}` or `{"error": "…"}`.

use axum::Router;
use axum::body::Body;
use http::{Request, Response, StatusCode};
use http_body_util::BodyExt;
use serde_json::Value as Json;
use serde_json::json;
use tower::ServiceExt;
use tracewire_collector::ui::collector_ui;
use tracewire_collector::{TraceStore, api_router};

mod analysis_fixture;
mod common;

use analysis_fixture::*;

async fn app() -> (Router, TraceStore) {
    let (store, health) = loaded_store().await;
    (
        api_router(store.clone()).merge(collector_ui(store.clone(), health)),
        store,
    )
}

/// Stops the store's writer thread (a blocking call) off the runtime.
async fn close(store: TraceStore) {
    tokio::task::spawn_blocking(move || store.close())
        .await
        .unwrap();
}

/// The status and the `data` of a success, or the whole body (`{"error": …}`) of a failure.
async fn get(app: &Router, uri: &str) -> (StatusCode, Json) {
    let (status, bytes) = get_bytes(app, uri).await;
    let body: Json = serde_json::from_slice(&bytes).unwrap_or(Json::Null);
    if status.is_success() {
        let keys: Vec<&String> = body.as_object().unwrap().keys().collect();
        assert_eq!(keys, ["data"], "{uri}: the envelope");
        (status, body["data"].clone())
    } else {
        assert!(body["error"].is_string(), "{uri}: {body}");
        (status, body)
    }
}

fn strs(v: &Json, f: impl Fn(&Json) -> String) -> Vec<String> {
    v.as_array().unwrap().iter().map(f).collect()
}

#[tokio::test]
async fn trace_analysis_returns_rows_and_the_critical_path() {
    let (app, store) = app().await;
    let (status, w) = get(
        &app,
        &format!("/api/analysis/traces/{}", hex_trace(TRACE_A)),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(w["traceId"], hex_trace(TRACE_A));
    assert_eq!(w["durationNanos"], 100 * MS);
    assert_eq!(w["errorCount"], 1);
    assert!(w["startTimeUnixNano"].is_string());
    assert_eq!(
        w["sampling"],
        Json::Null,
        "sampling is off: no decision recorded"
    );
    let rows = &w["rows"];
    // Depth-first, siblings by start (ties by end): dispatch branch before pricing.
    assert_eq!(
        strs(rows, |r| format!(
            "{}:{}",
            r["depth"],
            r["name"].as_str().unwrap()
        )),
        [
            "0:GET /ride",
            "1:dispatch.Find",
            "2:dispatch.Dispatch/Find",
            "3:ranking.Rank",
            "4:POST /rank",
            "1:pricing.Quote",
            "2:GET /quote",
            "3:SELECT fares",
        ]
    );
    let on_path: Vec<String> = rows
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["criticalNanos"].as_u64().unwrap() > 0)
        .map(|r| r["name"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(
        on_path,
        ["GET /ride", "pricing.Quote", "GET /quote", "SELECT fares"]
    );
    let cp = &w["criticalPath"];
    assert_eq!(cp["totalNanos"], 100 * MS);
    assert_eq!(
        strs(&cp["spans"], |p| format!(
            "{}={}",
            p["name"].as_str().unwrap(),
            p["criticalNanos"].as_u64().unwrap() / MS
        )),
        [
            "GET /ride=15",
            "pricing.Quote=5",
            "GET /quote=5",
            "SELECT fares=75"
        ]
    );
    assert_eq!(cp["spans"][3]["share"], 0.75);

    let (status, d) = get(
        &app,
        &format!("/api/traces/{}/spans/{}", hex_trace(TRACE_A), hex_span(7)),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(d["service"], "pricing");
    assert_eq!(d["kind"], "server");
    assert_eq!(
        d["status"],
        json!({"code": "error", "message": "db timeout"})
    );
    assert_eq!(d["parentSpanId"], hex_span(6));
    assert_eq!(d["resource"]["service.name"], "pricing");

    let (status, e) = get(&app, "/api/analysis/traces/nothex").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(
        e["error"]
            .as_str()
            .unwrap()
            .starts_with("invalid trace id `nothex`"),
        "{e}"
    );
    let (status, e) = get(&app, &format!("/api/analysis/traces/{}", hex_trace(0xdead))).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(
        e,
        json!({"error": format!("trace {} not found", hex_trace(0xdead))})
    );
    let a = hex_trace(TRACE_A);
    let (status, e) = get(&app, &format!("/api/analysis/traces/{a}?span_id=1")).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(e, json!({"error": "unknown query parameter `span_id`"}));
    let (status, e) = get(&app, &format!("/api/traces/{a}/spans/{}", hex_span(99))).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(
        e,
        json!({"error": format!("span {} not found in trace {a}", hex_span(99))})
    );
    close(store).await;
}

#[tokio::test]
async fn dependencies_endpoint_draws_the_service_map() {
    let (app, store) = app().await;
    let (status, m) = get(&app, "/api/analysis/dependencies").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(m["traces"], 2);
    assert_eq!(m["sampled"], false);
    // The rate's window runs from the earliest start (30 s ago) to now.
    let start: u64 = m["startTimeUnixNano"].as_str().unwrap().parse().unwrap();
    let end: u64 = m["endTimeUnixNano"].as_str().unwrap().parse().unwrap();
    assert!((30_000 * MS..40_000 * MS).contains(&(end - start)), "{m}");
    assert_eq!(
        strs(&m["nodes"], |n| format!(
            "{} spans={} errors={} instrumented={}",
            n["name"].as_str().unwrap(),
            n["spanCount"],
            n["errorCount"],
            n["instrumented"]
        )),
        [
            "dispatch spans=2 errors=0 instrumented=true",
            "gateway spans=5 errors=0 instrumented=true",
            "postgresql spans=0 errors=0 instrumented=false",
            "pricing spans=3 errors=1 instrumented=true",
            "ranking spans=1 errors=0 instrumented=true",
        ]
    );
    assert_eq!(
        strs(&m["edges"], |e| format!(
            "{}->{} calls={} errors={} inferred={} p50={} p99={} rate={}",
            e["caller"].as_str().unwrap(),
            e["callee"].as_str().unwrap(),
            e["calls"],
            e["errors"],
            e["inferredCalls"],
            e["latency"]["p50Nanos"].as_u64().unwrap() / MS,
            e["latency"]["p99Nanos"].as_u64().unwrap() / MS,
            (e["ratePerSecond"].as_f64().unwrap() * (end - start) as f64 / 1e9).round(),
        )),
        [
            "dispatch->ranking calls=1 errors=0 inferred=0 p50=45 p99=45 rate=1",
            "gateway->dispatch calls=1 errors=0 inferred=0 p50=55 p99=55 rate=1",
            "gateway->pricing calls=2 errors=1 inferred=0 p50=16 p99=85 rate=2",
            "pricing->postgresql calls=1 errors=0 inferred=1 p50=75 p99=75 rate=1",
        ]
    );
    close(store).await;
}

#[tokio::test]
async fn operations_endpoint_reports_health_with_exemplars() {
    let (app, store) = app().await;
    let (status, h) = get(&app, "/api/analysis/operations?window=5m").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(h["windowNanos"], 300_000 * MS);
    assert!(h["endTimeUnixNano"].is_string());
    assert_eq!(h["counters"]["recorded"], 11);
    let ops = h["operations"].as_array().unwrap();
    assert_eq!(
        strs(&h["operations"], |o| format!(
            "{}/{}",
            o["service"].as_str().unwrap(),
            o["operation"].as_str().unwrap()
        )),
        [
            "dispatch/dispatch.Dispatch/Find",
            "dispatch/ranking.Rank",
            "gateway/GET /ride",
            "gateway/dispatch.Find",
            "gateway/pricing.Quote",
            "pricing/GET /quote",
            "pricing/SELECT fares",
            "ranking/POST /rank",
        ]
    );
    let ride = &ops[2];
    assert_eq!(ride["count"], 2);
    assert_eq!(ride["errors"], 0);
    assert_eq!(ride["latency"]["maxNanos"], 100 * MS);
    // The same rate definition as the map's: from the earliest start (30 s ago) to now.
    let rate = ride["ratePerSecond"].as_f64().unwrap();
    assert!((2.0 / 40.0..=2.0 / 30.0).contains(&rate), "{rate}");
    assert_eq!(
        strs(&ride["slowest"], |e| e["traceId"]
            .as_str()
            .unwrap()
            .to_owned()),
        [hex_trace(TRACE_A), hex_trace(TRACE_B)]
    );
    let quote = &ops[5];
    assert_eq!(
        (quote["count"].as_u64(), quote["errors"].as_u64()),
        (Some(2), Some(1))
    );
    assert_eq!(quote["errorRate"], 0.5);
    assert_eq!(quote["recentErrors"][0]["traceId"], hex_trace(TRACE_A));
    assert_eq!(quote["recentErrors"][0]["spanId"], hex_span(7));
    assert!(quote["recentErrors"][0]["endTimeUnixNano"].is_string());
    assert_eq!(quote["recentErrors"].as_array().unwrap().len(), 1);

    let (status, e) = get(&app, "/api/analysis/operations?window=zero").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(e, json!({"error": "invalid duration `zero`"}));
    // A window that ends before the spans sees none of them.
    let (_, early) = get(&app, "/api/analysis/operations?window=1m&end=1").await;
    assert_eq!(early["operations"].as_array().unwrap().len(), 0);
    close(store).await;
}

#[tokio::test]
async fn statistics_and_find_cover_the_whole_trace() {
    let (app, store) = app().await;
    let a = hex_trace(TRACE_A);
    let (status, st) = get(&app, &format!("/api/analysis/traces/{a}/stats")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        (st["spanCount"].as_u64(), st["criticalPathNanos"].as_u64()),
        (Some(8), Some(100 * MS))
    );
    // By critical time, then total time: SELECT fares 75 ms, GET /ride 15 ms, then 5 ms each.
    assert_eq!(
        strs(&st["operations"], |o| format!(
            "{}/{} n={} total={} self={} critical={} errors={}",
            o["service"].as_str().unwrap(),
            o["operation"].as_str().unwrap(),
            o["count"],
            o["totalNanos"].as_u64().unwrap() / MS,
            o["selfNanos"].as_u64().unwrap() / MS,
            o["criticalNanos"].as_u64().unwrap() / MS,
            o["errorCount"],
        ))[..3],
        [
            "pricing/SELECT fares n=1 total=75 self=75 critical=75 errors=0",
            "gateway/GET /ride n=1 total=100 self=15 critical=15 errors=0",
            "gateway/pricing.Quote n=1 total=85 self=5 critical=5 errors=0",
        ]
    );

    // Find by attribute value, by key=value, by service (rows in waterfall order), any case.
    let (_, f) = get(&app, &format!("/api/analysis/traces/{a}/find?q=PostgreSQL")).await;
    assert_eq!(f["matches"], json!([{"row": 7, "spanId": hex_span(8)}]));
    let (_, f) = get(
        &app,
        &format!("/api/analysis/traces/{a}/find?q=http.route%3D%2Frank"),
    )
    .await;
    assert_eq!(
        f["matches"],
        json!([{"row": 5, "spanId": hex_span(6)}]),
        "{f}"
    );
    let (_, f) = get(&app, &format!("/api/analysis/traces/{a}/find?q=dispatch")).await;
    assert_eq!(
        strs(&f["matches"], |m| m["row"].to_string()),
        ["1", "2", "3"],
        "the dispatch client span by name, the two dispatch spans by service"
    );
    assert_eq!(
        (f["total"].as_u64(), f["truncated"].as_bool()),
        (Some(3), Some(false))
    );
    let (status, e) = get(&app, &format!("/api/analysis/traces/{a}/find?q=")).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(
        e,
        json!({"error": "`q` must be 1 to 256 bytes of text to find"})
    );
    let long = "x".repeat(257);
    let (status, _) = get(&app, &format!("/api/analysis/traces/{a}/find?q={long}")).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    close(store).await;
}

#[tokio::test]
async fn a_downloaded_trace_uploads_into_another_collector_unchanged() {
    let (app, store) = app().await;
    let a = hex_trace(TRACE_A);
    let (status, bytes) = get_bytes(&app, &format!("/api/traces/{a}/otlp")).await;
    assert_eq!(status, StatusCode::OK);
    let otlp: Json = serde_json::from_slice(&bytes).unwrap();
    // One resource per service, each with its spans.
    assert_eq!(otlp["resourceSpans"].as_array().unwrap().len(), 4);

    let (other, other_store) = {
        let (s, h) = (
            tracewire_collector::Collector::builder().build_store(),
            std::sync::Arc::new(tracewire_collector::analysis::HealthAggregator::default()),
        );
        (api_router(s.clone()).merge(collector_ui(s.clone(), h)), s)
    };
    let res = post_traces(&other, "application/json", bytes.clone()).await;
    assert_eq!(res.status(), StatusCode::OK);
    let body: Json =
        serde_json::from_slice(&res.into_body().collect().await.unwrap().to_bytes()).unwrap();
    assert_eq!(
        body,
        json!({"data": {"traceIds": [a], "rejectedSpans": 0, "errorMessage": null, "keptBySampling": 0}})
    );
    // The same spans, attributes, statuses and tree in the other collector.
    let (_, original) = get(&app, &format!("/api/traces/{a}")).await;
    let (_, copy) = get(&other, &format!("/api/traces/{a}")).await;
    assert_eq!(copy, original);

    let res = post_traces(&other, "text/plain", "x").await;
    assert_eq!(res.status(), StatusCode::UNSUPPORTED_MEDIA_TYPE);
    let res = post_traces(&other, "application/json", "{not json").await;
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
    let big = vec![b' '; (4 << 20) + 1];
    let res = post_traces(&other, "application/json", big).await;
    assert_eq!(res.status(), StatusCode::PAYLOAD_TOO_LARGE);
    let (status, _) = get(&app, &format!("/api/traces/{}/otlp", hex_trace(0xdead))).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    close(other_store).await;
    close(store).await;
}

/// `POST /api/traces` with this content type and body.
async fn post_traces(app: &Router, content_type: &str, body: impl Into<Body>) -> Response<Body> {
    let req = Request::post("/api/traces")
        .header("content-type", content_type)
        .body(body.into())
        .unwrap();
    app.clone().oneshot(req).await.unwrap()
}

/// `POST /api/traces` with `body` as OTLP/JSON: the status and the whole answer.
async fn upload(app: &Router, body: Vec<u8>) -> (StatusCode, Json) {
    let res = post_traces(app, "application/json", body).await;
    let status = res.status();
    let bytes = res.into_body().collect().await.unwrap().to_bytes();
    (status, serde_json::from_slice(&bytes).unwrap())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_uploaded_trace_is_kept_past_tail_sampling() {
    let (app, store) = app().await;
    let b = hex_trace(TRACE_B);
    let (_, otlp) = get_bytes(&app, &format!("/api/traces/{b}/otlp")).await;
    // Errors only: trace B (no error) would be dropped by the policies.
    let sampled = tracewire_collector::Collector::builder()
        .sampling(common::errors_only())
        .build_store();
    let health = std::sync::Arc::new(tracewire_collector::analysis::HealthAggregator::default());
    let other = api_router(sampled.clone()).merge(collector_ui(sampled.clone(), health));
    let (status, body) = upload(&other, otlp).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["data"]["keptBySampling"], 1, "{body}");
    let (status, t) = get(&other, &format!("/api/traces/{b}")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(t["spanCount"], 3);
    let (_, w) = get(&other, &format!("/api/analysis/traces/{b}")).await;
    assert_eq!(w["sampling"]["policy"], "retroactive", "{w}");
    close(sampled).await;
    close(store).await;
}

#[tokio::test]
async fn pages_and_assets_are_served_from_the_binary() {
    let (app, store) = app().await;
    for (uri, ctype) in [
        ("/ui/", "text/html"),
        ("/ui/map", "text/html"),
        ("/ui/operations", "text/html"),
        ("/ui/compare", "text/html"),
        ("/ui/assets/core.js", "text/javascript"),
        ("/ui/assets/trace.js", "text/javascript"),
        ("/ui/assets/app.js", "text/javascript"),
        ("/ui/assets/app.css", "text/css"),
    ] {
        let res = app
            .clone()
            .oneshot(Request::get(uri).body(Body::empty()).unwrap())
            .await
            .unwrap();
        assert_eq!(res.status(), StatusCode::OK, "{uri}");
        let ct = res.headers()[http::header::CONTENT_TYPE].to_str().unwrap();
        assert!(ct.starts_with(ctype), "{uri}: {ct}");
    }
    let res = app
        .clone()
        .oneshot(
            Request::get(format!("/ui/trace/{}", hex_trace(TRACE_A)))
                .body(Body::empty())
                .unwrap(),
        )
        .await
        .unwrap();
    let body = res.into_body().collect().await.unwrap().to_bytes();
    let html = String::from_utf8(body.to_vec()).unwrap();
    assert!(html.contains(&format!("data-trace-id=\"{}\"", hex_trace(TRACE_A))));
    assert!(html.contains("data-page=\"trace\""));
    assert!(!html.contains("http://") && !html.contains("https://"));
    let (status, _) = get(&app, "/ui/trace/%3Cscript%3E").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let (status, e) = get(&app, "/ui/assets/secret.txt").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(e, json!({"error": "no asset `secret.txt`"}));
    close(store).await;
}
