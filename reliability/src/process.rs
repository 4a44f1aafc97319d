//! The processes under test: the `tracewire-collector` binary and the traced service, each a
//! child process on loopback, killed (SIGKILL) and reaped when dropped, with its output drained
//! into a short tail kept for error messages.

use std::collections::VecDeque;
use std::io::{BufRead, BufReader, Read};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::rss::Rss;
use crate::{BoxError, Deadline};

/// Lines of a child's output kept for error messages.
const TAIL_LINES: usize = 40;
/// How long a child may take to print its listening address.
const START_TIMEOUT: Duration = Duration::from_secs(30);

/// The last lines a child printed (stdout and stderr interleaved).
#[derive(Debug, Clone, Default)]
struct Tail(Arc<Mutex<VecDeque<String>>>);

impl Tail {
    fn push(&self, line: String) {
        let mut t = self.0.lock().unwrap_or_else(|e| e.into_inner());
        if t.len() == TAIL_LINES {
            t.pop_front();
        }
        t.push_back(line);
    }

    fn text(&self) -> String {
        let t = self.0.lock().unwrap_or_else(|e| e.into_inner());
        t.iter().map(String::as_str).collect::<Vec<_>>().join("\n")
    }
}

/// Reads `out` line by line until it closes: every line goes to `tail`, and the first lines to
/// `lines` until the receiver is gone (so start-up can wait for an address).
fn drain(out: impl Read + Send + 'static, tail: Tail, lines: Option<mpsc::Sender<String>>) {
    std::thread::spawn(move || {
        let mut lines = lines;
        for line in BufReader::new(out).lines() {
            let Ok(line) = line else { break };
            if let Some(tx) = &lines
                && tx.send(line.clone()).is_err()
            {
                lines = None;
            }
            tail.push(line);
        }
    });
}

/// A running child process with its output drained.
#[derive(Debug)]
struct Running {
    child: Child,
    tail: Tail,
    name: &'static str,
}

impl Running {
    /// Spawns `cmd` and hands each line of its stdout to `ready` until it returns true. Fails
    /// when the child exits first or takes longer than [`START_TIMEOUT`].
    fn spawn(
        name: &'static str,
        mut cmd: Command,
        mut ready: impl FnMut(&str) -> bool,
    ) -> Result<Running, BoxError> {
        cmd.stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = cmd
            .spawn()
            .map_err(|e| format!("starting {name} ({:?}): {e}", cmd.get_program()))?;
        let tail = Tail::default();
        let (tx, rx) = mpsc::channel();
        drain(
            child.stdout.take().ok_or("no stdout")?,
            tail.clone(),
            Some(tx),
        );
        drain(child.stderr.take().ok_or("no stderr")?, tail.clone(), None);
        let mut running = Running { child, tail, name };
        let deadline = Deadline::after(START_TIMEOUT);
        loop {
            match rx.recv_timeout(Duration::from_millis(100)) {
                Ok(line) if ready(&line) => return Ok(running),
                Ok(_) | Err(mpsc::RecvTimeoutError::Timeout) => {}
                Err(mpsc::RecvTimeoutError::Disconnected) => {
                    return Err(running.failure("exited before it was ready"));
                }
            }
            if deadline.passed() {
                return Err(running.failure("was not ready within 30 s"));
            }
        }
    }

    fn failure(&mut self, what: &str) -> BoxError {
        let _ = self.child.kill();
        let status = self.child.wait().ok();
        format!(
            "{} {what} (status {status:?}); its last output:\n{}",
            self.name,
            self.tail.text()
        )
        .into()
    }

    fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Whether the process is still running.
    fn alive(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }

    /// SIGKILL, then reap.
    fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        self.kill();
    }
}

/// The address in a line such as `  OTLP/HTTP  http://127.0.0.1:4318  (POST /v1/traces)`.
fn address_after(line: &str, label: &str) -> Option<SocketAddr> {
    let rest = line.trim_start().strip_prefix(label)?;
    let url = rest.split_whitespace().next()?;
    url.split_once("://")?.1.trim_end_matches('/').parse().ok()
}

