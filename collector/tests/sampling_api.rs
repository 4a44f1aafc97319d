//! Tail sampling through the collector's listeners: spans over OTLP/HTTP go through the stage,
//! the sampling routes of the JSON API (retroactive keep, trace lookup, counters, seen vs kept
//! per operation), and kept traces forwarded upstream over OTLP to another collector.

mod analysis_fixture;
mod common;

use std::time::Duration;

use analysis_fixture::data;
use common::*;
use opentelemetry_proto::tonic::trace::v1::Status;
use prost::Message;
use serde_json::json;
use tracewire::export::{InMemoryExporter, SpanExporter};
use tracewire::{Resource, TraceId};
use tracewire_collector::Collector;
use tracewire_collector::sampling::{ForwardConfig, ManualClock, attributes};

async fn post(addr: std::net::SocketAddr, path: String) -> HttpResponse {
    http_async(addr, "POST", &path, &[], b"").await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sampling_routes_over_otlp_http_traffic() {
    let clock = ManualClock::new();
    let h = builder()
        .sampling(errors_only())
        .sampling_clock(clock.clone())
        .spawn()
        .await
        .unwrap();
    let (otlp, api) = (h.otlp_http_addr().unwrap(), h.api_addr().unwrap());
    // Trace 1 is normal, trace 2 has a failed child.
    let mut failed = span(2, 2, 1, "SELECT");
    failed.status = Some(Status {
        code: 2,
        message: "deadlock".into(),
    });
    let body = request(
        "gateway",
        vec![
            span(1, 2, 1, "SELECT"),
            span(1, 1, 0, "GET /rides"),
            failed,
            span(2, 1, 0, "GET /rides"),
        ],
    )
    .encode_to_vec();
    let r = http_async(
        otlp,
        "POST",
        "/v1/traces",
        &[("content-type", "application/x-protobuf")],
        &body,
    )
    .await;
    assert_eq!(r.status, 200);
    h.flush().await;
    clock.advance(Duration::from_secs(2));
    h.flush().await;

    let normal = "00000000000000000000000000000001";
    let error = "00000000000000000000000000000002";
    assert_eq!(get_json(api, &format!("/api/traces/{normal}")).await.0, 404);
    assert_eq!(get_json(api, &format!("/api/traces/{error}")).await.0, 200);
    let (status, body) = get_json(api, &format!("/api/sampling/traces/{normal}")).await;
    assert_eq!(status, 200);
    assert_eq!(
        body,
        json!({"data": {"traceId": normal, "state": "dropped", "reason": "sampled_out",
                        "trigger": "idle_gap", "bufferedSpans": 2, "keepable": true}})
    );
    let (_, body) = get_json(api, &format!("/api/sampling/traces/{error}")).await;
    assert_eq!(
        body,
        json!({"data": {"traceId": error, "state": "kept", "reason": "error",
                        "trigger": "at_once", "rate": 1.0, "keepable": false}})
    );

    // Keep the dropped one after the fact.
    let r = post(api, format!("/api/traces/{normal}/keep")).await;
    assert_eq!(r.status, 200);
    assert_eq!(
        r.json(),
        json!({"data": {"traceId": normal, "outcome": "kept", "spans": 2}})
    );
    let (status, trace) = get_json(api, &format!("/api/traces/{normal}")).await;
    assert_eq!(status, 200);
    let root = &trace["data"]["spans"][0];
    assert_eq!(root["name"], "GET /rides");
    assert_eq!(root["attributes"][attributes::POLICY], "retroactive");
    assert_eq!(root["attributes"][attributes::RATE], 1.0);
    assert_eq!(root["attributes"][attributes::TRIGGER], "retroactive");
    let r = post(api, format!("/api/traces/{normal}/keep")).await;
    assert_eq!(
        r.json(),
        json!({"data": {"traceId": normal, "outcome": "already_kept", "spans": 0}})
    );
    let r = post(
        api,
        "/api/traces/0af7651916cd43dd8448eb211c80319c/keep".into(),
    )
    .await;
    assert_eq!(r.status, 404);
    assert_eq!(
        r.json(),
        json!({"error": "trace 0af7651916cd43dd8448eb211c80319c is not in the recent-span buffer (never received, or evicted)"})
    );
    let r = post(api, "/api/traces/xyz/keep".into()).await;
    assert_eq!(r.status, 400);
    assert!(
        r.json()["error"]
            .as_str()
            .unwrap()
            .starts_with("invalid trace id `xyz`")
    );
    let (status, bad) = get_json(api, "/api/sampling/traces/xyz").await;
    assert_eq!(status, 400);
    assert_eq!(
        bad,
        json!({"error": "invalid trace id `xyz`: expected 32 hex digits, found 3"})
    );
    let (_, unknown) = get_json(api, "/api/sampling/traces/0af7651916cd43dd8448eb211c80319c").await;
    assert_eq!(unknown["data"]["state"], "unknown");

    let (status, stats) = get_json(api, "/api/sampling/stats").await;
    assert_eq!(status, 200);
    let s = &stats["data"];
    assert_eq!(s["enabled"], true);
    assert_eq!(s["receivedSpans"], 4);
    assert_eq!(s["keptSpans"], 4);
    assert_eq!(s["keptTraces"], 2);
    assert_eq!(s["decisions"]["error"], 1);
    assert_eq!(s["decisions"]["sampled_out"], 1);
    assert_eq!(s["decisions"]["retroactive"], 1);
    assert_eq!(s["triggers"]["at_once"], 1);
    assert_eq!(s["retroactiveKeeps"], 1);
    assert_eq!(s["maxBufferBytes"], 256 << 20);
    assert_eq!(s["forward"], serde_json::Value::Null);

    // The spans end at 1,700,000,000.001 s (see `span`).
    let now = "1700000000500000000";
    let now_us = "1700000000500000";
    let (status, ops) = get_json(
        api,
        &format!("/api/sampling/operations?window=60s&end={now_us}"),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(
        ops,
        json!({"data": {"windowNanos": 60_000_000_000u64, "endTimeUnixNano": now, "operations": [
            {"service": "gateway", "operation": "GET /rides", "seen": 2, "kept": 2},
            {"service": "gateway", "operation": "SELECT", "seen": 2, "kept": 2},
        ]}})
    );
    // The health of the same window counts the same spans.
    let (_, health) = get_json(
        api,
        &format!("/api/analysis/operations?window=1m&end={now_us}"),
    )
    .await;
    assert_eq!(health["data"]["operations"][0]["count"], 2);
    assert_eq!(
        get_json(api, "/api/sampling/operations?colour=red").await,
        (400, json!({"error": "unknown query parameter `colour`"}))
    );
    assert_eq!(
        get_json(api, "/api/sampling/operations?window=0s").await,
        (
            400,
            json!({"error": "`window` must be longer than zero, got `0s`"})
        )
    );
    h.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sampling_routes_say_when_sampling_is_off() {
    let h = start().await;
    let api = h.api_addr().unwrap();
    let off = json!({"error": "tail sampling is off: every received span is stored"});
    let r = post(
        api,
        "/api/traces/0af7651916cd43dd8448eb211c80319c/keep".into(),
    )
    .await;
    assert_eq!((r.status, r.json()), (409, off.clone()));
    assert_eq!(
        get_json(api, "/api/sampling/traces/0af7651916cd43dd8448eb211c80319c").await,
        (409, off.clone())
    );
    assert_eq!(get_json(api, "/api/sampling/operations").await, (409, off));
    assert_eq!(
        get_json(api, "/api/sampling/stats").await,
        (200, json!({"data": {"enabled": false}}))
    );
    h.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kept_traces_are_forwarded_to_an_upstream_collector_over_otlp() {
    let upstream = start().await;
    let endpoint = format!("http://{}/v1/traces", upstream.otlp_http_addr().unwrap());
    let clock = ManualClock::new();
    let agent = Collector::builder()
        .otlp_http_addr(None)
        .otlp_grpc_addr(None)
        .api_addr(None)
        .sampling(
            errors_only()
                .into_builder()
                .forward(ForwardConfig::new(endpoint))
                .build()
                .unwrap(),
        )
        .sampling_clock(clock.clone())
        .spawn()
        .await
        .unwrap();
    let mut exp = agent.in_process_exporter();
    let mut failed = data(7, 2, 1, "charge");
    failed.status = tracewire::Status::error("card declined");
    let resource = Resource::new("payments").with("deployment.environment.name", "prod");
    exp.export(
        &[
            failed,
            data(7, 1, 0, "POST /pay"),
            data(8, 1, 0, "GET /health"),
        ],
        &resource,
    )
    .unwrap();
    agent.flush().await;
    clock.advance(Duration::from_secs(2));
    agent.flush().await;
    // Shutting the agent down gives the forwarder time to send what it holds.
    agent.shutdown().await;
    upstream.flush().await;

    let kept = upstream.trace(TraceId::from_u128(7)).expect("forwarded");
    let root = kept.root().unwrap();
    assert_eq!(root.span.service(), "payments");
    assert_eq!(
        root.span
            .attribute(attributes::POLICY)
            .and_then(|v| v.as_str()),
        Some("error")
    );
    assert!(
        root.span
            .resource()
            .iter()
            .any(|a| &*a.key == "deployment.environment.name" && a.value.as_str() == Some("prod"))
    );
    let child = kept
        .nodes
        .iter()
        .find(|n| n.span.name() == "charge")
        .unwrap();
    assert!(child.span.is_error());
    assert_eq!(child.span.status_message(), Some("card declined"));
    // The dropped trace stayed behind.
    assert!(upstream.trace(TraceId::from_u128(8)).is_none());
    upstream.shutdown().await;
}

#[test]
fn forward_exporter_receives_kept_traces_and_counters_follow() {
    let memory = InMemoryExporter::new();
    let clock = ManualClock::new();
    let store = Collector::builder()
        .sampling(errors_only())
        .sampling_clock(clock.clone())
        .forward_exporter(memory.clone())
        .build_store();
    let mut exp = store.in_process_exporter();
    let mut failed = data(9, 1, 0, "GET /");
    failed.status = tracewire::Status::error("boom");
    exp.export(&[failed, data(10, 1, 0, "GET /")], &Resource::new("api"))
        .unwrap();
    store.flush_blocking();
    clock.advance(Duration::from_secs(2));
    store.flush_blocking();
    // Closing the store drains the forwarder.
    store.close();
    let spans = memory.spans();
    assert_eq!(spans.len(), 1);
    assert_eq!(spans[0].span_context.trace_id(), TraceId::from_u128(9));
    assert_eq!(
        spans[0]
            .attribute(attributes::POLICY)
            .and_then(|v| v.as_str()),
        Some("error")
    );
    assert_eq!(memory.resource().unwrap().service_name(), "api");
    let f = store.sampling_stats().unwrap().forward.unwrap();
    assert_eq!((f.sent_spans, f.dropped_spans, f.queued_spans), (1, 0, 0));
}
