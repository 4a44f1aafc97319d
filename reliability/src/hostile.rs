//! Hostile bodies that cannot be built from the message types: values nested deeper than any
//! decoder's recursion limit, gzip bombs, and random mutations of well-formed requests.

use std::io::Write;

use bytes::Bytes;
use flate2::Compression;
use flate2::write::GzEncoder;
use opentelemetry_proto::tonic::common::v1::{AnyValue, ArrayValue, KeyValue, any_value};
use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, Span, span};
use prost::Message;

use crate::payload::{self, Rng, attr, attr_value};

/// Appends a protobuf varint.
fn varint(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

/// `prefix`, then field `tag` (length-delimited) holding `inner`.
fn field(prefix: &[u8], tag: u8, inner: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(prefix.len() + inner.len() + 11);
    out.extend_from_slice(prefix);
    out.push(tag);
    varint(&mut out, inner.len() as u64);
    out.extend_from_slice(inner);
    out
}

/// An `AnyValue` nested `depth` levels deep, alternating arrays and key-value lists, around a
/// string. Built from the inside out in reverse, so it costs O(size) however deep.
fn nested_any_value(depth: usize) -> Vec<u8> {
    // The innermost AnyValue { string_value: "x" }, reversed.
    let mut rev: Vec<u8> = vec![b'x', 1, 0x0a];
    // Wraps everything so far in a length-delimited field `tag`.
    let push_header = |rev: &mut Vec<u8>, tag: u8| {
        let mut h = vec![tag];
        varint(&mut h, rev.len() as u64);
        rev.extend(h.iter().rev());
    };
    for level in 0..depth {
        if level % 2 == 0 {
            // ArrayValue { values: [inner] } inside AnyValue { array_value }.
            push_header(&mut rev, 0x0a);
            push_header(&mut rev, 0x2a);
        } else {
            // KeyValue { key: "k", value: inner } in KeyValueList, inside AnyValue { kvlist_value }.
            push_header(&mut rev, 0x12);
            rev.extend_from_slice(&[b'k', 1, 0x0a]);
            push_header(&mut rev, 0x0a);
            push_header(&mut rev, 0x32);
        }
    }
    rev.reverse();
    rev
}

/// A protobuf request whose one span has an attribute nested `depth` levels deep.
pub fn deep_protobuf(rng: &mut Rng, depth: usize) -> Bytes {
    let trace = rng.trace_id();
    let span = payload::span(rng, &trace, &[], "deep").encode_to_vec();
    let kv = field(&field(&[], 0x0a, b"deep"), 0x12, &nested_any_value(depth));
    let span = field(&span, 0x4a, &kv);
    let scope = field(&[], 0x12, &span);
    let resource = ResourceSpans {
        resource: Some(payload::resource("reliability-deep")),
        ..ResourceSpans::default()
    }
    .encode_to_vec();
    let resource_spans = field(&resource, 0x12, &scope);
    Bytes::from(field(&[], 0x0a, &resource_spans))
}

/// The same in OTLP/JSON, nesting arrays only.
pub fn deep_json(rng: &mut Rng, depth: usize) -> Bytes {
    let hex = |b: Vec<u8>| b.iter().map(|x| format!("{x:02x}")).collect::<String>();
    let open = "{\"arrayValue\":{\"values\":[";
    let close = "]}}";
    let mut s = String::with_capacity(depth * (open.len() + close.len()) + 512);
    s.push_str(&format!(
        "{{\"resourceSpans\":[{{\"resource\":{{\"attributes\":[{{\"key\":\"service.name\",\"value\":{{\"stringValue\":\"reliability-deep\"}}}}]}},\
         \"scopeSpans\":[{{\"spans\":[{{\"traceId\":\"{}\",\"spanId\":\"{}\",\"name\":\"deep\",\
         \"startTimeUnixNano\":\"1\",\"endTimeUnixNano\":\"2\",\"attributes\":[{{\"key\":\"deep\",\"value\":",
        hex(rng.trace_id()),
        hex(rng.span_id())
    ));
    for _ in 0..depth {
        s.push_str(open);
    }
    s.push_str("{\"stringValue\":\"x\"}");
    for _ in 0..depth {
        s.push_str(close);
    }
    s.push_str("}]}]}]}]}");
    Bytes::from(s)
}

/// Gzip of `size` zero bytes, compressed as hard as possible: about a thousandth of `size`.
/// Built a megabyte at a time, so it never holds the decompressed bytes.
pub fn gzip_bomb(size: usize) -> Bytes {
    let chunk = vec![0u8; 1 << 20];
    let mut e = GzEncoder::new(Vec::new(), Compression::best());
    let mut left = size;
    while left > 0 {
        let n = left.min(chunk.len());
        e.write_all(&chunk[..n]).expect("writing to memory");
        left -= n;
    }
    Bytes::from(e.finish().expect("writing to memory"))
}

/// A well-formed request of `spans` spans with attributes, events and links of every value
/// type: the base the mutations start from.
pub fn rich_request(
    rng: &mut Rng,
    spans: usize,
) -> opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest {
    let trace = rng.trace_id();
    let mut list: Vec<Span> = Vec::with_capacity(spans);
    for i in 0..spans {
        let parent = list.last().map(|s| s.span_id.clone()).unwrap_or_default();
        let mut s = payload::span(rng, &trace, &parent, &format!("op-{i}"));
        s.attributes = vec![
            attr("http.request.method", "GET"),
            attr("url.path", format!("/items/{i}")),
            attr_value("http.response.status_code", any_value::Value::IntValue(200)),
            attr_value("ratio", any_value::Value::DoubleValue(0.5)),
            attr_value("cached", any_value::Value::BoolValue(i % 2 == 0)),
            attr_value("raw", any_value::Value::BytesValue(vec![0, 1, 2, 255])),
            attr_value(
                "list",
                any_value::Value::ArrayValue(ArrayValue {
                    values: vec![AnyValue {
                        value: Some(any_value::Value::StringValue("a".into())),
                    }],
                }),
            ),
        ];
        s.events = vec![span::Event {
            time_unix_nano: s.start_time_unix_nano,
            name: "event".into(),
            attributes: vec![attr("k", "v")],
            dropped_attributes_count: 0,
        }];
        s.links = vec![span::Link {
            trace_id: rng.trace_id(),
            span_id: rng.span_id(),
            attributes: vec![KeyValue::default()],
            ..span::Link::default()
        }];
        list.push(s);
    }
    payload::request(payload::resource("reliability-mutant"), list)
}

/// A random mutation of `base`: bit flips, byte overwrites with boundary values, insertions,
/// deletions, truncation, duplicated ranges, or a run of `0xff` (an enormous varint).
pub fn mutate(rng: &mut Rng, base: &[u8]) -> Bytes {
    let mut b = base.to_vec();
    let rounds = 1 + rng.below(4);
    for _ in 0..rounds {
        if b.is_empty() {
            b.push(rng.next_u64() as u8);
            continue;
        }
        let at = rng.below(b.len());
        match rng.below(7) {
            0 => b[at] ^= 1 << rng.below(8),
            1 => b[at] = [0x00, 0x7f, 0x80, 0xff][rng.below(4)],
            2 => {
                let n = 1 + rng.below(16);
                let bytes: Vec<u8> = (0..n).map(|_| rng.next_u64() as u8).collect();
                b.splice(at..at, bytes);
            }
            3 => {
                let end = (at + 1 + rng.below(32)).min(b.len());
                b.drain(at..end);
            }
            4 => b.truncate(at),
            5 => {
                let end = (at + 1 + rng.below(64)).min(b.len());
                let copy = b[at..end].to_vec();
                b.splice(at..at, copy);
            }
            _ => {
                let end = (at + 10).min(b.len());
                b[at..end].fill(0xff);
            }
        }
    }
    Bytes::from(b)
}

#[cfg(test)]
mod tests {
    use flate2::read::GzDecoder;
    use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
    use std::io::Read;

    use super::*;

    fn depth_of(v: &AnyValue) -> usize {
        match &v.value {
            Some(any_value::Value::ArrayValue(a)) => 1 + a.values.first().map_or(0, depth_of),
            Some(any_value::Value::KvlistValue(l)) => {
                1 + l
                    .values
                    .first()
                    .and_then(|kv| kv.value.as_ref())
                    .map_or(0, depth_of)
            }
            _ => 0,
        }
    }

    #[test]
    fn nesting_of_32_levels_decodes_in_both_encodings() {
        let body = deep_protobuf(&mut Rng::new(3), 32);
        let req = ExportTraceServiceRequest::decode(body).unwrap();
        let span = &req.resource_spans[0].scope_spans[0].spans[0];
        assert_eq!(span.name, "deep");
        assert_eq!(span.attributes[0].key, "deep");
        assert_eq!(depth_of(span.attributes[0].value.as_ref().unwrap()), 32);

        let json = deep_json(&mut Rng::new(3), 32);
        let req: ExportTraceServiceRequest = serde_json::from_slice(&json).unwrap();
        let span = &req.resource_spans[0].scope_spans[0].spans[0];
        assert_eq!(depth_of(span.attributes[0].value.as_ref().unwrap()), 32);
    }

    #[test]
    fn deep_nesting_is_refused_by_the_decoders() {
        let body = deep_protobuf(&mut Rng::new(4), 10_000);
        assert!(ExportTraceServiceRequest::decode(body).is_err());
        let json = deep_json(&mut Rng::new(4), 10_000);
        assert!(serde_json::from_slice::<ExportTraceServiceRequest>(&json).is_err());
    }

    #[test]
    fn a_bomb_is_small_and_inflates_to_its_size() {
        let bomb = gzip_bomb(8 << 20);
        assert!(bomb.len() < 64 << 10, "{}", bomb.len());
        let mut n = 0;
        let mut d = GzDecoder::new(&bomb[..]);
        let mut buf = vec![0u8; 1 << 16];
        loop {
            let r = d.read(&mut buf).unwrap();
            if r == 0 {
                break;
            }
            assert!(buf[..r].iter().all(|&b| b == 0));
            n += r;
        }
        assert_eq!(n, 8 << 20);
    }

    #[test]
    fn mutations_differ_from_the_base_and_are_reproducible() {
        let base = payload::protobuf(&rich_request(&mut Rng::new(5), 4));
        assert!(ExportTraceServiceRequest::decode(base.clone()).is_ok());
        let (mut a, mut b) = (Rng::new(9), Rng::new(9));
        let mut changed = 0;
        for _ in 0..200 {
            let m = mutate(&mut a, &base);
            assert_eq!(m, mutate(&mut b, &base));
            changed += usize::from(m != base);
        }
        assert!(changed > 190, "{changed}");
    }
}
