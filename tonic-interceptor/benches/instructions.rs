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

use tower::Layer;
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
    tracing::dispatcher::with_default(&dispatch, || {
        let start;
        match case {
            "server/bare" => {
                let svc = handler::<Unary>();
                start = on_cpu_ns();
                for _ in 0..n {
                    call(&rt, &svc, request(Unary::new(false)));
                }
            }
            "server/sampled" => {
                let svc = GrpcServerLayer::new().protocol(grpc()).layer(handler());
                start = on_cpu_ns();
                for _ in 0..n {
                    call(&rt, &svc, request(Unary::new(false)));
                }
            }
            "client/bare" => {
                let svc = channel();
                start = on_cpu_ns();
                for _ in 0..n {
                    call(
                        &rt,
                        &svc,
                        request(tonic::body::Body::new(Unary::new(false))),
                    );
                }
            }
            "client/sampled" => {
                let svc = GrpcClientLayer::new().protocol(grpc()).layer(channel());
                start = on_cpu_ns();
                for _ in 0..n {
                    call(
                        &rt,
                        &svc,
                        request(tonic::body::Body::new(Unary::new(false))),
                    );
                }
            }
            _ => return Err(format!("unknown case {case}")),
        }
        Ok(on_cpu_ns().saturating_sub(start))
    })
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
