//! Tail-sampling benchmarks: in-process ingest with the sampling stage off and on, decision
//! latency from a root span's arrival (real clock), and memory per buffered span.
//!
//! Run: `cargo bench -p tracewire-collector --bench sampling -- --warm-up-time 1 --measurement-time 5`
//!
//! Throughput is measured by criterion, each iteration with fresh trace ids (built outside the
//! measurement): 51,200 spans exported through `InProcessExporter` until stored (off), or until
//! buffered, decided and the kept ones stored (on; the stage's clock is a `ManualClock` moved on
//! by 3 s per iteration so every trace is decided inside it) — once as wall-clock time, once as
//! the process's CPU time. Decision latency and memory are printed, not timed.

mod support;

use std::hint::black_box;
use std::time::{Duration, Instant};

use criterion::{Criterion, Throughput};
use support::span_data;
use tracewire::export::SpanExporter;
use tracewire::{Resource, SpanData};
use tracewire_collector::sampling::{ManualClock, SamplingConfig, SystemClock};
use tracewire_collector::{Collector, TraceStore};

const N: u64 = 51_200;

/// Batches of 512 spans numbered from `first`.
fn batches(first: u64) -> Vec<Vec<SpanData>> {
    (0..N / 512)
        .map(|b| {
            (first + b * 512..first + (b + 1) * 512)
                .map(span_data)
                .collect()
        })
        .collect()
}

fn export(store: &TraceStore, batches: &[Vec<SpanData>], resource: &Resource) {
    let mut exp = store.in_process_exporter();
    for batch in batches {
        while exp.export(batch, resource).is_err() {
            std::thread::yield_now();
        }
    }
}

fn store_builder() -> tracewire_collector::CollectorBuilder {
    Collector::builder().max_spans(1_000_000).max_bytes(1 << 30)
}

/// CPU time this process has used (every thread), from `/proc/self/stat`, in clock ticks of
/// 10 ms; zero where that file does not exist.
fn cpu_time() -> Duration {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    // After the command name: state, ppid, pgrp, session, tty, tpgid, flags, four fault
    // counters, then utime and stime.
    let field = |i: usize| -> u64 {
        stat.rsplit_once(')')
            .and_then(|(_, rest)| rest.split_whitespace().nth(i)?.parse().ok())
            .unwrap_or(0)
    };
    Duration::from_millis((field(11) + field(12)) * 10)
}

/// One way of ingesting: a store, and the clock to move on when it samples.
struct Setup {
    name: &'static str,
    store: TraceStore,
    clock: Option<ManualClock>,
}

impl Setup {
    fn new(name: &'static str, sampling: Option<SamplingConfig>) -> Setup {
        let clock = sampling.as_ref().map(|_| ManualClock::new());
        let mut b = store_builder();
        if let (Some(config), Some(clock)) = (sampling, &clock) {
            b = b.sampling(config).sampling_clock(clock.clone());
        }
        Setup {
            name,
            store: b.build_store(),
            clock,
        }
    }

    /// Exports the batches and waits until they are stored, or buffered, decided and the kept
    /// ones stored.
    fn ingest(&self, batches: &[Vec<SpanData>], resource: &Resource) {
        export(&self.store, batches, resource);
        self.store.flush_blocking();
        if let Some(clock) = &self.clock {
            clock.advance(Duration::from_secs(3));
            self.store.flush_blocking();
        }
    }

    fn report(self) {
        if let Some(s) = self.store.sampling_stats() {
            println!(
                "{}: {} traces kept, {} dropped; buffer {} spans in {} bytes = {} bytes per \
                 buffered span ({} traces evicted); store {} bytes per stored span",
                self.name,
                s.kept_traces(),
                s.dropped_traces(),
                s.buffered_spans,
                s.buffer_bytes,
                s.buffer_bytes / s.buffered_spans.max(1),
                s.evicted_traces,
                self.store.stats().bytes / self.store.stats().spans.max(1),
            );
        }
        self.store.close();
    }
}

