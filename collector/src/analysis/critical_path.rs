//! The critical path of a trace: the chain of spans that determined its end-to-end latency.

use std::sync::Arc;

use serde::Serialize;
use tracewire::SpanId;

use super::AnalysisSpan;
use super::tree::TraceTree;

/// The critical path of one trace.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[non_exhaustive]
#[serde(rename_all = "camelCase")]
pub struct CriticalPath {
    /// Start of the analysed window (the root's start), ns since the Unix epoch.
    #[serde(rename = "startTimeUnixNano", serialize_with = "super::ser::unix_nano")]
    pub start_ns: u64,
    /// Length of the analysed window: the trace's end-to-end latency.
    #[serde(rename = "totalNanos")]
    pub total_ns: u64,
    /// Non-overlapping segments in time order; with [`unattributed_ns`](Self::unattributed_ns)
    /// they cover the window exactly.
    pub segments: Vec<PathSegment>,
    /// Each span with time on the path, in order of its first segment.
    pub spans: Vec<PathSpan>,
    /// Time no span accounts for (only when the trace has no single root).
    #[serde(rename = "unattributedNanos")]
    pub unattributed_ns: u64,
}

/// A stretch of time during which one span was on the critical path.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[non_exhaustive]
#[serde(rename_all = "camelCase")]
pub struct PathSegment {
    /// The span.
    #[serde(serialize_with = "super::ser::span_id")]
    pub span_id: SpanId,
    /// Segment start, ns since the Unix epoch.
    #[serde(rename = "startTimeUnixNano", serialize_with = "super::ser::unix_nano")]
    pub start_ns: u64,
    /// Segment end, ns since the Unix epoch.
    #[serde(rename = "endTimeUnixNano", serialize_with = "super::ser::unix_nano")]
    pub end_ns: u64,
}

/// A span on the critical path, with its contribution.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[non_exhaustive]
#[serde(rename_all = "camelCase")]
pub struct PathSpan {
    /// The span.
    #[serde(serialize_with = "super::ser::span_id")]
    pub span_id: SpanId,
    /// Its service.
    #[serde(serialize_with = "super::ser::arc_str")]
    pub service: Arc<str>,
    /// Its name.
    #[serde(serialize_with = "super::ser::arc_str")]
    pub name: Arc<str>,
    /// Time it spends on the critical path (sum of its segments).
    #[serde(rename = "criticalNanos")]
    pub critical_ns: u64,
    /// Its self time: duration minus the union of its children.
    #[serde(rename = "selfNanos")]
    pub self_ns: u64,
    /// `critical_ns / total_ns` (0 when the trace has zero length).
    pub share: f64,
}

/// Computes the critical path of the spans of one trace.
///
/// An empty slice gives an empty path.
///
/// # Algorithm
///
/// The walk goes *backwards* from the end of the root, keeping a cursor: the earliest time
/// explained so far. At each span (with its window `[start, end]`):
///
/// 1. Each child is clamped into the span's window (`[max(child.start, start), min(child.end,
///    end)]`), which absorbs clock skew between hosts. A child that lies entirely outside its
///    parent, or is zero-length, cannot explain the parent's latency and is left out, with its
///    subtree.
/// 2. Children are visited by clamped end, latest first (ties: the earlier start first, then
///    input order). A child that ends *after* the cursor ran in parallel with work already on
///    the path and is skipped. Otherwise it is the child the span was waiting on: the time
///    between its end and the cursor is the parent's own time and goes on the path as a segment
///    of the parent; then the child is walked the same way inside its clamped window; then the
///    cursor moves to the child's start.
/// 3. When no child is left (or the cursor reaches the window's start), the rest of the window,
///    `[start, cursor]`, is the parent's own time.
///
/// So when a span waits on parallel children, the one that finished last is on the path; the
/// others are not, unless one of them ended before the chosen one started. The result is a list
/// of non-overlapping segments that tile the root's window exactly; a span's *critical time*
/// is the sum of its segments and its *share* that time over the root's duration.
///
/// The walk uses an explicit stack, so a 10,000-deep chain of spans does not overflow the
/// thread's stack, and sorts each span's children once: O(n log n) overall.
///
/// # Roots and orphans
///
/// The tree is repaired first (a parent that is not in the trace, parent cycles): with exactly
/// one root, orphans hang under it; with none or several, all top-level spans sit under a
/// synthetic node covering `[earliest start, latest end]` of the top-level spans. The synthetic
/// node's own time (gaps that no span covers) is reported as [`CriticalPath::unattributed_ns`]
/// rather than as a segment.
///
/// # Self time
///
/// Independently of the path, each span's *self time* is its duration minus the union of its
/// children's intervals (clamped into the span): the time it spent on its own.
pub fn critical_path(spans: &[AnalysisSpan]) -> CriticalPath {
    let tree = TraceTree::build(spans);
    let self_ns = self_times(&tree);
    compute(&tree, spans, &self_ns).path
}

