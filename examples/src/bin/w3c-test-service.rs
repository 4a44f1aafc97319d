//! The service the W3C Trace Context test harness drives (w3c/trace-context, `test/`).
//!
//! ```text
//! cargo run --release -p tracewire-examples --bin w3c-test-service -- [PORT]   (or --help)
//! ```
//!
//! Listens on `127.0.0.1:PORT` (argument, else `$PORT`, else 5000) and prints
//! `listening on http://127.0.0.1:PORT`. `POST /test` takes a JSON array of
//! `{"url": ..., "arguments": ...}`; for each element, in order, it sends `POST url` with the
//! JSON of `arguments` (`[]` when missing) through the traced client, inside the inbound
//! request's trace context, waits at most 5 s, skips failures, and finally answers `200 {}`.
//! `GET /health` answers 200.
//!
//! Propagation is W3C Trace Context + W3C Baggage only; sampling is parent-based with
//! always-on roots. No trace header is written here: the `tracewire-axum` layer extracts the
//! inbound context and the `tracewire-hyper` client injects the outbound one.

use std::process::ExitCode;

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::routing::post;
use http_body_util::{BodyExt, Full};

use tracewire_examples::conformance::{self, CALL_TIMEOUT};
use tracewire_examples::services::BoxError;

fn main() -> ExitCode {
    conformance::main(
        "w3c-test-service",
        "The service the W3C Trace Context test harness drives (POST /test)",
        5000,
        || Router::new().route("/test", post(test)),
    )
}

/// `POST /test`: one traced `POST` per element, one after another.
async fn test(
    State(client): State<tracewire_hyper::Client>,
    body: Bytes,
) -> (
    StatusCode,
    [(header::HeaderName, &'static str); 1],
    &'static str,
) {
    let json = [(header::CONTENT_TYPE, "application/json")];
    let Ok(serde_json::Value::Array(calls)) = serde_json::from_slice(&body) else {
        return (StatusCode::BAD_REQUEST, json, "{}");
    };
    for call in calls {
        let Some(url) = call.get("url").and_then(|u| u.as_str()) else {
            continue;
        };
        let arguments = call
            .get("arguments")
            .cloned()
            .unwrap_or_else(|| serde_json::Value::Array(Vec::new()));
        let Ok(payload) = serde_json::to_vec(&arguments) else {
            continue;
        };
        let Ok(req) = http::Request::post(url)
            .header(header::CONTENT_TYPE, "application/json")
            .body(Full::new(Bytes::from(payload)))
        else {
            continue;
        };
        let send = async {
            let res = client.request(req).await?;
            res.into_body().collect().await?;
            Ok::<_, BoxError>(())
        };
        // Failures and timeouts are skipped: the harness only looks at what it received.
        let _ = tokio::time::timeout(CALL_TIMEOUT, send).await;
    }
    (StatusCode::OK, json, "{}")
}
