//! Where the demo's services send their spans: the embedded collector, or an OTLP endpoint the
//! user names, over the protocol `OTEL_EXPORTER_OTLP_PROTOCOL` selects.
//!
//! The services set up tracing from the environment alone, as a deployed service does
//! ([`crate::telemetry`]). The supervisor decides three things for them and overlays them with
//! the variables that win: the endpoint and protocol (the signal-specific
//! `OTEL_EXPORTER_OTLP_TRACES_*`, over the generic ones) and each service's name
//! (`OTEL_SERVICE_NAME`, over `OTEL_RESOURCE_ATTRIBUTES`). Everything else the user set —
//! headers, TLS files, compression, timeout, sampler, propagators, batching — reaches the
//! services unchanged, and [`resolve`] checks it once before any service starts.

use std::collections::HashMap;
use std::fmt;
use std::net::SocketAddr;

use tracewire_collector::sampling::SamplingConfig;
use tracewire_collector::{Collector, CollectorError, CollectorHandle};
use tracewire_otlp::{InitError, OtlpTarget, Protocol};

use crate::control::ExportReport;

/// The batch delay the services use unless `OTEL_BSP_SCHEDULE_DELAY` says otherwise: short, so
/// the demo's traces show up promptly.
const BATCH_DELAY_MS: &str = "200";

/// Why the services' telemetry settings cannot work.
#[derive(Debug)]
#[non_exhaustive]
pub enum SettingsError {
    /// A variable holds a value the set-up rejects.
    Invalid(InitError),
    /// `OTEL_SDK_DISABLED=true`: the services would export nothing.
    Disabled,
    /// `OTEL_TRACES_EXPORTER` does not name `otlp`.
    NoOtlp(String),
}

impl fmt::Display for SettingsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SettingsError::Invalid(e) => e.fmt(f),
            SettingsError::Disabled => {
                f.write_str("OTEL_SDK_DISABLED=true: the services would export no spans")
            }
            SettingsError::NoOtlp(names) => write!(
                f,
                "OTEL_TRACES_EXPORTER={names:?} does not include otlp: the services' spans would \
                 not reach the collector"
            ),
        }
    }
}

impl std::error::Error for SettingsError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            SettingsError::Invalid(e) => Some(e),
            _ => None,
        }
    }
}

/// The OTLP destination the services will resolve from the environment with `overlay` on top,
/// after checking every setting they will read (`OTEL_*`, through the same set-up call).
pub fn resolve(overlay: &[(String, String)]) -> Result<OtlpTarget, SettingsError> {
    let overlay: HashMap<String, String> = overlay.iter().cloned().collect();
    let (_layer, guard) = tracewire_otlp::setup()
        .env_lookup(move |var| {
            overlay
                .get(var)
                .cloned()
                .or_else(|| std::env::var(var).ok())
        })
        .build()
        .map_err(SettingsError::Invalid)?;
    let config = guard.config();
    if config.disabled {
        return Err(SettingsError::Disabled);
    }
    match &config.otlp {
        Some(target) => Ok(target.clone()),
        None => {
            let names: Vec<&str> = config.exporters.iter().map(|e| e.as_str()).collect();
            Err(SettingsError::NoOtlp(names.join(",")))
        }
    }
}

/// The protocol the environment selects. The environment's own endpoint does not matter: the
/// demo sets it.
pub fn protocol_from_env() -> Result<Protocol, SettingsError> {
    let placeholder = Protocol::default().default_endpoint().to_owned();
    Ok(resolve(&[(TRACES_ENDPOINT.to_owned(), placeholder)])?.protocol)
}

/// The URL the services export to for a user-given `--otlp-endpoint`: for the HTTP protocols a
/// URL with no path gets the traces path (`http://jaeger:4318` → `http://jaeger:4318/v1/traces`),
/// as `OTEL_EXPORTER_OTLP_ENDPOINT` does; anything else is used as given.
pub fn external_endpoint(url: &str, protocol: Protocol) -> String {
    let bare = url
        .parse::<http::Uri>()
        .is_ok_and(|u| u.path_and_query().is_none_or(|p| p.as_str() == "/"));
    if bare && protocol != Protocol::Grpc {
        format!("{}/v1/traces", url.trim_end_matches('/'))
    } else {
        url.to_owned()
    }
}

