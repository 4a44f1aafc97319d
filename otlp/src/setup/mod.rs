//! The one-call set-up of a deployed service: [`init()`] / [`init!`](crate::init!) and the
//! [`Setup`] builder, configured by the standard `OTEL_*` environment.

mod env;
mod error;
mod guard;
mod resource;

use std::borrow::Cow;
use std::fmt;
use std::time::Duration;

use tracewire::export::PipelineBuilder;
use tracewire::export::{StdoutExporter, StdoutFormat};
use tracewire::{Sampler, TracewireLayer, Value};

use self::env::GeneralEnv;
pub use self::env::{ExporterKind, MAX_QUEUE_SIZE};
pub use self::error::InitError;
pub use self::guard::{Config, Guard, OtlpTarget};
use crate::builder::OtlpExporterBuilder;
use crate::stats::OtlpStats;

/// The pipeline's defaults when the environment says nothing.
const DEFAULT_QUEUE: usize = 2048;
const DEFAULT_BATCH: usize = 512;
const DEFAULT_DELAY: Duration = Duration::from_secs(1);
/// `OTEL_BSP_EXPORT_TIMEOUT`'s default.
const DEFAULT_EXPORT_TIMEOUT: Duration = Duration::from_secs(30);

type Lookup = Box<dyn Fn(&str) -> Option<String> + Send + Sync>;
type OtlpHook = Box<dyn FnOnce(OtlpExporterBuilder) -> OtlpExporterBuilder>;
type CoreHook = Box<dyn FnOnce(tracewire::Builder) -> tracewire::Builder>;

/// The one-call set-up with knobs: [`init()`] is `setup().install()`.
///
/// The environment decides what a deployment decides (exporters, endpoint, TLS, sampler,
/// propagators, queue sizes, `service.name`); the code gives defaults and adds what only it
/// knows.
///
/// ```no_run
/// let _guard = tracewire_otlp::setup()
///     .service_name("checkout") // unless OTEL_SERVICE_NAME says otherwise
///     .service_version(env!("CARGO_PKG_VERSION"))
///     .resource_attribute("deployment.environment.name", "prod")
///     .otlp(|b| b.header("x-tenant", "acme")) // OTEL_EXPORTER_OTLP_* still win
///     .core(|b| b.filter("info,hyper=warn")) // any other tracewire::Builder knob
///     .install()?;
/// # Ok::<(), tracewire_otlp::InitError>(())
/// ```
#[must_use]
pub struct Setup {
    lookup: Lookup,
    service_name: Option<String>,
    service_version: Option<String>,
    attributes: Vec<(Cow<'static, str>, Value)>,
    otlp: Option<OtlpHook>,
    core: Option<CoreHook>,
    host_name: Option<Option<String>>,
}

impl fmt::Debug for Setup {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Setup")
            .field("service_name", &self.service_name)
            .field("service_version", &self.service_version)
            .field("attributes", &self.attributes)
            .finish_non_exhaustive()
    }
}

impl Default for Setup {
    fn default() -> Self {
        Setup {
            lookup: Box::new(|var| std::env::var(var).ok()),
            service_name: None,
            service_version: None,
            attributes: Vec::new(),
            otlp: None,
            core: None,
            host_name: None,
        }
    }
}

/// A [`Setup`] reading the process environment.
pub fn setup() -> Setup {
    Setup::default()
}

/// Installs tracing for a deployed service from the standard `OTEL_*` environment: the
/// global subscriber (logs with trace ids, the span layer), the exporters
/// `OTEL_TRACES_EXPORTER` names (default `otlp`), the resource, sampler and batching. Returns
/// the guard that flushes on drop.
///
/// [`init!`](crate::init!) does the same and also records the calling crate's version as
/// `service.version`.
///
/// ```no_run
/// fn main() -> Result<(), tracewire_otlp::InitError> {
///     let _guard = tracewire_otlp::init()?;
///     tracing::info!("ready");
///     Ok(())
/// }
/// ```
pub fn init() -> Result<Guard, InitError> {
    setup().install()
}

