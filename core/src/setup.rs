//! One-call setup: [`init`] and the [`Builder`] behind it.
//!
//! ```no_run
//! fn main() -> Result<(), tracewire::InitError> {
//!     // Reads OTEL_SERVICE_NAME, OTEL_RESOURCE_ATTRIBUTES, OTEL_TRACES_SAMPLER(_ARG),
//!     // OTEL_TRACES_EXPORTER (console, none), OTEL_BSP_*, the OTEL_*_LIMIT span limits
//!     // and RUST_LOG.
//!     let _guard = tracewire::init()?;
//!     tracing::info!("log lines carry trace_id and span_id inside spans");
//!     Ok(())
//! } // the guard flushes and shuts the export pipeline down here
//! ```

use std::fmt;
use std::time::Duration;

use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;

use crate::error::ConfigError;
use crate::export::{Pipeline, PipelineBuilder, PipelineError, PipelineStats, SpanExporter};
use crate::export::{StdoutExporter, StdoutFormat};
use crate::layer::{LayerBuilder, TracewireLayer};
use crate::limits::SpanLimits;
use crate::resource::Resource;
use crate::sampler::Sampler;

/// Why [`init`] or [`Builder::install`] failed.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum InitError {
    /// An `OTEL_*` variable or a builder value is invalid.
    Config(ConfigError),
    /// A global `tracing` subscriber is already installed.
    AlreadyInstalled(String),
    /// The export pipeline could not start (its worker thread was refused).
    Pipeline(PipelineError),
}

impl fmt::Display for InitError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            InitError::Config(e) => write!(f, "invalid tracing configuration: {e}"),
            InitError::AlreadyInstalled(e) => {
                write!(f, "a global tracing subscriber is already installed: {e}")
            }
            InitError::Pipeline(e) => write!(f, "{e}"),
        }
    }
}

impl std::error::Error for InitError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            InitError::Config(e) => Some(e),
            InitError::AlreadyInstalled(_) => None,
            InitError::Pipeline(e) => Some(e),
        }
    }
}

impl From<ConfigError> for InitError {
    fn from(e: ConfigError) -> Self {
        InitError::Config(e)
    }
}

impl From<PipelineError> for InitError {
    fn from(e: PipelineError) -> Self {
        InitError::Pipeline(e)
    }
}

/// Installs the global subscriber (registry, `RUST_LOG` filter, fmt layer with trace ids, the
/// tracewire layer) configured from `OTEL_*` variables, and returns the pipeline's guard.
pub fn init() -> Result<Guard, InitError> {
    Builder::new().install()
}

/// Every knob of the setup. Values not set here come from the environment.
#[must_use]
pub struct Builder {
    resource: Option<Resource>,
    service_name: Option<String>,
    sampler: Option<Sampler>,
    limits: Option<SpanLimits>,
    layer: LayerBuilder,
    pipeline: Option<PipelineBuilder>,
    exporters: Vec<Box<dyn SpanExporter>>,
    env_exporter: bool,
    fmt: bool,
    filter: Option<String>,
    shutdown_timeout: Duration,
}

impl fmt::Debug for Builder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Builder")
            .field("service_name", &self.service_name)
            .field("sampler", &self.sampler)
            .field("exporters", &self.exporters.len())
            .field("fmt", &self.fmt)
            .field("filter", &self.filter)
            .finish_non_exhaustive()
    }
}

impl Default for Builder {
    fn default() -> Self {
        Builder::new()
    }
}

impl Builder {
    /// A builder that reads the environment for anything not set.
    pub fn new() -> Self {
        Builder {
            resource: None,
            service_name: None,
            sampler: None,
            limits: None,
            layer: LayerBuilder::default(),
            pipeline: None,
            exporters: Vec::new(),
            env_exporter: true,
            fmt: true,
            filter: None,
            shutdown_timeout: Duration::from_secs(5),
        }
    }

