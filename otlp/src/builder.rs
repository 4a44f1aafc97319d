//! [`OtlpExporterBuilder`]: code and `OTEL_EXPORTER_OTLP_*` settings, validated into an
//! [`OtlpExporter`].

use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

use http::header::{HeaderMap, HeaderName, HeaderValue};

use crate::config::{Compression, MAX_TIMEOUT, Protocol, RetryPolicy};
use crate::env::{EndpointSetting, EnvSettings};
use crate::error::OtlpConfigError;
use crate::exporter::{OtlpExporter, Settings};
use crate::tls::{PemSource, TlsSettings};

/// The OTLP default: 10 seconds per request.
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);

/// Configures an [`OtlpExporter`].
///
/// Settings apply in call order, so `builder().from_env().endpoint(..)` lets code override the
/// environment and `builder().endpoint(..).from_env()` lets the environment override code.
///
/// ```
/// use std::time::Duration;
/// use tracewire_otlp::{Compression, OtlpExporter, Protocol, RetryPolicy};
///
/// let exporter = OtlpExporter::builder()
///     .protocol(Protocol::HttpProtobuf)
///     .endpoint("http://collector:4318/v1/traces")
///     .header("x-tenant", "acme")
///     .timeout(Duration::from_secs(5))
///     .compression(Compression::Gzip)
///     .retry(RetryPolicy::default().max_attempts(3))
///     .build()
///     .unwrap();
/// assert_eq!(exporter.endpoint(), "http://collector:4318/v1/traces");
/// ```
///
/// TLS (the `tls` feature, on by default): an `https://` endpoint is verified against the
/// system's roots (or a custom CA), optionally presenting a client certificate:
///
/// ```no_run
/// use tracewire_otlp::OtlpExporter;
///
/// let exporter = OtlpExporter::builder()
///     .endpoint("https://collector.internal:4318/v1/traces")
///     .ca_certificate_file("/etc/otel/ca.pem")
///     .client_identity_files("/etc/otel/client.pem", "/etc/otel/client.key")
///     .header("x-api-key", "secret")
///     .build()?;
/// # Ok::<(), tracewire_otlp::OtlpConfigError>(())
/// ```
#[must_use]
#[derive(Clone, PartialEq)]
pub struct OtlpExporterBuilder {
    protocol: Protocol,
    endpoint: EndpointSetting,
    headers: Vec<(String, String)>,
    timeout: Duration,
    compression: Compression,
    retry: RetryPolicy,
    insecure: bool,
    tls: TlsSettings,
    env_error: Option<OtlpConfigError>,
    warnings: Vec<String>,
}

impl fmt::Debug for OtlpExporterBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Header values often hold credentials: print the names only.
        let names: Vec<&str> = self.headers.iter().map(|(k, _)| k.as_str()).collect();
        f.debug_struct("OtlpExporterBuilder")
            .field("protocol", &self.protocol)
            .field("endpoint", &self.endpoint)
            .field("headers", &names)
            .field("timeout", &self.timeout)
            .field("compression", &self.compression)
            .field("retry", &self.retry)
            .field("insecure", &self.insecure)
            .field("tls", &self.tls)
            .field("env_error", &self.env_error)
            .finish()
    }
}

impl Default for OtlpExporterBuilder {
    fn default() -> Self {
        OtlpExporterBuilder {
            protocol: Protocol::default(),
            endpoint: EndpointSetting::Default,
            headers: Vec::new(),
            timeout: DEFAULT_TIMEOUT,
            compression: Compression::None,
            retry: RetryPolicy::default(),
            insecure: false,
            tls: TlsSettings::default(),
            env_error: None,
            warnings: Vec::new(),
        }
    }
}

impl OtlpExporterBuilder {
    /// The wire protocol (default [`Protocol::HttpProtobuf`]).
    pub fn protocol(mut self, protocol: Protocol) -> Self {
        self.protocol = protocol;
        self
    }

    /// The full URL requests go to, used as given: for HTTP it includes the path
    /// (`http://collector:4318/v1/traces`). Default: the protocol's
    /// [`default_endpoint`](Protocol::default_endpoint). `https://` means TLS. For gRPC a
    /// `host:port` without a scheme is accepted too: TLS unless [`insecure`](Self::insecure).
    pub fn endpoint(mut self, endpoint: impl Into<String>) -> Self {
        self.endpoint = EndpointSetting::Exact(endpoint.into());
        self
    }

