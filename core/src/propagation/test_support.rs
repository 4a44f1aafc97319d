//! Helpers shared by the propagators' unit tests.

use http::HeaderMap;

use super::Propagator;
use crate::error::ExtractError;
use crate::{Context, SpanContext, SpanId, TraceFlags, TraceId, TraceState};

/// A header map holding `pairs`, repeated names appended in order.
pub(crate) fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
    let mut h = HeaderMap::new();
    for (k, v) in pairs {
        h.append(*k, v.parse().unwrap());
    }
    h
}

/// Runs `propagator`'s extraction over `pairs` into a fresh context.
pub(crate) fn extract_with(
    propagator: &dyn Propagator,
    pairs: &[(&'static str, &str)],
) -> (Result<bool, ExtractError>, Context) {
    let mut cx = Context::new();
    let r = propagator.extract(&headers(pairs), &mut cx);
    (r, cx)
}

/// Asserts that each of `values` under `header` is an error that leaves no span context.
pub(crate) fn assert_rejected(propagator: &dyn Propagator, header: &'static str, values: &[&str]) {
    for bad in values {
        let (r, cx) = extract_with(propagator, &[(header, bad)]);
        assert!(r.is_err(), "{bad:?} accepted");
        assert!(cx.span_context().is_none(), "{bad:?} left a span context");
    }
}

/// A context whose current span, local to this process, has these ids and flags and an empty
/// tracestate: what a propagator injects from.
pub(crate) fn local(trace_id: u128, span_id: u64, flags: TraceFlags) -> Context {
    Context::from_span_context(SpanContext::new(
        TraceId::from_u128(trace_id),
        SpanId::from_u64(span_id),
        flags,
        TraceState::default(),
        false,
    ))
}
