//! One request to the destination over HTTP (hyper) or gRPC (tonic), and how its answer is read.

#[cfg(feature = "grpc")]
mod grpc_client;
#[cfg(feature = "_http")]
mod http_client;

use std::io::Write as _;
use std::time::Duration;

use bytes::Bytes;
use opentelemetry_proto::tonic::collector::trace::v1::{
    ExportTraceServiceRequest, ExportTraceServiceResponse,
};
use prost::Message as _;

use crate::config::{Compression, Protocol};
use crate::error::OtlpExportError;
use crate::exporter::Settings;

/// The `User-Agent` sent with every request.
#[cfg_attr(not(any(feature = "_http", feature = "grpc")), allow(dead_code))]
pub(crate) const USER_AGENT_VALUE: &str = concat!("tracewire-otlp/", env!("CARGO_PKG_VERSION"));

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
    ) -> Result<Payload, OtlpExportError> {
        let raw = match protocol {
            Protocol::Grpc => return Ok(Payload::Grpc(request)),
            #[cfg(feature = "http-json")]
            Protocol::HttpJson => serde_json::to_vec(&request)
                .map_err(|e| OtlpExportError::Encode(format!("json: {e}")))?,
            #[cfg(not(feature = "http-json"))]
            Protocol::HttpJson => {
                return Err(OtlpExportError::Encode(
                    "http/json is not in this build".to_owned(),
                ));
            }
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

fn gzip(raw: &[u8]) -> Result<Vec<u8>, OtlpExportError> {
    let mut enc = flate2::write::GzEncoder::new(
        Vec::with_capacity(raw.len() / 4 + 64),
        flate2::Compression::default(),
    );
    enc.write_all(raw)
        .and_then(|()| enc.finish())
        .map_err(|e| OtlpExportError::Encode(format!("gzip: {e}")))
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
    #[cfg_attr(not(any(feature = "_http", feature = "grpc")), allow(dead_code))]
    fn from_response(resp: &ExportTraceServiceResponse) -> Accepted {
        resp.partial_success
            .as_ref()
            .map(|p| Accepted {
                rejected: u64::try_from(p.rejected_spans).unwrap_or(0),
                message: p.error_message.clone(),
            })
            .unwrap_or_default()
    }
}

/// A failed attempt.
#[derive(Debug)]
pub(crate) struct AttemptError {
    pub(crate) error: OtlpExportError,
    pub(crate) retryable: bool,
    /// The server's own wait (`Retry-After`, `RetryInfo`), uncapped.
    pub(crate) retry_after: Option<Duration>,
}

impl AttemptError {
    pub(crate) fn retryable(error: OtlpExportError) -> Self {
        AttemptError {
            error,
            retryable: true,
            retry_after: None,
        }
    }

    pub(crate) fn fatal(error: OtlpExportError) -> Self {
        AttemptError {
            error,
            retryable: false,
            retry_after: None,
        }
    }

    /// A failure to reach the endpoint or to hear its answer: a TLS failure (never retried: a
    /// certificate problem does not fix itself within a retry budget), or a connection failure
    /// (retried). `established` says the connection (and its handshake) had been made.
    #[cfg(feature = "_http")]
    pub(crate) fn unreachable(
        err: &(dyn std::error::Error + 'static),
        settings: &Settings,
        established: bool,
    ) -> Self {
        match tls_failure(err, settings, established) {
            Some(tls) => AttemptError::fatal(OtlpExportError::Tls(tls)),
            None => AttemptError::retryable(OtlpExportError::Connect(error_chain(err))),
        }
    }
}

/// The TLS failure behind `err`, if there is one (see [`crate::tls::ClientAuth`] for the
/// connection that fails after the server asked for a missing client certificate).
#[cfg_attr(not(any(feature = "_http", feature = "grpc")), allow(dead_code))]
pub(crate) fn tls_failure(
    err: &(dyn std::error::Error + 'static),
    settings: &Settings,
    established: bool,
) -> Option<crate::error::TlsError> {
    #[cfg(feature = "tls")]
    {
        let host = settings.endpoint.host().unwrap_or_default();
        if let Some(tls) = crate::tls::from_error(err, host) {
            return Some(tls);
        }
        if settings.secure && established && settings.client_auth.asked_without_identity() {
            return Some(crate::error::TlsError::ClientCertificateRequired);
        }
    }
    let _ = (err, settings, established);
    None
}

/// The client for one destination (no variant at all when no protocol is compiled in: the
/// builder refuses to build such an exporter).
#[allow(
    clippy::large_enum_variant,
    reason = "one per exporter, created once and never moved on a hot path"
)]
pub(crate) enum Client {
    #[cfg(feature = "_http")]
    Http(http_client::HttpClient),
    #[cfg(feature = "grpc")]
    Grpc(grpc_client::GrpcClient),
}

impl Client {
    /// Creates the client; must run inside the exporter's runtime.
    pub(crate) fn new(settings: &Settings) -> Result<Client, OtlpExportError> {
        match settings.protocol {
            #[cfg(feature = "grpc")]
            Protocol::Grpc => Ok(Client::Grpc(grpc_client::GrpcClient::new(settings)?)),
            #[cfg(feature = "_http")]
            Protocol::HttpProtobuf | Protocol::HttpJson => {
                Ok(Client::Http(http_client::HttpClient::new(settings)?))
            }
            #[allow(unreachable_patterns, reason = "depends on the enabled protocols")]
            p => Err(OtlpExportError::Encode(format!("{p} is not in this build"))),
        }
    }

    pub(crate) async fn send(&mut self, payload: &Payload) -> Result<Accepted, AttemptError> {
        match (self, payload) {
            #[cfg(feature = "_http")]
            (Client::Http(c), Payload::Http(body)) => c.send(body.clone()).await,
            #[cfg(feature = "grpc")]
            (Client::Grpc(c), Payload::Grpc(msg)) => c.send(msg.clone()).await,
            #[allow(unreachable_patterns, reason = "depends on the enabled protocols")]
            _ => Err(AttemptError::fatal(OtlpExportError::Encode(
                "payload does not match the protocol".to_owned(),
            ))),
        }
    }
}

/// The TCP connector, wrapped in TLS when the build has it.
#[cfg(all(feature = "tls", any(feature = "_http", feature = "grpc")))]
pub(crate) type Connector =
    hyper_rustls::HttpsConnector<hyper_util::client::legacy::connect::HttpConnector>;
/// The TCP connector, wrapped in TLS when the build has it.
#[cfg(all(not(feature = "tls"), any(feature = "_http", feature = "grpc")))]
pub(crate) type Connector = hyper_util::client::legacy::connect::HttpConnector;

/// TCP with the exporter's connect timeout and no Nagle delay.
#[cfg(any(feature = "_http", feature = "grpc"))]
fn tcp(settings: &Settings) -> hyper_util::client::legacy::connect::HttpConnector {
    let mut http = hyper_util::client::legacy::connect::HttpConnector::new();
    http.set_connect_timeout(Some(settings.timeout));
    http.set_nodelay(true);
    // The TLS wrapper decides which schemes are allowed.
    http.enforce_http(!cfg!(feature = "tls"));
    http
}

/// The TLS connector builder for the exporter's client configuration: https only for a secure
/// endpoint, so a plain connection is never made to it by mistake.
#[cfg(all(feature = "tls", any(feature = "_http", feature = "grpc")))]
fn tls_builder(
    settings: &Settings,
) -> hyper_rustls::HttpsConnectorBuilder<hyper_rustls::builderstates::WantsProtocols1> {
    let b = hyper_rustls::HttpsConnectorBuilder::new().with_tls_config((*settings.tls).clone());
    if settings.secure {
        b.https_only()
    } else {
        b.https_or_http()
    }
}

/// An error and its sources, joined with `: ` (hyper's top-level messages are vague).
#[cfg(any(feature = "_http", feature = "grpc"))]
pub(crate) fn error_chain(e: &dyn std::error::Error) -> String {
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
    fn partial_success_is_read() {
        let resp = ExportTraceServiceResponse {
            partial_success: Some(ExportTracePartialSuccess {
                rejected_spans: 3,
                error_message: "too old".into(),
            }),
        };
        assert_eq!(
            Accepted::from_response(&resp),
            Accepted {
                rejected: 3,
                message: "too old".into(),
            }
        );
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