/// The collector's settings: its budgets and timeouts, passed as flags.
#[derive(Debug, Clone)]
pub struct CollectorConfig {
    /// The `tracewire-collector` binary.
    pub bin: PathBuf,
    /// `--max-spans`.
    pub max_spans: usize,
    /// `--max-bytes`: the store's byte budget.
    pub max_bytes: usize,
    /// `--max-in-flight-bytes`.
    pub max_in_flight_bytes: usize,
    /// `--max-connections` per listener.
    pub max_connections: usize,
    /// `--header-read-timeout`.
    pub header_read_timeout: Duration,
    /// `--body-read-timeout`.
    pub body_read_timeout: Duration,
    /// `--keep-alive-timeout`.
    pub keep_alive_timeout: Duration,
    /// `--stall-timeout`.
    pub stall_timeout: Duration,
}

impl CollectorConfig {
    /// The binary's defaults, except a store budget of `max_bytes`.
    pub fn new(bin: impl Into<PathBuf>, max_bytes: usize) -> Self {
        CollectorConfig {
            bin: bin.into(),
            max_spans: 1_000_000,
            max_bytes,
            max_in_flight_bytes: 64 << 20,
            max_connections: 256,
            header_read_timeout: Duration::from_secs(10),
            body_read_timeout: Duration::from_secs(30),
            keep_alive_timeout: Duration::from_secs(60),
            stall_timeout: Duration::from_secs(30),
        }
    }

    /// The ingest queue's byte budget the collector derives from the store's: an eighth of it,
    /// never less than 64 MiB.
    pub fn queue_bytes(&self) -> usize {
        (self.max_bytes / 8).max(64 << 20)
    }

    /// Every byte budget the collector is configured with, added up: the store, the ingest
    /// queue and the request bytes in flight.
    pub fn budget_bytes(&self) -> usize {
        self.max_bytes + self.queue_bytes() + self.max_in_flight_bytes
    }
}

/// The listeners of a running collector.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CollectorAddrs {
    /// OTLP/HTTP.
    pub http: SocketAddr,
    /// OTLP/gRPC.
    pub grpc: SocketAddr,
    /// The JSON API and UI.
    pub api: SocketAddr,
}

/// A `tracewire-collector` child process.
#[derive(Debug)]
pub struct Collector {
    config: CollectorConfig,
    addrs: CollectorAddrs,
    running: Option<Running>,
}

impl Collector {
    /// Starts the collector on free loopback ports.
    pub fn start(config: &CollectorConfig) -> Result<Collector, BoxError> {
        let any = "127.0.0.1:0".parse().expect("an address");
        let (running, addrs) = spawn_collector(
            config,
            CollectorAddrs {
                http: any,
                grpc: any,
                api: any,
            },
        )?;
        Ok(Collector {
            config: config.clone(),
            addrs,
            running: Some(running),
        })
    }

    /// The listeners (the same across restarts).
    pub fn addrs(&self) -> CollectorAddrs {
        self.addrs
    }

    /// The settings it runs with.
    pub fn config(&self) -> &CollectorConfig {
        &self.config
    }

    /// The process id, while it runs.
    pub fn pid(&self) -> Option<u32> {
        self.running.as_ref().map(Running::pid)
    }

    /// Whether the process is running (false after [`kill9`](Self::kill9) or a crash).
    pub fn alive(&mut self) -> bool {
        self.running.as_mut().is_some_and(Running::alive)
    }

    /// The resident set (current and peak), while it runs.
    pub fn rss(&self) -> Option<Rss> {
        self.pid().and_then(|pid| Rss::of(pid).ok())
    }

    /// `kill -9`: no shutdown, no flush.
    pub fn kill9(&mut self) {
        if let Some(mut r) = self.running.take() {
            r.kill();
        }
    }

