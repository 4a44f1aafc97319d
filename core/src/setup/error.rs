//! [`InitError`]: why the setup failed.

use std::fmt;

use crate::error::ConfigError;
use crate::export::PipelineError;

/// Why [`init`](crate::init) or [`Builder::install`](crate::Builder::install) failed.
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
