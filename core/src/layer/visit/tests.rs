use super::*;
use crate::testing::Recorder;

/// A span's attributes as (key, value) pairs, in order.
fn attributes(data: &crate::SpanData) -> Vec<(&str, Value)> {
    data.attributes
        .iter()
        .map(|kv| (&*kv.key, kv.value.clone()))
        .collect()
}

#[test]
fn every_field_type_is_recorded_exactly_in_call_site_order() {
    let long = "l".repeat(STACK + 1);
    let r = Recorder::new();
    r.in_scope(|| {
        let _s = tracing::info_span!(
            "types",
            b = true,
            i = -3i64,
            u = u64::MAX,
            f = 1.5f64,
            short = "GET",
            long = long.as_str(),
            d = ?Some(1),
            otel.kind = "client",
            error = "boom",
            otel.other = "an attribute",
        )
        .entered();
    });
    let s = r.span("types");
    let data = s.data();
    let got = attributes(data);
    let expected = vec![
        ("b", Value::Bool(true)),
        ("i", Value::I64(-3)),
        ("u", Value::String(Text::from(u64::MAX.to_string()))),
        ("f", Value::F64(1.5)),
        ("short", Value::String(Text::new("GET"))),
        ("long", Value::String(Text::new(&long))),
        ("d", Value::String(Text::new("Some(1)"))),
        ("otel.other", Value::String(Text::new("an attribute"))),
    ];
    assert_eq!(got, expected);
    assert_eq!(data.kind, SpanKind::Client);
    assert_eq!(data.status, crate::span::Status::error("boom"));
    assert_eq!(data.dropped_attributes, 0);
}

#[test]
fn a_record_of_mixed_values_keeps_their_order_and_replaces_in_place() {
    let r = Recorder::new();
    r.in_scope(|| {
        let span = tracing::info_span!(
            "mixed",
            first = 1i64,
            s = tracing::field::Empty,
            d = tracing::field::Empty,
            big = tracing::field::Empty,
            n = tracing::field::Empty,
            otel.name = tracing::field::Empty,
        );
        let meta = span.metadata().unwrap();
        let field = |name| meta.fields().field(name).unwrap();
        let (s, d, big, n, name) = (
            field("s"),
            field("d"),
            field("big"),
            field("n"),
            field("otel.name"),
        );
        let dbg = tracing::field::debug([1, 2]);
        // A plain value, one formatted by `Debug`, an `i128` (which `tracing` hands over as
        // `Debug`), then plain values again: all in call-site order.
        span.record_all(&meta.fields().value_set(&[
            (&s, Some(&"one" as &dyn tracing::Value)),
            (&d, Some(&dbg as &dyn tracing::Value)),
            (&big, Some(&(i128::MAX) as &dyn tracing::Value)),
            (&n, Some(&false as &dyn tracing::Value)),
            (&name, Some(&"renamed" as &dyn tracing::Value)),
        ]));
        // Recorded again: each replaces its value where it is.
        span.record("first", 2.5f64);
        span.record("d", "plain now");
        span.record("s", tracing::field::display("formatted now"));
    });
    let s = r.span("renamed");
    let data = s.data();
    let got = attributes(data);
    let expected = vec![
        ("first", Value::F64(2.5)),
        ("s", Value::String(Text::new("formatted now"))),
        ("d", Value::String(Text::new("plain now"))),
        ("big", Value::String(Text::from(i128::MAX.to_string()))),
        ("n", Value::Bool(false)),
    ];
    assert_eq!(got, expected);
    assert_eq!(data.dropped_attributes, 0);
}

#[test]
fn a_name_recorded_at_run_time_is_kept_inline_when_short() {
    let r = Recorder::new();
    let long = format!("GET /{}", "segment/".repeat(8));
    r.in_scope(|| {
        let span =
            |n: u8| tracing::info_span!("HTTP request", n, otel.name = tracing::field::Empty);
        span(1).record("otel.name", "GET /users/{id}");
        span(2).record("otel.name", long.as_str());
        span(3).record("otel.name", tracing::field::display(404));
        // The span's own name, when nothing renames it: the call site's literal.
        let _ = tracing::info_span!("GET /static");
    });
    let short = r.span("GET /users/{id}");
    assert_eq!(
        short.data().name.heap_bytes(),
        0,
        "30 bytes or fewer: inline"
    );
    assert_eq!(short.data().name.as_static(), None);
    assert!(r.span(&long).data().name.heap_bytes() > 0);
    r.span("404");
    assert_eq!(
        r.span("GET /static").data().name.as_static(),
        Some("GET /static")
    );
}

#[test]
fn a_record_on_an_unsampled_span_formats_nothing() {
    struct Counted<'a>(&'a std::cell::Cell<u32>);
    impl fmt::Debug for Counted<'_> {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            self.0.set(self.0.get() + 1);
            f.write_str("counted")
        }
    }
    let calls = std::cell::Cell::new(0);
    let r =
        Recorder::with_layer(crate::TracewireLayer::builder().sampler(crate::Sampler::AlwaysOff));
    r.in_scope(|| {
        let span = tracing::info_span!("off", v = tracing::field::Empty);
        span.record("v", tracing::field::debug(Counted(&calls)));
    });
    assert_eq!(calls.get(), 0);
}

