//! The sampling routes of the JSON API (mounted by [`api_router`](crate::api_router); see
//! `API.md`): retroactive keep, where a trace stands, counters, seen vs kept per operation.

use std::time::SystemTime;

use axum::extract::{RawQuery, State};
use axum::response::Response;
use http::StatusCode;
use serde_json::{Value as J, json};

use super::policy::{Reason, Trigger};
use super::stats::{KeepOutcome, SamplingStats, TraceSampling};
use crate::api::{TracePath, Window, data, error};
use crate::collector::TraceStore;

const OFF: &str = "tail sampling is off: every received span is stored";

/// `POST /api/traces/{trace_id}/keep`
pub(crate) async fn keep_route(
    State(store): State<TraceStore>,
    TracePath(trace_id): TracePath,
) -> Response {
    let answer = |outcome: &str, spans: usize| {
        data(json!({
            "traceId": trace_id.to_string(),
            "outcome": outcome,
            "spans": spans,
        }))
    };
    match store.keep_trace(trace_id).await {
        KeepOutcome::Kept { spans } => answer("kept", spans),
        KeepOutcome::AlreadyKept => answer("already_kept", 0),
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
    TracePath(trace_id): TracePath,
) -> Response {
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
    data(body)
}

/// `GET /api/sampling/stats`
pub(crate) async fn stats_route(State(store): State<TraceStore>) -> Response {
    let stats = match store.sampling_stats() {
        Some(s) => stats_json(&s),
        None => json!({ "enabled": false }),
    };
    data(stats)
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

/// `GET /api/sampling/operations?window=&end=`
pub(crate) async fn operations_route(
    State(store): State<TraceStore>,
    RawQuery(raw): RawQuery,
) -> Response {
    let Some(longest) = store.sampling_operations_window() else {
        return error(StatusCode::CONFLICT, OFF);
    };
    let now = tracewire::export::unix_nanos(SystemTime::now());
    let w = match Window::parse(raw.as_deref().unwrap_or(""), longest, now) {
        Ok(w) => w,
        Err(e) => return error(StatusCode::BAD_REQUEST, e),
    };
    let ops = store
        .sampling_operations(w.end_ns, w.window)
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
    data(json!({
        "windowNanos": u64::try_from(w.window.as_nanos()).unwrap_or(u64::MAX),
        "endTimeUnixNano": w.end_ns.to_string(),
        "operations": rows,
    }))
}
