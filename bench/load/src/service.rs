//! The two-hop service in its variants: four compared, three diagnostic.
//!
//! | variant | server layer (both hops) | client (front → back) | subscriber |
//! |---|---|---|---|
//! | `floor` | none | hyper-util | none installed |
//! | `tower-http` | `TraceLayer::new_for_http()` | hyper-util, no propagation | registry |
//! | `otel` | `OtelAxumLayer` (extracts W3C context) | hyper-util in a `CLIENT` span, W3C context injected by the global propagator | registry + `tracing-opentelemetry`, `opentelemetry_sdk` batch processor, always-on sampler |
//! | `tracewire` | `tracewire_axum::layer()` | `tracewire_hyper::Client` | registry + `TracewireLayer`, always-on sampler, pipeline into the in-process collector |
//! | `otel-off` | as `otel` | as `otel` | as `otel`, always-off sampler (context still propagated) |
//! | `tracewire-off` | as `tracewire` | as `tracewire` | as `tracewire`, always-off sampler (context still propagated) |
//! | `tracewire-null` | as `tracewire` | as `tracewire` | as `tracewire`, but the pipeline's exporter discards the batches |
//! | `tracewire-tick` | as `tracewire` | as `tracewire` | as `tracewire`, but spans go to [`TickSink`] instead of the `Pipeline` |
//!
//! The last three are not in the default run; they are diagnostics that split tracewire's cost
//! between recording spans, handing them to the export thread and storing them in the
//! collector. `tracewire-tick` is not what tracewire ships: it shows what the hand-off to the
//! export thread costs when the producer never wakes the consumer.
//!
//! Every traced variant gets the same global filter: `info`, plus `tower_http=debug` (where
//! `TraceLayer` puts its spans and events) and `otel::tracing=trace` (where
//! `axum-tracing-opentelemetry` puts its spans). It keeps hyper-util's per-request `trace!`
//! events out of every variant alike. No variant has a fmt layer: nothing is printed per
//! request.
//!
//! Both exporters keep what they receive in memory, bounded alike: the collector store holds
//! the newest [`RETAINED_SPANS`] spans (indexed and searchable), the OpenTelemetry exporter the
//! newest [`RETAINED_SPANS`] `SpanData` in a ring (`--retained` sets another bound for both, so
//! a short run, e.g. under callgrind, can reach the steady state where each new span evicts an
//! old one). Both queues hold [`QUEUE_SPANS`] spans.
//!
//! Both hops run on the calling thread's current-thread runtime, so when the process is
//! pinned to one core the service, the exporter threads and the collector's writer all share
//! that core.

use std::collections::VecDeque;
use std::io::Write;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU32, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::get;
use bytes::Bytes;
use http::{Request, Uri};
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use tokio::net::TcpListener;
use tracing::Instrument;
use tracing::level_filters::LevelFilter;
use tracing_subscriber::filter::Targets;
use tracing_subscriber::layer::SubscriberExt;

use crate::BoxError;

/// Spans each exporter keeps in memory.
pub const RETAINED_SPANS: usize = 100_000;

/// The bound in force: [`RETAINED_SPANS`] unless `--retained` set another.
static RETAINED: AtomicUsize = AtomicUsize::new(RETAINED_SPANS);

fn retained() -> usize {
    RETAINED.load(Ordering::Relaxed)
}
/// Spans each export queue holds.
pub const QUEUE_SPANS: usize = 65_536;

/// The back hop's answer.
const BODY: &str = "{\"fare\":11.5,\"surge\":1.0,\"currency\":\"EUR\",\"eta_s\":240}";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Variant {
    Floor,
    TowerHttp,
    Otel,
    OtelOff,
    Tracewire,
    TracewireOff,
    TracewireNull,
    TracewireTick,
}

impl Variant {
    /// Spans each request must export: one per hop and one for the client call when sampled,
    /// none when not; `None` for the variants with no tracing pipeline to count. Stated in the
    /// `STATS` line, where the report checks it.
    fn spans_per_request(self) -> Option<u64> {
        match self {
            Variant::Otel
            | Variant::Tracewire
            | Variant::TracewireNull
            | Variant::TracewireTick => Some(3),
            Variant::OtelOff | Variant::TracewireOff => Some(0),
            Variant::Floor | Variant::TowerHttp => None,
        }
    }

