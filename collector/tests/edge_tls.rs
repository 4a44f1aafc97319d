//! TLS on the collector's listeners, with certificates made in the test: https and grpcs with
//! a client that trusts the test CA; a wrong CA, an expired certificate and a missing client
//! certificate (mutual TLS) are refused; a stalled handshake is cut at the header timeout.

mod common;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use common::tls::{CertAndKey, TestCa, client_config};
use common::*;
use http_body_util::{BodyExt, Full};
use hyper_util::rt::{TokioExecutor, TokioIo};
use opentelemetry_proto::tonic::collector::trace::v1::trace_service_client::TraceServiceClient;
use prost::Message;
use rustls_pki_types::ServerName;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;
use tracewire_collector::{CollectorHandle, ServerTls};

type BoxError = Box<dyn std::error::Error + Send + Sync>;

const HTTP1: &[&[u8]] = &[b"http/1.1"];
const H2: &[&[u8]] = &[b"h2"];

fn server_tls(cert: &CertAndKey) -> ServerTls {
    ServerTls::from_pem(cert.cert_pem.as_bytes(), cert.key_pem.as_bytes()).unwrap()
}

async fn start_tls(tls: ServerTls) -> CollectorHandle {
    builder().tls(tls).spawn().await.unwrap()
}

/// Asserts that a client was refused during or right after the handshake. With TLS 1.3 the
/// server checks the client's certificate after the client has finished its side, so the
/// client sees either the server's alert or, when its request went out first, its connection
/// closing under it (seen as a closed connection, a reset or a broken pipe, depending on
/// whether the client was reading or writing at that moment).
fn assert_refused(error: &str, alert: &str) {
    assert!(
        error.contains(alert)
            || error.contains("connection closed")
            || error.contains("connection was not ready")
            || error.contains("broken pipe")
            || error.contains("connection reset"),
        "{error}"
    );
}

/// The error and its sources, joined: where rustls' reason shows.
fn chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut out = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        out.push_str(": ");
        out.push_str(&s.to_string());
        source = s.source();
    }
    out
}

async fn tls_connect(
    addr: SocketAddr,
    config: Arc<rustls::ClientConfig>,
) -> std::io::Result<tokio_rustls::client::TlsStream<TcpStream>> {
    let tcp = TcpStream::connect(addr).await?;
    TlsConnector::from(config)
        .connect(ServerName::try_from("localhost").unwrap(), tcp)
        .await
}

/// One HTTP/1.1 request over TLS: the status and body.
///
/// The request's sender is dropped as soon as the request is queued. A refused client's
/// connection can die just as the request goes into hyper's queue: the connection's end then
/// misses it, and the queued request is failed ("connection closed") only when its last sender
/// goes — held until the answer came, it would wait forever.
async fn https(
    addr: SocketAddr,
    config: Arc<rustls::ClientConfig>,
    method: &str,
    path: &str,
    body: Vec<u8>,
) -> Result<(u16, Bytes), BoxError> {
    let tls = tls_connect(addr, config).await?;
    let (mut send, conn) = hyper::client::conn::http1::handshake(TokioIo::new(tls)).await?;
    tokio::spawn(conn);
    let req = http::Request::builder()
        .method(method)
        .uri(path)
        .header("host", format!("localhost:{}", addr.port()))
        .header("content-type", "application/x-protobuf")
        .body(Full::new(Bytes::from(body)))?;
    let resp = send.send_request(req);
    drop(send);
    let resp = resp.await?;
    let status = resp.status().as_u16();
    Ok((status, resp.into_body().collect().await?.to_bytes()))
}

/// `GET /api/services` over TLS, expected to fail: the error with its sources.
async fn api_refusal(h: &CollectorHandle, config: Arc<rustls::ClientConfig>) -> String {
    let e = https(
        h.api_addr().unwrap(),
        config,
        "GET",
        "/api/services",
        vec![],
    )
    .await
    .unwrap_err();
    chain(&*e)
}

fn assert_contains(haystack: &str, needle: &str) {
    assert!(haystack.contains(needle), "`{needle}` not in: {haystack}");
}

