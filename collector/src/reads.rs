//! Bounded reads of the store, for the API and the UI: a trace a page at a time
//! ([`TraceStore::trace_page`]), one span ([`TraceStore::span`]), a trace's analysis view
//! ([`TraceStore::analysis_spans`]) and a sample of the newest traces
//! ([`TraceStore::sample_traces`]).
//!
//! Each holds the store's read lock only to copy out what it needs: a big trace is arranged
//! from its skeleton (ids, parents, times), and only the spans of the page asked for are
//! resolved with their attributes.

use crate::analysis::AnalysisSpan;
use crate::assembly::{Key, arrange};
use crate::collector::TraceStore;
use crate::model::{Span, SpanId, TraceId};

/// Part of an assembled trace: the nodes `offset..offset + nodes.len()` of its waterfall order
/// (each parent before its children, siblings by start time), with what describes the whole
/// trace.
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub struct TracePage {
    /// The trace.
    pub trace_id: TraceId,
    /// Distinct spans stored for the trace: the length of the whole waterfall.
    pub span_count: usize,
    /// Earliest start of any span, nanoseconds since the Unix epoch.
    pub start_unix_nano: u64,
    /// Latest end minus earliest start.
    pub duration_nanos: u64,
    /// The earliest true root, if one is stored.
    pub root_span_id: Option<SpanId>,
    /// Spans whose parent is not stored.
    pub orphan_count: usize,
    /// Position of the first node in the waterfall order.
    pub offset: usize,
    /// The page's nodes.
    pub nodes: Vec<PageNode>,
}

/// One span of a [`TracePage`] with its place in the tree.
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub struct PageNode {
    /// The span.
    pub span: Span,
    /// Distance from the top level.
    pub depth: usize,
    /// The span names a parent that is not stored.
    pub orphan: bool,
    /// Children, in start order.
    pub child_count: usize,
    /// The first [`TracePage::MAX_CHILDREN_LISTED`] children's ids, in start order.
    pub children: Vec<SpanId>,
}

impl TracePage {
    /// The most child ids listed per node; [`PageNode::child_count`] has them all.
    pub const MAX_CHILDREN_LISTED: usize = 1000;

    /// Where the next page starts, if there is one.
    pub fn next_offset(&self) -> Option<usize> {
        let end = self.offset + self.nodes.len();
        (end < self.span_count && !self.nodes.is_empty()).then_some(end)
    }
}

/// The most spans [`TraceStore::sample_traces`] visits by default.
pub(crate) const DEFAULT_SAMPLE_SPANS: usize = 100_000;

impl TraceStore {
    /// Up to `limit` nodes of `trace_id`'s waterfall starting at `offset`; `None` when no span
    /// of the trace is stored. Only the page's spans are resolved, so the cost of a page does
    /// not grow with the attributes of the rest of the trace.
    pub fn trace_page(&self, trace_id: TraceId, offset: usize, limit: usize) -> Option<TracePage> {
        let skeleton = self.shared.store.read().trace_keys(trace_id);
        if skeleton.is_empty() {
            return None;
        }
        let keys: Vec<Key> = skeleton.iter().map(|k| k.key()).collect();
        let a = arrange(&keys);
        let kept = a.order.len();
        let start = a
            .order
            .iter()
            .map(|&i| skeleton[i].start)
            .min()
            .unwrap_or(0);
        let end = a.order.iter().map(|&i| skeleton[i].end).max().unwrap_or(0);
        let root_span_id = a
            .top
            .iter()
            .find(|&&i| !a.orphan(&keys, i))
            .map(|&i| keys[i].span_id);
        let orphan_count = a.order.iter().filter(|&&i| a.orphan(&keys, i)).count();
        let page: &[usize] = a
            .order
            .get(offset.min(kept)..offset.saturating_add(limit).min(kept))
            .unwrap_or(&[]);
        let seqs: Vec<u64> = page.iter().map(|&i| skeleton[i].seq).collect();
        let spans = self.shared.store.read().spans_at(&seqs);
        let nodes = page
            .iter()
            .zip(spans)
            // A span evicted between the two reads is left out.
            .filter_map(|(&i, span)| {
                Some(PageNode {
                    span: span?,
                    depth: a.depth[i],
                    orphan: a.orphan(&keys, i),
                    child_count: a.children[i].len(),
                    children: a.children[i]
                        .iter()
                        .take(TracePage::MAX_CHILDREN_LISTED)
                        .map(|&c| keys[c].span_id)
                        .collect(),
                })
            })
            .collect();
        Some(TracePage {
            trace_id,
            span_count: kept,
            start_unix_nano: start,
            duration_nanos: end.saturating_sub(start),
            root_span_id,
            orphan_count,
            offset,
            nodes,
        })
    }

    /// One span (the first copy stored, if it was sent twice).
    pub fn span(&self, trace_id: TraceId, span_id: SpanId) -> Option<Span> {
        self.shared.store.read().span(trace_id, span_id)
    }

    /// The analysis view of every stored span of `trace_id`, without resolving attributes.
    pub fn analysis_spans(&self, trace_id: TraceId) -> Vec<AnalysisSpan> {
        self.shared.store.read().analysis_spans(trace_id)
    }

    /// Calls `visit` with the analysis view of each of the newest traces whose spans add up to
    /// at most `max_spans` (at least one trace), and returns whether that was every stored
    /// trace. The store's read lock is taken per trace, never for the whole walk.
    pub fn sample_traces(&self, max_spans: usize, visit: &mut dyn FnMut(&[AnalysisSpan])) -> bool {
        let (ids, complete) = self.shared.store.read().newest_traces(max_spans);
        for id in ids {
            if crate::query::expired() {
                return false;
            }
            let spans = self.analysis_spans(id);
            if !spans.is_empty() {
                visit(&spans);
            }
        }
        complete
    }
}
