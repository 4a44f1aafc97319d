//! Hostile requests through both decode paths (protobuf, used by OTLP/HTTP and OTLP/gRPC, and
//! OTLP/JSON) and through conversion and the store: what each costs is measured with exact byte
//! counts (capacities of everything allocated), never by sampling the process.

use std::mem::size_of;
use std::time::Duration;

use bytes::Bytes;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::{AnyValue, InstrumentationScope, KeyValue, any_value};
use opentelemetry_proto::tonic::resource::v1::Resource;
use opentelemetry_proto::tonic::trace::v1::span::{Event, Link};
use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans, Span};
use prost::Message;

use super::decode::decode_protobuf_within;
use super::{DecodeError, DecodeLimits, convert, decode_protobuf, wire};
use crate::ingest::batches_bytes;
use crate::json::decode_request;
use crate::store::{Limits, Store};

// --- exact heap bytes of a decoded request --------------------------------------------------

fn any_bytes(v: &AnyValue) -> usize {
    match &v.value {
        Some(any_value::Value::StringValue(s)) => s.capacity(),
        Some(any_value::Value::BytesValue(b)) => b.capacity(),
        Some(any_value::Value::ArrayValue(a)) => {
            a.values.capacity() * size_of::<AnyValue>()
                + a.values.iter().map(any_bytes).sum::<usize>()
        }
        Some(any_value::Value::KvlistValue(l)) => kvs_bytes(&l.values),
        _ => 0,
    }
}

fn kvs_bytes(kvs: &Vec<KeyValue>) -> usize {
    kvs.capacity() * size_of::<KeyValue>()
        + kvs
            .iter()
            .map(|kv| kv.key.capacity() + kv.value.as_ref().map_or(0, any_bytes))
            .sum::<usize>()
}

fn span_bytes(s: &Span) -> usize {
    s.trace_id.capacity()
        + s.span_id.capacity()
        + s.trace_state.capacity()
        + s.parent_span_id.capacity()
        + s.name.capacity()
        + kvs_bytes(&s.attributes)
        + s.events.capacity() * size_of::<Event>()
        + s.events
            .iter()
            .map(|e| e.name.capacity() + kvs_bytes(&e.attributes))
            .sum::<usize>()
        + s.links.capacity() * size_of::<Link>()
        + s.links
            .iter()
            .map(|l| {
                l.trace_id.capacity()
                    + l.span_id.capacity()
                    + l.trace_state.capacity()
                    + kvs_bytes(&l.attributes)
            })
            .sum::<usize>()
        + s.status.as_ref().map_or(0, |st| st.message.capacity())
}

/// Heap bytes of a decoded request: every buffer's capacity, every vector's capacity times its
/// element size.
fn decoded_bytes(r: &ExportTraceServiceRequest) -> usize {
    r.resource_spans.capacity() * size_of::<ResourceSpans>()
        + r.resource_spans
            .iter()
            .map(|rs| {
                rs.schema_url.capacity()
                    + rs.resource
                        .as_ref()
                        .map_or(0, |res| kvs_bytes(&res.attributes))
                    + rs.scope_spans.capacity() * size_of::<ScopeSpans>()
                    + rs.scope_spans
                        .iter()
                        .map(|ss| {
                            ss.schema_url.capacity()
                                + ss.scope.as_ref().map_or(0, |sc| {
                                    sc.name.capacity()
                                        + sc.version.capacity()
                                        + kvs_bytes(&sc.attributes)
                                })
                                + ss.spans.capacity() * size_of::<Span>()
                                + ss.spans.iter().map(span_bytes).sum::<usize>()
                        })
                        .sum::<usize>()
            })
            .sum::<usize>()
}

// --- crafted requests ------------------------------------------------------------------------

fn kv(key: &str, value: any_value::Value) -> KeyValue {
    KeyValue {
        key: key.into(),
        value: Some(AnyValue { value: Some(value) }),
        ..Default::default()
    }
}

