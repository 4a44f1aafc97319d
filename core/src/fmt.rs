//! A fmt-layer event format that adds `trace_id` and `span_id` to every log line inside a
//! span (sampled or not), and inside an ambient context when no span is enabled; and
//! [`LogFormat`], the choice [`Builder::log_format`](crate::Builder::log_format) offers.

use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use tracing::span::Id;
use tracing::{Event, Subscriber};
use tracing_subscriber::fmt::format::Writer;
use tracing_subscriber::fmt::{FmtContext, FormatEvent, FormatFields};
use tracing_subscriber::layer::Context;
use tracing_subscriber::registry::{LookupSpan, SpanRef};

use crate::context::SpanContext;
use crate::id::{SpanId, TraceId};
use crate::layer::{SpanTable, TracewireLayer};

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
/// Link it to the [`TracewireLayer`] of the same subscriber with
/// [`with_layer`](TraceIdFormat::with_layer) (what [`init`](crate::init) does). Until every
/// format is linked, the layers of the process also store each span's ids in the registry's
/// span extensions, where an unlinked format finds them — at the cost of one extension per span.
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
    ids: Ids,
}

/// Where a [`TraceIdFormat`] reads a span's ids.
#[derive(Clone)]
enum Ids {
    /// The table of the layer it is linked to.
    Table(Arc<SpanTable>),
    /// The span's extensions, where layers store ids while an unlinked format exists.
    Extensions(Unlinked),
}

impl fmt::Debug for Ids {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Ids::Table(_) => "linked to a layer",
            Ids::Extensions(_) => "span extensions",
        })
    }
}

impl Ids {
    fn of<S>(&self, span: &SpanRef<'_, S>) -> Option<(TraceId, SpanId)>
    where
        S: for<'a> LookupSpan<'a>,
    {
        match self {
            Ids::Table(table) => table.ids(&span.id()),
            Ids::Extensions(_) => span.extensions().get::<SpanIds>().map(|i| (i.0, i.1)),
        }
    }
}

/// How many unlinked formats exist: while there are any, layers store span ids in extensions.
static UNLINKED: AtomicUsize = AtomicUsize::new(0);

/// Counts itself in [`UNLINKED`] while it lives.
struct Unlinked;

impl Unlinked {
    fn new() -> Self {
        UNLINKED.fetch_add(1, Ordering::AcqRel);
        Unlinked
    }
}

impl Clone for Unlinked {
    fn clone(&self) -> Self {
        Unlinked::new()
    }
}

impl Drop for Unlinked {
    fn drop(&mut self) {
        UNLINKED.fetch_sub(1, Ordering::AcqRel);
    }
}

/// A span's ids in its extensions, for unlinked formats.
struct SpanIds(TraceId, SpanId);

/// Whether layers should store span ids in extensions (an unlinked format exists).
#[inline]
pub(crate) fn ids_in_extensions() -> bool {
    UNLINKED.load(Ordering::Relaxed) != 0
}

/// Stores a new span's ids in its extensions, for unlinked formats.
#[cold]
pub(crate) fn store_ids<S>(ctx: &Context<'_, S>, id: &Id, cx: &SpanContext)
where
    S: Subscriber + for<'a> LookupSpan<'a>,
{
    if let Some(span) = ctx.span(id) {
        let mut ext = span.extensions_mut();
        if ext.get_mut::<SpanIds>().is_none() {
            ext.insert(SpanIds(cx.trace_id(), cx.span_id()));
        }
    }
}

impl<F> TraceIdFormat<F> {
    /// Wraps a text format: the ids are appended to the line.
    pub fn new(inner: F) -> Self {
        TraceIdFormat {
            inner,
            json: false,
            ids: Ids::Extensions(Unlinked::new()),
        }
    }

    /// Reads span ids from `layer` directly, the layer to add to the same subscriber (before
    /// or after this format's fmt layer). Cheaper than the default, where every layer also
    /// stores each span's ids in the registry's extensions for this format to find.
    ///
    /// ```
    /// use tracing_subscriber::fmt::format::Format;
    /// use tracing_subscriber::layer::SubscriberExt;
    /// use tracewire::export::Pipeline;
    /// use tracewire::fmt::TraceIdFormat;
    ///
    /// let layer = tracewire::TracewireLayer::builder().build(Pipeline::builder().build());
    /// let format = TraceIdFormat::new(Format::default()).with_layer(&layer);
    /// let subscriber = tracing_subscriber::registry()
    ///     .with(layer)
    ///     .with(tracing_subscriber::fmt::layer().event_format(format));
    /// # let _ = subscriber;
    /// ```
    #[must_use]
    pub fn with_layer(mut self, layer: &TracewireLayer) -> Self {
        self.ids = Ids::Table(layer.spans().clone());
        self
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
        TraceIdFormat {
            json: true,
            ..TraceIdFormat::new(inner)
        }
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
            .and_then(|scope| scope.into_iter().find_map(|s| self.ids.of(&s)))
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
