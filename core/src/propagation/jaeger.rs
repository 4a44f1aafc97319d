//! Jaeger propagation: `uber-trace-id` and `uberctx-{key}` baggage headers.

use super::b3::parse_hex_u128;
use super::{Extractor, Injector, Propagator, merge_baggage, received, trim_ows, trimmed};
use crate::baggage::Baggage;
use crate::context::{Context, SpanContext};
use crate::error::{ExtractError, ParseIdError};
use crate::id::{SpanId, TraceId};

const HEADER: &str = "uber-trace-id";
const BAGGAGE_PREFIX: &str = "uberctx-";

/// Jaeger's native format: `uber-trace-id: {trace-id}:{span-id}:{parent-span-id}:{flags}`.
///
/// Ids may be shorter than full width (they are left-padded); the URL-encoded form (`%3A` for
/// `:`) is accepted. Flag bit 1 is "sampled", bit 2 "debug" (read as sampled). Baggage travels as
/// one `uberctx-{key}` header per entry, values percent-encoded.
#[derive(Clone, Copy, Debug, Default)]
#[non_exhaustive]
pub struct JaegerPropagator;

impl JaegerPropagator {
    /// The propagator.
    pub const fn new() -> Self {
        JaegerPropagator
    }
}

fn parse(value: &[u8]) -> Result<SpanContext, ExtractError> {
    let malformed = |reason| ExtractError::malformed(HEADER, reason);
    let invalid = |source| ExtractError::invalid_id(HEADER, source);
    let v = trimmed(value, HEADER, 256)?;
    let decoded;
    let v: &[u8] = if v.windows(3).any(|w| w.eq_ignore_ascii_case(b"%3a")) {
        decoded = percent_encoding::percent_decode(v).collect::<Vec<u8>>();
        &decoded
    } else {
        v
    };
    let fields: Vec<&[u8]> = v.split(|&b| b == b':').collect();
    let [trace, span, _parent, flags] = fields[..] else {
        return Err(malformed("expected four ':'-separated fields"));
    };
    let trace = parse_hex_u128(trace).map_err(invalid)?;
    if trace == 0 {
        return Err(invalid(ParseIdError::AllZero));
    }
    if span.len() > 16 {
        return Err(invalid(ParseIdError::Length {
            expected: 16,
            found: span.len(),
        }));
    }
    let span = parse_hex_u128(span).map_err(invalid)? as u64;
    if span == 0 {
        return Err(invalid(ParseIdError::AllZero));
    }
    if flags.is_empty() || flags.len() > 2 {
        return Err(malformed("flags must be one or two hex digits"));
    }
    let flags = parse_hex_u128(flags).map_err(|_| malformed("flags are not hex"))? as u8;
    let sampled = flags & 0x01 != 0 || flags & 0x02 != 0;
    Ok(received(
        TraceId::from_u128(trace),
        SpanId::from_u64(span),
        sampled,
    ))
}

impl Propagator for JaegerPropagator {
    fn extract(&self, carrier: &dyn Extractor, cx: &mut Context) -> Result<bool, ExtractError> {
        // Baggage first: it is kept even when the trace header is missing or invalid.
        let mut keys: Vec<String> = Vec::new();
        carrier.for_each_key(&mut |k| {
            if k.len() > BAGGAGE_PREFIX.len()
                && k[..BAGGAGE_PREFIX.len()].eq_ignore_ascii_case(BAGGAGE_PREFIX)
                && keys.len() < Baggage::MAX_MEMBERS
            {
                keys.push(k.to_owned());
            }
        });
        let mut bag = Baggage::new();
        for k in &keys {
            if let Some(v) = carrier.first(k) {
                let value = percent_encoding::percent_decode(trim_ows(&v)).decode_utf8();
                if let Ok(value) = value
                    && let Ok(b) = bag.with(&k[BAGGAGE_PREFIX.len()..], &value)
                {
                    bag = b;
                }
            }
        }
        merge_baggage(cx, bag);
        match carrier.first(HEADER) {
            None => Ok(false),
            Some(v) => {
                cx.set_span_context(parse(&v)?);
                Ok(true)
            }
        }
    }

    fn inject(&self, cx: &Context, carrier: &mut dyn Injector) {
        if let Some(span) = cx.span_context().filter(|s| s.is_valid()) {
            let mut out = [b':'; 32 + 1 + 16 + 1 + 1 + 1 + 1];
            out[..32].copy_from_slice(&span.trace_id().to_hex());
            out[33..49].copy_from_slice(&span.span_id().to_hex());
            out[50] = b'0';
            out[52] = if span.is_sampled() { b'1' } else { b'0' };
            carrier.set(HEADER, &out);
        }
        for e in cx.baggage().iter() {
            let name = format!("{BAGGAGE_PREFIX}{}", e.key().to_ascii_lowercase());
            let value: String = percent_encoding::utf8_percent_encode(
                e.value(),
                percent_encoding::NON_ALPHANUMERIC,
            )
            .collect();
            carrier.set_dynamic(&name, value.as_bytes());
        }
    }

    fn fields(&self) -> &[&'static str] {
        &[HEADER]
    }
}

#[cfg(test)]
mod tests {
    use http::HeaderMap;

    use super::*;
    use crate::propagation::test_support::*;

    fn extract(pairs: &[(&'static str, &str)]) -> (Result<bool, ExtractError>, Context) {
        extract_with(&JaegerPropagator, pairs)
    }

    /// Asserts that `value` extracts to a sampled context with these ids.
    fn assert_sampled(value: &str, trace_id: &str, span_id: &str) {
        let (r, cx) = extract(&[("uber-trace-id", value)]);
        assert_eq!(r, Ok(true), "{value}");
        let s = cx.span_context().unwrap();
        assert_eq!(s.trace_id().to_string(), trace_id, "{value}");
        assert_eq!(s.span_id().to_string(), span_id, "{value}");
        assert!(s.is_sampled(), "{value}");
    }

    #[test]
    fn plain_and_url_encoded() {
        for v in [
            "4bf92f3577b34da6a3ce929d0e0e4736:00f067aa0ba902b7:0:1",
            "4bf92f3577b34da6a3ce929d0e0e4736%3A00f067aa0ba902b7%3A0%3A1",
        ] {
            assert_sampled(v, "4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7");
        }
    }

    #[test]
    fn short_ids_are_padded_and_debug_samples() {
        assert_sampled(
            "abc:12:0:2",
            "00000000000000000000000000000abc",
            "0000000000000012",
        );
    }

    #[test]
    fn invalid() {
        assert_rejected(
            &JaegerPropagator,
            "uber-trace-id",
            &[
                "",
                "0:1:0:1",
                "1:0:0:1",
                "x:1:0:1",
                "1:1:0",
                "1:1:0:1:0",
                "1:1:0:100",
            ],
        );
    }

    #[test]
    fn baggage_both_ways() {
        let (_, cx) = extract(&[
            ("uberctx-user", "alice%20smith"),
            ("uber-trace-id", "1:2:0:0"),
        ]);
        assert_eq!(cx.baggage().get("user"), Some("alice smith"));
        assert!(!cx.span_context().unwrap().is_sampled());
        let mut h = HeaderMap::new();
        JaegerPropagator.inject(&cx, &mut h);
        assert_eq!(
            h["uber-trace-id"],
            "00000000000000000000000000000001:0000000000000002:0:0"
        );
        assert_eq!(h["uberctx-user"], "alice%20smith");
    }
}
