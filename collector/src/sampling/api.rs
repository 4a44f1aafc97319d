//! The sampling routes of the JSON API (mounted by [`api_router`](crate::api_router); see
//! `API.md`): retroactive keep, where a trace stands, counters, seen vs kept per operation.

use std::collections::HashMap;
use std::time::{Duration, SystemTime};

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Response};
use http::StatusCode;
use serde_json::{Value as J, json};

use super::policy::{Reason, Trigger};
use super::stats::{KeepOutcome, SamplingStats, TraceSampling};
use crate::collector::TraceStore;
use crate::model::TraceId;

fn error(status: StatusCode, message: impl Into<String>) -> Response {
    (status, Json(json!({ "error": message.into() }))).into_response()
}

const OFF: &str = "tail sampling is off: every received span is stored";

fn parse_id(id: &str) -> Result<TraceId, Box<Response>> {
    id.to_ascii_lowercase().parse().map_err(|e| {
        Box::new(error(
            StatusCode::BAD_REQUEST,
            format!("invalid trace id `{id}`: {e}"),
        ))
    })
}

/// `POST /api/traces/{trace_id}/keep`
pub(crate) async fn keep_route(
    State(store): State<TraceStore>,
    Path(id): Path<String>,
) -> Response {
    let trace_id = match parse_id(&id) {
        Ok(t) => t,
        Err(r) => return *r,
    };
    let data = |outcome: &str, spans: usize| {
        Json(json!({ "data": {
            "traceId": trace_id.to_string(),
            "outcome": outcome,
            "spans": spans,
        }}))
        .into_response()
    };
    match store.keep_trace(trace_id).await {
        KeepOutcome::Kept { spans } => data("kept", spans),
        KeepOutcome::AlreadyKept => data("already_kept", 0),
        KeepOutcome::NotBuffered => error(
            StatusCode::NOT_FOUND,
            format!(
                "trace {trace_id} is not in the recent-span buffer (never received, or evicted)"
            ),
        ),
        KeepOutcome::Disabled => error(StatusCode::CONFLICT, OFF),
    }
}

/// `GET /api/sampling/traces/{trace_id}`
pub(crate) async fn lookup_route(
    State(store): State<TraceStore>,
    Path(id): Path<String>,
) -> Response {
    let trace_id = match parse_id(&id) {
        Ok(t) => t,
        Err(r) => return *r,
    };
    let named = |r: Reason, t: Trigger| (r.as_str(), t.as_str());
    let body = match store.trace_sampling(trace_id).await {
        TraceSampling::Disabled => return error(StatusCode::CONFLICT, OFF),
        TraceSampling::Pending { spans, waiting } => json!({
            "state": "pending", "bufferedSpans": spans,
            "waitingNanos": u64::try_from(waiting.as_nanos()).unwrap_or(u64::MAX),
            "keepable": true,
        }),
        TraceSampling::Kept {
            reason,
            trigger,
            rate,
        } => {
            let (reason, trigger) = named(reason, trigger);
            json!({ "state": "kept", "reason": reason, "trigger": trigger, "rate": rate,
                    "keepable": false })
        }
        TraceSampling::Dropped {
            reason,
            trigger,
            buffered_spans,
        } => {
            let (reason, trigger) = named(reason, trigger);
            json!({ "state": "dropped", "reason": reason, "trigger": trigger,
                    "bufferedSpans": buffered_spans, "keepable": buffered_spans > 0 })
        }
        TraceSampling::Unknown => json!({ "state": "unknown", "keepable": false }),
    };
    let mut body = body;
    if let J::Object(m) = &mut body {
        m.insert("traceId".into(), J::String(trace_id.to_string()));
    }
    Json(json!({ "data": body })).into_response()
}

/// `GET /api/sampling/stats`
pub(crate) async fn stats_route(State(store): State<TraceStore>) -> Response {
    let data = match store.sampling_stats() {
        Some(s) => stats_json(&s),
        None => json!({ "enabled": false }),
    };
    Json(json!({ "data": data })).into_response()
}

