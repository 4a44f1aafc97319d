//! Spans exported in process are packed straight from their `SpanData`: the store must hold
//! exactly what it holds for the same spans in the decoded form (the tail-sampling stage's
//! path) and, span fields, over OTLP.

use std::borrow::Cow;
use std::sync::Arc;
use std::time::{Duration, UNIX_EPOCH};

use tracewire::{
    Event, KeyValue, Link, Resource, SpanContext, SpanData, SpanId, SpanKind, Status, Text,
    TraceFlags, TraceId, TraceState, Value,
};

use super::*;
use crate::exporter::convert_span;
use crate::exporter::tests::array_attributes;
use crate::ingest::{NewBatch, NewResource, NewSource};
use crate::model::{AttrValue, Attribute, Span, SpanEvent, SpanLink, StatusCode};

const LONG: &str = "a value longer than thirty bytes, so it is shared";

fn source() -> Arc<NewSource> {
    Arc::new(NewSource {
        resource: Arc::new(NewResource {
            service: Cow::Borrowed("gateway"),
            attributes: vec![(
                Cow::Borrowed("service.name"),
                crate::ingest::NewValue::Str(Cow::Borrowed("gateway")),
            )],
            dropped_attributes: 0,
        }),
        scope_name: Cow::Borrowed("tracewire"),
        scope_version: Cow::Borrowed(""),
    })
}

fn cx(span: u64, state: &str) -> SpanContext {
    SpanContext::new(
        TraceId::from_u128(0xabc),
        SpanId::from_u64(span),
        TraceFlags::SAMPLED,
        if state.is_empty() {
            TraceState::default()
        } else {
            state.parse().unwrap()
        },
        false,
    )
}

fn at(micros: u64) -> std::time::SystemTime {
    UNIX_EPOCH + Duration::from_micros(1_750_000_000_000_000 + micros)
}

/// Three spans using every field: every kind of value and text, arrays, events, links, each
/// status, a `tracestate`, dropped counts.
fn spans() -> Vec<SpanData> {
    let mut root = SpanData::new(
        cx(1, "congo=t61rcWkgMzE,rojo=00f067aa0ba902b7"),
        "GET /rides",
    );
    root.kind = SpanKind::Server;
    root.start_time = at(0);
    root.end_time = at(900);
    root.attributes = vec![
        KeyValue::new("http.request.method", "GET"),
        KeyValue::new("url.path", Text::new("/rides/42")),
        KeyValue::new("long", Value::String(Text::new(LONG))),
        KeyValue::new(String::from("owned.key"), String::from("owned value")),
        KeyValue::new("http.response.status_code", 200i64),
        KeyValue::new("ratio", 0.25),
        KeyValue::new("cached", true),
    ];
    root.attributes.extend(array_attributes());
    root.dropped_attributes = 3;
    root.dropped_events = 4;
    root.dropped_links = 5;
    root.status = Status::error("upstream failed");
    root.events = vec![
        Event::new("retry", at(100), vec![KeyValue::new("attempt", 2i64)]),
        Event::new(
            String::from("cache miss"),
            at(200),
            vec![KeyValue::new("keys", vec!["k1", "k2"])],
        ),
    ];
    root.links = vec![Link::new(
        SpanContext::new(
            TraceId::from_u128(0xdef),
            SpanId::from_u64(77),
            TraceFlags::SAMPLED,
            TraceState::default(),
            true,
        ),
        vec![KeyValue::new("link.reason", "inbound")],
    )];
    let mut child = SpanData::new(cx(2, ""), String::from("SELECT rides"));
    child.parent_span_id = SpanId::from_u64(1);
    child.kind = SpanKind::Client;
    child.start_time = at(10);
    child.end_time = at(400);
    child.status = Status::Ok;
    child.attributes = vec![KeyValue::new("db.system", "postgresql")];
    let mut empty_error = SpanData::new(cx(3, ""), "internal");
    empty_error.parent_span_id = SpanId::from_u64(1);
    empty_error.start_time = at(20);
    empty_error.end_time = at(30);
    empty_error.status = Status::error("");
    vec![root, child, empty_error]
}

fn attr(key: &str, value: AttrValue) -> Attribute {
    Attribute {
        key: key.into(),
        value,
    }
}

fn s(v: &str) -> AttrValue {
    AttrValue::String(v.into())
}

fn json(v: &str) -> AttrValue {
    AttrValue::Json(v.into())
}

/// The spans of trace 0xabc stored by `insert` into a store with `limits`.
fn stored(limits: Limits, insert: impl FnOnce(&mut Store)) -> Vec<Span> {
    let mut store = Store::new(limits);
    insert(&mut store);
    store.trace(TraceId::from_u128(0xabc))
}

fn in_process(limits: Limits) -> Vec<Span> {
    stored(limits, |s| s.insert_local(&source(), &spans(), &[]))
}

fn decoded(limits: Limits) -> Vec<Span> {
    let batch = NewBatch {
        source: source(),
        spans: spans().iter().map(convert_span).collect(),
    };
    stored(limits, |s| s.insert(vec![batch], &[]))
}

