use std::sync::atomic::AtomicU64;
use std::sync::mpsc;
use std::time::Instant;

use super::*;
use crate::SpanContext;
use crate::export::InMemoryExporter;
use crate::export::SpanRecycler;

fn span(name: &'static str) -> SpanData {
    SpanData::new(SpanContext::default(), name)
}

#[test]
fn queue_and_batch_sizes_are_capped_so_a_huge_setting_cannot_abort_the_process() {
    let b = PipelineBuilder::default()
        .queue_size(usize::MAX)
        .max_batch(usize::MAX);
    assert_eq!(
        (b.queue_size, b.max_batch),
        (MAX_QUEUE_SIZE, Some(MAX_QUEUE_SIZE))
    );
    let b = PipelineBuilder::default().queue_size(0).max_batch(0);
    assert_eq!((b.queue_size, b.max_batch), (1, Some(1)));
    // The capped queue really is built (this allocated 549 GB and aborted before the cap).
    let pipeline = PipelineBuilder::default()
        .queue_size(1_000_000_000_000)
        .try_build()
        .expect("worker starts");
    pipeline
        .shutdown(Duration::from_secs(5))
        .expect("shuts down");
}

/// An exporter that blocks until told to go on, to stand for a stalled backend.
struct Stalled {
    release: mpsc::Receiver<()>,
    seen: Arc<AtomicU64>,
}

impl SpanExporter for Stalled {
    fn export(&mut self, batch: &[SpanData], _: &Resource) -> Result<(), ExportError> {
        let _ = self.release.recv_timeout(Duration::from_secs(10));
        self.seen.fetch_add(batch.len() as u64, Ordering::Relaxed);
        Ok(())
    }
}

struct Failing;

impl SpanExporter for Failing {
    fn export(&mut self, _: &[SpanData], _: &Resource) -> Result<(), ExportError> {
        Err(ExportError::Transport("connection refused".into()))
    }
}

/// An in-memory exporter that states a preferred batch size.
struct Preferring(usize, InMemoryExporter);

impl SpanExporter for Preferring {
    fn export(&mut self, batch: &[SpanData], resource: &Resource) -> Result<(), ExportError> {
        self.1.export(batch, resource)
    }

    fn preferred_batch(&self) -> Option<usize> {
        Some(self.0)
    }
}

/// The batch sizes `builder`'s pipeline hands its exporters for 200 spans submitted at once
/// (a minute's timeout, so only full batches and the flush cut them), as `mem` saw them.
fn batches_of_200(builder: PipelineBuilder, mem: &InMemoryExporter) -> Vec<usize> {
    let p = builder.batch_timeout(Duration::from_secs(60)).build();
    for _ in 0..200 {
        assert!(p.submit(span("s")));
    }
    p.flush(Duration::from_secs(5)).unwrap();
    p.shutdown(Duration::from_secs(5)).unwrap();
    mem.batches()
}

#[test]
fn an_unset_batch_size_is_the_exporters_preference_when_every_exporter_states_one() {
    // One exporter preferring 64.
    let mem = InMemoryExporter::new();
    let b = Pipeline::builder().exporter(Preferring(64, mem.clone()));
    assert_eq!(batches_of_200(b, &mem), vec![64, 64, 64, 8]);
    // Two preferences: the smaller.
    let mem = InMemoryExporter::new();
    let b = Pipeline::builder()
        .exporter(Preferring(100, InMemoryExporter::new()))
        .exporter(Preferring(64, mem.clone()));
    assert_eq!(batches_of_200(b, &mem), vec![64, 64, 64, 8]);
    // Through a boxed exporter too.
    let mem = InMemoryExporter::new();
    let boxed: Box<dyn SpanExporter> = Box::new(Preferring(64, mem.clone()));
    let b = Pipeline::builder().exporter(boxed);
    assert_eq!(batches_of_200(b, &mem), vec![64, 64, 64, 8]);
    // A preference of 0 is taken as 1, not as an empty batch.
    let mem = InMemoryExporter::new();
    let b = Pipeline::builder().exporter(Preferring(0, mem.clone()));
    assert_eq!(batches_of_200(b, &mem), vec![1; 200]);
}

