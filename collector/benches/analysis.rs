//! Trace analysis on a 10,000-span trace: critical path, and the full waterfall (tree repair,
//! self times, critical path, rows), against a baseline that only sorts the spans by start.
//!
//! The trace is a fan-out tree (each span has up to 8 children, depth 5) with a deterministic
//! mix of sequential and parallel children, a few clock-skewed children and a few orphans, the
//! shape a large batch request produces.

use std::hint::black_box;

use criterion::Criterion;
use tracewire::{SpanId, SpanKind, TraceId};
use tracewire_collector::analysis::{AnalysisSpan, critical_path, waterfall};

fn big_trace(n: usize) -> Vec<AnalysisSpan> {
    let t = TraceId::from_u128(0xbe7c);
    let services = ["gateway", "dispatch", "ranking", "pricing", "geo", "users"];
    let mut spans = Vec::with_capacity(n);
    spans.push(
        AnalysisSpan::new(
            t,
            SpanId::from_u64(1),
            "gateway",
            "GET /ride",
            0,
            1_000_000_000,
        )
        .with_kind(SpanKind::Server),
    );
    // Breadth-first: span i (1-based ids) gets children until n spans exist.
    let mut next = 0usize;
    let mut seed = 0x2545_f491_4f6c_dd1du64;
    let mut rand = move || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    while spans.len() < n {
        let (pid, ps, pe) = {
            let p = &spans[next];
            (p.span_id, p.start_ns, p.end_ns)
        };
        next += 1;
        let kids = 8.min(n - spans.len());
        let len = (pe - ps).max(16);
        for k in 0..kids {
            let id = spans.len() as u64 + 1;
            let r = rand();
            // Half the children run one after another, half in parallel.
            let (s, e) = if k % 2 == 0 {
                let slot = len / kids as u64;
                (
                    ps + slot * k as u64,
                    ps + slot * (k as u64 + 1) - r % (slot / 4 + 1),
                )
            } else {
                (ps + r % (len / 4 + 1), pe - (r >> 20) % (len / 4 + 1))
            };
            // One in 97 is skewed past its parent's end; one in 211 lost its parent.
            let e = if r % 97 == 0 { e + len / 3 } else { e };
            let parent = if r % 211 == 0 {
                SpanId::from_u64(u64::MAX - id)
            } else {
                pid
            };
            spans.push(
                AnalysisSpan::new(
                    t,
                    SpanId::from_u64(id),
                    services[(r % 6) as usize],
                    "op",
                    s,
                    e.max(s),
                )
                .with_parent(parent)
                .with_error(r % 53 == 0),
            );
        }
    }
    spans
}

fn bench(c: &mut Criterion) {
    let spans = big_trace(10_000);
    let mut g = c.benchmark_group("analysis_10k_spans");
    g.bench_function("baseline_sort_by_start", |b| {
        b.iter(|| {
            let mut v: Vec<(u64, u64)> = spans.iter().map(|s| (s.start_ns, s.end_ns)).collect();
            v.sort_unstable();
            black_box(v)
        })
    });
    g.bench_function("critical_path", |b| {
        b.iter(|| black_box(critical_path(&spans)))
    });
    g.bench_function("waterfall_with_critical_path", |b| {
        b.iter(|| black_box(waterfall(&spans)))
    });
    g.bench_function("waterfall_to_json", |b| {
        b.iter(|| black_box(serde_json::to_vec(&waterfall(&spans)).unwrap()))
    });
    g.finish();
}

// What `criterion_group!`/`criterion_main!` expand to, written out so the entry point is not an
// undocumented public function.
fn main() {
    let mut c = Criterion::default().configure_from_args();
    bench(&mut c);
    c.final_summary();
}
