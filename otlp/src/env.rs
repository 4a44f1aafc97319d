//! The `OTEL_EXPORTER_OTLP_*` variables, read through a lookup function, and the value rules of
//! the OpenTelemetry configuration specification shared with [`crate::setup`].

use std::path::PathBuf;
use std::time::Duration;

use crate::config::{Compression, MAX_TIMEOUT, Protocol};
use crate::error::OtlpConfigError;

/// Where the endpoint came from, which decides whether `/v1/traces` is appended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum EndpointSetting {
    /// Use the protocol's default.
    Default,
    /// A full URL used as given (code, or `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`).
    Exact(String),
    /// A base URL (`OTEL_EXPORTER_OTLP_ENDPOINT`): HTTP protocols append `v1/traces`.
    Base(String),
}

impl EndpointSetting {
    pub(crate) fn resolve(&self, protocol: Protocol) -> String {
        match self {
            EndpointSetting::Default => protocol.default_endpoint().to_owned(),
            EndpointSetting::Exact(e) => e.clone(),
            EndpointSetting::Base(base) if protocol.is_http() => {
                if base.ends_with('/') {
                    format!("{base}v1/traces")
                } else {
                    format!("{base}/v1/traces")
                }
            }
            EndpointSetting::Base(base) => base.clone(),
        }
    }
}

/// The settings the environment asked for; `None` where it said nothing.
#[derive(Debug, Default, Clone, PartialEq)]
pub(crate) struct EnvSettings {
    pub(crate) endpoint: Option<EndpointSetting>,
    pub(crate) protocol: Option<Protocol>,
    pub(crate) headers: Option<Vec<(String, String)>>,
    pub(crate) timeout: Option<Duration>,
    pub(crate) compression: Option<Compression>,
    pub(crate) certificate: Option<PathBuf>,
    pub(crate) client_certificate: Option<PathBuf>,
    pub(crate) client_key: Option<PathBuf>,
    pub(crate) insecure: Option<bool>,
    /// Values the specification says to accept with a warning (a boolean that is neither
    /// `true` nor `false`).
    pub(crate) warnings: Vec<String>,
}

pub(crate) const ENDPOINT: &str = "OTEL_EXPORTER_OTLP_ENDPOINT";
pub(crate) const TRACES_ENDPOINT: &str = "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT";
pub(crate) const PROTOCOL: &str = "OTEL_EXPORTER_OTLP_PROTOCOL";
pub(crate) const TRACES_PROTOCOL: &str = "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL";
pub(crate) const HEADERS: &str = "OTEL_EXPORTER_OTLP_HEADERS";
pub(crate) const TRACES_HEADERS: &str = "OTEL_EXPORTER_OTLP_TRACES_HEADERS";
pub(crate) const TIMEOUT: &str = "OTEL_EXPORTER_OTLP_TIMEOUT";
pub(crate) const TRACES_TIMEOUT: &str = "OTEL_EXPORTER_OTLP_TRACES_TIMEOUT";
pub(crate) const COMPRESSION: &str = "OTEL_EXPORTER_OTLP_COMPRESSION";
pub(crate) const TRACES_COMPRESSION: &str = "OTEL_EXPORTER_OTLP_TRACES_COMPRESSION";
pub(crate) const CERTIFICATE: &str = "OTEL_EXPORTER_OTLP_CERTIFICATE";
pub(crate) const TRACES_CERTIFICATE: &str = "OTEL_EXPORTER_OTLP_TRACES_CERTIFICATE";
pub(crate) const CLIENT_CERTIFICATE: &str = "OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE";
pub(crate) const TRACES_CLIENT_CERTIFICATE: &str = "OTEL_EXPORTER_OTLP_TRACES_CLIENT_CERTIFICATE";
pub(crate) const CLIENT_KEY: &str = "OTEL_EXPORTER_OTLP_CLIENT_KEY";
pub(crate) const TRACES_CLIENT_KEY: &str = "OTEL_EXPORTER_OTLP_TRACES_CLIENT_KEY";
pub(crate) const INSECURE: &str = "OTEL_EXPORTER_OTLP_INSECURE";
pub(crate) const TRACES_INSECURE: &str = "OTEL_EXPORTER_OTLP_TRACES_INSECURE";
/// The obsolete name the specification asks implementations that had it to keep.
pub(crate) const SPAN_INSECURE: &str = "OTEL_EXPORTER_OTLP_SPAN_INSECURE";

