//! One-call setup: [`init`] and the [`Builder`] behind it.
//!
//! ```no_run
//! fn main() -> Result<(), tracewire::InitError> {
//!     // Reads OTEL_SERVICE_NAME, OTEL_RESOURCE_ATTRIBUTES, OTEL_TRACES_SAMPLER(_ARG),
//!     // OTEL_TRACES_EXPORTER (console, none), OTEL_BSP_*, the OTEL_*_LIMIT span limits,
//!     // RUST_LOG (log lines) and TRACEWIRE_SPANS (spans).
//!     let _guard = tracewire::init()?;
//!     tracing::info!("log lines carry trace_id and span_id inside spans");
//!     Ok(())
//! } // the guard flushes and shuts the export pipeline down here
//! ```

use std::collections::HashMap;
use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use tracing_subscriber::Layer;
use tracing_subscriber::Registry;
use tracing_subscriber::layer::{Layered, SubscriberExt};
use tracing_subscriber::util::SubscriberInitExt;

mod error;
mod guard;
#[cfg(feature = "fmt")]
mod logs;

pub use self::error::InitError;
pub use self::guard::Guard;
use crate::error::ConfigError;
use crate::export::{PipelineBuilder, SpanExporter};
use crate::export::{StdoutExporter, StdoutFormat};
use crate::layer::{LayerBuilder, TracewireLayer};
use crate::limits::SpanLimits;
use crate::propagation::Propagators;
use crate::resource::Resource;
use crate::sampler::Sampler;

/// Installs the global subscriber (the registry, the tracewire layer under the span filter,
/// the fmt layer with trace ids under the `RUST_LOG` log filter) configured from `OTEL_*`
/// variables, and returns the pipeline's guard. `RUST_LOG` chooses the log lines printed,
/// `TRACEWIRE_SPANS` the spans traced (see [`Builder::span_filter`]).
pub fn init() -> Result<Guard, InitError> {
    Builder::new().install()
}

/// Every knob of the setup. Values not set here come from the environment.
///
/// Logs and spans are filtered separately, so quieting logs never stops tracing:
///
/// - `RUST_LOG` ([`Builder::filter`]; default `info`) chooses which events the fmt layer
///   prints. It does not choose spans.
/// - `TRACEWIRE_SPANS` ([`Builder::span_filter`]; default
///   [`Builder::DEFAULT_SPAN_FILTER`]: every `info`-and-above span and every span of the
///   tracewire plugins) chooses which spans are traced and which events become span events.
///
/// Both take `tracing-subscriber`'s `EnvFilter` syntax (`info,my_crate::db=off`). So
/// `RUST_LOG=warn` prints warnings only but still exports every `info` span, and
/// `TRACEWIRE_SPANS=info,noisy_crate=off` stops tracing `noisy_crate` while its log lines
/// still print. A printed line inside a traced span carries its `trace_id` and `span_id`.
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
    span_filter: Option<String>,
    #[cfg(feature = "fmt")]
    logs: logs::LogOptions,
    shutdown_timeout: Duration,
    propagators: Option<Propagators>,
    vars: Vars,
}

/// Where the setup reads `RUST_LOG`, `TRACEWIRE_SPANS` and friends: the process environment,
/// or (in tests) a fixed map.
#[derive(Clone, Default)]
struct Vars(Option<Arc<HashMap<String, String>>>);

impl Vars {
    fn get(&self, name: &str) -> Option<String> {
        match &self.0 {
            Some(map) => map.get(name).cloned(),
            None => std::env::var(name).ok(),
        }
    }
}

/// The layers [`Builder::install`] puts on the registry.
type Layers = Vec<Box<dyn Layer<Registry> + Send + Sync>>;

/// The subscriber [`Builder::install`] installs.
pub(crate) type Stack = Layered<Layers, Registry>;

#[cfg(feature = "fmt")]
type SpanFilter = tracing_subscriber::EnvFilter;
#[cfg(not(feature = "fmt"))]
type SpanFilter = tracing_subscriber::filter::Targets;

fn parse_filter(var: &'static str, directives: &str) -> Result<SpanFilter, InitError> {
    #[cfg(feature = "fmt")]
    let parsed = tracing_subscriber::EnvFilter::builder().parse(directives);
    #[cfg(not(feature = "fmt"))]
    let parsed = directives.parse::<tracing_subscriber::filter::Targets>();
    parsed.map_err(|_| {
        InitError::Config(ConfigError::InvalidEnv {
            var,
            value: directives.to_owned(),
        })
    })
}

