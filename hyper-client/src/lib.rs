//! A traced HTTP client for [`tracewire`]: hyper-util's pooled client (or any
//! `tower::Service<http::Request<_>>`) behind the `tracewire-tower` client layer, so a traced
//! call is one line.
//!
//! ```no_run
//! # async fn run() -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
//! let client = tracewire_hyper::Client::new();
//! let res = client.get("http://ranking.local:8080/rank".parse()?).await?;
//! # let _ = res;
//! # Ok(())
//! # }
//! ```
//!
//! Each call starts a `CLIENT` span as a child of the current context (the current span, or the
//! request context a server layer put in scope), injects its context and baggage into the
//! request headers (replacing trace headers the caller set), records the HTTP client
//! attributes, and ends when the response body ends. 4xx, 5xx and transport errors mark the
//! span failed.
//!
//! `https://` URLs work out of the box (the `https` feature): rustls with the ring provider,
//! HTTP/2 or HTTP/1.1 by ALPN, the system's trusted roots (Mozilla's, compiled in, when the
//! system has none). [`Client::builder`] trusts a custom CA instead, or takes a whole rustls
//! configuration.
//!
//! # Where to find what
//!
//! `lib.rs` holds [`Client`] (the traced client: `tracewire-tower`'s client layer over
//! hyper-util's client) and its response types; `shared.rs` the [`SharedClient`] it calls by
//! default (hyper-util's client behind one reference count, so the clone a call makes is
//! cheap); `connector.rs` the [`Connector`] (TCP, TLS for `https://`) and the
//! [`ClientBuilder`] that chooses its roots. The span itself, its attributes and the header
//! injection live in `tracewire-tower`'s `client` module.
//!
//! # Features
//!
//! | feature | default | adds |
//! |---|---|---|
//! | `https` | yes | `https://` URLs (rustls, ring, system or custom roots) |

mod connector;
mod shared;

use std::fmt;
use std::future::poll_fn;

use bytes::Bytes;
use http::{Request, Uri};
use http_body_util::Full;
use tower_service::Service;
use tracewire::propagation::Propagators;
use tracewire_tower::{HttpClient as TraceClient, HttpClientLayer, HttpResponseBody};

pub use crate::connector::{ClientBuildError, ClientBuilder, Connector};
pub use crate::shared::SharedClient;
pub use tracewire;
pub use tracewire_tower;

/// hyper-util's pooled HTTP/1 and HTTP/2 client over the [`Connector`] (TCP, and TLS for
/// `https://` with the `https` feature).
pub type HttpClient<B = Full<Bytes>> = hyper_util::client::legacy::Client<Connector, B>;

/// The body of a traced response: the inner body, ending the client span when it ends.
pub type ResponseBody<B = hyper::body::Incoming> = HttpResponseBody<B>;

/// The response of a traced call.
pub type Response<B = hyper::body::Incoming> = http::Response<ResponseBody<B>>;

/// A traced HTTP client: a cheap-to-clone handle around `S` (by default hyper-util's
/// [`HttpClient`], shared: [`SharedClient`]) with the `tracewire-tower` client layer.
#[derive(Clone, Debug)]
pub struct Client<S = SharedClient> {
    inner: TraceClient<S>,
}

impl Client {
    /// A traced hyper-util client on the Tokio runtime, sending `Full<Bytes>` bodies and
    /// injecting W3C Trace Context and Baggage; `https://` trusts the system's roots.
    pub fn new() -> Self {
        Client::from_service(SharedClient::from(connector::default_http_client()))
    }

    /// A builder for a client with chosen TLS roots.
    pub fn builder() -> ClientBuilder {
        ClientBuilder::default()
    }
}

impl Default for Client {
    fn default() -> Self {
        Client::new()
    }
}

impl<S> Client<S> {
    /// Traces any `tower::Service<http::Request<_>>` HTTP client (hyper-util with another
    /// connector or body type, a service stack with retries and timeouts, ...). The service is
    /// cloned for each call, as tower services are: wrap a hyper-util client in a
    /// [`SharedClient`] so that the clone is one reference count.
    pub fn from_service(service: S) -> Self {
        Client {
            inner: TraceClient::new(service),
        }
    }

