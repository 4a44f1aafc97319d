//! The JSON API (see `API.md` for every route with examples).
//!
//! [`api_router`] returns a plain `axum::Router` with its state applied, so more routes (a UI,
//! analysis endpoints) can be `.merge()`d into it.

use std::time::Duration;

use axum::Json;
use axum::Router;
use axum::extract::{Path, RawQuery, State};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use http::StatusCode;
use serde_json::{Value as J, json};

use crate::assembly::Trace;
use crate::collector::TraceStore;
use crate::model::{Attribute, Span, TraceId};
use crate::query::{StoreStats, TraceQuery, TraceSummary};
use crate::sampling;

/// The JSON API over `store`:
///
/// - `GET /api/services`
/// - `GET /api/services/{service}/operations`
/// - `GET /api/traces?service=&operation=&minDuration=&maxDuration=&error=&tags=&start=&end=&limit=`
/// - `GET /api/traces/{trace_id}`
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
        .route("/api/traces", get(search))
        .route("/api/traces/{trace_id}", get(trace))
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

fn error(status: StatusCode, message: impl Into<String>) -> Response {
    (status, Json(json!({ "error": message.into() }))).into_response()
}

async fn services(State(store): State<TraceStore>) -> Response {
    Json(json!({ "data": store.services() })).into_response()
}

async fn operations(State(store): State<TraceStore>, Path(service): Path<String>) -> Response {
    Json(json!({ "data": store.operations(&service) })).into_response()
}

async fn stats(State(store): State<TraceStore>) -> Response {
    Json(json!({ "data": stats_json(&store.stats()) })).into_response()
}

async fn search(State(store): State<TraceStore>, RawQuery(raw): RawQuery) -> Response {
    let q = match parse_query(raw.as_deref().unwrap_or("")) {
        Ok(q) => q,
        Err(e) => return error(StatusCode::BAD_REQUEST, e),
    };
    let found = store.search(&q);
    let data: Vec<J> = found.iter().map(summary_json).collect();
    Json(json!({ "data": data })).into_response()
}

async fn trace(State(store): State<TraceStore>, Path(id): Path<String>) -> Response {
    let trace_id: TraceId = match id.to_ascii_lowercase().parse() {
        Ok(t) => t,
        Err(e) => {
            return error(
                StatusCode::BAD_REQUEST,
                format!("invalid trace id `{id}`: {e}"),
            );
        }
    };
    match store.trace(trace_id) {
        Some(t) => Json(json!({ "data": trace_json(&t) })).into_response(),
        None => error(StatusCode::NOT_FOUND, format!("trace {trace_id} not found")),
    }
}

// --- query parsing -------------------------------------------------------------------------

/// Decodes one `application/x-www-form-urlencoded` component.
fn form_decode(s: &str) -> Result<String, String> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' => {
                let hex = bytes
                    .get(i + 1..i + 3)
                    .and_then(|h| std::str::from_utf8(h).ok())
                    .and_then(|h| u8::from_str_radix(h, 16).ok())
                    .ok_or_else(|| format!("invalid percent-encoding in `{s}`"))?;
                out.push(hex);
                i += 2;
            }
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8(out).map_err(|_| format!("`{s}` is not UTF-8"))
}

/// Parses a duration with a unit: `250us`, `1.5ms`, `2s`, `1m`, `100ns` (`µs` also accepted).
pub(crate) fn parse_duration(s: &str) -> Result<Duration, String> {
    let s = s.trim();
    let split = s
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .ok_or_else(|| format!("duration `{s}` needs a unit (ns, us, ms, s, m or h)"))?;
    let (num, unit) = s.split_at(split);
    let n: f64 = num.parse().map_err(|_| format!("invalid duration `{s}`"))?;
    let nanos_per = match unit {
        "ns" => 1.0,
        "us" | "µs" => 1e3,
        "ms" => 1e6,
        "s" => 1e9,
        "m" => 60e9,
        "h" => 3600e9,
        _ => return Err(format!("unknown duration unit `{unit}` in `{s}`")),
    };
    Ok(Duration::from_nanos((n * nanos_per) as u64))
}

