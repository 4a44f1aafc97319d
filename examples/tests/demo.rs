//! The demo run end to end: as a newcomer runs it (embedded collector, tail sampling on, the UI
//! up until Ctrl-C; and `--exit --no-sampling`), pointed at an external OTLP receiver over each
//! protocol (a collector started here stands in for Jaeger or an OpenTelemetry Collector) with
//! the services reading `OTEL_*`, `RUST_LOG` and `TRACEWIRE_SPANS` as any service would, and a
//! service process stopped by its supervisor going away or by `SIGTERM`. Every request's trace
//! must arrive whole (or, sampled, be kept whenever it failed or was slow), and every service's
//! log file must carry the trace ids of its requests.
//!
//! Request counts stay small: each run starts five processes.

use std::collections::{HashMap, HashSet};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use tracewire::{SpanId, TraceId};
use tracewire_collector::{AttrValue, Collector, CollectorHandle};

const SERVICES: [&str; 4] = ["gateway", "dispatch", "pricing", "ranking"];
const NO_FAULTS: [&str; 8] = [
    "--gateway-faults",
    "none",
    "--dispatch-faults",
    "none",
    "--pricing-faults",
    "none",
    "--ranking-faults",
    "none",
];

/// `--requests <requests>` with no injected faults.
fn fault_free(requests: &str) -> Vec<&str> {
    let mut args = vec!["--requests", requests];
    args.extend(NO_FAULTS);
    args
}

/// Parent → child span names (`service name`) of a ride request that nothing went wrong with.
const RIDE_EDGES: [&str; 10] = [
    "gateway GET /ride -> gateway rider_tier",
    "gateway GET /ride -> gateway ride.v1.Dispatch/NearbyCars",
    "gateway GET /ride -> gateway GET",
    "gateway ride.v1.Dispatch/NearbyCars -> dispatch ride.v1.Dispatch/NearbyCars",
    "dispatch ride.v1.Dispatch/NearbyCars -> dispatch find_candidates",
    "dispatch ride.v1.Dispatch/NearbyCars -> dispatch POST",
    "dispatch POST -> ranking POST /rank",
    "ranking POST /rank -> ranking score",
    "gateway GET -> pricing GET /price",
    "pricing GET /price -> pricing surge_multiplier",
];

/// [`RIDE_EDGES`] but those to a span named by one of `left_out`.
fn ride_edges_without(left_out: &[&str]) -> Vec<&'static str> {
    RIDE_EDGES
        .into_iter()
        .filter(|e| !left_out.iter().any(|s| e.ends_with(s)))
        .collect()
}

/// A fresh log directory for one test (of this test process: runs may overlap), removed when
/// the test passes and kept for a look when it fails.
struct LogDir(PathBuf);

