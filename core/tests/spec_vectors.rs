//! Table-driven specification vectors for every propagation format, valid and invalid.
//!
//! Every vector names the rule it checks. Section numbers follow the W3C Trace Context Level 2
//! and W3C Baggage recommendations; `tracestate` keys and duplicates follow the current Trace
//! Context text (the Level 3 editor's draft of 2026-06, whose key grammar is Level 2's) and its
//! test harness as revised for it; `suite:` names the case of the W3C trace-context test
//! harness (`test/test.py`) or baggage tests (`test/test_baggage.py`) the vector mirrors at the
//! propagation level. B3 rules quote the openzipkin `b3-propagation` README; Jaeger rules quote
//! the Jaeger client wire format. Where the specs leave a choice open the vector says
//! "ours:" and names the choice.

use std::collections::HashMap;

use http::{HeaderMap, HeaderName, HeaderValue};
use tracewire::propagation::{
    B3Encoding, B3Propagator, BaggagePropagator, JaegerPropagator, Propagator, Propagators,
    TraceContextPropagator,
};
use tracewire::{
    Baggage, BaggageError, Context, ExtractError, ParseIdError, SpanContext, SpanId, TraceFlags,
    TraceId, TraceState, TraceStateError,
};

// --- shared machinery ---------------------------------------------------------------------------

/// What extraction must produce.
#[derive(Debug)]
enum Outcome {
    /// `Ok(true)` with exactly this span context (always remote) and `tracestate` header.
    Span {
        trace: &'static str,
        span: &'static str,
        flags: u8,
        state: String,
    },
    /// `Ok(true)` with a freshly generated context (B3 sampling-only forms).
    Fresh { sampled: bool },
    /// `Ok(false)`: the format's headers are absent; no span context.
    Absent,
    /// This exact error, and no span context.
    Rejected(ExtractError),
}

struct Vector {
    rule: &'static str,
    headers: Vec<(&'static str, String)>,
    expect: Outcome,
}

fn v(rule: &'static str, headers: &[(&'static str, &str)], expect: Outcome) -> Vector {
    Vector {
        rule,
        headers: headers.iter().map(|(k, v)| (*k, (*v).to_owned())).collect(),
        expect,
    }
}

/// A vector whose only header is one `traceparent`.
fn tp(rule: &'static str, value: &str, expect: Outcome) -> Vector {
    v(rule, &[(TP, value)], expect)
}

fn span(trace: &'static str, span: &'static str, flags: u8) -> Outcome {
    Outcome::Span {
        trace,
        span,
        flags,
        state: String::new(),
    }
}

fn span_with_state(trace: &'static str, span: &'static str, flags: u8, state: &str) -> Outcome {
    Outcome::Span {
        trace,
        span,
        flags,
        state: state.to_owned(),
    }
}

