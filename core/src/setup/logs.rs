//! The log output [`init`](crate::init) installs: a fmt layer whose events are chosen by the
//! log filter (`RUST_LOG`), never by the span filter, and whose lines carry trace ids.

use tracing::span::{Attributes, Id, Record};
use tracing::subscriber::Interest;
use tracing::{Metadata, Subscriber};
use tracing_subscriber::EnvFilter;
use tracing_subscriber::Registry;
use tracing_subscriber::filter::LevelFilter;
use tracing_subscriber::fmt::writer::BoxMakeWriter;
use tracing_subscriber::layer::{Context, Filter, Layer};
use tracing_subscriber::registry::LookupSpan;

use crate::fmt::TraceIdFormat;

/// The fmt layer's filter: events as the log filter says; spans if either the log filter or
/// the span filter enables them, so a log line sees the traced spans around it (for its span
/// prefix and its `trace_id`) even when the log filter alone would hide them.
pub(super) struct LogFilter {
    logs: EnvFilter,
    spans: EnvFilter,
}

impl LogFilter {
    pub(super) fn new(logs: EnvFilter, spans: EnvFilter) -> Self {
        LogFilter { logs, spans }
    }
}

impl<S> Filter<S> for LogFilter
where
    S: Subscriber + for<'a> LookupSpan<'a>,
{
    fn enabled(&self, meta: &Metadata<'_>, cx: &Context<'_, S>) -> bool {
        Filter::<S>::enabled(&self.logs, meta, cx)
            || (meta.is_span() && Filter::<S>::enabled(&self.spans, meta, cx))
    }

    fn callsite_enabled(&self, meta: &'static Metadata<'static>) -> Interest {
        let logs = Filter::<S>::callsite_enabled(&self.logs, meta);
        if !meta.is_span() || logs.is_always() {
            return logs;
        }
        let spans = Filter::<S>::callsite_enabled(&self.spans, meta);
        if spans.is_always() {
            Interest::always()
        } else if logs.is_never() && spans.is_never() {
            Interest::never()
        } else {
            Interest::sometimes()
        }
    }

    fn max_level_hint(&self) -> Option<LevelFilter> {
        let logs = Filter::<S>::max_level_hint(&self.logs)?;
        let spans = Filter::<S>::max_level_hint(&self.spans)?;
        Some(logs.max(spans))
    }

    fn on_new_span(&self, attrs: &Attributes<'_>, id: &Id, ctx: Context<'_, S>) {
        Filter::<S>::on_new_span(&self.logs, attrs, id, ctx.clone());
        Filter::<S>::on_new_span(&self.spans, attrs, id, ctx);
    }

    fn on_record(&self, id: &Id, values: &Record<'_>, ctx: Context<'_, S>) {
        Filter::<S>::on_record(&self.logs, id, values, ctx.clone());
        Filter::<S>::on_record(&self.spans, id, values, ctx);
    }

    fn on_enter(&self, id: &Id, ctx: Context<'_, S>) {
        Filter::<S>::on_enter(&self.logs, id, ctx.clone());
        Filter::<S>::on_enter(&self.spans, id, ctx);
    }

    fn on_exit(&self, id: &Id, ctx: Context<'_, S>) {
        Filter::<S>::on_exit(&self.logs, id, ctx.clone());
        Filter::<S>::on_exit(&self.spans, id, ctx);
    }

    fn on_close(&self, id: Id, ctx: Context<'_, S>) {
        Filter::<S>::on_close(&self.logs, id.clone(), ctx.clone());
        Filter::<S>::on_close(&self.spans, id, ctx);
    }
}

/// The fmt layer writing to `writer`, filtered by `filter`.
pub(super) fn layer(
    filter: LogFilter,
    writer: BoxMakeWriter,
) -> Box<dyn Layer<Registry> + Send + Sync> {
    tracing_subscriber::fmt::layer()
        .with_writer(writer)
        .event_format(TraceIdFormat::new(
            tracing_subscriber::fmt::format::Format::default(),
        ))
        .with_filter(filter)
        .boxed()
}
