//! Property tests for propagation: round trips through every format, no panics on arbitrary
//! input, and the `tracestate` and baggage limits holding whatever arrives.

use std::collections::HashMap;
use std::sync::LazyLock;

use http::{HeaderMap, HeaderName, HeaderValue};
use proptest::prelude::*;
use proptest::test_runner::Config;
use tracewire::propagation::{
    B3Encoding, B3Propagator, BaggagePropagator, JaegerPropagator, Propagator, Propagators,
    TraceContextPropagator,
};
use tracewire::{Baggage, Context, SpanContext, SpanId, TraceFlags, TraceId, TraceState};

/// Modest case counts keep the suite fast on small machines; failures are not persisted to
/// files in the source tree.
fn config() -> Config {
    Config {
        cases: 256,
        failure_persistence: None,
        ..Config::default()
    }
}

// --- strategies ----------------------------------------------------------------------------------

fn tracestate_key() -> impl Strategy<Value = String> {
    prop_oneof![
        "[a-z][a-z0-9_*/-]{0,15}",
        "[a-z0-9][a-z0-9_*/@-]{0,7}@[a-z0-9_*/@-]{0,5}",
    ]
}

fn tracestate_value() -> impl Strategy<Value = String> {
    "[\\x20-\\x2b\\x2d-\\x3c\\x3e-\\x7e]{0,24}[\\x21-\\x2b\\x2d-\\x3c\\x3e-\\x7e]"
}

/// Up to 32 members with distinct keys, in order.
fn tracestate_members() -> impl Strategy<Value = Vec<(String, String)>> {
    prop::collection::vec((tracestate_key(), tracestate_value()), 0..=32).prop_map(|members| {
        let mut seen = std::collections::HashSet::new();
        members
            .into_iter()
            .filter(|(k, _)| seen.insert(k.clone()))
            .collect()
    })
}

fn join_members(members: &[(String, String)]) -> String {
    members
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join(",")
}

fn trace_state() -> impl Strategy<Value = TraceState> {
    tracestate_members().prop_map(|m| {
        join_members(&m)
            .parse::<TraceState>()
            .expect("generated members are valid")
    })
}

fn span_context() -> impl Strategy<Value = SpanContext> {
    (1..=u128::MAX, 1..=u64::MAX, any::<u8>(), trace_state()).prop_map(
        |(trace, span, flags, state)| {
            SpanContext::new(
                TraceId::from_u128(trace),
                SpanId::from_u64(span),
                TraceFlags::new(flags),
                state,
                false,
            )
        },
    )
}

/// An RFC 9110 token, the baggage key grammar.
fn baggage_key() -> impl Strategy<Value = String> {
    "[!#$%&'*+.^_`|~0-9a-zA-Z-]{1,16}"
}

/// Any unicode text, often with a literal '%' in it.
fn baggage_value() -> impl Strategy<Value = String> {
    prop_oneof![
        any::<String>(),
        (any::<String>(), any::<String>()).prop_map(|(a, b)| format!("{a}%{b}")),
        "[%0-9a-fA-F]{0,12}",
    ]
}

fn baggage_properties() -> impl Strategy<Value = Option<String>> {
    prop::option::of("[a-z]{1,6}(=[a-zA-Z0-9%]{0,6})?(;[a-z]{1,6})?")
}

fn baggage() -> impl Strategy<Value = Baggage> {
    prop::collection::vec(
        (baggage_key(), baggage_value(), baggage_properties()),
        0..12,
    )
    .prop_map(|entries| {
        entries.iter().fold(Baggage::new(), |bag, (k, v, p)| {
            // Entries that would break a limit are left out, as `with` refuses them.
            bag.with_properties(k, v, p.as_deref()).unwrap_or(bag)
        })
    })
}

/// Header bytes: often shaped like the format under test, sometimes anything at all.
fn header_bytes() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        any::<Vec<u8>>(),
        "[0-9a-fA-F:%3-]{0,80}".prop_map(String::into_bytes),
        "[ \t0-9a-z=,;%@*/_-]{0,200}".prop_map(String::into_bytes),
        prop::collection::vec(any::<u8>(), 500..3000),
    ]
}

