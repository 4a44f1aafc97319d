//! What the collector benchmarks share: realistic spans, filling a store, and a keep-alive
//! HTTP/1.1 client.

#![allow(dead_code, unreachable_pub)]

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, UNIX_EPOCH};

use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::{AnyValue, KeyValue as PKeyValue, any_value};
use opentelemetry_proto::tonic::resource::v1::Resource as PResource;
use opentelemetry_proto::tonic::trace::v1::{
    ResourceSpans, ScopeSpans, Span as PSpan, Status as PStatus,
};
use prost::Message;
use tracewire::export::SpanExporter;
use tracewire::{
    KeyValue, Resource, SpanContext, SpanData, SpanId, SpanKind, Status, TraceFlags, TraceId,
    TraceState,
};
use tracewire_collector::{Collector, CollectorHandle, TraceStore};

pub const SERVICES: [&str; 4] = ["gateway", "dispatch", "ranking", "pricing"];
pub const ROUTES: [&str; 5] = ["/rides", "/rides/{id}", "/cars", "/price", "/rank"];
pub const BASE: u64 = 1_750_000_000_000_000_000;

/// A string attribute.
pub fn kv(key: &str, value: &str) -> PKeyValue {
    PKeyValue {
        key: key.into(),
        value: Some(AnyValue {
            value: Some(any_value::Value::StringValue(value.into())),
        }),
        ..Default::default()
    }
}

/// A realistic span: five per trace, six attributes (one of them unique per span), 2% errors.
pub fn span_data(i: u64) -> SpanData {
    let trace = i / 5 + 1;
    let cx = SpanContext::new(
        TraceId::from_u128(u128::from(trace) * 0x9e37_79b9_7f4a_7c15 + 1),
        SpanId::from_u64(i + 1),
        TraceFlags::SAMPLED,
        TraceState::default(),
        false,
    );
    let route = ROUTES[(i % 5) as usize];
    let mut d = SpanData::new(cx, route);
    d.parent_span_id = if i.is_multiple_of(5) {
        SpanId::INVALID
    } else {
        SpanId::from_u64(i - i % 5 + 1)
    };
    d.kind = if i.is_multiple_of(5) {
        SpanKind::Server
    } else {
        SpanKind::Client
    };
    d.start_time = UNIX_EPOCH + Duration::from_nanos(BASE + i * 1000);
    d.end_time = d.start_time + Duration::from_micros(100 + (i * 7919) % 50_000);
    d.attributes = vec![
        KeyValue::new(
            "http.request.method",
            if i.is_multiple_of(3) { "POST" } else { "GET" },
        ),
        KeyValue::new("http.route", route),
        KeyValue::new(
            "http.response.status_code",
            if i.is_multiple_of(50) { 500i64 } else { 200 },
        ),
        KeyValue::new("url.path", format!("/rides/{}", i / 5)),
        KeyValue::new("server.address", SERVICES[(i % 4) as usize]),
        KeyValue::new("network.protocol.version", "1.1"),
    ];
    if i.is_multiple_of(50) {
        d.status = Status::error("upstream failed");
    }
    d
}

pub fn fill(store: &TraceStore, n: u64) {
    let resources: Vec<Resource> = SERVICES.iter().map(|s| Resource::new(*s)).collect();
    let mut exp = store.in_process_exporter();
    let mut i = 0;
    while i < n {
        let batch: Vec<SpanData> = (i..(i + 512).min(n)).map(span_data).collect();
        let r = &resources[((i / 512) % 4) as usize];
        while exp.export(&batch, r).is_err() {
            std::thread::sleep(Duration::from_millis(1));
        }
        i += 512;
    }
    store.flush_blocking();
}

/// A collector with only its OTLP/HTTP receiver, on an ephemeral port, keeping `max_spans`.
pub fn otlp_http_collector(max_spans: usize) -> CollectorHandle {
    Collector::builder()
        .ephemeral_ports()
        .otlp_grpc_addr(None)
        .api_addr(None)
        .max_spans(max_spans)
        .max_bytes(1 << 30)
        .start()
        .expect("collector starts")
}

