//! The ride-hailing demo: one command starts a collector with its web UI and four services in
//! separate processes, sends a stream of ride requests, and shows what the traces explain.
//!
//! ```text
//! cargo run --release -p tracewire-examples --bin demo -- [flags]
//!
//!   --requests N           ride requests to send (default 200)
//!   --concurrency N        requests in flight (default 8)
//!   --exit                 exit after the report instead of keeping the UI up
//!   --ui ADDR              where the collector's UI and API listen (default 127.0.0.1:16686;
//!                          a busy port falls back to any free one)
//!   --otlp-endpoint URL    export to this OTLP/HTTP traces endpoint (Jaeger, Tempo, an
//!                          OpenTelemetry Collector) instead of the embedded collector
//!   --gateway-faults F     injected faults per service, as slow=P:MSms,fail=P
//!   --dispatch-faults F    (defaults: ranking slow=0.05:300ms, pricing fail=0.02,
//!   --pricing-faults F      dispatch slow=0.03:80ms, gateway none)
//!   --ranking-faults F
//! ```

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use tracewire_collector::TraceQuery;
use tracewire_examples::args::Args;
use tracewire_examples::faults::Faults;
use tracewire_examples::services::{self, BoxError, ServiceConfig};
use tracewire_examples::supervisor::{Supervisor, exit_with_parent};
use tracewire_examples::{load, report};

const SERVICES: [&str; 4] = ["ranking", "pricing", "dispatch", "gateway"];

fn default_faults(service: &str) -> &'static str {
    match service {
        "ranking" => "slow=0.05:300ms",
        "pricing" => "fail=0.02",
        "dispatch" => "slow=0.03:80ms",
        _ => "",
    }
}

fn main() -> Result<(), BoxError> {
    let args = Args::parse(std::env::args().skip(1), &["exit"])?;
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    match args.get("service").map(str::to_owned) {
        Some(service) => run_service(&rt, &service, &args),
        None => rt.block_on(supervise(&args)),
    }
}

/// A child process: one service.
fn run_service(rt: &tokio::runtime::Runtime, service: &str, args: &Args) -> Result<(), BoxError> {
    exit_with_parent();
    let addr = |name: &str| -> Result<Option<SocketAddr>, BoxError> {
        Ok(args.get(name).map(str::parse).transpose()?)
    };
    let cfg = ServiceConfig {
        otlp_endpoint: args
            .get("otlp-endpoint")
            .ok_or("--otlp-endpoint is required")?
            .to_owned(),
        faults: args.get("faults").unwrap_or("").parse::<Faults>()?,
        dispatch: addr("dispatch")?,
        pricing: addr("pricing")?,
        ranking: addr("ranking")?,
    };
    let _guard = services::telemetry(service, &cfg.otlp_endpoint)?;
    rt.block_on(async move {
        match service {
            "gateway" => services::gateway(cfg).await,
            "dispatch" => services::dispatch(cfg).await,
            "pricing" => services::pricing(cfg).await,
            "ranking" => services::ranking(cfg).await,
            other => Err(format!("unknown service {other:?}").into()),
        }
    })
}

