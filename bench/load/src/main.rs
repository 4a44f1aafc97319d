//! `tracewire-load`: the load benchmark behind `bench/load/run.sh`.
//!
//! ```text
//! tracewire-load serve  --variant {floor,tower-http,otel,tracewire,tracewire-off,tracewire-null,tracewire-tick} --port P [--events N] [--retained N]
//! tracewire-load load   --url http://127.0.0.1:P/ --duration 10 --warmup 2 --connections 16
//! tracewire-load report results.jsonl
//! ```
//!
//! `serve` runs the two-hop service in one process on one current-thread Tokio runtime:
//!
//! ```text
//! load ──HTTP/1.1──▶ front (axum, :P)  GET /  ──HTTP/1.1 (hyper-util client)──▶ back (axum, :P+1)  GET /work
//! ```
//!
//! The variant decides the layers, the client and the subscriber; see [`service`]. `--events N`
//! has the back hop's handler log N `tracing::info!` events per request (none by default);
//! `--retained N` bounds the spans each exporter keeps (100,000 by default). `load` is a
//! closed-loop keep-alive generator (one request in flight per connection) that prints one JSON
//! line. `report` turns the lines `run.sh` collects into the Markdown table of medians.

mod load;
mod report;
mod service;

use std::process::ExitCode;
use std::time::Duration;

type BoxError = Box<dyn std::error::Error + Send + Sync>;

fn usage() -> &'static str {
    "usage:\n  \
     tracewire-load serve --variant {floor,tower-http,otel,tracewire,tracewire-off,tracewire-null,tracewire-tick} [--port 8080] [--events 0] [--retained 100000]\n  \
     tracewire-load load --url URL [--duration 10] [--warmup 2] [--connections 16]\n  \
     tracewire-load report FILE"
}

/// `--name value` pairs after the subcommand.
struct Args(Vec<String>);

impl Args {
    fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .position(|a| a == name)
            .and_then(|i| self.0.get(i + 1))
            .map(String::as_str)
    }

    fn num<T: std::str::FromStr>(&self, name: &str, default: T) -> Result<T, BoxError> {
        match self.get(name) {
            None => Ok(default),
            Some(v) => v
                .parse()
                .map_err(|_| format!("{name}: cannot parse {v:?}").into()),
        }
    }
}

fn run() -> Result<(), BoxError> {
    let mut argv = std::env::args().skip(1);
    let cmd = argv.next().ok_or(usage())?;
    let args = Args(argv.collect());
    match cmd.as_str() {
        "serve" => {
            let variant = service::Variant::parse(args.get("--variant").ok_or(usage())?)?;
            service::serve(
                variant,
                args.num("--port", 8080u16)?,
                args.num("--events", 0u32)?,
                args.num("--retained", service::RETAINED_SPANS)?,
            )
        }
        "load" => {
            let cfg = load::Config {
                url: args.get("--url").ok_or(usage())?.parse()?,
                duration: Duration::from_secs_f64(args.num("--duration", 10.0f64)?),
                warmup: Duration::from_secs_f64(args.num("--warmup", 2.0f64)?),
                connections: args.num("--connections", 16usize)?.max(1),
            };
            let result = load::run(&cfg)?;
            println!("{}", serde_json::to_string(&result)?);
            Ok(())
        }
        "report" => {
            let path = args.0.first().ok_or(usage())?;
            let (report, failed) = report::render(&std::fs::read_to_string(path)?)?;
            print!("{report}");
            if failed > 0 {
                return Err(
                    format!("{failed} runs failed their checks (listed in the report)").into(),
                );
            }
            Ok(())
        }
        _ => Err(usage().into()),
    }
}

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("tracewire-load: {e}");
            ExitCode::FAILURE
        }
    }
}
