//! Slow and idle connections against the OTLP/HTTP listener while a well-behaved exporter
//! keeps exporting, in two attacks:
//!
//! - **connections**: idle sockets past the connection cap, slowloris request heads, chunked
//!   bodies dripped a byte at a time, and bodies declaring the largest length then dripped a
//!   byte at a time, all at once. None of them sends real data, so the exporter must see no
//!   refusal at all.
//! - **memory**: uploads stalled one byte short of the request cap, which really hold the
//!   collector's budget of request bytes in flight; the exporter is told to retry (429) until
//!   the stall timeout frees it.
//!
//! The figure is the exporter's latency and answers before and during each attack.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use serde::Serialize;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::task::JoinSet;

use super::{Env, Figure, Survival};
use crate::load::{LatencySummary, Probe, ProbeOutcome};
use crate::process::Collector;
use crate::rss::mib;
use crate::{BoxError, Deadline};

/// The kinds of attacking connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Attacker {
    /// Connects and sends nothing.
    Idle,
    /// Sends a request head one header line at a time, never finishing it.
    Slowloris,
    /// Sends a chunked body one byte at a time, never finishing it.
    Drip,
    /// Declares a body one byte short of the request cap, then sends it a byte at a time.
    DeclaredDrip,
    /// Declares a body one byte short of the request cap, sends all but its last byte, stalls.
    Stall,
}

/// How one kind of attacker fared.
#[derive(Debug, Clone, Copy, Default, Serialize)]
pub struct AttackerFate {
    /// Sockets opened.
    pub opened: u64,
    /// Sockets the collector closed before the attack ended.
    pub closed_by_collector: u64,
    /// Of those, the median time from connecting to being closed, ms.
    pub median_closed_after_ms: u64,
    /// Answers the collector sent on these sockets (a 408 or 429, say).
    pub answered: u64,
}

/// One attack's outcome.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Attack {
    /// The exporter during the attack.
    pub during: ProbeOutcome,
    /// p50 during / p50 alone.
    pub p50_ratio: f64,
    /// p99 during / p99 alone.
    pub p99_ratio: f64,
    /// Idle sockets.
    pub idle: AttackerFate,
    /// Slowloris heads.
    pub slowloris: AttackerFate,
    /// Dripped chunked bodies.
    pub drip: AttackerFate,
    /// Declared-length bodies, dripped.
    pub declared_drip: AttackerFate,
    /// Stalled uploads.
    pub stall: AttackerFate,
    /// How long it lasted, s.
    pub secs: u64,
}

impl Attack {
    fn text(&self) -> String {
        let fates: Vec<String> = [
            ("idle", &self.idle),
            ("slowloris", &self.slowloris),
            ("dripped chunked bodies", &self.drip),
            ("dripped declared bodies", &self.declared_drip),
            ("stalled uploads", &self.stall),
        ]
        .iter()
        .filter(|(_, f)| f.opened > 0)
        .map(|(name, f)| {
            format!(
                "{name} {} (closed {} after ~{} ms)",
                f.opened, f.closed_by_collector, f.median_closed_after_ms
            )
        })
        .collect();
        format!(
            "exporter {} (p50 x{}, p99 x{}), answers {:?}; attackers: {}",
            self.during.latency.text(),
            self.p50_ratio,
            self.p99_ratio,
            self.during.statuses,
            fates.join(", ")
        )
    }
}

/// The figure.
#[derive(Debug, Clone, Serialize)]
pub struct SlowFigure {
    /// The exporter alone.
    pub baseline: ProbeOutcome,
    /// Sockets that send no real data.
    pub connections: Attack,
    /// Uploads that hold the budget of bytes in flight.
    pub memory: Attack,
    /// The collector's peak resident set.
    pub peak_rss_bytes: u64,
    /// The collector afterwards.
    pub survival: Survival,
}

impl Figure for SlowFigure {
    fn text(&self) -> String {
        format!(
            "exporter alone {}; during the connection attack: {}; during the memory attack: {}; \
             collector peak RSS {} MiB; {}",
            self.baseline.latency.text(),
            self.connections.text(),
            self.memory.text(),
            mib(self.peak_rss_bytes),
            self.survival.text(),
        )
    }
}

