//! The JSON shapes of the API's answers.

use serde_json::{Value as J, json};

use crate::model::{Attribute, Span};
use crate::query::{StoreStats, TraceSummary};
use crate::reads::TracePage;

fn attrs_json(attrs: &[Attribute]) -> J {
    J::Object(
        attrs
            .iter()
            .map(|a| (a.key.to_string(), a.value.to_json()))
            .collect(),
    )
}

pub(super) fn summary_json(s: &TraceSummary) -> J {
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
        "resourceDroppedAttributesCount": s.dropped_resource_attributes(),
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

/// A page of a trace as the API shows it: nodes in waterfall order, with the page's place.
pub(super) fn page_json(p: &TracePage, limit: usize) -> J {
    let spans: Vec<J> = p
        .nodes
        .iter()
        .map(|n| {
            let mut s = span_json(&n.span);
            if let J::Object(m) = &mut s {
                m.insert("depth".into(), json!(n.depth));
                m.insert("orphan".into(), json!(n.orphan));
                m.insert("childCount".into(), json!(n.child_count));
                m.insert(
                    "children".into(),
                    json!(n.children.iter().map(|c| c.to_string()).collect::<Vec<_>>()),
                );
            }
            s
        })
        .collect();
    json!({
        "traceId": p.trace_id.to_string(),
        "startTimeUnixNano": p.start_unix_nano.to_string(),
        "durationNanos": p.duration_nanos,
        "rootSpanId": p.root_span_id.map(|r| r.to_string()),
        "orphanCount": p.orphan_count,
        "spanCount": p.span_count,
        "offset": p.offset,
        "limit": limit,
        "nextOffset": p.next_offset(),
        "spans": spans,
    })
}

pub(super) fn stats_json(s: &StoreStats) -> J {
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
        "queuedBytes": s.queued_bytes,
        "maxQueueBytes": s.max_queue_bytes,
        "resources": s.resources,
        "writerPanics": s.writer_panics,
        "observerPanics": s.observer_panics,
    })
}