    pub fn parse(s: &str) -> Result<Self, BoxError> {
        Ok(match s {
            "floor" => Variant::Floor,
            "tower-http" => Variant::TowerHttp,
            "otel" => Variant::Otel,
            "otel-off" => Variant::OtelOff,
            "tracewire" => Variant::Tracewire,
            "tracewire-off" => Variant::TracewireOff,
            "tracewire-null" => Variant::TracewireNull,
            "tracewire-tick" => Variant::TracewireTick,
            _ => return Err(format!("unknown variant {s:?}").into()),
        })
    }
}

type HttpClient = hyper_util::client::legacy::Client<HttpConnector, Full<Bytes>>;

fn http_client() -> HttpClient {
    hyper_util::client::legacy::Client::builder(TokioExecutor::new()).build_http()
}

/// How the front hop calls the back hop.
#[derive(Clone)]
enum Upstream {
    Plain(HttpClient),
    Otel(HttpClient),
    Tracewire(tracewire_hyper::Client),
}

impl Upstream {
    async fn fetch(&self, uri: Uri) -> Result<Bytes, BoxError> {
        match self {
            Upstream::Plain(client) => {
                let req = Request::get(uri).body(Full::default())?;
                let res = client.request(req).await?;
                Ok(res.into_body().collect().await?.to_bytes())
            }
            Upstream::Otel(client) => {
                use tracing_opentelemetry::OpenTelemetrySpanExt as _;
                let host = uri.host().unwrap_or_default().to_owned();
                let port = uri.port_u16().unwrap_or(80);
                let span = tracing::info_span!(
                    "GET",
                    otel.kind = "client",
                    http.request.method = "GET",
                    server.address = %host,
                    server.port = port,
                    url.full = %uri,
                    http.response.status_code = tracing::field::Empty,
                );
                let mut req = Request::get(uri).body(Full::default())?;
                tracing_opentelemetry_instrumentation_sdk::http::inject_context(
                    &span.context(),
                    req.headers_mut(),
                );
                let call = async {
                    let res = client.request(req).await?;
                    tracing::Span::current()
                        .record("http.response.status_code", res.status().as_u16());
                    Ok(res.into_body().collect().await?.to_bytes())
                };
                call.instrument(span).await
            }
            Upstream::Tracewire(client) => {
                let res = client.get(uri).await?;
                Ok(res.into_body().collect().await?.to_bytes())
            }
        }
    }
}

#[derive(Clone)]
struct Front {
    upstream: Upstream,
    back: Uri,
}

async fn front(State(f): State<Front>) -> Result<Bytes, (StatusCode, String)> {
    f.upstream
        .fetch(f.back.clone())
        .await
        .map_err(|e| (StatusCode::BAD_GATEWAY, e.to_string()))
}

/// Events the back hop's handler logs per request (`--events`; none by default). A static, not
/// the router's state, so that the handler is the same as without the option.
static EVENTS: AtomicU32 = AtomicU32::new(0);

/// The back hop's handler: logs [`EVENTS`] events, as a handler's `tracing::info!` would, then
/// answers.
async fn work() -> &'static str {
    for attempt in 0..EVENTS.load(Ordering::Relaxed) {
        tracing::info!(attempt, zone = "north", "ride quote computed");
    }
    BODY
}

/// An OpenTelemetry exporter that keeps the newest spans in memory, like the collector store
/// does on the tracewire side.
#[derive(Debug, Clone, Default)]
struct RingExporter {
    spans: Arc<Mutex<VecDeque<opentelemetry_sdk::trace::SpanData>>>,
    exported: Arc<AtomicU64>,
}

impl opentelemetry_sdk::trace::SpanExporter for RingExporter {
    async fn export(
        &self,
        batch: Vec<opentelemetry_sdk::trace::SpanData>,
    ) -> opentelemetry_sdk::error::OTelSdkResult {
        self.exported
            .fetch_add(batch.len() as u64, Ordering::Relaxed);
        let mut ring = self.spans.lock().unwrap_or_else(|p| p.into_inner());
        for span in batch {
            while ring.len() >= retained() {
                ring.pop_front();
            }
            ring.push_back(span);
        }
        Ok(())
    }
}

/// A tracewire exporter that discards every batch.
struct NullExporter;

impl tracewire::export::SpanExporter for NullExporter {
    fn export(
        &mut self,
        _batch: &[tracewire::SpanData],
        _resource: &tracewire::Resource,
    ) -> Result<(), tracewire::ExportError> {
        Ok(())
    }
}

/// A span sink that never wakes its consumer: the request path appends to a bounded buffer
/// under a lock, and a thread takes the whole buffer every [`TickSink::TICK`] and exports it in
/// batches of 512.
struct TickSink {
    buffer: Arc<Mutex<Vec<tracewire::SpanData>>>,
}

