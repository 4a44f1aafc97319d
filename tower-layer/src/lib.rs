//! Tower server and client layers for [`tracewire`]: full tracing from one layer on the server
//! and one on the client, for any tower stack (hyper, axum, tonic's transport). HTTP here;
//! gRPC (tracewire-tonic) is the same layers with another protocol.
//!
//! # Server
//!
//! ```
//! use tracewire_tower::HttpServerLayer;
//!
//! # async fn handler(_req: http::Request<String>) -> Result<http::Response<String>, std::convert::Infallible> {
//! #     Ok(http::Response::new(String::new()))
//! # }
//! let service = tower::ServiceBuilder::new()
//!     .layer(HttpServerLayer::new())
//!     .service_fn(handler);
//! # let _ = service;
//! ```
//!
//! Each request gets a `SERVER` span, a child of the inbound W3C `traceparent` (or a new trace),
//! named `{METHOD} {route}` when a route template is known ([`HttpRoute`], or tracewire-axum)
//! and `{METHOD}` otherwise, with the HTTP semantic-convention attributes, ending when the
//! response body ends. See [`ServerLayer`] for the options: propagators, span names, request
//! filter, [`Trust`] policy, header allowlist, query recording with redaction, and the
//! `traceresponse` header.
//!
//! # Client
//!
//! ```
//! use tracewire_tower::HttpClientLayer;
//!
//! # async fn send(_req: http::Request<String>) -> Result<http::Response<String>, std::convert::Infallible> {
//! #     Ok(http::Response::new(String::new()))
//! # }
//! let client = tower::ServiceBuilder::new()
//!     .layer(HttpClientLayer::new())
//!     .service_fn(send);
//! # let _ = client;
//! ```
//!
//! Each call gets a `CLIENT` span, a child of the current context, whose ids are injected into
//! the outgoing headers (replacing any the caller set). tracewire-hyper wraps hyper-util's
//! client with it.
//!
//! # Attributes
//!
//! The layers follow the OpenTelemetry semantic conventions **v1.44.0** for HTTP spans.
//!
//! | attribute | server | client |
//! |---|---|---|
//! | `http.request.method` (`_OTHER` for a non-standard method, with `http.request.method_original`) | ✓ | ✓ |
//! | `http.response.status_code` | ✓ | ✓ |
//! | `http.route` (when a route template is known) | ✓ | |
//! | `url.path`, `url.scheme`; `url.query` (opt-in, redacted) | ✓ | |
//! | `url.full` (userinfo and credential-like query values redacted) | | ✓ |
//! | `server.address`, `server.port` (URI authority or `Host`; IPv6 without brackets) | ✓ | ✓ |
//! | `client.address`, `network.peer.address`, `network.peer.port` (the peer socket, when the framework knows it: [`RequestInfo`]); `client.port` (opt-in: [`record_client_port`](ServerLayer::record_client_port)) | ✓ | |
//! | `network.protocol.version` (request version on the server, response version on the client) | ✓ | ✓ |
//! | `user_agent.original` | ✓ | |
//! | `http.request.header.<name>`, `http.response.header.<name>` (allowlisted; string arrays, one element per header line) | ✓ | |
//! | `error.type` | ✓ | ✓ |
//!
//! `error.type` is the status code for a failed status (5xx on the server, 4xx and 5xx on the
//! client), otherwise the error's kind ([`ErrorRef::error_type`]): an I/O error kind
//! (`connection_refused`, `timeout`, ...), the error type's path for a named error type, or
//! `_OTHER`.
//!
//! These are the attributes of exported (sampled) spans. An unsampled span is never exported
//! and skips what costs parsing or a record: `server.address`/`server.port`, `url.full`, the
//! header allowlists, `url.query`, the server span's name, and `http.response.status_code`
//! (and a client's `network.protocol.version`) unless the response failed; other `tracing`
//! layers see it with the rest of its fields.
//!
//! # Building on it
//!
//! The layers are generic over a protocol ([`ServerProtocol`], [`ClientProtocol`]): the span's
//! attributes and an [`Outcome`] that reads the response, a service error, and the end of the
//! body. Everything else is shared, which is how tracewire-tonic traces gRPC. [`ResponseBody`]
//! (a body that calls an [`OnBodyEnd`] hook at end of stream with the trailers, on error, or on
//! drop) and [`ResponseFuture`] are usable on their own.
//!
//! # Where to find what
//!
//! | file | what |
//! |---|---|
//! | `service.rs` | [`TraceService`], the one traced service: start the request's trace, call the inner service inside it |
//! | `server/layer.rs`, `server/service.rs` | [`ServerLayer`] (the builder) and what it does per request (extract → trust → filter → span) |
//! | `server/trust.rs`, `server/filter.rs`, `server/span_name.rs` | the hooks: [`Trust`]/[`TrustPolicy`], [`RequestFilter`], [`MakeSpanName`] |
//! | `server/headers.rs`, `server/request_info.rs` | header allowlists; [`RequestInfo`] (route, peer) |
//! | `server/protocol.rs`, `server/http.rs` | [`ServerProtocol`]; the HTTP server span |
//! | `client/…` | the same for [`ClientLayer`]/[`ClientService`]; `client/http.rs` the HTTP client span |
//! | `http.rs` | [`Http`] and [`HttpOutcome`] (status mapping) |
//! | `hook.rs`, `future.rs`, `body.rs` | how a span lives until the body ends: [`Outcome`], [`ResponseHook`]/[`BodyHook`], [`ResponseFuture`], [`ResponseBody`] |
//! | `error.rs`, [`attrs`] | [`ErrorRef`] and `error.type`; semantic-convention values and redaction |
//!
//! The layers need a `tracing` subscriber with the [`tracewire::TracewireLayer`] (e.g.
//! [`tracewire::init`]); without one, context still flows from inbound to outbound requests.

