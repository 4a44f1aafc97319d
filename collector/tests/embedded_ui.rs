//! The embedded collector serves the web UI and the analysis API on its API address, and
//! computes per-operation health as spans arrive.

use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tracewire::export::SpanExporter;
use tracewire::{
    Resource, SpanContext, SpanData, SpanId, SpanKind, TraceFlags, TraceId, TraceState,
};
use tracewire_collector::Collector;

async fn get(addr: std::net::SocketAddr, path: &str) -> (u16, String) {
    let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
    s.write_all(
        format!("GET {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n").as_bytes(),
    )
    .await
    .unwrap();
    let mut buf = Vec::new();
    s.read_to_end(&mut buf).await.unwrap();
    let text = String::from_utf8_lossy(&buf).into_owned();
    let status = text[9..12].parse().unwrap();
    let body = text
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_owned())
        .unwrap_or_default();
    (status, body)
}

#[tokio::test]
async fn ui_and_health_are_served_on_the_api_address() {
    let collector = Collector::builder()
        .ephemeral_ports()
        .spawn()
        .await
        .unwrap();
    let mut exporter = collector.in_process_exporter();
    let mut span = SpanData::new(
        SpanContext::new(
            TraceId::from_u128(0xabc),
            SpanId::from_u64(1),
            TraceFlags::SAMPLED,
            TraceState::new(),
            false,
        ),
        "GET /ride",
    );
    span.kind = SpanKind::Server;
    span.start_time = std::time::SystemTime::now() - Duration::from_millis(30);
    span.end_time = std::time::SystemTime::now();
    tokio::task::spawn_blocking(move || exporter.export(&[span], &Resource::new("gateway")))
        .await
        .unwrap()
        .unwrap();
    collector.flush().await;

    let api = collector.api_addr().unwrap();
    let (status, body) = get(api, "/ui/").await;
    assert_eq!(status, 200);
    assert!(
        body.contains("<html") || body.contains("<!doctype") || body.contains("<!DOCTYPE"),
        "{body}"
    );
    let (status, _) = get(api, "/").await;
    assert_eq!(status, 307);
    let (status, body) = get(api, "/api/analysis/operations?window=15m").await;
    assert_eq!(status, 200);
    assert!(body.contains("GET /ride"), "{body}");

    let health = collector.operation_health(Duration::from_secs(900));
    let op = health
        .iter()
        .find(|h| &*h.service == "gateway" && &*h.operation == "GET /ride")
        .unwrap_or_else(|| panic!("{health:?}"));
    assert_eq!(op.count, 1);
    collector.shutdown().await;
}
