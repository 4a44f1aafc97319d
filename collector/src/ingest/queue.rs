//! The ingest queue and the store's writer thread.
//!
//! Receivers and the in-process exporter [`submit`](Shared::submit) decoded batches without
//! blocking. The queue is bounded twice: by spans ([`Shared::start`]'s `max_queued`) and by the
//! heap bytes the batches hold ([`batches_bytes`], against [`Limits::queue_bytes`]). A batch that
//! does not fit is refused with [`SubmitError::Full`] before it is queued; receivers turn that
//! into 429 / `UNAVAILABLE`. The byte bound is strict, so the queue never holds more than its
//! budget; a batch with more spans than the span bound is taken only into an empty queue (the
//! byte bound still applies to it).
//!
//! One writer thread applies the queue to the store, through the tail-sampling stage when there
//! is one. Each batch is inserted under `catch_unwind`: a panic there (a bug a hostile batch
//! found) is counted, the store is reset, since its indexes may be half-updated, and ingest
//! goes on.

use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::thread::JoinHandle;

use crossbeam_channel::Sender;
use parking_lot::{Mutex, RwLock};
use tracewire::SpanData;
use tracewire::export::SpanRecycler;

use super::batch::{NewBatch, NewSource, batches_bytes};
use super::local::spans_bytes;
use super::writer::writer;
use crate::model::IngestObserver;
use crate::otlp::DecodeLimits;
use crate::query::QueryPool;
use crate::sampling::{Command, SamplingShared, SamplingStage};
use crate::store::{Limits, Store};

pub(super) enum Msg {
    Spans {
        batches: Vec<NewBatch>,
        spans: usize,
        bytes: usize,
    },
    /// Spans exported in process, as the pipeline built them, all from `source`; given back
    /// to `recycler` once stored.
    Local {
        source: Arc<NewSource>,
        spans: Vec<SpanData>,
        bytes: usize,
        recycler: SpanRecycler,
    },
    Flush(tokio::sync::oneshot::Sender<()>),
    Sampling(Command),
    Stop,
}

/// Why spans were not accepted into the ingest queue.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum SubmitError {
    /// The queue holds its maximum number of spans or bytes: back-pressure.
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

/// What the queue holds now, shared with the store so its stats can report it.
#[derive(Debug, Default)]
pub(crate) struct QueueGauge {
    pub(crate) spans: AtomicUsize,
    pub(crate) bytes: AtomicUsize,
    pub(crate) max_bytes: usize,
}

/// Everything the receivers, the exporter and the readers share.
pub(crate) struct Shared {
    pub(crate) store: RwLock<Store>,
    tx: Sender<Msg>,
    gauge: Arc<QueueGauge>,
    max_queued: usize,
    pub(crate) counters: Counters,
    /// Where the API's queries run.
    pub(crate) queries: Arc<QueryPool>,
    /// What one OTLP request may hold, for the receivers.
    pub(crate) decode: DecodeLimits,
    writer: Mutex<Option<JoinHandle<()>>>,
    /// What the tail-sampling stage in front of the store publishes, when there is one.
    pub(crate) sampling: Option<Arc<SamplingShared>>,
}

impl fmt::Debug for Shared {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Shared")
            .field("gauge", &self.gauge)
            .field("max_queued", &self.max_queued)
            .finish_non_exhaustive()
    }
}

impl Shared {
    /// Starts the writer thread over `store`, with a queue of at most `max_queued` spans and
    /// [`Limits::queue_bytes`] bytes, and `stage` (if any) deciding which spans reach the store.
    ///
    /// A writer thread that cannot be started is the error (nothing would ever be stored).
    pub(crate) fn start(
        store: Store,
        max_queued: usize,
        observers: Vec<Arc<dyn IngestObserver>>,
        stage: Option<SamplingStage>,
    ) -> std::io::Result<Arc<Shared>> {
        let thread = std::thread::Builder::new().name("tracewire-collector-store".into());
        Self::start_on(thread, store, max_queued, observers, stage)
    }

