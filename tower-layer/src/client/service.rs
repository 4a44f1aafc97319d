//! What the client layer does for each request before calling the inner service.

use http::HeaderMap;
use http::request::Parts;
use tracewire::propagation::Propagators;
use tracewire::{Context, SpanContext, SpanExt};

use super::{ClientLayer, ClientProtocol};
use crate::hook::ResponseHook;
use crate::server::{RequestFilter, TraceAll};
use crate::service::{StartRequest, TraceService};

/// A client service traced by a [`ClientLayer`].
pub type ClientService<S, P, F> = TraceService<S, ClientLayer<P, F>>;

impl<S, P: Default> ClientService<S, P, TraceAll> {
    /// Wraps `inner` with the default client settings (W3C Trace Context and Baggage).
    pub fn new(inner: S) -> Self {
        TraceService {
            inner,
            layer: ClientLayer::new(),
        }
    }

    /// The default client layer ([`ClientLayer::new`]).
    pub fn layer() -> ClientLayer<P, TraceAll> {
        ClientLayer::new()
    }
}

impl<P: ClientProtocol, F: RequestFilter> StartRequest for ClientLayer<P, F> {
    type Outcome = P::Outcome;

    fn start(&self, parts: &mut Parts) -> ResponseHook<P::Outcome> {
        let span = if self.filter.should_trace(parts) {
            self.protocol.make_span(parts)
        } else {
            tracing::Span::none()
        };
        let own = span.context();
        let enabled = !span.is_disabled();
        let sampled = own
            .as_ref()
            .and_then(Context::span_context)
            .is_some_and(SpanContext::is_sampled);
        // As on the server: an unsampled span is never exported, so only sampled spans (and
        // spans only other subscribers see) pay for parsing, formatting and recording the rest.
        let records = enabled && (sampled || own.is_none());
        if records {
            self.protocol.record_sampled(&span, parts);
        }
        // The span's own context, or (no span, or a disabled one) whatever context is
        // current, so the trace goes on.
        let cx = own.unwrap_or_else(tracewire::current);
        inject_replacing(&self.propagators, &cx, &mut parts.headers);
        let outcome = match (enabled, records) {
            (false, _) => None,
            (true, true) => Some(self.protocol.outcome(parts)),
            (true, false) => Some(self.protocol.outcome_unsampled(parts)),
        };
        ResponseHook::new(span, None, outcome)
    }
}

/// Writes `cx` into `headers` with every format, first removing whatever trace headers the
/// caller set (a stale or forged `traceparent` must not ride along with ours). What the client
/// layers do; public for integrations that inject by themselves (tracewire-tonic's
/// interceptor).
///
/// ```
/// use tracewire::propagation::Propagators;
///
/// let mut headers = http::HeaderMap::new();
/// headers.insert("traceparent", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01".parse().unwrap());
/// // Nothing is current here: the stale header is removed and nothing is written.
/// tracewire_tower::inject_replacing(&Propagators::w3c(), &tracewire::current(), &mut headers);
/// assert!(headers.is_empty());
/// ```
pub fn inject_replacing(propagators: &Propagators, cx: &Context, headers: &mut HeaderMap) {
    // Removing parses and hashes each name: not worth it when there is nothing to remove.
    if !headers.is_empty() {
        for field in propagators.fields() {
            headers.remove(*field);
        }
    }
    propagators.inject(cx, headers);
}