impl LogDir {
    fn new(test: &str) -> LogDir {
        let dir = Path::new(env!("CARGO_TARGET_TMPDIR"))
            .join("demo-logs")
            .join(format!("{test}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        LogDir(dir)
    }
}

impl std::ops::Deref for LogDir {
    type Target = Path;

    fn deref(&self) -> &Path {
        &self.0
    }
}

impl Drop for LogDir {
    fn drop(&mut self) {
        if !std::thread::panicking() {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }
}

/// A command for `exe` with none of the caller's `OTEL_*` settings.
fn clean_command(exe: &str) -> Command {
    let mut cmd = Command::new(exe);
    for (key, _) in std::env::vars_os() {
        if key.to_string_lossy().starts_with("OTEL_") {
            cmd.env_remove(key);
        }
    }
    cmd
}

fn run_demo(args: &[&str], env: &[(&str, &str)], logs: &Path) -> Output {
    let started = Instant::now();
    let out = clean_command(env!("CARGO_BIN_EXE_demo"))
        .args(args)
        .arg("--log-dir")
        .arg(logs)
        .envs(env.iter().copied())
        .output()
        .expect("demo runs");
    eprintln!("demo {args:?} {env:?} took {:?}", started.elapsed());
    out
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// Runs `demo --exit --otlp-endpoint endpoint args..`, which must succeed, and returns its
/// stdout.
fn run_exporting_to(endpoint: &str, args: &[&str], env: &[(&str, &str)], logs: &Path) -> String {
    let mut all = vec!["--exit", "--otlp-endpoint", endpoint];
    all.extend(args);
    let out = run_demo(&all, env, logs);
    let stdout = text(&out.stdout);
    assert!(out.status.success(), "{stdout}\n{}", text(&out.stderr));
    stdout
}

fn read_log(logs: &Path, service: &str) -> String {
    let path = logs.join(format!("{service}.log"));
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("reading {}: {e}", path.display()))
}

/// Asserts that `log` has the line a service logs once its tracing is set up.
fn assert_set_up(log: &str, service: &str, endpoint: &str, protocol: &str) {
    let line = format!(
        "tracing set up service={service} exporters=otlp endpoint={endpoint} \
         protocol={protocol} tls=false"
    );
    assert!(log.contains(&line), "{log}");
}

/// A receiver standing in for an external OTLP endpoint: OTLP/HTTP and OTLP/gRPC on free ports.
fn receiver() -> CollectorHandle {
    Collector::builder()
        .ephemeral_ports()
        .api_addr(None)
        .start()
        .expect("collector starts")
}

#[derive(Debug)]
struct StoredSpan {
    span_id: SpanId,
    parent: Option<SpanId>,
    label: String,
    is_error: bool,
    /// `service.name`, `service.version` and `deployment.environment.name` of the resource.
    resource: [Option<String>; 3],
}

/// Every stored span, by trace.
fn stored_traces(c: &CollectorHandle) -> HashMap<TraceId, Vec<StoredSpan>> {
    c.store().flush_blocking();
    let mut traces: HashMap<TraceId, Vec<StoredSpan>> = HashMap::new();
    c.store().for_each_span(|s| {
        let text = |v: Option<&AttrValue>| v.and_then(AttrValue::as_str).map(str::to_owned);
        let resource = |key: &str| {
            text(
                s.resource()
                    .iter()
                    .find(|a| &*a.key == key)
                    .map(|a| &a.value),
            )
        };
        traces.entry(s.trace_id()).or_default().push(StoredSpan {
            span_id: s.span_id(),
            parent: s.parent_span_id(),
            label: format!("{} {}", s.service(), s.name()),
            is_error: s.is_error(),
            resource: [
                resource("service.name"),
                resource("service.version"),
                resource("deployment.environment.name"),
            ],
        });
    });
    traces
}

/// One trace per request, each with one root (the gateway's), no span whose parent is missing,
/// and exactly the parent → child edges `edges`.
fn assert_complete(
    traces: &HashMap<TraceId, Vec<StoredSpan>>,
    requests: usize,
    edges: &[&str],
    root_is_error: bool,
) {
    assert_eq!(traces.len(), requests, "traces stored");
    let mut expected: Vec<&str> = edges.to_vec();
    expected.sort_unstable();
    for (trace_id, spans) in traces {
        let by_id: HashMap<SpanId, &StoredSpan> = spans.iter().map(|s| (s.span_id, s)).collect();
        let roots: Vec<&StoredSpan> = spans.iter().filter(|s| s.parent.is_none()).collect();
        assert_eq!(roots.len(), 1, "roots of {trace_id}: {spans:#?}");
        assert_eq!(roots[0].label, "gateway GET /ride", "{trace_id}");
        assert_eq!(roots[0].is_error, root_is_error, "{trace_id}");
        let mut found = Vec::new();
        for s in spans {
            let Some(parent) = s.parent else { continue };
            let p = by_id
                .get(&parent)
                .unwrap_or_else(|| panic!("orphan in {trace_id}: {s:?}"));
            found.push(format!("{} -> {}", p.label, s.label));
        }
        found.sort_unstable();
        assert_eq!(found, expected, "spans of {trace_id}");
        assert_eq!(spans.len(), edges.len() + 1, "span count of {trace_id}");
    }
}

/// The trace ids on the lines of `service`'s log file, which must exist, be non-empty and hold
/// no ANSI escape.
fn logged_trace_ids(logs: &Path, service: &str) -> HashSet<String> {
    let log = read_log(logs, service);
    assert!(!log.is_empty(), "{service}.log is empty");
    assert!(!log.contains("\x1b["), "ANSI escapes in {service}.log");
    log.lines()
        .filter_map(|l| l.split(" trace_id=").nth(1))
        .map(|rest| {
            let id = rest.split_whitespace().next().unwrap_or("");
            assert!(
                id.len() == 32 && id.bytes().all(|b| b.is_ascii_hexdigit()),
                "bad trace id {id:?} in {service}.log"
            );
            id.to_owned()
        })
        .collect()
}

/// Every service logged lines for stored traces only, and the gateway one for every trace.
fn assert_logs_match(logs: &Path, traces: &HashMap<TraceId, Vec<StoredSpan>>) {
    let stored: HashSet<String> = traces.keys().map(ToString::to_string).collect();
    for service in SERVICES {
        let ids = logged_trace_ids(logs, service);
        assert!(!ids.is_empty(), "no trace ids in {service}.log");
        let unknown: Vec<&String> = ids.difference(&stored).collect();
        assert!(
            unknown.is_empty(),
            "{service}.log names unstored traces {unknown:?}"
        );
    }
    assert_eq!(logged_trace_ids(logs, "gateway"), stored);
}

/// The columns after the name on `service`'s line of the per-service table.
fn service_row<'a>(stdout: &'a str, service: &str) -> Vec<&'a str> {
    let line = stdout
        .lines()
        .find(|l| l.split_whitespace().next() == Some(service))
        .unwrap_or_else(|| panic!("no stats line for {service}:\n{stdout}"));
    line.split_whitespace().skip(1).collect()
}

fn alive(pid: u32) -> bool {
    // A process that exited but was not yet reaped shows as a zombie ("Z"): not alive.
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(stat) => !stat
            .rsplit(')')
            .next()
            .is_some_and(|rest| rest.trim_start().starts_with('Z')),
        Err(_) => false,
    }
}