    /// [`Shared::start`] with the writer spawned by `thread`.
    fn start_on(
        thread: std::thread::Builder,
        mut store: Store,
        max_queued: usize,
        observers: Vec<Arc<dyn IngestObserver>>,
        stage: Option<SamplingStage>,
    ) -> std::io::Result<Arc<Shared>> {
        let (tx, rx) = crossbeam_channel::unbounded();
        let gauge = Arc::new(QueueGauge {
            max_bytes: store.limits().queue_bytes(),
            ..QueueGauge::default()
        });
        store.attach_queue(gauge.clone());
        let queries = QueryPool::new(store.limits().queries);
        let decode = store.limits().decode;
        let shared = Arc::new(Shared {
            store: RwLock::new(store),
            tx,
            gauge,
            max_queued: max_queued.max(1),
            counters: Counters::default(),
            queries,
            decode,
            writer: Mutex::new(None),
            sampling: stage.as_ref().map(SamplingStage::shared),
        });
        let writer_shared = shared.clone();
        let handle = thread.spawn(move || writer(&writer_shared, &rx, &observers, stage))?;
        *shared.writer.lock() = Some(handle);
        Ok(shared)
    }

    /// Queues spans for the writer without blocking.
    ///
    /// Refused with [`SubmitError::Full`] when the queue's spans or bytes would go over their
    /// bounds; nothing is queued then.
    pub(crate) fn submit(&self, batches: Vec<NewBatch>) -> Result<usize, SubmitError> {
        let n: usize = batches.iter().map(|b| b.spans.len()).sum();
        if n == 0 {
            return Ok(0);
        }
        let bytes = batches_bytes(&batches);
        self.reserve(n, bytes)?;
        let msg = Msg::Spans {
            batches,
            spans: n,
            bytes,
        };
        self.send(msg, n, bytes)
    }

