//! The JSON API (see `API.md` for every route with examples): handlers here, query-string
//! parsing in `params.rs`, the JSON shapes in `shapes.rs`.
//!
//! [`api_router`] returns a plain `axum::Router` with its state applied, so more routes (a UI,
//! analysis endpoints) can be `.merge()`d into it. Every handler runs its store read on the
//! collector's query threads, never on the runtime that serves the receivers, within a time
//! budget (5 s): past it, or with every query thread and queue slot taken, the answer is 503
//! with a message.

mod otlp;
mod params;
mod shapes;

use axum::Json;
use axum::Router;
use axum::extract::{FromRequestParts, Path, RawQuery, State};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use http::request::Parts;
use http::{HeaderValue, StatusCode, header};
use serde_json::{Value as J, json};

use self::params::{Page, parse_page, parse_query};
pub(crate) use self::params::{Window, parse_duration, query_pairs};
use self::shapes::{page_json, span_json, stats_json, summary_json};
use crate::collector::TraceStore;
use crate::model::{SpanId, TraceId};
use crate::query::QueryError;
use crate::sampling;

/// The most services (and operations of one service) one answer lists, sorted; longer lists
/// are cut and marked `"truncated": true`.
pub(crate) const MAX_LISTED: usize = 10_000;

/// The JSON API over `store`:
///
/// - `GET /api/services`
/// - `GET /api/services/{service}/operations`
/// - `GET /api/traces?service=&operation=&minDuration=&maxDuration=&error=&tags=&start=&end=&limit=`
/// - `GET /api/traces/{trace_id}?offset=&limit=`
/// - `GET /api/traces/{trace_id}/spans/{span_id}`
/// - `GET /api/traces/{trace_id}/otlp`, `POST /api/traces` (OTLP/JSON download and upload)
/// - `GET /api/stats`
/// - `POST /api/traces/{trace_id}/keep`, `GET /api/sampling/stats`,
///   `GET /api/sampling/operations`, `GET /api/sampling/traces/{trace_id}` (tail sampling, see
///   the [`sampling`](mod@crate::sampling) module)
///
/// ```
/// use tracewire_collector::{Collector, api_router};
///
/// let store = Collector::builder().build_store();
/// let app: axum::Router = api_router(store.clone()).merge(axum::Router::new());
/// # drop(app);
/// store.close();
/// ```
pub fn api_router(store: TraceStore) -> Router {
    Router::new()
        .route("/api/services", get(services))
        .route("/api/services/{service}/operations", get(operations))
        .route("/api/traces", get(search).post(otlp::upload))
        .route("/api/traces/{trace_id}", get(trace))
        .route("/api/traces/{trace_id}/spans/{span_id}", get(span))
        .route("/api/traces/{trace_id}/otlp", get(otlp::download))
        .route("/api/stats", get(stats))
        .route("/api/traces/{trace_id}/keep", post(sampling::keep_route))
        .route("/api/sampling/stats", get(sampling::stats_route))
        .route("/api/sampling/operations", get(sampling::operations_route))
        .route(
            "/api/sampling/traces/{trace_id}",
            get(sampling::lookup_route),
        )
        .with_state(store)
}

/// The one error shape of every route: `{"error": message}` with `status`.
pub(crate) fn error(status: StatusCode, message: impl Into<String>) -> Response {
    (status, Json(json!({ "error": message.into() }))).into_response()
}

/// 503 for a query the pool could not answer; `Retry-After: 1` when it was only busy.
pub(crate) fn unavailable(e: QueryError) -> Response {
    let busy = matches!(e, QueryError::Busy { .. });
    let mut r = error(StatusCode::SERVICE_UNAVAILABLE, e.to_string());
    if busy {
        r.headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
    }
    r
}

/// `{"data": data}`, the one success shape of every route.
pub(crate) fn data(data: J) -> Response {
    Json(json!({ "data": data })).into_response()
}

/// A trace id from a path, or the 400 answer.
pub(crate) fn parse_trace_id(id: &str) -> Result<TraceId, Box<Response>> {
    id.to_ascii_lowercase().parse().map_err(|e| {
        Box::new(error(
            StatusCode::BAD_REQUEST,
            format!("invalid trace id `{id}`: {e}"),
        ))
    })
}

/// The trace id of a route's one `{traceId}` path segment; a malformed one is answered 400 in
/// the API's error shape before the handler runs.
pub(crate) struct TracePath(pub(crate) TraceId);

impl<S: Send + Sync> FromRequestParts<S> for TracePath {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Response> {
        let Path(id) = Path::<String>::from_request_parts(parts, state)
            .await
            .map_err(IntoResponse::into_response)?;
        parse_trace_id(&id).map(TracePath).map_err(|r| *r)
    }
}

/// A span id from a path, or the 400 answer.
pub(crate) fn parse_span_id(id: &str) -> Result<SpanId, Box<Response>> {
    id.to_ascii_lowercase().parse().map_err(|e| {
        Box::new(error(
            StatusCode::BAD_REQUEST,
            format!("invalid span id `{id}`: {e}"),
        ))
    })
}

