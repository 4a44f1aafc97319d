//! The service every traced stack runs: its layer starts the request's trace, the inner service
//! is called inside it, and the response future and body carry it to the end.

use std::fmt;
use std::task::{Context as TaskContext, Poll};

use http::request::Parts;
use http::{Request, Response};
use http_body::Body;
use tower_service::Service;

use crate::body::ResponseBody;
use crate::future::ResponseFuture;
use crate::hook::{BodyHook, Outcome, ResponseHook};

/// Starts tracing one request, before the inner service is called. Implemented by
/// [`ServerLayer`](crate::ServerLayer) (extract, trust, filter, `SERVER` span) and
/// [`ClientLayer`](crate::ClientLayer) (filter, `CLIENT` span, inject).
pub trait StartRequest {
    /// How the protocol reads the request's outcome.
    type Outcome: Outcome;

    /// Creates the request's span (or decides on none), amends the request head if it must
    /// (a client writes its context into the headers), and returns the hook the response
    /// future and body run.
    fn start(&self, parts: &mut Parts) -> ResponseHook<Self::Outcome>;
}

/// A service traced by the layer `L`: [`ServerService`](crate::ServerService) and
/// [`ClientService`](crate::ClientService) are this service with a server or client layer.
pub struct TraceService<S, L> {
    pub(crate) inner: S,
    pub(crate) layer: L,
}

impl<S, L> TraceService<S, L> {
    /// The inner service.
    pub fn get_ref(&self) -> &S {
        &self.inner
    }

    /// The inner service, mutably.
    pub fn get_mut(&mut self) -> &mut S {
        &mut self.inner
    }

    /// Consumes `self`, returning the inner service.
    pub fn into_inner(self) -> S {
        self.inner
    }

    /// The layer's settings.
    pub fn settings(&self) -> &L {
        &self.layer
    }
}

impl<S: Clone, L: Clone> Clone for TraceService<S, L> {
    fn clone(&self) -> Self {
        TraceService {
            inner: self.inner.clone(),
            layer: self.layer.clone(),
        }
    }
}

impl<S: fmt::Debug, L: fmt::Debug> fmt::Debug for TraceService<S, L> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TraceService")
            .field("inner", &self.inner)
            .field("layer", &self.layer)
            .finish()
    }
}

impl<S, L, ReqB, ResB> Service<Request<ReqB>> for TraceService<S, L>
where
    S: Service<Request<ReqB>, Response = Response<ResB>>,
    S::Error: fmt::Display + 'static,
    ResB: Body,
    ResB::Error: fmt::Display + 'static,
    L: StartRequest,
{
    type Response = Response<ResponseBody<ResB, BodyHook<L::Outcome>>>;
    type Error = S::Error;
    type Future = ResponseFuture<S::Future, ResponseHook<L::Outcome>>;

    fn poll_ready(&mut self, cx: &mut TaskContext<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: Request<ReqB>) -> Self::Future {
        let (mut parts, body) = req.into_parts();
        let mut hook = self.layer.start(&mut parts);
        let future = hook.in_scope(|| self.inner.call(Request::from_parts(parts, body)));
        ResponseFuture::new(future, hook)
    }
}
