//! W3C Trace Context, levels 1 and 2: `traceparent` and `tracestate`.

use super::{Extractor, Injector, Propagator, trimmed};
use crate::context::{Context, SpanContext};
use crate::error::ExtractError;
use crate::id::{SpanId, TraceFlags, TraceId, lower_hex_digit};
use crate::tracestate::TraceState;

const TRACEPARENT: &str = "traceparent";
const TRACESTATE: &str = "tracestate";
/// Version 00 is exactly this long: `vv-<32 hex>-<16 hex>-ff`.
const V00_LEN: usize = 55;
/// A `traceparent` longer than this is not parsed at all.
const MAX_TRACEPARENT_LEN: usize = 512;

/// W3C Trace Context (`traceparent` + `tracestate`), levels 1 and 2.
///
/// Extraction follows the spec's rules: version `00` is parsed strictly (exactly 55 characters);
/// a higher version is parsed by its version-00 prefix and must continue with `-` if longer
/// (forward compatibility); version `ff`, uppercase hex, all-zero ids, wrong field lengths and
/// several `traceparent` values that disagree are rejected. Repeated `tracestate` headers are
/// combined; an invalid `tracestate` is dropped while `traceparent` is kept, and a duplicated
/// key keeps its first value ([`TraceState`] says which text it follows). The level-2 random
/// flag is kept.
#[derive(Clone, Copy, Debug, Default)]
#[non_exhaustive]
pub struct TraceContextPropagator;

impl TraceContextPropagator {
    /// The propagator.
    pub const fn new() -> Self {
        TraceContextPropagator
    }
}

/// Parses one `traceparent` value.
pub(crate) fn parse_traceparent(
    value: &[u8],
) -> Result<(TraceId, SpanId, TraceFlags), ExtractError> {
    let malformed = |reason| ExtractError::malformed(TRACEPARENT, reason);
    let invalid_id = |source| ExtractError::invalid_id(TRACEPARENT, source);
    let v = trimmed(value, TRACEPARENT, MAX_TRACEPARENT_LEN)?;
    if v.len() < V00_LEN {
        return Err(malformed("shorter than 55 characters"));
    }
    let hex2 = |a: u8, b: u8| -> Result<u8, ExtractError> {
        Ok((lower_hex_digit(a).map_err(invalid_id)? << 4)
            | lower_hex_digit(b).map_err(invalid_id)?)
    };
    let version =
        hex2(v[0], v[1]).map_err(|_| malformed("version is not two lowercase hex digits"))?;
    if version == 0xff {
        return Err(malformed("version ff is forbidden"));
    }
    if v[2] != b'-' || v[35] != b'-' || v[52] != b'-' {
        return Err(malformed("fields not separated by '-'"));
    }
    if version == 0 && v.len() != V00_LEN {
        return Err(malformed("version 00 must be exactly 55 characters"));
    }
    if version > 0 && v.len() > V00_LEN && v[V00_LEN] != b'-' {
        return Err(malformed("data after the flags must start with '-'"));
    }
    let trace_id = TraceId::from_hex(&v[3..35]).map_err(invalid_id)?;
    let span_id = SpanId::from_hex(&v[36..52]).map_err(invalid_id)?;
    let flags =
        hex2(v[53], v[54]).map_err(|_| malformed("flags are not two lowercase hex digits"))?;
    // Keep only the flags this version defines: a higher version's extra bits mean nothing to us,
    // and level 1 and 2 say unknown bits are not propagated.
    Ok((trace_id, span_id, TraceFlags::new(flags).known()))
}

/// Writes `00-{trace}-{span}-{flags}` into a fixed buffer.
pub(crate) fn format_traceparent(cx: &SpanContext) -> [u8; V00_LEN] {
    let mut out = [b'-'; V00_LEN];
    out[0] = b'0';
    out[1] = b'0';
    out[3..35].copy_from_slice(&cx.trace_id().to_hex());
    out[36..52].copy_from_slice(&cx.span_id().to_hex());
    let flags = cx.flags().known().to_u8();
    crate::id::encode_hex(&[flags], &mut out[53..55]);
    out
}

