//! Fakes shared by the unit tests: gRPC frames, a scripted body, a recorder on a current-thread
//! runtime.

use std::collections::VecDeque;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context as TaskContext, Poll};

use bytes::{BufMut, Bytes, BytesMut};
use http::HeaderMap;
use http_body::{Body, Frame};
use tracewire::testing::Recorder;

pub(crate) const PARENT_TRACE: &str = "4bf92f3577b34da6a3ce929d0e0e4736";
pub(crate) const PARENT_SPAN: &str = "00f067aa0ba902b7";
pub(crate) const TRACEPARENT: &str = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";

/// One length-prefixed gRPC message.
pub(crate) fn message(payload: &[u8]) -> Bytes {
    let mut b = BytesMut::with_capacity(5 + payload.len());
    b.put_u8(0);
    b.put_u32(payload.len() as u32);
    b.put_slice(payload);
    b.freeze()
}

pub(crate) fn trailers(code: i32, message: Option<&str>) -> HeaderMap {
    let mut h = HeaderMap::new();
    h.insert("grpc-status", code.to_string().parse().unwrap());
    if let Some(m) = message {
        h.insert("grpc-message", m.parse().unwrap());
    }
    h
}

/// A step of a [`Script`] body.
pub(crate) enum Step {
    Data(Bytes),
    Trailers(HeaderMap),
    Error(tonic::Status),
    /// Runs a closure when polled (to do "handler work" while streaming), yielding nothing.
    Run(Box<dyn FnOnce() + Send>),
}

/// A body that yields its steps in order, then ends.
pub(crate) struct Script(pub(crate) VecDeque<Step>);

impl std::fmt::Debug for Script {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Script({} steps)", self.0.len())
    }
}

impl Script {
    pub(crate) fn new(steps: impl IntoIterator<Item = Step>) -> Self {
        Script(steps.into_iter().collect())
    }

    /// Unary success: one message then OK trailers.
    pub(crate) fn unary_ok() -> Self {
        Script::new([
            Step::Data(message(b"hi")),
            Step::Trailers(trailers(0, None)),
        ])
    }

    pub(crate) fn empty() -> Self {
        Script::new([])
    }

    /// A server stream: two messages, then OK trailers.
    pub(crate) fn two_messages() -> Self {
        Script::new([
            Step::Data(message(b"1")),
            Step::Data(message(b"2")),
            Step::Trailers(trailers(0, None)),
        ])
    }
}

/// Sends `req`, reads the first frame of the response body, then drops the body: a stream the
/// caller cancels midway. `check` runs while the stream is still open.
pub(crate) async fn cancel_after_one_frame<S, B>(
    svc: S,
    req: http::Request<Script>,
    check: impl FnOnce(),
) where
    S: tower::Service<http::Request<Script>, Response = http::Response<B>>,
    S::Error: std::fmt::Debug,
    B: Body + Unpin,
    B::Error: std::fmt::Debug,
{
    use http_body_util::BodyExt;
    use tower::ServiceExt;
    let mut body = svc.oneshot(req).await.unwrap().into_body();
    body.frame().await.unwrap().unwrap();
    check();
    drop(body);
}

impl Body for Script {
    type Data = Bytes;
    type Error = tonic::Status;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        _cx: &mut TaskContext<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, tonic::Status>>> {
        loop {
            return Poll::Ready(match self.0.pop_front() {
                None => None,
                Some(Step::Data(d)) => Some(Ok(Frame::data(d))),
                Some(Step::Trailers(t)) => Some(Ok(Frame::trailers(t))),
                Some(Step::Error(e)) => Some(Err(e)),
                Some(Step::Run(f)) => {
                    f();
                    continue;
                }
            });
        }
    }

    fn is_end_stream(&self) -> bool {
        self.0.is_empty()
    }
}

/// Runs `f` on a current-thread runtime with `recorder` as the thread's subscriber.
pub(crate) fn run<F: Future>(recorder: &Recorder, f: F) -> F::Output {
    let _guard = recorder.set_default();
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(f)
}

/// Reads a body to its end, returning the trailers (if any).
pub(crate) async fn drain<B>(body: B) -> Result<Option<HeaderMap>, B::Error>
where
    B: Body,
{
    use http_body_util::BodyExt;
    let collected = body.collect().await?;
    Ok(collected.trailers().cloned())
}

pub(crate) fn assert_send_sync<T: Send + Sync>() {}

pub(crate) fn assert_send<T: Send>() {}