fn text(key: &str, value: String) -> KeyValue {
    kv(key, any_value::Value::StringValue(value))
}

fn span(i: u64, attributes: Vec<KeyValue>) -> Span {
    Span {
        trace_id: (u128::from(i) + 1).to_be_bytes().to_vec(),
        span_id: (i + 1).to_be_bytes().to_vec(),
        name: "op".into(),
        start_time_unix_nano: 1_700_000_000_000_000_000 + i,
        end_time_unix_nano: 1_700_000_000_000_001_000 + i,
        attributes,
        ..Default::default()
    }
}

/// One resource of about `resource_bytes` (a `service.name` and one big attribute) and
/// `scopes` scopes of `spans_per_scope` spans each.
fn amplifier(resource_bytes: usize, scopes: usize, spans_per_scope: usize) -> Vec<u8> {
    let mut next = 0;
    let scope_spans = (0..scopes)
        .map(|s| ScopeSpans {
            scope: Some(InstrumentationScope {
                name: format!("scope-{s}"),
                ..Default::default()
            }),
            spans: (0..spans_per_scope)
                .map(|_| {
                    next += 1;
                    span(next, Vec::new())
                })
                .collect(),
            ..Default::default()
        })
        .collect();
    ExportTraceServiceRequest {
        resource_spans: vec![ResourceSpans {
            resource: Some(Resource {
                attributes: vec![
                    text("service.name", "amplifier".into()),
                    text("blob", "r".repeat(resource_bytes)),
                ],
                ..Default::default()
            }),
            scope_spans,
            ..Default::default()
        }],
    }
    .encode_to_vec()
}

/// One scope with `spans` spans of `attrs` attributes of `value_len` bytes each.
fn wide(spans: u64, attrs: usize, value_len: usize) -> Vec<u8> {
    ExportTraceServiceRequest {
        resource_spans: vec![ResourceSpans {
            resource: Some(Resource {
                attributes: vec![text("service.name", "wide".into())],
                ..Default::default()
            }),
            scope_spans: vec![ScopeSpans {
                spans: (0..spans)
                    .map(|i| {
                        span(
                            i,
                            (0..attrs)
                                .map(|a| text(&format!("attr.{a}"), "v".repeat(value_len)))
                                .collect(),
                        )
                    })
                    .collect(),
                ..Default::default()
            }],
            ..Default::default()
        }],
    }
    .encode_to_vec()
}

fn unlimited() -> DecodeLimits {
    DecodeLimits {
        max_resource_spans: usize::MAX,
        max_scope_spans: usize::MAX,
        max_spans: usize::MAX,
        max_decoded_bytes: usize::MAX,
        ..DecodeLimits::default()
    }
}

/// Decodes `body` through `decode`, converts it and stores it, checking at each step that the
/// bytes held stay within four times the decoded request's, and that the pre-pass's estimate
/// was not below what decoding allocated.
fn check_amplification(body: &[u8], path: Path) -> (usize, usize, usize) {
    let (estimate, req) = match path {
        Path::Protobuf(limits) => (
            wire::shape(body, &limits).unwrap().decoded_bytes,
            decode_protobuf_within(Bytes::copy_from_slice(body), &limits).unwrap(),
        ),
        Path::Json => (
            crate::json::shape(body, &DecodeLimits::default()).unwrap(),
            decode_request(body).unwrap(),
        ),
    };
    let decoded = decoded_bytes(&req);
    assert!(
        estimate >= decoded,
        "estimate {estimate} < decoded {decoded}"
    );
    let converted = convert(req);
    let queued = batches_bytes(&converted.batches);
    assert!(
        queued <= 4 * decoded,
        "converted {queued} > 4 × decoded {decoded}"
    );
    let mut store = Store::new(Limits {
        max_spans: usize::MAX,
        max_bytes: usize::MAX,
        retention: Duration::ZERO,
        ..Limits::default()
    });
    let empty = store.bytes();
    store.insert(converted.batches, &[]);
    let stored = store.bytes() - empty;
    assert!(
        stored <= 4 * decoded,
        "stored {stored} > 4 × decoded {decoded}"
    );
    assert_eq!(store.stats().resources, 1);
    (decoded, queued, stored)
}

