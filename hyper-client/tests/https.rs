//! `https://` through the traced client against a local rustls server with a CA made in the
//! test: HTTP/1.1 and HTTP/2 (ALPN), the custom CA option, and the default roots refusing an
//! unknown CA.

#![cfg(feature = "https")]

#[path = "../../collector/tests/common/tls.rs"]
mod certs;

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use certs::{TestCa, server_config};
use http::{HeaderMap, Request, Version};
use http_body_util::{BodyExt, Full};
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo};
use tracewire::testing::Recorder;

/// An https server presenting a `localhost` certificate from `ca`, speaking HTTP/2 if `h2`,
/// recording request headers.
async fn server(ca: &TestCa, h2: bool) -> (SocketAddr, Arc<Mutex<Vec<HeaderMap>>>) {
    let alpn: &[&[u8]] = if h2 { &[b"h2"] } else { &[b"http/1.1"] };
    let config = server_config(&ca.server(&["localhost"]), None, alpn);
    let acceptor = tokio_rustls::TlsAcceptor::from(config);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let seen = Arc::new(Mutex::new(Vec::new()));
    let s = seen.clone();
    tokio::spawn(async move {
        loop {
            let Ok((tcp, _)) = listener.accept().await else {
                return;
            };
            let (acceptor, s) = (acceptor.clone(), s.clone());
            tokio::spawn(async move {
                let Ok(tls) = acceptor.accept(tcp).await else {
                    return;
                };
                let svc = service_fn(move |req: Request<hyper::body::Incoming>| {
                    s.lock().unwrap().push(req.headers().clone());
                    async move {
                        Ok::<_, Infallible>(http::Response::new(Full::new(Bytes::from_static(
                            b"secure pong",
                        ))))
                    }
                });
                let io = TokioIo::new(tls);
                let _ = if h2 {
                    hyper::server::conn::http2::Builder::new(TokioExecutor::new())
                        .serve_connection(io, svc)
                        .await
                } else {
                    hyper::server::conn::http1::Builder::new()
                        .serve_connection(io, svc)
                        .await
                };
            });
        }
    });
    (addr, seen)
}

#[tokio::test]
async fn custom_ca_over_http1_and_http2() {
    let ca = TestCa::new("hyper test ca");
    for (h2, version) in [(false, Version::HTTP_11), (true, Version::HTTP_2)] {
        let recorder = Recorder::new();
        let _guard = recorder.set_default();
        let (addr, seen) = server(&ca, h2).await;
        let client = tracewire_hyper::Client::builder()
            .ca_certificate_pem(ca.cert_pem.as_str())
            .build()
            .unwrap();
        let url = format!("https://localhost:{}/ping", addr.port());
        let res = client.get(url.parse().unwrap()).await.unwrap();
        assert_eq!(res.status(), 200);
        assert_eq!(res.version(), version);
        let body = res.into_body().collect().await.unwrap().to_bytes();
        assert_eq!(body, "secure pong");
        let span = recorder.span("GET");
        span.assert_attr("url.full", url.clone())
            .assert_attr("server.address", "localhost")
            .assert_attr("http.response.status_code", 200i64);
        let seen = seen.lock().unwrap();
        assert_eq!(
            seen[0]["traceparent"],
            format!("00-{}-{}-03", span.trace_id(), span.span_id()).as_str()
        );
    }
}

#[tokio::test]
async fn default_roots_refuse_an_unknown_ca() {
    let recorder = Recorder::new();
    let _guard = recorder.set_default();
    let ca = TestCa::new("unknown ca");
    let (addr, seen) = server(&ca, false).await;
    let err = tracewire_hyper::Client::new()
        .get(
            format!("https://localhost:{}/", addr.port())
                .parse()
                .unwrap(),
        )
        .await
        .unwrap_err();
    assert!(err.is_connect(), "{err:?}");
    let chain = format!("{:?}", std::error::Error::source(&err));
    assert!(chain.contains("UnknownIssuer"), "{chain}");
    recorder
        .span("GET")
        .assert_attr("error.type", "hyper_util::client::legacy::client::Error");
    assert!(seen.lock().unwrap().is_empty());
}
