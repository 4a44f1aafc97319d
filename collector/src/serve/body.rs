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

use super::BoxError;
use super::conn::{ConnShared, Receiving};

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

    /// Whether `n` more bytes would fit now.
    fn fits(&self, n: usize) -> bool {
        self.used()
            .checked_add(n)
            .is_some_and(|t| t <= self.0.limit)
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
    /// A declared length, not checked yet: on the first read it must fit in what is left of
    /// the budget, then frames are taken as they arrive.
    Declared(u64),
    /// Each frame is taken as it arrives.
    PerFrame,
}

pin_project! {
    /// A request body with a deadline and a share of the budget.
    ///
    /// Every body takes its frames from the budget as they arrive, so what it holds is what
    /// it has received: a sender that declares a large body and sends it slowly (or not at
    /// all) holds next to nothing and keeps nobody out. A body whose declared length cannot fit
    /// in what is left of the budget is refused on its first read, before any byte is read.
    /// The bytes are given back when the body is dropped, which the receivers do once the
    /// request is decoded and answered.
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
        // Tells the connection the body is arriving, and its bytes, until it ends.
        arriving: Option<Receiving>,
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
            arriving: None,
        }
    }

    /// Reports the body's arrival to `conn` (for the listener's choice of a body to cut when
    /// it is full) until the body ends.
    pub(crate) fn arriving_on(mut self, conn: &Arc<ConnShared>) -> Self {
        if !self.inner.is_end_stream() {
            self.arriving = Some(conn.receiving());
        }
        self
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
        let mut this = self.project();
        if *this.failed {
            *this.arriving = None;
            return Poll::Ready(None);
        }
        if let Take::Declared(n) = *this.take {
            let n = usize::try_from(n).unwrap_or(usize::MAX);
            if !this.held.budget.fits(n) {
                *this.failed = true;
                return Poll::Ready(Some(Err(over_budget(this.held, *this.grpc))));
            }
            *this.take = Take::PerFrame;
        }
        match this.inner.as_mut().poll_frame(cx) {
            Poll::Ready(Some(Ok(frame))) => {
                if let Some(data) = frame.data_ref() {
                    if !this.held.budget.try_acquire(data.len()) {
                        *this.failed = true;
                        return Poll::Ready(Some(Err(over_budget(this.held, *this.grpc))));
                    }
                    this.held.bytes += data.len();
                    if let Some(a) = this.arriving.as_ref() {
                        a.received(data.len());
                    }
                }
                if this.inner.is_end_stream() {
                    *this.arriving = None;
                }
                Poll::Ready(Some(Ok(frame)))
            }
            Poll::Ready(Some(Err(e))) => {
                *this.arriving = None;
                Poll::Ready(Some(Err(e.into())))
            }
            Poll::Ready(None) => {
                *this.arriving = None;
                Poll::Ready(None)
            }
            Poll::Pending => {
                ready!(this.deadline.poll(cx));
                *this.failed = true;
                *this.arriving = None;
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
    async fn a_declared_length_must_fit_and_its_bytes_are_held_as_they_arrive() {
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
        assert_eq!(budget.used(), 3, "only what arrived");
        // Eight more bytes cannot fit in the seven left: refused before a byte is read.
        let mut b = Box::pin(RequestBody::new(
            Script::new(&[b"xyz"], false, Some(8)),
            budget.clone(),
            LONG,
            false,
        ));
        let e = b.frame().await.unwrap().unwrap_err();
        assert_eq!(edge_error(&e), RequestBodyError::OverBudget { limit: 10 });
        assert!(b.frame().await.is_none());
        assert_eq!(budget.used(), 3);
        // Seven fit; its frames are taken as they come, and a frame past the budget fails.
        let mut c = Box::pin(RequestBody::new(
            Script::new(&[b"wxyz", b"abcd"], false, Some(7)),
            budget.clone(),
            LONG,
            false,
        ));
        assert_eq!(
            c.frame().await.unwrap().unwrap().into_data().unwrap(),
            "wxyz"
        );
        assert_eq!(budget.used(), 7);
        let e = c.frame().await.unwrap().unwrap_err();
        assert_eq!(edge_error(&e), RequestBodyError::OverBudget { limit: 10 });
        drop(c);
        assert_eq!(budget.used(), 3, "held until dropped, not until read");
        drop(a);
        assert_eq!(budget.used(), 0);
    }

    #[tokio::test]
    async fn senders_that_declare_much_and_send_nothing_hold_nothing() {
        // Sixteen bodies each declaring the whole budget, none sending a byte: a small
        // request still fits (they used to take their declared lengths on the first read,
        // so sixteen silent sockets kept every exporter out until the body read timeout).
        let budget = Budget::new(64);
        let mut silent = Vec::new();
        for _ in 0..16 {
            let mut body = Box::pin(RequestBody::new(
                Script::new(&[], true, Some(64)),
                budget.clone(),
                LONG,
                false,
            ));
            let waker = std::task::Waker::noop();
            assert!(
                body.as_mut()
                    .poll_frame(&mut Context::from_waker(waker))
                    .is_pending()
            );
            silent.push(body);
        }
        assert_eq!(budget.used(), 0);
        let mut small = Box::pin(RequestBody::new(
            Script::new(&[b"export"], false, Some(6)),
            budget.clone(),
            LONG,
            false,
        ));
        assert_eq!(
            small.frame().await.unwrap().unwrap().into_data().unwrap(),
            "export"
        );
        assert!(small.frame().await.is_none());
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
