//! Configuration values: protocol, compression, retry policy, the configuration error, and the
//! `OTEL_EXPORTER_OTLP_*` environment rules.

use std::fmt;
use std::time::Duration;

/// The wire protocol.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[non_exhaustive]
pub enum Protocol {
    /// OTLP/HTTP with binary protobuf bodies (`http/protobuf`), the default; port 4318.
    #[default]
    HttpProtobuf,
    /// OTLP/HTTP with JSON bodies (`http/json`); port 4318.
    HttpJson,
    /// OTLP/gRPC (`grpc`); port 4317.
    Grpc,
}

impl Protocol {
    /// The name `OTEL_EXPORTER_OTLP_PROTOCOL` uses.
    pub fn as_str(self) -> &'static str {
        match self {
            Protocol::HttpProtobuf => "http/protobuf",
            Protocol::HttpJson => "http/json",
            Protocol::Grpc => "grpc",
        }
    }

    /// Parses an `OTEL_EXPORTER_OTLP_PROTOCOL` value.
    pub fn parse(s: &str) -> Option<Protocol> {
        match s.trim() {
            "http/protobuf" => Some(Protocol::HttpProtobuf),
            "http/json" => Some(Protocol::HttpJson),
            "grpc" => Some(Protocol::Grpc),
            _ => None,
        }
    }

    /// The endpoint used when none is configured.
    pub fn default_endpoint(self) -> &'static str {
        match self {
            Protocol::HttpProtobuf | Protocol::HttpJson => "http://localhost:4318/v1/traces",
            Protocol::Grpc => "http://localhost:4317",
        }
    }

    pub(crate) fn is_http(self) -> bool {
        !matches!(self, Protocol::Grpc)
    }
}

impl fmt::Display for Protocol {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Payload compression.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[non_exhaustive]
pub enum Compression {
    /// No compression (the default, as the OTLP exporter spec says).
    #[default]
    None,
    /// gzip: `Content-Encoding: gzip` over HTTP, `grpc-encoding: gzip` over gRPC.
    Gzip,
}

impl Compression {
    /// Parses an `OTEL_EXPORTER_OTLP_COMPRESSION` value (`gzip` or `none`).
    pub fn parse(s: &str) -> Option<Compression> {
        match s.trim() {
            "gzip" => Some(Compression::Gzip),
            "none" => Some(Compression::None),
            _ => None,
        }
    }
}

/// How failed requests are retried.
///
/// A request is retried when the answer says the failure is transient: HTTP 429, 502, 503 and
/// 504; gRPC `UNAVAILABLE`, `RESOURCE_EXHAUSTED`, `CANCELLED`, `DEADLINE_EXCEEDED`, `ABORTED`,
/// `OUT_OF_RANGE` and `DATA_LOSS`; a connection failure; an attempt that timed out. The wait
/// before attempt *n + 1* is the server's `Retry-After` if it sent one, else
/// `initial_backoff × 2ⁿ⁻¹` capped at `max_backoff`, with jitter (a random value between half and
/// all of it). Retrying stops after `max_attempts` attempts, or when the next wait would end
/// more than `max_elapsed` after the first attempt started: a batch holds the export worker for
/// at most `max_elapsed` plus one request timeout.
///
/// ```
/// use std::time::Duration;
/// use tracewire_otlp::RetryPolicy;
///
/// let policy = RetryPolicy::default()
///     .max_attempts(3)
///     .initial_backoff(Duration::from_millis(200))
///     .max_elapsed(Duration::from_secs(5));
/// assert_eq!(policy.get_max_attempts(), 3);
/// assert_eq!(RetryPolicy::none().get_max_attempts(), 1);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct RetryPolicy {
    max_attempts: u32,
    initial_backoff: Duration,
    max_backoff: Duration,
    max_elapsed: Duration,
}

impl Default for RetryPolicy {
    /// 5 attempts, backoff from 1 s doubling up to 5 s, at most 30 s of retrying per batch.
    fn default() -> Self {
        RetryPolicy {
            max_attempts: 5,
            initial_backoff: Duration::from_secs(1),
            max_backoff: Duration::from_secs(5),
            max_elapsed: Duration::from_secs(30),
        }
    }
}

