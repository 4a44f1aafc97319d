//! The standalone collector: `tracewire-collector --help`.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::{Arg, ArgAction, ArgMatches, Command};
use tracewire_collector::sampling::{self, SamplingConfig};
use tracewire_collector::{Collector, CollectorBuilder, ServerTls};

/// The environment variable that may hold the bearer token.
const TOKEN_ENV: &str = "TRACEWIRE_COLLECTOR_TOKEN";

fn parse_addr(v: &str) -> Result<Option<SocketAddr>, String> {
    if v == "off" {
        return Ok(None);
    }
    v.parse()
        .map(Some)
        .map_err(|_| format!("`{v}` is not an address like 127.0.0.1:4318 (or `off`)"))
}

/// A byte size as the sampling file takes it (`512MiB`, `1GB`, `4096`).
fn parse_size(v: &str) -> Result<usize, String> {
    sampling::parse_size(v).ok_or_else(|| format!("`{v}` is not a size like 512MiB or 1000000"))
}

/// `250ms`, `10s`, `30m`, `1h`, `1d`.
fn parse_duration(v: &str) -> Result<Duration, String> {
    let err = || format!("`{v}` is not a duration like 250ms, 10s, 30m or 1h");
    let split = v.find(|c: char| !c.is_ascii_digit()).ok_or_else(err)?;
    let (n, unit) = v.split_at(split);
    let n: u64 = n.parse().map_err(|_| err())?;
    let per_unit = match unit {
        "ms" => Duration::from_millis(1),
        "s" => Duration::from_secs(1),
        "m" => Duration::from_secs(60),
        "h" => Duration::from_secs(3600),
        "d" => Duration::from_secs(86_400),
        _ => return Err(err()),
    };
    per_unit
        .checked_mul(u32::try_from(n).map_err(|_| err())?)
        .ok_or_else(err)
}

/// A duration, or `0` for "until evicted".
fn parse_retention(v: &str) -> Result<Duration, String> {
    if v == "0" {
        return Ok(Duration::ZERO);
    }
    parse_duration(v)
}

/// The flags that set one tail-sampling setting, and the setting (see
/// `SamplingConfigBuilder::set`, which parses and checks the values).
const SAMPLING_SETTINGS: [(&str, &str); 9] = [
    ("sampling-idle-gap", "completion.idle_gap"),
    ("sampling-max-wait", "completion.max_wait"),
    ("sampling-buffer", "buffer.max_bytes"),
    ("sampling-latency", "policies.latency.threshold"),
    ("sampling-rate", "policies.probabilistic.rate"),
    ("sampling-target", "policies.dynamic.target_per_sec"),
    ("sampling-limit", "limit.max_traces_per_sec"),
    ("forward-to", "forward.endpoint"),
    ("forward-protocol", "forward.protocol"),
];

/// The tail-sampling configuration the flags describe: the file (or the defaults), then each
/// setting flag over it; `None` when no sampling flag is given.
fn sampling(m: &ArgMatches) -> Result<Option<SamplingConfig>, String> {
    let file = m.get_one::<PathBuf>("sampling-config");
    let settings: Vec<(&str, &String)> = SAMPLING_SETTINGS
        .iter()
        .filter_map(|(flag, setting)| m.get_one::<String>(flag).map(|v| (*setting, v)))
        .collect();
    if !m.get_flag("sampling") && file.is_none() && settings.is_empty() {
        return Ok(None);
    }
    let base = match file {
        Some(path) => SamplingConfig::from_file(path).map_err(|e| e.to_string())?,
        None => SamplingConfig::default(),
    };
    // In table order: the endpoint before the protocol that refers to it.
    let mut b = base.into_builder();
    for (setting, value) in settings {
        b = b.set(setting, value).map_err(|e| e.to_string())?;
    }
    b.build().map(Some).map_err(|e| e.to_string())
}

fn value(name: &'static str, value_name: &'static str, help: &'static str) -> Arg {
    Arg::new(name).long(name).value_name(value_name).help(help)
}

