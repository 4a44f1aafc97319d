//! Error types, one per concern: configuration ([`OtlpConfigError`]), a failed export
//! ([`OtlpExportError`]) and a failed TLS handshake ([`TlsError`]). All are `#[non_exhaustive]`,
//! `Clone + PartialEq` so tests can match exact variants, and print short lowercase phrases.

use std::fmt;

use tracewire::ExportError;

use crate::config::Protocol;

/// Why an exporter could not be configured.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum OtlpConfigError {
    /// An `OTEL_EXPORTER_OTLP_*` variable holds a value that cannot be used.
    InvalidEnv {
        /// The variable.
        var: &'static str,
        /// The value.
        value: String,
    },
    /// The endpoint is not a usable URL.
    InvalidEndpoint {
        /// The endpoint as given.
        endpoint: String,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// A header name or value is not valid in HTTP (or gRPC metadata).
    InvalidHeader {
        /// The header name as given.
        name: String,
    },
    /// The timeout is zero.
    ZeroTimeout,
    /// The protocol is not compiled into this build.
    ProtocolNotEnabled {
        /// The protocol asked for.
        protocol: Protocol,
        /// The cargo feature of `tracewire-otlp` that adds it.
        feature: &'static str,
    },
    /// The endpoint needs TLS (an `https` URL, or a gRPC endpoint without a scheme and without
    /// `insecure`), but this build has no TLS (the `tls` feature is off).
    TlsNotEnabled {
        /// The endpoint.
        endpoint: String,
    },
    /// A certificate or key cannot be used.
    Certificate {
        /// Which one: `ca certificate`, `client certificate` or `client key`.
        role: &'static str,
        /// Where it came from: the file path, or `pem given in code`.
        origin: String,
        /// What is wrong with it.
        reason: String,
    },
    /// A client certificate was given without its key, or a key without its certificate.
    IncompleteClientIdentity {
        /// What is missing: `client certificate` or `client key`.
        missing: &'static str,
    },
}

impl fmt::Display for OtlpConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            OtlpConfigError::InvalidEnv { var, value } => {
                write!(f, "invalid value {value:?} for {var}")
            }
            OtlpConfigError::InvalidEndpoint { endpoint, reason } => {
                write!(f, "invalid otlp endpoint {endpoint:?}: {reason}")
            }
            OtlpConfigError::InvalidHeader { name } => write!(f, "invalid otlp header {name:?}"),
            OtlpConfigError::ZeroTimeout => f.write_str("otlp timeout must be greater than zero"),
            OtlpConfigError::ProtocolNotEnabled { protocol, feature } => write!(
                f,
                "otlp protocol {protocol} is not in this build (enable the {feature:?} feature of tracewire-otlp)"
            ),
            OtlpConfigError::TlsNotEnabled { endpoint } => write!(
                f,
                "otlp endpoint {endpoint:?} needs tls, which is not in this build (enable the \"tls\" feature of tracewire-otlp)"
            ),
            OtlpConfigError::Certificate {
                role,
                origin,
                reason,
            } => write!(f, "cannot use the {role} {origin}: {reason}"),
            OtlpConfigError::IncompleteClientIdentity { missing } => {
                write!(
                    f,
                    "mtls needs both a client certificate and a client key; the {missing} is missing"
                )
            }
        }
    }
}

impl std::error::Error for OtlpConfigError {}

/// Why a TLS handshake with the endpoint failed.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum TlsError {
    /// The server's certificate is not signed by a trusted certificate authority (set the CA
    /// with `OTEL_EXPORTER_OTLP_CERTIFICATE` if it is a private one).
    UnknownIssuer,
    /// The server's certificate has expired.
    Expired,
    /// The server's certificate is not valid yet.
    NotYetValid,
    /// The server's certificate is not valid for the host name in the endpoint.
    NameMismatch {
        /// The host the exporter connected to.
        host: String,
    },
    /// The server's certificate was revoked.
    Revoked,
    /// Another problem with the server's certificate.
    BadCertificate(String),
    /// The server requires a client certificate and none was configured
    /// (`OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE` / `_CLIENT_KEY`).
    ClientCertificateRequired,
    /// The server refused the client certificate.
    ClientCertificateRejected(String),
    /// Another TLS failure.
    Handshake(String),
}

impl fmt::Display for TlsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TlsError::UnknownIssuer => {
                f.write_str("server certificate is not signed by a trusted certificate authority")
            }
            TlsError::Expired => f.write_str("server certificate has expired"),
            TlsError::NotYetValid => f.write_str("server certificate is not valid yet"),
            TlsError::NameMismatch { host } => {
                write!(f, "server certificate is not valid for {host:?}")
            }
            TlsError::Revoked => f.write_str("server certificate was revoked"),
            TlsError::BadCertificate(e) => write!(f, "invalid server certificate: {e}"),
            TlsError::ClientCertificateRequired => {
                f.write_str("server requires a client certificate and none is configured")
            }
            TlsError::ClientCertificateRejected(e) => {
                write!(f, "server rejected the client certificate: {e}")
            }
            TlsError::Handshake(e) => write!(f, "tls handshake failed: {e}"),
        }
    }
}

impl std::error::Error for TlsError {}