/// How many of each attacker, and for how long.
#[derive(Debug, Clone, Copy)]
struct Size {
    idle: usize,
    slowloris: usize,
    drip: usize,
    declared_drip: usize,
    stall: usize,
    attack: Duration,
    baseline: Duration,
}

#[derive(Debug, Default)]
struct Fates {
    opened: AtomicU64,
    answered: AtomicU64,
    closed_after_ms: std::sync::Mutex<Vec<u64>>,
}

impl Fates {
    fn fate(&self) -> AttackerFate {
        let mut closed = self
            .closed_after_ms
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone();
        closed.sort_unstable();
        AttackerFate {
            opened: self.opened.load(Ordering::Relaxed),
            closed_by_collector: closed.len() as u64,
            median_closed_after_ms: closed.get(closed.len() / 2).copied().unwrap_or(0),
            answered: self.answered.load(Ordering::Relaxed),
        }
    }
}

/// The request cap the stalled uploads stop one byte short of (the collector's default).
const REQUEST_CAP: usize = 4 << 20;

/// Runs one attacking connection until the collector closes it or `until` passes.
async fn attacker(
    addr: SocketAddr,
    kind: Attacker,
    until: Deadline,
    fates: Arc<Fates>,
    stall_body: bytes::Bytes,
) {
    let Ok(mut s) = TcpStream::connect(addr).await else {
        return;
    };
    fates.opened.fetch_add(1, Ordering::Relaxed);
    let t0 = Instant::now();
    let host = format!("Host: {addr}\r\n");
    let head = |extra: &str| {
        format!(
            "POST /v1/traces HTTP/1.1\r\n{host}Content-Type: application/x-protobuf\r\n{extra}\r\n"
        )
    };
    let opening = match kind {
        Attacker::Idle => Vec::new(),
        Attacker::Slowloris => format!("POST /v1/traces HTTP/1.1\r\n{host}").into_bytes(),
        Attacker::Drip => head("Transfer-Encoding: chunked\r\n").into_bytes(),
        Attacker::DeclaredDrip => {
            head(&format!("Content-Length: {}\r\n", REQUEST_CAP - 1)).into_bytes()
        }
        Attacker::Stall => head(&format!("Content-Length: {}\r\n", REQUEST_CAP - 1)).into_bytes(),
    };
    let mut buf = [0u8; 4096];
    let mut answered = false;
    let open = async {
        s.write_all(&opening).await?;
        if kind == Attacker::Stall {
            s.write_all(&stall_body).await?;
        }
        Ok::<_, std::io::Error>(())
    };
    let opened = match tokio::time::timeout(until.left(), open).await {
        Ok(r) => r.is_ok(),
        // Still writing when the attack ends: the collector never closed it.
        Err(_) => return record(&fates, false, None),
    };
    if opened {
        let mut n = 0u64;
        loop {
            let step = tokio::time::sleep(Duration::from_millis(500).min(until.left()));
            tokio::select! {
                r = s.read(&mut buf) => match r {
                    Ok(0) | Err(_) => break,
                    Ok(_) => answered = true,
                },
                _ = step => {
                    if until.passed() {
                        return record(&fates, answered, None);
                    }
                    n += 1;
                    let drip: Vec<u8> = match kind {
                        Attacker::Slowloris => format!("X-{n}: y\r\n").into_bytes(),
                        Attacker::Drip => b"1\r\nx\r\n".to_vec(),
                        Attacker::DeclaredDrip => b"x".to_vec(),
                        Attacker::Idle | Attacker::Stall => Vec::new(),
                    };
                    if !drip.is_empty() && s.write_all(&drip).await.is_err() {
                        break;
                    }
                }
            }
        }
    }
    record(&fates, answered, Some(t0.elapsed()));
}

