//! The whole chain over real sockets in one test process:
//!
//! ```text
//! client ──HTTP──▶ gateway (axum) ──gRPC──▶ dispatch (tonic) ──HTTP (traced hyper client)──▶ ranking (axum)
//!                     └──────HTTP (traced hyper client, in parallel)──▶ pricing (axum)
//! ```
//!
//! Each service runs on its own thread with its own current-thread runtime and its own
//! `tracing` dispatcher, so each has its own `service.name`; all export to one collector store.
//! The tests assert one trace id everywhere, the exact parent chain, kinds, names, attributes,
//! statuses, the collector's critical path and service map — and, with every span disabled by a
//! filter, that the trace id still propagates end to end; and that B3 and Jaeger callers and W3C
//! baggage get through.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::extract::State;
use axum::routing::{get, post};
use bytes::Bytes;
use http::HeaderMap;
use http_body_util::{BodyExt, Full};
use tokio::net::TcpListener;
use tonic::transport::{Channel, Server};
use tracewire::export::Pipeline;
use tracewire::propagation::Propagators;
use tracewire::{Resource, SpanId, SpanKind, TraceId, TracewireLayer};
use tracewire_collector::analysis::{AnalysisSpan, ServiceMapBuilder, critical_path};
use tracewire_collector::{Collector, Span, TraceStore};
use tracewire_tests::echo::echo_client::EchoClient;
use tracewire_tests::echo::echo_server::{Echo, EchoServer};
use tracewire_tests::echo::{EchoRequest, EchoResponse};
use tracing::Dispatch;
use tracing_subscriber::layer::SubscriberExt;

const TRACE: u128 = 0x0af7651916cd43dd8448eb211c80319c;
const CALLER: u64 = 0xb7ad6b7169203331;

/// Inbound headers seen by a service, by path.
type Seen = Arc<Mutex<HashMap<&'static str, HeaderMap>>>;

/// One service: its address and its export pipeline. The thread stops when the test ends.
struct Service {
    addr: SocketAddr,
    pipeline: Pipeline,
}

/// Starts a service on its own thread with its own dispatcher and `service.name`.
fn start<F, Fut>(name: &'static str, store: &TraceStore, spans_off: bool, serve: F) -> Service
where
    F: FnOnce(TcpListener) -> Fut + Send + 'static,
    Fut: std::future::Future<Output = ()>,
{
    let pipeline = Pipeline::builder()
        .resource(Resource::new(name))
        .batch_timeout(Duration::from_millis(20))
        .exporter(store.in_process_exporter())
        .build();
    let layer = TracewireLayer::builder().build(pipeline.clone());
    // `info` is what `tracewire::init()` enables by default (h2 and hyper trace their internals
    // at lower levels); `off` is `RUST_LOG=off`.
    let filter = if spans_off { "off" } else { "info" };
    let dispatch = Dispatch::new(
        tracing_subscriber::registry()
            .with(layer)
            .with(tracing_subscriber::EnvFilter::new(filter)),
    );
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _default = tracing::dispatcher::set_default(&dispatch);
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async move {
            let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
            tx.send(listener.local_addr().unwrap()).unwrap();
            serve(listener).await;
        });
    });
    Service {
        addr: rx.recv_timeout(Duration::from_secs(10)).unwrap(),
        pipeline,
    }
}

fn record(seen: &Seen, path: &'static str, headers: &HeaderMap) {
    seen.lock().unwrap().insert(path, headers.clone());
}

async fn serve_axum(listener: TcpListener, router: Router) {
    axum::serve(listener, router).await.unwrap();
}

// --- the services ------------------------------------------------------------------------------

/// A service answering `router`'s routes behind the tracewire axum layer.
fn axum_service(name: &'static str, store: &TraceStore, off: bool, router: Router) -> Service {
    start(name, store, off, move |l| {
        serve_axum(l, router.layer(tracewire_axum::layer()))
    })
}

fn ranking(store: &TraceStore, off: bool, seen: Seen) -> Service {
    let rank = post(|State(seen): State<Seen>, headers: HeaderMap| async move {
        record(&seen, "/rank", &headers);
        // Long enough that this branch, not pricing, is the critical path.
        tokio::time::sleep(Duration::from_millis(40)).await;
        "[\"car-1\"]"
    });
    let router = Router::new().route("/rank", rank).with_state(seen);
    axum_service("ranking", store, off, router)
}

fn pricing(store: &TraceStore, off: bool, seen: Seen) -> Service {
    let price = get(|State(seen): State<Seen>, headers: HeaderMap| async move {
        record(&seen, "/price", &headers);
        "12.50"
    });
    let router = Router::new().route("/price", price).with_state(seen);
    axum_service("pricing", store, off, router)
}