fn setups() -> Vec<Setup> {
    vec![
        Setup::new("off", None),
        // The defaults (errors, adaptive p99 latency, dynamic 10 traces/s), a 64 MiB buffer.
        Setup::new(
            "on_defaults",
            Some(
                SamplingConfig::builder()
                    .buffer_max_bytes(64 << 20)
                    .seed(1)
                    .build()
                    .unwrap(),
            ),
        ),
        // Worst case for the stage: every trace kept, so the store does all its work as well.
        Setup::new(
            "on_keep_all",
            Some(
                SamplingConfig::builder()
                    .buffer_max_bytes(64 << 20)
                    .probabilistic(1.0)
                    .no_dynamic()
                    .seed(1)
                    .build()
                    .unwrap(),
            ),
        ),
    ]
}

/// Wall-clock time per 51,200 spans (the exporting thread and the ingest worker overlap), and
/// the CPU time the process spends on them (every thread; steadier than wall time on a shared
/// machine).
fn throughput(c: &mut Criterion) {
    let resource = Resource::new("gateway");
    let mut next = 0u64;
    let mut fresh = || {
        next += N;
        batches(next)
    };
    for (group, cpu) in [("sampling_ingest", false), ("sampling_ingest_cpu", true)] {
        let mut g = c.benchmark_group(group);
        g.throughput(Throughput::Elements(N));
        g.sample_size(10);
        for setup in setups() {
            g.bench_function(setup.name, |b| {
                b.iter_custom(|iters| {
                    let mut total = Duration::ZERO;
                    for _ in 0..iters {
                        let batches = fresh();
                        let (wall, cpu0) = (Instant::now(), cpu_time());
                        setup.ingest(&batches, &resource);
                        total += if cpu {
                            cpu_time().saturating_sub(cpu0)
                        } else {
                            wall.elapsed()
                        };
                        drop(black_box(batches));
                    }
                    total
                })
            });
            if cpu {
                setup.report();
            } else {
                setup.store.close();
            }
        }
        g.finish();
    }
}

/// Real clock: traces at a steady rate for a few seconds, then the latency from each root
/// span's arrival to its trace's decision, as the stage records it.
fn decision_latency(_: &mut Criterion) {
    let idle_gap = Duration::from_millis(500);
    let store = store_builder()
        .sampling(
            SamplingConfig::builder()
                .idle_gap(idle_gap)
                .seed(1)
                .build()
                .unwrap(),
        )
        .sampling_clock(SystemClock::new())
        .build_store();
    let resource = Resource::new("gateway");
    let mut exp = store.in_process_exporter();
    // 5 s at 2,000 traces/s: a batch of 10 traces (50 spans) every 5 ms.
    let start = Instant::now();
    let mut i = 1u64 << 40;
    for tick in 0..1000u32 {
        let batch: Vec<SpanData> = (i..i + 50).map(span_data).collect();
        i += 50;
        let _ = exp.export(&batch, &resource);
        let due = start + Duration::from_millis(5) * (tick + 1);
        std::thread::sleep(due.saturating_duration_since(Instant::now()));
    }
    std::thread::sleep(idle_gap + Duration::from_secs(1));
    store.flush_blocking();
    let s = store.sampling_stats().unwrap();
    let ms = |ns: u64| ns as f64 / 1e6;
    println!(
        "decision latency from root arrival, real clock, idle gap {} ms, {} traces decided: \
         p50 {:.1} ms, p90 {:.1} ms, p99 {:.1} ms, max {:.1} ms (p99 - idle gap = {:.1} ms)",
        idle_gap.as_millis(),
        s.kept_traces() + s.dropped_traces(),
        ms(s.decision_latency.p50_ns),
        ms(s.decision_latency.p90_ns),
        ms(s.decision_latency.p99_ns),
        ms(s.decision_latency.max_ns),
        ms(s.decision_latency.p99_ns) - ms(u64::try_from(idle_gap.as_nanos()).unwrap_or(0)),
    );
    black_box(s);
    store.close();
}

fn main() {
    let mut c = Criterion::default().configure_from_args();
    throughput(&mut c);
    decision_latency(&mut c);
    c.final_summary();
}
