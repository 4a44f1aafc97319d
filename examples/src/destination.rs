//! Where the demo's services send their spans: the embedded collector, or an OTLP endpoint the
//! user names, over the protocol `OTEL_EXPORTER_OTLP_PROTOCOL` selects.
//!
//! The services build their exporter from the environment alone (as a deployed service would);
//! the supervisor overlays the endpoint and protocol it chose with the signal-specific
//! variables, which win over the generic ones. Everything else the user set — headers,
//! compression, timeout — reaches the services unchanged.

use std::fmt;
use std::net::SocketAddr;

use tracewire_collector::{Collector, CollectorError, CollectorHandle};
use tracewire_otlp::{OtlpConfigError, OtlpExporter, Protocol};

use crate::control::ExportReport;

/// The batch delay the services use unless `OTEL_BSP_SCHEDULE_DELAY` says otherwise: short, so
/// the demo's traces show up promptly.
const BATCH_DELAY_MS: &str = "200";

/// The protocol the environment selects, after checking every `OTEL_EXPORTER_OTLP_*` setting
/// the services will read. The environment's own endpoint does not matter: the demo sets it.
pub fn protocol_from_env() -> Result<Protocol, OtlpConfigError> {
    check(Protocol::default().default_endpoint())
}

/// Checks the services' export settings with `endpoint` in place, and returns the protocol.
pub fn check(endpoint: &str) -> Result<Protocol, OtlpConfigError> {
    Ok(OtlpExporter::builder()
        .from_env()
        .endpoint(endpoint)
        .build()?
        .protocol())
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

/// Starts the embedded collector with the one OTLP listener `protocol` needs, on a free port.
/// With `ui`, its web UI and API listen there (or on a free port if that one is busy).
pub async fn start_collector(
    protocol: Protocol,
    ui: Option<SocketAddr>,
) -> Result<CollectorHandle, CollectorError> {
    let any = SocketAddr::from(([127, 0, 0, 1], 0));
    let grpc = protocol == Protocol::Grpc;
    let builder = || {
        Collector::builder()
            .otlp_http_addr((!grpc).then_some(any))
            .otlp_grpc_addr(grpc.then_some(any))
            .api_addr(None)
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

/// The variables a service process gets on top of the supervisor's environment.
pub fn service_env(endpoint: &str, protocol: Protocol) -> Vec<(String, String)> {
    service_env_with(endpoint, protocol, |v| std::env::var_os(v).is_some())
}

fn service_env_with(
    endpoint: &str,
    protocol: Protocol,
    is_set: impl Fn(&str) -> bool,
) -> Vec<(String, String)> {
    let mut env = vec![
        (
            "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT".to_owned(),
            endpoint.to_owned(),
        ),
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
    fn services_get_the_endpoint_protocol_and_a_short_batch_delay() {
        let env = service_env_with("http://127.0.0.1:9/v1/traces", Protocol::HttpJson, |_| {
            false
        });
        assert_eq!(
            env,
            [
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
        let env = service_env_with("http://h:1", Protocol::Grpc, |v| {
            v == "OTEL_BSP_SCHEDULE_DELAY"
        });
        assert_eq!(env.len(), 2);
        assert_eq!(env[1].1, "grpc");
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

    #[test]
    fn the_endpoint_is_checked_before_any_service_starts() {
        assert!(matches!(
            check("ftp://collector:21"),
            Err(OtlpConfigError::InvalidEndpoint { .. })
        ));
        assert!(check("http://127.0.0.1:4318/v1/traces").is_ok());
    }
}
