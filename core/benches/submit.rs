//! Producers contending for one export queue: 1, 2 and 4 threads submitting finished spans to
//! one `Pipeline` at once, its exporter discarding each batch. The figure is the CPU time per
//! span of the submitting threads, from the scheduler's own accounting
//! (`/proc/thread-self/schedstat`, Linux; see `support/callgrind.rs`), so time spent waiting for
//! a CPU on a busy machine is left out while time spent contending for the queue (spinning,
//! futex calls) is counted. With no contention it stays flat as threads are added. The queue
//! holds 65,536 spans, as in the load benchmark. The threads submit in rounds, the queue flushed
//! between two, so that no span is dropped (a dropped span costs less than a queued one; each
//! case prints its counters after it, to show that): `steady` rounds of 1,024 spans (two
//! batches, what a worker that keeps up sees queued), `burst` rounds of 16,384 (32 batches
//! queued at once when the worker falls behind). Ten samples of at least half a second each, as
//! the accounting moves in scheduler ticks (4 ms here).

use std::sync::Barrier;
use std::time::Duration;

use criterion::Criterion;
use tracewire::export::Pipeline;
use tracewire::{SpanContext, SpanData};

use callgrind::on_cpu_ns;
use null::Null;

// Only its reader of the scheduler's accounting is used here.
#[allow(dead_code)]
#[path = "support/callgrind.rs"]
mod callgrind;
#[path = "support/null.rs"]
mod null;

/// `threads` threads each submit `n` spans, started together, in rounds of `round` spans (all
/// threads together) between which the queue is flushed; their CPU time, summed, per thread.
fn submit_from(pipeline: &Pipeline, threads: usize, round: u64, n: u64) -> Duration {
    let per_round = round / threads as u64;
    let rounds = n.div_ceil(per_round);
    let start_line = Barrier::new(threads + 1);
    let finish_line = Barrier::new(threads + 1);
    std::thread::scope(|s| {
        let submitters: Vec<_> = (0..threads)
            .map(|_| {
                s.spawn(|| {
                    let start = on_cpu_ns();
                    for round in 0..rounds {
                        let spans = per_round.min(n - round * per_round);
                        start_line.wait();
                        for _ in 0..spans {
                            pipeline.submit(SpanData::new(SpanContext::default(), "s"));
                        }
                        finish_line.wait();
                    }
                    on_cpu_ns() - start
                })
            })
            .collect();
        for _ in 0..rounds {
            start_line.wait();
            finish_line.wait();
            pipeline
                .flush(Duration::from_secs(60))
                .expect("the worker keeps up");
        }
        let spent: u64 = submitters
            .into_iter()
            .map(|t| t.join().expect("a submitting thread panicked"))
            .sum();
        Duration::from_nanos(spent / threads as u64)
    })
}

fn bench(c: &mut Criterion) {
    let mut g = c.benchmark_group("submit, CPU per span, threads at once");
    g.sample_size(10).measurement_time(Duration::from_secs(8));
    for (pattern, round) in [("steady", 1024), ("burst", 16_384)] {
        for threads in [1, 2, 4] {
            let pipeline = Pipeline::builder()
                .queue_size(65_536)
                .max_batch(512)
                .batch_timeout(Duration::from_secs(3600))
                .exporter(Null)
                .build();
            let name = format!("{pattern}, {threads} thread(s)");
            g.bench_function(&name, |b| {
                b.iter_custom(|iters| submit_from(&pipeline, threads, round, iters));
            });
            pipeline
                .shutdown(Duration::from_secs(60))
                .expect("the pipeline shuts down");
            let stats = pipeline.stats();
            eprintln!("{name}: {} queued, {} dropped", stats.queued, stats.dropped);
        }
    }
    g.finish();
}

fn main() {
    let mut c = Criterion::default().configure_from_args();
    bench(&mut c);
    c.final_summary();
}
