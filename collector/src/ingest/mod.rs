//! Spans on their way into the store: the decoded form receivers produce ([`NewBatch`], in
//! `batch.rs`, with what it costs in memory), in-process spans queued as they are
//! (`local.rs`), what the store's write path reads from either (`view.rs`), the queue bounded
//! by bytes and spans that feeds the store's single writer thread (`queue.rs`, the thread in
//! `writer.rs`), and the settings
//! of what one request, the queue and the query pool may take (`builder.rs`).

mod batch;
mod builder;
mod local;
mod queue;
mod view;
mod writer;

#[cfg(test)]
pub(crate) use self::batch::batches_bytes;
pub(crate) use self::batch::{
    NewBatch, NewEvent, NewLink, NewResource, NewSource, NewSpan, NewValue, Str,
};
pub(crate) use self::queue::{QueueGauge, Shared, SubmitError};
pub(crate) use self::view::{
    IngestAttr, IngestEvent, IngestLink, IngestSpan, StrRef, ValueRef, array_json,
};
