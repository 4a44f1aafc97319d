//! The `tracing` layer: parenting, sampling, recording, disabled-span propagation, task
//! boundaries, caps, and pipeline shutdown in every runtime flavour.

use std::time::Duration;

use http::HeaderMap;
use tracewire::export::{InMemoryExporter, Pipeline};
use tracewire::propagation::Propagators;
use tracewire::testing::{LogCapture, Recorder};
use tracewire::{
    Context, FutureExt, Parent, ParentBased, Sampler, SpanExt, SpanId, SpanKind, Status,
    TraceFlags, TraceId, TracewireLayer, Value, with_parent,
};
use tracing::Dispatch;
use tracing::Instrument;
use tracing_subscriber::layer::SubscriberExt;

const TRACE: u128 = 0x4bf92f3577b34da6a3ce929d0e0e4736;
const PARENT: u64 = 0x00f067aa0ba902b7;

fn inbound(flags: &str) -> Context {
    let mut h = HeaderMap::new();
    h.insert(
        "traceparent",
        format!("00-{TRACE:032x}-{PARENT:016x}-{flags}")
            .parse()
            .unwrap(),
    );
    h.insert("tracestate", "vendor=abc".parse().unwrap());
    h.insert("baggage", "tenant=acme,tier=gold".parse().unwrap());
    Propagators::w3c().extract(&h).unwrap()
}

/// A runtime on the test's own thread.
fn current_thread() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap()
}

/// A runtime with two worker threads, so tasks leave the test's thread.
fn two_workers() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .build()
        .unwrap()
}

fn off_filter() -> tracing_subscriber::EnvFilter {
    tracing_subscriber::EnvFilter::new("off")
}

#[test]
fn contextual_parenting() {
    let r = Recorder::new();
    r.in_scope(|| {
        let _a = tracing::info_span!("a").entered();
        let _b = tracing::info_span!("b").entered();
        tracing::info_span!("c").in_scope(|| {});
    });
    assert_eq!(r.tree(), "a [internal]\n  b [internal]\n    c [internal]\n");
    let a = r.span("a");
    a.assert_root();
    r.span("b").assert_child_of(&a);
    r.span("c").assert_child_of(&r.span("b"));
}

#[test]
fn explicit_parent_and_explicit_root() {
    let r = Recorder::new();
    r.in_scope(|| {
        let a = tracing::info_span!("a");
        let _b = tracing::info_span!("b").entered();
        tracing::info_span!(parent: &a, "child-of-a").in_scope(|| {});
        tracing::info_span!(parent: None, "new-root").in_scope(|| {});
    });
    r.span("child-of-a").assert_child_of(&r.span("a"));
    let root = r.span("new-root");
    root.assert_root();
    assert_ne!(root.trace_id(), r.span("a").trace_id());
}

#[test]
fn remote_parent_is_fixed_at_creation() {
    let r = Recorder::new();
    r.in_scope(|| {
        // An unrelated span is current: the remote parent given to `with_parent` still wins.
        let _outer = tracing::info_span!("outer").entered();
        let server = with_parent(Parent::remote(inbound("01")), || {
            tracing::info_span!("GET /rides", otel.kind = "server")
        });
        let cx = server.span_context().expect("ids readable at once");
        assert_eq!(cx.trace_id(), TraceId::from_u128(TRACE));
        assert_eq!(cx.trace_state().header(), "vendor=abc");
        let _e = server.enter();
        tracing::info_span!("inner").in_scope(|| {});
    });
    let server = r.span("GET /rides");
    server
        .assert_remote_parent(TraceId::from_u128(TRACE), SpanId::from_u64(PARENT))
        .assert_kind(SpanKind::Server);
    r.span("inner").assert_child_of(&server);
}

#[test]
fn disabled_parent_span_is_skipped() {
    // `b` is disabled by the filter; `c` is a child of `a`, the nearest enabled span.
    let r = Recorder::with_layer_and(TracewireLayer::builder(), |s| {
        Dispatch::new(s.with(tracing_subscriber::EnvFilter::new("info")))
    });
    r.in_scope(|| {
        let _a = tracing::info_span!("a").entered();
        let _b = tracing::debug_span!("b").entered();
        tracing::info_span!("c").in_scope(|| {});
    });
    r.span("c").assert_child_of(&r.span("a"));
    assert!(r.spans_named("b").is_empty());
}