impl Propagator for TraceContextPropagator {
    fn extract(&self, carrier: &dyn Extractor, cx: &mut Context) -> Result<bool, ExtractError> {
        // Every `traceparent` value must parse to the same context; disagreeing values (or a
        // mix of valid and invalid) are rejected, as the spec asks for duplicated headers.
        let mut parsed: Option<Result<(TraceId, SpanId, TraceFlags), ExtractError>> = None;
        carrier.values(TRACEPARENT, &mut |value| {
            let this = parse_traceparent(value);
            parsed = Some(match parsed.take() {
                None => this,
                Some(Ok(prev)) => match this {
                    Ok(cur) if cur == prev => Ok(prev),
                    Ok(_) => Err(ExtractError::Conflicting {
                        header: TRACEPARENT,
                    }),
                    Err(e) => Err(e),
                },
                Some(Err(e)) => Err(e),
            });
        });
        let (trace_id, span_id, flags) = match parsed {
            None => return Ok(false),
            Some(r) => r?,
        };
        // An invalid tracestate is dropped; the traceparent still stands.
        let mut values: Vec<Vec<u8>> = Vec::new();
        carrier.values(TRACESTATE, &mut |v| values.push(v.to_vec()));
        let state = if values.is_empty() {
            TraceState::new()
        } else {
            TraceState::parse_values(values.iter().map(Vec::as_slice)).unwrap_or_default()
        };
        cx.set_span_context(SpanContext::new(trace_id, span_id, flags, state, true));
        Ok(true)
    }

    fn inject(&self, cx: &Context, carrier: &mut dyn Injector) {
        let Some(span) = cx.span_context().filter(|s| s.is_valid()) else {
            return;
        };
        carrier.set(TRACEPARENT, &format_traceparent(span));
        let state = span.trace_state();
        if !state.is_empty() {
            carrier.set(TRACESTATE, state.header().as_bytes());
        }
    }

    fn fields(&self) -> &[&'static str] {
        &[TRACEPARENT, TRACESTATE]
    }
}

#[cfg(test)]
mod tests {
    use http::HeaderMap;

    use super::*;
    use crate::error::ParseIdError;
    use crate::propagation::test_support::*;

    const VALID: &str = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";

