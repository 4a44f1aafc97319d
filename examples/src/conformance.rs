//! What the two conformance services (`w3c-test-service`, `hop-service`) share: W3C Trace
//! Context and Baggage only, parent-based sampling with always-on roots, the tracewire axum
//! layer, a traced client, `GET /health`, and the command line: the port from the first
//! argument or `$PORT`, `--help`.

use std::process::ExitCode;
use std::time::Duration;

use axum::Router;
use axum::http::StatusCode;
use axum::routing::get;
use clap::{CommandFactory, Parser};
use tracewire::Sampler;
use tracewire::propagation::Propagators;

use crate::cli;
use crate::services::BoxError;

/// The longest a conformance service waits for one outgoing call.
pub const CALL_TIMEOUT: Duration = Duration::from_secs(5);

/// The command line of a conformance service.
#[derive(Debug, Parser)]
pub struct Args {
    /// The port to listen on, on 127.0.0.1 (0 picks a free one).
    #[arg(env = "PORT")]
    pub port: Option<u16>,
}

/// A conformance service's `main`: parses the command line (`about` is its `--help` summary),
/// then [`serve`]s on a runtime, and prints a failure with `Display`.
pub fn main(
    service: &'static str,
    about: &'static str,
    default_port: u16,
    routes: impl FnOnce() -> Router<tracewire_hyper::Client>,
) -> ExitCode {
    let command = Args::command()
        .name(service)
        .about(about)
        .mut_arg("port", |a| {
            a.help(format!(
                "The port to listen on, on 127.0.0.1 (0 picks a free one) [default: {default_port}]"
            ))
        });
    let args: Args = match cli::parse_from(command, std::env::args_os()) {
        Ok(args) => args,
        Err(code) => return code,
    };
    let port = args.port.unwrap_or(default_port);
    let served = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(BoxError::from)
        .and_then(|rt| rt.block_on(serve(service, port, routes)));
    cli::finish(served)
}

/// Installs tracing for `service`, builds the app from `routes` (given the traced client) plus
/// `GET /health`, listens on `127.0.0.1:<port>`, prints `listening on http://ADDR`, and serves.
/// Errors name what failed (`binding 127.0.0.1:5000: Address in use`).
pub async fn serve(
    service: &'static str,
    port: u16,
    routes: impl FnOnce() -> Router<tracewire_hyper::Client>,
) -> Result<(), BoxError> {
    let _guard = tracewire::builder()
        .service_name(service)
        .sampler(Sampler::parent_based(Sampler::AlwaysOn))
        .fmt(false)
        .install()?;

    let client = tracewire_hyper::Client::new().propagators(Propagators::w3c());
    let app = routes()
        .route("/health", get(|| async { StatusCode::OK }))
        .with_state(client)
        .layer(tracewire_axum::layer().propagators(Propagators::w3c()));

    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port))
        .await
        .map_err(|e| format!("binding 127.0.0.1:{port}: {e}"))?;
    println!("listening on http://{}", listener.local_addr()?);
    axum::serve(listener, app).await?;
    Ok(())
}
