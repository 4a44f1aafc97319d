//! Hostile OTLP payloads over both receivers: requests past the decode limits are refused whole
//! with a message (400 / `INVALID_ARGUMENT`), and a resource shared by thousands of scopes is
//! stored once.

mod common;

use common::*;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::InstrumentationScope;
use opentelemetry_proto::tonic::resource::v1::Resource;
use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans, Span};
use prost::Message;
use tonic::Code;

/// One resource with a `blob` attribute of `resource_bytes` and `scopes` scopes of one span
/// with ids only (32 bytes per scope on the wire); scopes are named when `named`.
fn amplifier(resource_bytes: usize, scopes: u64, named: bool) -> ExportTraceServiceRequest {
    ExportTraceServiceRequest {
        resource_spans: vec![ResourceSpans {
            resource: Some(Resource {
                attributes: vec![
                    kv("service.name", s("amplifier")),
                    kv("blob", s(&"r".repeat(resource_bytes))),
                ],
                ..Default::default()
            }),
            scope_spans: (1..=scopes)
                .map(|i| ScopeSpans {
                    scope: named.then(|| InstrumentationScope {
                        name: format!("scope-{i}"),
                        ..Default::default()
                    }),
                    spans: vec![Span {
                        trace_id: u128::from(i).to_be_bytes().to_vec(),
                        span_id: i.to_be_bytes().to_vec(),
                        ..Default::default()
                    }],
                    ..Default::default()
                })
                .collect(),
            ..Default::default()
        }],
    }
}

const TOO_MANY_SCOPES: &str =
    "request has more than 4096 scope spans, the most one request may carry";

fn post(h: &tracewire_collector::CollectorHandle, content_type: &str, body: &[u8]) -> HttpResponse {
    http(
        h.otlp_http_addr().unwrap(),
        "POST",
        "/v1/traces",
        &[("Content-Type", content_type)],
        body,
    )
}

/// Sends `req` as protobuf and (when `as_json`) JSON over HTTP, and over gRPC, and asserts each
/// is refused whole as invalid because of `detail`.
async fn assert_refused_on_every_receiver(
    h: &tracewire_collector::CollectorHandle,
    req: ExportTraceServiceRequest,
    as_json: bool,
    detail: &str,
) {
    let body = req.encode_to_vec();
    let r = tokio::task::block_in_place(|| post(h, "application/x-protobuf", &body));
    assert_eq!(r.status, 400);
    assert_eq!(
        rpc_status(&r.body),
        (
            3,
            format!("invalid protobuf ExportTraceServiceRequest: {detail}")
        )
    );
    if as_json {
        let json = serde_json::to_vec(&req).unwrap();
        let r = tokio::task::block_in_place(|| post(h, "application/json", &json));
        assert_eq!(r.status, 400);
        assert_eq!(
            r.json(),
            serde_json::json!({
                "code": 3,
                "message": format!("invalid JSON ExportTraceServiceRequest: {detail}"),
            })
        );
    }
    let err = grpc_client(h).await.export(req).await.unwrap_err();
    assert_eq!(err.code(), Code::InvalidArgument);
    assert_eq!(
        err.message(),
        format!("invalid protobuf ExportTraceServiceRequest: {detail}")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn amplifying_requests_are_refused_over_http_and_grpc() {
    let h = start().await;
    // The reported payloads: 5,000 scopes under a 64 KiB resource (337 KB) and 90,000 under
    // 1 MiB (3.9 MB).
    // (As JSON, only the first fits under the 4 MiB body cap.)
    for (req, as_json) in [
        (amplifier(64 << 10, 5000, true), true),
        (amplifier(1 << 20, 90_000, false), false),
    ] {
        let size = req.encoded_len();
        assert!(size < 4 << 20, "{size} bytes");
        assert_refused_on_every_receiver(&h, req, as_json, TOO_MANY_SCOPES).await;
    }
    h.flush().await;
    assert_eq!(h.stats().spans, 0, "nothing of a refused request is stored");
    h.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_resource_shared_by_4000_scopes_is_stored_once() {
    let h = start().await;
    let before = h.stats().bytes;
    let body = amplifier(64 << 10, 4000, true).encode_to_vec();
    let r = tokio::task::block_in_place(|| post(&h, "application/x-protobuf", &body));
    assert_eq!(r.status, 200, "{}", r.text());
    let mut client = grpc_client(&h).await;
    // The same resource again over gRPC, with other scopes' spans: still one resource.
    let mut again = amplifier(64 << 10, 4000, true);
    for (i, ss) in again.resource_spans[0].scope_spans.iter_mut().enumerate() {
        ss.spans[0].span_id = (10_000 + i as u64).to_be_bytes().to_vec();
    }
    client.export(again).await.unwrap();
    h.flush().await;
    let stats = h.stats();
    assert_eq!((stats.spans, stats.resources), (8000, 1));
    // The decoded request is about 5 MB; before, every scope kept its own copy of the
    // resource (4,000 × 64 KiB per request).
    let grown = stats.bytes - before;
    assert!(grown < 8 << 20, "store grew by {grown} bytes");
    let span = &h
        .trace(tracewire_collector::model::TraceId::from_u128(7))
        .unwrap()
        .nodes[0]
        .span;
    assert_eq!(&*span.scope().name, "scope-7");
    assert_eq!(span.resource()[1].value.as_str().map(str::len), Some(4096));
    h.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn configured_decode_limits_hold_on_both_receivers() {
    let h = start_with(|b| b.max_spans_per_request(3).max_resource_attributes(1)).await;
    // Four scopes of one span: over the configured three spans, refused whole.
    let four = amplifier(16, 4, true);
    let too_many = "request has more than 3 spans, the most one request may carry";
    assert_refused_on_every_receiver(&h, four, true, too_many).await;
    // Three spans pass; the resource keeps one of its two attributes and counts the other.
    let mut client = grpc_client(&h).await;
    client.export(amplifier(16, 3, true)).await.unwrap();
    h.flush().await;
    assert_eq!(h.stats().spans, 3);
    let span = &h
        .trace(tracewire_collector::model::TraceId::from_u128(2))
        .unwrap()
        .nodes[0]
        .span;
    let keys: Vec<&str> = span.resource().iter().map(|a| &*a.key).collect();
    assert_eq!(keys, ["service.name"]);
    h.shutdown().await;
}
