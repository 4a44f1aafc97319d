//! What the set-up resolved and returns: [`Config`], [`OtlpTarget`] and the [`Guard`].

use std::time::Duration;

use tracewire::export::{Pipeline, PipelineError, PipelineStats};
use tracewire::propagation::Propagators;
use tracewire::{Resource, Sampler};

use super::env::ExporterKind;
use crate::config::{Compression, Protocol};
use crate::stats::OtlpStats;

/// Where the OTLP exporter sends spans.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct OtlpTarget {
    /// The protocol.
    pub protocol: Protocol,
    /// The endpoint URL.
    pub endpoint: String,
    /// Whether it is reached over TLS.
    pub secure: bool,
    /// The request timeout.
    pub timeout: Duration,
    /// The compression.
    pub compression: Compression,
}

/// What [`Setup`](crate::Setup) resolved from the code and the environment.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct Config {
    /// `OTEL_SDK_DISABLED=true`: nothing exports; roots are not sampled, an inbound sampled
    /// flag is passed on, and propagation works as configured.
    pub disabled: bool,
    /// The exporters installed, in order.
    pub exporters: Vec<ExporterKind>,
    /// The OTLP exporter's destination, when it is installed.
    pub otlp: Option<OtlpTarget>,
    /// The resource attached to every span.
    pub resource: Resource,
    /// The sampler.
    pub sampler: Sampler,
    /// The propagation formats (`OTEL_PROPAGATORS`), for the server and client layers.
    pub propagators: Propagators,
    /// The export queue bound.
    pub queue_size: usize,
    /// The most spans per export.
    pub max_batch: usize,
    /// How long a partial batch waits.
    pub schedule_delay: Duration,
    /// The most time one batch may take to export, retries included.
    pub export_timeout: Duration,
    /// Doubtful settings that were accepted (a Boolean that is neither `true` nor `false`);
    /// [`Setup::install`](crate::Setup::install) logs them.
    pub warnings: Vec<String>,
}

/// What [`init()`](crate::init()) returns: the pipeline's guard (flushing on drop) and the resolved settings.
#[must_use = "dropping the guard shuts the export pipeline down"]
#[derive(Debug)]
pub struct Guard {
    pub(super) inner: tracewire::Guard,
    pub(super) config: Config,
    pub(super) otlp: Option<OtlpStats>,
}

impl Guard {
    /// The resolved settings.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// The propagation formats `OTEL_PROPAGATORS` chose, to hand to the server and client
    /// layers (`.propagators(guard.propagators().clone())`).
    pub fn propagators(&self) -> &Propagators {
        &self.config.propagators
    }

    /// The OTLP exporter's counters and last error, when it is installed.
    pub fn otlp_stats(&self) -> Option<&OtlpStats> {
        self.otlp.as_ref()
    }

    /// The export pipeline.
    pub fn pipeline(&self) -> &Pipeline {
        self.inner.pipeline()
    }

    /// The pipeline's counters.
    pub fn stats(&self) -> PipelineStats {
        self.inner.stats()
    }

    /// Exports everything queued, waiting at most `timeout`.
    pub fn flush(&self, timeout: Duration) -> Result<(), PipelineError> {
        self.inner.flush(timeout)
    }

    /// The `tracewire` guard inside.
    pub fn into_inner(self) -> tracewire::Guard {
        self.inner
    }
}
