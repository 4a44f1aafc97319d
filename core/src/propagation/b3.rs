//! B3 propagation (Zipkin): single `b3` header and the `X-B3-*` multi-header form.

use super::{Extractor, Injector, Propagator, received, trim_ows, trimmed};
use crate::context::{Context, SpanContext};
use crate::error::{ExtractError, ParseIdError};
use crate::id::{SpanId, TraceFlags, TraceId, hex_digit_any_case};
use crate::tracestate::TraceState;

const B3: &str = "b3";
const TRACE_ID: &str = "x-b3-traceid";
const SPAN_ID: &str = "x-b3-spanid";
const PARENT: &str = "x-b3-parentspanid";
const SAMPLED: &str = "x-b3-sampled";
const FLAGS: &str = "x-b3-flags";

/// Which B3 headers to write. Extraction always reads both forms (single first).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum B3Encoding {
    /// The single `b3` header.
    SingleHeader,
    /// The `X-B3-TraceId`, `X-B3-SpanId`, `X-B3-Sampled` headers.
    MultiHeader,
}

/// B3 propagation.
///
/// 64-bit trace ids are widened to 128 bits with leading zeros. The debug flag (`d`, or
/// `X-B3-Flags: 1`) is read as "sampled". `b3: 0` (deny) yields a fresh, unsampled context so the
/// request is not sampled downstream either; a sampling-only `b3: 1`/`d` yields a fresh sampled
/// one.
#[derive(Clone, Copy, Debug)]
pub struct B3Propagator {
    encoding: B3Encoding,
}

impl B3Propagator {
    /// A propagator writing `encoding`.
    pub const fn new(encoding: B3Encoding) -> Self {
        B3Propagator { encoding }
    }
}

fn invalid(header: &'static str) -> impl Fn(ParseIdError) -> ExtractError {
    move |source| ExtractError::InvalidId { header, source }
}

/// Parses 16 or 32 hex digits (either case) into a 128-bit trace id.
fn parse_trace_id(s: &[u8], header: &'static str) -> Result<TraceId, ExtractError> {
    if s.len() != 16 && s.len() != 32 {
        return Err(invalid(header)(ParseIdError::Length {
            expected: 32,
            found: s.len(),
        }));
    }
    let v = parse_hex_u128(s).map_err(invalid(header))?;
    let id = TraceId::from_u128(v);
    if id.is_valid() {
        Ok(id)
    } else {
        Err(invalid(header)(ParseIdError::AllZero))
    }
}

fn parse_span_id(s: &[u8], header: &'static str) -> Result<SpanId, ExtractError> {
    if s.len() != 16 {
        return Err(invalid(header)(ParseIdError::Length {
            expected: 16,
            found: s.len(),
        }));
    }
    let id = SpanId::from_u64(parse_hex_u128(s).map_err(invalid(header))? as u64);
    if id.is_valid() {
        Ok(id)
    } else {
        Err(invalid(header)(ParseIdError::AllZero))
    }
}

/// Hex of either case, at most 32 digits.
pub(crate) fn parse_hex_u128(s: &[u8]) -> Result<u128, ParseIdError> {
    if s.is_empty() || s.len() > 32 {
        return Err(ParseIdError::Length {
            expected: 32,
            found: s.len(),
        });
    }
    s.iter().try_fold(0u128, |acc, &c| {
        Ok((acc << 4) | u128::from(hex_digit_any_case(c)?))
    })
}

enum Sampling {
    Deny,
    Accept,
    Debug,
}

fn parse_sampling(s: &[u8], header: &'static str) -> Result<Sampling, ExtractError> {
    match s {
        b"0" | b"false" => Ok(Sampling::Deny),
        b"1" | b"true" => Ok(Sampling::Accept),
        b"d" => Ok(Sampling::Debug),
        _ => Err(ExtractError::Malformed {
            header,
            reason: "sampling state must be 0, 1 or d",
        }),
    }
}

fn fresh(sampled: bool) -> SpanContext {
    SpanContext::new(
        TraceId::random(),
        SpanId::random(),
        TraceFlags::RANDOM.with_sampled(sampled),
        TraceState::new(),
        true,
    )
}