fn parse_query(raw: &str) -> Result<TraceQuery, String> {
    let mut q = TraceQuery::new();
    for pair in raw.split('&').filter(|p| !p.is_empty()) {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        let k = form_decode(k)?;
        let v = form_decode(v)?;
        let int = |what: &str| {
            v.parse::<u64>()
                .map_err(|_| format!("`{what}` must be a non-negative integer, got `{v}`"))
        };
        match k.as_str() {
            "service" if !v.is_empty() => q.service = Some(v),
            "operation" if !v.is_empty() => q.operation = Some(v),
            "minDuration" if !v.is_empty() => {
                q.min_duration_nanos = Some(parse_duration(&v)?.as_nanos() as u64)
            }
            "maxDuration" if !v.is_empty() => {
                q.max_duration_nanos = Some(parse_duration(&v)?.as_nanos() as u64)
            }
            "error" => {
                q.error_only = match v.as_str() {
                    "true" | "1" => true,
                    "false" | "0" | "" => false,
                    _ => return Err(format!("`error` must be true or false, got `{v}`")),
                }
            }
            "tags" | "tag" => {
                let (tk, tv) = v
                    .split_once('=')
                    .ok_or_else(|| format!("tag `{v}` must be key=value"))?;
                q.tags.push((tk.to_owned(), tv.to_owned()));
            }
            "start" if !v.is_empty() => {
                q.start_unix_nano = Some(int("start")?.saturating_mul(1000))
            }
            "end" if !v.is_empty() => q.end_unix_nano = Some(int("end")?.saturating_mul(1000)),
            "limit" if !v.is_empty() => {
                let n = int("limit")? as usize;
                if n == 0 || n > TraceQuery::MAX_LIMIT {
                    return Err(format!(
                        "`limit` must be between 1 and {}, got {n}",
                        TraceQuery::MAX_LIMIT
                    ));
                }
                q.limit = n;
            }
            "service" | "operation" | "minDuration" | "maxDuration" | "start" | "end" | "limit" => {
            }
            other => return Err(format!("unknown query parameter `{other}`")),
        }
    }
    Ok(q)
}

// --- JSON shapes -----------------------------------------------------------------------------

fn attrs_json(attrs: &[Attribute]) -> J {
    J::Object(
        attrs
            .iter()
            .map(|a| (a.key.to_string(), a.value.to_json()))
            .collect(),
    )
}

fn summary_json(s: &TraceSummary) -> J {
    json!({
        "traceId": s.trace_id.to_string(),
        "rootService": &*s.root_service,
        "rootName": &*s.root_name,
        "hasRoot": s.has_root,
        "startTimeUnixNano": s.start_unix_nano.to_string(),
        "durationNanos": s.duration_nanos,
        "spanCount": s.span_count,
        "errorCount": s.error_count,
        "services": s.services.iter().map(|(name, n)| json!({"name": &**name, "spanCount": n})).collect::<Vec<_>>(),
    })
}

/// A span as the API shows it.
pub(crate) fn span_json(s: &Span) -> J {
    json!({
        "traceId": s.trace_id().to_string(),
        "spanId": s.span_id().to_string(),
        "parentSpanId": s.parent_span_id().map(|p| p.to_string()),
        "service": s.service(),
        "name": s.name(),
        "kind": s.kind().as_str(),
        "startTimeUnixNano": s.start_unix_nano().to_string(),
        "endTimeUnixNano": s.end_unix_nano().to_string(),
        "durationNanos": s.duration_nanos(),
        "status": {"code": s.status().as_str(), "message": s.status_message()},
        "attributes": attrs_json(s.attributes()),
        "resource": attrs_json(s.resource()),
        "scope": {"name": &*s.scope().name, "version": &*s.scope().version},
        "events": s.events().iter().map(|e| json!({
            "timeUnixNano": e.time_unix_nano.to_string(),
            "name": &*e.name,
            "attributes": attrs_json(&e.attributes),
        })).collect::<Vec<_>>(),
        "links": s.links().iter().map(|l| json!({
            "traceId": l.trace_id.to_string(),
            "spanId": l.span_id.to_string(),
            "attributes": attrs_json(&l.attributes),
        })).collect::<Vec<_>>(),
        "droppedAttributesCount": s.dropped_attributes(),
        "droppedEventsCount": s.dropped_events(),
        "droppedLinksCount": s.dropped_links(),
    })
}

