//! tracewire-tonic against a real tonic server and client, in process (an in-memory duplex
//! connection) and over a TCP socket, for all four RPC kinds.

use std::net::SocketAddr;
use std::pin::Pin;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Empty};
use tokio_stream::{Stream, StreamExt};
use tonic::transport::{Channel, Endpoint, Server};
use tonic::{Code, Request, Response, Status, Streaming};
use tower::ServiceBuilder;
use tracewire::propagation::Propagators;
use tracewire::testing::{Recorder, SpanAssert};
use tracewire::{Parent, SpanKind, with_parent};
use tracewire_tests::echo::echo_client::EchoClient;
use tracewire_tests::echo::echo_server::{Echo, EchoServer};
use tracewire_tests::echo::{EchoRequest, EchoResponse};
use tracewire_tonic::{
    Grpc, GrpcClient, GrpcClientLayer, GrpcServerLayer, SemconvStability, SkipServices, code_name,
};

struct EchoService;

type EchoStream = Pin<Box<dyn Stream<Item = Result<EchoResponse, Status>> + Send>>;

fn fail(code: i32) -> Status {
    Status::new(Code::from_i32(code), "failed on purpose")
}

/// A nested HTTP call made while handling an RPC: a CLIENT span, with the current context
/// injected into the request. (A plain hyper client with manual injection, so this file does not
/// depend on the traced hyper client.)
async fn nested_http_get(url: &str) {
    let span = tracing::info_span!("GET", otel.kind = "client");
    let mut req = http::Request::get(url).body(Empty::<Bytes>::new()).unwrap();
    {
        let _entered = span.enter();
        Propagators::w3c().inject(&tracewire::current(), req.headers_mut());
    }
    let client = hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
        .build_http::<Empty<Bytes>>();
    let resp = tracing::Instrument::instrument(client.request(req), span.clone())
        .await
        .unwrap();
    resp.into_body().collect().await.unwrap();
}

#[tonic::async_trait]
impl Echo for EchoService {
    async fn unary_echo(
        &self,
        req: Request<EchoRequest>,
    ) -> Result<Response<EchoResponse>, Status> {
        let req = req.into_inner();
        let _work = tracing::info_span!("handler.unary").entered();
        drop(_work);
        if !req.http_url.is_empty() {
            nested_http_get(&req.http_url).await;
        }
        if req.fail_with != 0 {
            return Err(fail(req.fail_with));
        }
        Ok(Response::new(EchoResponse {
            message: req.message,
            received: 1,
        }))
    }

    async fn client_streaming_echo(
        &self,
        req: Request<Streaming<EchoRequest>>,
    ) -> Result<Response<EchoResponse>, Status> {
        let mut stream = req.into_inner();
        let mut received = 0;
        let mut last = String::new();
        while let Some(msg) = stream.next().await {
            let msg = msg?;
            received += 1;
            if msg.fail_with != 0 {
                return Err(fail(msg.fail_with));
            }
            last = msg.message;
        }
        Ok(Response::new(EchoResponse {
            message: last,
            received,
        }))
    }

    type ServerStreamingEchoStream = EchoStream;

    async fn server_streaming_echo(
        &self,
        req: Request<EchoRequest>,
    ) -> Result<Response<EchoStream>, Status> {
        let req = req.into_inner();
        let fail_with = req.fail_with;
        let items = tokio_stream::iter(0..req.count).map(move |i| {
            // Work done while producing each message stays in the RPC's trace.
            let _item = tracing::info_span!("handler.stream_item").entered();
            Ok(EchoResponse {
                message: format!("{} {i}", req.message),
                received: 1,
            })
        });
        let stream: EchoStream = match (req.count, fail_with) {
            (0, _) => Box::pin(
                tokio_stream::iter([Ok(EchoResponse::default())]).chain(tokio_stream::pending()),
            ),
            (_, 0) => Box::pin(items),
            (_, code) => Box::pin(items.chain(tokio_stream::once(Err(fail(code))))),
        };
        Ok(Response::new(stream))
    }