impl RetryPolicy {
    /// Never retry: one attempt per batch.
    pub fn none() -> Self {
        RetryPolicy {
            max_attempts: 1,
            ..RetryPolicy::default()
        }
    }

    /// The most attempts per batch, the first included (at least 1).
    #[must_use]
    pub fn max_attempts(mut self, n: u32) -> Self {
        self.max_attempts = n.max(1);
        self
    }

    /// The wait before the first retry, before jitter.
    #[must_use]
    pub fn initial_backoff(mut self, d: Duration) -> Self {
        self.initial_backoff = d;
        self
    }

    /// The longest computed wait between attempts (a server's `Retry-After` is not capped by it,
    /// only by [`max_elapsed`](Self::max_elapsed)).
    #[must_use]
    pub fn max_backoff(mut self, d: Duration) -> Self {
        self.max_backoff = d;
        self
    }

    /// The retry budget: no retry is started whose wait would end later than this after the
    /// batch's first attempt.
    #[must_use]
    pub fn max_elapsed(mut self, d: Duration) -> Self {
        self.max_elapsed = d;
        self
    }

    /// The most attempts per batch.
    pub fn get_max_attempts(&self) -> u32 {
        self.max_attempts
    }

    /// The wait before the first retry.
    pub fn get_initial_backoff(&self) -> Duration {
        self.initial_backoff
    }

    /// The cap on computed waits.
    pub fn get_max_backoff(&self) -> Duration {
        self.max_backoff
    }

    /// The retry budget per batch.
    pub fn get_max_elapsed(&self) -> Duration {
        self.max_elapsed
    }

    /// The wait before attempt `attempt + 1` (`attempt` ≥ 1 attempts made), before jitter.
    pub(crate) fn backoff(&self, attempt: u32) -> Duration {
        let exp = attempt.saturating_sub(1).min(31);
        self.initial_backoff
            .saturating_mul(1u32 << exp)
            .min(self.max_backoff)
    }
}

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
        }
    }
}

impl std::error::Error for OtlpConfigError {}

/// Where the endpoint came from, which decides whether `/v1/traces` is appended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum EndpointSetting {
    /// Use the protocol's default.
    Default,
    /// A full URL used as given (code, or `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`).
    Exact(String),
    /// A base URL (`OTEL_EXPORTER_OTLP_ENDPOINT`): HTTP protocols append `v1/traces`.
    Base(String),
}

impl EndpointSetting {
    pub(crate) fn resolve(&self, protocol: Protocol) -> String {
        match self {
            EndpointSetting::Default => protocol.default_endpoint().to_owned(),
            EndpointSetting::Exact(e) => e.clone(),
            EndpointSetting::Base(base) if protocol.is_http() => {
                if base.ends_with('/') {
                    format!("{base}v1/traces")
                } else {
                    format!("{base}/v1/traces")
                }
            }
            EndpointSetting::Base(base) => base.clone(),
        }
    }
}

/// The settings the environment asked for; `None` where it said nothing.
#[derive(Debug, Default, Clone, PartialEq)]
pub(crate) struct EnvSettings {
    pub(crate) endpoint: Option<EndpointSetting>,
    pub(crate) protocol: Option<Protocol>,
    pub(crate) headers: Option<Vec<(String, String)>>,
    pub(crate) timeout: Option<Duration>,
    pub(crate) compression: Option<Compression>,
}

const ENDPOINT: &str = "OTEL_EXPORTER_OTLP_ENDPOINT";
const TRACES_ENDPOINT: &str = "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT";
const PROTOCOL: &str = "OTEL_EXPORTER_OTLP_PROTOCOL";
const TRACES_PROTOCOL: &str = "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL";
const HEADERS: &str = "OTEL_EXPORTER_OTLP_HEADERS";
const TRACES_HEADERS: &str = "OTEL_EXPORTER_OTLP_TRACES_HEADERS";
const TIMEOUT: &str = "OTEL_EXPORTER_OTLP_TIMEOUT";
const TRACES_TIMEOUT: &str = "OTEL_EXPORTER_OTLP_TRACES_TIMEOUT";
const COMPRESSION: &str = "OTEL_EXPORTER_OTLP_COMPRESSION";
const TRACES_COMPRESSION: &str = "OTEL_EXPORTER_OTLP_TRACES_COMPRESSION";

