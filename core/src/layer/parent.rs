//! The parent hand-off: [`with_parent`] fixes the parent of the next span the layer sees, and
//! the rules that pick the parent of every other span.

use std::cell::RefCell;

use tracing::Subscriber;
use tracing::span::{Attributes, Id};
use tracing_subscriber::layer::Context as LayerContext;
use tracing_subscriber::registry::LookupSpan;

use super::TracewireLayer;
use super::state::{Recording, SpanState};
use crate::ambient::with_ambient;
use crate::baggage::Baggage;
use crate::context::{Context, SpanContext};
use crate::span::Link;

/// The parent a span should take, given to [`with_parent`] by middleware.
#[derive(Clone, Debug, Default)]
pub struct Parent {
    context: Context,
    links: Vec<Link>,
    ignore_sampled_flag: bool,
}

impl Parent {
    /// Continue the trace in `cx` (usually extracted from request headers). If `cx` has no span
    /// context the span starts a new trace, keeping `cx`'s baggage.
    pub fn remote(cx: Context) -> Self {
        Parent {
            context: cx,
            links: Vec::new(),
            ignore_sampled_flag: false,
        }
    }

    /// Start a new trace with no baggage, whatever is in scope.
    pub fn root() -> Self {
        Parent::default()
    }

    /// Also link the span to `span_context` (e.g. the untrusted inbound context of a public
    /// endpoint that restarts the trace).
    #[must_use]
    pub fn with_link(mut self, span_context: SpanContext) -> Self {
        self.links.push(Link::new(span_context, Vec::new()));
        self
    }

    /// Keep the parent's ids but take the sampling decision locally, as for a new trace.
    #[must_use]
    pub fn ignore_sampled_flag(mut self) -> Self {
        self.ignore_sampled_flag = true;
        self
    }

    /// The parent context.
    pub fn context(&self) -> &Context {
        &self.context
    }
}

thread_local! {
    static PENDING: RefCell<Option<Parent>> = const { RefCell::new(None) };
    /// The context of the span that took the pending parent, for [`with_parent_and_context`].
    pub(super) static CREATED: RefCell<Option<Context>> = const { RefCell::new(None) };
}

/// Creates the span(s) in `f` with `parent` as the parent of the first span the layer sees.
///
/// This is how a parent is fixed at creation: middleware extracts the inbound context and
/// creates its server span inside `with_parent`. If the span is disabled, nothing happens and the
/// pending parent is discarded when `f` returns.
///
/// ```
/// use tracewire::{Context, Parent, SpanExt, with_parent};
/// use tracewire::testing::Recorder;
///
/// let recorder = Recorder::new();
/// let inbound: Context = tracewire::propagation::Propagators::w3c()
///     .extract(&{
///         let mut h = http::HeaderMap::new();
///         h.insert("traceparent", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01".parse().unwrap());
///         h
///     })
///     .unwrap();
/// recorder.in_scope(|| {
///     let span = with_parent(Parent::remote(inbound), || tracing::info_span!("GET /"));
///     let cx = span.span_context().unwrap();
///     assert_eq!(cx.trace_id().to_string(), "4bf92f3577b34da6a3ce929d0e0e4736");
/// });
/// let spans = recorder.spans();
/// assert_eq!(spans[0].parent_span_id.to_string(), "00f067aa0ba902b7");
/// assert!(spans[0].parent_is_remote);
/// ```
pub fn with_parent<R>(parent: Parent, f: impl FnOnce() -> R) -> R {
    struct Clear(Option<Parent>);
    impl Drop for Clear {
        fn drop(&mut self) {
            let prev = self.0.take();
            PENDING.with(|p| *p.borrow_mut() = prev);
        }
    }
    let prev = PENDING.with(|p| p.borrow_mut().replace(parent));
    let _clear = Clear(prev);
    f()
}

/// Like [`with_parent`], and also returns the context (ids and baggage) of the span that took
/// the parent — `None` if no span did (disabled, or no tracewire layer). Cheaper than asking the
/// span afterwards with [`SpanExt::context`](crate::SpanExt::context), which looks it up in the registry.
///
/// ```
/// use tracewire::{Parent, with_parent_and_context};
/// use tracewire::testing::Recorder;
///
/// Recorder::new().in_scope(|| {
///     let (span, cx) = with_parent_and_context(Parent::root(), || tracing::info_span!("req"));
///     assert!(cx.unwrap().span_context().unwrap().is_sampled());
///     drop(span);
/// });
/// let (_, cx) = with_parent_and_context(Parent::root(), || tracing::info_span!("no layer"));
/// assert!(cx.is_none());
/// ```
#[inline]
pub fn with_parent_and_context<R>(parent: Parent, f: impl FnOnce() -> R) -> (R, Option<Context>) {
    CREATED.with(|c| c.borrow_mut().take());
    let r = with_parent(parent, f);
    (r, CREATED.with(|c| c.borrow_mut().take()))
}

