//! Instructions per ingested span, counted with `valgrind --tool=callgrind`: repeatable whatever
//! else the machine is running, unlike wall-clock numbers. Not part of CI (it needs valgrind).
//!
//! `cargo bench -p tracewire-collector --bench instructions` runs every case twice under
//! callgrind (with `N` and `2N` spans) and prints the difference divided by `N`: the instructions
//! of one span, setup and process start-up cancelled out. Every thread counts (the exporting
//! thread, the store's writer, the OTLP server's workers). Each ingest case builds its input the
//! way its `build_*` case does, so the store's own share is the difference of the two, printed
//! as `net`. Name cases to run only those: `... --bench instructions -- steady`.
//!
//! `-- --cpu` measures instead the CPU time of `10 N` spans, median of five runs, in nanoseconds
//! per span: the scheduler's own accounting (`/proc/self/task/*/schedstat`, which excludes time
//! spent waiting for a CPU) summed over the process's threads just before the collector stops
//! them.
//!
//! Run as `instructions CASE SPANS` (what the driver does under valgrind), it runs one case.

mod support;

use std::hint::black_box;

use tracewire::export::SpanExporter;
use tracewire::{Resource, SpanData};
use tracewire_collector::Collector;

use callgrind::instructions;
use support::{Conn, otlp_request, span_data};

#[path = "../../core/benches/support/callgrind.rs"]
#[allow(
    dead_code,
    reason = "the discarding span sink serves the core crate's benches"
)]
mod callgrind;

const BATCH: u64 = 512;
const SPANS: u64 = 10_240;

/// Every case, and the case that builds its input (its cost is subtracted).
const CASES: &[(&str, Option<&str>)] = &[
    ("build_span_data", None),
    // A store holding 2,048 spans: all but the first spans evict the oldest one.
    ("in_process_steady", Some("build_span_data")),
    // A store large enough for every span.
    ("in_process_filling", Some("build_span_data")),
    ("build_otlp_bodies", None),
    ("otlp_http_steady", Some("build_otlp_bodies")),
];

fn batches(n: u64) -> Vec<Vec<SpanData>> {
    (0..n / BATCH)
        .map(|b| (b * BATCH..(b + 1) * BATCH).map(span_data).collect())
        .collect()
}

fn bodies(n: u64) -> Vec<Vec<u8>> {
    (0..n / BATCH)
        .map(|b| otlp_request(b * BATCH, BATCH))
        .collect()
}

fn in_process(n: u64, max_spans: usize) -> u64 {
    let batches = batches(n);
    let store = Collector::builder()
        .max_spans(max_spans)
        .max_bytes(1 << 30)
        .build_store();
    let resource = Resource::new("gateway");
    let mut exp = store.in_process_exporter();
    for batch in &batches {
        while exp.export(batch, &resource).is_err() {
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
    let handle = Collector::builder()
        .ephemeral_ports()
        .otlp_grpc_addr(None)
        .api_addr(None)
        .max_spans(2048)
        .max_bytes(1 << 30)
        .start()
        .expect("collector starts");
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

/// Runs `case` with `n` spans; returns the CPU time of the process's live threads at its end.
fn run(case: &str, n: u64) -> Result<u64, String> {
    Ok(match case {
        "build_span_data" => {
            black_box(batches(n));
            threads_cpu_nanos()
        }
        "in_process_steady" => in_process(n, 2048),
        "in_process_filling" => in_process(n, 1 << 22),
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
    let cpu = std::env::args().any(|a| a == "--cpu");
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with("--"))
        .collect();
    if let [case, n] = args.as_slice()
        && let Ok(n) = n.parse()
    {
        return run(case, n).map(drop);
    }
    let exe = std::env::args().next().ok_or("no program name")?;
    let chosen: Vec<(&str, Option<&str>)> = CASES
        .iter()
        .copied()
        .filter(|(c, _)| args.is_empty() || args.iter().any(|a| c.contains(a.as_str())))
        .collect();
    let mut per_span = std::collections::HashMap::new();
    let mut measure = |case: &str| -> Result<f64, String> {
        if let Some(&v) = per_span.get(case) {
            return Ok(v);
        }
        let v = if cpu {
            let n = 10 * SPANS;
            let mut runs = Vec::new();
            for _ in 0..5 {
                let before = threads_cpu_nanos();
                runs.push(run(case, n)?.saturating_sub(before));
            }
            runs.sort_unstable();
            runs[2] as f64 / n as f64
        } else {
            let once = instructions(&exe, case, SPANS)?;
            let twice = instructions(&exe, case, 2 * SPANS)?;
            twice.saturating_sub(once) as f64 / SPANS as f64
        };
        per_span.insert(case.to_owned(), v);
        Ok(v)
    };
    let unit = if cpu { "ns on a CPU" } else { "instructions" };
    println!("{:<22} {:>14} {:>14}  (per span)", "case", unit, "net");
    for (case, input) in chosen {
        let v = measure(case)?;
        match input {
            Some(input) => {
                let base = measure(input)?;
                println!("{case:<22} {v:>14.0} {:>14.0}", v - base);
            }
            None => println!("{case:<22} {v:>14.0}"),
        }
    }
    Ok(())
}
