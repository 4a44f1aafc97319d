//! One request to the destination over HTTP (hyper) or gRPC (tonic), and how its answer is read.

use std::io::Write as _;
use std::time::{Duration, SystemTime};

use bytes::Bytes;
use http::header::{
    CONTENT_ENCODING, CONTENT_TYPE, HeaderMap, HeaderValue, RETRY_AFTER, USER_AGENT,
};
use http_body_util::{BodyExt as _, Full, Limited};
use hyper_util::client::legacy::Client as HyperClient;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::{TokioExecutor, TokioTimer};
use opentelemetry_proto::tonic::collector::trace::v1::trace_service_client::TraceServiceClient;
use opentelemetry_proto::tonic::collector::trace::v1::{
    ExportTraceServiceRequest, ExportTraceServiceResponse,
};
use prost::Message as _;
use tonic::codec::CompressionEncoding;
use tonic::transport::Channel;
use tracewire::ExportError;

use crate::config::{Compression, Protocol};

/// The `User-Agent` sent with every request.
pub(crate) const USER_AGENT_VALUE: &str = concat!("tracewire-otlp/", env!("CARGO_PKG_VERSION"));

/// The most bytes of a response body that are read; the rest is ignored.
const MAX_RESPONSE_BYTES: usize = 64 * 1024;

/// A request body ready to send, encoded once per batch.
pub(crate) enum Payload {
    /// The HTTP body, already compressed if asked.
    Http(Bytes),
    /// The gRPC message (tonic encodes and compresses it per attempt).
    Grpc(ExportTraceServiceRequest),
}

impl Payload {
    pub(crate) fn encode(
        request: ExportTraceServiceRequest,
        protocol: Protocol,
        compression: Compression,
    ) -> Result<Payload, ExportError> {
        let raw = match protocol {
            Protocol::Grpc => return Ok(Payload::Grpc(request)),
            Protocol::HttpJson => serde_json::to_vec(&request)
                .map_err(|e| ExportError::Transport(format!("json encoding failed: {e}")))?,
            Protocol::HttpProtobuf => request.encode_to_vec(),
        };
        Ok(Payload::Http(match compression {
            Compression::Gzip => Bytes::from(gzip(&raw)?),
            Compression::None => Bytes::from(raw),
        }))
    }

    /// The bytes this payload puts on the wire (for gRPC, the message before compression).
    pub(crate) fn len(&self) -> u64 {
        match self {
            Payload::Http(b) => b.len() as u64,
            Payload::Grpc(m) => m.encoded_len() as u64,
        }
    }
}

fn gzip(raw: &[u8]) -> Result<Vec<u8>, ExportError> {
    let mut enc = flate2::write::GzEncoder::new(
        Vec::with_capacity(raw.len() / 4 + 64),
        flate2::Compression::default(),
    );
    enc.write_all(raw)
        .and_then(|()| enc.finish())
        .map_err(|e| ExportError::Transport(format!("gzip failed: {e}")))
}

/// What the destination said to an accepted request.
#[derive(Debug, Default, PartialEq, Eq)]
pub(crate) struct Accepted {
    /// `partial_success.rejected_spans` (0 when absent).
    pub(crate) rejected: u64,
    /// `partial_success.error_message`.
    pub(crate) message: String,
}

impl Accepted {
    fn from_response(resp: &ExportTraceServiceResponse) -> Accepted {
        resp.partial_success
            .as_ref()
            .map(|p| Accepted {
                rejected: u64::try_from(p.rejected_spans).unwrap_or(0),
                message: p.error_message.clone(),
            })
            .unwrap_or_default()
    }

    /// Reads an OTLP/JSON response leniently: `rejectedSpans` may be a number or a decimal
    /// string (the protobuf JSON mapping writes 64-bit integers as strings).
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
}

/// A failed attempt.
#[derive(Debug)]
pub(crate) struct AttemptError {
    pub(crate) error: ExportError,
    pub(crate) retryable: bool,
    pub(crate) retry_after: Option<Duration>,
}

