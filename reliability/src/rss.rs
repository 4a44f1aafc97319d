//! Resident memory of a process, from `/proc/<pid>/status` (`VmRSS`, `VmHWM`), read once or
//! sampled on a thread of its own.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::thread::JoinHandle;
use std::time::Duration;

use serde::Serialize;

use crate::BoxError;

/// One reading, in bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Rss {
    /// `VmRSS`: resident now.
    pub rss: u64,
    /// `VmHWM`: the peak resident set since the process started.
    pub hwm: u64,
}

impl Rss {
    /// Reads `/proc/<pid>/status`.
    pub fn of(pid: u32) -> Result<Rss, BoxError> {
        let status = std::fs::read_to_string(format!("/proc/{pid}/status"))
            .map_err(|e| format!("reading /proc/{pid}/status: {e}"))?;
        Rss::parse(&status).ok_or_else(|| format!("no VmRSS/VmHWM in /proc/{pid}/status").into())
    }

    fn parse(status: &str) -> Option<Rss> {
        let field = |name: &str| {
            status
                .lines()
                .find_map(|l| l.strip_prefix(name))
                .and_then(|v| v.trim().strip_suffix("kB"))
                .and_then(|v| v.trim().parse::<u64>().ok())
                .map(|kb| kb * 1024)
        };
        Some(Rss {
            rss: field("VmRSS:")?,
            hwm: field("VmHWM:")?,
        })
    }
}

/// Bytes as MiB with one decimal.
pub fn mib(bytes: u64) -> f64 {
    (bytes as f64 / f64::from(1u32 << 20) * 10.0).round() / 10.0
}

/// What a [`Sampler`] saw between its [`mark`](Sampler::mark) and its end.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct RssRange {
    /// The first reading after the mark (or after start).
    pub first: u64,
    /// The smallest reading.
    pub min: u64,
    /// The largest reading.
    pub max: u64,
    /// The last reading.
    pub last: u64,
    /// Readings taken.
    pub samples: u64,
}

impl RssRange {
    /// The largest distance of any reading from the first.
    pub fn max_deviation(&self) -> u64 {
        (self.max - self.first).max(self.first - self.min)
    }
}

#[derive(Debug, Default)]
struct Shared {
    stop: AtomicBool,
    reset: AtomicBool,
    first: AtomicU64,
    min: AtomicU64,
    max: AtomicU64,
    last: AtomicU64,
    samples: AtomicU64,
}

/// Samples a process's `VmRSS` at a fixed interval until dropped or finished. Memory use is
/// constant: only the range is kept.
#[derive(Debug)]
pub struct Sampler {
    shared: Arc<Shared>,
    thread: Option<JoinHandle<()>>,
}

impl Sampler {
    /// Starts sampling `pid` every `every`.
    pub fn start(pid: u32, every: Duration) -> Sampler {
        let shared = Arc::new(Shared::default());
        shared.reset.store(true, Ordering::Release);
        let s = shared.clone();
        let thread = std::thread::spawn(move || {
            while !s.stop.load(Ordering::Acquire) {
                if let Ok(r) = Rss::of(pid) {
                    if s.reset.swap(false, Ordering::AcqRel) {
                        s.first.store(r.rss, Ordering::Release);
                        s.min.store(r.rss, Ordering::Release);
                        s.max.store(r.rss, Ordering::Release);
                        s.samples.store(0, Ordering::Release);
                    }
                    s.min.fetch_min(r.rss, Ordering::AcqRel);
                    s.max.fetch_max(r.rss, Ordering::AcqRel);
                    s.last.store(r.rss, Ordering::Release);
                    s.samples.fetch_add(1, Ordering::AcqRel);
                }
                std::thread::sleep(every);
            }
        });
        Sampler {
            shared,
            thread: Some(thread),
        }
    }

    /// Forgets what was seen so far (the warm-up): the range starts again at the next reading.
    pub fn mark(&self) {
        self.shared.reset.store(true, Ordering::Release);
    }

    /// The range so far.
    pub fn range(&self) -> RssRange {
        let s = &self.shared;
        RssRange {
            first: s.first.load(Ordering::Acquire),
            min: s.min.load(Ordering::Acquire),
            max: s.max.load(Ordering::Acquire),
            last: s.last.load(Ordering::Acquire),
            samples: s.samples.load(Ordering::Acquire),
        }
    }

    /// Stops sampling and returns the range.
    pub fn finish(mut self) -> RssRange {
        self.stop();
        self.range()
    }

    fn stop(&mut self) {
        self.shared.stop.store(true, Ordering::Release);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

impl Drop for Sampler {
    fn drop(&mut self) {
        self.stop();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_fields_are_read_in_bytes() {
        let status = "Name:\tx\nVmHWM:\t   20480 kB\nVmRSS:\t   10240 kB\nThreads:\t3\n";
        assert_eq!(
            Rss::parse(status),
            Some(Rss {
                rss: 10 << 20,
                hwm: 20 << 20
            })
        );
        assert_eq!(Rss::parse("Name:\tkthread\n"), None);
    }

    #[test]
    fn this_process_is_sampled() {
        let pid = std::process::id();
        let now = Rss::of(pid).unwrap();
        assert!(now.rss > 0 && now.hwm >= now.rss, "{now:?}");
        let sampler = Sampler::start(pid, Duration::from_millis(1));
        while sampler.range().samples < 3 {
            std::thread::sleep(Duration::from_millis(1));
        }
        let r = sampler.finish();
        assert!(r.min > 0 && r.min <= r.first && r.first <= r.max, "{r:?}");
        assert!(r.max_deviation() <= r.max - r.min);
    }

    #[test]
    fn mib_rounds_to_a_tenth() {
        assert_eq!(mib(3 << 20), 3.0);
        assert_eq!(mib((1 << 20) + (1 << 19)), 1.5);
    }
}
