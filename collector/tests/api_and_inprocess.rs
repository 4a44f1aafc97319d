//! The JSON API over spans from the in-process exporter: search filters, trace assembly with
//! out-of-order, late and orphan spans, and the blocking start/stop path.

mod analysis_fixture;
mod common;

use std::time::{Duration, UNIX_EPOCH};

use common::*;
use serde_json::json;
use tracewire::export::{Pipeline, SpanExporter};
use tracewire::{ExportError, KeyValue, Resource, SpanData, SpanId, SpanKind, Status, TraceId};
use tracewire_collector::{Collector, TraceQuery};

const BASE: u64 = 1_700_000_000_000_000_000;

fn data(
    trace: u128,
    id: u64,
    parent: u64,
    name: &'static str,
    start_ms: u64,
    dur_ms: u64,
) -> SpanData {
    let mut d = analysis_fixture::data(trace, id, parent, name);
    d.kind = if parent == 0 {
        SpanKind::Server
    } else {
        SpanKind::Client
    };
    d.start_time = UNIX_EPOCH + Duration::from_nanos(BASE + start_ms * 1_000_000);
    d.end_time = d.start_time + Duration::from_millis(dur_ms);
    d.attributes = vec![
        KeyValue::new("http.route", "/rides"),
        KeyValue::new("retries", 2i64),
    ];
    d
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn api_search_and_assembly() {
    let h = start().await;
    let api = h.api_addr().unwrap();
    let mut exp = h.in_process_exporter();
    let gw = Resource::new("gateway");
    let pay = Resource::new("payments");
    // Trace 1 arrives child-first; its root comes in a later batch (late span).
    exp.export(&[data(1, 12, 11, "charge", 5, 40)], &gw)
        .unwrap();
    let mut failed = data(2, 21, 0, "POST /pay", 100, 300);
    failed.status = Status::error("card declined");
    failed
        .attributes
        .push(KeyValue::new("http.response.status_code", 502i64));
    exp.export(&[failed, data(3, 31, 99, "orphaned", 200, 1)], &pay)
        .unwrap();
    h.flush().await;

    // Before the root arrives: the child is an orphan, flagged, not lost.
    let (status, body) = get_json(api, &format!("/api/traces/{}", TraceId::from_u128(1))).await;
    assert_eq!(status, 200);
    assert_eq!(body["data"]["rootSpanId"], json!(null));
    assert_eq!(body["data"]["orphanCount"], 1);
    assert_eq!(body["data"]["spans"][0]["orphan"], true);

    exp.export(&[data(1, 11, 0, "GET /rides", 0, 50)], &gw)
        .unwrap();
    h.flush().await;
    let (_, body) = get_json(api, &format!("/api/traces/{}", TraceId::from_u128(1))).await;
    let t = &body["data"];
    assert_eq!(t["rootSpanId"], SpanId::from_u64(11).to_string());
    assert_eq!(t["orphanCount"], 0);
    assert_eq!(t["durationNanos"], 50_000_000);
    let spans = t["spans"].as_array().unwrap();
    assert_eq!(spans.len(), 2);
    assert_eq!(spans[0]["name"], "GET /rides");
    assert_eq!(spans[0]["kind"], "server");
    assert_eq!(
        spans[0]["children"],
        json!([SpanId::from_u64(12).to_string()])
    );
    assert_eq!(spans[1]["depth"], 1);
    assert_eq!(spans[1]["parentSpanId"], SpanId::from_u64(11).to_string());
    assert_eq!(
        spans[1]["attributes"],
        json!({"http.route": "/rides", "retries": 2})
    );
    assert_eq!(spans[1]["resource"]["service.name"], "gateway");

    let (_, body) = get_json(api, "/api/services").await;
    assert_eq!(body, json!({"data": ["gateway", "payments"]}));
    let (_, body) = get_json(api, "/api/services/gateway/operations").await;
    assert_eq!(body, json!({"data": ["GET /rides", "charge"]}));

    let ids = |body: &serde_json::Value| -> Vec<String> {
        body["data"]
            .as_array()
            .unwrap()
            .iter()
            .map(|t| t["traceId"].as_str().unwrap().to_owned())
            .collect()
    };
    let t = |n: u128| TraceId::from_u128(n).to_string();
    let (_, body) = get_json(api, "/api/traces?service=payments&error=true").await;
    assert_eq!(ids(&body), vec![t(2)]);
    assert_eq!(body["data"][0]["errorCount"], 1);
    assert_eq!(body["data"][0]["rootName"], "POST /pay");
    let (_, body) = get_json(api, "/api/traces?minDuration=100ms").await;
    assert_eq!(ids(&body), vec![t(2)]);
    let (_, body) = get_json(api, "/api/traces?maxDuration=45ms&service=gateway").await;
    assert_eq!(ids(&body), vec![t(1)]);
    let (_, body) = get_json(api, "/api/traces?tags=http.response.status_code%3D502").await;
    assert_eq!(ids(&body), vec![t(2)]);
    let (_, body) = get_json(api, "/api/traces?service=gateway&operation=charge").await;
    assert_eq!(ids(&body), vec![t(1)]);
    let start_us = (BASE + 150 * 1_000_000) / 1000;
    let (_, body) = get_json(api, &format!("/api/traces?start={start_us}")).await;
    assert_eq!(ids(&body), vec![t(3)]);
    let (_, body) = get_json(api, "/api/traces?limit=2").await;
    assert_eq!(ids(&body).len(), 2);

    let (status, body) = get_json(api, "/api/traces?minDuration=5").await;
    assert_eq!(status, 400);
    assert_eq!(
        body["error"],
        "duration `5` needs a unit (ns, us, ms, s, m or h)"
    );
    let (status, body) = get_json(api, "/api/traces/xyz").await;
    assert_eq!(status, 400);
    assert_eq!(
        body["error"],
        "invalid trace id `xyz`: expected 32 hex digits, found 3"
    );
    let (status, body) = get_json(api, "/api/traces/xyz/otlp").await;
    assert_eq!(status, 400);
    assert_eq!(
        body["error"],
        "invalid trace id `xyz`: expected 32 hex digits, found 3"
    );
    let (status, body) = get_json(api, &format!("/api/traces/{}", t(42))).await;
    assert_eq!(status, 404);
    assert_eq!(body["error"], format!("trace {} not found", t(42)));
    let (_, body) = get_json(api, "/api/stats").await;
    assert_eq!(body["data"]["spans"], 4);
    h.shutdown().await;
}

#[test]
fn blocking_start_with_a_pipeline() {
    let h = Collector::builder().ephemeral_ports().start().unwrap();
    let pipeline = Pipeline::builder()
        .exporter(h.in_process_exporter())
        .build();
    pipeline.submit(data(5, 51, 0, "work", 0, 1));
    pipeline.flush(Duration::from_secs(10)).unwrap();
    h.store().flush_blocking();
    let found = h.search(&TraceQuery::new().service(Resource::default().service_name()));
    assert_eq!(found.len(), 1);
    assert_eq!(&*found[0].root_name, "work");
    pipeline.shutdown(Duration::from_secs(10)).unwrap();
    h.shutdown_blocking();
}

#[test]
fn full_queue_is_an_export_error() {
    let (gate, b) = gated(Collector::builder().ingest_queue_spans(1));
    let store = b.build_store();
    let mut exp = store.in_process_exporter();
    exp.export(&[data(1, 1, 0, "block", 0, 1)], &Resource::new("svc"))
        .unwrap();
    gate.wait_blocked();
    assert_eq!(
        exp.export(&[data(1, 2, 0, "x", 0, 1)], &Resource::new("svc")),
        Err(ExportError::Rejected {
            spans: 1,
            message: "collector ingest queue is full".into()
        })
    );
    gate.release();
    store.close();
    assert_eq!(
        exp.export(&[data(1, 3, 0, "x", 0, 1)], &Resource::new("svc")),
        Err(ExportError::Shutdown)
    );
    assert_eq!(store.stats().spans, 1);
}
