//! Instructions per ingested span, counted with `valgrind --tool=callgrind`: repeatable whatever
//! else the machine is running, unlike wall-clock numbers. Not part of CI (it needs valgrind).
//!
//! `cargo bench -p tracewire-collector --bench instructions` runs every case twice under
//! callgrind (with `N` and `2N` spans) and prints the difference divided by `N`: the instructions
//! of one span, setup and process start-up cancelled out. Every thread counts (the exporting
//! thread, the store's writer, the OTLP server's workers). Each ingest case builds its input the
//! way its `build_*` case does, so the collector's own share is the difference of the two rows
//! (the "net" figures in BENCHMARKS.md). Name cases to run only those: `... --bench instructions -- steady`.
//!
//! `-- --cpu` measures instead the CPU time of `10 N` spans, median of seven runs, in nanoseconds
//! per span: the scheduler's own accounting (`/proc/self/task/*/schedstat`, which excludes time
//! spent waiting for a CPU) summed over the process's threads just before the collector stops
//! them.
//!
//! Run as `instructions CASE SPANS` (what the driver does under valgrind), it runs one case.

mod support;

use std::hint::black_box;
use std::time::Duration;

use tracewire::export::{Pipeline, SpanExporter, SpanRecycler, SpanSink};
use tracewire::{Resource, SpanData};
use tracewire_collector::Collector;

use support::{Conn, otlp_http_collector, otlp_request, span_data};

#[path = "../../core/benches/support/callgrind.rs"]
#[allow(
    dead_code,
    reason = "the discarding span sink serves the core crate's benches"
)]
mod callgrind;

const BATCH: u64 = 512;
const SPANS: u64 = 10_240;

/// Every case. An ingest case builds its input the way the `build_*` case above it does, so the
/// collector's own share is the difference of the two rows.
const CASES: &[&str] = &[
    "build_span_data",
    // A store holding 2,048 spans: all but the first spans evict the oldest one.
    "in_process_steady",
    // A store large enough for every span.
    "in_process_filling",
    // The same two, each batch handed over to keep (`export_owned`), as a pipeline's worker
    // hands it to its last exporter.
    "in_process_owned_steady",
    "in_process_owned_filling",
    // `in_process_owned_steady` with spans of three shapes taking turns (6, 4 and 5
    // attributes), as a service's server, client and database spans do.
    "in_process_shapes_steady",
    // Spans through a real `Pipeline` (its worker thread included) into a 2,048-span store, each
    // recorded into an attribute vector from the pipeline's pool when it has one, as the layer
    // does; its build is `build_span_data` plus one vector move a span.
    "pipeline_steady",
    "build_otlp_bodies",
    "otlp_http_steady",
];

fn batches(n: u64) -> Vec<Vec<SpanData>> {
    (0..n / BATCH)
        .map(|b| (b * BATCH..(b + 1) * BATCH).map(span_data).collect())
        .collect()
}

/// [`batches`] with spans of three shapes in turn: 6, 4 and 5 attributes.
fn shaped_batches(n: u64) -> Vec<Vec<SpanData>> {
    let mut batches = batches(n);
    for (i, span) in batches.iter_mut().flatten().enumerate() {
        span.attributes.truncate([6, 4, 5][i % 3]);
    }
    batches
}

fn bodies(n: u64) -> Vec<Vec<u8>> {
    (0..n / BATCH)
        .map(|b| otlp_request(b * BATCH, BATCH))
        .collect()
}

fn in_process(batches: Vec<Vec<SpanData>>, n: u64, max_spans: usize, owned: bool) -> u64 {
    let store = Collector::builder()
        .max_spans(max_spans)
        .max_bytes(1 << 30)
        .build_store();
    let resource = Resource::new("gateway");
    let mut exp = store.in_process_exporter();
    for mut batch in batches {
        let mut export = |b: &mut Vec<SpanData>| {
            if owned {
                exp.export_owned(b, &resource, &SpanRecycler::none())
            } else {
                exp.export(b, &resource)
            }
        };
        // A refused batch is left as it was; it is retried once the queue has drained.
        while export(&mut batch).is_err() {
            store.flush_blocking();
        }
        // One batch in flight at a time: no thread spins waiting for another.
        store.flush_blocking();
    }
    assert_eq!(store.stats().spans as u64, n.min(max_spans as u64));
    let cpu = threads_cpu_nanos();
    store.close();
    cpu
}