#[test]
fn a_set_batch_size_or_an_exporter_without_a_preference_keeps_the_default_or_the_setting() {
    // An exporter with no preference alongside: the default, for both.
    let mem = InMemoryExporter::new();
    let b = Pipeline::builder()
        .exporter(Preferring(64, mem.clone()))
        .exporter(InMemoryExporter::new());
    // (The default, 512, takes all 200 in one batch.)
    assert_eq!(batches_of_200(b, &mem), vec![200]);
    // Set in code (as `from_env` does for OTEL_BSP_MAX_EXPORT_BATCH_SIZE): the setting.
    let mem = InMemoryExporter::new();
    let b = Pipeline::builder()
        .max_batch(150)
        .exporter(Preferring(64, mem.clone()));
    assert_eq!(batches_of_200(b, &mem), vec![150, 50]);
    // No exporter at all: nothing to prefer (and nothing exported).
    assert_eq!(Pipeline::builder().effective_max_batch(), DEFAULT_MAX_BATCH);
}

#[test]
fn batches_by_size_and_flush() {
    let mem = InMemoryExporter::new();
    let p = Pipeline::builder()
        .max_batch(3)
        .batch_timeout(Duration::from_secs(60))
        .exporter(mem.clone())
        .build();
    for _ in 0..7 {
        assert!(p.submit(span("s")));
    }
    p.flush(Duration::from_secs(5)).unwrap();
    assert_eq!(mem.spans().len(), 7);
    assert_eq!(mem.batches(), vec![3, 3, 1]);
    let s = p.stats();
    assert_eq!((s.queued, s.exported, s.dropped, s.failed), (7, 7, 0, 0));
    p.shutdown(Duration::from_secs(5)).unwrap();
    assert_eq!(
        p.shutdown(Duration::from_secs(5)),
        Err(PipelineError::AlreadyShutdown)
    );
    assert!(!p.submit(span("late")));
    assert_eq!(p.stats().dropped, 1);
}

#[test]
fn worker_wakes_for_full_batches_not_for_each_span() {
    let mem = InMemoryExporter::new();
    let p = Pipeline::builder()
        .max_batch(100)
        .batch_timeout(Duration::from_secs(600))
        .exporter(mem.clone())
        .build();
    for _ in 0..250 {
        p.submit(span("s"));
    }
    // Two full batches go out at once; the remaining 50 wait for the timer or a flush.
    let start = Instant::now();
    while mem.batches().len() < 2 && start.elapsed() < Duration::from_secs(10) {
        std::thread::sleep(Duration::from_millis(5));
    }
    std::thread::sleep(Duration::from_millis(50));
    assert_eq!(mem.batches(), vec![100, 100]);
    p.flush(Duration::from_secs(5)).unwrap();
    assert_eq!(mem.batches(), vec![100, 100, 50]);
}

#[test]
fn partial_batch_goes_out_after_timeout() {
    let mem = InMemoryExporter::new();
    let p = Pipeline::builder()
        .batch_timeout(Duration::from_millis(20))
        .exporter(mem.clone())
        .build();
    p.submit(span("s"));
    let start = Instant::now();
    while mem.spans().is_empty() && start.elapsed() < Duration::from_secs(10) {
        std::thread::sleep(Duration::from_millis(5));
    }
    assert_eq!(mem.spans().len(), 1);
}

#[test]
fn stalled_exporter_never_blocks_the_caller() {
    let (release, rx) = mpsc::channel();
    let seen = Arc::new(AtomicU64::new(0));
    let p = Pipeline::builder()
        .queue_size(4)
        .max_batch(1)
        .exporter(Stalled {
            release: rx,
            seen: seen.clone(),
        })
        .build();
    let mut accepted = 0;
    for _ in 0..100 {
        accepted += u64::from(p.submit(span("s")));
    }
    // One span is held by the stalled exporter, four wait in the queue, the rest dropped.
    assert!(accepted <= 5, "accepted {accepted}");
    assert_eq!(p.stats().dropped, 100 - accepted);
    assert_eq!(
        p.flush(Duration::from_millis(50)),
        Err(PipelineError::Timeout)
    );
    for _ in 0..10 {
        let _ = release.send(());
    }
    p.shutdown(Duration::from_secs(10)).unwrap();
    assert_eq!(seen.load(Ordering::Relaxed), accepted);
}