/// Every header name any format reads (as the composite of all formats lists them), plus a
/// Jaeger baggage name.
static NAMES: LazyLock<Vec<&'static str>> = LazyLock::new(|| {
    let all = Propagators::from_names("tracecontext,baggage,b3,b3multi,jaeger").unwrap();
    let mut names = all.fields().to_vec();
    names.push("uberctx-k");
    names
});

fn header_list() -> impl Strategy<Value = Vec<(usize, Vec<u8>)>> {
    prop::collection::vec((0..NAMES.len(), header_bytes()), 0..8)
}

fn to_header_map(list: &[(usize, Vec<u8>)]) -> HeaderMap {
    let mut h = HeaderMap::new();
    for (name, value) in list {
        // `HeaderMap` refuses control characters; what it accepts is what a server would see.
        if let Ok(value) = HeaderValue::from_bytes(value) {
            h.append(HeaderName::from_static(NAMES[*name]), value);
        }
    }
    h
}

fn all_formats() -> Vec<Box<dyn Propagator>> {
    vec![
        Box::new(TraceContextPropagator::new()),
        Box::new(BaggagePropagator::new()),
        Box::new(B3Propagator::new(B3Encoding::SingleHeader)),
        Box::new(B3Propagator::new(B3Encoding::MultiHeader)),
        Box::new(JaegerPropagator::new()),
    ]
}

fn round_trip(p: &dyn Propagator, cx: &Context) -> Context {
    let mut h = HeaderMap::new();
    p.inject(cx, &mut h);
    let mut out = Context::new();
    assert_eq!(p.extract(&h, &mut out), Ok(true), "{p:?}");
    out
}

fn assert_limits(cx: &Context) {
    let bag = cx.baggage();
    assert!(bag.len() <= Baggage::MAX_MEMBERS, "{} members", bag.len());
    assert!(
        bag.header().len() <= Baggage::MAX_BYTES,
        "{} baggage bytes",
        bag.header().len()
    );
    if let Some(span) = cx.span_context() {
        let state = span.trace_state();
        assert!(state.len() <= TraceState::MAX_MEMBERS);
        assert!(state.header().len() <= TraceState::MAX_LEN);
        assert!(span.is_valid());
    }
}

// --- round trips ---------------------------------------------------------------------------------

