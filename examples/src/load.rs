//! The demo's load generator: a fixed number of requests at a fixed concurrency, with a progress
//! bar on stderr.

use std::io::Write;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use http_body_util::{BodyExt, Empty};
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;

/// One request's outcome as the load generator saw it.
#[derive(Debug, Clone, Copy)]
pub struct Sample {
    /// HTTP status, or 0 for a transport error.
    pub status: u16,
    /// Round-trip time.
    pub latency: Duration,
}

/// Sends `total` `GET`s built by `uri_for(i)` with `concurrency` in flight.
pub async fn run(
    total: usize,
    concurrency: usize,
    uri_for: impl Fn(usize) -> String + Send + Sync + 'static,
    progress: bool,
) -> Vec<Sample> {
    let client = Client::builder(TokioExecutor::new()).build_http::<Empty<bytes::Bytes>>();
    let next = Arc::new(AtomicUsize::new(0));
    let done = Arc::new(AtomicUsize::new(0));
    let uri_for = Arc::new(uri_for);
    let mut workers = Vec::new();
    for _ in 0..concurrency.max(1) {
        let (client, next, done, uri_for) =
            (client.clone(), next.clone(), done.clone(), uri_for.clone());
        workers.push(tokio::spawn(async move {
            let mut samples = Vec::new();
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= total {
                    break;
                }
                let start = Instant::now();
                let status = match uri_for(i).parse::<http::Uri>() {
                    Ok(uri) => {
                        match tokio::time::timeout(Duration::from_secs(10), client.get(uri)).await {
                            Ok(Ok(resp)) => {
                                let status = resp.status().as_u16();
                                let _ = resp.into_body().collect().await;
                                status
                            }
                            _ => 0,
                        }
                    }
                    Err(_) => 0,
                };
                samples.push(Sample {
                    status,
                    latency: start.elapsed(),
                });
                done.fetch_add(1, Ordering::Relaxed);
            }
            samples
        }));
    }
    // Redraw in place on a terminal; in a log, print only the final line.
    let interactive = progress && std::io::IsTerminal::is_terminal(&std::io::stderr());
    let bar = interactive.then(|| {
        let done = done.clone();
        tokio::spawn(async move {
            loop {
                let d = done.load(Ordering::Relaxed);
                draw(d, total);
                if d >= total {
                    break;
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        })
    });
    let mut all = Vec::with_capacity(total);
    for w in workers {
        all.extend(w.await.unwrap_or_default());
    }
    if let Some(bar) = bar {
        let _ = bar.await;
        eprintln!();
    } else if progress {
        draw(done.load(Ordering::Relaxed), total);
        eprintln!();
    }
    all
}

fn draw(done: usize, total: usize) {
    const WIDTH: usize = 40;
    let filled = (done * WIDTH)
        .checked_div(total)
        .unwrap_or(WIDTH)
        .min(WIDTH);
    let mut err = std::io::stderr().lock();
    let _ = write!(
        err,
        "\r  [{}{}] {done}/{total} requests",
        "#".repeat(filled),
        "-".repeat(WIDTH - filled)
    );
    let _ = err.flush();
}
