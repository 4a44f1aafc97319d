//! Trace assembly: the spans of one trace arranged as a tree.
//!
//! Spans arrive in any order and some never arrive. Assembly happens at read time from whatever
//! is stored, so a late span simply appears the next time the trace is read. A span whose parent
//! is not stored is an *orphan*: it is shown at the top level beside the root, flagged, never
//! dropped. Duplicates (the same span id sent twice, e.g. a retried export) keep the first copy;
//! parent cycles, which only malformed input can create, are broken by treating the span where
//! the cycle is entered as an orphan.

use std::collections::HashMap;

use crate::model::{Span, SpanId, TraceId};

/// One span's place in its trace.
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub struct TraceNode {
    /// The span.
    pub span: Span,
    /// Index of the parent node in [`Trace::nodes`], `None` for roots and orphans.
    pub parent: Option<usize>,
    /// Indexes of the child nodes, ordered by start time.
    pub children: Vec<usize>,
    /// Distance from the top level (roots and orphans are at depth 0).
    pub depth: usize,
    /// The span names a parent that is not stored (yet, or ever).
    pub orphan: bool,
}

/// An assembled trace.
///
/// `nodes` is in depth-first order (each parent before its children, siblings by start time,
/// top-level nodes by start time with true roots first), which is the order a waterfall view
/// draws them in.
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub struct Trace {
    /// The trace's id.
    pub trace_id: TraceId,
    /// Every stored span, as a node.
    pub nodes: Vec<TraceNode>,
    /// Indexes of the top-level nodes: roots, then orphans.
    pub top_level: Vec<usize>,
}

impl Trace {
    /// Arranges `spans` (all of `trace_id`, in any order) into a tree.
    pub fn assemble(trace_id: TraceId, spans: Vec<Span>) -> Trace {
        // Keep the first copy of each span id.
        let mut by_id: HashMap<SpanId, usize> = HashMap::with_capacity(spans.len());
        let mut unique: Vec<Span> = Vec::with_capacity(spans.len());
        for s in spans {
            if s.trace_id != trace_id || by_id.contains_key(&s.span_id) {
                continue;
            }
            by_id.insert(s.span_id, unique.len());
            unique.push(s);
        }
        let n = unique.len();
        // Parent links, with cycles broken.
        let mut parent: Vec<Option<usize>> = unique
            .iter()
            .map(|s| {
                s.parent_span_id()
                    .and_then(|p| by_id.get(&p).copied())
                    .filter(|&p| unique[p].span_id != s.span_id)
            })
            .collect();
        let mut state = vec![0u8; n]; // 0 unvisited, 1 on the current path, 2 done
        for start in 0..n {
            let mut path = Vec::new();
            let mut cur = Some(start);
            while let Some(i) = cur {
                match state[i] {
                    0 => {
                        state[i] = 1;
                        path.push(i);
                        cur = parent[i];
                    }
                    1 => {
                        // `i` is where the walk re-entered its own path: cut the cycle there.
                        parent[i] = None;
                        break;
                    }
                    _ => break,
                }
            }
            for i in path {
                state[i] = 2;
            }
        }
        let mut children: Vec<Vec<usize>> = vec![Vec::new(); n];
        let mut top: Vec<usize> = Vec::new();
        for (i, p) in parent.iter().enumerate() {
            match p {
                Some(p) => children[*p].push(i),
                None => top.push(i),
            }
        }
        let key = |i: &usize| (unique[*i].start_unix_nano, unique[*i].span_id);
        for c in &mut children {
            c.sort_by_key(key);
        }
        top.sort_by_key(|i| {
            (
                unique[*i].parent_span_id().is_some(),
                unique[*i].start_unix_nano,
                unique[*i].span_id,
            )
        });
        // Depth-first order.
        let mut order = Vec::with_capacity(n);
        let mut depth = vec![0usize; n];
        let mut stack: Vec<usize> = top.iter().rev().copied().collect();
        while let Some(i) = stack.pop() {
            order.push(i);
            for &c in children[i].iter().rev() {
                depth[c] = depth[i] + 1;
                stack.push(c);
            }
        }
        let mut new_index = vec![0usize; n];
        for (pos, &i) in order.iter().enumerate() {
            new_index[i] = pos;
        }
        let mut slots: Vec<Option<Span>> = unique.into_iter().map(Some).collect();
        let nodes = order
            .iter()
            .map(|&i| {
                // Each index appears in `order` exactly once, so the slot is always full.
                let span = slots[i].take().unwrap_or_else(|| Span::empty(trace_id));
                let orphan = parent[i].is_none() && span.parent_span_id().is_some();
                TraceNode {
                    span,
                    parent: parent[i].map(|p| new_index[p]),
                    children: children[i].iter().map(|&c| new_index[c]).collect(),
                    depth: depth[i],
                    orphan,
                }
            })
            .collect();
        Trace {
            trace_id,
            nodes,
            top_level: top.iter().map(|&i| new_index[i]).collect(),
        }
    }

