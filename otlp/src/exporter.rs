//! [`OtlpExporter`] and its builder.

use std::cell::RefCell;
use std::fmt;
use std::time::{Duration, Instant};

use http::header::{HeaderMap, HeaderName, HeaderValue};
use tracewire::export::SpanExporter;
use tracewire::{ExportError, Resource, SpanData};

use crate::config::{
    Compression, EndpointSetting, EnvSettings, OtlpConfigError, Protocol, RetryPolicy,
};
use crate::stats::OtlpStats;
use crate::transport::{AttemptError, Client, Payload};

/// The OTLP default: 10 seconds per request.
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);

/// Validated settings.
#[derive(Clone)]
pub(crate) struct Settings {
    pub(crate) protocol: Protocol,
    pub(crate) endpoint: http::Uri,
    pub(crate) headers: HeaderMap,
    pub(crate) timeout: Duration,
    pub(crate) compression: Compression,
    pub(crate) retry: RetryPolicy,
}

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
///     .protocol(Protocol::Grpc)
///     .endpoint("http://collector:4317")
///     .header("x-tenant", "acme")
///     .timeout(Duration::from_secs(5))
///     .compression(Compression::Gzip)
///     .retry(RetryPolicy::default().max_attempts(3))
///     .build()
///     .unwrap();
/// assert_eq!(exporter.endpoint(), "http://collector:4317/");
/// ```
#[must_use]
#[derive(Clone)]
pub struct OtlpExporterBuilder {
    protocol: Protocol,
    endpoint: EndpointSetting,
    headers: Vec<(String, String)>,
    timeout: Duration,
    compression: Compression,
    retry: RetryPolicy,
    env_error: Option<OtlpConfigError>,
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
            env_error: None,
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
    /// [`default_endpoint`](Protocol::default_endpoint). Only `http://` URLs are supported.
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

    /// How long one request may take, connecting included (default 10 s).
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

    /// Applies the `OTEL_EXPORTER_OTLP_*` variables of the process environment that are set.
    ///
    /// | setting | signal-specific (wins) | generic |
    /// |---|---|---|
    /// | endpoint | `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`, used as given | `OTEL_EXPORTER_OTLP_ENDPOINT`, a base URL: HTTP protocols append `/v1/traces` |
    /// | protocol | `OTEL_EXPORTER_OTLP_TRACES_PROTOCOL` | `OTEL_EXPORTER_OTLP_PROTOCOL`: `grpc`, `http/protobuf`, `http/json` |
    /// | headers | `OTEL_EXPORTER_OTLP_TRACES_HEADERS` | `OTEL_EXPORTER_OTLP_HEADERS`: `k=v,k2=v2`, values percent-decoded |
    /// | timeout | `OTEL_EXPORTER_OTLP_TRACES_TIMEOUT` | `OTEL_EXPORTER_OTLP_TIMEOUT`: milliseconds |
    /// | compression | `OTEL_EXPORTER_OTLP_TRACES_COMPRESSION` | `OTEL_EXPORTER_OTLP_COMPRESSION`: `gzip`, `none` |
    ///
    /// Empty variables count as unset. An invalid value is not ignored: [`build`](Self::build)
    /// returns [`OtlpConfigError::InvalidEnv`] naming it.
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
            }
            Err(e) => {
                self.env_error.get_or_insert(e);
            }
        }
        self
    }

    /// Validates the settings. Nothing is started here: the exporter creates its runtime and
    /// connection on first use, on the thread that calls [`SpanExporter::export`].
    pub fn build(self) -> Result<OtlpExporter, OtlpConfigError> {
        if let Some(e) = self.env_error {
            return Err(e);
        }
        if self.timeout.is_zero() {
            return Err(OtlpConfigError::ZeroTimeout);
        }
        let endpoint = parse_endpoint(&self.endpoint.resolve(self.protocol))?;
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
        let settings = Settings {
            protocol: self.protocol,
            endpoint,
            headers,
            timeout: self.timeout,
            compression: self.compression,
            retry: self.retry,
        };
        Ok(OtlpExporter {
            settings,
            stats: OtlpStats::default(),
            active: None,
            shut_down: false,
        })
    }
}