fn stats_json(s: &SamplingStats) -> J {
    let decisions: serde_json::Map<String, J> = s
        .decisions
        .iter()
        .map(|(r, n)| (r.as_str().to_owned(), json!(n)))
        .collect();
    let triggers: serde_json::Map<String, J> = s
        .triggers
        .iter()
        .map(|(t, n)| (t.as_str().to_owned(), json!(n)))
        .collect();
    json!({
        "enabled": true,
        "receivedSpans": s.received_spans,
        "keptSpans": s.kept_spans,
        "keptTraces": s.kept_traces(),
        "droppedTraces": s.dropped_traces(),
        "decisions": decisions,
        "triggers": triggers,
        "pendingTraces": s.pending_traces,
        "bufferedTraces": s.buffered_traces,
        "bufferedSpans": s.buffered_spans,
        "bufferBytes": s.buffer_bytes,
        "maxBufferBytes": s.max_buffer_bytes,
        "lateKeptSpans": s.late_kept_spans,
        "lateDroppedSpans": s.late_dropped_spans,
        "expiredTraces": s.expired_traces,
        "expiredSpans": s.expired_spans,
        "evictedTraces": s.evicted_traces,
        "evictedSpans": s.evicted_spans,
        "evictedBytes": s.evicted_bytes,
        "retroactiveKeeps": s.retroactive_keeps,
        "decisionCacheTraces": s.decision_cache_traces,
        "decisionCacheBytes": s.decision_cache_bytes,
        "decisionCacheEvicted": s.decision_cache_evicted,
        "adaptiveOverLimit": s.adaptive_over_limit,
        "decisionLatency": {
            "p50Nanos": s.decision_latency.p50_ns,
            "p90Nanos": s.decision_latency.p90_ns,
            "p99Nanos": s.decision_latency.p99_ns,
            "maxNanos": s.decision_latency.max_ns,
        },
        "forward": s.forward.map(|f| json!({
            "queuedSpans": f.queued_spans,
            "queuedBytes": f.queued_bytes,
            "maxBytes": f.max_bytes,
            "sentSpans": f.sent_spans,
            "rejectedSpans": f.rejected_spans,
            "droppedSpans": f.dropped_spans,
            "failedAttempts": f.failed_attempts,
        })),
        "forwardError": s.forward_error,
    })
}

/// `GET /api/sampling/operations?window_s=&now_ns=`
pub(crate) async fn operations_route(
    State(store): State<TraceStore>,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let Some(longest) = store.sampling_operations_window() else {
        return error(StatusCode::CONFLICT, OFF);
    };
    if let Some(k) = q
        .keys()
        .find(|k| !matches!(k.as_str(), "window_s" | "now_ns"))
    {
        return error(
            StatusCode::BAD_REQUEST,
            format!("unknown query parameter `{k}`"),
        );
    }
    let longest_s = longest.as_secs().max(1);
    let window_s = match q.get("window_s").map(|v| v.parse::<u64>()) {
        None => longest_s,
        Some(Ok(v)) if v > 0 => v.min(longest_s),
        Some(_) => {
            return error(
                StatusCode::BAD_REQUEST,
                "`window_s` must be a positive number of seconds",
            );
        }
    };
    let now_ns = match q.get("now_ns").map(|v| v.parse::<u64>()) {
        None => tracewire::export::unix_nanos(SystemTime::now()),
        Some(Ok(v)) => v,
        Some(Err(_)) => {
            return error(
                StatusCode::BAD_REQUEST,
                "`now_ns` must be nanoseconds since the Unix epoch",
            );
        }
    };
    let ops = store
        .sampling_operations(now_ns, Duration::from_secs(window_s))
        .unwrap_or_default();
    let rows: Vec<J> = ops
        .iter()
        .map(|o| {
            json!({
                "service": &*o.service,
                "operation": &*o.operation,
                "seen": o.seen,
                "kept": o.kept,
            })
        })
        .collect();
    Json(json!({ "data": {
        "windowS": window_s,
        "nowNanos": now_ns.to_string(),
        "operations": rows,
    }}))
    .into_response()
}