impl B3Propagator {
    fn extract_single(&self, v: &[u8]) -> Result<SpanContext, ExtractError> {
        let v = trimmed(v, B3, 128)?;
        let mut parts = v.split(|&b| b == b'-');
        let first = parts.next().unwrap_or_default();
        let Some(second) = parts.next() else {
            // Sampling-only form.
            return Ok(match parse_sampling(first, B3)? {
                Sampling::Deny => fresh(false),
                Sampling::Accept | Sampling::Debug => fresh(true),
            });
        };
        let trace_id = parse_trace_id(first, B3)?;
        let span_id = parse_span_id(second, B3)?;
        let sampled = match parts.next() {
            None => None,
            Some(s) => Some(parse_sampling(s, B3)?),
        };
        if let Some(parent) = parts.next() {
            parse_span_id(parent, B3)?;
        }
        if parts.next().is_some() {
            return Err(ExtractError::malformed(B3, "too many fields"));
        }
        // An absent sampling state defers the decision: treated as not sampled by the parent.
        let sampled = matches!(sampled, Some(Sampling::Accept | Sampling::Debug));
        Ok(received(trace_id, span_id, sampled))
    }

    fn extract_multi(&self, carrier: &dyn Extractor) -> Result<Option<SpanContext>, ExtractError> {
        let get = |k| carrier.first(k).map(|v| trim_ows(&v).to_vec());
        let trace = get(TRACE_ID);
        let span = get(SPAN_ID);
        let sampled = get(SAMPLED);
        let debug = get(FLAGS).is_some_and(|f| f == b"1");
        let (trace, span) = match (trace, span) {
            (Some(t), Some(s)) => (t, s),
            (None, None) => {
                return Ok(match sampled.as_deref() {
                    Some(s) => Some(match parse_sampling(s, SAMPLED)? {
                        Sampling::Deny if !debug => fresh(false),
                        _ => fresh(true),
                    }),
                    None if debug => Some(fresh(true)),
                    None => None,
                });
            }
            _ => {
                return Err(ExtractError::Malformed {
                    header: TRACE_ID,
                    reason: "X-B3-TraceId and X-B3-SpanId must appear together",
                });
            }
        };
        let trace_id = parse_trace_id(&trace, TRACE_ID)?;
        let span_id = parse_span_id(&span, SPAN_ID)?;
        if let Some(parent) = get(PARENT) {
            parse_span_id(&parent, PARENT)?;
        }
        let sampled = debug
            || match sampled.as_deref() {
                Some(s) => !matches!(parse_sampling(s, SAMPLED)?, Sampling::Deny),
                None => false,
            };
        Ok(Some(received(trace_id, span_id, sampled)))
    }
}

impl Propagator for B3Propagator {
    fn extract(&self, carrier: &dyn Extractor, cx: &mut Context) -> Result<bool, ExtractError> {
        let span = match carrier.first(B3) {
            Some(v) => Some(self.extract_single(&v)?),
            None => self.extract_multi(carrier)?,
        };
        match span {
            Some(span) => {
                cx.set_span_context(span);
                Ok(true)
            }
            None => Ok(false),
        }
    }

    fn inject(&self, cx: &Context, carrier: &mut dyn Injector) {
        let Some(span) = cx.span_context().filter(|s| s.is_valid()) else {
            return;
        };
        let sampled: &[u8] = if span.is_sampled() { b"1" } else { b"0" };
        match self.encoding {
            B3Encoding::SingleHeader => {
                let mut out = [b'-'; 32 + 1 + 16 + 1 + 1];
                out[..32].copy_from_slice(&span.trace_id().to_hex());
                out[33..49].copy_from_slice(&span.span_id().to_hex());
                out[50] = sampled[0];
                carrier.set(B3, &out);
            }
            B3Encoding::MultiHeader => {
                carrier.set(TRACE_ID, &span.trace_id().to_hex());
                carrier.set(SPAN_ID, &span.span_id().to_hex());
                carrier.set(SAMPLED, sampled);
            }
        }
    }

    fn fields(&self) -> &[&'static str] {
        match self.encoding {
            B3Encoding::SingleHeader => &[B3],
            B3Encoding::MultiHeader => &[TRACE_ID, SPAN_ID, PARENT, SAMPLED, FLAGS],
        }
    }
}

#[cfg(test)]
mod tests {
    use http::HeaderMap;

    use super::*;
    use crate::propagation::test_support::*;

    const SINGLE: B3Propagator = B3Propagator::new(B3Encoding::SingleHeader);

