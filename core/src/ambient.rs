//! The ambient context: the trace context of the work being done right now, whether or not a
//! `tracing` span is enabled for it.
//!
//! Middleware puts the request's context in scope for the handler with [`FutureExt::in_context`]
//! (and synchronous code with [`scope`]). [`current()`] returns the context of the innermost
//! enabled `tracing` span if the tracewire layer knows it, and otherwise this ambient context, so
//! an outbound call made while handling a request continues the request's trace even when a
//! filter (`RUST_LOG=off`) disabled every span.
//!
//! Context does not cross `tokio::spawn` or `spawn_blocking` by itself (neither does the current
//! `tracing` span). Use [`spawn`] / [`spawn_blocking`], or wrap the future with
//! [`FutureExt::in_current_context`], which carry both.
//!
//! ```
//! use tracewire::{Context, FutureExt};
//!
//! # async fn handler() {}
//! # async fn example(cx: Context) {
//! // In middleware: run the handler with the request's context in scope.
//! handler().in_context(cx).await;
//! # }
//! ```

use std::cell::RefCell;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context as TaskContext, Poll};

use pin_project_lite::pin_project;
use tracing::instrument::{Instrument, Instrumented};

use crate::context::Context;

/// The ambient context and the `tracing` span that was current when it came into scope.
///
/// A span entered *after* the scope began (inside it) is more specific than the ambient context
/// and wins; a span that was already current when the scope began (an outer, long-lived span)
/// loses to it.
#[derive(Debug)]
pub(crate) struct Ambient {
    pub(crate) cx: Context,
    pub(crate) under: Option<tracing::Id>,
}

thread_local! {
    static AMBIENT: RefCell<Option<Ambient>> = const { RefCell::new(None) };
}

fn current_span_id() -> Option<tracing::Id> {
    tracing::dispatcher::get_default(|d| d.current_span().id().cloned())
}

/// The ambient context, if one is in scope and no span was entered since it came into scope.
pub(crate) fn ambient() -> Option<Context> {
    AMBIENT.with(|a| {
        let a = a.borrow();
        let a = a.as_ref()?;
        (a.under == current_span_id()).then(|| a.cx.clone())
    })
}

/// Calls `f` with the ambient context in scope on this thread, without cloning it.
pub(crate) fn with_ambient<R>(f: impl FnOnce(Option<&Ambient>) -> R) -> R {
    AMBIENT.with(|a| f(a.borrow().as_ref()))
}

/// Replaces the ambient context, returning the previous one.
fn swap(cx: Option<Context>) -> Option<Ambient> {
    let new = cx.map(|cx| Ambient {
        cx,
        under: current_span_id(),
    });
    AMBIENT.with(|a| std::mem::replace(&mut *a.borrow_mut(), new))
}

fn restore(prev: Option<Ambient>) -> Option<Context> {
    AMBIENT
        .with(|a| std::mem::replace(&mut *a.borrow_mut(), prev))
        .map(|a| a.cx)
}

/// Restores the previous ambient context on drop, so a panic inside a scope does not leak it.
struct Restore(Option<Option<Ambient>>);

impl Drop for Restore {
    fn drop(&mut self) {
        if let Some(prev) = self.0.take() {
            restore(prev);
        }
    }
}

/// The trace context of the current work.
///
/// The ambient context set by [`scope`] or [`FutureExt::in_context`] wins unless a `tracing`
/// span was entered inside that scope; then the innermost entered span known to the tracewire
/// layer wins (its own span context, as a local parent, with its baggage). With neither, an
/// empty [`Context`].
///
/// ```
/// let cx = tracewire::current();
/// assert!(cx.span_context().is_none()); // no span, no scope
/// ```
pub fn current() -> Context {
    if let Some(cx) = ambient() {
        return cx;
    }
    crate::layer::current_span_context()
        .or_else(|| with_ambient(|a| a.map(|a| a.cx.clone())))
        .unwrap_or_default()
}

/// Runs `f` with `cx` as the ambient context on this thread.
///
/// ```
/// use tracewire::{Context, SpanContext, SpanId, TraceFlags, TraceId, TraceState};
///
/// let cx = Context::from_span_context(SpanContext::new(
///     TraceId::from_u128(7),
///     SpanId::from_u64(9),
///     TraceFlags::SAMPLED,
///     TraceState::new(),
///     true,
/// ));
/// let seen = tracewire::scope(cx.clone(), tracewire::current);
/// assert_eq!(seen, cx);
/// assert!(tracewire::current().span_context().is_none());
/// ```
pub fn scope<R>(cx: Context, f: impl FnOnce() -> R) -> R {
    let _restore = Restore(Some(swap(Some(cx))));
    f()
}