#[test]
fn exporter_errors_are_counted() {
    let p = Pipeline::builder().exporter(Failing).build();
    p.submit(span("a"));
    p.submit(span("b"));
    p.flush(Duration::from_secs(5)).unwrap();
    let s = p.stats();
    assert_eq!((s.failed, s.exported, s.export_errors), (2, 0, 1));
    assert_eq!(
        p.last_error(),
        Some(ExportError::Transport("connection refused".into()))
    );
}

#[test]
fn shutdown_deadline_returns_with_a_hung_exporter() {
    let (_release, rx) = mpsc::channel();
    let p = Pipeline::builder()
        .exporter(Stalled {
            release: rx,
            seen: Arc::new(AtomicU64::new(0)),
        })
        .build();
    p.submit(span("s"));
    let start = Instant::now();
    assert_eq!(
        p.shutdown(Duration::from_millis(100)),
        Err(PipelineError::Timeout)
    );
    assert!(start.elapsed() < Duration::from_secs(5));
}

/// Panics on every call, as an exporter with a bug would.
struct Panicking(Arc<AtomicU64>);

impl SpanExporter for Panicking {
    fn export(&mut self, _: &[SpanData], _: &Resource) -> Result<(), ExportError> {
        self.0.fetch_add(1, Ordering::Relaxed);
        panic!("exporter bug");
    }

    fn force_flush(&mut self) -> Result<(), ExportError> {
        panic!("flush bug");
    }

    fn shutdown(&mut self) -> Result<(), ExportError> {
        panic!("{}", String::from("shutdown bug"));
    }
}

#[test]
fn a_panicking_exporter_neither_stops_the_worker_nor_the_other_exporters() {
    let calls = Arc::new(AtomicU64::new(0));
    let mem = InMemoryExporter::new();
    let panics_before = crate::diagnostics::exporter_panics();
    let p = Pipeline::builder()
        .exporter(Panicking(calls.clone()))
        .exporter(mem.clone())
        .build();
    p.submit(span("a"));
    p.submit(span("b"));
    p.flush(Duration::from_secs(5)).unwrap();
    assert_eq!(mem.spans().len(), 2);
    // One panic in export, one in force_flush.
    let s = p.stats();
    assert_eq!(
        (s.exported, s.failed, s.export_errors, s.panics),
        (0, 2, 2, 2)
    );
    assert_eq!(
        p.last_error(),
        Some(ExportError::Panicked("flush bug".into()))
    );
    // The same exporter gets the next batch.
    p.submit(span("c"));
    p.flush(Duration::from_secs(5)).unwrap();
    assert_eq!(calls.load(Ordering::Relaxed), 2);
    assert_eq!(mem.spans().len(), 3);
    p.shutdown(Duration::from_secs(5)).unwrap();
    assert_eq!(p.stats().panics, 5);
    assert_eq!(
        p.last_error(),
        Some(ExportError::Panicked("shutdown bug".into()))
    );
    assert!(crate::diagnostics::exporter_panics() >= panics_before + 5);
}

#[test]
fn huge_timeouts_wait_instead_of_panicking() {
    let mem = InMemoryExporter::new();
    // A batch timeout no `Instant` can hold: the worker keeps running, spans wait for a
    // full batch or a flush.
    let p = Pipeline::builder()
        .batch_timeout(Duration::MAX)
        .exporter(mem.clone())
        .build();
    p.submit(span("s"));
    p.flush(Duration::MAX).unwrap();
    assert_eq!(mem.spans().len(), 1);
    p.shutdown(Duration::MAX).unwrap();
    let p = Pipeline::builder()
        .batch_timeout(Duration::from_millis(u64::MAX))
        .build();
    p.flush(Duration::from_secs(u64::MAX)).unwrap();
    p.shutdown(Duration::from_secs(u64::MAX)).unwrap();
}

#[test]
fn a_worker_that_cannot_start_is_an_error() {
    let err = Pipeline::builder().unspawnable().try_build().unwrap_err();
    assert!(matches!(err, PipelineError::Spawn(_)), "{err:?}");
    assert!(
        err.to_string()
            .starts_with("could not start the export worker thread: "),
        "{err}"
    );
}

