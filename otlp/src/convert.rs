//! [`SpanData`] → OTLP message conversion, shared by the exporter and the collector.
//!
//! [`to_request`] builds one [`ExportTraceServiceRequest`] from a batch and the process
//! [`Resource`]. The mapping:
//!
//! | tracewire | OTLP |
//! |---|---|
//! | [`Resource`] attributes | `ResourceSpans.resource.attributes` |
//! | every span | one `ScopeSpans` with scope [`SCOPE_NAME`] / [`SCOPE_VERSION`] |
//! | `SpanData::target` (the `tracing` target) | span attribute [`TARGET_ATTRIBUTE`] (`code.namespace`), unless the span already has one; omitted when empty |
//! | trace/span/parent ids | 16/8/8 bytes; a root span's `parent_span_id` is empty |
//! | `TraceState` | `trace_state` (the W3C header form) on the span and on each link |
//! | `TraceFlags` + `parent_is_remote` | `flags`: W3C flags in bits 0–7, bit 8 ("has is-remote") always set, bit 9 set when the parent (or the linked context) is remote |
//! | [`SpanKind`] | `SPAN_KIND_INTERNAL` … `SPAN_KIND_CONSUMER` (never `UNSPECIFIED`) |
//! | [`Status`] | `STATUS_CODE_UNSET` / `OK` / `ERROR` with the description as `message` (only for errors) |
//! | [`Value`] | `bool_value` / `int_value` / `double_value` / `string_value` |
//! | times | nanoseconds since the Unix epoch (0 for times before it) |
//! | `dropped_attributes` / `dropped_events` | `dropped_attributes_count` / `dropped_events_count` |
//!
//! ```
//! use tracewire::{Resource, SpanContext, SpanData, SpanId, TraceFlags, TraceId, TraceState};
//! use tracewire_otlp::convert::{to_request, SCOPE_NAME};
//!
//! let cx = SpanContext::new(
//!     TraceId::from_u128(1),
//!     SpanId::from_u64(2),
//!     TraceFlags::SAMPLED,
//!     TraceState::default(),
//!     false,
//! );
//! let req = to_request(&[SpanData::new(cx, "work")], &Resource::new("checkout"));
//! let scope_spans = &req.resource_spans[0].scope_spans[0];
//! assert_eq!(scope_spans.scope.as_ref().unwrap().name, SCOPE_NAME);
//! assert_eq!(scope_spans.spans[0].name, "work");
//! assert_eq!(scope_spans.spans[0].span_id, 2u64.to_be_bytes());
//! ```

use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::{
    AnyValue, ArrayValue, InstrumentationScope, KeyValue, any_value,
};
use opentelemetry_proto::tonic::resource::v1::Resource as ProtoResource;
use opentelemetry_proto::tonic::trace::v1::{
    ResourceSpans, ScopeSpans, Span, SpanFlags, Status as ProtoStatus, span, status,
};
use tracewire::{Array, Resource, SpanContext, SpanData, SpanKind, Status, Value};

/// The instrumentation scope name every exported span carries.
pub const SCOPE_NAME: &str = "tracewire";

/// The instrumentation scope version: this crate's version.
pub const SCOPE_VERSION: &str = env!("CARGO_PKG_VERSION");

/// The span attribute that carries the `tracing` target (usually the module path) of the code
/// that created the span.
pub const TARGET_ATTRIBUTE: &str = "code.namespace";

/// Builds an OTLP export request for `batch`, produced by the process described by `resource`.
///
/// All spans share one `ResourceSpans` and one `ScopeSpans` (see the [module docs](self) for the
/// field mapping). An empty batch yields a request with no `ResourceSpans`.
pub fn to_request(batch: &[SpanData], resource: &Resource) -> ExportTraceServiceRequest {
    if batch.is_empty() {
        return ExportTraceServiceRequest::default();
    }
    ExportTraceServiceRequest {
        resource_spans: vec![ResourceSpans {
            resource: Some(to_resource(resource)),
            scope_spans: vec![ScopeSpans {
                scope: Some(scope()),
                spans: batch.iter().map(to_span).collect(),
                schema_url: String::new(),
            }],
            schema_url: String::new(),
        }],
    }
}