    fn extract(pairs: &[(&'static str, &str)]) -> (Result<bool, ExtractError>, Context) {
        extract_with(&SINGLE, pairs)
    }

    #[test]
    fn single_header_full() {
        // b3-propagation "Single Header": {TraceId}-{SpanId}-{SamplingState}-{ParentSpanId}.
        let (r, cx) = extract(&[(
            "b3",
            "80f198ee56343ba864fe8b2a57d3eff7-e457b5a2e4d86bd1-1-05e3ac9a4f6e3b90",
        )]);
        assert_eq!(r, Ok(true));
        let s = cx.span_context().unwrap();
        assert_eq!(s.trace_id().to_string(), "80f198ee56343ba864fe8b2a57d3eff7");
        assert_eq!(s.span_id().to_string(), "e457b5a2e4d86bd1");
        assert!(s.is_sampled() && s.is_remote());
    }

    #[test]
    fn single_header_64_bit_trace_id_is_widened() {
        // "TraceId ... 64 or 128-bit": 64-bit ids are left-padded.
        let (_, cx) = extract(&[("b3", "64fe8b2a57d3eff7-e457b5a2e4d86bd1-d")]);
        let s = cx.span_context().unwrap();
        assert_eq!(s.trace_id().to_string(), "000000000000000064fe8b2a57d3eff7");
        assert!(s.is_sampled(), "debug implies sampled");
    }

    #[test]
    fn deny_and_sampling_only() {
        // "b3: 0" means do not sample; it carries no ids.
        let (r, cx) = extract(&[("b3", "0")]);
        assert_eq!(r, Ok(true));
        assert!(!cx.span_context().unwrap().is_sampled());
        let (_, cx) = extract(&[("b3", "d")]);
        assert!(cx.span_context().unwrap().is_sampled());
    }

    #[test]
    fn single_header_invalid() {
        assert_rejected(
            &SINGLE,
            "b3",
            &[
                "80f198ee56343ba864fe8b2a57d3eff7",
                "80f198ee56343ba864fe8b2a57d3eff7-e457b5a2e4d86bd1-2",
                "80f198ee56343ba864fe8b2a57d3eff-e457b5a2e4d86bd1-1",
                "00000000000000000000000000000000-e457b5a2e4d86bd1-1",
                "80f198ee56343ba864fe8b2a57d3eff7-0000000000000000-1",
                "80f198ee56343ba864fe8b2a57d3eff7-e457b5a2e4d86bd1-1-05e3ac9a4f6e3b90-x",
                "80f198ee56343ba864fe8b2a57d3eff7-e457b5a2e4d86bdz-1",
            ],
        );
    }

    #[test]
    fn multi_header() {
        let (r, cx) = extract(&[
            ("X-B3-TraceId", "463ac35c9f6413ad"),
            ("X-B3-SpanId", "a2fb4a1d1a96d312"),
            ("X-B3-ParentSpanId", "0020000000000001"),
            ("X-B3-Sampled", "1"),
        ]);
        assert_eq!(r, Ok(true));
        let s = cx.span_context().unwrap();
        assert_eq!(s.trace_id().to_string(), "0000000000000000463ac35c9f6413ad");
        assert!(s.is_sampled());
        let (_, cx) = extract(&[
            ("X-B3-TraceId", "463ac35c9f6413ad"),
            ("X-B3-SpanId", "a2fb4a1d1a96d312"),
            ("X-B3-Flags", "1"),
        ]);
        assert!(cx.span_context().unwrap().is_sampled(), "debug flag");
        let (r, _) = extract(&[("X-B3-TraceId", "463ac35c9f6413ad")]);
        assert!(r.is_err());
        let (_, cx) = extract(&[("X-B3-Sampled", "0")]);
        assert!(!cx.span_context().unwrap().is_sampled());
    }

    #[test]
    fn inject_both_encodings() {
        let cx = local(
            0x80f198ee56343ba864fe8b2a57d3eff7,
            0xe457b5a2e4d86bd1,
            TraceFlags::NONE,
        );
        let mut h = HeaderMap::new();
        B3Propagator::new(B3Encoding::SingleHeader).inject(&cx, &mut h);
        assert_eq!(
            h["b3"],
            "80f198ee56343ba864fe8b2a57d3eff7-e457b5a2e4d86bd1-0"
        );
        let mut h = HeaderMap::new();
        B3Propagator::new(B3Encoding::MultiHeader).inject(&cx, &mut h);
        assert_eq!(h["x-b3-traceid"], "80f198ee56343ba864fe8b2a57d3eff7");
        assert_eq!(h["x-b3-spanid"], "e457b5a2e4d86bd1");
        assert_eq!(h["x-b3-sampled"], "0");
    }
}
