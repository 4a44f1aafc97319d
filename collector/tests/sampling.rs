//! Tail sampling under generated traffic, on a manual clock (no waiting): every error trace and
//! every slow trace kept, normal traces kept at the configured rate, late spans following their
//! trace's decision, retroactive keeps within the window, the buffer within its byte budget at
//! saturation with every eviction counted, and per-operation health unchanged by sampling.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use tracewire::export::SpanExporter;
use tracewire::{
    KeyValue, Resource, SpanContext, SpanData, SpanId, SpanKind, Status, TraceFlags, TraceId,
    TraceState,
};
use tracewire_collector::sampling::{
    KeepOutcome, ManualClock, Reason, SamplingConfig, SamplingConfigBuilder, TraceSampling,
    Trigger, attributes,
};
use tracewire_collector::{Collector, Span, TraceStore};

/// A small deterministic generator (SplitMix64).
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }

    fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    /// A failed span: error status, an HTTP 503 server span, or a gRPC `UNAVAILABLE` server
    /// span (the last two with their status left unset).
    Error,
    /// The root lasts over the 500 ms latency threshold.
    Slow,
    Normal,
}

/// One generated trace: its spans, by service.
#[derive(Clone)]
struct Generated {
    id: TraceId,
    kind: Kind,
    spans: Vec<(&'static str, SpanData)>,
}

fn cx(trace: TraceId, span: u64) -> SpanContext {
    SpanContext::new(
        trace,
        SpanId::from_u64(span),
        TraceFlags::SAMPLED,
        TraceState::default(),
        false,
    )
}

/// A gateway → {dispatch (gRPC) → ranking, pricing} ride request.
fn generate(rng: &mut Rng, n: usize, error_share: f64, slow_share: f64, t0: u64) -> Vec<Generated> {
    let mut out = Vec::with_capacity(n);
    for i in 0..n {
        let r = rng.unit();
        let kind = if r < error_share {
            Kind::Error
        } else if r < error_share + slow_share {
            Kind::Slow
        } else {
            Kind::Normal
        };
        let id = TraceId::from_u128((u128::from(rng.next()) << 64) | u128::from(rng.next() | 1));
        let start = t0 + i as u64 * 1_000_000;
        let root_ms = match kind {
            Kind::Slow => 600 + rng.below(1400),
            _ => 5 + rng.below(300),
        };
        let at = |ms: u64| UNIX_EPOCH + Duration::from_nanos(start + ms * 1_000_000);
        let span =
            |id_: u64, parent: u64, name: &'static str, kind: SpanKind, from: u64, to: u64| {
                let mut d = SpanData::new(cx(id, id_), name);
                d.parent_span_id = if parent == 0 {
                    SpanId::INVALID
                } else {
                    SpanId::from_u64(parent)
                };
                d.kind = kind;
                d.start_time = at(from);
                d.end_time = at(to);
                d
            };
        let mut root = span(1, 0, "POST /rides", SpanKind::Server, 0, root_ms);
        root.attributes = vec![
            KeyValue::new("http.request.method", "POST"),
            KeyValue::new("http.route", "/rides"),
            KeyValue::new("http.response.status_code", 200i64),
        ];
        let mut dispatch = span(
            2,
            1,
            "ride.Dispatch/Nearby",
            SpanKind::Server,
            1,
            root_ms / 2,
        );
        dispatch.attributes = vec![
            KeyValue::new("rpc.system.name", "grpc"),
            KeyValue::new("rpc.method", "ride.Dispatch/Nearby"),
            KeyValue::new("rpc.status_code", "OK"),
        ];
        let ranking = span(3, 2, "POST /rank", SpanKind::Server, 2, root_ms / 3);
        let pricing = span(4, 1, "GET /price", SpanKind::Server, 1, root_ms / 4 + 1);
        let mut spans = vec![
            ("ranking", ranking),
            ("dispatch", dispatch),
            ("pricing", pricing),
            ("gateway", root),
        ];
        if kind == Kind::Error {
            match i % 3 {
                0 => spans[0].1.status = Status::error("ranking failed"),
                1 => spans[3].1.attributes[2] = KeyValue::new("http.response.status_code", 503i64),
                _ => spans[1].1.attributes[2] = KeyValue::new("rpc.status_code", "UNAVAILABLE"),
            }
        }
        out.push(Generated { id, kind, spans });
    }
    out
}

/// Wall-clock time ten minutes ago, so the health windows cover the traffic.
fn recent() -> u64 {
    tracewire::export::unix_nanos(SystemTime::now()) - 600_000_000_000
}

