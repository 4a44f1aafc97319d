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
    let (trace_id, span_id) = match fast_ids(v) {
        Some(ids) => ids,
        // Not plain lowercase hex, or an all-zero id: the byte-wise parsers say which rule
        // the value breaks.
        None => (
            TraceId::from_hex(&v[3..35]).map_err(invalid_id)?,
            SpanId::from_hex(&v[36..52]).map_err(invalid_id)?,
        ),
    };
    let flags =
        hex2(v[53], v[54]).map_err(|_| malformed("flags are not two lowercase hex digits"))?;
    // Keep only the flags this version defines: a higher version's extra bits mean nothing to us,
    // and level 1 and 2 say unknown bits are not propagated.
    Ok((trace_id, span_id, TraceFlags::new(flags).known()))
}

/// The trace and span ids of a `traceparent` (`v[3..35]`, `v[36..52]`, `v.len() >= 55`) when both
/// are lowercase hex and non-zero; `None` otherwise, and the caller parses them byte by byte to
/// learn what is wrong. Eight digits at a time in a `u64` ("SIMD within a register"): the
/// byte-wise table lookups cost about three times as many instructions, the largest share of an
/// extraction.
fn fast_ids(v: &[u8]) -> Option<(TraceId, SpanId)> {
    let mut trace = 0u128;
    for chunk in v[3..35].chunks_exact(8) {
        trace = (trace << 32) | u128::from(hex8(chunk)?);
    }
    let span = (u64::from(hex8(&v[36..44])?) << 32) | u64::from(hex8(&v[44..52])?);
    (trace != 0 && span != 0).then(|| (TraceId::from_u128(trace), SpanId::from_u64(span)))
}

/// Eight lowercase hex digits as a number, or `None` if any byte is not one.
fn hex8(digits: &[u8]) -> Option<u32> {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGH: u64 = 0x8080_8080_8080_8080;
    let x = u64::from_be_bytes(digits.try_into().ok()?);
    if x & HIGH != 0 {
        return None;
    }
    // With every high bit clear, adding `0x80 - lo` to each byte sets its high bit exactly when
    // the byte is at least `lo`, and never carries into the next byte.
    let at_least = |lo: u8| x.wrapping_add(ONES * u64::from(0x80 - lo)) & HIGH;
    let digit = at_least(b'0') & !at_least(b'9' + 1);
    let letter = at_least(b'a') & !at_least(b'f' + 1);
    if digit | letter != HIGH {
        return None;
    }
    // '0'..'9' and 'a'..'f' end in 0..9 and 1..6: letters get 9 more.
    let nibbles = (x & (ONES * 0x0f)) + (letter >> 7) * 9;
    // Pack the eight nibbles (one per byte, first digit highest) into four bytes.
    let pairs = (nibbles | (nibbles >> 4)) & 0x00ff_00ff_00ff_00ff;
    let quads = (pairs | (pairs >> 8)) & 0x0000_ffff_0000_ffff;
    Some(((quads | (quads >> 16)) & 0xffff_ffff) as u32)
}

/// `n` as eight lowercase hex digits, computed eight at a time in a `u64` like [`hex8`] reads
/// them.
fn hex8_of(n: u32) -> [u8; 8] {
    const ONES: u64 = 0x0101_0101_0101_0101;
    // Spread the eight nibbles over eight bytes, the highest first.
    let v = u64::from(n);
    let v = ((v & 0xffff_0000) << 16) | (v & 0x0000_ffff);
    let v = ((v & 0x0000_ff00_0000_ff00) << 8) | (v & 0x0000_00ff_0000_00ff);
    let v = ((v & 0x00f0_00f0_00f0_00f0) << 4) | (v & 0x000f_000f_000f_000f);
    // 10..15 become 'a'..'f': adding 6 carries into bit 4 exactly for those.
    let letters = ((v + ONES * 6) & (ONES * 0x10)) >> 4;
    (v + ONES * u64::from(b'0') + letters * u64::from(b'a' - b'0' - 10)).to_be_bytes()
}

/// Writes `00-{trace}-{span}-{flags}` into a fixed buffer.
pub(crate) fn format_traceparent(cx: &SpanContext) -> [u8; V00_LEN] {
    let mut out = [b'-'; V00_LEN];
    out[0] = b'0';
    out[1] = b'0';
    let trace = cx.trace_id().to_u128();
    out[3..11].copy_from_slice(&hex8_of((trace >> 96) as u32));
    out[11..19].copy_from_slice(&hex8_of((trace >> 64) as u32));
    out[19..27].copy_from_slice(&hex8_of((trace >> 32) as u32));
    out[27..35].copy_from_slice(&hex8_of(trace as u32));
    let span = cx.span_id().to_u64();
    out[36..44].copy_from_slice(&hex8_of((span >> 32) as u32));
    out[44..52].copy_from_slice(&hex8_of(span as u32));
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
    fn fast_ids_agree_with_the_byte_wise_parsers() {
        // Every byte value in every digit position of both ids, on a valid background: the
        // fast path must accept exactly what `from_hex` accepts, with the same ids.
        let base = VALID.as_bytes().to_vec();
        let check = |v: &[u8]| {
            let slow = TraceId::from_hex(&v[3..35])
                .and_then(|t| SpanId::from_hex(&v[36..52]).map(|s| (t, s)));
            assert_eq!(fast_ids(v), slow.ok(), "{:?}", String::from_utf8_lossy(v));
        };
        for pos in (3..35).chain(36..52) {
            for b in 0..=u8::MAX {
                let mut v = base.clone();
                v[pos] = b;
                check(&v);
            }
        }
        // All-zero ids, each alone, and the extremes.
        check(b"00-00000000000000000000000000000000-00f067aa0ba902b7-01");
        check(b"00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01");
        check(b"00-ffffffffffffffffffffffffffffffff-ffffffffffffffff-01");
        check(b"00-00000000000000000000000000000001-0000000000000001-01");
        check(b"00-0123456789abcdef0123456789abcdef-fedcba9876543210-01");
    }

    #[test]
    fn hex8_of_agrees_with_to_hex() {
        for n in [
            0,
            1,
            9,
            10,
            15,
            16,
            0x0123_4567,
            0x89ab_cdef,
            0xdead_beef,
            u32::MAX,
        ]
        .into_iter()
        // Every digit in every position.
        .chain((0..8).flat_map(|p| (0..16u32).map(move |d| d << (4 * p))))
        .chain((0..4096u32).map(|i| i.wrapping_mul(0x0010_0ff1)))
        {
            let expected = SpanId::from_u64(u64::from(n)).to_hex();
            assert_eq!(hex8_of(n), expected[8..], "{n:#x}");
            assert_eq!(hex8(&hex8_of(n)), Some(n));
        }
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