#[test]
fn sampler_branches_through_the_layer() {
    let sampler = Sampler::parent_based_with(
        ParentBased::new(Sampler::AlwaysOn)
            .remote_parent_sampled(Sampler::AlwaysOn)
            .remote_parent_not_sampled(Sampler::AlwaysOn),
    );
    let r = Recorder::with_layer(TracewireLayer::builder().sampler(sampler));
    r.in_scope(|| {
        with_parent(Parent::remote(inbound("00")), || {
            tracing::info_span!("forced")
        })
        .in_scope(|| {});
    });
    r.span("forced");

    // Default: follow the remote parent's flag.
    let r = Recorder::new();
    let mut unsampled_cx = None;
    r.in_scope(|| {
        let span = with_parent(Parent::remote(inbound("00")), || {
            tracing::info_span!("unsampled")
        });
        let _e = span.enter();
        tracing::info_span!("child-of-unsampled").in_scope(|| {
            unsampled_cx = tracing::Span::current().span_context();
        });
    });
    assert!(r.spans().is_empty(), "unsampled spans are not exported");
    let cx = unsampled_cx.expect("unsampled spans still have ids");
    assert_eq!(cx.trace_id(), TraceId::from_u128(TRACE));
    assert!(!cx.is_sampled());

    // AlwaysOff at the root: nothing recorded, children inherit.
    let r = Recorder::with_layer(TracewireLayer::builder().sampler(Sampler::AlwaysOff));
    r.in_scope(|| {
        let _a = tracing::info_span!("a").entered();
        tracing::info_span!("b").in_scope(|| {});
    });
    assert!(r.spans().is_empty());

    // IgnoreSampledFlag: keep the remote ids, decide locally as for a root.
    let r = Recorder::new();
    r.in_scope(|| {
        with_parent(Parent::remote(inbound("00")).ignore_sampled_flag(), || {
            tracing::info_span!("local-decision")
        })
        .in_scope(|| {});
    });
    r.span("local-decision")
        .assert_remote_parent(TraceId::from_u128(TRACE), SpanId::from_u64(PARENT));
}

#[test]
fn outgoing_flags_are_the_local_decision() {
    let r = Recorder::with_layer(
        TracewireLayer::builder().sampler(Sampler::parent_based_with(
            ParentBased::new(Sampler::AlwaysOn).remote_parent_sampled(Sampler::AlwaysOff),
        )),
    );
    let mut out = HeaderMap::new();
    r.in_scope(|| {
        let span = with_parent(Parent::remote(inbound("03")), || tracing::info_span!("s"));
        Propagators::w3c().inject(&span.context().unwrap(), &mut out);
    });
    let tp = out["traceparent"].to_str().unwrap();
    assert!(tp.starts_with(&format!("00-{TRACE:032x}-")));
    // Not sampled locally, random flag kept from the inbound trace id.
    assert!(tp.ends_with("-02"), "{tp}");
    assert_eq!(out["baggage"], "tenant=acme,tier=gold");
}

#[test]
fn restart_with_link() {
    let r = Recorder::new();
    let linked = inbound("01").span_context().unwrap().clone();
    r.in_scope(|| {
        with_parent(Parent::root().with_link(linked.clone()), || {
            tracing::info_span!("public")
        })
        .in_scope(|| {
            assert!(tracewire::current().baggage().is_empty());
        });
    });
    let s = r.span("public");
    s.assert_root();
    assert_ne!(s.trace_id(), linked.trace_id());
    assert_eq!(s.data().links.len(), 1);
    assert_eq!(s.data().links[0].span_context.span_id(), linked.span_id());
}