impl TickSink {
    const TICK: Duration = Duration::from_millis(10);

    fn start(mut exporter: impl tracewire::export::SpanExporter) -> Self {
        let buffer: Arc<Mutex<Vec<tracewire::SpanData>>> = Arc::default();
        let shared = buffer.clone();
        let resource = tracewire::Resource::new("tracewire-load");
        std::thread::spawn(move || {
            let _none = tracing::dispatcher::set_default(&tracing::Dispatch::none());
            let mut taken = Vec::new();
            loop {
                std::thread::sleep(Self::TICK);
                std::mem::swap(
                    &mut taken,
                    &mut *shared.lock().unwrap_or_else(|p| p.into_inner()),
                );
                for batch in taken.chunks(512) {
                    let _ = exporter.export(batch, &resource);
                }
                taken.clear();
            }
        });
        TickSink { buffer }
    }
}

impl tracewire::export::SpanSink for TickSink {
    fn on_end(&self, span: tracewire::SpanData) {
        let mut buffer = self.buffer.lock().unwrap_or_else(|p| p.into_inner());
        if buffer.len() < QUEUE_SPANS {
            buffer.push(span);
        }
    }
}

/// The same filter for every traced variant.
fn filter() -> Targets {
    Targets::new()
        .with_default(LevelFilter::INFO)
        .with_target("tower_http", LevelFilter::DEBUG)
        .with_target("otel::tracing", LevelFilter::TRACE)
}

/// What the variant installed, to report on and flush at the end.
enum Telemetry {
    None,
    Otel {
        provider: opentelemetry_sdk::trace::SdkTracerProvider,
        exporter: RingExporter,
    },
    Tracewire {
        pipeline: tracewire::export::Pipeline,
        store: tracewire_collector::TraceStore,
    },
}

fn install(variant: Variant) -> Result<Telemetry, BoxError> {
    match variant {
        Variant::Floor => Ok(Telemetry::None),
        Variant::TowerHttp => {
            tracing::subscriber::set_global_default(tracing_subscriber::registry().with(filter()))?;
            Ok(Telemetry::None)
        }
        Variant::Otel | Variant::OtelOff => {
            use opentelemetry::propagation::TextMapCompositePropagator;
            use opentelemetry::trace::TracerProvider as _;
            use opentelemetry_sdk::propagation::{BaggagePropagator, TraceContextPropagator};
            use opentelemetry_sdk::trace::{
                BatchConfigBuilder, BatchSpanProcessor, Sampler, SdkTracerProvider,
            };

            // The OpenTelemetry default, `OTEL_PROPAGATORS=tracecontext,baggage`, as tracewire's.
            opentelemetry::global::set_text_map_propagator(TextMapCompositePropagator::new(vec![
                Box::new(TraceContextPropagator::new()),
                Box::new(BaggagePropagator::new()),
            ]));
            let exporter = RingExporter::default();
            let processor = BatchSpanProcessor::builder(exporter.clone())
                .with_batch_config(
                    BatchConfigBuilder::default()
                        .with_max_queue_size(QUEUE_SPANS)
                        .build(),
                )
                .build();
            let provider = SdkTracerProvider::builder()
                .with_sampler(if variant == Variant::OtelOff {
                    Sampler::AlwaysOff
                } else {
                    Sampler::AlwaysOn
                })
                .with_span_processor(processor)
                .with_resource(
                    opentelemetry_sdk::Resource::builder()
                        .with_service_name("tracewire-load")
                        .build(),
                )
                .build();
            let tracer = provider.tracer("tracewire-load");
            tracing::subscriber::set_global_default(
                tracing_subscriber::registry()
                    .with(tracing_opentelemetry::layer().with_tracer(tracer))
                    .with(filter()),
            )?;
            Ok(Telemetry::Otel { provider, exporter })
        }
        Variant::Tracewire
        | Variant::TracewireOff
        | Variant::TracewireNull
        | Variant::TracewireTick => {
            let store = tracewire_collector::Collector::builder()
                .max_spans(retained())
                .build_store();
            let pipeline = tracewire::export::Pipeline::builder()
                .resource(tracewire::Resource::new("tracewire-load"))
                .queue_size(QUEUE_SPANS);
            let pipeline = if variant == Variant::TracewireNull {
                pipeline.exporter(NullExporter)
            } else {
                pipeline.exporter(store.in_process_exporter())
            }
            .build();
            let sampler = if variant == Variant::TracewireOff {
                tracewire::Sampler::AlwaysOff
            } else {
                tracewire::Sampler::AlwaysOn
            };
            let builder = tracewire::TracewireLayer::builder().sampler(sampler);
            let layer = if variant == Variant::TracewireTick {
                builder.build(TickSink::start(store.in_process_exporter()))
            } else {
                builder.build(pipeline.clone())
            };
            tracing::subscriber::set_global_default(
                tracing_subscriber::registry().with(layer).with(filter()),
            )?;
            Ok(Telemetry::Tracewire { pipeline, store })
        }
    }
}

