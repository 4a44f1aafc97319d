//! [`Guard`]: owns the export pipeline and shuts it down when dropped.

use std::time::Duration;

use crate::export::{Pipeline, PipelineError, PipelineStats};

/// Owns the export pipeline: flushes and shuts it down when dropped, waiting at most the
/// shutdown timeout — in any runtime flavour or none, since the worker is its own thread.
#[must_use = "dropping the guard shuts the export pipeline down"]
#[derive(Debug)]
pub struct Guard {
    pub(super) pipeline: Pipeline,
    pub(super) timeout: Duration,
}

impl Guard {
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
