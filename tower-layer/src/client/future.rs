use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context as TaskContext, Poll, ready};

use http::Response;
use http_body::Body;
use pin_project_lite::pin_project;

use crate::attrs::client_status_is_error;
use crate::body::{BodyEnd, OnBodyEnd, ResponseBody};
use crate::server::short_type_name;

pin_project! {
    /// The response future of [`TraceClient`](super::TraceClient).
    #[must_use = "futures do nothing unless polled"]
    pub struct ClientResponseFuture<F> {
        #[pin]
        inner: F,
        span: Option<tracing::Span>,
    }
}

impl<F> ClientResponseFuture<F> {
    pub(crate) fn new(inner: F, span: tracing::Span) -> Self {
        ClientResponseFuture {
            inner,
            span: Some(span),
        }
    }
}

impl<F> fmt::Debug for ClientResponseFuture<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ClientResponseFuture")
            .field("span", &self.span)
            .finish_non_exhaustive()
    }
}

impl<F, B, E> Future for ClientResponseFuture<F>
where
    F: Future<Output = Result<Response<B>, E>>,
    B: Body,
    E: fmt::Display,
{
    type Output = Result<Response<ResponseBody<B, ClientBodyEnd>>, E>;

    fn poll(self: Pin<&mut Self>, cx: &mut TaskContext<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let result = {
            let _entered = this.span.as_ref().map(tracing::Span::enter);
            ready!(this.inner.poll(cx))
        };
        let span = this.span.take().unwrap_or_else(tracing::Span::none);
        match result {
            Ok(res) => {
                let status = res.status();
                span.record("http.response.status_code", status.as_u16());
                if client_status_is_error(status) {
                    span.record("otel.status_code", "error");
                    span.record("error.type", status.as_str());
                }
                Poll::Ready(Ok(res.map(|b| ResponseBody::new(b, ClientBodyEnd { span }))))
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

/// The client span's body hook: the span ends when the response body ends, fails or is
/// dropped; a body error marks it failed.
pub struct ClientBodyEnd {
    pub(crate) span: tracing::Span,
}

impl ClientBodyEnd {
    /// The client span.
    pub fn span(&self) -> &tracing::Span {
        &self.span
    }
}

impl fmt::Debug for ClientBodyEnd {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ClientBodyEnd")
            .field("span", &self.span)
            .finish()
    }
}

impl OnBodyEnd for ClientBodyEnd {
    fn on_end(self, end: BodyEnd<'_>) {
        if let BodyEnd::Error(err) = end {
            self.span.record("otel.status_code", "error");
            self.span.record("error.type", "response_body");
            self.span
                .record("otel.status_message", tracing::field::display(err));
        }
    }

    fn in_scope<R>(&self, poll: impl FnOnce() -> R) -> R {
        let _entered = self.span.enter();
        poll()
    }
}
