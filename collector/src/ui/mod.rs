//! The web UI and the analysis JSON endpoints, served from the binary.
//!
//! [`ui_router`] returns an axum [`Router`] with:
//!
//! | Route | What |
//! |---|---|
//! | `GET /ui/` | search page: service, operation, duration bounds, errors only, tags; results list |
//! | `GET /ui/trace/{trace_id}` | waterfall of every span, critical path highlighted, span details |
//! | `GET /ui/map` | service map: services as nodes, calls as edges with rate, errors, latency |
//! | `GET /ui/operations` | per-operation health with links to exemplar traces |
//! | `GET /ui/assets/app.js`, `app.css` | the page script and style (no CDN, no build step) |
//! | `GET /api/analysis/search` | search (`service`, `operation`, `min_ms`, `max_ms`, `errors=1`, `tags=k=v k2=v2` (at most 16 distinct), `limit`) |
//! | `GET /api/analysis/services` | services and their operations (at most 10,000 of each, then `truncated`) |
//! | `GET /api/analysis/traces/{trace_id}?offset=&limit=&span_id=` | a page of the [`Waterfall`](crate::analysis::Waterfall) (2,000 rows unless `limit`, at most 10,000; `span_id` picks the page holding that span) with the page's critical-path segments and the top 20 contributors |
//! | `GET /api/analysis/traces/{trace_id}/spans/{span_id}` | one span's attributes, events, links, status |
//! | `GET /api/analysis/dependencies` | [`ServiceMap`](crate::analysis::ServiceMap) over the newest traces (up to 100,000 spans; `sampled` says whether older ones were left out), with `traces` and `window_ns` (earliest start to latest end) for rates |
//! | `GET /api/analysis/operations?window_s=900` | [`OperationHealth`] of every operation over the window |
//!
//! The waterfall and critical path are computed on the server; the page fetches rows a page at
//! a time as they scroll into view and draws only those in view (a virtual list), so a
//! 200,000-span trace stays responsive. Every endpoint reading traces runs on a small pool of
//! query threads with a time budget (5 s); past it, or when the pool is saturated, the answer
//! is 503 with a message.
//!
//! ```
//! use std::sync::Arc;
//! use tracewire_collector::analysis::HealthAggregator;
//! use tracewire_collector::ui::{MemorySource, ui_router};
//!
//! let health = Arc::new(HealthAggregator::default());
//! let source = Arc::new(MemorySource::with_health(health.clone()));
//! let app: axum::Router = ui_router(source, health);
//! # drop(app);
//! ```

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use axum::Json;
use axum::Router;
use axum::extract::{Path, Query, State};
use axum::http::{StatusCode, header};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::get;
use serde::Serialize;
use tracewire::{SpanId, TraceId};

use crate::analysis::{
    HealthAggregator, HealthCounters, OperationHealth, ServiceMapBuilder, unix_nanos, waterfall,
};
use crate::api::{MAX_LISTED, too_many_tags, unavailable};
use crate::query::{PoolLimits, QueryPool, TraceQuery};

mod adapter;
mod source;
mod waterfall_page;

pub use self::adapter::{HealthObserver, collector_ui};
pub use self::source::{
    MemorySource, SearchQuery, TraceListItem, UiEvent, UiLink, UiSource, UiSpan,
};

const APP_JS: &str = include_str!("../../assets/app.js");
const APP_CSS: &str = include_str!("../../assets/app.css");
const SHELL: &str = include_str!("../../assets/shell.html");

#[derive(Clone)]
struct UiState {
    source: Arc<dyn UiSource>,
    health: Arc<HealthAggregator>,
    pool: Arc<QueryPool>,
}

impl UiState {
    /// Runs `query` on the query threads; 503 when they cannot answer in time.
    async fn answer(
        &self,
        query: impl FnOnce(&dyn UiSource, &HealthAggregator) -> Response + Send + 'static,
    ) -> Response {
        let (source, health) = (self.source.clone(), self.health.clone());
        self.pool
            .run(move || query(&*source, &health))
            .await
            .unwrap_or_else(unavailable)
    }
}