/// One gRPC `Export` over a fresh HTTP/2 connection that is expected to be refused: the error
/// with its sources. Like [`https`], it drops the request's sender once the request is queued
/// (a `tonic` channel keeps its sender, so a request queued as the refused connection dies
/// would wait forever).
async fn grpcs_refusal(addr: SocketAddr, config: Arc<rustls::ClientConfig>) -> String {
    let attempt = async {
        let tls = tls_connect(addr, config).await?;
        let (mut send, conn) =
            hyper::client::conn::http2::handshake(TokioExecutor::new(), TokioIo::new(tls)).await?;
        tokio::spawn(conn);
        let message = request("x", vec![span(1, 1, 0, "r")]).encode_to_vec();
        let mut framed = vec![0u8];
        framed.extend_from_slice(&u32::try_from(message.len())?.to_be_bytes());
        framed.extend_from_slice(&message);
        let req = http::Request::post(format!(
            "http://localhost:{}/opentelemetry.proto.collector.trace.v1.TraceService/Export",
            addr.port()
        ))
        .header("content-type", "application/grpc")
        .header("te", "trailers")
        .body(Full::new(Bytes::from(framed)))?;
        let resp = send.send_request(req);
        drop(send);
        let resp = resp.await?;
        Ok::<_, BoxError>(resp.status())
    };
    match attempt.await {
        Ok(status) => panic!("a refused client got an answer: {status}"),
        Err(e) => chain(&*e),
    }
}

/// A gRPC client whose connections are TLS with `config`.
async fn grpcs(
    addr: SocketAddr,
    config: Arc<rustls::ClientConfig>,
) -> Result<TraceServiceClient<tonic::transport::Channel>, BoxError> {
    let connector = tower::service_fn(move |_: http::Uri| {
        let config = config.clone();
        async move { Ok::<_, std::io::Error>(TokioIo::new(tls_connect(addr, config).await?)) }
    });
    // The connector does the TLS; the URI only names the authority.
    let channel =
        tonic::transport::Endpoint::from_shared(format!("http://localhost:{}", addr.port()))?
            .connect_with_connector(connector)
            .await?;
    Ok(TraceServiceClient::new(channel))
}

fn body() -> Vec<u8> {
    request("tls", vec![span(11, 1, 0, "root")]).encode_to_vec()
}

