//! OTLP/HTTP (protobuf or JSON bodies) over hyper-util's pooled HTTP/1.1 client.

use std::time::{Duration, SystemTime};

use bytes::Bytes;
use http::header::{
    CONTENT_ENCODING, CONTENT_TYPE, HeaderMap, HeaderValue, RETRY_AFTER, USER_AGENT,
};
use http_body_util::{BodyExt as _, Full, Limited};
use hyper_util::client::legacy::Client as HyperClient;
use hyper_util::rt::{TokioExecutor, TokioTimer};
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceResponse;
use prost::Message as _;

use super::{Accepted, AttemptError, Connector, USER_AGENT_VALUE};
use crate::config::{Compression, Protocol};
use crate::error::OtlpExportError;
use crate::exporter::Settings;

/// The most bytes of a response body that are read; the rest is ignored.
const MAX_RESPONSE_BYTES: usize = 64 * 1024;

pub(crate) struct HttpClient {
    client: HyperClient<Connector, Full<Bytes>>,
    settings: Settings,
    headers: HeaderMap,
    json: bool,
}

fn connector(settings: &Settings) -> Connector {
    let tcp = super::tcp(settings);
    #[cfg(feature = "tls")]
    let tcp = super::tls_builder(settings)
        .enable_http1()
        .wrap_connector(tcp);
    tcp
}

impl HttpClient {
    pub(super) fn new(settings: &Settings) -> Result<HttpClient, OtlpExportError> {
        let client = HyperClient::builder(TokioExecutor::new())
            .pool_timer(TokioTimer::new())
            .pool_idle_timeout(Duration::from_secs(30))
            .pool_max_idle_per_host(1)
            .build(connector(settings));
        let json = settings.protocol == Protocol::HttpJson;
        let mut headers = settings.headers.clone();
        headers.insert(
            CONTENT_TYPE,
            HeaderValue::from_static(if json {
                "application/json"
            } else {
                "application/x-protobuf"
            }),
        );
        headers.insert(USER_AGENT, HeaderValue::from_static(USER_AGENT_VALUE));
        if settings.compression == Compression::Gzip {
            headers.insert(CONTENT_ENCODING, HeaderValue::from_static("gzip"));
        }
        Ok(HttpClient {
            client,
            settings: settings.clone(),
            headers,
            json,
        })
    }

    pub(super) async fn send(&self, body: Bytes) -> Result<Accepted, AttemptError> {
        let mut req = http::Request::new(Full::new(body));
        *req.method_mut() = http::Method::POST;
        *req.uri_mut() = self.settings.endpoint.clone();
        *req.headers_mut() = self.headers.clone();
        let resp = self.client.request(req).await.map_err(|e| {
            let established = !e.is_connect();
            AttemptError::unreachable(&e, &self.settings, established)
        })?;
        let status = resp.status();
        let retry_after = resp
            .headers()
            .get(RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| crate::retry::parse_retry_after(v, SystemTime::now()));
        let body = Limited::new(resp.into_body(), MAX_RESPONSE_BYTES)
            .collect()
            .await
            .map(|b| b.to_bytes())
            .unwrap_or_default();
        if status.is_success() {
            return Ok(if self.json {
                from_json(&body)
            } else {
                ExportTraceServiceResponse::decode(body)
                    .map(|r| Accepted::from_response(&r))
                    .unwrap_or_default()
            });
        }
        let retryable = matches!(status.as_u16(), 429 | 502 | 503 | 504);
        // A text or JSON explanation is worth keeping; protobuf `Status` bodies are not decoded.
        let message = std::str::from_utf8(&body)
            .map(|t| t.trim().chars().take(200).collect())
            .unwrap_or_default();
        Err(AttemptError {
            error: OtlpExportError::HttpStatus {
                status: status.as_u16(),
                message,
            },
            retryable,
            retry_after: if retryable { retry_after } else { None },
        })
    }
}

/// Reads an OTLP/JSON response leniently: `rejectedSpans` may be a number or a decimal string
/// (the protobuf JSON mapping writes 64-bit integers as strings).
#[cfg(feature = "http-json")]
fn from_json(body: &[u8]) -> Accepted {
    let Ok(v) = serde_json::from_slice::<serde_json::Value>(body) else {
        return Accepted::default();
    };
    let p = &v["partialSuccess"];
    let rejected = match &p["rejectedSpans"] {
        serde_json::Value::Number(n) => n.as_u64().unwrap_or(0),
        serde_json::Value::String(s) => s.parse().unwrap_or(0),
        _ => 0,
    };
    Accepted {
        rejected,
        message: p["errorMessage"].as_str().unwrap_or_default().to_owned(),
    }
}

/// Without `http-json` no JSON request is ever sent, so no JSON answer is read.
#[cfg(not(feature = "http-json"))]
fn from_json(_: &[u8]) -> Accepted {
    Accepted::default()
}

#[cfg(all(test, feature = "http-json"))]
mod tests {
    use super::*;

    #[test]
    fn json_partial_success_is_read_leniently() {
        let want = Accepted {
            rejected: 3,
            message: "too old".into(),
        };
        assert_eq!(
            from_json(br#"{"partialSuccess":{"rejectedSpans":"3","errorMessage":"too old"}}"#),
            want
        );
        assert_eq!(
            from_json(br#"{"partialSuccess":{"rejectedSpans":3,"errorMessage":"too old"}}"#),
            want
        );
        assert_eq!(from_json(b"{}"), Accepted::default());
        assert_eq!(from_json(b""), Accepted::default());
    }
}
