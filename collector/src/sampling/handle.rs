//! The sampling stage as a [`TraceStore`] reader sees it: counters, seen vs kept per
//! operation, where a trace stands, and retroactive keeps.

use std::time::Duration;

use tokio::sync::oneshot;

use super::stage::Command;
use super::stats::{KeepOutcome, OperationSampling, SamplingStats, TraceSampling};
use crate::collector::TraceStore;
use crate::model::TraceId;

impl TraceStore {
    /// Whether a tail-sampling stage sits in front of the store
    /// ([`CollectorBuilder::sampling`](crate::CollectorBuilder::sampling)).
    pub fn sampling_enabled(&self) -> bool {
        self.shared.sampling.is_some()
    }

    /// The sampling stage's counters; `None` when sampling is off.
    pub fn sampling_stats(&self) -> Option<SamplingStats> {
        self.shared.sampling.as_ref().map(|s| s.stats())
    }

    /// Spans seen (received) and kept per operation over the `window` ending at `now_unix_nano`
    /// (nanoseconds since the Unix epoch), bucketed by span end time like the per-operation
    /// health, so both line up; `None` when sampling is off.
    pub fn sampling_operations(
        &self,
        now_unix_nano: u64,
        window: Duration,
    ) -> Option<Vec<OperationSampling>> {
        let s = self.shared.sampling.as_ref()?;
        Some(s.ops.lock().snapshot(now_unix_nano, window))
    }

    /// The longest window [`TraceStore::sampling_operations`] covers.
    pub fn sampling_operations_window(&self) -> Option<Duration> {
        let s = self.shared.sampling.as_ref()?;
        Some(s.ops.lock().longest_window())
    }

    /// Keeps a trace after the fact, whatever the policies decided, while it is in the recent
    /// buffer: its spans go to the store (and the forwarder) before this returns, and spans of
    /// it arriving later are kept too. [`KeepOutcome::Disabled`] when sampling is off or the
    /// collector is shut down.
    ///
    /// ```no_run
    /// # async fn demo(store: tracewire_collector::TraceStore) {
    /// use tracewire_collector::sampling::KeepOutcome;
    ///
    /// let id = "4bf92f3577b34da6a3ce929d0e0e4736".parse().unwrap();
    /// match store.keep_trace(id).await {
    ///     KeepOutcome::Kept { spans } => println!("kept {spans} spans"),
    ///     KeepOutcome::AlreadyKept => println!("already kept"),
    ///     other => println!("{other:?}"),
    /// }
    /// # }
    /// ```
    pub async fn keep_trace(&self, trace_id: TraceId) -> KeepOutcome {
        let (tx, rx) = oneshot::channel();
        if !self.send_sampling(Command::Keep(trace_id, tx)) {
            return KeepOutcome::Disabled;
        }
        rx.await.unwrap_or(KeepOutcome::Disabled)
    }

    /// [`TraceStore::keep_trace`] for non-async code; do not call it on a runtime thread.
    pub fn keep_trace_blocking(&self, trace_id: TraceId) -> KeepOutcome {
        let (tx, rx) = oneshot::channel();
        if !self.send_sampling(Command::Keep(trace_id, tx)) {
            return KeepOutcome::Disabled;
        }
        rx.blocking_recv().unwrap_or(KeepOutcome::Disabled)
    }

    /// Where a trace stands: waiting, kept (why), dropped (why, and whether its spans can still
    /// be kept), or unknown.
    pub async fn trace_sampling(&self, trace_id: TraceId) -> TraceSampling {
        let (tx, rx) = oneshot::channel();
        if !self.send_sampling(Command::Lookup(trace_id, tx)) {
            return TraceSampling::Disabled;
        }
        rx.await.unwrap_or(TraceSampling::Disabled)
    }

    fn send_sampling(&self, cmd: Command) -> bool {
        self.shared.sampling.is_some() && self.shared.sampling_command(cmd)
    }
}
