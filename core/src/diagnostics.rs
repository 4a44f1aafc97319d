//! Counted, rate-limited diagnostics for bad inbound trace context.
//!
//! Middleware calls [`report_extract_error`] when a request's trace headers are malformed,
//! oversized or hostile. The request goes on with a fresh trace; the error is counted, and a
//! warning is logged at most once per [`LOG_INTERVAL`] (with the number suppressed since), so a
//! flood of bad headers cannot flood the logs.

use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use crate::error::ExtractError;

/// The shortest time between two logged warnings.
pub const LOG_INTERVAL: Duration = Duration::from_secs(10);

static EXTRACT_ERRORS: AtomicU64 = AtomicU64::new(0);
static SUPPRESSED: AtomicU64 = AtomicU64::new(0);
/// Milliseconds since `origin()` of the last logged warning, plus one (0 = never).
static LAST_LOG: AtomicU64 = AtomicU64::new(0);

fn origin() -> Instant {
    static ORIGIN: OnceLock<Instant> = OnceLock::new();
    *ORIGIN.get_or_init(Instant::now)
}

/// Counts an invalid inbound context and logs it if no warning was logged recently.
pub fn report_extract_error(err: &ExtractError) {
    EXTRACT_ERRORS.fetch_add(1, Ordering::Relaxed);
    let now = origin().elapsed().as_millis() as u64 + 1;
    let last = LAST_LOG.load(Ordering::Relaxed);
    let due = last == 0 || now.saturating_sub(last) >= LOG_INTERVAL.as_millis() as u64;
    if due
        && LAST_LOG
            .compare_exchange(last, now, Ordering::Relaxed, Ordering::Relaxed)
            .is_ok()
    {
        let suppressed = SUPPRESSED.swap(0, Ordering::Relaxed);
        tracing::warn!(
            target: "tracewire",
            error = %err,
            header = err.header(),
            suppressed,
            "ignored invalid inbound trace context; started a new trace"
        );
    } else {
        SUPPRESSED.fetch_add(1, Ordering::Relaxed);
    }
}

/// How many invalid inbound contexts were reported since the process started.
pub fn extract_errors() -> u64 {
    EXTRACT_ERRORS.load(Ordering::Relaxed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_every_error() {
        let before = extract_errors();
        let err = ExtractError::Malformed {
            header: "traceparent",
            reason: "test",
        };
        for _ in 0..1000 {
            report_extract_error(&err);
        }
        assert!(extract_errors() >= before + 1000);
    }
}
