//! The ride-hailing demo: one command starts a collector with its web UI and four services in
//! separate processes, sends a stream of ride requests, and shows what the traces explain.
//!
//! ```text
//! cargo run --release -p tracewire-examples --bin demo -- --help
//! ```
//!
//! The same binary is each service process: the supervisor starts it again with `--service NAME`
//! (see `tracewire_examples::control` for how the two talk).

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{Duration, Instant};

use clap::Parser;
use tracewire_collector::CollectorHandle;
use tracewire_examples::control;
use tracewire_examples::destination::{self, ExportProblem};
use tracewire_examples::faults::Faults;
use tracewire_examples::services::{self, BoxError, ServiceConfig, ServiceName};
use tracewire_examples::supervisor::{ServiceSpec, Supervisor};
use tracewire_examples::tail_sampling::{self, TailSampling};
use tracewire_examples::{cli, load, report, telemetry};

/// How long a service may take to export what it holds.
const FLUSH_TIMEOUT: Duration = Duration::from_secs(5);
/// How long a service may take to stop (drain, then export) before it exits anyway.
const GIVE_UP_AFTER: Duration = Duration::from_secs(10);
/// How long the supervisor waits for its services to stop before it kills them.
const STOP_TIMEOUT: Duration = Duration::from_secs(12);
/// How long a service may take to start.
const START_TIMEOUT: Duration = Duration::from_secs(30);

/// The tracewire ride-hailing demo.
///
/// Starts an embedded trace collector with its web UI and four services (gateway, dispatch,
/// pricing, ranking) as separate processes exporting over OTLP, sends ride requests, and prints
/// per-service latency and errors and the waterfall of the slowest trace with its critical path.
/// Faults are injected so there is something to find. The collector tail-samples: it keeps every
/// trace with a failure or an injected delay, and a share of the rest. The services read every
/// OTEL_* variable as a deployed service does (the demo sets the endpoint, protocol and service
/// names): OTEL_EXPORTER_OTLP_PROTOCOL (grpc, http/protobuf, http/json), _HEADERS, _COMPRESSION,
/// _TIMEOUT, _CERTIFICATE, OTEL_TRACES_SAMPLER, OTEL_PROPAGATORS, OTEL_BSP_*; RUST_LOG chooses
/// their log lines and TRACEWIRE_SPANS their spans.
#[derive(Debug, Parser)]
#[command(name = "demo")]
struct Cli {
    /// Ride requests to send.
    #[arg(long, value_name = "N", default_value_t = 200)]
    requests: usize,

    /// Requests in flight at once.
    #[arg(long, value_name = "N", default_value_t = 8)]
    concurrency: usize,

    /// Exit after the report instead of serving the web UI until Ctrl-C.
    #[arg(long)]
    exit: bool,

    /// Where the web UI listens (a busy port falls back to a free one).
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:16686")]
    ui: SocketAddr,

    /// Send the spans to this OTLP endpoint (Jaeger, Grafana Tempo, an OpenTelemetry Collector)
    /// instead of the embedded collector; an HTTP URL without a path gets /v1/traces.
    #[arg(long, value_name = "URL", conflicts_with = "service")]
    otlp_endpoint: Option<String>,

    /// Faults injected into gateway: slow=P:MSms,fail=P, either part, or none.
    #[arg(long, value_name = "FAULTS", default_value = "none")]
    gateway_faults: Faults,

    /// Faults injected into dispatch.
    #[arg(long, value_name = "FAULTS", default_value = "slow=0.03:80ms")]
    dispatch_faults: Faults,

    /// Faults injected into pricing.
    #[arg(long, value_name = "FAULTS", default_value = "fail=0.02")]
    pricing_faults: Faults,

    /// Faults injected into ranking.
    #[arg(long, value_name = "FAULTS", default_value = "slow=0.05:300ms")]
    ranking_faults: Faults,

    /// Store every trace: turn the embedded collector's tail sampling off.
    #[arg(long, conflicts_with = "otlp_endpoint")]
    no_sampling: bool,

