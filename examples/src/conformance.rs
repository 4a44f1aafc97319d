//! What the two conformance services (`w3c-test-service`, `hop-service`) share: W3C Trace
//! Context and Baggage only, parent-based sampling with always-on roots, the tracewire axum
//! layer, a traced client, `GET /health`, and the port from the first argument or `$PORT`.

use std::time::Duration;

use axum::Router;
use axum::http::StatusCode;
use axum::routing::get;
use tracewire::Sampler;
use tracewire::propagation::Propagators;

use crate::services::BoxError;

/// The longest a conformance service waits for one outgoing call.
pub const CALL_TIMEOUT: Duration = Duration::from_secs(5);

/// The port from the first argument, else `$PORT`, else `default`.
pub fn port(default: u16) -> Result<u16, BoxError> {
    let arg = std::env::args()
        .nth(1)
        .or_else(|| std::env::var("PORT").ok());
    Ok(match arg {
        Some(p) => p.parse().map_err(|_| format!("invalid port {p:?}"))?,
        None => default,
    })
}

/// Installs tracing for `service`, builds the app from `routes` (given the traced client) plus
/// `GET /health`, listens on `127.0.0.1:<port>`, prints `listening on http://ADDR`, and serves.
pub async fn serve(
    service: &'static str,
    default_port: u16,
    routes: impl FnOnce() -> Router<tracewire_hyper::Client>,
) -> Result<(), BoxError> {
    let port = port(default_port)?;
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

    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port)).await?;
    println!("listening on http://{}", listener.local_addr()?);
    axum::serve(listener, app).await?;
    Ok(())
}