#[test]
fn in_process_spans_are_stored_exactly() {
    let got = in_process(Limits::default());
    assert_eq!(got.len(), 3);
    let root = &got[0];
    assert_eq!(root.span_id(), SpanId::from_u64(1));
    assert_eq!(root.parent_span_id(), None);
    assert_eq!((root.service(), root.name()), ("gateway", "GET /rides"));
    assert_eq!(root.kind(), SpanKind::Server);
    assert_eq!(root.start_unix_nano(), 1_750_000_000_000_000_000);
    assert_eq!(root.end_unix_nano(), 1_750_000_000_000_900_000);
    assert_eq!(
        (root.status(), root.status_message()),
        (StatusCode::Error, Some("upstream failed"))
    );
    assert_eq!(
        root.trace_state(),
        Some("congo=t61rcWkgMzE,rojo=00f067aa0ba902b7")
    );
    assert_eq!(root.flags(), 1);
    assert_eq!(
        (
            root.dropped_attributes(),
            root.dropped_events(),
            root.dropped_links()
        ),
        (3, 4, 5)
    );
    assert_eq!(
        root.attributes(),
        &[
            attr("http.request.method", s("GET")),
            attr("url.path", s("/rides/42")),
            attr("long", s(LONG)),
            attr("owned.key", s("owned value")),
            attr("http.response.status_code", AttrValue::Int(200)),
            attr("ratio", AttrValue::Double(0.25)),
            attr("cached", AttrValue::Bool(true)),
            attr(
                "http.request.header.accept",
                json(r#"["a/b","say \"hi\""]"#)
            ),
            attr("codes", json("[200,-1]")),
            attr("ratios", json(r#"[0.5,"NaN","inf"]"#)),
            attr("flags", json("[true,false]")),
            attr("none", json("[]")),
        ]
    );
    assert_eq!(
        root.events(),
        &[
            SpanEvent {
                time_unix_nano: 1_750_000_000_000_100_000,
                name: "retry".into(),
                attributes: vec![attr("attempt", AttrValue::Int(2))],
            },
            SpanEvent {
                time_unix_nano: 1_750_000_000_000_200_000,
                name: "cache miss".into(),
                attributes: vec![attr("keys", json(r#"["k1","k2"]"#))],
            },
        ]
    );
    assert_eq!(
        root.links(),
        &[SpanLink {
            trace_id: TraceId::from_u128(0xdef),
            span_id: SpanId::from_u64(77),
            attributes: vec![attr("link.reason", s("inbound"))],
        }]
    );
    assert_eq!(root.resource(), &[attr("service.name", s("gateway"))]);
    assert_eq!(&*root.scope().name, "tracewire");
    let child = &got[1];
    assert_eq!(child.parent_span_id(), Some(SpanId::from_u64(1)));
    assert_eq!(
        (child.name(), child.kind()),
        ("SELECT rides", SpanKind::Client)
    );
    assert_eq!(
        (child.status(), child.status_message()),
        (StatusCode::Ok, None)
    );
    assert_eq!(child.trace_state(), None);
    assert_eq!(child.attributes(), &[attr("db.system", s("postgresql"))]);
    assert!(child.events().is_empty() && child.links().is_empty());
    let empty_error = &got[2];
    assert_eq!(
        (empty_error.status(), empty_error.status_message()),
        (StatusCode::Error, None)
    );
}

#[test]
fn in_process_and_decoded_spans_are_stored_the_same() {
    assert_eq!(in_process(Limits::default()), decoded(Limits::default()));
    // The per-span caps and the value length cut both ways alike.
    let tight = || Limits {
        max_attributes: 5,
        max_value_len: 4,
        max_events: 1,
        max_links: 0,
        ..Limits::default()
    };
    let got = in_process(tight());
    assert_eq!(got, decoded(tight()));
    let root = &got[0];
    assert_eq!(root.attributes().len(), 5);
    assert_eq!(root.attributes()[2], attr("long", s("a va")));
    assert_eq!(root.trace_state(), Some("cong"));
    assert_eq!(root.status_message(), Some("upst"));
    assert_eq!((root.events().len(), root.links().len()), (1, 0));
    assert_eq!(
        (
            root.dropped_attributes(),
            root.dropped_events(),
            root.dropped_links()
        ),
        (3 + 7, 4 + 1, 5 + 1)
    );
}

#[test]
fn in_process_spans_read_as_they_do_over_otlp() {
    let req = tracewire_otlp::convert::to_request(&spans(), &Resource::new("gateway"));
    let converted = crate::otlp::convert(req);
    assert_eq!(converted.rejected, 0);
    let over_otlp = stored(Limits::default(), |s| s.insert(converted.batches, &[]));
    let in_process = in_process(Limits::default());
    assert_eq!(over_otlp.len(), in_process.len());
    // The resource and scope differ by what the OTLP exporter adds; every span field matches.
    for (a, b) in in_process.iter().zip(&over_otlp) {
        let mut b = b.clone();
        b.resource = a.resource.clone();
        b.resource_dropped_attributes = a.resource_dropped_attributes;
        b.scope = a.scope.clone();
        assert_eq!(a, &b);
    }
}
