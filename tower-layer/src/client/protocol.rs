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

    /// Records what only recording spans pay for: sampled spans, and spans that other
    /// subscribers see while no tracewire layer took them (an unsampled span is never exported,
    /// so it keeps only its creation attributes). Fields recorded here must be declared `Empty`
    /// by [`make_span`](Self::make_span). The default records nothing.
    fn record_sampled(&self, span: &Span, parts: &Parts) {
        let _ = (span, parts);
    }

    /// Starts reading the outcome of a request whose span records (see
    /// [`record_sampled`](Self::record_sampled)).
    fn outcome(&self, parts: &Parts) -> Self::Outcome;

    /// Starts reading the outcome of a request whose span is enabled but not sampled: it is
    /// never exported, so the outcome may record less (HTTP records the status code and the
    /// response's protocol version only for a failure). The default is
    /// [`outcome`](Self::outcome).
    fn outcome_unsampled(&self, parts: &Parts) -> Self::Outcome {
        self.outcome(parts)
    }
}