struct Dispatcher {
    ranking: SocketAddr,
    http: tracewire_hyper::Client,
    seen: Seen,
}

#[tonic::async_trait]
impl Echo for Dispatcher {
    async fn unary_echo(
        &self,
        request: tonic::Request<EchoRequest>,
    ) -> Result<tonic::Response<EchoResponse>, tonic::Status> {
        record(
            &self.seen,
            "dispatch",
            &request.metadata().clone().into_headers(),
        );
        let req = http::Request::post(format!("http://{}/rank", self.ranking))
            .body(Full::new(Bytes::from_static(b"{}")))
            .unwrap();
        let res = self
            .http
            .request(req)
            .await
            .map_err(|e| tonic::Status::unavailable(e.to_string()))?;
        let body = res.into_body().collect().await.unwrap().to_bytes();
        Ok(tonic::Response::new(EchoResponse {
            message: String::from_utf8_lossy(&body).into_owned(),
            received: 1,
        }))
    }

    async fn client_streaming_echo(
        &self,
        _: tonic::Request<tonic::Streaming<EchoRequest>>,
    ) -> Result<tonic::Response<EchoResponse>, tonic::Status> {
        Err(tonic::Status::unimplemented("unused"))
    }

    type ServerStreamingEchoStream =
        tokio_stream::Iter<std::vec::IntoIter<Result<EchoResponse, tonic::Status>>>;

    async fn server_streaming_echo(
        &self,
        _: tonic::Request<EchoRequest>,
    ) -> Result<tonic::Response<Self::ServerStreamingEchoStream>, tonic::Status> {
        Err(tonic::Status::unimplemented("unused"))
    }

    type BidiStreamingEchoStream =
        tokio_stream::Iter<std::vec::IntoIter<Result<EchoResponse, tonic::Status>>>;

    async fn bidi_streaming_echo(
        &self,
        _: tonic::Request<tonic::Streaming<EchoRequest>>,
    ) -> Result<tonic::Response<Self::BidiStreamingEchoStream>, tonic::Status> {
        Err(tonic::Status::unimplemented("unused"))
    }
}

fn dispatch(store: &TraceStore, off: bool, ranking: SocketAddr, seen: Seen) -> Service {
    start("dispatch", store, off, move |l| async move {
        let svc = Dispatcher {
            ranking,
            http: tracewire_hyper::Client::new(),
            seen,
        };
        Server::builder()
            .layer(tracewire_tonic::GrpcServerLayer::new())
            .add_service(EchoServer::new(svc))
            .serve_with_incoming(tokio_stream::wrappers::TcpListenerStream::new(l))
            .await
            .unwrap();
    })
}

#[derive(Clone)]
struct Gateway {
    dispatch: EchoClient<tracewire_tonic::GrpcClient<Channel>>,
    pricing: SocketAddr,
    http: tracewire_hyper::Client,
}

fn gateway(
    store: &TraceStore,
    off: bool,
    propagators: Propagators,
    dispatch: SocketAddr,
    pricing: SocketAddr,
) -> Service {
    start("gateway", store, off, move |l| async move {
        let endpoint = Channel::from_shared(format!("http://{dispatch}")).unwrap();
        let state = Gateway {
            dispatch: EchoClient::new(tracewire_tonic::connect_lazy(&endpoint)),
            pricing,
            http: tracewire_hyper::Client::new(),
        };
        let router = Router::new()
            .route(
                "/ride",
                get(|State(g): State<Gateway>| async move {
                    let mut d = g.dispatch.clone();
                    let uri = format!("http://{}/price", g.pricing).parse().unwrap();
                    // The pricing body is read inside the join: its client span ends with the
                    // body, so reading it later would (rightly) stretch that span.
                    let price = async {
                        let res = g.http.get(uri).await.unwrap();
                        res.into_body().collect().await.unwrap().to_bytes()
                    };
                    let (cars, price) = tokio::join!(
                        d.unary_echo(EchoRequest {
                            message: "nearby".into(),
                            ..Default::default()
                        }),
                        price,
                    );
                    let cars = cars.unwrap().into_inner().message;
                    format!("{cars} {}", String::from_utf8_lossy(&price))
                }),
            )
            .with_state(state)
            .layer(tracewire_axum::layer().propagators(propagators));
        serve_axum(l, router).await;
    })
}

// --- the harness -------------------------------------------------------------------------------

struct Ride {
    store: TraceStore,
    services: Vec<Service>,
    gateway: SocketAddr,
    seen: Seen,
}

