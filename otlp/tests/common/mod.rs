//! In-test OTLP receivers (HTTP via hyper, gRPC via tonic, in plain text or over rustls) with
//! scripted answers, and sample spans. Test certificates are in [`certs`], the workspace's one
//! set of TLS test helpers (the collector's tests hold the file).

#![allow(
    dead_code,
    reason = "each test file uses a different part of the helpers"
)]

#[path = "../../../collector/tests/common/tls.rs"]
pub(crate) mod certs;

use std::collections::VecDeque;
use std::io::Read as _;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use bytes::Bytes;
use http_body_util::{BodyExt as _, Full};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use prost::Message as _;
use tokio::runtime::Runtime;
use tracewire::{
    Event, KeyValue, Link, Resource, SpanContext, SpanData, SpanId, SpanKind, Status, TraceFlags,
    TraceId, TraceState,
};
use tracewire_otlp::proto::tonic::collector::trace::v1::trace_service_server::{
    TraceService, TraceServiceServer,
};
use tracewire_otlp::proto::tonic::collector::trace::v1::{
    ExportTracePartialSuccess, ExportTraceServiceRequest, ExportTraceServiceResponse,
};

/// A resource with a couple of extra attributes.
pub(crate) fn resource() -> Resource {
    Resource::new("checkout")
        .with("deployment.environment.name", "test")
        .with("host.cpus", 8i64)
}

/// A server span with everything set, and a plain child.
pub(crate) fn batch() -> Vec<SpanData> {
    let state: TraceState = "rojo=00f067aa0ba902b7,congo=t61rcWkgMzE".parse().unwrap();
    let cx = SpanContext::new(
        TraceId::from_u128(0x4bf92f3577b34da6a3ce929d0e0e4736),
        SpanId::from_u64(0x00f067aa0ba902b7),
        TraceFlags::SAMPLED.with_random(true),
        state,
        false,
    );
    let mut server = SpanData::new(cx.clone(), "GET /rides/{id}");
    server.parent_span_id = SpanId::from_u64(0x1111111111111111);
    server.parent_is_remote = true;
    server.kind = SpanKind::Server;
    server.target = "gateway::routes".into();
    server.start_time = SystemTime::UNIX_EPOCH + Duration::new(1_760_000_000, 1);
    server.end_time = SystemTime::UNIX_EPOCH + Duration::new(1_760_000_000, 250_000_001);
    server.attributes = vec![
        KeyValue::new("http.request.method", "GET"),
        KeyValue::new("http.response.status_code", 503i64),
        KeyValue::new("retry", false),
        KeyValue::new("load", 0.75f64),
    ];
    server.dropped_attributes = 2;
    server.events = vec![Event::new(
        "upstream failed",
        SystemTime::UNIX_EPOCH + Duration::new(1_760_000_000, 100_000_000),
        vec![KeyValue::new("error.type", "timeout")],
    )];
    server.dropped_events = 4;
    server.links = vec![Link::new(
        SpanContext::new(
            TraceId::from_u128(0xabcdef),
            SpanId::from_u64(0x42),
            TraceFlags::SAMPLED,
            "vendor=x".parse().unwrap(),
            true,
        ),
        vec![KeyValue::new("link.reason", "untrusted inbound")],
    )];
    server.status = Status::error("upstream unavailable");

    let child_cx = SpanContext::new(
        cx.trace_id(),
        SpanId::from_u64(0x2222222222222222),
        TraceFlags::SAMPLED,
        TraceState::default(),
        false,
    );
    let mut child = SpanData::new(child_cx, "dispatch.Nearby");
    child.parent_span_id = cx.span_id();
    child.kind = SpanKind::Client;
    child.status = Status::Ok;
    child.start_time = SystemTime::UNIX_EPOCH + Duration::new(1_760_000_000, 10);
    child.end_time = SystemTime::UNIX_EPOCH + Duration::new(1_760_000_000, 20);
    vec![server, child]
}

/// `n` small spans.
pub(crate) fn spans(n: usize) -> Vec<SpanData> {
    (0..n)
        .map(|i| {
            let cx = SpanContext::new(
                TraceId::from_u128(1 + i as u128),
                SpanId::from_u64(1 + i as u64),
                TraceFlags::SAMPLED,
                TraceState::default(),
                false,
            );
            SpanData::new(cx, format!("span-{i}"))
        })
        .collect()
}

/// A plain-text receiver speaking `protocol`, answering `script`, and its endpoint URL.
pub(crate) fn receiver_for(
    protocol: tracewire_otlp::Protocol,
    script: Vec<Reply>,
) -> (Receiver, String) {
    if protocol == tracewire_otlp::Protocol::Grpc {
        let rx = Receiver::grpc(script);
        let url = rx.grpc_url();
        (rx, url)
    } else {
        let rx = Receiver::http(script);
        let url = rx.http_url();
        (rx, url)
    }
}

