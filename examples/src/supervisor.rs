//! Starts the demo's services as child processes of one supervisor, asks them to export, and
//! stops them so that none outlives it and none loses its last spans.
//!
//! Each child is the demo binary itself run with `--service NAME`; [`crate::control`] describes
//! the pipes between the two. [`Supervisor::stop`] closes every child's stdin, waits for each to
//! drain its requests and export its spans, and kills only a child that misses the deadline.
//! Dropping the supervisor (an early return, a panic) or its process dying closes the pipes too,
//! so the children still stop the same graceful way on their own.

use std::fmt;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{ExitStatus, Stdio};
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::process::{Child, ChildStdin, Command};
use tokio::sync::mpsc;
use tokio::time::{Instant, timeout_at};

use crate::control::{ExportReport, FLUSH, LISTENING, STATS};

/// Why a service could not be started.
#[derive(Debug)]
#[non_exhaustive]
pub enum SupervisorError {
    /// The log directory or file could not be created.
    Log {
        /// The path.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// The process could not be started.
    Spawn {
        /// The service.
        service: String,
        /// The cause.
        source: std::io::Error,
    },
    /// The process did not announce its address in time (or exited first).
    NotReady {
        /// The service.
        service: String,
        /// Where its log is.
        log: PathBuf,
    },
}

impl fmt::Display for SupervisorError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SupervisorError::Log { path, source } => {
                write!(f, "cannot create {}: {source}", path.display())
            }
            SupervisorError::Spawn { service, source } => {
                write!(f, "cannot start {service}: {source}")
            }
            SupervisorError::NotReady { service, log } => {
                write!(f, "{service} did not start; see {}", log.display())
            }
        }
    }
}

impl std::error::Error for SupervisorError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            SupervisorError::Log { source, .. } | SupervisorError::Spawn { source, .. } => {
                Some(source)
            }
            SupervisorError::NotReady { .. } => None,
        }
    }
}

/// How to start one service.
#[derive(Debug, Clone)]
pub struct ServiceSpec<'a> {
    /// The executable.
    pub exe: &'a Path,
    /// The service's name: it is run as `exe --service NAME ARGS..`, and logs to `NAME.log`.
    pub name: &'a str,
    /// Further arguments.
    pub args: Vec<String>,
    /// Environment variables set for it (on top of the supervisor's own).
    pub env: Vec<(String, String)>,
    /// Where its log file goes.
    pub log_dir: &'a Path,
}

/// A running service process.
#[derive(Debug)]
pub struct ServiceProcess {
    /// The service's name.
    pub name: String,
    /// Where it listens.
    pub addr: SocketAddr,
    /// Its process id.
    pub pid: u32,
    child: Child,
    stdin: Option<ChildStdin>,
    lines: mpsc::Receiver<String>,
}

impl ServiceProcess {
    /// The next `STATS` line before `deadline`; other lines are skipped.
    async fn next_report(&mut self, deadline: Instant) -> Option<ExportReport> {
        loop {
            let line = timeout_at(deadline, self.lines.recv()).await.ok()??;
            if line.starts_with(STATS) {
                return line.parse().ok();
            }
        }
    }
}

/// How one service ended.
#[derive(Debug)]
pub struct Exited {
    /// The service.
    pub name: String,
    /// Its last export report, if it sent one.
    pub report: Option<ExportReport>,
    /// How it ended: its exit status, or `None` when it had to be killed after the deadline.
    pub status: Option<ExitStatus>,
}

impl Exited {
    /// The report, or why there is none.
    pub fn report(&self) -> Result<&ExportReport, String> {
        self.report.as_ref().ok_or_else(|| match self.status {
            Some(status) => format!("exited without an export report ({status})"),
            None => "killed: still running when the stop deadline passed".to_owned(),
        })
    }
}

/// The children, in the order they were started.
#[derive(Debug, Default)]
pub struct Supervisor {
    children: Vec<ServiceProcess>,
}

impl Supervisor {
    /// An empty supervisor.
    pub fn new() -> Self {
        Supervisor::default()
    }

