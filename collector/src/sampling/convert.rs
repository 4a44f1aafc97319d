//! Kept spans as [`SpanData`] and [`Resource`], the shape `tracewire`'s exporters take, so the
//! forwarder can hand them to any [`SpanExporter`](tracewire::export::SpanExporter) — the OTLP
//! exporter of `tracewire-otlp` by default.
//!
//! What survives: ids, parent, kind, name, times, status and message, attributes (arrays, maps
//! and bytes as their JSON text), events, links (ids and attributes), `tracestate`, the W3C
//! flags and whether the parent is remote, dropped attribute, event and link counts; the
//! resource's attributes. What does not: the instrumentation scope (the OTLP exporter writes its
//! own).

use std::time::{Duration, UNIX_EPOCH};

use tracewire::{
    Event, KeyValue, Link, Resource, SpanContext, SpanData, Status, Text, TraceFlags, TraceState,
    Value,
};

use crate::ingest::{NewSource, NewSpan, NewValue, Str};
use crate::model::StatusCode;

/// OTLP span flags: bit 8 says whether bit 9 (parent is remote) is known.
const HAS_IS_REMOTE: u32 = 0x100;
const IS_REMOTE: u32 = 0x200;

fn value(v: &NewValue) -> Value {
    match v {
        NewValue::Str(s) => Value::String(Text::from(s.clone())),
        NewValue::Json(s) => Value::String(Text::from(s.clone())),
        NewValue::Bool(b) => Value::Bool(*b),
        NewValue::Int(i) => Value::I64(*i),
        NewValue::Double(d) => Value::F64(*d),
    }
}

fn kvs(attrs: &[(Str, NewValue)]) -> Vec<KeyValue> {
    attrs
        .iter()
        .map(|(k, v)| KeyValue::new(k.clone(), value(v)))
        .collect()
}

fn time(nanos: u64) -> std::time::SystemTime {
    UNIX_EPOCH + Duration::from_nanos(nanos)
}

/// Parses a `tracestate` header value, keeping the members that are valid.
fn trace_state(header: &str) -> TraceState {
    let members: Vec<(&str, &str)> = header
        .split(',')
        .filter_map(|m| m.trim().split_once('='))
        .collect();
    // `insert` puts a member first, so insert from the last to keep the order.
    members
        .iter()
        .rev()
        .fold(TraceState::new(), |state, (k, v)| {
            state.insert(k, v).unwrap_or(state)
        })
}

/// The resource of a source.
pub(crate) fn resource(source: &NewSource) -> Resource {
    source.resource.attributes.iter().fold(
        Resource::new(source.resource.service.clone()),
        |r, (k, v)| r.with(k.clone(), value(v)),
    )
}

/// One span.
pub(crate) fn span_data(s: &NewSpan) -> SpanData {
    let state = s
        .trace_state
        .as_deref()
        .map(trace_state)
        .unwrap_or_default();
    let cx = SpanContext::new(
        s.trace_id,
        s.span_id,
        TraceFlags::new(s.flags as u8),
        state,
        false,
    );
    let mut d = SpanData::new(cx, s.name.clone());
    d.parent_span_id = s.parent_span_id;
    d.parent_is_remote = s.flags & HAS_IS_REMOTE != 0 && s.flags & IS_REMOTE != 0;
    d.kind = s.kind;
    d.start_time = time(s.start_unix_nano);
    d.end_time = time(s.end_unix_nano);
    d.attributes = kvs(&s.attributes);
    d.dropped_attributes = s.dropped_attributes;
    d.events = s
        .events
        .iter()
        .map(|e| Event::new(e.name.clone(), time(e.time_unix_nano), kvs(&e.attributes)))
        .collect();
    d.dropped_events = s.dropped_events;
    d.links = s
        .links
        .iter()
        .map(|l| {
            let cx = SpanContext::new(
                l.trace_id,
                l.span_id,
                TraceFlags::default(),
                TraceState::default(),
                false,
            );
            Link::new(cx, kvs(&l.attributes))
        })
        .collect();
    d.dropped_links = s.dropped_links;
    d.status = match s.status {
        StatusCode::Error => Status::error(s.status_message.clone().unwrap_or_default()),
        StatusCode::Ok => Status::Ok,
        StatusCode::Unset => Status::Unset,
    };
    d
}

