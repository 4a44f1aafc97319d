//! The TOML file format of [`SamplingConfig`](super::SamplingConfig): plain serde structs whose
//! every field is optional, applied onto a builder so files and code share the validation.

use std::collections::BTreeMap;
use std::time::Duration;

use serde::Deserialize;
use serde::de::{self, Deserializer};

use super::config::{KeyPart, SamplingConfigBuilder, SamplingConfigError};
use super::forward::ForwardConfig;

/// A duration written with a unit: `250ms`, `2s`, `5m`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) struct Dur(pub(crate) Duration);

impl<'de> Deserialize<'de> for Dur {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        crate::api::parse_duration(&s)
            .map(Dur)
            .map_err(de::Error::custom)
    }
}

/// A byte size: an integer, or a string with a unit: `256MiB`, `64KiB`, `1GB`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) struct Size(pub(crate) usize);

/// Parses a byte size as the sampling file and the collector's flags take it: `256MiB`, `64KiB`,
/// `1GB`, `4096` or `4096B` (`None` when it is not one, or does not fit a `usize`).
pub fn parse_size(v: &str) -> Option<usize> {
    let v = v.trim();
    let (num, mult) = [
        ("GiB", 1usize << 30),
        ("MiB", 1 << 20),
        ("KiB", 1 << 10),
        ("GB", 1_000_000_000),
        ("MB", 1_000_000),
        ("KB", 1_000),
        ("B", 1),
    ]
    .iter()
    .find_map(|(suffix, m)| v.strip_suffix(suffix).map(|n| (n, *m)))
    .unwrap_or((v, 1));
    num.trim().parse::<usize>().ok()?.checked_mul(mult)
}

impl<'de> Deserialize<'de> for Size {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            Int(u64),
            Text(String),
        }
        match Raw::deserialize(d)? {
            Raw::Int(n) => usize::try_from(n)
                .map(Size)
                .map_err(|_| de::Error::custom("size too large")),
            Raw::Text(s) => parse_size(&s).map(Size).ok_or_else(|| {
                de::Error::custom(format!("`{s}` is not a size like 256MiB or 1000000"))
            }),
        }
    }
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields, default)]
pub(crate) struct File {
    seed: Option<u64>,
    buffer: BufferSection,
    completion: CompletionSection,
    decision_cache: CacheSection,
    policies: PoliciesSection,
    limit: LimitSection,
    forward: Option<ForwardSection>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields, default)]
struct BufferSection {
    max_bytes: Option<Size>,
    window: Option<Dur>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields, default)]
struct CompletionSection {
    idle_gap: Option<Dur>,
    max_wait: Option<Dur>,
    max_spans_per_trace: Option<usize>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields, default)]
struct CacheSection {
    ttl: Option<Dur>,
    max_traces: Option<usize>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields, default)]
struct PoliciesSection {
    errors: Option<bool>,
    force_attribute: Option<String>,
    latency: LatencySection,
    dynamic: DynamicSection,
    probabilistic: ProbabilisticSection,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields, default)]
struct LatencySection {
    threshold: Option<Dur>,
    adaptive: Option<bool>,
    quantile: Option<f64>,
    window: Option<Dur>,
    min_samples: Option<u64>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields, default)]
struct DynamicSection {
    enabled: Option<bool>,
    target_per_sec: Option<f64>,
    key: Option<Vec<String>>,
    adjust_every: Option<Dur>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields, default)]
struct ProbabilisticSection {
    rate: Option<f64>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields, default)]
struct LimitSection {
    max_traces_per_sec: Option<f64>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields, default)]
struct ForwardSection {
    endpoint: Option<String>,
    protocol: Option<String>,
    compression: Option<String>,
    timeout: Option<Dur>,
    headers: BTreeMap<String, String>,
    max_buffer_bytes: Option<Size>,
    retry_initial: Option<Dur>,
    retry_max: Option<Dur>,
    ca_file: Option<std::path::PathBuf>,
    client_cert: Option<std::path::PathBuf>,
    client_key: Option<std::path::PathBuf>,
}

fn invalid(field: &'static str, reason: impl Into<String>) -> SamplingConfigError {
    SamplingConfigError::Invalid {
        field,
        reason: reason.into(),
    }
}