    /// Starts a service, its stderr going to its log file, and waits (at most `timeout`) for it
    /// to announce its address.
    pub async fn start(
        &mut self,
        spec: ServiceSpec<'_>,
        timeout: Duration,
    ) -> Result<&ServiceProcess, SupervisorError> {
        let log_error = |path: &Path| {
            let path = path.to_owned();
            move |source| SupervisorError::Log { path, source }
        };
        std::fs::create_dir_all(spec.log_dir).map_err(log_error(spec.log_dir))?;
        let log = spec.log_dir.join(format!("{}.log", spec.name));
        let log_file = std::fs::File::create(&log).map_err(log_error(&log))?;
        let spawn_error = |source| SupervisorError::Spawn {
            service: spec.name.to_owned(),
            source,
        };
        let mut child = Command::new(spec.exe)
            .arg("--service")
            .arg(spec.name)
            .args(&spec.args)
            .envs(spec.env.iter().map(|(k, v)| (k, v)))
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::from(log_file))
            .spawn()
            .map_err(spawn_error)?;
        let not_ready = || SupervisorError::NotReady {
            service: spec.name.to_owned(),
            log: log.clone(),
        };
        let (Some(stdout), Some(stdin), Some(pid)) =
            (child.stdout.take(), child.stdin.take(), child.id())
        else {
            return Err(not_ready());
        };
        // Read stdout all the time, so the child never blocks on a full pipe.
        let (tx, mut lines) = mpsc::channel(16);
        tokio::spawn(async move {
            let mut stdout = BufReader::new(stdout).lines();
            while let Ok(Some(line)) = stdout.next_line().await {
                if tx.send(line).await.is_err() {
                    break;
                }
            }
        });
        let deadline = Instant::now() + timeout;
        let addr = loop {
            let Ok(Some(line)) = timeout_at(deadline, lines.recv()).await else {
                return Err(not_ready());
            };
            if let Some(addr) = line.strip_prefix(LISTENING) {
                break addr.trim().parse::<SocketAddr>().map_err(|_| not_ready())?;
            }
        };
        self.children.push(ServiceProcess {
            name: spec.name.to_owned(),
            addr,
            pid,
            child,
            stdin: Some(stdin),
            lines,
        });
        Ok(self.children.last().expect("just pushed"))
    }

    /// Asks every service to export what it holds and waits (at most `timeout` in all) for
    /// their reports; `None` for a service that did not answer.
    pub async fn flush(&mut self, timeout: Duration) -> Vec<(String, Option<ExportReport>)> {
        let deadline = Instant::now() + timeout;
        let command = format!("{FLUSH}\n");
        let mut asked = Vec::with_capacity(self.children.len());
        for c in &mut self.children {
            let sent = match c.stdin.as_mut() {
                Some(stdin) => stdin.write_all(command.as_bytes()).await.is_ok(),
                None => false,
            };
            asked.push(sent);
        }
        let mut reports = Vec::with_capacity(self.children.len());
        for (c, sent) in self.children.iter_mut().zip(asked) {
            let report = match sent {
                true => c.next_report(deadline).await,
                false => None,
            };
            reports.push((c.name.clone(), report));
        }
        reports
    }

    /// Stops every service: closes its stdin, waits for it to finish its requests, export its
    /// spans and exit, all within `timeout`; kills those still running after it.
    pub async fn stop(&mut self, timeout: Duration) -> Vec<Exited> {
        let deadline = Instant::now() + timeout;
        for c in &mut self.children {
            c.stdin = None;
        }
        let mut exited = Vec::with_capacity(self.children.len());
        for mut c in self.children.drain(..) {
            let status = timeout_at(deadline, c.child.wait()).await.ok();
            if status.is_none() {
                let _ = c.child.start_kill();
                let _ = c.child.wait().await;
            }
            // The child has exited, so its stdout ends: take its last report.
            let mut report = None;
            while let Ok(Some(line)) =
                tokio::time::timeout(Duration::from_secs(1), c.lines.recv()).await
            {
                if let Ok(r) = line.parse::<ExportReport>() {
                    report = Some(r);
                }
            }
            exited.push(Exited {
                name: c.name,
                report,
                // A failure to wait is as good as no status at all.
                status: status.and_then(Result::ok),
            });
        }
        exited
    }
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;

    /// A stand-in service: a shell script that ignores its arguments.
    fn script(dir: &Path, name: &str, body: &str) -> PathBuf {
        use std::os::unix::fs::PermissionsExt;
        std::fs::create_dir_all(dir).unwrap();
        let path = dir.join(name);
        std::fs::write(&path, format!("#!/bin/sh\n{body}\n")).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
        path
    }

    fn spec<'a>(exe: &'a Path, dir: &'a Path) -> ServiceSpec<'a> {
        ServiceSpec {
            exe,
            name: "stub",
            args: Vec::new(),
            env: vec![("STUB_VAR".into(), "from-supervisor".into())],
            log_dir: dir,
        }
    }

    fn dir(test: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!(
            "tracewire-supervisor-{test}-{}",
            std::process::id()
        ));
        let _ = std::fs::remove_dir_all(&d);
        d
    }

    /// A supervisor running one stand-in service whose script is `body`, and its directory.
    async fn supervise_stub(test: &str, body: &str) -> (Supervisor, PathBuf) {
        let d = dir(test);
        let exe = script(&d, test, body);
        let mut sup = Supervisor::new();
        sup.start(spec(&exe, &d), Duration::from_secs(5))
            .await
            .unwrap();
        (sup, d)
    }

    #[tokio::test]
    async fn a_service_that_ignores_the_stop_is_killed_at_the_deadline() {
        // Announces itself, answers nothing, and does not stop when stdin closes.
        let (mut sup, d) = supervise_stub(
            "stubborn",
            "echo \"LISTENING 127.0.0.1:9\"\necho \"$STUB_VAR\" >&2\nexec sleep 30",
        )
        .await;
        let started = &sup.children[0];
        assert_eq!(started.addr, SocketAddr::from(([127, 0, 0, 1], 9)));
        let pid = started.pid;

        let flushed = sup.flush(Duration::from_millis(200)).await;
        assert_eq!(flushed, [("stub".to_owned(), None)]);

        let t = std::time::Instant::now();
        let exited = sup.stop(Duration::from_millis(300)).await;
        assert!(t.elapsed() < Duration::from_secs(3), "{:?}", t.elapsed());
        assert_eq!(exited.len(), 1);
        assert_eq!(exited[0].status, None);
        assert_eq!(
            exited[0].report().unwrap_err(),
            "killed: still running when the stop deadline passed"
        );
        // Killed and reaped.
        assert!(!Path::new(&format!("/proc/{pid}")).exists());
        // Its stderr went to its log file, with the environment the supervisor gave it.
        assert_eq!(
            std::fs::read_to_string(d.join("stub.log")).unwrap(),
            "from-supervisor\n"
        );
        let _ = std::fs::remove_dir_all(&d);
    }

    #[tokio::test]
    async fn reports_are_read_from_stdout_and_exit_statuses_kept() {
        // Answers one flush, and on end of input reports again and exits 3.
        let (mut sup, d) = supervise_stub(
            "reporting",
            "echo \"LISTENING 127.0.0.1:10\"\n\
             read cmd\n\
             echo \"STATS exported=4 failed=0 dropped=0 pending=0\"\n\
             while read cmd; do :; done\n\
             echo \"STATS exported=6 failed=1 dropped=0 pending=0 error=export failed: boom\"\n\
             exit 3",
        )
        .await;
        let flushed = sup.flush(Duration::from_secs(5)).await;
        assert_eq!(flushed[0].1.as_ref().map(|r| r.exported), Some(4));
        let exited = sup.stop(Duration::from_secs(5)).await;
        let report = exited[0].report().unwrap();
        assert_eq!((report.exported, report.failed), (6, 1));
        assert_eq!(report.error.as_deref(), Some("export failed: boom"));
        assert_eq!(exited[0].status.and_then(|s| s.code()), Some(3));
        let _ = std::fs::remove_dir_all(&d);
    }

    #[tokio::test]
    async fn a_service_that_never_announces_itself_is_an_error() {
        let d = dir("silent");
        let exe = script(&d, "silent", "echo 'not ready' >&2\nexit 1");
        let mut sup = Supervisor::new();
        let err = sup
            .start(spec(&exe, &d), Duration::from_secs(5))
            .await
            .unwrap_err();
        assert_eq!(
            err.to_string(),
            format!("stub did not start; see {}", d.join("stub.log").display())
        );
        let missing = Path::new("/nonexistent/tracewire-demo");
        let err = sup
            .start(spec(missing, &d), Duration::from_secs(5))
            .await
            .unwrap_err();
        assert!(err.to_string().starts_with("cannot start stub: "), "{err}");
        let _ = std::fs::remove_dir_all(&d);
    }
}