    /// The `service.name` (over `OTEL_SERVICE_NAME`).
    pub fn service_name(mut self, name: impl Into<String>) -> Self {
        self.service_name = Some(name.into());
        self
    }

    /// The whole resource (over `OTEL_SERVICE_NAME` and `OTEL_RESOURCE_ATTRIBUTES`).
    pub fn resource(mut self, resource: Resource) -> Self {
        self.resource = Some(resource);
        self
    }

    /// The sampler (over `OTEL_TRACES_SAMPLER`).
    pub fn sampler(mut self, sampler: Sampler) -> Self {
        self.sampler = Some(sampler);
        self
    }

    /// Adds an exporter. Once any is added, `OTEL_TRACES_EXPORTER` is not consulted.
    pub fn exporter<E: SpanExporter>(mut self, exporter: E) -> Self {
        self.exporters.push(Box::new(exporter));
        self
    }

    /// Exports nothing even if `OTEL_TRACES_EXPORTER` names an exporter (ids still propagate
    /// and log lines still carry them).
    pub fn no_env_exporter(mut self) -> Self {
        self.env_exporter = false;
        self
    }

    /// The span limits (over the `OTEL_*_LIMIT` variables; see [`limits`](crate::limits)).
    /// Limits set on the [`layer`](Builder::layer) builder win over these.
    pub fn limits(mut self, limits: SpanLimits) -> Self {
        self.limits = Some(limits);
        self
    }

    /// The export queue and batching (over `OTEL_BSP_*`).
    pub fn pipeline(mut self, pipeline: PipelineBuilder) -> Self {
        self.pipeline = Some(pipeline);
        self
    }

    /// The span layer's settings (caps, baggage attributes, error events).
    pub fn layer(mut self, layer: LayerBuilder) -> Self {
        self.layer = layer;
        self
    }

    /// Whether to install the fmt layer that prints log lines (default `true`).
    pub fn fmt(mut self, yes: bool) -> Self {
        self.fmt = yes;
        self
    }

    /// The filter directives (over `RUST_LOG`; default `info`).
    pub fn filter(mut self, directives: impl Into<String>) -> Self {
        self.filter = Some(directives.into());
        self
    }

    /// How long the guard waits for the pipeline when dropped (default 5 s).
    pub fn shutdown_timeout(mut self, d: Duration) -> Self {
        self.shutdown_timeout = d;
        self
    }

    /// Builds the pipeline and the layer without installing anything, for users composing
    /// their own subscriber stack.
    pub fn build(self) -> Result<(TracewireLayer, Guard), InitError> {
        let resource = match (self.resource, self.service_name) {
            (Some(r), Some(name)) => r.with("service.name", name),
            (Some(r), None) => r,
            (None, Some(name)) => Resource::from_env().with("service.name", name),
            (None, None) => Resource::from_env(),
        };
        let sampler = match self.sampler {
            Some(s) => s,
            None => Sampler::from_env()?,
        };
        let mut pipeline = self
            .pipeline
            .unwrap_or_else(PipelineBuilder::from_env)
            .resource(resource);
        let mut exporters = self.exporters;
        if exporters.is_empty()
            && self.env_exporter
            && let Some(e) = exporter_from_env()?
        {
            exporters.push(e);
        }
        for e in exporters {
            pipeline = pipeline.exporter(e);
        }
        let pipeline = pipeline.try_build()?;
        let limits = self.limits.unwrap_or_else(SpanLimits::from_env);
        let layer = self
            .layer
            .base_limits(limits)
            .sampler(sampler)
            .build(pipeline.clone());
        Ok((
            layer,
            Guard {
                pipeline,
                timeout: self.shutdown_timeout,
            },
        ))
    }

