use std::borrow::Cow;
use std::sync::Arc;
use std::time::Duration;

use super::*;
use crate::ingest::{NewBatch, NewResource, NewSource, NewSpan, NewValue};
use crate::model::{IngestObserver, IngestedSpan, SpanKind, StatusCode, TraceId};
use crate::query::{TraceQuery, TraceSummary};

fn source(service: &'static str) -> Arc<NewSource> {
    Arc::new(NewSource {
        resource: Arc::new(NewResource {
            service: Cow::Borrowed(service),
            attributes: vec![(
                Cow::Borrowed("service.name"),
                NewValue::Str(Cow::Borrowed(service)),
            )],
            dropped_attributes: 0,
        }),
        scope_name: Cow::Borrowed("test"),
        scope_version: Cow::Borrowed("1"),
    })
}

fn span(trace: u128, id: u64, parent: u64, name: &'static str, start: u64, dur: u64) -> NewSpan {
    let mut s = NewSpan::test(trace, id, parent, name, start, dur);
    s.attributes = vec![
        (
            Cow::Borrowed("http.route"),
            NewValue::Str(Cow::Borrowed("/rides")),
        ),
        (
            Cow::Borrowed("http.response.status_code"),
            NewValue::Int(200),
        ),
        (
            Cow::Owned("unique".into()),
            NewValue::Str(Cow::Owned(format!("v{id}"))),
        ),
    ];
    s
}

fn batch(service: &'static str, spans: Vec<NewSpan>) -> Vec<NewBatch> {
    vec![NewBatch {
        source: source(service),
        spans,
    }]
}

fn limits(max_spans: usize, max_bytes: usize) -> Limits {
    Limits {
        max_spans,
        max_bytes,
        retention: Duration::ZERO,
        max_values_per_key: 8,
        ..Limits::default()
    }
}

fn trace_ids(found: &[TraceSummary]) -> Vec<u128> {
    found.iter().map(|t| t.trace_id.to_u128()).collect()
}

#[test]
fn search_filters() {
    let mut s = Store::new(limits(1000, usize::MAX));
    let mut err = span(2, 21, 0, "POST /pay", 2_000, 500);
    err.status = StatusCode::Error;
    err.status_message = Some("card declined".into());
    s.insert(
        batch("gateway", vec![span(1, 11, 0, "GET /rides", 1_000, 100)]),
        &[],
    );
    s.insert(
        batch(
            "payments",
            vec![err, span(3, 31, 0, "POST /pay", 3_000, 50)],
        ),
        &[],
    );
    s.insert(
        batch("gateway", vec![span(1, 12, 11, "GET /cars", 1_010, 20)]),
        &[],
    );

    assert_eq!(s.services(), vec!["gateway", "payments"]);
    assert_eq!(s.operations("gateway"), vec!["GET /cars", "GET /rides"]);
    assert!(s.operations("nope").is_empty());

    let all = s.search(&TraceQuery::new());
    assert_eq!(trace_ids(&all), vec![1, 3, 2], "newest match first");
    let q = |q: TraceQuery| trace_ids(&s.search(&q));
    assert_eq!(q(TraceQuery::new().service("payments")), vec![3, 2]);
    assert_eq!(
        q(TraceQuery::new()
            .service("payments")
            .operation("POST /pay")
            .error_only(true)),
        vec![2]
    );
    assert_eq!(q(TraceQuery::new().error_only(true)), vec![2]);
    assert_eq!(
        q(TraceQuery::new().min_duration(Duration::from_nanos(100))),
        vec![2, 1]
    );
    assert_eq!(
        q(TraceQuery::new().max_duration(Duration::from_nanos(50))),
        vec![1, 3]
    );
    assert_eq!(
        q(TraceQuery::new().time_range(Some(1_500), Some(2_500))),
        vec![2]
    );
    assert_eq!(q(TraceQuery::new().tag("unique", "v31")), vec![3]);
    assert_eq!(
        q(TraceQuery::new()
            .tag("http.response.status_code", "200")
            .service("gateway")),
        vec![1]
    );
    assert_eq!(
        q(TraceQuery::new().tag("http.route", "/rides").limit(2)),
        vec![1, 3]
    );
    assert!(q(TraceQuery::new().tag("http.route", "/nope")).is_empty());
    assert!(q(TraceQuery::new().service("nope")).is_empty());

    let t1 = &all[0];
    assert_eq!((t1.span_count, t1.error_count), (2, 0));
    assert_eq!(&*t1.root_name, "GET /rides");
    assert_eq!(t1.duration_nanos, 100);
    assert!(t1.has_root);

    let spans = s.trace(TraceId::from_u128(2));
    assert_eq!(spans.len(), 1);
    assert_eq!(spans[0].status_message(), Some("card declined"));
    assert_eq!(
        spans[0].attribute("unique").and_then(|v| v.as_str()),
        Some("v21")
    );
    assert_eq!(
        spans[0]
            .attribute("http.response.status_code")
            .and_then(|v| v.as_i64()),
        Some(200)
    );
    assert_eq!(spans[0].resource()[0].value.as_str(), Some("payments"));
    assert_eq!(&*spans[0].scope().name, "test");
}