/// A flag with a value of the kind `value_name` names, its default and its parser.
fn with_default(
    name: &'static str,
    value_name: &'static str,
    default: &'static str,
    help: &'static str,
    parser: impl clap::builder::IntoResettable<clap::builder::ValueParser>,
) -> Arg {
    value(name, value_name, help)
        .default_value(default)
        .value_parser(parser)
}

/// A listener's address flag (`ADDR|off`) with its default.
fn listener(name: &'static str, default: &'static str, help: &'static str) -> Arg {
    with_default(name, "ADDR|off", default, help, parse_addr)
}

/// A whole-number flag (`N`) with its default.
fn count(name: &'static str, default: &'static str, help: &'static str) -> Arg {
    with_default(name, "N", default, help, clap::value_parser!(usize))
}

/// A byte-size flag (`SIZE`, see [`parse_size`]) with its default.
fn size(name: &'static str, default: &'static str, help: &'static str) -> Arg {
    with_default(name, "SIZE", default, help, parse_size)
}

/// A duration flag (`DURATION`, see [`parse_duration`]) with its default.
fn duration(name: &'static str, default: &'static str, help: &'static str) -> Arg {
    with_default(name, "DURATION", default, help, parse_duration)
}

fn command() -> Command {
    Command::new("tracewire-collector")
        .version(env!("CARGO_PKG_VERSION"))
        .about("Receive OTLP traces, keep them in a bounded store, serve a JSON API and a web UI")
        .after_help(
            "Sizes: 4MiB, 512MiB, 2GiB, 1MB or a number of bytes. Durations: 250ms, 10s, 30m, 1h, 1d.\n\
             Every listener binds 127.0.0.1 unless told otherwise; a listener bound elsewhere\n\
             answers any Host name, and start-up warns about it.",
        )
        .next_help_heading("Listeners")
        .args([
            listener("otlp-http", "127.0.0.1:4318", "OTLP/HTTP listener (POST /v1/traces)"),
            listener("otlp-grpc", "127.0.0.1:4317", "OTLP/gRPC listener"),
            listener("api", "127.0.0.1:16686", "JSON API and web UI listener"),
        ])
        .next_help_heading("Store")
        .args([
            count("max-spans", "1000000", "Most spans kept"),
            size("max-bytes", "512MiB", "Store byte budget, e.g. 512MiB, 2GiB, 100000000"),
            value("retention", "DURATION", "How long spans are kept, e.g. 30m, 1h; 0 = until evicted")
                .default_value("1h")
                .value_parser(parse_retention),
            size("max-request-bytes", "4MiB", "Largest OTLP request body, compressed or not"),
        ])
        .next_help_heading("Ingest (a request past a per-request limit is refused whole: 400 / INVALID_ARGUMENT)")
        .args([
            count("max-spans-per-request", "100000", "Most spans in one request"),
            count("max-scopes-per-request", "4096", "Most ScopeSpans in one request"),
            count("max-resources-per-request", "4096", "Most ResourceSpans in one request"),
            size("max-decoded-request-bytes", "64MiB",
                "Most memory one request may take once decoded (bounded before decoding)"),
            count("max-resource-attributes", "128",
                "Resource attributes kept per resource; the rest are dropped and counted"),
            count("ingest-queue-spans", "262144",
                "Spans waiting to be stored (beyond: 429 / UNAVAILABLE)"),
            value("ingest-queue-bytes", "SIZE",
                "Bytes of spans waiting to be stored (beyond: 429 / UNAVAILABLE) [default: \
                 max-bytes / 8, at least max-decoded-request-bytes]")
                .value_parser(parse_size),
        ])
        .next_help_heading("Queries (API and UI; run off the receivers' threads)")
        .args([
            count("query-threads", "2", "Threads answering queries"),
            count("query-queue", "32", "Queries waiting for a thread (beyond: 503)"),
            duration("query-time-budget", "5s",
                "Longest a query may take, its wait included (beyond: 503 with a message)"),
        ])
        .next_help_heading("Connections (every listener)")
        .args([
            duration("header-read-timeout", "10s",
                "Time to send a request head (from its first byte) or finish a TLS handshake"),
            duration("body-read-timeout", "30s",
                "Time to send a whole request body, from its head (then 408 / DEADLINE_EXCEEDED)"),
            duration("keep-alive-timeout", "60s",
                "Time a connection may stay open with no request in flight"),
            duration("stall-timeout", "30s",
                "Time a connection with a request in flight may move no byte"),
            duration("shutdown-timeout", "5s",
                "On shutdown, time in-flight requests get before their connections are cut"),
            count("max-connections", "256",
                "Connections served at once per listener; at the cap the longest idle one (idle 100ms \
                 or more) is closed, else a body arriving at under 16KiB/s for 1s"),
            size("max-in-flight-bytes", "64MiB",
                "Request bytes held at once over all listeners (beyond: 429 / RESOURCE_EXHAUSTED)"),
        ])
        .next_help_heading("Security")
        .args([
            value("tls-cert", "PEM", "Serve every listener over TLS with this certificate chain")
                .value_parser(clap::value_parser!(PathBuf))
                .requires("tls-key"),
            value("tls-key", "PEM", "The private key of --tls-cert")
                .value_parser(clap::value_parser!(PathBuf))
                .requires("tls-cert"),
            value("tls-client-ca", "PEM",
                "Require client certificates signed by these CAs (mutual TLS)")
                .value_parser(clap::value_parser!(PathBuf))
                .requires("tls-cert"),
            value("auth-token", "TOKEN",
                "Require `Authorization: Bearer TOKEN` on every listener (browsers: open /ui/?token=TOKEN once)")
                .env(TOKEN_ENV)
                .hide_env_values(true),
            value("allow-host", "NAME",
                "A further Host name answered on loopback binds (besides localhost, 127.0.0.1, [::1])")
                .action(ArgAction::Append),
        ])
        .next_help_heading("Tail sampling (off unless a flag below is given; flags override the file)")
        .args([
            Arg::new("sampling").long("sampling").action(ArgAction::SetTrue).help(
                "On, with the defaults: errors, slow traces (adaptive p99), forced traces and \
                 ~10 kept traces/s of the rest",
            ),
            value("sampling-config", "FILE", "Settings from a TOML file (crate docs: `sampling`)")
                .value_parser(clap::value_parser!(PathBuf)),
            value("sampling-idle-gap", "DURATION",
                "Decide a trace once its root is in and no span came for this long [default: 2s]"),
            value("sampling-max-wait", "DURATION",
                "Decide a trace at the latest this long after its first span [default: 30s]"),
            value("sampling-buffer", "SIZE", "Recent-span buffer budget [default: 256MiB]"),
            value("sampling-latency", "DURATION", "Keep every trace whose root took longer, e.g. 500ms"),
            value("sampling-rate", "FRACTION", "Keep at least this share of the other traces, e.g. 0.01"),
            value("sampling-target", "N", "Kept traces/s the dynamic sampler aims at [default: 10]"),
            value("sampling-limit", "N", "Most kept traces/s in all (forced and retroactive keeps excepted)"),
            value("forward-to", "URL",
                "Forward kept traces over OTLP, e.g. http://collector:4318/v1/traces (gRPC: :4317)"),
            value("forward-protocol", "PROTOCOL", "http/protobuf, http/json or grpc [default: http/protobuf]")
                .requires("forward-to"),
        ])
}

