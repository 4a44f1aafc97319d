//! [`OtlpExporter`]: the [`SpanExporter`] that delivers batches, retrying within a budget.

use std::cell::RefCell;
use std::fmt;
use std::time::{Duration, Instant};

use http::header::{HeaderMap, HeaderName};
use tracewire::export::SpanExporter;
use tracewire::{ExportError, Resource, SpanData};

use crate::builder::OtlpExporterBuilder;
use crate::config::{Compression, Protocol, RetryPolicy};
use crate::diagnostics::Diagnostics;
use crate::error::{OtlpConfigError, OtlpExportError};
use crate::stats::OtlpStats;
use crate::transport::{AttemptError, Client, Payload};

/// Validated settings.
#[derive(Clone)]
pub(crate) struct Settings {
    pub(crate) protocol: Protocol,
    pub(crate) endpoint: http::Uri,
    /// TLS (an `https` endpoint).
    pub(crate) secure: bool,
    pub(crate) headers: HeaderMap,
    pub(crate) timeout: Duration,
    pub(crate) compression: Compression,
    pub(crate) retry: RetryPolicy,
    #[cfg(feature = "tls")]
    #[cfg_attr(not(any(feature = "_http", feature = "grpc")), allow(dead_code))]
    pub(crate) tls: std::sync::Arc<rustls::ClientConfig>,
    /// Whether the server asked for a client certificate we do not have.
    #[cfg(feature = "tls")]
    pub(crate) client_auth: std::sync::Arc<crate::tls::ClientAuth>,
}

/// The runtime and client, created on first use on the exporting thread.
struct Active {
    rt: tokio::runtime::Runtime,
    client: Client,
}

/// A [`SpanExporter`] that sends batches to an OTLP receiver (an OpenTelemetry Collector,
/// Jaeger, Grafana Tempo, `tracewire-collector`) over OTLP/HTTP (protobuf or JSON) or OTLP/gRPC,
/// in plain text or over TLS.
///
/// Made for the [`tracewire::export::Pipeline`] worker thread: each `export` blocks that thread
/// on a small current-thread Tokio runtime the exporter owns (created on first use), for at most
/// the retry budget ([`RetryPolicy::max_elapsed`]). The application's threads never wait on it;
/// while it retries, the pipeline's bounded queue fills and drops (and counts) new spans.
///
/// The exporter's own HTTP and gRPC machinery never produces spans: `export` runs with no
/// `tracing` subscriber (on top of the pipeline worker having none), and the runtime's blocking
/// threads (used for DNS) start with none either. Its own log lines (the first failure of each
/// kind, recovery) go to the `tracewire_otlp` target.
///
/// ```no_run
/// use std::time::Duration;
/// use tracewire_otlp::OtlpExporter;
///
/// let exporter = OtlpExporter::builder().from_env().build()?;
/// let stats = exporter.stats_handle();
/// // The export pipeline and the span layer feeding it, installed as the global subscriber.
/// let guard = tracewire::builder().exporter(exporter).install()?;
/// tracing::info_span!("checkout").in_scope(|| tracing::info!("exported with its span"));
/// // ... run the application ...
/// guard.flush(Duration::from_secs(5))?;
/// println!("sent {} spans, {} retries", stats.snapshot().exported_spans, stats.snapshot().retries);
/// if let Some(e) = stats.last_error() {
///     println!("last failure: {e}");
/// }
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct OtlpExporter {
    settings: Settings,
    stats: OtlpStats,
    diagnostics: Diagnostics,
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
            .field("secure", &self.settings.secure)
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
    pub(crate) fn new(settings: Settings) -> OtlpExporter {
        OtlpExporter {
            diagnostics: Diagnostics::new(settings.endpoint.to_string()),
            settings,
            stats: OtlpStats::default(),
            active: None,
            shut_down: false,
        }
    }

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

    /// Whether requests go over TLS.
    pub fn is_secure(&self) -> bool {
        self.settings.secure
    }

    /// The request timeout.
    pub fn timeout(&self) -> Duration {
        self.settings.timeout
    }

    /// The compression in use.
    pub fn compression(&self) -> Compression {
        self.settings.compression
    }

    /// Delivers one batch, like [`SpanExporter::export`], with the failure typed. Must be
    /// called from a plain thread (not inside an async runtime), as the pipeline's worker is.
    pub fn export_batch(
        &mut self,
        batch: &[SpanData],
        resource: &Resource,
    ) -> Result<(), OtlpExportError> {
        if self.shut_down {
            return Err(OtlpExportError::Shutdown);
        }
        if batch.is_empty() {
            return Ok(());
        }
        if tokio::runtime::Handle::try_current().is_ok() {
            // Blocking inside someone's runtime would panic or stall it.
            return Err(OtlpExportError::Runtime(
                "the otlp exporter must run on a plain thread, not inside an async runtime"
                    .to_owned(),
            ));
        }
        // No spans or events from hyper, h2 or tonic may reach a subscriber: they would be
        // exported in turn.
        let result = tracing::dispatcher::with_default(&tracing::Dispatch::none(), || {
            self.export_quietly(batch, resource)
        });
        match &result {
            Ok(()) => self.diagnostics.delivered(),
            Err(e) => self.diagnostics.failed(e),
        }
        result
    }

    fn export_quietly(
        &mut self,
        batch: &[SpanData],
        resource: &Resource,
    ) -> Result<(), OtlpExportError> {
        let spans = batch.len() as u64;
        let request = crate::convert::to_request(batch, resource);
        let payload = Payload::encode(request, self.settings.protocol, self.settings.compression)
            .inspect_err(|e| self.failed(e, spans))?;
        if self.active.is_none() {
            self.active = Some(start(&self.settings).inspect_err(|e| self.failed(e, spans))?);
        }
        let Some(Active { rt, client }) = self.active.as_mut() else {
            return Err(OtlpExportError::Shutdown);
        };
        rt.block_on(deliver(
            client,
            &payload,
            &self.settings,
            &self.stats,
            spans,
        ))
    }

    fn failed(&self, e: &OtlpExportError, spans: u64) {
        self.stats.set_last_error(e);
        self.stats.failed(spans);
    }
}

