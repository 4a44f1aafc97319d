use super::*;
use crate::analysis::test_support::span_in;
use tracewire::{SpanId, TraceId};

const SEC: u64 = 1_000_000_000;
const MIN: u64 = 60 * SEC;
/// A round time far from the epoch.
const T0: u64 = 1_000_000 * MIN;

fn ids(list: &[Exemplar]) -> Vec<u128> {
    list.iter().map(|e| e.trace_id.to_u128()).collect()
}

/// Span of operation `op1` in service `api` in trace `trace`, ending at `end`, lasting `dur`.
fn op(trace: u128, end: u64, dur: u64, err: bool) -> AnalysisSpan {
    span_in(trace, 1, 0, "api", end - dur, end).with_error(err)
}

#[test]
fn counts_rates_percentiles_and_exemplars_over_a_window() {
    let h = HealthAggregator::new(HealthConfig::default().with_exemplars(3));
    // Minute 0: traces 1..=10 lasting 1..=10 µs (exact-ish), trace 4 and 7 fail.
    for t in 1..=10u64 {
        h.record(&op(t.into(), T0 + t * SEC, t * 1000, t == 4 || t == 7));
    }
    // Minute 1: trace 11 lasts 50 ns and fails.
    h.record(&op(11, T0 + MIN + 5 * SEC, 50, true));
    let now = T0 + MIN + 30 * SEC;

    let two = h.snapshot(now, Duration::from_secs(120));
    assert_eq!(two.len(), 1);
    let o = &two[0];
    assert_eq!((&*o.service, &*o.operation), ("api", "op1"));
    assert_eq!((o.count, o.errors), (11, 3));
    assert_eq!(o.error_rate, 3.0 / 11.0);
    // From the earliest start (1 s - 1 µs into minute 0) to now (30 s into minute 1).
    assert_eq!(o.rate_per_sec, 11.0 * 1e9 / (89 * SEC + 1000) as f64);
    // 11 values: 50, 1000..10000. p50 = 6th = 5000 (bucket [4992, 5119]).
    assert_eq!(o.latency.p50_ns, 5119);
    assert_eq!(o.latency.max_ns, 10_000);
    assert_eq!(o.latency.p99_ns, 10_000);
    assert_eq!(ids(&o.slowest), [10, 9, 8]);
    assert_eq!(ids(&o.recent_errors), [11, 7, 4]);

    let one = h.snapshot(now, Duration::from_secs(60));
    assert_eq!((one[0].count, one[0].errors), (1, 1));
    assert_eq!(one[0].latency.p50_ns, 50);
    // Only minute 1 counts: from trace 11's start (5 s - 50 ns in) to now.
    assert_eq!(one[0].rate_per_sec, 1e9 / (25 * SEC + 50) as f64);
    assert_eq!(ids(&one[0].slowest), [11]);
}

#[test]
fn exemplars_keep_one_span_per_trace() {
    let h = HealthAggregator::new(HealthConfig::default().with_exemplars(2));
    h.record(&op(1, T0 + 1, 100, true));
    h.record(&op(1, T0 + 2, 300, true));
    h.record(&op(2, T0 + 3, 200, false));
    let o = &h.snapshot(T0 + 10, Duration::from_secs(60))[0];
    assert_eq!(ids(&o.slowest), [1, 2]);
    assert_eq!(o.slowest[0].duration_ns, 300);
    assert_eq!(ids(&o.recent_errors), [1]);
    assert_eq!(o.recent_errors[0].end_ns, T0 + 2);
}

#[test]
fn ring_wraps_and_drops_spans_older_than_it() {
    let h = HealthAggregator::new(HealthConfig::default().with_buckets(3));
    h.record(&op(1, T0 + 10, 10, false)); // minute 0
    h.record(&op(2, T0 + 3 * MIN + 10, 20, false)); // minute 3 reuses minute 0's slot
    h.record(&op(3, T0 + 20, 30, false)); // minute 0 again: too old now
    let c = h.counters();
    assert_eq!((c.recorded, c.too_old, c.over_limit), (2, 1, 0));
    let o = &h.snapshot(T0 + 3 * MIN + 20, Duration::from_secs(600))[0];
    assert_eq!(o.count, 1);
    assert_eq!(ids(&o.slowest), [2]);
}

#[test]
fn windows_exclude_buckets_outside_them() {
    let h = HealthAggregator::default();
    h.record(&op(1, T0 + 10, 10, false));
    h.record(&op(2, T0 + 5 * MIN, 10, false));
    // Five minutes later, a one-minute window sees only the second span.
    let o = h.snapshot(T0 + 5 * MIN + 1, Duration::from_secs(60));
    assert_eq!(o[0].count, 1);
    // A span in the future of `now` is not in the window either.
    let early = h.snapshot(T0 + 20, Duration::from_secs(1));
    assert_eq!(early.len(), 1);
    assert_eq!(ids(&early[0].slowest), [1]);
    assert_eq!(h.snapshot(T0 + 4 * MIN, Duration::from_secs(60)).len(), 0);
}

fn pairs(h: &HealthAggregator, now: u64) -> Vec<(String, String)> {
    h.snapshot(now, Duration::from_secs(60))
        .iter()
        .map(|o| (o.service.to_string(), o.operation.to_string()))
        .collect()
}

