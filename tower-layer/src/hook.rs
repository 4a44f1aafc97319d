//! The hooks every traced service gives its [`ResponseFuture`](crate::ResponseFuture) and
//! [`ResponseBody`](crate::ResponseBody): the request's span, the context polls run in, and
//! the protocol's [`Outcome`], which reads how the request ended.

use std::fmt;

use http::{HeaderName, HeaderValue, Response};
use tracewire::Context;
use tracing::Span;

use crate::body::{BodyEnd, OnBodyEnd};
use crate::error::ErrorRef;
use crate::future::OnResponse;
use crate::server::HeaderAllowlist;

/// How a protocol reads the outcome of one request into its span: from the response head, a
/// service error, or the end of the response body. HTTP's is [`HttpOutcome`](crate::HttpOutcome);
/// tracewire-tonic has the gRPC one.
///
/// For a request whose span records, the layers call `on_response` at most once, then exactly
/// one of `on_error`, `on_end` or `on_cancel`. Requests whose span is disabled never reach the
/// outcome.
pub trait Outcome {
    /// The response head arrived. Returns `false` when the request is over now (a gRPC
    /// trailers-only response carries its status in the head): the span then ends with the
    /// head and the body is passed through.
    fn on_response<B>(&mut self, span: &Span, response: &Response<B>) -> bool;

    /// The inner service failed before a response.
    fn on_error(self, span: &Span, error: ErrorRef<'_>);

    /// The response body ended, failed or was dropped.
    fn on_end(self, span: &Span, end: BodyEnd<'_>);

    /// The response future was dropped before the response arrived.
    fn on_cancel(self, span: &Span);
}

/// A request's span, and the context polls run in when the span does not carry one (no span:
/// filtered out, or disabled by a `tracing` filter).
struct SpanScope {
    span: Span,
    cx: Option<Context>,
}

impl SpanScope {
    fn in_scope<R>(&mut self, f: impl FnOnce() -> R) -> R {
        let _entered = self.span.enter();
        match &mut self.cx {
            // Moved into scope and back for each poll, never cloned.
            Some(cx) => tracewire::scope_mut(cx, f),
            None => f(),
        }
    }
}

/// The [`OnResponse`] hook of the server and client services: polls run inside the request's
/// span (and context), the protocol's [`Outcome`] records the response or error, and a server
/// adds its response headers to the span and the `traceresponse` header to the response.
pub struct ResponseHook<O> {
    scope: SpanScope,
    outcome: Option<O>,
    response_headers: Option<HeaderAllowlist>,
    /// Boxed: only servers configured to send `traceresponse` have one, and every other
    /// request moves this hook (into the future, out of it) without the 72 bytes.
    trace_response: Option<Box<(HeaderName, HeaderValue)>>,
}

impl<O> ResponseHook<O> {
    /// `outcome` is `None` when the span records nothing; `cx` is the context for polls when
    /// the span does not carry one.
    pub(crate) fn new(span: Span, cx: Option<Context>, outcome: Option<O>) -> Self {
        ResponseHook {
            scope: SpanScope { span, cx },
            outcome,
            response_headers: None,
            trace_response: None,
        }
    }

    /// Records these response headers on the span.
    pub(crate) fn record_response_headers(mut self, list: HeaderAllowlist) -> Self {
        self.response_headers = Some(list);
        self
    }

    /// Adds this header to the response.
    pub(crate) fn add_header(mut self, name: HeaderName, value: HeaderValue) -> Self {
        self.trace_response = Some(Box::new((name, value)));
        self
    }

    /// Runs `f` inside the request's span and context.
    pub(crate) fn in_scope<R>(&mut self, f: impl FnOnce() -> R) -> R {
        self.scope.in_scope(f)
    }
}

impl<O> fmt::Debug for ResponseHook<O> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ResponseHook")
            .field("span", &self.scope.span)
            .field("recording", &self.outcome.is_some())
            .finish_non_exhaustive()
    }
}

impl<O: Outcome> OnResponse for ResponseHook<O> {
    type OnBody = BodyHook<O>;

    fn in_scope<R>(&mut self, poll: impl FnOnce() -> R) -> R {
        self.scope.in_scope(poll)
    }

    fn on_response<B>(self, response: &mut Response<B>) -> Option<BodyHook<O>> {
        let span = &self.scope.span;
        if let Some(pair) = self.trace_response {
            let (name, value) = *pair;
            response.headers_mut().insert(name, value);
        }
        if let Some(list) = &self.response_headers {
            list.record(span, response.headers());
        }
        let mut outcome = self.outcome;
        let open = match &mut outcome {
            Some(o) => o.on_response(span, response),
            None => false,
        };
        let outcome = outcome.filter(|_| open);
        // With nothing to record and no context to keep, the span ends with the head.
        (outcome.is_some() || self.scope.cx.is_some()).then_some(BodyHook {
            scope: self.scope,
            outcome,
        })
    }

    fn on_error(self, error: ErrorRef<'_>) {
        if let Some(o) = self.outcome {
            o.on_error(&self.scope.span, error);
        }
    }

    fn on_cancel(self) {
        if let Some(o) = self.outcome {
            o.on_cancel(&self.scope.span);
        }
    }
}

/// The [`OnBodyEnd`] hook of the server and client services: keeps the span open until the
/// body ends, polls the body inside the request's span and context (so work a streaming
/// handler does stays in the trace), and gives the end to the protocol's [`Outcome`].
pub struct BodyHook<O> {
    scope: SpanScope,
    outcome: Option<O>,
}

impl<O> BodyHook<O> {
    /// The request's span.
    pub fn span(&self) -> &Span {
        &self.scope.span
    }
}

impl<O> fmt::Debug for BodyHook<O> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The span says it all; whether it still records is the outcome's business.
        f.debug_tuple("BodyHook").field(&self.scope.span).finish()
    }
}

impl<O: Outcome> OnBodyEnd for BodyHook<O> {
    fn on_end(self, end: BodyEnd<'_>) {
        if let Some(o) = self.outcome {
            o.on_end(&self.scope.span, end);
        }
        // Dropping the scope drops the span handle: the span ends now.
    }

    fn in_scope<R>(&mut self, poll: impl FnOnce() -> R) -> R {
        self.scope.in_scope(poll)
    }
}
