//! What the HTTP layer benches share: polling a future and draining a body inline, with a
//! no-op waker (the services under test are immediately ready), the handler under test, and
//! the parent context client calls run in.

use std::hint::black_box;
use std::pin::pin;
use std::task::{Context, Poll, Waker};

use std::convert::Infallible;

use bytes::Bytes;
use http::{Request, Response};
use http_body::Body;
use http_body_util::Full;
use tower::{Service, service_fn};
use tracewire::{Context as TraceContext, SpanContext, SpanId, TraceFlags, TraceId, TraceState};

pub(crate) fn block<F: Future>(f: F) -> F::Output {
    let mut f = pin!(f);
    let mut cx = Context::from_waker(Waker::noop());
    loop {
        if let Poll::Ready(v) = f.as_mut().poll(&mut cx) {
            return v;
        }
    }
}

pub(crate) fn drain<B: Body>(body: B) {
    let mut body = pin!(body);
    let mut cx = Context::from_waker(Waker::noop());
    while let Poll::Ready(Some(frame)) = body.as_mut().poll_frame(&mut cx) {
        black_box(frame.is_ok());
    }
}

/// A handler that answers at once.
pub(crate) fn handler() -> impl Service<
    Request<Full<Bytes>>,
    Response = Response<Full<Bytes>>,
    Error = Infallible,
    Future = impl Future<Output = Result<Response<Full<Bytes>>, Infallible>>,
> + Clone {
    service_fn(|_req: Request<Full<Bytes>>| async {
        Ok::<_, Infallible>(Response::new(Full::new(Bytes::from_static(b"ok"))))
    })
}

/// The context a client call runs in: a remote parent with these flags.
pub(crate) fn parent(flags: TraceFlags) -> TraceContext {
    TraceContext::from_span_context(SpanContext::new(
        TraceId::from_u128(0x4bf9_2f35_77b3_4da6_a3ce_929d_0e0e_4736),
        SpanId::from_u64(0x00f0_67aa_0ba9_02b7),
        flags,
        TraceState::new(),
        true,
    ))
}
