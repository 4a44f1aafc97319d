//! What every request passes through on its way to a receiver or the API: the `Host` and token
//! checks, the request-body wrapper, the in-flight count, and the UI's security headers.

use std::convert::Infallible;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, ready};

use bytes::Bytes;
use http::{Request, Response};
use http_body::{Body, Frame, SizeHint};
use http_body_util::{Either, Full};
use hyper::body::Incoming;
use pin_project_lite::pin_project;
use tower::ServiceExt;
use tower::util::Oneshot;

use super::auth::{self, AuthToken, HostPolicy};
use super::body::{Budget, RequestBody};
use super::conn::{ConnShared, InFlight};
use super::{BoxError, EdgeBody, ListenerKind, Timeouts};

/// What a listener's requests are checked against.
#[derive(Debug)]
pub(crate) struct EdgeCtx {
    pub(crate) kind: ListenerKind,
    pub(crate) timeouts: Timeouts,
    pub(crate) budget: Budget,
    pub(crate) auth: Option<Arc<AuthToken>>,
    /// Set on loopback binds of HTTP listeners.
    pub(crate) hosts: Option<HostPolicy>,
    pub(crate) tls: bool,
}

impl EdgeCtx {
    /// The edge's own answer, when the request goes no further.
    fn screen<B>(&self, req: &Request<B>) -> Option<Response<Full<Bytes>>> {
        if let Some(host) = self.hosts.as_ref().and_then(|h| h.refused(req)) {
            return Some(auth::misdirected(host));
        }
        let token = self.auth.as_deref()?;
        let api = self.kind == ListenerKind::Api;
        if token.admits(req.headers(), api) {
            return None;
        }
        if api && let Some(redirect) = token.sign_in(req, self.tls) {
            return Some(redirect);
        }
        Some(auth::unauthorized(self.kind == ListenerKind::OtlpGrpc))
    }
}

/// The hyper service of one connection, around the listener's router or gRPC service.
pub(crate) struct EdgeService<S> {
    pub(crate) inner: S,
    pub(crate) ctx: Arc<EdgeCtx>,
    pub(crate) conn: Arc<ConnShared>,
}

impl<S> fmt::Debug for EdgeService<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EdgeService")
            .field("kind", &self.ctx.kind)
            .finish_non_exhaustive()
    }
}

impl<S, B> hyper::service::Service<Request<Incoming>> for EdgeService<S>
where
    S: tower::Service<Request<RequestBody>, Response = Response<B>, Error = Infallible>
        + Clone
        + Send
        + 'static,
    S::Future: Send,
    B: EdgeBody,
{
    type Response = Response<ResponseBody<B>>;
    type Error = Infallible;
    type Future = ResponseFuture<Oneshot<S, Request<RequestBody>>>;

    fn call(&self, req: Request<Incoming>) -> Self::Future {
        let guard = InFlight::new(&self.conn);
        let ui = self.ctx.kind == ListenerKind::Api;
        if let Some(early) = self.ctx.screen(&req) {
            return ResponseFuture {
                state: State::Early {
                    response: Some(early),
                },
                guard: Some(guard),
                ui,
            };
        }
        let grpc = self.ctx.kind == ListenerKind::OtlpGrpc;
        let (budget, timeout) = (self.ctx.budget.clone(), self.ctx.timeouts.body_read);
        let conn = &self.conn;
        let req = req.map(|body| RequestBody::new(body, budget, timeout, grpc).arriving_on(conn));
        ResponseFuture {
            state: State::Inner {
                fut: self.inner.clone().oneshot(req),
            },
            guard: Some(guard),
            ui,
        }
    }
}

pin_project! {
    #[project = StateProj]
    enum State<F> {
        Early { response: Option<Response<Full<Bytes>>> },
        Inner { #[pin] fut: F },
    }
}

pin_project! {
    /// The response of an [`EdgeService`]; holds the request in flight until its body ends.
    pub(crate) struct ResponseFuture<F> {
        #[pin]
        state: State<F>,
        guard: Option<InFlight>,
        ui: bool,
    }
}

impl<F> fmt::Debug for ResponseFuture<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ResponseFuture").finish_non_exhaustive()
    }
}

impl<F, B> Future for ResponseFuture<F>
where
    F: Future<Output = Result<Response<B>, Infallible>>,
{
    type Output = Result<Response<ResponseBody<B>>, Infallible>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let mut response = match this.state.project() {
            StateProj::Early { response } => response
                .take()
                .expect("ResponseFuture polled after completion")
                .map(Either::Right),
            StateProj::Inner { fut } => match ready!(fut.poll(cx)) {
                Ok(r) => r.map(Either::Left),
                Err(never) => match never {},
            },
        };
        if *this.ui {
            auth::secure_headers(response.headers_mut());
        }
        let guard = this.guard.take();
        Poll::Ready(Ok(response.map(|body| ResponseBody {
            body,
            _guard: guard,
        })))
    }
}

pin_project! {
    /// A response body (the inner service's, or the edge's own answer) that keeps its request
    /// counted as in flight until it ends or is dropped.
    pub(crate) struct ResponseBody<B> {
        #[pin]
        body: Either<B, Full<Bytes>>,
        _guard: Option<InFlight>,
    }
}

impl<B> fmt::Debug for ResponseBody<B> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ResponseBody").finish_non_exhaustive()
    }
}

impl<B: EdgeBody> Body for ResponseBody<B> {
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Self::Data>, Self::Error>>> {
        self.project().body.poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.body.size_hint()
    }
}