/// The resource attributes of the first `ResourceSpans`, values as text.
pub(crate) fn resource_attributes(
    req: &ExportTraceServiceRequest,
) -> std::collections::HashMap<String, String> {
    use tracewire_otlp::proto::tonic::common::v1::any_value::Value;
    req.resource_spans[0]
        .resource
        .as_ref()
        .map(|r| r.attributes.as_slice())
        .unwrap_or_default()
        .iter()
        .map(|kv| {
            let v = match kv.value.as_ref().and_then(|v| v.value.clone()) {
                Some(Value::StringValue(s)) => s,
                Some(Value::IntValue(i)) => i.to_string(),
                other => format!("{other:?}"),
            };
            (kv.key.clone(), v)
        })
        .collect()
}

/// A port nothing listens on (bound, then released).
pub(crate) fn dead_addr() -> SocketAddr {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    l.local_addr().unwrap()
}

/// One answer of a scripted receiver.
#[derive(Clone, Debug)]
pub(crate) enum Reply {
    /// An HTTP answer: status, headers, body.
    Http(u16, Vec<(&'static str, String)>, Vec<u8>),
    /// A gRPC answer.
    Grpc(Result<ExportTraceServiceResponse, (tonic::Code, &'static str)>),
    /// A gRPC error carrying `google.rpc.RetryInfo` with this delay (seconds, nanos).
    GrpcRetryInfo(tonic::Code, i64, i32),
    /// Never answer.
    Hang,
}

/// A partial-success answer.
pub(crate) fn partial(rejected: i64, message: &str) -> ExportTraceServiceResponse {
    ExportTraceServiceResponse {
        partial_success: Some(ExportTracePartialSuccess {
            rejected_spans: rejected,
            error_message: message.to_owned(),
        }),
    }
}

/// One request a receiver saw.
#[derive(Clone, Debug)]
pub(crate) struct Captured {
    /// When it arrived.
    pub(crate) at: Instant,
    /// The request path (HTTP) or gRPC method path.
    pub(crate) path: String,
    /// Headers (HTTP) or metadata (gRPC).
    pub(crate) headers: http::HeaderMap,
    /// The body as sent (HTTP only).
    pub(crate) body: Vec<u8>,
    /// The decoded message.
    pub(crate) request: ExportTraceServiceRequest,
}

impl Captured {
    /// The body after undoing `Content-Encoding: gzip`.
    pub(crate) fn plain_body(&self) -> Vec<u8> {
        gunzip_if(&self.headers, &self.body)
    }
}

fn gunzip_if(headers: &http::HeaderMap, body: &[u8]) -> Vec<u8> {
    if headers
        .get("content-encoding")
        .is_some_and(|v| v.as_bytes() == b"gzip")
    {
        let mut out = Vec::new();
        flate2::read::GzDecoder::new(body)
            .read_to_end(&mut out)
            .unwrap();
        out
    } else {
        body.to_vec()
    }
}

#[derive(Default)]
struct State {
    seen: Mutex<Vec<Captured>>,
    script: Mutex<VecDeque<Reply>>,
}

impl State {
    fn next_reply(&self) -> Option<Reply> {
        self.script.lock().unwrap().pop_front()
    }
}

/// A receiver on 127.0.0.1 with its own runtime; stops when dropped.
pub(crate) struct Receiver {
    /// Where it listens.
    pub(crate) addr: SocketAddr,
    state: Arc<State>,
    rt: Option<Runtime>,
}

impl Drop for Receiver {
    fn drop(&mut self) {
        if let Some(rt) = self.rt.take() {
            rt.shutdown_background();
        }
    }
}

impl Receiver {
    /// The requests seen so far.
    pub(crate) fn seen(&self) -> Vec<Captured> {
        self.state.seen.lock().unwrap().clone()
    }

    /// The one request received after `guard`'s flush; on any other count the message names
    /// the exporter's last error.
    pub(crate) fn one_request(&self, guard: &tracewire_otlp::Guard) -> Captured {
        guard.flush(Duration::from_secs(30)).unwrap();
        let mut seen = self.seen();
        assert_eq!(
            seen.len(),
            1,
            "{:?}",
            guard.otlp_stats().unwrap().last_error()
        );
        seen.remove(0)
    }

    /// The HTTP endpoint URL.
    pub(crate) fn http_url(&self) -> String {
        format!("http://{}/v1/traces", self.addr)
    }

    /// The gRPC endpoint URL.
    pub(crate) fn grpc_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// An OTLP/HTTP receiver answering `script` in order, then 200 with an empty response.
    pub(crate) fn http(script: Vec<Reply>) -> Receiver {
        Receiver::start_http(script, None)
    }

    /// The same over TLS with `config`.
    pub(crate) fn https(script: Vec<Reply>, config: Arc<rustls::ServerConfig>) -> Receiver {
        Receiver::start_http(script, Some(config))
    }

    /// A runtime for the receiver, its state answering `script`, and a loopback listener.
    fn bind(script: Vec<Reply>) -> (tokio::runtime::Runtime, Arc<State>, tokio::net::TcpListener) {
        let rt = server_runtime();
        let state = Arc::new(State {
            seen: Mutex::default(),
            script: Mutex::new(script.into()),
        });
        let listener = rt
            .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
            .unwrap();
        (rt, state, listener)
    }

    fn start_http(script: Vec<Reply>, tls: Option<Arc<rustls::ServerConfig>>) -> Receiver {
        let (rt, state, listener) = Receiver::bind(script);
        let addr = listener.local_addr().unwrap();
        let st = state.clone();
        let acceptor = tls.map(tokio_rustls::TlsAcceptor::from);
        rt.spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    continue;
                };
                let st = st.clone();
                let acceptor = acceptor.clone();
                tokio::spawn(async move {
                    let svc = service_fn(move |req| handle_http(st.clone(), req));
                    let conn = http1::Builder::new();
                    let _ = match acceptor {
                        None => conn.serve_connection(TokioIo::new(stream), svc).await,
                        Some(a) => match a.accept(stream).await {
                            Ok(tls) => conn.serve_connection(TokioIo::new(tls), svc).await,
                            Err(_) => return,
                        },
                    };
                });
            }
        });
        Receiver {
            addr,
            state,
            rt: Some(rt),
        }
    }

