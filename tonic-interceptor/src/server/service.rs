use std::fmt;
use std::sync::Arc;
use std::task::{Context as TaskContext, Poll};
use std::time::Instant;

use bytes::Bytes;
use http_body::Body;
use tower_service::Service;
use tracewire::Context;
use tracewire::diagnostics::report_extract_error;
use tracing::Span;
use tracing::field::Empty;

use super::layer::{GrpcServerLayer, ServerConfig};
use crate::body::{RequestBody, Tracker};
use crate::filter::RpcFilter;
use crate::future::ResponseFuture;
use crate::rpc::{self, RpcPath, Side};

/// The service [`GrpcServerLayer`] wraps around a tonic server (or any gRPC service taking
/// `http::Request`s).
pub struct GrpcServer<S, F = ()> {
    inner: S,
    config: Arc<ServerConfig>,
    filter: F,
}

impl<S> GrpcServer<S> {
    /// Wraps `inner` with the default settings ([`GrpcServerLayer::new`]).
    pub fn new(inner: S) -> Self {
        tower_layer::Layer::layer(&GrpcServerLayer::new(), inner)
    }

    /// A [`GrpcServerLayer`] with the default settings.
    pub fn layer() -> GrpcServerLayer {
        GrpcServerLayer::new()
    }
}

impl<S, F> GrpcServer<S, F> {
    pub(crate) fn from_parts(inner: S, config: Arc<ServerConfig>, filter: F) -> Self {
        GrpcServer {
            inner,
            config,
            filter,
        }
    }

    define_inner_service_accessors!();
}

impl<S: Clone, F: Clone> Clone for GrpcServer<S, F> {
    fn clone(&self) -> Self {
        GrpcServer {
            inner: self.inner.clone(),
            config: self.config.clone(),
            filter: self.filter.clone(),
        }
    }
}

impl<S: fmt::Debug, F> fmt::Debug for GrpcServer<S, F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("GrpcServer")
            .field("inner", &self.inner)
            .field("config", &self.config)
            .field("filter", &std::any::type_name::<F>())
            .finish()
    }
}

impl<S: tonic::server::NamedService, F> tonic::server::NamedService for GrpcServer<S, F> {
    const NAME: &'static str = S::NAME;
}

impl<S, F, ReqBody, ResBody> Service<http::Request<ReqBody>> for GrpcServer<S, F>
where
    S: Service<http::Request<RequestBody<ReqBody>>, Response = http::Response<ResBody>>,
    S::Error: fmt::Display,
    F: RpcFilter,
    ReqBody: Body<Data = Bytes>,
    ResBody: Body<Data = Bytes>,
    ResBody::Error: fmt::Display + 'static,
{
    type Response = http::Response<crate::body::ResponseBody<ResBody>>;
    type Error = S::Error;
    type Future = ResponseFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut TaskContext<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: http::Request<ReqBody>) -> Self::Future {
        let config = &*self.config;
        let mut inbound = Context::new();
        if let Err(err) = config.propagators.extract_into(req.headers(), &mut inbound) {
            // A bad header never fails the RPC: it starts a new trace (keeping valid baggage).
            report_extract_error(&err);
        }
        let rpc = RpcPath::parse(req.uri().path());
        let (span, own) = if self.filter.should_trace(rpc.as_ref()) {
            tracewire::with_parent_and_context(config.trust.parent(&inbound), || {
                server_span(&req, rpc, config.semconv.legacy())
            })
        } else {
            (Span::none(), None)
        };
        // An enabled span known to the tracewire layer carries the context itself; otherwise the
        // handler runs with the inbound context as its ambient context, so its outbound calls
        // still continue the trace.
        let ambient = match own {
            Some(_) => None,
            None => Some(config.trust.ambient(inbound)),
        };
        let deadline = if span.is_disabled() {
            None
        } else {
            rpc::parse_timeout(req.headers()).and_then(|t| Instant::now().checked_add(t))
        };
        let req = req.map(|body| RequestBody::new(body, &span, Side::Server));
        let tracker = Tracker::new(
            span,
            ambient,
            Side::Server,
            config.semconv.legacy(),
            deadline,
        );
        let future = tracker.in_scope(|| self.inner.call(req));
        ResponseFuture::new(future, tracker)
    }
}

fn server_span<B>(req: &http::Request<B>, rpc: Option<RpcPath<'_>>, legacy: bool) -> Span {
    let (name, method, original) = match rpc {
        Some(rpc) => (rpc.full_name(), rpc.full_name(), None),
        None => ("grpc", "_OTHER", Some(req.uri().path())),
    };
    #[cfg(feature = "connect-info")]
    let connect = req
        .extensions()
        .get::<tonic::transport::server::TcpConnectInfo>();
    #[cfg(not(feature = "connect-info"))]
    let connect: Option<&NoConnectInfo> = None;
    let (host, port) = match req.uri().host() {
        Some(host) => (
            Some(tracing::field::display(HostOrIp::Host(host))),
            req.uri().port_u16(),
        ),
        None => match connect.and_then(|c| c.local_addr()) {
            Some(local) => (
                Some(tracing::field::display(HostOrIp::Ip(local.ip()))),
                Some(local.port()),
            ),
            None => (None, None),
        },
    };
    let peer = connect.and_then(|c| c.remote_addr());
    tracing::info_span!(
        target: "tracewire_tonic",
        "grpc.server",
        otel.name = name,
        otel.kind = "server",
        rpc.system.name = "grpc",
        rpc.method = method,
        rpc.method_original = original,
        rpc.system = legacy.then_some("grpc"),
        rpc.service = rpc.filter(|_| legacy).map(|r| r.service()),
        server.address = host,
        server.port = port,
        network.peer.address = peer.map(|p| tracing::field::display(p.ip())),
        network.peer.port = peer.map(|p| p.port()),
        rpc.status_code = Empty,
        rpc.grpc.status_code = Empty,
        rpc.grpc.messages_received = Empty,
        rpc.grpc.messages_sent = Empty,
        error.type = Empty,
        otel.status_code = Empty,
        otel.status_message = Empty,
    )
}

/// A host name, or an IP address (displayed without brackets, as `server.address` wants).
enum HostOrIp<'a> {
    Host(&'a str),
    Ip(std::net::IpAddr),
}

impl fmt::Display for HostOrIp<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            HostOrIp::Host(h) => f.write_str(h.trim_start_matches('[').trim_end_matches(']')),
            HostOrIp::Ip(ip) => ip.fmt(f),
        }
    }
}

#[cfg(not(feature = "connect-info"))]
struct NoConnectInfo;

#[cfg(not(feature = "connect-info"))]
impl NoConnectInfo {
    fn local_addr(&self) -> Option<std::net::SocketAddr> {
        None
    }

    fn remote_addr(&self) -> Option<std::net::SocketAddr> {
        None
    }
}