    /// Tail sampling: decide a trace once its root span is in and it was idle this long.
    #[arg(long, value_name = "DURATION", default_value = "1s", value_parser = cli::duration,
          conflicts_with_all = ["no_sampling", "otlp_endpoint"])]
    sampling_idle_gap: Duration,

    /// Tail sampling: keep every trace whose request took longer [default: the shortest
    /// injected delay].
    #[arg(long, value_name = "DURATION", value_parser = cli::duration,
          conflicts_with_all = ["no_sampling", "otlp_endpoint"])]
    sampling_latency: Option<Duration>,

    /// Tail sampling: of the other traces, keep about this many per second (the dynamic
    /// sampler shares them among kinds of trace, so rare kinds are kept whole).
    #[arg(long, value_name = "N", default_value_t = 5.0, conflicts_with_all = ["no_sampling", "otlp_endpoint"])]
    sampling_target: f64,

    /// Where the services' log files go [default: target/demo-logs, in $CARGO_TARGET_DIR if set].
    #[arg(long, value_name = "DIR")]
    log_dir: Option<PathBuf>,

    /// Run one service (how the demo starts its service processes).
    #[arg(long, value_name = "NAME", hide = true)]
    service: Option<ServiceName>,

    /// The service's faults.
    #[arg(long, value_name = "FAULTS", hide = true, requires = "service")]
    faults: Option<Faults>,

    /// The dispatch service's address.
    #[arg(long, value_name = "ADDR", hide = true, requires = "service")]
    dispatch: Option<SocketAddr>,

    /// The pricing service's address.
    #[arg(long, value_name = "ADDR", hide = true, requires = "service")]
    pricing: Option<SocketAddr>,

    /// The ranking service's address.
    #[arg(long, value_name = "ADDR", hide = true, requires = "service")]
    ranking: Option<SocketAddr>,
}

impl Cli {
    fn faults(&self, service: ServiceName) -> Faults {
        match service {
            ServiceName::Gateway => self.gateway_faults,
            ServiceName::Dispatch => self.dispatch_faults,
            ServiceName::Pricing => self.pricing_faults,
            ServiceName::Ranking => self.ranking_faults,
        }
    }

    /// The embedded collector's tail sampling; `None` when it is off.
    fn sampling(&self) -> Option<TailSampling> {
        let faults = ServiceName::ALL.map(|s| self.faults(s));
        (!self.no_sampling).then(|| {
            TailSampling::new(
                self.sampling_idle_gap,
                self.sampling_latency,
                self.sampling_target,
                &faults,
            )
        })
    }
}

fn main() -> ExitCode {
    let cli: Cli = match cli::parse() {
        Ok(cli) => cli,
        Err(code) => return code,
    };
    let rt = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => return cli::finish(Err(e.into())),
    };
    cli::finish(match cli.service {
        Some(service) => run_service(rt, service, &cli),
        None => rt.block_on(supervise(&cli)),
    })
}

/// A child process: one service, until the supervisor (or a signal) stops it.
fn run_service(
    rt: tokio::runtime::Runtime,
    service: ServiceName,
    cli: &Cli,
) -> Result<(), BoxError> {
    let telemetry = telemetry::install(service.as_str())?;
    let (stop, stopped) = control::stop_signal(Some(GIVE_UP_AFTER));
    control::serve_supervisor(telemetry.pipeline().clone(), stop.clone(), FLUSH_TIMEOUT);
    let cfg = ServiceConfig {
        faults: cli.faults.unwrap_or(Faults::NONE),
        dispatch: cli.dispatch,
        pricing: cli.pricing,
        ranking: cli.ranking,
        propagators: telemetry.propagators().clone(),
    };
    let served = rt.block_on(async {
        control::stop_on_signals(&stop);
        services::run(service, cfg, stopped).await
    });
    match &served {
        Ok(()) => tracing::info!("server stopped; exporting the spans left"),
        Err(e) => tracing::error!(error = %e, "service failed"),
    }
    // Requests abandoned after the drain deadline end their spans as their tasks are dropped.
    rt.shutdown_timeout(Duration::from_secs(1));
    control::announce(&telemetry.shutdown(FLUSH_TIMEOUT));
    served
}

