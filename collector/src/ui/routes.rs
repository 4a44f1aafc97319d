//! The `/api/analysis/*` handlers: a trace's waterfall and statistics, the service map and
//! per-operation health. Each answers `{"data": …}` or `{"error": "…"}` (see `API.md`).

use std::collections::HashSet;
use std::time::{Duration, SystemTime};

use axum::extract::{RawQuery, State};
use axum::response::Response;
use http::StatusCode;
use serde_json::{Value as J, json};

use super::UiState;
use super::{stats, waterfall_page};
use crate::TraceStore;
use crate::analysis::{ServiceMapBuilder, Waterfall, rate_per_second, unix_nanos, waterfall};
use crate::api::{TracePath, Window, answer, data, error, query_pairs};
use crate::model::{AttrValue, Span, SpanId, TraceId};
use crate::reads::DEFAULT_SAMPLE_SPANS;
use crate::sampling::attributes;

/// Why a kept trace was kept: the sampling attributes of its root (or earliest) span.
fn sampling_of(root: &Span) -> J {
    let text = |k: &str| root.attribute(k).map(|v| v.to_string());
    let Some(policy) = text(attributes::POLICY) else {
        return J::Null;
    };
    let rate = match root.attribute(attributes::RATE) {
        Some(AttrValue::Double(d)) => json!(d),
        Some(AttrValue::Int(i)) => json!(i),
        _ => J::Null,
    };
    json!({ "policy": policy, "rate": rate, "trigger": text(attributes::TRIGGER) })
}

/// Answers `f` of the trace's waterfall, computed on the query threads: 400 for a bad query
/// string (`parse`), 404 when the trace is not stored.
async fn on_waterfall<Q: Send + 'static>(
    st: &UiState,
    trace_id: TraceId,
    raw: Option<String>,
    parse: impl FnOnce(&str) -> Result<Q, String>,
    f: impl FnOnce(&TraceStore, Waterfall, Q) -> Response + Send + 'static,
) -> Response {
    let q = match parse(raw.as_deref().unwrap_or("")) {
        Ok(q) => q,
        Err(e) => return error(StatusCode::BAD_REQUEST, e),
    };
    answer(&st.store, move |store| {
        let spans = store.analysis_spans(trace_id);
        if spans.is_empty() {
            return error(StatusCode::NOT_FOUND, format!("trace {trace_id} not found"));
        }
        let w = waterfall(&spans);
        drop(spans);
        f(store, w, q)
    })
    .await
}

/// `GET /api/analysis/traces/{trace_id}?offset=&limit=&spanId=`
pub(super) async fn trace(
    State(st): State<UiState>,
    TracePath(trace_id): TracePath,
    RawQuery(raw): RawQuery,
) -> Response {
    on_waterfall(
        &st,
        trace_id,
        raw,
        waterfall_page::parse,
        |store, w, rows| {
            let sampling = w
                .rows
                .first()
                .and_then(|r| store.span(w.trace_id, r.span_id))
                .map_or(J::Null, |root| sampling_of(&root));
            match waterfall_page::page(&w, rows) {
                Some(page) => {
                    let mut body = serde_json::to_value(page).unwrap_or(J::Null);
                    body["sampling"] = sampling;
                    data(body)
                }
                None => error(
                    StatusCode::NOT_FOUND,
                    format!("span not found in trace {}", w.trace_id),
                ),
            }
        },
    )
    .await
}

/// `GET /api/analysis/traces/{trace_id}/stats`
pub(super) async fn trace_stats(
    State(st): State<UiState>,
    TracePath(trace_id): TracePath,
    RawQuery(raw): RawQuery,
) -> Response {
    let no_parameters = |raw: &str| query_pairs(raw, &[]).map(drop);
    on_waterfall(&st, trace_id, raw, no_parameters, |_, w, ()| {
        data(stats::trace_stats(&w))
    })
    .await
}

