//! The request-body wrapper every listener hands its handlers: the body must arrive within the
//! body read timeout, and its bytes are held against one budget shared by every listener until
//! the body is dropped.

use std::fmt;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::task::{Context, Poll, ready};
use std::time::Duration;

use bytes::Bytes;
use http_body::{Body, Frame, SizeHint};
use hyper::body::Incoming;
use pin_project_lite::pin_project;
use tokio::time::{Instant, Sleep};

type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// A budget of request-body bytes held at once, shared by every listener of a collector.
#[derive(Clone)]
pub(crate) struct Budget(Arc<BudgetInner>);

struct BudgetInner {
    limit: usize,
    used: AtomicUsize,
}

impl fmt::Debug for Budget {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Budget")
            .field("limit", &self.0.limit)
            .field("used", &self.used())
            .finish()
    }
}

impl Budget {
    pub(crate) fn new(limit: usize) -> Self {
        Budget(Arc::new(BudgetInner {
            limit,
            used: AtomicUsize::new(0),
        }))
    }

    pub(crate) fn limit(&self) -> usize {
        self.0.limit
    }

    /// Bytes held now.
    pub(crate) fn used(&self) -> usize {
        self.0.used.load(Ordering::Acquire)
    }

    /// Takes `n` bytes, or nothing when that would pass the limit.
    fn try_acquire(&self, n: usize) -> bool {
        let limit = self.0.limit;
        self.0
            .used
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |u| {
                u.checked_add(n).filter(|&t| t <= limit)
            })
            .is_ok()
    }

    fn release(&self, n: usize) {
        if n > 0 {
            self.0.used.fetch_sub(n, Ordering::AcqRel);
        }
    }
}

/// Bytes one request holds from the budget; given back on drop.
struct Held {
    budget: Budget,
    bytes: usize,
}

impl Drop for Held {
    fn drop(&mut self) {
        self.budget.release(self.bytes);
    }
}

/// Why a request body ended early. The OTLP/HTTP receiver finds it in the error chain it gets
/// from its body; the gRPC receiver gets the matching `tonic::Status` instead.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub(crate) enum RequestBodyError {
    /// Taking the body's bytes would pass the budget of bytes in flight.
    OverBudget {
        /// The budget, in bytes.
        limit: usize,
    },
    /// The body did not arrive whole within the body read timeout.
    TimedOut(Duration),
}

impl fmt::Display for RequestBodyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RequestBodyError::OverBudget { limit } => write!(
                f,
                "the collector is already holding its budget of {limit} bytes of request data; retry later"
            ),
            RequestBodyError::TimedOut(d) => {
                write!(f, "request body not received within {} ms", d.as_millis())
            }
        }
    }
}

impl std::error::Error for RequestBodyError {}

impl RequestBodyError {
    fn into_box(self, grpc: bool) -> BoxError {
        if !grpc {
            return Box::new(self);
        }
        // tonic keeps a `Status` found as a body error, so the client sees this code.
        let message = self.to_string();
        Box::new(match self {
            RequestBodyError::OverBudget { .. } => tonic::Status::resource_exhausted(message),
            RequestBodyError::TimedOut(_) => tonic::Status::deadline_exceeded(message),
        })
    }
}

/// How a body takes its bytes from the budget.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Take {
    /// A declared length, not taken yet: all of it is taken on the first read.
    Declared(u64),
    /// The declared length is held.
    Held,
    /// No declared length: each frame is taken as it arrives.
    PerFrame,
}

pin_project! {
    /// A request body with a deadline and a share of the budget.
    ///
    /// A body with a declared length takes it all from the budget on its first read (so a
    /// request that cannot fit is refused before any byte is read); a streamed body takes each
    /// frame as it arrives. The bytes are given back when the body is dropped, which the
    /// receivers do once the request is decoded and answered.
    pub(crate) struct RequestBody<B = Incoming> {
        #[pin]
        inner: B,
        #[pin]
        deadline: Sleep,
        timeout: Duration,
        held: Held,
        take: Take,
        grpc: bool,
        failed: bool,
    }
}

impl<B> fmt::Debug for RequestBody<B> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RequestBody")
            .field("held", &self.held.bytes)
            .field("take", &self.take)
            .finish_non_exhaustive()
    }
}

impl<B: Body> RequestBody<B> {
    pub(crate) fn new(inner: B, budget: Budget, timeout: Duration, grpc: bool) -> Self {
        let take = match inner.size_hint().exact() {
            Some(n) => Take::Declared(n),
            None => Take::PerFrame,
        };
        RequestBody {
            inner,
            deadline: tokio::time::sleep_until(Instant::now() + timeout),
            timeout,
            held: Held { budget, bytes: 0 },
            take,
            grpc,
            failed: false,
        }
    }
}

