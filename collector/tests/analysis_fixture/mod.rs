//! The traces the analysis API and UI tests share: two traces across four services, loaded
//! into a collector store through the in-process exporter, with the health aggregator fed by
//! its ingest observer.

// Each test binary uses a different subset of these helpers.
#![allow(dead_code)]

use std::borrow::Cow;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use tracewire::export::SpanExporter;
use tracewire::{
    KeyValue, Resource, SpanContext, SpanData, SpanId, SpanKind, Status, TraceFlags, TraceId,
    TraceState,
};
use tracewire_collector::analysis::HealthAggregator;
use tracewire_collector::ui::HealthObserver;
use tracewire_collector::{Collector, TraceStore};

pub(crate) const MS: u64 = 1_000_000;

/// A span of `trace` with id `id`, child of `parent` (0 = root), named `name`; its times and
/// everything else are for the caller to set.
pub(crate) fn data(
    trace: u128,
    id: u64,
    parent: u64,
    name: impl Into<Cow<'static, str>>,
) -> SpanData {
    let cx = SpanContext::new(
        TraceId::from_u128(trace),
        SpanId::from_u64(id),
        TraceFlags::SAMPLED,
        TraceState::default(),
        false,
    );
    let mut d = SpanData::new(cx, name);
    d.parent_span_id = if parent == 0 {
        SpanId::INVALID
    } else {
        SpanId::from_u64(parent)
    };
    d
}

/// `GET uri` answered by `app` in process: the status and the body.
pub(crate) async fn get_bytes(app: &axum::Router, uri: &str) -> (http::StatusCode, Vec<u8>) {
    use http_body_util::BodyExt;
    use tower::ServiceExt;
    let res = app
        .clone()
        .oneshot(
            http::Request::get(uri)
                .body(axum::body::Body::empty())
                .unwrap(),
        )
        .await
        .unwrap();
    let status = res.status();
    let bytes = res.into_body().collect().await.unwrap().to_bytes();
    (status, bytes.to_vec())
}
pub(crate) const TRACE_A: u128 = 0xa1;
pub(crate) const TRACE_B: u128 = 0xb2;

pub(crate) fn hex_trace(t: u128) -> String {
    TraceId::from_u128(t).to_string()
}

pub(crate) fn hex_span(s: u64) -> String {
    SpanId::from_u64(s).to_string()
}

pub(crate) struct S {
    pub(crate) trace: u128,
    pub(crate) id: u64,
    pub(crate) parent: u64,
    pub(crate) service: &'static str,
    pub(crate) name: &'static str,
    pub(crate) kind: SpanKind,
    pub(crate) start_ms: u64,
    pub(crate) end_ms: u64,
    pub(crate) error: bool,
    pub(crate) attrs: &'static [(&'static str, &'static str)],
}

#[allow(clippy::too_many_arguments)]
pub(crate) fn s(
    trace: u128,
    id: u64,
    parent: u64,
    service: &'static str,
    name: &'static str,
    kind: SpanKind,
    start_ms: u64,
    end_ms: u64,
) -> S {
    S {
        trace,
        id,
        parent,
        service,
        name,
        kind,
        start_ms,
        end_ms,
        error: false,
        attrs: &[],
    }
}

