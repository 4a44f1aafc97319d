//! A demo service's telemetry: spans exported over OTLP as the `OTEL_EXPORTER_OTLP_*`
//! environment says (the supervisor sets the endpoint and protocol there), log lines with trace
//! ids on stderr (the supervisor points it at the service's log file; colours only on a
//! terminal), and export failures logged instead of swallowed.
//!
//! [`install`] is the whole set-up; everything after it is reporting.

use std::io::IsTerminal;
use std::sync::mpsc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use tracewire::export::{Pipeline, PipelineStats};
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;

use crate::control::ExportReport;
use crate::services::BoxError;

/// What the services log (and trace): their own events, not the HTTP/2 machinery's.
const FILTER: &str = "info,h2=warn,hyper=warn,tower=warn";
/// How often the export counters are checked.
const CHECK_EVERY: Duration = Duration::from_millis(500);
/// After a failure is logged, further failures are summed up at most this often.
const REPEAT_EVERY: Duration = Duration::from_secs(10);

/// Installs tracing for the service `service`: the OTLP exporter from the environment, the
/// span layer (copying the `app.rider.tier` baggage onto spans), log lines with `trace_id` and
/// `span_id` on stderr.
pub fn install(service: &str) -> Result<Telemetry, BoxError> {
    let exporter = tracewire_otlp::OtlpExporter::from_env()?;
    let (protocol, endpoint) = (exporter.protocol(), exporter.endpoint());
    let (layer, guard) = tracewire::builder()
        .service_name(service)
        .exporter(exporter)
        .layer(tracewire::TracewireLayer::builder().baggage_attributes(["app.rider.tier"]))
        .build()?;
    let stderr = std::io::stderr();
    let logs = tracing_subscriber::fmt::layer()
        .with_writer(std::io::stderr)
        .with_ansi(stderr.is_terminal())
        .event_format(tracewire::fmt::TraceIdFormat::new(
            tracing_subscriber::fmt::format::Format::default(),
        ));
    tracing_subscriber::registry()
        .with(layer)
        .with(logs)
        .with(tracing_subscriber::EnvFilter::try_new(FILTER)?)
        .try_init()?;
    tracing::info!(%protocol, %endpoint, "exporting spans over OTLP");
    let (stop_watch, stopped) = mpsc::channel();
    let pipeline = guard.pipeline().clone();
    let watcher = std::thread::Builder::new()
        .name("export-watch".into())
        .spawn(move || watch_exports(&pipeline, &stopped))?;
    Ok(Telemetry {
        guard,
        stop_watch,
        watcher,
    })
}

/// A service's installed telemetry. [`Telemetry::shutdown`] exports what is left.
#[derive(Debug)]
pub struct Telemetry {
    guard: tracewire::Guard,
    stop_watch: mpsc::Sender<()>,
    watcher: JoinHandle<()>,
}

impl Telemetry {
    /// The export pipeline.
    pub fn pipeline(&self) -> &Pipeline {
        self.guard.pipeline()
    }

    /// Exports every queued span (waiting at most `timeout`), stops the pipeline, logs the
    /// outcome, and returns it.
    pub fn shutdown(self, timeout: Duration) -> ExportReport {
        let _ = self.stop_watch.send(());
        let _ = self.watcher.join();
        let pipeline = self.guard.pipeline();
        let problem = pipeline.shutdown(timeout).err();
        let report = ExportReport::of(pipeline, problem);
        if report.lost() == 0 {
            tracing::info!(exported = report.exported, "all spans exported");
        } else {
            tracing::warn!(
                exported = report.exported,
                failed = report.failed,
                dropped = report.dropped,
                pending = report.pending,
                error = report.error.as_deref().unwrap_or("none"),
                "spans were not exported"
            );
        }
        report
    }
}

/// Logs export failures and drops as they happen: the first at once, then a summary at most
/// every [`REPEAT_EVERY`].
fn watch_exports(pipeline: &Pipeline, stop: &mpsc::Receiver<()>) {
    let mut seen = PipelineStats::default();
    let mut last_log: Option<Instant> = None;
    while let Err(mpsc::RecvTimeoutError::Timeout) = stop.recv_timeout(CHECK_EVERY) {
        let now = pipeline.stats();
        let new_errors = now.export_errors - seen.export_errors;
        let new_drops = now.dropped - seen.dropped;
        if new_errors + new_drops == 0 || last_log.is_some_and(|t| t.elapsed() < REPEAT_EVERY) {
            continue;
        }
        let error = pipeline.last_error().map(|e| e.to_string());
        tracing::warn!(
            new_errors,
            new_drops,
            failed_spans = now.failed,
            dropped_spans = now.dropped,
            error = error.as_deref().unwrap_or("none"),
            "span export failing"
        );
        seen = now;
        last_log = Some(Instant::now());
    }
}
