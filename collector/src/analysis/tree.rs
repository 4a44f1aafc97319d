//! The parent/child tree of one trace, repaired for missing parents and cycles.
//!
//! Rules (shared by the critical path and the waterfall):
//! - A span without a parent id is a *root*. A span whose parent id is not in the trace (its
//!   parent was lost or not exported yet) or is its own id is an *orphan*.
//! - With exactly one root, every orphan is re-attached under that root: the root is its nearest
//!   known ancestor. Otherwise (no root, or several) the roots and orphans are all top-level.
//! - Spans unreachable from the top level (their parent chain is a cycle, which only bad data
//!   produces) are cut out of the cycle, earliest first, and treated as orphans by the same rule.
//! - When several spans share an id, the first one is the one children attach to.

use std::collections::HashMap;

use tracewire::SpanId;

use super::AnalysisSpan;

/// Index-based tree over a span slice.
#[derive(Debug)]
pub(crate) struct TraceTree {
    /// Children of each span, sorted by (start, end, index).
    pub(crate) children: Vec<Vec<u32>>,
    /// Top-level spans, sorted by (start, end, index).
    pub(crate) top: Vec<u32>,
    /// Whether a span was re-attached or promoted because its parent was missing.
    pub(crate) orphan: Vec<bool>,
    /// Start of each span.
    pub(crate) start: Vec<u64>,
    /// End of each span, never before its start.
    pub(crate) end: Vec<u64>,
}

impl TraceTree {
    pub(crate) fn build(spans: &[AnalysisSpan]) -> TraceTree {
        let n = spans.len();
        let mut index: HashMap<SpanId, u32> = HashMap::with_capacity(n);
        for (i, s) in spans.iter().enumerate() {
            index.entry(s.span_id).or_insert(i as u32);
        }
        let start: Vec<u64> = spans.iter().map(|s| s.start_ns).collect();
        let end: Vec<u64> = spans.iter().map(|s| s.end_ns.max(s.start_ns)).collect();

        let mut parent: Vec<Option<u32>> = vec![None; n];
        let mut orphan = vec![false; n];
        let mut roots = Vec::new();
        for (i, s) in spans.iter().enumerate() {
            match s.parent_span_id {
                None => roots.push(i as u32),
                Some(p) => match index.get(&p) {
                    Some(&pi) if pi as usize != i && p != s.span_id => parent[i] = Some(pi),
                    _ => orphan[i] = true,
                },
            }
        }
        let single_root = (roots.len() == 1).then(|| roots[0]);
        let mut top = roots;
        for i in 0..n {
            if orphan[i] {
                match single_root {
                    Some(r) => parent[i] = Some(r),
                    None => top.push(i as u32),
                }
            }
        }

        let mut children: Vec<Vec<u32>> = vec![Vec::new(); n];
        for (i, p) in parent.iter().enumerate() {
            if let Some(p) = p {
                children[*p as usize].push(i as u32);
            }
        }

        // Reachability, then cycle repair.
        let mut seen = vec![false; n];
        let mut stack: Vec<u32> = Vec::new();
        let mut mark = |from: u32, seen: &mut Vec<bool>, children: &Vec<Vec<u32>>| {
            stack.push(from);
            seen[from as usize] = true;
            while let Some(x) = stack.pop() {
                for &c in &children[x as usize] {
                    if !seen[c as usize] {
                        seen[c as usize] = true;
                        stack.push(c);
                    }
                }
            }
        };
        for &t in &top {
            mark(t, &mut seen, &children);
        }
        if seen.iter().any(|s| !s) {
            let mut unreached: Vec<u32> = (0..n as u32).filter(|&i| !seen[i as usize]).collect();
            unreached.sort_by_key(|&i| (start[i as usize], i));
            for i in unreached {
                if seen[i as usize] {
                    continue;
                }
                if let Some(p) = parent[i as usize] {
                    children[p as usize].retain(|&c| c != i);
                }
                orphan[i as usize] = true;
                match single_root {
                    Some(r) => {
                        parent[i as usize] = Some(r);
                        children[r as usize].push(i);
                    }
                    None => {
                        parent[i as usize] = None;
                        top.push(i);
                    }
                }
                mark(i, &mut seen, &children);
            }
        }

        let key = |&i: &u32| (start[i as usize], end[i as usize], i);
        for c in &mut children {
            c.sort_unstable_by_key(key);
        }
        top.sort_unstable_by_key(key);
        TraceTree {
            children,
            top,
            orphan,
            start,
            end,
        }
    }

    /// Every span with its depth (top-level spans are 0), depth-first: each span before its
    /// children, siblings in order.
    pub(crate) fn preorder(&self) -> Vec<(u32, u32)> {
        let mut out = Vec::with_capacity(self.start.len());
        // Children pushed in reverse so the earliest is visited first.
        let mut stack: Vec<(u32, u32)> = self.top.iter().rev().map(|&i| (i, 0)).collect();
        while let Some((i, depth)) = stack.pop() {
            out.push((i, depth));
            let kids = self.children[i as usize].iter().rev();
            stack.extend(kids.map(|&c| (c, depth + 1)));
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::TraceTree;
    use crate::analysis::test_support::span;

    #[test]
    fn orphans_attach_under_the_single_root() {
        let spans = [
            span(1, 0, "a", 0, 10),
            span(2, 9, "a", 1, 2),
            span(3, 1, "a", 3, 4),
        ];
        let t = TraceTree::build(&spans);
        assert_eq!(t.top, [0]);
        assert_eq!(t.children[0], [1, 2]);
        assert_eq!(t.orphan, [false, true, false]);
        assert_eq!(t.preorder(), [(0, 0), (1, 1), (2, 1)]);
    }

    #[test]
    fn without_a_single_root_orphans_are_top_level() {
        let spans = [span(2, 9, "a", 5, 6), span(3, 8, "a", 1, 2)];
        let t = TraceTree::build(&spans);
        assert_eq!(t.top, [1, 0]);
        assert_eq!(t.orphan, [true, true]);
    }

    #[test]
    fn cycles_are_cut_at_the_earliest_span() {
        // 2 and 3 are each other's parent; 4 is its own parent.
        let spans = [
            span(1, 0, "a", 0, 10),
            span(2, 3, "a", 2, 3),
            span(3, 2, "a", 1, 4),
            span(4, 4, "a", 5, 6),
        ];
        let t = TraceTree::build(&spans);
        assert_eq!(t.top, [0]);
        assert_eq!(t.children[0], [2, 3]);
        assert_eq!(t.children[2], [1]);
        assert!(t.children[1].is_empty());
        assert_eq!(t.preorder(), [(0, 0), (2, 1), (1, 2), (3, 1)]);
        assert_eq!(t.orphan, [false, false, true, true]);
    }
}