    type BidiStreamingEchoStream = EchoStream;

    async fn bidi_streaming_echo(
        &self,
        req: Request<Streaming<EchoRequest>>,
    ) -> Result<Response<EchoStream>, Status> {
        let stream = req.into_inner().map(|msg| {
            let _item = tracing::info_span!("handler.bidi_item").entered();
            let msg = msg?;
            if msg.fail_with != 0 {
                return Err(fail(msg.fail_with));
            }
            Ok(EchoResponse {
                message: msg.message,
                received: 1,
            })
        });
        Ok(Response::new(Box::pin(stream)))
    }
}

#[derive(Clone, Copy, Debug)]
enum Transport {
    InProcess,
    Tcp,
}

/// Starts the traced echo server and returns a traced client for it. Everything runs on the
/// calling current-thread runtime, so the recorder installed with `set_default` sees it all.
async fn start(transport: Transport) -> GrpcClient<Channel> {
    let stable = Grpc::new().semconv(SemconvStability::Stable);
    let server = Server::builder()
        .layer(
            GrpcServerLayer::new()
                .protocol(stable.clone())
                .filter(SkipServices::health()),
        )
        .add_service(EchoServer::new(EchoService));
    match transport {
        Transport::Tcp => {
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
            let addr = listener.local_addr().unwrap();
            tokio::spawn(
                server
                    .serve_with_incoming(tokio_stream::wrappers::TcpListenerStream::new(listener)),
            );
            // The client spans record the endpoint (what `tracewire_tonic::connect` does, here
            // with the conventions pinned whatever the environment says).
            let endpoint = Endpoint::from_shared(format!("http://{addr}")).unwrap();
            ServiceBuilder::new()
                .layer(GrpcClientLayer::for_protocol(
                    stable.server_uri(endpoint.uri()),
                ))
                .service(endpoint.connect().await.unwrap())
        }
        Transport::InProcess => {
            let (client_io, server_io) = tokio::io::duplex(64 * 1024);
            tokio::spawn(
                server.serve_with_incoming(tokio_stream::once(Ok::<_, std::io::Error>(server_io))),
            );
            let mut client_io = Some(client_io);
            let endpoint = Endpoint::from_static("http://in-process");
            let channel = endpoint
                .connect_with_connector(tower::service_fn(move |_: http::Uri| {
                    let io = client_io.take();
                    async move {
                        io.map(hyper_util::rt::TokioIo::new)
                            .ok_or_else(|| std::io::Error::other("one connection only"))
                    }
                }))
                .await
                .unwrap();
            ServiceBuilder::new()
                .layer(GrpcClientLayer::for_protocol(
                    stable.server_uri(endpoint.uri()),
                ))
                .service(channel)
        }
    }
}