/// The path plus per-span critical time, for the waterfall.
#[derive(Debug)]
pub(crate) struct Computed {
    pub(crate) path: CriticalPath,
    /// Critical time per input index.
    pub(crate) critical_ns: Vec<u64>,
}

/// Self time of every span: duration minus the union of its (clamped) children.
pub(crate) fn self_times(tree: &TraceTree) -> Vec<u64> {
    let n = tree.start.len();
    let mut out = vec![0; n];
    for (i, slot) in out.iter_mut().enumerate() {
        let (s, e) = (tree.start[i], tree.end[i]);
        // Children are sorted by start, so one sweep merges their intervals.
        let mut covered = 0u64;
        let mut run: Option<(u64, u64)> = None;
        for &c in &tree.children[i] {
            let cs = tree.start[c as usize].max(s);
            let ce = tree.end[c as usize].min(e);
            if cs >= ce {
                continue;
            }
            match &mut run {
                Some((_, re)) if cs <= *re => *re = (*re).max(ce),
                _ => {
                    if let Some((rs, re)) = run {
                        covered += re - rs;
                    }
                    run = Some((cs, ce));
                }
            }
        }
        if let Some((rs, re)) = run {
            covered += re - rs;
        }
        *slot = (e - s) - covered;
    }
    out
}

struct Frame {
    /// `None` for the synthetic node above several top-level spans.
    node: Option<u32>,
    win_start: u64,
    cursor: u64,
    /// Candidate children `(clamped start, clamped end, index)`, latest end first.
    kids: Vec<(u64, u64, u32)>,
    next: usize,
}