#[test]
fn attribute_keys_that_come_and_go_reuse_index_slots_and_searches_stay_exact() {
    // Four spans at most; each also carries a key of its own ("k0".."k6"), freed with the last
    // span that has it, so key symbols and index slots are reused by other keys all along.
    let mut s = Store::new(limits(4, usize::MAX));
    for i in 0..200u64 {
        let mut sp = span(u128::from(i) + 1, i + 1, 0, "op", i, 1);
        sp.attributes.push((
            Cow::Owned(format!("k{}", i % 7)),
            NewValue::Str(Cow::Owned(format!("x{}", i % 3))),
        ));
        s.insert(batch("svc", vec![sp]), &[]);
        let live = i.saturating_sub(3)..=i;
        for k in 0..7 {
            for x in 0..3 {
                let mut want: Vec<u128> = live
                    .clone()
                    .filter(|j| j % 7 == k && j % 3 == x)
                    .map(|j| u128::from(j) + 1)
                    .collect();
                let mut got =
                    trace_ids(&s.search(&TraceQuery::new().tag(format!("k{k}"), format!("x{x}"))));
                want.sort_unstable();
                got.sort_unstable();
                assert_eq!(got, want, "k{k}=x{x} after span {i}");
            }
        }
        // One index per live key: the three every span has and the live spans' own keys.
        let mut own: Vec<u64> = live.map(|j| j % 7).collect();
        own.dedup();
        assert_eq!(s.by_attr.len(), 3 + own.len(), "after span {i}");
        assert!(
            s.by_attr.table_len() <= 3 + 4,
            "slots are reused, not added"
        );
    }
    // Emptied, every index goes with its key and the table is released.
    s.insert(
        batch(
            "svc",
            (0..4)
                .map(|j| {
                    let mut sp = span(1000 + j, 1000 + j as u64, 0, "op", 1000, 1);
                    sp.attributes.clear();
                    sp
                })
                .collect(),
        ),
        &[],
    );
    assert_eq!(s.by_attr.len(), 0);
    s.shrink();
    assert_eq!(s.by_attr.bytes(), 0);
}

#[test]
fn high_cardinality_keys_stop_being_indexed_but_stay_searchable() {
    let mut s = Store::new(limits(1000, usize::MAX));
    for i in 0..50u64 {
        s.insert(
            batch("svc", vec![span(u128::from(i) + 1, i + 1, 0, "op", i, 1)]),
            &[],
        );
    }
    assert!(
        s.key_index(s.strings.lookup("unique").unwrap())
            .unwrap()
            .disabled
    );
    assert!(
        !s.key_index(s.strings.lookup("http.route").unwrap())
            .unwrap()
            .disabled
    );
    assert_eq!(
        trace_ids(&s.search(&TraceQuery::new().tag("unique", "v7"))),
        vec![7]
    );
    assert_eq!(
        s.search(&TraceQuery::new().tag("http.route", "/rides").limit(1000))
            .len(),
        50
    );
}

