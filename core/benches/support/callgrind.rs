//! What the instruction-count benches of `tracewire` and `tracewire-tower` share: their driver
//! (instructions under `valgrind --tool=callgrind`, or `--cpu` time from the scheduler), and the
//! span sink that drops what it is given.

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

/// A bench's `main`. Run as `BENCH CASE N` (what the driver does under valgrind), it calls
/// `run(CASE, N)`, which runs `N` iterations of the case and returns the nanoseconds its loop
/// spent on a CPU. Otherwise it prints a table of the `cases` named on the command line (all
/// with none): the instructions of one iteration, from `N` and `2N` iterations under callgrind
/// (start-up and setup cancel out); or with `--cpu`, the median time on a CPU of seven runs of
/// `cpu_iterations(case)` iterations, in nanoseconds per iteration.
pub(crate) fn main(
    cases: &[&str],
    iterations: u64,
    cpu_iterations: impl Fn(&str) -> u64,
    run: impl Fn(&str, u64) -> Result<u64, String>,
) -> Result<(), String> {
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
    let width = cases.iter().map(|c| c.len()).max().unwrap_or(0) + 4;
    let chosen = cases
        .iter()
        .filter(|c| args.is_empty() || args.iter().any(|a| c.contains(a.as_str())));
    if cpu {
        println!("{:<width$} {:>14}", "case", "ns on a CPU");
        for case in chosen {
            let n = cpu_iterations(case);
            let mut runs = (0..7)
                .map(|_| run(case, n))
                .collect::<Result<Vec<_>, _>>()?;
            runs.sort_unstable();
            println!("{case:<width$} {:>14.1}", runs[3] as f64 / n as f64);
        }
        return Ok(());
    }
    println!("{:<width$} {:>14}", "case", "instructions");
    for case in chosen {
        let once = instructions(&exe, case, iterations)?;
        let twice = instructions(&exe, case, 2 * iterations)?;
        let per = twice.saturating_sub(once) as f64 / iterations as f64;
        println!("{case:<width$} {per:>14.0}");
    }
    Ok(())
}

/// Total instructions of `exe CASE n` under callgrind.
fn instructions(exe: &str, case: &str, n: u64) -> Result<u64, String> {
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
