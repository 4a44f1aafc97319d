//! The traced two-hop service the suite drives: `GET /` on the front hop calls `GET /work` on
//! the back hop (another listener of the same process) through the traced hyper client, and
//! answers with its body. Both hops have the tracewire axum layer, so a request makes three
//! spans (front server, client, back server). Spans are exported over OTLP exactly as a
//! deployed service does it: `tracewire_otlp::setup()`, configured by the `OTEL_*` environment.
//!
//! Untraced (`--untraced`), the same routes run without any layer or subscriber and with a
//! plain hyper-util client: the baseline.
//!
//! `GET /stats` (outside the layers) answers the export counters as JSON:
//! `{"pipeline":{"queued":..,"exported":..,"dropped":..,"failed":..,"exportErrors":..,"panics":..},
//!   "otlp":{"requests":..,"retries":..,"timeouts":..,"exportedSpans":..,"failedBatches":..,"failedSpans":..}}`.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::State;
use axum::http::{StatusCode, Uri};
use axum::routing::get;
use bytes::Bytes;
use http_body_util::{BodyExt, Empty};
use hyper_util::client::legacy::Client as PlainClient;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use serde::{Deserialize, Serialize};
use tokio::net::TcpListener;

use crate::BoxError;

/// The longest the front hop waits for the back hop.
const HOP_TIMEOUT: Duration = Duration::from_secs(5);
/// The back hop's answer.
const BODY: &str = "work done";

/// The export counters `GET /stats` answers.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ServiceStats {
    /// The pipeline's counters.
    pub pipeline: PipelineCounts,
    /// The OTLP exporter's counters.
    pub otlp: OtlpCounts,
}

/// [`tracewire::export::PipelineStats`], serializable.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PipelineCounts {
    /// Spans accepted into the queue.
    pub queued: u64,
    /// Spans delivered.
    pub exported: u64,
    /// Spans dropped (queue full).
    pub dropped: u64,
    /// Spans in batches that failed.
    pub failed: u64,
    /// Failed exporter calls.
    pub export_errors: u64,
    /// Exporter calls that panicked.
    pub panics: u64,
}

/// [`tracewire_otlp::OtlpStatsSnapshot`], serializable.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct OtlpCounts {
    /// Requests sent, retries included.
    pub requests: u64,
    /// Retries.
    pub retries: u64,
    /// Attempts cut by the timeout.
    pub timeouts: u64,
    /// Spans the endpoint accepted.
    pub exported_spans: u64,
    /// Batches given up on.
    pub failed_batches: u64,
    /// Spans in them.
    pub failed_spans: u64,
}

/// How the front hop reaches the back hop.
#[derive(Clone)]
enum Hop {
    Traced(tracewire_hyper::Client),
    /// Behind an `Arc`, as the traced client holds its own: the handler's state is cloned per
    /// request.
    Plain(Arc<PlainClient<HttpConnector, Empty<Bytes>>>),
}

#[derive(Clone)]
struct Front {
    hop: Hop,
    back: Uri,
    guard: Option<Arc<tracewire_otlp::Guard>>,
}

/// The status and the whole body of a back-hop answer.
async fn read<B>(res: http::Response<B>) -> Result<(StatusCode, Bytes), BoxError>
where
    B: hyper::body::Body,
    B::Error: Into<BoxError>,
{
    let status = res.status();
    let body = res.into_body().collect().await.map_err(Into::into)?;
    Ok((status, body.to_bytes()))
}

async fn front(State(f): State<Front>) -> (StatusCode, String) {
    let call = async {
        match &f.hop {
            Hop::Traced(c) => read(c.get(f.back.clone()).await?).await,
            Hop::Plain(c) => read(c.get(f.back.clone()).await?).await,
        }
    };
    match tokio::time::timeout(HOP_TIMEOUT, call).await {
        Ok(Ok((s, body))) if s.is_success() => {
            (StatusCode::OK, String::from_utf8_lossy(&body).into_owned())
        }
        _ => (StatusCode::BAD_GATEWAY, "the back hop failed".to_owned()),
    }
}