#[test]
fn span_budget_evicts_oldest_first_and_cleans_indexes() {
    let mut s = Store::new(limits(3, usize::MAX));
    for i in 1..=5u64 {
        let name = if i == 1 { "first" } else { "later" };
        s.insert(
            batch("svc", vec![span(u128::from(i), i, 0, name, i, 1)]),
            &[],
        );
    }
    assert_eq!(s.stats().spans, 3);
    assert_eq!(s.stats().evicted, 2);
    assert_eq!(trace_ids(&s.search(&TraceQuery::new())), vec![5, 4, 3]);
    assert!(s.trace(TraceId::from_u128(1)).is_empty());
    assert_eq!(s.operations("svc"), vec!["later"]);
    assert_eq!(
        s.strings.lookup("first"),
        None,
        "strings of evicted spans are freed"
    );
    assert_eq!(s.strings.lookup("v1"), None);
}

#[test]
fn the_trace_map_stays_at_the_size_its_live_traces_need_however_many_are_evicted() {
    // 500 live traces, each one span, over sixteen tables of 64 buckets (room for 56 each, 896
    // in all): more than half of what they hold, so the tombstones that evictions leave would
    // make them double once they have used up their free slots.
    let mut s = Store::new(limits(500, usize::MAX));
    for chunk in 0..200u64 {
        let spans = (0..500)
            .map(|i| {
                let id = chunk * 500 + i + 1;
                span(u128::from(id), id, 0, "op", id, 1)
            })
            .collect();
        s.insert(batch("svc", spans), &[]);
        assert!(
            s.traces.capacity() <= 896,
            "after {} evictions: room for {} traces",
            s.stats().evicted,
            s.traces.capacity()
        );
    }
    assert_eq!(s.stats().evicted, 99_500);
    assert_eq!(s.traces.len(), 500);
    assert_eq!(
        trace_ids(&s.search(&TraceQuery::new().limit(3))),
        vec![100_000, 99_999, 99_998]
    );
}

#[test]
fn after_a_burst_of_traces_the_trace_slab_is_packed_and_spans_still_find_theirs() {
    // 5,000 one-span traces, then spans of one long trace push them all out: the slab of
    // trace lists is packed once mostly free, and every span left must still reach its
    // trace's list when it is evicted in turn.
    let mut s = Store::new(limits(5_000, usize::MAX));
    let one = (1..=5_000u64)
        .map(|id| span(u128::from(id), id, 0, "op", id, 1))
        .collect();
    s.insert(batch("svc", one), &[]);
    let full = s.traces.bytes();
    let long = (5_001..=9_990u64)
        .map(|id| span(99_999, id, 0, "op", id, 1))
        .collect();
    s.insert(batch("svc", long), &[]);
    assert_eq!(s.traces.len(), 11, "10 one-span traces and the long one");
    assert!(
        s.traces.bytes() * 4 < full,
        "{} bytes against {full} when full",
        s.traces.bytes()
    );
    assert_eq!(s.trace(TraceId::from_u128(99_999)).len(), 4_990);
    assert_eq!(s.trace(TraceId::from_u128(4_995)).len(), 1);
    while !s.spans.is_empty() {
        s.evict_front();
    }
    assert!(s.traces.is_empty());
    assert_eq!(s.posting_heap, 0);
}