/// The instrumentation scope of tracewire's spans.
pub fn scope() -> InstrumentationScope {
    InstrumentationScope {
        name: SCOPE_NAME.to_owned(),
        version: SCOPE_VERSION.to_owned(),
        attributes: Vec::new(),
        dropped_attributes_count: 0,
    }
}

/// Converts a [`Resource`].
pub fn to_resource(resource: &Resource) -> ProtoResource {
    ProtoResource {
        attributes: resource.attributes().iter().map(to_key_value).collect(),
        ..ProtoResource::default()
    }
}

/// Converts one span.
pub fn to_span(s: &SpanData) -> Span {
    let cx = &s.span_context;
    let mut attributes: Vec<KeyValue> = Vec::with_capacity(s.attributes.len() + 1);
    attributes.extend(s.attributes.iter().map(to_key_value));
    if !s.target.is_empty() && s.attribute(TARGET_ATTRIBUTE).is_none() {
        attributes.push(KeyValue {
            key: TARGET_ATTRIBUTE.to_owned(),
            value: Some(string_value(s.target.to_string())),
            ..KeyValue::default()
        });
    }
    Span {
        trace_id: cx.trace_id().to_bytes().to_vec(),
        span_id: cx.span_id().to_bytes().to_vec(),
        trace_state: cx.trace_state().header(),
        parent_span_id: if s.parent_span_id.is_valid() {
            s.parent_span_id.to_bytes().to_vec()
        } else {
            Vec::new()
        },
        flags: flags(cx, s.parent_is_remote),
        name: s.name.as_str().to_owned(),
        kind: to_kind(s.kind) as i32,
        start_time_unix_nano: unix_nanos(s.start_time),
        end_time_unix_nano: unix_nanos(s.end_time),
        attributes,
        dropped_attributes_count: s.dropped_attributes,
        events: s
            .events
            .iter()
            .map(|e| span::Event {
                time_unix_nano: unix_nanos(e.time),
                name: e.name.as_str().to_owned(),
                attributes: e.attributes.iter().map(to_key_value).collect(),
                dropped_attributes_count: e.dropped_attributes,
            })
            .collect(),
        dropped_events_count: s.dropped_events,
        links: s
            .links
            .iter()
            .map(|l| span::Link {
                trace_id: l.span_context.trace_id().to_bytes().to_vec(),
                span_id: l.span_context.span_id().to_bytes().to_vec(),
                trace_state: l.span_context.trace_state().header(),
                attributes: l.attributes.iter().map(to_key_value).collect(),
                dropped_attributes_count: l.dropped_attributes,
                flags: flags(&l.span_context, l.span_context.is_remote()),
            })
            .collect(),
        dropped_links_count: s.dropped_links,
        status: Some(to_status(&s.status)),
    }
}

/// The OTLP `flags` field: the W3C trace flags in the low byte, plus the "is remote" bits
/// (bit 8: known, bit 9: remote) describing the parent of a span or the target of a link.
pub fn flags(cx: &SpanContext, remote: bool) -> u32 {
    let mut f = u32::from(cx.flags().to_u8()) | SpanFlags::ContextHasIsRemoteMask as u32;
    if remote {
        f |= SpanFlags::ContextIsRemoteMask as u32;
    }
    f
}

/// Converts a span kind.
pub fn to_kind(kind: SpanKind) -> span::SpanKind {
    match kind {
        SpanKind::Server => span::SpanKind::Server,
        SpanKind::Client => span::SpanKind::Client,
        SpanKind::Producer => span::SpanKind::Producer,
        SpanKind::Consumer => span::SpanKind::Consumer,
        // `Internal` and any kind added later.
        _ => span::SpanKind::Internal,
    }
}

