//! Where queries run: a small pool of threads of its own, so a heavy query never occupies the
//! runtime the receivers answer on, with a bounded queue and a time budget per query.
//!
//! [`QueryPool::run`] hands a query to the pool and waits for it without blocking the runtime.
//! A query that does not finish within the budget is answered [`QueryError::TimedOut`] at the
//! deadline; the store's scans check the same deadline ([`expired`]) and stop early, so the
//! thread is soon free again. A full queue answers [`QueryError::Busy`] at once.

use std::cell::Cell;
use std::fmt;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, Sender, TrySendError};
use parking_lot::Mutex;

/// Settings of a [`QueryPool`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct PoolLimits {
    /// Threads running queries (default 2).
    pub(crate) threads: usize,
    /// Queries waiting for a thread (default 32).
    pub(crate) queue: usize,
    /// The longest a query may take, waiting included (default 5 s).
    pub(crate) budget: Duration,
}

impl Default for PoolLimits {
    fn default() -> Self {
        PoolLimits {
            threads: 2,
            queue: 32,
            budget: Duration::from_secs(5),
        }
    }
}

/// Why a query was not answered.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub(crate) enum QueryError {
    /// Every thread is busy and the queue is full.
    Busy { threads: usize, queue: usize },
    /// The query did not finish within the budget.
    TimedOut(Duration),
    /// The pool's threads could not be started.
    Unavailable,
}

impl fmt::Display for QueryError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            QueryError::Busy { threads, queue } => write!(
                f,
                "too many queries in progress ({threads} running, {queue} waiting); retry later"
            ),
            QueryError::TimedOut(budget) => write!(
                f,
                "query exceeded its time budget of {budget:?}; narrow it (service, time range, \
                 limit) and retry"
            ),
            QueryError::Unavailable => f.write_str("query threads could not be started"),
        }
    }
}

type Job = Box<dyn FnOnce() + Send>;

/// The query threads.
pub(crate) struct QueryPool {
    limits: PoolLimits,
    tx: Sender<Job>,
    rx: Receiver<Job>,
    /// Started lazily, on the first query.
    started: Mutex<bool>,
}

impl fmt::Debug for QueryPool {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("QueryPool")
            .field("limits", &self.limits)
            .field("waiting", &self.tx.len())
            .finish()
    }
}

thread_local! {
    static DEADLINE: Cell<Option<Instant>> = const { Cell::new(None) };
}

/// Whether the query running on this thread is past its deadline (never, outside the pool).
/// Long loops call it every few thousand steps and stop early when it says so; their caller is
/// answered [`QueryError::TimedOut`] whatever they return.
pub(crate) fn expired() -> bool {
    DEADLINE.get().is_some_and(|d| Instant::now() >= d)
}

impl QueryPool {
    pub(crate) fn new(limits: PoolLimits) -> Arc<QueryPool> {
        let limits = PoolLimits {
            threads: limits.threads.max(1),
            ..limits
        };
        let (tx, rx) = crossbeam_channel::bounded(limits.queue);
        Arc::new(QueryPool {
            limits,
            tx,
            rx,
            started: Mutex::new(false),
        })
    }

    fn start(&self) -> Result<(), QueryError> {
        let mut started = self.started.lock();
        if *started {
            return Ok(());
        }
        for i in 0..self.limits.threads {
            let rx = self.rx.clone();
            std::thread::Builder::new()
                .name(format!("tracewire-collector-query-{i}"))
                .spawn(move || {
                    // Ends when the pool (the last sender) is dropped.
                    while let Ok(job) = rx.recv() {
                        job();
                    }
                })
                .map_err(|_| QueryError::Unavailable)?;
        }
        *started = true;
        Ok(())
    }

    /// Runs `query` on the pool within the time budget.
    pub(crate) async fn run<T: Send + 'static>(
        &self,
        query: impl FnOnce() -> T + Send + 'static,
    ) -> Result<T, QueryError> {
        self.start()?;
        let budget = self.limits.budget;
        let deadline = Instant::now() + budget;
        let (done, answer) = tokio::sync::oneshot::channel();
        let job: Job = Box::new(move || {
            if Instant::now() >= deadline || done.is_closed() {
                return; // waited out its whole budget in the queue, or nobody is waiting
            }
            DEADLINE.set(Some(deadline));
            let out = query();
            let late = expired();
            DEADLINE.set(None);
            if !late {
                let _ = done.send(out);
            }
        });
        match self.tx.try_send(job) {
            Ok(()) => {}
            Err(TrySendError::Full(_)) => {
                return Err(QueryError::Busy {
                    threads: self.limits.threads,
                    queue: self.limits.queue,
                });
            }
            Err(TrySendError::Disconnected(_)) => return Err(QueryError::Unavailable),
        }
        match tokio::time::timeout_at(deadline.into(), answer).await {
            Ok(Ok(out)) => Ok(out),
            // Dropped unanswered: the query ran past its deadline.
            Ok(Err(_)) | Err(_) => Err(QueryError::TimedOut(budget)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pool(threads: usize, queue: usize, budget_ms: u64) -> Arc<QueryPool> {
        QueryPool::new(PoolLimits {
            threads,
            queue,
            budget: Duration::from_millis(budget_ms),
        })
    }

    #[tokio::test]
    async fn answers_from_another_thread() {
        let p = pool(1, 4, 5000);
        let here = std::thread::current().id();
        let there = p.run(|| std::thread::current().id()).await.unwrap();
        assert_ne!(here, there);
        assert!(!expired(), "no deadline outside the pool");
    }

    #[tokio::test]
    async fn a_query_past_its_budget_times_out_and_sees_the_deadline() {
        let p = pool(1, 4, 50);
        let saw = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let s = saw.clone();
        let err = p
            .run(move || {
                // A cooperative scan: stops as soon as the deadline passes.
                while !expired() {
                    std::thread::sleep(Duration::from_millis(1));
                }
                s.store(true, std::sync::atomic::Ordering::SeqCst);
            })
            .await
            .unwrap_err();
        assert_eq!(err, QueryError::TimedOut(Duration::from_millis(50)));
        assert_eq!(
            err.to_string(),
            "query exceeded its time budget of 50ms; narrow it (service, time range, limit) and \
             retry"
        );
        // The thread is free again for the next query.
        assert_eq!(p.run(|| 7).await, Ok(7));
        assert!(saw.load(std::sync::atomic::Ordering::SeqCst));
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_full_queue_answers_busy_at_once() {
        let p = pool(1, 1, 5000);
        let (hold, held) = std::sync::mpsc::channel::<()>();
        let (started, wait_started) = std::sync::mpsc::channel::<()>();
        let running = {
            let p = p.clone();
            tokio::spawn(async move {
                p.run(move || {
                    let _ = started.send(());
                    let _ = held.recv();
                })
                .await
            })
        };
        tokio::task::block_in_place(|| wait_started.recv()).unwrap();
        let queued = {
            let p = p.clone();
            tokio::spawn(async move { p.run(|| 1).await })
        };
        // Wait until the second query sits in the queue.
        while p.tx.is_empty() {
            tokio::task::yield_now().await;
        }
        let err = p.run(|| 2).await.unwrap_err();
        assert_eq!(
            err,
            QueryError::Busy {
                threads: 1,
                queue: 1
            }
        );
        assert_eq!(
            err.to_string(),
            "too many queries in progress (1 running, 1 waiting); retry later"
        );
        hold.send(()).unwrap();
        assert_eq!(running.await.unwrap(), Ok(()));
        assert_eq!(queued.await.unwrap(), Ok(1));
    }
}
