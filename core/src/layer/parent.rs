//! The parent hand-off: [`with_parent`] fixes the parent of the next span the layer sees, and
//! the rules that pick the parent of every other span.

use std::cell::RefCell;

use tracing::span::Attributes;
use tracing_subscriber::registry::{LookupSpan, SpanRef};

use super::TracewireLayer;
use super::state::SpanState;
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

#[inline]
fn nearest_state<S>(span: Option<SpanRef<'_, S>>) -> Option<(SpanContext, Baggage)>
where
    S: for<'a> LookupSpan<'a>,
{
    for s in span?.scope() {
        if let Some(state) = s.extensions().get::<SpanState>() {
            return Some((state.cx.clone(), state.baggage.clone()));
        }
    }
    None
}

impl TracewireLayer {
    /// The parent of a new span, and whether it is the one given to [`with_parent`].
    pub(super) fn choose_parent<S>(
        &self,
        attrs: &Attributes<'_>,
        span: &SpanRef<'_, S>,
    ) -> (ParentChoice, bool)
    where
        S: for<'a> LookupSpan<'a>,
    {
        if let Some(p) = take_pending() {
            let choice = ParentChoice::Context {
                cx: p.context,
                links: p.links,
                ignore_sampled_flag: p.ignore_sampled_flag,
            };
            return (choice, true);
        }
        (self.choose_inherited(attrs, span), false)
    }

    /// The parent of a new span given no explicit remote parent.
    fn choose_inherited<S>(&self, attrs: &Attributes<'_>, span: &SpanRef<'_, S>) -> ParentChoice
    where
        S: for<'a> LookupSpan<'a>,
    {
        let parent = span.parent();
        if attrs.is_contextual() {
            // The ambient context wins over a span that was already current when it came into
            // scope; a span entered inside the scope wins over it.
            let ambient = with_ambient(|a| {
                a.filter(|a| a.under.as_ref() == parent.as_ref().map(|p| p.id()).as_ref())
                    .map(|a| a.cx.clone())
            });
            if let Some(cx) = ambient {
                return ParentChoice::Context {
                    cx,
                    links: Vec::new(),
                    ignore_sampled_flag: false,
                };
            }
        }
        if let Some((cx, baggage)) = nearest_state(parent) {
            return ParentChoice::Local { cx, baggage };
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
}
