//! How the supervisor and a service process talk: the child's stdin and stdout are pipes to the
//! supervisor, its stderr is its log file.
//!
//! ```text
//! child  → stdout   LISTENING 127.0.0.1:40123             once, when it accepts connections
//! parent → stdin    flush                                 export every finished span now
//! child  → stdout   STATS exported=212 failed=0 dropped=0 pending=0 [error=...]
//!                                                         after each flush, and on exit
//! parent closes stdin                                     stop: drain, flush, exit
//! ```
//!
//! A child stops when its stdin closes — which the kernel does when the supervisor exits for any
//! reason, even `SIGKILL` — or on `SIGTERM` or Ctrl-C. Stopping always means: stop accepting,
//! let in-flight requests finish (bounded), export what is queued (bounded), then exit. So no
//! child outlives the supervisor, and none takes its last spans with it.

use std::fmt;
use std::io::{BufRead, Write};
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;
use tracewire::export::{Pipeline, PipelineError};

/// The first word of the line announcing the service's address.
pub const LISTENING: &str = "LISTENING";
/// The first word of an export report line.
pub const STATS: &str = "STATS";
/// The command asking a child to export what it holds.
pub const FLUSH: &str = "flush";

/// The longest command line a child reads; longer lines are skipped.
const MAX_COMMAND: usize = 64;

/// What a service's export pipeline has done, as its counters say.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ExportReport {
    /// Spans delivered.
    pub exported: u64,
    /// Spans in batches the exporter could not deliver.
    pub failed: u64,
    /// Spans dropped because the queue was full or the pipeline had shut down.
    pub dropped: u64,
    /// Spans accepted but neither delivered nor failed yet (an export still running when the
    /// deadline passed).
    pub pending: u64,
    /// The most recent problem, if any.
    pub error: Option<String>,
}

impl ExportReport {
    /// The pipeline's counters now, with `problem` (a flush or shutdown that did not finish)
    /// taking precedence over the exporter's last error.
    pub fn of(pipeline: &Pipeline, problem: Option<PipelineError>) -> ExportReport {
        let s = pipeline.stats();
        let error = problem
            .map(|p| p.to_string())
            .or_else(|| pipeline.last_error().map(|e| e.to_string()));
        ExportReport {
            exported: s.exported,
            failed: s.failed,
            dropped: s.dropped,
            pending: s.queued.saturating_sub(s.exported + s.failed),
            error,
        }
    }

    /// Spans that did not (yet) reach the destination.
    pub fn lost(&self) -> u64 {
        self.failed + self.dropped + self.pending
    }
}

/// The `STATS` line, without a newline. The error comes last: it is free text.
impl fmt::Display for ExportReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{STATS} exported={} failed={} dropped={} pending={}",
            self.exported, self.failed, self.dropped, self.pending
        )?;
        if let Some(e) = &self.error {
            // One line, whatever the error says.
            write!(f, " error={}", e.replace(['\n', '\r'], " "))?;
        }
        Ok(())
    }
}

/// Parses a `STATS` line.
impl FromStr for ExportReport {
    type Err = String;

    fn from_str(line: &str) -> Result<Self, Self::Err> {
        let rest = line
            .strip_prefix(STATS)
            .and_then(|r| r.strip_prefix(' '))
            .ok_or_else(|| format!("not a {STATS} line: {line:?}"))?;
        let (counts, error) = match rest.split_once(" error=") {
            Some((c, e)) => (c, Some(e.to_owned())),
            None => (rest, None),
        };
        let mut report = ExportReport {
            error,
            ..ExportReport::default()
        };
        for pair in counts.split_whitespace() {
            let (key, value) = pair
                .split_once('=')
                .ok_or_else(|| format!("bad field {pair:?}"))?;
            let n: u64 = value
                .parse()
                .map_err(|_| format!("bad count {value:?} for {key}"))?;
            match key {
                "exported" => report.exported = n,
                "failed" => report.failed = n,
                "dropped" => report.dropped = n,
                "pending" => report.pending = n,
                // Fields added later are skipped, so an older supervisor reads a newer child.
                _ => {}
            }
        }
        Ok(report)
    }
}

