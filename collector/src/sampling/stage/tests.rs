use std::borrow::Cow;
use std::time::Duration;

use tokio::sync::oneshot;

use super::*;
use crate::ingest::NewValue;
use crate::model::TraceId;
use crate::sampling::attributes;
use crate::sampling::clock::ManualClock;
use crate::sampling::policy::Reason;
use crate::sampling::stats::{KeepOutcome, TraceSampling};
use crate::sampling::test_support::{batch, ids, source, span};

const MS: u64 = 1_000_000;
const S: u64 = 1_000_000_000;

/// Idle gap 2 s, max wait 30 s, window 60 s; no dynamic or adaptive sampler; `floor` keeps.
fn stage_with(b: crate::sampling::SamplingConfigBuilder) -> SamplingStage {
    let config = b
        .buffer_window(Duration::from_secs(60))
        .no_adaptive_latency()
        .no_dynamic()
        .seed(1)
        .build()
        .unwrap();
    SamplingStage::new(config, Arc::new(ManualClock::new()), None, None)
}

fn keep_all() -> SamplingStage {
    stage_with(SamplingConfig::builder().probabilistic(1.0))
}

fn keep_none() -> SamplingStage {
    stage_with(SamplingConfig::builder())
}

fn attr<'a>(s: &'a NewSpan, key: &str) -> Option<&'a NewValue> {
    s.attributes.iter().find(|(k, _)| k == key).map(|(_, v)| v)
}

fn text(s: &'static str) -> NewValue {
    NewValue::Str(Cow::Borrowed(s))
}

fn error_span(trace: u128, id: u64, parent: u64) -> NewSpan {
    let mut s = span(trace, id, parent, 0, 10);
    s.status = StatusCode::Error;
    s
}

#[test]
fn decided_an_idle_gap_after_the_last_span_once_the_root_is_in() {
    let mut st = keep_all();
    let src = source("api");
    // The child first, then the root at 1 s, another child at 2.5 s.
    assert!(
        st.offer(batch(&src, vec![span(1, 2, 1, 0, 5)]), 0)
            .is_empty()
    );
    assert!(
        st.offer(batch(&src, vec![span(1, 1, 0, 0, 10)]), S)
            .is_empty()
    );
    assert!(st.tick(2 * S).is_empty());
    assert!(
        st.offer(batch(&src, vec![span(1, 3, 1, 0, 5)]), 2500 * MS)
            .is_empty()
    );
    // Due at 4.5 s, not at 3 s.
    assert!(st.tick(3 * S).is_empty());
    assert_eq!(st.next_wake(3 * S), Some(Duration::from_millis(1500)));
    assert!(st.tick(4500 * MS - 1).is_empty());
    let kept = st.tick(4500 * MS);
    assert_eq!(ids(&kept), [2, 1, 3]);
    let root = &kept[0].spans[1];
    assert_eq!(attr(root, attributes::POLICY), Some(&text("probabilistic")));
    assert_eq!(attr(root, attributes::RATE), Some(&NewValue::Double(1.0)));
    assert_eq!(attr(root, attributes::TRIGGER), Some(&text("idle_gap")));
    // Only the root is annotated.
    assert!(attr(&kept[0].spans[0], attributes::POLICY).is_none());
    let stats = st.shared().stats();
    assert_eq!(stats.triggered(Trigger::IdleGap), 1);
    assert_eq!(stats.kept_spans, 3);
    assert_eq!(stats.pending_traces, 0);
    // Root arrived at 1 s, decided at 4.5 s.
    assert_eq!(stats.decision_latency.max_ns, 3500 * MS);
}

#[test]
fn without_a_root_a_trace_waits_the_maximum_and_its_earliest_span_is_annotated() {
    let mut st = keep_all();
    let src = source("api");
    st.offer(
        batch(&src, vec![span(1, 2, 9, 50, 60), span(1, 3, 9, 40, 70)]),
        0,
    );
    assert!(st.tick(30 * S - 1).is_empty());
    let kept = st.tick(30 * S);
    assert_eq!(ids(&kept), [2, 3]);
    assert_eq!(
        attr(&kept[0].spans[1], attributes::TRIGGER),
        Some(&text("max_wait"))
    );
    assert!(attr(&kept[0].spans[0], attributes::TRIGGER).is_none());
}

#[test]
fn an_error_decides_at_once_and_late_spans_follow_the_decision() {
    let mut st = keep_none();
    let src = source("api");
    let kept = st.offer(
        batch(&src, vec![span(1, 2, 1, 0, 5), error_span(1, 3, 2)]),
        0,
    );
    assert_eq!(ids(&kept), [2, 3]);
    // No root yet: the earliest span carries the decision.
    assert_eq!(
        attr(&kept[0].spans[0], attributes::POLICY),
        Some(&text("error"))
    );
    assert_eq!(
        attr(&kept[0].spans[0], attributes::TRIGGER),
        Some(&text("at_once"))
    );
    // The root arrives later: passed on at once, annotated too.
    let late = st.offer(batch(&src, vec![span(1, 1, 0, 0, 20)]), 3 * S);
    assert_eq!(ids(&late), [1]);
    assert_eq!(
        attr(&late[0].spans[0], attributes::POLICY),
        Some(&text("error"))
    );
    let s = st.shared().stats();
    assert_eq!((s.late_kept_spans, s.decided(Reason::Error)), (1, 1));
    assert_eq!(s.buffered_traces, 0);
}