    /// The propagation formats to inject (default: W3C Trace Context and Baggage).
    #[must_use]
    pub fn propagators(self, propagators: Propagators) -> Self {
        use tower_layer::Layer as _;
        Client {
            inner: HttpClientLayer::new()
                .propagators(propagators)
                .layer(self.inner.into_inner()),
        }
    }

    /// The wrapped client.
    pub fn get_ref(&self) -> &S {
        self.inner.get_ref()
    }

    /// The traced service, for use in a tower stack.
    pub fn into_service(self) -> TraceClient<S> {
        self.inner
    }

    /// Sends `req` through the traced client.
    pub async fn request<B, ResB>(
        &self,
        req: Request<B>,
    ) -> Result<http::Response<ResponseBody<ResB>>, S::Error>
    where
        S: Service<Request<B>, Response = http::Response<ResB>> + Clone,
        S::Error: fmt::Display + 'static,
        ResB: http_body::Body,
        ResB::Error: fmt::Display + 'static,
    {
        let mut service = self.inner.clone();
        poll_fn(|cx| service.poll_ready(cx)).await?;
        service.call(req).await
    }

    /// Sends a `GET` with an empty body to `uri`.
    pub async fn get<ResB>(&self, uri: Uri) -> Result<http::Response<ResponseBody<ResB>>, S::Error>
    where
        S: Service<Request<Full<Bytes>>, Response = http::Response<ResB>> + Clone,
        S::Error: fmt::Display + 'static,
        ResB: http_body::Body,
        ResB::Error: fmt::Display + 'static,
    {
        let mut req = Request::new(Full::default());
        *req.uri_mut() = uri;
        self.request(req).await
    }
}

impl<S, B, ResB> Service<Request<B>> for Client<S>
where
    S: Service<Request<B>, Response = http::Response<ResB>>,
    S::Error: fmt::Display + 'static,
    ResB: http_body::Body,
    ResB::Error: fmt::Display + 'static,
{
    type Response = http::Response<ResponseBody<ResB>>;
    type Error = S::Error;
    type Future = tracewire_tower::HttpResponseFuture<S::Future>;

    fn poll_ready(
        &mut self,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: Request<B>) -> Self::Future {
        self.inner.call(req)
    }
}

#[cfg(test)]
mod tests {
    use std::convert::Infallible;
    use std::sync::{Arc, Mutex};

    use http::HeaderMap;
    use http_body_util::BodyExt;
    use hyper::service::service_fn;
    use hyper_util::rt::TokioIo;
    use tracewire::SpanKind;
    use tracewire::testing::{Recorder, SpanAssert};

    use super::*;

    fn assert_send_sync<T: Send + Sync>() {}

    /// The `traceparent` a client span sends: its own ids, sampled with a random trace id.
    fn traceparent_of(span: &SpanAssert) -> String {
        format!("00-{}-{}-03", span.trace_id(), span.span_id())
    }