#[test]
#[should_panic(expected = "could not start the export worker thread")]
fn build_panics_like_thread_spawn_when_the_worker_cannot_start() {
    let _ = Pipeline::builder().unspawnable().build();
}

#[test]
fn without_exporters_spans_are_discarded_not_exported() {
    let p = Pipeline::builder().build();
    assert!(!p.is_exporting());
    assert!(
        Pipeline::builder()
            .exporter(InMemoryExporter::new())
            .build()
            .is_exporting()
    );
    p.submit(span("a"));
    p.on_discard();
    p.flush(Duration::from_secs(5)).unwrap();
    let s = p.stats();
    assert_eq!((s.exported, s.failed, s.discarded), (0, 0, 2));
}

/// A pipeline into memory (batches only on flush) and a subscriber recording into it.
fn recording_pipeline() -> (InMemoryExporter, Pipeline, impl tracing::Subscriber + Send) {
    use tracing_subscriber::layer::SubscriberExt;

    let mem = InMemoryExporter::new();
    let p = Pipeline::builder()
        .batch_timeout(Duration::from_secs(60))
        .exporter(mem.clone())
        .build();
    let subscriber =
        tracing_subscriber::registry().with(crate::TracewireLayer::builder().build(p.clone()));
    (mem, p, subscriber)
}

#[test]
fn exported_events_vectors_come_back_too_and_are_reused_emptied() {
    let (mem, p, subscriber) = recording_pipeline();
    std::thread::spawn(move || {
        tracing::subscriber::with_default(subscriber, || {
            for i in 0..10i64 {
                let _s = tracing::info_span!("first", a = i).entered();
                tracing::info!(n = i, "one");
                tracing::info!(m = i, k = "k", "two");
            }
            p.flush(Duration::from_secs(5)).unwrap();
            assert_eq!(
                p.inner.buffers.pooled(),
                30,
                "each span's vector and each of its events'"
            );
            assert_eq!(p.inner.buffers.pooled_events(), 10, "each span's events");
            for i in 0..10i64 {
                let _s = tracing::info_span!("second", x = i).entered();
                tracing::warn!(z = i, "three");
            }
            p.flush(Duration::from_secs(5)).unwrap();
            // The second round moved all thirty to this thread's cache (sixteen, then the other
            // fourteen), used twenty, and the worker gave those twenty back; likewise the ten
            // vectors of events.
            assert_eq!(p.inner.buffers.pooled(), 20);
            assert_eq!(p.inner.buffers.pooled_events(), 10);
        });
        p.shutdown(Duration::from_secs(5)).unwrap();
    })
    .join()
    .unwrap();
    let spans = mem.spans();
    for (i, s) in spans.iter().filter(|s| s.name == "second").enumerate() {
        assert_eq!(s.attributes, vec![crate::KeyValue::new("x", i as i64)]);
        assert_eq!(s.events.len(), 1);
        assert_eq!(s.events[0].name, "three");
        assert_eq!(
            s.events[0].attributes,
            vec![
                crate::KeyValue::new("z", i as i64),
                crate::KeyValue::new("level", "WARN"),
            ]
        );
    }
}

#[test]
fn exported_spans_attribute_vectors_come_back_emptied_for_the_next_spans() {
    let (mem, p, subscriber) = recording_pipeline();
    // A thread of its own, so its cache of recycled vectors starts empty.
    std::thread::spawn(move || {
        tracing::subscriber::with_default(subscriber, || {
            for i in 0..10i64 {
                let _s = tracing::info_span!("first", a = i, b = "b", c = true).entered();
            }
            p.flush(Duration::from_secs(5)).unwrap();
            let v = p.recycled_attributes(2).expect("a vector came back");
            assert!(v.is_empty() && v.capacity() >= 3);
            for i in 0..10i64 {
                let _s = tracing::info_span!("second", x = i).entered();
            }
            p.flush(Duration::from_secs(5)).unwrap();
        });
        p.shutdown(Duration::from_secs(5)).unwrap();
    })
    .join()
    .unwrap();
    let spans = mem.spans();
    assert_eq!(spans.len(), 20);
    for (i, s) in spans.iter().filter(|s| s.name == "second").enumerate() {
        assert_eq!(s.attributes, vec![crate::KeyValue::new("x", i as i64)]);
    }
    for (i, s) in spans.iter().filter(|s| s.name == "first").enumerate() {
        assert_eq!(
            s.attributes,
            vec![
                crate::KeyValue::new("a", i as i64),
                crate::KeyValue::new("b", "b"),
                crate::KeyValue::new("c", true),
            ]
        );
    }
}

