//! A closed-loop HTTP/1.1 keep-alive load generator.
//!
//! `connections` tasks on one current-thread runtime, each with its own hyper connection and
//! one request in flight: send `GET`, read the whole body, record the latency, repeat. The first
//! `warmup` is run but not recorded; the next `duration` is. Latencies go into an HDR histogram
//! (microseconds, 3 significant digits).

use std::cell::RefCell;
use std::rc::Rc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use hdrhistogram::Histogram;
use http::{Request, Uri};
use http_body_util::{BodyExt, Empty};
use hyper_util::rt::TokioIo;
use serde::Serialize;
use tokio::net::TcpStream;

use crate::BoxError;

/// What to run.
#[derive(Debug)]
pub struct Config {
    pub url: Uri,
    pub duration: Duration,
    pub warmup: Duration,
    pub connections: usize,
}

/// One line of output.
#[derive(Debug, Serialize)]
pub struct Outcome {
    pub rps: f64,
    pub p50_us: u64,
    pub p90_us: u64,
    pub p99_us: u64,
    pub p999_us: u64,
    pub max_us: u64,
    /// Requests completed in the measured window.
    pub requests: u64,
    /// Requests completed, warm-up included.
    pub total_requests: u64,
    pub errors: u64,
    pub connections: usize,
    pub duration_s: f64,
}

#[derive(Default)]
struct Tally {
    requests: u64,
    total: u64,
    errors: u64,
}

/// Runs the load and returns the measured window's numbers.
pub fn run(cfg: &Config) -> Result<Outcome, BoxError> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let local = tokio::task::LocalSet::new();
    local.block_on(&rt, drive(cfg))
}

async fn drive(cfg: &Config) -> Result<Outcome, BoxError> {
    let host = cfg.url.host().ok_or("--url needs a host")?.to_owned();
    let port = cfg.url.port_u16().unwrap_or(80);
    let authority = cfg.url.authority().ok_or("--url needs a host")?.to_string();
    let path: Uri = cfg
        .url
        .path_and_query()
        .map_or("/", |p| p.as_str())
        .parse()?;

    let hist = Rc::new(RefCell::new(Histogram::<u64>::new_with_bounds(
        1, 60_000_000, 3,
    )?));
    let tally = Rc::new(RefCell::new(Tally::default()));
    let start = Instant::now();
    let measure_from = start + cfg.warmup;
    let until = measure_from + cfg.duration;

    let mut tasks = Vec::with_capacity(cfg.connections);
    for _ in 0..cfg.connections {
        let (host, authority, path) = (host.clone(), authority.clone(), path.clone());
        let (hist, tally) = (hist.clone(), tally.clone());
        tasks.push(tokio::task::spawn_local(async move {
            while Instant::now() < until {
                let Ok(stream) = TcpStream::connect((host.as_str(), port)).await else {
                    tally.borrow_mut().errors += 1;
                    tokio::time::sleep(Duration::from_millis(5)).await;
                    continue;
                };
                let _ = stream.set_nodelay(true);
                let Ok((mut sender, conn)) =
                    hyper::client::conn::http1::handshake(TokioIo::new(stream)).await
                else {
                    tally.borrow_mut().errors += 1;
                    continue;
                };
                tokio::task::spawn_local(conn);
                while Instant::now() < until {
                    if sender.ready().await.is_err() {
                        tally.borrow_mut().errors += 1;
                        break;
                    }
                    let req = Request::get(path.clone())
                        .header(http::header::HOST, authority.as_str())
                        .body(Empty::<Bytes>::new())
                        .expect("a valid request");
                    let t0 = Instant::now();
                    let ok = match sender.send_request(req).await {
                        Ok(res) => {
                            let status = res.status();
                            res.into_body().collect().await.is_ok() && status.is_success()
                        }
                        Err(_) => false,
                    };
                    let t1 = Instant::now();
                    let mut tally = tally.borrow_mut();
                    if !ok {
                        tally.errors += 1;
                        break;
                    }
                    tally.total += 1;
                    if t0 >= measure_from && t1 <= until {
                        tally.requests += 1;
                        let us = (t1 - t0).as_micros().max(1) as u64;
                        hist.borrow_mut().saturating_record(us);
                    }
                }
            }
        }));
    }
    for t in tasks {
        t.await?;
    }

    let hist = hist.borrow();
    let tally = tally.borrow();
    Ok(Outcome {
        rps: tally.requests as f64 / cfg.duration.as_secs_f64(),
        p50_us: hist.value_at_quantile(0.50),
        p90_us: hist.value_at_quantile(0.90),
        p99_us: hist.value_at_quantile(0.99),
        p999_us: hist.value_at_quantile(0.999),
        max_us: hist.max(),
        requests: tally.requests,
        total_requests: tally.total,
        errors: tally.errors,
        connections: cfg.connections,
        duration_s: cfg.duration.as_secs_f64(),
    })
}
