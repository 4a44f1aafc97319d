//! [`SamplingConfig`]: built in code ([`SamplingConfigBuilder`]) or read from a TOML file
//! ([`SamplingConfig::from_toml`]); both go through the same validation.

use std::fmt;
use std::path::Path;
use std::time::Duration;

use super::file::File;
use super::forward::ForwardConfig;

/// One part of the dynamic sampler's key, computed from a trace's root span.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum KeyPart {
    /// The root span's service (`service.name`).
    Service,
    /// The root span's name.
    Operation,
    /// The trace's status class: `error` when any span failed, else the root's HTTP class
    /// (`2xx`, `3xx`, `4xx`), else `ok`.
    Status,
}

impl KeyPart {
    /// The name used in configuration files: `service`, `operation` or `status`.
    pub fn as_str(self) -> &'static str {
        match self {
            KeyPart::Service => "service",
            KeyPart::Operation => "operation",
            KeyPart::Status => "status",
        }
    }

    pub(crate) fn parse(s: &str) -> Option<KeyPart> {
        match s {
            "service" => Some(KeyPart::Service),
            "operation" => Some(KeyPart::Operation),
            "status" => Some(KeyPart::Status),
            _ => None,
        }
    }
}

/// The adaptive latency policy's settings.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Adaptive {
    pub(crate) quantile: f64,
    pub(crate) window: Duration,
    pub(crate) min_samples: u64,
    pub(crate) max_operations: usize,
}

impl Default for Adaptive {
    /// p99 of the root operation over 5 min, after 100 traces; at most 1,000 operations.
    fn default() -> Self {
        Adaptive {
            quantile: 0.99,
            window: Duration::from_secs(300),
            min_samples: 100,
            max_operations: 1000,
        }
    }
}

/// The dynamic per-key sampler's settings.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Dynamic {
    pub(crate) target_per_sec: f64,
    pub(crate) key: Vec<KeyPart>,
    pub(crate) adjust_every: Duration,
    pub(crate) max_keys: usize,
}

impl Default for Dynamic {
    /// 10 kept traces/s keyed by service, operation and status, rates recomputed every 10 s;
    /// at most 1,000 keys.
    fn default() -> Self {
        Dynamic {
            target_per_sec: 10.0,
            key: vec![KeyPart::Service, KeyPart::Operation, KeyPart::Status],
            adjust_every: Duration::from_secs(10),
            max_keys: 1000,
        }
    }
}

/// How the sampling stage buffers, completes and decides traces. See the
/// [module docs](super) for what each setting does and the TOML file format.
///
/// ```
/// use std::time::Duration;
/// use tracewire_collector::sampling::SamplingConfig;
///
/// let config = SamplingConfig::builder()
///     .idle_gap(Duration::from_secs(1))
///     .latency_threshold(Duration::from_millis(500))
///     .probabilistic(0.05)
///     .build()?;
/// assert_eq!(config.idle_gap(), Duration::from_secs(1));
/// # Ok::<(), tracewire_collector::sampling::SamplingConfigError>(())
/// ```
#[derive(Clone, Debug, PartialEq)]
pub struct SamplingConfig {
    pub(crate) buffer_max_bytes: usize,
    pub(crate) buffer_window: Duration,
    pub(crate) idle_gap: Duration,
    pub(crate) max_wait: Duration,
    pub(crate) max_spans_per_trace: usize,
    pub(crate) decision_ttl: Duration,
    pub(crate) decision_cache_traces: usize,
    pub(crate) keep_errors: bool,
    pub(crate) force_attribute: Option<String>,
    pub(crate) latency_threshold: Option<Duration>,
    pub(crate) adaptive: Option<Adaptive>,
    pub(crate) dynamic: Option<Dynamic>,
    pub(crate) probabilistic: f64,
    pub(crate) limit_per_sec: Option<f64>,
    pub(crate) seed: Option<u64>,
    pub(crate) forward: Option<ForwardConfig>,
}

