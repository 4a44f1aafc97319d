//! Spans on their way into the store: the decoded form receivers and the in-process exporter
//! produce ([`NewBatch`], in `batch.rs`, with what it costs in memory), and the queue bounded by
//! bytes and spans that feeds the store's single writer thread (`queue.rs`), and the settings of
//! what one request, the queue and the query pool may take (`builder.rs`).

mod batch;
mod builder;
mod queue;

#[cfg(test)]
pub(crate) use self::batch::batches_bytes;
pub(crate) use self::batch::{
    NewBatch, NewEvent, NewLink, NewResource, NewSource, NewSpan, NewValue, Str,
};
pub(crate) use self::queue::{QueueGauge, Shared, SubmitError};
