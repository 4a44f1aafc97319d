//! Spans on their way into the store: the decoded form receivers and the in-process exporter
//! produce ([`NewBatch`]), and the bounded queue that feeds the store's single writer thread.

use std::borrow::Cow;
use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::thread::JoinHandle;
use std::time::Duration;

use crossbeam_channel::{Receiver, RecvTimeoutError, Sender};
use parking_lot::{Mutex, RwLock};

use crate::model::{IngestObserver, SpanId, SpanKind, StatusCode, TraceId};
use crate::sampling::{Command, SamplingShared, SamplingStage};
use crate::store::Store;

/// A string that is usually `'static` in process and owned when decoded from the wire.
pub(crate) type Str = Cow<'static, str>;

/// A decoded attribute value.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum NewValue {
    Str(Str),
    Bool(bool),
    Int(i64),
    Double(f64),
    /// Arrays, maps and bytes, as JSON text.
    Json(String),
}

/// A decoded event.
#[derive(Clone, Debug)]
pub(crate) struct NewEvent {
    pub(crate) time_unix_nano: u64,
    pub(crate) name: Str,
    pub(crate) attributes: Vec<(Str, NewValue)>,
}

/// A decoded link.
#[derive(Clone, Debug)]
pub(crate) struct NewLink {
    pub(crate) trace_id: TraceId,
    pub(crate) span_id: SpanId,
    pub(crate) attributes: Vec<(Str, NewValue)>,
}

/// A decoded span with valid ids.
#[derive(Clone, Debug)]
pub(crate) struct NewSpan {
    pub(crate) trace_id: TraceId,
    pub(crate) span_id: SpanId,
    pub(crate) parent_span_id: SpanId,
    pub(crate) name: Str,
    pub(crate) kind: SpanKind,
    pub(crate) start_unix_nano: u64,
    pub(crate) end_unix_nano: u64,
    pub(crate) attributes: Vec<(Str, NewValue)>,
    pub(crate) status: StatusCode,
    pub(crate) status_message: Option<String>,
    pub(crate) events: Vec<NewEvent>,
    pub(crate) links: Vec<NewLink>,
    pub(crate) trace_state: Option<String>,
    pub(crate) flags: u32,
    pub(crate) dropped_attributes: u32,
    pub(crate) dropped_events: u32,
    pub(crate) dropped_links: u32,
}

/// The resource and scope shared by a group of spans.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct NewSource {
    pub(crate) service: Str,
    pub(crate) resource: Vec<(Str, NewValue)>,
    pub(crate) scope_name: Str,
    pub(crate) scope_version: Str,
}

/// Spans from one resource and scope.
#[derive(Clone, Debug)]
pub(crate) struct NewBatch {
    pub(crate) source: Arc<NewSource>,
    pub(crate) spans: Vec<NewSpan>,
}

enum Msg {
    Spans(Vec<NewBatch>, usize),
    Flush(tokio::sync::oneshot::Sender<()>),
    Sampling(Command),
    Stop,
}

/// Why spans were not accepted into the ingest queue.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum SubmitError {
    /// The queue holds its maximum number of spans: back-pressure.
    Full,
    /// The collector is shut down.
    Closed,
}

#[derive(Default)]
pub(crate) struct Counters {
    pub(crate) accepted: AtomicU64,
    pub(crate) rejected: AtomicU64,
    pub(crate) refused: AtomicU64,
}

/// Everything the receivers, the exporter and the readers share.
pub(crate) struct Shared {
    pub(crate) store: RwLock<Store>,
    tx: Sender<Msg>,
    queued: AtomicUsize,
    max_queued: usize,
    pub(crate) counters: Counters,
    writer: Mutex<Option<JoinHandle<()>>>,
    /// What the tail-sampling stage in front of the store publishes, when there is one.
    pub(crate) sampling: Option<Arc<SamplingShared>>,
}

impl fmt::Debug for Shared {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Shared")
            .field("queued", &self.queued.load(Ordering::Relaxed))
            .field("max_queued", &self.max_queued)
            .finish_non_exhaustive()
    }
}

impl Shared {
    /// Starts the writer thread over `store`, with `stage` (if any) deciding which spans reach
    /// it.
    pub(crate) fn start(
        store: Store,
        max_queued: usize,
        observers: Vec<Arc<dyn IngestObserver>>,
        stage: Option<SamplingStage>,
    ) -> Arc<Shared> {
        let (tx, rx) = crossbeam_channel::unbounded();
        let shared = Arc::new(Shared {
            store: RwLock::new(store),
            tx,
            queued: AtomicUsize::new(0),
            max_queued: max_queued.max(1),
            counters: Counters::default(),
            writer: Mutex::new(None),
            sampling: stage.as_ref().map(SamplingStage::shared),
        });
        let writer_shared = shared.clone();
        let handle = std::thread::Builder::new()
            .name("tracewire-collector-store".into())
            .spawn(move || writer(&writer_shared, &rx, &observers, stage))
            .ok();
        *shared.writer.lock() = handle;
        shared
    }

