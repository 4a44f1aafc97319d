//! The response future of every traced service: polls the inner future inside the request's
//! span and context, then hands the outcome to a hook.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context as TaskContext, Poll, ready};

use http::Response;
use http_body::Body;
use pin_project_lite::pin_project;

use crate::body::{OnBodyEnd, ResponseBody};
use crate::error::ErrorRef;

/// What a [`ResponseFuture`] does around the inner service's future: the scope each poll runs
/// in, and what happens with the response head or the error.
///
/// The server and client layers use [`ResponseHook`](crate::ResponseHook).
pub trait OnResponse {
    /// The hook the response body gets, to run when the body ends.
    type OnBody: OnBodyEnd;

    /// Runs one poll of the inner future. The default just polls.
    fn in_scope<R>(&mut self, poll: impl FnOnce() -> R) -> R {
        poll()
    }

    /// The inner future returned a response: inspect or amend its head. Returns the body's hook,
    /// or `None` to pass the body through untouched (nothing is left to do at its end).
    fn on_response<B>(self, response: &mut Response<B>) -> Option<Self::OnBody>;

    /// The inner future failed.
    fn on_error(self, error: ErrorRef<'_>);

    /// The future was dropped before the inner future completed (the caller went away). The
    /// default does nothing.
    fn on_cancel(self)
    where
        Self: Sized,
    {
    }
}

pin_project! {
    /// The response future of the server and client services: the inner future, polled inside
    /// the hook's scope; the response body is wrapped in a [`ResponseBody`] carrying the body
    /// hook.
    #[must_use = "futures do nothing unless polled"]
    pub struct ResponseFuture<F, H>
    where
        H: OnResponse,
    {
        #[pin]
        inner: F,
        hook: Option<H>,
    }

    impl<F, H> PinnedDrop for ResponseFuture<F, H>
    where
        H: OnResponse,
    {
        fn drop(this: Pin<&mut Self>) {
            if let Some(hook) = this.project().hook.take() {
                hook.on_cancel();
            }
        }
    }
}

impl<F, H: OnResponse> ResponseFuture<F, H> {
    /// Wraps `inner`, calling `hook` when it completes.
    pub fn new(inner: F, hook: H) -> Self {
        ResponseFuture {
            inner,
            hook: Some(hook),
        }
    }
}

impl<F, H: OnResponse + fmt::Debug> fmt::Debug for ResponseFuture<F, H> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ResponseFuture")
            .field("hook", &self.hook)
            .finish_non_exhaustive()
    }
}

impl<F, H, B, E> Future for ResponseFuture<F, H>
where
    F: Future<Output = Result<Response<B>, E>>,
    H: OnResponse,
    B: Body,
    E: fmt::Display + 'static,
{
    type Output = Result<Response<ResponseBody<B, H::OnBody>>, E>;

    fn poll(self: Pin<&mut Self>, cx: &mut TaskContext<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let inner = this.inner;
        let Some(hook) = this.hook.as_mut() else {
            panic!("ResponseFuture polled after completion");
        };
        let result = ready!(hook.in_scope(|| inner.poll(cx)));
        let Some(hook) = this.hook.take() else {
            unreachable!("checked above");
        };
        Poll::Ready(match result {
            Ok(mut response) => {
                let on_body = hook.on_response(&mut response);
                Ok(response.map(|body| match on_body {
                    Some(on_body) => ResponseBody::new(body, on_body),
                    None => ResponseBody::passthrough(body),
                }))
            }
            Err(error) => {
                hook.on_error(ErrorRef::new(&error));
                Err(error)
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};

    use bytes::Bytes;
    use http_body_util::Empty;

    use super::*;
    use crate::body::BodyEnd;

    fn empty() -> Response<Empty<Bytes>> {
        Response::new(Empty::new())
    }

    /// Logs what the future does with it.
    #[derive(Debug)]
    struct Log(Arc<Mutex<Vec<String>>>);

    impl OnResponse for Log {
        type OnBody = fn(BodyEnd<'_>);

        fn on_response<B>(self, response: &mut Response<B>) -> Option<Self::OnBody> {
            response
                .headers_mut()
                .insert("x-seen", "1".parse().unwrap());
            self.0.lock().unwrap().push("response".to_owned());
            None
        }

        fn on_error(self, error: ErrorRef<'_>) {
            self.0.lock().unwrap().push(format!("error:{error}"));
        }

        fn on_cancel(self) {
            self.0.lock().unwrap().push("cancel".to_owned());
        }
    }

    #[tokio::test]
    async fn response_error_and_cancel() {
        let log = Arc::new(Mutex::new(Vec::new()));
        let ok = async { Ok::<_, std::io::Error>(empty()) };
        let res = ResponseFuture::new(ok, Log(log.clone())).await.unwrap();
        assert_eq!(res.headers()["x-seen"], "1");
        assert!(!res.body().is_pending());

        let err = async { Err::<Response<Empty<Bytes>>, _>(std::io::Error::other("down")) };
        ResponseFuture::new(err, Log(log.clone()))
            .await
            .unwrap_err();

        let pending = std::future::pending::<Result<Response<Empty<Bytes>>, std::io::Error>>();
        drop(ResponseFuture::new(pending, Log(log.clone())));
        assert_eq!(*log.lock().unwrap(), ["response", "error:down", "cancel"]);
    }
}