/// Exports `traces` in chunks of `chunk`: each chunk is stored (`flush`) at the current clock
/// time, then the clock moves on by `step`. At the end the clock moves on by 3 s, past the idle
/// gap, and the store is flushed, so every trace is decided.
fn send(
    store: &TraceStore,
    clock: &ManualClock,
    traces: &[Generated],
    chunk: usize,
    step: Duration,
    mut after_chunk: impl FnMut(&TraceStore),
) {
    let mut exp = store.in_process_exporter();
    let resources: Vec<(&str, Resource)> = ["gateway", "dispatch", "ranking", "pricing"]
        .iter()
        .map(|s| (*s, Resource::new(*s)))
        .collect();
    for c in traces.chunks(chunk) {
        for t in c {
            for (service, d) in &t.spans {
                let r = &resources.iter().find(|(s, _)| s == service).unwrap().1;
                exp.export(std::slice::from_ref(d), r).unwrap();
            }
        }
        store.flush_blocking();
        after_chunk(store);
        clock.advance(step);
    }
    clock.advance(Duration::from_secs(3));
    store.flush_blocking();
}

/// [`send`] in chunks of 500 traces, 500 ms apart.
fn send_all(store: &TraceStore, clock: &ManualClock, traces: &[Generated]) {
    send(
        store,
        clock,
        traces,
        500,
        Duration::from_millis(500),
        |_| {},
    );
}

fn root(spans: &[Span]) -> &Span {
    spans
        .iter()
        .find(|s| s.parent_span_id().is_none())
        .expect("a root")
}

fn text(s: &Span, key: &str) -> Option<String> {
    s.attribute(key).map(|v| v.to_string())
}

fn config() -> SamplingConfigBuilder {
    SamplingConfig::builder()
        .latency_threshold(Duration::from_millis(500))
        .no_adaptive_latency()
        .no_dynamic()
        .probabilistic(0.1)
        .seed(42)
}

#[test]
fn errors_and_slow_traces_are_all_kept_and_normal_ones_at_the_configured_rate() {
    let clock = ManualClock::new();
    let store = Collector::builder()
        .sampling(config().build().unwrap())
        .sampling_clock(clock.clone())
        .build_store();
    let traces = generate(&mut Rng(7), 20_000, 0.02, 0.01, recent());
    send_all(&store, &clock, &traces);

    let (mut errors, mut slow, mut normal, mut normal_kept) = (0, 0, 0, 0);
    for t in &traces {
        let spans = store.spans(t.id);
        match t.kind {
            Kind::Error => {
                errors += 1;
                assert_eq!(spans.len(), 4, "error trace {} incomplete", t.id);
                let r = root(&spans);
                assert_eq!(text(r, attributes::POLICY).as_deref(), Some("error"));
                assert_eq!(text(r, attributes::TRIGGER).as_deref(), Some("at_once"));
                assert_eq!(
                    r.attribute(attributes::RATE)
                        .and_then(|v| v.to_json().as_f64()),
                    Some(1.0)
                );
            }
            Kind::Slow => {
                slow += 1;
                assert_eq!(spans.len(), 4, "slow trace {} incomplete", t.id);
                let r = root(&spans);
                assert_eq!(text(r, attributes::POLICY).as_deref(), Some("latency"));
                assert_eq!(text(r, attributes::TRIGGER).as_deref(), Some("idle_gap"));
            }
            Kind::Normal => {
                normal += 1;
                if !spans.is_empty() {
                    normal_kept += 1;
                    assert_eq!(spans.len(), 4, "kept trace {} incomplete", t.id);
                    let r = root(&spans);
                    assert_eq!(
                        text(r, attributes::POLICY).as_deref(),
                        Some("probabilistic")
                    );
                    assert_eq!(
                        r.attribute(attributes::RATE)
                            .and_then(|v| v.to_json().as_f64()),
                        Some(10.0)
                    );
                }
            }
        }
    }
    assert!(errors > 300 && slow > 150, "{errors} errors, {slow} slow");
    // Configured 10 %; tolerance ±1 point, about 4.6 standard deviations of Binomial(n, 0.1)
    // for n ≈ 19,400 (the seed makes the run reproducible: it keeps the same traces every time).
    let share = normal_kept as f64 / normal as f64;
    assert!(
        (0.09..=0.11).contains(&share),
        "kept {normal_kept} of {normal}: {share}"
    );

    let s = store.sampling_stats().unwrap();
    assert_eq!(s.decided(Reason::Error), errors);
    assert_eq!(s.decided(Reason::Latency), slow);
    assert_eq!(s.decided(Reason::Probabilistic), normal_kept);
    assert_eq!(s.kept_traces() + s.dropped_traces(), traces.len() as u64);
    assert_eq!(
        (s.pending_traces, s.received_spans),
        (0, 4 * traces.len() as u64)
    );
    assert_eq!(s.kept_spans, 4 * (errors + slow + normal_kept));
    assert_eq!(store.stats().spans as u64, s.kept_spans);
    store.close();
}