impl Default for SamplingConfig {
    /// 256 MiB / 5 min buffer; 2 s idle gap, 30 s maximum wait, 50,000 spans per trace; a
    /// decision cache of 262,144 traces for 5 min; errors and forced traces kept; adaptive
    /// latency at p99 of the root operation over 5 min (after 100 traces); a dynamic sampler
    /// aiming at 10 kept traces/s keyed by service, operation and status; no probabilistic
    /// floor; no global limit; no forwarding.
    fn default() -> Self {
        SamplingConfig {
            buffer_max_bytes: 256 << 20,
            buffer_window: Duration::from_secs(300),
            idle_gap: Duration::from_secs(2),
            max_wait: Duration::from_secs(30),
            max_spans_per_trace: 50_000,
            decision_ttl: Duration::from_secs(300),
            decision_cache_traces: 1 << 18,
            keep_errors: true,
            force_attribute: Some(super::attributes::FORCE.to_owned()),
            latency_threshold: None,
            adaptive: Some(Adaptive::default()),
            dynamic: Some(Dynamic::default()),
            probabilistic: 0.0,
            limit_per_sec: None,
            seed: None,
            forward: None,
        }
    }
}

impl SamplingConfig {
    /// A builder starting from [`SamplingConfig::default`].
    pub fn builder() -> SamplingConfigBuilder {
        SamplingConfigBuilder {
            config: SamplingConfig::default(),
        }
    }

    /// Parses a TOML configuration (the format is in the [module docs](super)); settings left
    /// out keep their defaults. Unknown keys are errors, so typos do not go unnoticed.
    pub fn from_toml(text: &str) -> Result<SamplingConfig, SamplingConfigError> {
        let file: File =
            toml::from_str(text).map_err(|e| SamplingConfigError::Toml(e.to_string()))?;
        file.apply(SamplingConfig::builder())?.build()
    }

    /// Reads and parses a TOML file.
    pub fn from_file(path: impl AsRef<Path>) -> Result<SamplingConfig, SamplingConfigError> {
        let path = path.as_ref();
        let text = std::fs::read_to_string(path).map_err(|e| SamplingConfigError::Io {
            path: path.display().to_string(),
            message: e.to_string(),
        })?;
        SamplingConfig::from_toml(&text)
    }

    /// A builder starting from this configuration, to override some settings (flags over a
    /// file, say).
    pub fn into_builder(self) -> SamplingConfigBuilder {
        SamplingConfigBuilder { config: self }
    }

    /// The buffer's byte budget.
    pub fn buffer_max_bytes(&self) -> usize {
        self.buffer_max_bytes
    }

    /// How long received spans stay in the buffer (and can be kept retroactively).
    pub fn buffer_window(&self) -> Duration {
        self.buffer_window
    }

    /// The idle gap after which a trace whose root has ended is decided.
    pub fn idle_gap(&self) -> Duration {
        self.idle_gap
    }

    /// The longest a trace waits for its decision after its first span arrived.
    pub fn max_wait(&self) -> Duration {
        self.max_wait
    }

    /// The forwarding settings, if kept traces go upstream.
    pub fn forward(&self) -> Option<&ForwardConfig> {
        self.forward.as_ref()
    }
}

/// Builds a [`SamplingConfig`]; [`build`](Self::build) validates.
#[must_use]
#[derive(Clone, Debug)]
pub struct SamplingConfigBuilder {
    pub(super) config: SamplingConfig,
}

impl SamplingConfigBuilder {
    /// The recent-span buffer's byte budget (default 256 MiB), accounted like the store's.
    pub fn buffer_max_bytes(mut self, n: usize) -> Self {
        self.config.buffer_max_bytes = n;
        self
    }

    /// How long received spans stay in the buffer, decided or not (default 5 min): the window
    /// for retroactive keeps.
    pub fn buffer_window(mut self, d: Duration) -> Self {
        self.config.buffer_window = d;
        self
    }