#[cfg(test)]
mod tests {
    use std::borrow::Cow;
    use std::sync::Arc;

    use super::*;
    use crate::ingest::{NewEvent, NewLink, NewResource};
    use crate::model::{SpanId, SpanKind, TraceId};
    use crate::sampling::test_support::span;

    #[test]
    fn every_field_that_has_a_place_is_carried() {
        let mut s = span(5, 2, 1, 100, 250);
        s.kind = SpanKind::Server;
        s.name = Cow::Owned("GET /x".into());
        s.status = StatusCode::Error;
        s.status_message = Some("boom".into());
        s.trace_state = Some("a=1,b=2".into());
        s.flags = 0x301;
        s.attributes = vec![
            (Cow::Borrowed("k"), NewValue::Int(3)),
            (Cow::Borrowed("j"), NewValue::Json("[1,2]".into())),
        ];
        s.events = vec![NewEvent {
            time_unix_nano: 120,
            name: Cow::Borrowed("retry"),
            attributes: vec![(Cow::Borrowed("n"), NewValue::Bool(true))],
        }];
        s.links = vec![NewLink {
            trace_id: TraceId::from_u128(9),
            span_id: SpanId::from_u64(8),
            attributes: vec![],
        }];
        s.dropped_attributes = 4;
        s.dropped_events = 1;
        s.dropped_links = 2;
        let d = span_data(&s);
        assert_eq!(d.span_context.trace_id(), TraceId::from_u128(5));
        assert_eq!(d.span_context.span_id(), SpanId::from_u64(2));
        assert_eq!(d.parent_span_id, SpanId::from_u64(1));
        assert!(d.parent_is_remote && d.span_context.is_sampled());
        assert_eq!(d.span_context.trace_state().header(), "a=1,b=2");
        assert_eq!((d.kind, &*d.name), (SpanKind::Server, "GET /x"));
        assert_eq!(tracewire::export::unix_nanos(d.start_time), 100);
        assert_eq!(tracewire::export::unix_nanos(d.end_time), 250);
        assert_eq!(d.status, Status::error("boom"));
        assert_eq!(d.attribute("k"), Some(&Value::I64(3)));
        assert_eq!(d.attribute("j").and_then(Value::as_str), Some("[1,2]"));
        assert_eq!(d.events[0].name, "retry");
        assert_eq!(d.links[0].span_context.span_id(), SpanId::from_u64(8));
        assert_eq!(
            (d.dropped_attributes, d.dropped_events, d.dropped_links),
            (4, 1, 2)
        );
    }

    #[test]
    fn resource_keeps_the_senders_attributes() {
        let src = NewSource {
            resource: Arc::new(NewResource {
                service: Cow::Borrowed("pricing"),
                dropped_attributes: 0,
                attributes: vec![
                    (
                        Cow::Borrowed("service.name"),
                        NewValue::Str(Cow::Borrowed("pricing")),
                    ),
                    (
                        Cow::Borrowed("telemetry.sdk.language"),
                        NewValue::Str(Cow::Borrowed("python")),
                    ),
                    (Cow::Borrowed("host.cpu.count"), NewValue::Int(8)),
                ],
            }),
            scope_name: Cow::Borrowed("s"),
            scope_version: Cow::Borrowed(""),
        };
        let r = resource(&Arc::new(src));
        assert_eq!(r.service_name(), "pricing");
        assert_eq!(
            r.get("telemetry.sdk.language").and_then(Value::as_str),
            Some("python")
        );
        assert_eq!(r.get("host.cpu.count"), Some(&Value::I64(8)));
        assert_eq!(trace_state("bad entry,x=1").header(), "x=1");
    }
}
