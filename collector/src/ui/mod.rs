//! The web UI and the analysis routes of the JSON API, served from the binary.
//!
//! [`collector_ui`] returns an axum [`Router`] with the pages, their assets and the
//! `/api/analysis/*` routes (documented with every other route in `collector/API.md`: one
//! envelope, `{"data": …}` or `{"error": "…"}`, camelCase names):
//!
//! | Route | What |
//! |---|---|
//! | `GET /ui/` | search page: lookback or date range, service, operation, duration bounds, errors only, tags; sortable results and a duration-over-time plot |
//! | `GET /ui/trace/{trace_id}` | waterfall with minimap and zoom, critical path, find, statistics, sampling decision, keep, JSON download |
//! | `GET /ui/compare?a=&b=` | two traces side by side: spans in one and not the other, time per operation |
//! | `GET /ui/map` | service map: services as nodes, calls as edges with rate, errors, latency |
//! | `GET /ui/operations` | per-operation health (seen vs kept with tail sampling) with links to exemplar traces |
//! | `GET /ui/assets/{name}` | the style and scripts (no CDN, no build step; `app.js` runs the page) |
//! | `GET /api/analysis/traces/{trace_id}?offset=&limit=&spanId=` | a page of the [`Waterfall`](crate::analysis::Waterfall) with its critical path |
//! | `GET /api/analysis/traces/{trace_id}/stats` | time per service and operation: count, total, self and critical time |
//! | `GET /api/analysis/traces/{trace_id}/find?q=` | the rows whose name, service or an attribute value contains `q` |
//! | `GET /api/analysis/dependencies` | the [`ServiceMap`](crate::analysis::ServiceMap) of the newest traces |
//! | `GET /api/analysis/operations?window=&end=` | [`OperationHealth`](crate::analysis::OperationHealth) of every operation |
//!
//! The pages read the rest of the API (`/api/services`, `/api/traces`, `/api/sampling/*`,
//! `POST /api/traces/{trace_id}/keep`). The waterfall and critical path are computed on the
//! server; the trace page fetches rows a page at a time as they scroll into view and draws only
//! those in view (a virtual list), so a 200,000-span trace stays responsive. Every route
//! reading traces runs on the collector's query threads with a time budget (5 s); past it, or
//! when they are saturated, the answer is 503 with a message.
//!
//! ```
//! use std::sync::Arc;
//! use tracewire_collector::Collector;
//! use tracewire_collector::analysis::HealthAggregator;
//! use tracewire_collector::ui::{HealthObserver, collector_ui};
//!
//! let health = Arc::new(HealthAggregator::default());
//! let store = Collector::builder()
//!     .observer(HealthObserver::new(health.clone()))
//!     .build_store();
//! let app: axum::Router = collector_ui(store.clone(), health);
//! # drop(app);
//! store.close();
//! ```

use std::sync::Arc;

use axum::Router;
use axum::extract::Path;
use axum::http::{StatusCode, header};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::get;

use crate::TraceStore;
use crate::analysis::HealthAggregator;
use crate::api::{error, parse_trace_id};

mod observer;
mod routes;
mod stats;
mod waterfall_page;

pub use self::observer::HealthObserver;

/// The page assets, by name: the style, the shared helpers, one script per page, and `app.js`,
/// which runs the page (the shell loads them in this order).
const ASSETS: [(&str, &str, &str); 9] = [
    ("app.css", CSS, include_str!("../../assets/app.css")),
    ("core.js", JS, include_str!("../../assets/core.js")),
    ("search.js", JS, include_str!("../../assets/search.js")),
    (
        "waterfall.js",
        JS,
        include_str!("../../assets/waterfall.js"),
    ),
    ("trace.js", JS, include_str!("../../assets/trace.js")),
    ("map.js", JS, include_str!("../../assets/map.js")),
    (
        "operations.js",
        JS,
        include_str!("../../assets/operations.js"),
    ),
    ("compare.js", JS, include_str!("../../assets/compare.js")),
    ("app.js", JS, include_str!("../../assets/app.js")),
];
const JS: &str = "text/javascript; charset=utf-8";
const CSS: &str = "text/css; charset=utf-8";
const SHELL: &str = include_str!("../../assets/shell.html");

/// What the analysis routes read: the store (and its query threads) and the health table.
#[derive(Clone)]
struct UiState {
    store: TraceStore,
    health: Arc<HealthAggregator>,
}

/// The UI pages, their assets and the analysis routes (see the [module docs](self)) over a
/// collector's store, with the operations page reading `health` (register [`HealthObserver`]
/// for the same aggregator on the collector's builder so it is fed).
///
/// Queries run on the store's query threads, shared with the JSON API.
pub fn collector_ui(store: TraceStore, health: Arc<HealthAggregator>) -> Router {
    Router::new()
        .route("/ui", get(|| async { Redirect::permanent("/ui/") }))
        .route("/ui/", get(|| page("search", "Search", "")))
        .route("/ui/map", get(|| page("map", "Service map", "")))
        .route(
            "/ui/operations",
            get(|| page("operations", "Operations", "")),
        )
        .route("/ui/compare", get(|| page("compare", "Compare traces", "")))
        .route("/ui/trace/{trace_id}", get(trace_page))
        .route("/ui/assets/{name}", get(asset))
        .route("/api/analysis/traces/{trace_id}", get(routes::trace))
        .route(
            "/api/analysis/traces/{trace_id}/stats",
            get(routes::trace_stats),
        )
        .route("/api/analysis/traces/{trace_id}/find", get(routes::find))
        .route("/api/analysis/dependencies", get(routes::dependencies))
        .route("/api/analysis/operations", get(routes::operations))
        .with_state(UiState { store, health })
}

async fn asset(Path(name): Path<String>) -> Response {
    match ASSETS.iter().find(|(n, _, _)| *n == name) {
        Some((_, content_type, body)) => (
            [
                (header::CONTENT_TYPE, *content_type),
                (header::CACHE_CONTROL, "no-cache"),
            ],
            *body,
        )
            .into_response(),
        None => error(StatusCode::NOT_FOUND, format!("no asset `{name}`")),
    }
}

async fn page(name: &'static str, title: &'static str, trace_id: &str) -> Html<String> {
    Html(
        SHELL
            .replace("{{page}}", name)
            .replace("{{title}}", title)
            .replace("{{trace_id}}", trace_id),
    )
}

async fn trace_page(Path(trace_id): Path<String>) -> Response {
    match parse_trace_id(&trace_id) {
        Ok(id) => page("trace", "Trace", &id.to_string())
            .await
            .into_response(),
        Err(_) => error(
            StatusCode::BAD_REQUEST,
            format!("invalid trace id `{trace_id}`"),
        ),
    }
}
