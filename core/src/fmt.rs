//! A fmt-layer event format that appends `trace_id` and `span_id` to every log line inside a
//! span (sampled or not), and inside an ambient context when no span is enabled.

use std::fmt;

use tracing::{Event, Subscriber};
use tracing_subscriber::fmt::format::Writer;
use tracing_subscriber::fmt::{FmtContext, FormatEvent, FormatFields};
use tracing_subscriber::registry::LookupSpan;

/// Wraps another event format and appends ` trace_id=… span_id=…` to its line.
///
/// ```
/// use tracing_subscriber::fmt::format::Format;
/// use tracing_subscriber::layer::SubscriberExt;
///
/// let subscriber = tracing_subscriber::registry().with(
///     tracing_subscriber::fmt::layer()
///         .event_format(tracewire::fmt::TraceIdFormat::new(Format::default())),
/// );
/// # let _ = subscriber;
/// ```
#[derive(Debug, Clone)]
pub struct TraceIdFormat<F> {
    inner: F,
}

impl<F> TraceIdFormat<F> {
    /// Wraps `inner`.
    pub fn new(inner: F) -> Self {
        TraceIdFormat { inner }
    }
}

impl<S, N, F> FormatEvent<S, N> for TraceIdFormat<F>
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
    F: FormatEvent<S, N>,
{
    fn format_event(
        &self,
        ctx: &FmtContext<'_, S, N>,
        mut writer: Writer<'_>,
        event: &Event<'_>,
    ) -> fmt::Result {
        let ids = ctx
            .event_scope()
            .and_then(|scope| {
                scope
                    .into_iter()
                    .find_map(|s| crate::layer::span_ids(&s.extensions()))
            })
            .or_else(|| {
                crate::ambient::with_ambient(|a| {
                    a.and_then(|a| a.cx.span_context())
                        .map(|s| (s.trace_id(), s.span_id()))
                })
            });
        let mut line = String::new();
        self.inner
            .format_event(ctx, Writer::new(&mut line), event)?;
        let body = line.strip_suffix('\n').unwrap_or(&line);
        writer.write_str(body)?;
        if let Some((trace_id, span_id)) = ids {
            write!(writer, " trace_id={trace_id} span_id={span_id}")?;
        }
        writer.write_char('\n')
    }
}