impl fmt::Debug for Builder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Builder")
            .field("service_name", &self.service_name)
            .field("sampler", &self.sampler)
            .field("exporters", &self.exporters.len())
            .field("fmt", &self.fmt)
            .field("filter", &self.filter)
            .field("span_filter", &self.span_filter)
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
            span_filter: None,
            #[cfg(feature = "fmt")]
            logs: logs::LogOptions::default(),
            shutdown_timeout: Duration::from_secs(5),
            propagators: None,
            vars: Vars::default(),
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
    ///
    /// Otherwise `OTEL_TRACES_EXPORTER` may name `console` (or `stdout`), `console_json`
    /// (`stdout_json`), `none`, or a comma-separated list of them; `otlp` is an error that
    /// names the call that sets it up (`tracewire_otlp::init()`). With no exporter at all,
    /// spans still get ids and propagate but are not recorded; [`install`](Builder::install)
    /// says so once at start-up and [`Guard::stats`] counts them as `discarded`.
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

    /// Writes log lines to standard error instead of standard output.
    #[cfg(feature = "fmt")]
    pub fn log_to_stderr(mut self) -> Self {
        self.logs.writer = logs::LogWriter::Stderr;
        self
    }

    /// Writes log lines to `writer`: a file, a `tracing-appender` writer, a test buffer, any
    /// [`MakeWriter`](tracing_subscriber::fmt::MakeWriter). Colours are off unless
    /// [`log_ansi`](Builder::log_ansi) turns them on.
    ///
    /// ```no_run
    /// let _guard = tracewire::builder().log_writer(std::io::stderr).install()?;
    /// # Ok::<(), tracewire::InitError>(())
    /// ```
    #[cfg(feature = "fmt")]
    pub fn log_writer<W>(mut self, writer: W) -> Self
    where
        W: for<'w> tracing_subscriber::fmt::MakeWriter<'w> + Send + Sync + 'static,
    {
        self.logs.writer =
            logs::LogWriter::Custom(tracing_subscriber::fmt::writer::BoxMakeWriter::new(writer));
        self
    }

    /// Text lines (the default) or JSON lines, each with `trace_id` and `span_id` inside a
    /// span.
    #[cfg(feature = "fmt")]
    pub fn log_format(mut self, format: crate::fmt::LogFormat) -> Self {
        self.logs.format = format;
        self
    }

    /// Forces ANSI colours in text log lines on or off. By default they are on only when the
    /// output is standard output or error and a terminal, and `NO_COLOR` is unset or empty.
    #[cfg(feature = "fmt")]
    pub fn log_ansi(mut self, yes: bool) -> Self {
        self.logs.ansi = Some(yes);
        self
    }

    /// The log filter: which events the fmt layer prints (over `RUST_LOG`; default `info`).
    /// It does not choose spans; see [`span_filter`](Builder::span_filter).
    pub fn filter(mut self, directives: impl Into<String>) -> Self {
        self.filter = Some(directives.into());
        self
    }

    /// The span filter: which spans are traced and which events are recorded in them (over
    /// `TRACEWIRE_SPANS`; default [`Builder::DEFAULT_SPAN_FILTER`]), in `EnvFilter` syntax
    /// (`Targets` syntax without the `fmt` feature).
    pub fn span_filter(mut self, directives: impl Into<String>) -> Self {
        self.span_filter = Some(directives.into());
        self
    }

    /// The propagation formats [`install`](Builder::install) makes process-wide
    /// ([`Propagators::set_global`]), which the layers use unless given their own. Default:
    /// `OTEL_PROPAGATORS` (`tracecontext,baggage` when unset).
    pub fn propagators(mut self, propagators: Propagators) -> Self {
        self.propagators = Some(propagators);
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
        let mut why = NoExporter::Off;
        if exporters.is_empty() && self.env_exporter {
            (exporters, why) = exporters_from_env(&self.vars)?;
        }
        let no_exporter = exporters.is_empty().then_some(why);
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
                no_exporter,
            },
        ))
    }

    /// Installs the global subscriber and returns the guard.
    ///
    /// It also makes the propagation formats process-wide ([`propagators`](Builder::propagators)):
    /// the layers built afterwards use them unless given their own.
    pub fn install(mut self) -> Result<Guard, InitError> {
        let propagators = match self.propagators.take() {
            Some(p) => p,
            None => Propagators::from_var(self.vars.get("OTEL_PROPAGATORS").as_deref())?,
        };
        let (subscriber, guard) = self.subscriber()?;
        subscriber
            .try_init()
            .map_err(|e| InitError::AlreadyInstalled(e.to_string()))?;
        propagators.set_global();
        guard.announce();
        Ok(guard)
    }

    /// The default span filter: every `info`-and-above span, and every span of the tracewire
    /// plugins whatever its level.
    pub const DEFAULT_SPAN_FILTER: &'static str = "info,tracewire_tower=trace,\
        tracewire_tonic=trace,tracewire_axum=trace,tracewire_hyper=trace";

    /// The variable that holds the span filter.
    pub const SPAN_FILTER_VAR: &'static str = "TRACEWIRE_SPANS";

    /// The subscriber [`install`](Builder::install) installs: the registry, the tracewire
    /// layer under the span filter and the fmt layer under the log filter.
    pub(crate) fn subscriber(mut self) -> Result<(Stack, Guard), InitError> {
        let span_directives = self
            .span_filter
            .take()
            .or_else(|| self.vars.get(Self::SPAN_FILTER_VAR))
            .unwrap_or_else(|| Self::DEFAULT_SPAN_FILTER.to_owned());
        let span_filter = parse_filter(Self::SPAN_FILTER_VAR, &span_directives)?;
        #[cfg(feature = "fmt")]
        let log_layer = match self.fmt {
            true => {
                let log_directives = self
                    .filter
                    .take()
                    .or_else(|| self.vars.get("RUST_LOG"))
                    .unwrap_or_else(|| "info".to_owned());
                let filter = logs::LogFilter::new(
                    parse_filter("RUST_LOG", &log_directives)?,
                    parse_filter(Self::SPAN_FILTER_VAR, &span_directives)?,
                );
                let options = std::mem::take(&mut self.logs);
                let no_color = self.vars.get("NO_COLOR");
                Some(logs::layer(filter, options, no_color.as_deref()))
            }
            false => None,
        };
        let (layer, guard) = self.build()?;
        let traced = layer.with_filter(span_filter).boxed();
        #[cfg(feature = "fmt")]
        let layers: Layers = std::iter::once(traced).chain(log_layer).collect();
        #[cfg(not(feature = "fmt"))]
        let layers: Layers = vec![traced];
        Ok((tracing_subscriber::registry().with(layers), guard))
    }

    /// Reads variables from `vars` instead of the process environment (tests only: the
    /// environment is shared by every test in the process).
    #[cfg(test)]
    pub(crate) fn vars(mut self, vars: &[(&str, &str)]) -> Self {
        let map = vars
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        self.vars = Vars(Some(Arc::new(map)));
        self
    }
}