impl EnvSettings {
    /// Reads the variables through `lookup`. For each setting the signal-specific
    /// `OTEL_EXPORTER_OTLP_TRACES_*` variable wins over the generic one; empty values count as
    /// unset; invalid values are errors.
    pub(crate) fn read(
        lookup: &dyn Fn(&str) -> Option<String>,
    ) -> Result<EnvSettings, OtlpConfigError> {
        let get = |var: &'static str| -> Option<(&'static str, String)> {
            lookup(var)
                .map(|v| v.trim().to_owned())
                .filter(|v| !v.is_empty())
                .map(|v| (var, v))
        };
        let pick = |specific, generic| get(specific).or_else(|| get(generic));
        let invalid = |var: &'static str, value: String| OtlpConfigError::InvalidEnv { var, value };

        let endpoint = match get(TRACES_ENDPOINT) {
            Some((_, v)) => Some(EndpointSetting::Exact(v)),
            None => get(ENDPOINT).map(|(_, v)| EndpointSetting::Base(v)),
        };
        let protocol = match pick(TRACES_PROTOCOL, PROTOCOL) {
            Some((var, v)) => Some(Protocol::parse(&v).ok_or_else(|| invalid(var, v))?),
            None => None,
        };
        let headers = match pick(TRACES_HEADERS, HEADERS) {
            Some((var, v)) => Some(parse_headers(&v).ok_or_else(|| invalid(var, v))?),
            None => None,
        };
        let timeout = match pick(TRACES_TIMEOUT, TIMEOUT) {
            Some((var, v)) => match v.parse::<u64>() {
                Ok(ms) if ms > 0 => Some(Duration::from_millis(ms)),
                _ => return Err(invalid(var, v)),
            },
            None => None,
        };
        let compression = match pick(TRACES_COMPRESSION, COMPRESSION) {
            Some((var, v)) => Some(Compression::parse(&v).ok_or_else(|| invalid(var, v))?),
            None => None,
        };
        Ok(EnvSettings {
            endpoint,
            protocol,
            headers,
            timeout,
            compression,
        })
    }
}