fn parse_endpoint(s: &str) -> Result<http::Uri, OtlpConfigError> {
    let invalid = |reason| OtlpConfigError::InvalidEndpoint {
        endpoint: s.to_owned(),
        reason,
    };
    let uri: http::Uri = s.parse().map_err(|_| invalid("not a url"))?;
    match uri.scheme_str() {
        Some("http") => {}
        Some("https") => return Err(invalid("https is not supported by this build (no tls)")),
        _ => return Err(invalid("the scheme must be http")),
    }
    if uri.host().is_none_or(str::is_empty) {
        return Err(invalid("no host"));
    }
    Ok(uri)
}

/// The runtime and client, created on first use on the exporting thread.
struct Active {
    rt: tokio::runtime::Runtime,
    client: Client,
}

/// A [`SpanExporter`] that sends batches to an OTLP receiver (an OpenTelemetry Collector,
/// Jaeger, Grafana Tempo, `tracewire-collector`) over OTLP/HTTP (protobuf or JSON) or OTLP/gRPC.
///
/// Made for the [`tracewire::export::Pipeline`] worker thread: each `export` blocks that thread
/// on a small current-thread Tokio runtime the exporter owns (created on first use), for at most
/// the retry budget plus one request timeout. The application's threads never wait on it; while
/// it retries, the pipeline's bounded queue fills and drops (and counts) new spans.
///
/// The exporter's own HTTP and gRPC machinery never produces spans: `export` runs with no
/// `tracing` subscriber (on top of the pipeline worker having none), and the runtime's blocking
/// threads (used for DNS) start with none either.
///
/// ```no_run
/// use std::time::Duration;
/// use tracewire::export::Pipeline;
/// use tracewire_otlp::OtlpExporter;
///
/// let exporter = OtlpExporter::builder().from_env().build()?;
/// let stats = exporter.stats_handle();
/// let pipeline = Pipeline::builder().exporter(exporter).build();
/// // ... run the application ...
/// pipeline.shutdown(Duration::from_secs(5))?;
/// println!("sent {} spans, {} retries", stats.snapshot().exported_spans, stats.snapshot().retries);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct OtlpExporter {
    settings: Settings,
    stats: OtlpStats,
    active: Option<Active>,
    shut_down: bool,
}

impl fmt::Debug for OtlpExporter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let names: Vec<&str> = self
            .settings
            .headers
            .keys()
            .map(HeaderName::as_str)
            .collect();
        f.debug_struct("OtlpExporter")
            .field("protocol", &self.settings.protocol)
            .field("endpoint", &self.settings.endpoint)
            .field("headers", &names)
            .field("timeout", &self.settings.timeout)
            .field("compression", &self.settings.compression)
            .field("retry", &self.settings.retry)
            .field("stats", &self.stats)
            .field("shut_down", &self.shut_down)
            .finish()
    }
}

impl OtlpExporter {
    /// A builder with the defaults: HTTP/protobuf to `http://localhost:4318/v1/traces`, 10 s
    /// timeout, no compression, [`RetryPolicy::default`].
    pub fn builder() -> OtlpExporterBuilder {
        OtlpExporterBuilder::default()
    }

    /// An exporter configured by the `OTEL_EXPORTER_OTLP_*` variables over the defaults (see
    /// [`OtlpExporterBuilder::from_env`]).
    pub fn from_env() -> Result<OtlpExporter, OtlpConfigError> {
        OtlpExporter::builder().from_env().build()
    }

    /// A handle on the counters that stays valid after the exporter moves into a pipeline.
    pub fn stats_handle(&self) -> OtlpStats {
        self.stats.clone()
    }

    /// The protocol in use.
    pub fn protocol(&self) -> Protocol {
        self.settings.protocol
    }

    /// The endpoint requests go to.
    pub fn endpoint(&self) -> String {
        self.settings.endpoint.to_string()
    }

    /// The request timeout.
    pub fn timeout(&self) -> Duration {
        self.settings.timeout
    }

    /// The compression in use.
    pub fn compression(&self) -> Compression {
        self.settings.compression
    }

    fn export_quietly(
        &mut self,
        batch: &[SpanData],
        resource: &Resource,
    ) -> Result<(), ExportError> {
        let request = crate::convert::to_request(batch, resource);
        let payload = Payload::encode(request, self.settings.protocol, self.settings.compression)?;
        if self.active.is_none() {
            self.active = Some(start(&self.settings)?);
        }
        let Some(Active { rt, client }) = self.active.as_mut() else {
            return Err(ExportError::Shutdown);
        };
        rt.block_on(deliver(
            client,
            &payload,
            &self.settings,
            &self.stats,
            batch.len() as u64,
        ))
    }
}