    /// Decide a trace once its root span has arrived and no span of it arrived for this long
    /// (default 2 s).
    pub fn idle_gap(mut self, d: Duration) -> Self {
        self.config.idle_gap = d;
        self
    }

    /// Decide a trace at the latest this long after its first span arrived, root or not
    /// (default 30 s).
    pub fn max_wait(mut self, d: Duration) -> Self {
        self.config.max_wait = d;
        self
    }

    /// Decide a trace at once when it holds this many spans (default 50,000).
    pub fn max_spans_per_trace(mut self, n: usize) -> Self {
        self.config.max_spans_per_trace = n;
        self
    }

    /// How long a decision is remembered for late spans (default 5 min).
    pub fn decision_ttl(mut self, d: Duration) -> Self {
        self.config.decision_ttl = d;
        self
    }

    /// The most decisions remembered (default 262,144); the oldest are forgotten first.
    pub fn decision_cache_traces(mut self, n: usize) -> Self {
        self.config.decision_cache_traces = n;
        self
    }

    /// Keep every trace with an error (default on): error status, an HTTP 5xx server span, a
    /// gRPC server span with a server-error code.
    pub fn keep_errors(mut self, on: bool) -> Self {
        self.config.keep_errors = on;
        self
    }

    /// The attribute (or baggage entry copied onto spans) that forces a keep (default
    /// `tracewire.sampling.force`); `None` turns the policy off.
    pub fn force_attribute(mut self, key: Option<String>) -> Self {
        self.config.force_attribute = key.filter(|k| !k.is_empty());
        self
    }

    /// Keep every trace whose root lasted longer than `d`.
    pub fn latency_threshold(mut self, d: impl Into<Option<Duration>>) -> Self {
        self.config.latency_threshold = d.into();
        self
    }

    /// Keep traces slower than the `quantile` (e.g. 0.99) of their root operation's durations
    /// over the last `window`, once it has `min_samples` traces (default 0.99, 5 min, 100).
    pub fn adaptive_latency(mut self, quantile: f64, window: Duration, min_samples: u64) -> Self {
        let max_operations = self
            .config
            .adaptive
            .as_ref()
            .map_or(Adaptive::default().max_operations, |a| a.max_operations);
        self.config.adaptive = Some(Adaptive {
            quantile,
            window,
            min_samples,
            max_operations,
        });
        self
    }

    /// Turns the adaptive latency policy off.
    pub fn no_adaptive_latency(mut self) -> Self {
        self.config.adaptive = None;
        self
    }

    /// The dynamic per-key sampler: aims at `target_per_sec` kept traces per second over all
    /// keys, keeping rare keys at a higher rate than frequent ones (default 10/s).
    pub fn dynamic(mut self, target_per_sec: f64) -> Self {
        let mut d = self.config.dynamic.take().unwrap_or_default();
        d.target_per_sec = target_per_sec;
        self.config.dynamic = Some(d);
        self
    }

    /// The dynamic sampler's key (default service, operation, status).
    pub fn dynamic_key(mut self, key: &[KeyPart]) -> Self {
        if let Some(d) = &mut self.config.dynamic {
            d.key = key.to_vec();
        }
        self
    }

    /// How often the dynamic sampler recomputes its rates (default 10 s).
    pub fn dynamic_adjust_every(mut self, d: Duration) -> Self {
        if let Some(dy) = &mut self.config.dynamic {
            dy.adjust_every = d;
        }
        self
    }

    /// Turns the dynamic sampler off.
    pub fn no_dynamic(mut self) -> Self {
        self.config.dynamic = None;
        self
    }

    /// The probabilistic floor: every trace is kept with at least this probability (default 0).
    pub fn probabilistic(mut self, rate: f64) -> Self {
        self.config.probabilistic = rate;
        self
    }