#[test]
fn byte_budget_is_never_exceeded_and_accounting_returns_to_zero() {
    let budget = 256 << 10;
    let mut s = Store::new(limits(usize::MAX, budget));
    let empty = s.bytes();
    let mut max_seen = 0;
    for i in 0..20_000u64 {
        let mut sp = span(u128::from(i / 4) + 1, i + 1, 0, "op", i, 10);
        if i % 10 == 0 {
            sp.status = StatusCode::Error;
            sp.events.push(crate::ingest::NewEvent {
                time_unix_nano: i,
                name: Cow::Borrowed("exception"),
                attributes: vec![(
                    Cow::Borrowed("exception.message"),
                    NewValue::Str(Cow::Owned(format!("e{i}"))),
                )],
            });
        }
        s.insert(batch("svc", vec![sp]), &[]);
        max_seen = max_seen.max(s.bytes());
    }
    assert!(max_seen <= budget, "{max_seen} > {budget}");
    assert!(s.stats().evicted > 0);
    assert!(s.stats().spans > 100);
    // Evict everything: every running total must come back to where it started.
    while !s.spans.is_empty() {
        s.evict_front();
    }
    assert_eq!(s.span_heap, 0);
    assert_eq!(s.posting_heap, 0);
    assert_eq!(s.source_bytes, 0);
    assert_eq!(s.strings.len(), 0);
    assert!(s.traces.is_empty() && s.by_service.is_empty());
    assert_eq!(s.op_maps_bytes, 0);
    assert_eq!(s.by_attr.len(), 0);
    s.shrink();
    assert!(s.bytes() <= empty + 4096, "{} vs {empty}", s.bytes());
}

#[test]
fn a_batch_sums_the_store_once_and_stays_as_bounded() {
    // Attribute values indexed up to 8 per key (past that, a key's value map is dropped), and
    // however many there are (the value maps grow within batches too).
    for max_values_per_key in [8, usize::MAX] {
        batch_against_single(max_values_per_key);
    }
}

fn batch_against_single(max_values_per_key: usize) {
    // The same spans in batches of one and of 50: a batch carries what it knows to be free
    // from span to span instead of summing the store for each, and must evict as soon, span by
    // span, as a store summed for each span does.
    let budget = 256 << 10;
    // Short values keep each span's bound small against the budget, so a batch rides on the
    // headroom of one sum for many spans.
    let l = Limits {
        max_value_len: 16,
        max_values_per_key,
        ..limits(usize::MAX, budget)
    };
    let spans = |i: u64| span(u128::from(i / 4) + 1, i + 1, 0, "op", i, 10);
    let mut single = Store::new(l.clone());
    let mut batched = Store::new(l);
    // Sums while the store fills (at its budget, every span evicts and sums either way).
    let mut filling = (0, 0);
    for b in 0..100u64 {
        single.peak_bytes = 0;
        batched.peak_bytes = 0;
        let sps: Vec<_> = (b * 50..(b + 1) * 50).map(spans).collect();
        for sp in &sps {
            single.insert(batch("svc", vec![sp.clone()]), &[]);
        }
        batched.insert(batch("svc", sps), &[]);
        // Within the batch, never above what the per-span sums reached (or the budget).
        let most = single.peak_bytes.max(budget);
        assert!(
            batched.peak_bytes <= most,
            "batch {b}: {} within the batch, {most} span by span",
            batched.peak_bytes
        );
        if single.stats().evicted == 0 {
            filling = (single.sums, batched.sums);
        }
    }
    assert!(batched.stats().evicted > 0);
    let (a, b) = (single.stats().spans, batched.stats().spans);
    // Not far apart: a map doubling (the interner's, a value map's) takes a large share of so
    // small a budget, and when a map doubles rather than rebuilds in place depends on where its
    // random seed put the removed entries, so the two stores may differ by a few doublings.
    assert!(b * 2 >= a && a * 2 >= b, "batched {b} spans, single {a}");
    let (single_sums, batched_sums) = filling;
    assert!(
        single_sums > 100 && batched_sums * 5 < single_sums,
        "while filling, summed {batched_sums} times in batches, {single_sums} span by span"
    );
}