/// The exporters `OTEL_TRACES_EXPORTER` names: `console`/`stdout` (pretty), `console_json`/
/// `stdout_json`, `none`, or a comma-separated list. `otlp` is set up by
/// `tracewire_otlp::init()`, so naming it here is an error that says so.
fn exporters_from_env(
    vars: &Vars,
) -> Result<(Vec<Box<dyn SpanExporter>>, NoExporter), ConfigError> {
    let Some(value) = vars.get("OTEL_TRACES_EXPORTER") else {
        return Ok((Vec::new(), NoExporter::NotConfigured));
    };
    let mut chosen: Vec<Box<dyn SpanExporter>> = Vec::new();
    let mut none = false;
    for name in value.split(',').map(str::trim).filter(|n| !n.is_empty()) {
        match name.to_ascii_lowercase().as_str() {
            "none" => none = true,
            "console" | "stdout" => {
                chosen.push(Box::new(StdoutExporter::new(StdoutFormat::Pretty)));
            }
            "console_json" | "stdout_json" => {
                chosen.push(Box::new(StdoutExporter::new(StdoutFormat::JsonLines)));
            }
            "otlp" => {
                return Err(ConfigError::ExporterInOtherCrate {
                    exporter: name.to_owned(),
                    call: "tracewire_otlp::init()",
                });
            }
            _ => {
                return Err(ConfigError::InvalidEnv {
                    var: "OTEL_TRACES_EXPORTER",
                    value: value.clone(),
                });
            }
        }
    }
    if none {
        chosen.clear();
    }
    let why = if none {
        NoExporter::Off
    } else {
        NoExporter::NotConfigured
    };
    Ok((chosen, why))
}

/// Why a pipeline has no exporter, for the start-up notice.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum NoExporter {
    /// Nothing was configured.
    NotConfigured,
    /// Export was switched off (`OTEL_TRACES_EXPORTER=none`, [`Builder::no_env_exporter`]).
    Off,
}

#[cfg(test)]
mod tests;