/// The UI pages, their assets and the analysis endpoints (see the [module docs](self)).
///
/// `health` is read by the operations page; whoever ingests spans records into it. Queries run
/// on two threads of the router's own.
pub fn ui_router(source: Arc<dyn UiSource>, health: Arc<HealthAggregator>) -> Router {
    router_with_pool(source, health, QueryPool::new(PoolLimits::default()))
}

/// [`ui_router`] with queries on `pool` (the collector's, shared with the JSON API).
fn router_with_pool(
    source: Arc<dyn UiSource>,
    health: Arc<HealthAggregator>,
    pool: Arc<QueryPool>,
) -> Router {
    Router::new()
        .route("/ui", get(|| async { Redirect::permanent("/ui/") }))
        .route("/ui/", get(|| page("search", "Search", "")))
        .route("/ui/map", get(|| page("map", "Service map", "")))
        .route(
            "/ui/operations",
            get(|| page("operations", "Operations", "")),
        )
        .route("/ui/trace/{trace_id}", get(trace_page))
        .route(
            "/ui/assets/app.js",
            get(|| asset(APP_JS, "text/javascript; charset=utf-8")),
        )
        .route(
            "/ui/assets/app.css",
            get(|| asset(APP_CSS, "text/css; charset=utf-8")),
        )
        .route("/api/analysis/search", get(search))
        .route("/api/analysis/services", get(services))
        .route("/api/analysis/traces/{trace_id}", get(trace_analysis))
        .route(
            "/api/analysis/traces/{trace_id}/spans/{span_id}",
            get(span_detail),
        )
        .route("/api/analysis/dependencies", get(dependencies))
        .route("/api/analysis/operations", get(operations))
        .with_state(UiState {
            source,
            health,
            pool,
        })
}

async fn asset(body: &'static str, content_type: &'static str) -> Response {
    (
        [
            (header::CONTENT_TYPE, content_type),
            (header::CACHE_CONTROL, "no-cache"),
        ],
        body,
    )
        .into_response()
}

async fn page(name: &'static str, title: &'static str, trace_id: &str) -> Html<String> {
    Html(
        SHELL
            .replace("{{page}}", name)
            .replace("{{title}}", title)
            .replace("{{trace_id}}", trace_id),
    )
}

fn bad_request(msg: &str) -> Response {
    (
        StatusCode::BAD_REQUEST,
        Json(serde_json::json!({ "error": msg })),
    )
        .into_response()
}

fn not_found(msg: &str) -> Response {
    (
        StatusCode::NOT_FOUND,
        Json(serde_json::json!({ "error": msg })),
    )
        .into_response()
}

async fn trace_page(Path(trace_id): Path<String>) -> Response {
    match trace_id.parse::<TraceId>() {
        Ok(id) => page("trace", "Trace", &id.to_string())
            .await
            .into_response(),
        Err(_) => bad_request("invalid trace id"),
    }
}

fn ms_to_ns(v: &str) -> Option<u64> {
    let ms: f64 = v.trim().parse().ok()?;
    (ms.is_finite() && ms >= 0.0).then(|| (ms * 1e6).round() as u64)
}

/// Parses the search page's query string into a [`SearchQuery`].
fn parse_search(q: &HashMap<String, String>) -> Result<SearchQuery, String> {
    let text = |k: &str| q.get(k).map(|v| v.trim()).filter(|v| !v.is_empty());
    let dur = |k: &str| match text(k) {
        None => Ok(None),
        Some(v) => ms_to_ns(v)
            .map(Some)
            .ok_or_else(|| "durations are milliseconds".to_owned()),
    };
    let mut tags: Vec<(String, String)> = Vec::new();
    for pair in text("tags").unwrap_or("").split_whitespace() {
        let (k, v) = pair
            .split_once('=')
            .ok_or_else(|| "tags are key=value".to_owned())?;
        let pair = (k.to_owned(), v.to_owned());
        if !tags.contains(&pair) {
            if tags.len() == TraceQuery::MAX_TAGS {
                return Err(too_many_tags());
            }
            tags.push(pair);
        }
    }
    Ok(SearchQuery {
        service: text("service").map(str::to_owned),
        operation: text("operation").map(str::to_owned),
        min_duration_ns: dur("min_ms")?,
        max_duration_ns: dur("max_ms")?,
        errors_only: matches!(text("errors"), Some("1" | "true" | "on")),
        tags,
        limit: match text("limit") {
            None => 50,
            Some(v) => v
                .parse::<usize>()
                .map_err(|_| "limit is a number".to_owned())?
                .min(1000),
        },
    })
}