impl File {
    /// Applies every setting present in the file onto `b`.
    pub(crate) fn apply(
        self,
        mut b: SamplingConfigBuilder,
    ) -> Result<SamplingConfigBuilder, SamplingConfigError> {
        if let Some(s) = self.seed {
            b = b.seed(s);
        }
        if let Some(Size(n)) = self.buffer.max_bytes {
            b = b.buffer_max_bytes(n);
        }
        if let Some(Dur(d)) = self.buffer.window {
            b = b.buffer_window(d);
        }
        let c = self.completion;
        if let Some(Dur(d)) = c.idle_gap {
            b = b.idle_gap(d);
        }
        if let Some(Dur(d)) = c.max_wait {
            b = b.max_wait(d);
        }
        if let Some(n) = c.max_spans_per_trace {
            b = b.max_spans_per_trace(n);
        }
        if let Some(Dur(d)) = self.decision_cache.ttl {
            b = b.decision_ttl(d);
        }
        if let Some(n) = self.decision_cache.max_traces {
            b = b.decision_cache_traces(n);
        }
        let p = self.policies;
        if let Some(on) = p.errors {
            b = b.keep_errors(on);
        }
        if let Some(k) = p.force_attribute {
            b = b.force_attribute(Some(k));
        }
        if let Some(Dur(d)) = p.latency.threshold {
            b = b.latency_threshold(d);
        }
        b = apply_adaptive(b, &p.latency);
        b = apply_dynamic(b, p.dynamic)?;
        if let Some(r) = p.probabilistic.rate {
            b = b.probabilistic(r);
        }
        if let Some(n) = self.limit.max_traces_per_sec {
            b = b.limit_per_sec(n);
        }
        if let Some(f) = self.forward {
            b = b.forward(forward_config(f)?);
        }
        Ok(b)
    }
}

impl SamplingConfigBuilder {
    /// Sets one setting by its name in the configuration file and its value as text, parsed as
    /// the file's would be — for command-line flags and environment variables:
    ///
    /// | name | value |
    /// |---|---|
    /// | `buffer.max_bytes` | size: `256MiB`, `1GB`, `4096` |
    /// | `buffer.window`, `completion.idle_gap`, `completion.max_wait`, `decision_cache.ttl`, `policies.latency.threshold` | duration: `500ms`, `2s`, `5m` |
    /// | `completion.max_spans_per_trace`, `decision_cache.max_traces` | integer |
    /// | `policies.probabilistic.rate`, `policies.dynamic.target_per_sec`, `limit.max_traces_per_sec` | number |
    /// | `policies.errors` | `true` or `false` |
    /// | `forward.endpoint` | URL (starts forwarding) |
    /// | `forward.protocol` | `grpc`, `http/protobuf`, `http/json` (after `forward.endpoint`) |
    ///
    /// ```
    /// use std::time::Duration;
    /// use tracewire_collector::sampling::SamplingConfig;
    ///
    /// let config = SamplingConfig::builder()
    ///     .set("completion.idle_gap", "750ms")?
    ///     .set("forward.endpoint", "http://upstream:4318/v1/traces")?
    ///     .build()?;
    /// assert_eq!(config.idle_gap(), Duration::from_millis(750));
    /// # Ok::<(), tracewire_collector::sampling::SamplingConfigError>(())
    /// ```
    pub fn set(self, name: &str, value: &str) -> Result<Self, SamplingConfigError> {
        let field: &'static str = match SETTINGS.iter().find(|f| **f == name) {
            Some(f) => f,
            None => {
                return Err(invalid(
                    "setting",
                    format!("`{name}` is not a setting that can be given alone"),
                ));
            }
        };
        let dur = || {
            crate::api::parse_duration(value)
                .map_err(|e| invalid(field, format!("is invalid: {e}")))
        };
        let num = || {
            value
                .trim()
                .parse::<f64>()
                .map_err(|_| invalid(field, format!("must be a number, got `{value}`")))
        };
        let int = || {
            value
                .trim()
                .parse::<usize>()
                .map_err(|_| invalid(field, format!("must be an integer, got `{value}`")))
        };
        Ok(match field {
            "buffer.max_bytes" => {
                self.buffer_max_bytes(parse_size(value).ok_or_else(|| {
                    invalid(field, format!("`{value}` is not a size like 256MiB"))
                })?)
            }
            "buffer.window" => self.buffer_window(dur()?),
            "completion.idle_gap" => self.idle_gap(dur()?),
            "completion.max_wait" => self.max_wait(dur()?),
            "completion.max_spans_per_trace" => self.max_spans_per_trace(int()?),
            "decision_cache.ttl" => self.decision_ttl(dur()?),
            "decision_cache.max_traces" => self.decision_cache_traces(int()?),
            "policies.errors" => self.keep_errors(
                value
                    .trim()
                    .parse()
                    .map_err(|_| invalid(field, format!("must be true or false, got `{value}`")))?,
            ),
            "policies.latency.threshold" => self.latency_threshold(dur()?),
            "policies.probabilistic.rate" => self.probabilistic(num()?),
            "policies.dynamic.target_per_sec" => self.dynamic(num()?),
            "limit.max_traces_per_sec" => self.limit_per_sec(num()?),
            "forward.endpoint" => {
                let f = match self.config.forward.clone() {
                    Some(f) => f.with_endpoint(value.trim()),
                    None => ForwardConfig::new(value.trim()),
                };
                self.forward(f)
            }
            _ => {
                let Some(f) = self.config.forward.clone() else {
                    return Err(invalid(field, "needs forward.endpoint first"));
                };
                let p = tracewire_otlp::Protocol::parse(value).ok_or_else(|| {
                    invalid(
                        field,
                        format!("`{value}` is not grpc, http/protobuf or http/json"),
                    )
                })?;
                self.forward(f.exporter(|b| b.protocol(p)))
            }
        })
    }
}