#[test]
fn demo_runs_reports_and_leaves_no_orphans() {
    let logs = LogDir::new("embedded");
    let out = run_demo(
        &[
            "--requests",
            "20",
            "--exit",
            "--ui",
            "127.0.0.1:0",
            "--no-sampling",
            // No injected failures, so every service's error rate is exactly zero.
            "--pricing-faults",
            "none",
        ],
        &[],
        &logs,
    );
    let stdout = text(&out.stdout);
    let stderr = text(&out.stderr);
    assert!(out.status.success(), "stdout:\n{stdout}\nstderr:\n{stderr}");

    assert!(stdout.contains("20 requests:"), "{stdout}");
    let traces: usize = stdout
        .lines()
        .find_map(|l| l.strip_suffix(" traces stored"))
        .and_then(|n| n.trim().parse().ok())
        .unwrap_or_else(|| panic!("no trace count in:\n{stdout}"));
    // Without tail sampling every trace is stored, and every server span counted as kept.
    assert_eq!(traces, 20, "{stdout}");
    assert!(!stdout.contains("tail sampling"), "{stdout}");
    for service in SERVICES {
        let row = service_row(&stdout, service);
        assert_eq!(row[..3], ["20", "20", "0.0%"], "{service}:\n{stdout}");
    }
    assert!(stdout.contains("* = critical path"), "{stdout}");
    assert!(stdout.contains("ride.v1.Dispatch/NearbyCars"), "{stdout}");
    // With --exit the UI is gone when the demo ends, so its address is not offered.
    assert!(!stdout.contains("web UI"), "{stdout}");
    assert!(!stderr.contains("warning"), "{stderr}");

    // The slowest trace, shown in the waterfall, went through every service; each service's
    // log has a line with its id.
    let slowest = stdout
        .lines()
        .find_map(|l| l.strip_prefix("trace "))
        .and_then(|rest| rest.split_whitespace().next())
        .unwrap_or_else(|| panic!("no waterfall in:\n{stdout}"));
    for service in SERVICES {
        assert!(
            logged_trace_ids(&logs, service).contains(slowest),
            "{service}.log has no line for {slowest}"
        );
    }

    let pids: Vec<u32> = stderr
        .lines()
        .filter_map(|l| l.split(" pid ").nth(1))
        .filter_map(|rest| rest.split_whitespace().next()?.parse().ok())
        .collect();
    assert_eq!(pids.len(), 4, "{stderr}");
    // The demo waited for its services to exit before it did.
    let left: Vec<u32> = pids.iter().copied().filter(|&p| alive(p)).collect();
    assert!(left.is_empty(), "service processes left running: {left:?}");
}