fn record(fates: &Fates, answered: bool, closed_after: Option<Duration>) {
    if answered {
        fates.answered.fetch_add(1, Ordering::Relaxed);
    }
    if let Some(d) = closed_after {
        fates
            .closed_after_ms
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(d.as_millis() as u64);
    }
}

/// Runs `kinds` against `http` for `length` while a probe exports, and returns what the probe
/// and each kind of attacker saw.
async fn attack(http: SocketAddr, kinds: [usize; 5], length: Duration) -> Attack {
    let until = Deadline::after(length);
    let fates: [Arc<Fates>; 5] = Default::default();
    // One body shared by every stalled upload: all but the last byte of a maximal request.
    let stall_body = bytes::Bytes::from(vec![0x0a; REQUEST_CAP - 2]);
    let mut set = JoinSet::new();
    let order = [
        Attacker::Idle,
        Attacker::Slowloris,
        Attacker::Drip,
        Attacker::DeclaredDrip,
        Attacker::Stall,
    ];
    for (i, kind) in order.into_iter().enumerate() {
        for _ in 0..kinds[i] {
            set.spawn(attacker(
                http,
                kind,
                until,
                fates[i].clone(),
                stall_body.clone(),
            ));
        }
    }
    // Let the attackers take their places, then measure the exporter while they hold them.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let probe = Probe::start(http, PROBE_EVERY, PROBE_LIMIT);
    while set.join_next().await.is_some() {}
    let during = probe.finish().await;
    let [idle, slowloris, drip, declared_drip, stall] = fates.map(|f| f.fate());
    Attack {
        during,
        idle,
        slowloris,
        drip,
        declared_drip,
        stall,
        secs: length.as_secs(),
        ..Attack::default()
    }
}

/// How often the well-behaved exporter exports.
const PROBE_EVERY: Duration = Duration::from_millis(50);
/// The longest one of its exports may take.
const PROBE_LIMIT: Duration = Duration::from_secs(60);

/// Runs the scenario against a collector of its own.
pub async fn run(env: &Env) -> Result<SlowFigure, BoxError> {
    let size = env.scale.pick(
        Size {
            idle: 300,
            slowloris: 100,
            drip: 100,
            declared_drip: 32,
            stall: 30,
            attack: Duration::from_secs(5),
            baseline: Duration::from_secs(2),
        },
        Size {
            idle: 1200,
            slowloris: 400,
            drip: 300,
            declared_drip: 100,
            stall: 100,
            attack: Duration::from_secs(45),
            baseline: Duration::from_secs(10),
        },
    );
    let mut config = env.collector_config(128 << 20);
    if env.scale == crate::Scale::Quick {
        // Shorter clocks, so every one of them fires within the short attack.
        config.max_connections = 64;
        config.header_read_timeout = Duration::from_secs(1);
        config.body_read_timeout = Duration::from_secs(2);
        config.stall_timeout = Duration::from_secs(2);
        config.keep_alive_timeout = Duration::from_secs(3);
    }
    let mut collector = Collector::start(&config)?;
    let http = collector.addrs().http;

    let probe = Probe::start(http, PROBE_EVERY, PROBE_LIMIT);
    tokio::time::sleep(size.baseline).await;
    let baseline = probe.finish().await;
    let ratios = |a: &mut Attack| {
        a.p50_ratio = LatencySummary::ratio(a.during.latency.p50_us, baseline.latency.p50_us);
        a.p99_ratio = LatencySummary::ratio(a.during.latency.p99_us, baseline.latency.p99_us);
    };
    let mut connections = attack(
        http,
        [size.idle, size.slowloris, size.drip, size.declared_drip, 0],
        size.attack,
    )
    .await;
    ratios(&mut connections);
    let mut memory = attack(http, [0, 0, 0, 0, size.stall], size.attack).await;
    ratios(&mut memory);
    let peak_rss_bytes = collector.rss().map_or(0, |r| r.hwm);
    let survival = Survival::check(&mut collector).await;
    Ok(SlowFigure {
        baseline,
        connections,
        memory,
        peak_rss_bytes,
        survival,
    })
}
