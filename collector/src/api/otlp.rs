//! A trace as OTLP/JSON, to download (`GET /api/traces/{trace_id}/otlp`) and to upload again
//! (`POST /api/traces`), so a trace can be shared or attached to a bug report.

use std::collections::{BTreeSet, HashMap};

use axum::body::Body;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use http::{HeaderMap, Request, StatusCode, header};
use http_body_util::BodyExt;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::{AnyValue, InstrumentationScope, KeyValue, any_value};
use opentelemetry_proto::tonic::resource::v1::Resource;
use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans, Status, span};
use serde_json::{Value as J, json};
use tower::ServiceExt;

use super::{TracePath, answer, data, error};
use crate::collector::TraceStore;
use crate::model::{AttrValue, Attribute, Span, StatusCode as SpanStatus, TraceId, kind_to_u8};
use crate::sampling::KeepOutcome;

/// The largest upload: the OTLP receiver's default request cap.
pub(crate) const MAX_UPLOAD_BYTES: usize = 4 << 20;
/// The most spans a download holds: the first in waterfall order (a bigger trace is cut, and
/// the answer says how many it has in `Tracewire-Span-Count`).
pub(crate) const MAX_DOWNLOAD_SPANS: usize = 10_000;
/// The header of a download giving the number of spans in the whole trace.
static SPAN_COUNT: http::HeaderName = http::HeaderName::from_static("tracewire-span-count");

/// The most distinct traces one upload keeps past tail sampling.
const MAX_UPLOAD_TRACES: usize = 1000;

fn attrs(list: &[Attribute]) -> Vec<KeyValue> {
    list.iter()
        .map(|a| KeyValue {
            key: a.key.to_string(),
            value: Some(AnyValue {
                value: Some(match &a.value {
                    AttrValue::String(s) => any_value::Value::StringValue(s.to_string()),
                    AttrValue::Bool(b) => any_value::Value::BoolValue(*b),
                    AttrValue::Int(i) => any_value::Value::IntValue(*i),
                    AttrValue::Double(d) => any_value::Value::DoubleValue(*d),
                    // Arrays, key/value lists and bytes are stored as their JSON text.
                    AttrValue::Json(s) => any_value::Value::StringValue(s.to_string()),
                }),
            }),
            ..Default::default()
        })
        .collect()
}

fn proto_span(s: &Span) -> opentelemetry_proto::tonic::trace::v1::Span {
    opentelemetry_proto::tonic::trace::v1::Span {
        trace_id: s.trace_id().to_bytes().to_vec(),
        span_id: s.span_id().to_bytes().to_vec(),
        trace_state: s.trace_state().unwrap_or_default().to_owned(),
        parent_span_id: s
            .parent_span_id()
            .map(|p| p.to_bytes().to_vec())
            .unwrap_or_default(),
        flags: s.flags(),
        name: s.name().to_owned(),
        kind: i32::from(kind_to_u8(s.kind())) + 1,
        start_time_unix_nano: s.start_unix_nano(),
        end_time_unix_nano: s.end_unix_nano(),
        attributes: attrs(s.attributes()),
        dropped_attributes_count: s.dropped_attributes(),
        events: s
            .events()
            .iter()
            .map(|e| span::Event {
                time_unix_nano: e.time_unix_nano,
                name: e.name.to_string(),
                attributes: attrs(&e.attributes),
                ..Default::default()
            })
            .collect(),
        dropped_events_count: s.dropped_events(),
        links: s
            .links()
            .iter()
            .map(|l| span::Link {
                trace_id: l.trace_id.to_bytes().to_vec(),
                span_id: l.span_id.to_bytes().to_vec(),
                attributes: attrs(&l.attributes),
                ..Default::default()
            })
            .collect(),
        dropped_links_count: s.dropped_links(),
        status: Some(Status {
            message: s.status_message().unwrap_or_default().to_owned(),
            code: match s.status() {
                SpanStatus::Unset => 0,
                SpanStatus::Ok => 1,
                SpanStatus::Error => 2,
            },
        }),
    }
}

/// The spans of one trace as one OTLP request: one resource entry per distinct resource, one
/// scope entry per scope within it, in the order first seen.
pub(crate) fn request(spans: &[Span]) -> ExportTraceServiceRequest {
    let mut out: Vec<ResourceSpans> = Vec::new();
    let mut resources: Vec<&[Attribute]> = Vec::new();
    let mut scopes: HashMap<(usize, &str, &str), usize> = HashMap::new();
    for s in spans {
        let res: &[Attribute] = s.resource();
        let r = match resources.iter().position(|&p| p == res) {
            Some(r) => r,
            None => {
                resources.push(res);
                out.push(ResourceSpans {
                    resource: Some(Resource {
                        attributes: attrs(res),
                        dropped_attributes_count: s.dropped_resource_attributes(),
                        ..Default::default()
                    }),
                    ..Default::default()
                });
                resources.len() - 1
            }
        };
        let scope = s.scope();
        let si = *scopes
            .entry((r, &*scope.name, &*scope.version))
            .or_insert_with(|| {
                out[r].scope_spans.push(ScopeSpans {
                    scope: Some(InstrumentationScope {
                        name: scope.name.to_string(),
                        version: scope.version.to_string(),
                        ..Default::default()
                    }),
                    ..Default::default()
                });
                out[r].scope_spans.len() - 1
            });
        out[r].scope_spans[si].spans.push(proto_span(s));
    }
    ExportTraceServiceRequest {
        resource_spans: out,
    }
}

