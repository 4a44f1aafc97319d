//! A fmt-layer event format that adds `trace_id` and `span_id` to every log line inside a
//! span (sampled or not), and inside an ambient context when no span is enabled; and
//! [`LogFormat`], the choice [`Builder::log_format`](crate::Builder::log_format) offers.

use std::fmt;

use tracing::{Event, Subscriber};
use tracing_subscriber::fmt::format::Writer;
use tracing_subscriber::fmt::{FmtContext, FormatEvent, FormatFields};
use tracing_subscriber::registry::LookupSpan;

/// How [`init`](crate::init) prints log lines.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum LogFormat {
    /// `tracing-subscriber`'s human-readable lines, ending ` trace_id=… span_id=…`.
    #[default]
    Text,
    /// One JSON object per line (`tracing-subscriber`'s JSON format, event fields flattened
    /// to the top level) with `"trace_id"` and `"span_id"` members.
    Json,
}

/// Wraps another event format and adds the ids of the current trace to its line: appended as
/// ` trace_id=… span_id=…` ([`TraceIdFormat::new`]), or as `"trace_id"` and `"span_id"`
/// members of a JSON line ([`TraceIdFormat::json`]).
///
/// The inner format writes into a buffer of its own, so set colours on it
/// (`Format::default().with_ansi(..)`) rather than only on the layer.
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
    json: bool,
}

impl<F> TraceIdFormat<F> {
    /// Wraps a text format: the ids are appended to the line.
    pub fn new(inner: F) -> Self {
        TraceIdFormat { inner, json: false }
    }

    /// Wraps a format that writes one JSON object per line (such as
    /// `Format::default().json()`): the ids become members of the object.
    ///
    /// ```
    /// use tracing_subscriber::fmt::format::Format;
    /// use tracing_subscriber::layer::SubscriberExt;
    ///
    /// let subscriber = tracing_subscriber::registry().with(
    ///     tracing_subscriber::fmt::layer()
    ///         .json()
    ///         .event_format(tracewire::fmt::TraceIdFormat::json(Format::default().json())),
    /// );
    /// # let _ = subscriber;
    /// ```
    pub fn json(inner: F) -> Self {
        TraceIdFormat { inner, json: true }
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
        match (ids, self.json) {
            (None, _) => writer.write_str(body)?,
            (Some((trace_id, span_id)), false) => {
                write!(writer, "{body} trace_id={trace_id} span_id={span_id}")?;
            }
            (Some((trace_id, span_id)), true) => match body.strip_suffix('}') {
                Some(open) => {
                    let comma = if open.trim_end().ends_with('{') {
                        ""
                    } else {
                        ","
                    };
                    write!(
                        writer,
                        "{open}{comma}\"trace_id\":\"{trace_id}\",\"span_id\":\"{span_id}\"}}"
                    )?;
                }
                // Not a JSON object: leave the line as the inner format wrote it.
                None => writer.write_str(body)?,
            },
        }
        writer.write_char('\n')
    }
}