/// Keeps the first `take` spans of each batch it is handed (taking them out of the batch), gives
/// them back to the recycler if told to, and then succeeds or refuses the batch.
struct Keeping {
    take: usize,
    recycle: bool,
    refuse: bool,
    kept: Arc<Mutex<Vec<SpanData>>>,
    borrowed: Arc<AtomicU64>,
}

impl SpanExporter for Keeping {
    fn export(&mut self, batch: &[SpanData], _: &Resource) -> Result<(), ExportError> {
        self.borrowed
            .fetch_add(batch.len() as u64, Ordering::Relaxed);
        Ok(())
    }

    fn export_owned(
        &mut self,
        batch: &mut Vec<SpanData>,
        _: &Resource,
        recycler: &SpanRecycler,
    ) -> Result<(), ExportError> {
        let n = batch.len();
        let take = self.take.min(n);
        let taken: Vec<SpanData> = batch.drain(..take).collect();
        if self.recycle {
            // What a real exporter does once done with them.
            self.kept.lock().unwrap().extend(taken.iter().cloned());
            recycler.recycle(taken);
        } else {
            self.kept.lock().unwrap().extend(taken);
        }
        if self.refuse {
            return Err(ExportError::Rejected {
                spans: n as u64,
                message: "full".into(),
            });
        }
        Ok(())
    }
}

fn span_with_room(name: &'static str) -> SpanData {
    let mut s = span(name);
    s.attributes = Vec::with_capacity(4);
    s
}

/// How many recycled vectors a thread with an empty cache can take from `p`.
fn recycled(p: &Pipeline) -> usize {
    std::thread::scope(|s| {
        s.spawn(|| std::iter::from_fn(|| p.recycled_attributes(1)).count())
            .join()
            .unwrap()
    })
}

#[test]
fn the_last_exporter_may_keep_the_batch_and_the_others_borrow_it() {
    let mem = InMemoryExporter::new();
    let kept = Arc::new(Mutex::new(Vec::new()));
    let borrowed = Arc::new(AtomicU64::new(0));
    let keeping = Keeping {
        take: 2,
        recycle: false,
        refuse: false,
        kept: kept.clone(),
        borrowed: borrowed.clone(),
    };
    let p = Pipeline::builder()
        .batch_timeout(Duration::from_secs(60))
        .exporter(mem.clone())
        .exporter(keeping)
        .build();
    for name in ["a", "b", "c", "d"] {
        assert!(p.submit(span_with_room(name)));
    }
    p.flush(Duration::from_secs(5)).unwrap();
    // The first exporter saw every span, borrowed; the last was handed the batch to keep.
    assert_eq!(mem.batches(), vec![4]);
    assert_eq!(borrowed.load(Ordering::Relaxed), 0);
    let names: Vec<_> = kept
        .lock()
        .unwrap()
        .iter()
        .map(|s| s.name.clone())
        .collect();
    assert_eq!(names, ["a", "b"]);
    let s = p.stats();
    assert_eq!(
        (s.queued, s.exported, s.failed, s.export_errors),
        (4, 4, 0, 0)
    );
    // Only the spans left in the batch give their attribute vectors back.
    assert_eq!(recycled(&p), 2);
    p.shutdown(Duration::from_secs(5)).unwrap();
}