#[test]
fn formatted_text_is_exact_below_at_and_above_the_stack_buffer() {
    let ip = std::net::Ipv4Addr::new(192, 168, 100, 200);
    assert_eq!(formatted(format_args!("{ip}")).as_str(), "192.168.100.200");
    let exact = "a".repeat(STACK);
    assert_eq!(formatted(format_args!("{exact}")).as_str(), exact);
    let over = "b".repeat(STACK - 3);
    assert_eq!(
        formatted(format_args!("{over}{}", "cdef")).as_str(),
        format!("{over}cdef")
    );
    let long = "é".repeat(100);
    assert_eq!(
        formatted(format_args!("{long:?}")).as_str(),
        format!("{long:?}")
    );
    assert_eq!(formatted(format_args!("static")).as_str(), "static");
    assert_eq!(formatted(format_args!("{}", "")).as_str(), "");
}

#[test]
fn otel_kind_is_read_from_a_str_a_display_value_or_a_later_record() {
    let r = Recorder::new();
    r.in_scope(|| {
        let _ = tracing::info_span!("upper", otel.kind = "SERVER");
        let _ = tracing::info_span!("mixed", otel.kind = "Consumer");
        let _ = tracing::info_span!("unknown", otel.kind = "bogus");
        let _ = tracing::info_span!("display", otel.kind = %"producer");
        let later = tracing::info_span!("later", otel.kind = tracing::field::Empty);
        later.record("otel.kind", "client");
    });
    let kind = |name| r.span(name).data().kind;
    assert_eq!(kind("upper"), SpanKind::Server);
    assert_eq!(kind("mixed"), SpanKind::Consumer);
    assert_eq!(
        kind("unknown"),
        SpanKind::Internal,
        "an unknown kind is ignored"
    );
    assert_eq!(kind("display"), SpanKind::Producer);
    assert_eq!(kind("later"), SpanKind::Client);
    for name in ["upper", "mixed", "unknown", "display", "later"] {
        r.span(name).assert_no_attr("otel.kind");
    }
}

#[test]
fn otel_status_code_is_read_from_a_str_or_a_display_value_in_any_case() {
    use crate::span::Status;
    let r = Recorder::new();
    r.in_scope(|| {
        let _ = tracing::info_span!("err", otel.status_code = "ERROR");
        let _ = tracing::info_span!("ok", otel.status_code = "Ok", error = "ignored");
        let _ = tracing::info_span!("bogus", otel.status_code = "bogus");
        let unset = tracing::info_span!("unset", otel.status_code = %"error");
        unset.record("otel.status_code", "unset");
    });
    let status = |name| r.span(name).data().status.clone();
    assert_eq!(status("err"), Status::error(""));
    assert_eq!(status("ok"), Status::Ok);
    assert_eq!(status("bogus"), Status::Unset, "an unknown code is ignored");
    assert_eq!(
        status("unset"),
        Status::Unset,
        "a later record replaces the code"
    );
}

/// Each key once, holding its last value: a field recorded again replaces its value; a field
/// recorded for the first time is appended; a field named like a baggage attribute or a key
/// set through `SpanExt` replaces that attribute; a field over the cap is counted each time.
#[test]
fn a_key_is_held_once_whichever_way_its_value_came() {
    use crate::SpanExt as _;
    let r = Recorder::with_layer(crate::TracewireLayer::builder().baggage_attributes(["tenant"]));
    let baggage = crate::Baggage::default()
        .with("tenant", "from-baggage")
        .unwrap();
    let cx = crate::Context::new().with_baggage(baggage);
    r.in_scope(|| {
        crate::scope(cx, || {
            let s = tracing::info_span!(
                "s",
                a = 1i64,
                b = tracing::field::Empty,
                tenant = tracing::field::Empty,
                set = tracing::field::Empty,
            );
            s.record("b", 2i64);
            s.record("b", 3i64);
            s.record("a", 4i64);
            s.record("tenant", "from-field");
            assert!(s.set_attribute("set", "from-ext"));
            s.record("set", "from-field");
        });
    });
    let s = r.span("s");
    assert_eq!(
        attributes(s.data()),
        vec![
            ("tenant", Value::String(Text::new("from-field"))),
            ("a", Value::I64(4)),
            ("b", Value::I64(3)),
            ("set", Value::String(Text::new("from-field"))),
        ]
    );

    // No baggage attribute here: only the key set through `SpanExt` is not a field.
    let r = Recorder::new();
    r.in_scope(|| {
        let s = tracing::info_span!("ext", set = tracing::field::Empty);
        assert!(s.set_attribute("set", "from-ext"));
        s.record("set", "from-field");
    });
    assert_eq!(
        attributes(r.span("ext").data()),
        vec![("set", Value::String(Text::new("from-field")))]
    );

    let r = Recorder::with_layer(crate::TracewireLayer::builder().max_attributes(2));
    r.in_scope(|| {
        let capped = tracing::info_span!(
            "capped",
            a = 1i64,
            b = tracing::field::Empty,
            c = tracing::field::Empty,
        );
        capped.record("b", 2i64);
        capped.record("c", 3i64);
        capped.record("c", 4i64);
        capped.record("b", 5i64);
    });
    let capped = r.span("capped");
    assert_eq!(
        attributes(capped.data()),
        vec![("a", Value::I64(1)), ("b", Value::I64(5))]
    );
    assert_eq!(capped.data().dropped_attributes, 2, "`c` dropped twice");
}
