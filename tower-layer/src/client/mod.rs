//! The client layer, for HTTP here and for gRPC in tracewire-tonic.
//!
//! For each outgoing request, [`ClientService`] starts a `CLIENT` span as a child of the
//! current context (the current span, or the context a server layer put in scope) with the
//! protocol's attributes ([`ClientProtocol`]), replaces any trace headers the caller set with
//! the span's context (and baggage), and ends the span when the response body ends. A request
//! the [`RequestFilter`](crate::RequestFilter) skips gets no span and carries the current
//! context on. For HTTP, 4xx and 5xx responses and transport errors mark the span failed.
//!
//! ```text
//! HTTP client request{otel.kind="client" http.request.method="GET" server.address="ranking"
//!   server.port=8080 url.full="http://ranking:8080/rank?token=REDACTED"
//!   http.response.status_code=200 network.protocol.version="1.1"}
//! ```

mod http;
mod layer;
mod protocol;
mod service;

pub use self::layer::ClientLayer;
pub use self::protocol::ClientProtocol;
pub use self::service::{ClientService, inject_replacing};