/// Converts a status. The description travels only with errors, as the OTLP spec asks.
pub fn to_status(s: &Status) -> ProtoStatus {
    match s {
        Status::Ok => ProtoStatus {
            message: String::new(),
            code: status::StatusCode::Ok as i32,
        },
        Status::Error { description } => ProtoStatus {
            message: description.to_string(),
            code: status::StatusCode::Error as i32,
        },
        _ => ProtoStatus {
            message: String::new(),
            code: status::StatusCode::Unset as i32,
        },
    }
}

/// Converts one attribute.
pub fn to_key_value(kv: &tracewire::KeyValue) -> KeyValue {
    KeyValue {
        key: kv.key.to_string(),
        value: Some(to_any_value(&kv.value)),
        ..KeyValue::default()
    }
}

/// Converts an attribute value. Kinds of value added to tracewire later are sent as strings.
pub fn to_any_value(v: &Value) -> AnyValue {
    AnyValue {
        value: Some(match v {
            Value::Bool(b) => any_value::Value::BoolValue(*b),
            Value::I64(i) => any_value::Value::IntValue(*i),
            Value::F64(f) => any_value::Value::DoubleValue(*f),
            Value::String(s) => any_value::Value::StringValue(s.to_string()),
            Value::Array(a) => any_value::Value::ArrayValue(to_array_value(a)),
            other => any_value::Value::StringValue(other.to_string()),
        }),
    }
}

/// Converts an array attribute value, element by element.
fn to_array_value(a: &Array) -> ArrayValue {
    fn each<T>(items: &[T], value: impl Fn(&T) -> any_value::Value) -> Vec<AnyValue> {
        items
            .iter()
            .map(|item| AnyValue {
                value: Some(value(item)),
            })
            .collect()
    }
    let values = match a {
        Array::Bool(v) => each(v, |b| any_value::Value::BoolValue(*b)),
        Array::I64(v) => each(v, |i| any_value::Value::IntValue(*i)),
        Array::F64(v) => each(v, |f| any_value::Value::DoubleValue(*f)),
        Array::String(v) => each(v, |s| any_value::Value::StringValue(s.to_string())),
        other => each(&[other], |o| any_value::Value::StringValue(o.to_string())),
    };
    ArrayValue { values }
}

fn string_value(s: String) -> AnyValue {
    AnyValue {
        value: Some(any_value::Value::StringValue(s)),
    }
}

pub use tracewire::export::unix_nanos;

#[cfg(test)]
mod tests {
    use std::time::{Duration, SystemTime};

    use tracewire::{Event, Link, SpanId, TraceFlags, TraceId, TraceState};

    use super::*;

    fn rich_span() -> SpanData {
        let state: TraceState = "rojo=00f067aa0ba902b7,congo=t61rcWkgMzE".parse().unwrap();
        let cx = SpanContext::new(
            TraceId::from_u128(0x0af7651916cd43dd8448eb211c80319c),
            SpanId::from_u64(0xb7ad6b7169203331),
            TraceFlags::SAMPLED,
            state,
            false,
        );
        let mut s = SpanData::new(cx, "GET /users/{id}");
        s.parent_span_id = SpanId::from_u64(0x00f067aa0ba902b7);
        s.parent_is_remote = true;
        s.kind = SpanKind::Server;
        s.target = "app::handlers".into();
        s.start_time = SystemTime::UNIX_EPOCH + Duration::new(1_700_000_000, 123);
        s.end_time = SystemTime::UNIX_EPOCH + Duration::new(1_700_000_001, 456);
        s.attributes = vec![
            tracewire::KeyValue::new("http.request.method", "GET"),
            tracewire::KeyValue::new("http.response.status_code", 500i64),
            tracewire::KeyValue::new("sampled", true),
            tracewire::KeyValue::new("ratio", 0.25f64),
        ];
        s.dropped_attributes = 3;
        s.events = vec![Event::new(
            "retrying",
            SystemTime::UNIX_EPOCH + Duration::new(1_700_000_000, 999),
            vec![tracewire::KeyValue::new("attempt", 2i64)],
        )];
        s.dropped_events = 1;
        s.links = vec![Link::new(
            SpanContext::new(
                TraceId::from_u128(7),
                SpanId::from_u64(8),
                TraceFlags::new(0),
                "k=v".parse().unwrap(),
                true,
            ),
            vec![tracewire::KeyValue::new("reason", "public endpoint")],
        )];
        s.status = Status::error("boom");
        s
    }

