//! Helpers shared by the collector's integration tests.

#![allow(dead_code, unreachable_pub)]

pub mod tls;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::collector::trace::v1::trace_service_client::TraceServiceClient;
use opentelemetry_proto::tonic::common::v1::{AnyValue, KeyValue, any_value};
use opentelemetry_proto::tonic::resource::v1::Resource;
use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans, Span, Status};
use tracewire_collector::{Collector, CollectorBuilder, CollectorHandle};

/// A response read off the wire.
#[derive(Debug)]
pub struct HttpResponse {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl HttpResponse {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|e| panic!("{e}: {}", self.text()))
    }
}

/// One HTTP/1.1 request over a fresh connection (blocking); `Host` is the address unless
/// `headers` name one.
pub fn http(
    addr: SocketAddr,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> HttpResponse {
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    let mut req = format!("{method} {path} HTTP/1.1\r\nConnection: close\r\n");
    let mut has_len = false;
    let mut has_host = false;
    for (k, v) in headers {
        has_len |= k.eq_ignore_ascii_case("content-length");
        has_host |= k.eq_ignore_ascii_case("host");
        req.push_str(&format!("{k}: {v}\r\n"));
    }
    if !has_host {
        req.push_str(&format!("Host: {addr}\r\n"));
    }
    if !has_len {
        req.push_str(&format!("Content-Length: {}\r\n", body.len()));
    }
    req.push_str("\r\n");
    s.write_all(req.as_bytes()).unwrap();
    // The server may answer (413) before reading everything; ignore a reset while writing.
    let _ = s.write_all(body);
    let mut raw = Vec::new();
    let _ = s.read_to_end(&mut raw);
    parse_response(&raw)
}

pub fn parse_response(raw: &[u8]) -> HttpResponse {
    let end = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .unwrap_or_else(|| panic!("no header end in {:?}", String::from_utf8_lossy(raw)));
    let head = std::str::from_utf8(&raw[..end]).unwrap();
    let mut lines = head.split("\r\n");
    let status: u16 = lines
        .next()
        .unwrap()
        .split(' ')
        .nth(1)
        .unwrap()
        .parse()
        .unwrap();
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_owned(), v.trim().to_owned()))
        .collect();
    let mut body = raw[end + 4..].to_vec();
    let chunked = headers
        .iter()
        .any(|(k, v)| k.eq_ignore_ascii_case("transfer-encoding") && v.contains("chunked"));
    if chunked {
        let mut out = Vec::new();
        let mut rest = &body[..];
        loop {
            let line_end = rest.windows(2).position(|w| w == b"\r\n").unwrap();
            let size =
                usize::from_str_radix(std::str::from_utf8(&rest[..line_end]).unwrap().trim(), 16)
                    .unwrap();
            if size == 0 {
                break;
            }
            out.extend_from_slice(&rest[line_end + 2..line_end + 2 + size]);
            rest = &rest[line_end + 4 + size..];
        }
        body = out;
    }
    HttpResponse {
        status,
        headers,
        body,
    }
}

