//! OTLP/HTTP: `POST /v1/traces` with `application/x-protobuf` or `application/json` bodies,
//! optionally `Content-Encoding: gzip`.
//!
//! | situation | status | body |
//! |---|---|---|
//! | stored (some spans may be rejected) | 200 | `ExportTraceServiceResponse`, `partialSuccess` set when spans were rejected |
//! | body not decodable, bad gzip | 400 | `google.rpc.Status` with code 3 (INVALID_ARGUMENT) and the reason |
//! | body (compressed or decompressed) over the cap | 413 | `google.rpc.Status`, code 3 |
//! | content type or encoding not supported | 415 | plain text |
//! | ingest queue full | 429 + `Retry-After: 1` | `google.rpc.Status`, code 14 (UNAVAILABLE) |
//! | the collector's budget of request bytes in flight is used up | 429 + `Retry-After: 1` | `google.rpc.Status`, code 8 (RESOURCE_EXHAUSTED) |
//! | body not received within the body read timeout | 408 + `Connection: close` | `google.rpc.Status`, code 4 (DEADLINE_EXCEEDED) |
//! | collector shutting down | 503 | `google.rpc.Status`, code 14 |
//!
//! Success and `google.rpc.Status` bodies use the request's content type.

use std::io::Read;
use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use bytes::Bytes;
use http::{HeaderMap, HeaderValue, StatusCode, header};
use http_body_util::{BodyExt, LengthLimitError, Limited};
use prost::Message;

use crate::ingest::{Shared, SubmitError};
use crate::otlp::{RpcStatus, code, convert_within};
use crate::serve::RequestBodyError;

/// `google.rpc.Code` values answered by the edge's limits.
const RESOURCE_EXHAUSTED: i32 = 8;
const DEADLINE_EXCEEDED: i32 = 4;

#[derive(Clone)]
struct HttpState {
    shared: Arc<Shared>,
    max_body: usize,
}

/// The OTLP/HTTP router: `POST /v1/traces`.
pub(crate) fn router(shared: Arc<Shared>, max_body: usize) -> Router {
    Router::new()
        .route("/v1/traces", post(export))
        .with_state(HttpState { shared, max_body })
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Format {
    Protobuf,
    Json,
}

impl Format {
    fn content_type(self) -> &'static str {
        match self {
            Format::Protobuf => "application/x-protobuf",
            Format::Json => "application/json",
        }
    }
}

fn media_type(headers: &HeaderMap) -> String {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase()
}

fn status_response(format: Format, status: StatusCode, code: i32, message: String) -> Response {
    let body = match format {
        Format::Protobuf => RpcStatus { code, message }.encode_to_vec(),
        Format::Json => serde_json::json!({ "code": code, "message": message })
            .to_string()
            .into_bytes(),
    };
    (
        status,
        [(header::CONTENT_TYPE, format.content_type())],
        body,
    )
        .into_response()
}

fn with_header(mut r: Response, name: header::HeaderName, value: &'static str) -> Response {
    r.headers_mut()
        .insert(name, HeaderValue::from_static(value));
    r
}

/// 429 with `Retry-After: 1`: the collector is busy, the request may be sent again.
fn retry_later(format: Format, code: i32, message: String) -> Response {
    let r = status_response(format, StatusCode::TOO_MANY_REQUESTS, code, message);
    with_header(r, header::RETRY_AFTER, "1")
}