/// [`init()`] with `service.version` set to the calling crate's version (`CARGO_PKG_VERSION`,
/// read where the macro is called), unless `OTEL_RESOURCE_ATTRIBUTES` sets it.
///
/// ```no_run
/// fn main() -> Result<(), tracewire_otlp::InitError> {
///     let _guard = tracewire_otlp::init!()?;
///     Ok(())
/// }
/// ```
#[macro_export]
macro_rules! init {
    () => {
        $crate::setup()
            .service_version(::core::env!("CARGO_PKG_VERSION"))
            .install()
    };
}

impl Setup {
    /// The `service.name` when neither `OTEL_SERVICE_NAME` nor `OTEL_RESOURCE_ATTRIBUTES` sets
    /// one (the last resort is `unknown_service:<executable>`).
    pub fn service_name(mut self, name: impl Into<String>) -> Self {
        self.service_name = Some(name.into());
        self
    }

    /// The `service.version` when `OTEL_RESOURCE_ATTRIBUTES` does not set one;
    /// [`init!`](crate::init!) passes the calling crate's version.
    pub fn service_version(mut self, version: impl Into<String>) -> Self {
        self.service_version = Some(version.into());
        self
    }

    /// A resource attribute; the code's value wins over `OTEL_RESOURCE_ATTRIBUTES` (as the
    /// specification says) and over detected values.
    pub fn resource_attribute(
        mut self,
        key: impl Into<Cow<'static, str>>,
        value: impl Into<Value>,
    ) -> Self {
        self.attributes.push((key.into(), value.into()));
        self
    }

    /// Adjusts the OTLP exporter before the `OTEL_EXPORTER_OTLP_*` variables are applied over
    /// it (retry policy, a default endpoint or header, a CA given as PEM).
    pub fn otlp(
        mut self,
        f: impl FnOnce(OtlpExporterBuilder) -> OtlpExporterBuilder + 'static,
    ) -> Self {
        self.otlp = Some(Box::new(f));
        self
    }

    /// Adjusts the [`tracewire::Builder`] last, for every knob of the core set-up (log filter,
    /// fmt layer, span layer caps, shutdown timeout, more exporters).
    pub fn core(
        mut self,
        f: impl FnOnce(tracewire::Builder) -> tracewire::Builder + 'static,
    ) -> Self {
        self.core = Some(Box::new(f));
        self
    }

    /// Reads variables through `lookup` instead of the process environment (for tests and for
    /// configuration kept elsewhere).
    pub fn env_lookup(
        mut self,
        lookup: impl Fn(&str) -> Option<String> + Send + Sync + 'static,
    ) -> Self {
        self.lookup = Box::new(lookup);
        self
    }

    /// Sets `host.name` instead of asking the system (`None`: no `host.name`), e.g. a node name
    /// where container host names are random.
    pub fn host_name(mut self, name: Option<String>) -> Self {
        self.host_name = Some(name);
        self
    }

    /// Builds the pipeline and the span layer without installing anything, for a subscriber
    /// stack of your own (add the layer to your `tracing_subscriber::registry()`).
    pub fn build(self) -> Result<(TracewireLayer, Guard), InitError> {
        let (core, config, otlp) = self.prepare()?;
        let (layer, inner) = core.build()?;
        Ok((
            layer,
            Guard {
                inner,
                config,
                otlp,
            },
        ))
    }

    /// Builds and installs the global subscriber, then logs what was set up (and any doubtful
    /// setting) once.
    pub fn install(self) -> Result<Guard, InitError> {
        let (core, config, otlp) = self.prepare()?;
        let inner = core.install()?;
        for w in &config.warnings {
            tracing::warn!(target: crate::diagnostics::TARGET, "{w}");
        }
        log_config(&config);
        Ok(Guard {
            inner,
            config,
            otlp,
        })
    }

