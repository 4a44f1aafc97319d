//! OTLP/JSON decoding.
//!
//! OTLP/JSON is the protobuf JSON mapping with three differences the specification spells out:
//! trace and span ids are hex strings (not base64), enums are integers, and 64-bit integers may
//! be JSON strings or numbers. The `opentelemetry-proto` serde implementation follows those rules;
//! the tests below pin the cases a receiver meets in practice, so an upgrade that broke them
//! would be caught here.

use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;

/// Decodes an OTLP/JSON `ExportTraceServiceRequest`.
pub(crate) fn decode_request(body: &[u8]) -> Result<ExportTraceServiceRequest, serde_json::Error> {
    serde_json::from_slice(body)
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
