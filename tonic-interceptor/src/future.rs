//! The response future shared by the server and client services.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context as TaskContext, Poll, ready};

use pin_project_lite::pin_project;

use crate::body::{ResponseBody, Tracker};

pin_project! {
    /// The response future of [`GrpcServer`](crate::GrpcServer) and
    /// [`GrpcClient`](crate::GrpcClient).
    ///
    /// It polls the inner service's future inside the RPC's span (and, on the server, the
    /// request's context), then hands the span to the [`ResponseBody`], which ends it at end of
    /// stream. A trailers-only response (status in the headers) is recorded here. Dropped before
    /// the response arrives, it records a cancellation.
    #[must_use = "futures do nothing unless polled"]
    pub struct ResponseFuture<F> {
        #[pin]
        inner: F,
        tracker: Option<Tracker>,
    }
}

impl<F> ResponseFuture<F> {
    pub(crate) fn new(inner: F, tracker: Tracker) -> Self {
        ResponseFuture {
            inner,
            tracker: Some(tracker),
        }
    }
}

impl<F> fmt::Debug for ResponseFuture<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ResponseFuture")
            .field("tracker", &self.tracker)
            .finish_non_exhaustive()
    }
}

impl<F, B, E> Future for ResponseFuture<F>
where
    F: Future<Output = Result<http::Response<B>, E>>,
    E: fmt::Display,
{
    type Output = Result<http::Response<ResponseBody<B>>, E>;

    fn poll(self: Pin<&mut Self>, cx: &mut TaskContext<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let inner = this.inner;
        let result = match this.tracker.as_ref() {
            Some(tracker) => ready!(tracker.in_scope(|| inner.poll(cx))),
            None => panic!("ResponseFuture polled after completion"),
        };
        let Some(mut tracker) = this.tracker.take() else {
            unreachable!("checked above")
        };
        Poll::Ready(match result {
            Ok(response) => {
                tracker.on_response_head(&response);
                Ok(response.map(|body| ResponseBody::new(body, tracker)))
            }
            Err(error) => {
                tracker.finish_error(&error);
                Err(error)
            }
        })
    }
}