#[test]
fn dropped_traces_stay_retroactively_keepable_with_their_late_spans() {
    let mut st = keep_none();
    let src = source("api");
    st.offer(batch(&src, vec![span(7, 1, 0, 0, 10)]), 0);
    assert!(st.tick(2 * S).is_empty());
    assert_eq!(
        st.lookup(TraceId::from_u128(7), 2 * S),
        TraceSampling::Dropped {
            reason: Reason::SampledOut,
            trigger: Trigger::IdleGap,
            buffered_spans: 1
        }
    );
    // A late span of the dropped trace: not passed on, but buffered.
    assert!(
        st.offer(batch(&src, vec![span(7, 2, 1, 0, 5)]), 3 * S)
            .is_empty()
    );
    assert_eq!(st.shared().stats().late_dropped_spans, 1);
    let (kept, reply) = st.handle_keep(TraceId::from_u128(7), 10 * S);
    assert_eq!(reply, KeepOutcome::Kept { spans: 2 });
    assert_eq!(ids(&kept), [1, 2]);
    assert_eq!(
        attr(&kept[0].spans[0], attributes::POLICY),
        Some(&text("retroactive"))
    );
    // Later spans are kept; a second keep says so.
    assert_eq!(
        ids(&st.offer(batch(&src, vec![span(7, 3, 1, 0, 5)]), 11 * S)),
        [3]
    );
    assert_eq!(
        st.handle_keep(TraceId::from_u128(7), 12 * S).1,
        KeepOutcome::AlreadyKept
    );
    assert!(matches!(
        st.lookup(TraceId::from_u128(7), 12 * S),
        TraceSampling::Kept {
            reason: Reason::Retroactive,
            ..
        }
    ));
    assert_eq!(st.shared().stats().retroactive_keeps, 1);
}

#[test]
fn an_undecided_trace_can_be_kept_before_its_decision() {
    let mut st = keep_none();
    let src = source("api");
    st.offer(batch(&src, vec![span(5, 2, 1, 0, 5)]), 0);
    assert!(matches!(
        st.lookup(TraceId::from_u128(5), S),
        TraceSampling::Pending { spans: 1, waiting } if waiting == Duration::from_secs(1)
    ));
    let (kept, reply) = st.handle_keep(TraceId::from_u128(5), S);
    assert_eq!(
        (ids(&kept), reply),
        (vec![2], KeepOutcome::Kept { spans: 1 })
    );
    assert_eq!(st.shared().stats().triggered(Trigger::Retroactive), 1);
    assert_eq!(
        st.handle_keep(TraceId::from_u128(99), S).1,
        KeepOutcome::NotBuffered
    );
}

#[test]
fn window_expiry_evicts_dropped_traces_and_later_spans_follow_the_cache() {
    let mut st = keep_none();
    let src = source("api");
    st.offer(batch(&src, vec![span(3, 1, 0, 0, 10)]), 0);
    st.tick(2 * S);
    assert_eq!(st.shared().stats().buffered_traces, 1);
    st.tick(60 * S);
    let s = st.shared().stats();
    assert_eq!(
        (s.buffered_traces, s.expired_traces, s.expired_spans),
        (0, 1, 1)
    );
    assert_eq!(s.buffer_bytes, st.bytes());
    // Gone from the buffer, still remembered: a late span is dropped and counted.
    assert!(
        st.offer(batch(&src, vec![span(3, 2, 1, 0, 5)]), 61 * S)
            .is_empty()
    );
    assert_eq!(st.shared().stats().late_dropped_spans, 1);
    assert_eq!(st.shared().stats().buffered_traces, 0);
    // Keeping it now takes its future spans.
    assert_eq!(
        st.handle_keep(TraceId::from_u128(3), 62 * S).1,
        KeepOutcome::NotBuffered
    );
    assert_eq!(
        ids(&st.offer(batch(&src, vec![span(3, 4, 1, 0, 5)]), 63 * S)),
        [4]
    );
}

