use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context as TaskContext, Poll, ready};

use http::{HeaderName, HeaderValue, Response};
use http_body::Body;
use pin_project_lite::pin_project;
use tracewire::{Context, InContext, SpanContext, SpanExt};

use super::headers::HeaderAllowlist;
use crate::attrs::server_status_is_error;
use crate::body::{BodyEnd, OnBodyEnd, ResponseBody};

pub(crate) struct ServerState {
    pub(crate) end: ServerBodyEnd,
    /// Set only when headers are allowlisted, so the common case clones nothing.
    pub(crate) response_headers: Option<HeaderAllowlist>,
    pub(crate) trace_response: Option<HeaderName>,
}

pin_project! {
    /// The response future of [`TraceServer`](super::TraceServer).
    #[must_use = "futures do nothing unless polled"]
    pub struct ServerResponseFuture<F> {
        #[pin]
        inner: InContext<F>,
        state: Option<ServerState>,
        traced: bool,
    }
}

impl<F> ServerResponseFuture<F> {
    pub(crate) fn new(inner: InContext<F>, state: Option<ServerState>) -> Self {
        let traced = state.is_some();
        ServerResponseFuture {
            inner,
            state,
            traced,
        }
    }
}

impl<F> fmt::Debug for ServerResponseFuture<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ServerResponseFuture")
            .field("traced", &self.traced)
            .field("done", &(self.traced && self.state.is_none()))
            .finish_non_exhaustive()
    }
}

impl<F, B, E> Future for ServerResponseFuture<F>
where
    F: Future<Output = Result<Response<B>, E>>,
    B: Body,
    E: fmt::Display,
{
    type Output = Result<Response<ResponseBody<B, ServerBodyEnd>>, E>;

    fn poll(self: Pin<&mut Self>, cx: &mut TaskContext<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let result = match this.state.as_ref() {
            Some(state) => {
                let _entered = state.end.span.enter();
                ready!(this.inner.poll(cx))
            }
            None => ready!(this.inner.poll(cx)),
        };
        let Some(state) = this.state.take() else {
            return Poll::Ready(result.map(|res| res.map(ResponseBody::passthrough)));
        };
        let span = &state.end.span;
        match result {
            Ok(mut res) => {
                let status = res.status();
                span.record("http.response.status_code", status.as_u16());
                if server_status_is_error(status) {
                    span.record("otel.status_code", "error");
                    span.record("error.type", status.as_str());
                }
                if let Some(list) = &state.response_headers {
                    list.record(span, res.headers());
                }
                if let Some(name) = state.trace_response
                    && let Some(sc) = span.span_context()
                    && let Some(value) = trace_response_value(&sc)
                {
                    res.headers_mut().insert(name, value);
                }
                Poll::Ready(Ok(res.map(|b| ResponseBody::new(b, state.end))))
            }
            Err(err) => {
                span.record("otel.status_code", "error");
                span.record("error.type", short_type_name::<E>());
                span.record("otel.status_message", tracing::field::display(&err));
                Poll::Ready(Err(err))
            }
        }
    }
}

/// `00-{trace id}-{span id}-{flags}`, the W3C Trace Context level 2 `traceresponse` value.
fn trace_response_value(sc: &SpanContext) -> Option<HeaderValue> {
    if !sc.is_valid() {
        return None;
    }
    let mut buf = [b'-'; 55];
    buf[0] = b'0';
    buf[1] = b'0';
    buf[3..35].copy_from_slice(&sc.trace_id().to_hex());
    buf[36..52].copy_from_slice(&sc.span_id().to_hex());
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let flags = sc.flags().known().to_u8();
    buf[53] = HEX[usize::from(flags >> 4)];
    buf[54] = HEX[usize::from(flags & 0xf)];
    HeaderValue::from_bytes(&buf).ok()
}

/// The error's type name for `error.type`: the full path, without generic arguments (which
/// would make the value high-cardinality and unreadable).
pub(crate) fn short_type_name<E>() -> &'static str {
    let full = std::any::type_name::<E>();
    full.split('<').next().unwrap_or(full)
}

/// The server span's body hook: keeps the span open until the response body ends, records a
/// body error, and runs body polls inside the span and the request's trace context.
pub struct ServerBodyEnd {
    pub(crate) span: tracing::Span,
    /// The context to put in scope while polling the body when the span is disabled.
    pub(crate) ambient: Option<Context>,
}

impl ServerBodyEnd {
    /// The server span.
    pub fn span(&self) -> &tracing::Span {
        &self.span
    }
}

impl fmt::Debug for ServerBodyEnd {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ServerBodyEnd")
            .field("span", &self.span)
            .finish_non_exhaustive()
    }
}

impl OnBodyEnd for ServerBodyEnd {
    fn on_end(self, end: BodyEnd<'_>) {
        match end {
            BodyEnd::Complete { .. } => {}
            BodyEnd::Error(err) => {
                self.span.record("otel.status_code", "error");
                self.span.record("error.type", "response_body");
                self.span
                    .record("otel.status_message", tracing::field::display(err));
            }
            BodyEnd::Dropped => {
                tracing::debug!(
                    target: "tracewire_tower::server",
                    parent: &self.span,
                    "response body dropped before its end"
                );
            }
        }
        // Dropping `self` drops the span handle: the span ends now.
    }

    fn in_scope<R>(&self, poll: impl FnOnce() -> R) -> R {
        let _entered = self.span.enter();
        match &self.ambient {
            Some(cx) => tracewire::scope(cx.clone(), poll),
            None => poll(),
        }
    }
}