/// `GET /api/traces/{trace_id}/otlp`: the stored spans of the trace (at most
/// [`MAX_DOWNLOAD_SPANS`]) as an OTLP/JSON `ExportTraceServiceRequest`, to save
/// (`Content-Disposition: attachment`).
pub(crate) async fn download(
    State(store): State<TraceStore>,
    TracePath(trace_id): TracePath,
) -> Response {
    answer(&store, move |s| {
        let Some(page) = s.trace_page(trace_id, 0, MAX_DOWNLOAD_SPANS) else {
            return error(StatusCode::NOT_FOUND, format!("trace {trace_id} not found"));
        };
        let spans: Vec<Span> = page.nodes.into_iter().map(|n| n.span).collect();
        match serde_json::to_vec(&request(&spans)) {
            Ok(body) => (
                [
                    (header::CONTENT_TYPE, "application/json".to_owned()),
                    (SPAN_COUNT.clone(), page.span_count.to_string()),
                    (
                        header::CONTENT_DISPOSITION,
                        format!("attachment; filename=\"trace-{trace_id}.json\""),
                    ),
                ],
                body,
            )
                .into_response(),
            Err(e) => error(
                StatusCode::INTERNAL_SERVER_ERROR,
                format!("cannot encode trace {trace_id}: {e}"),
            ),
        }
    })
    .await
}

/// The distinct trace ids (hex) of an OTLP/JSON request, at most [`MAX_UPLOAD_TRACES`].
fn trace_ids(body: &[u8]) -> BTreeSet<String> {
    let mut ids = BTreeSet::new();
    let Ok(v) = serde_json::from_slice::<J>(body) else {
        return ids;
    };
    let list = |v: &J, k: &str| v.get(k).and_then(J::as_array).cloned().unwrap_or_default();
    for rs in list(&v, "resourceSpans") {
        for ss in list(&rs, "scopeSpans") {
            for sp in list(&ss, "spans") {
                // Only well-formed ids, written back the one way (they become links).
                if let Some(t) = sp.get("traceId").and_then(J::as_str)
                    && let Ok(id) = t.to_ascii_lowercase().parse::<TraceId>()
                    && ids.len() < MAX_UPLOAD_TRACES
                {
                    ids.insert(id.to_string());
                }
            }
        }
    }
    ids
}

/// `POST /api/traces`: an OTLP/JSON `ExportTraceServiceRequest` (what the download gives),
/// stored through the OTLP receiver's own checks and limits; with tail sampling on, its traces
/// are kept whatever the policies decide.
pub(crate) async fn upload(
    State(store): State<TraceStore>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let json = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| {
            v.split(';')
                .next()
                .is_some_and(|m| m.trim().eq_ignore_ascii_case("application/json"))
        });
    if !json {
        return error(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "upload OTLP/JSON with `Content-Type: application/json` (protobuf goes to the OTLP \
             receiver's POST /v1/traces)",
        );
    }
    let bytes = match http_body_util::Limited::new(body, MAX_UPLOAD_BYTES)
        .collect()
        .await
    {
        Ok(b) => b.to_bytes(),
        Err(_) => {
            return error(
                StatusCode::PAYLOAD_TOO_LARGE,
                format!("upload exceeds the limit of {MAX_UPLOAD_BYTES} bytes"),
            );
        }
    };
    let ids = trace_ids(&bytes);
    let req = Request::post("/v1/traces")
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from(bytes))
        .expect("a static request");
    let receiver = crate::receiver::http::router(store.shared.clone(), MAX_UPLOAD_BYTES);
    let res = match receiver.oneshot(req).await {
        Ok(r) => r,
        Err(e) => match e {},
    };
    let status = res.status();
    let answer_body = res
        .into_body()
        .collect()
        .await
        .map(|b| b.to_bytes())
        .unwrap_or_default();
    let parsed: J = serde_json::from_slice(&answer_body).unwrap_or(J::Null);
    if !status.is_success() {
        let message = parsed
            .get("message")
            .and_then(J::as_str)
            .map(str::to_owned)
            .unwrap_or_else(|| String::from_utf8_lossy(&answer_body).into_owned());
        return error(status, message);
    }
    let partial = parsed.get("partialSuccess");
    let rejected = partial
        .and_then(|p| p.get("rejectedSpans"))
        .and_then(|v| {
            v.as_u64()
                .or_else(|| v.as_str().and_then(|s| s.parse().ok()))
        })
        .unwrap_or(0);
    store.flush().await;
    let mut kept = 0usize;
    for id in &ids {
        if let Ok(t) = id.parse::<TraceId>()
            && let KeepOutcome::Kept { .. } = store.keep_trace(t).await
        {
            kept += 1;
        }
    }
    data(json!({
        "traceIds": ids,
        "rejectedSpans": rejected,
        "errorMessage": partial.and_then(|p| p.get("errorMessage")).cloned().unwrap_or(J::Null),
        "keptBySampling": kept,
    }))
}