#[test]
fn fields_status_and_events() {
    let r = Recorder::new();
    r.in_scope(|| {
        let s = tracing::info_span!(
            "raw",
            otel.name = "GET /users/{id}",
            otel.kind = "client",
            http.response.status_code = tracing::field::Empty,
            otel.status_code = tracing::field::Empty,
            otel.status_message = tracing::field::Empty,
            attempt = 2u64,
            ratio = 0.5,
            cached = false,
        );
        s.record("http.response.status_code", 503);
        s.record("otel.status_code", "error");
        s.record("otel.status_message", "upstream unavailable");
        s.in_scope(|| tracing::info!(bytes = 10, "sent request"));

        tracing::info_span!("failing", error = tracing::field::Empty).in_scope(|| {
            tracing::Span::current().record("error", "connection reset");
        });
        tracing::info_span!("error-event").in_scope(|| {
            tracing::error!("boom");
        });
        tracing::info_span!("ok", otel.status_code = "ok").in_scope(|| {
            tracing::error!("handled, but status was set explicitly");
        });
    });
    let s = r.span("GET /users/{id}");
    s.assert_kind(SpanKind::Client)
        .assert_attr("http.response.status_code", 503i64)
        .assert_attr("attempt", 2i64)
        .assert_attr("ratio", 0.5)
        .assert_attr("cached", false)
        .assert_no_attr("otel.name")
        .assert_status(Status::error("upstream unavailable"));
    let ev = &s.data().events[0];
    assert_eq!(ev.name, "sent request");
    assert_eq!(
        ev.attributes
            .iter()
            .map(|kv| (kv.key.as_ref(), kv.value.clone()))
            .collect::<Vec<_>>(),
        vec![
            ("bytes", Value::I64(10)),
            ("level", Value::String("INFO".into()))
        ]
    );
    r.span("failing")
        .assert_status(Status::error("connection reset"));
    r.span("error-event").assert_status(Status::error("boom"));
    r.span("ok").assert_status(Status::Ok);
}

#[test]
fn event_names_are_kept_without_a_heap_copy_when_short() {
    let r = Recorder::new();
    let long = "a message longer than the thirty bytes kept inline";
    r.in_scope(|| {
        tracing::info_span!("events").in_scope(|| {
            tracing::info!("ride quote computed");
            tracing::info!(zone = "north", "quote {} for rider {}", 42, "r-7");
            tracing::info!("{long}");
            tracing::info!(zone = "south");
        });
    });
    let s = r.span("events");
    let names: Vec<&str> = s.data().events.iter().map(|e| e.name.as_str()).collect();
    assert_eq!(
        names[..3],
        ["ride quote computed", "quote 42 for rider r-7", long]
    );
    let [short, args, long, unnamed] = &s.data().events[..] else {
        panic!("four events: {names:?}");
    };
    for inline in [short, args] {
        assert_eq!(inline.name.heap_bytes(), 0, "{:?} is inline", inline.name);
        assert_eq!(inline.name.as_static(), None);
    }
    assert_eq!(long.name.heap_bytes(), 16 + long.name.len());
    // No message: the call site's name, by reference.
    let name = unnamed
        .name
        .as_static()
        .expect("the call site's name, static");
    assert!(name.starts_with("event core/tests/layer.rs:"), "{name}");
    assert_eq!(
        args.attributes,
        vec![
            tracewire::KeyValue::new("zone", "north"),
            tracewire::KeyValue::new("level", "INFO"),
        ]
    );
}

#[test]
fn caps_count_overflow() {
    let r = Recorder::with_layer(TracewireLayer::builder().max_attributes(2).max_events(1));
    r.in_scope(|| {
        tracing::info_span!("capped", a = 1, b = 2, c = 3, d = 4).in_scope(|| {
            tracing::info!("one");
            tracing::info!("two");
            tracing::info!("three");
        });
    });
    let s = r.span("capped");
    assert_eq!(s.data().attributes.len(), 2);
    assert_eq!(s.data().dropped_attributes, 2);
    assert_eq!(s.data().events.len(), 1);
    assert_eq!(s.data().dropped_events, 2);
}

