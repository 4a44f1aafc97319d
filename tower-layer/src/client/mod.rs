//! The HTTP client layer.
//!
//! For each outgoing request, [`TraceClient`] starts a `CLIENT` span as a child of the current
//! context (the current span, or the ambient context a server layer put in scope), replaces any
//! trace headers the caller set with the span's context (and baggage), and ends the span when
//! the response body ends. 4xx and 5xx responses and transport errors mark it failed.
//!
//! ```text
//! HTTP client request{otel.kind="client" http.request.method="GET" server.address="ranking"
//!   server.port=8080 url.full="http://ranking:8080/rank?token=REDACTED" http.response.status_code=200}
//! ```

mod future;
mod layer;
mod service;

pub use self::future::{ClientBodyEnd, ClientResponseFuture};
pub use self::layer::TraceClientLayer;
pub use self::service::TraceClient;