fn named(svc: &str, op: &str, trace: u128, end: u64, err: bool) -> AnalysisSpan {
    AnalysisSpan::new(
        TraceId::from_u128(trace),
        SpanId::from_u64(1),
        svc,
        op,
        end - 5,
        end,
    )
    .with_error(err)
}

#[test]
fn past_the_operation_limit_the_least_recently_seen_is_evicted() {
    let h = HealthAggregator::new(HealthConfig::default().with_max_operations(2));
    for (i, svc) in ["a", "b", "a", "c"].iter().enumerate() {
        h.record(&named(svc, "op", i as u128 + 1, T0 + 10, false));
    }
    // a/op was seen after b/op, so c/op pushed out b/op.
    let c = h.counters();
    assert_eq!((c.recorded, c.evicted_operations, c.over_limit), (4, 1, 0));
    assert_eq!(c.operations, 2);
    assert_eq!(
        pairs(&h, T0 + 10),
        [("a".into(), "op".into()), ("c".into(), "op".into())]
    );
    assert_eq!(
        h.inner.lock().table.lru_order(),
        [("a".into(), "op".into()), ("c".into(), "op".into())]
    );
}

#[test]
fn junk_operations_no_longer_hide_a_failing_endpoint() {
    let h = HealthAggregator::new(HealthConfig::default().with_max_operations(1000));
    // 1,000 one-off junk operations fill the table first.
    for i in 0..1000u128 {
        h.record(&named("junk", &format!("GET /x{i}"), i + 1, T0 + 10, false));
    }
    // Then the real endpoint fails, while more junk keeps arriving around it.
    for i in 0..3000u128 {
        if i % 10 == 0 {
            h.record(&named("payments", "POST /pay", 5000 + i, T0 + 20, true));
        }
        h.record(&named(
            "junk",
            &format!("GET /y{i}"),
            10_000 + i,
            T0 + 20,
            false,
        ));
    }
    let ops = h.snapshot(T0 + 30, Duration::from_secs(60));
    let pay = ops
        .iter()
        .find(|o| &*o.service == "payments")
        .expect("the failing endpoint is tracked");
    assert_eq!((pay.count, pay.errors), (300, 300));
    assert_eq!(pay.recent_errors.len(), 5);
    let c = h.counters();
    assert_eq!(c.operations, 1000);
    assert_eq!(c.evicted_operations, 3001);
    assert_eq!(c.over_limit, 0);
}

#[test]
fn the_table_stays_within_its_byte_budget() {
    let budget = 64 << 10;
    let h = HealthAggregator::new(HealthConfig::default().with_max_bytes(budget));
    // Wide latency spread grows each histogram.
    for i in 0..2000u64 {
        let op = format!("op{}", i % 50);
        let s = AnalysisSpan::new(
            TraceId::from_u128(u128::from(i) + 1),
            SpanId::from_u64(1),
            "svc",
            &op,
            T0,
            T0 + (1u64 << (i % 40)) + i,
        );
        h.record(&s);
        let c = h.counters();
        assert!(c.bytes <= budget, "{} > {budget}", c.bytes);
    }
    let c = h.counters();
    assert!(c.evicted_operations > 0);
    assert!(c.operations < 50);
    // Everything evicted: nothing is left accounted.
    let mut inner = h.inner.lock();
    while inner.table.evict_idlest() {}
    assert_eq!((inner.table.len, inner.table.bytes), (0, 0));
}

#[test]
fn a_table_that_cannot_hold_one_operation_counts_spans_as_over_limit() {
    let h = HealthAggregator::new(HealthConfig::default().with_max_operations(0));
    h.record(&named("a", "op", 1, T0 + 10, false));
    let c = h.counters();
    assert_eq!((c.recorded, c.over_limit, c.operations), (0, 1, 0));
}

#[test]
fn names_past_the_cap_are_cut_at_a_character_boundary_and_share_an_entry() {
    let h = HealthAggregator::new(HealthConfig::default().with_max_name_bytes(8));
    let span = |trace: u128, service: &str, operation: &str| {
        AnalysisSpan::new(
            TraceId::from_u128(trace),
            SpanId::from_u64(1),
            service,
            operation,
            T0,
            T0 + 10,
        )
    };
    // 4 MiB names: the table holds 8 bytes of each, whatever follows.
    let huge = "s".repeat(4 << 20);
    h.record(&span(1, &huge, &format!("{huge}a")));
    h.record(&span(2, &huge, &format!("{huge}b")));
    // "é" is two bytes: seven ASCII bytes and half of it do not fit in eight.
    h.record(&span(3, "abcdefgé", "GET /"));
    let ops = h.snapshot(T0 + 20, Duration::from_secs(60));
    let names: Vec<(&str, &str, u64)> = ops
        .iter()
        .map(|o| (&*o.service, &*o.operation, o.count))
        .collect();
    assert_eq!(
        names,
        [("abcdefg", "GET /", 1), ("ssssssss", "ssssssss", 2)]
    );
    let c = h.counters();
    assert_eq!(c.operations, 2);
    assert!(c.bytes < 64 << 10, "{c:?}");
    assert_eq!(
        HealthConfig::default().max_name_bytes,
        DEFAULT_MAX_NAME_BYTES
    );
}
