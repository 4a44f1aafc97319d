//! Spans and batches for the sampling stage's unit tests.

use std::borrow::Cow;
use std::sync::Arc;

use crate::ingest::{NewBatch, NewResource, NewSource, NewSpan};
use crate::model::SpanKind;

/// A span of trace `trace` with id `id` (parent 0 = root), from `start` to `end` ns.
pub(crate) fn span(trace: u128, id: u64, parent: u64, start: u64, end: u64) -> NewSpan {
    let mut s = NewSpan::test(trace, id, parent, "op", start, 0);
    s.end_unix_nano = end;
    s.kind = SpanKind::Internal;
    s
}

/// A source for `service`.
pub(crate) fn source(service: &'static str) -> Arc<NewSource> {
    Arc::new(NewSource {
        resource: Arc::new(NewResource {
            service: Cow::Borrowed(service),
            attributes: Vec::new(),
            dropped_attributes: 0,
        }),
        scope_name: Cow::Borrowed("test"),
        scope_version: Cow::Borrowed(""),
    })
}

/// One batch of `spans` from `source`.
pub(crate) fn batch(source: &Arc<NewSource>, spans: Vec<NewSpan>) -> Vec<NewBatch> {
    vec![NewBatch {
        source: source.clone(),
        spans,
    }]
}

/// The span ids in `batches`, in order.
pub(crate) fn ids(batches: &[NewBatch]) -> Vec<u64> {
    batches
        .iter()
        .flat_map(|b| b.spans.iter().map(|s| s.span_id.to_u64()))
        .collect()
}