    #[test]
    fn maps_every_field() {
        let req = to_request(&[rich_span()], &Resource::new("checkout"));
        assert_eq!(req.resource_spans.len(), 1);
        let rs = &req.resource_spans[0];
        let res = rs.resource.as_ref().unwrap();
        assert_eq!(res.attributes[0].key, "service.name");
        assert_eq!(
            res.attributes[0].value,
            Some(string_value("checkout".to_owned()))
        );
        let ss = &rs.scope_spans[0];
        assert_eq!(ss.scope, Some(scope()));
        assert_eq!(
            ss.scope.as_ref().unwrap().version,
            env!("CARGO_PKG_VERSION")
        );
        let sp = &ss.spans[0];
        // Big-endian bytes.
        let trace_id = 0x0af7651916cd43dd8448eb211c80319cu128.to_be_bytes();
        assert_eq!(sp.trace_id, trace_id);
        assert_eq!(sp.span_id, 0xb7ad6b7169203331u64.to_be_bytes());
        assert_eq!(sp.parent_span_id, 0x00f067aa0ba902b7u64.to_be_bytes());
        assert_eq!(sp.trace_state, "rojo=00f067aa0ba902b7,congo=t61rcWkgMzE");
        // sampled | has-is-remote | is-remote
        assert_eq!(sp.flags, 0x01 | 0x100 | 0x200);
        assert_eq!(sp.name, "GET /users/{id}");
        assert_eq!(sp.kind, 2);
        assert_eq!(sp.start_time_unix_nano, 1_700_000_000_000_000_123);
        assert_eq!(sp.end_time_unix_nano, 1_700_000_001_000_000_456);
        let attrs: Vec<(&str, &Option<any_value::Value>)> = sp
            .attributes
            .iter()
            .map(|kv| (kv.key.as_str(), &kv.value.as_ref().unwrap().value))
            .collect();
        assert_eq!(
            attrs,
            vec![
                (
                    "http.request.method",
                    &Some(any_value::Value::StringValue("GET".into()))
                ),
                (
                    "http.response.status_code",
                    &Some(any_value::Value::IntValue(500))
                ),
                ("sampled", &Some(any_value::Value::BoolValue(true))),
                ("ratio", &Some(any_value::Value::DoubleValue(0.25))),
                (
                    "code.namespace",
                    &Some(any_value::Value::StringValue("app::handlers".into()))
                ),
            ]
        );
        assert_eq!(sp.dropped_attributes_count, 3);
        assert_eq!(sp.events.len(), 1);
        assert_eq!(sp.events[0].name, "retrying");
        assert_eq!(sp.events[0].time_unix_nano, 1_700_000_000_000_000_999);
        assert_eq!(sp.events[0].attributes[0].key, "attempt");
        assert_eq!(sp.dropped_events_count, 1);
        let link = &sp.links[0];
        assert_eq!(link.trace_id, 7u128.to_be_bytes());
        assert_eq!(link.span_id, 8u64.to_be_bytes());
        assert_eq!(link.trace_state, "k=v");
        assert_eq!(link.flags, 0x300);
        assert_eq!(link.attributes[0].key, "reason");
        assert_eq!(
            sp.status,
            Some(ProtoStatus {
                message: "boom".into(),
                code: 2
            })
        );
    }