#[test]
fn an_external_receiver_gets_every_span_faults_off() {
    let c = receiver();
    let logs = LogDir::new("external-http");
    // A bare base URL gets the traces path, as OTEL_EXPORTER_OTLP_ENDPOINT does.
    let endpoint = format!("http://{}", c.otlp_http_addr().unwrap());
    let args = fault_free("12");
    // The demo names its services over the user's own service.name.
    let env = [(
        "OTEL_RESOURCE_ATTRIBUTES",
        "deployment.environment.name=demo-test,service.name=ignored",
    )];
    let stdout = run_exporting_to(&endpoint, &args, &env, &logs);
    assert!(
        stdout.contains(&format!(
            "12 requests sent; 132 spans exported to {endpoint}/v1/traces (http/protobuf)"
        )),
        "{stdout}"
    );
    let traces = stored_traces(&c);
    assert_complete(&traces, 12, &RIDE_EDGES, false);
    assert_logs_match(&logs, &traces);
    let version = env!("CARGO_PKG_VERSION");
    for s in traces.values().flatten() {
        let service = s.label.split(' ').next().unwrap();
        let expected = [service, version, "demo-test"].map(|v| Some(v.to_owned()));
        assert_eq!(s.resource, expected, "{s:?}");
    }
    c.shutdown_blocking();
}

#[test]
fn an_external_receiver_gets_every_span_over_grpc_with_faults() {
    let c = receiver();
    let logs = LogDir::new("external-grpc");
    let endpoint = format!("http://{}", c.otlp_grpc_addr().unwrap());
    // Every pricing call fails (the gateway answers 502), and half the calls to dispatch and
    // ranking are slow: the slowest traces end last, right before the services stop.
    let args = [
        "--requests",
        "12",
        "--pricing-faults",
        "fail=1",
        "--dispatch-faults",
        "slow=0.5:20ms",
        "--ranking-faults",
        "slow=0.5:40ms",
    ];
    let env = [("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc")];
    let stdout = run_exporting_to(&endpoint, &args, &env, &logs);
    assert!(stdout.contains("(grpc)"), "{stdout}");
    // Pricing fails before it computes the surge.
    let edges = ride_edges_without(&["surge_multiplier"]);
    let traces = stored_traces(&c);
    assert_complete(&traces, 12, &edges, true);
    for spans in traces.values() {
        let pricing = spans.iter().find(|s| s.label == "pricing GET /price");
        assert!(pricing.is_some_and(|s| s.is_error), "{spans:#?}");
    }
    for service in SERVICES {
        let log = read_log(&logs, service);
        assert_set_up(&log, service, &format!("{endpoint}/"), "grpc");
    }
    c.shutdown_blocking();
}

#[test]
fn an_external_receiver_gets_every_span_over_http_json_gzip() {
    let c = receiver();
    let logs = LogDir::new("external-json");
    let endpoint = format!("http://{}/v1/traces", c.otlp_http_addr().unwrap());
    let args = fault_free("6");
    // Quiet logs do not stop tracing; the span filter alone leaves out the services' own
    // `#[instrument]` spans, and keeps the plugins' request spans.
    let env = [
        ("OTEL_EXPORTER_OTLP_PROTOCOL", "http/json"),
        ("OTEL_EXPORTER_OTLP_COMPRESSION", "gzip"),
        ("RUST_LOG", "warn,tracewire_otlp=info"),
        ("TRACEWIRE_SPANS", "info,tracewire_examples=off"),
    ];
    let stdout = run_exporting_to(&endpoint, &args, &env, &logs);
    assert!(stdout.contains("(http/json)"), "{stdout}");
    let edges = ride_edges_without(&["rider_tier", "find_candidates", "score", "surge_multiplier"]);
    assert_eq!(edges.len(), 6);
    assert_complete(&stored_traces(&c), 6, &edges, false);
    let log = read_log(&logs, "gateway");
    assert_set_up(&log, "gateway", &endpoint, "http/json");
    assert!(!log.contains("ride offered"), "info lines printed:\n{log}");
    c.shutdown_blocking();
}

