//! axum integration for [`tracewire`]: a server layer that names spans from the matched route
//! and an extractor that gives handlers the current trace context.
//!
//! ```
//! use axum::{Router, routing::get};
//!
//! async fn user(tw: tracewire_axum::CurrentTrace) -> String {
//!     format!("trace {}", tw.trace_id().map(|t| t.to_string()).unwrap_or_default())
//! }
//!
//! let app: Router = Router::new()
//!     .route("/users/{id}", get(user))
//!     .nest("/api", Router::new().route("/rides/{ride}", get(|| async { "ride" })))
//!     .fallback(|| async { "not here" })
//!     // Last, after every route and the fallback: the span name needs the matched route.
//!     .layer(tracewire_axum::layer());
//! ```
//!
//! `GET /users/7` gets a `SERVER` span named `GET /users/{id}` (with `http.route`), `GET
//! /api/rides/9` one named `GET /api/rides/{ride}`, and a request that matches no route (the
//! fallback, or axum's default 404) one named `GET`. The layer is a
//! [`tracewire_tower::HttpServerLayer`] reading axum's [`MatchedPath`] and [`ConnectInfo`],
//! so every option of that layer (trust policy, filter, header allowlist, ...) applies, and
//! its spans carry the attributes listed in tracewire-tower's docs (semantic conventions
//! v1.44.0), with `client.address` and `network.peer.*` from `ConnectInfo`
//! (serve with `into_make_service_with_connect_info::<SocketAddr>()`).
//!
//! # Where to add it
//!
//! axum puts [`MatchedPath`] in the request extensions during routing, so the layer must run
//! after routing: add it with [`Router::layer`](axum::Router::layer) on the outermost router,
//! after its routes, nested routers and fallback. (`Router::layer` also wraps the fallback;
//! `route_layer` would leave unmatched requests without a span.) Wrapping the whole router from
//! outside (e.g. `ServiceBuilder` around `Router`) still traces and propagates, but the span
//! is named `{METHOD}` since no route is known yet.
//!
//! Handlers instrumented with `#[tracing::instrument]` nest under the server span, and
//! outbound calls made through `tracewire-hyper` continue the trace.
//!
//! # Where to find what
//!
//! This crate is the axum-specific part only: `lib.rs` holds [`layer`], [`AxumLayer`],
//! [`AxumRequestInfo`] (route template and peer) and the [`CurrentTrace`] extractor; `tests.rs`
//! drives a `Router` in process. The layer itself — trust policy, filter, span names, header
//! allowlists, the span's attributes and its end with the body — is tracewire-tower's (see its
//! "where to find what").
//!
//! [`MatchedPath`]: axum::extract::MatchedPath
//! [`ConnectInfo`]: axum::extract::ConnectInfo

use std::convert::Infallible;
use std::net::SocketAddr;

use axum::extract::{ConnectInfo, MatchedPath};
use axum_core::extract::FromRequestParts;
use http::request::Parts;
use tracewire::{Baggage, Context, SpanId, TraceId};
use tracewire_tower::{
    DefaultRequestInfo, DefaultSpanName, HttpServerLayer, RequestInfo, TraceAll, Trust,
};

pub use tracewire;
pub use tracewire_tower;

/// The axum server layer: [`HttpServerLayer`] with [`AxumRequestInfo`]. (Not called
/// `TraceLayer`, so it never clashes with tower-http's in the same module.)
pub type AxumLayer<N = DefaultSpanName, F = TraceAll, T = Trust> =
    HttpServerLayer<AxumRequestInfo, N, F, T>;

/// The server layer for axum with the defaults (the process-wide propagation formats,
/// route-based names). Add it with `Router::layer`, after the routes and fallback. Configure it
/// like any [`HttpServerLayer`]:
///
/// ```
/// use tracewire_axum::tracewire_tower::{SkipPaths, Trust};
///
/// let layer = tracewire_axum::layer()
///     .filter(SkipPaths::new(["/health"]))
///     .trust(Trust::RestartWithLink)
///     .trace_response_header();
/// # let _ = layer;
/// ```
pub fn layer() -> AxumLayer {
    HttpServerLayer::new().request_info(AxumRequestInfo)
}

/// Reads the route template from axum's `MatchedPath` and the peer address from
/// `ConnectInfo<SocketAddr>` (falling back to `tracewire-tower`'s own extensions).
#[derive(Clone, Copy, Debug, Default)]
#[non_exhaustive]
pub struct AxumRequestInfo;

impl RequestInfo for AxumRequestInfo {
    fn route<'a>(&self, parts: &'a Parts) -> Option<&'a str> {
        match parts.extensions.get::<MatchedPath>() {
            Some(path) => Some(path.as_str()),
            None => DefaultRequestInfo::default().route(parts),
        }
    }

    fn peer_address(&self, parts: &Parts) -> Option<SocketAddr> {
        match parts.extensions.get::<ConnectInfo<SocketAddr>>() {
            Some(ConnectInfo(addr)) => Some(*addr),
            None => DefaultRequestInfo::default().peer_address(parts),
        }
    }
}

/// An extractor giving a handler the current trace context: the server span's trace and span
/// ids and the baggage (what outbound calls will carry). Never rejects; without tracing the ids
/// are `None`.
///
/// ```
/// use tracewire_axum::CurrentTrace;
///
/// async fn handler(trace: CurrentTrace) -> String {
///     let user = trace.baggage().get("user.id").unwrap_or("anonymous").to_owned();
///     format!("{user} in trace {:?}", trace.trace_id())
/// }
/// # let _: axum::routing::MethodRouter = axum::routing::get(handler);
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CurrentTrace {
    cx: Context,
}

impl CurrentTrace {
    /// The context as [`tracewire::current`] returned it in the handler.
    pub fn context(&self) -> &Context {
        &self.cx
    }

    /// The trace id.
    pub fn trace_id(&self) -> Option<TraceId> {
        self.cx.trace_id()
    }

    /// The current span's id (the server span, unless the handler entered its own).
    pub fn span_id(&self) -> Option<SpanId> {
        self.cx.span_id()
    }

    /// Whether the trace is sampled.
    pub fn is_sampled(&self) -> bool {
        self.cx.span_context().is_some_and(|sc| sc.is_sampled())
    }

    /// The baggage.
    pub fn baggage(&self) -> &Baggage {
        self.cx.baggage()
    }

    /// Consumes the extractor, returning the context.
    pub fn into_context(self) -> Context {
        self.cx
    }
}

impl<S: Send + Sync> FromRequestParts<S> for CurrentTrace {
    type Rejection = Infallible;

    async fn from_request_parts(_parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        Ok(CurrentTrace {
            cx: tracewire::current(),
        })
    }
}

#[cfg(test)]
mod tests;