/// Builds the collector the flags describe.
fn builder(m: &ArgMatches) -> Result<CollectorBuilder, String> {
    let addr = |name: &str| m.get_one::<Option<SocketAddr>>(name).copied().flatten();
    let size = |name: &str| m.get_one::<usize>(name).copied().unwrap_or_default();
    let duration = |name: &str| m.get_one::<Duration>(name).copied().unwrap_or_default();
    let mut b = Collector::builder()
        .otlp_http_addr(addr("otlp-http"))
        .otlp_grpc_addr(addr("otlp-grpc"))
        .api_addr(addr("api"))
        .max_spans(size("max-spans"))
        .max_bytes(size("max-bytes"))
        .retention(duration("retention"))
        .max_request_bytes(size("max-request-bytes"))
        .header_read_timeout(duration("header-read-timeout"))
        .body_read_timeout(duration("body-read-timeout"))
        .keep_alive_timeout(duration("keep-alive-timeout"))
        .stall_timeout(duration("stall-timeout"))
        .shutdown_timeout(duration("shutdown-timeout"))
        .max_connections(size("max-connections"))
        .max_in_flight_bytes(size("max-in-flight-bytes"))
        .max_spans_per_request(size("max-spans-per-request"))
        .max_scopes_per_request(size("max-scopes-per-request"))
        .max_resources_per_request(size("max-resources-per-request"))
        .max_decoded_request_bytes(size("max-decoded-request-bytes"))
        .max_resource_attributes(size("max-resource-attributes"))
        .ingest_queue_spans(size("ingest-queue-spans"))
        .query_threads(size("query-threads"))
        .query_queue(size("query-queue"))
        .query_time_budget(duration("query-time-budget"));
    if let Some(&n) = m.get_one::<usize>("ingest-queue-bytes") {
        b = b.ingest_queue_bytes(n);
    }
    if let (Some(cert), Some(key)) = (
        m.get_one::<PathBuf>("tls-cert"),
        m.get_one::<PathBuf>("tls-key"),
    ) {
        let mut tls = ServerTls::from_pem_files(cert, key).map_err(|e| e.to_string())?;
        if let Some(ca) = m.get_one::<PathBuf>("tls-client-ca") {
            tls = tls.client_ca_file(ca).map_err(|e| e.to_string())?;
        }
        b = b.tls(tls);
    }
    if let Some(token) = m.get_one::<String>("auth-token") {
        b = b.auth_token(token.clone());
    }
    for host in m.get_many::<String>("allow-host").into_iter().flatten() {
        b = b.allow_host(host.clone());
    }
    if let Some(config) = sampling(m)? {
        b = b.sampling(config);
    }
    Ok(b)
}

