//! Every query answer is bounded: big traces come a page at a time, searches take at most 16
//! distinct tags, service and operation lists stop at 10,000, and the service map samples the
//! newest traces.

use std::sync::Arc;
use std::time::{Duration, UNIX_EPOCH};

use axum::Router;
use http::StatusCode;
use serde_json::{Value as Json, json};
use tracewire::export::SpanExporter;
use tracewire::{Resource, SpanData};
use tracewire_collector::analysis::HealthAggregator;
use tracewire_collector::ui::collector_ui;
use tracewire_collector::{Collector, TraceStore, api_router};

mod analysis_fixture;

use analysis_fixture::{BIG_TRACE, big_trace_store, data, get_bytes, hex_span, hex_trace};

fn app(store: &TraceStore) -> Router {
    api_router(store.clone()).merge(collector_ui(
        store.clone(),
        Arc::new(HealthAggregator::default()),
    ))
}

async fn get(app: &Router, uri: &str) -> (StatusCode, usize, Json) {
    let (status, bytes) = get_bytes(app, uri).await;
    let body = serde_json::from_slice(&bytes).unwrap_or(Json::Null);
    (status, bytes.len(), body)
}

async fn close(store: TraceStore) {
    tokio::task::spawn_blocking(move || store.close())
        .await
        .unwrap();
}