async fn search(State(st): State<UiState>, Query(q): Query<HashMap<String, String>>) -> Response {
    match parse_search(&q) {
        Ok(query) => {
            st.answer(move |source, _| {
                Json(serde_json::json!({ "traces": source.search(&query) })).into_response()
            })
            .await
        }
        Err(e) => bad_request(&e),
    }
}

async fn services(State(st): State<UiState>) -> Response {
    st.answer(|source, _| {
        let mut all = source.services();
        let mut truncated = all.len() > MAX_LISTED;
        all.truncate(MAX_LISTED);
        let list: Vec<_> = all
            .into_iter()
            .map(|(service, mut operations)| {
                truncated |= operations.len() > MAX_LISTED;
                operations.truncate(MAX_LISTED);
                serde_json::json!({ "service": service, "operations": operations })
            })
            .collect();
        let mut body = serde_json::json!({ "services": list });
        if truncated {
            body["truncated"] = serde_json::Value::Bool(true);
        }
        Json(body).into_response()
    })
    .await
}

fn error(status: StatusCode, msg: &str) -> Response {
    (status, Json(serde_json::json!({ "error": msg }))).into_response()
}

async fn trace_analysis(
    State(st): State<UiState>,
    Path(trace_id): Path<String>,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let Ok(id) = trace_id.parse::<TraceId>() else {
        return bad_request("invalid trace id");
    };
    let rows = match waterfall_page::parse(&q) {
        Ok(p) => p,
        Err(e) => return bad_request(&e),
    };
    st.answer(move |source, _| {
        let spans = source.analysis_spans(id);
        if spans.is_empty() {
            return not_found("trace not found");
        }
        let w = waterfall(&spans);
        drop(spans);
        match waterfall_page::page(&w, rows) {
            Some(page) => Json(page).into_response(),
            None => not_found("span not found"),
        }
    })
    .await
}

#[derive(Serialize)]
struct SpanDetail<'a> {
    #[serde(serialize_with = "crate::analysis::ser::trace_id")]
    trace_id: TraceId,
    #[serde(serialize_with = "crate::analysis::ser::span_id")]
    span_id: SpanId,
    #[serde(serialize_with = "crate::analysis::ser::opt_span_id")]
    parent_span_id: Option<SpanId>,
    service: &'a str,
    name: &'a str,
    #[serde(serialize_with = "crate::analysis::ser::kind")]
    kind: tracewire::SpanKind,
    start_ns: u64,
    end_ns: u64,
    duration_ns: u64,
    is_error: bool,
    status_message: Option<&'a str>,
    attributes: &'a [(String, String)],
    events: &'a [UiEvent],
    links: &'a [UiLink],
}

async fn span_detail(
    State(st): State<UiState>,
    Path((trace_id, span_id)): Path<(String, String)>,
) -> Response {
    let Ok(trace_id) = trace_id.parse::<TraceId>() else {
        return bad_request("invalid trace id");
    };
    let Ok(span_id) = span_id.parse::<SpanId>() else {
        return bad_request("invalid span id");
    };
    st.answer(move |source, _| {
        let Some(s) = source.span(trace_id, span_id) else {
            return if source.analysis_spans(trace_id).is_empty() {
                error(StatusCode::NOT_FOUND, "trace not found")
            } else {
                not_found("span not found")
            };
        };
        Json(SpanDetail {
            trace_id: s.span.trace_id,
            span_id: s.span.span_id,
            parent_span_id: s.span.parent_span_id,
            service: &s.span.service,
            name: &s.span.name,
            kind: s.span.kind,
            start_ns: s.span.start_ns,
            end_ns: s.span.end_ns,
            duration_ns: s.span.duration_ns(),
            is_error: s.span.is_error,
            status_message: s.status_message.as_deref(),
            attributes: &s.attributes,
            events: &s.events,
            links: &s.links,
        })
        .into_response()
    })
    .await
}