/// Trace A (100 ms): the gateway calls dispatch (which calls ranking) and, in parallel, pricing
/// (which queries postgres and fails). Pricing finishes last, so the critical path is
/// gateway → pricing client → pricing server → SELECT. Trace B (20 ms) calls pricing only.
pub(crate) fn fixture() -> Vec<S> {
    use SpanKind::*;
    let mut v = vec![
        s(TRACE_A, 1, 0, "gateway", "GET /ride", Server, 0, 100),
        s(TRACE_A, 2, 1, "gateway", "dispatch.Find", Client, 5, 60),
        s(
            TRACE_A,
            3,
            2,
            "dispatch",
            "dispatch.Dispatch/Find",
            Server,
            7,
            58,
        ),
        s(TRACE_A, 4, 3, "dispatch", "ranking.Rank", Client, 10, 55),
        s(TRACE_A, 5, 4, "ranking", "POST /rank", Server, 12, 53),
        s(TRACE_A, 6, 1, "gateway", "pricing.Quote", Client, 5, 90),
        s(TRACE_A, 7, 6, "pricing", "GET /quote", Server, 8, 88),
        s(TRACE_A, 8, 7, "pricing", "SELECT fares", Client, 10, 85),
        s(TRACE_B, 11, 0, "gateway", "GET /ride", Server, 0, 20),
        s(TRACE_B, 12, 11, "gateway", "pricing.Quote", Client, 2, 18),
        s(TRACE_B, 13, 12, "pricing", "GET /quote", Server, 3, 17),
    ];
    v[6].error = true;
    v[5].attrs = &[("http.route", "/rank")];
    v[7].attrs = &[("db.system", "postgresql")];
    v
}

pub(crate) fn base_ns() -> u64 {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_nanos() as u64;
    now - 30_000 * MS
}

/// Exports the fixture, one batch per service, through `exporter`.
pub(crate) fn export_fixture(exporter: &mut impl SpanExporter) {
    let base = base_ns();
    for service in ["gateway", "dispatch", "ranking", "pricing"] {
        let batch: Vec<SpanData> = fixture()
            .into_iter()
            .filter(|x| x.service == service)
            .map(|x| {
                let mut d = data(x.trace, x.id, x.parent, x.name);
                d.kind = x.kind;
                d.start_time = UNIX_EPOCH + Duration::from_nanos(base + x.start_ms * MS);
                d.end_time = UNIX_EPOCH + Duration::from_nanos(base + x.end_ms * MS);
                if x.error {
                    d.status = Status::error("db timeout");
                }
                d.attributes = x.attrs.iter().map(|(k, v)| KeyValue::new(*k, *v)).collect();
                d
            })
            .collect();
        exporter
            .export(&batch, &Resource::new(service))
            .expect("export");
    }
}

/// A store holding the fixture, and a health aggregator fed by its ingest observer.
pub(crate) async fn loaded_store() -> (TraceStore, Arc<HealthAggregator>) {
    let health = Arc::new(HealthAggregator::default());
    let store = Collector::builder()
        .observer(HealthObserver::new(health.clone()))
        .build_store();
    export_fixture(&mut store.in_process_exporter());
    store.flush().await;
    (store, health)
}

/// The trace id of [`big_trace_store`]'s trace.
pub(crate) const BIG_TRACE: u128 = 0xb16;

/// Exports one trace of `n` spans through `exporter`: a root with `n - 1` children, child `i`
/// (span id `i + 1`) named `item {i}`, starting `i` µs after the root.
pub(crate) fn export_big_trace(exporter: &mut impl SpanExporter, n: u64) {
    let base = base_ns();
    let batch: Vec<SpanData> = (0..n)
        .map(|i| {
            let name = if i == 0 {
                "root".to_owned()
            } else {
                format!("item {i}")
            };
            let mut d = data(BIG_TRACE, i + 1, u64::from(i > 0), name);
            let len = if i == 0 { n * 1000 + 10 } else { 500 };
            d.start_time = UNIX_EPOCH + Duration::from_nanos(base + i * 1000);
            d.end_time = UNIX_EPOCH + Duration::from_nanos(base + i * 1000 + len);
            d
        })
        .collect();
    for chunk in batch.chunks(512) {
        exporter
            .export(chunk, &Resource::new("big"))
            .expect("export");
    }
}

/// A store holding [`export_big_trace`]'s trace of `n` spans.
pub(crate) async fn big_trace_store(n: u64) -> TraceStore {
    let store = Collector::builder().build_store();
    export_big_trace(&mut store.in_process_exporter(), n);
    store.flush().await;
    store
}
