//! What the server layer does for each request before calling the inner service.

use http::HeaderValue;
use http::request::Parts;
use tracewire::{Context, SpanContext};

use super::{
    MakeSpanName, RequestFilter, ServerLayer, ServerProtocol, TraceAll, Trust, TrustPolicy,
};
use crate::hook::ResponseHook;
use crate::service::{StartRequest, TraceService};

/// A service traced by a [`ServerLayer`].
pub type ServerService<S, P, N, F, T> = TraceService<S, ServerLayer<P, N, F, T>>;

impl<S, P: ServerProtocol + Default> ServerService<S, P, P::DefaultSpanName, TraceAll, Trust> {
    /// Wraps `inner` with the default server settings.
    pub fn new(inner: S) -> Self {
        TraceService {
            inner,
            layer: ServerLayer::new(),
        }
    }

    /// The default server layer, to configure ([`ServerLayer::new`]).
    pub fn layer() -> ServerLayer<P, P::DefaultSpanName, TraceAll, Trust> {
        ServerLayer::new()
    }
}

impl<P, N, F, T> StartRequest for ServerLayer<P, N, F, T>
where
    P: ServerProtocol,
    N: MakeSpanName,
    F: RequestFilter,
    T: TrustPolicy,
{
    type Outcome = P::Outcome;

    fn start(&self, parts: &mut Parts) -> ResponseHook<P::Outcome> {
        let config = &*self.config;

        // Extraction never fails the request: a bad header means a fresh trace, counted and
        // reported at a bounded rate. Valid baggage is kept.
        let mut inbound = Context::new();
        if let Err(err) = config
            .propagators
            .extract_into(&parts.headers, &mut inbound)
        {
            tracewire::diagnostics::report_extract_error(&err);
        }
        // The trust policy decides first: a request the filter skips must not carry more of
        // the inbound context onwards than a traced one would.
        let (parent, fallback) = self.trust.trust(parts).apply(inbound);
        if !self.filter.should_trace(parts) {
            return ResponseHook::new(tracing::Span::none(), Some(fallback), None);
        }

        let key = self.protocol.name_key(parts);
        let (span, own) =
            tracewire::with_parent_and_context(parent, || self.protocol.make_span(parts, key));
        let sampled = own
            .as_ref()
            .and_then(Context::span_context)
            .is_some_and(SpanContext::is_sampled);
        // An unsampled span is never exported: it keeps the attributes it was created with,
        // and only sampled spans pay for parsing and formatting the rest. A span no tracewire
        // layer took, but another subscriber did, gets them all too.
        let records = sampled || (own.is_none() && !span.is_disabled());
        if records {
            self.protocol
                .record_name_and_sampled(&span, parts, &self.name.span_name(parts, key));
            if !config.request_headers.is_empty() {
                config.request_headers.record(&span, &parts.headers);
            }
        }
        let outcome = match (span.is_disabled(), records) {
            (true, _) => None,
            (false, true) => Some(self.protocol.outcome(parts)),
            (false, false) => Some(self.protocol.outcome_unsampled(parts)),
        };
        let trace_response = config.trace_response.as_ref().and_then(|name| {
            let sc = own.as_ref()?.span_context()?;
            Some((name.clone(), trace_response_value(sc)?))
        });
        // A span the tracewire layer knows carries the context itself; otherwise (the span is
        // disabled) the trusted inbound context carries the trace onwards.
        let scope = own.is_none().then_some(fallback);
        let mut hook = ResponseHook::new(span, scope, outcome);
        if records && !config.response_headers.is_empty() {
            hook = hook.record_response_headers(config.response_headers.clone());
        }
        match trace_response {
            Some((name, value)) => hook.add_header(name, value),
            None => hook,
        }
    }
}

/// `00-{trace id}-{span id}-{flags}`, the W3C Trace Context level 2 `traceresponse` value.
fn trace_response_value(sc: &SpanContext) -> Option<HeaderValue> {
    if !sc.is_valid() {
        return None;
    }
    let mut buf = [b'-'; 55];
    buf[0] = b'0';
    buf[1] = b'0';
    buf[3..35].copy_from_slice(&sc.trace_id().to_hex());
    buf[36..52].copy_from_slice(&sc.span_id().to_hex());
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let flags = sc.flags().known().to_u8();
    buf[53] = HEX[usize::from(flags >> 4)];
    buf[54] = HEX[usize::from(flags & 0xf)];
    HeaderValue::from_bytes(&buf).ok()
}