/// The decode path under test: protobuf (OTLP/HTTP and OTLP/gRPC) within some limits, or JSON.
enum Path {
    Protobuf(DecodeLimits),
    Json,
}

fn protobuf(body: &[u8]) -> Result<ExportTraceServiceRequest, DecodeError> {
    decode_protobuf(Bytes::copy_from_slice(body))
}

fn as_json(body: &[u8]) -> Vec<u8> {
    let req = ExportTraceServiceRequest::decode(body).unwrap();
    serde_json::to_vec(&req).unwrap()
}

#[test]
fn a_resource_shared_by_many_scopes_is_converted_and_stored_once() {
    // The reported payloads, under the scope cap: 64 KiB and 1 MiB resources, 4,000 scopes.
    for resource in [64 << 10, 1 << 20] {
        let body = amplifier(resource, 4000, 1);
        let (decoded, queued, stored) =
            check_amplification(&body, Path::Protobuf(DecodeLimits::default()));
        // The resource is in each count once: it was 4,000 times before.
        assert!(queued < decoded + resource, "{queued} vs {decoded}");
        assert!(stored < 2 * resource + 4000 * 1024, "{stored}");
        check_amplification(&as_json(&body), Path::Json);
    }
}

#[test]
fn the_reported_amplifiers_convert_within_four_times_their_decoded_size() {
    // 5,000 scopes under a 64 KiB resource (337 KB on the wire) and 90,000 under 1 MiB
    // (3.9 MB): past the scope cap, so receivers refuse them; conversion alone still stays
    // proportional.
    for (resource, scopes) in [(64 << 10, 5000), (1 << 20, 90_000)] {
        let body = amplifier(resource, scopes, 1);
        check_amplification(&body, Path::Protobuf(unlimited()));
    }
}

#[test]
fn many_spans_and_big_attributes_convert_within_four_times() {
    // 100,000 minimal spans; 40 spans of 128 attributes of 4 KiB; one span of 20,000 attributes.
    for body in [wide(100_000, 0, 0), wide(40, 128, 4096), wide(1, 20_000, 8)] {
        check_amplification(&body, Path::Protobuf(DecodeLimits::default()));
        check_amplification(&as_json(&body), Path::Json);
    }
}

#[test]
fn requests_past_the_caps_are_refused_before_decoding() {
    let scopes = amplifier(64 << 10, 5000, 1);
    let expected = DecodeError::TooMany {
        what: "scope spans",
        limit: 4096,
    };
    assert_eq!(protobuf(&scopes).unwrap_err(), expected);
    assert_eq!(decode_request(&as_json(&scopes)).unwrap_err(), expected);
    assert_eq!(
        expected.to_string(),
        "request has more than 4096 scope spans, the most one request may carry"
    );
    let big = amplifier(1 << 20, 90_000, 1);
    assert_eq!(protobuf(&big).unwrap_err(), expected);

    let spans = wide(100_001, 0, 0);
    let too_many_spans = DecodeError::TooMany {
        what: "spans",
        limit: 100_000,
    };
    assert_eq!(protobuf(&spans).unwrap_err(), too_many_spans);
    assert_eq!(
        decode_request(&as_json(&spans)).unwrap_err(),
        too_many_spans
    );

    let resources = ExportTraceServiceRequest {
        resource_spans: vec![ResourceSpans::default(); 4097],
    }
    .encode_to_vec();
    assert_eq!(
        protobuf(&resources).unwrap_err(),
        DecodeError::TooMany {
            what: "resource spans",
            limit: 4096
        }
    );
}

