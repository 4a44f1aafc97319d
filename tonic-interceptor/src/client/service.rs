use std::fmt;
use std::sync::Arc;
use std::task::{Context as TaskContext, Poll};
use std::time::Instant;

use bytes::Bytes;
use http_body::Body;
use tower_service::Service;
use tracewire::SpanExt;
use tracing::Span;
use tracing::field::Empty;

use super::layer::{ClientConfig, GrpcClientLayer};
use crate::body::{RequestBody, Tracker};
use crate::filter::RpcFilter;
use crate::future::ResponseFuture;
use crate::rpc::{self, RpcPath, Side};

/// The service [`GrpcClientLayer`] wraps around a `Channel`.
///
/// It implements `Service<http::Request<B>>` for any gRPC request body, so generated clients
/// accept it: `EchoClient::new(GrpcClient::new(channel))`. The inner service receives
/// `http::Request<tonic::body::Body>`; wrapping the request body to count the messages sent
/// costs one allocation per RPC (tonic's `Body` is a boxed body).
pub struct GrpcClient<S, F = ()> {
    inner: S,
    config: Arc<ClientConfig>,
    filter: F,
}

impl<S> GrpcClient<S> {
    /// Wraps `inner` with the default settings ([`GrpcClientLayer::new`]).
    pub fn new(inner: S) -> Self {
        tower_layer::Layer::layer(&GrpcClientLayer::new(), inner)
    }

    /// A [`GrpcClientLayer`] with the default settings.
    pub fn layer() -> GrpcClientLayer {
        GrpcClientLayer::new()
    }
}

impl<S, F> GrpcClient<S, F> {
    pub(crate) fn from_parts(inner: S, config: Arc<ClientConfig>, filter: F) -> Self {
        GrpcClient {
            inner,
            config,
            filter,
        }
    }

    define_inner_service_accessors!();
}

impl<S: Clone, F: Clone> Clone for GrpcClient<S, F> {
    fn clone(&self) -> Self {
        GrpcClient {
            inner: self.inner.clone(),
            config: self.config.clone(),
            filter: self.filter.clone(),
        }
    }
}

impl<S: fmt::Debug, F> fmt::Debug for GrpcClient<S, F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("GrpcClient")
            .field("inner", &self.inner)
            .field("config", &self.config)
            .field("filter", &std::any::type_name::<F>())
            .finish()
    }
}

impl<S, F, ReqBody, ResBody> Service<http::Request<ReqBody>> for GrpcClient<S, F>
where
    S: Service<http::Request<tonic::body::Body>, Response = http::Response<ResBody>>,
    S::Error: fmt::Display,
    F: RpcFilter,
    ReqBody: Body<Data = Bytes> + Send + 'static,
    ReqBody::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
    ResBody: Body<Data = Bytes>,
    ResBody::Error: fmt::Display + 'static,
{
    type Response = http::Response<crate::body::ResponseBody<ResBody>>;
    type Error = S::Error;
    type Future = ResponseFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut TaskContext<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut req: http::Request<ReqBody>) -> Self::Future {
        let config = &*self.config;
        let rpc = RpcPath::parse(req.uri().path());
        let span = if self.filter.should_trace(rpc.as_ref()) {
            client_span(&req, rpc, config)
        } else {
            Span::none()
        };
        let cx = span.context().unwrap_or_else(tracewire::current);
        config.propagators.inject(&cx, req.headers_mut());
        let deadline = if span.is_disabled() {
            None
        } else {
            rpc::parse_timeout(req.headers()).and_then(|t| Instant::now().checked_add(t))
        };
        // Counting messages needs the wrapper; without a span it would only cost an allocation.
        let req = if span.is_disabled() {
            req.map(tonic::body::Body::new)
        } else {
            req.map(|body| tonic::body::Body::new(RequestBody::new(body, &span, Side::Client)))
        };
        let tracker = Tracker::new(span, None, Side::Client, config.semconv.legacy(), deadline);
        let future = tracker.in_scope(|| self.inner.call(req));
        ResponseFuture::new(future, tracker)
    }
}

fn client_span<B>(req: &http::Request<B>, rpc: Option<RpcPath<'_>>, config: &ClientConfig) -> Span {
    let legacy = config.semconv.legacy();
    let (name, method, original) = match rpc {
        Some(rpc) => (rpc.full_name(), rpc.full_name(), None),
        None => ("grpc", "_OTHER", Some(req.uri().path())),
    };
    let (host, port) = match req.uri().host() {
        Some(host) => (Some(host), req.uri().port_u16()),
        None => match &config.server_address {
            Some((host, port)) => (Some(&**host), *port),
            None => (None, None),
        },
    };
    tracing::info_span!(
        target: "tracewire_tonic",
        "grpc.client",
        otel.name = name,
        otel.kind = "client",
        rpc.system.name = "grpc",
        rpc.method = method,
        rpc.method_original = original,
        rpc.system = legacy.then_some("grpc"),
        rpc.service = rpc.filter(|_| legacy).map(|r| r.service()),
        server.address = host,
        server.port = port,
        rpc.status_code = Empty,
        rpc.grpc.status_code = Empty,
        rpc.grpc.messages_received = Empty,
        rpc.grpc.messages_sent = Empty,
        error.type = Empty,
        otel.status_code = Empty,
        otel.status_message = Empty,
    )
}
