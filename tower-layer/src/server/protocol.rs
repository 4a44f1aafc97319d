//! What a server layer asks of the protocol it traces.

use http::request::Parts;
use tracing::Span;

use super::MakeSpanName;
use crate::hook::Outcome;

/// The protocol-specific half of a [`ServerLayer`](super::ServerLayer): the span's attributes
/// and how the outcome is read. [`Http`](crate::Http) is HTTP's; tracewire-tonic has gRPC's.
///
/// Everything else — extraction, the [`Trust`](super::Trust) policy, the request filter, span
/// names, header allowlists, `traceresponse`, the context handlers run in, and ending the span
/// with the response body — the layer does the same way for every protocol.
pub trait ServerProtocol {
    /// The span-name hook a new layer starts with.
    type DefaultSpanName: MakeSpanName + Default;

    /// Reads how a traced request ended.
    type Outcome: Outcome;

    /// The attribute-key prefix of allowlisted request headers (`http.request.header.`).
    const REQUEST_HEADER_PREFIX: &'static str;

    /// The attribute-key prefix of allowlisted response headers (`http.response.header.`).
    const RESPONSE_HEADER_PREFIX: &'static str;

    /// What the span-name hook is given besides the request: the route template (HTTP) or the
    /// method (gRPC), when known.
    fn name_key<'a>(&self, parts: &'a Parts) -> Option<&'a str>;

    /// Creates the request's `SERVER` span. It is called with the parent the trust policy
    /// chose pending, so the first span it creates takes it. Fields the layer and the outcome
    /// record later must be declared `Empty`: `otel.name`, `otel.status_code`,
    /// `otel.status_message`, `error.type` and the outcome's own.
    fn make_span(&self, parts: &Parts, name_key: Option<&str>) -> Span;

    /// Records what only recording spans pay for: sampled spans, and spans that other
    /// subscribers see while no tracewire layer took them (an unsampled span is never exported,
    /// so it keeps only its creation attributes). Fields recorded here must be declared `Empty`
    /// by [`make_span`](Self::make_span). The default records nothing.
    fn record_sampled(&self, span: &Span, parts: &Parts) {
        let _ = (span, parts);
    }

    /// Records the span's name (`otel.name`, from the span-name hook) and then what
    /// [`record_sampled`](Self::record_sampled) records, on the same spans. The default does
    /// just that, in two `record` calls; a protocol may make it one (the HTTP protocol does: each
    /// `record` reaches every layer and looks the span up again).
    fn record_name_and_sampled(&self, span: &Span, parts: &Parts, name: &str) {
        span.record("otel.name", name);
        self.record_sampled(span, parts);
    }

    /// Starts reading the outcome of a request whose span records (see
    /// [`record_sampled`](Self::record_sampled)).
    fn outcome(&self, parts: &Parts) -> Self::Outcome;

    /// Starts reading the outcome of a request whose span is enabled but not sampled: it is
    /// never exported, so the outcome may record less (HTTP records the status code only when
    /// it is a failure). The default is [`outcome`](Self::outcome).
    fn outcome_unsampled(&self, parts: &Parts) -> Self::Outcome {
        self.outcome(parts)
    }
}
