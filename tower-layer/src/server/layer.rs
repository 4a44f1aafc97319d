use std::fmt;
use std::sync::Arc;

use http::HeaderName;
use tower_layer::Layer;
use tracewire::propagation::Propagators;

use super::headers::HeaderAllowlist;
use super::{ServerProtocol, TraceAll, Trust};
use crate::service::TraceService;

/// The settings of a server layer that are plain values (hooks are type parameters).
#[derive(Clone, Debug)]
pub(crate) struct ServerConfig {
    pub(crate) propagators: Propagators,
    pub(crate) request_headers: HeaderAllowlist,
    pub(crate) response_headers: HeaderAllowlist,
    pub(crate) trace_response: Option<HeaderName>,
}

/// A [`Layer`] that traces the requests served by the wrapped service: one `SERVER` span per
/// request, a child of the inbound trace context (as far as the trust policy allows), ending
/// with the response body.
///
/// Generic over the protocol `P` ([`HttpServerLayer`](crate::HttpServerLayer) is this layer for
/// HTTP; tracewire-tonic's `GrpcServerLayer` for gRPC) and over the pluggable hooks, replaced
/// by the builder methods (so a custom hook is monomorphised, never boxed): `N` the
/// [`MakeSpanName`](super::MakeSpanName), `F` the [`RequestFilter`](super::RequestFilter), `T`
/// the [`TrustPolicy`](super::TrustPolicy).
///
/// ```
/// use tracewire_tower::{HttpServerLayer, SkipPaths, Trust};
///
/// let layer = HttpServerLayer::new()
///     .filter(SkipPaths::new(["/health"]))
///     .trust(Trust::RestartWithLink)
///     .record_request_headers(["x-request-id"])
///     .trace_response_header();
/// let service = tower::ServiceBuilder::new()
///     .layer(layer)
///     .service_fn(|_req: http::Request<String>| async {
///         Ok::<_, std::convert::Infallible>(http::Response::new(String::new()))
///     });
/// # let _ = service;
/// ```
#[must_use]
pub struct ServerLayer<P, N, F, T> {
    pub(crate) config: Arc<ServerConfig>,
    pub(crate) protocol: P,
    pub(crate) name: N,
    pub(crate) filter: F,
    pub(crate) trust: T,
}

impl<P: ServerProtocol + Default> ServerLayer<P, P::DefaultSpanName, TraceAll, Trust> {
    /// A layer with the defaults: the process-wide propagation formats
    /// ([`Propagators::global`]: `OTEL_PROPAGATORS` once the set-up ran, else W3C Trace
    /// Context + Baggage), the protocol's span names,
    /// every request traced, inbound context trusted ([`Trust::Continue`]), no headers
    /// recorded, no `traceresponse`.
    pub fn new() -> Self {
        Self::for_protocol(P::default())
    }
}

impl<P: ServerProtocol> ServerLayer<P, P::DefaultSpanName, TraceAll, Trust> {
    /// A layer with the defaults for a protocol with these settings.
    pub fn for_protocol(protocol: P) -> Self {
        ServerLayer {
            config: Arc::new(ServerConfig {
                propagators: Propagators::global(),
                request_headers: HeaderAllowlist::default(),
                response_headers: HeaderAllowlist::default(),
                trace_response: None,
            }),
            protocol,
            name: P::DefaultSpanName::default(),
            filter: TraceAll,
            trust: Trust::Continue,
        }
    }
}

impl<P: ServerProtocol + Default> Default for ServerLayer<P, P::DefaultSpanName, TraceAll, Trust> {
    fn default() -> Self {
        Self::new()
    }
}

impl<P, N, F, T> ServerLayer<P, N, F, T> {
    fn with_config(mut self, change: impl FnOnce(&mut ServerConfig)) -> Self {
        // Builders run before the layer is shared, so this never clones in practice.
        change(Arc::make_mut(&mut self.config));
        self
    }

    /// The propagation formats used to read the inbound context (default:
    /// [`Propagators::global`]). The server only extracts.
    pub fn propagators(self, propagators: Propagators) -> Self {
        self.with_config(|config| config.propagators = propagators)
    }

