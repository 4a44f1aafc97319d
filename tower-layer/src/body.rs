//! A response body wrapper that calls a hook exactly once when the body ends, fails or is
//! dropped — how the server and client spans live until the last byte, not the headers.
//!
//! It knows nothing of HTTP or gRPC: a protocol reads what it needs from the end (the trailers
//! carry the gRPC status) and from the error (through [`ErrorRef`]).

use std::fmt;
use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::Buf;
use http::HeaderMap;
use http_body::{Body, Frame, SizeHint};
use pin_project_lite::pin_project;

use crate::error::ErrorRef;

/// How a wrapped body ended. Given to [`OnBodyEnd::on_end`].
#[derive(Clone, Copy)]
#[non_exhaustive]
pub enum BodyEnd<'a> {
    /// The body reached its end. `trailers` are the trailers frame, if the body sent one (the
    /// gRPC status lives there).
    Complete {
        /// The trailers, if any.
        trailers: Option<&'a HeaderMap>,
    },
    /// The body returned an error.
    Error(ErrorRef<'a>),
    /// The body was dropped before its end (the peer went away, the caller stopped reading).
    Dropped,
}

impl fmt::Debug for BodyEnd<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            BodyEnd::Complete { trailers } => f
                .debug_struct("Complete")
                .field("trailers", trailers)
                .finish(),
            BodyEnd::Error(e) => f.debug_tuple("Error").field(e).finish(),
            BodyEnd::Dropped => f.write_str("Dropped"),
        }
    }
}