mod body;
mod client;
mod error;
mod future;
mod hook;
mod http;
mod known_field;
mod server;
mod service;

pub mod attrs;

#[cfg(test)]
mod test_helpers;
#[cfg(test)]
mod tests;

pub use crate::attrs::{redact_query, url_full};
pub use crate::body::{BodyEnd, OnBodyEnd, ResponseBody};
pub use crate::client::{ClientLayer, ClientProtocol, ClientService, inject_replacing};
pub use crate::error::ErrorRef;
pub use crate::future::{OnResponse, ResponseFuture};
pub use crate::hook::{BodyHook, Outcome, ResponseHook};
pub use crate::http::{Http, HttpOutcome};
pub use crate::server::{
    DefaultRequestInfo, DefaultSpanName, HttpRoute, MakeSpanName, RequestFilter, RequestInfo,
    ServerLayer, ServerProtocol, ServerService, SkipPaths, TraceAll, Trust, TrustPolicy,
};
pub use crate::service::{StartRequest, TraceService};
pub use tracewire;

/// The HTTP server layer: [`ServerLayer`] with the [`Http`] protocol.
pub type HttpServerLayer<I = DefaultRequestInfo, N = DefaultSpanName, F = TraceAll, T = Trust> =
    ServerLayer<Http<I>, N, F, T>;

/// A service traced by an [`HttpServerLayer`].
pub type HttpServer<S, I = DefaultRequestInfo, N = DefaultSpanName, F = TraceAll, T = Trust> =
    ServerService<S, Http<I>, N, F, T>;

/// The HTTP client layer: [`ClientLayer`] with the [`Http`] protocol.
pub type HttpClientLayer<F = TraceAll> = ClientLayer<Http, F>;

/// A client service traced by an [`HttpClientLayer`].
pub type HttpClient<S, F = TraceAll> = ClientService<S, Http, F>;

/// The response body of a traced HTTP request (server or client).
pub type HttpResponseBody<B> = ResponseBody<B, BodyHook<HttpOutcome>>;

/// The response future of a traced HTTP service (server or client).
pub type HttpResponseFuture<F> = ResponseFuture<F, ResponseHook<HttpOutcome>>;