pub(crate) fn compute(tree: &TraceTree, spans: &[AnalysisSpan], self_ns: &[u64]) -> Computed {
    let n = spans.len();
    let mut critical_ns = vec![0u64; n];
    if tree.top.is_empty() {
        return Computed {
            path: CriticalPath {
                start_ns: 0,
                total_ns: 0,
                segments: Vec::new(),
                spans: Vec::new(),
                unattributed_ns: 0,
            },
            critical_ns,
        };
    }

    let (root, win_start, win_end) = if tree.top.len() == 1 {
        let r = tree.top[0];
        (Some(r), tree.start[r as usize], tree.end[r as usize])
    } else {
        let s = tree.top.iter().map(|&i| tree.start[i as usize]).min();
        let e = tree.top.iter().map(|&i| tree.end[i as usize]).max();
        (None, s.unwrap_or(0), e.unwrap_or(0))
    };

    let kids_of = |node: Option<u32>, ws: u64, we: u64| -> Vec<(u64, u64, u32)> {
        let list = match node {
            Some(i) => &tree.children[i as usize],
            None => &tree.top,
        };
        let mut kids: Vec<(u64, u64, u32)> = list
            .iter()
            .filter_map(|&c| {
                let cs = tree.start[c as usize].max(ws);
                let ce = tree.end[c as usize].min(we);
                (cs < ce).then_some((cs, ce, c))
            })
            .collect();
        kids.sort_unstable_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)).then(a.2.cmp(&b.2)));
        kids
    };

    // Segments come out latest first; reversed at the end.
    let mut rev: Vec<(Option<u32>, u64, u64)> = Vec::new();
    let mut stack = vec![Frame {
        node: root,
        win_start,
        cursor: win_end,
        kids: kids_of(root, win_start, win_end),
        next: 0,
    }];
    while let Some(top) = stack.last_mut() {
        let mut descend = None;
        while top.next < top.kids.len() && top.cursor > top.win_start {
            let (cs, ce, c) = top.kids[top.next];
            top.next += 1;
            if ce > top.cursor {
                continue; // ran in parallel with work already on the path
            }
            if top.cursor > ce {
                rev.push((top.node, ce, top.cursor));
            }
            top.cursor = cs;
            descend = Some((c, cs, ce));
            break;
        }
        match descend {
            Some((c, cs, ce)) => stack.push(Frame {
                node: Some(c),
                win_start: cs,
                cursor: ce,
                kids: kids_of(Some(c), cs, ce),
                next: 0,
            }),
            None => {
                if top.cursor > top.win_start {
                    rev.push((top.node, top.win_start, top.cursor));
                }
                stack.pop();
            }
        }
    }

    let total_ns = win_end - win_start;
    let mut segments = Vec::with_capacity(rev.len());
    let mut unattributed_ns = 0;
    let mut order: Vec<u32> = Vec::new();
    for &(node, s, e) in rev.iter().rev() {
        match node {
            None => unattributed_ns += e - s,
            Some(i) => {
                if critical_ns[i as usize] == 0 {
                    order.push(i);
                }
                critical_ns[i as usize] += e - s;
                segments.push(PathSegment {
                    span_id: spans[i as usize].span_id,
                    start_ns: s,
                    end_ns: e,
                });
            }
        }
    }
    let path_spans = order
        .iter()
        .map(|&i| {
            let sp = &spans[i as usize];
            let c = critical_ns[i as usize];
            PathSpan {
                span_id: sp.span_id,
                service: sp.service.clone(),
                name: sp.name.clone(),
                critical_ns: c,
                self_ns: self_ns[i as usize],
                share: if total_ns == 0 {
                    0.0
                } else {
                    c as f64 / total_ns as f64
                },
            }
        })
        .collect();
    Computed {
        path: CriticalPath {
            start_ns: win_start,
            total_ns,
            segments,
            spans: path_spans,
            unattributed_ns,
        },
        critical_ns,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analysis::test_support::{chain, span};

    /// `(span id, start, end)` of each segment.
    fn segs(p: &CriticalPath) -> Vec<(u64, u64, u64)> {
        p.segments
            .iter()
            .map(|s| (s.span_id.to_u64(), s.start_ns, s.end_ns))
            .collect()
    }

    /// `(span id, critical, self)` of each span on the path.
    fn contrib(p: &CriticalPath) -> Vec<(u64, u64, u64)> {
        p.spans
            .iter()
            .map(|s| (s.span_id.to_u64(), s.critical_ns, s.self_ns))
            .collect()
    }

    #[test]
    fn empty_trace_has_empty_path() {
        let p = critical_path(&[]);
        assert_eq!(p.total_ns, 0);
        assert!(p.segments.is_empty() && p.spans.is_empty());
    }

    #[test]
    fn single_span_is_the_whole_path() {
        let p = critical_path(&[span(1, 0, "a", 100, 150)]);
        assert_eq!(segs(&p), [(1, 100, 150)]);
        assert_eq!(contrib(&p), [(1, 50, 50)]);
        assert_eq!(p.spans[0].share, 1.0);
        assert_eq!((p.start_ns, p.total_ns), (100, 50));
    }

    #[test]
    fn sequential_children_all_on_path_with_parent_gaps() {
        // root [0,100]: A [10,30], B [40,90]
        let spans = [
            span(1, 0, "a", 0, 100),
            span(2, 1, "a", 10, 30),
            span(3, 1, "a", 40, 90),
        ];
        let p = critical_path(&spans);
        assert_eq!(
            segs(&p),
            [
                (1, 0, 10),
                (2, 10, 30),
                (1, 30, 40),
                (3, 40, 90),
                (1, 90, 100)
            ]
        );
        assert_eq!(contrib(&p), [(1, 30, 30), (2, 20, 20), (3, 50, 50)]);
        assert_eq!(p.spans[0].share, 0.3);
        assert_eq!(p.spans[2].share, 0.5);
        assert_eq!(p.unattributed_ns, 0);
    }

    #[test]
    fn parallel_children_only_the_last_to_finish_is_on_path() {
        // root [0,100]: A [10,60] and B [10,80] in parallel
        let spans = [
            span(1, 0, "a", 0, 100),
            span(2, 1, "a", 10, 60),
            span(3, 1, "a", 10, 80),
        ];
        let p = critical_path(&spans);
        assert_eq!(segs(&p), [(1, 0, 10), (3, 10, 80), (1, 80, 100)]);
        assert_eq!(contrib(&p), [(1, 30, 30), (3, 70, 70)]);
    }

    #[test]
    fn nested_spans_follow_the_last_finisher_at_each_level() {
        // root [0,100]
        //   A [5,95]
        //     B [10,50]
        //       D [20,45]
        //     C [30,90]   (parallel with B, ends last)
        //       E [40,60]
        //       F [60,85]
        let spans = [
            span(1, 0, "a", 0, 100),
            span(2, 1, "a", 5, 95),
            span(3, 2, "b", 10, 50),
            span(4, 3, "b", 20, 45),
            span(5, 2, "c", 30, 90),
            span(6, 5, "c", 40, 60),
            span(7, 5, "c", 60, 85),
        ];
        let p = critical_path(&spans);
        assert_eq!(
            segs(&p),
            [
                (1, 0, 5),
                (2, 5, 30),
                (5, 30, 40),
                (6, 40, 60),
                (7, 60, 85),
                (5, 85, 90),
                (2, 90, 95),
                (1, 95, 100),
            ]
        );
        assert_eq!(
            contrib(&p),
            [
                (1, 10, 10),
                (2, 30, 10),
                (5, 15, 15),
                (6, 20, 20),
                (7, 25, 25)
            ]
        );
        let sum: u64 = p.spans.iter().map(|s| s.critical_ns).sum();
        assert_eq!(sum, p.total_ns);
    }

    #[test]
    fn overlapping_children_earlier_one_counts_only_before_the_later_starts() {
        // root [0,100]: A [10,50], B [40,90] overlap; B finishes last.
        // A ended after B started, so A is not on the path: the root waited from 10 to 40.
        // C [5,30] ended before B started and after A started, so it is next.
        let spans = [
            span(1, 0, "a", 0, 100),
            span(2, 1, "a", 10, 50),
            span(3, 1, "a", 40, 90),
            span(4, 1, "a", 5, 30),
        ];
        let p = critical_path(&spans);
        assert_eq!(
            segs(&p),
            [
                (1, 0, 5),
                (4, 5, 30),
                (1, 30, 40),
                (3, 40, 90),
                (1, 90, 100)
            ]
        );
        assert!(!p.spans.iter().any(|s| s.span_id.to_u64() == 2));
        // Self time of the root: 100 minus union [5,90] = 15.
        assert_eq!(contrib(&p)[0], (1, 25, 15));
    }

    #[test]
    fn clock_skewed_children_are_clamped_into_the_parent() {
        // root [100,200]; A starts before the root [80,130]; B ends after it [150,230];
        // C lies wholly after the root [210,260] and is ignored.
        let spans = [
            span(1, 0, "a", 100, 200),
            span(2, 1, "b", 80, 130),
            span(3, 1, "c", 150, 230),
            span(4, 1, "d", 210, 260),
            span(5, 3, "c", 190, 225), // grandchild clamped to B's clamped window [150,200]
        ];
        let p = critical_path(&spans);
        assert_eq!(
            segs(&p),
            [(2, 100, 130), (1, 130, 150), (3, 150, 190), (5, 190, 200)]
        );
        assert_eq!(p.total_ns, 100);
        // Self times use each span's own interval: B [150,230] minus E [190,225] = 45.
        assert_eq!(
            contrib(&p),
            [(2, 30, 50), (1, 20, 20), (3, 40, 45), (5, 10, 35)]
        );
    }

    #[test]
    fn orphans_hang_under_the_single_root() {
        // 3's parent 9 never arrived; it still explains the root's latency.
        let spans = [
            span(1, 0, "a", 0, 100),
            span(2, 1, "a", 10, 40),
            span(3, 9, "b", 50, 95),
        ];
        let p = critical_path(&spans);
        assert_eq!(
            segs(&p),
            [
                (1, 0, 10),
                (2, 10, 40),
                (1, 40, 50),
                (3, 50, 95),
                (1, 95, 100)
            ]
        );
    }

    #[test]
    fn several_top_level_spans_leave_gaps_unattributed() {
        // No root arrived: two orphans [10,40] and [60,100], and a child of the second.
        let spans = [
            span(2, 9, "a", 10, 40),
            span(3, 9, "b", 60, 100),
            span(4, 3, "b", 70, 80),
        ];
        let p = critical_path(&spans);
        assert_eq!((p.start_ns, p.total_ns), (10, 90));
        assert_eq!(
            segs(&p),
            [(2, 10, 40), (3, 60, 70), (4, 70, 80), (3, 80, 100)]
        );
        assert_eq!(p.unattributed_ns, 20);
        let shares: Vec<f64> = p.spans.iter().map(|s| s.share).collect();
        assert_eq!(shares, [30.0 / 90.0, 30.0 / 90.0, 10.0 / 90.0]);
    }

    #[test]
    fn equal_ends_prefer_the_longer_child() {
        let spans = [
            span(1, 0, "a", 0, 100),
            span(2, 1, "a", 50, 100),
            span(3, 1, "a", 20, 100),
        ];
        let p = critical_path(&spans);
        assert_eq!(segs(&p), [(1, 0, 20), (3, 20, 100)]);
    }

    #[test]
    fn deep_chain_does_not_overflow() {
        let n = 20_000u64;
        let p = critical_path(&chain(n, 2 * n + 10));
        assert_eq!(p.spans.len(), n as usize);
        assert_eq!(p.segments.len(), 2 * n as usize - 1);
        assert_eq!(p.spans.last().map(|s| s.critical_ns), Some(10));
    }
}