proptest! {
    #![proptest_config(config())]

    #[test]
    fn w3c_round_trip(span in span_context()) {
        let cx = Context::from_span_context(span.clone());
        let got = round_trip(&TraceContextPropagator::new(), &cx);
        let known = span.flags().known();
        let expected = span.with_flags(known).with_remote(true);
        prop_assert_eq!(got.span_context(), Some(&expected));
        prop_assert!(got.baggage().is_empty());
    }

    #[test]
    fn b3_round_trip(span in span_context(), multi in any::<bool>()) {
        let encoding = if multi { B3Encoding::MultiHeader } else { B3Encoding::SingleHeader };
        let got = round_trip(&B3Propagator::new(encoding), &Context::from_span_context(span.clone()));
        let got = got.span_context().unwrap();
        prop_assert_eq!(got.trace_id(), span.trace_id());
        prop_assert_eq!(got.span_id(), span.span_id());
        prop_assert_eq!(got.is_sampled(), span.is_sampled());
        prop_assert!(got.is_remote());
    }

    #[test]
    fn jaeger_round_trip(span in span_context(), bag in baggage()) {
        let cx = Context::from_span_context(span.clone()).with_baggage(bag.clone());
        let got = round_trip(&JaegerPropagator::new(), &cx);
        let got_span = got.span_context().unwrap();
        prop_assert_eq!(got_span.trace_id(), span.trace_id());
        prop_assert_eq!(got_span.span_id(), span.span_id());
        prop_assert_eq!(got_span.is_sampled(), span.is_sampled());
        // Jaeger baggage keys are header names, so they arrive lowercased, without properties;
        // keys that differ only in case share one header, so only unambiguous ones are checked.
        for e in bag.iter() {
            let lower = e.key().to_ascii_lowercase();
            if bag.iter().filter(|o| o.key().eq_ignore_ascii_case(&lower)).count() == 1 {
                prop_assert_eq!(got.baggage().get(&lower), Some(e.value()));
            }
        }
    }

    #[test]
    fn composite_round_trip(span in span_context(), bag in baggage()) {
        let p = Propagators::from_names("tracecontext,baggage,b3,jaeger").unwrap();
        let cx = Context::from_span_context(span.clone()).with_baggage(bag.clone());
        let mut h = HeaderMap::new();
        p.inject(&cx, &mut h);
        let got = p.extract(&h).unwrap();
        let known = span.flags().known();
        let expected = span.with_flags(known).with_remote(true);
        prop_assert_eq!(got.span_context(), Some(&expected));
        // The `baggage` header is read before Jaeger's, so every entry arrives exactly, properties
        // included; Jaeger only adds lowercased keys that are not there yet.
        for e in bag.iter() {
            prop_assert_eq!(got.baggage().entry(e.key()), Some(e));
        }
    }

    #[test]
    fn tracestate_round_trip(members in tracestate_members()) {
        let header = join_members(&members);
        let state: TraceState = header.parse().unwrap();
        prop_assert!(state.len() <= TraceState::MAX_MEMBERS);
        prop_assert!(state.header().len() <= TraceState::MAX_LEN);
        if header.len() <= TraceState::MAX_LEN {
            prop_assert_eq!(state.header(), header);
            prop_assert_eq!(state.len(), members.len());
        }
        // What we send parses back to the same list.
        prop_assert_eq!(state.header().parse::<TraceState>().unwrap(), state.clone());
        // Kept members keep their relative order and values.
        let mut rest = members.iter();
        for (k, v) in state.iter() {
            prop_assert!(rest.any(|(mk, mv)| mk == k && mv == v), "{k}={v} out of order");
        }
    }

    #[test]
    fn tracestate_insert_moves_to_front(
        state in trace_state(),
        key in tracestate_key(),
        value in tracestate_value(),
    ) {
        let updated = state.insert(&key, &value).unwrap();
        prop_assert_eq!(updated.iter().next(), Some((key.as_str(), value.as_str())));
        prop_assert_eq!(updated.iter().filter(|(k, _)| *k == key).count(), 1);
        prop_assert!(updated.len() <= TraceState::MAX_MEMBERS);
        prop_assert!(updated.header().len() <= TraceState::MAX_LEN);
        prop_assert_eq!(updated.header().parse::<TraceState>().unwrap(), updated.clone());
    }

    #[test]
    fn baggage_round_trip(bag in baggage()) {
        let header = bag.header();
        prop_assert!(header.len() <= Baggage::MAX_BYTES);
        let (parsed, dropped) = Baggage::parse_values([header.as_bytes()]);
        prop_assert_eq!(dropped, 0);
        prop_assert_eq!(&parsed, &bag);
        // And through the propagator on a real header map.
        let cx = Context::new().with_baggage(bag.clone());
        if bag.is_empty() {
            let mut h = HeaderMap::new();
            BaggagePropagator::new().inject(&cx, &mut h);
            prop_assert!(h.is_empty());
        } else {
            let got = round_trip(&BaggagePropagator::new(), &cx);
            prop_assert_eq!(got.baggage(), &bag);
        }
    }
}

// --- never panics, limits never exceeded ---------------------------------------------------------