/// `POST /v1/traces` over TLS, trusting `ca_pem`, presenting `client`.
async fn post_traces(
    addr: SocketAddr,
    ca_pem: &str,
    client: Option<&CertAndKey>,
) -> Result<(u16, Bytes), BoxError> {
    let config = client_config(ca_pem, client, HTTP1);
    https(addr, config, "POST", "/v1/traces", body()).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn https_and_grpcs_work_with_a_client_that_trusts_the_ca() {
    let ca = TestCa::new("tracewire test CA");
    let h = start_tls(server_tls(&ca.server(&["localhost", "127.0.0.1"]))).await;
    let client = client_config(&ca.cert_pem, None, HTTP1);
    let (status, _) = https(
        h.otlp_http_addr().unwrap(),
        client.clone(),
        "POST",
        "/v1/traces",
        body(),
    )
    .await
    .unwrap();
    assert_eq!(status, 200);
    let mut grpc = grpcs(
        h.otlp_grpc_addr().unwrap(),
        client_config(&ca.cert_pem, None, H2),
    )
    .await
    .unwrap();
    grpc.export(request("tls-grpc", vec![span(12, 1, 0, "r")]))
        .await
        .unwrap();
    h.flush().await;
    let (status, services) = https(
        h.api_addr().unwrap(),
        client,
        "GET",
        "/api/services",
        vec![],
    )
    .await
    .unwrap();
    assert_eq!(status, 200);
    let services: serde_json::Value = serde_json::from_slice(&services).unwrap();
    assert_eq!(
        services["data"],
        serde_json::json!(["tls", "tls-grpc"]),
        "{services}"
    );
    // Plain HTTP on a TLS port gets no answer.
    let r = tokio::task::spawn_blocking({
        let addr = h.api_addr().unwrap();
        move || {
            use std::io::{Read, Write};
            let mut s = std::net::TcpStream::connect(addr).unwrap();
            s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
            s.write_all(b"GET /api/services HTTP/1.1\r\nHost: localhost\r\n\r\n")
                .unwrap();
            let mut raw = Vec::new();
            let _ = s.read_to_end(&mut raw);
            raw
        }
    })
    .await
    .unwrap();
    assert!(!r.starts_with(b"HTTP/"), "{}", String::from_utf8_lossy(&r));
    h.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_with_the_wrong_ca_or_facing_an_expired_certificate_fails() {
    let ca = TestCa::new("right CA");
    let other = TestCa::new("other CA");
    let h = start_tls(server_tls(&ca.server(&["localhost"]))).await;
    let unknown = "invalid peer certificate: UnknownIssuer";
    assert_contains(
        &api_refusal(&h, client_config(&other.cert_pem, None, HTTP1)).await,
        unknown,
    );
    let e = grpcs(
        h.otlp_grpc_addr().unwrap(),
        client_config(&other.cert_pem, None, H2),
    )
    .await
    .unwrap_err();
    assert_contains(&chain(&*e), unknown);
    h.shutdown().await;

    let h = start_tls(server_tls(&ca.expired_server(&["localhost"]))).await;
    assert_contains(
        &api_refusal(&h, client_config(&ca.cert_pem, None, HTTP1)).await,
        "invalid peer certificate: certificate expired",
    );
    h.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mutual_tls_refuses_clients_without_a_good_certificate() {
    let ca = TestCa::new("server and client CA");
    let other = TestCa::new("stranger CA");
    let tls = server_tls(&ca.server(&["localhost"]))
        .client_ca_pem(ca.cert_pem.as_bytes())
        .unwrap();
    assert!(tls.requires_client_cert());
    let h = start_tls(tls).await;
    let (http, grpc) = (h.otlp_http_addr().unwrap(), h.otlp_grpc_addr().unwrap());

    // No certificate.
    let e = post_traces(http, &ca.cert_pem, None).await.unwrap_err();
    assert_refused(&chain(&*e), "received fatal alert: CertificateRequired");
    let refused = grpcs_refusal(grpc, client_config(&ca.cert_pem, None, H2)).await;
    assert_refused(&refused, "received fatal alert: CertificateRequired");
    // A certificate from another CA.
    let stranger = other.client("stranger");
    let e = post_traces(http, &ca.cert_pem, Some(&stranger))
        .await
        .unwrap_err();
    assert_refused(&chain(&*e), "received fatal alert: UnknownCA");
    h.flush().await;
    assert!(h.services().is_empty());

    // A good certificate.
    let good = ca.client("exporter");
    let (status, _) = post_traces(http, &ca.cert_pem, Some(&good)).await.unwrap();
    assert_eq!(status, 200);
    let mut c = grpcs(grpc, client_config(&ca.cert_pem, Some(&good), H2))
        .await
        .unwrap();
    c.export(request("mtls-grpc", vec![span(13, 1, 0, "r")]))
        .await
        .unwrap();
    h.flush().await;
    assert_eq!(h.services(), ["mtls-grpc", "tls"]);
    h.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stalled_handshake_is_cut_at_the_header_timeout() {
    let ca = TestCa::new("CA");
    let h = start_with(|b| {
        b.tls(server_tls(&ca.server(&["localhost"])))
            .header_read_timeout(Duration::from_millis(200))
    })
    .await;
    for addr in [
        h.otlp_http_addr().unwrap(),
        h.otlp_grpc_addr().unwrap(),
        h.api_addr().unwrap(),
    ] {
        // Taken before connecting: the server's clock starts at accept, after this.
        let start = Instant::now();
        let mut s = TcpStream::connect(addr).await.unwrap();
        // The first bytes of a ClientHello record, then nothing.
        s.write_all(&[0x16, 0x03, 0x01]).await.unwrap();
        let mut buf = Vec::new();
        tokio::time::timeout(Duration::from_secs(10), s.read_to_end(&mut buf))
            .await
            .expect("a stalled handshake is held open")
            .ok();
        assert!(
            start.elapsed() >= Duration::from_millis(200),
            "{addr}: closed after {:?}",
            start.elapsed()
        );
    }
    h.shutdown().await;
}

#[test]
fn pem_problems_are_reported_per_input() {
    let ca = TestCa::new("CA");
    let a = ca.server(&["localhost"]);
    let b = ca.server(&["localhost"]);
    let e = ServerTls::from_pem(a.cert_pem.as_bytes(), b.key_pem.as_bytes()).unwrap_err();
    assert!(
        e.to_string().starts_with("unusable certificate and key: "),
        "{e}"
    );
    let e = server_tls(&a).client_ca_pem(b"not pem").unwrap_err();
    assert_eq!(
        e.to_string(),
        "invalid PEM client CA: no CERTIFICATE section found"
    );
}