#[test]
fn a_batch_reads_ahead_the_spans_it_will_evict() {
    let spans = |from: u64, n: u64| -> Vec<_> {
        (from..from + n)
            .map(|i| span(u128::from(i) + 1, i + 1, 0, "op", i, 10))
            .collect()
    };
    // Span budget: a filling store reads nothing; a full one as many as the batch evicts.
    let mut s = Store::new(limits(100, usize::MAX));
    assert_eq!(s.touch_front(10), 0, "empty");
    s.insert(batch("svc", spans(0, 95)), &[]);
    assert_eq!(s.touch_front(3), 0, "room for three more");
    assert_eq!(s.touch_front(10), 5, "five over the budget");
    s.insert(batch("svc", spans(95, 10)), &[]);
    assert_eq!(s.stats().evicted, 5);
    assert_eq!(s.touch_front(10), 10);
    assert_eq!(s.touch_front(1_000), 100, "no more than it holds");
    // Byte budget: as many as the last batch evicted, up to the batch's size.
    let mut s = Store::new(limits(usize::MAX, 64 << 10));
    let mut next = 0;
    while s.stats().evicted == 0 {
        s.insert(batch("svc", spans(next, 20)), &[]);
        next += 20;
    }
    // At its budget, a batch evicts (one right after a map doubled may find room enough).
    for _ in 0..100 {
        s.insert(batch("svc", spans(next, 20)), &[]);
        next += 20;
        if s.last_evictions > 0 {
            break;
        }
    }
    let last = s.last_evictions;
    assert!(last > 0, "the last batch evicted");
    assert_eq!(s.touch_front(20), last.min(20));
    assert_eq!(s.touch_front(5), last.min(5));
    s.last_evictions = 3;
    assert_eq!(s.touch_front(20), 3);
    let mut s = Store::new(limits(10_000, usize::MAX));
    s.insert(batch("svc", spans(0, 10_000)), &[]);
    assert_eq!(s.touch_front(500), evict::TOUCH_AHEAD);
}

#[test]
fn retention_window_evicts_old_spans() {
    let mut l = limits(1000, usize::MAX);
    l.retention = Duration::from_millis(100);
    let mut s = Store::new(l);
    s.insert(batch("svc", vec![span(1, 1, 0, "op", 1, 1)]), &[]);
    s.expire();
    assert_eq!(s.stats().spans, 1);
    std::thread::sleep(Duration::from_millis(250));
    s.insert(batch("svc", vec![span(2, 2, 0, "op", 2, 1)]), &[]);
    s.expire();
    assert_eq!(s.stats().spans, 1);
    assert_eq!(trace_ids(&s.search(&TraceQuery::new())), vec![2]);
}

#[test]
fn caps_per_span() {
    let mut l = limits(1000, usize::MAX);
    l.max_attributes = 2;
    l.max_value_len = 4;
    let mut s = Store::new(l);
    let mut sp = span(1, 1, 0, "a-long-name", 1, 1);
    sp.dropped_attributes = 5;
    s.insert(batch("svc", vec![sp]), &[]);
    let got = &s.trace(TraceId::from_u128(1))[0];
    assert_eq!(got.attributes().len(), 2);
    assert_eq!(got.dropped_attributes(), 6);
    assert_eq!(got.name(), "a-lo");
}

#[test]
fn dropped_counts_saturate_instead_of_overflowing() {
    let mut l = limits(1000, usize::MAX);
    l.max_attributes = 2;
    l.max_events = 0;
    let mut s = Store::new(l);
    let mut sp = span(1, 1, 0, "op", 1, 1);
    sp.dropped_attributes = u32::MAX;
    sp.dropped_events = u32::MAX - 1;
    sp.events.push(crate::ingest::NewEvent {
        time_unix_nano: 1,
        name: Cow::Borrowed("e"),
        attributes: Vec::new(),
    });
    sp.events.push(sp.events[0].clone());
    s.insert(batch("svc", vec![sp]), &[]);
    let got = &s.trace(TraceId::from_u128(1))[0];
    assert_eq!(got.attributes().len(), 2);
    assert_eq!(got.dropped_attributes(), u32::MAX);
    assert_eq!(got.dropped_events(), u32::MAX);
    assert!(got.events().is_empty());
}