#[test]
fn bodies_that_would_decode_to_too_much_memory_are_refused() {
    // 4 MiB of empty spans (two bytes each on the wire, 264 once decoded): 130× amplification.
    let mut scope = Vec::new();
    for _ in 0..100_000 {
        scope.extend_from_slice(&[0x12, 0x00]); // ScopeSpans.spans, empty
    }
    let limits = DecodeLimits {
        max_decoded_bytes: 16 << 20,
        ..DecodeLimits::default()
    };
    let body = ExportTraceServiceRequest {
        resource_spans: vec![ResourceSpans {
            scope_spans: vec![ScopeSpans::decode(&scope[..]).unwrap()],
            ..Default::default()
        }],
    }
    .encode_to_vec();
    let err = decode_protobuf_within(Bytes::from(body), &limits).unwrap_err();
    assert_eq!(err, DecodeError::TooLarge { limit: 16 << 20 });
    assert_eq!(
        err.to_string(),
        "request would take more than 16777216 bytes of memory once decoded, the most one \
         request may take"
    );
    // The same in JSON: `{}` per span.
    let json = format!(
        r#"{{"resourceSpans":[{{"scopeSpans":[{{"spans":[{}]}}]}}]}}"#,
        vec!["{}"; 100_000].join(",")
    );
    assert_eq!(
        crate::json::decode_request_within(json.as_bytes(), &limits).unwrap_err(),
        DecodeError::TooLarge { limit: 16 << 20 }
    );
}

#[test]
fn malformed_bodies_are_refused_without_decoding() {
    let truncated = &wide(3, 2, 10)[..40];
    assert_eq!(
        protobuf(truncated).unwrap_err(),
        DecodeError::Invalid("truncated field".into())
    );
    // A known field with the wrong wire type (resource_spans as a varint).
    assert_eq!(
        protobuf(&[0x08, 0x01]).unwrap_err(),
        DecodeError::Invalid("invalid wire type for a known field".into())
    );
    // 200 nested array values.
    let mut v = AnyValue::default();
    for _ in 0..200 {
        v = AnyValue {
            value: Some(any_value::Value::ArrayValue(
                opentelemetry_proto::tonic::common::v1::ArrayValue { values: vec![v] },
            )),
        };
    }
    let deep = wide(1, 0, 0);
    let mut req = ExportTraceServiceRequest::decode(&deep[..]).unwrap();
    req.resource_spans[0].scope_spans[0].spans[0]
        .attributes
        .push(KeyValue {
            key: "deep".into(),
            value: Some(v),
            ..Default::default()
        });
    assert_eq!(
        protobuf(&req.encode_to_vec()).unwrap_err(),
        DecodeError::Invalid("messages nested too deeply".into())
    );
    // Unknown fields, groups included, are skipped as the decoder skips them.
    let mut with_unknown = wide(2, 1, 4);
    with_unknown.extend_from_slice(&[0xa3, 0x06, 0x08, 0x01, 0xa4, 0x06]); // group 100 { 1: 1 }
    assert_eq!(
        protobuf(&with_unknown).unwrap(),
        ExportTraceServiceRequest::decode(&with_unknown[..]).unwrap()
    );
    assert!(decode_request(b"{\"resourceSpans\": [").is_err());
}

#[test]
fn oversized_resources_keep_128_attributes_and_count_the_rest() {
    let mut req = ExportTraceServiceRequest::decode(&wide(1, 0, 0)[..]).unwrap();
    let res = req.resource_spans[0].resource.as_mut().unwrap();
    res.dropped_attributes_count = 2;
    for i in 0..200 {
        res.attributes.push(text(&format!("k{i}"), "v".into()));
    }
    let c = convert(req);
    let r = &c.batches[0].source.resource;
    assert_eq!(r.attributes.len(), 128);
    assert_eq!(r.dropped_attributes, 2 + 201 - 128);
    assert_eq!(&*r.service, "wide");
}
