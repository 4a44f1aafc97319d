//! [`SpanExt`]: trace-context access for a plain `tracing::Span`.
//!
//! A `tracing::Span` knows only its id and its dispatcher. To reach the layer's state for it,
//! the dispatcher is asked for the [`TracewireLayer`] (a `downcast_ref`, which every
//! `tracing-subscriber` layer stack forwards through `downcast_raw`), whose table holds the
//! state by span id. For a span the layer does not know, [`current()`](crate::current) looks at
//! its ancestors through a function pointer set when the layer was added to its subscriber
//! (`on_layer`), which knows that subscriber's type. Any [`LookupSpan`] subscriber works: a
//! `Registry` wrapped by other layers, a filtered layer, a custom registry.

use std::borrow::Cow;

use tracing::span::Id;
use tracing::{Dispatch, Subscriber};
use tracing_subscriber::registry::LookupSpan;

use super::TracewireLayer;
use super::state::{SpanState, push_attribute};
use crate::context::{Context, SpanContext};
use crate::error::BaggageError;
use crate::limits::SpanLimits;
use crate::value::Value;

/// Calls `f` with the id of each ancestor of a span, nearest first, until it returns `true`.
type Ancestors = fn(&Dispatch, &Id, &mut dyn FnMut(&Id) -> bool);

/// How the layer walks a span's ancestors in its subscriber: a function monomorphised for the
/// subscriber type the layer was added to, stored in the layer by `on_layer`.
#[derive(Clone, Copy)]
pub(super) struct SpanLookup {
    ancestors: Ancestors,
}

impl SpanLookup {
    /// The lookup for subscriber `S`.
    pub(super) fn of<S>() -> Self
    where
        S: Subscriber + for<'a> LookupSpan<'a> + 'static,
    {
        SpanLookup {
            ancestors: ancestors_in::<S>,
        }
    }
}

fn ancestors_in<S>(dispatch: &Dispatch, id: &Id, f: &mut dyn FnMut(&Id) -> bool)
where
    S: Subscriber + for<'a> LookupSpan<'a> + 'static,
{
    let Some(span) = dispatch.downcast_ref::<S>().and_then(|s| s.span(id)) else {
        return;
    };
    for s in span.scope().skip(1) {
        if f(&s.id()) {
            return;
        }
    }
}

impl TracewireLayer {
    /// The context of span `id` or, if the layer does not know it (filtered out for this
    /// layer), of its nearest ancestor the layer knows.
    fn context_near(&self, dispatch: &Dispatch, id: &Id) -> Option<Context> {
        if let Some(cx) = self.spans.with(id, |s| s.context()) {
            return Some(cx);
        }
        let lookup = self.lookup?;
        let mut found = None;
        (lookup.ancestors)(dispatch, id, &mut |a| {
            found = self.spans.with(a, |s| s.context());
            found.is_some()
        });
        found
    }
}

/// Runs `f` on the layer's state for exactly span `id` of `dispatch`; `None` when the
/// dispatcher has no tracewire layer or the layer does not know the span.
fn with_state<R>(
    dispatch: &Dispatch,
    id: &Id,
    f: impl FnOnce(&mut SpanState, &SpanLimits) -> R,
) -> Option<R> {
    let layer = dispatch.downcast_ref::<TracewireLayer>()?;
    let limits = &layer.config.limits;
    layer.spans.with(id, |s| f(s, limits))
}

/// Runs `f` on the state of exactly `span`, if the layer knows it.
fn with_span_state<R>(
    span: &tracing::Span,
    f: impl FnOnce(&mut SpanState, &SpanLimits) -> R,
) -> Option<R> {
    span.with_subscriber(|(id, d)| with_state(d, id, f))
        .flatten()
}

/// The context of the current `tracing` span (or its nearest ancestor the layer knows), read
/// without cloning the span handle.
pub(crate) fn current_span_context() -> Option<Context> {
    tracing::dispatcher::get_default(|d| {
        let id = d.current_span().id()?.clone();
        d.downcast_ref::<TracewireLayer>()?.context_near(d, &id)
    })
}

/// Trace-context access for any `tracing::Span`.
///
/// Works whatever the subscriber, as long as it implements
/// [`LookupSpan`](tracing_subscriber::registry::LookupSpan) and has the [`TracewireLayer`]. Each
/// method acts on exactly the span it is called on: for a span the layer does not know (disabled,
/// filtered out for the layer, or no layer at all) the getters return `None`, the setters change
/// nothing and say so — they never fall back to an ancestor.
///
/// ```
/// use tracewire::SpanExt;
/// use tracewire::testing::Recorder;
///
/// let recorder = Recorder::new();
/// recorder.in_scope(|| {
///     let span = tracing::info_span!("GET /rides");
///     assert!(span.set_attribute("http.request.header.x-tenant", "acme"));
///     assert!(span.span_context().unwrap().is_sampled());
/// });
/// recorder.span("GET /rides").assert_attr("http.request.header.x-tenant", "acme");
///
/// let untraced = tracing::info_span!("no subscriber");
/// assert!(untraced.span_context().is_none());
/// assert!(!untraced.set_attribute("k", "v"));
/// ```
pub trait SpanExt {
    /// The span's own context (trace id, span id, flags), as soon as the span exists.
    fn span_context(&self) -> Option<SpanContext>;

    /// The span's context with its baggage: what to inject into an outbound call.
    fn context(&self) -> Option<Context>;

    /// Sets a baggage entry on this span. Spans created under it afterwards inherit it, and
    /// outbound calls made under it carry it. Fails with [`BaggageError::UnknownSpan`] when the
    /// layer does not know the span.
    fn set_baggage(&self, key: &str, value: &str) -> Result<(), BaggageError>;

    /// Records an attribute whose key is only known at run time (a `tracing` field name must be
    /// known at compile time), e.g. `http.request.header.x-tenant`. Only sampled spans record
    /// it; the span limits apply (count, value length). Returns whether it was recorded.
    fn set_attribute(&self, key: impl Into<Cow<'static, str>>, value: impl Into<Value>) -> bool;

    /// Whether the span's attributes are recorded: the layer knows it, it is sampled, and
    /// something exports spans (with no exporter, sampled spans keep ids only).
    fn is_sampled(&self) -> bool;
}

impl SpanExt for tracing::Span {
    fn span_context(&self) -> Option<SpanContext> {
        with_span_state(self, |s, _| s.cx.clone())
    }

    fn context(&self) -> Option<Context> {
        with_span_state(self, |s, _| s.context())
    }

    fn set_baggage(&self, key: &str, value: &str) -> Result<(), BaggageError> {
        with_span_state(self, |s, _| {
            s.baggage = s.baggage.with(key, value)?;
            Ok(())
        })
        .unwrap_or(Err(BaggageError::UnknownSpan))
    }

    fn set_attribute(&self, key: impl Into<Cow<'static, str>>, value: impl Into<Value>) -> bool {
        let (key, value) = (key.into(), value.into());
        with_span_state(self, |s, limits| match s.recording.as_mut() {
            Some(rec) => {
                // A key of its own choosing, which a field recorded later may have to replace.
                rec.other_keys = true;
                push_attribute(rec, limits, key, limits.cut_value(value), true)
            }
            None => false,
        })
        .unwrap_or(false)
    }

    fn is_sampled(&self) -> bool {
        with_span_state(self, |s, _| s.recording.is_some()).unwrap_or(false)
    }
}
