//! Traffic: a closed-loop load through the traced service (counting every failed request) and
//! a well-behaved OTLP exporter probing the collector. Latencies go into HDR histograms, so
//! memory stays constant however long a run is.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;
use serde::Serialize;
use tokio::task::JoinHandle;

use crate::net::Http1;
use crate::payload::{self, PROTOBUF, Rng};

/// Longest latency recorded (longer ones count as this).
const MAX_US: u64 = 120_000_000;

/// A latency histogram in microseconds.
#[derive(Debug, Clone)]
pub struct Latencies(Histogram<u64>);

impl Default for Latencies {
    fn default() -> Self {
        Latencies(Histogram::new_with_bounds(1, MAX_US, 3).expect("valid bounds"))
    }
}

impl Latencies {
    /// Records one latency.
    pub fn record(&mut self, d: Duration) {
        let us = u64::try_from(d.as_micros())
            .unwrap_or(MAX_US)
            .clamp(1, MAX_US);
        self.0.saturating_record(us);
    }

    /// Adds another histogram's counts.
    pub fn merge(&mut self, other: &Latencies) {
        let _ = self.0.add(&other.0);
    }

    /// The summary.
    pub fn summary(&self) -> LatencySummary {
        let q = |q: f64| self.0.value_at_quantile(q);
        LatencySummary {
            count: self.0.len(),
            p50_us: q(0.5),
            p99_us: q(0.99),
            max_us: self.0.max(),
        }
    }
}

/// Percentiles of a [`Latencies`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct LatencySummary {
    /// Latencies recorded.
    pub count: u64,
    /// Median, µs.
    pub p50_us: u64,
    /// 99th percentile, µs.
    pub p99_us: u64,
    /// Largest, µs.
    pub max_us: u64,
}

impl LatencySummary {
    /// `p50 1.2 ms, p99 3.4 ms, max 9.9 ms (n=1000)`.
    pub fn text(&self) -> String {
        let ms = |us: u64| format!("{:.2} ms", us as f64 / 1000.0);
        format!(
            "p50 {}, p99 {}, max {} (n={})",
            ms(self.p50_us),
            ms(self.p99_us),
            ms(self.max_us),
            self.count
        )
    }

    /// `self`'s percentile over `base`'s, as a ratio (0 when the base is empty).
    pub fn ratio(a: u64, base: u64) -> f64 {
        if base == 0 {
            0.0
        } else {
            (a as f64 / base as f64 * 100.0).round() / 100.0
        }
    }
}

#[derive(Debug, Default)]
struct LoadShared {
    stop: AtomicBool,
    ok: AtomicU64,
    failed: AtomicU64,
    /// The current phase's latencies; each request takes the lock once, so contention is
    /// negligible next to a request through two hops.
    phase: Mutex<Latencies>,
}

impl LoadShared {
    fn record(&self, d: Duration) {
        self.phase
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .record(d);
    }

    fn take_phase(&self) -> Latencies {
        std::mem::take(&mut *self.phase.lock().unwrap_or_else(|e| e.into_inner()))
    }
}

/// Counts of a load so far.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct LoadCounts {
    /// Requests answered 2xx.
    pub ok: u64,
    /// Requests that failed (error, timeout or non-2xx).
    pub failed: u64,
}

impl LoadCounts {
    /// Requests done.
    pub fn total(&self) -> u64 {
        self.ok + self.failed
    }
}

/// A closed loop of `GET /` through the traced service on `connections` keep-alive
/// connections, one request in flight on each, until `requests` are done or it is stopped.
#[derive(Debug)]
pub struct Load {
    shared: Arc<LoadShared>,
    tasks: Vec<JoinHandle<()>>,
}

impl Load {
    /// Starts the load on the current Tokio runtime. Each request may take at most `limit`.
    pub fn start(addr: SocketAddr, connections: usize, requests: u64, limit: Duration) -> Load {
        let shared = Arc::new(LoadShared::default());
        let claimed = Arc::new(AtomicU64::new(0));
        let tasks = (0..connections.max(1))
            .map(|_| {
                let (shared, claimed) = (shared.clone(), claimed.clone());
                tokio::spawn(async move {
                    let mut client = Http1::new(addr, limit);
                    while !shared.stop.load(Ordering::Relaxed)
                        && claimed.fetch_add(1, Ordering::Relaxed) < requests
                    {
                        let t0 = Instant::now();
                        let ok = matches!(client.get("/").await, Ok(a) if a.status.is_success());
                        shared.record(t0.elapsed());
                        let counter = if ok { &shared.ok } else { &shared.failed };
                        counter.fetch_add(1, Ordering::Relaxed);
                    }
                })
            })
            .collect();
        Load { shared, tasks }
    }

