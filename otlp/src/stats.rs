//! The exporter's counters.

use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use crate::error::OtlpExportError;

#[derive(Default)]
struct Counters {
    requests: AtomicU64,
    retries: AtomicU64,
    timeouts: AtomicU64,
    exported_spans: AtomicU64,
    rejected_spans: AtomicU64,
    failed_batches: AtomicU64,
    failed_spans: AtomicU64,
    bytes_sent: AtomicU64,
    tls_errors: AtomicU64,
    last_error: Mutex<Option<OtlpExportError>>,
}

/// A cloneable handle on an [`OtlpExporter`](crate::OtlpExporter)'s counters, readable from any
/// thread while the exporter runs on the pipeline's worker.
///
/// ```
/// use tracewire_otlp::OtlpExporter;
///
/// let exporter = OtlpExporter::builder().build().unwrap();
/// let stats = exporter.stats_handle();
/// assert_eq!(stats.snapshot().requests, 0);
/// ```
#[derive(Clone, Default)]
pub struct OtlpStats {
    counters: Arc<Counters>,
}

impl fmt::Debug for OtlpStats {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.snapshot(), f)
    }
}

/// The exporter's counters at one moment.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct OtlpStatsSnapshot {
    /// Requests sent (every attempt, retries included).
    pub requests: u64,
    /// Attempts that were retries.
    pub retries: u64,
    /// Attempts cut off by the request timeout.
    pub timeouts: u64,
    /// Spans the destination accepted (rejected spans of a partial success not included).
    pub exported_spans: u64,
    /// Spans the destination rejected in partial-success answers.
    pub rejected_spans: u64,
    /// Batches that could not be delivered (retries exhausted or a non-retryable answer).
    pub failed_batches: u64,
    /// Spans in those batches.
    pub failed_spans: u64,
    /// Request payload bytes sent, after compression (gRPC: the encoded message, before gzip).
    pub bytes_sent: u64,
    /// Attempts that failed in the TLS handshake (unknown CA, expired or mismatched server
    /// certificate, client certificate required or refused).
    pub tls_errors: u64,
}

impl OtlpStats {
    /// The counters now.
    pub fn snapshot(&self) -> OtlpStatsSnapshot {
        let c = &self.counters;
        let get = |a: &AtomicU64| a.load(Ordering::Relaxed);
        OtlpStatsSnapshot {
            requests: get(&c.requests),
            retries: get(&c.retries),
            timeouts: get(&c.timeouts),
            exported_spans: get(&c.exported_spans),
            rejected_spans: get(&c.rejected_spans),
            failed_batches: get(&c.failed_batches),
            failed_spans: get(&c.failed_spans),
            bytes_sent: get(&c.bytes_sent),
            tls_errors: get(&c.tls_errors),
        }
    }

    /// The most recent failure, typed (the pipeline sees it as a [`tracewire::ExportError`]).
    ///
    /// ```
    /// use tracewire_otlp::OtlpExporter;
    ///
    /// let exporter = OtlpExporter::builder().build().unwrap();
    /// assert_eq!(exporter.stats_handle().last_error(), None);
    /// ```
    pub fn last_error(&self) -> Option<OtlpExportError> {
        self.counters
            .last_error
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    pub(crate) fn set_last_error(&self, e: &OtlpExportError) {
        if matches!(e, OtlpExportError::Tls(_)) {
            self.counters.tls_errors.fetch_add(1, Ordering::Relaxed);
        }
        *self
            .counters
            .last_error
            .lock()
            .unwrap_or_else(|e| e.into_inner()) = Some(e.clone());
    }

    pub(crate) fn request(&self, bytes: u64) {
        self.counters.requests.fetch_add(1, Ordering::Relaxed);
        self.counters.bytes_sent.fetch_add(bytes, Ordering::Relaxed);
    }

    pub(crate) fn retry(&self) {
        self.counters.retries.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn timeout(&self) {
        self.counters.timeouts.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn delivered(&self, accepted: u64, rejected: u64) {
        self.counters
            .exported_spans
            .fetch_add(accepted, Ordering::Relaxed);
        self.counters
            .rejected_spans
            .fetch_add(rejected, Ordering::Relaxed);
    }

    pub(crate) fn failed(&self, spans: u64) {
        self.counters.failed_batches.fetch_add(1, Ordering::Relaxed);
        self.counters
            .failed_spans
            .fetch_add(spans, Ordering::Relaxed);
    }
}
