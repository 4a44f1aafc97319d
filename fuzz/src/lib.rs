//! Helpers shared by the fuzz targets: turning fuzz input into header maps, and the invariants
//! every extracted context must satisfy.

use http::{HeaderMap, HeaderName, HeaderValue};
use tracewire::propagation::Propagator;
use tracewire::{Baggage, Context, TraceState};

/// Splits `data` on `\n` into header values and appends each one under a name from `names`,
/// chosen by the value's first byte. Values `HeaderMap` would refuse (control characters) are
/// skipped, as a server would never hand them over.
pub fn header_map(data: &[u8], names: &[&'static str]) -> HeaderMap {
    let mut h = HeaderMap::new();
    if names.is_empty() {
        return h;
    }
    for line in data.split(|&b| b == b'\n') {
        let Some((&selector, value)) = line.split_first() else {
            continue;
        };
        let name = names[usize::from(selector) % names.len()];
        if let Ok(value) = HeaderValue::from_bytes(value) {
            h.append(HeaderName::from_static(name), value);
        }
    }
    h
}

/// Every header value under one name, one per `\n`-separated line of `data`.
pub fn single_header(data: &[u8], name: &'static str) -> HeaderMap {
    let mut h = HeaderMap::new();
    for line in data.split(|&b| b == b'\n') {
        if let Ok(value) = HeaderValue::from_bytes(line) {
            h.append(HeaderName::from_static(name), value);
        }
    }
    h
}

/// Panics if `cx` breaks a limit or holds an invalid span context.
pub fn check_limits(cx: &Context) {
    let bag = cx.baggage();
    assert!(bag.len() <= Baggage::MAX_MEMBERS);
    assert!(bag.header().len() <= Baggage::MAX_BYTES);
    if let Some(span) = cx.span_context() {
        assert!(span.is_valid());
        let state = span.trace_state();
        assert!(state.len() <= TraceState::MAX_MEMBERS);
        assert!(state.header().len() <= TraceState::MAX_LEN);
    }
}

/// Extracts with `p`, checks the limits, and when a context was found, checks that injecting it
/// and extracting again gives the same ids and sampling decision.
pub fn extract_and_round_trip(p: &dyn Propagator, carrier: &HeaderMap) {
    let mut cx = Context::new();
    let found = p.extract(carrier, &mut cx);
    check_limits(&cx);
    let mut out = HeaderMap::new();
    p.inject(&cx, &mut out);
    if found != Ok(true) {
        return;
    }
    let Some(span) = cx.span_context() else {
        return;
    };
    let mut again = Context::new();
    assert_eq!(p.extract(&out, &mut again), Ok(true));
    let again_span = again.span_context().expect("re-extracted span context");
    assert_eq!(again_span.trace_id(), span.trace_id());
    assert_eq!(again_span.span_id(), span.span_id());
    assert_eq!(again_span.is_sampled(), span.is_sampled());
}