#[test]
fn baggage_allowlist_labels_every_span() {
    let r = Recorder::with_layer(TracewireLayer::builder().baggage_attributes(["tenant"]));
    r.in_scope(|| {
        let server = with_parent(Parent::remote(inbound("01")), || {
            tracing::info_span!("server")
        });
        let _e = server.enter();
        tracing::info_span!("child").in_scope(|| {
            tracing::Span::current()
                .set_baggage("tier", "platinum")
                .unwrap();
            tracing::info_span!("grandchild").in_scope(|| {
                assert_eq!(tracewire::current().baggage().get("tier"), Some("platinum"));
            });
        });
    });
    for name in ["server", "child", "grandchild"] {
        r.span(name)
            .assert_attr("tenant", "acme")
            .assert_no_attr("tier");
    }
}

#[test]
fn propagation_survives_disabled_spans() {
    // RUST_LOG=off: no span is enabled, yet the inbound context reaches the outbound call.
    let r = Recorder::with_layer_and(TracewireLayer::builder(), |s| {
        Dispatch::new(s.with(off_filter()))
    });
    let rt = current_thread();
    let _g = r.set_default();
    let cx = inbound("01");
    let outbound = rt.block_on(
        async {
            let server = tracing::info_span!("server");
            assert!(server.is_disabled());
            let cx = server.context().unwrap_or_else(tracewire::current);
            let mut out = HeaderMap::new();
            Propagators::w3c().inject(&cx, &mut out);
            out
        }
        .in_context(cx),
    );
    assert_eq!(
        outbound["traceparent"],
        format!("00-{TRACE:032x}-{PARENT:016x}-01").as_str()
    );
    assert_eq!(outbound["tracestate"], "vendor=abc");
    assert_eq!(outbound["baggage"], "tenant=acme,tier=gold");
    assert!(r.spans().is_empty());
}

#[test]
fn ambient_context_parents_enabled_spans_below_a_disabled_one() {
    // The server span is disabled, but an inner `#[instrument]`-style span is enabled: it joins
    // the inbound trace as a child of the remote parent.
    let r = Recorder::with_layer_and(TracewireLayer::builder(), |s| {
        Dispatch::new(s.with(tracing_subscriber::EnvFilter::new("warn")))
    });
    r.in_scope(|| {
        tracewire::scope(inbound("01"), || {
            let _server = tracing::info_span!("server").entered();
            tracing::warn_span!("inner").in_scope(|| {});
        });
    });
    r.span("inner")
        .assert_remote_parent(TraceId::from_u128(TRACE), SpanId::from_u64(PARENT));
}

#[test]
fn outer_span_does_not_override_the_ambient_context() {
    // A long-lived span is current when the request's context comes into scope: spans created
    // for the request belong to the request's trace, not the outer span's.
    let r = Recorder::new();
    r.in_scope(|| {
        let _outer = tracing::info_span!("server-loop").entered();
        tracewire::scope(inbound("01"), || {
            assert_eq!(
                tracewire::current().trace_id(),
                Some(TraceId::from_u128(TRACE))
            );
            tracing::info_span!("request-work").in_scope(|| {
                // A span entered inside the scope wins over the ambient context.
                assert_eq!(
                    tracewire::current().span_id(),
                    tracing::Span::current().span_context().map(|c| c.span_id())
                );
            });
        });
    });
    r.span("request-work")
        .assert_remote_parent(TraceId::from_u128(TRACE), SpanId::from_u64(PARENT));
}

#[tokio::test(flavor = "current_thread")]
async fn context_crosses_spawn_and_spawn_blocking() {
    let r = Recorder::new();
    let _g = r.set_default();
    let parent = tracing::info_span!("parent");
    let parent_cx = parent.span_context().unwrap();
    async {
        tracewire::spawn(async {
            tracing::info_span!("spawned").in_scope(|| {});
        })
        .await
        .unwrap();
        tracewire::spawn_blocking(|| {
            tracing::info_span!("blocking").in_scope(|| {});
            tracewire::current()
        })
        .await
        .unwrap()
    }
    .instrument(parent.clone())
    .await;
    drop(parent);
    let parent = r.span("parent");
    assert_eq!(parent.span_id(), parent_cx.span_id());
    r.span("spawned").assert_child_of(&parent);
    r.span("blocking").assert_child_of(&parent);
}