    /// Adds a header (gRPC: a metadata entry) sent with every request.
    pub fn header(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.headers.push((name.into(), value.into()));
        self
    }

    /// Replaces the headers sent with every request.
    pub fn headers<K, V>(mut self, headers: impl IntoIterator<Item = (K, V)>) -> Self
    where
        K: Into<String>,
        V: Into<String>,
    {
        self.headers = headers
            .into_iter()
            .map(|(k, v)| (k.into(), v.into()))
            .collect();
        self
    }

    /// How long one request may take, connecting included (default 10 s; longer values are cut
    /// to [`MAX_TIMEOUT`]).
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// Payload compression (default none).
    pub fn compression(mut self, compression: Compression) -> Self {
        self.compression = compression;
        self
    }

    /// The retry policy (default [`RetryPolicy::default`]).
    pub fn retry(mut self, retry: RetryPolicy) -> Self {
        self.retry = retry;
        self
    }

    /// For a gRPC endpoint given without a scheme (`collector:4317`): `true` connects in plain
    /// text, `false` (the default) with TLS. A scheme always wins (`http://` is plain,
    /// `https://` is TLS), and OTLP/HTTP always follows its scheme, as the OTLP exporter
    /// specification says.
    pub fn insecure(mut self, insecure: bool) -> Self {
        self.insecure = insecure;
        self
    }

    /// Trusts only the CA certificate(s) in this PEM file (read by [`build`](Self::build))
    /// instead of the system's roots.
    pub fn ca_certificate_file(mut self, path: impl Into<PathBuf>) -> Self {
        self.tls.ca = Some(PemSource::File(path.into()));
        self
    }

    /// Trusts only the CA certificate(s) in this PEM text instead of the system's roots.
    pub fn ca_certificate_pem(mut self, pem: impl Into<Vec<u8>>) -> Self {
        self.tls.ca = Some(PemSource::Bytes(pem.into()));
        self
    }

    /// Presents this client certificate (chain) and key, both PEM files, for mTLS.
    pub fn client_identity_files(
        mut self,
        certificate: impl Into<PathBuf>,
        key: impl Into<PathBuf>,
    ) -> Self {
        self.tls.client_certificate = Some(PemSource::File(certificate.into()));
        self.tls.client_key = Some(PemSource::File(key.into()));
        self
    }

    /// Presents this client certificate (chain) and key, both PEM text, for mTLS.
    pub fn client_identity_pem(
        mut self,
        certificate: impl Into<Vec<u8>>,
        key: impl Into<Vec<u8>>,
    ) -> Self {
        self.tls.client_certificate = Some(PemSource::Bytes(certificate.into()));
        self.tls.client_key = Some(PemSource::Bytes(key.into()));
        self
    }

    /// Applies the `OTEL_EXPORTER_OTLP_*` variables of the process environment that are set.
    ///
    /// | setting | signal-specific (wins) | generic |
    /// |---|---|---|
    /// | endpoint | `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`, used as given | `OTEL_EXPORTER_OTLP_ENDPOINT`, a base URL: HTTP protocols append `/v1/traces` |
    /// | protocol | `OTEL_EXPORTER_OTLP_TRACES_PROTOCOL` | `OTEL_EXPORTER_OTLP_PROTOCOL`: `grpc`, `http/protobuf`, `http/json` |
    /// | headers | `OTEL_EXPORTER_OTLP_TRACES_HEADERS` | `OTEL_EXPORTER_OTLP_HEADERS`: `k=v,k2=v2`, values percent-decoded |
    /// | timeout | `OTEL_EXPORTER_OTLP_TRACES_TIMEOUT` | `OTEL_EXPORTER_OTLP_TIMEOUT`: milliseconds; `0` = no limit |
    /// | compression | `OTEL_EXPORTER_OTLP_TRACES_COMPRESSION` | `OTEL_EXPORTER_OTLP_COMPRESSION`: `gzip`, `none` |
    /// | CA certificate | `OTEL_EXPORTER_OTLP_TRACES_CERTIFICATE` | `OTEL_EXPORTER_OTLP_CERTIFICATE`: PEM file |
    /// | client certificate | `OTEL_EXPORTER_OTLP_TRACES_CLIENT_CERTIFICATE` | `OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE`: PEM file |
    /// | client key | `OTEL_EXPORTER_OTLP_TRACES_CLIENT_KEY` | `OTEL_EXPORTER_OTLP_CLIENT_KEY`: PEM file |
    /// | insecure (gRPC without scheme) | `OTEL_EXPORTER_OTLP_TRACES_INSECURE` (then the obsolete `OTEL_EXPORTER_OTLP_SPAN_INSECURE`) | `OTEL_EXPORTER_OTLP_INSECURE`: `true`/`false` |
    ///
    /// Empty variables count as unset. An invalid value is not ignored: [`build`](Self::build)
    /// returns [`OtlpConfigError::InvalidEnv`] naming it. The exception is the Boolean, which
    /// the specification defines: anything but `true` (any case) is false, with a warning
    /// logged when it is not `false` either.
    pub fn from_env(self) -> Self {
        self.from_env_lookup(|var| std::env::var(var).ok())
    }