thread_local! {
    static QUIET: RefCell<Option<tracing::dispatcher::DefaultGuard>> = const { RefCell::new(None) };
}

/// Creates the runtime (current-thread; its blocking pool, used for DNS, gets threads with no
/// `tracing` subscriber) and the client inside it.
fn start(settings: &Settings) -> Result<Active, ExportError> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .max_blocking_threads(2)
        .thread_name("tracewire-otlp")
        .on_thread_start(|| {
            QUIET.with(|q| {
                *q.borrow_mut() =
                    Some(tracing::dispatcher::set_default(&tracing::Dispatch::none()));
            });
        })
        .on_thread_stop(|| {
            QUIET.with(|q| q.borrow_mut().take());
        })
        .build()
        .map_err(|e| ExportError::Transport(format!("cannot start the export runtime: {e}")))?;
    let client = {
        let _enter = rt.enter();
        Client::new(settings)?
    };
    Ok(Active { rt, client })
}

/// Sends one payload, retrying per the policy.
async fn deliver(
    client: &mut Client,
    payload: &Payload,
    settings: &Settings,
    stats: &OtlpStats,
    spans: u64,
) -> Result<(), ExportError> {
    let policy = &settings.retry;
    let start = Instant::now();
    let mut attempt = 0u32;
    loop {
        attempt += 1;
        if attempt > 1 {
            stats.retry();
        }
        stats.request(payload.len());
        let err = match tokio::time::timeout(settings.timeout, client.send(payload)).await {
            Ok(Ok(accepted)) => {
                let rejected = accepted.rejected.min(spans);
                stats.delivered(spans - rejected, rejected);
                if rejected > 0 {
                    return Err(ExportError::Rejected {
                        spans: rejected,
                        message: accepted.message,
                    });
                }
                return Ok(());
            }
            Ok(Err(e)) => {
                if e.error == ExportError::Timeout {
                    stats.timeout();
                }
                e
            }
            Err(_elapsed) => {
                stats.timeout();
                AttemptError::retryable(ExportError::Timeout)
            }
        };
        if !err.retryable || attempt >= policy.get_max_attempts() {
            stats.failed(spans);
            return Err(err.error);
        }
        let wait = err
            .retry_after
            .unwrap_or_else(|| crate::retry::jitter(policy.backoff(attempt)));
        if start.elapsed() + wait > policy.get_max_elapsed() {
            stats.failed(spans);
            return Err(err.error);
        }
        tokio::time::sleep(wait).await;
    }
}

impl SpanExporter for OtlpExporter {
    fn export(&mut self, batch: &[SpanData], resource: &Resource) -> Result<(), ExportError> {
        if self.shut_down {
            return Err(ExportError::Shutdown);
        }
        if batch.is_empty() {
            return Ok(());
        }
        if tokio::runtime::Handle::try_current().is_ok() {
            // Blocking inside someone's runtime would panic or stall it.
            return Err(ExportError::Transport(
                "the otlp exporter must run on a plain thread, not inside an async runtime"
                    .to_owned(),
            ));
        }
        // No spans or events from hyper, h2 or tonic may reach a subscriber: they would be
        // exported in turn.
        tracing::dispatcher::with_default(&tracing::Dispatch::none(), || {
            self.export_quietly(batch, resource)
        })
    }

    fn shutdown(&mut self) -> Result<(), ExportError> {
        self.shut_down = true;
        self.stop();
        Ok(())
    }
}

impl OtlpExporter {
    fn stop(&mut self) {
        if let Some(Active { rt, client }) = self.active.take() {
            drop(client);
            // Never blocks, so it is safe from any thread, async or not.
            rt.shutdown_background();
        }
    }
}