thread_local! {
    static QUIET: RefCell<Option<tracing::dispatcher::DefaultGuard>> = const { RefCell::new(None) };
}

/// Creates the runtime (current-thread; its blocking pool, used for DNS, gets threads with no
/// `tracing` subscriber) and the client inside it.
fn start(settings: &Settings) -> Result<Active, OtlpExportError> {
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
        .map_err(|e| OtlpExportError::Runtime(e.to_string()))?;
    let client = {
        let _enter = rt.enter();
        Client::new(settings)?
    };
    Ok(Active { rt, client })
}

/// Sends one payload, retrying per the policy, within its time budget.
async fn deliver(
    client: &mut Client,
    payload: &Payload,
    settings: &Settings,
    stats: &OtlpStats,
    spans: u64,
) -> Result<(), OtlpExportError> {
    let policy = &settings.retry;
    let budget = policy.get_max_elapsed();
    let start = Instant::now();
    let mut attempt = 0u32;
    loop {
        attempt += 1;
        if attempt > 1 {
            stats.retry();
        }
        // Each attempt gets the request timeout, cut to what is left of the budget (a zero
        // budget means none: the one attempt gets the full timeout).
        let left = budget.saturating_sub(start.elapsed());
        let attempt_timeout = if budget.is_zero() {
            settings.timeout
        } else {
            settings.timeout.min(left)
        };
        stats.request(payload.len());
        let err = match tokio::time::timeout(attempt_timeout, client.send(payload)).await {
            Ok(Ok(accepted)) => {
                #[cfg(feature = "tls")]
                settings.client_auth.accepted();
                let rejected = accepted.rejected.min(spans);
                stats.delivered(spans - rejected, rejected);
                if rejected > 0 {
                    return Err(OtlpExportError::Rejected {
                        spans: rejected,
                        message: accepted.message,
                    });
                }
                return Ok(());
            }
            Ok(Err(e)) => {
                if e.error == OtlpExportError::Timeout {
                    stats.timeout();
                }
                e
            }
            Err(_elapsed) => {
                stats.timeout();
                AttemptError::retryable(OtlpExportError::Timeout)
            }
        };
        stats.set_last_error(&err.error);
        if !err.retryable || attempt >= policy.get_max_attempts() {
            stats.failed(spans);
            return Err(err.error);
        }
        // The server's wait (uncapped, possibly absurd) or the backoff; never past the budget.
        let wait = err
            .retry_after
            .unwrap_or_else(|| crate::retry::jitter(policy.backoff(attempt)));
        if start.elapsed().saturating_add(wait) >= budget {
            stats.failed(spans);
            return Err(err.error);
        }
        tokio::time::sleep(wait).await;
    }
}