/// A trace as the API shows it: nodes in waterfall order.
pub(crate) fn trace_json(t: &Trace) -> J {
    let spans: Vec<J> = t
        .nodes
        .iter()
        .map(|n| {
            let mut s = span_json(&n.span);
            if let J::Object(m) = &mut s {
                m.insert("depth".into(), json!(n.depth));
                m.insert("orphan".into(), json!(n.orphan));
                m.insert(
                    "children".into(),
                    json!(
                        n.children
                            .iter()
                            .map(|&c| t.nodes[c].span.span_id().to_string())
                            .collect::<Vec<_>>()
                    ),
                );
            }
            s
        })
        .collect();
    json!({
        "traceId": t.trace_id.to_string(),
        "startTimeUnixNano": t.start_unix_nano().to_string(),
        "durationNanos": t.duration_nanos(),
        "rootSpanId": t.root().map(|r| r.span.span_id().to_string()),
        "orphanCount": t.orphans().count(),
        "spans": spans,
    })
}

fn stats_json(s: &StoreStats) -> J {
    json!({
        "spans": s.spans,
        "traces": s.traces,
        "bytes": s.bytes,
        "maxBytes": s.max_bytes,
        "maxSpans": s.max_spans,
        "storedTotal": s.stored_total,
        "evicted": s.evicted,
        "rejected": s.rejected,
        "queued": s.queued,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(
            parse_duration("1.5ms").unwrap(),
            Duration::from_micros(1500)
        );
        assert_eq!(parse_duration("250us").unwrap(), Duration::from_micros(250));
        assert_eq!(parse_duration("2s").unwrap(), Duration::from_secs(2));
        assert!(parse_duration("100").unwrap_err().contains("needs a unit"));
        assert!(
            parse_duration("1d")
                .unwrap_err()
                .contains("unknown duration unit")
        );
    }

    #[test]
    fn query_parameters() {
        let q = parse_query(
            "service=check+out&operation=GET%20%2Forders&minDuration=1ms&maxDuration=2s&error=true\
             &tags=http.route%3D%2Forders&tags=k=v%3Dw&start=10&end=20&limit=5",
        )
        .unwrap();
        assert_eq!(q.service.as_deref(), Some("check out"));
        assert_eq!(q.operation.as_deref(), Some("GET /orders"));
        assert_eq!(q.min_duration_nanos, Some(1_000_000));
        assert_eq!(q.max_duration_nanos, Some(2_000_000_000));
        assert!(q.error_only);
        assert_eq!(
            q.tags,
            vec![
                ("http.route".to_owned(), "/orders".to_owned()),
                ("k".to_owned(), "v=w".to_owned())
            ]
        );
        assert_eq!(
            (q.start_unix_nano, q.end_unix_nano),
            (Some(10_000), Some(20_000))
        );
        assert_eq!(q.limit, 5);
        assert_eq!(
            parse_query("limit=0").unwrap_err(),
            "`limit` must be between 1 and 1000, got 0"
        );
        assert_eq!(
            parse_query("colour=red").unwrap_err(),
            "unknown query parameter `colour`"
        );
        assert_eq!(
            parse_query("tags=novalue").unwrap_err(),
            "tag `novalue` must be key=value"
        );
    }
}