#[test]
fn late_spans_follow_the_decision_and_dropped_traces_can_be_kept_retroactively() {
    let clock = ManualClock::new();
    let store = Collector::builder()
        .sampling(
            config()
                .probabilistic(0.0)
                .buffer_window(Duration::from_secs(60))
                .build()
                .unwrap(),
        )
        .sampling_clock(clock.clone())
        .build_store();
    let mut exp = store.in_process_exporter();
    let r = Resource::new("api");
    let kept = TraceId::from_u128(0xa);
    let dropped = TraceId::from_u128(0xb);
    let mut failing = SpanData::new(cx(kept, 2), "SELECT");
    failing.parent_span_id = SpanId::from_u64(1);
    failing.status = Status::error("deadlock");
    let mut child = SpanData::new(cx(dropped, 2), "SELECT");
    child.parent_span_id = SpanId::from_u64(1);
    exp.export(&[failing, SpanData::new(cx(dropped, 1), "GET /")], &r)
        .unwrap();
    store.flush_blocking();
    // Kept at once; the dropped one waits for its idle gap.
    assert_eq!(store.spans(kept).len(), 1);
    clock.advance(Duration::from_secs(2));
    store.flush_blocking();
    assert_eq!(store.spans(dropped).len(), 0);
    let lookup = |id| {
        tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap()
            .block_on(store.trace_sampling(id))
    };
    assert_eq!(
        lookup(dropped),
        TraceSampling::Dropped {
            reason: Reason::SampledOut,
            trigger: Trigger::IdleGap,
            buffered_spans: 1
        }
    );

    // Late spans, 5 s after the decisions: the kept trace's root is stored and carries the
    // decision; the dropped trace's child is not stored (but buffered).
    clock.advance(Duration::from_secs(5));
    exp.export(&[SpanData::new(cx(kept, 1), "GET /"), child], &r)
        .unwrap();
    store.flush_blocking();
    let spans = store.spans(kept);
    assert_eq!(spans.len(), 2);
    assert_eq!(
        text(root(&spans), attributes::POLICY).as_deref(),
        Some("error")
    );
    assert_eq!(store.spans(dropped).len(), 0);
    let s = store.sampling_stats().unwrap();
    assert_eq!((s.late_kept_spans, s.late_dropped_spans), (1, 1));

    // Kept after the fact, with the late span, inside the window.
    assert_eq!(
        store.keep_trace_blocking(dropped),
        KeepOutcome::Kept { spans: 2 }
    );
    let spans = store.spans(dropped);
    assert_eq!(spans.len(), 2);
    assert_eq!(
        text(root(&spans), attributes::POLICY).as_deref(),
        Some("retroactive")
    );
    assert_eq!(
        text(root(&spans), attributes::TRIGGER).as_deref(),
        Some("retroactive")
    );
    assert_eq!(store.keep_trace_blocking(dropped), KeepOutcome::AlreadyKept);
    assert_eq!(store.keep_trace_blocking(kept), KeepOutcome::AlreadyKept);

    // Outside the window a dropped trace is gone.
    let gone = TraceId::from_u128(0xc);
    exp.export(&[SpanData::new(cx(gone, 1), "GET /")], &r)
        .unwrap();
    store.flush_blocking();
    clock.advance(Duration::from_secs(61));
    store.flush_blocking();
    assert_eq!(store.keep_trace_blocking(gone), KeepOutcome::NotBuffered);
    assert_eq!(store.spans(gone).len(), 0);
    assert_eq!(store.sampling_stats().unwrap().expired_traces, 1);
    store.close();
}

