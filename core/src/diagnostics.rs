//! Counted, rate-limited diagnostics: bad inbound trace context, and exporters that panic.
//!
//! Middleware calls [`report_extract_error`] when a request's trace headers are malformed,
//! oversized or hostile. The request goes on with a fresh trace; the error is counted, and a
//! warning is logged at most once per [`LOG_INTERVAL`] (with the number suppressed since), so a
//! flood of bad headers cannot flood the logs.
//!
//! The export pipeline's worker catches an exporter that panics and reports it here
//! ([`exporter_panics`] counts them); it logs an `ERROR` on the same schedule and goes on
//! exporting.

use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use crate::error::ExtractError;

/// The shortest time between two logged warnings of one kind.
pub const LOG_INTERVAL: Duration = Duration::from_secs(10);

fn origin() -> Instant {
    static ORIGIN: OnceLock<Instant> = OnceLock::new();
    *ORIGIN.get_or_init(Instant::now)
}

/// A counter whose reports are logged at most once per [`LOG_INTERVAL`].
struct RateLimited {
    count: AtomicU64,
    suppressed: AtomicU64,
    /// Milliseconds since `origin()` of the last logged report, plus one (0 = never).
    last_log: AtomicU64,
}

impl RateLimited {
    const fn new() -> Self {
        RateLimited {
            count: AtomicU64::new(0),
            suppressed: AtomicU64::new(0),
            last_log: AtomicU64::new(0),
        }
    }

    /// Counts one report; `Some(suppressed since the last log)` when this one should be logged.
    fn hit(&self) -> Option<u64> {
        let now = u64::try_from(origin().elapsed().as_millis()).unwrap_or(u64::MAX);
        self.hit_at(now.saturating_add(1))
    }

    /// [`hit`](Self::hit) at `now` milliseconds (never 0).
    fn hit_at(&self, now: u64) -> Option<u64> {
        self.count.fetch_add(1, Ordering::Relaxed);
        let last = self.last_log.load(Ordering::Relaxed);
        let due = last == 0 || now.saturating_sub(last) >= LOG_INTERVAL.as_millis() as u64;
        if due
            && self
                .last_log
                .compare_exchange(last, now, Ordering::Relaxed, Ordering::Relaxed)
                .is_ok()
        {
            Some(self.suppressed.swap(0, Ordering::Relaxed))
        } else {
            self.suppressed.fetch_add(1, Ordering::Relaxed);
            None
        }
    }

    fn count(&self) -> u64 {
        self.count.load(Ordering::Relaxed)
    }
}

static EXTRACT_ERRORS: RateLimited = RateLimited::new();
static EXPORTER_PANICS: RateLimited = RateLimited::new();

/// Counts an invalid inbound context and logs it if no warning was logged recently.
pub fn report_extract_error(err: &ExtractError) {
    if let Some(suppressed) = EXTRACT_ERRORS.hit() {
        tracing::warn!(
            target: "tracewire",
            error = %err,
            header = err.header(),
            suppressed,
            "ignored invalid inbound trace context; started a new trace"
        );
    }
}

/// How many invalid inbound contexts were reported since the process started.
pub fn extract_errors() -> u64 {
    EXTRACT_ERRORS.count()
}

/// Counts a panic caught in an exporter's `call` (`export`, `force_flush`, `shutdown`) and logs
/// it if none was logged recently.
pub(crate) fn report_exporter_panic(exporter: &str, call: &str, message: &str) {
    if let Some(suppressed) = EXPORTER_PANICS.hit() {
        tracing::error!(
            target: "tracewire",
            exporter,
            call,
            panic = message,
            suppressed,
            "span exporter panicked; its spans are counted as failed and it is called again for \
             the next batch"
        );
    }
}

/// How many exporter calls panicked (and were caught) since the process started, across every
/// pipeline. Each pipeline also counts its own in
/// [`PipelineStats::panics`](crate::export::PipelineStats::panics).
pub fn exporter_panics() -> u64 {
    EXPORTER_PANICS.count()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_every_error_and_logs_one_per_interval() {
        let interval = LOG_INTERVAL.as_millis() as u64;
        let limit = RateLimited::new();
        assert_eq!(limit.hit_at(5), Some(0));
        for i in 0..999 {
            assert_eq!(limit.hit_at(5 + i % interval), None);
        }
        assert_eq!(limit.count(), 1000);
        // An interval after the last log, the next report is logged with the tally.
        assert_eq!(limit.hit_at(5 + interval), Some(999));
        assert_eq!(limit.hit_at(6 + interval), None);
        assert_eq!(limit.count(), 1002);
    }

    #[test]
    fn extract_errors_are_counted() {
        let before = extract_errors();
        let err = ExtractError::Malformed {
            header: "traceparent",
            reason: "test",
        };
        for _ in 0..1000 {
            report_extract_error(&err);
        }
        // Other tests may report too, never fewer.
        assert!(extract_errors() >= before + 1000);
    }
}