/// The supervisor: collector, services, traffic, report.
async fn supervise(cli: &Cli) -> Result<(), BoxError> {
    let protocol = destination::protocol_from_env()?;
    let sampling = cli.sampling();
    let collector = match &cli.otlp_endpoint {
        Some(_) => None,
        None => {
            let ui = (!cli.exit).then_some(cli.ui);
            let config = sampling.as_ref().map(TailSampling::config).transpose()?;
            Some(destination::start_collector(protocol, ui, config).await?)
        }
    };
    let endpoint = match (&cli.otlp_endpoint, &collector) {
        (Some(url), _) => destination::external_endpoint(url, protocol),
        (None, Some(c)) => destination::collector_endpoint(c, protocol)
            .ok_or("the collector has no OTLP listener")?,
        (None, None) => unreachable!("either an external endpoint or the embedded collector"),
    };
    // Every setting the services will read, checked once before any of them starts.
    destination::resolve(&destination::service_env(
        ServiceName::Gateway.as_str(),
        &endpoint,
        protocol,
    ))?;
    let log_dir = cli.log_dir.clone().unwrap_or_else(default_log_dir);

    let mut supervisor = Supervisor::new();
    let started = start_services(&mut supervisor, cli, &endpoint, protocol, &log_dir).await;
    let gateway = match started {
        Ok(gateway) => gateway,
        Err(e) => {
            supervisor.stop(STOP_TIMEOUT).await;
            return Err(e);
        }
    };
    let (requests, concurrency) = (cli.requests, cli.concurrency);
    eprintln!("\nsending {requests} ride requests ({concurrency} at a time)");
    let traffic = load::run(
        requests,
        concurrency,
        move |i| {
            // Riders spread around a city centre at (0, 0).
            let lat = ((i * 37) % 200) as f64 / 1000.0 - 0.1;
            let lon = ((i * 53) % 200) as f64 / 1000.0 - 0.1;
            format!("http://{gateway}/ride?lat={lat:.3}&lon={lon:.3}")
        },
        true,
    );
    let samples = tokio::select! {
        samples = traffic => samples,
        _ = tokio::signal::ctrl_c() => {
            eprintln!("\ninterrupted: stopping the services");
            supervisor.stop(STOP_TIMEOUT).await;
            return Err("interrupted".into());
        }
    };

    match collector {
        None => {
            finish_external(
                &mut supervisor,
                samples.len(),
                &endpoint,
                protocol,
                &log_dir,
            )
            .await
        }
        Some(c) => {
            let run = Embedded {
                samples: &samples,
                sampling,
                exit: cli.exit,
                log_dir: &log_dir,
            };
            finish_embedded(&mut supervisor, c, run).await
        }
    }
}

/// After the traffic, with an external endpoint: stopping the services is what sends their
/// last spans; say how many arrived, and fail if any did not.
async fn finish_external(
    supervisor: &mut Supervisor,
    requests: usize,
    endpoint: &str,
    protocol: tracewire_otlp::Protocol,
    log_dir: &Path,
) -> Result<(), BoxError> {
    let exited = supervisor.stop(STOP_TIMEOUT).await;
    let exported: u64 = exited
        .iter()
        .filter_map(|s| s.report.as_ref())
        .map(|r| r.exported)
        .sum();
    println!("{requests} requests sent; {exported} spans exported to {endpoint} ({protocol})");
    println!("service logs: {}", log_dir.display());
    let problems =
        destination::export_problems(exited.iter().map(|s| (s.name.as_str(), s.report())));
    match problems.is_empty() {
        true => Ok(()),
        false => Err(ExportFailed {
            endpoint: endpoint.to_owned(),
            problems,
        }
        .into()),
    }
}

/// What [`finish_embedded`] reports on.
struct Embedded<'a> {
    samples: &'a [load::Sample],
    sampling: Option<TailSampling>,
    exit: bool,
    log_dir: &'a Path,
}

/// After the traffic, with the embedded collector: have every span exported and every trace
/// decided, report, keep the UI up unless told to exit, then stop.
async fn finish_embedded(
    supervisor: &mut Supervisor,
    collector: CollectorHandle,
    run: Embedded<'_>,
) -> Result<(), BoxError> {
    let Embedded {
        samples,
        sampling,
        exit,
        log_dir,
    } = run;
    // The services answer once their export is done, or not at all: allow for their deadline.
    let flushed = supervisor
        .flush(FLUSH_TIMEOUT + Duration::from_secs(1))
        .await;
    warn(destination::export_problems(flushed.iter().map(
        |(name, r)| {
            let report = r
                .as_ref()
                .ok_or_else(|| "did not answer the flush request".to_owned());
            (name.as_str(), report)
        },
    )));
    let answered = samples.iter().filter(|s| s.status != 0).count();
    let decided = match &sampling {
        Some(s) => tail_sampling::wait_for_decisions(&collector, answered, s.idle_gap).await,
        None => {
            wait_for_traces(&collector, answered).await;
            None
        }
    };
    print_report(&collector, samples);
    if let (Some(stats), Some(s)) = (decided, &sampling) {
        let failed = samples.iter().filter(|s| s.status != 200).count();
        print!("{}", tail_sampling::render(&stats, s, failed));
    }
    println!("service logs: {}", log_dir.display());
    if !exit {
        if let Some(ui) = collector.api_addr() {
            println!("web UI: http://{ui}/");
        }
        println!("press Ctrl-C to stop");
        let _ = tokio::signal::ctrl_c().await;
    }
    let exited = supervisor.stop(STOP_TIMEOUT).await;
    warn(destination::export_problems(
        exited.iter().map(|s| (s.name.as_str(), s.report())),
    ));
    collector.shutdown().await;
    Ok(())
}

