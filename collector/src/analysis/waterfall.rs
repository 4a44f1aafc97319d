//! Waterfall rows: the trace flattened for a timeline view, computed server-side so the page

use std::collections::HashMap;
use std::sync::Arc;

use serde::Serialize;
use tracewire::{SpanId, SpanKind, TraceId};

use super::AnalysisSpan;
use super::critical_path::{self, CriticalPath};
use super::skew;
use super::tree::TraceTree;

/// One trace, ready to draw.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[non_exhaustive]
#[serde(rename_all = "camelCase")]
pub struct Waterfall {
    /// The trace (of the first span; invalid for an empty trace).
    #[serde(serialize_with = "super::ser::trace_id")]
    pub trace_id: TraceId,
    /// Earliest start of any span, ns since the Unix epoch.
    #[serde(rename = "startTimeUnixNano", serialize_with = "super::ser::unix_nano")]
    pub start_ns: u64,
    /// From the earliest start to the latest end of any span.
    #[serde(rename = "durationNanos")]
    pub duration_ns: u64,
    /// Service names, in order of first appearance in the rows; rows refer to them by index.
    #[serde(serialize_with = "super::ser::arc_strs")]
    pub services: Vec<Arc<str>>,
    /// Spans with an error status.
    pub error_count: u64,
    /// The rows, depth-first.
    pub rows: Vec<WaterfallRow>,
    /// The critical path.
    pub critical_path: CriticalPath,
    /// Spans shifted into their parents for clock skew ([`WaterfallRow::skew_ns`]).
    pub skew_adjusted_count: u32,
}

/// One span in the waterfall.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[non_exhaustive]
#[serde(rename_all = "camelCase")]
pub struct WaterfallRow {
    /// Position of the span in the analysed slice.
    pub index: u32,
    /// The span.
    #[serde(serialize_with = "super::ser::span_id")]
    pub span_id: SpanId,
    /// The parent id the span declared (which may be missing from the trace).
    #[serde(serialize_with = "super::ser::opt_span_id")]
    pub parent_span_id: Option<SpanId>,
    /// Nesting depth; top-level spans are 0.
    pub depth: u32,
    /// Start, relative to [`Waterfall::start_ns`].
    #[serde(rename = "offsetNanos")]
    pub offset_ns: u64,
    /// Duration.
    #[serde(rename = "durationNanos")]
    pub duration_ns: u64,
    /// Self time: duration minus the union of its children.
    #[serde(rename = "selfNanos")]
    pub self_ns: u64,
    /// Time on the critical path (0 if not on it).
    #[serde(rename = "criticalNanos")]
    pub critical_ns: u64,
    /// Index into [`Waterfall::services`].
    pub service: u32,
    /// Span name.
    #[serde(serialize_with = "super::ser::arc_str")]
    pub name: Arc<str>,
    /// Span kind.
    #[serde(serialize_with = "super::ser::kind")]
    pub kind: SpanKind,
    /// Error status.
    pub is_error: bool,
    /// Direct children.
    pub child_count: u32,
    /// All descendants: the rows right after this one that form its subtree.
    pub descendant_count: u32,
    /// Whether the span's parent is missing from the trace.
    pub orphan: bool,
    /// How far the span (and its descendants of the same service) was shifted to fit in its
    /// parent, recorded by another service on another clock: positive is later. Offsets,
    /// durations and the critical path are of the shifted times.
    #[serde(rename = "skewNanos")]
    pub skew_ns: i64,
}