    /// An OTLP/gRPC receiver answering `script` in order, then OK with an empty response.
    pub(crate) fn grpc(script: Vec<Reply>) -> Receiver {
        Receiver::start_grpc(script, None)
    }

    /// The same over TLS with `config` (which must offer ALPN `h2`).
    pub(crate) fn grpcs(script: Vec<Reply>, config: Arc<rustls::ServerConfig>) -> Receiver {
        Receiver::start_grpc(script, Some(config))
    }

    fn start_grpc(script: Vec<Reply>, tls: Option<Arc<rustls::ServerConfig>>) -> Receiver {
        let (rt, state, listener) = Receiver::bind(script);
        let addr = listener.local_addr().unwrap();
        let svc = TraceServiceServer::new(GrpcService(state.clone()))
            .accept_compressed(tonic::codec::CompressionEncoding::Gzip);
        let server = tonic::transport::Server::builder().add_service(svc);
        match tls {
            None => {
                rt.spawn(async move {
                    let _ = server
                        .serve_with_incoming(tonic::transport::server::TcpIncoming::from(listener))
                        .await;
                });
            }
            Some(config) => {
                // Handshakes happen here; tonic serves the connections that complete one.
                let (tx, rx) = tokio::sync::mpsc::channel::<Result<TlsIo, std::io::Error>>(16);
                let acceptor = tokio_rustls::TlsAcceptor::from(config);
                rt.spawn(async move {
                    loop {
                        let Ok((stream, _)) = listener.accept().await else {
                            continue;
                        };
                        let (acceptor, tx) = (acceptor.clone(), tx.clone());
                        tokio::spawn(async move {
                            if let Ok(tls) = acceptor.accept(stream).await {
                                let _ = tx.send(Ok(TlsIo(tls))).await;
                            }
                        });
                    }
                });
                rt.spawn(async move {
                    let _ = server
                        .serve_with_incoming(tokio_stream::wrappers::ReceiverStream::new(rx))
                        .await;
                });
            }
        }
        Receiver {
            addr,
            state,
            rt: Some(rt),
        }
    }

    /// The HTTPS endpoint URL, by name (`localhost`), so the certificate's name matches.
    pub(crate) fn https_url(&self) -> String {
        format!("https://localhost:{}/v1/traces", self.addr.port())
    }

    /// The gRPC-over-TLS endpoint URL, by name.
    pub(crate) fn grpcs_url(&self) -> String {
        format!("https://localhost:{}", self.addr.port())
    }
}

/// A server-side TLS connection tonic can serve.
pub(crate) struct TlsIo(tokio_rustls::server::TlsStream<tokio::net::TcpStream>);

impl tonic::transport::server::Connected for TlsIo {
    type ConnectInfo = ();

    fn connect_info(&self) -> Self::ConnectInfo {}
}

impl tokio::io::AsyncRead for TlsIo {
    fn poll_read(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        buf: &mut tokio::io::ReadBuf<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::pin::Pin::new(&mut self.0).poll_read(cx, buf)
    }
}