    /// The counts so far.
    pub fn counts(&self) -> LoadCounts {
        LoadCounts {
            ok: self.shared.ok.load(Ordering::Relaxed),
            failed: self.shared.failed.load(Ordering::Relaxed),
        }
    }

    /// The latencies since the last call (or the start), and a fresh histogram from now on.
    pub fn take_phase(&self) -> Latencies {
        self.shared.take_phase()
    }

    /// Whether every request has been made.
    pub fn finished(&self) -> bool {
        self.tasks.iter().all(JoinHandle::is_finished)
    }

    /// Waits until `n` requests are done (or the load finished).
    pub async fn reach(&self, n: u64) {
        while self.counts().total() < n && !self.finished() {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }

    /// Waits until every request has been made, and returns the counts.
    pub async fn wait(&self) -> LoadCounts {
        while !self.finished() {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        self.counts()
    }

    /// Stops after the requests in flight and returns the final counts.
    pub async fn stop(self) -> LoadCounts {
        self.shared.stop.store(true, Ordering::Relaxed);
        for t in self.tasks {
            let _ = t.await;
        }
        LoadCounts {
            ok: self.shared.ok.load(Ordering::Relaxed),
            failed: self.shared.failed.load(Ordering::Relaxed),
        }
    }
}

/// What a [`Probe`] saw.
#[derive(Debug, Clone, Default, Serialize)]
pub struct ProbeOutcome {
    /// Latencies of every export, from connecting to the last byte of the answer.
    pub latency: LatencySummary,
    /// Answers by HTTP status (`"error"` when there was none).
    pub statuses: BTreeMap<String, u64>,
}

impl ProbeOutcome {
    /// Exports answered 200.
    pub fn ok(&self) -> u64 {
        self.statuses.get("200").copied().unwrap_or(0)
    }
}

/// A well-behaved exporter: a ~100-byte OTLP/HTTP protobuf export every `every`, each on a
/// fresh connection (an exporter whose pooled connection was closed), with a time limit.
#[derive(Debug)]
pub struct Probe {
    stop: Arc<AtomicBool>,
    task: JoinHandle<(Latencies, BTreeMap<String, u64>)>,
}

impl Probe {
    /// Starts probing `addr` on the current Tokio runtime.
    pub fn start(addr: SocketAddr, every: Duration, limit: Duration) -> Probe {
        let stop = Arc::new(AtomicBool::new(false));
        let s = stop.clone();
        let task = tokio::spawn(async move {
            let mut rng = Rng::from_clock();
            let mut lat = Latencies::default();
            let mut statuses = BTreeMap::new();
            let mut tick = tokio::time::interval(every);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            while !s.load(Ordering::Relaxed) {
                tick.tick().await;
                let body = payload::probe(&mut rng, "reliability-probe");
                let mut client = Http1::new(addr, limit);
                let t0 = Instant::now();
                let key = match client.post_otlp(PROTOBUF, false, body).await {
                    Ok(a) => a.status.as_u16().to_string(),
                    Err(_) => "error".to_owned(),
                };
                lat.record(t0.elapsed());
                *statuses.entry(key).or_insert(0) += 1;
            }
            (lat, statuses)
        });
        Probe { stop, task }
    }

    /// Stops and returns what it saw.
    pub async fn finish(self) -> ProbeOutcome {
        self.stop.store(true, Ordering::Relaxed);
        let (lat, statuses) = self.task.await.unwrap_or_default();
        ProbeOutcome {
            latency: lat.summary(),
            statuses,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_come_from_the_recorded_latencies() {
        let mut l = Latencies::default();
        for ms in 1..=100 {
            l.record(Duration::from_millis(ms));
        }
        let s = l.summary();
        assert_eq!(s.count, 100);
        assert!((49_900..=50_100).contains(&s.p50_us), "{s:?}");
        assert!((98_900..=99_100).contains(&s.p99_us), "{s:?}");
        assert!((99_900..=100_100).contains(&s.max_us), "{s:?}");
        let mut m = Latencies::default();
        m.merge(&l);
        assert_eq!(m.summary(), s);
        assert_eq!(Latencies::default().summary().count, 0);
        assert_eq!(LatencySummary::ratio(300, 100), 3.0);
        assert_eq!(LatencySummary::ratio(1, 0), 0.0);
    }
}
