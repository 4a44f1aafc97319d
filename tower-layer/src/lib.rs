//! Tower HTTP server and client layers for [`tracewire`]: full HTTP tracing from one layer on
//! the server and one on the client, for any tower stack (hyper, axum, tonic's transport).
//!
//! # Server
//!
//! ```
//! use tracewire_tower::TraceServerLayer;
//!
//! # async fn handler(_req: http::Request<String>) -> Result<http::Response<String>, std::convert::Infallible> {
//! #     Ok(http::Response::new(String::new()))
//! # }
//! let service = tower::ServiceBuilder::new()
//!     .layer(TraceServerLayer::new())
//!     .service_fn(handler);
//! # let _ = service;
//! ```
//!
//! Each request gets a `SERVER` span, a child of the inbound W3C `traceparent` (or a new trace),
//! named `{METHOD} {route}` when a route template is known ([`HttpRoute`], or `tracewire-axum`)
//! and `{METHOD}` otherwise, with the HTTP semantic-convention attributes, ending when the
//! response body ends. See [`TraceServerLayer`] for the options: propagators, span names,
//! request filter, [`Trust`] policy, header allowlist, query recording with redaction, and the
//! `traceresponse` header.
//!
//! # Client
//!
//! ```
//! use tracewire_tower::TraceClientLayer;
//!
//! # async fn send(_req: http::Request<String>) -> Result<http::Response<String>, std::convert::Infallible> {
//! #     Ok(http::Response::new(String::new()))
//! # }
//! let client = tower::ServiceBuilder::new()
//!     .layer(TraceClientLayer::new())
//!     .service_fn(send);
//! # let _ = client;
//! ```
//!
//! Each call gets a `CLIENT` span, a child of the current context, whose ids are injected into
//! the outgoing headers (replacing any the caller set). `tracewire-hyper` wraps hyper-util's
//! client with it.
//!
//! # Building on it
//!
//! [`ResponseBody`] (a body that calls an [`OnBodyEnd`] hook at end of stream with the
//! trailers, on error, or on drop) and the helpers in [`attrs`] are public for other protocol
//! integrations.
//!
//! The layers need a `tracing` subscriber with the [`tracewire::TracewireLayer`] (e.g.
//! [`tracewire::init`]); without one, context still flows from inbound to outbound requests.

mod body;
mod client;
mod macros;
mod server;

pub mod attrs;

#[cfg(test)]
mod test_helpers;
#[cfg(test)]
mod tests;

pub use crate::attrs::{redact_query, url_full};
pub use crate::body::{BodyEnd, OnBodyEnd, ResponseBody};
pub use crate::client::{ClientBodyEnd, ClientResponseFuture, TraceClient, TraceClientLayer};
pub use crate::server::{
    DefaultRequestInfo, DefaultSpanName, HttpRoute, MakeSpanName, RequestFilter, RequestInfo,
    ServerBodyEnd, ServerResponseFuture, SkipPaths, TraceAll, TraceServer, TraceServerLayer, Trust,
    TrustPolicy,
};
pub use tracewire;
