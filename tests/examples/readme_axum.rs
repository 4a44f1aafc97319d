//! The README's "A deployed axum service" example, verbatim below this header; `cargo test`
//! builds it, and `tests/readme.rs` checks that the README still shows exactly this code.

use axum::{Router, extract::Path, routing::get};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    // Everything from the standard variables, e.g.
    //   OTEL_SERVICE_NAME=checkout
    //   OTEL_EXPORTER_OTLP_ENDPOINT=https://otlp.example.com   (http/protobuf by default)
    //   OTEL_EXPORTER_OTLP_HEADERS=x-api-key=...
    //   OTEL_EXPORTER_OTLP_CERTIFICATE=/etc/otel/ca.pem        (a private CA, optional)
    let _guard = tracewire_otlp::init!()?; // service.version = this crate's version
    let app = Router::new()
        .route("/hello/{name}", get(hello))
        .layer(tracewire_axum::layer()); // built after init: OTEL_PROPAGATORS' formats
    let listener = tokio::net::TcpListener::bind("127.0.0.1:3000").await?;
    axum::serve(listener, app)
        .with_graceful_shutdown(async {
            let _ = tokio::signal::ctrl_c().await;
        })
        .await?;
    Ok(())
} // the guard exports what is left before the process exits

async fn hello(Path(name): Path<String>) -> String {
    tracing::info!(%name, "greeting"); // a log line with trace_id and span_id
    format!("hello {name}\n")
}