    /// The true root (a span with no parent), earliest first if several.
    pub fn root(&self) -> Option<&TraceNode> {
        self.top_level
            .iter()
            .map(|&i| &self.nodes[i])
            .find(|n| !n.orphan)
    }

    /// Nodes whose parent is missing.
    pub fn orphans(&self) -> impl Iterator<Item = &TraceNode> {
        self.nodes.iter().filter(|n| n.orphan)
    }

    /// Earliest start, nanoseconds since the Unix epoch (0 for an empty trace).
    pub fn start_unix_nano(&self) -> u64 {
        self.nodes
            .iter()
            .map(|n| n.span.start_unix_nano())
            .min()
            .unwrap_or(0)
    }

    /// Latest end minus earliest start.
    pub fn duration_nanos(&self) -> u64 {
        let end = self
            .nodes
            .iter()
            .map(|n| n.span.end_unix_nano())
            .max()
            .unwrap_or(0);
        end.saturating_sub(self.start_unix_nano())
    }

    /// The node of `span_id`.
    pub fn node(&self, span_id: SpanId) -> Option<&TraceNode> {
        self.nodes.iter().find(|n| n.span.span_id() == span_id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::test_span;

    fn ids(t: &Trace) -> Vec<(u64, usize, bool)> {
        t.nodes
            .iter()
            .map(|n| (n.span.span_id().to_u64(), n.depth, n.orphan))
            .collect()
    }

    #[test]
    fn out_of_order_spans_form_a_tree() {
        let t = TraceId::from_u128(7);
        let spans = vec![
            test_span(t, 3, 2, 30),
            test_span(t, 2, 1, 20),
            test_span(t, 4, 1, 25),
            test_span(t, 1, 0, 10),
        ];
        let tr = Trace::assemble(t, spans);
        assert_eq!(
            ids(&tr),
            vec![(1, 0, false), (2, 1, false), (3, 2, false), (4, 1, false)]
        );
        assert_eq!(tr.root().unwrap().span.span_id().to_u64(), 1);
        assert_eq!(tr.nodes[0].children, vec![1, 3]);
        assert_eq!(tr.nodes[2].parent, Some(1));
        assert_eq!(tr.top_level, vec![0]);
    }

    #[test]
    fn orphans_are_kept_at_top_level_and_flagged() {
        let t = TraceId::from_u128(7);
        let spans = vec![
            test_span(t, 5, 99, 5),
            test_span(t, 6, 5, 6),
            test_span(t, 1, 0, 10),
        ];
        let tr = Trace::assemble(t, spans);
        assert_eq!(ids(&tr), vec![(1, 0, false), (5, 0, true), (6, 1, false)]);
        assert_eq!(tr.orphans().count(), 1);
        assert_eq!(tr.top_level, vec![0, 1]);
    }

    #[test]
    fn duplicates_and_cycles() {
        let t = TraceId::from_u128(7);
        let spans = vec![
            test_span(t, 1, 2, 10),
            test_span(t, 2, 1, 20),
            test_span(t, 2, 1, 21),
            test_span(t, 3, 3, 30),
            test_span(TraceId::from_u128(8), 9, 0, 1),
        ];
        let tr = Trace::assemble(t, spans);
        assert_eq!(tr.nodes.len(), 3);
        assert_eq!(tr.top_level.len(), 2);
        assert!(tr.root().is_none());
        assert!(tr.nodes.iter().all(|n| n.depth <= 1));
    }
}
