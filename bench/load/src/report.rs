//! Turns `run.sh`'s result lines into Markdown: medians over repetitions, as ratios to the
//! floor, then every repetition.
//!
//! Each input line is `{"rep":1,"variant":"otel","rss_kb":..,"ctxt_switches":..,"load":{..},
//! "server":{..}}`: `load` is the generator's output, `server` the service's closing `STATS`
//! line, `ctxt_switches` the server threads' context switches over the whole run, `cpu_ticks` the
//! CPU time the server process used over the whole run (user + system, in clock ticks of
//! `tick_hz`). CPU time per request is the figure that holds up on a shared machine: throughput
//! falls when other processes take the server's core, its CPU per request hardly moves.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use serde::Deserialize;

use crate::BoxError;

#[derive(Debug, Deserialize)]
struct Line {
    rep: u32,
    variant: String,
    rss_kb: u64,
    #[serde(default)]
    ctxt_switches: u64,
    #[serde(default)]
    cpu_ticks: u64,
    #[serde(default)]
    tick_hz: u64,
    load: Load,
    #[serde(default)]
    server: serde_json::Value,
}

#[derive(Debug, Deserialize)]
struct Load {
    rps: f64,
    p50_us: u64,
    p99_us: u64,
    total_requests: u64,
    errors: u64,
}

const ORDER: [&str; 8] = [
    "floor",
    "tower-http",
    "otel",
    "otel-off",
    "tracewire",
    "tracewire-off",
    "tracewire-null",
    "tracewire-tick",
];

impl Line {
    /// Server CPU time per request (warm-up included on both sides), in microseconds.
    fn cpu_us(&self) -> f64 {
        if self.tick_hz == 0 {
            return f64::NAN;
        }
        self.cpu_ticks as f64 * 1e6 / self.tick_hz as f64 / self.load.total_requests.max(1) as f64
    }
}

/// What is wrong with one run, if anything: a failed request, spans exported other than the
/// exact count per request the server states for its variant (`spans_per_request`), spans
/// dropped, failed or rejected on the way.
fn problems(l: &Line) -> Vec<String> {
    let mut found = Vec::new();
    if l.load.errors > 0 {
        found.push(format!("{} failed requests", l.load.errors));
    }
    let counter = |name: &str| l.server.get(name).and_then(serde_json::Value::as_u64);
    if let Some(per_request) = counter("spans_per_request") {
        let want = per_request * l.load.total_requests;
        match counter("spans_exported") {
            Some(got) if got == want => {}
            Some(got) => found.push(format!(
                "{got} spans exported for {} requests (expected {want})",
                l.load.total_requests
            )),
            None => found.push("no exported-span count in the server's STATS line".to_owned()),
        }
    }
    for name in ["spans_dropped", "spans_failed", "rejected"] {
        if let Some(n) = counter(name).filter(|&n| n > 0) {
            found.push(format!("{name} = {n}"));
        }
    }
    found
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    let n = v.len();
    if n == 0 {
        f64::NAN
    } else if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    }
}