impl Drop for OtlpExporter {
    fn drop(&mut self) {
        self.stop();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults() {
        let e = OtlpExporter::builder().build().unwrap();
        assert_eq!(e.protocol(), Protocol::HttpProtobuf);
        assert_eq!(e.endpoint(), "http://localhost:4318/v1/traces");
        assert_eq!(e.timeout(), Duration::from_secs(10));
        assert_eq!(e.compression(), Compression::None);
        let e = OtlpExporter::builder()
            .protocol(Protocol::Grpc)
            .build()
            .unwrap();
        assert_eq!(e.endpoint(), "http://localhost:4317/");
    }

    #[test]
    fn env_and_code_apply_in_call_order() {
        let env = |var: &str| match var {
            "OTEL_EXPORTER_OTLP_ENDPOINT" => Some("http://env:4317".to_owned()),
            "OTEL_EXPORTER_OTLP_PROTOCOL" => Some("grpc".to_owned()),
            "OTEL_EXPORTER_OTLP_TIMEOUT" => Some("1500".to_owned()),
            _ => None,
        };
        let e = OtlpExporter::builder()
            .endpoint("http://code:1")
            .from_env_lookup(env)
            .build()
            .unwrap();
        assert_eq!(e.endpoint(), "http://env:4317/");
        assert_eq!(e.protocol(), Protocol::Grpc);
        assert_eq!(e.timeout(), Duration::from_millis(1500));
        let e = OtlpExporter::builder()
            .from_env_lookup(env)
            .endpoint("http://code:1")
            .timeout(Duration::from_secs(2))
            .build()
            .unwrap();
        assert_eq!(e.endpoint(), "http://code:1/");
        assert_eq!(e.timeout(), Duration::from_secs(2));
        // A generic endpoint gets the HTTP path when the protocol is chosen later in code.
        let e = OtlpExporter::builder()
            .from_env_lookup(env)
            .protocol(Protocol::HttpJson)
            .build()
            .unwrap();
        assert_eq!(e.endpoint(), "http://env:4317/v1/traces");
    }

    #[test]
    fn invalid_settings_are_errors() {
        let bad_env = OtlpExporter::builder()
            .from_env_lookup(|v| (v == "OTEL_EXPORTER_OTLP_COMPRESSION").then(|| "br".to_owned()))
            .build()
            .unwrap_err();
        assert_eq!(
            bad_env,
            OtlpConfigError::InvalidEnv {
                var: "OTEL_EXPORTER_OTLP_COMPRESSION",
                value: "br".into()
            }
        );
        for (endpoint, reason) in [
            ("not a url", "not a url"),
            (
                "https://secure:4318/v1/traces",
                "https is not supported by this build (no tls)",
            ),
            ("ftp://x/", "the scheme must be http"),
            ("localhost:4318", "the scheme must be http"),
        ] {
            assert_eq!(
                OtlpExporter::builder()
                    .endpoint(endpoint)
                    .build()
                    .unwrap_err(),
                OtlpConfigError::InvalidEndpoint {
                    endpoint: endpoint.into(),
                    reason
                },
                "{endpoint}"
            );
        }
        assert_eq!(
            OtlpExporter::builder()
                .header("bad name", "v")
                .build()
                .unwrap_err(),
            OtlpConfigError::InvalidHeader {
                name: "bad name".into()
            }
        );
        assert_eq!(
            OtlpExporter::builder()
                .header("k", "line\nbreak")
                .build()
                .unwrap_err(),
            OtlpConfigError::InvalidHeader { name: "k".into() }
        );
        assert_eq!(
            OtlpExporter::builder()
                .protocol(Protocol::Grpc)
                .header("x-bin", "v")
                .build()
                .unwrap_err(),
            OtlpConfigError::InvalidHeader {
                name: "x-bin".into()
            }
        );
        assert_eq!(
            OtlpExporter::builder()
                .timeout(Duration::ZERO)
                .build()
                .unwrap_err(),
            OtlpConfigError::ZeroTimeout
        );
    }

    #[test]
    fn debug_hides_header_values() {
        let b = OtlpExporter::builder().header("authorization", "Bearer secret");
        assert!(!format!("{b:?}").contains("secret"));
        let e = b.build().unwrap();
        let text = format!("{e:?}");
        assert!(
            text.contains("authorization") && !text.contains("secret"),
            "{text}"
        );
    }

    #[test]
    fn refuses_to_block_inside_a_runtime_and_after_shutdown() {
        let mut e = OtlpExporter::builder().build().unwrap();
        let span = SpanData::new(tracewire::SpanContext::default(), "s");
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        let r = rt.block_on(async { e.export(std::slice::from_ref(&span), &Resource::new("t")) });
        assert!(matches!(r, Err(ExportError::Transport(_))), "{r:?}");
        e.shutdown().unwrap();
        assert_eq!(
            e.export(&[span], &Resource::new("t")),
            Err(ExportError::Shutdown)
        );
        assert_eq!(e.stats_handle().snapshot().requests, 0);
    }
}