impl tokio::io::AsyncWrite for TlsIo {
    fn poll_write(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        buf: &[u8],
    ) -> std::task::Poll<std::io::Result<usize>> {
        std::pin::Pin::new(&mut self.0).poll_write(cx, buf)
    }

    fn poll_flush(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::pin::Pin::new(&mut self.0).poll_flush(cx)
    }

    fn poll_shutdown(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::pin::Pin::new(&mut self.0).poll_shutdown(cx)
    }
}

fn server_runtime() -> Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap()
}

async fn handle_http(
    state: Arc<State>,
    req: http::Request<hyper::body::Incoming>,
) -> Result<http::Response<Full<Bytes>>, std::convert::Infallible> {
    let at = Instant::now();
    let (parts, body) = req.into_parts();
    let body = body.collect().await.unwrap().to_bytes().to_vec();
    let plain = gunzip_if(&parts.headers, &body);
    let json = parts
        .headers
        .get("content-type")
        .is_some_and(|v| v.as_bytes() == b"application/json");
    let request = if json {
        serde_json::from_slice(&plain).unwrap()
    } else {
        ExportTraceServiceRequest::decode(&plain[..]).unwrap()
    };
    state.seen.lock().unwrap().push(Captured {
        at,
        path: parts.uri.path().to_owned(),
        headers: parts.headers,
        body,
        request,
    });
    let reply = state.next_reply();
    let (status, headers, body) = match reply {
        Some(Reply::Hang) => {
            std::future::pending::<()>().await;
            unreachable!()
        }
        Some(Reply::Http(status, headers, body)) => (status, headers, body),
        Some(Reply::Grpc(_) | Reply::GrpcRetryInfo(..)) | None => (200, Vec::new(), Vec::new()),
    };
    let mut resp = http::Response::builder().status(status).header(
        "content-type",
        if json {
            "application/json"
        } else {
            "application/x-protobuf"
        },
    );
    for (k, v) in headers {
        resp = resp.header(k, v);
    }
    Ok(resp.body(Full::new(Bytes::from(body))).unwrap())
}

struct GrpcService(Arc<State>);

#[tonic::async_trait]
impl TraceService for GrpcService {
    async fn export(
        &self,
        request: tonic::Request<ExportTraceServiceRequest>,
    ) -> Result<tonic::Response<ExportTraceServiceResponse>, tonic::Status> {
        let at = Instant::now();
        let headers = request.metadata().clone().into_headers();
        self.0.seen.lock().unwrap().push(Captured {
            at,
            path: "/opentelemetry.proto.collector.trace.v1.TraceService/Export".to_owned(),
            headers,
            body: Vec::new(),
            request: request.into_inner(),
        });
        match self.0.next_reply() {
            Some(Reply::Hang) => {
                std::future::pending::<()>().await;
                unreachable!()
            }
            Some(Reply::Grpc(Ok(resp))) => Ok(tonic::Response::new(resp)),
            Some(Reply::Grpc(Err((code, msg)))) => Err(tonic::Status::new(code, msg)),
            Some(Reply::GrpcRetryInfo(code, seconds, nanos)) => Err(tonic::Status::with_details(
                code,
                "retry later",
                retry_info(code, seconds, nanos).into(),
            )),
            Some(Reply::Http(..)) | None => {
                Ok(tonic::Response::new(ExportTraceServiceResponse::default()))
            }
        }
    }
}

/// An encoded `google.rpc.Status` whose details hold one `google.rpc.RetryInfo`.
fn retry_info(code: tonic::Code, seconds: i64, nanos: i32) -> Vec<u8> {
    fn varint(v: u64, out: &mut Vec<u8>) {
        prost::encoding::encode_varint(v, out);
    }
    fn field(tag: u32, bytes: &[u8], out: &mut Vec<u8>) {
        varint(u64::from(tag << 3 | 2), out);
        varint(bytes.len() as u64, out);
        out.extend_from_slice(bytes);
    }
    // google.protobuf.Duration { seconds = 1, nanos = 2 }
    let mut duration = Vec::new();
    varint(1 << 3, &mut duration);
    varint(seconds as u64, &mut duration);
    varint(2 << 3, &mut duration);
    varint(nanos as i64 as u64, &mut duration);
    // google.rpc.RetryInfo { retry_delay = 1 }
    let mut info = Vec::new();
    field(1, &duration, &mut info);
    // google.protobuf.Any { type_url = 1, value = 2 }
    let mut any = Vec::new();
    field(1, b"type.googleapis.com/google.rpc.RetryInfo", &mut any);
    field(2, &info, &mut any);
    // google.rpc.Status { code = 1, message = 2, details = 3 }
    let mut status = Vec::new();
    varint(1 << 3, &mut status);
    varint(code as i32 as u64, &mut status);
    field(2, b"retry later", &mut status);
    field(3, &any, &mut status);
    status
}