fn span(trace: u128, id: u64, parent: u64, name: String) -> SpanData {
    let mut d = data(trace, id, parent, name);
    d.start_time = UNIX_EPOCH + Duration::from_secs(1_700_000_000);
    d.end_time = d.start_time + Duration::from_millis(1);
    d
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_big_trace_is_answered_a_page_at_a_time() {
    let store = big_trace_store(25_000).await;
    let app = app(&store);
    let t = hex_trace(BIG_TRACE);

    let (status, size, body) = get(&app, &format!("/api/traces/{t}")).await;
    assert_eq!(status, StatusCode::OK);
    let d = &body["data"];
    assert_eq!(
        (&d["spanCount"], &d["offset"], &d["limit"], &d["nextOffset"]),
        (&json!(25_000), &json!(0), &json!(1000), &json!(1000))
    );
    assert_eq!(d["spans"].as_array().unwrap().len(), 1000);
    // The root lists its first 1,000 children and counts all of them.
    assert_eq!(d["spans"][0]["name"], "root");
    assert_eq!(d["spans"][0]["childCount"], 24_999);
    assert_eq!(d["spans"][0]["children"].as_array().unwrap().len(), 1000);
    assert_eq!(d["spans"][1]["spanId"], hex_span(2));
    assert_eq!(d["rootSpanId"], hex_span(1));
    assert!(size < 1 << 20, "first page is {size} bytes");

    let (_, _, body) = get(&app, &format!("/api/traces/{t}?offset=24500&limit=1000")).await;
    let d = &body["data"];
    assert_eq!(d["spans"].as_array().unwrap().len(), 500);
    assert_eq!(d["spans"][0]["name"], "item 24500");
    assert_eq!(d["nextOffset"], Json::Null);

    let (_, _, body) = get(&app, &format!("/api/traces/{t}?offset=30000")).await;
    assert_eq!(body["data"]["spans"], json!([]));
    assert_eq!(body["data"]["nextOffset"], Json::Null);

    let (status, _, body) = get(&app, &format!("/api/traces/{t}?limit=10001")).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(
        body["error"],
        "`limit` must be between 1 and 10000, got 10001"
    );

    // The waterfall, the same way: 2,000 rows a page, or the page holding a span.
    let (status, size, w) = get(&app, &format!("/api/analysis/traces/{t}")).await;
    assert_eq!(status, StatusCode::OK);
    let w = &w["data"];
    assert_eq!(
        (&w["rowCount"], &w["offset"], &w["limit"], &w["nextOffset"]),
        (&json!(25_000), &json!(0), &json!(2000), &json!(2000))
    );
    assert_eq!(w["rows"].as_array().unwrap().len(), 2000);
    assert!(w["criticalPath"]["spans"].as_array().unwrap().len() <= 20);
    // The root waits on 24,999 children in turn: 100 of its segments are listed.
    let root_segments = w["criticalPath"]["segments"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|s| s["spanId"] == hex_span(1))
        .count();
    assert_eq!(root_segments, 100);
    assert_eq!(w["criticalPath"]["segmentsTruncated"], true);
    assert!(size < 1 << 20, "first waterfall page is {size} bytes");
    let (_, _, w) = get(
        &app,
        &format!("/api/analysis/traces/{t}?spanId={}", hex_span(12_345)),
    )
    .await;
    assert_eq!(w["data"]["offset"], 12_000);
    assert_eq!(w["data"]["rows"][344]["spanId"], hex_span(12_345));
    let (status, _, body) = get(&app, &format!("/api/analysis/traces/{t}?limit=0")).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body["error"], "`limit` must be between 1 and 10000, got 0");

    let (status, _, d) = get(&app, &format!("/api/traces/{t}/spans/{}", hex_span(20_000))).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(d["data"]["name"], "item 19999");

    // The OTLP/JSON download holds the first 10,000 spans and says how many the trace has.
    let res = tower::ServiceExt::oneshot(
        app.clone(),
        http::Request::get(format!("/api/traces/{t}/otlp"))
            .body(axum::body::Body::empty())
            .unwrap(),
    )
    .await
    .unwrap();
    assert_eq!(res.headers()["tracewire-span-count"], "25000");
    let bytes = http_body_util::BodyExt::collect(res.into_body())
        .await
        .unwrap()
        .to_bytes();
    let otlp: Json = serde_json::from_slice(&bytes).unwrap();
    let spans: Vec<&Json> = otlp["resourceSpans"][0]["scopeSpans"][0]["spans"]
        .as_array()
        .unwrap()
        .iter()
        .collect();
    assert_eq!(spans.len(), 10_000);
    assert_eq!(spans[0]["name"], "root");
    close(store).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn searches_take_at_most_16_distinct_tags() {
    let store = Collector::builder().build_store();
    let app = app(&store);
    let seventeen: Vec<String> = (0..17).map(|i| format!("tags=k{i}%3Dv")).collect();
    let (status, _, body) = get(&app, &format!("/api/traces?{}", seventeen.join("&"))).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(
        body["error"],
        "at most 16 distinct `tags` per search; narrow the search"
    );
    // 5,000 copies of one condition are one condition.
    let same = vec!["tags=k%3Dv"; 5000].join("&");
    let (status, _, body) = get(&app, &format!("/api/traces?{same}")).await;
    assert_eq!((status, body), (StatusCode::OK, json!({"data": []})));

    close(store).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn service_and_operation_lists_stop_at_10000() {
    let store = Collector::builder().build_store();
    let mut exp = store.in_process_exporter();
    let mut id = 0;
    for s in 0..10_001u64 {
        id += 1;
        exp.export(
            &[span(u128::from(id), id, 0, "op".into())],
            &Resource::new(format!("svc-{s:05}")),
        )
        .unwrap();
    }
    let wide: Vec<SpanData> = (0..10_001u64)
        .map(|o| span(1 << 64, o + 1, 0, format!("op-{o:05}")))
        .collect();
    exp.export(&wide, &Resource::new("svc-00000")).unwrap();
    store.flush().await;
    let app = app(&store);

    let (_, _, body) = get(&app, "/api/services").await;
    assert_eq!(body["data"].as_array().unwrap().len(), 10_000);
    assert_eq!(body["data"][9_999], "svc-09999");
    assert_eq!(body["truncated"], true);
    let (_, _, body) = get(&app, "/api/services/svc-00000/operations").await;
    assert_eq!(body["data"].as_array().unwrap().len(), 10_000);
    assert_eq!(body["truncated"], true);
    let (_, _, body) = get(&app, "/api/services/svc-00001/operations").await;
    assert_eq!(body, json!({"data": ["op"]}));

    close(store).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_service_map_samples_the_newest_100000_spans() {
    let store = Collector::builder().build_store();
    let mut exp = store.in_process_exporter();
    // 25,000 traces of five spans: a gateway root calling pricing four times.
    for chunk in 0..250u128 {
        let mut gateway = Vec::new();
        let mut pricing = Vec::new();
        for t in chunk * 100 + 1..=chunk * 100 + 100 {
            gateway.push(span(t, 1, 0, "GET /ride".into()));
            for c in 2..=5 {
                pricing.push(span(t, c, 1, "GET /price".into()));
            }
        }
        exp.export(&gateway, &Resource::new("gateway")).unwrap();
        exp.export(&pricing, &Resource::new("pricing")).unwrap();
    }
    store.flush().await;
    let app = app(&store);
    let (status, _, m) = get(&app, "/api/analysis/dependencies").await;
    assert_eq!(status, StatusCode::OK);
    let m = &m["data"];
    assert_eq!(
        (&m["traces"], &m["sampled"]),
        (&json!(20_000), &json!(true))
    );
    // Each sampled trace has four gateway → pricing calls.
    assert_eq!(m["edges"][0]["caller"], "gateway");
    assert_eq!(m["edges"][0]["calls"], 80_000);
    close(store).await;
}