/// The settings [`SamplingConfigBuilder::set`] takes.
const SETTINGS: [&str; 14] = [
    "buffer.max_bytes",
    "buffer.window",
    "completion.idle_gap",
    "completion.max_wait",
    "completion.max_spans_per_trace",
    "decision_cache.ttl",
    "decision_cache.max_traces",
    "policies.errors",
    "policies.latency.threshold",
    "policies.probabilistic.rate",
    "policies.dynamic.target_per_sec",
    "limit.max_traces_per_sec",
    "forward.endpoint",
    "forward.protocol",
];

fn apply_adaptive(b: SamplingConfigBuilder, l: &LatencySection) -> SamplingConfigBuilder {
    if l.adaptive == Some(false) {
        return b.no_adaptive_latency();
    }
    if l.quantile.is_none() && l.window.is_none() && l.min_samples.is_none() {
        return b;
    }
    b.adaptive_latency(
        l.quantile.unwrap_or(0.99),
        l.window.map_or(Duration::from_secs(300), |d| d.0),
        l.min_samples.unwrap_or(100),
    )
}

fn apply_dynamic(
    mut b: SamplingConfigBuilder,
    d: DynamicSection,
) -> Result<SamplingConfigBuilder, SamplingConfigError> {
    if d.enabled == Some(false) {
        return Ok(b.no_dynamic());
    }
    if let Some(t) = d.target_per_sec {
        b = b.dynamic(t);
    }
    if let Some(key) = d.key {
        let parts = key
            .iter()
            .map(|k| {
                KeyPart::parse(k).ok_or_else(|| {
                    invalid(
                        "policies.dynamic.key",
                        format!("has unknown part `{k}` (use service, operation, status)"),
                    )
                })
            })
            .collect::<Result<Vec<_>, _>>()?;
        b = b.dynamic_key(&parts);
    }
    if let Some(Dur(e)) = d.adjust_every {
        b = b.dynamic_adjust_every(e);
    }
    Ok(b)
}

fn forward_config(f: ForwardSection) -> Result<ForwardConfig, SamplingConfigError> {
    let endpoint = f
        .endpoint
        .ok_or_else(|| invalid("forward.endpoint", "is required in a [forward] section"))?;
    let mut b = tracewire_otlp::OtlpExporter::builder().endpoint(endpoint.clone());
    if let Some(p) = f.protocol {
        let protocol = tracewire_otlp::Protocol::parse(&p).ok_or_else(|| {
            invalid(
                "forward.protocol",
                format!("`{p}` is not grpc, http/protobuf or http/json"),
            )
        })?;
        b = b.protocol(protocol);
    }
    if let Some(z) = f.compression {
        let compression = tracewire_otlp::Compression::parse(&z)
            .ok_or_else(|| invalid("forward.compression", format!("`{z}` is not gzip or none")))?;
        b = b.compression(compression);
    }
    if let Some(Dur(t)) = f.timeout {
        b = b.timeout(t);
    }
    b = b.headers(f.headers);
    if let Some(ca) = f.ca_file {
        b = b.ca_certificate_file(ca);
    }
    match (f.client_cert, f.client_key) {
        (Some(cert), Some(key)) => b = b.client_identity_files(cert, key),
        (None, None) => {}
        _ => {
            return Err(invalid(
                "forward.client_cert",
                "and forward.client_key go together",
            ));
        }
    }
    let mut c = ForwardConfig::new(endpoint).exporter(|_| b);
    if let Some(Size(n)) = f.max_buffer_bytes {
        c = c.max_buffer_bytes(n);
    }
    if let Some(Dur(d)) = f.retry_initial {
        c = c.retry_backoff(d, f.retry_max.map_or(Duration::from_secs(30), |m| m.0));
    } else if let Some(Dur(m)) = f.retry_max {
        c = c.retry_backoff(Duration::from_secs(1), m);
    }
    Ok(c)
}

#[cfg(test)]
mod tests;
