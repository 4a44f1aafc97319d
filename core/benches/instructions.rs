//! Instructions per operation, counted with `valgrind --tool=callgrind`: repeatable whatever else
//! the machine is running, unlike wall-clock numbers. Not part of CI (it needs valgrind).
//!
//! `cargo bench -p tracewire --bench instructions` runs every case twice under callgrind (with
//! `N` and `2N` iterations) and prints the difference divided by `N`: the instructions of one
//! iteration, setup and process start-up cancelled out. Every thread counts, so the `pipeline`
//! cases include the export worker's share. The `enter` cases enter and exit a span that already
//! exists, as middleware does on every poll; the `events` cases log one event in a span. Name
//! cases to run only those:
//! `cargo bench -p tracewire --bench instructions -- child fields3`.
//!
//! `-- --cpu` measures instead the time each case's loop spent on a CPU, from the scheduler's
//! own accounting (`/proc/thread-self/schedstat`), which excludes the time spent waiting for one:
//! the median of seven runs of 1,000,000 iterations (10,000,000 for `enter`), in nanoseconds per
//! iteration. That accounting moves in scheduler ticks (4 ms here), so a run must be long for the
//! figure to be fine: 100,000 iterations rounded every case to a multiple of 40 ns. The pipeline
//! case then counts only the calling thread.
//!
//! Run as `instructions CASE ITERATIONS` (what the driver does under valgrind), it runs one case.

use std::hint::black_box;
use std::time::Duration;

use http::header::HeaderName;
use http::{HeaderMap, HeaderValue};
use tracewire::export::{MAX_QUEUE_SIZE, Pipeline};
use tracewire::propagation::Propagators;
use tracewire::{Sampler, TracewireLayer};
use tracing::Dispatch;
use tracing_subscriber::layer::SubscriberExt;

use callgrind::{Discard, on_cpu_ns};
use headers::inbound;
use null::Null;

#[path = "support/callgrind.rs"]
mod callgrind;
#[path = "support/headers.rs"]
mod headers;
#[path = "support/null.rs"]
mod null;

const TRACEPARENT: &str = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
const ITERATIONS: u64 = 2000;

/// A layer that does nothing: what the registry costs under any layer (see `noop` below).
struct Noop;

impl<S: tracing::Subscriber> tracing_subscriber::Layer<S> for Noop {}

fn layered(sampler: Sampler) -> Dispatch {
    Dispatch::new(
        tracing_subscriber::registry()
            .with(TracewireLayer::builder().sampler(sampler).build(Discard)),
    )
}

fn dispatch(name: &str) -> Option<(Dispatch, Option<Pipeline>)> {
    Some(match name {
        "bare" => (Dispatch::new(tracing_subscriber::registry()), None),
        // A registry with no layer never frees a closed span's slot (only a layered stack's
        // close does), so it is not the floor a layer can reach: the registry under a layer
        // that does nothing is.
        "noop" => (
            Dispatch::new(tracing_subscriber::registry().with(Noop)),
            None,
        ),
        "sampled" => (layered(Sampler::AlwaysOn), None),
        "unsampled" => (layered(Sampler::AlwaysOff), None),
        "pipeline" => {
            // A queue that holds every span of a run: under valgrind the worker may not run
            // until the end, and a full queue would measure its drops instead of its exports.
            let p = Pipeline::builder()
                .queue_size(MAX_QUEUE_SIZE)
                .max_batch(512)
                .batch_timeout(Duration::from_secs(3600))
                .exporter(Null)
                .build();
            let d = Dispatch::new(
                tracing_subscriber::registry().with(
                    TracewireLayer::builder()
                        .sampler(Sampler::AlwaysOn)
                        .build(p.clone()),
                ),
            );
            (d, Some(p))
        }
        _ => return None,
    })
}

fn child() {
    let span = tracing::info_span!("child");
    let _entered = span.enter();
}

fn fields3() {
    let span = tracing::info_span!(
        "child",
        http.request.method = "GET",
        http.response.status_code = 200,
        url.path = black_box("/rides/42"),
    );
    let _entered = span.enter();
}

/// A span with one event in it, as a handler's `tracing::info!` writes it: a message and two
/// fields.
fn events() {
    let span = tracing::info_span!("child", http.request.method = "GET");
    let _entered = span.enter();
    tracing::info!(
        rider.id = black_box(42),
        zone = black_box("north"),
        "ride requested"
    );
}

/// Runs `f` `n` times; the time on a CPU it took.
fn timed(n: u64, mut f: impl FnMut()) -> u64 {
    let start = on_cpu_ns();
    for _ in 0..n {
        f();
    }
    on_cpu_ns().saturating_sub(start)
}

/// A span shaped like an HTTP server span: thirteen attributes, the name, kind and status set by
/// `otel.*` fields, and the status code recorded after creation.
fn http() {
    let span = tracing::info_span!(
        "HTTP request",
        otel.name = tracing::field::Empty,
        otel.kind = "server",
        otel.status_code = tracing::field::Empty,
        http.request.method = "GET",
        url.path = black_box("/rides/42"),
        url.scheme = "http",
        server.address = black_box("localhost"),
        server.port = 8080,
        client.address = tracing::field::display(black_box(std::net::Ipv4Addr::LOCALHOST)),
        network.protocol.version = "1.1",
        user_agent.original = black_box("curl/8.5.0"),
        http.route = "/rides/{id}",
        http.response.status_code = tracing::field::Empty,
        error.type = tracing::field::Empty,
    );
    span.record("otel.name", black_box("GET /rides/{id}"));
    let entered = span.enter();
    span.record("http.response.status_code", 200);
    drop(entered);
}