fn header_map(headers: &[(&'static str, String)]) -> HeaderMap {
    let mut h = HeaderMap::new();
    for (k, v) in headers {
        h.append(
            HeaderName::from_bytes(k.as_bytes()).expect("vector header name"),
            HeaderValue::from_str(v).expect("vector header value"),
        );
    }
    h
}

fn check(p: &dyn Propagator, vectors: &[Vector]) {
    for vec in vectors {
        let carrier = header_map(&vec.headers);
        let mut cx = Context::new();
        let result = p.extract(&carrier, &mut cx);
        let rule = vec.rule;
        match &vec.expect {
            Outcome::Span {
                trace,
                span,
                flags,
                state,
            } => {
                assert_eq!(result, Ok(true), "{rule}");
                let sc = cx
                    .span_context()
                    .unwrap_or_else(|| panic!("{rule}: no span"));
                assert_eq!(sc.trace_id().to_string(), *trace, "{rule}");
                assert_eq!(sc.span_id().to_string(), *span, "{rule}");
                assert_eq!(sc.flags().to_u8(), *flags, "{rule}");
                assert_eq!(sc.trace_state().header(), *state, "{rule}");
                assert!(sc.is_remote(), "{rule}");
            }
            Outcome::Fresh { sampled } => {
                assert_eq!(result, Ok(true), "{rule}");
                let sc = cx
                    .span_context()
                    .unwrap_or_else(|| panic!("{rule}: no span"));
                assert!(sc.is_valid() && sc.is_remote(), "{rule}");
                assert_eq!(sc.is_sampled(), *sampled, "{rule}");
                assert!(sc.trace_state().is_empty(), "{rule}");
            }
            Outcome::Absent => {
                assert_eq!(result, Ok(false), "{rule}");
                assert!(cx.span_context().is_none(), "{rule}");
            }
            Outcome::Rejected(err) => {
                assert_eq!(result.as_ref(), Err(err), "{rule}");
                assert!(cx.span_context().is_none(), "{rule}");
            }
        }
    }
}

fn malformed(header: &'static str, reason: &'static str) -> Outcome {
    Outcome::Rejected(ExtractError::Malformed { header, reason })
}

fn bad_id(header: &'static str, source: ParseIdError) -> Outcome {
    Outcome::Rejected(ExtractError::InvalidId { header, source })
}

fn bad_length(header: &'static str, expected: usize, found: usize) -> Outcome {
    bad_id(header, ParseIdError::Length { expected, found })
}

fn sc(trace: u128, span: u64, flags: TraceFlags, state: &str) -> SpanContext {
    let state = if state.is_empty() {
        TraceState::new()
    } else {
        state.parse().expect("vector tracestate")
    };
    SpanContext::new(
        TraceId::from_u128(trace),
        SpanId::from_u64(span),
        flags,
        state,
        false,
    )
}

fn injected(p: &dyn Propagator, cx: &Context) -> Vec<(String, String)> {
    let mut h = HeaderMap::new();
    p.inject(cx, &mut h);
    let mut out: Vec<(String, String)> = h
        .iter()
        .map(|(k, v)| {
            (
                k.as_str().to_owned(),
                v.to_str().expect("ascii header").to_owned(),
            )
        })
        .collect();
    out.sort();
    out
}

fn pairs(expected: &[(&str, &str)]) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = expected
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
    out.sort();
    out
}

// --- W3C Trace Context: traceparent ---------------------------------------------------------------

const TP: &str = "traceparent";
const TS: &str = "tracestate";
/// The trace id and parent id the W3C test harness uses.
const SUITE_TRACE: &str = "12345678901234567890123456789012";
const SUITE_SPAN: &str = "1234567890123456";
const SUITE_TP: &str = "00-12345678901234567890123456789012-1234567890123456-01";

#[test]
fn traceparent_valid() {
    let vectors = [
        tp(
            "W3C TC §3.2.3 example: sampled",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
            span("4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7", 0x01),
        ),
        tp(
            "W3C TC §3.2.3 example: not sampled",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00",
            span("4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7", 0x00),
        ),
        tp(
            "W3C TC §3.1 relationship example traceparent",
            "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
            span("0af7651916cd43dd8448eb211c80319c", "b7ad6b7169203331", 0x01),
        ),
        tp(
            "W3C TC suite: test_traceparent_included_tracestate_missing",
            SUITE_TP,
            span(SUITE_TRACE, SUITE_SPAN, 0x01),
        ),
        tp(
            "W3C TC L2 §3.2.2.5.2 random trace-id flag is kept",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-02",
            span("4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7", 0x02),
        ),
        tp(
            "W3C TC L2 §3.2.2.5.2 random and sampled flags together",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-03",
            span("4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7", 0x03),
        ),
        tp(
            "W3C TC §3.2.2.5.3 other flags are reserved and not propagated",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-ff",
            span("4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7", 0x03),
        ),
        tp(
            "W3C TC §3.2.2.5 flags are a bit field: 09 is sampled plus a reserved bit",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-09",
            span("4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7", 0x01),
        ),
        tp(
            "W3C TC §3.2.4 higher version parsed by its 00 prefix (suite: test_traceparent_version_0xcc)",
            "cc-12345678901234567890123456789012-1234567890123456-01",
            span(SUITE_TRACE, SUITE_SPAN, 0x01),
        ),
        tp(
            "W3C TC §3.2.4 higher version may carry more fields after a '-' (suite: test_traceparent_version_0xcc)",
            "cc-12345678901234567890123456789012-1234567890123456-01-what-the-future-will-be-like",
            span(SUITE_TRACE, SUITE_SPAN, 0x01),
        ),
        tp(
            "W3C TC §3.2.4 version 01 is a higher version",
            "01-12345678901234567890123456789012-1234567890123456-00",
            span(SUITE_TRACE, SUITE_SPAN, 0x00),
        ),
        tp(
            "W3C TC §3.2.4 version fe is the highest allowed version",
            "fe-12345678901234567890123456789012-1234567890123456-01-",
            span(SUITE_TRACE, SUITE_SPAN, 0x01),
        ),
        tp(
            "W3C TC suite: test_traceparent_ows_handling (leading space)",
            " 00-12345678901234567890123456789012-1234567890123456-01",
            span(SUITE_TRACE, SUITE_SPAN, 0x01),
        ),
        tp(
            "W3C TC suite: test_traceparent_ows_handling (leading tab)",
            "\t00-12345678901234567890123456789012-1234567890123456-01",
            span(SUITE_TRACE, SUITE_SPAN, 0x01),
        ),
        tp(
            "W3C TC suite: test_traceparent_ows_handling (trailing space)",
            "00-12345678901234567890123456789012-1234567890123456-01 ",
            span(SUITE_TRACE, SUITE_SPAN, 0x01),
        ),
        tp(
            "W3C TC suite: test_traceparent_ows_handling (trailing tab)",
            "00-12345678901234567890123456789012-1234567890123456-01\t",
            span(SUITE_TRACE, SUITE_SPAN, 0x01),
        ),
        tp(
            "W3C TC suite: test_traceparent_ows_handling (both sides)",
            "\t 00-12345678901234567890123456789012-1234567890123456-01 \t",
            span(SUITE_TRACE, SUITE_SPAN, 0x01),
        ),
        v(
            "W3C TC §3.2.1 header name is case-insensitive (suite: test_traceparent_header_name_valid_casing)",
            &[("TraceParent", SUITE_TP)],
            span(SUITE_TRACE, SUITE_SPAN, 0x01),
        ),
        v(
            "ours: identical duplicated traceparent values agree and are accepted",
            &[(TP, SUITE_TP), (TP, SUITE_TP)],
            span(SUITE_TRACE, SUITE_SPAN, 0x01),
        ),
    ];
    check(&TraceContextPropagator::new(), &vectors);
}

#[test]
fn traceparent_invalid() {
    const H: &str = "traceparent";
    let short = "shorter than 55 characters";
    let version = "version is not two lowercase hex digits";
    let seps = "fields not separated by '-'";
    let exact = "version 00 must be exactly 55 characters";
    let flags = "flags are not two lowercase hex digits";
    let too_long = "x".repeat(513);
    let mut vectors = vec![
        tp(
            "W3C TC §3.2.2.1 version ff is forbidden (suite: test_traceparent_version_0xff)",
            "ff-12345678901234567890123456789012-1234567890123456-01",
            malformed(H, "version ff is forbidden"),
        ),
        tp(
            "W3C TC §3.2.2.1 version is 2 HEXDIGLC (suite: test_traceparent_version_illegal_characters)",
            ".0-12345678901234567890123456789012-1234567890123456-01",
            malformed(H, version),
        ),
        tp(
            "W3C TC §3.2.2.1 version is 2 HEXDIGLC (suite: test_traceparent_version_illegal_characters)",
            "0.-12345678901234567890123456789012-1234567890123456-01",
            malformed(H, version),
        ),
        tp(
            "W3C TC §3.2.2.1 version is lowercase hex",
            "0A-12345678901234567890123456789012-1234567890123456-01",
            malformed(H, version),
        ),
        tp(
            "W3C TC §3.2.4 version prefix must be 2 hex then '-' (suite: test_traceparent_version_too_long)",
            "000-12345678901234567890123456789012-1234567890123456-01",
            malformed(H, seps),
        ),
        tp(
            "W3C TC §3.2.4 version prefix must be 2 hex then '-' (suite: test_traceparent_version_too_long)",
            "0000-12345678901234567890123456789012-1234567890123456-01",
            malformed(H, seps),
        ),
        tp(
            "W3C TC §3.2.4 shorter than 55 characters (suite: test_traceparent_version_too_short)",
            "0-12345678901234567890123456789012-1234567890123456-01",
            malformed(H, short),
        ),
        tp(
            "W3C TC §3.2.2.3 trace-id all zeros invalid (suite: test_traceparent_trace_id_all_zero)",
            "00-00000000000000000000000000000000-1234567890123456-01",
            bad_id(H, ParseIdError::AllZero),
        ),
        tp(
            "W3C TC §3.2.2.3 trace-id is HEXDIGLC (suite: test_traceparent_trace_id_illegal_characters)",
            "00-.2345678901234567890123456789012-1234567890123456-01",
            bad_id(H, ParseIdError::NotHex),
        ),
        tp(
            "W3C TC §3.2.2.3 trace-id is HEXDIGLC (suite: test_traceparent_trace_id_illegal_characters)",
            "00-1234567890123456789012345678901.-1234567890123456-01",
            bad_id(H, ParseIdError::NotHex),
        ),
        tp(
            "W3C TC §3.2.2.3 trace-id uppercase hex invalid",
            "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01",
            bad_id(H, ParseIdError::Uppercase),
        ),
        tp(
            "W3C TC §3.2.2.3 trace-id is 32 digits (suite: test_traceparent_trace_id_too_long)",
            "00-123456789012345678901234567890123-1234567890123456-01",
            malformed(H, seps),
        ),
        tp(
            "W3C TC §3.2.2.3 trace-id is 32 digits (suite: test_traceparent_trace_id_too_short)",
            "00-1234567890123456789012345678901-1234567890123456-01",
            malformed(H, short),
        ),
        tp(
            "W3C TC §3.2.2.4 parent-id all zeros invalid (suite: test_traceparent_parent_id_all_zero)",
            "00-12345678901234567890123456789012-0000000000000000-01",
            bad_id(H, ParseIdError::AllZero),
        ),
        tp(
            "W3C TC §3.2.2.4 parent-id is HEXDIGLC (suite: test_traceparent_parent_id_illegal_characters)",
            "00-12345678901234567890123456789012-.234567890123456-01",
            bad_id(H, ParseIdError::NotHex),
        ),
        tp(
            "W3C TC §3.2.2.4 parent-id is HEXDIGLC (suite: test_traceparent_parent_id_illegal_characters)",
            "00-12345678901234567890123456789012-123456789012345.-01",
            bad_id(H, ParseIdError::NotHex),
        ),
        tp(
            "W3C TC §3.2.2.4 parent-id uppercase hex invalid",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00F067AA0BA902B7-01",
            bad_id(H, ParseIdError::Uppercase),
        ),
        tp(
            "W3C TC §3.2.2.4 parent-id is 16 digits (suite: test_traceparent_parent_id_too_long)",
            "00-12345678901234567890123456789012-12345678901234567-01",
            malformed(H, seps),
        ),
        tp(
            "W3C TC §3.2.2.4 parent-id is 16 digits (suite: test_traceparent_parent_id_too_short)",
            "00-12345678901234567890123456789012-123456789012345-01",
            malformed(H, short),
        ),
        tp(
            "W3C TC §3.2.2.5 trace-flags is 2 HEXDIGLC (suite: test_traceparent_trace_flags_illegal_characters)",
            "00-12345678901234567890123456789012-1234567890123456-.0",
            malformed(H, flags),
        ),
        tp(
            "W3C TC §3.2.2.5 trace-flags is 2 HEXDIGLC (suite: test_traceparent_trace_flags_illegal_characters)",
            "00-12345678901234567890123456789012-1234567890123456-0.",
            malformed(H, flags),
        ),
        tp(
            "W3C TC §3.2.2.5 trace-flags uppercase hex invalid",
            "00-12345678901234567890123456789012-1234567890123456-0A",
            malformed(H, flags),
        ),
        tp(
            "W3C TC §3.2.2.5 trace-flags is 2 digits (suite: test_traceparent_trace_flags_too_long)",
            "00-12345678901234567890123456789012-1234567890123456-001",
            malformed(H, exact),
        ),
        tp(
            "W3C TC §3.2.2.5 trace-flags is 2 digits (suite: test_traceparent_trace_flags_too_short)",
            "00-12345678901234567890123456789012-1234567890123456-1",
            malformed(H, short),
        ),
        tp(
            "W3C TC §3.2.2.2 version 00 is exactly 55 characters (suite: test_traceparent_version_0x00)",
            "00-12345678901234567890123456789012-1234567890123456-01.",
            malformed(H, exact),
        ),
        tp(
            "W3C TC §3.2.2.2 version 00 has no further fields (suite: test_traceparent_version_0x00)",
            "00-12345678901234567890123456789012-1234567890123456-01-what-the-future-will-be-like",
            malformed(H, exact),
        ),
        tp(
            "W3C TC §3.2.4 flags of a higher version end the value or precede '-' (suite: test_traceparent_version_0xcc)",
            "cc-12345678901234567890123456789012-1234567890123456-01.what-the-future-will-be-like",
            malformed(H, "data after the flags must start with '-'"),
        ),
        tp(
            "W3C TC §3.2.4 a higher version shorter than 55 characters is not parsed",
            "cc-12345678901234567890123456789012-1234567890123456-0",
            malformed(H, short),
        ),
        tp(
            "W3C TC §3.2.2 fields are delimited by '-'",
            "00_12345678901234567890123456789012_1234567890123456_01",
            malformed(H, seps),
        ),
        tp(
            "W3C TC §3.2.2 empty value is invalid",
            "",
            malformed(H, short),
        ),
        v(
            "W3C TC §3.2.1 conflicting duplicated traceparent restarts the trace (suite: test_traceparent_duplicated)",
            &[
                (
                    TP,
                    "00-12345678901234567890123456789011-1234567890123456-01",
                ),
                (
                    TP,
                    "00-12345678901234567890123456789012-1234567890123456-01",
                ),
            ],
            Outcome::Rejected(ExtractError::Conflicting { header: H }),
        ),
        v(
            "W3C TC §3.2.1 a duplicated traceparent that is invalid rejects the pair",
            &[
                (TP, SUITE_TP),
                (
                    TP,
                    "00-00000000000000000000000000000000-1234567890123456-01",
                ),
            ],
            bad_id(H, ParseIdError::AllZero),
        ),
        v(
            "W3C TC §3.2.1 header name is one word (suite: test_traceparent_header_name)",
            &[("trace-parent", SUITE_TP)],
            Outcome::Absent,
        ),
        v(
            "W3C TC §3.2.1 header name is one word (suite: test_traceparent_header_name)",
            &[("trace.parent", SUITE_TP)],
            Outcome::Absent,
        ),
        v(
            "W3C TC suite: test_both_traceparent_and_tracestate_missing",
            &[],
            Outcome::Absent,
        ),
        v(
            "W3C TC §3.3 tracestate is not parsed without traceparent (suite: test_tracestate_included_traceparent_missing)",
            &[(TS, "foo=1,bar=2")],
            Outcome::Absent,
        ),
    ];
    vectors.push(Vector {
        rule: "W3C TC §3.2.4 prohibitively large headers are disallowed (ours: 512 bytes)",
        headers: vec![(TP, too_long)],
        expect: Outcome::Rejected(ExtractError::TooLong {
            header: H,
            limit: 512,
        }),
    });
    check(&TraceContextPropagator::new(), &vectors);
}

#[test]
fn traceparent_header_name_casing_with_a_case_preserving_carrier() {
    // W3C TC §3.2.1 / §3.3.1: vendors MUST expect the header names in any case
    // (suite: test_traceparent_header_name_valid_casing, test_tracestate_header_name_valid_casing).
    // `HeaderMap` lowercases names itself, so this uses the case-preserving `HashMap` carrier.
    for (tp_name, ts_name) in [
        ("TraceParent", "TraceState"),
        ("TrAcEpArEnT", "TrAcEsTaTe"),
        ("TRACEPARENT", "TRACESTATE"),
    ] {
        let carrier: HashMap<String, String> = [
            (tp_name.to_owned(), SUITE_TP.to_owned()),
            (ts_name.to_owned(), "foo=1".to_owned()),
        ]
        .into_iter()
        .collect();
        let mut cx = Context::new();
        assert_eq!(
            TraceContextPropagator::new().extract(&carrier, &mut cx),
            Ok(true),
            "{tp_name}"
        );
        let sc = cx.span_context().unwrap();
        assert_eq!(sc.trace_id().to_string(), SUITE_TRACE);
        assert_eq!(sc.trace_state().get("foo"), Some("1"), "{ts_name}");
    }
}

// --- W3C Trace Context: tracestate ----------------------------------------------------------------

/// The traceparent the harness pairs with tracestate cases.
const SUITE_TP00: &str = "00-12345678901234567890123456789012-1234567890123456-00";

fn ts_vector(rule: &'static str, tracestates: &[String], state: &str) -> Vector {
    let mut headers = vec![(TP, SUITE_TP00.to_owned())];
    headers.extend(tracestates.iter().map(|s| (TS, s.clone())));
    Vector {
        rule,
        headers,
        expect: span_with_state(SUITE_TRACE, SUITE_SPAN, 0x00, state),
    }
}

fn strings(items: &[&str]) -> Vec<String> {
    items.iter().map(|s| (*s).to_owned()).collect()
}

#[test]
fn tracestate_vectors() {
    let key_all = "abcdefghijklmnopqrstuvwxyz0123456789_-*/";
    let key_vendor = format!("{key_all}@a-z0-9_-*/");
    let value_all: String = (0x20u8..=0x2b)
        .chain(0x2d..=0x3c)
        .chain(0x3e..=0x7e)
        .map(char::from)
        .collect();
    let bars = |range: std::ops::RangeInclusive<u32>| -> String {
        range
            .map(|i| format!("bar{i:02}={i:02}"))
            .collect::<Vec<_>>()
            .join(",")
    };
    let all_32 = bars(1..=32);
    let z256 = format!("{}=1", "z".repeat(256));
    let z257 = format!("{}=1", "z".repeat(257));
    let tenant241 = format!("{}@{}=1", "t".repeat(241), "v".repeat(14));
    let tenant242 = format!("{}@v=1", "t".repeat(242));
    let vendor15 = format!("t@{}=1", "v".repeat(15));
    let at_end256 = format!("{}@=1", "t".repeat(255));
    let at_end257 = format!("{}@=1", "t".repeat(256));
    let value256 = format!("k={}", "v".repeat(256));
    let value257 = format!("k={}", "v".repeat(257));
    // 22 members of 24 characters (549 bytes) after one 204-character member.
    let small: Vec<String> = (0..22)
        .map(|i| format!("k{i:02}={}", "v".repeat(20)))
        .collect();
    let long_list = format!("big={},{}", "x".repeat(200), small.join(","));
    let truncated = small[..20].join(",");
    let oversized_input = format!("a={}", "b".repeat(8200));

    let vectors = vec![
        ts_vector(
            "W3C TC §3.3.2 example: single tracing system",
            &strings(&["rojo=00f067aa0ba902b7"]),
            "rojo=00f067aa0ba902b7",
        ),
        ts_vector(
            "W3C TC §3.3.2 example: multiple tracing systems",
            &strings(&["rojo=00f067aa0ba902b7,congo=t61rcWkgMzE"]),
            "rojo=00f067aa0ba902b7,congo=t61rcWkgMzE",
        ),
        ts_vector(
            "W3C TC suite: test_tracestate_included_traceparent_included",
            &strings(&["foo=1,bar=2"]),
            "foo=1,bar=2",
        ),
        ts_vector(
            "W3C TC §3.3.1.1 multiple headers are combined in order (suite: test_tracestate_multiple_headers_different_keys)",
            &strings(&["foo=1,bar=2", "rojo=1,congo=2", "baz=3"]),
            "foo=1,bar=2,rojo=1,congo=2,baz=3",
        ),
        ts_vector(
            "W3C TC §3.3.1.1 empty header is accepted (suite: test_tracestate_empty_header)",
            &strings(&[""]),
            "",
        ),
        ts_vector(
            "W3C TC §3.3.1.1 empty header after a member (suite: test_tracestate_empty_header)",
            &strings(&["foo=1", ""]),
            "foo=1",
        ),
        ts_vector(
            "W3C TC §3.3.1.1 empty header before a member (suite: test_tracestate_empty_header)",
            &strings(&["", "foo=1"]),
            "foo=1",
        ),
        ts_vector(
            "W3C TC §3.3.1.3 empty and whitespace-only list members are allowed",
            &strings(&[" , foo=1,,\t,bar=2 ,"]),
            "foo=1,bar=2",
        ),
        ts_vector(
            "W3C TC §3.3.1.3.1/2 every allowed key and value character (suite: test_tracestate_all_allowed_characters)",
            &[format!("{key_all}={value_all}")],
            &format!("{key_all}={value_all}"),
        ),
        ts_vector(
            "W3C TC §3.3.1.3.1 '@' is a key character (suite: test_tracestate_all_allowed_characters)",
            &[format!("{key_vendor}={value_all}")],
            &format!("{key_vendor}={value_all}"),
        ),
        ts_vector(
            "W3C TC §3.3.1.3.1 a key may start with a digit and hold '@'",
            &strings(&["0tenant@vendor=1,t@v=2"]),
            "0tenant@vendor=1,t@v=2",
        ),
        ts_vector(
            "W3C TC §3.3.1.3 OWS around members is ignored (suite: test_tracestate_ows_handling)",
            &strings(&["foo=1 \t , \t bar=2, \t baz=3"]),
            "foo=1,bar=2,baz=3",
        ),
        ts_vector(
            "W3C TC §3.3.1.3 OWS around members is ignored (suite: test_tracestate_ows_handling)",
            &strings(&["foo=1\t \t,\t \tbar=2,\t \tbaz=3"]),
            "foo=1,bar=2,baz=3",
        ),
        ts_vector(
            "W3C TC suite: test_tracestate_ows_handling (leading space)",
            &strings(&[" foo=1"]),
            "foo=1",
        ),
        ts_vector(
            "W3C TC suite: test_tracestate_ows_handling (leading tab)",
            &strings(&["\tfoo=1"]),
            "foo=1",
        ),
        ts_vector(
            "W3C TC suite: test_tracestate_ows_handling (trailing space)",
            &strings(&["foo=1 "]),
            "foo=1",
        ),
        ts_vector(
            "W3C TC suite: test_tracestate_ows_handling (trailing tab)",
            &strings(&["foo=1\t"]),
            "foo=1",
        ),
        ts_vector(
            "W3C TC suite: test_tracestate_ows_handling (both sides)",
            &strings(&["\t foo=1 \t"]),
            "foo=1",
        ),
        ts_vector(
            "W3C TC §3.3.1.3.2 leading spaces are part of the value",
            &strings(&["foo=  bar"]),
            "foo=  bar",
        ),
        ts_vector(
            "W3C TC §3.3.1.3.2 value may be 256 characters",
            std::slice::from_ref(&value256),
            &value256,
        ),
        ts_vector(
            "W3C TC §3.3.1.3.2 value longer than 256 characters drops the tracestate",
            std::slice::from_ref(&value257),
            "",
        ),
        ts_vector(
            "W3C TC §3.3.1.3.2 '=' is not allowed in a value (suite: test_tracestate_value_illegal_characters)",
            &strings(&["foo=bar=baz"]),
            "",
        ),
        ts_vector(
            "W3C TC §3.3.1.3.2 value is not empty (suite: test_tracestate_value_illegal_characters)",
            &strings(&["foo=,bar=3"]),
            "",
        ),
        ts_vector(
            "W3C TC §3.3.1.3.2 value is printable ASCII",
            &strings(&["foo=a\tb"]),
            "",
        ),
        ts_vector(
            "W3C TC §3.3.1.3 member without '=' drops the tracestate",
            &strings(&["foo=1,bar"]),
            "",
        ),
        ts_vector(
            "W3C TC §3.3.1.3.1 key has no spaces (suite: test_tracestate_key_illegal_characters)",
            &strings(&["foo =1"]),
            "",
        ),
        ts_vector(
            "W3C TC §3.3.1.3.1 key is lowercase (suite: test_tracestate_key_illegal_characters)",
            &strings(&["FOO=1"]),
            "",
        ),
        ts_vector(
            "W3C TC §3.3.1.3.1 '.' is not a key character (suite: test_tracestate_key_illegal_characters)",
            &strings(&["foo.bar=1"]),
            "",
        ),
        ts_vector(
            "W3C TC §3.3.1.3.1 a key starts with a lowercase letter or a digit",
            &strings(&["1foo=1"]),
            "1foo=1",
        ),
        ts_vector(
            "W3C TC §3.3.1.3.1 a key starts with a lowercase letter or a digit",
            &strings(&["_foo=1,bar=2"]),
            "",
        ),
        ts_vector(
            "W3C TC §3.3.1.3.1 '@' may end a key (suite: test_tracestate_key_illegal_vendor_format)",
            &strings(&["foo@=1,bar=2"]),
            "foo@=1,bar=2",
        ),
        ts_vector(
            "W3C TC §3.3.1.3.1 '@' may not start a key (suite: test_tracestate_key_illegal_vendor_format)",
            &strings(&["@foo=1,bar=2"]),
            "",
        ),
        ts_vector(
            "W3C TC §3.3.1.3.1 '@' may repeat (suite: test_tracestate_key_illegal_vendor_format)",
            &strings(&["foo@@bar=1,bar=2"]),
            "foo@@bar=1,bar=2",
        ),
        ts_vector(
            "W3C TC §3.3.1.3.1 '@' may repeat (suite: test_tracestate_key_illegal_vendor_format)",
            &strings(&["foo@bar@baz=1,bar=2"]),
            "foo@bar@baz=1,bar=2",
        ),
        ts_vector(
            "W3C TC §3.3.1.3.1 any keychar may follow '@'",
            &strings(&["foo@1bar=1"]),
            "foo@1bar=1",
        ),
        ts_vector(
            "W3C TC §3.3.1.3.1 key of 256 characters (suite: test_tracestate_key_length_limit)",
            &["foo=1".to_owned(), z256.clone()],
            &format!("foo=1,{z256}"),
        ),
        ts_vector(
            "W3C TC §3.3.1.3.1 key of 257 characters drops the tracestate (suite: test_tracestate_key_length_limit)",
            &["foo=1".to_owned(), z257],
            "",
        ),
        ts_vector(
            "W3C TC §3.3.1.3.1 241 characters, '@', 14 characters (suite: test_tracestate_key_length_limit)",
            &["foo=1".to_owned(), tenant241.clone()],
            &format!("foo=1,{tenant241}"),
        ),
        ts_vector(
            "W3C TC §3.3.1.3.1 no tenant length limit before '@' (suite: test_tracestate_key_length_limit)",
            &["foo=1".to_owned(), tenant242.clone()],
            &format!("foo=1,{tenant242}"),
        ),
        ts_vector(
            "W3C TC §3.3.1.3.1 no system length limit after '@' (suite: test_tracestate_key_length_limit)",
            &["foo=1".to_owned(), vendor15.clone()],
            &format!("foo=1,{vendor15}"),
        ),
        ts_vector(
            "W3C TC §3.3.1.3.1 key of 256 characters ending in '@'",
            &["foo=1".to_owned(), at_end256.clone()],
            &format!("foo=1,{at_end256}"),
        ),
        ts_vector(
            "W3C TC §3.3.1.3.1 key of 257 characters with '@' drops the tracestate",
            &["foo=1".to_owned(), at_end257],
            "",
        ),
        ts_vector(
            "W3C TC §3.3.1.3 32 members across headers (suite: test_tracestate_member_count_limit)",
            &[bars(1..=10), bars(11..=20), bars(21..=30), bars(31..=32)],
            &all_32,
        ),
        ts_vector(
            "W3C TC §3.3.1.3 33 members drop the tracestate (suite: test_tracestate_member_count_limit)",
            &[bars(1..=10), bars(11..=20), bars(21..=30), bars(31..=33)],
            "",
        ),
        ts_vector(
            "W3C TC §3.5 a duplicated key keeps the tracestate; ours: the first value stays (suite: test_tracestate_duplicated_keys)",
            &strings(&["foo=1,foo=1"]),
            "foo=1",
        ),
        ts_vector(
            "W3C TC §3.5 a duplicated key keeps the tracestate; ours: the first value stays (suite: test_tracestate_duplicated_keys)",
            &strings(&["foo=1,foo=2"]),
            "foo=1",
        ),
        ts_vector(
            "W3C TC §3.5 duplicates across headers (suite: test_tracestate_duplicated_keys)",
            &strings(&["foo=1", "foo=1"]),
            "foo=1",
        ),
        ts_vector(
            "W3C TC §3.5 duplicates across headers (suite: test_tracestate_duplicated_keys)",
            &strings(&["foo=1", "foo=2"]),
            "foo=1",
        ),
        ts_vector(
            "W3C TC §3.5 only the later duplicates go; order is kept",
            &strings(&["rojo=1,congo=2,rojo=3,foo=4"]),
            "rojo=1,congo=2,foo=4",
        ),
        ts_vector(
            "ours: duplicates count against the 32 members the list may hold",
            &[all_32.clone(), "bar01=again".to_owned()],
            "",
        ),
        ts_vector(
            "W3C TC §3.3.1.5 entries over 128 characters go first, then from the end",
            &[long_list],
            &truncated,
        ),
        ts_vector(
            "ours: tracestate input over 8192 bytes is dropped unparsed",
            &[oversized_input],
            "",
        ),
    ];
    check(&TraceContextPropagator::new(), &vectors);

    // suite: test_tracestate_header_name: `trace-state` / `trace.state` are other headers.
    for name in ["trace-state", "trace.state"] {
        let carrier = header_map(&[(TP, SUITE_TP00.to_owned()), (name, "foo=1".to_owned())]);
        let mut cx = Context::new();
        assert_eq!(
            TraceContextPropagator::new().extract(&carrier, &mut cx),
            Ok(true)
        );
        assert!(
            cx.span_context().unwrap().trace_state().is_empty(),
            "{name}"
        );
    }
}

#[test]
fn tracestate_random_flag_survives_with_state() {
    // W3C TC L2 §3.2.2.5.2 and §3.3: the random flag and the tracestate are independent.
    let vectors = [v(
        "W3C TC L2 §3.2.2.5.2 random flag kept alongside tracestate",
        &[
            (
                TP,
                "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-02",
            ),
            (TS, "congo=t61rcWkgMzE"),
        ],
        span_with_state(
            "4bf92f3577b34da6a3ce929d0e0e4736",
            "00f067aa0ba902b7",
            0x02,
            "congo=t61rcWkgMzE",
        ),
    )];
    check(&TraceContextPropagator::new(), &vectors);
}

#[test]
fn tracestate_parse_errors_are_exact() {
    let cases: [(&str, &str, TraceStateError); 8] = [
        (
            "W3C TC §3.3.1.3 member needs '='",
            "foo",
            TraceStateError::MissingEquals,
        ),
        (
            "W3C TC §3.3.1.3.1 key grammar",
            "Foo=1",
            TraceStateError::InvalidKey,
        ),
        (
            "W3C TC §3.3.1.3.1 key is not empty",
            "=1",
            TraceStateError::InvalidKey,
        ),
        (
            "W3C TC §3.3.1.3.1 a key does not start with '@'",
            "@b=1",
            TraceStateError::InvalidKey,
        ),
        (
            "W3C TC §3.3.1.3.2 value grammar: no '='",
            "foo=a=b",
            TraceStateError::InvalidValue,
        ),
        (
            "W3C TC §3.3.1.3.2 value is not empty",
            "foo=",
            TraceStateError::InvalidValue,
        ),
        (
            "W3C TC §3.3.1.3 at most 32 members",
            "a0=1,a1=1,a2=1,a3=1,a4=1,a5=1,a6=1,a7=1,a8=1,a9=1,b0=1,b1=1,b2=1,b3=1,b4=1,b5=1,b6=1,b7=1,b8=1,b9=1,c0=1,c1=1,c2=1,c3=1,c4=1,c5=1,c6=1,c7=1,c8=1,c9=1,d0=1,d1=1,d2=1",
            TraceStateError::TooManyMembers,
        ),
        (
            "ours: input over 8192 bytes is not parsed",
            &"x".repeat(8193),
            TraceStateError::TooLong,
        ),
    ];
    for (rule, input, err) in &cases {
        assert_eq!(input.parse::<TraceState>(), Err(*err), "{rule}");
    }
}

#[test]
fn tracestate_mutation_vectors() {
    // W3C TC §3.5 (Mutating the tracestate Field) and the §3.1 Rojo/Congo walk-through.
    let received: TraceState = "congo=t61rcWkgMzE".parse().unwrap();
    let rojo = received.insert("rojo", "00f067aa0ba902b7").unwrap();
    assert_eq!(
        rojo.header(),
        "rojo=00f067aa0ba902b7,congo=t61rcWkgMzE",
        "W3C TC §3.5 a new key is added to the left"
    );
    let congo = rojo.insert("congo", "ucfJifl5GOE").unwrap();
    assert_eq!(
        congo.header(),
        "congo=ucfJifl5GOE,rojo=00f067aa0ba902b7",
        "W3C TC §3.5 an updated key moves to the left, the rest keep their order"
    );
    assert_eq!(
        congo.remove("rojo").header(),
        "congo=ucfJifl5GOE",
        "W3C TC §3.5 a key may be deleted"
    );
    assert_eq!(
        congo.insert("Bad", "1"),
        Err(TraceStateError::InvalidKey),
        "W3C TC §3.3.1.3.1 inserted keys follow the key grammar"
    );
    assert_eq!(
        congo.insert("ok", "a,b"),
        Err(TraceStateError::InvalidValue),
        "W3C TC §3.3.1.3.2 inserted values follow the value grammar"
    );
    let full: TraceState = (0..32)
        .map(|i| format!("k{i:02}=v"))
        .collect::<Vec<_>>()
        .join(",")
        .parse()
        .unwrap();
    let pushed = full.insert("new", "v").unwrap();
    assert_eq!(pushed.len(), 32, "W3C TC §3.3.1.3 at most 32 members");
    assert_eq!(pushed.iter().next(), Some(("new", "v")));
    assert_eq!(
        pushed.iter().last(),
        Some(("k30", "v")),
        "W3C TC §3.3.1.5 members are dropped from the end"
    );
}

/// A rule, the context to send, and the exact headers expected.
type InjectCase = (
    &'static str,
    SpanContext,
    &'static [(&'static str, &'static str)],
);

#[test]
fn traceparent_inject_vectors() {
    let p = TraceContextPropagator::new();
    let cases: [InjectCase; 6] = [
        (
            "W3C TC §3.2.3 example, sampled",
            sc(
                0x4bf92f3577b34da6a3ce929d0e0e4736,
                0x00f067aa0ba902b7,
                TraceFlags::SAMPLED,
                "",
            ),
            &[(
                "traceparent",
                "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
            )],
        ),
        (
            "W3C TC §3.2.2.1 we send version 00 with lowercase hex, zero-padded ids",
            sc(0xabc, 0xdef, TraceFlags::NONE, ""),
            &[(
                "traceparent",
                "00-00000000000000000000000000000abc-0000000000000def-00",
            )],
        ),
        (
            "W3C TC L2 §3.2.2.5.2 random flag is sent",
            sc(1, 2, TraceFlags::SAMPLED.with_random(true), ""),
            &[(
                "traceparent",
                "00-00000000000000000000000000000001-0000000000000002-03",
            )],
        ),
        (
            "W3C TC §3.2.2.5.3 reserved flags are sent as zero",
            sc(1, 2, TraceFlags::new(0xfd), ""),
            &[(
                "traceparent",
                "00-00000000000000000000000000000001-0000000000000002-01",
            )],
        ),
        (
            "W3C TC §3.3 tracestate is sent as one combined header",
            sc(
                0x0af7651916cd43dd8448eb211c80319c,
                0x00f067aa0ba902b7,
                TraceFlags::SAMPLED,
                "rojo=00f067aa0ba902b7,congo=t61rcWkgMzE",
            ),
            &[
                (
                    "traceparent",
                    "00-0af7651916cd43dd8448eb211c80319c-00f067aa0ba902b7-01",
                ),
                ("tracestate", "rojo=00f067aa0ba902b7,congo=t61rcWkgMzE"),
            ],
        ),
        (
            "W3C TC §3.2.2.3 an invalid context is never sent",
            sc(0, 2, TraceFlags::SAMPLED, "a=1"),
            &[],
        ),
    ];
    for (rule, span, expected) in cases {
        let cx = Context::from_span_context(span);
        assert_eq!(injected(&p, &cx), pairs(expected), "{rule}");
    }
    assert!(
        injected(&p, &Context::new()).is_empty(),
        "nothing to send without a span context"
    );
}

#[test]
fn traceparent_higher_version_is_downgraded_on_inject() {
    // W3C TC §3.4 (Mutating the traceparent Field): "Downgrade the version".
    let carrier = header_map(&[(
        TP,
        "cc-12345678901234567890123456789012-1234567890123456-03-what-the-future-will-be-like"
            .to_owned(),
    )]);
    let p = TraceContextPropagator::new();
    let mut cx = Context::new();
    assert_eq!(p.extract(&carrier, &mut cx), Ok(true));
    assert_eq!(
        injected(&p, &cx),
        pairs(&[(
            "traceparent",
            "00-12345678901234567890123456789012-1234567890123456-03"
        )])
    );
}

// --- W3C Baggage ---------------------------------------------------------------------------------

/// What a `baggage` extraction must produce: `(key, value, properties)` in order, the header we
/// send on, and how many members were dropped.
struct BaggageVector {
    rule: &'static str,
    headers: Vec<String>,
    entries: Vec<(String, String, Option<String>)>,
    reinjected: String,
    dropped: usize,
}

fn bv(
    rule: &'static str,
    headers: &[&str],
    entries: &[(&str, &str, Option<&str>)],
    reinjected: &str,
    dropped: usize,
) -> BaggageVector {
    BaggageVector {
        rule,
        headers: strings(headers),
        entries: entries
            .iter()
            .map(|(k, v, p)| ((*k).to_owned(), (*v).to_owned(), p.map(str::to_owned)))
            .collect(),
        reinjected: reinjected.to_owned(),
        dropped,
    }
}

fn check_baggage(vectors: &[BaggageVector]) {
    for vec in vectors {
        let rule = vec.rule;
        // Through the parser, to see the dropped count.
        let (bag, dropped) = Baggage::parse_values(vec.headers.iter().map(|h| h.as_bytes()));
        let got: Vec<(String, String, Option<String>)> = bag
            .iter()
            .map(|e| {
                (
                    e.key().to_owned(),
                    e.value().to_owned(),
                    e.properties().map(str::to_owned),
                )
            })
            .collect();
        assert_eq!(got, vec.entries, "{rule}");
        assert_eq!(dropped, vec.dropped, "{rule}: dropped");
        assert_eq!(bag.header(), vec.reinjected, "{rule}: header");

        // Through the propagator on a HeaderMap, both ways.
        let carrier = header_map(
            &vec.headers
                .iter()
                .map(|h| ("baggage", h.clone()))
                .collect::<Vec<_>>(),
        );
        let mut cx = Context::new();
        let found = BaggagePropagator::new().extract(&carrier, &mut cx);
        assert_eq!(found, Ok(!vec.entries.is_empty()), "{rule}");
        assert_eq!(cx.baggage(), &bag, "{rule}");
        assert!(cx.span_context().is_none(), "{rule}");
        let expected: &[(&str, &str)] = if vec.reinjected.is_empty() {
            &[]
        } else {
            &[("baggage", vec.reinjected.as_str())]
        };
        assert_eq!(
            injected(&BaggagePropagator::new(), &cx),
            pairs(expected),
            "{rule}"
        );
    }
}

#[test]
fn baggage_spec_examples() {
    let vectors = [
        bv(
            "W3C Baggage §3.2.1 example: 3 list-members with properties and OWS",
            &[
                "key1=value1;property1;property2, key2 = value2, key3=value3; propertyKey=propertyValue",
            ],
            &[
                ("key1", "value1", Some("property1;property2")),
                ("key2", "value2", None),
                ("key3", "value3", Some("propertyKey=propertyValue")),
            ],
            "key1=value1;property1;property2,key2=value2,key3=value3;propertyKey=propertyValue",
            0,
        ),
        bv(
            "W3C Baggage §3.4 example: single header, percent-encoded space",
            &["userId=alice,serverNode=DF%2028,isProduction=false"],
            &[
                ("userId", "alice", None),
                ("serverNode", "DF 28", None),
                ("isProduction", "false", None),
            ],
            "userId=alice,serverNode=DF%2028,isProduction=false",
            0,
        ),
        bv(
            "W3C Baggage §3.4 example: context split into multiple headers",
            &["userId=alice", "serverNode=DF%2028,isProduction=false"],
            &[
                ("userId", "alice", None),
                ("serverNode", "DF 28", None),
                ("isProduction", "false", None),
            ],
            "userId=alice,serverNode=DF%2028,isProduction=false",
            0,
        ),
        bv(
            "W3C Baggage §3.4 example: names and values begin and end with spaces",
            &[
                "userId =   alice",
                "serverNode = DF%2028, isProduction = false",
            ],
            &[
                ("userId", "alice", None),
                ("serverNode", "DF 28", None),
                ("isProduction", "false", None),
            ],
            "userId=alice,serverNode=DF%2028,isProduction=false",
            0,
        ),
        bv(
            "W3C Baggage §3.4 example use cases",
            &["serverNode=DF%2028", "userId=alice", "isProduction=false"],
            &[
                ("serverNode", "DF 28", None),
                ("userId", "alice", None),
                ("isProduction", "false", None),
            ],
            "serverNode=DF%2028,userId=alice,isProduction=false",
            0,
        ),
    ];
    check_baggage(&vectors);
}

#[test]
fn baggage_suite_vectors() {
    // Mirrors test/test_baggage.py of the W3C baggage repository at the propagation level.
    let vectors = [
        bv(
            "W3C Baggage suite: test_parse_simple",
            &["SomeKey=SomeValue"],
            &[("SomeKey", "SomeValue", None)],
            "SomeKey=SomeValue",
            0,
        ),
        bv(
            "W3C Baggage suite: test_parse_multiple",
            &["SomeKey=SomeValue;SomeProp,SomeKey2=SomeValue2;ValueProp=PropVal"],
            &[
                ("SomeKey", "SomeValue", Some("SomeProp")),
                ("SomeKey2", "SomeValue2", Some("ValueProp=PropVal")),
            ],
            "SomeKey=SomeValue;SomeProp,SomeKey2=SomeValue2;ValueProp=PropVal",
            0,
        ),
        bv(
            "W3C Baggage suite: test_parse_multiple_ows",
            &[
                "SomeKey \t = \t SomeValue \t ; \t SomeProp \t , \t SomeKey2 \t = \t SomeValue2 \t ; \t ValueProp \t = \t PropVal",
            ],
            &[
                ("SomeKey", "SomeValue", Some("SomeProp")),
                ("SomeKey2", "SomeValue2", Some("ValueProp \t = \t PropVal")),
            ],
            "SomeKey=SomeValue;SomeProp,SomeKey2=SomeValue2;ValueProp \t = \t PropVal",
            0,
        ),
        bv(
            "W3C Baggage suite: test_parse_multiple_kv_property",
            &[
                "SomeKey=SomeValue;SomePropKey=SomePropValue,SomeKey2=SomeValue2;SomePropKey2=SomePropValue2",
            ],
            &[
                ("SomeKey", "SomeValue", Some("SomePropKey=SomePropValue")),
                (
                    "SomeKey2",
                    "SomeValue2",
                    Some("SomePropKey2=SomePropValue2"),
                ),
            ],
            "SomeKey=SomeValue;SomePropKey=SomePropValue,SomeKey2=SomeValue2;SomePropKey2=SomePropValue2",
            0,
        ),
        bv(
            "W3C Baggage suite: test_parse_multiple_equals (§3.2.1.3 value may contain '=')",
            &["SomeKey=SomeValue=equals"],
            &[("SomeKey", "SomeValue=equals", None)],
            "SomeKey=SomeValue=equals",
            0,
        ),
        bv(
            "W3C Baggage suite: test_parse_percent_encoded (§3.2.1.3 value is URL-encoded UTF-8)",
            &["SomeKey=%09%20%22%27%3B%3Dasdf%21%40%23%24%25%5E%26%2A%28%29"],
            &[("SomeKey", "\t \"';=asdf!@#$%^&*()", None)],
            // We encode only what baggage-octet excludes, plus '%'.
            "SomeKey=%09%20%22'%3B=asdf!@#$%25^&*()",
            0,
        ),
        bv(
            "W3C Baggage suite: test_parse_percent_encoded_ows",
            &["SomeKey \t = \t %09%20%22%27%3B%3Dasdf%21%40%23%24%25%5E%26%2A%28%29 \t "],
            &[("SomeKey", "\t \"';=asdf!@#$%^&*()", None)],
            "SomeKey=%09%20%22'%3B=asdf!@#$%25^&*()",
            0,
        ),
        bv(
            "W3C Baggage suite: test_parse_property",
            &["SomeKey=SomeValue;SomeProp"],
            &[("SomeKey", "SomeValue", Some("SomeProp"))],
            "SomeKey=SomeValue;SomeProp",
            0,
        ),
        bv(
            "W3C Baggage suite: test_parse_multi_property",
            &["SomeKey=SomeValue;SomeProp;SecondProp=PropValue"],
            &[(
                "SomeKey",
                "SomeValue",
                Some("SomeProp;SecondProp=PropValue"),
            )],
            "SomeKey=SomeValue;SomeProp;SecondProp=PropValue",
            0,
        ),
        bv(
            "W3C Baggage suite: test_parse_simple_ows",
            &["SomeKey \t = \t SomeValue \t "],
            &[("SomeKey", "SomeValue", None)],
            "SomeKey=SomeValue",
            0,
        ),
        bv(
            "W3C Baggage suite: test_parse_property_ows",
            &["SomeKey \t = \t SomeValue \t ; \t SomeProp"],
            &[("SomeKey", "SomeValue", Some("SomeProp"))],
            "SomeKey=SomeValue;SomeProp",
            0,
        ),
        bv(
            "W3C Baggage suite: test_parse_kv_property_ows",
            &["SomeKey \t = \t SomeValue \t ; \t SomePropKey \t = \t SomePropValue"],
            &[(
                "SomeKey",
                "SomeValue",
                Some("SomePropKey \t = \t SomePropValue"),
            )],
            "SomeKey=SomeValue;SomePropKey \t = \t SomePropValue",
            0,
        ),
    ];
    check_baggage(&vectors);
}

#[test]
fn baggage_grammar_vectors() {
    let vectors = [
        bv(
            "W3C Baggage §3.2.1.3 value is URL-encoded UTF-8 (non-ASCII)",
            &["check=%E2%9C%93,snow=%E2%98%83"],
            &[("check", "\u{2713}", None), ("snow", "\u{2603}", None)],
            "check=%E2%9C%93,snow=%E2%98%83",
            0,
        ),
        bv(
            "W3C Baggage §3.2.1.3 a literal '%' is sent as %25",
            &["pct=100%25"],
            &[("pct", "100%", None)],
            "pct=100%25",
            0,
        ),
        bv(
            "W3C Baggage §3.2.1 value = *baggage-octet: the empty value is valid",
            &["empty="],
            &[("empty", "", None)],
            "empty=",
            0,
        ),
        bv(
            "W3C Baggage §3.2.1 key is a token: no spaces inside",
            &["bad key=1,good=2"],
            &[("good", "2", None)],
            "good=2",
            1,
        ),
        bv(
            "W3C Baggage §3.2.1 key is a token: not empty",
            &["=1,good=2"],
            &[("good", "2", None)],
            "good=2",
            1,
        ),
        bv(
            "W3C Baggage §3.2.1 list-member needs '='",
            &["novalue,good=2"],
            &[("good", "2", None)],
            "good=2",
            1,
        ),
        bv(
            "W3C Baggage §3.2.1 baggage-octet excludes DQUOTE",
            &["q=a\"b,good=2"],
            &[("good", "2", None)],
            "good=2",
            1,
        ),
        bv(
            "W3C Baggage §3.2.1 baggage-octet excludes backslash",
            &["q=a\\b,good=2"],
            &[("good", "2", None)],
            "good=2",
            1,
        ),
        bv(
            "W3C Baggage §3.2.1 baggage-octet excludes inner whitespace",
            &["q=a b,good=2"],
            &[("good", "2", None)],
            "good=2",
            1,
        ),
        bv(
            "W3C Baggage §3.2.1.3 value must decode to UTF-8",
            &["bin=%FF,good=2"],
            &[("good", "2", None)],
            "good=2",
            1,
        ),
        bv(
            "W3C Baggage §3.2.1 property key is a token: not empty",
            &["k=v;=x,good=2"],
            &[("good", "2", None)],
            "good=2",
            1,
        ),
        bv(
            "W3C Baggage §3.2.1 property follows ';' (a trailing ';' has no property)",
            &["k=v;,good=2"],
            &[("good", "2", None)],
            "good=2",
            1,
        ),
        bv(
            "W3C Baggage §3.2.1 empty list members are skipped, not counted",
            &[" , a=1,,\t,b=2 ,"],
            &[("a", "1", None), ("b", "2", None)],
            "a=1,b=2",
            0,
        ),
        bv(
            "W3C Baggage §4 duplicate keys may be deduplicated (ours: the last one wins)",
            &["k=1,other=x", "k=2"],
            &[("other", "x", None), ("k", "2", None)],
            "other=x,k=2",
            1,
        ),
        bv("W3C Baggage §3.2.1 no members at all", &[""], &[], "", 0),
    ];
    check_baggage(&vectors);
}

#[test]
fn baggage_limit_vectors() {
    let members_64: Vec<String> = (0..64).map(|i| format!("key{i}=value")).collect();
    let header_64 = members_64.join(",");
    let header_65 = format!("{header_64},late=1");
    let long_value = "0123456789".repeat(819);
    let exactly_8192 = format!("a={long_value}");
    let over_8192 = format!("a={long_value}x");
    // 64 invalid members, then a valid one: the invalid ones use up the member budget.
    let degenerate = format!("{}late=1", "=,".repeat(10_000));
    let entries_64: Vec<(String, String, Option<String>)> = (0..64)
        .map(|i| (format!("key{i}"), "value".to_owned(), None))
        .collect();

    let vectors = [
        BaggageVector {
            rule: "W3C Baggage §3.3 at least 64 list-members are propagated (suite: test_serialize_at_least_64)",
            headers: vec![header_64.clone()],
            entries: entries_64.clone(),
            reinjected: header_64.clone(),
            dropped: 0,
        },
        BaggageVector {
            rule: "W3C Baggage §3.3 ours: the 65th member is dropped and counted, parsing stops",
            headers: vec![header_65],
            entries: entries_64,
            reinjected: header_64,
            dropped: 1,
        },
        BaggageVector {
            rule: "W3C Baggage §3.3 a baggage-string of 8192 bytes is propagated (suite: test_serialize_long_entry)",
            headers: vec![exactly_8192.clone()],
            entries: vec![("a".to_owned(), long_value.clone(), None)],
            reinjected: exactly_8192,
            dropped: 0,
        },
        BaggageVector {
            rule: "W3C Baggage §3.3 ours: a member past 8192 bytes is dropped and counted",
            headers: vec![over_8192],
            entries: vec![],
            reinjected: String::new(),
            dropped: 1,
        },
        BaggageVector {
            rule: "W3C Baggage §3.3 ours: the 8192-byte limit is on what we send, after re-encoding '%' as %25",
            headers: vec![format!("a={},b=1", "%".repeat(3000))],
            entries: vec![],
            reinjected: String::new(),
            dropped: 1,
        },
        BaggageVector {
            rule: "W3C Baggage §3.3 ours: invalid members count against the limits, so degenerate input stops early",
            headers: vec![degenerate],
            entries: vec![],
            reinjected: String::new(),
            dropped: 65,
        },
    ];
    check_baggage(&vectors);
}

#[test]
fn baggage_builder_limits() {
    // W3C Baggage §3.3 limits also bound what we build.
    let mut bag = Baggage::new();
    for i in 0..64 {
        bag = bag.with(&format!("key{i}"), "value").unwrap();
    }
    assert_eq!(bag.len(), 64);
    assert_eq!(
        bag.with("one-more", "v"),
        Err(BaggageError::TooManyMembers),
        "W3C Baggage §3.3 ours: 64 members"
    );
    let long_value = "0123456789".repeat(819);
    assert_eq!(
        Baggage::new()
            .with("a", &long_value)
            .unwrap()
            .header()
            .len(),
        8192,
        "W3C Baggage §3.3 8192 bytes fit"
    );
    assert_eq!(
        Baggage::new().with("a", &format!("{long_value}x")),
        Err(BaggageError::TooLong),
        "W3C Baggage §3.3 ours: 8193 bytes do not"
    );
    assert_eq!(
        Baggage::new().with("a", "%%").unwrap().header(),
        "a=%25%25",
        "W3C Baggage §3.2.1.3 '%' is encoded"
    );
    assert_eq!(
        Baggage::new().with("bad key", "v"),
        Err(BaggageError::InvalidKey),
        "W3C Baggage §3.2.1 key is a token"
    );
}

// --- B3 ------------------------------------------------------------------------------------------

const B3_TRACE: &str = "80f198ee56343ba864fe8b2a57d3eff7";
const B3_SPAN: &str = "e457b5a2e4d86bd1";

#[test]
fn b3_single_header_vectors() {
    const H: &str = "b3";
    let sampling = "sampling state must be 0, 1 or d";
    let long = format!("{B3_TRACE}-{B3_SPAN}-1-{}", "0".repeat(100));
    let mut vectors = vec![
        v(
            "B3 single: {TraceId}-{SpanId}-{SamplingState}-{ParentSpanId}",
            &[(
                H,
                "80f198ee56343ba864fe8b2a57d3eff7-e457b5a2e4d86bd1-1-05e3ac9a4f6e3b90",
            )],
            span(B3_TRACE, B3_SPAN, 0x01),
        ),
        v(
            "B3 single: README example with SpanId 05e3ac9a4f6e3b90",
            &[(H, "80f198ee56343ba864fe8b2a57d3eff7-05e3ac9a4f6e3b90-1")],
            span(B3_TRACE, "05e3ac9a4f6e3b90", 0x01),
        ),
        v(
            "B3 single: sampling state d (debug) implies accept",
            &[(H, "80f198ee56343ba864fe8b2a57d3eff7-05e3ac9a4f6e3b90-d")],
            span(B3_TRACE, "05e3ac9a4f6e3b90", 0x01),
        ),
        v(
            "B3 single: sampling state 0 (deny) with ids",
            &[(H, "80f198ee56343ba864fe8b2a57d3eff7-e457b5a2e4d86bd1-0")],
            span(B3_TRACE, B3_SPAN, 0x00),
        ),
        v(
            "B3 single: absent sampling state is defer (ours: not sampled by the parent)",
            &[(H, "80f198ee56343ba864fe8b2a57d3eff7-e457b5a2e4d86bd1")],
            span(B3_TRACE, B3_SPAN, 0x00),
        ),
        v(
            "B3: TraceId may be 64-bit (widened to 128 bits)",
            &[(H, "64fe8b2a57d3eff7-e457b5a2e4d86bd1-1")],
            span("000000000000000064fe8b2a57d3eff7", B3_SPAN, 0x01),
        ),
        v(
            "B3 ours: uppercase hex accepted leniently",
            &[(H, "80F198EE56343BA864FE8B2A57D3EFF7-E457B5A2E4D86BD1-1")],
            span(B3_TRACE, B3_SPAN, 0x01),
        ),
        v(
            "B3 single: deny decision encodes as `b3: 0`",
            &[(H, "0")],
            Outcome::Fresh { sampled: false },
        ),
        v(
            "B3 single: sampling state sent on its own (accept)",
            &[(H, "1")],
            Outcome::Fresh { sampled: true },
        ),
        v(
            "B3 single: sampling state sent on its own (debug)",
            &[(H, "d")],
            Outcome::Fresh { sampled: true },
        ),
        v(
            "B3 single: the single header takes precedence over multiple headers",
            &[
                (H, "80f198ee56343ba864fe8b2a57d3eff7-e457b5a2e4d86bd1-0"),
                ("x-b3-traceid", "463ac35c9f6413ad48485a3953bb6124"),
                ("x-b3-spanid", "a2fb4a1d1a96d312"),
                ("x-b3-sampled", "1"),
            ],
            span(B3_TRACE, B3_SPAN, 0x00),
        ),
        v(
            "B3 single: OWS around the value is not part of it",
            &[(H, " 80f198ee56343ba864fe8b2a57d3eff7-e457b5a2e4d86bd1-1\t")],
            span(B3_TRACE, B3_SPAN, 0x01),
        ),
        v(
            "B3 single: SpanId is required unless only the sampling state is sent",
            &[(H, "80f198ee56343ba864fe8b2a57d3eff7")],
            malformed(H, sampling),
        ),
        v(
            "B3 single: sampling state is one of 0, 1, d",
            &[(H, "80f198ee56343ba864fe8b2a57d3eff7-e457b5a2e4d86bd1-2")],
            malformed(H, sampling),
        ),
        v(
            "B3 single: a lone sampling state is one of 0, 1, d",
            &[(H, "x")],
            malformed(H, sampling),
        ),
        v(
            "B3: TraceId is 32 or 16 hex characters",
            &[(H, "80f198ee56343ba864fe8b2a57d3eff-e457b5a2e4d86bd1-1")],
            bad_length(H, 32, 31),
        ),
        v(
            "B3: SpanId is 16 hex characters",
            &[(H, "80f198ee56343ba864fe8b2a57d3eff7-e457b5a2e4d86bd-1")],
            bad_length(H, 16, 15),
        ),
        v(
            "B3: ids are hex",
            &[(H, "80f198ee56343ba864fe8b2a57d3eff7-e457b5a2e4d86bdz-1")],
            bad_id(H, ParseIdError::NotHex),
        ),
        v(
            "B3 ours: an all-zero TraceId is invalid",
            &[(H, "00000000000000000000000000000000-e457b5a2e4d86bd1-1")],
            bad_id(H, ParseIdError::AllZero),
        ),
        v(
            "B3 ours: an all-zero SpanId is invalid",
            &[(H, "80f198ee56343ba864fe8b2a57d3eff7-0000000000000000-1")],
            bad_id(H, ParseIdError::AllZero),
        ),
        v(
            "B3 single: ParentSpanId is 16 hex characters",
            &[(
                H,
                "80f198ee56343ba864fe8b2a57d3eff7-e457b5a2e4d86bd1-1-05e3",
            )],
            bad_length(H, 16, 4),
        ),
        v(
            "B3 single: at most four fields",
            &[(
                H,
                "80f198ee56343ba864fe8b2a57d3eff7-e457b5a2e4d86bd1-1-05e3ac9a4f6e3b90-x",
            )],
            malformed(H, "too many fields"),
        ),
    ];
    vectors.push(Vector {
        rule: "B3 ours: a single header longer than 128 bytes is not parsed",
        headers: vec![(H, long)],
        expect: Outcome::Rejected(ExtractError::TooLong {
            header: H,
            limit: 128,
        }),
    });
    check(&B3Propagator::new(B3Encoding::SingleHeader), &vectors);
    // Extraction reads both forms whatever the configured encoding.
    check(&B3Propagator::new(B3Encoding::MultiHeader), &vectors);
}

#[test]
fn b3_multi_header_vectors() {
    let sampling = "sampling state must be 0, 1 or d";
    let vectors = [
        v(
            "B3 multi: README example, 128-bit TraceId with parent and accept",
            &[
                ("X-B3-TraceId", "463ac35c9f6413ad48485a3953bb6124"),
                ("X-B3-SpanId", "a2fb4a1d1a96d312"),
                ("X-B3-ParentSpanId", "0020000000000001"),
                ("X-B3-Sampled", "1"),
            ],
            span("463ac35c9f6413ad48485a3953bb6124", "a2fb4a1d1a96d312", 0x01),
        ),
        v(
            "B3 multi: 64-bit TraceId is widened",
            &[
                ("X-B3-TraceId", "463ac35c9f6413ad"),
                ("X-B3-SpanId", "a2fb4a1d1a96d312"),
                ("X-B3-Sampled", "0"),
            ],
            span("0000000000000000463ac35c9f6413ad", "a2fb4a1d1a96d312", 0x00),
        ),
        v(
            "B3 multi: absent X-B3-Sampled defers (ours: not sampled by the parent)",
            &[
                ("X-B3-TraceId", "463ac35c9f6413ad"),
                ("X-B3-SpanId", "a2fb4a1d1a96d312"),
            ],
            span("0000000000000000463ac35c9f6413ad", "a2fb4a1d1a96d312", 0x00),
        ),
        v(
            "B3 multi: debug is `X-B3-Flags: 1` and implies accept",
            &[
                ("X-B3-TraceId", "463ac35c9f6413ad"),
                ("X-B3-SpanId", "a2fb4a1d1a96d312"),
                ("X-B3-Flags", "1"),
            ],
            span("0000000000000000463ac35c9f6413ad", "a2fb4a1d1a96d312", 0x01),
        ),
        v(
            "B3 multi: a lenient implementation may accept `true`",
            &[
                ("X-B3-TraceId", "463ac35c9f6413ad"),
                ("X-B3-SpanId", "a2fb4a1d1a96d312"),
                ("X-B3-Sampled", "true"),
            ],
            span("0000000000000000463ac35c9f6413ad", "a2fb4a1d1a96d312", 0x01),
        ),
        v(
            "B3 multi: a lenient implementation may accept `false`",
            &[
                ("X-B3-TraceId", "463ac35c9f6413ad"),
                ("X-B3-SpanId", "a2fb4a1d1a96d312"),
                ("X-B3-Sampled", "false"),
            ],
            span("0000000000000000463ac35c9f6413ad", "a2fb4a1d1a96d312", 0x00),
        ),
        v(
            "B3 multi: when extracting state headers, the first value wins",
            &[
                ("X-B3-TraceId", "463ac35c9f6413ad"),
                ("X-B3-SpanId", "a2fb4a1d1a96d312"),
                ("X-B3-Sampled", "1"),
                ("X-B3-Sampled", "0"),
            ],
            span("0000000000000000463ac35c9f6413ad", "a2fb4a1d1a96d312", 0x01),
        ),
        v(
            "B3 multi: a deny decision may be sent without ids",
            &[("X-B3-Sampled", "0")],
            Outcome::Fresh { sampled: false },
        ),
        v(
            "B3 multi: an accept decision may be sent without ids",
            &[("X-B3-Sampled", "1")],
            Outcome::Fresh { sampled: true },
        ),
        v(
            "B3 multi: debug without ids",
            &[("X-B3-Flags", "1")],
            Outcome::Fresh { sampled: true },
        ),
        v(
            "B3 multi: no B3 headers at all",
            &[("X-B3-Flags", "0")],
            Outcome::Absent,
        ),
        v(
            "B3 multi: X-B3-TraceId is required with X-B3-SpanId",
            &[("X-B3-TraceId", "463ac35c9f6413ad")],
            malformed(
                "x-b3-traceid",
                "X-B3-TraceId and X-B3-SpanId must appear together",
            ),
        ),
        v(
            "B3 multi: X-B3-SpanId is required with X-B3-TraceId",
            &[("X-B3-SpanId", "a2fb4a1d1a96d312")],
            malformed(
                "x-b3-traceid",
                "X-B3-TraceId and X-B3-SpanId must appear together",
            ),
        ),
        v(
            "B3 multi: X-B3-SpanId is 16 hex characters",
            &[
                ("X-B3-TraceId", "463ac35c9f6413ad"),
                ("X-B3-SpanId", "a2fb4a1d1a96d3"),
            ],
            bad_length("x-b3-spanid", 16, 14),
        ),
        v(
            "B3 multi: X-B3-ParentSpanId is 16 hex characters",
            &[
                ("X-B3-TraceId", "463ac35c9f6413ad"),
                ("X-B3-SpanId", "a2fb4a1d1a96d312"),
                ("X-B3-ParentSpanId", "zz20000000000001"),
            ],
            bad_id("x-b3-parentspanid", ParseIdError::NotHex),
        ),
        v(
            "B3 multi: X-B3-Sampled is 1 or 0",
            &[
                ("X-B3-TraceId", "463ac35c9f6413ad"),
                ("X-B3-SpanId", "a2fb4a1d1a96d312"),
                ("X-B3-Sampled", "yes"),
            ],
            malformed("x-b3-sampled", sampling),
        ),
    ];
    check(&B3Propagator::new(B3Encoding::MultiHeader), &vectors);
    check(&B3Propagator::new(B3Encoding::SingleHeader), &vectors);
}

#[test]
fn b3_inject_vectors() {
    let sampled = Context::from_span_context(sc(
        0x80f198ee56343ba864fe8b2a57d3eff7,
        0xe457b5a2e4d86bd1,
        TraceFlags::SAMPLED,
        "",
    ));
    let unsampled = Context::from_span_context(sc(0x64fe8b2a57d3eff7, 1, TraceFlags::NONE, ""));
    let single = B3Propagator::new(B3Encoding::SingleHeader);
    let multi = B3Propagator::new(B3Encoding::MultiHeader);
    assert_eq!(
        injected(&single, &sampled),
        pairs(&[("b3", "80f198ee56343ba864fe8b2a57d3eff7-e457b5a2e4d86bd1-1")]),
        "B3 single: {{TraceId}}-{{SpanId}}-{{SamplingState}}, lower-hex"
    );
    assert_eq!(
        injected(&single, &unsampled),
        pairs(&[("b3", "000000000000000064fe8b2a57d3eff7-0000000000000001-0")]),
        "B3 single: we always send 128-bit trace ids and the deny state"
    );
    assert_eq!(
        injected(&multi, &sampled),
        pairs(&[
            ("x-b3-traceid", "80f198ee56343ba864fe8b2a57d3eff7"),
            ("x-b3-spanid", "e457b5a2e4d86bd1"),
            ("x-b3-sampled", "1"),
        ]),
        "B3 multi: one header per field, lowercase names"
    );
    assert_eq!(
        injected(&multi, &unsampled),
        pairs(&[
            ("x-b3-traceid", "000000000000000064fe8b2a57d3eff7"),
            ("x-b3-spanid", "0000000000000001"),
            ("x-b3-sampled", "0"),
        ]),
        "B3 multi: deny is `X-B3-Sampled: 0`"
    );
    assert!(injected(&single, &Context::new()).is_empty());
    assert!(
        injected(
            &multi,
            &Context::from_span_context(sc(0, 1, TraceFlags::SAMPLED, ""))
        )
        .is_empty(),
        "an invalid context is never sent"
    );
}

// --- Jaeger --------------------------------------------------------------------------------------

const UBER: &str = "uber-trace-id";

/// A vector whose only header is one `uber-trace-id`.
fn uber(rule: &'static str, value: &str, expect: Outcome) -> Vector {
    v(rule, &[(UBER, value)], expect)
}

#[test]
fn jaeger_vectors() {
    let fields = "expected four ':'-separated fields";
    let flags = "flags must be one or two hex digits";
    let long = format!("{}:1:0:1", "1".repeat(300));
    let mut vectors = vec![
        uber(
            "Jaeger: {trace-id}:{span-id}:{parent-span-id}:{flags}, flag 1 is sampled",
            "4bf92f3577b34da6a3ce929d0e0e4736:00f067aa0ba902b7:0:1",
            span("4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7", 0x01),
        ),
        uber(
            "Jaeger: flags 0 is not sampled",
            "4bf92f3577b34da6a3ce929d0e0e4736:00f067aa0ba902b7:0:0",
            span("4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7", 0x00),
        ),
        uber(
            "Jaeger: flag 2 is debug, read as sampled",
            "4bf92f3577b34da6a3ce929d0e0e4736:00f067aa0ba902b7:0:2",
            span("4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7", 0x01),
        ),
        uber(
            "Jaeger: flags are hex and may use two digits",
            "4bf92f3577b34da6a3ce929d0e0e4736:00f067aa0ba902b7:0:03",
            span("4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7", 0x01),
        ),
        uber(
            "Jaeger: unknown flag bits are ignored",
            "4bf92f3577b34da6a3ce929d0e0e4736:00f067aa0ba902b7:0:8",
            span("4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7", 0x00),
        ),
        uber(
            "Jaeger: URL-encoded form (%3A)",
            "4bf92f3577b34da6a3ce929d0e0e4736%3A00f067aa0ba902b7%3A0%3A1",
            span("4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7", 0x01),
        ),
        uber(
            "Jaeger: URL-encoded form, lowercase escape (%3a)",
            "4bf92f3577b34da6a3ce929d0e0e4736%3a00f067aa0ba902b7%3a0%3a1",
            span("4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7", 0x01),
        ),
        uber(
            "Jaeger: ids may be shorter than full width (left-padded)",
            "abc:12:0:2",
            span("00000000000000000000000000000abc", "0000000000000012", 0x01),
        ),
        uber(
            "Jaeger: 64-bit trace id",
            "a3ce929d0e0e4736:00f067aa0ba902b7:53ce929d0e0e4736:1",
            span("0000000000000000a3ce929d0e0e4736", "00f067aa0ba902b7", 0x01),
        ),
        uber(
            "Jaeger ours: uppercase hex accepted",
            "4BF92F3577B34DA6A3CE929D0E0E4736:00F067AA0BA902B7:0:1",
            span("4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7", 0x01),
        ),
        uber(
            "Jaeger: trace id is not zero",
            "0:1:0:1",
            bad_id(UBER, ParseIdError::AllZero),
        ),
        uber(
            "Jaeger: span id is not zero",
            "1:0:0:1",
            bad_id(UBER, ParseIdError::AllZero),
        ),
        uber(
            "Jaeger: ids are hex",
            "xyz:1:0:1",
            bad_id(UBER, ParseIdError::NotHex),
        ),
        uber(
            "Jaeger: ids are not empty",
            ":1:0:1",
            bad_length(UBER, 32, 0),
        ),
        uber(
            "Jaeger: trace id is at most 128 bits",
            "123456789012345678901234567890123:1:0:1",
            bad_length(UBER, 32, 33),
        ),
        uber(
            "Jaeger: span id is at most 64 bits",
            "1:12345678901234567:0:1",
            bad_length(UBER, 16, 17),
        ),
        uber(
            "Jaeger: exactly four fields (three given)",
            "1:1:0",
            malformed(UBER, fields),
        ),
        uber(
            "Jaeger: exactly four fields (five given)",
            "1:1:0:1:0",
            malformed(UBER, fields),
        ),
        uber("Jaeger: empty value", "", malformed(UBER, fields)),
        uber(
            "Jaeger: flags are one or two hex digits",
            "1:1:0:100",
            malformed(UBER, flags),
        ),
        uber(
            "Jaeger: flags are not empty",
            "1:1:0:",
            malformed(UBER, flags),
        ),
        uber(
            "Jaeger: flags are hex",
            "1:1:0:g",
            malformed(UBER, "flags are not hex"),
        ),
        v(
            "Jaeger: no uber-trace-id header",
            &[("uber-trace", "1:1:0:1")],
            Outcome::Absent,
        ),
    ];
    vectors.push(Vector {
        rule: "Jaeger ours: a header longer than 256 bytes is not parsed",
        headers: vec![(UBER, long)],
        expect: Outcome::Rejected(ExtractError::TooLong {
            header: UBER,
            limit: 256,
        }),
    });
    check(&JaegerPropagator::new(), &vectors);
}

#[test]
fn jaeger_baggage_vectors() {
    let p = JaegerPropagator::new();
    let extract = |headers: &[(&'static str, &str)]| {
        let carrier = header_map(
            &headers
                .iter()
                .map(|(k, v)| (*k, (*v).to_owned()))
                .collect::<Vec<_>>(),
        );
        let mut cx = Context::new();
        let r = p.extract(&carrier, &mut cx);
        (r, cx)
    };

    // Jaeger: baggage travels as `uberctx-{key}` headers, values URL-encoded.
    let (r, cx) = extract(&[
        ("uberctx-user", "alice%20smith"),
        ("uberctx-check", "%E2%9C%93"),
        (UBER, "1:2:0:1"),
    ]);
    assert_eq!(r, Ok(true));
    assert_eq!(cx.baggage().get("user"), Some("alice smith"));
    assert_eq!(cx.baggage().get("check"), Some("\u{2713}"));
    assert_eq!(cx.baggage().len(), 2);

    // Jaeger ours: baggage is kept without a trace header, and next to an invalid one.
    let (r, cx) = extract(&[("uberctx-k", "v")]);
    assert_eq!(r, Ok(false));
    assert!(cx.span_context().is_none());
    assert_eq!(cx.baggage().get("k"), Some("v"));
    let (r, cx) = extract(&[("uberctx-k", "v"), (UBER, "0:1:0:1")]);
    assert_eq!(
        r,
        Err(ExtractError::InvalidId {
            header: UBER,
            source: ParseIdError::AllZero
        })
    );
    assert!(cx.span_context().is_none());
    assert_eq!(cx.baggage().get("k"), Some("v"));

    // Jaeger: a bare `uberctx-` prefix is not a baggage key.
    let (_, cx) = extract(&[("uberctx-", "v")]);
    assert!(cx.baggage().is_empty());

    // Jaeger: inject writes the trace header and one header per baggage entry.
    let cx = Context::from_span_context(sc(
        0x4bf92f3577b34da6a3ce929d0e0e4736,
        0x00f067aa0ba902b7,
        TraceFlags::SAMPLED,
        "",
    ))
    .with_baggage(
        Baggage::new()
            .with("user", "alice smith")
            .unwrap()
            .with("Tier", "gold/1")
            .unwrap(),
    );
    assert_eq!(
        injected(&p, &cx),
        pairs(&[
            (
                "uber-trace-id",
                "4bf92f3577b34da6a3ce929d0e0e4736:00f067aa0ba902b7:0:1"
            ),
            ("uberctx-user", "alice%20smith"),
            ("uberctx-tier", "gold%2F1"),
        ])
    );
    let unsampled = Context::from_span_context(sc(1, 2, TraceFlags::RANDOM, ""));
    assert_eq!(
        injected(&p, &unsampled),
        pairs(&[(
            "uber-trace-id",
            "00000000000000000000000000000001:0000000000000002:0:0"
        )]),
        "Jaeger: flags 0 when not sampled; the random flag has no Jaeger bit"
    );
}

// --- composite -----------------------------------------------------------------------------------

#[test]
fn composite_vectors() {
    let all = Propagators::from_names("b3,tracecontext,jaeger,baggage").unwrap();
    let extract = |p: &Propagators, headers: &[(&'static str, &str)]| {
        let carrier = header_map(
            &headers
                .iter()
                .map(|(k, v)| (*k, (*v).to_owned()))
                .collect::<Vec<_>>(),
        );
        let mut cx = Context::new();
        let r = p.extract_into(&carrier, &mut cx);
        (r, cx)
    };

    // Composite: the first format that yields a valid context wins.
    let (r, cx) = extract(
        &all,
        &[
            ("b3", "80f198ee56343ba864fe8b2a57d3eff7-e457b5a2e4d86bd1-1"),
            (TP, SUITE_TP),
        ],
    );
    assert_eq!(r, Ok(()));
    assert_eq!(cx.trace_id().unwrap().to_string(), B3_TRACE);

    // Composite: an invalid earlier format does not stop a later valid one.
    let (r, cx) = extract(&all, &[("b3", "garbage-1"), (TP, SUITE_TP)]);
    assert_eq!(r, Ok(()));
    assert_eq!(cx.trace_id().unwrap().to_string(), SUITE_TRACE);

    // Composite: when nothing is valid the first error is reported and baggage is kept.
    let (r, cx) = extract(
        &all,
        &[
            ("b3", "x"),
            (
                TP,
                "ff-12345678901234567890123456789012-1234567890123456-01",
            ),
            ("baggage", "k=v"),
        ],
    );
    assert_eq!(
        r,
        Err(ExtractError::Malformed {
            header: "b3",
            reason: "sampling state must be 0, 1 or d"
        })
    );
    assert!(cx.span_context().is_none());
    assert_eq!(cx.baggage().get("k"), Some("v"));

    // Composite: baggage from every format is merged; entries already present keep their value.
    let (r, cx) = extract(
        &all,
        &[
            (TP, SUITE_TP),
            ("baggage", "a=1"),
            ("uberctx-a", "2"),
            ("uberctx-b", "3"),
        ],
    );
    assert_eq!(r, Ok(()));
    assert_eq!(
        cx.baggage().get("a"),
        Some("2"),
        "jaeger runs before baggage"
    );
    assert_eq!(cx.baggage().get("b"), Some("3"));
    assert_eq!(cx.baggage().len(), 2);

    // Composite: no headers, no context, no error.
    let (r, cx) = extract(&all, &[]);
    assert_eq!(r, Ok(()));
    assert_eq!(cx, Context::new());

    // Composite default (tracecontext,baggage) through `extract`.
    let w3c = Propagators::w3c();
    let carrier = header_map(&[
        (TP, SUITE_TP.to_owned()),
        (TS, "congo=t61rcWkgMzE".to_owned()),
        ("baggage", "userId=alice".to_owned()),
    ]);
    let cx = w3c.extract(&carrier).unwrap();
    assert_eq!(cx.trace_id().unwrap().to_string(), SUITE_TRACE);
    assert_eq!(cx.baggage().get("userId"), Some("alice"));
    let mut out = HeaderMap::new();
    w3c.inject(&cx, &mut out);
    assert_eq!(out["traceparent"], SUITE_TP);
    assert_eq!(out["tracestate"], "congo=t61rcWkgMzE");
    assert_eq!(out["baggage"], "userId=alice");
    assert_eq!(out.len(), 3);

    // `none` extracts nothing and injects nothing.
    let none = Propagators::from_names("none").unwrap();
    let cx2 = none.extract(&carrier).unwrap();
    assert_eq!(cx2, Context::new());
    let mut out = HeaderMap::new();
    none.inject(&cx, &mut out);
    assert!(out.is_empty());
}

#[test]
fn composite_injects_every_format_exactly() {
    let all = Propagators::from_names("tracecontext,baggage,b3,b3multi,jaeger").unwrap();
    assert_eq!(
        all.fields(),
        [
            "traceparent",
            "tracestate",
            "baggage",
            "b3",
            "x-b3-traceid",
            "x-b3-spanid",
            "x-b3-parentspanid",
            "x-b3-sampled",
            "x-b3-flags",
            "uber-trace-id",
        ]
    );
    let cx = Context::from_span_context(sc(
        0x4bf92f3577b34da6a3ce929d0e0e4736,
        0x00f067aa0ba902b7,
        TraceFlags::SAMPLED.with_random(true),
        "congo=t61rcWkgMzE",
    ))
    .with_baggage(Baggage::new().with("k", "v 1").unwrap());
    let mut h = HeaderMap::new();
    all.inject(&cx, &mut h);
    let mut got: Vec<(String, String)> = h
        .iter()
        .map(|(k, v)| (k.as_str().to_owned(), v.to_str().unwrap().to_owned()))
        .collect();
    got.sort();
    assert_eq!(
        got,
        pairs(&[
            (
                "traceparent",
                "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-03"
            ),
            ("tracestate", "congo=t61rcWkgMzE"),
            ("baggage", "k=v%201"),
            ("b3", "4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-1"),
            ("x-b3-traceid", "4bf92f3577b34da6a3ce929d0e0e4736"),
            ("x-b3-spanid", "00f067aa0ba902b7"),
            ("x-b3-sampled", "1"),
            (
                "uber-trace-id",
                "4bf92f3577b34da6a3ce929d0e0e4736:00f067aa0ba902b7:0:1"
            ),
            ("uberctx-k", "v%201"),
        ])
    );
}