async fn dependencies(State(st): State<UiState>) -> Response {
    st.answer(|source, _| {
        let mut b = ServiceMapBuilder::new();
        let mut traces = 0u64;
        let (mut first, mut last) = (u64::MAX, 0u64);
        let complete = source.for_each_trace(&mut |spans| {
            traces += 1;
            for s in spans {
                first = first.min(s.start_ns);
                last = last.max(s.end_ns);
            }
            b.add_trace(spans);
        });
        let map = b.build();
        Json(serde_json::json!({
            "traces": traces,
            "sampled": !complete,
            "window_ns": last.saturating_sub(first),
            "nodes": map.nodes,
            "edges": map.edges,
        }))
        .into_response()
    })
    .await
}

#[derive(Serialize)]
struct HealthResponse {
    window_s: u64,
    now_ns: u64,
    operations: Vec<OperationHealth>,
    counters: HealthCounters,
}

async fn operations(
    State(st): State<UiState>,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let cfg = st.health.config();
    let longest = cfg.bucket_width.as_secs().max(1) * cfg.buckets as u64;
    let window_s = match q.get("window_s").map(|v| v.parse::<u64>()) {
        None => longest,
        Some(Ok(v)) if v > 0 => v.min(longest),
        Some(_) => return bad_request("window_s is a positive number of seconds"),
    };
    let now_ns = match q.get("now_ns").map(|v| v.parse::<u64>()) {
        None => unix_nanos(SystemTime::now()),
        Some(Ok(v)) => v,
        Some(Err(_)) => return bad_request("now_ns is nanoseconds since the Unix epoch"),
    };
    st.answer(move |_, health| {
        Json(HealthResponse {
            window_s,
            now_ns,
            operations: health.snapshot(now_ns, Duration::from_secs(window_s)),
            counters: health.counters(),
        })
        .into_response()
    })
    .await
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A query string's parameters.
    pub(super) fn q(pairs: &[(&str, &str)]) -> HashMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    #[test]
    fn search_parameters_parse() {
        let s = parse_search(&q(&[
            ("service", "gateway"),
            ("operation", " "),
            ("min_ms", "1.5"),
            ("errors", "1"),
            ("tags", "http.route=/ride  region=eu"),
            ("limit", "5000"),
        ]))
        .unwrap();
        assert_eq!(s.service.as_deref(), Some("gateway"));
        assert_eq!(s.operation, None);
        assert_eq!(s.min_duration_ns, Some(1_500_000));
        assert_eq!(s.max_duration_ns, None);
        assert!(s.errors_only);
        assert_eq!(
            s.tags,
            [
                ("http.route".to_owned(), "/ride".to_owned()),
                ("region".to_owned(), "eu".to_owned())
            ]
        );
        assert_eq!(s.limit, 1000);
        assert_eq!(
            parse_search(&q(&[("tags", "novalue")])),
            Err("tags are key=value".to_owned())
        );
        assert_eq!(
            parse_search(&q(&[("max_ms", "-3")])),
            Err("durations are milliseconds".to_owned())
        );
        let dup = vec!["a=b"; 5000].join(" ");
        assert_eq!(parse_search(&q(&[("tags", &dup)])).unwrap().tags.len(), 1);
        let many: Vec<String> = (0..17).map(|i| format!("k{i}=v")).collect();
        assert_eq!(
            parse_search(&q(&[("tags", &many.join(" "))])),
            Err("at most 16 distinct `tags` per search; narrow the search".to_owned())
        );
    }
}
