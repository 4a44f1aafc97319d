//! OTLP → store conversion, shared by the HTTP and gRPC receivers.
//!
//! A request is decoded completely before anything is stored, so a malformed payload stores
//! nothing. Spans whose ids are invalid (wrong length, all-zero) are rejected one by one and
//! reported through `partial_success`, as OTLP prescribes; the rest are stored.
//!
//! Each `ResourceSpans`' resource is converted once and shared by the batches of all its
//! scopes, and strings are moved out of the decoded request rather than copied, so the
//! converted request is never much bigger than the decoded one, however many scopes share a
//! resource. Resource attributes past [`DecodeLimits::max_resource_attributes`] are dropped and
//! counted in the resource's dropped-attributes count.

use std::borrow::Cow;
use std::sync::Arc;

use opentelemetry_proto::tonic::collector::trace::v1::{
    ExportTracePartialSuccess, ExportTraceServiceRequest, ExportTraceServiceResponse,
};
use opentelemetry_proto::tonic::common::v1::{AnyValue, KeyValue, any_value};
use opentelemetry_proto::tonic::trace::v1::{Span as OtlpSpan, span::SpanKind as OtlpKind};

use super::DecodeLimits;
use crate::ingest::{NewBatch, NewEvent, NewLink, NewResource, NewSource, NewSpan, NewValue, Str};
use crate::model::{SpanId, SpanKind, StatusCode, TraceId};

/// A request turned into store batches, with what was rejected and why.
#[derive(Debug, Default)]
pub(crate) struct Converted {
    pub(crate) batches: Vec<NewBatch>,
    pub(crate) accepted: usize,
    pub(crate) rejected: usize,
    pub(crate) first_error: Option<String>,
}

impl Converted {
    /// The OTLP response for this request (partial success when something was rejected).
    pub(crate) fn response(&self) -> ExportTraceServiceResponse {
        ExportTraceServiceResponse {
            partial_success: (self.rejected > 0).then(|| ExportTracePartialSuccess {
                rejected_spans: self.rejected as i64,
                error_message: self.first_error.clone().unwrap_or_default(),
            }),
        }
    }
}

/// Converts a decoded request within the default [`DecodeLimits`].
#[cfg(test)]
pub(crate) fn convert(req: ExportTraceServiceRequest) -> Converted {
    convert_within(req, &DecodeLimits::default())
}

/// Converts a decoded request, keeping at most `limits.max_resource_attributes` attributes per
/// resource.
pub(crate) fn convert_within(req: ExportTraceServiceRequest, limits: &DecodeLimits) -> Converted {
    let max_resource_attributes = limits.max_resource_attributes;
    let mut out = Converted::default();
    for rs in req.resource_spans {
        let (attributes, sender_dropped) = rs
            .resource
            .map(|r| (r.attributes, r.dropped_attributes_count))
            .unwrap_or_default();
        let over = attributes.len().saturating_sub(max_resource_attributes);
        let attributes: Vec<(Str, NewValue)> = attributes
            .into_iter()
            .take(max_resource_attributes)
            .map(convert_kv)
            .collect();
        let service = attributes
            .iter()
            .find(|(k, _)| k == "service.name")
            .and_then(|(_, v)| match v {
                NewValue::Str(s) if !s.is_empty() => Some(s.clone()),
                _ => None,
            })
            .unwrap_or(Cow::Borrowed("unknown_service"));
        let resource = Arc::new(NewResource {
            service,
            attributes,
            dropped_attributes: sender_dropped
                .saturating_add(u32::try_from(over).unwrap_or(u32::MAX)),
        });
        for ss in rs.scope_spans {
            let (scope_name, scope_version) =
                ss.scope.map(|s| (s.name, s.version)).unwrap_or_default();
            let source = Arc::new(NewSource {
                resource: resource.clone(),
                scope_name: Cow::Owned(scope_name),
                scope_version: Cow::Owned(scope_version),
            });
            let mut spans = Vec::with_capacity(ss.spans.len());
            for span in ss.spans {
                match convert_span(span) {
                    Ok(s) => spans.push(s),
                    Err(msg) => {
                        out.rejected += 1;
                        if out.first_error.is_none() {
                            out.first_error = Some(msg);
                        }
                    }
                }
            }
            if !spans.is_empty() {
                out.accepted += spans.len();
                out.batches.push(NewBatch { source, spans });
            }
        }
    }
    out
}