/// Waits until a span named `name` has been recorded `n` times (the server side may still be
/// finishing when the client returns).
async fn wait_for(recorder: &Recorder, name: &str, n: usize) -> Vec<SpanAssert> {
    for _ in 0..1000 {
        let spans = recorder.spans_named(name);
        if spans.len() >= n {
            return spans;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    panic!("no {n} span(s) named {name:?}; tree:\n{}", recorder.tree());
}

fn by_kind(spans: &[SpanAssert], kind: SpanKind) -> SpanAssert {
    let found: Vec<_> = spans.iter().filter(|s| s.data().kind == kind).collect();
    assert_eq!(found.len(), 1, "{kind:?} spans: {found:?}");
    found[0].clone()
}

/// The client and server spans of one RPC, checked for the shape every RPC kind shares.
async fn rpc_pair(recorder: &Recorder, name: &str) -> (SpanAssert, SpanAssert) {
    let spans = wait_for(recorder, name, 2).await;
    let client = by_kind(&spans, SpanKind::Client);
    let server = by_kind(&spans, SpanKind::Server);
    server.assert_child_of(&client);
    for s in [&client, &server] {
        s.assert_attr("rpc.system.name", "grpc")
            .assert_attr("rpc.method", name.to_owned());
        // The current conventions only: nothing from the deprecated `rpc.grpc.*` names.
        let old: Vec<_> = s
            .data()
            .attributes
            .iter()
            .filter(|kv| kv.key.starts_with("rpc.grpc.") || kv.key == "rpc.system")
            .collect();
        assert!(old.is_empty(), "{old:?}");
    }
    (client, server)
}

/// Runs `test` on a current-thread runtime with a fresh recorder as this thread's subscriber,
/// so the servers and clients it spawns record into it too.
fn recorded<F: Future<Output = ()>>(test: impl FnOnce(Recorder) -> F) {
    let recorder = Recorder::new();
    let _guard = recorder.set_default();
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(test(recorder));
}

/// [`rpc_pair`] for a call that succeeded: both sides say `OK`.
async fn ok_pair(recorder: &Recorder, name: &str) -> (SpanAssert, SpanAssert) {
    let (client, server) = rpc_pair(recorder, name).await;
    client.assert_attr("rpc.response.status_code", "OK");
    server.assert_attr("rpc.response.status_code", "OK");
    (client, server)
}

/// Every message of a response stream, in order.
async fn messages(mut stream: Streaming<EchoResponse>) -> Vec<String> {
    let mut got = Vec::new();
    while let Some(item) = stream.next().await {
        got.push(item.unwrap().message);
    }
    got
}

fn msg(text: &str) -> EchoRequest {
    EchoRequest {
        message: text.into(),
        ..Default::default()
    }
}

fn all_four_kinds(transport: Transport) {
    recorded(|recorder| async move {
        let mut client = EchoClient::new(start(transport).await);
        let root = tracing::info_span!("test.root");
        let root_id = {
            let _e = root.enter();
            tracewire::SpanExt::span_context(&root).unwrap().span_id()
        };

        // Unary.
        let resp = tracing::Instrument::instrument(client.unary_echo(msg("hi")), root.clone())
            .await
            .unwrap();
        assert_eq!(resp.into_inner().message, "hi");
        let (c, s) = ok_pair(&recorder, "echo.Echo/UnaryEcho").await;
        assert_eq!(c.data().parent_span_id, root_id);
        s.assert_status(tracewire::Status::Unset);
        recorder.span("handler.unary").assert_child_of(&s);
        match transport {
            Transport::Tcp => {
                c.assert_attr("server.address", "127.0.0.1");
                s.assert_attr("server.address", "127.0.0.1")
                    .assert_attr("network.peer.address", "127.0.0.1");
                assert_eq!(
                    c.data().attribute("server.port"),
                    s.data().attribute("server.port")
                );
            }
            Transport::InProcess => {
                c.assert_attr("server.address", "in-process")
                    .assert_attr("server.port", 80_i64);
                s.assert_attr("server.address", "in-process");
            }
        }

        // Client streaming: three messages in, one out.
        let resp = client
            .client_streaming_echo(tokio_stream::iter([msg("a"), msg("b"), msg("c")]))
            .await
            .unwrap();
        assert_eq!(resp.into_inner().received, 3);
        ok_pair(&recorder, "echo.Echo/ClientStreamingEcho").await;

        // Server streaming: one in, four out, handler work per item inside the server span.
        let stream = client
            .server_streaming_echo(EchoRequest {
                message: "n".into(),
                count: 4,
                ..Default::default()
            })
            .await
            .unwrap()
            .into_inner();
        assert_eq!(messages(stream).await, ["n 0", "n 1", "n 2", "n 3"]);
        let (_, s) = ok_pair(&recorder, "echo.Echo/ServerStreamingEcho").await;
        let items = recorder.spans_named("handler.stream_item");
        assert_eq!(items.len(), 4);
        for item in &items {
            item.assert_child_of(&s);
        }

        // Bidi: two in, two out.
        let stream = client
            .bidi_streaming_echo(tokio_stream::iter([msg("x"), msg("y")]))
            .await
            .unwrap()
            .into_inner();
        assert_eq!(messages(stream).await, ["x", "y"]);
        let (_, s) = ok_pair(&recorder, "echo.Echo/BidiStreamingEcho").await;
        for item in recorder.spans_named("handler.bidi_item") {
            item.assert_child_of(&s);
        }
        assert_eq!(recorder.spans_named("handler.bidi_item").len(), 2);
    });
}

#[test]
fn all_four_kinds_in_process() {
    all_four_kinds(Transport::InProcess);
}

#[test]
fn all_four_kinds_over_tcp() {
    all_four_kinds(Transport::Tcp);
}

#[test]
fn status_table_every_code_both_sides_trailers_only_and_in_trailers() {
    let server_errors = [2, 4, 12, 13, 14, 15];
    recorded(|recorder| async move {
        let mut client = EchoClient::new(start(Transport::InProcess).await);
        for code in 1..=16 {
            // Trailers-only: a unary handler error.
            let err = client
                .unary_echo(EchoRequest {
                    fail_with: code,
                    ..Default::default()
                })
                .await
                .unwrap_err();
            assert_eq!(err.code() as i32, code);
            // Status in the trailers after two messages.
            let mut stream = client
                .server_streaming_echo(EchoRequest {
                    count: 2,
                    fail_with: code,
                    ..Default::default()
                })
                .await
                .unwrap()
                .into_inner();
            assert!(stream.next().await.unwrap().is_ok());
            assert!(stream.next().await.unwrap().is_ok());
            assert_eq!(
                stream.next().await.unwrap().unwrap_err().code() as i32,
                code
            );
        }
        for name in ["echo.Echo/UnaryEcho", "echo.Echo/ServerStreamingEcho"] {
            let spans = wait_for(&recorder, name, 32).await;
            for code in 1..=16 {
                let code_name = code_name(code).into_owned();
                let of_code: Vec<_> = spans
                    .iter()
                    .filter(|s| {
                        s.data()
                            .attribute("rpc.response.status_code")
                            .map(|v| v.to_string())
                            == Some(code_name.clone())
                    })
                    .cloned()
                    .collect();
                assert_eq!(of_code.len(), 2, "{name} {code_name}");
                let client = by_kind(&of_code, SpanKind::Client);
                let server = by_kind(&of_code, SpanKind::Server);
                server.assert_child_of(&client);
                client
                    .assert_attr("error.type", code_name.clone())
                    .assert_status(tracewire::Status::error("failed on purpose"));
                if server_errors.contains(&code) {
                    server
                        .assert_attr("error.type", code_name.clone())
                        .assert_status(tracewire::Status::error("failed on purpose"));
                } else {
                    server
                        .assert_no_attr("error.type")
                        .assert_status(tracewire::Status::Unset);
                }
            }
        }
    });
}

#[test]
fn cancelled_stream_ends_both_spans() {
    recorded(|recorder| async move {
        let mut client = EchoClient::new(start(Transport::Tcp).await);
        // `count: 0` never ends: one message, then nothing.
        let mut stream = client
            .server_streaming_echo(EchoRequest::default())
            .await
            .unwrap()
            .into_inner();
        stream.next().await.unwrap().unwrap();
        assert!(
            recorder
                .spans_named("echo.Echo/ServerStreamingEcho")
                .is_empty(),
            "both spans open mid-stream"
        );
        drop(stream);
        let (c, s) = rpc_pair(&recorder, "echo.Echo/ServerStreamingEcho").await;
        c.assert_attr("rpc.response.status_code", "CANCELLED")
            .assert_attr("error.type", "CANCELLED");
        s.assert_attr("rpc.response.status_code", "CANCELLED")
            .assert_status(tracewire::Status::Unset);
    });
}

#[test]
fn deadline_exceeded_on_both_sides() {
    recorded(|recorder| async move {
        let mut client = EchoClient::new(start(Transport::Tcp).await);
        // The handler's nested call never answers, so the 50 ms deadline passes.
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let silent: SocketAddr = listener.local_addr().unwrap();
        let mut req = Request::new(EchoRequest {
            http_url: format!("http://{silent}/never"),
            ..Default::default()
        });
        req.set_timeout(Duration::from_millis(50));
        let err = client.unary_echo(req).await.unwrap_err();
        // Whichever side's timer fires first, the client reports a failed call.
        assert!(
            [Code::DeadlineExceeded, Code::Cancelled].contains(&err.code()),
            "{err:?}"
        );
        let (c, s) = rpc_pair(&recorder, "echo.Echo/UnaryEcho").await;
        // The client's layer sits above the channel's own timer, so its deadline passes first.
        c.assert_attr("rpc.response.status_code", "DEADLINE_EXCEEDED")
            .assert_attr("error.type", "DEADLINE_EXCEEDED");
        // The server measures the same timeout from a little later, so the client's reset can
        // reach it first: then, from the server's side, the caller cancelled (not an error).
        match s
            .data()
            .attribute("rpc.response.status_code")
            .and_then(|v| v.as_str())
        {
            Some("DEADLINE_EXCEEDED") => {
                s.assert_attr("error.type", "DEADLINE_EXCEEDED");
            }
            Some("CANCELLED") => {
                s.assert_no_attr("error.type")
                    .assert_status(tracewire::Status::Unset);
            }
            other => panic!("server status {other:?}"),
        }
        drop(listener);
    });
}

#[test]
fn parent_chain_client_server_nested_http() {
    recorded(|recorder| async move {
        // A tiny HTTP service that continues the inbound trace with a SERVER span.
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move {
            loop {
                let (io, _) = listener.accept().await.unwrap();
                tokio::spawn(hyper::server::conn::http1::Builder::new().serve_connection(
                    hyper_util::rt::TokioIo::new(io),
                    hyper::service::service_fn(
                        |req: http::Request<hyper::body::Incoming>| async move {
                            let cx = Propagators::w3c().extract(req.headers()).unwrap();
                            let span = with_parent(Parent::remote(cx), || {
                                tracing::info_span!("GET /rank", otel.kind = "server")
                            });
                            drop(span);
                            Ok::<_, std::convert::Infallible>(http::Response::new(
                                Empty::<Bytes>::new(),
                            ))
                        },
                    ),
                ));
            }
        });
        let mut client = EchoClient::new(start(Transport::Tcp).await);
        let root = tracing::info_span!("gateway");
        tracing::Instrument::instrument(
            client.unary_echo(EchoRequest {
                http_url: format!("http://{addr}/rank"),
                ..Default::default()
            }),
            root.clone(),
        )
        .await
        .unwrap();
        drop(root);
        let (c, s) = rpc_pair(&recorder, "echo.Echo/UnaryEcho").await;
        let gateway = recorder.span("gateway");
        c.assert_child_of(&gateway);
        let http_client = recorder.span("GET");
        http_client
            .assert_child_of(&s)
            .assert_kind(SpanKind::Client);
        recorder
            .span("GET /rank")
            .assert_child_of(&http_client)
            .assert_kind(SpanKind::Server);
        assert!(recorder.span("GET /rank").data().parent_is_remote);
    });
}

#[test]
fn health_is_skipped_on_the_server() {
    // The echo server skips `grpc.health.v1.Health` (it does not serve it, so the call fails
    // with UNIMPLEMENTED): the client span exists, the server span does not.
    recorded(|recorder| async move {
        let mut grpc = tonic::client::Grpc::new(start(Transport::InProcess).await);
        grpc.ready().await.unwrap();
        let codec = tonic_prost::ProstCodec::<EchoRequest, EchoResponse>::default();
        let err = grpc
            .unary(
                Request::new(EchoRequest::default()),
                http::uri::PathAndQuery::from_static("/grpc.health.v1.Health/Check"),
                codec,
            )
            .await
            .unwrap_err();
        assert_eq!(err.code(), Code::Unimplemented);
        let spans = wait_for(&recorder, "grpc.health.v1.Health/Check", 1).await;
        // Only the client span: the server skipped it.
        assert_eq!(spans.len(), 1);
        spans[0]
            .assert_kind(SpanKind::Client)
            .assert_attr("rpc.response.status_code", "UNIMPLEMENTED");
    });
}