fn otlp_http(n: u64) -> u64 {
    let bodies = bodies(n);
    let handle = otlp_http_collector(2048);
    let mut conn = Conn::new(handle.otlp_http_addr().expect("OTLP/HTTP listens"));
    for body in &bodies {
        assert_eq!(conn.post(body), 200);
    }
    handle.store().flush_blocking();
    assert_eq!(handle.store().stats().spans as u64, n.min(2048));
    let cpu = threads_cpu_nanos();
    drop(conn);
    handle.shutdown_blocking();
    cpu
}

fn pipeline(n: u64, max_spans: usize) -> u64 {
    let store = Collector::builder()
        .max_spans(max_spans)
        .max_bytes(1 << 30)
        .build_store();
    let pipeline = Pipeline::builder()
        .max_batch(BATCH as usize)
        .batch_timeout(Duration::from_secs(3600))
        .resource(Resource::new("gateway"))
        .exporter(store.in_process_exporter())
        .build();
    for b in 0..n / BATCH {
        for i in b * BATCH..(b + 1) * BATCH {
            let mut span = span_data(i);
            if let Some(mut v) = pipeline.recycled_attributes(span.attributes.len()) {
                v.append(&mut span.attributes);
                span.attributes = v;
            }
            assert!(pipeline.submit(span));
        }
        // One batch in flight at a time: no thread spins waiting for another.
        pipeline.flush(Duration::from_secs(60)).expect("flushed");
        store.flush_blocking();
    }
    let stats = pipeline.stats();
    assert_eq!((stats.exported, stats.failed, stats.dropped), (n, 0, 0));
    assert_eq!(store.stats().spans as u64, n.min(max_spans as u64));
    let cpu = threads_cpu_nanos();
    pipeline
        .shutdown(Duration::from_secs(60))
        .expect("shut down");
    store.close();
    cpu
}

/// Runs `case` with `n` spans; returns the CPU time of the process's live threads at its end.
fn run(case: &str, n: u64) -> Result<u64, String> {
    Ok(match case {
        "build_span_data" => {
            black_box(batches(n));
            threads_cpu_nanos()
        }
        "in_process_steady" => in_process(batches(n), n, 2048, false),
        "in_process_filling" => in_process(batches(n), n, 1 << 22, false),
        "in_process_owned_steady" => in_process(batches(n), n, 2048, true),
        "in_process_owned_filling" => in_process(batches(n), n, 1 << 22, true),
        "in_process_shapes_steady" => in_process(shaped_batches(n), n, 2048, true),
        "pipeline_steady" => pipeline(n, 2048),
        "build_otlp_bodies" => {
            black_box(bodies(n));
            threads_cpu_nanos()
        }
        "otlp_http_steady" => otlp_http(n),
        _ => return Err(format!("unknown case {case}")),
    })
}

/// CPU time of the process's live threads, in nanoseconds (the first field of each thread's
/// `schedstat`).
fn threads_cpu_nanos() -> u64 {
    let Ok(tasks) = std::fs::read_dir("/proc/self/task") else {
        return 0;
    };
    tasks
        .filter_map(|t| std::fs::read_to_string(t.ok()?.path().join("schedstat")).ok())
        .filter_map(|s| s.split_whitespace().next()?.parse::<u64>().ok())
        .sum()
}

fn main() -> Result<(), String> {
    callgrind::main(
        CASES,
        SPANS,
        |_| 10 * SPANS,
        |case, n| {
            let before = threads_cpu_nanos();
            Ok(run(case, n)?.saturating_sub(before))
        },
    )
}
