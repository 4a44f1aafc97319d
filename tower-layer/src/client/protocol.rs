//! What a client layer asks of the protocol it traces.

use http::request::Parts;
use tracing::Span;

use crate::hook::Outcome;

/// The protocol-specific half of a [`ClientLayer`](super::ClientLayer): the span's attributes
/// and how the outcome is read. [`Http`](crate::Http) is HTTP's; tracewire-tonic has gRPC's.
pub trait ClientProtocol {
    /// Reads how a traced request ended.
    type Outcome: Outcome;

    /// Creates the request's `CLIENT` span, a child of the current span or context. Fields
    /// recorded later must be declared `Empty`: `otel.status_code`, `otel.status_message`,
    /// `error.type` and the outcome's own.
    fn make_span(&self, parts: &Parts) -> Span;

    /// Records what only sampled spans pay for. The default records nothing.
    fn record_sampled(&self, span: &Span, parts: &Parts) {
        let _ = (span, parts);
    }

    /// Starts reading the outcome of a request whose span is enabled.
    fn outcome(&self, parts: &Parts) -> Self::Outcome;
}
