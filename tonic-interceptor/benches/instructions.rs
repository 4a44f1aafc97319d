//! Instructions per RPC of the gRPC server and client layers, counted with `valgrind
//! --tool=callgrind`: repeatable whatever else the machine is running, unlike the wall-clock
//! figures of the `grpc` bench. Not part of CI (it needs valgrind).
//!
//! `cargo bench -p tracewire-tonic --bench instructions` runs every case under callgrind with
//! `N` and `2N` RPCs and prints the difference divided by `N`: one RPC's instructions, setup and
//! start-up cancelled out. Each RPC is the `grpc` bench's: a unary request (one message,
//! `traceparent` in the metadata) through `oneshot` on a current-thread runtime, its response
//! read to the `grpc-status: 0` trailers; the inner service is a hand-written handler (server)
//! or channel (client). Spans are sampled and dropped by the sink, so `sampled` less `bare` is
//! the layer's and the span's own cost. Name cases to run only those:
//! `cargo bench -p tracewire-tonic --bench instructions -- server`.
//!
//! `-- --cpu` measures instead the time each case's loop spent on a CPU (the scheduler's own
//! accounting), the median of seven runs, in nanoseconds per RPC.
//!
//! Run as `instructions CASE RPCS` (what the driver does under valgrind), it runs one case.

use http_body::Body;
use tower::{Layer, Service};
use tracewire::TracewireLayer;
use tracewire_tonic::{Grpc, GrpcClientLayer, GrpcServerLayer, SemconvStability};
use tracing::Dispatch;
use tracing_subscriber::layer::SubscriberExt;

use callgrind::{Discard, on_cpu_ns};
use support::{Unary, call, channel, handler, request};

#[path = "../../core/benches/support/callgrind.rs"]
mod callgrind;
#[allow(
    dead_code,
    reason = "the criterion bench's sink; this one takes the callgrind driver's"
)]
mod support;

const RPCS: u64 = 2000;
const CPU_RPCS: u64 = 200_000;

/// Runs `n` RPCs of `case`; the time the loop spent on a CPU, in nanoseconds.
fn run(case: &str, n: u64) -> Result<u64, String> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .map_err(|e| e.to_string())?;
    let dispatch = Dispatch::new(
        tracing_subscriber::registry().with(TracewireLayer::builder().build(Discard)),
    );
    let grpc = || Grpc::new().semconv(SemconvStability::Stable);
    let server_request = || request(Unary::new(false));
    // What a tonic client sends: its own body type around the message.
    let client_request = || request(tonic::body::Body::new(Unary::new(false)));
    tracing::dispatcher::with_default(&dispatch, || match case {
        "server/bare" => Ok(rpcs(&rt, &handler::<Unary>(), n, server_request)),
        "server/sampled" => {
            let svc = GrpcServerLayer::new().protocol(grpc()).layer(handler());
            Ok(rpcs(&rt, &svc, n, server_request))
        }
        "client/bare" => Ok(rpcs(&rt, &channel(), n, client_request)),
        "client/sampled" => {
            let svc = GrpcClientLayer::new().protocol(grpc()).layer(channel());
            Ok(rpcs(&rt, &svc, n, client_request))
        }
        _ => Err(format!("unknown case {case}")),
    })
}

/// `n` RPCs of `svc`, each with a request from `make`; the time they spent on a CPU.
fn rpcs<S, Req, B>(rt: &tokio::runtime::Runtime, svc: &S, n: u64, make: impl Fn() -> Req) -> u64
where
    S: Service<Req, Response = http::Response<B>> + Clone,
    S::Error: std::fmt::Debug,
    B: Body + Unpin,
{
    let start = on_cpu_ns();
    for _ in 0..n {
        call(rt, svc, make());
    }
    on_cpu_ns().saturating_sub(start)
}

const CASES: &[&str] = &[
    "server/bare",
    "server/sampled",
    "client/bare",
    "client/sampled",
];

fn main() -> Result<(), String> {
    callgrind::main(CASES, RPCS, |_| CPU_RPCS, run)
}
