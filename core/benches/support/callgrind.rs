//! Counting instructions with `valgrind --tool=callgrind`, reading a thread's time on a CPU, and
//! the span sink that drops what it is given: shared by the instruction-count benches of
//! `tracewire` and `tracewire-tower`.

use std::hint::black_box;
use std::process::Command;

use tracewire::SpanData;
use tracewire::export::SpanSink;

/// Drops finished spans: the layer's own cost is measured, not an exporter's.
pub(crate) struct Discard;

impl SpanSink for Discard {
    fn on_end(&self, span: SpanData) {
        black_box(span);
    }
}

/// Total instructions of `exe CASE n` under callgrind.
pub(crate) fn instructions(exe: &str, case: &str, n: u64) -> Result<u64, String> {
    let out = Command::new("valgrind")
        .args([
            "--tool=callgrind",
            "--callgrind-out-file=/dev/null",
            exe,
            case,
            &n.to_string(),
        ])
        .output()
        .map_err(|e| format!("cannot run valgrind ({e}); install it to count instructions"))?;
    let stderr = String::from_utf8_lossy(&out.stderr);
    if !out.status.success() {
        return Err(format!("{case}: valgrind failed:\n{stderr}"));
    }
    stderr
        .lines()
        .find_map(|l| l.split("Collected :").nth(1))
        .and_then(|n| n.trim().parse().ok())
        .ok_or_else(|| format!("{case}: no instruction count in valgrind's output:\n{stderr}"))
}

/// Nanoseconds this thread has spent on a CPU (Linux), from the scheduler's own accounting
/// (`/proc/thread-self/schedstat`): time spent waiting for a CPU is not counted. 0 elsewhere.
pub(crate) fn on_cpu_ns() -> u64 {
    std::fs::read_to_string("/proc/thread-self/schedstat")
        .ok()
        .and_then(|s| s.split_whitespace().next()?.parse().ok())
        .unwrap_or(0)
}