impl AttemptError {
    pub(crate) fn retryable(error: ExportError) -> Self {
        AttemptError {
            error,
            retryable: true,
            retry_after: None,
        }
    }

    fn fatal(error: ExportError) -> Self {
        AttemptError {
            error,
            retryable: false,
            retry_after: None,
        }
    }
}

/// The client for one destination.
#[expect(
    clippy::large_enum_variant,
    reason = "one per exporter, created once and never moved on a hot path"
)]
pub(crate) enum Client {
    Http(HttpClient),
    Grpc(GrpcClient),
}

impl Client {
    /// Creates the client; must run inside the exporter's runtime.
    pub(crate) fn new(settings: &crate::exporter::Settings) -> Result<Client, ExportError> {
        match settings.protocol {
            Protocol::Grpc => Ok(Client::Grpc(GrpcClient::new(settings)?)),
            Protocol::HttpProtobuf | Protocol::HttpJson => {
                Ok(Client::Http(HttpClient::new(settings)))
            }
        }
    }

    pub(crate) async fn send(&mut self, payload: &Payload) -> Result<Accepted, AttemptError> {
        match (self, payload) {
            (Client::Http(c), Payload::Http(body)) => c.send(body.clone()).await,
            (Client::Grpc(c), Payload::Grpc(msg)) => c.send(msg.clone()).await,
            _ => Err(AttemptError::fatal(ExportError::Transport(
                "payload does not match the protocol".to_owned(),
            ))),
        }
    }
}

pub(crate) struct HttpClient {
    client: HyperClient<HttpConnector, Full<Bytes>>,
    uri: http::Uri,
    headers: HeaderMap,
    json: bool,
}

impl HttpClient {
    fn new(settings: &crate::exporter::Settings) -> HttpClient {
        let mut connector = HttpConnector::new();
        connector.set_connect_timeout(Some(settings.timeout));
        connector.set_nodelay(true);
        let client = HyperClient::builder(TokioExecutor::new())
            .pool_timer(TokioTimer::new())
            .pool_idle_timeout(Duration::from_secs(30))
            .pool_max_idle_per_host(1)
            .build(connector);
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
        HttpClient {
            client,
            uri: settings.endpoint.clone(),
            headers,
            json,
        }
    }

    async fn send(&self, body: Bytes) -> Result<Accepted, AttemptError> {
        let mut req = http::Request::new(Full::new(body));
        *req.method_mut() = http::Method::POST;
        *req.uri_mut() = self.uri.clone();
        *req.headers_mut() = self.headers.clone();
        let resp = self
            .client
            .request(req)
            .await
            .map_err(|e| AttemptError::retryable(ExportError::Transport(error_chain(&e))))?;
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
                Accepted::from_json(&body)
            } else {
                ExportTraceServiceResponse::decode(body)
                    .map(|r| Accepted::from_response(&r))
                    .unwrap_or_default()
            });
        }
        let retryable = matches!(status.as_u16(), 429 | 502 | 503 | 504);
        let mut msg = format!("http status {}", status.as_u16());
        // A text or JSON explanation is worth keeping; protobuf `Status` bodies are not decoded.
        if let Ok(text) = std::str::from_utf8(&body) {
            let text = text.trim();
            if !text.is_empty() {
                msg.push_str(": ");
                msg.extend(text.chars().take(200));
            }
        }
        Err(AttemptError {
            error: ExportError::Transport(msg),
            retryable,
            retry_after: if retryable { retry_after } else { None },
        })
    }
}

pub(crate) struct GrpcClient {
    client: TraceServiceClient<Channel>,
    metadata: tonic::metadata::MetadataMap,
    timeout: Duration,
}