fn router(variant: Variant, router: Router) -> Router {
    match variant {
        Variant::Floor => router,
        Variant::TowerHttp => router.layer(tower_http::trace::TraceLayer::new_for_http()),
        Variant::Otel | Variant::OtelOff => {
            router.layer(axum_tracing_opentelemetry::middleware::OtelAxumLayer::default())
        }
        Variant::Tracewire
        | Variant::TracewireOff
        | Variant::TracewireNull
        | Variant::TracewireTick => router.layer(tracewire_axum::layer()),
    }
}

/// Runs the service until SIGTERM or SIGINT, then flushes the exporters and prints one JSON
/// line with what they received. The back hop's handler logs `events` events per request.
pub fn serve(variant: Variant, port: u16, events: u32, retained: usize) -> Result<(), BoxError> {
    EVENTS.store(events, Ordering::Relaxed);
    RETAINED.store(retained.max(1), Ordering::Relaxed);
    let telemetry = install(variant)?;
    let upstream = match variant {
        Variant::Floor | Variant::TowerHttp => Upstream::Plain(http_client()),
        Variant::Otel | Variant::OtelOff => Upstream::Otel(http_client()),
        Variant::Tracewire
        | Variant::TracewireOff
        | Variant::TracewireNull
        | Variant::TracewireTick => Upstream::Tracewire(tracewire_hyper::Client::new()),
    };
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    rt.block_on(async move {
        let back_port = port
            .checked_add(1)
            .ok_or("--port must leave room for the back hop")?;
        let front_listener = TcpListener::bind(SocketAddr::from(([127, 0, 0, 1], port))).await?;
        let back_listener =
            TcpListener::bind(SocketAddr::from(([127, 0, 0, 1], back_port))).await?;
        let back = router(variant, Router::new().route("/work", get(work)));
        let front_app = router(
            variant,
            Router::new().route("/", get(front)).with_state(Front {
                upstream,
                back: format!("http://127.0.0.1:{back_port}/work").parse()?,
            }),
        );
        println!("READY {port}");
        std::io::stdout().flush()?;
        let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
        tokio::select! {
            r = axum::serve(front_listener, front_app) => r?,
            r = axum::serve(back_listener, back) => r?,
            _ = term.recv() => {}
            _ = tokio::signal::ctrl_c() => {}
        }
        Ok::<_, BoxError>(())
    })?;
    drop(rt);

    let stats = match telemetry {
        Telemetry::None => serde_json::json!({ "variant": format!("{variant:?}") }),
        Telemetry::Otel { provider, exporter } => {
            let flushed = provider.force_flush().is_ok();
            serde_json::json!({
                "variant": format!("{variant:?}"),
                "flushed": flushed,
                "spans_per_request": variant.spans_per_request(),
                "spans_exported": exporter.exported.load(Ordering::Relaxed),
            })
        }
        Telemetry::Tracewire { pipeline, store } => {
            let flushed = pipeline.flush(Duration::from_secs(10)).is_ok();
            if variant == Variant::TracewireTick {
                std::thread::sleep(TickSink::TICK * 3);
            }
            store.flush_blocking();
            let p = pipeline.stats();
            let s = store.stats();
            let exported = if variant == Variant::TracewireTick {
                s.stored_total
            } else {
                p.exported
            };
            serde_json::json!({
                "variant": format!("{variant:?}"),
                "flushed": flushed,
                "spans_per_request": variant.spans_per_request(),
                "spans_exported": exported,
                "spans_dropped": p.dropped,
                "spans_failed": p.failed,
                "stored_total": s.stored_total,
                "rejected": s.rejected,
                "store_bytes": s.bytes,
                "store_spans": s.spans,
                "store_traces": s.traces,
                "store_strings": s.strings,
                "ingest_queue_max_bytes": s.max_queue_bytes,
            })
        }
    };
    println!("STATS {stats}");
    Ok(())
}
