//! The sampling stage's notion of time: a monotonic [`Clock`], real ([`SystemClock`]) or driven
//! by hand ([`ManualClock`]) so tests and benchmarks decide traces without sleeping.

use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// A monotonic clock: the time elapsed since an arbitrary origin, never going backwards.
///
/// The sampling stage reads it for arrival times, the idle gap, the maximum wait, the buffer's
/// window and the decision cache's time to live. Span timestamps (wall clock, from the sender)
/// are never used for those, so a sender's clock skew cannot hold a trace back or evict it early.
pub trait Clock: Send + Sync + 'static {
    /// Time since the clock's origin.
    fn now(&self) -> Duration;
}

/// The process's monotonic clock ([`Instant`]), counted from the clock's creation.
#[derive(Clone, Copy, Debug)]
pub struct SystemClock {
    origin: Instant,
}

impl SystemClock {
    /// A clock starting at zero now.
    pub fn new() -> Self {
        SystemClock {
            origin: Instant::now(),
        }
    }
}

impl Default for SystemClock {
    fn default() -> Self {
        SystemClock::new()
    }
}

impl Clock for SystemClock {
    fn now(&self) -> Duration {
        self.origin.elapsed()
    }
}

/// A clock that moves only when told to; clones share the same time.
///
/// ```
/// use std::time::Duration;
/// use tracewire_collector::sampling::{Clock, ManualClock};
///
/// let clock = ManualClock::new();
/// let seen_by_stage = clock.clone();
/// clock.advance(Duration::from_millis(2500));
/// assert_eq!(seen_by_stage.now(), Duration::from_millis(2500));
/// ```
#[derive(Clone, Default)]
pub struct ManualClock {
    nanos: Arc<AtomicU64>,
}

impl fmt::Debug for ManualClock {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ManualClock")
            .field("now", &self.now())
            .finish()
    }
}

impl ManualClock {
    /// A clock at zero.
    pub fn new() -> Self {
        ManualClock::default()
    }

    /// Moves the clock forward by `d` (saturating).
    pub fn advance(&self, d: Duration) {
        let add = u64::try_from(d.as_nanos()).unwrap_or(u64::MAX);
        let _ = self
            .nanos
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| {
                Some(n.saturating_add(add))
            });
    }

    /// Sets the clock to `t`, unless that would move it backwards.
    pub fn set(&self, t: Duration) {
        let t = u64::try_from(t.as_nanos()).unwrap_or(u64::MAX);
        self.nanos.fetch_max(t, Ordering::AcqRel);
    }
}

impl Clock for ManualClock {
    fn now(&self) -> Duration {
        Duration::from_nanos(self.nanos.load(Ordering::Acquire))
    }
}

/// Nanoseconds on the stage's clock.
pub(crate) type Nanos = u64;

/// Reads `clock` as [`Nanos`].
pub(crate) fn nanos_of(d: Duration) -> Nanos {
    u64::try_from(d.as_nanos()).unwrap_or(u64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn manual_clock_moves_forward_only_and_saturates() {
        let c = ManualClock::new();
        c.advance(Duration::from_secs(3));
        c.set(Duration::from_secs(1));
        assert_eq!(c.now(), Duration::from_secs(3));
        c.set(Duration::from_secs(10));
        assert_eq!(c.now(), Duration::from_secs(10));
        c.advance(Duration::MAX);
        assert_eq!(c.now(), Duration::from_nanos(u64::MAX));
        assert_eq!(nanos_of(Duration::MAX), u64::MAX);
    }

    #[test]
    fn system_clock_is_monotonic() {
        let c = SystemClock::new();
        let a = c.now();
        let b = c.now();
        assert!(b >= a);
    }
}
