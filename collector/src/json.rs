//! OTLP/JSON decoding.
//!
//! OTLP/JSON is the protobuf JSON mapping with three differences the specification spells out:
//! trace and span ids are hex strings (not base64), enums are integers, and 64-bit integers may
//! be JSON strings or numbers. The `opentelemetry-proto` serde implementation follows those rules;
//! the tests below pin the cases a receiver meets in practice, so an upgrade that broke them
//! would be caught here.

//!
//! Before `serde_json` sees a body, one pass over its bytes ([`shape`]) counts resource spans,
//! scope spans and spans, and bounds what decoding will allocate: every array becomes a `Vec`
//! whose capacity is at most the next power of two of its length (at least 4) times the size of
//! the element its key names, and every string at most its own length. A body past
//! [`DecodeLimits`] is refused before it is decoded.

use std::mem::size_of;

use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::{EntityRef, KeyValue};
use opentelemetry_proto::tonic::trace::v1::span::{Event, Link};
use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans, Span};

use crate::otlp::{DecodeError, DecodeLimits};

/// Decodes an OTLP/JSON `ExportTraceServiceRequest` within the default [`DecodeLimits`].
#[cfg(test)]
pub(crate) fn decode_request(body: &[u8]) -> Result<ExportTraceServiceRequest, DecodeError> {
    decode_request_within(body, &DecodeLimits::default())
}

/// Decodes an OTLP/JSON `ExportTraceServiceRequest` within `limits`.
pub(crate) fn decode_request_within(
    body: &[u8],
    limits: &DecodeLimits,
) -> Result<ExportTraceServiceRequest, DecodeError> {
    shape(body, limits)?;
    serde_json::from_slice(body).map_err(|e| DecodeError::Invalid(e.to_string()))
}

/// `serde_json`'s own nesting limit.
const MAX_DEPTH: usize = 128;

/// Which limit an array's elements count against.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Counted {
    ResourceSpans,
    ScopeSpans,
    Spans,
    Not,
}

/// The element size and limit of an array under `key` (the raw key bytes). Unknown keys are
/// skipped by the decoder without allocating; a key written with escapes is read as the most
/// expensive kind.
fn array_of(key: Option<&[u8]>) -> (usize, Counted) {
    let span = (size_of::<Span>(), Counted::Spans);
    match key {
        Some(b"resourceSpans") => (size_of::<ResourceSpans>(), Counted::ResourceSpans),
        Some(b"scopeSpans") => (size_of::<ScopeSpans>(), Counted::ScopeSpans),
        Some(b"spans") => span,
        Some(b"attributes" | b"values") => (size_of::<KeyValue>(), Counted::Not),
        Some(b"events") => (size_of::<Event>(), Counted::Not),
        Some(b"links") => (size_of::<Link>(), Counted::Not),
        Some(b"entityRefs") => (size_of::<EntityRef>(), Counted::Not),
        Some(b"idKeys" | b"descriptionKeys") => (size_of::<String>(), Counted::Not),
        Some(k) if k.contains(&b'\\') => span,
        _ => (0, Counted::Not),
    }
}

struct Array {
    elem: usize,
    counted: Counted,
    len: usize,
    awaiting: bool,
}

enum Frame {
    Object,
    Array(Array),
}