async fn stats(State(f): State<Front>) -> axum::Json<ServiceStats> {
    let Some(g) = &f.guard else {
        return axum::Json(ServiceStats::default());
    };
    let p = g.stats();
    let o = g.otlp_stats().map(|s| s.snapshot()).unwrap_or_default();
    axum::Json(ServiceStats {
        pipeline: PipelineCounts {
            queued: p.queued,
            exported: p.exported,
            dropped: p.dropped,
            failed: p.failed,
            export_errors: p.export_errors,
            panics: p.panics,
        },
        otlp: OtlpCounts {
            requests: o.requests,
            retries: o.retries,
            timeouts: o.timeouts,
            exported_spans: o.exported_spans,
            failed_batches: o.failed_batches,
            failed_spans: o.failed_spans,
        },
    })
}

/// Serves the two hops on `127.0.0.1:port` (front) and a free port (back), printing
/// `listening on http://ADDR` once both accept connections. Traced, tracing is installed
/// first from the environment; a setting it cannot use is an error.
pub async fn serve(port: u16, traced: bool) -> Result<(), BoxError> {
    let front_listener = TcpListener::bind(("127.0.0.1", port)).await?;
    let back_listener = TcpListener::bind("127.0.0.1:0").await?;
    let back_addr: SocketAddr = back_listener.local_addr()?;
    let back_uri: Uri = format!("http://{back_addr}/work").parse()?;

    let (guard, hop) = if traced {
        let guard = tracewire_otlp::setup()
            .service_name("reliability-service")
            .core(|b| b.fmt(false))
            .install()?;
        let client = tracewire_hyper::Client::new().propagators(guard.propagators().clone());
        (Some(guard), Hop::Traced(client))
    } else {
        (
            None,
            Hop::Plain(Arc::new(
                PlainClient::builder(TokioExecutor::new()).build_http(),
            )),
        )
    };
    let state = Front {
        hop,
        back: back_uri,
        guard: guard.map(Arc::new),
    };
    let mut back = Router::new().route("/work", get(|| async { BODY }));
    let mut app = Router::new().route("/", get(front));
    if traced {
        back = back.layer(tracewire_axum::layer());
        app = app.layer(tracewire_axum::layer());
    }
    let app = app.route("/stats", get(stats)).with_state(state);

    let back = tokio::spawn(async move { axum::serve(back_listener, back).await });
    println!("listening on http://{}", front_listener.local_addr()?);
    axum::serve(front_listener, app).await?;
    back.abort();
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stats_serialize_in_camel_case() {
        let s = ServiceStats {
            pipeline: PipelineCounts {
                export_errors: 2,
                ..PipelineCounts::default()
            },
            otlp: OtlpCounts {
                exported_spans: 3,
                ..OtlpCounts::default()
            },
        };
        let v = serde_json::to_value(s).unwrap();
        assert_eq!(v["pipeline"]["exportErrors"], 2);
        assert_eq!(v["otlp"]["exportedSpans"], 3);
        assert_eq!(serde_json::from_value::<ServiceStats>(v).unwrap(), s);
    }

    #[tokio::test]
    async fn untraced_hops_answer_and_report_zero_counters() {
        let port = crate::endpoint::dead_addr().unwrap().port();
        let server = tokio::spawn(serve(port, false));
        let addr: SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
        let mut client = crate::net::Http1::new(addr, Duration::from_secs(5));
        let mut answer = None;
        for _ in 0..100 {
            if let Ok(a) = client.get("/").await {
                answer = Some(a);
                break;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        let a = answer.expect("the service answers");
        assert_eq!((a.status, &a.body[..]), (StatusCode::OK, BODY.as_bytes()));
        let s = client.get("/stats").await.unwrap();
        let stats: ServiceStats = serde_json::from_slice(&s.body).unwrap();
        assert_eq!(stats, ServiceStats::default());
        server.abort();
    }
}
