//! Span limits through the layer: attribute count and value length, events, per-event
//! attributes, links; dropped counts exact.

use tracewire::testing::Recorder;
use tracewire::{
    Parent, SpanContext, SpanExt, SpanId, SpanLimits, TraceFlags, TraceId, TraceState,
    TracewireLayer, Value, with_parent,
};

fn linked(n: u64) -> SpanContext {
    SpanContext::new(
        TraceId::from_u128(u128::from(n)),
        SpanId::from_u64(n),
        TraceFlags::SAMPLED,
        TraceState::new(),
        true,
    )
}

#[test]
fn string_values_are_cut_to_the_length_limit_in_characters() {
    let r = Recorder::with_layer(TracewireLayer::builder().max_attribute_value_length(4));
    r.in_scope(|| {
        let span = tracing::info_span!(
            "a-span-name-longer-than-the-limit",
            user_agent.original = "Mozilla/5.0",
            city = "Zürich-Ost",
            debug = ?"quoted",
            status = 200,
            otel.status_message = "status messages are not attributes",
            late = tracing::field::Empty,
        );
        span.record("late", "recorded later");
        assert!(span.set_attribute("http.request.header.accept", vec!["text/html", "*/*"]));
        assert!(span.set_attribute("short", "ok"));
        let _e = span.enter();
        tracing::info!(peer = "10.0.0.1", "long event names are not attributes");
    });
    let s = r.span("a-span-name-longer-than-the-limit");
    s.assert_attr("user_agent.original", "Mozi")
        .assert_attr("city", "Züri")
        .assert_attr("debug", "\"quo")
        .assert_attr("status", 200i64)
        .assert_attr("late", "reco")
        .assert_attr("http.request.header.accept", vec!["text", "*/*"])
        .assert_attr("short", "ok");
    assert_eq!(s.data().dropped_attributes, 0);
    let event = &s.data().events[0];
    assert_eq!(event.name, "long event names are not attributes");
    assert_eq!(event.attributes[0].value, Value::from("10.0"));
    assert_eq!(event.attributes[1].value, Value::from("INFO"));
}

#[test]
fn attributes_over_the_count_limit_are_dropped_and_counted() {
    let r = Recorder::with_layer(TracewireLayer::builder().max_attributes(2));
    r.in_scope(|| {
        let span = tracing::info_span!("s", a = 1, b = 2, c = 3, d = tracing::field::Empty);
        span.record("d", 4);
        // Replacing a kept attribute is not a drop.
        span.record("a", 10);
        assert!(span.set_attribute("b", 20i64));
        assert!(!span.set_attribute("e", 5i64));
        for i in 0..100_000i64 {
            span.set_attribute(format!("k{i}"), i);
        }
    });
    let s = r.span("s");
    let keys: Vec<&str> = s.data().attributes.iter().map(|kv| &*kv.key).collect();
    assert_eq!(keys, ["a", "b"]);
    s.assert_attr("a", 10i64).assert_attr("b", 20i64);
    assert_eq!(s.data().dropped_attributes, 3 + 100_000);
}

#[test]
fn events_and_their_attributes_are_limited() {
    let r = Recorder::with_layer(
        TracewireLayer::builder()
            .max_events(2)
            .max_attributes_per_event(1),
    );
    r.in_scope(|| {
        let _s = tracing::info_span!("s").entered();
        tracing::info!(a = 1, b = 2, "first");
        tracing::info!("second");
        tracing::info!("third");
        tracing::error!("fourth");
    });
    let s = r.span("s");
    let events = &s.data().events;
    assert_eq!(events.len(), 2);
    assert_eq!(s.data().dropped_events, 2);
    assert_eq!(events[0].attributes.len(), 1);
    assert_eq!(events[0].attributes[0].key, "a");
    // `b` and the `level` attribute did not fit.
    assert_eq!(events[0].dropped_attributes, 2);
    assert_eq!(events[1].attributes[0].key, "level");
    assert_eq!(events[1].dropped_attributes, 0);
    // A dropped ERROR event still marks the span as failed.
    s.assert_status(tracewire::Status::error("fourth"));
}

#[test]
fn links_over_the_limit_are_dropped_and_counted() {
    let r = Recorder::with_layer(TracewireLayer::builder().max_links(1));
    r.in_scope(|| {
        let other = tracing::info_span!("other");
        let span = with_parent(
            Parent::root().with_link(linked(1)).with_link(linked(2)),
            || tracing::info_span!("s"),
        );
        span.follows_from(&other);
    });
    let s = r.span("s");
    assert_eq!(s.data().links.len(), 1);
    assert_eq!(
        s.data().links[0].span_context.span_id(),
        SpanId::from_u64(1)
    );
    assert_eq!(s.data().dropped_links, 2);
}

#[test]
fn limits_set_at_once() {
    let mut limits = SpanLimits::default();
    limits.attribute_count = 1;
    limits.attribute_value_length = Some(2);
    limits.event_count = 0;
    let r = Recorder::with_layer(TracewireLayer::builder().limits(limits));
    r.in_scope(|| {
        let _s = tracing::info_span!("s", a = "abc", b = "b").entered();
        tracing::info!("dropped");
    });
    let s = r.span("s");
    s.assert_attr("a", "ab").assert_no_attr("b");
    assert_eq!(
        (s.data().dropped_attributes, s.data().dropped_events),
        (1, 1)
    );
}