fn main() -> ExitCode {
    let matches = match command().try_get_matches() {
        Ok(m) => m,
        Err(e) => {
            // --help and --version land here too, with exit code 0.
            let _ = e.print();
            return ExitCode::from(u8::try_from(e.exit_code()).unwrap_or(2));
        }
    };
    let builder = match builder(&matches) {
        Ok(b) => b,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(2);
        }
    };
    let tls = matches.contains_id("tls-cert");
    let token = matches.contains_id("auth-token");
    // The multi-threaded scheduler with I/O and timers.
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: could not start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    runtime.block_on(async move {
        let handle = match builder.spawn().await {
            Ok(h) => h,
            Err(e) => {
                eprintln!("error: {e}");
                return ExitCode::FAILURE;
            }
        };
        for warning in handle.warnings() {
            eprintln!("warning: {warning}");
        }
        let scheme = if tls { "https" } else { "http" };
        let show = |scheme: &str, a: Option<SocketAddr>| {
            a.map_or_else(|| "off".to_owned(), |a| format!("{scheme}://{a}"))
        };
        println!("tracewire-collector listening");
        println!(
            "  OTLP/HTTP  {}  (POST /v1/traces)",
            show(scheme, handle.otlp_http_addr())
        );
        println!("  OTLP/gRPC  {}", show(scheme, handle.otlp_grpc_addr()));
        println!(
            "  API + UI   {}  (/ui/, /api/services, /api/traces)",
            show(scheme, handle.api_addr())
        );
        if let Some(s) = handle.store().sampling_stats() {
            println!(
                "  Sampling   on: {} MiB buffer{}  (POST /api/traces/{{id}}/keep)",
                s.max_buffer_bytes >> 20,
                if s.forward.is_some() {
                    ", kept traces forwarded"
                } else {
                    ""
                }
            );
        }
        if token {
            println!(
                "  every listener requires the token; a browser signs in once at /ui/?token=TOKEN"
            );
        }
        let _ = tokio::signal::ctrl_c().await;
        println!("shutting down");
        handle.shutdown().await;
        ExitCode::SUCCESS
    })
}

#[cfg(test)]
#[path = "tracewire-collector/tests.rs"]
mod tests;