/// The supervisor: collector, services, traffic, report.
async fn supervise(args: &Args) -> Result<(), BoxError> {
    let requests: usize = args.parse_or("requests", 200)?;
    let concurrency: usize = args.parse_or("concurrency", 8)?;
    let external = args.get("otlp-endpoint").map(str::to_owned);
    let ui_addr: SocketAddr = args.parse_or("ui", "127.0.0.1:16686".parse()?)?;

    let collector = match &external {
        Some(_) => None,
        None => Some(start_collector(ui_addr).await?),
    };
    let otlp_endpoint = match (&external, &collector) {
        (Some(url), _) => url.clone(),
        (None, Some(c)) => format!(
            "http://{}/v1/traces",
            c.otlp_http_addr()
                .ok_or("collector has no OTLP/HTTP listener")?
        ),
        (None, None) => unreachable!("either an external endpoint or the embedded collector"),
    };

    let exe = std::env::current_exe()?;
    let log_dir = log_dir();
    let mut supervisor = Supervisor::new();
    let result = async {
        let mut addrs = std::collections::HashMap::new();
        for name in SERVICES {
            let faults = args
                .get(&format!("{name}-faults"))
                .unwrap_or(default_faults(name))
                .parse::<Faults>()?;
            let mut child_args = vec![
                "--otlp-endpoint".to_owned(),
                otlp_endpoint.clone(),
                "--faults".to_owned(),
                faults.to_string(),
            ];
            for dep in ["dispatch", "pricing", "ranking"] {
                if let Some(a) = addrs.get(dep) {
                    child_args.push(format!("--{dep}"));
                    child_args.push(format!("{a}"));
                }
            }
            let addr = supervisor
                .start(&exe, name, &child_args, &log_dir, Duration::from_secs(30))
                .await?;
            let pid = supervisor.pids().last().copied().unwrap_or(0);
            eprintln!("  {name:<8} {addr}  pid {pid}  faults: {faults}");
            addrs.insert(name, addr);
        }
        let gateway = addrs["gateway"];
        eprintln!("\nsending {requests} ride requests ({concurrency} at a time)");
        let samples = load::run(
            requests,
            concurrency,
            move |i| {
                // Riders spread around a city centre at (0, 0).
                let lat = ((i * 37) % 200) as f64 / 1000.0 - 0.1;
                let lon = ((i * 53) % 200) as f64 / 1000.0 - 0.1;
                format!("http://{gateway}/ride?lat={lat:.3}&lon={lon:.3}")
            },
            true,
        )
        .await;
        Ok::<_, BoxError>(samples)
    }
    .await;
    let samples = match result {
        Ok(s) => s,
        Err(e) => {
            supervisor.stop().await;
            return Err(e);
        }
    };

    match &collector {
        Some(c) => {
            let answered = samples.iter().filter(|s| s.status != 0).count();
            wait_for_spans(c, answered).await;
            let store = c.store();
            let stats = report::service_stats(store);
            print!(
                "{}",
                report::summary(&samples, &stats, store.stats().traces)
            );
            if let Some(slow) = report::slowest_trace(store, "gateway")
                && let Some(w) = report::trace_waterfall(store, slow)
            {
                println!(
                    "\nthe slowest ride request:\n{}",
                    report::render_waterfall(&w, 48)
                );
            }
            if let Some(ui) = c.api_addr() {
                println!("web UI: http://{ui}/");
            }
        }
        None => println!(
            "{} requests sent; traces exported to {otlp_endpoint}",
            samples.len()
        ),
    }
    println!("service logs: {}", log_dir.display());

    if !args.flag("exit") && collector.is_some() {
        println!("press Ctrl-C to stop");
        let _ = tokio::signal::ctrl_c().await;
    }
    supervisor.stop().await;
    if let Some(c) = collector {
        c.shutdown().await;
    }
    Ok(())
}

async fn start_collector(ui: SocketAddr) -> Result<tracewire_collector::CollectorHandle, BoxError> {
    let any = |port| SocketAddr::from(([127, 0, 0, 1], port));
    let builder = || {
        tracewire_collector::Collector::builder()
            .otlp_http_addr(any(0))
            .otlp_grpc_addr(None)
    };
    match builder().api_addr(ui).spawn().await {
        Ok(c) => Ok(c),
        // The preferred UI port is taken: any free port will do.
        Err(_) => Ok(builder().api_addr(any(0)).spawn().await?),
    }
}

/// Waits until every answered request's trace is complete in the collector, or ten seconds
/// pass. Services export in batches, and a trace counts in the store as soon as any of its spans
/// arrives; so wait for one gateway root per answered request, then for the span count to hold
/// still across a poll (every service's last batch in).
async fn wait_for_spans(c: &tracewire_collector::CollectorHandle, answered: usize) {
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut last_spans = usize::MAX;
    loop {
        c.flush().await;
        let roots = c
            .store()
            .search(
                &TraceQuery::new()
                    .service("gateway")
                    .limit(answered.max(1) * 2),
            )
            .iter()
            .filter(|t| t.has_root && &*t.root_service == "gateway")
            .count();
        let spans = c.store().stats().spans;
        if (roots >= answered && spans == last_spans) || Instant::now() > deadline {
            break;
        }
        last_spans = spans;
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

fn log_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("target"))
        .join("demo-logs")
}