/// Starts the four services, callees first, and returns the gateway's address.
async fn start_services(
    supervisor: &mut Supervisor,
    cli: &Cli,
    endpoint: &str,
    protocol: tracewire_otlp::Protocol,
    log_dir: &Path,
) -> Result<SocketAddr, BoxError> {
    let exe = std::env::current_exe()?;
    let mut started = Vec::new();
    for service in ServiceName::ALL {
        let faults = cli.faults(service);
        let mut args = vec!["--faults".to_owned(), faults.to_string()];
        for (callee, addr) in &started {
            args.push(format!("--{callee}"));
            args.push(format!("{addr}"));
        }
        let spec = ServiceSpec {
            exe: &exe,
            name: service.as_str(),
            args,
            env: destination::service_env(service.as_str(), endpoint, protocol),
            log_dir,
        };
        let process = supervisor.start(spec, START_TIMEOUT).await?;
        eprintln!(
            "  {service:<8} {}  pid {}  faults: {faults}",
            process.addr, process.pid
        );
        started.push((service, process.addr));
    }
    started
        .iter()
        .find(|(s, _)| *s == ServiceName::Gateway)
        .map(|&(_, addr)| addr)
        .ok_or_else(|| "no gateway".into())
}

/// Waits (at most five seconds) until the collector holds a gateway root span for every answered
/// request. The services have exported everything they held; a span that ended a moment after
/// its response arrived comes with their next batch.
async fn wait_for_traces(c: &CollectorHandle, answered: usize) {
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        c.flush().await;
        let roots = report::root_count(c.store(), ServiceName::Gateway.as_str());
        if roots >= answered || Instant::now() > deadline {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// The services top-down, as the report lists them.
const REPORT_ORDER: [ServiceName; 4] = [
    ServiceName::Gateway,
    ServiceName::Dispatch,
    ServiceName::Pricing,
    ServiceName::Ranking,
];

fn print_report(c: &CollectorHandle, samples: &[load::Sample]) {
    let store = c.store();
    // The longest window the collector's health covers: the whole run.
    let config = c.health().config();
    let window = config.bucket_width * u32::try_from(config.buckets).unwrap_or(u32::MAX);
    let health = c.operation_health(window);
    let sampled = store.sampling_operations(unix_now_ns(), window);
    let servers = REPORT_ORDER.map(|s| (s.as_str(), s.server_operation()));
    let stats = report::service_stats(&health, &servers, |service, operation| {
        let ops = sampled.as_deref()?;
        let op = ops
            .iter()
            .find(|o| &*o.service == service && &*o.operation == operation);
        Some(op.map_or(0, |o| o.kept))
    });
    print!("{}", report::summary(samples, &stats, store.stats().traces));
    if let Some(slow) = report::slowest_trace(store, ServiceName::Gateway.as_str())
        && let Some(w) = report::trace_waterfall(store, slow)
    {
        println!(
            "\nthe slowest ride request:\n{}",
            report::render_waterfall(&w, 48)
        );
    }
}

fn warn(problems: Vec<ExportProblem>) {
    for p in problems {
        eprintln!("warning: {p}");
    }
}

/// Spans that did not reach an external endpoint.
#[derive(Debug)]
struct ExportFailed {
    endpoint: String,
    problems: Vec<ExportProblem>,
}

impl std::fmt::Display for ExportFailed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "not every span reached {}", self.endpoint)?;
        for p in &self.problems {
            write!(f, "; {p}")?;
        }
        Ok(())
    }
}

impl std::error::Error for ExportFailed {}

fn unix_now_ns() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX))
}

fn default_log_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("target"))
        .join("demo-logs")
}