    /// Like [`from_env`](Self::from_env), reading variables through `lookup` instead of the
    /// process environment (for tests and for configuration kept elsewhere).
    ///
    /// ```
    /// use tracewire_otlp::{OtlpExporter, Protocol};
    ///
    /// let exporter = OtlpExporter::builder()
    ///     .from_env_lookup(|var| match var {
    ///         "OTEL_EXPORTER_OTLP_ENDPOINT" => Some("http://collector:4318".to_owned()),
    ///         _ => None,
    ///     })
    ///     .build()
    ///     .unwrap();
    /// assert_eq!(exporter.endpoint(), "http://collector:4318/v1/traces");
    /// assert_eq!(exporter.protocol(), Protocol::HttpProtobuf);
    /// ```
    pub fn from_env_lookup(mut self, lookup: impl Fn(&str) -> Option<String>) -> Self {
        match EnvSettings::read(&lookup) {
            Ok(env) => {
                if let Some(e) = env.endpoint {
                    self.endpoint = e;
                }
                if let Some(p) = env.protocol {
                    self.protocol = p;
                }
                if let Some(h) = env.headers {
                    self.headers = h;
                }
                if let Some(t) = env.timeout {
                    self.timeout = t;
                }
                if let Some(c) = env.compression {
                    self.compression = c;
                }
                if let Some(path) = env.certificate {
                    self.tls.ca = Some(PemSource::File(path));
                }
                if let Some(path) = env.client_certificate {
                    self.tls.client_certificate = Some(PemSource::File(path));
                }
                if let Some(path) = env.client_key {
                    self.tls.client_key = Some(PemSource::File(path));
                }
                if let Some(i) = env.insecure {
                    self.insecure = i;
                }
                self.warnings.extend(env.warnings);
            }
            Err(e) => {
                self.env_error.get_or_insert(e);
            }
        }
        self
    }

    /// Warnings about accepted but doubtful settings (a Boolean variable that is neither
    /// `true` nor `false`), for the caller to log once its subscriber is installed.
    pub(crate) fn take_warnings(&mut self) -> Vec<String> {
        std::mem::take(&mut self.warnings)
    }

    /// Validates the settings and reads the certificate files. Nothing is started here: the
    /// exporter creates its runtime and connection on first use, on the thread that calls
    /// [`SpanExporter::export`](tracewire::export::SpanExporter::export).
    pub fn build(mut self) -> Result<OtlpExporter, OtlpConfigError> {
        if let Some(e) = self.env_error.take() {
            return Err(e);
        }
        for w in self.take_warnings() {
            tracing::warn!(target: crate::diagnostics::TARGET, "{w}");
        }
        if !self.protocol.is_enabled() {
            return Err(OtlpConfigError::ProtocolNotEnabled {
                protocol: self.protocol,
                feature: self.protocol.feature(),
            });
        }
        if self.timeout.is_zero() {
            return Err(OtlpConfigError::ZeroTimeout);
        }
        let (endpoint, secure) = parse_endpoint(
            &self.endpoint.resolve(self.protocol),
            self.protocol,
            self.insecure,
        )?;
        let mut headers = HeaderMap::with_capacity(self.headers.len());
        for (name, value) in &self.headers {
            let invalid = || OtlpConfigError::InvalidHeader { name: name.clone() };
            let n = HeaderName::from_bytes(name.trim().as_bytes()).map_err(|_| invalid())?;
            // gRPC reserves `-bin` names for binary values, which these text values are not.
            if self.protocol == Protocol::Grpc && n.as_str().ends_with("-bin") {
                return Err(invalid());
            }
            let v = HeaderValue::from_str(value).map_err(|_| invalid())?;
            headers.append(n, v);
        }
        self.tls.check()?;
        #[cfg(feature = "tls")]
        let (tls, client_auth) = if secure {
            crate::tls::client_config(&self.tls)?
        } else {
            crate::tls::plain_config()?
        };
        let settings = Settings {
            protocol: self.protocol,
            endpoint,
            secure,
            headers,
            timeout: self.timeout.min(MAX_TIMEOUT),
            compression: self.compression,
            retry: self.retry,
            #[cfg(feature = "tls")]
            tls,
            #[cfg(feature = "tls")]
            client_auth,
        };
        Ok(OtlpExporter::new(settings))
    }
}