    /// Resolves everything and prepares the core builder.
    fn prepare(self) -> Result<(tracewire::Builder, Config, Option<OtlpStats>), InitError> {
        let Setup {
            lookup,
            service_name,
            service_version,
            attributes,
            otlp,
            core: core_hook,
            host_name,
        } = self;
        let env = GeneralEnv::read(&*lookup)?;
        let mut warnings = env.warnings.clone();
        let host_name = host_name.unwrap_or_else(resource::host_name);
        let resource = resource::build(&resource::ResourceParts {
            env_service_name: env.service_name.as_deref(),
            env_attributes: &env.resource_attributes,
            service_name: service_name.as_deref(),
            service_version: service_version.as_deref(),
            attributes: &attributes,
            host_name,
        });
        let queue_size = env.queue_size.unwrap_or(DEFAULT_QUEUE);
        // The specification: the batch is at most the queue.
        let max_batch = env.max_batch.unwrap_or(DEFAULT_BATCH).min(queue_size);
        let schedule_delay = env.schedule_delay.unwrap_or(DEFAULT_DELAY);
        let export_timeout = env.export_timeout.unwrap_or(DEFAULT_EXPORT_TIMEOUT);
        let exporters = if env.disabled {
            Vec::new()
        } else {
            env.exporters
                .clone()
                .unwrap_or_else(|| vec![ExporterKind::Otlp])
        };
        // Disabled: nothing is exported, so nothing new is sampled; a sampled flag that comes in
        // is passed on, so the services downstream keep tracing the request.
        let sampler = if env.disabled {
            Sampler::parent_based(Sampler::AlwaysOff)
        } else {
            env.sampler.clone()
        };

        let mut core = tracewire::builder()
            .propagators(env.propagators.clone())
            .resource(resource.clone())
            .sampler(sampler.clone())
            .no_env_exporter()
            .pipeline(
                PipelineBuilder::default()
                    .queue_size(queue_size)
                    .max_batch(max_batch)
                    .batch_timeout(schedule_delay),
            );
        let mut otlp_hook = otlp;
        let mut otlp_target = None;
        let mut otlp_stats = None;
        for kind in &exporters {
            match kind {
                ExporterKind::Otlp => {
                    let mut b = crate::OtlpExporter::builder();
                    b = b.retry(crate::RetryPolicy::default().max_elapsed(export_timeout));
                    if let Some(hook) = otlp_hook.take() {
                        b = hook(b);
                    }
                    let mut b = b.from_env_lookup(|v| lookup(v));
                    warnings.extend(b.take_warnings());
                    let exporter = b.build()?;
                    otlp_target = Some(OtlpTarget {
                        protocol: exporter.protocol(),
                        endpoint: exporter.endpoint(),
                        secure: exporter.is_secure(),
                        timeout: exporter.timeout(),
                        compression: exporter.compression(),
                    });
                    otlp_stats = Some(exporter.stats_handle());
                    core = core.exporter(exporter);
                }
                ExporterKind::Console => {
                    core = core.exporter(StdoutExporter::new(StdoutFormat::Pretty));
                }
                ExporterKind::ConsoleJson => {
                    core = core.exporter(StdoutExporter::new(StdoutFormat::JsonLines));
                }
            }
        }
        if let Some(hook) = core_hook {
            core = hook(core);
        }
        let config = Config {
            disabled: env.disabled,
            exporters,
            otlp: otlp_target,
            resource,
            sampler,
            propagators: env.propagators,
            queue_size,
            max_batch,
            schedule_delay,
            export_timeout,
            warnings,
        };
        Ok((core, config, otlp_stats))
    }
}

/// One line at start-up saying where spans go.
fn log_config(c: &Config) {
    let service = c.resource.service_name().to_owned();
    if c.disabled {
        tracing::info!(
            target: crate::diagnostics::TARGET,
            service = %service,
            "OTEL_SDK_DISABLED=true: no spans are exported; trace context still propagates"
        );
        return;
    }
    let exporters: Vec<&str> = c.exporters.iter().map(|e| e.as_str()).collect();
    match &c.otlp {
        Some(t) => tracing::info!(
            target: crate::diagnostics::TARGET,
            service = %service,
            exporters = %exporters.join(","),
            endpoint = %t.endpoint,
            protocol = %t.protocol,
            tls = t.secure,
            "tracing set up"
        ),
        None => tracing::info!(
            target: crate::diagnostics::TARGET,
            service = %service,
            exporters = %exporters.join(","),
            "tracing set up"
        ),
    }
}
