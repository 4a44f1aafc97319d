//! [`InitError`]: why the one-call set-up failed.

use std::fmt;

use tracewire::ConfigError;

use crate::error::OtlpConfigError;

/// Why [`init()`](crate::init()) or [`Setup::install`](crate::Setup::install) failed.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum InitError {
    /// An `OTEL_*` variable holds a value that cannot be used.
    InvalidEnv {
        /// The variable.
        var: &'static str,
        /// The value.
        value: String,
    },
    /// `OTEL_TRACES_EXPORTER` names an exporter this crate does not have.
    UnknownExporter(String),
    /// The OTLP exporter's settings (`OTEL_EXPORTER_OTLP_*` or the code) are invalid.
    Exporter(OtlpConfigError),
    /// The sampler or propagator settings are invalid.
    Config(ConfigError),
    /// The subscriber could not be installed (one is already, or `RUST_LOG` is invalid).
    Install(tracewire::InitError),
}

impl fmt::Display for InitError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            InitError::InvalidEnv { var, value } => write!(f, "invalid value {value:?} for {var}"),
            InitError::UnknownExporter(name) => write!(
                f,
                "unknown exporter {name:?} in OTEL_TRACES_EXPORTER (known: otlp, console, console_json, none)"
            ),
            InitError::Exporter(e) => write!(f, "invalid otlp exporter configuration: {e}"),
            InitError::Config(e) => write!(f, "invalid tracing configuration: {e}"),
            InitError::Install(e) => e.fmt(f),
        }
    }
}

impl std::error::Error for InitError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            InitError::Exporter(e) => Some(e),
            InitError::Config(e) => Some(e),
            InitError::Install(e) => Some(e),
            _ => None,
        }
    }
}

impl From<OtlpConfigError> for InitError {
    fn from(e: OtlpConfigError) -> Self {
        InitError::Exporter(e)
    }
}

impl From<tracewire::InitError> for InitError {
    fn from(e: tracewire::InitError) -> Self {
        InitError::Install(e)
    }
}