/// The Markdown report, and how many runs failed their checks ([`problems`]); the report lists
/// them last.
pub fn render(input: &str) -> Result<(String, usize), BoxError> {
    let mut lines = Vec::new();
    for (i, l) in input.lines().enumerate() {
        if l.trim().is_empty() {
            continue;
        }
        let line: Line = serde_json::from_str(l).map_err(|e| format!("line {}: {e}", i + 1))?;
        lines.push(line);
    }
    let mut by: BTreeMap<usize, (String, Vec<&Line>)> = BTreeMap::new();
    for l in &lines {
        let rank = ORDER
            .iter()
            .position(|v| *v == l.variant)
            .unwrap_or(ORDER.len());
        by.entry(rank)
            .or_insert_with(|| (l.variant.clone(), Vec::new()))
            .1
            .push(l);
    }
    let med = |ls: &[&Line], f: &dyn Fn(&Line) -> f64| median(ls.iter().map(|l| f(l)).collect());
    let floor = by.values().find(|(v, _)| v == "floor").map(|(_, ls)| {
        (
            med(ls, &|l| l.load.rps),
            med(ls, &|l| l.load.p50_us as f64),
            med(ls, &|l| l.load.p99_us as f64),
            med(ls, &|l| l.rss_kb as f64),
            med(ls, &|l| l.cpu_us()),
        )
    });

    let mut out = String::new();
    writeln!(
        out,
        "| variant | reps | requests/s | × floor | p50 | × floor | p99 | × floor | peak RSS | × floor | server CPU per request | × floor | added |"
    )?;
    writeln!(
        out,
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
    )?;
    for (variant, ls) in by.values() {
        let rps = med(ls, &|l| l.load.rps);
        let p50 = med(ls, &|l| l.load.p50_us as f64);
        let p99 = med(ls, &|l| l.load.p99_us as f64);
        let rss = med(ls, &|l| l.rss_kb as f64);
        let cpu = med(ls, &|l| l.cpu_us());
        let added = match floor {
            Some(f) if f.4.is_finite() && cpu.is_finite() => format!("{:+.1} µs", cpu - f.4),
            _ => "–".to_owned(),
        };
        let ratio = |x: f64, f: Option<f64>| match f {
            Some(f) if f > 0.0 => format!("{:.2}", x / f),
            _ => "–".to_owned(),
        };
        writeln!(
            out,
            "| {variant} | {} | {:.0} | {} | {} | {} | {} | {} | {:.1} MiB | {} | {:.1} µs | {} | {added} |",
            ls.len(),
            rps,
            ratio(rps, floor.map(|f| f.0)),
            us(p50),
            ratio(p50, floor.map(|f| f.1)),
            us(p99),
            ratio(p99, floor.map(|f| f.2)),
            rss / 1024.0,
            ratio(rss, floor.map(|f| f.3)),
            cpu,
            ratio(cpu, floor.map(|f| f.4)),
        )?;
    }

    writeln!(out)?;
    writeln!(out, "Every repetition, in run order:")?;
    writeln!(out)?;
    writeln!(
        out,
        "| rep | variant | requests/s | p50 | p99 | peak RSS | errors | spans exported per request | context switches per request | server CPU per request |"
    )?;
    writeln!(out, "|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|")?;
    for l in &lines {
        let spans = l
            .server
            .get("spans_exported")
            .and_then(serde_json::Value::as_u64)
            .map_or("–".to_owned(), |s| {
                format!("{:.2}", s as f64 / l.load.total_requests.max(1) as f64)
            });
        let total = l.load.total_requests.max(1) as f64;
        writeln!(
            out,
            "| {} | {} | {:.0} | {} | {} | {:.1} MiB | {} | {} | {:.2} | {:.1} µs |",
            l.rep,
            l.variant,
            l.load.rps,
            us(l.load.p50_us as f64),
            us(l.load.p99_us as f64),
            l.rss_kb as f64 / 1024.0,
            l.load.errors,
            spans,
            l.ctxt_switches as f64 / total,
            l.cpu_us(),
        )?;
    }

    writeln!(out)?;
    let failed: Vec<(&Line, Vec<String>)> = lines
        .iter()
        .map(|l| (l, problems(l)))
        .filter(|(_, p)| !p.is_empty())
        .collect();
    if failed.is_empty() {
        writeln!(
            out,
            "Checks: every run answered every request; each sampled run exported exactly 3 spans per request and each unsampled run none, with nothing dropped, failed or rejected."
        )?;
    } else {
        writeln!(out, "Checks FAILED:")?;
        writeln!(out)?;
        for (l, p) in &failed {
            writeln!(out, "- rep {} {}: {}", l.rep, l.variant, p.join("; "))?;
        }
    }
    Ok((out, failed.len()))
}

fn us(v: f64) -> String {
    if v >= 10_000.0 {
        format!("{:.1} ms", v / 1000.0)
    } else {
        format!("{v:.0} µs")
    }
}
