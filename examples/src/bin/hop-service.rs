//! A one-hop relay for propagation interoperability tests.
//!
//! ```text
//! cargo run --release -p tracewire-examples --bin hop-service -- [PORT]   (or --help)
//! ```
//!
//! Listens on `127.0.0.1:PORT` (argument, else `$PORT`, else 5001) and prints
//! `listening on http://127.0.0.1:PORT`. `GET /hop?next=<percent-encoded absolute URL>` makes
//! exactly one traced `GET` to `next` (5 s timeout) and answers 200 if it answered 2xx, else
//! 502 (400 when `next` is missing or not an absolute `http` URL). `GET /health` answers 200.
//!
//! The outgoing call continues the inbound trace: same trace id, the hop's own client span as
//! the parent the next service sees, the sampled bit kept (0 or 1), `tracestate` members in
//! order, and the baggage. With no (or an invalid) inbound
//! context it starts a fresh trace. Propagation: W3C Trace Context and W3C Baggage; sampling:
//! parent-based with always-on roots. It can be chained to itself.

use std::collections::HashMap;
use std::process::ExitCode;

use axum::Router;
use axum::extract::{Query, State};
use axum::http::{StatusCode, Uri};
use axum::routing::get;
use http_body_util::BodyExt;

use tracewire_examples::conformance::{self, CALL_TIMEOUT};
use tracewire_examples::services::BoxError;

fn main() -> ExitCode {
    conformance::main(
        "hop-service",
        "A one-hop relay for propagation interoperability tests: \
         GET /hop?next=URL makes one traced GET to URL",
        5001,
        || Router::new().route("/hop", get(hop)),
    )
}

/// `GET /hop?next=URL`: one traced `GET` to `URL`.
async fn hop(
    State(client): State<tracewire_hyper::Client>,
    Query(query): Query<HashMap<String, String>>,
) -> StatusCode {
    let Some(next) = query.get("next").and_then(|n| n.parse::<Uri>().ok()) else {
        return StatusCode::BAD_REQUEST;
    };
    if next.scheme_str() != Some("http") || next.authority().is_none() {
        return StatusCode::BAD_REQUEST;
    }
    let call = async {
        let res = client.get(next).await?;
        let ok = res.status().is_success();
        res.into_body().collect().await?;
        Ok::<_, BoxError>(ok)
    };
    match tokio::time::timeout(CALL_TIMEOUT, call).await {
        Ok(Ok(true)) => StatusCode::OK,
        _ => StatusCode::BAD_GATEWAY,
    }
}