/// Parses the endpoint and decides whether it is secure.
fn parse_endpoint(
    s: &str,
    protocol: Protocol,
    insecure: bool,
) -> Result<(http::Uri, bool), OtlpConfigError> {
    let invalid = |reason| OtlpConfigError::InvalidEndpoint {
        endpoint: s.to_owned(),
        reason,
    };
    let mut uri: http::Uri = s.parse().map_err(|_| invalid("not a url"))?;
    if uri.scheme().is_none() && protocol == Protocol::Grpc && uri.authority().is_some() {
        let scheme = if insecure { "http" } else { "https" };
        uri = format!("{scheme}://{s}")
            .parse()
            .map_err(|_| invalid("not a url"))?;
    }
    let secure = match uri.scheme_str() {
        Some("http") => false,
        Some("https") => true,
        _ if protocol == Protocol::Grpc => {
            return Err(invalid("use http://, https:// or host:port"));
        }
        _ => return Err(invalid("the scheme must be http or https")),
    };
    if uri.host().is_none_or(str::is_empty) {
        return Err(invalid("no host"));
    }
    if secure && !cfg!(feature = "tls") {
        return Err(OtlpConfigError::TlsNotEnabled {
            endpoint: s.to_owned(),
        });
    }
    Ok((uri, secure))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoint_schemes_and_insecure() {
        let p = |s: &str, protocol, insecure| {
            parse_endpoint(s, protocol, insecure).map(|(u, secure)| (u.to_string(), secure))
        };
        assert_eq!(
            p("http://c:4317", Protocol::Grpc, false),
            Ok(("http://c:4317/".into(), false))
        );
        // The scheme wins over `insecure`, both ways.
        assert_eq!(
            p("http://c:4317", Protocol::Grpc, false),
            p("http://c:4317", Protocol::Grpc, true)
        );
        #[cfg(feature = "tls")]
        {
            assert_eq!(
                p("https://c:4317", Protocol::Grpc, true),
                Ok(("https://c:4317/".into(), true))
            );
            // No scheme: `insecure` decides, for gRPC only.
            assert_eq!(
                p("c:4317", Protocol::Grpc, false),
                Ok(("https://c:4317/".into(), true))
            );
            assert_eq!(
                p("https://c/v1/traces", Protocol::HttpProtobuf, false),
                Ok(("https://c/v1/traces".into(), true))
            );
        }
        #[cfg(not(feature = "tls"))]
        assert_eq!(
            p("c:4317", Protocol::Grpc, false),
            Err(OtlpConfigError::TlsNotEnabled {
                endpoint: "c:4317".into()
            })
        );
        assert_eq!(
            p("c:4317", Protocol::Grpc, true),
            Ok(("http://c:4317/".into(), false))
        );
        for (endpoint, reason) in [
            ("c:4318", "the scheme must be http or https"),
            ("ftp://x/", "the scheme must be http or https"),
            ("not a url", "not a url"),
        ] {
            assert_eq!(
                p(endpoint, Protocol::HttpProtobuf, true),
                Err(OtlpConfigError::InvalidEndpoint {
                    endpoint: endpoint.into(),
                    reason
                }),
                "{endpoint}"
            );
        }
        assert_eq!(
            p("ftp://x/", Protocol::Grpc, true),
            Err(OtlpConfigError::InvalidEndpoint {
                endpoint: "ftp://x/".into(),
                reason: "use http://, https:// or host:port"
            })
        );
    }
}
