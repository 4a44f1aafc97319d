//! Forwarding kept traces upstream: [`ForwardConfig`] (an OTLP endpoint through
//! `tracewire-otlp`'s exporter) and the forwarder, a thread of its own in front of a bounded
//! retry buffer.
//!
//! The ingest worker hands kept spans over without waiting: they are converted (see
//! `convert`), queued, and counted. The forwarder thread sends the oldest batch with the
//! exporter, which applies its own retry policy (backoff, `Retry-After`) per attempt. When an
//! attempt still fails the batch goes back to the front of the queue and the thread waits —
//! from `retry_initial`, doubling up to `retry_max` — before trying again, so a restarting
//! upstream loses nothing as long as the buffer holds. The buffer is bounded by bytes: when a new
//! batch does not fit, the oldest queued batches are dropped first, and every dropped span is
//! counted. Spans the upstream rejects (OTLP partial success) are counted, never retried.

use std::collections::VecDeque;
use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use parking_lot::{Condvar, Mutex};
use tracewire::export::SpanExporter;
use tracewire::{ExportError, Resource, SpanData};
use tracewire_otlp::{OtlpConfigError, OtlpExporter, OtlpExporterBuilder};

use super::config::SamplingConfigError;
use super::convert;
use super::size::span_heap;
use crate::ingest::{NewBatch, NewSpan};

/// Where and how kept traces are forwarded: an OTLP exporter ([`OtlpExporterBuilder`], with
/// every transport setting it has: protocol, TLS, headers, compression, timeout) and the retry
/// buffer in front of it.
///
/// ```
/// use std::time::Duration;
/// use tracewire_collector::sampling::ForwardConfig;
/// use tracewire_otlp::{Compression, Protocol};
///
/// let forward = ForwardConfig::new("http://otel-collector:4317")
///     .exporter(|b| {
///         b.protocol(Protocol::Grpc)
///             .compression(Compression::Gzip)
///             .header("x-scope-orgid", "team-a")
///     })
///     .max_buffer_bytes(32 << 20);
/// assert_eq!(forward.endpoint(), "http://otel-collector:4317");
/// ```
#[derive(Clone, Debug, PartialEq)]
#[must_use]
pub struct ForwardConfig {
    endpoint: String,
    exporter: OtlpExporterBuilder,
    max_buffer_bytes: usize,
    retry_initial: Duration,
    retry_max: Duration,
}

impl ForwardConfig {
    /// Forward to `endpoint`, used as given (for OTLP/HTTP, the full URL with `/v1/traces`;
    /// `https://` for TLS, trusting the system's roots), over OTLP/HTTP protobuf with the
    /// exporter's defaults (no compression, 10 s per request), a 64 MiB retry buffer, retries
    /// after 1 s doubling to 30 s.
    pub fn new(endpoint: impl Into<String>) -> Self {
        let endpoint = endpoint.into();
        ForwardConfig {
            exporter: OtlpExporter::builder().endpoint(endpoint.clone()),
            endpoint,
            max_buffer_bytes: 64 << 20,
            retry_initial: Duration::from_secs(1),
            retry_max: Duration::from_secs(30),
        }
    }

    /// Adjusts the OTLP exporter: protocol, TLS (`ca_certificate_file`,
    /// `client_identity_files`), headers, compression, timeout, its own retry policy.
    pub fn exporter(
        mut self,
        configure: impl FnOnce(OtlpExporterBuilder) -> OtlpExporterBuilder,
    ) -> Self {
        self.exporter = configure(self.exporter);
        self
    }

    /// Another endpoint, the other settings kept.
    pub fn with_endpoint(mut self, endpoint: impl Into<String>) -> Self {
        self.endpoint = endpoint.into();
        self.exporter = self.exporter.endpoint(self.endpoint.clone());
        self
    }

    /// The retry buffer's byte budget.
    pub fn max_buffer_bytes(mut self, n: usize) -> Self {
        self.max_buffer_bytes = n;
        self
    }

    /// The wait after a failed attempt: `initial`, doubling up to `max`.
    pub fn retry_backoff(mut self, initial: Duration, max: Duration) -> Self {
        self.retry_initial = initial;
        self.retry_max = max.max(initial);
        self
    }

    /// The endpoint.
    pub fn endpoint(&self) -> &str {
        &self.endpoint
    }

    /// The retry buffer's byte budget.
    pub fn get_max_buffer_bytes(&self) -> usize {
        self.max_buffer_bytes
    }

    pub(crate) fn retry(&self) -> (Duration, Duration) {
        (self.retry_initial, self.retry_max)
    }

    /// The OTLP exporter these settings describe.
    pub fn build_exporter(&self) -> Result<OtlpExporter, OtlpConfigError> {
        self.exporter.clone().build()
    }

    pub(crate) fn validate(&self) -> Result<(), SamplingConfigError> {
        if self.max_buffer_bytes == 0 {
            return Err(SamplingConfigError::Invalid {
                field: "forward.max_buffer_bytes",
                reason: "must be more than zero".to_owned(),
            });
        }
        self.build_exporter()
            .map(drop)
            .map_err(|e| SamplingConfigError::Invalid {
                field: "forward",
                reason: e.to_string(),
            })
    }
}

