//! [`SpanExt`]: trace-context access for a plain `tracing::Span`.

use std::borrow::Cow;

use tracing::span::Id;
use tracing_subscriber::Registry;
use tracing_subscriber::registry::LookupSpan;

use super::state::{SpanState, push_attribute};
use crate::context::{Context, SpanContext};
use crate::error::BaggageError;
#[cfg(feature = "fmt")]
use crate::id::{SpanId, TraceId};
use crate::span::Value;

// --- reaching span state from a plain `tracing::Span` -------------------------------------------

/// Runs `f` on the state of `id` or its nearest ancestor the layer knows, if the dispatcher is a
/// `tracing_subscriber::Registry`-based stack.
fn with_state<R>(
    dispatch: &tracing::Dispatch,
    id: &Id,
    f: impl FnOnce(&mut SpanState) -> R,
) -> Option<R> {
    let registry = dispatch.downcast_ref::<Registry>()?;
    let span = registry.span(id)?;
    for s in span.scope() {
        let mut ext = s.extensions_mut();
        if let Some(state) = ext.get_mut::<SpanState>() {
            return Some(f(state));
        }
    }
    None
}

/// The context of the current `tracing` span (or its nearest known ancestor), read without
/// cloning the span handle.
pub(crate) fn current_span_context() -> Option<Context> {
    tracing::dispatcher::get_default(|d| {
        let current = d.current_span();
        with_state(d, current.id()?, |s| s.context())
    })
}

/// Trace-context access for any `tracing::Span`.
///
/// Works when the subscriber is a `tracing_subscriber::Registry` stack with the
/// [`TracewireLayer`]; otherwise (and for disabled spans) the getters return `None`.
pub trait SpanExt {
    /// The span's own context (trace id, span id, flags), as soon as the span exists.
    fn span_context(&self) -> Option<SpanContext>;

    /// The span's context with its baggage: what to inject into an outbound call.
    fn context(&self) -> Option<Context>;

    /// Sets a baggage entry on this span. Spans created under it afterwards inherit it, and
    /// outbound calls made under it carry it.
    fn set_baggage(&self, key: &str, value: &str) -> Result<(), BaggageError>;

    /// Records an attribute whose key is only known at run time (a `tracing` field name must be
    /// known at compile time), e.g. `http.request.header.x-tenant`. Only sampled spans record
    /// it; the per-span attribute cap applies. Returns whether it was recorded.
    fn set_attribute(&self, key: impl Into<Cow<'static, str>>, value: impl Into<Value>) -> bool;

    /// Whether the span is known to the layer and sampled (its attributes are recorded).
    fn is_sampled(&self) -> bool;
}

impl SpanExt for tracing::Span {
    fn span_context(&self) -> Option<SpanContext> {
        self.with_subscriber(|(id, d)| with_state(d, id, |s| s.cx.clone()))
            .flatten()
    }

    fn context(&self) -> Option<Context> {
        self.with_subscriber(|(id, d)| with_state(d, id, |s| s.context()))
            .flatten()
    }

    fn set_baggage(&self, key: &str, value: &str) -> Result<(), BaggageError> {
        self.with_subscriber(|(id, d)| {
            with_state(d, id, |s| {
                s.baggage = s.baggage.with(key, value)?;
                Ok(())
            })
        })
        .flatten()
        .unwrap_or(Ok(()))
    }

    fn set_attribute(&self, key: impl Into<Cow<'static, str>>, value: impl Into<Value>) -> bool {
        let (key, value) = (key.into(), value.into());
        self.with_subscriber(|(id, d)| {
            with_state(d, id, |s| match s.recording.as_mut() {
                Some(rec) => {
                    let before = rec.dropped_attributes;
                    let max = rec.max_attributes;
                    push_attribute(rec, max, key, value, true);
                    rec.dropped_attributes == before
                }
                None => false,
            })
        })
        .flatten()
        .unwrap_or(false)
    }

    fn is_sampled(&self) -> bool {
        self.with_subscriber(|(id, d)| with_state(d, id, |s| s.recording.is_some()))
            .flatten()
            .unwrap_or(false)
    }
}

/// The ids of a span from its extensions, for the fmt layer.
#[cfg(feature = "fmt")]
pub(crate) fn span_ids(
    ext: &tracing_subscriber::registry::Extensions<'_>,
) -> Option<(TraceId, SpanId)> {
    ext.get::<SpanState>()
        .map(|s| (s.cx.trace_id(), s.cx.span_id()))
}
