//! Producers contending for one export queue: 1, 2 and 4 threads submitting finished spans to
//! one `Pipeline` at once, its exporter discarding each batch. One iteration is one span from
//! each thread, so with no contention the time per iteration stays flat as threads are added
//! (on a machine with that many cores). The queue holds 65,536 spans, as in the load benchmark;
//! the spans each case dropped because the worker fell behind are printed after it, since a
//! dropped span costs less than a queued one.

use std::hint::black_box;
use std::sync::Barrier;
use std::time::{Duration, Instant};

use criterion::{Criterion, Throughput};
use tracewire::export::{Pipeline, SpanExporter};
use tracewire::{ExportError, Resource, SpanContext, SpanData};

/// Looks at every batch and keeps nothing.
struct Null;

impl SpanExporter for Null {
    fn export(&mut self, batch: &[SpanData], _: &Resource) -> Result<(), ExportError> {
        black_box(batch);
        Ok(())
    }
}

/// `threads` threads each submit `n` spans, started together; the wall-clock time until the
/// last one is done.
fn submit_from(pipeline: &Pipeline, threads: usize, n: u64) -> Duration {
    let start_line = Barrier::new(threads + 1);
    std::thread::scope(|s| {
        let workers: Vec<_> = (0..threads)
            .map(|_| {
                s.spawn(|| {
                    start_line.wait();
                    for _ in 0..n {
                        pipeline.submit(SpanData::new(SpanContext::default(), "s"));
                    }
                })
            })
            .collect();
        start_line.wait();
        let start = Instant::now();
        for w in workers {
            w.join().expect("a submitting thread panicked");
        }
        start.elapsed()
    })
}

fn bench(c: &mut Criterion) {
    let mut g = c.benchmark_group("submit, threads at once");
    for threads in [1, 2, 4] {
        let pipeline = Pipeline::builder()
            .queue_size(65_536)
            .max_batch(512)
            .batch_timeout(Duration::from_secs(3600))
            .exporter(Null)
            .build();
        g.throughput(Throughput::Elements(threads as u64));
        g.bench_function(format!("{threads} thread(s)"), |b| {
            b.iter_custom(|iters| submit_from(&pipeline, threads, iters));
        });
        pipeline
            .shutdown(Duration::from_secs(60))
            .expect("the pipeline shuts down");
        let stats = pipeline.stats();
        eprintln!(
            "{threads} thread(s): {} queued, {} dropped",
            stats.queued, stats.dropped
        );
    }
    g.finish();
}

fn main() {
    let mut c = Criterion::default().configure_from_args();
    bench(&mut c);
    c.final_summary();
}