#[test]
fn the_services_propagate_as_otel_propagators_says() {
    let c = receiver();
    let logs = LogDir::new("external-no-propagation");
    let endpoint = format!("http://{}", c.otlp_http_addr().unwrap());
    let args = fault_free("3");
    // No propagation: every service starts a trace of its own for each request.
    let env = [("OTEL_PROPAGATORS", "none")];
    run_exporting_to(&endpoint, &args, &env, &logs);
    let traces = stored_traces(&c);
    assert_eq!(traces.len(), 12, "{traces:#?}");
    let mut roots: Vec<&str> = traces
        .values()
        .flat_map(|spans| spans.iter().filter(|s| s.parent.is_none()))
        .map(|s| s.label.as_str())
        .collect();
    roots.sort_unstable();
    roots.dedup();
    assert_eq!(
        roots,
        [
            "dispatch ride.v1.Dispatch/NearbyCars",
            "gateway GET /ride",
            "pricing GET /price",
            "ranking POST /rank"
        ]
    );
    c.shutdown_blocking();
}

#[test]
fn spans_that_do_not_arrive_fail_the_run_and_are_logged() {
    // A server that answers every request with 404 (the collector's API port has no OTLP
    // route): not retryable, so each export fails at once.
    let c = Collector::builder()
        .ephemeral_ports()
        .otlp_http_addr(None)
        .otlp_grpc_addr(None)
        .start()
        .expect("collector starts");
    let logs = LogDir::new("external-failing");
    let endpoint = format!("http://{}/v1/traces", c.api_addr().unwrap());
    let mut args = fault_free("3");
    args.extend(["--exit", "--otlp-endpoint", &endpoint]);
    let out = run_demo(&args, &[], &logs);
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    let error = stderr
        .lines()
        .find(|l| l.starts_with("error: "))
        .unwrap_or_else(|| panic!("no error line in:\n{stderr}"));
    assert!(
        error.starts_with(&format!("error: not every span reached {endpoint}; ")),
        "{error}"
    );
    for service in SERVICES {
        assert!(
            error.contains(&format!("{service}: ")),
            "{service} missing: {error}"
        );
        let log = read_log(&logs, service);
        let line = log
            .lines()
            .find(|l| l.contains("spans were not exported"))
            .unwrap_or_else(|| panic!("{service}.log does not report the failure:\n{log}"));
        assert!(line.contains("404"), "{line}");
    }
    c.shutdown_blocking();
}

/// A service process started the way the supervisor starts it, exporting to `c`.
struct ServiceUnderTest {
    child: Child,
    addr: SocketAddr,
}

impl ServiceUnderTest {
    fn start(c: &CollectorHandle, logs: &Path, faults: &str) -> ServiceUnderTest {
        std::fs::create_dir_all(logs).unwrap();
        let log = std::fs::File::create(logs.join("pricing.log")).unwrap();
        let mut child = clean_command(env!("CARGO_BIN_EXE_demo"))
            .args(["--service", "pricing", "--faults", faults])
            .env(
                "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
                format!("http://{}/v1/traces", c.otlp_http_addr().unwrap()),
            )
            // A long batch delay: nothing is exported unless the stop flushes it.
            .env("OTEL_BSP_SCHEDULE_DELAY", "60000")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(log)
            .spawn()
            .expect("service starts");
        let mut line = String::new();
        BufReader::new(child.stdout.as_mut().unwrap())
            .read_line(&mut line)
            .unwrap();
        let addr = line
            .strip_prefix("LISTENING ")
            .and_then(|a| a.trim().parse().ok())
            .unwrap_or_else(|| panic!("unexpected first line {line:?}"));
        ServiceUnderTest { child, addr }
    }