    #[test]
    fn array_attributes_are_otlp_arrays() {
        let str_any = |s: &str| AnyValue {
            value: Some(any_value::Value::StringValue(s.into())),
        };
        assert_eq!(
            to_any_value(&Value::from(vec!["text/html", "*/*"])).value,
            Some(any_value::Value::ArrayValue(ArrayValue {
                values: vec![str_any("text/html"), str_any("*/*")],
            }))
        );
        let Some(any_value::Value::ArrayValue(ints)) =
            to_any_value(&Value::from(vec![1i64, 2])).value
        else {
            panic!("not an array");
        };
        assert_eq!(
            ints.values
                .iter()
                .map(|v| v.value.clone())
                .collect::<Vec<_>>(),
            [
                Some(any_value::Value::IntValue(1)),
                Some(any_value::Value::IntValue(2))
            ]
        );
    }

    #[test]
    fn roots_kinds_and_statuses() {
        let mut s = SpanData::new(SpanContext::default(), "root");
        assert!(to_span(&s).parent_span_id.is_empty());
        // Local root: the is-remote state is known and false.
        assert_eq!(to_span(&s).flags, 0x100);
        // An empty target adds no attribute; an explicit code.namespace wins over the target.
        assert!(to_span(&s).attributes.is_empty());
        s.target = "t".into();
        s.attributes = vec![tracewire::KeyValue::new("code.namespace", "explicit")];
        assert_eq!(to_span(&s).attributes.len(), 1);
        for (k, n) in [
            (SpanKind::Internal, 1),
            (SpanKind::Server, 2),
            (SpanKind::Client, 3),
            (SpanKind::Producer, 4),
            (SpanKind::Consumer, 5),
        ] {
            assert_eq!(to_kind(k) as i32, n);
        }
        assert_eq!(to_status(&Status::Unset).code, 0);
        assert_eq!(
            to_status(&Status::Ok),
            ProtoStatus {
                message: String::new(),
                code: 1
            }
        );
        assert_eq!(to_status(&Status::error("e")).message, "e");
        assert_eq!(
            unix_nanos(SystemTime::UNIX_EPOCH - Duration::from_secs(1)),
            0
        );
        assert_eq!(
            to_request(&[], &Resource::new("x")),
            ExportTraceServiceRequest::default()
        );
    }

    /// The OTLP/JSON encoding rules: lowercase hex ids, integer enums, 64-bit integers as
    /// decimal strings, camelCase field names.
    #[test]
    fn json_follows_otlp_json_rules() {
        let req = to_request(&[rich_span()], &Resource::new("checkout"));
        let json: serde_json::Value = serde_json::to_value(&req).unwrap();
        let span = &json["resourceSpans"][0]["scopeSpans"][0]["spans"][0];
        assert_eq!(span["traceId"], "0af7651916cd43dd8448eb211c80319c");
        assert_eq!(span["spanId"], "b7ad6b7169203331");
        assert_eq!(span["parentSpanId"], "00f067aa0ba902b7");
        assert_eq!(span["kind"], 2);
        assert_eq!(span["flags"], 0x301);
        assert_eq!(span["startTimeUnixNano"], "1700000000000000123");
        assert_eq!(span["status"]["code"], 2);
        assert_eq!(span["status"]["message"], "boom");
        assert_eq!(
            span["attributes"][1],
            serde_json::json!({"key": "http.response.status_code", "value": {"intValue": "500"}})
        );
        assert_eq!(
            span["attributes"][2],
            serde_json::json!({"key": "sampled", "value": {"boolValue": true}})
        );
        assert_eq!(
            span["attributes"][3],
            serde_json::json!({"key": "ratio", "value": {"doubleValue": 0.25}})
        );
        assert_eq!(
            span["links"][0]["traceId"],
            "00000000000000000000000000000007"
        );
        assert_eq!(span["events"][0]["timeUnixNano"], "1700000000000000999");
        assert_eq!(
            json["resourceSpans"][0]["scopeSpans"][0]["scope"]["name"],
            "tracewire"
        );
        // And it reads back to the same message.
        let back: ExportTraceServiceRequest =
            serde_json::from_slice(&serde_json::to_vec(&req).unwrap()).unwrap();
        assert_eq!(back, req);
    }
}
