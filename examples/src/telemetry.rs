//! A demo service's telemetry, set up the way a deployed service sets it up: one
//! [`tracewire_otlp::setup`] call reads every `OTEL_*` variable (the supervisor puts the
//! endpoint, protocol and service name there, see [`crate::destination`]), `RUST_LOG` chooses
//! the log lines and `TRACEWIRE_SPANS` the spans. Log lines carry trace ids and go to stderr,
//! which the supervisor points at the service's log file (colours only on a terminal).
//!
//! The exporter logs its own failures (the first of each kind, then again once it delivers);
//! what this module adds is a warning when the export queue drops spans, and the final
//! [`ExportReport`] at shutdown.

use std::sync::mpsc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use tracewire::TracewireLayer;
use tracewire::export::Pipeline;
use tracewire::propagation::Propagators;

use crate::control::ExportReport;
use crate::services::BoxError;

/// The baggage entry the gateway sets and every service copies onto its spans.
pub const RIDER_TIER: &str = "app.rider.tier";
/// How often the drop counter is checked.
const CHECK_EVERY: Duration = Duration::from_millis(500);
/// After drops are logged, further drops are summed up at most this often.
const REPEAT_EVERY: Duration = Duration::from_secs(10);

/// Installs tracing for the service `service` (its `service.name` unless `OTEL_SERVICE_NAME`
/// says otherwise): the exporters `OTEL_TRACES_EXPORTER` names (OTLP by default), the span
/// layer copying the [`RIDER_TIER`] baggage onto spans, log lines with `trace_id` and `span_id`
/// on stderr.
pub fn install(service: &str) -> Result<Telemetry, BoxError> {
    let guard = tracewire_otlp::setup()
        .service_name(service)
        .service_version(env!("CARGO_PKG_VERSION"))
        .core(|b| {
            b.log_to_stderr()
                .layer(TracewireLayer::builder().baggage_attributes([RIDER_TIER]))
        })
        .install()?;
    let (stop_watch, stopped) = mpsc::channel();
    let pipeline = guard.pipeline().clone();
    let watcher = std::thread::Builder::new()
        .name("drop-watch".into())
        .spawn(move || watch_drops(&pipeline, &stopped))?;
    Ok(Telemetry {
        guard,
        stop_watch,
        watcher,
    })
}

/// A service's installed telemetry. [`Telemetry::shutdown`] exports what is left.
#[derive(Debug)]
pub struct Telemetry {
    guard: tracewire_otlp::Guard,
    stop_watch: mpsc::Sender<()>,
    watcher: JoinHandle<()>,
}

impl Telemetry {
    /// The export pipeline.
    pub fn pipeline(&self) -> &Pipeline {
        self.guard.pipeline()
    }

    /// The propagation formats `OTEL_PROPAGATORS` chose, for the server and client layers.
    pub fn propagators(&self) -> &Propagators {
        self.guard.propagators()
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

/// Logs spans dropped because the export queue was full (the exporter cannot keep up): the
/// first drop at once, then a summary at most every [`REPEAT_EVERY`].
fn watch_drops(pipeline: &Pipeline, stop: &mpsc::Receiver<()>) {
    let mut logged = 0;
    let mut last_log: Option<Instant> = None;
    while let Err(mpsc::RecvTimeoutError::Timeout) = stop.recv_timeout(CHECK_EVERY) {
        let dropped = pipeline.stats().dropped;
        if dropped == logged || last_log.is_some_and(|t| t.elapsed() < REPEAT_EVERY) {
            continue;
        }
        tracing::warn!(
            new_drops = dropped - logged,
            dropped_spans = dropped,
            "the span export queue is full: spans dropped"
        );
        logged = dropped;
        last_log = Some(Instant::now());
    }
}