#[test]
fn the_byte_budget_decides_the_oldest_early_and_evicts_with_counts() {
    let src = source("api");
    // Measure one single-span trace, then allow about ten.
    let mut probe = keep_none();
    probe.offer(batch(&src, vec![span(1, 1, 0, 0, 1)]), 0);
    let one = probe.bytes();
    let mut st = stage_with(SamplingConfig::builder().buffer_max_bytes(10 * one));
    for i in 0..100u64 {
        // Root-less: undecided until the maximum wait, so only memory pressure decides them.
        st.offer(batch(&src, vec![span(u128::from(i) + 1, 1, 9, 0, 1)]), i);
        assert!(st.bytes() <= 10 * one, "over budget after trace {i}");
    }
    let s = st.shared().stats();
    assert!(s.evicted_traces >= 50, "{s:?}");
    assert_eq!(s.evicted_spans, s.evicted_traces);
    assert!(s.evicted_bytes > 0);
    // Each was decided before it went; the last one decided may still be buffered.
    let early = s.triggered(Trigger::MemoryPressure);
    assert!(
        (s.evicted_traces..=s.evicted_traces + 1).contains(&early),
        "{s:?}"
    );
    assert_eq!(s.buffered_traces as u64 + s.evicted_traces, 100);
    assert!(s.buffer_bytes <= s.max_buffer_bytes);
    // The oldest went first.
    assert!(st.buffer.get(TraceId::from_u128(1)).is_none());
    assert!(st.buffer.get(TraceId::from_u128(100)).is_some());
}

#[test]
fn a_trace_reaching_the_span_limit_is_decided_at_once() {
    let mut st = stage_with(
        SamplingConfig::builder()
            .probabilistic(1.0)
            .max_spans_per_trace(3),
    );
    let src = source("api");
    let kept = st.offer(
        batch(&src, (1..=4).map(|i| span(1, i, 99, 0, 1)).collect()),
        0,
    );
    assert_eq!(ids(&kept), [1, 2, 3, 4]);
    assert_eq!(st.shared().stats().triggered(Trigger::TraceSize), 1);
    assert_eq!(st.shared().stats().late_kept_spans, 1);
    // A dropped trace holds no more than the limit either, late spans included.
    let mut st = stage_with(SamplingConfig::builder().max_spans_per_trace(3));
    st.offer(
        batch(&src, (1..=10).map(|i| span(2, i, 99, 0, 1)).collect()),
        0,
    );
    let s = st.shared().stats();
    assert_eq!((s.buffered_spans, s.late_dropped_spans), (3, 7));
    assert_eq!(s.decided(Reason::SampledOut), 1);
}

#[test]
fn forced_traces_are_kept_at_once() {
    let mut st = keep_none();
    let src = source("api");
    let mut s = span(4, 2, 1, 0, 5);
    s.attributes
        .push((Cow::Borrowed(attributes::FORCE), NewValue::Bool(true)));
    let kept = st.offer(batch(&src, vec![span(4, 1, 0, 0, 10), s]), 0);
    assert_eq!(ids(&kept), [1, 2]);
    assert_eq!(
        attr(&kept[0].spans[0], attributes::POLICY),
        Some(&text("forced"))
    );
}

#[test]
fn health_and_seen_counts_include_every_span_kept_counts_only_kept_ones() {
    let health = Arc::new(HealthAggregator::default());
    let config = SamplingConfig::builder()
        .no_adaptive_latency()
        .no_dynamic()
        .build()
        .unwrap();
    let mut st = SamplingStage::new(
        config,
        Arc::new(ManualClock::new()),
        Some(health.clone()),
        None,
    );
    let src = source("api");
    let t0 = 1_700_000_000 * S;
    st.offer(batch(&src, vec![span(1, 1, 0, t0, t0 + 10)]), 0);
    let mut err = error_span(2, 1, 0);
    err.start_unix_nano = t0;
    err.end_unix_nano = t0 + 20;
    st.offer(batch(&src, vec![err]), 0);
    st.tick(2 * S);
    let h = health.snapshot(t0 + S, Duration::from_secs(60));
    assert_eq!((h[0].count, h[0].errors), (2, 1));
    let ops = st
        .shared()
        .ops
        .lock()
        .snapshot(t0 + S, Duration::from_secs(60));
    assert_eq!((&*ops[0].service, &*ops[0].operation), ("api", "op"));
    assert_eq!((ops[0].seen, ops[0].kept), (2, 1));
}

#[test]
fn shutdown_decides_what_is_pending() {
    let mut st = keep_all();
    let src = source("api");
    st.offer(
        batch(&src, vec![span(1, 1, 0, 0, 1), span(2, 1, 9, 0, 1)]),
        0,
    );
    let kept = st.shutdown(S);
    assert_eq!(ids(&kept).len(), 2);
    assert_eq!(st.shared().stats().triggered(Trigger::Shutdown), 2);
}

#[test]
fn decision_cache_capacity_is_bounded() {
    let mut st = stage_with(SamplingConfig::builder().decision_cache_traces(2));
    let src = source("api");
    for t in 1..=5u128 {
        st.offer(batch(&src, vec![span(t, 1, 0, 0, 1)]), 0);
    }
    st.tick(2 * S);
    let s = st.shared().stats();
    assert_eq!((s.decision_cache_traces, s.decision_cache_evicted), (2, 3));
}

impl SamplingStage {
    fn handle_keep(&mut self, id: TraceId, now: Nanos) -> (Vec<NewBatch>, KeepOutcome) {
        let (tx, mut rx) = oneshot::channel();
        let (kept, reply) = self.handle(Command::Keep(id, tx), now);
        reply.send();
        (kept, rx.try_recv().unwrap())
    }
}