/// Counts and bounds `body` as [`crate::otlp`]'s protobuf walk does (see the module docs);
/// returns the bound of the decoded request's heap bytes.
pub(crate) fn shape(body: &[u8], limits: &DecodeLimits) -> Result<usize, DecodeError> {
    let invalid = |m: &str| DecodeError::Invalid(m.to_owned());
    let mut stack: Vec<Frame> = Vec::new();
    let (mut resource_spans, mut scope_spans, mut spans) = (0usize, 0usize, 0usize);
    let mut bytes = 0usize;
    let mut last_string: Option<(usize, usize)> = None;
    let mut key: Option<(usize, usize)> = None;
    let mut i = 0;
    while i < body.len() {
        let b = body[i];
        if matches!(b, b' ' | b'\t' | b'\n' | b'\r') {
            i += 1;
            continue;
        }
        if let Some(Frame::Array(a)) = stack.last_mut()
            && a.awaiting
            && b != b']'
        {
            a.awaiting = false;
            a.len += 1;
            let (count, limit, what) = match a.counted {
                Counted::ResourceSpans => (
                    &mut resource_spans,
                    limits.max_resource_spans,
                    "resource spans",
                ),
                Counted::ScopeSpans => (&mut scope_spans, limits.max_scope_spans, "scope spans"),
                Counted::Spans => (&mut spans, limits.max_spans, "spans"),
                Counted::Not => (&mut bytes, usize::MAX, ""),
            };
            if a.counted != Counted::Not {
                *count += 1;
                if *count > limit {
                    return Err(DecodeError::TooMany { what, limit });
                }
            }
        }
        match b {
            b'"' => {
                let start = i + 1;
                let mut j = start;
                loop {
                    match body.get(j) {
                        None => return Err(invalid("unterminated string")),
                        Some(b'\\') => j += 2,
                        Some(b'"') => break,
                        Some(_) => j += 1,
                    }
                }
                let len = j - start;
                bytes = bytes.saturating_add(if len == 0 { 0 } else { len.max(8) });
                last_string = Some((start, j));
                i = j + 1;
                continue;
            }
            b':' => key = last_string.take(),
            b',' => {
                if let Some(Frame::Array(a)) = stack.last_mut() {
                    a.awaiting = true;
                }
                key = None;
            }
            b'{' | b'[' => {
                if stack.len() >= MAX_DEPTH {
                    return Err(invalid("JSON nested too deeply"));
                }
                let under_key = key.take().map(|(s, e)| &body[s..e]);
                stack.push(if b == b'{' {
                    Frame::Object
                } else {
                    let (elem, counted) = array_of(under_key);
                    Frame::Array(Array {
                        elem,
                        counted,
                        len: 0,
                        awaiting: true,
                    })
                });
            }
            b'}' => match stack.pop() {
                Some(Frame::Object) => key = None,
                _ => return Err(invalid("unbalanced braces")),
            },
            b']' => match stack.pop() {
                Some(Frame::Array(a)) => {
                    let cap = if a.len == 0 {
                        0
                    } else {
                        a.len.next_power_of_two().max(4)
                    };
                    bytes = bytes.saturating_add(cap.saturating_mul(a.elem));
                    key = None;
                }
                _ => return Err(invalid("unbalanced brackets")),
            },
            _ => {}
        }
        if bytes > limits.max_decoded_bytes {
            return Err(DecodeError::TooLarge {
                limit: limits.max_decoded_bytes,
            });
        }
        i += 1;
    }
    if !stack.is_empty() {
        return Err(invalid("unbalanced brackets"));
    }
    Ok(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;
    use opentelemetry_proto::tonic::common::v1::any_value::Value;

    // The example from the OTLP repository (examples/trace.json), with extra cases: an int64 as
    // a number, a start time as a number, unknown fields, an empty parent id and nested values.
    const EXAMPLE: &str = r#"{
      "resourceSpans": [{
        "resource": {"attributes": [{"key": "service.name", "value": {"stringValue": "my.service"}}]},
        "scopeSpans": [{
          "scope": {"name": "my.library", "version": "1.0.0",
                    "attributes": [{"key": "my.scope.attribute", "value": {"stringValue": "some scope attribute"}}]},
          "spans": [{
            "traceId": "5B8EFFF798038103D269B633813FC60C",
            "spanId": "EEE19B7EC3C1B174",
            "parentSpanId": "EEE19B7EC3C1B173",
            "name": "I'm a server span",
            "startTimeUnixNano": "1544712660000000000",
            "endTimeUnixNano": 1544712661000000000,
            "kind": 2,
            "futureField": {"x": 1},
            "attributes": [
              {"key": "my.span.attr", "value": {"stringValue": "some value"}},
              {"key": "n", "value": {"intValue": "42"}},
              {"key": "m", "value": {"intValue": 43}},
              {"key": "d", "value": {"doubleValue": 1.5}},
              {"key": "b", "value": {"boolValue": true}},
              {"key": "a", "value": {"arrayValue": {"values": [{"stringValue": "x"}, {"intValue": "1"}]}}},
              {"key": "kv", "value": {"kvlistValue": {"values": [{"key": "k", "value": {"boolValue": false}}]}}},
              {"key": "bytes", "value": {"bytesValue": "AQID"}}
            ],
            "events": [{"timeUnixNano": "1544712660500000000", "name": "ev", "attributes": []}],
            "links": [{"traceId": "5b8efff798038103d269b633813fc60d", "spanId": "eee19b7ec3c1b175"}],
            "status": {"code": 2, "message": "boom"},
            "droppedAttributesCount": 3,
            "flags": 257
          }, {
            "traceId": "5b8efff798038103d269b633813fc60c",
            "spanId": "eee19b7ec3c1b173",
            "parentSpanId": "",
            "name": "root"
          }]
        }]
      }]
    }"#;

    #[test]
    fn decodes_the_specification_example() {
        let req = decode_request(EXAMPLE.as_bytes()).unwrap();
        let rs = &req.resource_spans[0];
        let ss = &rs.scope_spans[0];
        assert_eq!(ss.scope.as_ref().unwrap().name, "my.library");
        let s = &ss.spans[0];
        assert_eq!(
            s.trace_id,
            [
                0x5b, 0x8e, 0xff, 0xf7, 0x98, 0x03, 0x81, 0x03, 0xd2, 0x69, 0xb6, 0x33, 0x81, 0x3f,
                0xc6, 0x0c
            ]
        );
        assert_eq!(s.span_id, [0xee, 0xe1, 0x9b, 0x7e, 0xc3, 0xc1, 0xb1, 0x74]);
        assert_eq!(s.parent_span_id.len(), 8);
        assert_eq!(s.kind, 2);
        assert_eq!(s.start_time_unix_nano, 1_544_712_660_000_000_000);
        assert_eq!(s.end_time_unix_nano, 1_544_712_661_000_000_000);
        let v = |i: usize| {
            s.attributes[i]
                .value
                .as_ref()
                .unwrap()
                .value
                .clone()
                .unwrap()
        };
        assert_eq!(v(1), Value::IntValue(42));
        assert_eq!(v(2), Value::IntValue(43));
        assert_eq!(v(3), Value::DoubleValue(1.5));
        assert_eq!(v(4), Value::BoolValue(true));
        assert!(matches!(v(5), Value::ArrayValue(a) if a.values.len() == 2));
        assert!(matches!(v(6), Value::KvlistValue(kv) if kv.values[0].key == "k"));
        assert_eq!(v(7), Value::BytesValue(vec![1, 2, 3]));
        assert_eq!(s.events[0].time_unix_nano, 1_544_712_660_500_000_000);
        assert_eq!(
            s.links[0].span_id,
            [0xee, 0xe1, 0x9b, 0x7e, 0xc3, 0xc1, 0xb1, 0x75]
        );
        assert_eq!(s.status.as_ref().unwrap().code, 2);
        assert_eq!(s.dropped_attributes_count, 3);
        assert_eq!(s.flags, 257);
        assert!(ss.spans[1].parent_span_id.is_empty());
        assert_eq!(ss.spans[1].kind, 0);
    }

    #[test]
    fn rejects_malformed_json() {
        assert!(decode_request(b"{\"resourceSpans\": [").is_err());
        assert!(
            decode_request(br#"{"resourceSpans":[{"scopeSpans":[{"spans":[{"traceId":"zz"}]}]}]}"#)
                .is_err()
        );
        assert!(decode_request(b"{}").unwrap().resource_spans.is_empty());
    }
}
