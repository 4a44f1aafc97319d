//! Configuration values: protocol, compression, retry policy, and the ceiling on timeouts.

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

    /// The cargo feature of `tracewire-otlp` that adds this protocol.
    pub fn feature(self) -> &'static str {
        match self {
            Protocol::HttpProtobuf => "http-proto",
            Protocol::HttpJson => "http-json",
            Protocol::Grpc => "grpc",
        }
    }

    /// Whether this build can speak the protocol.
    pub fn is_enabled(self) -> bool {
        match self {
            Protocol::HttpProtobuf => cfg!(feature = "http-proto"),
            Protocol::HttpJson => cfg!(feature = "http-json"),
            Protocol::Grpc => cfg!(feature = "grpc"),
        }
    }
}

/// The longest timeout or time budget the exporter uses: 2³¹ − 1 milliseconds (about 24.8
/// days), the "very long time" the OpenTelemetry configuration specification suggests for "no
/// limit". Longer values (from code or from the environment) are cut to it, so no deadline
/// computed from them can overflow.
pub const MAX_TIMEOUT: Duration = Duration::from_millis(i32::MAX as u64);

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
/// before attempt *n + 1* is the server's `Retry-After` (HTTP) or `RetryInfo` (gRPC) if it sent
/// one, else `initial_backoff × 2ⁿ⁻¹` capped at `max_backoff`, with jitter (a random value between
/// half and all of it). Retrying stops after `max_attempts` attempts, or when the next wait would
/// end more than `max_elapsed` after the first attempt started; each attempt's timeout is cut to
/// what is left of `max_elapsed`. So a batch holds the export worker for at most `max_elapsed`,
/// whatever a server asks for: a `Retry-After` beyond the budget ends the retrying at once.
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
        self.initial_backoff = d.min(MAX_TIMEOUT);
        self
    }

    /// The longest computed wait between attempts (a server's `Retry-After` is not capped by it,
    /// only by [`max_elapsed`](Self::max_elapsed)).
    #[must_use]
    pub fn max_backoff(mut self, d: Duration) -> Self {
        self.max_backoff = d.min(MAX_TIMEOUT);
        self
    }

    /// The time budget per batch, retries and waits included (longer values are cut to
    /// [`MAX_TIMEOUT`]; zero means no budget: only the first attempt is made, with the request
    /// timeout).
    #[must_use]
    pub fn max_elapsed(mut self, d: Duration) -> Self {
        self.max_elapsed = d.min(MAX_TIMEOUT);
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

#[cfg(test)]
mod tests {
    use super::*;

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
    fn protocol_names_and_features() {
        for p in [Protocol::HttpProtobuf, Protocol::HttpJson, Protocol::Grpc] {
            assert_eq!(Protocol::parse(p.as_str()), Some(p));
        }
        assert_eq!(Protocol::parse("GRPC"), None);
        assert_eq!(Protocol::HttpProtobuf.feature(), "http-proto");
        assert_eq!(Protocol::HttpJson.feature(), "http-json");
        assert_eq!(Protocol::Grpc.feature(), "grpc");
        assert_eq!(Protocol::Grpc.is_enabled(), cfg!(feature = "grpc"),);
    }
}
