//! The general `OTEL_*` variables [`init()`](crate::init) reads (the exporter's own are in
//! [`crate::env`]), through the same lookup function.

use std::time::Duration;

use tracewire::Sampler;
use tracewire::propagation::Propagators;

use super::InitError;
use crate::env::{get, parse_bool, parse_millis, parse_timeout, parse_var};

/// An exporter `OTEL_TRACES_EXPORTER` can name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ExporterKind {
    /// `otlp`: the [`OtlpExporter`](crate::OtlpExporter), configured by `OTEL_EXPORTER_OTLP_*`.
    Otlp,
    /// `console`: human-readable spans on standard output.
    Console,
    /// `console_json`: one JSON object per span on standard output.
    ConsoleJson,
}

impl ExporterKind {
    /// The name `OTEL_TRACES_EXPORTER` uses.
    pub fn as_str(self) -> &'static str {
        match self {
            ExporterKind::Otlp => "otlp",
            ExporterKind::Console => "console",
            ExporterKind::ConsoleJson => "console_json",
        }
    }
}

pub(crate) const SDK_DISABLED: &str = "OTEL_SDK_DISABLED";
pub(crate) const TRACES_EXPORTER: &str = "OTEL_TRACES_EXPORTER";
pub(crate) const SERVICE_NAME: &str = "OTEL_SERVICE_NAME";
pub(crate) const RESOURCE_ATTRIBUTES: &str = "OTEL_RESOURCE_ATTRIBUTES";
pub(crate) const SAMPLER: &str = "OTEL_TRACES_SAMPLER";
pub(crate) const SAMPLER_ARG: &str = "OTEL_TRACES_SAMPLER_ARG";
pub(crate) const PROPAGATORS: &str = "OTEL_PROPAGATORS";
pub(crate) const BSP_SCHEDULE_DELAY: &str = "OTEL_BSP_SCHEDULE_DELAY";
pub(crate) const BSP_EXPORT_TIMEOUT: &str = "OTEL_BSP_EXPORT_TIMEOUT";
pub(crate) const BSP_MAX_QUEUE_SIZE: &str = "OTEL_BSP_MAX_QUEUE_SIZE";
pub(crate) const BSP_MAX_EXPORT_BATCH_SIZE: &str = "OTEL_BSP_MAX_EXPORT_BATCH_SIZE";

/// The largest queue or batch the environment may ask for (core's cap, the most spans a stalled
/// exporter can let pile up); larger values are cut to this.
pub use tracewire::export::MAX_QUEUE_SIZE;
const MAX_SPANS: u64 = MAX_QUEUE_SIZE as u64;

/// What the general variables ask for.
#[derive(Debug, Clone)]
pub(crate) struct GeneralEnv {
    pub(crate) disabled: bool,
    /// `None` when unset (the default, `otlp`, applies).
    pub(crate) exporters: Option<Vec<ExporterKind>>,
    pub(crate) service_name: Option<String>,
    pub(crate) resource_attributes: Vec<(String, String)>,
    pub(crate) sampler: Sampler,
    pub(crate) propagators: Propagators,
    pub(crate) queue_size: Option<usize>,
    pub(crate) max_batch: Option<usize>,
    pub(crate) schedule_delay: Option<Duration>,
    pub(crate) export_timeout: Option<Duration>,
    pub(crate) warnings: Vec<String>,
}

impl GeneralEnv {
    pub(crate) fn read(lookup: &dyn Fn(&str) -> Option<String>) -> Result<GeneralEnv, InitError> {
        let invalid = |var: &'static str, value: String| InitError::InvalidEnv { var, value };
        let mut warnings = Vec::new();
        let disabled =
            get(lookup, SDK_DISABLED).is_some_and(|(var, v)| parse_bool(var, &v, &mut warnings));
        let exporters = match get(lookup, TRACES_EXPORTER) {
            Some((_, v)) => Some(parse_exporters(&v)?),
            None => None,
        };
        let resource_attributes =
            parse_var(get(lookup, RESOURCE_ATTRIBUTES), parse_attributes, invalid)?
                .unwrap_or_default();
        let sampler = Sampler::from_vars(
            get(lookup, SAMPLER).map(|(_, v)| v).as_deref(),
            get(lookup, SAMPLER_ARG).map(|(_, v)| v).as_deref(),
        )
        .map_err(InitError::Config)?;
        let propagators = match get(lookup, PROPAGATORS) {
            // The specification asks for duplicates to be dropped.
            Some((_, v)) => {
                let mut names: Vec<String> = Vec::new();
                for n in v.split(',').map(|n| n.trim().to_ascii_lowercase()) {
                    if !n.is_empty() && !names.contains(&n) {
                        names.push(n);
                    }
                }
                Propagators::from_names(&names.join(",")).map_err(InitError::Config)?
            }
            None => Propagators::w3c(),
        };
        let count = |var| parse_var(get(lookup, var), parse_count, invalid);
        let queue_size = count(BSP_MAX_QUEUE_SIZE)?;
        let max_batch = count(BSP_MAX_EXPORT_BATCH_SIZE)?;
        let schedule_delay = parse_var(get(lookup, BSP_SCHEDULE_DELAY), parse_millis, invalid)?;
        let export_timeout = parse_var(get(lookup, BSP_EXPORT_TIMEOUT), parse_timeout, invalid)?;
        Ok(GeneralEnv {
            disabled,
            exporters,
            service_name: get(lookup, SERVICE_NAME).map(|(_, v)| v),
            resource_attributes,
            sampler,
            propagators,
            queue_size,
            max_batch,
            schedule_delay,
            export_timeout,
            warnings,
        })
    }
}