#[inline]
fn take_pending() -> Option<Parent> {
    PENDING.with(|p| p.borrow_mut().take())
}

pub(super) enum ParentChoice {
    /// A live local span.
    Local { cx: SpanContext, baggage: Baggage },
    /// A context: remote (from headers) or local (ambient, from another task).
    Context {
        cx: Context,
        links: Vec<Link>,
        ignore_sampled_flag: bool,
    },
}

impl TracewireLayer {
    /// The parent of a new span, and whether it is the one given to [`with_parent`].
    #[inline]
    pub(super) fn choose_parent<S>(
        &self,
        attrs: &Attributes<'_>,
        id: &Id,
        ctx: &LayerContext<'_, S>,
    ) -> (ParentChoice, bool)
    where
        S: Subscriber + for<'a> LookupSpan<'a>,
    {
        if let Some(p) = take_pending() {
            let choice = ParentChoice::Context {
                cx: p.context,
                links: p.links,
                ignore_sampled_flag: p.ignore_sampled_flag,
            };
            return (choice, true);
        }
        (self.choose_inherited(attrs, id, ctx), false)
    }

    /// The parent of a new span given no explicit remote parent.
    #[inline]
    fn choose_inherited<S>(
        &self,
        attrs: &Attributes<'_>,
        id: &Id,
        ctx: &LayerContext<'_, S>,
    ) -> ParentChoice
    where
        S: Subscriber + for<'a> LookupSpan<'a>,
    {
        // The registry's parent: the explicit one, or the span current on this thread.
        let parent = if attrs.is_root() {
            None
        } else if attrs.is_contextual() {
            ctx.current_span().id().cloned()
        } else {
            attrs.parent().cloned()
        };
        if attrs.is_contextual() {
            // The ambient context wins over a span that was already current when it came into
            // scope; a span entered inside the scope wins over it.
            let ambient = with_ambient(|a| a.filter(|a| a.under == parent).map(|a| a.cx.clone()));
            if let Some(cx) = ambient {
                return ParentChoice::Context {
                    cx,
                    links: Vec::new(),
                    ignore_sampled_flag: false,
                };
            }
        }
        if let Some(parent) = &parent {
            let local = |s: &mut SpanState| (s.cx.clone(), s.baggage.clone());
            // Usually the layer knows the parent; if not (filtered out for this layer), the
            // nearest ancestor it knows.
            let found = self.spans.with(parent, local).or_else(|| {
                ctx.span(id)?
                    .scope()
                    .skip(1)
                    .find_map(|s| self.spans.with(&s.id(), local))
            });
            if let Some((cx, baggage)) = found {
                return ParentChoice::Local { cx, baggage };
            }
        }
        if attrs.is_contextual()
            && let Some(cx) = with_ambient(|a| a.map(|a| a.cx.clone()))
        {
            return ParentChoice::Context {
                cx,
                links: Vec::new(),
                ignore_sampled_flag: false,
            };
        }
        ParentChoice::Context {
            cx: Context::new(),
            links: Vec::new(),
            ignore_sampled_flag: false,
        }
    }

    /// The span an event belongs to: the nearest span in its scope the layer knows. `None` if
    /// there is none or it is not recorded; otherwise its id and what `look` says of its
    /// recording (run under the table's lock).
    #[inline]
    pub(super) fn event_span<S, T>(
        &self,
        event: &tracing::Event<'_>,
        ctx: &LayerContext<'_, S>,
        mut look: impl FnMut(&mut Recording) -> T,
    ) -> Option<(Id, T)>
    where
        S: Subscriber + for<'a> LookupSpan<'a>,
    {
        let direct = if event.is_root() {
            return None;
        } else if event.is_contextual() {
            ctx.current_span().id()?.clone()
        } else {
            event.parent()?.clone()
        };
        let mut look_at = |id: &Id| {
            self.spans
                .with(id, |s| s.recording.as_deref_mut().map(&mut look))
        };
        if let Some(found) = look_at(&direct) {
            return found.map(|look| (direct, look));
        }
        // The direct span is not the layer's (filtered out for it): the nearest enabled one.
        for s in ctx.event_span(event)?.scope() {
            let id = s.id();
            if let Some(found) = look_at(&id) {
                return found.map(|look| (id, look));
            }
        }
        None
    }
}
