//! [`SpinLock`]: the lock of the export queue and of the layer's span table, whose critical
//! sections are a few dozen instructions each.
//!
//! Released by a plain store, it costs one atomic read-modify-write a lock and unlock where a
//! sleeping mutex costs two (its release must swap the state to learn whether anyone sleeps):
//! on the request path, where the span table is locked several times a span and the queue once,
//! those atomics are a measurable part of what a span costs. A waiter tries only when it sees
//! the lock free (so waiters read the lock's cache line instead of each writing it), spins a
//! few times, then yields its CPU between tries, then sleeps between tries: a holder that was
//! preempted always gets to run and finish, whatever the threads' priorities.

use std::time::Duration;

use spin::mutex::{SpinMutex, SpinMutexGuard};

/// Tries at the lock before a waiter yields its CPU between tries, and before it sleeps
/// ([`LOCK_NAP`]) between tries: past these the holder was most likely preempted.
const LOCK_SPINS: u32 = 16;
const LOCK_YIELDS: u32 = 1024;

/// How long a waiter sleeps between tries once yielding has not freed the lock: long enough
/// for the scheduler to run the holder even where a yield would not (a waiter of higher
/// real-time priority on the holder's CPU).
const LOCK_NAP: Duration = Duration::from_micros(50);

/// A lock for critical sections that run no user code and never block.
#[derive(Default)]
pub(crate) struct SpinLock<T>(SpinMutex<T>);

impl<T> SpinLock<T> {
    pub(crate) const fn new(value: T) -> Self {
        SpinLock(SpinMutex::new(value))
    }

    /// Takes the lock: spins while it is held, then yields, then naps between tries (see the
    /// module docs).
    #[inline]
    pub(crate) fn lock(&self) -> SpinMutexGuard<'_, T> {
        if let Some(guard) = self.0.try_lock() {
            return guard;
        }
        self.lock_contended()
    }

    #[cold]
    #[inline(never)]
    fn lock_contended(&self) -> SpinMutexGuard<'_, T> {
        let mut tries = 0u32;
        loop {
            if !self.0.is_locked()
                && let Some(guard) = self.0.try_lock()
            {
                return guard;
            }
            tries = tries.saturating_add(1);
            if tries < LOCK_SPINS {
                std::hint::spin_loop();
            } else if tries < LOCK_YIELDS {
                std::thread::yield_now();
            } else {
                std::thread::sleep(LOCK_NAP);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;

    #[test]
    fn threads_that_meet_on_the_lock_each_get_it() {
        let lock = Arc::new(SpinLock::new(0u64));
        let threads: Vec<_> = (0..4)
            .map(|_| {
                let lock = Arc::clone(&lock);
                std::thread::spawn(move || {
                    for _ in 0..10_000 {
                        *lock.lock() += 1;
                    }
                })
            })
            .collect();
        for t in threads {
            t.join().unwrap();
        }
        assert_eq!(*lock.lock(), 40_000);
    }
}
