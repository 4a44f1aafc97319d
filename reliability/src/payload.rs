//! Well-formed OTLP requests, the raw material of the corpus and the probes: spans with fresh
//! ids, resources, scopes, and the three encodings (protobuf, JSON, gzip).

use std::io::Write;
use std::time::{SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use flate2::Compression;
use flate2::write::GzEncoder;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::{AnyValue, InstrumentationScope, KeyValue, any_value};
use opentelemetry_proto::tonic::resource::v1::Resource;
use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans, Span, Status, status};
use prost::Message;

/// `application/x-protobuf`.
pub const PROTOBUF: &str = "application/x-protobuf";
/// `application/json`.
pub const JSON: &str = "application/json";

/// A fast, seedable generator (splitmix64): ids, mutations and sizes, reproducible from a
/// seed so a failing case can be replayed.
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    /// A generator from `seed`.
    pub fn new(seed: u64) -> Self {
        Rng(seed)
    }

    /// A generator seeded from the clock and the process id.
    pub fn from_clock() -> Self {
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos() as u64);
        Rng(nanos ^ (u64::from(std::process::id()) << 32))
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// A number below `n` (`n` > 0).
    pub fn below(&mut self, n: usize) -> usize {
        (self.next_u64() % n.max(1) as u64) as usize
    }

    /// A trace id (never all zero).
    pub fn trace_id(&mut self) -> Vec<u8> {
        let mut id = [0u8; 16];
        id[..8].copy_from_slice(&self.next_u64().to_be_bytes());
        id[8..].copy_from_slice(&(self.next_u64() | 1).to_be_bytes());
        id.to_vec()
    }

    /// A span id (never all zero).
    pub fn span_id(&mut self) -> Vec<u8> {
        (self.next_u64() | 1).to_be_bytes().to_vec()
    }
}

/// Nanoseconds since the Unix epoch, now.
pub fn now_nanos() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX))
}

/// A string attribute.
pub fn attr(key: impl Into<String>, value: impl Into<String>) -> KeyValue {
    KeyValue {
        key: key.into(),
        value: Some(AnyValue {
            value: Some(any_value::Value::StringValue(value.into())),
        }),
        ..KeyValue::default()
    }
}

/// An attribute holding `value`.
pub fn attr_value(key: impl Into<String>, value: any_value::Value) -> KeyValue {
    KeyValue {
        key: key.into(),
        value: Some(AnyValue { value: Some(value) }),
        ..KeyValue::default()
    }
}

/// A resource naming `service`.
pub fn resource(service: &str) -> Resource {
    Resource {
        attributes: vec![attr("service.name", service)],
        ..Resource::default()
    }
}

/// The suite's instrumentation scope.
pub fn scope() -> InstrumentationScope {
    InstrumentationScope {
        name: "tracewire-reliability".to_owned(),
        ..InstrumentationScope::default()
    }
}

/// A 1 ms server span named `name` in `trace_id`, ending now.
pub fn span(rng: &mut Rng, trace_id: &[u8], parent: &[u8], name: &str) -> Span {
    let end = now_nanos();
    Span {
        trace_id: trace_id.to_vec(),
        span_id: rng.span_id(),
        parent_span_id: parent.to_vec(),
        name: name.to_owned(),
        kind: 2,
        start_time_unix_nano: end.saturating_sub(1_000_000),
        end_time_unix_nano: end,
        status: Some(Status {
            code: status::StatusCode::Ok as i32,
            message: String::new(),
        }),
        ..Span::default()
    }
}

/// One resource with one scope holding `spans`.
pub fn request(resource: Resource, spans: Vec<Span>) -> ExportTraceServiceRequest {
    ExportTraceServiceRequest {
        resource_spans: vec![ResourceSpans {
            resource: Some(resource),
            scope_spans: vec![ScopeSpans {
                scope: Some(scope()),
                spans,
                ..ScopeSpans::default()
            }],
            ..ResourceSpans::default()
        }],
    }
}

/// The probe's export: one span of `service` in a fresh trace (about 100 bytes encoded).
pub fn probe(rng: &mut Rng, service: &str) -> Bytes {
    let trace = rng.trace_id();
    protobuf(&request(
        resource(service),
        vec![span(rng, &trace, &[], "probe")],
    ))
}

/// Protobuf encoding.
pub fn protobuf(req: &ExportTraceServiceRequest) -> Bytes {
    Bytes::from(req.encode_to_vec())
}

/// OTLP/JSON encoding.
pub fn json(req: &ExportTraceServiceRequest) -> Bytes {
    Bytes::from(serde_json::to_vec(req).expect("a request serializes"))
}

/// Gzip at the default level.
pub fn gzip(body: &[u8]) -> Bytes {
    let mut e = GzEncoder::new(
        Vec::with_capacity(body.len() / 4 + 64),
        Compression::default(),
    );
    e.write_all(body).expect("writing to memory");
    Bytes::from(e.finish().expect("writing to memory"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_valid_and_reproducible() {
        let (mut a, mut b) = (Rng::new(7), Rng::new(7));
        let t = a.trace_id();
        assert_eq!(t, b.trace_id());
        assert_eq!(t.len(), 16);
        assert_ne!(t, vec![0; 16]);
        assert_eq!(a.span_id().len(), 8);
        assert!((0..1000).all(|_| a.below(10) < 10));
    }

    #[test]
    fn a_probe_decodes_and_is_small() {
        let body = probe(&mut Rng::new(1), "svc");
        assert!(body.len() < 160, "{}", body.len());
        let req = ExportTraceServiceRequest::decode(body).unwrap();
        let span = &req.resource_spans[0].scope_spans[0].spans[0];
        assert_eq!(span.name, "probe");
        assert!(span.end_time_unix_nano > span.start_time_unix_nano);
    }

    #[test]
    fn json_uses_the_otlp_field_names() {
        let req = request(resource("svc"), vec![]);
        let text = String::from_utf8(json(&req).to_vec()).unwrap();
        assert!(text.contains("\"resourceSpans\""), "{text}");
        let back: ExportTraceServiceRequest = serde_json::from_str(&text).unwrap();
        assert_eq!(back, req);
    }
}
