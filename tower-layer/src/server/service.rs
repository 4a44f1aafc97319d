use std::fmt;
use std::task::{Context as TaskContext, Poll};

use http::{Request, Response};
use http_body::Body;
use tower_service::Service;
use tracewire::{Context, FutureExt};

use super::future::{ServerBodyEnd, ServerResponseFuture, ServerState};
use super::{
    DefaultRequestInfo, DefaultSpanName, MakeSpanName, RequestFilter, RequestInfo, TraceAll,
    TraceServerLayer, Trust, TrustPolicy,
};
use crate::attrs::{method_name, protocol_version, redact_query, server_address};
use crate::body::ResponseBody;

/// A service traced by [`TraceServerLayer`].
pub struct TraceServer<S, I = DefaultRequestInfo, N = DefaultSpanName, F = TraceAll, T = Trust> {
    pub(crate) inner: S,
    pub(crate) layer: TraceServerLayer<I, N, F, T>,
}

impl<S> TraceServer<S> {
    /// Wraps `inner` with the default settings.
    pub fn new(inner: S) -> Self {
        TraceServer {
            inner,
            layer: TraceServerLayer::new(),
        }
    }

    /// The default layer, to configure ([`TraceServerLayer::new`]).
    pub fn layer() -> TraceServerLayer {
        TraceServerLayer::new()
    }
}

crate::macros::define_inner_service_accessors!(TraceServer<S, I, N, F, T>);

impl<S: Clone, I: Clone, N: Clone, F: Clone, T: Clone> Clone for TraceServer<S, I, N, F, T> {
    fn clone(&self) -> Self {
        TraceServer {
            inner: self.inner.clone(),
            layer: self.layer.clone(),
        }
    }
}

impl<S: fmt::Debug, I, N, F, T> fmt::Debug for TraceServer<S, I, N, F, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TraceServer")
            .field("inner", &self.inner)
            .field("layer", &self.layer)
            .finish()
    }
}

impl<S, ReqB, ResB, I, N, F, T> Service<Request<ReqB>> for TraceServer<S, I, N, F, T>
where
    S: Service<Request<ReqB>, Response = Response<ResB>>,
    S::Error: fmt::Display,
    ResB: Body,
    ResB::Error: fmt::Display,
    I: RequestInfo,
    N: MakeSpanName,
    F: RequestFilter,
    T: TrustPolicy,
{
    type Response = Response<ResponseBody<ResB, ServerBodyEnd>>;
    type Error = S::Error;
    type Future = ServerResponseFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut TaskContext<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: Request<ReqB>) -> Self::Future {
        let (parts, body) = req.into_parts();
        let config = &*self.layer.config;

        // Extraction never fails the request: a bad header means a fresh trace, counted and
        // reported at a bounded rate. Valid baggage is kept.
        let mut inbound = Context::new();
        if let Err(err) = config
            .propagators
            .extract_into(&parts.headers, &mut inbound)
        {
            tracewire::diagnostics::report_extract_error(&err);
        }

        // The trust policy decides first: a request the filter skips must not carry more of the
        // inbound context onwards than a traced one would.
        let (parent, fallback) = self.layer.trust.trust(&parts).apply(inbound);
        if !self.layer.filter.should_trace(&parts) {
            let future = self.inner.call(Request::from_parts(parts, body));
            return ServerResponseFuture::new(future.in_context(fallback), None);
        }

        let route = self.layer.info.route(&parts);
        let method = method_name(&parts.method);
        let scheme = parts.uri.scheme_str().unwrap_or(config.default_scheme);
        let (address, port) = server_address(&parts.uri, &parts.headers, scheme);
        let (span, own) = tracewire::with_parent_and_context(parent, || {
            tracing::info_span!(
                target: "tracewire_tower::server",
                "HTTP request",
                otel.name = tracing::field::Empty,
                otel.kind = "server",
                otel.status_code = tracing::field::Empty,
                otel.status_message = tracing::field::Empty,
                http.request.method = method,
                http.request.method_original = (method == "_OTHER").then(|| parts.method.as_str()),
                url.path = parts.uri.path(),
                url.scheme = scheme,
                url.query = tracing::field::Empty,
                server.address = address,
                server.port = port,
                client.address = self.layer.info.client_address(&parts).map(tracing::field::display),
                network.protocol.version = protocol_version(parts.version),
                user_agent.original = parts
                    .headers
                    .get(http::header::USER_AGENT)
                    .and_then(|v| v.to_str().ok()),
                http.route = route,
                http.response.status_code = tracing::field::Empty,
                error.type = tracing::field::Empty,
            )
        });

        let sampled = own
            .as_ref()
            .and_then(Context::span_context)
            .is_some_and(|sc| sc.is_sampled());
        if sampled {
            // Only exported spans pay for formatting.
            if !config.request_headers.is_empty() {
                config.request_headers.record(&span, &parts.headers);
            }
            span.record("otel.name", &*self.layer.name.span_name(&parts, route));
            if config.record_query
                && let Some(query) = parts.uri.query()
            {
                span.record("url.query", &*redact_query(query));
            }
        }
        let (ambient, body_scope) = match own {
            Some(cx) => (cx, None),
            // The span is disabled: the inbound context itself carries the trace onwards.
            None => (fallback.clone(), Some(fallback)),
        };

        let future = {
            let _entered = span.enter();
            self.inner.call(Request::from_parts(parts, body))
        };
        ServerResponseFuture::new(
            future.in_context(ambient),
            Some(ServerState {
                end: ServerBodyEnd {
                    span,
                    ambient: body_scope,
                },
                response_headers: (!config.response_headers.is_empty())
                    .then(|| config.response_headers.clone()),
                trace_response: config.trace_response.clone(),
            }),
        )
    }
}
