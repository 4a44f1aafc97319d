//! What the HTTP layer benches share: polling a future and draining a body inline, with a
//! no-op waker (the services under test are immediately ready).

use std::hint::black_box;
use std::pin::pin;
use std::task::{Context, Poll, Waker};

use http_body::Body;

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