#[test]
fn observers_see_each_stored_span() {
    use std::sync::Mutex;
    let seen = Arc::new(Mutex::new(Vec::new()));
    let s2 = seen.clone();
    let obs: Arc<dyn IngestObserver> = Arc::new(move |sp: &IngestedSpan<'_>| {
        s2.lock().unwrap().push((
            sp.service.to_owned(),
            sp.name.to_owned(),
            sp.kind,
            sp.error,
            sp.duration_nanos(),
        ));
    });
    let mut s = Store::new(limits(1000, usize::MAX));
    let mut e = span(1, 2, 1, "child", 5, 7);
    e.status = StatusCode::Error;
    s.insert(batch("svc", vec![span(1, 1, 0, "root", 1, 20), e]), &[obs]);
    assert_eq!(
        *seen.lock().unwrap(),
        vec![
            (
                "svc".to_owned(),
                "root".to_owned(),
                SpanKind::Server,
                false,
                20
            ),
            (
                "svc".to_owned(),
                "child".to_owned(),
                SpanKind::Server,
                true,
                7
            ),
        ]
    );
}

#[test]
fn an_evicted_spans_attribute_slots_are_reused_counted_and_overwritten() {
    let attrs = |s: &Store, trace: u128| -> Vec<(String, String)> {
        s.trace(TraceId::from_u128(trace))[0]
            .attributes()
            .iter()
            .map(|a| (a.key.to_string(), format!("{:?}", a.value)))
            .collect()
    };
    let mut s = Store::new(limits(1, usize::MAX));
    s.insert(batch("svc", vec![span(1, 1, 0, "op", 1, 1)]), &[]);
    assert!(s.spare_attrs.is_empty());
    // Evicting span 1 keeps its three slots; span 2 has three attributes and takes them.
    s.insert(batch("svc", vec![span(2, 2, 0, "op", 2, 1)]), &[]);
    assert!(s.spare_attrs.is_empty(), "reused, not kept beside");
    assert_eq!(
        attrs(&s, 2),
        vec![
            ("http.route".to_owned(), "String(\"/rides\")".to_owned()),
            (
                "http.response.status_code".to_owned(),
                "Int(200)".to_owned()
            ),
            ("unique".to_owned(), "String(\"v2\")".to_owned()),
        ]
    );
    // A span with another attribute count gets its own slots; the evicted span's stay spare.
    let mut one = span(3, 3, 0, "op", 3, 1);
    one.attributes.truncate(1);
    s.insert(batch("svc", vec![one]), &[]);
    assert_eq!(
        s.spare_attrs.iter().map(|b| b.len()).collect::<Vec<_>>(),
        [3]
    );
    assert_eq!(attrs(&s, 3).len(), 1);
    // Spares left by eviction are counted until the store lets them go.
    let before = s.bytes();
    s.evict_front();
    assert_eq!(
        s.spare_attrs.iter().map(|b| b.len()).collect::<Vec<_>>(),
        [3, 1]
    );
    assert_eq!(s.span_heap, 0);
    assert_eq!(s.spare_bytes, span::packed_bytes(3) + span::packed_bytes(1));
    assert!(s.bytes() >= s.spare_bytes);
    assert!(s.bytes() < before);
    s.shrink();
    assert!(s.spare_attrs.is_empty());
    assert_eq!(s.spare_bytes, 0);
}