    /// Starts it again on the same ports (after [`kill9`](Self::kill9)), waiting while the
    /// ports are still held by something else (at most 30 s).
    pub fn restart(&mut self) -> Result<(), BoxError> {
        self.kill9();
        let deadline = Deadline::after(START_TIMEOUT);
        loop {
            match spawn_collector(&self.config, self.addrs) {
                Ok((running, _)) => {
                    self.running = Some(running);
                    return Ok(());
                }
                Err(e) if deadline.passed() => return Err(e),
                Err(_) => std::thread::sleep(Duration::from_millis(100)),
            }
        }
    }

    /// Its recent output.
    pub fn output(&self) -> String {
        self.running
            .as_ref()
            .map(|r| r.tail.text())
            .unwrap_or_default()
    }
}

fn human(d: Duration) -> String {
    format!("{}ms", d.as_millis().max(1))
}

fn spawn_collector(
    c: &CollectorConfig,
    at: CollectorAddrs,
) -> Result<(Running, CollectorAddrs), BoxError> {
    let mut cmd = Command::new(&c.bin);
    cmd.env_remove("TRACEWIRE_COLLECTOR_TOKEN")
        .arg("--otlp-http")
        .arg(at.http.to_string())
        .arg("--otlp-grpc")
        .arg(at.grpc.to_string())
        .arg("--api")
        .arg(at.api.to_string())
        .arg("--max-spans")
        .arg(c.max_spans.to_string())
        .arg("--max-bytes")
        .arg(c.max_bytes.to_string())
        .arg("--max-in-flight-bytes")
        .arg(c.max_in_flight_bytes.to_string())
        .arg("--max-connections")
        .arg(c.max_connections.to_string())
        .arg("--header-read-timeout")
        .arg(human(c.header_read_timeout))
        .arg("--body-read-timeout")
        .arg(human(c.body_read_timeout))
        .arg("--keep-alive-timeout")
        .arg(human(c.keep_alive_timeout))
        .arg("--stall-timeout")
        .arg(human(c.stall_timeout))
        .arg("--retention")
        .arg("0");
    let (mut http, mut grpc, mut api) = (None, None, None);
    let running = Running::spawn("tracewire-collector", cmd, |line| {
        http = http.or_else(|| address_after(line, "OTLP/HTTP"));
        grpc = grpc.or_else(|| address_after(line, "OTLP/gRPC"));
        api = api.or_else(|| address_after(line, "API + UI"));
        http.is_some() && grpc.is_some() && api.is_some()
    })?;
    let addrs = CollectorAddrs {
        http: http.ok_or("no OTLP/HTTP address")?,
        grpc: grpc.ok_or("no OTLP/gRPC address")?,
        api: api.ok_or("no API address")?,
    };
    Ok((running, addrs))
}

/// How the traced service is started.
#[derive(Debug, Clone)]
pub struct ServiceConfig {
    /// The binary holding the service (`fault-suite`, which runs it as `fault-suite service`).
    pub exe: PathBuf,
    /// Whether it traces; untraced, it is the baseline.
    pub traced: bool,
    /// `OTEL_EXPORTER_OTLP_ENDPOINT`: where spans go (`http://127.0.0.1:PORT`).
    pub endpoint: String,
    /// Further environment (`OTEL_BSP_*`, `OTEL_EXPORTER_OTLP_TIMEOUT`, ...).
    pub env: Vec<(String, String)>,
}

impl ServiceConfig {
    /// A traced service exporting to `endpoint` with the default settings.
    pub fn traced(exe: impl Into<PathBuf>, endpoint: impl Into<String>) -> Self {
        ServiceConfig {
            exe: exe.into(),
            traced: true,
            endpoint: endpoint.into(),
            env: Vec::new(),
        }
    }

    /// The same service without tracing: the baseline.
    pub fn untraced(exe: impl Into<PathBuf>) -> Self {
        ServiceConfig {
            exe: exe.into(),
            traced: false,
            endpoint: String::new(),
            env: Vec::new(),
        }
    }

    /// Adds an environment variable.
    #[must_use]
    pub fn env(mut self, key: &str, value: impl Into<String>) -> Self {
        self.env.push((key.to_owned(), value.into()));
        self
    }
}