/// A variable's trimmed value; empty counts as unset, as the specification says.
pub(crate) fn get(
    lookup: &dyn Fn(&str) -> Option<String>,
    var: &'static str,
) -> Option<(&'static str, String)> {
    lookup(var)
        .map(|v| v.trim().to_owned())
        .filter(|v| !v.is_empty())
        .map(|v| (var, v))
}

/// Parses a variable [`get`] found: `Ok(None)` when it was unset, `invalid(var, value)` when
/// `parse` refuses its value.
pub(crate) fn parse_var<T, E>(
    found: Option<(&'static str, String)>,
    parse: impl FnOnce(&str) -> Option<T>,
    invalid: impl FnOnce(&'static str, String) -> E,
) -> Result<Option<T>, E> {
    match found {
        None => Ok(None),
        Some((var, value)) => match parse(&value) {
            Some(parsed) => Ok(Some(parsed)),
            None => Err(invalid(var, value)),
        },
    }
}

/// A Boolean per the specification: only `true` (any case) is true. Anything else is false;
/// values other than `false` also produce a warning.
pub(crate) fn parse_bool(var: &str, value: &str, warnings: &mut Vec<String>) -> bool {
    if value.eq_ignore_ascii_case("true") {
        return true;
    }
    if !value.eq_ignore_ascii_case("false") {
        warnings.push(format!(
            "{var}={value:?} is not \"true\" or \"false\"; using false"
        ));
    }
    false
}

/// A Timeout per the specification: whole milliseconds; `0` means no limit, taken as
/// [`MAX_TIMEOUT`], and so are values above it (even ones too long for a `u64`). `None` for
/// anything that is not a run of ASCII digits.
pub(crate) fn parse_timeout(value: &str) -> Option<Duration> {
    match parse_millis(value)? {
        Duration::ZERO => Some(MAX_TIMEOUT),
        d => Some(d),
    }
}

/// A Duration per the specification: whole milliseconds, saturating at [`MAX_TIMEOUT`]. `None`
/// for anything that is not a run of ASCII digits.
pub(crate) fn parse_millis(value: &str) -> Option<Duration> {
    if value.is_empty() || !value.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    // All digits: a parse failure can only be an overflow.
    let ms = value.parse::<u64>().unwrap_or(u64::MAX);
    Some(Duration::from_millis(ms).min(MAX_TIMEOUT))
}

impl EnvSettings {
    /// Reads the variables through `lookup`. For each setting the signal-specific
    /// `OTEL_EXPORTER_OTLP_TRACES_*` variable wins over the generic one; empty values count as
    /// unset; invalid values are errors.
    pub(crate) fn read(
        lookup: &dyn Fn(&str) -> Option<String>,
    ) -> Result<EnvSettings, OtlpConfigError> {
        let pick = |specific, generic| get(lookup, specific).or_else(|| get(lookup, generic));
        let invalid = |var: &'static str, value: String| OtlpConfigError::InvalidEnv { var, value };
        let path = |specific, generic| pick(specific, generic).map(|(_, v)| PathBuf::from(v));

        let endpoint = match get(lookup, TRACES_ENDPOINT) {
            Some((_, v)) => Some(EndpointSetting::Exact(v)),
            None => get(lookup, ENDPOINT).map(|(_, v)| EndpointSetting::Base(v)),
        };
        let protocol = parse_var(pick(TRACES_PROTOCOL, PROTOCOL), Protocol::parse, invalid)?;
        let headers = parse_var(pick(TRACES_HEADERS, HEADERS), parse_headers, invalid)?;
        let timeout = parse_var(pick(TRACES_TIMEOUT, TIMEOUT), parse_timeout, invalid)?;
        let compression = parse_var(
            pick(TRACES_COMPRESSION, COMPRESSION),
            Compression::parse,
            invalid,
        )?;
        let mut warnings = Vec::new();
        let insecure = get(lookup, TRACES_INSECURE)
            .or_else(|| get(lookup, SPAN_INSECURE))
            .or_else(|| get(lookup, INSECURE))
            .map(|(var, v)| parse_bool(var, &v, &mut warnings));
        Ok(EnvSettings {
            endpoint,
            protocol,
            headers,
            timeout,
            compression,
            certificate: path(TRACES_CERTIFICATE, CERTIFICATE),
            client_certificate: path(TRACES_CLIENT_CERTIFICATE, CLIENT_CERTIFICATE),
            client_key: path(TRACES_CLIENT_KEY, CLIENT_KEY),
            insecure,
            warnings,
        })
    }
}

/// Parses the `OTEL_EXPORTER_OTLP_HEADERS` format: `key=value` pairs separated by commas, keys and
/// values trimmed, values percent-decoded. `None` when a pair has no `=` or an empty key, or a
/// value is not valid UTF-8 after decoding. Empty pairs (`a=1,,b=2`) are skipped.
pub(crate) fn parse_headers(s: &str) -> Option<Vec<(String, String)>> {
    let mut out = Vec::new();
    for pair in s.split(',') {
        if pair.trim().is_empty() {
            continue;
        }
        let (k, v) = pair.split_once('=')?;
        let k = k.trim();
        if k.is_empty() {
            return None;
        }
        let v = percent_encoding::percent_decode_str(v.trim())
            .decode_utf8()
            .ok()?;
        out.push((k.to_owned(), v.into_owned()));
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    fn read(vars: &[(&str, &str)]) -> Result<EnvSettings, OtlpConfigError> {
        let map: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        EnvSettings::read(&move |k: &str| map.get(k).cloned())
    }

    #[test]
    fn nothing_set_means_nothing_changes() {
        assert_eq!(read(&[]).unwrap(), EnvSettings::default());
        // Empty values count as unset.
        assert_eq!(
            read(&[
                (PROTOCOL, ""),
                (TIMEOUT, "  "),
                (INSECURE, ""),
                (CERTIFICATE, " ")
            ])
            .unwrap(),
            EnvSettings::default()
        );
    }

    #[test]
    fn signal_specific_wins() {
        let s = read(&[
            (ENDPOINT, "http://generic:4318"),
            (TRACES_ENDPOINT, "http://traces:9999/custom"),
            (PROTOCOL, "grpc"),
            (TRACES_PROTOCOL, "http/json"),
            (HEADERS, "a=1"),
            (TRACES_HEADERS, "b=2"),
            (TIMEOUT, "1000"),
            (TRACES_TIMEOUT, "2500"),
            (COMPRESSION, "none"),
            (TRACES_COMPRESSION, "gzip"),
            (CERTIFICATE, "/generic/ca.pem"),
            (TRACES_CERTIFICATE, "/traces/ca.pem"),
            (CLIENT_CERTIFICATE, "/generic/client.pem"),
            (TRACES_CLIENT_CERTIFICATE, "/traces/client.pem"),
            (CLIENT_KEY, "/generic/client.key"),
            (TRACES_CLIENT_KEY, "/traces/client.key"),
            (INSECURE, "false"),
            (TRACES_INSECURE, "TRUE"),
        ])
        .unwrap();
        let expected = EnvSettings {
            endpoint: Some(EndpointSetting::Exact("http://traces:9999/custom".into())),
            protocol: Some(Protocol::HttpJson),
            headers: Some(vec![("b".into(), "2".into())]),
            timeout: Some(Duration::from_millis(2500)),
            compression: Some(Compression::Gzip),
            certificate: Some("/traces/ca.pem".into()),
            client_certificate: Some("/traces/client.pem".into()),
            client_key: Some("/traces/client.key".into()),
            insecure: Some(true),
            warnings: Vec::new(),
        };
        assert_eq!(s, expected);
    }

    #[test]
    fn generic_values_apply_alone() {
        let s = read(&[
            (ENDPOINT, "http://generic:4318/"),
            (PROTOCOL, "grpc"),
            (HEADERS, "api-key=abc%20def , tenant = acme,,"),
            (TIMEOUT, "750"),
            (COMPRESSION, "gzip"),
            (CERTIFICATE, "ca.pem"),
            (INSECURE, "true"),
        ])
        .unwrap();
        let expected = EnvSettings {
            endpoint: Some(EndpointSetting::Base("http://generic:4318/".into())),
            protocol: Some(Protocol::Grpc),
            headers: Some(vec![
                ("api-key".into(), "abc def".into()),
                ("tenant".into(), "acme".into()),
            ]),
            timeout: Some(Duration::from_millis(750)),
            compression: Some(Compression::Gzip),
            certificate: Some("ca.pem".into()),
            insecure: Some(true),
            ..EnvSettings::default()
        };
        assert_eq!(s, expected);
        // The obsolete name still works, below the signal-specific one.
        assert_eq!(
            read(&[(SPAN_INSECURE, "true")]).unwrap().insecure,
            Some(true)
        );
        assert_eq!(
            read(&[(SPAN_INSECURE, "true"), (TRACES_INSECURE, "false")])
                .unwrap()
                .insecure,
            Some(false)
        );
    }

    #[test]
    fn booleans_follow_the_specification() {
        let s = read(&[(INSECURE, "yes")]).unwrap();
        assert_eq!(s.insecure, Some(false));
        assert_eq!(
            s.warnings,
            vec!["OTEL_EXPORTER_OTLP_INSECURE=\"yes\" is not \"true\" or \"false\"; using false"]
        );
        let s = read(&[(INSECURE, "False")]).unwrap();
        assert_eq!((s.insecure, s.warnings.len()), (Some(false), 0));
    }

    #[test]
    fn timeouts_saturate_and_zero_means_no_limit() {
        let t = |v: &str| read(&[(TIMEOUT, v)]).unwrap().timeout;
        assert_eq!(t("0"), Some(MAX_TIMEOUT));
        assert_eq!(t("18446744073709551615"), Some(MAX_TIMEOUT));
        assert_eq!(t("99999999999999999999999999999"), Some(MAX_TIMEOUT));
        assert_eq!(t("2147483647"), Some(MAX_TIMEOUT));
        assert_eq!(t("2147483646"), Some(Duration::from_millis(2_147_483_646)));
        assert_eq!(parse_millis("0"), Some(Duration::ZERO));
        assert_eq!(parse_millis("+5"), None);
    }

    #[test]
    fn invalid_values_are_errors() {
        for (var, value) in [
            (PROTOCOL, "http"),
            (TRACES_PROTOCOL, "GRPC"),
            (HEADERS, "novalue"),
            (TRACES_HEADERS, "=x"),
            (HEADERS, "k=%FF"),
            (TIMEOUT, "10s"),
            (TRACES_TIMEOUT, "-1"),
            (COMPRESSION, "zstd"),
        ] {
            assert_eq!(
                read(&[(var, value)]),
                Err(OtlpConfigError::InvalidEnv {
                    var,
                    value: value.to_owned()
                }),
                "{var}={value}"
            );
        }
    }

    #[test]
    fn endpoint_resolution() {
        let base = |s: &str| EndpointSetting::Base(s.to_owned());
        for (setting, protocol, expected) in [
            (
                base("http://c:4318"),
                Protocol::HttpProtobuf,
                "http://c:4318/v1/traces",
            ),
            (
                base("http://c:4318/"),
                Protocol::HttpJson,
                "http://c:4318/v1/traces",
            ),
            (
                base("http://c:4318/prefix"),
                Protocol::HttpProtobuf,
                "http://c:4318/prefix/v1/traces",
            ),
            (base("http://c:4317"), Protocol::Grpc, "http://c:4317"),
            (
                EndpointSetting::Exact("http://c/x".into()),
                Protocol::HttpProtobuf,
                "http://c/x",
            ),
            (
                EndpointSetting::Default,
                Protocol::HttpProtobuf,
                "http://localhost:4318/v1/traces",
            ),
            (
                EndpointSetting::Default,
                Protocol::Grpc,
                "http://localhost:4317",
            ),
        ] {
            assert_eq!(
                setting.resolve(protocol),
                expected,
                "{setting:?} with {protocol:?}"
            );
        }
    }
}
