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

/// One span as arranging sees it.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Key {
    pub(crate) span_id: SpanId,
    /// Invalid for a root.
    pub(crate) parent_span_id: SpanId,
    pub(crate) start: u64,
}

/// A trace's spans arranged: everything is an index into the input slice.
#[derive(Debug, Default)]
pub(crate) struct Arranged {
    /// Kept spans (the first copy of each id) in depth-first order.
    pub(crate) order: Vec<usize>,
    /// Parent of each input span (`None` for roots, orphans and dropped duplicates).
    pub(crate) parent: Vec<Option<usize>>,
    /// Children of each input span, by start time.
    pub(crate) children: Vec<Vec<usize>>,
    pub(crate) depth: Vec<usize>,
    /// Top-level spans: roots by start time, then orphans by start time.
    pub(crate) top: Vec<usize>,
}

impl Arranged {
    /// Whether input span `i` names a parent that is not stored.
    pub(crate) fn orphan(&self, keys: &[Key], i: usize) -> bool {
        self.parent[i].is_none() && keys[i].parent_span_id.is_valid()
    }
}

/// Arranges one trace's spans (see the module docs): keeps the first copy of each span id,
/// breaks parent cycles, orders depth-first.
pub(crate) fn arrange(keys: &[Key]) -> Arranged {
    let n = keys.len();
    // Keep the first copy of each span id.
    let mut by_id: HashMap<SpanId, usize> = HashMap::with_capacity(n);
    let mut kept = vec![false; n];
    for (i, k) in keys.iter().enumerate() {
        if let std::collections::hash_map::Entry::Vacant(e) = by_id.entry(k.span_id) {
            e.insert(i);
            kept[i] = true;
        }
    }
    // Parent links, with cycles broken.
    let mut parent: Vec<Option<usize>> = keys
        .iter()
        .enumerate()
        .map(|(i, k)| {
            if !kept[i] || !k.parent_span_id.is_valid() {
                return None;
            }
            by_id.get(&k.parent_span_id).copied().filter(|&p| p != i)
        })
        .collect();
    let mut state = vec![0u8; n]; // 0 unvisited, 1 on the current path, 2 done
    for start in (0..n).filter(|&i| kept[i]) {
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
    for i in (0..n).filter(|&i| kept[i]) {
        match parent[i] {
            Some(p) => children[p].push(i),
            None => top.push(i),
        }
    }
    let key = |i: &usize| (keys[*i].start, keys[*i].span_id);
    for c in &mut children {
        c.sort_by_key(key);
    }
    top.sort_by_key(|i| {
        (
            keys[*i].parent_span_id.is_valid(),
            keys[*i].start,
            keys[*i].span_id,
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
    Arranged {
        order,
        parent,
        children,
        depth,
        top,
    }
}

impl Trace {
    /// Arranges `spans` (all of `trace_id`, in any order) into a tree.
    pub fn assemble(trace_id: TraceId, spans: Vec<Span>) -> Trace {
        let spans: Vec<Span> = spans
            .into_iter()
            .filter(|s| s.trace_id == trace_id)
            .collect();
        let keys: Vec<Key> = spans
            .iter()
            .map(|s| Key {
                span_id: s.span_id,
                parent_span_id: s.parent_span_id,
                start: s.start_unix_nano,
            })
            .collect();
        let a = arrange(&keys);
        let mut new_index = vec![0usize; spans.len()];
        for (pos, &i) in a.order.iter().enumerate() {
            new_index[i] = pos;
        }
        let mut slots: Vec<Option<Span>> = spans.into_iter().map(Some).collect();
        let nodes = a
            .order
            .iter()
            .map(|&i| {
                // Each index appears in `order` exactly once, so the slot is always full.
                let span = slots[i].take().unwrap_or_else(|| Span::empty(trace_id));
                TraceNode {
                    span,
                    parent: a.parent[i].map(|p| new_index[p]),
                    children: a.children[i].iter().map(|&c| new_index[c]).collect(),
                    depth: a.depth[i],
                    orphan: a.orphan(&keys, i),
                }
            })
            .collect();
        Trace {
            trace_id,
            nodes,
            top_level: a.top.iter().map(|&i| new_index[i]).collect(),
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