#[test]
fn spawn_blocking_keeps_ambient_context_with_disabled_spans() {
    let r = Recorder::with_layer_and(TracewireLayer::builder(), |s| {
        Dispatch::new(s.with(off_filter()))
    });
    let rt = two_workers();
    let cx = inbound("01");
    let seen = rt.block_on(
        async {
            let on_worker = tracewire::spawn(async { tracewire::current() })
                .await
                .unwrap();
            let on_blocking = tracewire::spawn_blocking(tracewire::current).await.unwrap();
            (on_worker, on_blocking)
        }
        .in_context(cx.clone())
        .with_dispatch(r.dispatch().clone()),
    );
    assert_eq!(seen.0, cx);
    assert_eq!(seen.1, cx);
}

trait WithDispatch: std::future::Future + Sized {
    fn with_dispatch(self, d: Dispatch) -> tracing::instrument::WithDispatch<Self> {
        tracing::instrument::WithSubscriber::with_subscriber(self, d)
    }
}
impl<F: std::future::Future> WithDispatch for F {}

#[test]
fn instrument_attribute_nests_under_request_span() {
    #[tracing::instrument]
    fn quote(distance_km: u32) -> u32 {
        tracing::info_span!("lookup").in_scope(|| distance_km * 2)
    }
    let r = Recorder::new();
    r.in_scope(|| {
        with_parent(Parent::remote(inbound("01")), || {
            tracing::info_span!("GET /ride", otel.kind = "server")
        })
        .in_scope(|| quote(3));
    });
    let server = r.span("GET /ride");
    let q = r.span("quote");
    q.assert_child_of(&server).assert_attr("distance_km", 3i64);
    r.span("lookup").assert_child_of(&q);
}

#[test]
fn root_flags_set_random() {
    let r = Recorder::new();
    r.in_scope(|| {
        let s = tracing::info_span!("root");
        let flags = s.span_context().unwrap().flags();
        assert_eq!(flags, TraceFlags::SAMPLED.with_random(true));
    });
}

// --- shutdown in every runtime flavour ---------------------------------------------------------

fn pipeline_with_spans() -> (Pipeline, InMemoryExporter, Dispatch) {
    let mem = InMemoryExporter::new();
    let pipeline = Pipeline::builder()
        .batch_timeout(Duration::from_secs(60))
        .exporter(mem.clone())
        .build();
    let layer = TracewireLayer::builder().build(pipeline.clone());
    let dispatch = Dispatch::new(tracing_subscriber::registry().with(layer));
    (pipeline, mem, dispatch)
}

fn record_two(dispatch: &Dispatch) {
    tracing::dispatcher::with_default(dispatch, || {
        tracing::info_span!("one").in_scope(|| {});
        tracing::info_span!("two").in_scope(|| {});
    });
}

#[test]
fn shutdown_outside_any_runtime() {
    let (pipeline, mem, dispatch) = pipeline_with_spans();
    record_two(&dispatch);
    pipeline.shutdown(Duration::from_secs(5)).unwrap();
    assert_eq!(mem.spans().len(), 2);
}

#[test]
fn shutdown_inside_current_thread_runtime() {
    let (pipeline, mem, dispatch) = pipeline_with_spans();
    let rt = current_thread();
    rt.block_on(async {
        record_two(&dispatch);
        pipeline.shutdown(Duration::from_secs(5)).unwrap();
    });
    assert_eq!(mem.spans().len(), 2);
}

#[test]
fn shutdown_inside_multi_thread_runtime() {
    let (pipeline, mem, dispatch) = pipeline_with_spans();
    let rt = two_workers();
    rt.block_on(async {
        record_two(&dispatch);
        tokio::task::spawn_blocking(move || pipeline.shutdown(Duration::from_secs(5)))
            .await
            .unwrap()
            .unwrap();
    });
    assert_eq!(mem.spans().len(), 2);
}