    /// Sends `GET /price` and returns the connection.
    fn ask_price(&self) -> TcpStream {
        let mut stream = TcpStream::connect(self.addr).unwrap();
        write!(
            stream,
            "GET /price?lat=0.01&lon=0.02 HTTP/1.1\r\nhost: pricing\r\nconnection: close\r\n\r\n"
        )
        .unwrap();
        stream
    }

    fn price(&self) {
        let mut answer = String::new();
        self.ask_price().read_to_string(&mut answer).unwrap();
        assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    }

    /// Waits (at most 15 s) for the process to exit and returns its remaining stdout.
    fn wait(mut self) -> String {
        let deadline = Instant::now() + Duration::from_secs(15);
        while self.child.try_wait().unwrap().is_none() {
            if Instant::now() > deadline {
                let _ = self.child.kill();
                panic!("the service did not stop");
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let mut rest = String::new();
        self.child
            .stdout
            .take()
            .unwrap()
            .read_to_string(&mut rest)
            .unwrap();
        rest
    }
}

#[test]
fn a_service_exports_everything_when_its_supervisor_goes_away_or_on_sigterm() {
    let c = receiver();
    let logs = LogDir::new("service-stop");

    // The supervisor's end of stdin closing is what the kernel does when it dies.
    let mut orphan = ServiceUnderTest::start(&c, &logs, "none");
    orphan.price();
    orphan.price();
    drop(orphan.child.stdin.take());
    let rest = orphan.wait();
    assert_eq!(
        rest.trim(),
        "STATS exported=4 failed=0 dropped=0 pending=0",
        "{rest}"
    );

    let terminated = ServiceUnderTest::start(&c, &logs, "none");
    terminated.price();
    let status = Command::new("kill")
        .args(["-TERM", &terminated.child.id().to_string()])
        .status()
        .expect("kill runs");
    assert!(status.success());
    let rest = terminated.wait();
    assert_eq!(rest.trim(), "STATS exported=2 failed=0 dropped=0 pending=0");
    let log = read_log(&logs, "pricing");
    assert!(
        log.contains("stopping: no new connections, finishing requests in flight reason=SIGTERM"),
        "{log}"
    );

    let traces = stored_traces(&c);
    assert_eq!(traces.len(), 3);
    for spans in traces.values() {
        let labels: Vec<&str> = spans.iter().map(|s| s.label.as_str()).collect();
        assert_eq!(labels.len(), 2, "{labels:?}");
        assert!(labels.contains(&"pricing GET /price"), "{labels:?}");
        assert!(labels.contains(&"pricing surge_multiplier"), "{labels:?}");
    }
    c.shutdown_blocking();
}

#[test]
fn a_request_still_running_after_the_drain_deadline_does_not_keep_a_service_alive() {
    let c = receiver();
    let logs = LogDir::new("service-drain");
    // Every request waits a minute.
    let mut service = ServiceUnderTest::start(&c, &logs, "slow=1:60000ms");
    let mut stuck = service.ask_price();
    // The request is in the handler once its latency is logged.
    let deadline = Instant::now() + Duration::from_secs(10);
    while !read_log(&logs, "pricing").contains("injected latency") {
        assert!(Instant::now() < deadline, "the request never arrived");
        std::thread::sleep(Duration::from_millis(20));
    }
    let stopping = Instant::now();
    drop(service.child.stdin.take());
    let rest = service.wait();
    let took = stopping.elapsed();
    // The drain deadline is 3 s; the whole stop stays well inside the supervisor's 12 s.
    assert!(
        took >= Duration::from_secs(3) && took < Duration::from_secs(10),
        "{took:?}"
    );
    // The abandoned request's span still ends and is exported.
    assert_eq!(rest.trim(), "STATS exported=1 failed=0 dropped=0 pending=0");
    let log = read_log(&logs, "pricing");
    assert!(
        log.contains("requests still in flight 3s after the stop; abandoning them"),
        "{log}"
    );
    let mut answer = String::new();
    let _ = stuck.read_to_string(&mut answer);
    assert_eq!(answer, "", "the abandoned request got an answer");
    let traces = stored_traces(&c);
    let labels: Vec<&str> = traces
        .values()
        .flatten()
        .map(|s| s.label.as_str())
        .collect();
    assert_eq!(labels, ["pricing GET /price"]);
    c.shutdown_blocking();
}

/// `GET path` on the demo's API at `addr`: the status and the parsed JSON body.
fn api_get(addr: SocketAddr, path: &str) -> (u16, serde_json::Value) {
    let mut stream = TcpStream::connect(addr).unwrap();
    // HTTP/1.0: the body comes whole, and the connection closes after it.
    write!(stream, "GET {path} HTTP/1.0\r\nhost: 127.0.0.1\r\n\r\n").unwrap();
    let mut answer = String::new();
    stream.read_to_string(&mut answer).unwrap();
    let (head, body) = answer
        .split_once("\r\n\r\n")
        .unwrap_or_else(|| panic!("no body in {answer:?}"));
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("no status in {head:?}"));
    let json = serde_json::from_str(body).unwrap_or_else(|e| panic!("{e}: {body:?}"));
    (status, json)
}

/// The trace ids on the lines of `service`'s log that contain `what`.
fn trace_ids_logged_with(logs: &Path, service: &str, what: &str) -> HashSet<String> {
    read_log(logs, service)
        .lines()
        .filter(|l| l.contains(what))
        .filter_map(|l| l.split(" trace_id=").nth(1)?.split_whitespace().next())
        .map(str::to_owned)
        .collect()
}

/// The report's per-reason lines (`  kept     error      6   a span failed ...`): reason →
/// (verdict, traces).
fn reason_rows(stdout: &str) -> HashMap<String, (String, u64)> {
    let block = stdout
        .split("\ntail sampling: ")
        .nth(1)
        .unwrap_or_else(|| panic!("no tail sampling report in:\n{stdout}"));
    block
        .lines()
        .skip(1)
        .take_while(|l| l.starts_with("  kept ") || l.starts_with("  dropped "))
        .map(|l| {
            let words: Vec<&str> = l.split_whitespace().collect();
            let n = words[2].parse().unwrap_or_else(|_| panic!("{l}"));
            (words[1].to_owned(), (words[0].to_owned(), n))
        })
        .collect()
}

#[test]
fn tail_sampling_keeps_every_failing_and_slow_trace_and_reports_the_collectors_counts() {
    let logs = LogDir::new("sampling");
    let requests = 24;
    std::fs::create_dir_all(&*logs).unwrap();
    let stderr = std::fs::File::create(logs.join("demo.stderr")).unwrap();
    let started = Instant::now();
    // A third of the rides fail in pricing, four in ten wait 60 ms in ranking; the UI stays up
    // until Ctrl-C, so the collector can be asked what it decided.
    let mut demo = clean_command(env!("CARGO_BIN_EXE_demo"))
        .args([
            "--requests",
            "24",
            "--concurrency",
            "4",
            "--ui",
            "127.0.0.1:0",
        ])
        .args(["--sampling-idle-gap", "100ms", "--log-dir"])
        .arg(&*logs)
        .args(["--gateway-faults", "none", "--dispatch-faults", "none"])
        .args([
            "--pricing-faults",
            "fail=0.3",
            "--ranking-faults",
            "slow=0.4:60ms",
        ])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(stderr)
        .spawn()
        .expect("demo starts");
    let mut stdout = String::new();
    let mut lines = BufReader::new(demo.stdout.take().unwrap());
    while !stdout.contains("press Ctrl-C to stop") {
        let mut line = String::new();
        if lines.read_line(&mut line).unwrap() == 0 {
            let _ = demo.kill();
            panic!("the demo ended early:\n{stdout}");
        }
        stdout.push_str(&line);
    }
    eprintln!("demo with sampling reported after {:?}", started.elapsed());
    let api: SocketAddr = stdout
        .lines()
        .find_map(|l| l.strip_prefix("web UI: http://"))
        .and_then(|a| a.trim_end_matches('/').parse().ok())
        .unwrap_or_else(|| panic!("no UI address in:\n{stdout}"));

    // The report's counts are the collector's.
    let (status, stats) = api_get(api, "/api/sampling/stats");
    assert_eq!(status, 200, "{stats}");
    let stats = &stats["data"];
    let rows = reason_rows(&stdout);
    let decisions = stats["decisions"].as_object().unwrap();
    for (reason, n) in decisions {
        let n = n.as_u64().unwrap();
        match rows.get(reason) {
            Some((verdict, shown)) => {
                assert_eq!(*shown, n, "{reason}:\n{stdout}");
                let keep = !matches!(reason.as_str(), "sampled_out" | "rate_limited");
                assert_eq!(verdict, if keep { "kept" } else { "dropped" }, "{reason}");
            }
            None => assert_eq!(n, 0, "{reason} missing from:\n{stdout}"),
        }
    }
    let (kept, dropped) = (
        stats["keptTraces"].as_u64().unwrap(),
        stats["droppedTraces"].as_u64().unwrap(),
    );
    assert_eq!(kept + dropped, requests, "{stats}");
    assert_eq!(stats["pendingTraces"], 0, "{stats}");
    assert!(
        stdout.contains(&format!(
            "tail sampling: {requests} traces seen, {kept} kept, {dropped} dropped (decided \
             100ms after their last span)"
        )),
        "{stdout}"
    );
    // Health is exact (every request); the gateway's kept server spans are the kept traces.
    let gateway = service_row(&stdout, "gateway");
    assert_eq!(gateway[..2], [requests.to_string(), kept.to_string()]);
    assert_eq!(stdout.matches(" traces stored").count(), 1, "{stdout}");

    // Every failing request's trace was kept as an error, every slowed one for its latency.
    let failed = trace_ids_logged_with(&logs, "pricing", "injected failure");
    let slow = trace_ids_logged_with(&logs, "ranking", "injected latency");
    assert!(
        !failed.is_empty() && !slow.is_empty(),
        "{failed:?} {slow:?}"
    );
    let fine = trace_ids_logged_with(&logs, "gateway", "ride offered");
    assert_eq!(failed.len() + fine.len(), requests as usize);
    let mut why: HashMap<String, usize> = HashMap::new();
    for id in failed.iter().chain(&fine) {
        let (status, answer) = api_get(api, &format!("/api/sampling/traces/{id}"));
        assert_eq!(status, 200, "{answer}");
        let (state, reason) = (&answer["data"]["state"], &answer["data"]["reason"]);
        let expected = if failed.contains(id) {
            Some("error")
        } else if slow.contains(id) {
            Some("latency")
        } else {
            None
        };
        if let Some(reason_expected) = expected {
            assert_eq!(
                (state.as_str(), reason.as_str()),
                (Some("kept"), Some(reason_expected)),
                "{id}"
            );
        }
        *why.entry(reason.as_str().unwrap().to_owned()).or_default() += 1;
        // Kept traces are stored whole; dropped ones are not stored at all.
        let (status, trace) = api_get(api, &format!("/api/traces/{id}"));
        match state.as_str() {
            Some("kept") => {
                assert_eq!(status, 200, "{trace}");
                assert_eq!(trace["data"]["orphanCount"], 0, "{trace}");
                assert!(trace["data"]["rootSpanId"].is_string(), "{trace}");
            }
            Some("dropped") => assert_eq!(status, 404, "{id}: {trace}"),
            other => panic!("{id} is {other:?}"),
        }
    }
    // Looked up one by one, the traces add up to the report's counts.
    for (reason, n) in why {
        assert_eq!(rows.get(&reason).map(|r| r.1), Some(n as u64), "{reason}");
    }

    // Ctrl-C stops the demo and its services.
    let status = Command::new("kill")
        .args(["-INT", &demo.id().to_string()])
        .status()
        .expect("kill runs");
    assert!(status.success());
    let exited = demo.wait().unwrap();
    assert!(exited.success(), "{exited:?}");
    let stderr = std::fs::read_to_string(logs.join("demo.stderr")).unwrap();
    assert!(!stderr.contains("warning"), "{stderr}");
    eprintln!("demo with sampling took {:?}", started.elapsed());
}