    fn extract(pairs: &[(&'static str, &str)]) -> (Result<bool, ExtractError>, Context) {
        extract_with(&TraceContextPropagator, pairs)
    }

    fn ok(tp: &str) -> SpanContext {
        let (r, cx) = extract(&[("traceparent", tp)]);
        assert_eq!(r, Ok(true), "{tp}");
        cx.span_context().unwrap().clone()
    }

    fn err(tp: &str) -> ExtractError {
        let (r, cx) = extract(&[("traceparent", tp)]);
        assert!(cx.span_context().is_none());
        r.unwrap_err()
    }

    #[test]
    fn version_00_valid() {
        // §3.2.2: version-format = trace-id "-" parent-id "-" trace-flags.
        let cx = ok(VALID);
        assert_eq!(
            cx.trace_id().to_string(),
            "4bf92f3577b34da6a3ce929d0e0e4736"
        );
        assert_eq!(cx.span_id().to_string(), "00f067aa0ba902b7");
        assert!(cx.is_sampled() && cx.is_remote());
        assert!(!ok("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00").is_sampled());
    }

    #[test]
    fn level2_random_flag_is_kept() {
        // Trace Context level 2 §3.2.2.6: random trace id flag.
        let cx = ok("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-03");
        assert!(cx.flags().is_random() && cx.is_sampled());
        let mut h = HeaderMap::new();
        TraceContextPropagator.inject(&Context::from_span_context(cx), &mut h);
        assert_eq!(
            h["traceparent"],
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-03"
        );
    }

    #[test]
    fn unknown_flag_bits_are_not_propagated() {
        // §3.2.2.5: only defined flags are propagated.
        let cx = ok("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-ff");
        assert_eq!(cx.flags().to_u8(), 0x03);
    }

    #[test]
    fn version_ff_is_invalid() {
        // §3.2.2.1: version ff is forbidden.
        assert!(matches!(
            err("ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"),
            ExtractError::Malformed { .. }
        ));
    }

    #[test]
    fn uppercase_is_invalid() {
        // §3.2.2.2/3: lowercase hex only.
        assert_eq!(
            err("00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01"),
            ExtractError::InvalidId {
                header: "traceparent",
                source: ParseIdError::Uppercase
            }
        );
        err("00-4bf92f3577b34da6a3ce929d0e0e4736-00F067AA0BA902B7-01");
        err("0A-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01");
        err("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-0A");
    }

    #[test]
    fn all_zero_ids_are_invalid() {
        // §3.2.2.3 and §3.2.2.4: all-zero trace-id and parent-id are invalid.
        assert_eq!(
            err("00-00000000000000000000000000000000-00f067aa0ba902b7-01"),
            ExtractError::InvalidId {
                header: "traceparent",
                source: ParseIdError::AllZero
            }
        );
        err("00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01");
    }

    #[test]
    fn wrong_lengths_are_invalid() {
        // §3.2.2: fixed field lengths; version 00 is exactly 55 characters.
        err("00-4bf92f3577b34da6a3ce929d0e0e473-00f067aa0ba902b7-01");
        err("00-4bf92f3577b34da6a3ce929d0e0e47366-00f067aa0ba902b7-01");
        err("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b-01");
        err("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-1");
        err("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-");
        err("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-extra");
        err("00_4bf92f3577b34da6a3ce929d0e0e4736_00f067aa0ba902b7_01");
        err("");
        err(&"0".repeat(600));
    }

    #[test]
    fn higher_versions_are_forward_compatible() {
        // §3.2.4: parse a higher version by its 00 prefix; more data must follow a '-'.
        let cx =
            ok("cc-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-what-the-future-holds");
        assert!(cx.is_sampled());
        ok("01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01");
        err("cc-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01.what");
        err("cc-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-0");
    }

    #[test]
    fn surrounding_whitespace_is_tolerated() {
        // RFC 9110 §5.5: OWS around a field value is not part of it.
        ok(&format!(" \t{VALID}\t "));
    }

    #[test]
    fn duplicated_traceparent() {
        // §3.2.1 / test suite `test_traceparent_duplicated`: conflicting values restart the trace.
        let (r, cx) = extract(&[
            ("traceparent", VALID),
            (
                "traceparent",
                "00-4bf92f3577b34da6a3ce929d0e0e4737-00f067aa0ba902b7-01",
            ),
        ]);
        assert_eq!(
            r,
            Err(ExtractError::Conflicting {
                header: "traceparent"
            })
        );
        assert!(cx.span_context().is_none());
        let (r, _) = extract(&[("traceparent", VALID), ("traceparent", VALID)]);
        assert_eq!(r, Ok(true));
        let (r, _) = extract(&[("traceparent", VALID), ("traceparent", "junk")]);
        assert!(r.is_err());
    }

    #[test]
    fn tracestate_is_combined_and_invalid_one_dropped() {
        // §3.3.1.1: multiple tracestate headers form one list.
        let (_, cx) = extract(&[
            ("traceparent", VALID),
            ("tracestate", "foo=1"),
            ("tracestate", "bar=2"),
        ]);
        assert_eq!(
            cx.span_context().unwrap().trace_state().header(),
            "foo=1,bar=2"
        );
        // An invalid tracestate is dropped but the traceparent is kept.
        let (r, cx) = extract(&[("traceparent", VALID), ("tracestate", "foo=1,Bar=2")]);
        assert_eq!(r, Ok(true));
        assert!(cx.span_context().unwrap().trace_state().is_empty());
        // A duplicated key is not invalid: the first value stays.
        let (_, cx) = extract(&[("traceparent", VALID), ("tracestate", "foo=1,foo=2")]);
        assert_eq!(cx.span_context().unwrap().trace_state().header(), "foo=1");
        // tracestate without traceparent is ignored.
        let (r, cx) = extract(&[("tracestate", "foo=1")]);
        assert_eq!(r, Ok(false));
        assert!(cx.span_context().is_none());
    }

    #[test]
    fn inject_exact_bytes() {
        let cx = SpanContext::new(
            TraceId::from_u128(0x4bf92f3577b34da6a3ce929d0e0e4736),
            SpanId::from_u64(0x00f067aa0ba902b7),
            TraceFlags::SAMPLED,
            "rojo=00f067aa0ba902b7,congo=t61rcWkgMzE".parse().unwrap(),
            false,
        );
        let mut h = HeaderMap::new();
        h.insert("traceparent", "stale".parse().unwrap());
        TraceContextPropagator.inject(&Context::from_span_context(cx), &mut h);
        assert_eq!(h.get_all("traceparent").iter().count(), 1);
        assert_eq!(h["traceparent"], VALID);
        assert_eq!(h["tracestate"], "rojo=00f067aa0ba902b7,congo=t61rcWkgMzE");
    }
}