    /// Installs the global subscriber and returns the guard.
    pub fn install(self) -> Result<Guard, InitError> {
        let fmt_on = self.fmt;
        let directives = self
            .filter
            .clone()
            .or_else(|| std::env::var("RUST_LOG").ok())
            .unwrap_or_else(|| "info".to_owned());
        let (layer, guard) = self.build()?;
        let registry = tracing_subscriber::registry().with(layer);
        #[cfg(feature = "fmt")]
        {
            let filter = tracing_subscriber::EnvFilter::try_new(&directives).map_err(|_| {
                InitError::Config(ConfigError::InvalidEnv {
                    var: "RUST_LOG",
                    value: directives.clone(),
                })
            })?;
            use tracing_subscriber::Layer;
            let fmt_layer = fmt_on.then(|| {
                tracing_subscriber::fmt::layer()
                    .event_format(crate::fmt::TraceIdFormat::new(
                        tracing_subscriber::fmt::format::Format::default(),
                    ))
                    .boxed()
            });
            registry
                .with(fmt_layer)
                .with(filter)
                .try_init()
                .map_err(|e| InitError::AlreadyInstalled(e.to_string()))?;
        }
        #[cfg(not(feature = "fmt"))]
        {
            let _ = (fmt_on, directives);
            registry
                .try_init()
                .map_err(|e| InitError::AlreadyInstalled(e.to_string()))?;
        }
        Ok(guard)
    }
}

fn exporter_from_env() -> Result<Option<Box<dyn SpanExporter>>, ConfigError> {
    let Ok(value) = std::env::var("OTEL_TRACES_EXPORTER") else {
        return Ok(None);
    };
    let mut chosen: Option<Box<dyn SpanExporter>> = None;
    for name in value.split(',').map(str::trim).filter(|n| !n.is_empty()) {
        match name {
            "none" => return Ok(None),
            "console" | "stdout" => {
                chosen = Some(Box::new(StdoutExporter::new(StdoutFormat::Pretty)));
            }
            "console_json" | "stdout_json" => {
                chosen = Some(Box::new(StdoutExporter::new(StdoutFormat::JsonLines)));
            }
            // OTLP lives in the tracewire-otlp crate, which installs its exporter explicitly.
            _ => {
                return Err(ConfigError::InvalidEnv {
                    var: "OTEL_TRACES_EXPORTER",
                    value: value.clone(),
                });
            }
        }
    }
    Ok(chosen)
}

/// Owns the export pipeline: flushes and shuts it down when dropped, waiting at most the
/// shutdown timeout — in any runtime flavour or none, since the worker is its own thread.
#[must_use = "dropping the guard shuts the export pipeline down"]
#[derive(Debug)]
pub struct Guard {
    pipeline: Pipeline,
    timeout: Duration,
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_pipeline_that_cannot_start_fails_the_setup() {
        let err = Builder::new()
            .no_env_exporter()
            .sampler(Sampler::AlwaysOn)
            .pipeline(PipelineBuilder::default().unspawnable())
            .build()
            .unwrap_err();
        assert!(
            matches!(err, InitError::Pipeline(PipelineError::Spawn(_))),
            "{err:?}"
        );
        assert!(std::error::Error::source(&err).is_some());
    }

    #[test]
    fn limits_reach_the_layer_under_the_layer_builders_own() {
        let limits = SpanLimits {
            attribute_count: 3,
            link_count: 4,
            ..SpanLimits::default()
        };
        let (layer, _guard) = Builder::new()
            .no_env_exporter()
            .sampler(Sampler::AlwaysOn)
            .pipeline(PipelineBuilder::default())
            .limits(limits)
            .layer(LayerBuilder::default().max_links(1))
            .build()
            .unwrap();
        let debug = format!("{layer:?}");
        assert!(debug.contains("attribute_count: 3"), "{debug}");
        assert!(debug.contains("link_count: 1"), "{debug}");
    }

    #[test]
    fn a_huge_shutdown_timeout_is_waited_out_not_a_panic() {
        let (_layer, guard) = Builder::new()
            .no_env_exporter()
            .sampler(Sampler::AlwaysOn)
            .pipeline(PipelineBuilder::default())
            .shutdown_timeout(Duration::MAX)
            .build()
            .unwrap();
        guard.flush(Duration::MAX).unwrap();
        drop(guard);
    }
}
