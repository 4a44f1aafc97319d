//! The log output [`init`](crate::init) installs: a fmt layer whose events are chosen by the
//! log filter (`RUST_LOG`), never by the span filter, and whose lines carry trace ids; text or
//! JSON, to stdout, stderr or any `MakeWriter`, coloured only on a terminal.

use std::io::IsTerminal;

use tracing::span::{Attributes, Id, Record};
use tracing::subscriber::Interest;
use tracing::{Metadata, Subscriber};
use tracing_subscriber::EnvFilter;
use tracing_subscriber::Registry;
use tracing_subscriber::filter::LevelFilter;
use tracing_subscriber::fmt::writer::BoxMakeWriter;
use tracing_subscriber::layer::{Context, Filter, Layer};
use tracing_subscriber::registry::LookupSpan;

use crate::fmt::{LogFormat, TraceIdFormat};

/// Where log lines go.
pub(super) enum LogWriter {
    Stdout,
    Stderr,
    Custom(BoxMakeWriter),
}

/// The log output's settings.
pub(super) struct LogOptions {
    pub(super) writer: LogWriter,
    pub(super) format: LogFormat,
    /// Colours forced on or off; `None`: on a terminal, unless `NO_COLOR` is set.
    pub(super) ansi: Option<bool>,
}

impl Default for LogOptions {
    fn default() -> Self {
        LogOptions {
            writer: LogWriter::Stdout,
            format: LogFormat::Text,
            ansi: None,
        }
    }
}

/// Whether to write ANSI colours: as forced, else only to a terminal and only when `NO_COLOR`
/// is unset or empty (<https://no-color.org>).
pub(super) fn use_ansi(forced: Option<bool>, terminal: bool, no_color: Option<&str>) -> bool {
    forced.unwrap_or_else(|| terminal && no_color.is_none_or(str::is_empty))
}

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

/// The fmt layer as `options` say, filtered by `filter`. `no_color` is `NO_COLOR`'s value.
pub(super) fn layer(
    filter: LogFilter,
    options: LogOptions,
    no_color: Option<&str>,
) -> Box<dyn Layer<Registry> + Send + Sync> {
    use tracing_subscriber::fmt::format::Format;

    let (writer, terminal) = match options.writer {
        LogWriter::Stdout => (
            BoxMakeWriter::new(std::io::stdout),
            std::io::stdout().is_terminal(),
        ),
        LogWriter::Stderr => (
            BoxMakeWriter::new(std::io::stderr),
            std::io::stderr().is_terminal(),
        ),
        // Nothing says a custom writer is a terminal.
        LogWriter::Custom(w) => (w, false),
    };
    match options.format {
        LogFormat::Json => tracing_subscriber::fmt::layer()
            .json()
            .with_writer(writer)
            .with_ansi(false)
            .event_format(TraceIdFormat::json(
                Format::default().json().flatten_event(true),
            ))
            .with_filter(filter)
            .boxed(),
        LogFormat::Text => {
            let ansi = use_ansi(options.ansi, terminal, no_color);
            tracing_subscriber::fmt::layer()
                .with_writer(writer)
                .with_ansi(ansi)
                // `TraceIdFormat` formats the inner line into a buffer of its own, so the inner
                // format carries the colour choice itself.
                .event_format(TraceIdFormat::new(Format::default().with_ansi(ansi)))
                .with_filter(filter)
                .boxed()
        }
    }
}