#[test]
fn at_saturation_the_buffer_stays_within_its_budget_and_evictions_are_counted() {
    let clock = ManualClock::new();
    let budget = 4 << 20;
    let store = Collector::builder()
        .sampling(
            config()
                .probabilistic(0.0)
                .buffer_max_bytes(budget)
                .buffer_window(Duration::from_secs(300))
                .build()
                .unwrap(),
        )
        .sampling_clock(clock.clone())
        .build_store();
    let traces = generate(&mut Rng(11), 20_000, 0.01, 0.0, recent());
    let mut peak = 0;
    send(
        &store,
        &clock,
        &traces,
        250,
        Duration::from_millis(250),
        |store| {
            let s = store.sampling_stats().unwrap();
            assert!(s.buffer_bytes <= budget, "{} > {budget}", s.buffer_bytes);
            peak = peak.max(s.buffer_bytes);
        },
    );
    let s = store.sampling_stats().unwrap();
    assert!(peak > budget * 9 / 10, "the budget was not reached: {peak}");
    assert!(s.evicted_traces > 5_000, "{s:?}");
    assert!(s.evicted_bytes > 0);
    // Every received span is buffered, kept, or counted as evicted.
    assert_eq!(
        s.received_spans,
        s.buffered_spans as u64 + s.kept_spans + s.evicted_spans + s.expired_spans
    );
    // Error traces are decided at once, so saturation loses none of them.
    for t in traces.iter().filter(|t| t.kind == Kind::Error) {
        assert_eq!(store.spans(t.id).len(), 4);
    }
    println!(
        "buffer: {} spans in {} bytes ({} bytes per span), {} traces evicted",
        s.buffered_spans,
        s.buffer_bytes,
        s.buffer_bytes / s.buffered_spans.max(1),
        s.evicted_traces
    );
    store.close();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn per_operation_health_is_the_same_with_and_without_sampling() {
    let traces = generate(&mut Rng(3), 5_000, 0.03, 0.02, recent());
    let mut handles = Vec::new();
    for sampling in [false, true] {
        let clock = ManualClock::new();
        let mut b = Collector::builder()
            .otlp_http_addr(None)
            .otlp_grpc_addr(None)
            .api_addr(None)
            .sampling_clock(clock.clone());
        if sampling {
            b = b.sampling(config().probabilistic(0.01).build().unwrap());
        }
        let h = b.spawn().await.unwrap();
        let store = h.store().clone();
        let traffic = traces.clone();
        tokio::task::spawn_blocking(move || {
            send_all(&store, &clock, &traffic);
        })
        .await
        .unwrap();
        handles.push(h);
    }
    let window = Duration::from_secs(900);
    let now = tracewire::export::unix_nanos(SystemTime::now());
    let unsampled = handles[0].health().snapshot(now, window);
    let sampled = handles[1].health().snapshot(now, window);
    assert_eq!(unsampled.len(), 4);
    assert_eq!(sampled, unsampled);
    // The sampled collector stored far fewer spans, and says so per operation.
    assert!(handles[1].stats().spans * 5 < handles[0].stats().spans);
    let ops = handles[1].store().sampling_operations(now, window).unwrap();
    for (op, health) in ops.iter().zip(&unsampled) {
        assert_eq!(
            (&op.service, &op.operation),
            (&health.service, &health.operation)
        );
        assert_eq!(op.seen, health.count);
        assert!(op.kept < op.seen / 5, "{op:?}");
    }
    assert!(
        handles[0]
            .store()
            .sampling_operations(now, window)
            .is_none()
    );
    for h in handles {
        h.shutdown().await;
    }
}

#[test]
fn the_rate_attribute_is_a_double() {
    // Downstream tools multiply counts by it: it must be numeric, not text.
    let clock = ManualClock::new();
    let store = Collector::builder()
        .sampling(config().probabilistic(0.25).seed(1).build().unwrap())
        .sampling_clock(clock.clone())
        .build_store();
    let mut exp = store.in_process_exporter();
    let ids: Vec<TraceId> = (1..=64u128).map(TraceId::from_u128).collect();
    let spans: Vec<SpanData> = ids
        .iter()
        .map(|&t| SpanData::new(cx(t, 1), "GET /"))
        .collect();
    exp.export(&spans, &Resource::new("api")).unwrap();
    store.flush_blocking();
    clock.advance(Duration::from_secs(2));
    store.flush_blocking();
    let kept: Vec<Span> = ids.iter().flat_map(|&t| store.spans(t)).collect();
    assert!(!kept.is_empty());
    for s in &kept {
        assert_eq!(
            s.attribute(attributes::RATE),
            Some(&tracewire_collector::AttrValue::Double(4.0))
        );
        assert!(matches!(
            s.attribute(attributes::POLICY),
            Some(tracewire_collector::AttrValue::String(p)) if &**p == "probabilistic"
        ));
    }
    store.close();
}