/// Starts the embedded collector with the one OTLP listener `protocol` needs, on a free port,
/// tail sampling with `sampling` (or storing every span). With `ui`, its web UI and API listen
/// there (or on a free port if that one is busy).
pub async fn start_collector(
    protocol: Protocol,
    ui: Option<SocketAddr>,
    sampling: Option<SamplingConfig>,
) -> Result<CollectorHandle, CollectorError> {
    let any = SocketAddr::from(([127, 0, 0, 1], 0));
    let grpc = protocol == Protocol::Grpc;
    let builder = || {
        Collector::builder()
            .otlp_http_addr((!grpc).then_some(any))
            .otlp_grpc_addr(grpc.then_some(any))
            .api_addr(None)
            .sampling(sampling.clone())
    };
    match ui {
        None => builder().spawn().await,
        Some(ui) => match builder().api_addr(ui).spawn().await {
            Ok(c) => Ok(c),
            // The preferred UI port is taken: any free port will do.
            Err(_) => builder().api_addr(any).spawn().await,
        },
    }
}

/// The URL of the embedded collector's listener for `protocol`.
pub fn collector_endpoint(c: &CollectorHandle, protocol: Protocol) -> Option<String> {
    match protocol {
        Protocol::Grpc => c.otlp_grpc_addr().map(|a| format!("http://{a}")),
        _ => c.otlp_http_addr().map(|a| format!("http://{a}/v1/traces")),
    }
}

const TRACES_ENDPOINT: &str = "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT";

/// The variables the service `service` gets on top of the supervisor's environment.
pub fn service_env(service: &str, endpoint: &str, protocol: Protocol) -> Vec<(String, String)> {
    service_env_with(service, endpoint, protocol, |v| {
        std::env::var_os(v).is_some()
    })
}

fn service_env_with(
    service: &str,
    endpoint: &str,
    protocol: Protocol,
    is_set: impl Fn(&str) -> bool,
) -> Vec<(String, String)> {
    let mut env = vec![
        ("OTEL_SERVICE_NAME".to_owned(), service.to_owned()),
        (TRACES_ENDPOINT.to_owned(), endpoint.to_owned()),
        (
            "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL".to_owned(),
            protocol.as_str().to_owned(),
        ),
    ];
    if !is_set("OTEL_BSP_SCHEDULE_DELAY") {
        env.push((
            "OTEL_BSP_SCHEDULE_DELAY".to_owned(),
            BATCH_DELAY_MS.to_owned(),
        ));
    }
    env
}

/// What went wrong with one service's export.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExportProblem {
    /// The service.
    pub service: String,
    /// What happened.
    pub what: String,
}

impl fmt::Display for ExportProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.service, self.what)
    }
}