/// Forwarding counters.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct ForwardStats {
    /// Spans waiting in the retry buffer (or being sent).
    pub queued_spans: u64,
    /// Bytes they account for.
    pub queued_bytes: u64,
    /// The buffer's budget.
    pub max_bytes: u64,
    /// Spans the upstream accepted.
    pub sent_spans: u64,
    /// Spans the upstream rejected (partial success), not retried.
    pub rejected_spans: u64,
    /// Spans dropped: the buffer was full (oldest first), or still queued at shutdown.
    pub dropped_spans: u64,
    /// Attempts that failed and were retried later.
    pub failed_attempts: u64,
}

/// Counters shared by the forwarder thread and readers.
#[derive(Debug, Default)]
pub(crate) struct ForwardCounters {
    queued_spans: AtomicU64,
    queued_bytes: AtomicU64,
    max_bytes: AtomicU64,
    sent_spans: AtomicU64,
    rejected_spans: AtomicU64,
    dropped_spans: AtomicU64,
    failed_attempts: AtomicU64,
}

impl ForwardCounters {
    pub(crate) fn snapshot(&self) -> ForwardStats {
        let r = |a: &AtomicU64| a.load(Ordering::Relaxed);
        ForwardStats {
            queued_spans: r(&self.queued_spans),
            queued_bytes: r(&self.queued_bytes),
            max_bytes: r(&self.max_bytes),
            sent_spans: r(&self.sent_spans),
            rejected_spans: r(&self.rejected_spans),
            dropped_spans: r(&self.dropped_spans),
            failed_attempts: r(&self.failed_attempts),
        }
    }
}

struct Item {
    resource: Resource,
    spans: Vec<SpanData>,
    bytes: usize,
}

#[derive(Default)]
struct Queue {
    items: VecDeque<Item>,
    /// Bytes of queued items and the one being sent.
    bytes: usize,
    /// When closing: the time after which what is left is dropped.
    deadline: Option<Instant>,
    /// A batch is being sent.
    sending: bool,
    done: bool,
}

struct Inner {
    queue: Mutex<Queue>,
    wake: Condvar,
    counters: Arc<ForwardCounters>,
    max_bytes: usize,
    retry_initial: Duration,
    retry_max: Duration,
}

/// The forwarder: a queue and the thread draining it.
pub(crate) struct Forwarder {
    inner: Arc<Inner>,
    thread: Option<JoinHandle<()>>,
}

impl fmt::Debug for Forwarder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Forwarder")
            .field("stats", &self.inner.counters.snapshot())
            .finish_non_exhaustive()
    }
}

impl Forwarder {
    /// Starts the thread around `exporter`.
    pub(crate) fn start(
        exporter: Box<dyn SpanExporter>,
        max_bytes: usize,
        retry_initial: Duration,
        retry_max: Duration,
    ) -> std::io::Result<Forwarder> {
        let counters = Arc::new(ForwardCounters::default());
        counters
            .max_bytes
            .store(max_bytes as u64, Ordering::Relaxed);
        let inner = Arc::new(Inner {
            queue: Mutex::new(Queue::default()),
            wake: Condvar::new(),
            counters,
            max_bytes,
            retry_initial,
            retry_max: retry_max.max(retry_initial),
        });
        let worker = inner.clone();
        let thread = std::thread::Builder::new()
            .name("tracewire-collector-forward".into())
            .spawn(move || run(&worker, exporter))?;
        Ok(Forwarder {
            inner,
            thread: Some(thread),
        })
    }

    pub(crate) fn counters(&self) -> Arc<ForwardCounters> {
        self.inner.counters.clone()
    }

    /// Queues copies of `batches` without blocking.
    pub(crate) fn enqueue(&self, batches: &[NewBatch]) {
        for b in batches {
            if b.spans.is_empty() {
                continue;
            }
            let bytes = b
                .spans
                .iter()
                .map(|s| std::mem::size_of::<NewSpan>() + span_heap(s))
                .sum();
            let item = Item {
                resource: convert::resource(&b.source),
                spans: b.spans.iter().map(convert::span_data).collect(),
                bytes,
            };
            self.push(item);
        }
    }

    fn push(&self, item: Item) {
        let c = &self.inner.counters;
        let n = item.spans.len() as u64;
        let mut q = self.inner.queue.lock();
        if q.deadline.is_some() {
            c.dropped_spans.fetch_add(n, Ordering::Relaxed);
            return;
        }
        // Oldest first, but never the batch being sent (it is not in `items`).
        while q.bytes + item.bytes > self.inner.max_bytes {
            let Some(old) = q.items.pop_front() else {
                break;
            };
            q.bytes -= old.bytes;
            self.inner.forget(&old);
            c.dropped_spans
                .fetch_add(old.spans.len() as u64, Ordering::Relaxed);
        }
        if q.bytes + item.bytes > self.inner.max_bytes {
            c.dropped_spans.fetch_add(n, Ordering::Relaxed);
            return;
        }
        q.bytes += item.bytes;
        c.queued_spans.fetch_add(n, Ordering::Relaxed);
        c.queued_bytes
            .fetch_add(item.bytes as u64, Ordering::Relaxed);
        q.items.push_back(item);
        drop(q);
        self.inner.wake.notify_all();
    }