/// Runs `query` on the store's query threads and answers what it returns.
pub(crate) async fn answer(
    store: &TraceStore,
    query: impl FnOnce(&TraceStore) -> Response + Send + 'static,
) -> Response {
    let s = store.clone();
    store
        .shared
        .queries
        .run(move || query(&s))
        .await
        .unwrap_or_else(unavailable)
}

/// `{"data": list}`, cut at [`MAX_LISTED`] with `"truncated": true`.
fn listed(mut list: Vec<String>) -> Response {
    if list.len() > MAX_LISTED {
        list.truncate(MAX_LISTED);
        return Json(json!({ "data": list, "truncated": true })).into_response();
    }
    Json(json!({ "data": list })).into_response()
}

async fn services(State(store): State<TraceStore>) -> Response {
    answer(&store, |s| listed(s.services())).await
}

async fn operations(State(store): State<TraceStore>, Path(service): Path<String>) -> Response {
    answer(&store, move |s| listed(s.operations(&service))).await
}

async fn stats(State(store): State<TraceStore>) -> Response {
    answer(&store, |s| data(stats_json(&s.stats()))).await
}

async fn search(State(store): State<TraceStore>, RawQuery(raw): RawQuery) -> Response {
    let q = match parse_query(raw.as_deref().unwrap_or("")) {
        Ok(q) => q,
        Err(e) => return error(StatusCode::BAD_REQUEST, e),
    };
    answer(&store, move |s| {
        let list: Vec<J> = s.search(&q).iter().map(summary_json).collect();
        data(J::Array(list))
    })
    .await
}

async fn trace(
    State(store): State<TraceStore>,
    TracePath(trace_id): TracePath,
    RawQuery(raw): RawQuery,
) -> Response {
    let Page { offset, limit } = match parse_page(raw.as_deref().unwrap_or("")) {
        Ok(p) => p,
        Err(e) => return error(StatusCode::BAD_REQUEST, e),
    };
    answer(&store, move |s| {
        match s.trace_page(trace_id, offset, limit) {
            Some(p) => data(page_json(&p, limit)),
            None => error(StatusCode::NOT_FOUND, format!("trace {trace_id} not found")),
        }
    })
    .await
}

/// One span, read alone, in the shape of `/api/traces/{trace_id}`'s spans.
async fn span(
    State(store): State<TraceStore>,
    Path((trace, span)): Path<(String, String)>,
) -> Response {
    let (trace_id, span_id) = match (parse_trace_id(&trace), parse_span_id(&span)) {
        (Ok(t), Ok(s)) => (t, s),
        (Err(r), _) | (_, Err(r)) => return *r,
    };
    answer(&store, move |s| match s.span(trace_id, span_id) {
        Some(sp) => data(span_json(&sp)),
        None if s.analysis_spans(trace_id).is_empty() => {
            error(StatusCode::NOT_FOUND, format!("trace {trace_id} not found"))
        }
        None => error(
            StatusCode::NOT_FOUND,
            format!("span {span_id} not found in trace {trace_id}"),
        ),
    })
    .await
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use axum::body::Body;
    use http::Request;
    use http_body_util::BodyExt;
    use tower::ServiceExt;

    use super::*;
    use crate::ingest::Shared;
    use crate::query::PoolLimits;
    use crate::store::{Limits, Store};

    async fn body(r: Response) -> J {
        let bytes = r.into_body().collect().await.unwrap().to_bytes();
        serde_json::from_slice(&bytes).unwrap()
    }

    #[tokio::test]
    async fn a_query_past_its_budget_is_503_with_a_message() {
        let limits = Limits {
            queries: PoolLimits {
                budget: Duration::ZERO,
                ..PoolLimits::default()
            },
            ..Limits::default()
        };
        let store = TraceStore {
            shared: Shared::start(Store::new(limits), 1000, Vec::new(), None).unwrap(),
        };
        let res = api_router(store.clone())
            .oneshot(Request::get("/api/services").body(Body::empty()).unwrap())
            .await
            .unwrap();
        assert_eq!(res.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(res.headers().get(header::RETRY_AFTER), None);
        assert_eq!(
            body(res).await,
            json!({"error": "query exceeded its time budget of 0ns; narrow it (service, time range, limit) and retry"})
        );
        tokio::task::spawn_blocking(move || store.close())
            .await
            .unwrap();
    }

    #[tokio::test]
    async fn a_busy_pool_is_503_with_retry_after() {
        let res = unavailable(QueryError::Busy {
            threads: 2,
            queue: 32,
        });
        assert_eq!(res.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(res.headers()[header::RETRY_AFTER], "1");
        assert_eq!(
            body(res).await,
            json!({"error": "too many queries in progress (2 running, 32 waiting); retry later"})
        );
    }
}