/// Why a batch was not delivered: the exporter's own, typed view of a failure (the pipeline
/// sees it as a [`tracewire::ExportError`]). The latest is kept in
/// [`OtlpStats::last_error`](crate::OtlpStats::last_error).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum OtlpExportError {
    /// The TLS handshake failed. Not retried: a certificate problem does not fix itself within
    /// a retry budget.
    Tls(TlsError),
    /// The endpoint could not be reached (refused, reset, DNS).
    Connect(String),
    /// The endpoint answered with an HTTP error status.
    HttpStatus {
        /// The status code.
        status: u16,
        /// The start of the body, if it was text.
        message: String,
    },
    /// The endpoint answered with a gRPC error status.
    GrpcStatus {
        /// The status code.
        code: i32,
        /// The status message.
        message: String,
    },
    /// No answer within the timeout.
    Timeout,
    /// The endpoint accepted the request but rejected some spans.
    Rejected {
        /// How many.
        spans: u64,
        /// The endpoint's explanation.
        message: String,
    },
    /// The batch could not be encoded or compressed.
    Encode(String),
    /// The exporter's runtime could not be started.
    Runtime(String),
    /// The exporter was shut down.
    Shutdown,
}

impl OtlpExportError {
    /// A short, stable name for the kind of failure (`tls`, `connect`, `http_status`,
    /// `grpc_status`, `timeout`, `rejected`, `encode`, `runtime`, `shutdown`).
    pub fn kind(&self) -> &'static str {
        match self {
            OtlpExportError::Tls(_) => "tls",
            OtlpExportError::Connect(_) => "connect",
            OtlpExportError::HttpStatus { .. } => "http_status",
            OtlpExportError::GrpcStatus { .. } => "grpc_status",
            OtlpExportError::Timeout => "timeout",
            OtlpExportError::Rejected { .. } => "rejected",
            OtlpExportError::Encode(_) => "encode",
            OtlpExportError::Runtime(_) => "runtime",
            OtlpExportError::Shutdown => "shutdown",
        }
    }
}

impl fmt::Display for OtlpExportError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            OtlpExportError::Tls(e) => write!(f, "tls: {e}"),
            OtlpExportError::Connect(e) => f.write_str(e),
            OtlpExportError::HttpStatus { status, message } if message.is_empty() => {
                write!(f, "http status {status}")
            }
            OtlpExportError::HttpStatus { status, message } => {
                write!(f, "http status {status}: {message}")
            }
            OtlpExportError::GrpcStatus { code, message } if message.is_empty() => {
                write!(f, "grpc status {code}")
            }
            OtlpExportError::GrpcStatus { code, message } => {
                write!(f, "grpc status {code}: {message}")
            }
            OtlpExportError::Timeout => f.write_str("export timed out"),
            OtlpExportError::Rejected { spans, message } => {
                write!(f, "{spans} spans rejected: {message}")
            }
            OtlpExportError::Encode(e) => write!(f, "encoding failed: {e}"),
            OtlpExportError::Runtime(e) => write!(f, "cannot start the export runtime: {e}"),
            OtlpExportError::Shutdown => f.write_str("exporter is shut down"),
        }
    }
}

impl std::error::Error for OtlpExportError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            OtlpExportError::Tls(e) => Some(e),
            _ => None,
        }
    }
}

impl From<TlsError> for OtlpExportError {
    fn from(e: TlsError) -> Self {
        OtlpExportError::Tls(e)
    }
}

impl From<OtlpExportError> for ExportError {
    fn from(e: OtlpExportError) -> Self {
        match e {
            OtlpExportError::Timeout => ExportError::Timeout,
            OtlpExportError::Shutdown => ExportError::Shutdown,
            OtlpExportError::Rejected { spans, message } => {
                ExportError::Rejected { spans, message }
            }
            other => ExportError::Transport(other.to_string()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_print_lowercase_phrases() {
        assert_eq!(
            OtlpConfigError::InvalidEnv {
                var: "OTEL_EXPORTER_OTLP_TIMEOUT",
                value: "x".into(),
            }
            .to_string(),
            "invalid value \"x\" for OTEL_EXPORTER_OTLP_TIMEOUT"
        );
        assert_eq!(
            OtlpConfigError::ZeroTimeout.to_string(),
            "otlp timeout must be greater than zero"
        );
        assert_eq!(
            OtlpConfigError::ProtocolNotEnabled {
                protocol: Protocol::Grpc,
                feature: "grpc"
            }
            .to_string(),
            "otlp protocol grpc is not in this build (enable the \"grpc\" feature of tracewire-otlp)"
        );
        assert_eq!(
            OtlpExportError::Tls(TlsError::UnknownIssuer).to_string(),
            "tls: server certificate is not signed by a trusted certificate authority"
        );
        assert_eq!(
            OtlpExportError::HttpStatus {
                status: 503,
                message: String::new()
            }
            .to_string(),
            "http status 503"
        );
    }

    #[test]
    fn maps_onto_the_pipeline_error() {
        assert_eq!(
            ExportError::from(OtlpExportError::Timeout),
            ExportError::Timeout
        );
        assert_eq!(
            ExportError::from(OtlpExportError::GrpcStatus {
                code: 3,
                message: "bad".into()
            }),
            ExportError::Transport("grpc status 3: bad".into())
        );
        assert_eq!(
            ExportError::from(OtlpExportError::Tls(TlsError::Expired)),
            ExportError::Transport("tls: server certificate has expired".into())
        );
        assert_eq!(OtlpExportError::Tls(TlsError::Expired).kind(), "tls");
    }
}