    /// Queues spans exported in process as they are, without blocking: their room in the queue
    /// is reserved from the borrowed batch, then they are moved out of `batch` (left empty)
    /// into the queue, and the store's writer reads them directly, then hands them to
    /// `recycler`.
    ///
    /// Refused with [`SubmitError::Full`], under the same bounds as [`Shared::submit`], with
    /// `batch` untouched.
    pub(crate) fn submit_local(
        &self,
        source: &Arc<NewSource>,
        batch: &mut Vec<SpanData>,
        recycler: &SpanRecycler,
    ) -> Result<usize, SubmitError> {
        let n = batch.len();
        if n == 0 {
            return Ok(0);
        }
        let bytes = spans_bytes(batch) + source.shared_bytes() + source.resource.shared_bytes();
        self.reserve(n, bytes)?;
        #[expect(
            clippy::drain_collect,
            reason = "the worker keeps its batch's allocation for the next batch; the queue gets \
                      a vector exactly as long as the spans, as their byte count assumes"
        )]
        let spans: Vec<SpanData> = batch.drain(..).collect();
        let msg = Msg::Local {
            source: source.clone(),
            spans,
            bytes,
            recycler: recycler.clone(),
        };
        self.send(msg, n, bytes)
    }

    /// Takes room for `n` spans of `bytes` in the queue, or refuses (and counts) them.
    fn reserve(&self, n: usize, bytes: usize) -> Result<(), SubmitError> {
        let g = &self.gauge;
        let prev_spans = g.spans.fetch_add(n, Ordering::AcqRel);
        let prev_bytes = g.bytes.fetch_add(bytes, Ordering::AcqRel);
        let over_spans = prev_spans + n > self.max_queued && prev_spans > 0;
        let over_bytes = prev_bytes.saturating_add(bytes) > g.max_bytes;
        if over_spans || over_bytes {
            self.release(n, bytes);
            self.counters.refused.fetch_add(n as u64, Ordering::Relaxed);
            return Err(SubmitError::Full);
        }
        Ok(())
    }

    /// Sends a message holding `n` spans of `bytes` whose room is reserved.
    fn send(&self, msg: Msg, n: usize, bytes: usize) -> Result<usize, SubmitError> {
        if self.tx.send(msg).is_err() {
            self.release(n, bytes);
            return Err(SubmitError::Closed);
        }
        self.counters
            .accepted
            .fetch_add(n as u64, Ordering::Relaxed);
        Ok(n)
    }

    pub(super) fn release(&self, spans: usize, bytes: usize) {
        self.gauge.spans.fetch_sub(spans, Ordering::AcqRel);
        self.gauge.bytes.fetch_sub(bytes, Ordering::AcqRel);
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
        self.gauge.spans.load(Ordering::Acquire)
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

impl Limits {
    /// The ingest queue's byte budget: [`Limits::max_queue_bytes`] when set, else an eighth of
    /// the store's budget but never less than the largest request the decoders accept,
    /// so any decodable request can be queued once the queue drains.
    pub(crate) fn queue_bytes(&self) -> usize {
        let floor = self.decode.max_decoded_bytes;
        self.max_queue_bytes
            .unwrap_or_else(|| (self.max_bytes / 8).max(floor))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ingest::NewSpan;
    use crate::model::{IngestedSpan, SpanId};
    use crate::sampling::test_support::source;
    use crate::store::PANIC_SERVICE;

    fn batch(service: &'static str, first: u64, n: u64) -> Vec<NewBatch> {
        let source = source(service);
        let spans = (first..first + n)
            .map(|i| NewSpan::test(u128::from(i) + 1, i + 1, 0, "op", i, 1))
            .collect();
        vec![NewBatch { source, spans }]
    }

    fn start(queue_bytes: usize, queue_spans: usize) -> Arc<Shared> {
        let limits = Limits {
            max_queue_bytes: Some(queue_bytes),
            ..Limits::default()
        };
        Shared::start(Store::new(limits), queue_spans, Vec::new(), None).unwrap()
    }

    #[test]
    fn the_queue_never_holds_more_than_its_bytes() {
        let one = batches_bytes(&batch("svc", 0, 10));
        let shared = start(one * 3, 1000);
        // Hold the store so the writer cannot drain the queue.
        let hold = shared.store.write();
        for i in 0..3 {
            assert_eq!(shared.submit(batch("svc", i * 10, 10)), Ok(10));
        }
        assert_eq!(shared.submit(batch("svc", 30, 10)), Err(SubmitError::Full));
        assert_eq!(shared.gauge.bytes.load(Ordering::Relaxed), 3 * one);
        assert_eq!(shared.queued(), 30);
        assert_eq!(shared.rejected(), 10);
        drop(hold);
        shared.flush_blocking();
        assert_eq!(shared.gauge.bytes.load(Ordering::Relaxed), 0);
        assert_eq!(shared.submit(batch("svc", 30, 10)), Ok(10));
        shared.flush_blocking();
        let stats = shared.store.read().stats();
        assert_eq!((stats.spans, stats.queued, stats.queued_bytes), (40, 0, 0));
        shared.stop();
    }

    #[test]
    fn a_batch_bigger_than_the_whole_budget_is_refused_even_when_the_queue_is_empty() {
        let shared = start(1000, 1000);
        assert_eq!(shared.submit(batch("svc", 0, 100)), Err(SubmitError::Full));
        assert_eq!(shared.queued(), 0);
        assert_eq!(shared.gauge.bytes.load(Ordering::Relaxed), 0);
        shared.stop();
    }

    #[test]
    fn a_batch_with_more_spans_than_the_bound_enters_only_an_empty_queue() {
        let shared = start(1 << 20, 5);
        let hold = shared.store.write();
        assert_eq!(shared.submit(batch("svc", 0, 8)), Ok(8));
        assert_eq!(shared.submit(batch("svc", 8, 1)), Err(SubmitError::Full));
        drop(hold);
        shared.flush_blocking();
        assert_eq!(shared.submit(batch("svc", 8, 1)), Ok(1));
        shared.stop();
    }

    #[test]
    fn a_panicking_insert_is_counted_and_ingest_goes_on() {
        // Decoded batches and in-process spans alike.
        for in_process in [false, true] {
            let shared = start(1 << 20, 1000);
            let submit = |service, first, n| {
                if in_process {
                    shared.submit_local(&source(service), &mut local(first, n), &none())
                } else {
                    shared.submit(batch(service, first, n))
                }
            };
            submit("svc", 0, 2).unwrap();
            submit(PANIC_SERVICE, 2, 1).unwrap();
            submit("svc", 3, 1).unwrap();
            shared.flush_blocking();
            let stats = shared.store.read().stats();
            assert_eq!(stats.writer_panics, 1);
            // The store was reset by the panic; the batch after it was stored.
            assert_eq!(stats.spans, 1);
            assert_eq!((stats.stored_total, stats.evicted), (3, 2));
            assert_eq!(shared.gauge.bytes.load(Ordering::Relaxed), 0);
            shared.stop();
        }
    }

    #[test]
    fn a_panicking_observer_is_counted_and_the_span_kept() {
        let seen = Arc::new(AtomicUsize::new(0));
        let count = seen.clone();
        let observers: Vec<Arc<dyn IngestObserver>> = vec![
            Arc::new(|s: &IngestedSpan<'_>| {
                if s.span_id == SpanId::from_u64(2) {
                    panic!("observer failed");
                }
            }),
            Arc::new(move |_: &IngestedSpan<'_>| {
                count.fetch_add(1, Ordering::Relaxed);
            }),
        ];
        let shared = Shared::start(Store::new(Limits::default()), 1000, observers, None).unwrap();
        shared.submit(batch("svc", 0, 3)).unwrap();
        shared.flush_blocking();
        let stats = shared.store.read().stats();
        assert_eq!(
            (stats.spans, stats.observer_panics, stats.writer_panics),
            (3, 1, 0)
        );
        assert_eq!(seen.load(Ordering::Relaxed), 3);
        shared.stop();
    }

    #[test]
    fn a_writer_that_cannot_start_is_an_error() {
        // No system maps a petabyte of stack.
        let thread = std::thread::Builder::new().stack_size(1 << 50);
        let started = Shared::start_on(
            thread,
            Store::new(Limits::default()),
            1000,
            Vec::new(),
            None,
        );
        assert!(started.is_err(), "{started:?}");
    }

    fn none() -> SpanRecycler {
        SpanRecycler::none()
    }

    fn local(first: u64, n: u64) -> Vec<SpanData> {
        use tracewire::{KeyValue, SpanContext, TraceFlags, TraceId};
        (first..first + n)
            .map(|i| {
                let cx = SpanContext::new(
                    TraceId::from_u128(u128::from(i) + 1),
                    tracewire::SpanId::from_u64(i + 1),
                    TraceFlags::SAMPLED,
                    Default::default(),
                    false,
                );
                let mut s = SpanData::new(cx, "op");
                s.start_time = std::time::UNIX_EPOCH + std::time::Duration::from_secs(i);
                s.end_time = s.start_time;
                s.attributes = vec![KeyValue::new(
                    "path",
                    format!("/a/fairly/long/path/{i:040}"),
                )];
                s
            })
            .collect()
    }

    #[test]
    fn in_process_spans_are_bounded_by_the_same_bytes_and_moved_only_when_taken() {
        let source = source("svc");
        let one =
            spans_bytes(&local(0, 10)) + source.shared_bytes() + source.resource.shared_bytes();
        // The shared text of each span is counted.
        assert!(one > 10 * (16 + 57), "{one}");
        let shared = start(one * 2, 1000);
        let hold = shared.store.write();
        for i in 0..2 {
            let mut b = local(i * 10, 10);
            assert_eq!(shared.submit_local(&source, &mut b, &none()), Ok(10));
            assert!(b.is_empty(), "the spans were moved into the queue");
        }
        let mut refused = local(20, 10);
        assert_eq!(
            shared.submit_local(&source, &mut refused, &none()),
            Err(SubmitError::Full)
        );
        assert_eq!(refused, local(20, 10), "a refused batch is left as it was");
        assert_eq!(shared.gauge.bytes.load(Ordering::Relaxed), 2 * one);
        assert_eq!((shared.queued(), shared.rejected()), (20, 10));
        drop(hold);
        shared.flush_blocking();
        assert_eq!(shared.gauge.bytes.load(Ordering::Relaxed), 0);
        assert_eq!(shared.submit_local(&source, &mut refused, &none()), Ok(10));
        assert_eq!(
            shared.submit_local(&source, &mut Vec::new(), &none()),
            Ok(0)
        );
        shared.flush_blocking();
        let stats = shared.store.read().stats();
        assert_eq!((stats.spans, stats.queued, stats.queued_bytes), (30, 0, 0));
        shared.stop();
        let mut late = local(30, 1);
        assert_eq!(
            shared.submit_local(&source, &mut late, &none()),
            Err(SubmitError::Closed)
        );
        assert_eq!(shared.gauge.bytes.load(Ordering::Relaxed), 0);
    }
}