/// The traced two-hop service, a child process.
#[derive(Debug)]
pub struct Service {
    running: Running,
    addr: SocketAddr,
}

impl Service {
    /// Starts it on a free loopback port.
    pub fn start(c: &ServiceConfig) -> Result<Service, BoxError> {
        let mut cmd = Command::new(&c.exe);
        cmd.arg("service").arg("--port").arg("0");
        if !c.traced {
            cmd.arg("--untraced");
        }
        for key in [
            "OTEL_SDK_DISABLED",
            "OTEL_TRACES_EXPORTER",
            "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
            "OTEL_EXPORTER_OTLP_PROTOCOL",
            "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL",
            "RUST_LOG",
        ] {
            cmd.env_remove(key);
        }
        cmd.env("OTEL_EXPORTER_OTLP_ENDPOINT", &c.endpoint);
        cmd.envs(c.env.iter().map(|(k, v)| (k, v)));
        let mut addr = None;
        let running = Running::spawn("the traced service", cmd, |line| {
            addr = line
                .strip_prefix("listening on http://")
                .and_then(|a| a.trim().parse().ok());
            addr.is_some()
        })?;
        let addr = addr.ok_or("the service printed no address")?;
        Ok(Service { running, addr })
    }

    /// Its front hop.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Its process id.
    pub fn pid(&self) -> u32 {
        self.running.pid()
    }

    /// Whether it still runs.
    pub fn alive(&mut self) -> bool {
        self.running.alive()
    }

    /// Its resident set.
    pub fn rss(&self) -> Result<Rss, BoxError> {
        Rss::of(self.pid())
    }

    /// Its recent output.
    pub fn output(&self) -> String {
        self.running.tail.text()
    }
}

/// Where `cargo` puts binaries for the profile `exe` was built with: the directory of `exe`,
/// or its parent when `exe` is a test in `deps/`.
pub fn profile_dir(exe: &Path) -> Option<PathBuf> {
    let dir = exe.parent()?;
    if dir.file_name().is_some_and(|n| n == "deps") {
        dir.parent().map(Path::to_path_buf)
    } else {
        Some(dir.to_path_buf())
    }
}

/// Waits until `cond` holds, polling every 10 ms, for at most `limit`; returns how long it
/// took, or `None` if it never held.
pub fn wait_until(limit: Duration, mut cond: impl FnMut() -> bool) -> Option<Duration> {
    let start = Instant::now();
    loop {
        if cond() {
            return Some(start.elapsed());
        }
        if start.elapsed() >= limit {
            return None;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_are_read_from_the_collector_banner() {
        assert_eq!(
            address_after(
                "  OTLP/HTTP  http://127.0.0.1:4318  (POST /v1/traces)",
                "OTLP/HTTP"
            ),
            Some("127.0.0.1:4318".parse().unwrap())
        );
        assert_eq!(
            address_after("  API + UI   http://127.0.0.1:16686  (/ui/)", "API + UI"),
            Some("127.0.0.1:16686".parse().unwrap())
        );
        assert_eq!(address_after("  OTLP/gRPC  off", "OTLP/gRPC"), None);
        assert_eq!(
            address_after("tracewire-collector listening", "OTLP/HTTP"),
            None
        );
    }

    #[test]
    fn budgets_add_up_as_the_collector_derives_them() {
        let c = CollectorConfig::new("c", 1 << 30);
        assert_eq!(c.queue_bytes(), 128 << 20);
        assert_eq!(c.budget_bytes(), (1 << 30) + (128 << 20) + (64 << 20));
        assert_eq!(CollectorConfig::new("c", 64 << 20).queue_bytes(), 64 << 20);
    }

    #[test]
    fn binaries_sit_beside_tests_deps_directory() {
        assert_eq!(
            profile_dir(Path::new("/t/debug/deps/fault_suite-abc")),
            Some(PathBuf::from("/t/debug"))
        );
        assert_eq!(
            profile_dir(Path::new("/t/release/fault-suite")),
            Some(PathBuf::from("/t/release"))
        );
    }
}
