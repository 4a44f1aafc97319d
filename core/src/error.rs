//! Error types, one per concern. All are `#[non_exhaustive]`, `Clone + PartialEq` so tests can
//! match exact variants, and print short lowercase phrases.

use std::fmt;

/// Why a hex id did not parse.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ParseIdError {
    /// The text has the wrong number of hex digits.
    Length {
        /// Digits the id needs.
        expected: usize,
        /// Digits found.
        found: usize,
    },
    /// A character is not a hex digit.
    NotHex,
    /// Uppercase hex, which W3C Trace Context forbids.
    Uppercase,
    /// The id is all zeros, which every format treats as invalid.
    AllZero,
}

impl fmt::Display for ParseIdError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ParseIdError::Length { expected, found } => {
                write!(f, "expected {expected} hex digits, found {found}")
            }
            ParseIdError::NotHex => f.write_str("not a hex digit"),
            ParseIdError::Uppercase => f.write_str("uppercase hex is not allowed"),
            ParseIdError::AllZero => f.write_str("all-zero id is invalid"),
        }
    }
}

impl std::error::Error for ParseIdError {}

/// Why a propagation header was rejected on extraction.
///
/// Extraction never fails a request: the caller starts a fresh trace and may count the error.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ExtractError {
    /// The header's overall shape is wrong (field count, separators, length).
    Malformed {
        /// The header that was rejected.
        header: &'static str,
        /// What rule it broke.
        reason: &'static str,
    },
    /// An id field did not parse.
    InvalidId {
        /// The header that was rejected.
        header: &'static str,
        /// The id error.
        source: ParseIdError,
    },
    /// Several values of a header that must appear once disagree.
    Conflicting {
        /// The repeated header.
        header: &'static str,
    },
    /// The header is longer than this implementation accepts.
    TooLong {
        /// The header that was rejected.
        header: &'static str,
        /// The limit in bytes.
        limit: usize,
    },
}

impl ExtractError {
    pub(crate) const fn malformed(header: &'static str, reason: &'static str) -> Self {
        ExtractError::Malformed { header, reason }
    }

    pub(crate) const fn invalid_id(header: &'static str, source: ParseIdError) -> Self {
        ExtractError::InvalidId { header, source }
    }

    /// The name of the header the error is about.
    pub fn header(&self) -> &'static str {
        match self {
            ExtractError::Malformed { header, .. }
            | ExtractError::InvalidId { header, .. }
            | ExtractError::Conflicting { header }
            | ExtractError::TooLong { header, .. } => header,
        }
    }
}

impl fmt::Display for ExtractError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ExtractError::Malformed { header, reason } => write!(f, "malformed {header}: {reason}"),
            ExtractError::InvalidId { header, source } => {
                write!(f, "invalid id in {header}: {source}")
            }
            ExtractError::Conflicting { header } => {
                write!(f, "conflicting values for {header}")
            }
            ExtractError::TooLong { header, limit } => {
                write!(f, "{header} longer than {limit} bytes")
            }
        }
    }
}

impl std::error::Error for ExtractError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            ExtractError::InvalidId { source, .. } => Some(source),
            _ => None,
        }
    }
}

/// Why a `tracestate` list or member was rejected.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum TraceStateError {
    /// A key breaks the W3C key grammar.
    InvalidKey,
    /// A value breaks the W3C value grammar.
    InvalidValue,
    /// A list member has no `=`.
    MissingEquals,
    /// More than 32 list members.
    TooManyMembers,
    /// Longer than 512 bytes.
    TooLong,
}

impl fmt::Display for TraceStateError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            TraceStateError::InvalidKey => "invalid tracestate key",
            TraceStateError::InvalidValue => "invalid tracestate value",
            TraceStateError::MissingEquals => "tracestate member without '='",
            TraceStateError::TooManyMembers => "more than 32 tracestate members",
            TraceStateError::TooLong => "tracestate longer than 512 bytes",
        })
    }
}

