use std::fmt;
use std::sync::Arc;

use http::HeaderName;
use tower_layer::Layer;
use tracewire::propagation::Propagators;

use super::headers::HeaderAllowlist;
use super::{DefaultRequestInfo, DefaultSpanName, TraceAll, TraceServer, Trust};

/// The settings of a server layer that are plain values (hooks are type parameters).
#[derive(Clone, Debug)]
pub(crate) struct ServerConfig {
    pub(crate) propagators: Propagators,
    pub(crate) default_scheme: &'static str,
    pub(crate) record_query: bool,
    pub(crate) request_headers: HeaderAllowlist,
    pub(crate) response_headers: HeaderAllowlist,
    pub(crate) trace_response: Option<HeaderName>,
}

impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig {
            propagators: Propagators::w3c(),
            default_scheme: "http",
            record_query: false,
            request_headers: HeaderAllowlist::default(),
            response_headers: HeaderAllowlist::default(),
            trace_response: None,
        }
    }
}

/// A [`Layer`] that traces HTTP requests served by the wrapped service: one `SERVER` span per
/// request, a child of the inbound trace context, ending with the response body.
///
/// Type parameters are the pluggable hooks, replaced by the builder methods (so a custom hook
/// is monomorphised, never boxed): `I` the [`RequestInfo`](super::RequestInfo) (route template,
/// peer address), `N` the [`MakeSpanName`](super::MakeSpanName), `F` the
/// [`RequestFilter`](super::RequestFilter), `T` the [`TrustPolicy`](super::TrustPolicy).
///
/// ```
/// use tracewire_tower::{SkipPaths, TraceServerLayer, Trust};
///
/// let layer = TraceServerLayer::new()
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
pub struct TraceServerLayer<I = DefaultRequestInfo, N = DefaultSpanName, F = TraceAll, T = Trust> {
    pub(crate) config: Arc<ServerConfig>,
    pub(crate) info: I,
    pub(crate) name: N,
    pub(crate) filter: F,
    pub(crate) trust: T,
}

impl TraceServerLayer {
    /// A layer with the defaults: W3C Trace Context + Baggage, `{METHOD}` span names (plus the
    /// route when an [`HttpRoute`](super::HttpRoute) extension is present), every request
    /// traced, inbound context trusted, no headers or query recorded, no response header.
    pub fn new() -> Self {
        TraceServerLayer {
            config: Arc::new(ServerConfig::default()),
            info: DefaultRequestInfo,
            name: DefaultSpanName,
            filter: TraceAll,
            trust: Trust::Continue,
        }
    }
}

impl Default for TraceServerLayer {
    fn default() -> Self {
        TraceServerLayer::new()
    }
}

impl<I, N, F, T> TraceServerLayer<I, N, F, T> {
    fn config_mut(&mut self) -> &mut ServerConfig {
        Arc::make_mut(&mut self.config)
    }

    /// The propagation formats used to read the inbound context (and to write nothing: the
    /// server only extracts).
    pub fn propagators(mut self, propagators: Propagators) -> Self {
        self.config_mut().propagators = propagators;
        self
    }

    /// The `url.scheme` recorded when the request URI has none (servers see origin-form
    /// URIs): `"http"` by default; set `"https"` behind TLS.
    pub fn scheme(mut self, scheme: &'static str) -> Self {
        self.config_mut().default_scheme = scheme;
        self
    }

    /// Records the query string as `url.query`, with the values of credential-like keys
    /// replaced by `REDACTED` ([`redact_query`](crate::redact_query)). Off by default.
    pub fn record_query(mut self, yes: bool) -> Self {
        self.config_mut().record_query = yes;
        self
    }

    /// Request headers to record as `http.request.header.<name>` (any names; repeated values
    /// joined with `,`). Sensitive headers (`authorization`, `cookie`, ...) and invalid names
    /// are ignored. Only sampled spans record them.
    pub fn record_request_headers<It, S>(mut self, names: It) -> Self
    where
        It: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        self.config_mut().request_headers = HeaderAllowlist::new("http.request.header.", names);
        self
    }

    /// Response headers to record as `http.response.header.<name>` (any names; repeated values
    /// joined with `,`). Sensitive headers (`set-cookie`, ...) and invalid names are ignored.
    /// Only sampled spans record them.
    pub fn record_response_headers<It, S>(mut self, names: It) -> Self
    where
        It: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        self.config_mut().response_headers = HeaderAllowlist::new("http.response.header.", names);
        self
    }

    /// Adds a W3C `traceresponse` header (`00-{trace id}-{server span id}-{flags}`) to every
    /// traced response, so callers can find the trace.
    pub fn trace_response_header(self) -> Self {
        self.trace_response_header_named(HeaderName::from_static("traceresponse"))
    }

    /// Like [`trace_response_header`](Self::trace_response_header) under another header name.
    pub fn trace_response_header_named(mut self, name: HeaderName) -> Self {
        self.config_mut().trace_response = Some(name);
        self
    }

    /// Replaces the request-info hook (route template and peer address).
    pub fn request_info<I2>(self, info: I2) -> TraceServerLayer<I2, N, F, T> {
        TraceServerLayer {
            config: self.config,
            info,
            name: self.name,
            filter: self.filter,
            trust: self.trust,
        }
    }

    /// Replaces the span-name formatter.
    pub fn span_name<N2>(self, name: N2) -> TraceServerLayer<I, N2, F, T> {
        TraceServerLayer {
            config: self.config,
            info: self.info,
            name,
            filter: self.filter,
            trust: self.trust,
        }
    }

    /// Replaces the request filter.
    pub fn filter<F2>(self, filter: F2) -> TraceServerLayer<I, N, F2, T> {
        TraceServerLayer {
            config: self.config,
            info: self.info,
            name: self.name,
            filter,
            trust: self.trust,
        }
    }

    /// Replaces the trust policy: a [`Trust`] for the whole listener, or a closure.
    pub fn trust<T2>(self, trust: T2) -> TraceServerLayer<I, N, F, T2> {
        TraceServerLayer {
            config: self.config,
            info: self.info,
            name: self.name,
            filter: self.filter,
            trust,
        }
    }
}

impl<I: Clone, N: Clone, F: Clone, T: Clone> Clone for TraceServerLayer<I, N, F, T> {
    fn clone(&self) -> Self {
        TraceServerLayer {
            config: self.config.clone(),
            info: self.info.clone(),
            name: self.name.clone(),
            filter: self.filter.clone(),
            trust: self.trust.clone(),
        }
    }
}

impl<I, N, F, T> fmt::Debug for TraceServerLayer<I, N, F, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TraceServerLayer")
            .field("config", &self.config)
            .field("info", &std::any::type_name::<I>())
            .field("name", &std::any::type_name::<N>())
            .field("filter", &std::any::type_name::<F>())
            .field("trust", &std::any::type_name::<T>())
            .finish()
    }
}

impl<S, I: Clone, N: Clone, F: Clone, T: Clone> Layer<S> for TraceServerLayer<I, N, F, T> {
    type Service = TraceServer<S, I, N, F, T>;

    fn layer(&self, inner: S) -> Self::Service {
        TraceServer {
            inner,
            layer: self.clone(),
        }
    }
}
