//! A trace's statistics table: per service and operation, how many spans, their total, self
//! and critical-path time.

use std::collections::HashMap;

use serde_json::{Value as J, json};

use crate::analysis::Waterfall;

#[derive(Default)]
struct Row {
    count: u64,
    errors: u64,
    total: u64,
    self_ns: u64,
    critical: u64,
}

/// `{"durationNanos", "criticalPathNanos", "operations": [...]}`, the operations by critical
/// time, then total time, then name.
pub(super) fn trace_stats(w: &Waterfall) -> J {
    let mut by: HashMap<(u32, &str), Row> = HashMap::new();
    for r in &w.rows {
        let e = by.entry((r.service, &r.name)).or_default();
        e.count += 1;
        e.errors += u64::from(r.is_error);
        e.total += r.duration_ns;
        e.self_ns += r.self_ns;
        e.critical += r.critical_ns;
    }
    let mut rows: Vec<((u32, &str), Row)> = by.into_iter().collect();
    rows.sort_by(|(ka, a), (kb, b)| {
        (b.critical, b.total)
            .cmp(&(a.critical, a.total))
            .then_with(|| {
                (&*w.services[ka.0 as usize], ka.1).cmp(&(&*w.services[kb.0 as usize], kb.1))
            })
    });
    let operations: Vec<J> = rows
        .iter()
        .map(|((svc, name), r)| {
            json!({
                "service": &*w.services[*svc as usize],
                "operation": name,
                "count": r.count,
                "errorCount": r.errors,
                "totalNanos": r.total,
                "selfNanos": r.self_ns,
                "criticalNanos": r.critical,
            })
        })
        .collect();
    json!({
        "traceId": w.trace_id.to_string(),
        "durationNanos": w.duration_ns,
        "criticalPathNanos": w.critical_path.total_ns,
        "spanCount": w.rows.len(),
        "operations": operations,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analysis::test_support::span;
    use crate::analysis::waterfall;

    #[test]
    fn time_per_operation_adds_up() {
        // Root 0..100 in `a`; two children in `b` with the same name, 10..40 and 50..70.
        let mut c1 = span(2, 1, "b", 10, 40);
        c1.name = "q".into();
        let mut c2 = span(3, 1, "b", 50, 70);
        c2.name = "q".into();
        let w = waterfall(&[span(1, 0, "a", 0, 100), c1, c2]);
        let s = trace_stats(&w);
        assert_eq!(s["durationNanos"], 100);
        assert_eq!(s["spanCount"], 3);
        assert_eq!(
            s["operations"],
            json!([
                {"service": "a", "operation": "op1", "count": 1, "errorCount": 0,
                 "totalNanos": 100, "selfNanos": 50, "criticalNanos": 50},
                {"service": "b", "operation": "q", "count": 2, "errorCount": 0,
                 "totalNanos": 50, "selfNanos": 50, "criticalNanos": 50},
            ])
        );
    }
}