#[test]
fn a_kept_batch_that_is_refused_counts_every_span_as_failed() {
    let kept = Arc::new(Mutex::new(Vec::new()));
    let p = Pipeline::builder()
        .batch_timeout(Duration::from_secs(60))
        .exporter(Keeping {
            take: 1,
            recycle: false,
            refuse: true,
            kept: kept.clone(),
            borrowed: Arc::new(AtomicU64::new(0)),
        })
        .build();
    for name in ["a", "b", "c"] {
        assert!(p.submit(span_with_room(name)));
    }
    p.flush(Duration::from_secs(5)).unwrap();
    let s = p.stats();
    assert_eq!(
        (s.queued, s.exported, s.failed, s.export_errors, s.dropped),
        (3, 0, 3, 1, 0)
    );
    assert_eq!(
        p.last_error(),
        Some(ExportError::Rejected {
            spans: 3,
            message: "full".into()
        })
    );
    assert_eq!(kept.lock().unwrap().len(), 1);
    assert_eq!(recycled(&p), 2);
    p.shutdown(Duration::from_secs(5)).unwrap();
}

#[test]
fn spans_an_exporter_kept_give_their_vectors_back_through_the_recycler() {
    let kept = Arc::new(Mutex::new(Vec::new()));
    let p = Pipeline::builder()
        .batch_timeout(Duration::from_secs(60))
        .exporter(Keeping {
            take: usize::MAX,
            recycle: true,
            refuse: false,
            kept: kept.clone(),
            borrowed: Arc::new(AtomicU64::new(0)),
        })
        .build();
    for name in ["a", "b", "c"] {
        assert!(p.submit(span_with_room(name)));
    }
    // Too large to keep: freed, not pooled.
    let mut big = span("big");
    big.attributes = Vec::with_capacity(super::super::buffers::RECYCLED_MAX_ATTRIBUTES + 1);
    assert!(p.submit(big));
    p.flush(Duration::from_secs(5)).unwrap();
    assert_eq!(kept.lock().unwrap().len(), 4);
    assert_eq!(p.stats().exported, 4);
    assert_eq!(recycled(&p), 3);
    p.shutdown(Duration::from_secs(5)).unwrap();
}

#[test]
fn a_recycler_outside_a_pipeline_drops_the_spans() {
    let none = SpanRecycler::none();
    none.recycle(vec![span_with_room("a")]);
    assert!(none.same_pipeline(&SpanRecycler::default()));
    let p = Pipeline::builder().build();
    assert!(!none.same_pipeline(&p.inner_recycler()));
    assert!(p.inner_recycler().same_pipeline(&p.inner_recycler()));
    p.shutdown(Duration::from_secs(5)).unwrap();
}

/// Holds its first batch until released, signalling when it has it; later batches pass.
struct Gate {
    entered: mpsc::Sender<()>,
    release: mpsc::Receiver<()>,
    held: bool,
}

impl Gate {
    fn new() -> (Self, mpsc::Receiver<()>, mpsc::Sender<()>) {
        let (entered, entered_rx) = mpsc::channel();
        let (release_tx, release) = mpsc::channel();
        let gate = Gate {
            entered,
            release,
            held: false,
        };
        (gate, entered_rx, release_tx)
    }
}

impl SpanExporter for Gate {
    fn export(&mut self, _: &[SpanData], _: &Resource) -> Result<(), ExportError> {
        if !self.held {
            self.held = true;
            let _ = self.entered.send(());
            let _ = self.release.recv_timeout(Duration::from_secs(10));
        }
        Ok(())
    }
}

/// A pipeline whose worker holds one full batch of `max_batch` (or `queue_size`, if smaller)
/// spans in a stalled exporter, its queue empty.
fn stalled_pipeline(queue_size: usize, max_batch: usize) -> (Pipeline, mpsc::Sender<()>) {
    let (gate, entered, release) = Gate::new();
    let p = Pipeline::builder()
        .queue_size(queue_size)
        .max_batch(max_batch)
        .batch_timeout(Duration::from_secs(600))
        .exporter(gate)
        .build();
    for _ in 0..queue_size.min(max_batch) {
        assert!(p.submit(span("held")));
    }
    entered.recv_timeout(Duration::from_secs(10)).unwrap();
    (p, release)
}