#[test]
fn guard_from_builder_shuts_down_on_drop() {
    let mem = InMemoryExporter::new();
    let (layer, guard) = tracewire::builder()
        .service_name("checkout")
        .sampler(Sampler::AlwaysOn)
        .exporter(mem.clone())
        .build()
        .unwrap();
    let dispatch = Dispatch::new(tracing_subscriber::registry().with(layer));
    record_two(&dispatch);
    let rt = current_thread();
    // Dropping the guard inside a runtime neither hangs nor panics.
    rt.block_on(async move { drop(guard) });
    assert_eq!(mem.spans().len(), 2);
    assert_eq!(mem.resource().unwrap().service_name(), "checkout");
}

// --- log lines carry trace ids -----------------------------------------------------------------

#[test]
fn log_lines_carry_trace_and_span_ids_even_unsampled() {
    let lines = LogCapture::new();
    let fmt = tracing_subscriber::fmt::layer()
        .with_ansi(false)
        .with_writer(lines.clone())
        .event_format(tracewire::fmt::TraceIdFormat::new(
            tracing_subscriber::fmt::format::Format::default().without_time(),
        ));
    let layer = TracewireLayer::builder()
        .sampler(Sampler::AlwaysOff)
        .build(Pipeline::builder().build());
    let dispatch = Dispatch::new(tracing_subscriber::registry().with(layer).with(fmt));
    let mut ids = None;
    tracing::dispatcher::with_default(&dispatch, || {
        let span = with_parent(Parent::remote(inbound("00")), || tracing::info_span!("req"));
        let _e = span.enter();
        ids = span.span_context();
        tracing::info!("handled");
    });
    // Outside any span but inside an ambient context (spans disabled): the request's ids.
    tracing::dispatcher::with_default(&dispatch, || {
        tracewire::scope(inbound("01"), || tracing::info!("no span"));
    });
    let text = lines.text();
    let ids = ids.unwrap();
    let mut it = text.lines();
    assert_eq!(
        it.next().unwrap(),
        format!(
            " INFO req: layer: handled trace_id={TRACE:032x} span_id={}",
            ids.span_id()
        )
    );
    assert_eq!(
        it.next().unwrap(),
        format!(" INFO layer: no span trace_id={TRACE:032x} span_id={PARENT:016x}")
    );
}

#[test]
fn attributes_set_at_run_time_respect_sampling_and_caps() {
    let r = Recorder::with_layer(TracewireLayer::builder().max_attributes(2));
    r.in_scope(|| {
        let s = tracing::info_span!("s", fixed = 1);
        assert!(s.is_sampled());
        assert!(s.set_attribute(format!("http.request.header.{}", "x-tenant"), "acme"));
        assert!(!s.set_attribute("third", 3i64), "over the cap");
        // Setting an existing key replaces it, within the cap.
        assert!(s.set_attribute("fixed", 2i64));
    });
    let s = r.span("s");
    s.assert_attr("http.request.header.x-tenant", "acme")
        .assert_attr("fixed", 2i64)
        .assert_no_attr("third");
    assert_eq!(s.data().dropped_attributes, 1);

    let r = Recorder::with_layer(TracewireLayer::builder().sampler(Sampler::AlwaysOff));
    r.in_scope(|| {
        let s = tracing::info_span!("unsampled");
        assert!(!s.is_sampled());
        assert!(!s.set_attribute("k", "v"));
    });
    assert!(!tracing::Span::none().is_sampled());
}

#[test]
fn status_code_field_ignores_case_and_unknown_values() {
    let r = Recorder::new();
    r.in_scope(|| {
        tracing::info_span!("upper", otel.status_code = "OK").in_scope(|| {});
        let s = tracing::info_span!("kept", otel.status_code = "Error");
        s.record("otel.status_code", "bogus");
        drop(s);
        tracing::info_span!("unset", otel.status_code = "UnSet").in_scope(|| {
            tracing::error!("an error event does not override an explicit status");
        });
    });
    r.span("upper").assert_status(Status::Ok);
    r.span("kept").assert_status(Status::error(""));
    r.span("unset").assert_status(Status::Unset);
}
