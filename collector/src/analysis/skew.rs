//! Clock-skew adjustment: a span recorded by another service than its parent's (another host,
//! another clock) that starts before its parent, or ends after it while being no longer, is
//! shifted into its parent. Spans of the same service as a shifted span move with it (same
//! clock). Only real parent links count (never a parent the tree repaired for an orphan).

use super::AnalysisSpan;
use super::tree::TraceTree;

/// The shift of each span (ns, later is positive), and the spans shifted by it when any shift
/// is not zero.
pub(crate) fn adjust(spans: &[AnalysisSpan]) -> (Vec<i64>, Option<Vec<AnalysisSpan>>) {
    let tree = TraceTree::build(spans);
    let mut shift = vec![0i64; spans.len()];
    // Parents come first, so a parent's shift is known before its children's.
    for (p, _) in tree.preorder() {
        let pu = p as usize;
        let (ps, pe) = (
            tree.start[pu] as i128 + i128::from(shift[pu]),
            tree.end[pu] as i128 + i128::from(shift[pu]),
        );
        for &c in &tree.children[pu] {
            let cu = c as usize;
            let real_parent = spans[cu].parent_span_id == Some(spans[pu].span_id);
            shift[cu] = if !real_parent {
                0
            } else if spans[cu].service == spans[pu].service {
                shift[pu]
            } else {
                let (cs, ce) = (tree.start[cu] as i128, tree.end[cu] as i128);
                let delta = if cs < ps {
                    ps - cs
                } else if ce > pe && ce - cs <= pe - ps {
                    pe - ce
                } else {
                    0
                };
                i64::try_from(delta).unwrap_or(0)
            };
        }
    }
    if shift.iter().all(|&s| s == 0) {
        return (shift, None);
    }
    let moved = spans
        .iter()
        .zip(&shift)
        .map(|(s, &d)| {
            let mut s = s.clone();
            let end = s.end_ns.max(s.start_ns);
            s.start_ns = s.start_ns.saturating_add_signed(d);
            s.end_ns = end.saturating_add_signed(d);
            s
        })
        .collect();
    (shift, Some(moved))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analysis::test_support::span;

    #[test]
    fn a_child_on_another_clock_moves_into_its_parent_with_its_own_children() {
        // a: root 100..200, client 110..190; b (5 ms behind): server 100..180 with a child
        // 120..130 of its own service; c: a child that ends past its parent although shorter.
        let spans = [
            span(1, 0, "a", 100, 200),
            span(2, 1, "a", 110, 190),
            span(3, 2, "b", 100, 180),
            span(4, 3, "b", 120, 130),
            span(5, 2, "c", 170, 195),
            span(6, 2, "a", 105, 120),
        ];
        let (shift, moved) = adjust(&spans);
        assert_eq!(shift, [0, 0, 10, 10, -5, 0]);
        let moved = moved.unwrap();
        let at: Vec<(u64, u64)> = moved.iter().map(|s| (s.start_ns, s.end_ns)).collect();
        assert_eq!(
            at,
            [
                (100, 200),
                (110, 190),
                (110, 190),
                (130, 140),
                (165, 190),
                (105, 120)
            ],
            "span 6 is early but on its parent's own clock: left alone"
        );
    }

    #[test]
    fn nothing_moves_when_children_fit_or_are_longer_than_their_parent() {
        let spans = [
            span(1, 0, "a", 100, 200),
            span(2, 1, "b", 120, 180),
            span(3, 1, "c", 150, 400),
        ];
        let (shift, moved) = adjust(&spans);
        assert_eq!(shift, [0, 0, 0]);
        assert!(moved.is_none());
    }
}