    /// Waits until the queue is empty and nothing is being sent, for at most `timeout`; true if
    /// it is.
    #[cfg(test)]
    pub(crate) fn wait_idle(&self, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        let mut q = self.inner.queue.lock();
        while !q.items.is_empty() || q.sending {
            if self.inner.wake.wait_until(&mut q, deadline).timed_out() {
                return false;
            }
        }
        true
    }

    /// Sends what is queued for at most `grace`, then stops the thread; what is left is counted
    /// as dropped. Returns without waiting further if an attempt is still in flight shortly after
    /// the deadline (the thread ends when it returns).
    pub(crate) fn shutdown(&mut self, grace: Duration) {
        let deadline = Instant::now() + grace.min(Duration::from_secs(3600));
        let mut q = self.inner.queue.lock();
        q.deadline = Some(deadline);
        self.inner.wake.notify_all();
        // The thread drops what is left once it sees the deadline pass.
        let give_up = deadline + Duration::from_millis(100);
        while !q.done {
            if self.inner.wake.wait_until(&mut q, give_up).timed_out() {
                break;
            }
        }
        let done = q.done;
        if !done {
            // The thread is late (a busy machine) or stuck in an export call: what is still
            // queued is given up here, so the counters are final when this returns except for
            // a batch the thread holds in an export call right now.
            // (A batch in an export call keeps its bytes in `q.bytes` until the call returns.)
            while let Some(left) = q.items.pop_front() {
                self.inner
                    .counters
                    .dropped_spans
                    .fetch_add(left.spans.len() as u64, Ordering::Relaxed);
                self.inner.forget(&left);
                q.bytes -= left.bytes;
            }
        }
        drop(q);
        if let Some(t) = self.thread.take()
            && done
        {
            let _ = t.join();
        }
    }
}

impl Drop for Forwarder {
    fn drop(&mut self) {
        if self.thread.is_some() {
            self.shutdown(Duration::ZERO);
        }
    }
}

impl Inner {
    /// Takes an item's spans out of the queued gauges.
    fn forget(&self, item: &Item) {
        let c = &self.counters;
        c.queued_spans
            .fetch_sub(item.spans.len() as u64, Ordering::Relaxed);
        c.queued_bytes
            .fetch_sub(item.bytes as u64, Ordering::Relaxed);
    }
}

fn run(inner: &Inner, mut exporter: Box<dyn SpanExporter>) {
    let c = &inner.counters;
    let mut backoff = inner.retry_initial;
    loop {
        let item = {
            let mut q = inner.queue.lock();
            loop {
                if let Some(deadline) = q.deadline
                    && (q.items.is_empty() || Instant::now() >= deadline)
                {
                    for left in q.items.drain(..) {
                        c.dropped_spans
                            .fetch_add(left.spans.len() as u64, Ordering::Relaxed);
                        inner.forget(&left);
                    }
                    q.bytes = 0;
                    q.done = true;
                    drop(q);
                    inner.wake.notify_all();
                    let _ = exporter.shutdown();
                    return;
                }
                if let Some(item) = q.items.pop_front() {
                    q.sending = true;
                    break item;
                }
                inner.wake.wait(&mut q);
            }
        };
        let n = item.spans.len() as u64;
        let retry = match exporter.export(&item.spans, &item.resource) {
            Ok(()) => {
                c.sent_spans.fetch_add(n, Ordering::Relaxed);
                false
            }
            Err(ExportError::Rejected { spans, .. }) => {
                let rejected = spans.min(n);
                c.rejected_spans.fetch_add(rejected, Ordering::Relaxed);
                c.sent_spans.fetch_add(n - rejected, Ordering::Relaxed);
                false
            }
            Err(ExportError::Shutdown) => {
                c.dropped_spans.fetch_add(n, Ordering::Relaxed);
                false
            }
            Err(_) => {
                c.failed_attempts.fetch_add(1, Ordering::Relaxed);
                true
            }
        };
        let mut q = inner.queue.lock();
        q.sending = false;
        inner.wake.notify_all();
        if retry {
            q.items.push_front(item);
            let wait_until = Instant::now() + backoff;
            backoff = (backoff * 2).min(inner.retry_max);
            // New batches wake the thread early; only the backoff or the shutdown deadline
            // end the wait.
            loop {
                let until = q.deadline.map_or(wait_until, |d| d.min(wait_until));
                if Instant::now() >= until {
                    break;
                }
                inner.wake.wait_until(&mut q, until);
            }
        } else {
            backoff = inner.retry_initial;
            q.bytes -= item.bytes;
            inner.forget(&item);
        }
    }
}

#[cfg(test)]
mod tests;