#[test]
fn the_queue_size_is_exact_below_at_and_above_the_batch_size() {
    for queue_size in [3, 4, 9] {
        let (p, release) = stalled_pipeline(queue_size, 4);
        let held = queue_size.min(4) as u64;
        for i in 0..queue_size {
            assert!(p.submit(span("queued")), "{queue_size}: span {i} refused");
        }
        assert!(!p.submit(span("one too many")), "{queue_size}");
        let s = p.stats();
        assert_eq!((s.queued, s.dropped), (held + queue_size as u64, 1));
        release.send(()).unwrap();
        p.flush(Duration::from_secs(10)).unwrap();
        let s = p.stats();
        assert_eq!(
            (s.queued, s.exported, s.dropped, s.failed),
            (held + queue_size as u64, held + queue_size as u64, 1, 0),
            "{queue_size}"
        );
        p.shutdown(Duration::from_secs(10)).unwrap();
    }
}

#[test]
fn a_large_queue_holds_storage_for_what_it_holds_not_for_its_size() {
    let mem = InMemoryExporter::new();
    let p = Pipeline::builder()
        .queue_size(65_536)
        .exporter(mem.clone())
        .build();
    assert_eq!(p.retained(), (0, 0), "no span, no storage");
    p.flush(Duration::from_secs(10)).unwrap();
    assert_eq!(p.retained(), (0, 0));
    p.shutdown(Duration::from_secs(10)).unwrap();

    // A burst while the exporter is stalled: a chunk of one batch per 512 spans.
    let (p, release) = stalled_pipeline(65_536, 512);
    for _ in 0..4096 {
        assert!(p.submit(span("burst")));
    }
    assert_eq!(p.retained(), (8, 8 * 512));
    release.send(()).unwrap();
    p.flush(Duration::from_secs(10)).unwrap();
    assert_eq!(p.stats().exported, 512 + 4096);
    // Once exported, only the spare chunks remain.
    assert_eq!(p.retained(), (2, 2 * 512));
    p.shutdown(Duration::from_secs(10)).unwrap();
    assert_eq!(p.retained(), (0, 0));
}

/// Signals when its `shutdown` starts and holds it until released.
struct SlowShutdown {
    shutting: mpsc::Sender<()>,
    release: mpsc::Receiver<()>,
}

impl SpanExporter for SlowShutdown {
    fn export(&mut self, _: &[SpanData], _: &Resource) -> Result<(), ExportError> {
        Ok(())
    }

    fn shutdown(&mut self) -> Result<(), ExportError> {
        let _ = self.shutting.send(());
        let _ = self.release.recv_timeout(Duration::from_secs(10));
        Ok(())
    }
}

#[test]
fn a_span_submitted_while_the_exporters_shut_down_is_dropped_and_counted() {
    let (shutting, shutting_rx) = mpsc::channel();
    let (release_tx, release) = mpsc::channel();
    let p = Pipeline::builder()
        .exporter(SlowShutdown { shutting, release })
        .build();
    assert!(p.submit(span("before")));
    let q = p.clone();
    let shutdown = std::thread::spawn(move || q.shutdown(Duration::from_secs(20)));
    shutting_rx.recv_timeout(Duration::from_secs(10)).unwrap();
    // The worker has taken what was queued and closed the queue.
    assert!(!p.submit(span("late")));
    release_tx.send(()).unwrap();
    shutdown.join().unwrap().unwrap();
    let s = p.stats();
    assert_eq!((s.queued, s.exported, s.dropped), (1, 1, 1));
}

#[test]
fn spans_racing_shutdown_are_each_exported_or_counted_as_dropped() {
    let mem = InMemoryExporter::new();
    let p = Pipeline::builder()
        .queue_size(100_000)
        .max_batch(64)
        .exporter(mem.clone())
        .build();
    let threads = 4u64;
    let per_thread = 20_000u64;
    let accepted: u64 = std::thread::scope(|s| {
        let submitters: Vec<_> = (0..threads)
            .map(|_| {
                s.spawn(|| {
                    (0..per_thread)
                        .map(|_| u64::from(p.submit(span("racing"))))
                        .sum::<u64>()
                })
            })
            .collect();
        while p.stats().queued < 1000 {
            std::thread::yield_now();
        }
        p.shutdown(Duration::from_secs(20)).unwrap();
        submitters.into_iter().map(|t| t.join().unwrap()).sum()
    });
    let s = p.stats();
    assert_eq!(s.queued, accepted);
    assert_eq!(s.queued + s.dropped, threads * per_thread);
    assert_eq!((s.exported, s.failed), (accepted, 0));
    assert_eq!(mem.spans().len() as u64, accepted);
}