/// Runs a blocking HTTP call ([`http`]) off the runtime's threads.
pub async fn http_async(
    addr: SocketAddr,
    method: &'static str,
    path: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> HttpResponse {
    let path = path.to_owned();
    let headers: Vec<(String, String)> = headers
        .iter()
        .map(|&(k, v)| (k.to_owned(), v.to_owned()))
        .collect();
    let body = body.to_vec();
    tokio::task::spawn_blocking(move || {
        let h: Vec<(&str, &str)> = headers.iter().map(|(k, v)| (&**k, &**v)).collect();
        http(addr, method, &path, &h, &body)
    })
    .await
    .unwrap()
}

pub async fn get_json(addr: SocketAddr, path: &str) -> (u16, serde_json::Value) {
    let r = http_async(addr, "GET", path, &[], b"").await;
    (r.status, r.json())
}

pub fn builder() -> CollectorBuilder {
    Collector::builder().ephemeral_ports()
}

pub async fn start() -> CollectorHandle {
    builder().spawn().await.unwrap()
}

/// An OTLP/gRPC client of `h`'s plain-text gRPC listener.
pub async fn grpc_client(h: &CollectorHandle) -> TraceServiceClient<tonic::transport::Channel> {
    TraceServiceClient::connect(format!("http://{}", h.otlp_grpc_addr().unwrap()))
        .await
        .unwrap()
}

/// A collector on ephemeral ports, configured by `f`.
pub async fn start_with(f: impl FnOnce(CollectorBuilder) -> CollectorBuilder) -> CollectorHandle {
    f(builder()).spawn().await.unwrap()
}

pub fn kv(key: &str, v: any_value::Value) -> KeyValue {
    KeyValue {
        key: key.to_owned(),
        value: Some(AnyValue { value: Some(v) }),
        ..Default::default()
    }
}

pub fn s(v: &str) -> any_value::Value {
    any_value::Value::StringValue(v.to_owned())
}

/// A span with the given ids (parent 0 = root), kind SERVER, 1 ms long.
pub fn span(trace: u128, id: u64, parent: u64, name: &str) -> Span {
    Span {
        trace_id: trace.to_be_bytes().to_vec(),
        span_id: id.to_be_bytes().to_vec(),
        parent_span_id: if parent == 0 {
            Vec::new()
        } else {
            parent.to_be_bytes().to_vec()
        },
        name: name.to_owned(),
        kind: 2,
        start_time_unix_nano: 1_700_000_000_000_000_000 + id * 1000,
        end_time_unix_nano: 1_700_000_000_001_000_000 + id * 1000,
        attributes: vec![kv("http.route", s("/rides"))],
        status: Some(Status {
            code: 0,
            message: String::new(),
        }),
        ..Default::default()
    }
}

pub fn request(service: &str, spans: Vec<Span>) -> ExportTraceServiceRequest {
    ExportTraceServiceRequest {
        resource_spans: vec![ResourceSpans {
            resource: Some(Resource {
                attributes: vec![kv("service.name", s(service))],
                ..Default::default()
            }),
            scope_spans: vec![ScopeSpans {
                spans,
                ..Default::default()
            }],
            ..Default::default()
        }],
    }
}

/// A `google.rpc.Status` body: its code and message.
pub fn rpc_status(body: &[u8]) -> (i32, String) {
    #[derive(Clone, PartialEq, prost::Message)]
    struct RpcStatus {
        #[prost(int32, tag = "1")]
        code: i32,
        #[prost(string, tag = "2")]
        message: String,
    }
    let s = <RpcStatus as prost::Message>::decode(body).unwrap();
    (s.code, s.message)
}

pub fn gzip(data: &[u8]) -> Vec<u8> {
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    enc.write_all(data).unwrap();
    enc.finish().unwrap()
}

/// Holds the store's writer inside an observer while it stores a span named `block`, so a test
/// can fill the ingest queue deterministically.
#[derive(Clone)]
pub struct Gate {
    state: std::sync::Arc<(std::sync::Mutex<(bool, bool)>, std::sync::Condvar)>,
}

impl Gate {
    /// Waits until the writer is held.
    pub fn wait_blocked(&self) {
        let (m, c) = &*self.state;
        let g = m.lock().unwrap();
        let (g, t) = c
            .wait_timeout_while(g, Duration::from_secs(30), |(blocked, _)| !*blocked)
            .unwrap();
        assert!(!t.timed_out(), "the writer never reached the gate");
        drop(g);
    }

    /// Lets the writer go on.
    pub fn release(&self) {
        let (m, c) = &*self.state;
        m.lock().unwrap().1 = true;
        c.notify_all();
    }
}

pub fn gated(b: CollectorBuilder) -> (Gate, CollectorBuilder) {
    let gate = Gate {
        state: Default::default(),
    };
    let g = gate.clone();
    let b = b.observer(move |s: &tracewire_collector::IngestedSpan<'_>| {
        if s.name == "block" {
            let (m, c) = &*g.state;
            let mut st = m.lock().unwrap();
            st.0 = true;
            c.notify_all();
            let _ = c
                .wait_timeout_while(st, Duration::from_secs(30), |(_, released)| !*released)
                .unwrap();
        }
    });
    (gate, b)
}

/// Tail sampling that keeps errors and nothing else (no dynamic sampler, no adaptive latency,
/// no floor), with a fixed seed.
pub fn errors_only() -> tracewire_collector::sampling::SamplingConfig {
    tracewire_collector::sampling::SamplingConfig::builder()
        .no_dynamic()
        .no_adaptive_latency()
        .seed(5)
        .build()
        .unwrap()
}