impl GrpcClient {
    fn new(settings: &crate::exporter::Settings) -> Result<GrpcClient, ExportError> {
        let channel = tonic::transport::Endpoint::from(settings.endpoint.clone())
            .user_agent(USER_AGENT_VALUE)
            .map_err(|e| ExportError::Transport(error_chain(&e)))?
            .connect_timeout(settings.timeout)
            .tcp_nodelay(true)
            .connect_lazy();
        let mut client = TraceServiceClient::new(channel);
        if settings.compression == Compression::Gzip {
            client = client.send_compressed(CompressionEncoding::Gzip);
        }
        client = client.accept_compressed(CompressionEncoding::Gzip);
        Ok(GrpcClient {
            client,
            metadata: tonic::metadata::MetadataMap::from_headers(settings.headers.clone()),
            timeout: settings.timeout,
        })
    }

    async fn send(&mut self, msg: ExportTraceServiceRequest) -> Result<Accepted, AttemptError> {
        let mut req = tonic::Request::new(msg);
        *req.metadata_mut() = self.metadata.clone();
        // Tells the server the deadline (`grpc-timeout`); the exporter enforces it itself.
        req.set_timeout(self.timeout);
        match self.client.export(req).await {
            Ok(resp) => Ok(Accepted::from_response(resp.get_ref())),
            Err(status) => {
                use tonic::Code;
                let retryable = matches!(
                    status.code(),
                    Code::Unavailable
                        | Code::ResourceExhausted
                        | Code::Cancelled
                        | Code::DeadlineExceeded
                        | Code::Aborted
                        | Code::OutOfRange
                        | Code::DataLoss
                );
                let mut msg = format!("grpc status {}", status.code() as i32);
                if !status.message().is_empty() {
                    msg.push_str(": ");
                    msg.push_str(status.message());
                }
                // tonic enforces the `grpc-timeout` it sends and reports it as `CANCELLED`.
                let timed_out = status.code() == Code::DeadlineExceeded
                    || (status.code() == Code::Cancelled && status.message() == "Timeout expired");
                let error = if timed_out {
                    ExportError::Timeout
                } else {
                    ExportError::Transport(msg)
                };
                Err(AttemptError {
                    error,
                    retryable,
                    retry_after: None,
                })
            }
        }
    }
}

/// An error and its sources, joined with `: ` (hyper's top-level messages are vague).
fn error_chain(e: &dyn std::error::Error) -> String {
    let mut out = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        let s_text = s.to_string();
        if !out.contains(&s_text) {
            out.push_str(": ");
            out.push_str(&s_text);
        }
        source = s.source();
    }
    out
}

#[cfg(test)]
mod tests {
    use opentelemetry_proto::tonic::collector::trace::v1::ExportTracePartialSuccess;

    use super::*;

    #[test]
    fn partial_success_is_read_from_both_encodings() {
        let resp = ExportTraceServiceResponse {
            partial_success: Some(ExportTracePartialSuccess {
                rejected_spans: 3,
                error_message: "too old".into(),
            }),
        };
        let want = Accepted {
            rejected: 3,
            message: "too old".into(),
        };
        assert_eq!(Accepted::from_response(&resp), want);
        assert_eq!(
            Accepted::from_json(
                br#"{"partialSuccess":{"rejectedSpans":"3","errorMessage":"too old"}}"#
            ),
            want
        );
        assert_eq!(
            Accepted::from_json(
                br#"{"partialSuccess":{"rejectedSpans":3,"errorMessage":"too old"}}"#
            ),
            want
        );
        assert_eq!(Accepted::from_json(b"{}"), Accepted::default());
        assert_eq!(Accepted::from_json(b""), Accepted::default());
        assert_eq!(
            Accepted::from_response(&ExportTraceServiceResponse::default()),
            Accepted::default()
        );
    }

    #[test]
    fn gzip_round_trips() {
        use std::io::Read as _;
        let raw = b"hello hello hello hello".repeat(10);
        let packed = gzip(&raw).unwrap();
        let mut out = Vec::new();
        flate2::read::GzDecoder::new(&packed[..])
            .read_to_end(&mut out)
            .unwrap();
        assert_eq!(out, raw);
        assert!(packed.len() < raw.len());
    }
}
