//! `fault-suite`: runs the fault scenarios against the `tracewire-collector` binary and prints
//! (and records) a figure for each. `fault-suite --help` lists them; `reliability/run.sh`
//! builds the release binaries and runs the suite.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand, ValueEnum};
use tracewire_reliability::process::profile_dir;
use tracewire_reliability::report::Report;
use tracewire_reliability::scenario::{self, Env};
use tracewire_reliability::{BoxError, Scale};

/// Fault scenarios against the tracewire collector and a traced service, on loopback.
#[derive(Debug, Parser)]
#[command(name = "fault-suite", version)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Runs scenarios and prints a figure for each.
    Run(RunArgs),
    /// Serves the traced two-hop service (the suite starts it; `--untraced` is the baseline).
    Service {
        /// The front hop's port on 127.0.0.1 (0: any free one).
        #[arg(long, default_value_t = 0)]
        port: u16,
        /// Serve without any tracing.
        #[arg(long)]
        untraced: bool,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Which {
    /// The hostile OTLP corpus.
    Corpus,
    /// Slow and idle connections.
    Slow,
    /// Expensive queries during ingest.
    Queries,
    /// The exporter against broken and hostile endpoints.
    Exporter,
    /// The collector killed and restarted.
    Restart,
    /// The headline run (dead, hostile, back and attacked; `--requests` requests).
    Headline,
    /// Every scenario but the headline.
    All,
}

#[derive(Debug, clap::Args)]
struct RunArgs {
    /// Scenarios to run, in order.
    #[arg(value_enum, required = true)]
    scenarios: Vec<Which>,
    /// `quick` (seconds each, as in `cargo test`) or `full` (the recorded figures).
    #[arg(long, default_value = "full", value_parser = parse_scale)]
    scale: Scale,
    /// Requests of the headline run.
    #[arg(long, default_value_t = 1_000_000)]
    requests: u64,
    /// The `tracewire-collector` binary [default: beside this one].
    #[arg(long)]
    collector: Option<PathBuf>,
    /// Directory for the JSON lines of figures (`<UTC stamp>.jsonl`) [default: none].
    #[arg(long)]
    out: Option<PathBuf>,
}

fn parse_scale(s: &str) -> Result<Scale, String> {
    Scale::parse(s).ok_or_else(|| format!("`{s}` is neither `quick` nor `full`"))
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    // The multi-threaded scheduler with I/O and timers.
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: could not start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(async move {
        match cli.command {
            Command::Service { port, untraced } => {
                tracewire_reliability::service::serve(port, !untraced).await
            }
            Command::Run(args) => run(args).await,
        }
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

async fn run(args: RunArgs) -> Result<(), BoxError> {
    let suite = std::env::current_exe()?;
    let collector = match args.collector {
        Some(c) => c,
        None => profile_dir(&suite)
            .ok_or("cannot tell where this binary is")?
            .join("tracewire-collector"),
    };
    if !collector.is_file() {
        return Err(format!(
            "no collector binary at {} (build it, or pass --collector)",
            collector.display()
        )
        .into());
    }
    let env = Env {
        collector,
        suite,
        scale: args.scale,
    };
    let mut report = match &args.out {
        Some(dir) => Report::in_dir(dir)?,
        None => Report::stdout_only(),
    };
    let mut order = Vec::new();
    for w in args.scenarios {
        if w == Which::All {
            order.extend([
                Which::Corpus,
                Which::Slow,
                Which::Queries,
                Which::Exporter,
                Which::Restart,
            ]);
        } else {
            order.push(w);
        }
    }
    for w in order {
        let scale = env.scale;
        match w {
            Which::Corpus => report.record("corpus", scale, &scenario::corpus::run(&env).await?)?,
            Which::Slow => report.record("slow", scale, &scenario::slow::run(&env).await?)?,
            Which::Queries => {
                report.record("queries", scale, &scenario::queries::run(&env).await?)?;
            }
            Which::Exporter => {
                report.record("exporter", scale, &scenario::exporter::run(&env).await?)?;
            }
            Which::Restart => {
                report.record("restart", scale, &scenario::restart::run(&env).await?)?;
            }
            Which::Headline => {
                let f = scenario::headline::run(&env, args.requests).await?;
                report.record("headline", scale, &f)?;
            }
            Which::All => {}
        }
    }
    if let Some(p) = report.path() {
        eprintln!("figures: {}", p.display());
    }
    Ok(())
}