/// The bytes of an `N`-byte id; another length, or zeros only (an invalid id), is refused.
fn id_bytes<const N: usize>(bytes: &[u8], what: &str) -> Result<[u8; N], String> {
    let arr: [u8; N] = bytes
        .try_into()
        .map_err(|_| format!("{what} must be {N} bytes, got {}", bytes.len()))?;
    if arr == [0; N] {
        return Err(format!("{what} must not be all zeros"));
    }
    Ok(arr)
}

fn trace_id(bytes: &[u8], what: &str) -> Result<TraceId, String> {
    id_bytes(bytes, what).map(TraceId::from_bytes)
}

fn span_id(bytes: &[u8], what: &str) -> Result<SpanId, String> {
    id_bytes(bytes, what).map(SpanId::from_bytes)
}

fn convert_span(s: OtlpSpan) -> Result<NewSpan, String> {
    let trace = trace_id(&s.trace_id, "trace_id")?;
    let id = span_id(&s.span_id, "span_id")?;
    // Empty (or all-zero) parent: a root span.
    let parent = match s.parent_span_id.len() {
        0 => SpanId::INVALID,
        8 => SpanId::from_bytes(s.parent_span_id[..].try_into().unwrap_or([0; 8])),
        n => return Err(format!("parent_span_id must be empty or 8 bytes, got {n}")),
    };
    let kind = match OtlpKind::try_from(s.kind) {
        Ok(OtlpKind::Server) => SpanKind::Server,
        Ok(OtlpKind::Client) => SpanKind::Client,
        Ok(OtlpKind::Producer) => SpanKind::Producer,
        Ok(OtlpKind::Consumer) => SpanKind::Consumer,
        _ => SpanKind::Internal,
    };
    let (status, status_message) = match s.status {
        Some(st) => (
            match st.code {
                1 => StatusCode::Ok,
                2 => StatusCode::Error,
                _ => StatusCode::Unset,
            },
            Some(st.message).filter(|m| !m.is_empty()),
        ),
        None => (StatusCode::Unset, None),
    };
    let mut links = Vec::with_capacity(s.links.len());
    let mut dropped_links = s.dropped_links_count;
    for l in s.links {
        match (
            trace_id(&l.trace_id, "link trace_id"),
            span_id(&l.span_id, "link span_id"),
        ) {
            (Ok(t), Ok(sp)) => links.push(NewLink {
                trace_id: t,
                span_id: sp,
                attributes: l.attributes.into_iter().map(convert_kv).collect(),
            }),
            // A bad link is not a reason to lose the span.
            _ => dropped_links = dropped_links.saturating_add(1),
        }
    }
    Ok(NewSpan {
        trace_id: trace,
        span_id: id,
        parent_span_id: parent,
        name: Cow::Owned(s.name),
        kind,
        start_unix_nano: s.start_time_unix_nano,
        end_unix_nano: s.end_time_unix_nano,
        attributes: s.attributes.into_iter().map(convert_kv).collect(),
        status,
        status_message,
        events: s
            .events
            .into_iter()
            .map(|e| NewEvent {
                time_unix_nano: e.time_unix_nano,
                name: Cow::Owned(e.name),
                attributes: e.attributes.into_iter().map(convert_kv).collect(),
            })
            .collect(),
        links,
        trace_state: Some(s.trace_state).filter(|t| !t.is_empty()),
        flags: s.flags,
        dropped_attributes: s.dropped_attributes_count,
        dropped_events: s.dropped_events_count,
        dropped_links,
    })
}

fn convert_kv(kv: KeyValue) -> (Str, NewValue) {
    (Cow::Owned(kv.key), convert_value(kv.value))
}

fn convert_value(v: Option<AnyValue>) -> NewValue {
    match v.and_then(|v| v.value) {
        Some(any_value::Value::StringValue(s)) => NewValue::Str(Cow::Owned(s)),
        Some(any_value::Value::BoolValue(b)) => NewValue::Bool(b),
        Some(any_value::Value::IntValue(i)) => NewValue::Int(i),
        Some(any_value::Value::DoubleValue(d)) => NewValue::Double(d),
        Some(other) => NewValue::Json(any_to_json(&other).to_string()),
        None => NewValue::Str(Cow::Borrowed("")),
    }
}