impl SpanExporter for OtlpExporter {
    fn export(&mut self, batch: &[SpanData], resource: &Resource) -> Result<(), ExportError> {
        self.export_batch(batch, resource)
            .map_err(ExportError::from)
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

    /// What an exporter built from `b` resolved: protocol, endpoint and timeout.
    fn resolved(b: OtlpExporterBuilder) -> (Protocol, String, Duration) {
        let e = b.build().unwrap();
        (e.protocol(), e.endpoint(), e.timeout())
    }

    #[test]
    fn defaults() {
        let e = OtlpExporter::builder().build().unwrap();
        assert_eq!(e.compression(), Compression::None);
        let ten_seconds = Duration::from_secs(10);
        assert_eq!(
            resolved(OtlpExporter::builder()),
            (
                Protocol::HttpProtobuf,
                "http://localhost:4318/v1/traces".to_owned(),
                ten_seconds
            )
        );
        assert_eq!(
            resolved(OtlpExporter::builder().protocol(Protocol::Grpc)),
            (
                Protocol::Grpc,
                "http://localhost:4317/".to_owned(),
                ten_seconds
            )
        );
    }

    #[test]
    fn env_and_code_apply_in_call_order() {
        let env = |var: &str| match var {
            "OTEL_EXPORTER_OTLP_ENDPOINT" => Some("http://env:4317".to_owned()),
            "OTEL_EXPORTER_OTLP_PROTOCOL" => Some("grpc".to_owned()),
            "OTEL_EXPORTER_OTLP_TIMEOUT" => Some("1500".to_owned()),
            _ => None,
        };
        let env_timeout = Duration::from_millis(1500);
        assert_eq!(
            resolved(
                OtlpExporter::builder()
                    .endpoint("http://code:1")
                    .from_env_lookup(env)
            ),
            (Protocol::Grpc, "http://env:4317/".to_owned(), env_timeout)
        );
        assert_eq!(
            resolved(
                OtlpExporter::builder()
                    .from_env_lookup(env)
                    .endpoint("http://code:1")
                    .timeout(Duration::from_secs(2))
            ),
            (
                Protocol::Grpc,
                "http://code:1/".to_owned(),
                Duration::from_secs(2)
            )
        );
        // A generic endpoint gets the HTTP path when the protocol is chosen later in code.
        assert_eq!(
            resolved(
                OtlpExporter::builder()
                    .from_env_lookup(env)
                    .protocol(Protocol::HttpJson)
            ),
            (
                Protocol::HttpJson,
                "http://env:4317/v1/traces".to_owned(),
                env_timeout
            )
        );
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
            ("ftp://x/", "the scheme must be http or https"),
            ("localhost:4318", "the scheme must be http or https"),
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
        for (protocol, name, value) in [
            (Protocol::HttpProtobuf, "bad name", "v"),
            (Protocol::HttpProtobuf, "k", "line\nbreak"),
            (Protocol::Grpc, "x-bin", "v"),
        ] {
            assert_eq!(
                OtlpExporter::builder()
                    .protocol(protocol)
                    .header(name, value)
                    .build()
                    .unwrap_err(),
                OtlpConfigError::InvalidHeader { name: name.into() },
                "{name}: {value:?} over {protocol:?}"
            );
        }
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
        let r =
            rt.block_on(async { e.export_batch(std::slice::from_ref(&span), &Resource::new("t")) });
        assert!(matches!(r, Err(OtlpExportError::Runtime(_))), "{r:?}");
        e.shutdown().unwrap();
        assert_eq!(
            e.export(&[span], &Resource::new("t")),
            Err(ExportError::Shutdown)
        );
        assert_eq!(e.stats_handle().snapshot().requests, 0);
    }
}