/// Parses the `OTEL_EXPORTER_OTLP_HEADERS` format: `key=value` pairs separated by commas, keys and
/// values trimmed, values percent-decoded. `None` when a pair has no `=` or an empty key, or a
/// value is not valid UTF-8 after decoding. Empty pairs (`a=1,,b=2`) are skipped.
pub(crate) fn parse_headers(s: &str) -> Option<Vec<(String, String)>> {
    let mut out = Vec::new();
    for pair in s.split(',') {
        if pair.trim().is_empty() {
            continue;
        }
        let (k, v) = pair.split_once('=')?;
        let k = k.trim();
        if k.is_empty() {
            return None;
        }
        let v = percent_encoding::percent_decode_str(v.trim())
            .decode_utf8()
            .ok()?;
        out.push((k.to_owned(), v.into_owned()));
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    fn read(vars: &[(&str, &str)]) -> Result<EnvSettings, OtlpConfigError> {
        let map: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        EnvSettings::read(&move |k: &str| map.get(k).cloned())
    }

    #[test]
    fn nothing_set_means_nothing_changes() {
        assert_eq!(read(&[]).unwrap(), EnvSettings::default());
        // Empty values count as unset.
        assert_eq!(
            read(&[(PROTOCOL, ""), (TIMEOUT, "  ")]).unwrap(),
            EnvSettings::default()
        );
    }

    #[test]
    fn signal_specific_wins() {
        let s = read(&[
            (ENDPOINT, "http://generic:4318"),
            (TRACES_ENDPOINT, "http://traces:9999/custom"),
            (PROTOCOL, "grpc"),
            (TRACES_PROTOCOL, "http/json"),
            (HEADERS, "a=1"),
            (TRACES_HEADERS, "b=2"),
            (TIMEOUT, "1000"),
            (TRACES_TIMEOUT, "2500"),
            (COMPRESSION, "none"),
            (TRACES_COMPRESSION, "gzip"),
        ])
        .unwrap();
        assert_eq!(
            s.endpoint,
            Some(EndpointSetting::Exact("http://traces:9999/custom".into()))
        );
        assert_eq!(s.protocol, Some(Protocol::HttpJson));
        assert_eq!(s.headers, Some(vec![("b".into(), "2".into())]));
        assert_eq!(s.timeout, Some(Duration::from_millis(2500)));
        assert_eq!(s.compression, Some(Compression::Gzip));
    }

    #[test]
    fn generic_values_apply_alone() {
        let s = read(&[
            (ENDPOINT, "http://generic:4318/"),
            (PROTOCOL, "grpc"),
            (HEADERS, "api-key=abc%20def , tenant = acme,,"),
            (TIMEOUT, "750"),
            (COMPRESSION, "gzip"),
        ])
        .unwrap();
        assert_eq!(
            s.endpoint,
            Some(EndpointSetting::Base("http://generic:4318/".into()))
        );
        assert_eq!(s.protocol, Some(Protocol::Grpc));
        assert_eq!(
            s.headers,
            Some(vec![
                ("api-key".into(), "abc def".into()),
                ("tenant".into(), "acme".into())
            ])
        );
        assert_eq!(s.timeout, Some(Duration::from_millis(750)));
        assert_eq!(s.compression, Some(Compression::Gzip));
    }

    #[test]
    fn invalid_values_are_errors() {
        for (var, value) in [
            (PROTOCOL, "http"),
            (TRACES_PROTOCOL, "GRPC"),
            (HEADERS, "novalue"),
            (TRACES_HEADERS, "=x"),
            (HEADERS, "k=%FF"),
            (TIMEOUT, "10s"),
            (TRACES_TIMEOUT, "0"),
            (COMPRESSION, "zstd"),
        ] {
            assert_eq!(
                read(&[(var, value)]),
                Err(OtlpConfigError::InvalidEnv {
                    var,
                    value: value.to_owned()
                }),
                "{var}={value}"
            );
        }
    }

    #[test]
    fn endpoint_resolution() {
        let base = |s: &str| EndpointSetting::Base(s.to_owned());
        assert_eq!(
            base("http://c:4318").resolve(Protocol::HttpProtobuf),
            "http://c:4318/v1/traces"
        );
        assert_eq!(
            base("http://c:4318/").resolve(Protocol::HttpJson),
            "http://c:4318/v1/traces"
        );
        assert_eq!(
            base("http://c:4318/prefix").resolve(Protocol::HttpProtobuf),
            "http://c:4318/prefix/v1/traces"
        );
        assert_eq!(
            base("http://c:4317").resolve(Protocol::Grpc),
            "http://c:4317"
        );
        assert_eq!(
            EndpointSetting::Exact("http://c/x".into()).resolve(Protocol::HttpProtobuf),
            "http://c/x"
        );
        assert_eq!(
            EndpointSetting::Default.resolve(Protocol::HttpProtobuf),
            "http://localhost:4318/v1/traces"
        );
        assert_eq!(
            EndpointSetting::Default.resolve(Protocol::Grpc),
            "http://localhost:4317"
        );
    }

    #[test]
    fn backoff_doubles_up_to_the_cap() {
        let p = RetryPolicy::default()
            .initial_backoff(Duration::from_millis(100))
            .max_backoff(Duration::from_millis(350));
        assert_eq!(p.backoff(1), Duration::from_millis(100));
        assert_eq!(p.backoff(2), Duration::from_millis(200));
        assert_eq!(p.backoff(3), Duration::from_millis(350));
        assert_eq!(p.backoff(200), Duration::from_millis(350));
        assert_eq!(RetryPolicy::default().max_attempts(0).get_max_attempts(), 1);
    }

    #[test]
    fn errors_print_lowercase() {
        let e = OtlpConfigError::InvalidEnv {
            var: TIMEOUT,
            value: "x".into(),
        };
        assert_eq!(
            e.to_string(),
            "invalid value \"x\" for OTEL_EXPORTER_OTLP_TIMEOUT"
        );
        assert_eq!(
            OtlpConfigError::ZeroTimeout.to_string(),
            "otlp timeout must be greater than zero"
        );
    }
}
