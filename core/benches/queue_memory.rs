//! Peak resident memory (`VmHWM`) of a process whose export pipeline's queue holds 65,536 spans,
//! as in the load benchmark, against the same process with no pipeline. Linux only (it reads
//! `/proc/self/status`). Each case runs in a process of its own:
//!
//! - `floor`: a registry with the tracewire layer, sampling off, spans going nowhere;
//! - `idle`: the same plus a pipeline (queue of 65,536) that is never given a span;
//! - `unsampled`: the layer sampling off into that pipeline, 200,000 spans;
//! - `sampled`: sampling on into that pipeline, 200,000 spans, batches discarded.
//!
//! `cargo bench -p tracewire --bench queue_memory` prints each case's peak and its ratio to the
//! floor; `queue_memory CASE` runs one case and prints its peak in KiB.

use std::process::Command;
use std::time::Duration;

use tracewire::export::{Pipeline, SpanSink};
use tracewire::{Sampler, TracewireLayer};
use tracing::Dispatch;
use tracing_subscriber::layer::SubscriberExt;

use callgrind::Discard;
use null::Null;

// Only its span sink that drops what it is given is used here.
#[allow(dead_code)]
#[path = "support/callgrind.rs"]
mod callgrind;
#[path = "support/null.rs"]
mod null;

const CASES: &[&str] = &["floor", "idle", "unsampled", "sampled"];
const SPANS: u64 = 200_000;

fn pipeline() -> Pipeline {
    Pipeline::builder()
        .queue_size(65_536)
        .max_batch(512)
        .exporter(Null)
        .build()
}

fn traffic(dispatch: &Dispatch) {
    tracing::dispatcher::with_default(dispatch, || {
        for i in 0..SPANS {
            let span = tracing::info_span!("request", http.request.method = "GET", n = i);
            let _entered = span.enter();
        }
    });
}

fn layered<S: SpanSink>(sampler: Sampler, sink: S) -> Dispatch {
    Dispatch::new(
        tracing_subscriber::registry().with(TracewireLayer::builder().sampler(sampler).build(sink)),
    )
}

/// The process's peak resident set, in KiB.
fn vm_hwm_kib() -> Result<u64, String> {
    let status = std::fs::read_to_string("/proc/self/status").map_err(|e| e.to_string())?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .ok_or_else(|| "no VmHWM in /proc/self/status".to_owned())
}

fn run(case: &str) -> Result<u64, String> {
    match case {
        "floor" => traffic(&layered(Sampler::AlwaysOff, Discard)),
        "idle" | "unsampled" | "sampled" => {
            let p = pipeline();
            match case {
                "unsampled" => traffic(&layered(Sampler::AlwaysOff, p.clone())),
                "sampled" => traffic(&layered(Sampler::AlwaysOn, p.clone())),
                _ => {}
            }
            p.shutdown(Duration::from_secs(60))
                .map_err(|e| e.to_string())?;
            let s = p.stats();
            if s.dropped != 0 {
                eprintln!(
                    "{case}: {} of {} spans dropped",
                    s.dropped,
                    s.queued + s.dropped
                );
            }
        }
        _ => return Err(format!("unknown case {case}")),
    }
    vm_hwm_kib()
}

fn main() -> Result<(), String> {
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with("--"))
        .collect();
    if let [case] = args.as_slice() {
        println!("{}", run(case)?);
        return Ok(());
    }
    let exe = std::env::current_exe().map_err(|e| e.to_string())?;
    let mut floor = None;
    println!("| case | peak RSS (VmHWM) | × floor |");
    println!("|---|---:|---:|");
    for case in CASES {
        let out = Command::new(&exe)
            .arg(case)
            .output()
            .map_err(|e| e.to_string())?;
        if !out.status.success() {
            return Err(format!(
                "{case} failed: {}",
                String::from_utf8_lossy(&out.stderr)
            ));
        }
        let kib: u64 = String::from_utf8_lossy(&out.stdout)
            .trim()
            .parse()
            .map_err(|e| format!("{case}: {e}"))?;
        let base = *floor.get_or_insert(kib);
        println!(
            "| {case} | {:.1} MiB | {:.2} |",
            kib as f64 / 1024.0,
            kib as f64 / base as f64
        );
    }
    Ok(())
}