/// A queue or batch size: a positive whole number, cut to [`MAX_QUEUE_SIZE`] (so are numbers too
/// large for a `u64`). `None` for zero or anything that is not a number.
fn parse_count(value: &str) -> Option<usize> {
    match value.parse::<u64>() {
        Ok(n) if n > 0 => Some(n.min(MAX_SPANS) as usize),
        Err(e) if *e.kind() == std::num::IntErrorKind::PosOverflow => Some(MAX_SPANS as usize),
        _ => None,
    }
}

/// `otlp`, `console`, `console_json`, `none`, or a comma-separated list of them (any case,
/// duplicates ignored). `none` means no exporter and cannot be combined with others.
pub(crate) fn parse_exporters(value: &str) -> Result<Vec<ExporterKind>, InitError> {
    let mut out = Vec::new();
    let mut none = false;
    for name in value.split(',').map(str::trim).filter(|n| !n.is_empty()) {
        let kind = match name.to_ascii_lowercase().as_str() {
            "otlp" => ExporterKind::Otlp,
            "console" => ExporterKind::Console,
            "console_json" => ExporterKind::ConsoleJson,
            "none" => {
                none = true;
                continue;
            }
            _ => return Err(InitError::UnknownExporter(name.to_owned())),
        };
        if !out.contains(&kind) {
            out.push(kind);
        }
    }
    if none && !out.is_empty() {
        return Err(InitError::InvalidEnv {
            var: TRACES_EXPORTER,
            value: value.to_owned(),
        });
    }
    Ok(out)
}

/// The `OTEL_RESOURCE_ATTRIBUTES` format: `k=v` pairs separated by commas, keys and values
/// trimmed and percent-decoded. `None` (the whole value is rejected, as the specification asks)
/// when a pair has no `=`, a key is empty, or decoding fails.
pub(crate) fn parse_attributes(value: &str) -> Option<Vec<(String, String)>> {
    let decode = |s: &str| {
        percent_encoding::percent_decode_str(s.trim())
            .decode_utf8()
            .ok()
            .map(|c| c.into_owned())
    };
    let mut out = Vec::new();
    for pair in value.split(',').filter(|p| !p.trim().is_empty()) {
        let (k, v) = pair.split_once('=')?;
        let k = decode(k)?;
        if k.is_empty() {
            return None;
        }
        out.push((k, decode(v)?));
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exporter_lists() {
        use ExporterKind::*;
        assert_eq!(parse_exporters("otlp").unwrap(), [Otlp]);
        assert_eq!(
            parse_exporters(" OTLP , console,otlp,console_json").unwrap(),
            [Otlp, Console, ConsoleJson]
        );
        assert_eq!(parse_exporters("none").unwrap(), []);
        assert!(matches!(
            parse_exporters("zipkin"),
            Err(InitError::UnknownExporter(n)) if n == "zipkin"
        ));
        assert!(matches!(
            parse_exporters("otlp,none"),
            Err(InitError::InvalidEnv {
                var: TRACES_EXPORTER,
                ..
            })
        ));
    }

    #[test]
    fn resource_attribute_format() {
        assert_eq!(
            parse_attributes("a=1, team = pay%20ments ,k%3Dx=v%2Cw,,").unwrap(),
            [
                ("a".to_owned(), "1".to_owned()),
                ("team".to_owned(), "pay ments".to_owned()),
                ("k=x".to_owned(), "v,w".to_owned()),
            ]
        );
        assert_eq!(parse_attributes("novalue"), None);
        assert_eq!(parse_attributes("=v"), None);
        assert_eq!(parse_attributes("k=%FF"), None);
    }
}