fn plain(status: StatusCode, message: String) -> Response {
    (
        status,
        [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
        message,
    )
        .into_response()
}

async fn export(State(st): State<HttpState>, req: Request) -> Response {
    let (parts, body) = req.into_parts();
    let format = match media_type(&parts.headers).as_str() {
        "application/x-protobuf" | "application/protobuf" => Format::Protobuf,
        "application/json" => Format::Json,
        other => {
            return plain(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                format!(
                    "unsupported content type `{other}`: use application/x-protobuf or application/json"
                ),
            );
        }
    };
    let gzip = match parts
        .headers
        .get(header::CONTENT_ENCODING)
        .and_then(|v| v.to_str().ok())
        .map(|v| v.trim().to_ascii_lowercase())
        .as_deref()
    {
        None | Some("" | "identity") => false,
        Some("gzip") => true,
        Some(other) => {
            return plain(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                format!("unsupported content encoding `{other}`: use gzip or none"),
            );
        }
    };
    let invalid = |message: String| {
        status_response(
            format,
            StatusCode::BAD_REQUEST,
            code::INVALID_ARGUMENT,
            message,
        )
    };
    let too_large = || {
        status_response(
            format,
            StatusCode::PAYLOAD_TOO_LARGE,
            code::INVALID_ARGUMENT,
            format!("request body exceeds the limit of {} bytes", st.max_body),
        )
    };
    let declared = parts
        .headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > st.max_body as u64) {
        return too_large();
    }
    let bytes = match read_body(body, st.max_body).await {
        Ok(b) => b,
        Err(BodyError::TooLarge) => return too_large(),
        Err(BodyError::Edge(e @ RequestBodyError::OverBudget { .. })) => {
            return retry_later(format, RESOURCE_EXHAUSTED, e.to_string());
        }
        Err(BodyError::Edge(e @ RequestBodyError::TimedOut(_))) => {
            let r = status_response(
                format,
                StatusCode::REQUEST_TIMEOUT,
                DEADLINE_EXCEEDED,
                e.to_string(),
            );
            return with_header(r, header::CONNECTION, "close");
        }
        Err(BodyError::Read(e)) => return invalid(format!("could not read request body: {e}")),
    };
    let bytes = if gzip {
        match gunzip(&bytes, st.max_body) {
            Ok(b) => Bytes::from(b),
            Err(GunzipError::TooLarge) => {
                return status_response(
                    format,
                    StatusCode::PAYLOAD_TOO_LARGE,
                    code::INVALID_ARGUMENT,
                    format!(
                        "decompressed request body exceeds the limit of {} bytes",
                        st.max_body
                    ),
                );
            }
            Err(GunzipError::Invalid(e)) => return invalid(format!("invalid gzip body: {e}")),
        }
    } else {
        bytes
    };
    let decoded = match format {
        Format::Protobuf => crate::otlp::decode_protobuf_within(bytes, &st.shared.decode)
            .map_err(|e| format!("invalid protobuf ExportTraceServiceRequest: {e}")),
        Format::Json => crate::json::decode_request_within(&bytes, &st.shared.decode)
            .map_err(|e| format!("invalid JSON ExportTraceServiceRequest: {e}")),
    };
    let request = match decoded {
        Ok(r) => r,
        Err(message) => return invalid(message),
    };
    let converted = convert_within(request, &st.shared.decode);
    let rejected = converted.rejected as u64;
    let response = converted.response();
    if converted.accepted > 0 {
        match st.shared.submit(converted.batches) {
            Ok(_) => {}
            Err(SubmitError::Full) => {
                return retry_later(
                    format,
                    code::UNAVAILABLE,
                    "collector ingest queue is full; retry later".to_owned(),
                );
            }
            Err(SubmitError::Closed) => {
                return status_response(
                    format,
                    StatusCode::SERVICE_UNAVAILABLE,
                    code::UNAVAILABLE,
                    "collector is shutting down".to_owned(),
                );
            }
        }
    }
    st.shared.count_rejected(rejected);
    let body = match format {
        Format::Protobuf => response.encode_to_vec(),
        Format::Json => match &response.partial_success {
            // Default fields are omitted in OTLP/JSON.
            None => b"{}".to_vec(),
            Some(p) => serde_json::json!({"partialSuccess": {
                "rejectedSpans": p.rejected_spans,
                "errorMessage": p.error_message,
            }})
            .to_string()
            .into_bytes(),
        },
    };
    (
        StatusCode::OK,
        [(header::CONTENT_TYPE, format.content_type())],
        body,
    )
        .into_response()
}

enum BodyError {
    TooLarge,
    Edge(RequestBodyError),
    Read(String),
}

async fn read_body(body: Body, max: usize) -> Result<Bytes, BodyError> {
    match Limited::new(body, max).collect().await {
        Ok(c) => Ok(c.to_bytes()),
        Err(e) if e.is::<LengthLimitError>() => Err(BodyError::TooLarge),
        Err(e) => {
            // axum wraps the errors of lower layers (the limit, the edge's budget and
            // deadline); look through the chain.
            let mut source: Option<&(dyn std::error::Error + 'static)> = Some(&*e);
            while let Some(s) = source {
                if s.is::<LengthLimitError>() {
                    return Err(BodyError::TooLarge);
                }
                if let Some(edge) = s.downcast_ref::<RequestBodyError>() {
                    return Err(BodyError::Edge(*edge));
                }
                source = s.source();
            }
            Err(BodyError::Read(e.to_string()))
        }
    }
}

enum GunzipError {
    TooLarge,
    Invalid(std::io::Error),
}

/// Decompresses at most `max` bytes; a longer output is refused without being produced, so a
/// small, highly compressed body cannot exhaust memory.
fn gunzip(data: &[u8], max: usize) -> Result<Vec<u8>, GunzipError> {
    let mut out = Vec::with_capacity((data.len() * 4).min(max));
    let mut decoder = flate2::read::MultiGzDecoder::new(data).take(max as u64 + 1);
    decoder
        .read_to_end(&mut out)
        .map_err(GunzipError::Invalid)?;
    if out.len() > max {
        return Err(GunzipError::TooLarge);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    #[test]
    fn gunzip_caps_the_decompressed_size() {
        let raw = vec![0u8; 100_000];
        let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
        enc.write_all(&raw).unwrap();
        let gz = enc.finish().unwrap();
        assert!(gz.len() < 1000);
        assert!(matches!(gunzip(&gz, 99_999), Err(GunzipError::TooLarge)));
        assert_eq!(gunzip(&gz, 100_000).ok().map(|v| v.len()), Some(100_000));
        assert!(matches!(
            gunzip(b"not gzip", 100),
            Err(GunzipError::Invalid(_))
        ));
    }
}