/// Enters and exits a span that already exists: what middleware pays on every poll of a
/// request's future and body.
fn enter(span: &tracing::Span) {
    let _entered = black_box(span).enter();
}

/// Runs `case` `n` times; the time its loop spent on a CPU, in nanoseconds.
fn run(case: &str, n: u64) -> Result<u64, String> {
    let (kind, sub) = case.split_once('/').unwrap_or((case, ""));
    let spent;
    match kind {
        "child" | "fields3" | "root" | "http" | "events" => {
            let (d, pipeline) = dispatch(sub).ok_or_else(|| format!("unknown subscriber {sub}"))?;
            spent = tracing::dispatcher::with_default(&d, || {
                let cycle: fn() = match kind {
                    "fields3" => fields3,
                    "http" => http,
                    "events" => events,
                    _ => child,
                };
                if kind == "root" {
                    timed(n, cycle)
                } else {
                    let parent = tracing::info_span!("parent");
                    let _p = parent.enter();
                    timed(n, cycle)
                }
            });
            if let Some(p) = pipeline {
                p.shutdown(Duration::from_secs(60))
                    .map_err(|e| e.to_string())?;
                let stats = p.stats();
                if stats.dropped != 0 || stats.exported < n {
                    return Err(format!("{case}: {stats:?} for {n} spans"));
                }
            }
        }
        "enter" => {
            let (d, pipeline) = dispatch(sub).ok_or_else(|| format!("unknown subscriber {sub}"))?;
            spent = tracing::dispatcher::with_default(&d, || {
                let parent = tracing::info_span!("parent");
                let _p = parent.enter();
                let span = tracing::info_span!("polled", http.request.method = "GET");
                timed(n, || enter(&span))
            });
            drop(pipeline);
        }
        "clock_system" => {
            spent = timed(n, || {
                black_box(std::time::SystemTime::now());
            });
        }
        "clock_instant" => {
            spent = timed(n, || {
                black_box(std::time::Instant::now());
            });
        }
        // The baseline: `value` is a `from_static` value, so its clone copies a pointer and
        // allocates nothing; a hashed insert plus a hashed `get`.
        "headermap_insert_get" => {
            let name = HeaderName::from_static("traceparent");
            let value = HeaderValue::from_static(TRACEPARENT);
            let mut out = HeaderMap::new();
            spent = timed(n, || {
                out.insert(name.clone(), black_box(value.clone()));
                black_box(out.get("traceparent").map(HeaderValue::len));
            });
        }
        // The same with the value built from bytes, as an injector must (validate, allocate,
        // copy).
        "headermap_from_bytes" => {
            let name = HeaderName::from_static("traceparent");
            let mut out = HeaderMap::new();
            spent = timed(n, || {
                let v = HeaderValue::from_bytes(black_box(TRACEPARENT.as_bytes()));
                out.insert(name.clone(), v.expect("a valid value"));
                black_box(out.get("traceparent").map(HeaderValue::len));
            });
        }
        "extract_inject" | "extract_inject_10" | "extract_inject_300" => {
            let extra = kind
                .strip_prefix("extract_inject_")
                .map_or(Ok(0), str::parse);
            let inbound = inbound(TRACEPARENT, extra.map_err(|e| format!("{case}: {e}"))?);
            let w3c = Propagators::w3c();
            let mut out = HeaderMap::new();
            spent = timed(n, || {
                let cx = w3c.extract(black_box(&inbound)).unwrap_or_default();
                w3c.inject(&cx, &mut out);
            });
        }
        _ => return Err(format!("unknown case {case}")),
    }
    Ok(spent)
}

const CASES: &[&str] = &[
    "child/bare",
    "child/noop",
    "child/unsampled",
    "child/sampled",
    "fields3/bare",
    "fields3/noop",
    "fields3/unsampled",
    "fields3/sampled",
    "fields3/pipeline",
    "http/noop",
    "http/unsampled",
    "http/sampled",
    "events/bare",
    "events/noop",
    "events/sampled",
    "events/pipeline",
    "enter/bare",
    "enter/noop",
    "enter/unsampled",
    "enter/sampled",
    "root/bare",
    "root/noop",
    "root/unsampled",
    "root/sampled",
    "headermap_insert_get",
    "headermap_from_bytes",
    "extract_inject",
    "extract_inject_10",
    "extract_inject_300",
    "clock_system",
    "clock_instant",
];

/// Iterations of one `--cpu` run: enough for a run to outlast the scheduler's 4 ms accounting
/// tick many times over; entering takes a few nanoseconds, so it runs ten times as many.
fn cpu_iterations(case: &str) -> u64 {
    if case.starts_with("enter") {
        10_000_000
    } else {
        1_000_000
    }
}

fn main() -> Result<(), String> {
    callgrind::main(CASES, ITERATIONS, cpu_iterations, run)
}
