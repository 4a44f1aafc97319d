//! `SpanExt` on plain `tracing::Span`s: it reaches the layer through any `LookupSpan`
//! subscriber, and acts on exactly the span it is called on.

use std::sync::{Arc, Mutex};

use tracewire::export::SpanSink;
use tracewire::{BaggageError, SpanData, SpanExt, TracewireLayer, Value};
use tracing::span::{Attributes, Id, Record};
use tracing::subscriber::Interest;
use tracing::{Dispatch, Event, Metadata, Subscriber};
use tracing_subscriber::Layer;
use tracing_subscriber::Registry;
use tracing_subscriber::filter::filter_fn;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::registry::LookupSpan;

#[derive(Clone, Default)]
struct Spans(Arc<Mutex<Vec<SpanData>>>);

impl SpanSink for Spans {
    fn on_end(&self, span: SpanData) {
        self.0.lock().unwrap().push(span);
    }
}

impl Spans {
    fn get(&self, name: &str) -> SpanData {
        let spans = self.0.lock().unwrap();
        let found: Vec<&SpanData> = spans.iter().filter(|s| s.name == name).collect();
        assert_eq!(found.len(), 1, "spans named {name:?}");
        found[0].clone()
    }

    fn names(&self) -> Vec<String> {
        let spans = self.0.lock().unwrap();
        spans.iter().map(|s| s.name.to_string()).collect()
    }
}

/// A layer that wants every span, so a span filtered out for the tracewire layer still exists in
/// the registry (as it does when a fmt layer logs it).
struct Everything;

impl<S: Subscriber> Layer<S> for Everything {}

#[test]
fn setters_act_on_exactly_the_span_asked_for() {
    let spans = Spans::default();
    let layer = TracewireLayer::builder()
        .build(spans.clone())
        .with_filter(filter_fn(|meta| meta.name() != "hidden"));
    let dispatch = Dispatch::new(tracing_subscriber::registry().with(Everything).with(layer));
    tracing::dispatcher::with_default(&dispatch, || {
        let parent = tracing::info_span!("parent");
        let _p = parent.enter();
        let parent_cx = parent.context().expect("the layer knows the parent");
        let hidden = tracing::info_span!("hidden");
        assert!(hidden.id().is_some(), "the registry has the span");

        assert_eq!(hidden.span_context(), None);
        assert_eq!(hidden.context(), None);
        assert!(!hidden.is_sampled());
        assert!(!hidden.set_attribute("written.to", "hidden"));
        assert_eq!(
            hidden.set_baggage("tenant", "acme"),
            Err(BaggageError::UnknownSpan)
        );

        // The current context still comes from the nearest span the layer knows.
        hidden.in_scope(|| {
            assert_eq!(tracewire::current(), parent_cx);
            tracing::info_span!("child-of-hidden").in_scope(|| {
                assert!(tracewire::current().baggage().is_empty());
            });
        });
    });
    assert_eq!(spans.names(), ["child-of-hidden", "parent"]);
    let parent = spans.get("parent");
    assert_eq!(parent.attribute("written.to"), None);
    assert!(parent.attributes.is_empty(), "{:?}", parent.attributes);
    assert_eq!(
        spans.get("child-of-hidden").parent_span_id,
        parent.span_context.span_id()
    );
}

#[test]
fn works_when_the_registry_is_wrapped_by_other_layers() {
    let spans = Spans::default();
    let dispatch = Dispatch::new(
        tracing_subscriber::registry()
            .with(Everything)
            .with(TracewireLayer::builder().build(spans.clone()))
            .with(Everything),
    );
    tracing::dispatcher::with_default(&dispatch, || {
        let span = tracing::info_span!("request");
        assert!(span.is_sampled());
        assert!(span.set_attribute("http.request.header.x-tenant", "acme"));
        span.set_baggage("tier", "gold").unwrap();
        assert_eq!(span.context().unwrap().baggage().get("tier"), Some("gold"));
    });
    assert_eq!(
        spans
            .get("request")
            .attribute("http.request.header.x-tenant"),
        Some(&Value::from("acme"))
    );
}

/// A span store of its own: a `LookupSpan` subscriber that is not a `Registry` (it does not
/// forward downcasts to the one it wraps).
struct CustomRegistry(Registry);

impl Subscriber for CustomRegistry {
    fn register_callsite(&self, meta: &'static Metadata<'static>) -> Interest {
        self.0.register_callsite(meta)
    }
    fn enabled(&self, meta: &Metadata<'_>) -> bool {
        self.0.enabled(meta)
    }
    fn new_span(&self, attrs: &Attributes<'_>) -> Id {
        self.0.new_span(attrs)
    }
    fn record(&self, span: &Id, values: &Record<'_>) {
        self.0.record(span, values)
    }
    fn record_follows_from(&self, span: &Id, follows: &Id) {
        self.0.record_follows_from(span, follows)
    }
    fn event(&self, event: &Event<'_>) {
        self.0.event(event)
    }
    fn enter(&self, span: &Id) {
        self.0.enter(span)
    }
    fn exit(&self, span: &Id) {
        self.0.exit(span)
    }
    fn clone_span(&self, id: &Id) -> Id {
        self.0.clone_span(id)
    }
    fn try_close(&self, id: Id) -> bool {
        self.0.try_close(id)
    }
    fn current_span(&self) -> tracing_core::span::Current {
        self.0.current_span()
    }
}

impl<'a> LookupSpan<'a> for CustomRegistry {
    type Data = <Registry as LookupSpan<'a>>::Data;

    fn span_data(&'a self, id: &Id) -> Option<Self::Data> {
        self.0.span_data(id)
    }
}

#[test]
fn works_with_any_lookup_span_subscriber() {
    let dispatch = Dispatch::new(
        CustomRegistry(Registry::default()).with(TracewireLayer::builder().build(Spans::default())),
    );
    tracing::dispatcher::with_default(&dispatch, || {
        let span = tracing::info_span!("request");
        let cx = span
            .span_context()
            .expect("reached through the custom registry");
        assert!(cx.is_valid() && cx.is_sampled());
        assert!(span.set_attribute("k", "v"));
        span.set_baggage("tier", "gold").unwrap();
        let _e = span.enter();
        assert_eq!(tracewire::current().span_id(), Some(cx.span_id()));
        assert_eq!(tracewire::current().baggage().get("tier"), Some("gold"));
    });
}

#[test]
fn without_a_tracewire_layer_nothing_is_known() {
    let dispatch = Dispatch::new(tracing_subscriber::registry().with(Everything));
    tracing::dispatcher::with_default(&dispatch, || {
        let span = tracing::info_span!("request");
        assert!(span.id().is_some());
        assert_eq!(span.span_context(), None);
        assert!(!span.set_attribute("k", "v"));
        assert_eq!(span.set_baggage("k", "v"), Err(BaggageError::UnknownSpan));
        assert_eq!(
            tracing::Span::none().set_baggage("k", "v"),
            Err(BaggageError::UnknownSpan)
        );
    });
}