/// `GET /api/analysis/dependencies`
pub(super) async fn dependencies(State(st): State<UiState>, RawQuery(raw): RawQuery) -> Response {
    if let Err(e) = query_pairs(raw.as_deref().unwrap_or(""), &[]) {
        return error(StatusCode::BAD_REQUEST, e);
    }
    answer(&st.store, |store| {
        let mut b = ServiceMapBuilder::new();
        let mut traces = 0u64;
        let (mut first, mut last) = (u64::MAX, 0u64);
        let complete = store.sample_traces(DEFAULT_SAMPLE_SPANS, &mut |spans| {
            traces += 1;
            for s in spans {
                first = first.min(s.start_ns);
                last = last.max(s.end_ns);
            }
            b.add_trace(spans);
        });
        let map = b.build();
        let first = if traces == 0 { last } else { first };
        let end = unix_nanos(SystemTime::now()).max(last);
        let edges: Vec<J> = map
            .edges
            .iter()
            .map(|e| {
                let mut v = serde_json::to_value(e).unwrap_or(J::Null);
                v["ratePerSecond"] = json!(rate_per_second(e.calls, first, end));
                v
            })
            .collect();
        data(json!({
            "traces": traces,
            "sampled": !complete,
            "startTimeUnixNano": first.to_string(),
            "endTimeUnixNano": end.to_string(),
            "nodes": map.nodes,
            "edges": edges,
        }))
    })
    .await
}

/// `GET /api/analysis/operations?window=&end=`
pub(super) async fn operations(State(st): State<UiState>, RawQuery(raw): RawQuery) -> Response {
    let cfg = st.health.config();
    let longest = cfg.bucket_width.max(Duration::from_secs(1)) * cfg.buckets as u32;
    let now = unix_nanos(SystemTime::now());
    let w = match Window::parse(raw.as_deref().unwrap_or(""), longest, now) {
        Ok(w) => w,
        Err(e) => return error(StatusCode::BAD_REQUEST, e),
    };
    let health = st.health.clone();
    answer(&st.store, move |_| {
        data(json!({
            "windowNanos": u64::try_from(w.window.as_nanos()).unwrap_or(u64::MAX),
            "endTimeUnixNano": w.end_ns.to_string(),
            "operations": health.snapshot(w.end_ns, w.window),
            "counters": health.counters(),
        }))
    })
    .await
}

/// The most matches a find answers (then `"truncated": true`).
pub(super) const MAX_MATCHES: usize = 10_000;
/// The longest text a find takes, in bytes.
pub(super) const MAX_FIND_BYTES: usize = 256;

/// Whether span `s` matches `needle` (lowercase): its name, its service, an attribute value,
/// or `key=value` of an attribute contains it, ignoring case.
fn span_matches(s: &Span, needle: &str) -> bool {
    let has = |text: &str| text.to_lowercase().contains(needle);
    has(s.name())
        || has(s.service())
        || s.attributes().iter().any(|a| {
            let v = a.value.to_string();
            has(&v) || has(&format!("{}={v}", a.key))
        })
}

/// The text to find: `q`, 1 to [`MAX_FIND_BYTES`] bytes once trimmed.
fn parse_find(raw: &str) -> Result<String, String> {
    let q = query_pairs(raw, &["q"])?
        .into_iter()
        .map(|(_, v)| v)
        .next_back()
        .unwrap_or_default();
    let q = q.trim();
    if q.is_empty() || q.len() > MAX_FIND_BYTES {
        return Err(format!(
            "`q` must be 1 to {MAX_FIND_BYTES} bytes of text to find"
        ));
    }
    Ok(q.to_owned())
}

/// `GET /api/analysis/traces/{trace_id}/find?q=`
pub(super) async fn find(
    State(st): State<UiState>,
    TracePath(trace_id): TracePath,
    RawQuery(raw): RawQuery,
) -> Response {
    on_waterfall(&st, trace_id, raw, parse_find, |store, w, q| {
        let needle = q.to_lowercase();
        let hits: HashSet<SpanId> = store
            .spans(w.trace_id)
            .iter()
            .filter(|s| span_matches(s, &needle))
            .map(Span::span_id)
            .collect();
        let mut total = 0usize;
        let mut matches = Vec::new();
        for (row, r) in w.rows.iter().enumerate() {
            if hits.contains(&r.span_id) {
                total += 1;
                if matches.len() < MAX_MATCHES {
                    matches.push(json!({ "row": row, "spanId": r.span_id.to_string() }));
                }
            }
        }
        data(json!({
            "query": q,
            "total": total,
            "truncated": total > matches.len(),
            "matches": matches,
        }))
    })
    .await
}