/// Flattens one trace into waterfall rows with its critical path.
///
/// only has to draw.
///
/// Rows are the span tree in depth-first pre-order, siblings by start time. Each row carries
/// its depth, its offset from the trace's start, durations, its critical-path time and the size
/// of its subtree, so a viewer can collapse a subtree by skipping the next
/// [`WaterfallRow::descendant_count`] rows, and can render any slice of rows without looking
/// at the others. The tree is repaired as the [critical path](super::critical_path()) describes
/// (orphans under the single root, or at the top level), after the clock-skew adjustment: a
/// span recorded by another service than its parent that starts before it, or ends after it
/// while no longer, is shifted into it, with its same-service descendants
/// ([`WaterfallRow::skew_ns`]).
pub fn waterfall(spans: &[AnalysisSpan]) -> Waterfall {
    let (shift, moved) = skew::adjust(spans);
    let spans = moved.as_deref().unwrap_or(spans);
    let tree = TraceTree::build(spans);
    let self_ns = critical_path::self_times(&tree);
    let computed = critical_path::compute(&tree, spans, &self_ns);
    let start_ns = tree.start.iter().copied().min().unwrap_or(0);
    let end_ns = tree.end.iter().copied().max().unwrap_or(0);

    let mut services: Vec<Arc<str>> = Vec::new();
    let mut service_index: HashMap<Arc<str>, u32> = HashMap::new();
    let mut rows: Vec<WaterfallRow> = Vec::with_capacity(spans.len());
    let mut row_of: Vec<u32> = vec![0; spans.len()];
    for (i, depth) in tree.preorder() {
        let s = &spans[i as usize];
        let iu = i as usize;
        let svc = *service_index.entry(s.service.clone()).or_insert_with(|| {
            services.push(s.service.clone());
            services.len() as u32 - 1
        });
        row_of[i as usize] = rows.len() as u32;
        let kids = &tree.children[iu];
        rows.push(WaterfallRow {
            index: i,
            span_id: s.span_id,
            parent_span_id: s.parent_span_id,
            depth,
            offset_ns: tree.start[iu] - start_ns,
            duration_ns: tree.end[iu] - tree.start[iu],
            self_ns: self_ns[iu],
            critical_ns: computed.critical_ns[iu],
            service: svc,
            name: s.name.clone(),
            kind: s.kind,
            is_error: s.is_error,
            child_count: kids.len() as u32,
            descendant_count: 0,
            orphan: tree.orphan[iu],
            skew_ns: shift[iu],
        });
    }
    // Pre-order reversed visits children before parents: sum subtree sizes bottom-up.
    for r in (0..rows.len()).rev() {
        let node = rows[r].index as usize;
        let total: u32 = tree.children[node]
            .iter()
            .map(|&c| rows[row_of[c as usize] as usize].descendant_count + 1)
            .sum();
        rows[r].descendant_count = total;
    }

    Waterfall {
        trace_id: spans
            .first()
            .map(|s| s.trace_id)
            .unwrap_or(TraceId::INVALID),
        start_ns,
        duration_ns: end_ns - start_ns,
        services,
        error_count: spans.iter().filter(|s| s.is_error).count() as u64,
        rows,
        critical_path: computed.path,
        skew_adjusted_count: shift.iter().filter(|&&d| d != 0).count() as u32,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analysis::test_support::{chain, span};

    /// `(span id, depth, offset, duration)` of each row.
    fn layout(w: &Waterfall) -> Vec<(u64, u32, u64, u64)> {
        w.rows
            .iter()
            .map(|r| (r.span_id.to_u64(), r.depth, r.offset_ns, r.duration_ns))
            .collect()
    }

    #[test]
    fn rows_are_depth_first_with_offsets_and_path_marks() {
        // root [100,200] (svc a)
        //   B [150,190] (svc b)      — on the path
        //     D [160,170] (svc b)    — on the path
        //   A [110,140] (svc c, error) — on the path (ends before B starts)
        //   C [120,130] (svc a)      — parallel with A, not on the path
        let spans = [
            span(1, 0, "a", 100, 200),
            span(2, 1, "b", 150, 190),
            span(3, 1, "c", 110, 140).with_error(true),
            span(4, 2, "b", 160, 170),
            span(5, 1, "a", 120, 130),
        ];
        let w = waterfall(&spans);
        assert_eq!(
            layout(&w),
            [
                (1, 0, 0, 100),
                (3, 1, 10, 30),
                (5, 1, 20, 10),
                (2, 1, 50, 40),
                (4, 2, 60, 10),
            ]
        );
        let marks: Vec<(u64, u32, u32, u32)> = w
            .rows
            .iter()
            .map(|r| (r.critical_ns, r.service, r.child_count, r.descendant_count))
            .collect();
        assert_eq!(
            marks,
            [
                (30, 0, 3, 4),
                (30, 1, 0, 0),
                (0, 0, 0, 0),
                (30, 2, 1, 1),
                (10, 2, 0, 0),
            ]
        );
        let svcs: Vec<&str> = w.services.iter().map(|s| &**s).collect();
        assert_eq!(svcs, ["a", "c", "b"]);
        assert_eq!((w.start_ns, w.duration_ns, w.error_count), (100, 100, 1));
        assert_eq!(w.rows[0].self_ns, 30);
        assert_eq!(w.rows[3].self_ns, 30);
        assert!(w.rows[1].is_error);
        assert_eq!(w.critical_path.total_ns, 100);
    }

    #[test]
    fn a_span_on_another_clock_moves_into_its_parent_and_orphans_keep_their_times() {
        let spans = [
            span(1, 0, "a", 100, 200),
            span(2, 1, "b", 80, 130),
            span(3, 7, "c", 150, 230),
        ];
        let w = waterfall(&spans);
        assert_eq!(layout(&w), [(1, 0, 0, 100), (2, 1, 0, 50), (3, 1, 50, 80)]);
        let orphans: Vec<bool> = w.rows.iter().map(|r| r.orphan).collect();
        assert_eq!(orphans, [false, false, true]);
        // Span 2 started 20 ns before its parent on another service's clock.
        let skew: Vec<i64> = w.rows.iter().map(|r| r.skew_ns).collect();
        assert_eq!((skew, w.skew_adjusted_count), (vec![0, 20, 0], 1));
        assert_eq!((w.start_ns, w.duration_ns), (100, 130));
        assert_eq!(w.rows[2].parent_span_id, Some(SpanId::from_u64(7)));
    }

    #[test]
    fn empty_trace_has_no_rows() {
        let w = waterfall(&[]);
        assert!(w.rows.is_empty());
        assert_eq!(w.trace_id, TraceId::INVALID);
    }

    #[test]
    fn deep_traces_count_descendants() {
        let w = waterfall(&chain(1000, 3000));
        assert_eq!(w.rows[0].descendant_count, 999);
        assert_eq!(w.rows[999].depth, 999);
        assert_eq!(w.rows[500].descendant_count, 499);
    }
}