fn ride(off: bool, gateway_propagators: Propagators) -> Ride {
    let store = Collector::builder().build_store();
    let seen: Seen = Arc::default();
    let ranking = ranking(&store, off, seen.clone());
    let pricing = pricing(&store, off, seen.clone());
    let dispatch = dispatch(&store, off, ranking.addr, seen.clone());
    let gateway = gateway(
        &store,
        off,
        gateway_propagators,
        dispatch.addr,
        pricing.addr,
    );
    Ride {
        gateway: gateway.addr,
        store,
        services: vec![gateway, dispatch, pricing, ranking],
        seen,
    }
}

impl Ride {
    /// Sends `GET /ride` with `headers` and waits for every service's spans to be stored.
    fn call(&self, headers: &[(&str, &str)]) -> String {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let body = rt.block_on(async {
            let client =
                hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
                    .build_http::<Full<Bytes>>();
            let mut req = http::Request::get(format!("http://{}/ride", self.gateway));
            for (k, v) in headers {
                req = req.header(*k, *v);
            }
            let res = client
                .request(req.body(Full::default()).unwrap())
                .await
                .unwrap();
            assert_eq!(res.status(), 200);
            res.into_body().collect().await.unwrap().to_bytes()
        });
        for s in &self.services {
            s.pipeline.flush(Duration::from_secs(5)).unwrap();
        }
        self.store.flush_blocking();
        String::from_utf8_lossy(&body).into_owned()
    }

    fn seen(&self, path: &'static str) -> HeaderMap {
        self.seen
            .lock()
            .unwrap()
            .get(path)
            .cloned()
            .unwrap_or_default()
    }
}

fn trace_of(headers: &HeaderMap) -> Option<TraceId> {
    Propagators::w3c().extract(headers).ok()?.trace_id()
}

fn one<'a>(spans: &'a [Span], service: &str, name: &str, kind: SpanKind) -> &'a Span {
    let found: Vec<&Span> = spans
        .iter()
        .filter(|s| s.service() == service && s.name() == name && s.kind() == kind)
        .collect();
    assert_eq!(
        found.len(),
        1,
        "{service} {name} {kind:?} in {:?}",
        spans
            .iter()
            .map(|s| (s.service(), s.name(), s.kind()))
            .collect::<Vec<_>>()
    );
    found[0]
}

fn child_of(child: &Span, parent: &Span) {
    assert_eq!(
        child.parent_span_id(),
        Some(parent.span_id()),
        "{}/{} is not a child of {}/{}",
        child.service(),
        child.name(),
        parent.service(),
        parent.name()
    );
}

fn attr(span: &Span, key: &str) -> String {
    span.attribute(key)
        .map(|v| v.to_json().to_string().trim_matches('"').to_owned())
        .unwrap_or_else(|| panic!("{} has no {key}: {:?}", span.name(), span.attributes()))
}