    /// An HTTP/1 server recording request headers; answers `status`.
    async fn server(status: u16) -> (std::net::SocketAddr, Arc<Mutex<Vec<HeaderMap>>>) {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let seen = Arc::new(Mutex::new(Vec::new()));
        let record = seen.clone();
        let svc = service_fn(move |req: Request<hyper::body::Incoming>| {
            record.lock().unwrap().push(req.headers().clone());
            let mut res = http::Response::new(Full::new(Bytes::from_static(b"pong")));
            *res.status_mut() = http::StatusCode::from_u16(status).unwrap();
            std::future::ready(Ok::<_, Infallible>(res))
        });
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let conn = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), svc.clone());
                tokio::spawn(conn);
            }
        });
        (addr, seen)
    }

    #[tokio::test]
    async fn one_line_get_over_a_socket() {
        let recorder = Recorder::new();
        let _guard = recorder.set_default();
        let (addr, seen) = server(200).await;
        let client = Client::new();
        let res = client
            .get(format!("http://{addr}/ping?session=abc").parse().unwrap())
            .await
            .unwrap();
        assert_eq!(res.status(), 200);
        assert!(recorder.spans().is_empty(), "span ended before the body");
        let body = res.into_body().collect().await.unwrap().to_bytes();
        assert_eq!(body, "pong");

        let span = recorder.span("GET");
        span.assert_kind(SpanKind::Client)
            .assert_root()
            .assert_attr("server.address", "127.0.0.1")
            .assert_attr("server.port", i64::from(addr.port()))
            .assert_attr("url.full", format!("http://{addr}/ping?session=REDACTED"))
            .assert_attr("http.response.status_code", 200i64);
        let seen = seen.lock().unwrap();
        assert_eq!(seen.len(), 1);
        assert_eq!(seen[0]["traceparent"], traceparent_of(&span).as_str());
    }

    #[tokio::test]
    async fn a_shared_hyper_util_client_of_ones_own_is_traced_and_cloned_by_reference() {
        use hyper_util::client::legacy::Client as HyperClient;
        use hyper_util::client::legacy::connect::HttpConnector;
        use hyper_util::rt::TokioExecutor;

        let recorder = Recorder::new();
        let _guard = recorder.set_default();
        let (addr, seen) = server(200).await;
        let hyper: HyperClient<HttpConnector, String> =
            HyperClient::builder(TokioExecutor::new()).build_http();
        let shared = SharedClient::from(hyper);
        let copy = shared.clone();
        assert!(std::ptr::eq(&*shared, &*copy), "one client behind both");
        let client = Client::from_service(copy);
        for _ in 0..2 {
            let req = Request::post(format!("http://{addr}/rides"))
                .body(String::from("{}"))
                .unwrap();
            let res = client.request(req).await.unwrap();
            assert_eq!(res.status(), 200);
            res.into_body().collect().await.unwrap();
        }
        let spans = recorder.spans_named("POST");
        assert_eq!(spans.len(), 2);
        let seen = seen.lock().unwrap();
        assert_eq!(seen.len(), 2);
        for (span, headers) in spans.iter().zip(seen.iter()) {
            span.assert_kind(SpanKind::Client)
                .assert_attr("http.request.method", "POST");
            assert_eq!(headers["traceparent"], traceparent_of(span).as_str());
        }
        assert!(std::ptr::eq(&**client.get_ref(), &*shared));
    }

    #[tokio::test]
    async fn server_errors_fail_the_client_span_and_parent_is_current_span() {
        let recorder = Recorder::new();
        let _guard = recorder.set_default();
        let (addr, seen) = server(503).await;
        let client = Client::new();
        let parent = tracing::info_span!("checkout");
        let res = {
            use tracing::Instrument;
            client
                .get(format!("http://{addr}/").parse().unwrap())
                .instrument(parent.clone())
                .await
                .unwrap()
        };
        drop(parent);
        res.into_body().collect().await.unwrap();
        let checkout = recorder.span("checkout");
        let get = recorder.span("GET");
        get.assert_child_of(&checkout)
            .assert_status(tracewire::Status::error(""))
            .assert_attr("error.type", "503");
        assert_eq!(
            seen.lock().unwrap()[0]["traceparent"],
            traceparent_of(&get).as_str()
        );
    }

    #[tokio::test]
    async fn connection_refused_is_an_error_span() {
        let recorder = Recorder::new();
        let _guard = recorder.set_default();
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        drop(listener);
        let err = Client::new()
            .get(format!("http://{addr}/").parse().unwrap())
            .await
            .unwrap_err();
        assert!(err.is_connect());
        recorder
            .span("GET")
            .assert_attr("error.type", "hyper_util::client::legacy::client::Error")
            .assert_no_attr("http.response.status_code");
    }

    #[tokio::test]
    async fn wraps_any_tower_service() {
        let recorder = Recorder::new();
        let _guard = recorder.set_default();
        let svc = tower::service_fn(|req: Request<String>| async move {
            let tp = req.headers()["traceparent"].to_str().unwrap().to_owned();
            Ok::<_, Infallible>(http::Response::new(Full::new(Bytes::from(tp))))
        });
        let client = Client::from_service(svc);
        let req = Request::post("http://svc.local/x")
            .body(String::from("{}"))
            .unwrap();
        let res = client.request(req).await.unwrap();
        let tp = res.into_body().collect().await.unwrap().to_bytes();
        let span = recorder.span("POST");
        assert_eq!(tp, traceparent_of(&span));
    }

    #[test]
    fn client_is_send_and_sync() {
        assert_send_sync::<Client>();
        assert_send_sync::<SharedClient>();
        assert_send_sync::<ResponseBody>();
    }
}
