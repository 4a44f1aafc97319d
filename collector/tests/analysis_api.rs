//! The analysis endpoints (trace analysis, service map, operation health, search) over a real
//! collector store fed through the in-process exporter, with the health aggregator registered
//! as an ingest observer.

use axum::Router;
use axum::body::Body;
use http::{Request, StatusCode};
use http_body_util::BodyExt;
use serde_json::Value as Json;
use tower::ServiceExt;
use tracewire_collector::TraceStore;
use tracewire_collector::ui::collector_ui;

mod analysis_fixture;

use analysis_fixture::*;

async fn app() -> (Router, TraceStore) {
    let (store, health) = loaded_store().await;
    (collector_ui(store.clone(), health), store)
}

/// Stops the store's writer thread (a blocking call) off the runtime.
async fn close(store: TraceStore) {
    tokio::task::spawn_blocking(move || store.close())
        .await
        .unwrap();
}

async fn get(app: &Router, uri: &str) -> (StatusCode, Json) {
    let (status, bytes) = get_bytes(app, uri).await;
    (status, serde_json::from_slice(&bytes).unwrap_or(Json::Null))
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
    assert_eq!(w["trace_id"], hex_trace(TRACE_A));
    assert_eq!(w["duration_ns"], 100 * MS);
    assert_eq!(w["error_count"], 1);
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
        .filter(|r| r["critical_ns"].as_u64().unwrap() > 0)
        .map(|r| r["name"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(
        on_path,
        ["GET /ride", "pricing.Quote", "GET /quote", "SELECT fares"]
    );
    let cp = &w["critical_path"];
    assert_eq!(cp["total_ns"], 100 * MS);
    assert_eq!(
        strs(&cp["spans"], |p| format!(
            "{}={}",
            p["name"].as_str().unwrap(),
            p["critical_ns"].as_u64().unwrap() / MS
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
        &format!(
            "/api/analysis/traces/{}/spans/{}",
            hex_trace(TRACE_A),
            hex_span(7)
        ),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(d["service"], "pricing");
    assert_eq!(d["kind"], "server");
    assert_eq!(d["is_error"], true);
    assert_eq!(d["status_message"], "db timeout");
    assert_eq!(d["parent_span_id"], hex_span(6));

    let (status, _) = get(&app, "/api/analysis/traces/nothex").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let (status, _) = get(&app, &format!("/api/analysis/traces/{}", hex_trace(0xdead))).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    close(store).await;
}

#[tokio::test]
async fn dependencies_endpoint_draws_the_service_map() {
    let (app, store) = app().await;
    let (status, m) = get(&app, "/api/analysis/dependencies").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(m["traces"], 2);
    assert_eq!(m["sampled"], false);
    assert_eq!(m["window_ns"], 100 * MS);
    assert_eq!(
        strs(&m["nodes"], |n| format!(
            "{} spans={} errors={} instrumented={}",
            n["name"].as_str().unwrap(),
            n["span_count"],
            n["error_count"],
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
            "{}->{} calls={} errors={} inferred={} p50={} p99={}",
            e["caller"].as_str().unwrap(),
            e["callee"].as_str().unwrap(),
            e["calls"],
            e["errors"],
            e["inferred_calls"],
            e["latency"]["p50_ns"].as_u64().unwrap() / MS,
            e["latency"]["p99_ns"].as_u64().unwrap() / MS,
        )),
        [
            "dispatch->ranking calls=1 errors=0 inferred=0 p50=45 p99=45",
            "gateway->dispatch calls=1 errors=0 inferred=0 p50=55 p99=55",
            "gateway->pricing calls=2 errors=1 inferred=0 p50=16 p99=85",
            "pricing->postgresql calls=1 errors=0 inferred=1 p50=75 p99=75",
        ]
    );
    close(store).await;
}

#[tokio::test]
async fn operations_endpoint_reports_health_with_exemplars() {
    let (app, store) = app().await;
    let (status, h) = get(&app, "/api/analysis/operations?window_s=300").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(h["window_s"], 300);
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
    assert_eq!(ride["latency"]["max_ns"], 100 * MS);
    assert_eq!(
        strs(&ride["slowest"], |e| e["trace_id"]
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
    assert_eq!(quote["error_rate"], 0.5);
    assert_eq!(quote["recent_errors"][0]["trace_id"], hex_trace(TRACE_A));
    assert_eq!(quote["recent_errors"][0]["span_id"], hex_span(7));
    assert_eq!(quote["recent_errors"].as_array().unwrap().len(), 1);

    let (status, _) = get(&app, "/api/analysis/operations?window_s=zero").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    // A window that ends before the spans sees none of them.
    let (_, early) = get(&app, "/api/analysis/operations?window_s=60&now_ns=1000").await;
    assert_eq!(early["operations"].as_array().unwrap().len(), 0);
    close(store).await;
}

#[tokio::test]
async fn search_and_services_endpoints_use_the_store() {
    let (app, store) = app().await;
    let (status, r) = get(&app, "/api/analysis/search?service=pricing&errors=1").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        strs(&r["traces"], |t| t["trace_id"].as_str().unwrap().to_owned()),
        [hex_trace(TRACE_A)]
    );
    assert_eq!(r["traces"][0]["root_name"], "GET /ride");
    assert_eq!(r["traces"][0]["span_count"], 8);

    let (_, r) = get(&app, "/api/analysis/search?min_ms=50&operation=GET%20/ride").await;
    assert_eq!(
        strs(&r["traces"], |t| t["trace_id"].as_str().unwrap().to_owned()),
        [hex_trace(TRACE_A)]
    );
    let (_, r) = get(&app, "/api/analysis/search?tags=db.system=postgresql").await;
    assert_eq!(r["traces"].as_array().unwrap().len(), 1);
    let (status, _) = get(&app, "/api/analysis/search?min_ms=abc").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);

    let (_, sv) = get(&app, "/api/analysis/services").await;
    assert_eq!(
        strs(&sv["services"], |s| s["service"]
            .as_str()
            .unwrap()
            .to_owned()),
        ["dispatch", "gateway", "pricing", "ranking"]
    );
    assert_eq!(
        sv["services"][3]["operations"],
        serde_json::json!(["POST /rank"])
    );
    close(store).await;
}

#[tokio::test]
async fn pages_and_assets_are_served_from_the_binary() {
    let (app, store) = app().await;
    for (uri, ctype) in [
        ("/ui/", "text/html"),
        ("/ui/map", "text/html"),
        ("/ui/operations", "text/html"),
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
    close(store).await;
}
