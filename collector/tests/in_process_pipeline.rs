//! A tracewire `Pipeline` handing its batches to the in-process exporter to keep: spans are
//! stored exactly, the pipeline's counters stay exact when the collector refuses a batch, and
//! the spans' attribute vectors come back to the pipeline's pool once stored.

mod common;

use std::time::{Duration, UNIX_EPOCH};

use common::gated;
use tracewire::export::{Pipeline, SpanExporter, SpanSink};
use tracewire::{
    ExportError, KeyValue, Resource, SpanContext, SpanData, SpanId, TraceFlags, TraceId,
};
use tracewire_collector::{AttrValue, Collector};

fn span(trace: u128, id: u64, name: &'static str) -> SpanData {
    let cx = SpanContext::new(
        TraceId::from_u128(trace),
        SpanId::from_u64(id),
        TraceFlags::SAMPLED,
        Default::default(),
        false,
    );
    let mut s = SpanData::new(cx, name);
    s.start_time = UNIX_EPOCH + Duration::from_secs(1_750_000_000);
    s.end_time = s.start_time + Duration::from_millis(id);
    let mut attributes = Vec::with_capacity(4);
    attributes.push(KeyValue::new("http.route", "/rides"));
    attributes.push(KeyValue::new("url.path", format!("/rides/{id}")));
    s.attributes = attributes;
    s
}

/// How many recycled vectors a thread with an empty cache can take from `p`.
fn recycled(p: &Pipeline) -> usize {
    std::thread::scope(|s| {
        s.spawn(|| std::iter::from_fn(|| p.recycled_attributes(1)).count())
            .join()
            .unwrap()
    })
}

#[test]
fn kept_spans_are_stored_exactly_and_their_vectors_come_back() {
    let store = Collector::builder().build_store();
    let p = Pipeline::builder()
        .batch_timeout(Duration::from_secs(60))
        .resource(Resource::new("gateway"))
        .exporter(store.in_process_exporter())
        .build();
    for id in 1..=5 {
        assert!(p.submit(span(9, id, "work")));
    }
    p.flush(Duration::from_secs(10)).unwrap();
    store.flush_blocking();
    let s = p.stats();
    assert_eq!((s.queued, s.exported, s.failed, s.dropped), (5, 5, 0, 0));
    let spans = store.spans(TraceId::from_u128(9));
    assert_eq!(spans.len(), 5);
    for (s, id) in spans.iter().zip(1..) {
        assert_eq!((s.service(), s.name()), ("gateway", "work"));
        assert_eq!(s.span_id(), SpanId::from_u64(id));
        assert_eq!(s.duration_nanos(), id * 1_000_000);
        let attrs: Vec<(&str, &AttrValue)> =
            s.attributes().iter().map(|a| (&*a.key, &a.value)).collect();
        assert_eq!(
            attrs,
            [
                ("http.route", &AttrValue::String("/rides".into())),
                (
                    "url.path",
                    &AttrValue::String(format!("/rides/{id}").into())
                ),
            ]
        );
    }
    // Stored, and every vector given back (before the store's flush is answered).
    assert_eq!(recycled(&p), 5);
    p.shutdown(Duration::from_secs(10)).unwrap();
    store.close();
}

#[test]
fn a_refused_batch_counts_every_span_as_failed_and_none_as_exported() {
    let (gate, b) = gated(Collector::builder().ingest_queue_spans(1));
    let store = b.build_store();
    let p = Pipeline::builder()
        .batch_timeout(Duration::from_secs(60))
        .exporter(store.in_process_exporter())
        .build();
    // The writer holds this one (the gate blocks on a span named "block"), which keeps the
    // one-span queue full...
    assert!(p.submit(span(1, 1, "block")));
    p.flush(Duration::from_secs(10)).unwrap();
    gate.wait_blocked();
    // ...so this batch of three is refused whole.
    for id in 2..=4 {
        assert!(p.submit(span(1, id, "refused")));
    }
    p.flush(Duration::from_secs(10)).unwrap();
    let s = p.stats();
    assert_eq!(
        (s.queued, s.exported, s.failed, s.export_errors, s.dropped),
        (4, 1, 3, 1, 0)
    );
    assert_eq!(
        p.last_error(),
        Some(ExportError::Rejected {
            spans: 3,
            message: "collector ingest queue is full".into()
        })
    );
    gate.release();
    store.flush_blocking();
    let names: Vec<String> = store
        .spans(TraceId::from_u128(1))
        .iter()
        .map(|s| s.name().to_owned())
        .collect();
    assert_eq!(names, ["block"]);
    // The refused spans stayed the worker's, which gave their vectors back; the stored one
    // came back from the store's writer.
    assert_eq!(recycled(&p), 4);
    p.shutdown(Duration::from_secs(10)).unwrap();
    store.close();
}

/// Passes batches on to the in-process exporter, noting each batch's size; states the inner
/// exporter's preferred batch as its own.
struct Sizes<E> {
    inner: E,
    sizes: std::sync::Arc<std::sync::Mutex<Vec<usize>>>,
}

impl<E: SpanExporter> SpanExporter for Sizes<E> {
    fn export(&mut self, batch: &[SpanData], resource: &Resource) -> Result<(), ExportError> {
        self.sizes.lock().unwrap().push(batch.len());
        self.inner.export(batch, resource)
    }

    fn preferred_batch(&self) -> Option<usize> {
        self.inner.preferred_batch()
    }
}

/// The sizes of the batches `builder`'s pipeline hands the in-process exporter of `store` for
/// spans `ids` of trace 3, submitted at once.
fn batch_sizes(
    builder: tracewire::export::PipelineBuilder,
    store: &tracewire_collector::TraceStore,
    ids: std::ops::RangeInclusive<u64>,
) -> Vec<usize> {
    let sizes = std::sync::Arc::default();
    let p = builder
        .batch_timeout(Duration::from_secs(60))
        .exporter(Sizes {
            inner: store.in_process_exporter(),
            sizes: std::sync::Arc::clone(&sizes),
        })
        .build();
    for id in ids {
        assert!(p.submit(span(3, id, "work")));
    }
    p.flush(Duration::from_secs(10)).unwrap();
    p.shutdown(Duration::from_secs(10)).unwrap();
    store.flush_blocking();
    sizes.lock().unwrap().clone()
}

#[test]
fn a_pipeline_into_the_store_exports_in_batches_of_64_unless_told_otherwise() {
    let store = Collector::builder().build_store();
    assert_eq!(
        batch_sizes(Pipeline::builder(), &store, 1..=150),
        [64, 64, 22]
    );
    assert_eq!(store.spans(TraceId::from_u128(3)).len(), 150);
    // A batch size set in code (or by OTEL_BSP_MAX_EXPORT_BATCH_SIZE) wins.
    assert_eq!(
        batch_sizes(Pipeline::builder().max_batch(100), &store, 151..=300),
        [100, 50]
    );
    assert_eq!(store.spans(TraceId::from_u128(3)).len(), 300);
    store.close();
}
