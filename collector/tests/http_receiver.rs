//! OTLP/HTTP receiver: ingest in every encoding, and exact answers to bad input.

mod common;

use common::*;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceResponse;
use prost::Message;
use tracewire_collector::{CollectorHandle, TraceQuery, model::TraceId};

const PB: &str = "application/x-protobuf";
const JSON: &str = "application/json";

const CT: &str = "Content-Type";
const CE: &str = "Content-Encoding";

async fn post(h: &CollectorHandle, headers: &[(&str, &str)], body: Vec<u8>) -> HttpResponse {
    http_async(
        h.otlp_http_addr().unwrap(),
        "POST",
        "/v1/traces",
        headers,
        &body,
    )
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn protobuf_json_and_gzip_are_stored() {
    let h = start().await;
    let pb = request(
        "pb-svc",
        vec![span(1, 1, 0, "root"), span(1, 2, 1, "child")],
    )
    .encode_to_vec();
    let r = post(&h, &[(CT, PB)], pb).await;
    assert_eq!(r.status, 200);
    assert_eq!(r.header("content-type"), Some(PB));
    assert_eq!(
        ExportTraceServiceResponse::decode(&r.body[..])
            .unwrap()
            .partial_success,
        None
    );

    let json = serde_json::to_vec(&request("json-svc", vec![span(2, 3, 0, "j")])).unwrap();
    let r = post(&h, &[(CT, "application/json; charset=utf-8")], json).await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.header("content-type"), Some(JSON));
    assert_eq!(r.json(), serde_json::json!({}));

    let gz = gzip(&request("gz-svc", vec![span(3, 4, 0, "g")]).encode_to_vec());
    let r = post(&h, &[(CT, PB), (CE, "gzip")], gz).await;
    assert_eq!(r.status, 200);

    h.flush().await;
    assert_eq!(h.services(), vec!["gz-svc", "json-svc", "pb-svc"]);
    let t = h.trace(TraceId::from_u128(1)).unwrap();
    assert_eq!(t.nodes.len(), 2);
    assert_eq!(t.nodes[1].span.parent_span_id().unwrap().to_u64(), 1);
    assert_eq!(
        h.trace(TraceId::from_u128(2)).unwrap().nodes[0].span.name(),
        "j"
    );
    assert_eq!(h.search(&TraceQuery::new().service("gz-svc")).len(), 1);
    h.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn truncated_protobuf_is_400_and_stores_nothing() {
    let h = start().await;
    let mut pb = request("svc", vec![span(1, 1, 0, "a"), span(1, 2, 1, "b")]).encode_to_vec();
    pb.truncate(pb.len() - 5);
    let r = post(&h, &[(CT, PB)], pb).await;
    assert_eq!(r.status, 400);
    assert_eq!(r.header("content-type"), Some(PB));
    let (code, msg) = rpc_status(&r.body);
    assert_eq!(code, 3);
    assert!(
        msg.starts_with("invalid protobuf ExportTraceServiceRequest: "),
        "{msg}"
    );
    h.flush().await;
    assert_eq!(h.stats().spans, 0);
    h.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_json_and_bad_gzip_are_400() {
    let h = start().await;
    let r = post(&h, &[(CT, JSON)], b"{\"resourceSpans\": [".to_vec()).await;
    assert_eq!(r.status, 400);
    let body = r.json();
    assert_eq!(body["code"], 3);
    assert!(
        body["message"]
            .as_str()
            .unwrap()
            .starts_with("invalid JSON ExportTraceServiceRequest: "),
        "{body}"
    );
    let r = post(
        &h,
        &[(CT, JSON), (CE, "gzip")],
        b"definitely not gzip".to_vec(),
    )
    .await;
    assert_eq!(r.status, 400);
    assert!(
        r.json()["message"]
            .as_str()
            .unwrap()
            .starts_with("invalid gzip body: ")
    );
    h.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_content_type_or_encoding_is_415() {
    let h = start().await;
    let r = post(&h, &[(CT, "text/plain")], b"hello".to_vec()).await;
    assert_eq!(r.status, 415);
    assert_eq!(
        r.text(),
        "unsupported content type `text/plain`: use application/x-protobuf or application/json"
    );
    let r = post(&h, &[], b"hello".to_vec()).await;
    assert_eq!(r.status, 415);
    let r = post(&h, &[(CT, PB), (CE, "br")], b"x".to_vec()).await;
    assert_eq!(r.status, 415);
    assert_eq!(
        r.text(),
        "unsupported content encoding `br`: use gzip or none"
    );
    // Other methods on the path are not allowed.
    let r = http_async(h.otlp_http_addr().unwrap(), "GET", "/v1/traces", &[], b"").await;
    assert_eq!(r.status, 405);
    h.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oversized_bodies_are_413_compressed_or_not() {
    let h = start_with(|b| b.max_request_bytes(64 * 1024)).await;
    let big: Vec<_> = (1..=2000).map(|i| span(1, i, 0, "x")).collect();
    let pb = request("svc", big).encode_to_vec();
    assert!(pb.len() > 64 * 1024);
    let r = post(&h, &[(CT, PB)], pb.clone()).await;
    assert_eq!(r.status, 413);
    assert_eq!(
        rpc_status(&r.body),
        (
            3,
            "request body exceeds the limit of 65536 bytes".to_owned()
        )
    );
    // Small when compressed, too large once decompressed (a zip bomb in miniature).
    let gz = gzip(&pb);
    assert!(gz.len() < 64 * 1024);
    let r = post(&h, &[(CT, PB), (CE, "gzip")], gz).await;
    assert_eq!(r.status, 413);
    assert_eq!(
        rpc_status(&r.body),
        (
            3,
            "decompressed request body exceeds the limit of 65536 bytes".to_owned()
        )
    );
    // Chunked, with no Content-Length to refuse early: the limit still holds.
    let chunked = {
        let mut v = format!("{:x}\r\n", pb.len()).into_bytes();
        v.extend_from_slice(&pb);
        v.extend_from_slice(b"\r\n0\r\n\r\n");
        v
    };
    let addr = h.otlp_http_addr().unwrap();
    let r = tokio::task::spawn_blocking(move || {
        use std::io::{Read, Write};
        let mut s = std::net::TcpStream::connect(addr).unwrap();
        let head = format!(
            "POST /v1/traces HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\nContent-Type: {PB}\r\nTransfer-Encoding: chunked\r\n\r\n"
        );
        s.write_all(head.as_bytes()).unwrap();
        let _ = s.write_all(&chunked);
        let mut raw = Vec::new();
        let _ = s.read_to_end(&mut raw);
        parse_response(&raw)
    })
    .await
    .unwrap();
    assert_eq!(r.status, 413);
    h.flush().await;
    assert_eq!(h.stats().spans, 0);
    h.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invalid_ids_are_rejected_per_span_with_partial_success() {
    let h = start().await;
    let mut short_trace = span(1, 2, 0, "short-trace");
    short_trace.trace_id.pop();
    let zero_trace = span(0, 3, 0, "zero-trace");
    let mut long_span = span(1, 4, 0, "long-span");
    long_span.span_id.push(1);
    let zero_span = span(1, 0, 0, "zero-span");
    let mut bad_parent = span(1, 5, 0, "bad-parent");
    bad_parent.parent_span_id = vec![1, 2, 3];
    let req = request(
        "svc",
        vec![
            span(1, 1, 0, "good"),
            short_trace,
            zero_trace,
            long_span,
            zero_span,
            bad_parent,
        ],
    );
    let r = post(&h, &[(CT, PB)], req.encode_to_vec()).await;
    assert_eq!(r.status, 200);
    let ps = ExportTraceServiceResponse::decode(&r.body[..])
        .unwrap()
        .partial_success
        .unwrap();
    assert_eq!(ps.rejected_spans, 5);
    assert_eq!(ps.error_message, "trace_id must be 16 bytes, got 15");

    // The JSON form of the same answer.
    let json = serde_json::to_vec(&request("svc", vec![span(0, 9, 0, "zero")])).unwrap();
    let r = post(&h, &[(CT, JSON)], json).await;
    assert_eq!(r.status, 200);
    assert_eq!(
        r.json(),
        serde_json::json!({"partialSuccess": {"rejectedSpans": 5 - 4, "errorMessage": "trace_id must not be all zeros"}})
    );
    h.flush().await;
    let st = h.stats();
    assert_eq!((st.spans, st.rejected), (1, 6));
    assert_eq!(
        h.trace(TraceId::from_u128(1)).unwrap().nodes[0].span.name(),
        "good"
    );
    h.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn huge_attribute_counts_are_capped_not_fatal() {
    let h = start_with(|b| b.max_attributes_per_span(64)).await;
    let mut sp = span(1, 1, 0, "many-attrs");
    sp.attributes = (0..50_000).map(|i| kv(&format!("k{i}"), s("v"))).collect();
    sp.dropped_attributes_count = 7;
    let body = request("svc", vec![sp]).encode_to_vec();
    assert!(body.len() < 4 << 20);
    let r = post(&h, &[(CT, PB)], body).await;
    assert_eq!(r.status, 200);
    h.flush().await;
    let t = h.trace(TraceId::from_u128(1)).unwrap();
    let stored = &t.nodes[0].span;
    assert_eq!(stored.attributes().len(), 64);
    assert_eq!(stored.attributes()[63].key.as_ref(), "k63");
    assert_eq!(stored.dropped_attributes(), 7 + 50_000 - 64);
    h.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn full_ingest_queue_answers_429() {
    let (gate, builder) = gated(builder().ingest_queue_spans(1));
    let h = builder.spawn().await.unwrap();
    // The writer stops inside the observer on the span named "block", so the queue stays full.
    let block = request("svc", vec![span(7, 1, 0, "block")]).encode_to_vec();
    assert_eq!(post(&h, &[(CT, PB)], block).await.status, 200);
    gate.wait_blocked();
    let next = request("svc", vec![span(7, 2, 0, "x")]).encode_to_vec();
    let r = post(&h, &[(CT, PB)], next.clone()).await;
    assert_eq!(r.status, 429);
    assert_eq!(r.header("retry-after"), Some("1"));
    assert_eq!(
        rpc_status(&r.body),
        (14, "collector ingest queue is full; retry later".to_owned())
    );
    gate.release();
    h.flush().await;
    assert_eq!(post(&h, &[(CT, PB)], next).await.status, 200);
    h.flush().await;
    let st = h.stats();
    assert_eq!((st.spans, st.rejected), (2, 1));
    h.shutdown().await;
}