proptest! {
    #![proptest_config(config())]

    #[test]
    fn extractors_never_panic_on_header_maps(list in header_list()) {
        let h = to_header_map(&list);
        for p in all_formats() {
            let mut cx = Context::new();
            let _ = p.extract(&h, &mut cx);
            assert_limits(&cx);
            // Whatever was extracted can be injected again.
            let mut out = HeaderMap::new();
            p.inject(&cx, &mut out);
        }
        let composite = Propagators::from_names("tracecontext,baggage,b3,b3multi,jaeger").unwrap();
        let mut cx = Context::new();
        let _ = composite.extract_into(&h, &mut cx);
        assert_limits(&cx);
        let mut out = HeaderMap::new();
        composite.inject(&cx, &mut out);
    }

    #[test]
    fn extractors_never_panic_on_arbitrary_strings(
        list in prop::collection::vec((0..NAMES.len(), any::<String>()), 0..6),
        upper in any::<bool>(),
    ) {
        // The `HashMap` carrier does no header validation at all.
        let carrier: HashMap<String, String> = list
            .into_iter()
            .map(|(i, v)| {
                let name = if upper { NAMES[i].to_ascii_uppercase() } else { NAMES[i].to_owned() };
                (name, v)
            })
            .collect();
        for p in all_formats() {
            let mut cx = Context::new();
            let _ = p.extract(&carrier, &mut cx);
            assert_limits(&cx);
            let mut out: HashMap<String, String> = HashMap::new();
            p.inject(&cx, &mut out);
        }
    }

    #[test]
    fn parsers_never_panic_on_arbitrary_bytes(values in prop::collection::vec(header_bytes(), 0..4)) {
        let (bag, _) = Baggage::parse_values(values.iter().map(Vec::as_slice));
        prop_assert!(bag.len() <= Baggage::MAX_MEMBERS);
        prop_assert!(bag.header().len() <= Baggage::MAX_BYTES);
        for v in &values {
            if let Ok(s) = std::str::from_utf8(v) {
                if let Ok(state) = s.parse::<TraceState>() {
                    prop_assert!(state.len() <= TraceState::MAX_MEMBERS);
                    prop_assert!(state.header().len() <= TraceState::MAX_LEN);
                }
                let _ = s.parse::<TraceId>();
                let _ = s.parse::<SpanId>();
            }
            let _ = TraceId::from_hex(v);
            let _ = SpanId::from_hex(v);
        }
    }

    #[test]
    fn baggage_limits_hold_on_adversarial_headers(
        members in prop::collection::vec(
            ("[a-z]{1,6}", "[%g-z]{0,300}", prop::option::of("[a-z]{1,4}")),
            0..120,
        ),
        split in 1usize..4,
    ) {
        // Values full of literal '%' grow threefold when re-encoded.
        let rendered: Vec<String> = members
            .iter()
            .map(|(k, v, p)| match p {
                Some(p) => format!("{k}={v};{p}"),
                None => format!("{k}={v}"),
            })
            .collect();
        let chunks: Vec<String> = rendered
            .chunks(rendered.len().div_ceil(split).max(1))
            .map(|c| c.join(","))
            .collect();
        let (bag, dropped) = Baggage::parse_values(chunks.iter().map(String::as_bytes));
        prop_assert!(bag.len() <= Baggage::MAX_MEMBERS);
        prop_assert!(bag.header().len() <= Baggage::MAX_BYTES, "{} bytes", bag.header().len());
        prop_assert!(bag.len() + dropped <= members.len());
        let mut h = HeaderMap::new();
        for c in &chunks {
            h.append("baggage", HeaderValue::from_str(c).unwrap());
        }
        let mut cx = Context::new();
        let _ = BaggagePropagator::new().extract(&h, &mut cx);
        assert_limits(&cx);
    }

    #[test]
    fn tracestate_limits_hold_on_adversarial_headers(
        members in prop::collection::vec((tracestate_key(), "[a-z]{1,200}"), 0..48),
        split in 1usize..5,
    ) {
        let rendered: Vec<String> = members.iter().map(|(k, v)| format!("{k}={v}")).collect();
        let mut h = HeaderMap::new();
        h.insert(
            "traceparent",
            HeaderValue::from_static("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"),
        );
        for c in rendered.chunks(rendered.len().div_ceil(split).max(1)) {
            h.append("tracestate", HeaderValue::from_str(&c.join(",")).unwrap());
        }
        let mut cx = Context::new();
        prop_assert_eq!(TraceContextPropagator::new().extract(&h, &mut cx), Ok(true));
        assert_limits(&cx);
        let state = cx.span_context().unwrap().trace_state();
        if members.len() > TraceState::MAX_MEMBERS {
            // Over 32 members (duplicates count): the whole tracestate is dropped.
            prop_assert!(state.is_empty());
        } else {
            // Each key once, with its first value, in first-seen order, before truncation.
            let mut firsts: Vec<(&str, &str)> = Vec::new();
            for (k, v) in &members {
                if !firsts.iter().any(|(seen, _)| seen == k) {
                    firsts.push((k, v));
                }
            }
            let kept: Vec<(&str, &str)> = state.iter().collect();
            let mut rest = firsts.iter();
            for member in &kept {
                prop_assert!(rest.any(|f| f == member), "{member:?} out of order or not first");
            }
            if firsts.iter().map(|(k, v)| k.len() + v.len() + 1).sum::<usize>() + firsts.len()
                <= TraceState::MAX_LEN + 1
            {
                prop_assert_eq!(kept, firsts);
            }
        }
    }
}