/// A hook called once when a [`ResponseBody`] ends (and, if it wants, for every data frame).
///
/// Implemented for closures `FnOnce(BodyEnd<'_>)`; the server and client layers use
/// [`BodyHook`](crate::BodyHook), which ends the span.
pub trait OnBodyEnd {
    /// Called exactly once, with how the body ended.
    fn on_end(self, end: BodyEnd<'_>);

    /// Called for each data frame, before the frame is handed on. The default does nothing.
    fn on_data<D: Buf>(&mut self, data: &D) {
        let _ = data;
    }

    /// Runs one poll of the inner body. The default just polls; the layers' hooks enter their
    /// span (and trace context) so work done while producing the body stays in the trace.
    fn in_scope<R>(&mut self, poll: impl FnOnce() -> R) -> R {
        poll()
    }
}

impl<F> OnBodyEnd for F
where
    F: FnOnce(BodyEnd<'_>),
{
    fn on_end(self, end: BodyEnd<'_>) {
        self(end)
    }
}

pin_project! {
    /// A body that forwards every frame of `B` and calls `E` once at end-of-stream (with the
    /// trailers), on error, or when dropped early.
    ///
    /// An empty body that its server never polls (hyper skips bodies that report
    /// [`is_end_stream`](Body::is_end_stream)) counts as complete when dropped.
    ///
    /// ```
    /// use bytes::Bytes;
    /// use http_body_util::{BodyExt, Full};
    /// use tracewire_tower::{BodyEnd, ResponseBody};
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// let (tx, rx) = std::sync::mpsc::channel();
    /// let body = ResponseBody::new(Full::new(Bytes::from_static(b"hi")), move |end: BodyEnd<'_>| {
    ///     tx.send(matches!(end, BodyEnd::Complete { .. })).unwrap();
    /// });
    /// assert_eq!(body.collect().await.unwrap().to_bytes(), "hi");
    /// assert!(rx.recv().unwrap());
    /// # }
    /// ```
    pub struct ResponseBody<B, E>
    where
        B: Body,
        E: OnBodyEnd,
    {
        #[pin]
        inner: B,
        on_end: Option<E>,
    }

    impl<B, E> PinnedDrop for ResponseBody<B, E>
    where
        B: Body,
        E: OnBodyEnd,
    {
        fn drop(this: Pin<&mut Self>) {
            let this = this.project();
            if let Some(hook) = this.on_end.take() {
                if this.inner.is_end_stream() {
                    hook.on_end(BodyEnd::Complete { trailers: None });
                } else {
                    hook.on_end(BodyEnd::Dropped);
                }
            }
        }
    }
}

impl<B: Body, E: OnBodyEnd> ResponseBody<B, E> {
    /// Wraps `inner`, calling `on_end` when it ends.
    pub fn new(inner: B, on_end: E) -> Self {
        ResponseBody {
            inner,
            on_end: Some(on_end),
        }
    }

    /// Wraps `inner` with no hook: frames pass through untouched.
    pub fn passthrough(inner: B) -> Self {
        ResponseBody {
            inner,
            on_end: None,
        }
    }

    /// Whether the hook has not run yet.
    pub fn is_pending(&self) -> bool {
        self.on_end.is_some()
    }

    /// The wrapped body.
    pub fn get_ref(&self) -> &B {
        &self.inner
    }
}

impl<B, E> fmt::Debug for ResponseBody<B, E>
where
    B: Body + fmt::Debug,
    E: OnBodyEnd,
{
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ResponseBody")
            .field("inner", &self.inner)
            .field("pending", &self.on_end.is_some())
            .finish()
    }
}

impl<B, E> Body for ResponseBody<B, E>
where
    B: Body,
    B::Error: fmt::Display + 'static,
    E: OnBodyEnd,
{
    type Data = B::Data;
    type Error = B::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Self::Data>, Self::Error>>> {
        let mut this = self.project();
        let polled = match this.on_end.as_mut() {
            Some(hook) => hook.in_scope(|| this.inner.as_mut().poll_frame(cx)),
            None => return this.inner.poll_frame(cx),
        };
        match &polled {
            Poll::Pending => {}
            Poll::Ready(None) => {
                if let Some(hook) = this.on_end.take() {
                    hook.on_end(BodyEnd::Complete { trailers: None });
                }
            }
            Poll::Ready(Some(Err(e))) => {
                if let Some(hook) = this.on_end.take() {
                    hook.on_end(BodyEnd::Error(ErrorRef::new(e)));
                }
            }
            Poll::Ready(Some(Ok(frame))) => {
                if let (Some(data), Some(hook)) = (frame.data_ref(), this.on_end.as_mut()) {
                    hook.on_data(data);
                }
                if let Some(trailers) = frame.trailers_ref() {
                    if let Some(hook) = this.on_end.take() {
                        hook.on_end(BodyEnd::Complete {
                            trailers: Some(trailers),
                        });
                    }
                } else if this.inner.is_end_stream()
                    && let Some(hook) = this.on_end.take()
                {
                    hook.on_end(BodyEnd::Complete { trailers: None });
                }
            }
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};

    use bytes::Bytes;
    use http_body_util::{BodyExt, Empty, Full};

    use super::*;
    use crate::test_helpers::FramesBody;

    fn recorder() -> (
        Arc<Mutex<Vec<String>>>,
        impl FnOnce(BodyEnd<'_>) + Send + 'static,
    ) {
        let log = Arc::new(Mutex::new(Vec::new()));
        let l = log.clone();
        (log, move |end: BodyEnd<'_>| {
            let s = match end {
                BodyEnd::Complete { trailers: None } => "complete".to_owned(),
                BodyEnd::Complete { trailers: Some(t) } => {
                    format!("trailers:{}", t["grpc-status"].to_str().unwrap())
                }
                BodyEnd::Error(e) => format!("error:{e}"),
                BodyEnd::Dropped => "dropped".to_owned(),
            };
            l.lock().unwrap().push(s);
        })
    }

    #[tokio::test]
    async fn complete_after_last_frame() {
        let (log, hook) = recorder();
        let body = ResponseBody::new(Full::new(Bytes::from_static(b"abc")), hook);
        let bytes = body.collect().await.unwrap().to_bytes();
        assert_eq!(bytes, "abc");
        assert_eq!(*log.lock().unwrap(), ["complete"]);
    }

    #[tokio::test]
    async fn trailers_are_passed_once() {
        let (log, hook) = recorder();
        let mut trailers = HeaderMap::new();
        trailers.insert("grpc-status", "13".parse().unwrap());
        let frames: Vec<Result<Frame<Bytes>, std::io::Error>> = vec![
            Ok(Frame::data(Bytes::from_static(b"x"))),
            Ok(Frame::trailers(trailers)),
        ];
        let body = ResponseBody::new(FramesBody::new(frames), hook);
        let collected = body.collect().await.unwrap();
        assert_eq!(collected.trailers().unwrap()["grpc-status"], "13");
        assert_eq!(*log.lock().unwrap(), ["trailers:13"]);
    }

    #[tokio::test]
    async fn error_is_reported() {
        let (log, hook) = recorder();
        let frames: Vec<Result<Frame<Bytes>, std::io::Error>> =
            vec![Err(std::io::Error::other("reset"))];
        let body = ResponseBody::new(FramesBody::new(frames), hook);
        assert!(body.collect().await.is_err());
        assert_eq!(*log.lock().unwrap(), ["error:reset"]);
    }

    /// Counts data bytes and reports them with the end.
    struct Counting(usize, std::sync::mpsc::Sender<(usize, bool)>);

    impl OnBodyEnd for Counting {
        fn on_end(self, end: BodyEnd<'_>) {
            let complete = matches!(end, BodyEnd::Complete { .. });
            self.1.send((self.0, complete)).unwrap();
        }

        fn on_data<D: Buf>(&mut self, data: &D) {
            self.0 += data.remaining();
        }
    }

    #[tokio::test]
    async fn data_frames_are_seen_before_the_end() {
        let (tx, rx) = std::sync::mpsc::channel();
        let frames: Vec<Result<Frame<Bytes>, std::io::Error>> = vec![
            Ok(Frame::data(Bytes::from_static(b"abc"))),
            Ok(Frame::data(Bytes::from_static(b"de"))),
            Ok(Frame::trailers(HeaderMap::new())),
        ];
        let body = ResponseBody::new(FramesBody::new(frames), Counting(0, tx));
        body.collect().await.unwrap();
        assert_eq!(rx.recv().unwrap(), (5, true));
    }

    #[tokio::test]
    async fn errors_can_be_downcast() {
        let (tx, rx) = std::sync::mpsc::channel();
        let frames: Vec<Result<Frame<Bytes>, std::io::Error>> = vec![Err(std::io::Error::from(
            std::io::ErrorKind::ConnectionReset,
        ))];
        let body = ResponseBody::new(FramesBody::new(frames), move |end: BodyEnd<'_>| {
            if let BodyEnd::Error(e) = end {
                let io = e.downcast_ref::<std::io::Error>().unwrap();
                tx.send((io.kind(), e.error_type())).unwrap();
            }
        });
        assert!(body.collect().await.is_err());
        assert_eq!(
            rx.recv().unwrap(),
            (
                std::io::ErrorKind::ConnectionReset,
                "connection_reset".into()
            )
        );
    }

    #[test]
    fn dropped_early_vs_empty() {
        let (log, hook) = recorder();
        drop(ResponseBody::new(
            Full::new(Bytes::from_static(b"abc")),
            hook,
        ));
        let (log2, hook2) = recorder();
        drop(ResponseBody::new(Empty::<Bytes>::new(), hook2));
        assert_eq!(*log.lock().unwrap(), ["dropped"]);
        assert_eq!(*log2.lock().unwrap(), ["complete"]);
    }
}
