use super::*;
use crate::TraceFlags;
use crate::propagation::test_support::*;

#[test]
fn composite_first_valid_wins_and_baggage_merges() {
    let p = Propagators::from_names("b3,tracecontext,baggage,jaeger").unwrap();
    let h = headers(&[
        ("b3", "garbage"),
        (
            "traceparent",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
        ),
        (
            "uber-trace-id",
            "0000000000000000000000000000abcd:0000000000001234:0:1",
        ),
        ("baggage", "a=1"),
        ("uberctx-b", "2"),
    ]);
    let cx = p.extract(&h).unwrap();
    assert_eq!(
        cx.trace_id().unwrap().to_string(),
        "4bf92f3577b34da6a3ce929d0e0e4736"
    );
    assert_eq!(cx.baggage().get("a"), Some("1"));
    assert_eq!(cx.baggage().get("b"), Some("2"));
}

#[test]
fn composite_reports_error_when_nothing_valid() {
    let p = Propagators::w3c();
    let h = headers(&[("traceparent", "junk"), ("baggage", "k=v")]);
    let mut cx = Context::new();
    let err = p.extract_into(&h, &mut cx).unwrap_err();
    assert_eq!(err.header(), "traceparent");
    assert!(cx.span_context().is_none());
    assert_eq!(cx.baggage().get("k"), Some("v"));
}

#[test]
fn composite_injects_every_format() {
    let p = Propagators::from_names("tracecontext,b3,jaeger,baggage").unwrap();
    let cx = local(0xabc, 0xdef, TraceFlags::SAMPLED)
        .with_baggage(Baggage::new().with("k", "v").unwrap());
    let mut h = HeaderMap::new();
    p.inject(&cx, &mut h);
    assert_eq!(
        h["traceparent"],
        "00-00000000000000000000000000000abc-0000000000000def-01"
    );
    assert_eq!(
        h["b3"],
        "00000000000000000000000000000abc-0000000000000def-1"
    );
    assert_eq!(
        h["uber-trace-id"],
        "00000000000000000000000000000abc:0000000000000def:0:1"
    );
    assert_eq!(h["baggage"], "k=v");
    assert_eq!(h["uberctx-k"], "v");
}

#[test]
fn names_are_checked() {
    assert_eq!(
        Propagators::from_names("tracecontext, Xray").unwrap_err(),
        ConfigError::UnknownPropagator("Xray".into())
    );
    assert!(Propagators::from_names("none").unwrap().fields().is_empty());
    assert!(
        Propagators::from_names("tracecontext,none")
            .unwrap()
            .fields()
            .is_empty()
    );
}

#[test]
fn header_map_carrier_sees_every_value() {
    let h = headers(&[("tracestate", "a=1"), ("TraceState", "b=2")]);
    let mut seen = Vec::new();
    Extractor::values(&h, "tracestate", &mut |v: &[u8]| seen.push(v.to_vec()));
    assert_eq!(seen, vec![b"a=1".to_vec(), b"b=2".to_vec()]);
}