pub fn otlp_request(first: u64, n: u64) -> Vec<u8> {
    let kv = |k: &str, v: any_value::Value| PKeyValue {
        key: k.into(),
        value: Some(AnyValue { value: Some(v) }),
        ..Default::default()
    };
    let spans = (first..first + n)
        .map(|i| {
            let d = span_data(i);
            let t =
                |t: std::time::SystemTime| t.duration_since(UNIX_EPOCH).unwrap().as_nanos() as u64;
            PSpan {
                trace_id: d.span_context.trace_id().to_bytes().to_vec(),
                span_id: d.span_context.span_id().to_bytes().to_vec(),
                parent_span_id: if d.parent_span_id.is_valid() {
                    d.parent_span_id.to_bytes().to_vec()
                } else {
                    Vec::new()
                },
                name: d.name.to_string(),
                kind: if d.kind == SpanKind::Server { 2 } else { 3 },
                start_time_unix_nano: t(d.start_time),
                end_time_unix_nano: t(d.end_time),
                attributes: d
                    .attributes
                    .iter()
                    .map(|a| match &a.value {
                        tracewire::Value::I64(v) => kv(&a.key, any_value::Value::IntValue(*v)),
                        v => kv(&a.key, any_value::Value::StringValue(v.to_string())),
                    })
                    .collect(),
                status: Some(PStatus {
                    code: if d.status.is_error() { 2 } else { 0 },
                    message: String::new(),
                }),
                ..Default::default()
            }
        })
        .collect();
    ExportTraceServiceRequest {
        resource_spans: vec![ResourceSpans {
            resource: Some(PResource {
                attributes: vec![kv(
                    "service.name",
                    any_value::Value::StringValue("gateway".into()),
                )],
                ..Default::default()
            }),
            scope_spans: vec![ScopeSpans {
                spans,
                ..Default::default()
            }],
            ..Default::default()
        }],
    }
    .encode_to_vec()
}

/// A keep-alive HTTP/1.1 connection that sends one request at a time and reads the answer.
pub struct Conn {
    s: TcpStream,
    buf: Vec<u8>,
    body_len: usize,
}

impl Conn {
    pub fn new(addr: SocketAddr) -> Conn {
        let s = TcpStream::connect(addr).unwrap();
        s.set_nodelay(true).unwrap();
        Conn {
            s,
            buf: Vec::with_capacity(4096),
            body_len: 0,
        }
    }

    /// Posts an OTLP protobuf body to `/v1/traces`; returns the status.
    pub fn post(&mut self, body: &[u8]) -> u16 {
        let head = format!(
            "POST /v1/traces HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/x-protobuf\r\nContent-Length: {}\r\n\r\n",
            body.len()
        );
        self.send(head.as_bytes(), body)
    }

    /// Gets `path`; returns the status and the body's length.
    pub fn get(&mut self, path: &str) -> (u16, usize) {
        let head = format!("GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n");
        let status = self.send(head.as_bytes(), &[]);
        (status, self.body_len)
    }

    fn send(&mut self, head: &[u8], body: &[u8]) -> u16 {
        self.s.write_all(head).unwrap();
        self.s.write_all(body).unwrap();
        self.buf.clear();
        let mut chunk = [0u8; 4096];
        loop {
            let n = self.s.read(&mut chunk).unwrap();
            assert!(n > 0, "connection closed");
            self.buf.extend_from_slice(&chunk[..n]);
            if let Some(end) = self.buf.windows(4).position(|w| w == b"\r\n\r\n") {
                let head = std::str::from_utf8(&self.buf[..end])
                    .unwrap()
                    .to_ascii_lowercase();
                let len: usize = head
                    .lines()
                    .find_map(|l| l.strip_prefix("content-length:"))
                    .map_or(0, |v| v.trim().parse().unwrap());
                while self.buf.len() < end + 4 + len {
                    let n = self.s.read(&mut chunk).unwrap();
                    assert!(n > 0, "connection closed");
                    self.buf.extend_from_slice(&chunk[..n]);
                }
                self.body_len = len;
                return head[9..12].parse().unwrap();
            }
        }
    }
}
