//! gRPC as tracewire-tower's server and client layers trace it: the settings and the span.

use std::borrow::Cow;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Instant;

use http::Uri;
use http::request::Parts;
use tracewire::limits::untrusted;
use tracewire_tower::attrs::server_address;
use tracewire_tower::{ClientProtocol, MakeSpanName, ServerProtocol};
use tracing::Span;
use tracing::field::Empty;

use crate::outcome::GrpcOutcome;
use crate::rpc::{RpcPath, SemconvStability, parse_timeout};
use crate::status::Side;

/// The gRPC protocol for tracewire-tower's layers: [`GrpcServerLayer`](crate::GrpcServerLayer)
/// and [`GrpcClientLayer`](crate::GrpcClientLayer) are those layers with it. Its settings
/// go in with the layers' `protocol` method or `for_protocol` constructor.
///
/// ```
/// use tracewire_tonic::{Grpc, GrpcClientLayer, GrpcServerLayer, SemconvStability};
///
/// let server = GrpcServerLayer::new().protocol(Grpc::new().semconv(SemconvStability::Stable));
/// let client = GrpcClientLayer::for_protocol(Grpc::new().server_address("dispatch", Some(50051)));
/// # let _ = (server, client);
/// ```
#[derive(Clone, Debug)]
pub struct Grpc {
    semconv: SemconvStability,
    server_address: Option<Arc<(Box<str>, Option<u16>)>>,
}

impl Grpc {
    /// The conventions from `OTEL_SEMCONV_STABILITY_OPT_IN`, no configured server address.
    pub fn new() -> Self {
        Grpc {
            semconv: SemconvStability::from_env(),
            server_address: None,
        }
    }

    /// Which semantic-convention attribute set to emit, overriding
    /// `OTEL_SEMCONV_STABILITY_OPT_IN`.
    #[must_use]
    pub fn semconv(mut self, semconv: SemconvStability) -> Self {
        self.semconv = semconv;
        self
    }

    /// The `server.address` and `server.port` client spans record when the request URI has no
    /// authority — as with a tonic `Channel`, which adds the endpoint's authority below the
    /// layer. [`connect`](crate::connect) and [`connect_lazy`](crate::connect_lazy) set it
    /// from the endpoint. Server spans read the request's `:authority` instead.
    #[must_use]
    pub fn server_address(mut self, host: impl Into<String>, port: Option<u16>) -> Self {
        self.server_address = Some(Arc::new((host.into().into(), port)));
        self
    }

    /// [`server_address`](Self::server_address) from a target URI (`http://dispatch:50051`):
    /// its host (IPv6 without brackets) and port, else the scheme's default port. A URI with no
    /// host leaves the setting as it was.
    #[must_use]
    pub fn server_uri(self, uri: &Uri) -> Self {
        let scheme = uri.scheme_str().unwrap_or("http");
        match server_address(uri, &http::HeaderMap::new(), scheme) {
            (Some(host), port) => {
                let host = host.to_owned();
                self.server_address(host, port)
            }
            (None, _) => self,
        }
    }
}

impl Default for Grpc {
    fn default() -> Self {
        Grpc::new()
    }
}

/// The gRPC span name of the semantic conventions: the method, `package.Service/Method`, or
/// `grpc` when the path is not a gRPC method path. Borrowed from the request: it allocates
/// nothing.
#[derive(Clone, Copy, Debug, Default)]
#[non_exhaustive]
pub struct GrpcSpanName;

impl MakeSpanName for GrpcSpanName {
    fn span_name<'a>(&self, _parts: &'a Parts, method: Option<&'a str>) -> Cow<'a, str> {
        Cow::Borrowed(method.unwrap_or("grpc"))
    }
}

impl Grpc {
    /// The span of one RPC, on either side; every field the outcome records is declared.
    fn span(&self, side: Side, parts: &Parts, method: Option<&str>) -> Span {
        let legacy = self.semconv.legacy();
        let scheme = parts.uri.scheme_str().unwrap_or("http");
        let (address, port) = match (server_address(&parts.uri, &parts.headers, scheme), side) {
            ((Some(host), port), _) => (Some(host), port),
            (_, Side::Client) => match &self.server_address {
                Some(configured) => (Some(&*configured.0), configured.1),
                None => (None, None),
            },
            (_, Side::Server) => (None, None),
        };
        let (kind, peer, otel_name) = match side {
            Side::Server => ("server", peer_address(parts), None),
            // A server's name comes from the span-name hook, for sampled spans; a client's is
            // the method.
            Side::Client => ("client", None, Some(method.unwrap_or("grpc"))),
        };
        tracing::info_span!(
            target: "tracewire_tonic",
            "gRPC call",
            otel.name = otel_name,
            otel.kind = kind,
            rpc.system.name = "grpc",
            rpc.method = method.unwrap_or("_OTHER"),
            rpc.method_original = method.is_none().then(|| untrusted(parts.uri.path())),
            rpc.system = legacy.then_some("grpc"),
            rpc.service = method
                .filter(|_| legacy)
                .and_then(|m| m.split_once('/'))
                .map(|(service, _)| service),
            server.address = address,
            server.port = port,
            network.peer.address = peer.map(|p| tracing::field::display(p.ip())),
            network.peer.port = peer.map(|p| p.port()),
            rpc.response.status_code = Empty,
            rpc.grpc.status_code = Empty,
            error.type = Empty,
            otel.status_code = Empty,
            otel.status_message = Empty,
        )
    }

    fn outcome(&self, side: Side, parts: &Parts) -> GrpcOutcome {
        let deadline = parse_timeout(&parts.headers).and_then(|t| Instant::now().checked_add(t));
        GrpcOutcome::new(side, self.semconv.legacy(), deadline)
    }
}

impl ServerProtocol for Grpc {
    type DefaultSpanName = GrpcSpanName;
    type Outcome = GrpcOutcome;
    const REQUEST_HEADER_PREFIX: &'static str = "rpc.request.metadata.";
    const RESPONSE_HEADER_PREFIX: &'static str = "rpc.response.metadata.";

    fn name_key<'a>(&self, parts: &'a Parts) -> Option<&'a str> {
        // The method is the path a caller chose: capped like every request-chosen value.
        RpcPath::parse(parts.uri.path()).map(|rpc| untrusted(rpc.full_name()))
    }

    fn make_span(&self, parts: &Parts, method: Option<&str>) -> Span {
        self.span(Side::Server, parts, method)
    }

    fn outcome(&self, parts: &Parts) -> GrpcOutcome {
        self.outcome(Side::Server, parts)
    }
}

impl ClientProtocol for Grpc {
    type Outcome = GrpcOutcome;

    fn make_span(&self, parts: &Parts) -> Span {
        let method = RpcPath::parse(parts.uri.path()).map(|rpc| rpc.full_name());
        self.span(Side::Client, parts, method)
    }

    fn outcome(&self, parts: &Parts) -> GrpcOutcome {
        self.outcome(Side::Client, parts)
    }
}

/// The caller's socket address, from tonic's connection info.
#[cfg(feature = "connect-info")]
fn peer_address(parts: &Parts) -> Option<SocketAddr> {
    parts
        .extensions
        .get::<tonic::transport::server::TcpConnectInfo>()
        .and_then(|c| c.remote_addr())
}

/// Without the `connect-info` feature the caller's address is not known.
#[cfg(not(feature = "connect-info"))]
fn peer_address(_parts: &Parts) -> Option<SocketAddr> {
    None
}