impl<B> Body for RequestBody<B>
where
    B: Body<Data = Bytes>,
    B::Error: Into<BoxError>,
{
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        let this = self.project();
        if *this.failed {
            return Poll::Ready(None);
        }
        if let Take::Declared(n) = *this.take {
            let n = usize::try_from(n).unwrap_or(usize::MAX);
            if !this.held.budget.try_acquire(n) {
                *this.failed = true;
                return Poll::Ready(Some(Err(over_budget(this.held, *this.grpc))));
            }
            this.held.bytes = n;
            *this.take = Take::Held;
        }
        match this.inner.poll_frame(cx) {
            Poll::Ready(Some(Ok(frame))) => {
                if let (Take::PerFrame, Some(data)) = (*this.take, frame.data_ref()) {
                    if !this.held.budget.try_acquire(data.len()) {
                        *this.failed = true;
                        return Poll::Ready(Some(Err(over_budget(this.held, *this.grpc))));
                    }
                    this.held.bytes += data.len();
                }
                Poll::Ready(Some(Ok(frame)))
            }
            Poll::Ready(Some(Err(e))) => Poll::Ready(Some(Err(e.into()))),
            Poll::Ready(None) => Poll::Ready(None),
            Poll::Pending => {
                ready!(this.deadline.poll(cx));
                *this.failed = true;
                Poll::Ready(Some(Err(
                    RequestBodyError::TimedOut(*this.timeout).into_box(*this.grpc)
                )))
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        self.failed || self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

fn over_budget(held: &Held, grpc: bool) -> BoxError {
    RequestBodyError::OverBudget {
        limit: held.budget.limit(),
    }
    .into_box(grpc)
}

#[cfg(test)]
mod tests {
    use std::collections::VecDeque;

    use http_body_util::BodyExt;

    use super::*;

    /// Frames, then the end or a body that never ends.
    struct Script {
        frames: VecDeque<Bytes>,
        then_stall: bool,
        declared: Option<u64>,
    }

    impl Script {
        fn new(frames: &[&'static [u8]], then_stall: bool, declared: Option<u64>) -> Self {
            Script {
                frames: frames.iter().map(|f| Bytes::from_static(f)).collect(),
                then_stall,
                declared,
            }
        }
    }

    impl Body for Script {
        type Data = Bytes;
        type Error = std::convert::Infallible;

        fn poll_frame(
            mut self: Pin<&mut Self>,
            _cx: &mut Context<'_>,
        ) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
            match self.frames.pop_front() {
                Some(f) => Poll::Ready(Some(Ok(Frame::data(f)))),
                None if self.then_stall => Poll::Pending,
                None => Poll::Ready(None),
            }
        }

        fn size_hint(&self) -> SizeHint {
            self.declared
                .map_or_else(SizeHint::new, SizeHint::with_exact)
        }
    }

    const LONG: Duration = Duration::from_secs(60);

    fn edge_error(e: &BoxError) -> RequestBodyError {
        *e.downcast_ref::<RequestBodyError>().expect("an edge error")
    }

    #[tokio::test]
    async fn a_declared_length_is_held_whole_until_the_body_is_dropped() {
        let budget = Budget::new(10);
        let mut a = Box::pin(RequestBody::new(
            Script::new(&[b"abc"], true, Some(8)),
            budget.clone(),
            LONG,
            false,
        ));
        assert_eq!(budget.used(), 0, "nothing is taken before the first read");
        let f = a.frame().await.unwrap().unwrap();
        assert_eq!(f.into_data().unwrap(), "abc");
        assert_eq!(budget.used(), 8);
        // Three more bytes do not fit: refused before a byte is read, and the body ends.
        let mut b = Box::pin(RequestBody::new(
            Script::new(&[b"xyz"], false, Some(3)),
            budget.clone(),
            LONG,
            false,
        ));
        let e = b.frame().await.unwrap().unwrap_err();
        assert_eq!(edge_error(&e), RequestBodyError::OverBudget { limit: 10 });
        assert!(b.frame().await.is_none());
        assert_eq!(budget.used(), 8);
        drop(a);
        assert_eq!(budget.used(), 0);
        let mut b = Box::pin(RequestBody::new(
            Script::new(&[b"xyz"], false, Some(3)),
            budget.clone(),
            LONG,
            false,
        ));
        assert_eq!(
            b.frame().await.unwrap().unwrap().into_data().unwrap(),
            "xyz"
        );
        assert!(b.frame().await.is_none());
        assert_eq!(budget.used(), 3, "held until dropped, not until read");
        drop(b);
        assert_eq!(budget.used(), 0);
    }

    #[tokio::test]
    async fn a_streamed_body_takes_each_frame_and_fails_on_the_one_that_passes() {
        let budget = Budget::new(5);
        let mut body = Box::pin(RequestBody::new(
            Script::new(&[b"ab", b"cd", b"ef"], false, None),
            budget.clone(),
            LONG,
            true,
        ));
        body.frame().await.unwrap().unwrap();
        body.frame().await.unwrap().unwrap();
        assert_eq!(budget.used(), 4);
        let e = body.frame().await.unwrap().unwrap_err();
        let status = e
            .downcast_ref::<tonic::Status>()
            .expect("a status for gRPC");
        assert_eq!(status.code(), tonic::Code::ResourceExhausted);
        assert_eq!(
            status.message(),
            "the collector is already holding its budget of 5 bytes of request data; retry later"
        );
        drop(body);
        assert_eq!(budget.used(), 0);
    }

    #[tokio::test]
    async fn a_body_still_arriving_at_the_deadline_fails() {
        let budget = Budget::new(100);
        let d = Duration::from_millis(20);
        let mut http = Box::pin(RequestBody::new(
            Script::new(&[b"a"], true, None),
            budget.clone(),
            d,
            false,
        ));
        http.frame().await.unwrap().unwrap();
        let e = http.frame().await.unwrap().unwrap_err();
        assert_eq!(edge_error(&e), RequestBodyError::TimedOut(d));
        assert_eq!(e.to_string(), "request body not received within 20 ms");
        assert!(http.is_end_stream());
        let mut grpc = Box::pin(RequestBody::new(
            Script::new(&[], true, None),
            budget,
            d,
            true,
        ));
        let e = grpc.frame().await.unwrap().unwrap_err();
        let status = e.downcast_ref::<tonic::Status>().unwrap();
        assert_eq!(status.code(), tonic::Code::DeadlineExceeded);
    }
}