#[test]
fn spans_of_shapes_taking_turns_reuse_the_slots_of_the_evicted_ones() {
    let shaped = |n: u64| {
        let mut sp = span(u128::from(n), n, 0, "op", n, 1);
        // Three, one and two attributes, in turn.
        sp.attributes.truncate([3, 1, 2][(n % 3) as usize]);
        sp
    };
    let mut s = Store::new(limits(3, usize::MAX));
    s.insert(batch("svc", (1..=3).map(shaped).collect()), &[]);
    for n in 4..40 {
        // Slots of the span about to be evicted (the oldest), which has this one's shape.
        let oldest = s.spans[0].attrs.as_ptr() as usize;
        s.insert(batch("svc", vec![shaped(n)]), &[]);
        let newest = s.spans.back().unwrap();
        assert_eq!(newest.attrs.len(), [3, 1, 2][(n % 3) as usize]);
        assert_eq!(
            newest.attrs.as_ptr() as usize,
            oldest,
            "span {n} took the slots"
        );
        assert!(s.spare_attrs.is_empty());
    }
    // At most `SPARE_ATTRS` spares, the newest kept.
    let mut s = Store::new(limits(SPARE_ATTRS + 2, usize::MAX));
    s.insert(
        batch(
            "svc",
            (1..=SPARE_ATTRS as u64 + 2)
                .map(|n| span(u128::from(n), n, 0, "op", n, 1))
                .collect(),
        ),
        &[],
    );
    let newest = s.spans.back().unwrap().attrs.as_ptr() as usize;
    while !s.spans.is_empty() {
        s.evict_front();
    }
    assert_eq!(s.spare_attrs.len(), SPARE_ATTRS);
    assert_eq!(s.spare_attrs.last().unwrap().as_ptr() as usize, newest);
    assert_eq!(s.spare_bytes, SPARE_ATTRS * span::packed_bytes(3));
}

/// A span of a shape chosen by `n`: attribute, event and link counts, string lengths around the
/// value limit, JSON values, a status message and a trace state.
fn shaped_span(n: u64) -> NewSpan {
    let len = |k: u64| ((n * 7 + k * 13) % 40) as usize;
    let text = |k: u64| "x".repeat(len(k));
    let attrs = |count: u64| -> Vec<(Cow<'static, str>, NewValue)> {
        (0..count)
            .map(|k| {
                let value = match (n + k) % 4 {
                    0 => NewValue::Str(Cow::Owned(text(k))),
                    1 => NewValue::Json(format!("[{}]", text(k + 1))),
                    2 => NewValue::Int(k as i64),
                    _ => NewValue::Bool(true),
                };
                (Cow::Owned(format!("k{}{}", k, text(k + 2))), value)
            })
            .collect()
    };
    let mut s = NewSpan::test(u128::from(n) + 1, n + 1, 0, "op", n, 10);
    s.name = Cow::Owned(format!("op{}", text(3)));
    s.attributes = attrs(n % 6);
    if n.is_multiple_of(3) {
        s.status_message = Some(text(4));
        s.trace_state = Some(format!("k={}", text(5)));
    }
    for e in 0..(n % 4) {
        s.events.push(crate::ingest::NewEvent {
            time_unix_nano: n + e,
            name: Cow::Owned(text(e + 6)),
            attributes: attrs((n + e) % 5),
        });
    }
    for l in 0..(n % 3) {
        s.links.push(crate::ingest::NewLink {
            trace_id: TraceId::from_u128(u128::from(n) + 2),
            span_id: crate::model::SpanId::from_u64(l + 1),
            attributes: attrs(l + 1),
        });
    }
    s
}

#[test]
fn the_cheap_span_cost_bound_is_never_below_the_exact_cost() {
    // Tight caps (strings cut at 8 bytes, a few attributes, events and links kept) and the
    // defaults; the bound decides whether the exact cost is computed at all.
    let tight = Limits {
        max_value_len: 8,
        max_attributes: 3,
        max_events: 2,
        max_links: 1,
        ..Limits::default()
    };
    for limits in [tight, Limits::default()] {
        let s = Store::new(limits);
        for n in 0..500 {
            let sp = shaped_span(n);
            let exact = s.span_cost(&sp, sp.trace_state.as_deref());
            let bound = s.span_cost_bound(&sp);
            assert!(bound >= exact, "span {n}: bound {bound} < cost {exact}");
        }
    }
    // A limit too large to bound by saturates instead of overflowing, and spans still go in.
    let mut s = Store::new(Limits {
        max_value_len: usize::MAX,
        ..limits(100, 1 << 20)
    });
    assert_eq!(s.span_cost_bound(&shaped_span(5)), usize::MAX);
    s.insert(batch("svc", vec![shaped_span(5)]), &[]);
    assert_eq!(s.stats().spans, 1);
}