/// Why a service stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StopReason {
    /// Its stdin closed: the supervisor asked, or is gone.
    Supervisor,
    /// `SIGTERM`.
    Terminate,
    /// Ctrl-C (`SIGINT`).
    Interrupt,
}

impl fmt::Display for StopReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            StopReason::Supervisor => "the supervisor closed stdin",
            StopReason::Terminate => "SIGTERM",
            StopReason::Interrupt => "Ctrl-C",
        })
    }
}

/// Asks a service to stop; cheap to clone. The first reason wins.
#[derive(Debug, Clone)]
pub struct Stop {
    tx: Arc<watch::Sender<Option<StopReason>>>,
    give_up_after: Option<Duration>,
}

/// Waits for [`Stop`]; cheap to clone, every clone sees the stop.
#[derive(Debug, Clone)]
pub struct Stopped {
    rx: watch::Receiver<Option<StopReason>>,
}

/// A connected [`Stop`] and [`Stopped`]. With `give_up_after`, the process exits (status 1,
/// logged) if it is still running that long after the stop: every step of stopping has its own
/// deadline, and this one makes sure of the sum.
pub fn stop_signal(give_up_after: Option<Duration>) -> (Stop, Stopped) {
    let (tx, rx) = watch::channel(None);
    let stop = Stop {
        tx: Arc::new(tx),
        give_up_after,
    };
    (stop, Stopped { rx })
}

impl Stop {
    /// Stops the service (a second call keeps the first reason).
    pub fn stop(&self, reason: StopReason) {
        let first = self.tx.send_if_modified(|r| {
            let first = r.is_none();
            r.get_or_insert(reason);
            first
        });
        if let (true, Some(after)) = (first, self.give_up_after) {
            exit_after(after, reason);
        }
    }
}

/// Exits the process `after` from now, from a thread of its own.
fn exit_after(after: Duration, reason: StopReason) {
    let spawned = std::thread::Builder::new()
        .name("stop-deadline".into())
        .spawn(move || {
            std::thread::sleep(after);
            tracing::error!(%reason, "still running {after:?} after the stop; exiting now");
            #[expect(
                clippy::exit,
                reason = "the orderly stop overran its deadline; the process must not linger"
            )]
            std::process::exit(1);
        });
    if let Err(e) = spawned {
        tracing::warn!(error = %e, "no stop deadline: cannot start its thread");
    }
}

impl Stopped {
    /// Resolves once the service is asked to stop.
    pub async fn wait(mut self) -> StopReason {
        loop {
            if let Some(r) = *self.rx.borrow_and_update() {
                return r;
            }
            if self.rx.changed().await.is_err() {
                // Every `Stop` is gone, so nothing can ask any more: never resolve.
                std::future::pending::<()>().await;
            }
        }
    }

    /// The reason, if the service was asked to stop.
    pub fn reason(&self) -> Option<StopReason> {
        *self.rx.borrow()
    }
}

/// In a child: prints `LISTENING <addr>` for the supervisor.
pub fn announce_listening(addr: std::net::SocketAddr) {
    println!("{LISTENING} {addr}");
}

/// In a child: prints the `STATS` line for the supervisor.
pub fn announce(report: &ExportReport) {
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "{report}");
    let _ = out.flush();
}

/// In a child: serves the supervisor's commands on stdin from a thread of its own (no runtime
/// needed): `flush` exports what `pipeline` holds (waiting at most `flush_timeout`) and
/// answers with a `STATS` line; end of input stops the service.
pub fn serve_supervisor(pipeline: Pipeline, stop: Stop, flush_timeout: Duration) {
    let spawned = std::thread::Builder::new()
        .name("supervisor-pipe".into())
        .spawn(move || {
            let mut stdin = std::io::stdin().lock();
            let mut line = Vec::with_capacity(MAX_COMMAND);
            loop {
                line.clear();
                match read_command(&mut stdin, &mut line) {
                    Ok(true) => {}
                    // End of input or a broken pipe: either way the supervisor is done with us.
                    Ok(false) | Err(_) => break,
                }
                if line.trim_ascii() == FLUSH.as_bytes() {
                    let problem = pipeline.flush(flush_timeout).err();
                    announce(&ExportReport::of(&pipeline, problem));
                }
            }
            stop.stop(StopReason::Supervisor);
        });
    if let Err(e) = spawned {
        tracing::error!(error = %e, "cannot watch stdin; the service will not stop with its supervisor");
    }
}