fn any_to_json(v: &any_value::Value) -> serde_json::Value {
    use serde_json::Value as J;
    match v {
        any_value::Value::StringValue(s) => J::String(s.clone()),
        any_value::Value::BoolValue(b) => J::Bool(*b),
        any_value::Value::IntValue(i) => J::from(*i),
        any_value::Value::DoubleValue(d) => {
            serde_json::Number::from_f64(*d).map_or_else(|| J::String(d.to_string()), J::Number)
        }
        any_value::Value::BytesValue(b) => {
            const HEX: &[u8; 16] = b"0123456789abcdef";
            let mut s = String::with_capacity(b.len() * 2);
            for byte in b {
                s.push(char::from(HEX[usize::from(byte >> 4)]));
                s.push(char::from(HEX[usize::from(byte & 0x0f)]));
            }
            J::String(s)
        }
        any_value::Value::ArrayValue(a) => J::Array(
            a.values
                .iter()
                .map(|v| v.value.as_ref().map_or(J::Null, any_to_json))
                .collect(),
        ),
        // A profiling-only dictionary reference: meaningless for traces.
        any_value::Value::StringValueStrindex(_) => J::Null,
        any_value::Value::KvlistValue(kvs) => J::Object(
            kvs.values
                .iter()
                .map(|kv| {
                    (
                        kv.key.clone(),
                        kv.value
                            .as_ref()
                            .and_then(|v| v.value.as_ref())
                            .map_or(J::Null, any_to_json),
                    )
                })
                .collect(),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use opentelemetry_proto::tonic::resource::v1::Resource;
    use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans};

    fn span(trace: Vec<u8>, id: Vec<u8>, parent: Vec<u8>) -> OtlpSpan {
        OtlpSpan {
            trace_id: trace,
            span_id: id,
            parent_span_id: parent,
            name: "op".into(),
            kind: 2,
            ..Default::default()
        }
    }

    fn request(spans: Vec<OtlpSpan>) -> ExportTraceServiceRequest {
        ExportTraceServiceRequest {
            resource_spans: vec![ResourceSpans {
                resource: Some(Resource {
                    attributes: vec![KeyValue {
                        key: "service.name".into(),
                        value: Some(AnyValue {
                            value: Some(any_value::Value::StringValue("svc".into())),
                        }),
                        ..Default::default()
                    }],
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

    #[test]
    fn invalid_ids_are_rejected_one_by_one() {
        let c = convert(request(vec![
            span(vec![1; 16], vec![2; 8], vec![]),
            span(vec![1; 15], vec![2; 8], vec![]),
            span(vec![0; 16], vec![2; 8], vec![]),
            span(vec![1; 16], vec![0; 8], vec![]),
            span(vec![1; 16], vec![3; 8], vec![4; 7]),
            span(vec![1; 16], vec![5; 8], vec![0; 8]),
        ]));
        assert_eq!((c.accepted, c.rejected), (2, 4));
        assert_eq!(
            c.first_error.as_deref(),
            Some("trace_id must be 16 bytes, got 15")
        );
        let spans = &c.batches[0].spans;
        assert_eq!(spans[0].kind, SpanKind::Server);
        assert_eq!(spans[1].parent_span_id, SpanId::INVALID);
        assert_eq!(&*c.batches[0].source.resource.service, "svc");
        let resp = c.response();
        assert_eq!(resp.partial_success.unwrap().rejected_spans, 4);
    }

    #[test]
    fn complex_values_become_json() {
        let v = convert_value(Some(AnyValue {
            value: Some(any_value::Value::ArrayValue(
                opentelemetry_proto::tonic::common::v1::ArrayValue {
                    values: vec![
                        AnyValue {
                            value: Some(any_value::Value::IntValue(1)),
                        },
                        AnyValue {
                            value: Some(any_value::Value::BytesValue(vec![
                                0xab, 0x01, 0x00, 0xff, 0x10,
                            ])),
                        },
                    ],
                },
            )),
        }));
        assert_eq!(v, NewValue::Json(r#"[1,"ab0100ff10"]"#.into()));
    }
}