/// The problems among services' export reports: spans not delivered, or (`Err`) why a service
/// sent no report.
pub fn export_problems<'a>(
    reports: impl IntoIterator<Item = (&'a str, Result<&'a ExportReport, String>)>,
) -> Vec<ExportProblem> {
    reports
        .into_iter()
        .filter_map(|(service, report)| {
            let what = match report {
                Err(why) => why,
                Ok(r) if r.lost() == 0 => return None,
                Ok(r) => format!(
                    "{} spans not exported ({} failed, {} dropped, {} pending): {}",
                    r.lost(),
                    r.failed,
                    r.dropped,
                    r.pending,
                    r.error.as_deref().unwrap_or("no error recorded")
                ),
            };
            Some(ExportProblem {
                service: service.to_owned(),
                what,
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bare_http_endpoints_get_the_traces_path() {
        let http = Protocol::HttpProtobuf;
        assert_eq!(
            external_endpoint("http://jaeger:4318", http),
            "http://jaeger:4318/v1/traces"
        );
        assert_eq!(
            external_endpoint("http://jaeger:4318/", Protocol::HttpJson),
            "http://jaeger:4318/v1/traces"
        );
        assert_eq!(
            external_endpoint("http://tempo:4318/custom/traces", http),
            "http://tempo:4318/custom/traces"
        );
        assert_eq!(
            external_endpoint("http://otelcol:4317", Protocol::Grpc),
            "http://otelcol:4317"
        );
        assert_eq!(external_endpoint("not a url", http), "not a url");
    }

    #[test]
    fn services_get_their_name_the_endpoint_protocol_and_a_short_batch_delay() {
        let env = service_env_with(
            "ranking",
            "http://127.0.0.1:9/v1/traces",
            Protocol::HttpJson,
            |_| false,
        );
        assert_eq!(
            env,
            [
                ("OTEL_SERVICE_NAME", "ranking"),
                (
                    "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
                    "http://127.0.0.1:9/v1/traces"
                ),
                ("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", "http/json"),
                ("OTEL_BSP_SCHEDULE_DELAY", "200"),
            ]
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
        );
        // The user's own batch delay is kept.
        let env = service_env_with("gateway", "http://h:1", Protocol::Grpc, |v| {
            v == "OTEL_BSP_SCHEDULE_DELAY"
        });
        assert_eq!(env.len(), 3);
        assert_eq!(env[2].1, "grpc");
    }

    #[test]
    fn problems_name_the_service_and_the_error() {
        let ok = ExportReport {
            exported: 9,
            ..ExportReport::default()
        };
        let failing = ExportReport {
            exported: 1,
            failed: 4,
            dropped: 1,
            pending: 0,
            error: Some("export failed: HTTP 404".into()),
        };
        let problems = export_problems([
            ("ranking", Ok(&ok)),
            ("pricing", Ok(&failing)),
            ("gateway", Err("did not answer".to_owned())),
        ]);
        let lines: Vec<String> = problems.iter().map(ToString::to_string).collect();
        assert_eq!(
            lines,
            [
                "pricing: 5 spans not exported (4 failed, 1 dropped, 0 pending): export failed: \
                 HTTP 404",
                "gateway: did not answer",
            ]
        );
    }

    fn overlay(vars: &[(&str, &str)]) -> Vec<(String, String)> {
        vars.iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    #[test]
    fn every_setting_is_checked_before_any_service_starts() {
        // The overlay wins over the process environment, as it does in the services.
        let target = resolve(&overlay(&[
            (TRACES_ENDPOINT, "http://127.0.0.1:4318/v1/traces"),
            ("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", "http/json"),
        ]))
        .unwrap();
        assert_eq!(target.protocol, Protocol::HttpJson);
        assert_eq!(target.endpoint, "http://127.0.0.1:4318/v1/traces");
        assert!(!target.secure);

        let err = resolve(&overlay(&[(TRACES_ENDPOINT, "ftp://collector:21")])).unwrap_err();
        assert!(
            matches!(err, SettingsError::Invalid(InitError::Exporter(_))),
            "{err:?}"
        );
        let err = resolve(&overlay(&[("OTEL_TRACES_SAMPLER", "sometimes")])).unwrap_err();
        assert!(
            matches!(err, SettingsError::Invalid(InitError::Config(_))),
            "{err:?}"
        );
        let err = resolve(&overlay(&[("OTEL_TRACES_EXPORTER", "console")])).unwrap_err();
        assert_eq!(
            err.to_string(),
            "OTEL_TRACES_EXPORTER=\"console\" does not include otlp: the services' spans would \
             not reach the collector"
        );
        let err = resolve(&overlay(&[("OTEL_SDK_DISABLED", "true")])).unwrap_err();
        assert!(matches!(err, SettingsError::Disabled), "{err:?}");
    }
}
