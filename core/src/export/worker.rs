//! The worker thread: drains the queue into batches and hands each batch to every exporter.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, Sender, select};

use super::SpanExporter;
use crate::error::ExportError;
use crate::resource::Resource;
use crate::span::SpanData;

pub(super) enum Control {
    /// A full batch is waiting.
    Wake,
    Flush(Sender<()>),
    Shutdown(Sender<()>),
}

#[derive(Default)]
pub(super) struct Counters {
    pub(super) received: AtomicU64,
    pub(super) exported: AtomicU64,
    pub(super) dropped: AtomicU64,
    pub(super) failed: AtomicU64,
    pub(super) export_errors: AtomicU64,
}

pub(super) struct Worker {
    pub(super) spans: Receiver<SpanData>,
    pub(super) control: Receiver<Control>,
    pub(super) counters: Arc<Counters>,
    pub(super) last_error: Arc<Mutex<Option<ExportError>>>,
    pub(super) wake_pending: Arc<AtomicBool>,
    pub(super) exporters: Vec<Box<dyn SpanExporter>>,
    pub(super) resource: Resource,
    pub(super) max_batch: usize,
    pub(super) batch_timeout: Duration,
}

impl Worker {
    pub(super) fn run(mut self) {
        let mut batch = Vec::with_capacity(self.max_batch);
        let mut deadline = Instant::now() + self.batch_timeout;
        loop {
            let wait = deadline.saturating_duration_since(Instant::now());
            // Only control messages wake the worker; spans wait in the queue until a batch is
            // full (a producer sends `Wake`) or the batch timeout passes.
            select! {
                recv(self.control) -> msg => match msg {
                    Ok(Control::Wake) => {
                        self.wake_pending.store(false, Ordering::Release);
                        self.drain_full(&mut batch);
                    }
                    Ok(Control::Flush(ack)) => {
                        self.drain(&mut batch);
                        for i in 0..self.exporters.len() {
                            if let Err(err) = self.exporters[i].force_flush() {
                                self.record_error(err);
                            }
                        }
                        let _ = ack.send(());
                    }
                    Ok(Control::Shutdown(ack)) => {
                        self.drain(&mut batch);
                        self.shutdown_exporters();
                        let _ = ack.send(());
                        return;
                    }
                    // Every handle is gone: export what is left and stop.
                    Err(_) => {
                        self.drain(&mut batch);
                        self.shutdown_exporters();
                        return;
                    }
                },
                default(wait) => {
                    self.drain(&mut batch);
                    deadline = Instant::now() + self.batch_timeout;
                }
            }
        }
    }

    /// Exports the full batches waiting in the queue; a remainder stays for the timer.
    fn drain_full(&mut self, batch: &mut Vec<SpanData>) {
        loop {
            while batch.len() < self.max_batch {
                match self.spans.try_recv() {
                    Ok(span) => {
                        self.counters.received.fetch_add(1, Ordering::Relaxed);
                        batch.push(span);
                    }
                    Err(_) => return,
                }
            }
            self.export(batch);
        }
    }

    /// Exports everything currently queued, in batches.
    fn drain(&mut self, batch: &mut Vec<SpanData>) {
        while let Ok(span) = self.spans.try_recv() {
            self.counters.received.fetch_add(1, Ordering::Relaxed);
            batch.push(span);
            if batch.len() >= self.max_batch {
                self.export(batch);
            }
        }
        self.export(batch);
    }

    fn export(&mut self, batch: &mut Vec<SpanData>) {
        if batch.is_empty() {
            return;
        }
        let n = batch.len() as u64;
        let mut ok = true;
        for i in 0..self.exporters.len() {
            if let Err(err) = self.exporters[i].export(batch, &self.resource) {
                ok = false;
                self.record_error(err);
            }
        }
        if ok {
            self.counters.exported.fetch_add(n, Ordering::Relaxed);
        } else {
            self.counters.failed.fetch_add(n, Ordering::Relaxed);
        }
        batch.clear();
    }

    fn record_error(&self, err: ExportError) {
        self.counters.export_errors.fetch_add(1, Ordering::Relaxed);
        *self.last_error.lock().unwrap_or_else(|e| e.into_inner()) = Some(err);
    }

    fn shutdown_exporters(&mut self) {
        for i in 0..self.exporters.len() {
            if let Err(err) = self.exporters[i].shutdown() {
                self.record_error(err);
            }
        }
    }
}