#[test]
fn full_chain_one_trace_exact_parents_critical_path_and_map() {
    let r = ride(false, Propagators::w3c());
    let traceparent = format!("00-{TRACE:032x}-{CALLER:016x}-01");
    assert_eq!(
        r.call(&[("traceparent", &traceparent)]),
        "[\"car-1\"] 12.50"
    );

    let trace = TraceId::from_u128(TRACE);
    let spans = r.store.spans(trace);
    assert!(spans.iter().all(|s| s.trace_id() == trace));

    let gw = one(&spans, "gateway", "GET /ride", SpanKind::Server);
    let gw_grpc = one(&spans, "gateway", "echo.Echo/UnaryEcho", SpanKind::Client);
    let gw_http = one(&spans, "gateway", "GET", SpanKind::Client);
    let disp = one(&spans, "dispatch", "echo.Echo/UnaryEcho", SpanKind::Server);
    let disp_http = one(&spans, "dispatch", "POST", SpanKind::Client);
    let rank = one(&spans, "ranking", "POST /rank", SpanKind::Server);
    let price = one(&spans, "pricing", "GET /price", SpanKind::Server);

    assert_eq!(gw.parent_span_id(), Some(SpanId::from_u64(CALLER)));
    child_of(gw_grpc, gw);
    child_of(gw_http, gw);
    child_of(disp, gw_grpc);
    child_of(disp_http, disp);
    child_of(rank, disp_http);
    child_of(price, gw_http);
    assert_eq!(
        spans.len(),
        7,
        "no other spans: {:?}",
        spans
            .iter()
            .map(|s| (
                s.service(),
                s.name(),
                s.kind(),
                s.attributes()
                    .iter()
                    .map(|a| a.key.to_string())
                    .collect::<Vec<_>>()
            ))
            .collect::<Vec<_>>()
    );

    // Semantic-convention attributes on each kind of span.
    assert_eq!(attr(gw, "http.request.method"), "GET");
    assert_eq!(attr(gw, "http.route"), "/ride");
    assert_eq!(attr(gw, "url.path"), "/ride");
    assert_eq!(attr(gw, "http.response.status_code"), "200");
    assert_eq!(attr(rank, "http.route"), "/rank");
    assert_eq!(attr(gw_http, "http.request.method"), "GET");
    assert_eq!(attr(gw_http, "http.response.status_code"), "200");
    assert_eq!(
        attr(gw_http, "server.port"),
        r.services[2].addr.port().to_string()
    );
    assert_eq!(attr(disp, "rpc.system.name"), "grpc");
    assert_eq!(attr(disp, "rpc.method"), "echo.Echo/UnaryEcho");
    assert_eq!(attr(gw_grpc, "rpc.method"), "echo.Echo/UnaryEcho");
    for s in [gw_grpc, disp] {
        assert_eq!(attr(s, "rpc.response.status_code"), "OK");
        assert_eq!(attr(s, "server.address"), "127.0.0.1");
        assert_eq!(
            attr(s, "server.port"),
            r.services[1].addr.port().to_string()
        );
    }
    assert!(spans.iter().all(|s| !s.is_error()));

    // The collector's analysis of this trace.
    let analysis: Vec<AnalysisSpan> = spans.iter().map(AnalysisSpan::from_span).collect();
    let path = critical_path(&analysis);
    let on_path: Vec<SpanId> = path.spans.iter().map(|p| p.span_id).collect();
    for s in [gw, gw_grpc, disp, disp_http, rank] {
        assert!(
            on_path.contains(&s.span_id()),
            "{} not on the critical path",
            s.name()
        );
    }
    for s in [gw_http, price] {
        assert!(
            !on_path.contains(&s.span_id()),
            "{} on the critical path",
            s.name()
        );
    }
    let mut map = ServiceMapBuilder::new();
    map.add_trace(&analysis);
    let map = map.build();
    let mut edges: Vec<(String, String, u64)> = map
        .edges
        .iter()
        .map(|e| (e.caller.to_string(), e.callee.to_string(), e.calls))
        .collect();
    edges.sort();
    assert_eq!(
        edges,
        [
            ("dispatch".into(), "ranking".into(), 1),
            ("gateway".into(), "dispatch".into(), 1),
            ("gateway".into(), "pricing".into(), 1),
        ]
    );
}

#[test]
fn trace_id_propagates_with_every_span_disabled() {
    let r = ride(true, Propagators::w3c());
    let traceparent = format!("00-{TRACE:032x}-{CALLER:016x}-01");
    r.call(&[("traceparent", &traceparent), ("baggage", "user=alice")]);
    let trace = Some(TraceId::from_u128(TRACE));
    assert_eq!(trace_of(&r.seen("dispatch")), trace);
    assert_eq!(trace_of(&r.seen("/price")), trace);
    assert_eq!(trace_of(&r.seen("/rank")), trace);
    assert_eq!(r.seen("/rank")["baggage"], "user=alice");
    assert!(r.store.spans(TraceId::from_u128(TRACE)).is_empty());
}

#[test]
fn b3_and_jaeger_callers_and_baggage_reach_the_last_hop() {
    let r = ride(
        false,
        Propagators::from_names("tracecontext,baggage,b3,jaeger").unwrap(),
    );
    // A B3-only client (single header).
    r.call(&[
        ("b3", &format!("{TRACE:032x}-{CALLER:016x}-1")),
        ("baggage", "tenant=acme,note=50%25%20off"),
    ]);
    let rank = r.seen("/rank");
    assert_eq!(trace_of(&rank), Some(TraceId::from_u128(TRACE)));
    let bag = Propagators::w3c().extract(&rank).unwrap();
    assert_eq!(bag.baggage().get("tenant"), Some("acme"));
    assert_eq!(bag.baggage().get("note"), Some("50% off"));

    // A Jaeger-only client, with a 64-bit trace id.
    r.call(&[("uber-trace-id", "7a3f92b0c1d2e3f4:00000000000000aa:0:1")]);
    let rank = r.seen("/rank");
    assert_eq!(
        trace_of(&rank),
        Some(TraceId::from_u128(0x7a3f92b0c1d2e3f4))
    );
    let spans = r.store.spans(TraceId::from_u128(0x7a3f92b0c1d2e3f4));
    let gw = one(&spans, "gateway", "GET /ride", SpanKind::Server);
    assert_eq!(gw.parent_span_id(), Some(SpanId::from_u64(0xaa)));
    assert_eq!(spans.len(), 7);
}