    /// Adds a W3C `traceresponse` header (`00-{trace id}-{server span id}-{flags}`; for gRPC,
    /// response metadata) to every traced response, so callers can find the trace.
    pub fn trace_response_header(self) -> Self {
        self.trace_response_header_named(HeaderName::from_static("traceresponse"))
    }

    /// Like [`trace_response_header`](Self::trace_response_header) under another header name.
    pub fn trace_response_header_named(self, name: HeaderName) -> Self {
        self.with_config(|config| config.trace_response = Some(name))
    }

    /// Replaces the protocol's own settings.
    pub fn protocol(mut self, protocol: P) -> Self {
        self.protocol = protocol;
        self
    }

    /// Replaces the span-name formatter.
    pub fn span_name<N2>(self, name: N2) -> ServerLayer<P, N2, F, T> {
        self.replace_hooks(|_, filter, trust| (name, filter, trust))
    }

    /// Replaces the request filter. Requests it skips get no span and run with the context
    /// the trust policy lets through.
    pub fn filter<F2>(self, filter: F2) -> ServerLayer<P, N, F2, T> {
        self.replace_hooks(|name, _, trust| (name, filter, trust))
    }

    /// Replaces the trust policy: a [`Trust`] for the whole listener, or a closure choosing
    /// one per request.
    pub fn trust<T2>(self, trust: T2) -> ServerLayer<P, N, F, T2> {
        self.replace_hooks(|name, filter, _| (name, filter, trust))
    }

    fn replace_hooks<N2, F2, T2>(
        self,
        replace: impl FnOnce(N, F, T) -> (N2, F2, T2),
    ) -> ServerLayer<P, N2, F2, T2> {
        let (name, filter, trust) = replace(self.name, self.filter, self.trust);
        ServerLayer {
            config: self.config,
            protocol: self.protocol,
            name,
            filter,
            trust,
        }
    }
}

impl<P: ServerProtocol, N, F, T> ServerLayer<P, N, F, T> {
    /// Request headers (gRPC: metadata) to record as string arrays (one element per header
    /// line), under the protocol's prefix (`http.request.header.<name>`,
    /// `rpc.request.metadata.<key>`). Sensitive headers
    /// (`authorization`, `cookie`, ...) and invalid names are ignored. Only sampled spans
    /// record them.
    pub fn record_request_headers(self, names: impl IntoIterator<Item: AsRef<str>>) -> Self {
        let list = HeaderAllowlist::new(P::REQUEST_HEADER_PREFIX, names);
        self.with_config(|config| config.request_headers = list)
    }

    /// Response headers (gRPC: response metadata) to record as string arrays, under the
    /// protocol's prefix (`http.response.header.<name>`, `rpc.response.metadata.<key>`).
    /// Sensitive headers
    /// (`set-cookie`, ...) and invalid names are ignored. Only sampled spans record them.
    pub fn record_response_headers(self, names: impl IntoIterator<Item: AsRef<str>>) -> Self {
        let list = HeaderAllowlist::new(P::RESPONSE_HEADER_PREFIX, names);
        self.with_config(|config| config.response_headers = list)
    }
}

impl<P: Clone, N: Clone, F: Clone, T: Clone> Clone for ServerLayer<P, N, F, T> {
    fn clone(&self) -> Self {
        ServerLayer {
            config: self.config.clone(),
            protocol: self.protocol.clone(),
            name: self.name.clone(),
            filter: self.filter.clone(),
            trust: self.trust.clone(),
        }
    }
}

impl<P: fmt::Debug, N, F, T> fmt::Debug for ServerLayer<P, N, F, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ServerLayer")
            .field("config", &self.config)
            .field("protocol", &self.protocol)
            .field("name", &std::any::type_name::<N>())
            .field("filter", &std::any::type_name::<F>())
            .field("trust", &std::any::type_name::<T>())
            .finish()
    }
}

impl<S, P: Clone, N: Clone, F: Clone, T: Clone> Layer<S> for ServerLayer<P, N, F, T> {
    type Service = TraceService<S, Self>;

    fn layer(&self, inner: S) -> Self::Service {
        TraceService {
            inner,
            layer: self.clone(),
        }
    }
}
