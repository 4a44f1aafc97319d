//! [`SpanExt`]: trace-context access for a plain `tracing::Span`.
//!
//! A `tracing::Span` knows only its id and its dispatcher. To reach the layer's state for it,
//! the dispatcher is asked for the [`TracewireLayer`] (a `downcast_ref`, which every
//! `tracing-subscriber` layer stack forwards through `downcast_raw`), and the layer holds
//! function pointers, set when it was added to its subscriber (`on_layer`), that know that
//! subscriber's type and so can look the span up in it. Any [`LookupSpan`] subscriber works: a
//! `Registry` wrapped by other layers, a filtered layer, a custom registry.

use std::borrow::Cow;

use tracing::span::Id;
use tracing::{Dispatch, Subscriber};
use tracing_subscriber::registry::LookupSpan;

use super::TracewireLayer;
use super::state::{SpanState, push_attribute};
use crate::context::{Context, SpanContext};
use crate::error::BaggageError;
#[cfg(feature = "fmt")]
use crate::id::{SpanId, TraceId};
use crate::limits::SpanLimits;
use crate::value::Value;

/// Runs a callback on the state of exactly one span, if the layer knows it.
type WithState = fn(&Dispatch, &Id, &mut dyn FnMut(&mut SpanState));

/// How a plain `tracing::Span` reaches the layer's state: functions monomorphised for the
/// subscriber type the layer was added to, stored in the layer by `on_layer`.
#[derive(Clone, Copy)]
pub(super) struct SpanLookup {
    with_state: WithState,
    /// The context of a span or, if the layer does not know it (filtered out for this layer),
    /// of its nearest ancestor the layer knows.
    context_near: fn(&Dispatch, &Id) -> Option<Context>,
}

impl SpanLookup {
    /// The lookups for subscriber `S`.
    pub(super) fn of<S>() -> Self
    where
        S: Subscriber + for<'a> LookupSpan<'a> + 'static,
    {
        SpanLookup {
            with_state: with_state_in::<S>,
            context_near: context_near_in::<S>,
        }
    }
}

fn with_state_in<S>(dispatch: &Dispatch, id: &Id, f: &mut dyn FnMut(&mut SpanState))
where
    S: Subscriber + for<'a> LookupSpan<'a> + 'static,
{
    if let Some(span) = dispatch.downcast_ref::<S>().and_then(|s| s.span(id))
        && let Some(state) = span.extensions_mut().get_mut::<SpanState>()
    {
        f(state);
    }
}

fn context_near_in<S>(dispatch: &Dispatch, id: &Id) -> Option<Context>
where
    S: Subscriber + for<'a> LookupSpan<'a> + 'static,
{
    let span = dispatch.downcast_ref::<S>()?.span(id)?;
    span.scope()
        .find_map(|s| s.extensions().get::<SpanState>().map(SpanState::context))
}

/// Runs `f` on the layer's state for exactly span `id` of `dispatch`; `None` when the
/// dispatcher has no tracewire layer or the layer does not know the span.
fn with_state<R>(
    dispatch: &Dispatch,
    id: &Id,
    f: impl FnOnce(&mut SpanState, &SpanLimits) -> R,
) -> Option<R> {
    let layer = dispatch.downcast_ref::<TracewireLayer>()?;
    let lookup = layer.lookup?;
    let limits = &layer.config.limits;
    let mut f = Some(f);
    let mut out = None;
    (lookup.with_state)(dispatch, id, &mut |state| {
        if let Some(f) = f.take() {
            out = Some(f(state, limits));
        }
    });
    out
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
        let lookup = d.downcast_ref::<TracewireLayer>()?.lookup?;
        (lookup.context_near)(d, &id)
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
                let before = rec.dropped_attributes;
                push_attribute(rec, limits, key, limits.cut_value(value), true);
                rec.dropped_attributes == before
            }
            None => false,
        })
        .unwrap_or(false)
    }

    fn is_sampled(&self) -> bool {
        with_span_state(self, |s, _| s.recording.is_some()).unwrap_or(false)
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