impl std::error::Error for TraceStateError {}

/// Why a baggage entry could not be added.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum BaggageError {
    /// The key is not a valid W3C token.
    InvalidKey,
    /// Adding the entry would exceed the member limit.
    TooManyMembers,
    /// Adding the entry would exceed the byte limit.
    TooLong,
    /// The span is not known to the tracewire layer (disabled, filtered out for the layer, or
    /// no layer installed), so there is nothing to set the entry on.
    UnknownSpan,
}

impl fmt::Display for BaggageError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            BaggageError::InvalidKey => "invalid baggage key",
            BaggageError::TooManyMembers => "too many baggage members",
            BaggageError::TooLong => "baggage too long",
            BaggageError::UnknownSpan => "span not known to the tracewire layer",
        })
    }
}

impl std::error::Error for BaggageError {}

/// A configuration error: an unknown propagator or sampler name, a bad sampler argument.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ConfigError {
    /// `OTEL_PROPAGATORS` (or the code) named a propagator this build does not know.
    UnknownPropagator(String),
    /// `OTEL_TRACES_SAMPLER` named a sampler this build does not know.
    UnknownSampler(String),
    /// `OTEL_TRACES_SAMPLER_ARG` is not valid for the chosen sampler.
    InvalidSamplerArg {
        /// The sampler.
        sampler: String,
        /// The argument text.
        arg: String,
    },
    /// `OTEL_TRACES_EXPORTER` names an exporter another crate provides: set up with `call`
    /// instead (for `otlp`: `tracewire_otlp::init()`).
    ExporterInOtherCrate {
        /// The exporter named.
        exporter: String,
        /// The call that sets it up.
        call: &'static str,
    },
    /// Another environment variable holds a value that cannot be used.
    InvalidEnv {
        /// The variable.
        var: &'static str,
        /// The value.
        value: String,
    },
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ConfigError::UnknownPropagator(name) => write!(
                f,
                "unknown propagator {name:?} (known: tracecontext, baggage, b3, b3multi, jaeger, none)"
            ),
            ConfigError::UnknownSampler(name) => write!(
                f,
                "unknown sampler {name:?} (known: always_on, always_off, traceidratio, parentbased_always_on, parentbased_always_off, parentbased_traceidratio, ratelimited, parentbased_ratelimited)"
            ),
            ConfigError::InvalidSamplerArg { sampler, arg } => {
                write!(f, "invalid argument {arg:?} for sampler {sampler}")
            }
            ConfigError::ExporterInOtherCrate { exporter, call } => write!(
                f,
                "OTEL_TRACES_EXPORTER names {exporter:?}, which tracewire::init() cannot set up: \
                 call {call} instead"
            ),
            ConfigError::InvalidEnv { var, value } => {
                write!(f, "invalid value {value:?} for {var}")
            }
        }
    }
}

impl std::error::Error for ConfigError {}

/// An exporter's failure to deliver a batch.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ExportError {
    /// The destination could not be reached or answered with a failure.
    Transport(String),
    /// The destination did not answer within the exporter's deadline.
    Timeout,
    /// The exporter was already shut down.
    Shutdown,
    /// The exporter panicked; the message is the panic's.
    Panicked(String),
    /// Some spans were rejected by the destination.
    Rejected {
        /// How many spans were rejected.
        spans: u64,
        /// The destination's explanation.
        message: String,
    },
}

impl fmt::Display for ExportError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ExportError::Transport(msg) => write!(f, "export failed: {msg}"),
            ExportError::Timeout => f.write_str("export timed out"),
            ExportError::Shutdown => f.write_str("exporter is shut down"),
            ExportError::Panicked(msg) => write!(f, "exporter panicked: {msg}"),
            ExportError::Rejected { spans, message } => {
                write!(f, "{spans} spans rejected: {message}")
            }
        }
    }
}

impl std::error::Error for ExportError {}