/// Reads one line into `line`, keeping at most [`MAX_COMMAND`] bytes of it. `Ok(false)` at end of
/// input.
fn read_command(input: &mut impl BufRead, line: &mut Vec<u8>) -> std::io::Result<bool> {
    let mut read_any = false;
    loop {
        let buf = input.fill_buf()?;
        if buf.is_empty() {
            return Ok(read_any);
        }
        read_any = true;
        let (chunk, done) = match buf.iter().position(|&b| b == b'\n') {
            Some(i) => (&buf[..i], i + 1),
            None => (buf, buf.len()),
        };
        let room = MAX_COMMAND.saturating_sub(line.len());
        line.extend_from_slice(&chunk[..chunk.len().min(room)]);
        let newline = done > chunk.len();
        input.consume(done);
        if newline {
            return Ok(true);
        }
    }
}

/// In a child, on its runtime: stops the service on `SIGTERM` or Ctrl-C.
pub fn stop_on_signals(stop: &Stop) {
    let on_ctrl_c = stop.clone();
    tokio::spawn(async move {
        if tokio::signal::ctrl_c().await.is_ok() {
            on_ctrl_c.stop(StopReason::Interrupt);
        }
    });
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                let stop = stop.clone();
                tokio::spawn(async move {
                    if term.recv().await.is_some() {
                        stop.stop(StopReason::Terminate);
                    }
                });
            }
            Err(e) => tracing::warn!(error = %e, "cannot listen for SIGTERM"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn report_lines_round_trip() {
        let r = ExportReport {
            exported: 212,
            failed: 3,
            dropped: 1,
            pending: 0,
            error: Some("export failed: connection refused\nretrying".into()),
        };
        let line = r.to_string();
        assert_eq!(
            line,
            "STATS exported=212 failed=3 dropped=1 pending=0 \
             error=export failed: connection refused retrying"
        );
        let back: ExportReport = line.parse().unwrap();
        assert_eq!(back.exported, 212);
        assert_eq!(back.lost(), 4);
        assert_eq!(
            back.error.as_deref(),
            Some("export failed: connection refused retrying")
        );
        let clean: ExportReport = "STATS exported=5 failed=0 dropped=0 pending=0 later=9"
            .parse()
            .unwrap();
        assert_eq!(
            clean,
            ExportReport {
                exported: 5,
                ..ExportReport::default()
            }
        );
        assert!("LISTENING 127.0.0.1:1".parse::<ExportReport>().is_err());
        assert!("STATS exported=x".parse::<ExportReport>().is_err());
    }

    #[test]
    fn commands_are_lines_and_long_ones_are_cut() {
        let long = "x".repeat(1000);
        let text = format!("flush\n{long}\nflush");
        let mut input = std::io::BufReader::with_capacity(16, text.as_bytes());
        let mut line = Vec::new();
        let mut lines = Vec::new();
        while read_command(&mut input, &mut line).unwrap() {
            lines.push(String::from_utf8(std::mem::take(&mut line)).unwrap());
        }
        assert_eq!(lines, ["flush", &"x".repeat(MAX_COMMAND), "flush"]);
    }

    #[tokio::test]
    async fn the_first_stop_reason_wins_and_every_waiter_sees_it() {
        let (stop, stopped) = stop_signal(None);
        let other = stopped.clone();
        assert_eq!(stopped.reason(), None);
        stop.stop(StopReason::Terminate);
        stop.clone().stop(StopReason::Supervisor);
        assert_eq!(stopped.wait().await, StopReason::Terminate);
        assert_eq!(other.wait().await, StopReason::Terminate);
    }
}
