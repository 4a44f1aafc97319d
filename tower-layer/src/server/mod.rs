//! The HTTP server layer.
//!
//! For each request, [`TraceServer`]:
//!
//! 1. extracts the inbound context with the configured [`Propagators`] (W3C Trace Context and
//!    Baggage by default). A malformed, oversized or hostile header starts a fresh trace and is
//!    reported through [`tracewire::diagnostics`]; the request is never refused;
//! 2. applies the [`TrustPolicy`], then the [`RequestFilter`]: an untraced request carries on
//!    only what the policy lets through ([`Trust`] has the table), so a skipped request on a
//!    public listener leaks no more of the caller's context than a traced one;
//! 3. starts a `SERVER` span whose parent is fixed at creation, named by the [`MakeSpanName`]
//!    hook (`{METHOD} {route}` or `{METHOD}`), with the HTTP semantic-convention attributes;
//! 4. calls the inner service inside the span and with the request's trace context in scope
//!    ([`tracewire::current`]), so outbound calls continue the trace even when a filter
//!    disabled the span;
//! 5. records `http.response.status_code` (5xx and inner-service errors mark the span failed,
//!    4xx do not), and ends the span when the response body ends, fails or is dropped.
//!
//! Span fields, for the `tracing` subscriber:
//!
//! ```text
//! HTTP request{otel.kind="server" http.request.method="GET" url.path="/users/7" url.scheme="http"
//!   server.address="api.local" server.port=80 network.protocol.version="1.1" http.route="/users/{id}"
//!   http.response.status_code=200 otel.name="GET /users/{id}"}
//! ```
//!
//! Put the layer outermost (before compression, auth and request-id layers) so the span
//! covers them and sees the final status.
//!
//! [`Propagators`]: tracewire::propagation::Propagators

mod filter;
mod future;
mod headers;
mod layer;
mod request_info;
mod service;
mod span_name;
mod trust;

pub use self::filter::{RequestFilter, SkipPaths, TraceAll};
pub(crate) use self::future::short_type_name;
pub use self::future::{ServerBodyEnd, ServerResponseFuture};
pub use self::layer::TraceServerLayer;
pub use self::request_info::{DefaultRequestInfo, HttpRoute, RequestInfo};
pub use self::service::TraceServer;
pub use self::span_name::{DefaultSpanName, MakeSpanName};
pub use self::trust::{Trust, TrustPolicy};
