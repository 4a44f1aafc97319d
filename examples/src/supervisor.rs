//! Starts the demo's services as child processes of one supervisor and makes sure none outlives
//! it.
//!
//! Each child is the demo binary itself run with `--service NAME`. It binds `127.0.0.1:0`, prints
//! `LISTENING <addr>` on stdout, and logs to a file. Orphans are impossible by construction: the
//! child's stdin is a pipe from the supervisor, and the child exits as soon as that pipe closes —
//! which the kernel does when the supervisor exits for any reason, even `SIGKILL`. On a normal
//! exit or Ctrl-C the supervisor also kills and reaps every child itself.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

/// A running service process.
#[derive(Debug)]
pub struct ServiceProcess {
    /// The service's name.
    pub name: String,
    /// Where it listens.
    pub addr: SocketAddr,
    /// Its log file.
    pub log: PathBuf,
    child: Child,
}

/// The children. [`Supervisor::stop`] kills and reaps them; dropping the supervisor only kills
/// them (each child also exits by itself when the supervisor's process ends).
#[derive(Debug, Default)]
pub struct Supervisor {
    children: Vec<ServiceProcess>,
}

impl Supervisor {
    /// An empty supervisor.
    pub fn new() -> Self {
        Supervisor::default()
    }

    /// Starts `exe --service name args..` and waits (at most `timeout`) for it to report its
    /// address.
    pub async fn start(
        &mut self,
        exe: &Path,
        name: &str,
        args: &[String],
        log_dir: &Path,
        timeout: Duration,
    ) -> Result<SocketAddr, String> {
        std::fs::create_dir_all(log_dir).map_err(|e| format!("creating {log_dir:?}: {e}"))?;
        let log = log_dir.join(format!("{name}.log"));
        let log_file = std::fs::File::create(&log).map_err(|e| format!("creating {log:?}: {e}"))?;
        let mut child = Command::new(exe)
            .arg("--service")
            .arg(name)
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::from(log_file))
            .kill_on_drop(true)
            .spawn()
            .map_err(|e| format!("starting {name}: {e}"))?;
        let stdout = child
            .stdout
            .take()
            .ok_or_else(|| format!("{name}: no stdout"))?;
        let mut lines = BufReader::new(stdout).lines();
        let addr = tokio::time::timeout(timeout, async {
            while let Ok(Some(line)) = lines.next_line().await {
                if let Some(a) = line.strip_prefix("LISTENING ") {
                    return a.trim().parse::<SocketAddr>().ok();
                }
            }
            None
        })
        .await
        .ok()
        .flatten()
        .ok_or_else(|| format!("{name} did not start; see {}", log.display()))?;
        // Keep draining stdout so the child never blocks on a full pipe.
        tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
        self.children.push(ServiceProcess {
            name: name.to_owned(),
            addr,
            log,
            child,
        });
        Ok(addr)
    }

    /// The running services.
    pub fn services(&self) -> &[ServiceProcess] {
        &self.children
    }

    /// The process ids of the children (for tests that check nothing is left behind).
    pub fn pids(&self) -> Vec<u32> {
        self.children.iter().filter_map(|c| c.child.id()).collect()
    }

    /// Kills every child and waits for it to exit.
    pub async fn stop(&mut self) {
        for c in &mut self.children {
            let _ = c.child.start_kill();
        }
        for c in &mut self.children {
            let _ = tokio::time::timeout(Duration::from_secs(5), c.child.wait()).await;
        }
        self.children.clear();
    }
}

/// In a child: exits the process when the supervisor's end of stdin closes.
pub fn exit_with_parent() {
    std::thread::spawn(|| {
        let mut sink = [0u8; 64];
        let mut stdin = std::io::stdin();
        while let Ok(n) = std::io::Read::read(&mut stdin, &mut sink) {
            if n == 0 {
                break;
            }
        }
        #[expect(
            clippy::exit,
            reason = "the supervisor is gone; nothing else will stop us"
        )]
        std::process::exit(0);
    });
}
