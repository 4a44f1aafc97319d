use std::fmt;
use std::task::{Context as TaskContext, Poll};

use http::{Request, Response};
use http_body::Body;
use tower_service::Service;
use tracewire::SpanExt;
use tracewire::propagation::Propagators;

use super::future::ClientResponseFuture;
use super::{ClientBodyEnd, TraceClientLayer};
use crate::attrs::{method_name, server_address, span_method, url_full};
use crate::body::ResponseBody;

/// A client service traced by [`TraceClientLayer`].
#[derive(Clone)]
pub struct TraceClient<S> {
    pub(crate) inner: S,
    pub(crate) propagators: Propagators,
}

impl<S> TraceClient<S> {
    /// Wraps `inner`, injecting W3C Trace Context and Baggage.
    pub fn new(inner: S) -> Self {
        TraceClient {
            inner,
            propagators: Propagators::w3c(),
        }
    }

    /// The default layer ([`TraceClientLayer::new`]).
    pub fn layer() -> TraceClientLayer {
        TraceClientLayer::new()
    }

    /// The propagation formats this client injects.
    pub fn propagators(&self) -> &Propagators {
        &self.propagators
    }
}

crate::macros::define_inner_service_accessors!(TraceClient<S>);

impl<S: fmt::Debug> fmt::Debug for TraceClient<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TraceClient")
            .field("inner", &self.inner)
            .field("propagators", &self.propagators)
            .finish()
    }
}

impl<S, ReqB, ResB> Service<Request<ReqB>> for TraceClient<S>
where
    S: Service<Request<ReqB>, Response = Response<ResB>>,
    S::Error: fmt::Display,
    ResB: Body,
    ResB::Error: fmt::Display,
{
    type Response = Response<ResponseBody<ResB, ClientBodyEnd>>;
    type Error = S::Error;
    type Future = ClientResponseFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut TaskContext<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut req: Request<ReqB>) -> Self::Future {
        let method = method_name(req.method());
        let scheme = req.uri().scheme_str().unwrap_or("http");
        let (address, port) = server_address(req.uri(), req.headers(), scheme);
        let span = tracing::info_span!(
            target: "tracewire_tower::client",
            "HTTP client request",
            otel.name = span_method(req.method()),
            otel.kind = "client",
            otel.status_code = tracing::field::Empty,
            otel.status_message = tracing::field::Empty,
            http.request.method = method,
            http.request.method_original = (method == "_OTHER").then(|| req.method().as_str()),
            server.address = address,
            server.port = port,
            url.full = tracing::field::Empty,
            http.response.status_code = tracing::field::Empty,
            error.type = tracing::field::Empty,
        );
        // The span's own context, or (span disabled) whatever context is current, so the
        // trace goes on even when a filter turned the span off.
        let cx = span.context().unwrap_or_else(tracewire::current);
        if cx.span_context().is_some_and(|sc| sc.is_sampled()) {
            span.record("url.full", url_full(req.uri()).as_str());
        }
        let headers = req.headers_mut();
        for field in self.propagators.fields() {
            headers.remove(*field);
        }
        self.propagators.inject(&cx, headers);

        let future = {
            let _entered = span.enter();
            self.inner.call(req)
        };
        ClientResponseFuture::new(future, span)
    }
}
