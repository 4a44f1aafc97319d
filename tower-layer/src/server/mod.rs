//! The server layer, for HTTP here and for gRPC in tracewire-tonic.
//!
//! For each request, [`ServerService`]:
//!
//! 1. extracts the inbound context with the configured [`Propagators`] (W3C Trace Context and
//!    Baggage by default). A malformed, oversized or hostile header starts a fresh trace and is
//!    reported through [`tracewire::diagnostics`]; the request is never refused;
//! 2. applies the [`TrustPolicy`], then the [`RequestFilter`]: an untraced request carries on
//!    only what the policy lets through ([`Trust`] has the table), so a skipped request on a
//!    public listener leaks no more of the caller's context than a traced one;
//! 3. starts a `SERVER` span whose parent is fixed at creation, with the protocol's attributes
//!    ([`ServerProtocol`]), named by the [`MakeSpanName`] hook (for HTTP `{METHOD} {route}` or
//!    `{METHOD}`);
//! 4. calls the inner service inside the span, with the request's trace context in scope
//!    ([`tracewire::current`]) even when no span carries it, so outbound calls continue the
//!    trace; the response body is polled the same way, so work a streaming handler does stays
//!    in the trace;
//! 5. reads the outcome (for HTTP `http.response.status_code`: 5xx and inner-service errors
//!    mark the span failed, 4xx do not) and ends the span when the response body ends, fails
//!    or is dropped.
//!
//! HTTP span fields of a sampled request, for the `tracing` subscriber:
//!
//! ```text
//! HTTP request{otel.kind="server" http.request.method="GET" url.path="/users/7" url.scheme="http"
//!   client.address="10.0.0.7" network.peer.address="10.0.0.7" network.peer.port=51234
//!   network.protocol.version="1.1" http.route="/users/{id}"
//!   otel.name="GET /users/{id}" server.address="api.local" server.port=80
//!   http.response.status_code=200}
//! ```
//!
//! An unsampled span is never exported, so it carries only what is known without parsing:
//! `otel.name`, `server.address`/`server.port` (parsed from the URI or `Host`), `url.query` and
//! allowlisted headers are recorded on sampled spans only (and on spans that other subscribers
//! see while no tracewire layer took them), as is `http.response.status_code` unless the
//! response failed.
//!
//! Put the layer outermost (before compression, auth and request-id layers) so the span
//! covers them and sees the final status.
//!
//! [`Propagators`]: tracewire::propagation::Propagators

mod filter;
mod headers;
mod http;
mod layer;
mod protocol;
mod request_info;
mod service;
mod span_name;
mod trust;

pub use self::filter::{RequestFilter, SkipPaths, TraceAll};
pub(crate) use self::headers::HeaderAllowlist;
pub use self::layer::ServerLayer;
pub use self::protocol::ServerProtocol;
pub use self::request_info::{DefaultRequestInfo, HttpRoute, RequestInfo};
pub use self::service::ServerService;
pub use self::span_name::{DefaultSpanName, MakeSpanName};
pub use self::trust::{Trust, TrustPolicy};
