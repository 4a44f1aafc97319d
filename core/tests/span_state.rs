//! Where the layer keeps its per-span state: one table per subscriber it is added to, which a
//! linked log format reads span ids from.

use std::sync::{Arc, Mutex};

use tracewire::export::SpanSink;
use tracewire::testing::LogCapture;
use tracewire::{SpanData, SpanExt, TracewireLayer};
use tracing::Dispatch;
use tracing_subscriber::layer::SubscriberExt;

#[derive(Clone, Default)]
struct Spans(Arc<Mutex<Vec<SpanData>>>);

impl SpanSink for Spans {
    fn on_end(&self, span: SpanData) {
        self.0.lock().unwrap().push(span);
    }
}

#[test]
fn a_layer_cloned_into_two_subscribers_keeps_their_spans_apart() {
    let spans = Spans::default();
    let layer = TracewireLayer::builder().build(spans.clone());
    let first = Dispatch::new(tracing_subscriber::registry().with(layer.clone()));
    let second = Dispatch::new(tracing_subscriber::registry().with(layer));
    // Both registries hand out the same ids; each span must keep its own context.
    let a = tracing::dispatcher::with_default(&first, || tracing::info_span!("a"));
    let b = tracing::dispatcher::with_default(&second, || tracing::info_span!("b"));
    assert_eq!(a.id(), b.id(), "the registries reuse the same ids");
    let (a_cx, b_cx) = (a.span_context().unwrap(), b.span_context().unwrap());
    assert_ne!(a_cx.trace_id(), b_cx.trace_id());
    tracing::dispatcher::with_default(&second, || {
        let _b = b.enter();
        tracing::info_span!("child of b").in_scope(|| {});
    });
    drop((a, b));
    let spans = spans.0.lock().unwrap();
    let names: Vec<&str> = spans.iter().map(|s| &*s.name).collect();
    assert_eq!(names, ["child of b", "a", "b"]);
    assert_eq!(spans[0].parent_span_id, b_cx.span_id());
    assert_eq!(spans[0].span_context.trace_id(), b_cx.trace_id());
    assert_eq!(spans[1].span_context, a_cx);
    assert_eq!(spans[2].span_context, b_cx);
}

#[test]
fn a_linked_log_format_reads_ids_from_its_layer() {
    let lines = LogCapture::new();
    let layer = TracewireLayer::builder().build(Spans::default());
    let format = tracewire::fmt::TraceIdFormat::new(
        tracing_subscriber::fmt::format::Format::default()
            .without_time()
            .with_target(false),
    )
    .with_layer(&layer);
    let fmt = tracing_subscriber::fmt::layer()
        .with_ansi(false)
        .with_writer(lines.clone())
        .event_format(format);
    let dispatch = Dispatch::new(tracing_subscriber::registry().with(fmt).with(layer));
    let cx = tracing::dispatcher::with_default(&dispatch, || {
        let span = tracing::info_span!("req");
        let _e = span.enter();
        tracing::info!("handled");
        span.span_context().unwrap()
    });
    assert_eq!(
        lines.text(),
        format!(
            " INFO req: handled trace_id={} span_id={}\n",
            cx.trace_id(),
            cx.span_id()
        )
    );
}
