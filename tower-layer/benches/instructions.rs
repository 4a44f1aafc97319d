//! Instructions per request of the HTTP server and client layers, counted with `valgrind --tool=callgrind`:
//! repeatable whatever else the machine is running, unlike wall-clock numbers. Not part of CI
//! (it needs valgrind).
//!
//! `cargo bench -p tracewire-tower --bench instructions` runs every case under callgrind with
//! `N` and `2N` requests and prints the difference divided by `N`: one request's instructions,
//! setup and start-up cancelled out. Each request is what a server sees from axum: a `GET` with
//! `Host`, `User-Agent` and `traceparent` headers, the peer's `SocketAddr` and the matched
//! route in its extensions. It is called and its response body drained inline (the inner
//! service is immediately ready). Finished spans go to a sink that drops them, so the figures
//! are the layer's and the span's own cost. The `client/` cases do the same through
//! `HttpClientLayer`: an outbound `GET` with an absolute URI, each call inside a sampled or
//! unsampled parent context (`tracewire::scope`, which `client/bare` pays as well). Name cases
//! to run only those:
//! `cargo bench -p tracewire-tower --bench instructions -- unsampled`.
//!
//! `-- --cpu` measures instead the time each case's request loop spent on a CPU, from the
//! scheduler's own accounting (`/proc/thread-self/schedstat`), which excludes the time spent
//! waiting for one: the median of seven runs of 1,000,000 requests, in nanoseconds per request.
//! Building each request is part of the loop (as it is of the instruction counts), so compare a
//! case with "bare" from the same run.
//!
//! Run as `instructions CASE REQUESTS` (what the driver does under valgrind), it runs one case.

use std::net::SocketAddr;

use bytes::Bytes;
use http::{Request, Response};
use http_body::Body;
use http_body_util::Full;
use tower::{Layer, Service};
use tracewire::{TraceFlags, TracewireLayer};
use tracewire_tower::{HttpClientLayer, HttpRoute, HttpServerLayer};
use tracing::Dispatch;
use tracing_subscriber::EnvFilter;
use tracing_subscriber::layer::SubscriberExt;

use callgrind::{Discard, on_cpu_ns};
use support::{block, drain, handler, parent};

#[path = "../../core/benches/support/callgrind.rs"]
mod callgrind;
mod support;

const SAMPLED: &str = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
const UNSAMPLED: &str = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00";
const REQUESTS: u64 = 2000;
/// Requests per `--cpu` run: the scheduler accounts a running thread's time in 4 ms ticks, so
/// 100,000 requests of ~1 µs rounded every case to a multiple of 40 ns.
const CPU_REQUESTS: u64 = 1_000_000;

fn request(traceparent: &'static str) -> Request<Full<Bytes>> {
    let mut req = Request::get("/users/7")
        .header("host", "api.local:8080")
        .header("user-agent", "bench/1.0")
        .header("traceparent", traceparent)
        .body(Full::new(Bytes::new()))
        .unwrap();
    req.extensions_mut()
        .insert(SocketAddr::from(([192, 168, 10, 23], 51234)));
    req.extensions_mut().insert(HttpRoute::new("/users/{id}"));
    req
}

fn call<S, B>(svc: &mut S, req: Request<Full<Bytes>>)
where
    S: Service<Request<Full<Bytes>>, Response = Response<B>>,
    S::Error: std::fmt::Debug,
    B: Body,
{
    let res = block(svc.call(req)).unwrap();
    drain(res.into_body());
}

/// An outbound call as a client layer sees it: an absolute URI, no headers.
fn outbound() -> Request<Full<Bytes>> {
    Request::get("http://ranking.local:8080/rank?city=paris")
        .body(Full::new(Bytes::new()))
        .unwrap()
}

/// Runs `n` requests of `case`; the time the request loop spent on a CPU, in nanoseconds.
fn run(case: &str, n: u64) -> Result<u64, String> {
    let layered = tracing_subscriber::registry().with(TracewireLayer::builder().build(Discard));
    if let Some(client_case) = case.strip_prefix("client/") {
        // Each call runs in the parent's scope, with or without the layer.
        let (cx, traced) = match client_case {
            "bare" => (parent(TraceFlags::SAMPLED), false),
            "sampled" => (parent(TraceFlags::SAMPLED), true),
            "unsampled" => (parent(TraceFlags::NONE), true),
            _ => return Err(format!("unknown case {case}")),
        };
        return Ok(tracing::dispatcher::with_default(
            &Dispatch::new(layered),
            || {
                let start;
                if traced {
                    let mut svc = HttpClientLayer::new().layer(handler());
                    start = on_cpu_ns();
                    for _ in 0..n {
                        tracewire::scope(cx.clone(), || call(&mut svc, outbound()));
                    }
                } else {
                    let mut svc = handler();
                    start = on_cpu_ns();
                    for _ in 0..n {
                        tracewire::scope(cx.clone(), || call(&mut svc, outbound()));
                    }
                }
                on_cpu_ns().saturating_sub(start)
            },
        ));
    }
    let (dispatch, traceparent, traced) = match case {
        "bare" => (Dispatch::new(layered), SAMPLED, false),
        "sampled" => (Dispatch::new(layered), SAMPLED, true),
        "unsampled" => (Dispatch::new(layered), UNSAMPLED, true),
        "disabled" => (
            Dispatch::new(layered.with(EnvFilter::new("info,tracewire_tower=off"))),
            SAMPLED,
            true,
        ),
        _ => return Err(format!("unknown case {case}")),
    };
    let spent = tracing::dispatcher::with_default(&dispatch, || {
        let start;
        if traced {
            let mut svc = HttpServerLayer::new().layer(handler());
            start = on_cpu_ns();
            for _ in 0..n {
                call(&mut svc, request(traceparent));
            }
        } else {
            let mut svc = handler();
            start = on_cpu_ns();
            for _ in 0..n {
                call(&mut svc, request(traceparent));
            }
        }
        on_cpu_ns().saturating_sub(start)
    });
    Ok(spent)
}

const CASES: &[&str] = &[
    "bare",
    "sampled",
    "unsampled",
    "disabled",
    "client/bare",
    "client/sampled",
    "client/unsampled",
];

fn main() -> Result<(), String> {
    // A request takes over a microsecond, so 100,000 of them outlast the scheduler's 4 ms
    // accounting tick 25 times over.
    callgrind::main(CASES, REQUESTS, |_| CPU_REQUESTS, run)
}
