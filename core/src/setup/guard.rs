//! [`Guard`]: owns the export pipeline and shuts it down when dropped.

use std::time::Duration;

use super::NoExporter;
use crate::export::{Pipeline, PipelineError, PipelineStats};

/// Owns the export pipeline: flushes and shuts it down when dropped, waiting at most the
/// shutdown timeout — in any runtime flavour or none, since the worker is its own thread.
#[must_use = "dropping the guard shuts the export pipeline down"]
#[derive(Debug)]
pub struct Guard {
    pub(super) pipeline: Pipeline,
    pub(super) timeout: Duration,
    /// Set when the pipeline has no exporter, and why.
    pub(super) no_exporter: Option<NoExporter>,
}

impl Guard {
    /// Says once, at start-up, that spans are not exported when nothing exports them.
    pub(super) fn announce(&self) {
        match self.no_exporter {
            Some(NoExporter::NotConfigured) => tracing::warn!(
                target: "tracewire",
                "no span exporter is configured: spans get ids and propagate, but are neither \
                 recorded nor exported (counted in Guard::stats().discarded); set \
                 OTEL_TRACES_EXPORTER=console to print them, or export over OTLP with \
                 tracewire_otlp::init()"
            ),
            Some(NoExporter::Off) => tracing::info!(
                target: "tracewire",
                "span export is off: spans get ids and propagate, but are neither recorded nor \
                 exported"
            ),
            None => {}
        }
    }

    /// The export pipeline.
    pub fn pipeline(&self) -> &Pipeline {
        &self.pipeline
    }

    /// The pipeline's counters.
    pub fn stats(&self) -> PipelineStats {
        self.pipeline.stats()
    }

    /// Exports everything queued, waiting at most `timeout`.
    pub fn flush(&self, timeout: Duration) -> Result<(), PipelineError> {
        self.pipeline.flush(timeout)
    }
}

impl Drop for Guard {
    fn drop(&mut self) {
        let _ = self.pipeline.shutdown(self.timeout);
    }
}