    /// Queues spans for the writer without blocking.
    pub(crate) fn submit(&self, batches: Vec<NewBatch>) -> Result<usize, SubmitError> {
        let n: usize = batches.iter().map(|b| b.spans.len()).sum();
        if n == 0 {
            return Ok(0);
        }
        let prev = self.queued.fetch_add(n, Ordering::AcqRel);
        if prev + n > self.max_queued && prev > 0 {
            self.queued.fetch_sub(n, Ordering::AcqRel);
            self.counters.refused.fetch_add(n as u64, Ordering::Relaxed);
            return Err(SubmitError::Full);
        }
        if self.tx.send(Msg::Spans(batches, n)).is_err() {
            self.queued.fetch_sub(n, Ordering::AcqRel);
            return Err(SubmitError::Closed);
        }
        self.counters
            .accepted
            .fetch_add(n as u64, Ordering::Relaxed);
        Ok(n)
    }

    /// Counts spans a receiver rejected (invalid ids).
    pub(crate) fn count_rejected(&self, n: u64) {
        if n > 0 {
            self.counters.rejected.fetch_add(n, Ordering::Relaxed);
        }
    }

    /// Spans rejected or refused since start.
    pub(crate) fn rejected(&self) -> u64 {
        self.counters.rejected.load(Ordering::Relaxed)
            + self.counters.refused.load(Ordering::Relaxed)
    }

    /// Spans waiting for the writer.
    pub(crate) fn queued(&self) -> usize {
        self.queued.load(Ordering::Acquire)
    }

    /// Hands a request to the sampling stage on the writer thread.
    pub(crate) fn sampling_command(&self, cmd: Command) -> bool {
        self.tx.send(Msg::Sampling(cmd)).is_ok()
    }

    /// Waits until everything queued before the call is stored.
    pub(crate) async fn flush(&self) {
        let (ack, done) = tokio::sync::oneshot::channel();
        if self.tx.send(Msg::Flush(ack)).is_ok() {
            let _ = done.await;
        }
    }

    /// [`Shared::flush`] for non-async callers; must not be called on a runtime thread.
    pub(crate) fn flush_blocking(&self) {
        let (ack, done) = tokio::sync::oneshot::channel();
        if self.tx.send(Msg::Flush(ack)).is_ok() {
            let _ = done.blocking_recv();
        }
    }

    /// Stores what is queued and stops the writer thread.
    pub(crate) fn stop(&self) {
        let _ = self.tx.send(Msg::Stop);
        if let Some(h) = self.writer.lock().take() {
            let _ = h.join();
        }
    }
}

/// How many queued messages the writer applies under one write lock, so readers are never held
/// off for long.
const MAX_MSGS_PER_LOCK: usize = 64;

fn writer(
    shared: &Shared,
    rx: &Receiver<Msg>,
    observers: &[Arc<dyn IngestObserver>],
    mut stage: Option<SamplingStage>,
) {
    let mut pending_acks = Vec::new();
    let idle = Duration::from_millis(500);
    loop {
        // Wake for the sampling stage's next deadline, else at least twice a second.
        let wait = stage
            .as_ref()
            .and_then(|s| s.next_wake(s.now()))
            .map_or(idle, |w| w.min(idle));
        let first = match rx.recv_timeout(wait) {
            Ok(msg) => msg,
            Err(RecvTimeoutError::Timeout) => {
                let kept = stage.as_mut().map(|s| s.tick(s.now()));
                let mut store = shared.store.write();
                if let Some(kept) = kept {
                    store.insert(kept, observers);
                }
                store.expire();
                continue;
            }
            Err(RecvTimeoutError::Disconnected) => return,
        };
        let mut stop = false;
        {
            let mut store = shared.store.write();
            let mut msg = Some(first);
            let mut n = 0;
            while let Some(m) = msg.take() {
                match m {
                    Msg::Spans(batches, count) => {
                        let batches = match &mut stage {
                            Some(s) => s.offer(batches, s.now()),
                            None => batches,
                        };
                        store.insert(batches, observers);
                        shared.queued.fetch_sub(count, Ordering::AcqRel);
                    }
                    Msg::Flush(ack) => pending_acks.push(ack),
                    Msg::Sampling(cmd) => {
                        if let Some(s) = &mut stage {
                            let (kept, reply) = s.handle(cmd, s.now());
                            store.insert(kept, observers);
                            reply.send();
                        }
                    }
                    Msg::Stop => {
                        if let Some(s) = &mut stage {
                            store.insert(s.shutdown(s.now()), observers);
                        }
                        stop = true;
                        break;
                    }
                }
                n += 1;
                if n < MAX_MSGS_PER_LOCK {
                    msg = rx.try_recv().ok();
                }
            }
            // Deadlines that fell due while busy (and everything due before a flush's ack).
            if let Some(s) = &mut stage
                && !stop
            {
                store.insert(s.tick(s.now()), observers);
            }
            store.expire();
        }
        for ack in pending_acks.drain(..) {
            let _ = ack.send(());
        }
        if stop {
            return;
        }
    }
}