/// Like [`scope`], without giving up `cx`: it is moved into scope for `f` and moved back when
/// `f` returns (or panics), holding whatever was in scope then. No clone: for middleware that
/// puts the same context in scope on every poll of a future or body.
///
/// ```
/// use tracewire::{Context, SpanContext, SpanId, TraceFlags, TraceId, TraceState};
///
/// let mut cx = Context::from_span_context(SpanContext::new(
///     TraceId::from_u128(7),
///     SpanId::from_u64(9),
///     TraceFlags::SAMPLED,
///     TraceState::new(),
///     true,
/// ));
/// let seen = tracewire::scope_mut(&mut cx, tracewire::current);
/// assert_eq!(seen, cx);
/// assert_eq!(cx.span_id(), Some(SpanId::from_u64(9)));
/// assert!(tracewire::current().span_context().is_none());
/// ```
pub fn scope_mut<R>(cx: &mut Context, f: impl FnOnce() -> R) -> R {
    struct PutBack<'a> {
        cx: &'a mut Context,
        prev: Option<Option<Ambient>>,
    }
    impl Drop for PutBack<'_> {
        fn drop(&mut self) {
            if let Some(prev) = self.prev.take()
                && let Some(cx) = restore(prev)
            {
                *self.cx = cx;
            }
        }
    }
    let prev = swap(Some(std::mem::take(cx)));
    let _put_back = PutBack {
        cx,
        prev: Some(prev),
    };
    f()
}

pin_project! {
    /// A future that runs with a [`Context`] as its ambient context. Created by
    /// [`FutureExt::in_context`].
    #[derive(Debug)]
    #[must_use = "futures do nothing unless polled"]
    pub struct InContext<F> {
        #[pin]
        inner: F,
        cx: Option<Context>,
    }
}

impl<F: Future> Future for InContext<F> {
    type Output = F::Output;

    fn poll(self: Pin<&mut Self>, task: &mut TaskContext<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let mut guard = Restore(Some(swap(this.cx.take())));
        let out = this.inner.poll(task);
        // Keep whatever the inner future left in scope (e.g. baggage it set) for the next poll.
        if let Some(prev) = guard.0.take() {
            *this.cx = restore(prev);
        }
        out
    }
}

/// Extension methods that carry the trace context into a future.
pub trait FutureExt: Future + Sized {
    /// Runs this future with `cx` as its ambient context.
    fn in_context(self, cx: Context) -> InContext<Self> {
        InContext {
            inner: self,
            cx: Some(cx),
        }
    }

    /// Runs this future with the caller's current `tracing` span entered and the caller's
    /// [`current()`] context in scope — what a spawned task needs to stay in the trace.
    fn in_current_context(self) -> InContext<Instrumented<Self>> {
        let cx = current();
        self.instrument(tracing::Span::current()).in_context(cx)
    }
}

impl<F: Future> FutureExt for F {}

/// `tokio::spawn` that keeps the caller's span, trace context and `tracing` dispatcher (so a
/// scoped subscriber, as in tests, also follows the task to another worker thread).
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// let handle = tracewire::spawn(async { tracewire::current() });
/// handle.await.unwrap();
/// # }
/// ```
#[cfg(feature = "tokio")]
pub fn spawn<F>(future: F) -> tokio::task::JoinHandle<F::Output>
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
{
    use tracing::instrument::WithSubscriber;
    tokio::spawn(future.in_current_context().with_current_subscriber())
}

/// `tokio::task::spawn_blocking` that keeps the caller's span, trace context and `tracing`
/// dispatcher.
#[cfg(feature = "tokio")]
pub fn spawn_blocking<F, R>(f: F) -> tokio::task::JoinHandle<R>
where
    F: FnOnce() -> R + Send + 'static,
    R: Send + 'static,
{
    let cx = current();
    let span = tracing::Span::current();
    let dispatch = tracing::dispatcher::get_default(Clone::clone);
    tokio::task::spawn_blocking(move || {
        tracing::dispatcher::with_default(&dispatch, || {
            let _entered = span.enter();
            scope(cx, f)
        })
    })
}