    /// The most traces kept per second, whatever kept them (forced and retroactive keeps
    /// excepted); `None` for no limit (the default).
    pub fn limit_per_sec(mut self, n: impl Into<Option<f64>>) -> Self {
        self.config.limit_per_sec = n.into();
        self
    }

    /// A fixed seed for the probabilistic draws, for reproducible runs (default: random).
    pub fn seed(mut self, seed: u64) -> Self {
        self.config.seed = Some(seed);
        self
    }

    /// Forwards kept traces upstream over OTLP.
    pub fn forward(mut self, forward: impl Into<Option<ForwardConfig>>) -> Self {
        self.config.forward = forward.into();
        self
    }

    /// Validates the settings.
    pub fn build(self) -> Result<SamplingConfig, SamplingConfigError> {
        let c = self.config;
        let invalid = |field: &'static str, reason: &str| {
            Err(SamplingConfigError::Invalid {
                field,
                reason: reason.to_owned(),
            })
        };
        if c.buffer_max_bytes == 0 {
            return invalid("buffer.max_bytes", "must be more than zero");
        }
        if c.buffer_window.is_zero() {
            return invalid("buffer.window", "must be more than zero");
        }
        if c.max_wait.is_zero() || c.max_wait > c.buffer_window {
            return invalid(
                "completion.max_wait",
                "must be more than zero and at most buffer.window",
            );
        }
        if c.idle_gap > c.max_wait {
            return invalid("completion.idle_gap", "must be at most completion.max_wait");
        }
        if c.max_spans_per_trace == 0 {
            return invalid("completion.max_spans_per_trace", "must be at least 1");
        }
        if c.decision_ttl.is_zero() {
            return invalid("decision_cache.ttl", "must be more than zero");
        }
        if c.decision_cache_traces == 0 {
            return invalid("decision_cache.max_traces", "must be at least 1");
        }
        if let Some(a) = &c.adaptive {
            if !(a.quantile > 0.0 && a.quantile < 1.0) {
                return invalid("policies.latency.quantile", "must be between 0 and 1");
            }
            if a.window.is_zero() {
                return invalid("policies.latency.window", "must be more than zero");
            }
        }
        if let Some(d) = &c.dynamic {
            if !(d.target_per_sec.is_finite() && d.target_per_sec > 0.0) {
                return invalid(
                    "policies.dynamic.target_per_sec",
                    "must be a positive number",
                );
            }
            if d.key.is_empty() {
                return invalid("policies.dynamic.key", "needs at least one part");
            }
            if d.adjust_every.is_zero() {
                return invalid("policies.dynamic.adjust_every", "must be more than zero");
            }
        }
        if !(0.0..=1.0).contains(&c.probabilistic) {
            return invalid("policies.probabilistic.rate", "must be between 0 and 1");
        }
        if let Some(l) = c.limit_per_sec
            && !(l.is_finite() && l > 0.0)
        {
            return invalid("limit.max_traces_per_sec", "must be a positive number");
        }
        if let Some(f) = &c.forward {
            f.validate()?;
        }
        Ok(c)
    }
}

/// Why a sampling configuration was refused.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum SamplingConfigError {
    /// The file could not be read.
    Io {
        /// The file.
        path: String,
        /// The cause.
        message: String,
    },
    /// The TOML text is not valid, or has unknown keys or values of the wrong type (the message
    /// gives the line).
    Toml(String),
    /// A setting is out of range.
    Invalid {
        /// The setting, as spelled in the file (`completion.idle_gap`).
        field: &'static str,
        /// What is wrong.
        reason: String,
    },
}

impl fmt::Display for SamplingConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SamplingConfigError::Io { path, message } => {
                write!(f, "cannot read sampling config {path}: {message}")
            }
            SamplingConfigError::Toml(m) => write!(f, "invalid sampling config: {}", m.trim_end()),
            SamplingConfigError::Invalid { field, reason } => write!(f, "{field} {reason}"),
        }
    }
}

impl std::error::Error for SamplingConfigError {}

#[cfg(test)]
mod tests;
