//! What every request passes through on its way to a receiver or the API: the `Host` and token
//! checks, the request-body wrapper, the in-flight count, and the UI's security headers.

use std::convert::Infallible;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, ready};

use bytes::Bytes;
use http::{HeaderValue, Request, Response, Version};
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
        let h1 = req.version() < Version::HTTP_2;
        if let Some(early) = self.ctx.screen(&req) {
            return ResponseFuture {
                state: State::Early {
                    response: Some(early),
                },
                guard: Some(guard),
                ui,
                h1,
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
            h1,
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
        // An HTTP/1.x request, whose response says when the connection closes after it.
        h1: bool,
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
        // The connection's task learns of a shutdown or an eviction only between two polls of
        // the connection, and hyper may read the rest of a request and write its response
        // within one poll: a response made once either has begun says itself that it is the
        // last, and hyper closes the connection after it.
        if *this.h1 && guard.as_ref().is_some_and(InFlight::answer_is_last) {
            response
                .headers_mut()
                .insert(http::header::CONNECTION, HeaderValue::from_static("close"));
        }
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

#[cfg(test)]
mod tests {
    use std::net::SocketAddr;
    use std::time::Duration;

    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::{TcpListener, TcpSocket, TcpStream};
    use tokio::sync::watch;
    use tokio::task::JoinHandle;

    use super::*;
    use crate::serve::{Edge, EdgeConfig, Listener};

    const PATIENCE: Duration = Duration::from_secs(10);
    /// An answer far larger than the loopback socket buffers between the two ends hold.
    const LARGE: usize = 32 << 20;

    /// A client with a small receive buffer, so that most of a large answer waits on the
    /// server's side.
    async fn slow_reader(addr: SocketAddr) -> TcpStream {
        let client = TcpSocket::new_v4().unwrap();
        client.set_recv_buffer_size(64 << 10).unwrap();
        client.connect(addr).await.unwrap()
    }

    /// An OTLP/HTTP listener with the default settings on a loopback port, answering every
    /// request with `body`; the handler of `/last` begins the shutdown itself. The signal then
    /// comes after the request's head was read, and hyper writes the answer within the same
    /// poll of the connection, so before the connection's own task can see the signal: the
    /// interleaving a busy machine produces when a request's last bytes arrive while shutdown
    /// begins.
    async fn listen(body: Bytes) -> (SocketAddr, Arc<watch::Sender<bool>>, JoinHandle<()>) {
        let tcp = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = tcp.local_addr().unwrap();
        let cfg = EdgeConfig::default();
        let edge = Edge {
            budget: Budget::new(cfg.max_in_flight_bytes),
            cfg,
            auth: None,
        };
        let listener = Listener::new(ListenerKind::OtlpHttp, tcp, &edge);
        let (stop, stopped) = watch::channel(false);
        let stop = Arc::new(stop);
        let signal = stop.clone();
        let inner = tower::service_fn(move |req: Request<RequestBody>| {
            if req.uri().path() == "/last" {
                stop.send_replace(true);
            }
            std::future::ready(Ok::<_, Infallible>(Response::new(Full::new(body.clone()))))
        });
        (addr, signal, tokio::spawn(listener.serve(inner, stopped)))
    }

    fn get(path: &str) -> String {
        format!("GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
    }

    /// One response's status line, headers (lower-case names) and body, read off a kept-alive
    /// connection.
    async fn response(s: &mut TcpStream) -> (String, Vec<(String, String)>, Vec<u8>) {
        let (status, headers) = head(s).await;
        let len = headers
            .iter()
            .find(|(n, _)| n == "content-length")
            .map_or(0, |(_, v)| v.parse().unwrap());
        let mut body = vec![0; len];
        s.read_exact(&mut body)
            .await
            .expect("the connection ends inside a body");
        (status, headers, body)
    }

    /// A response's status line and headers (lower-case names).
    async fn head(s: &mut TcpStream) -> (String, Vec<(String, String)>) {
        let mut head = Vec::new();
        while !head.ends_with(b"\r\n\r\n") {
            head.push(
                s.read_u8()
                    .await
                    .expect("the connection ends inside a head"),
            );
        }
        let head = String::from_utf8(head).unwrap();
        let mut lines = head.trim_end().split("\r\n");
        let status = lines.next().unwrap().to_owned();
        let headers: Vec<(String, String)> = lines
            .map(|l| {
                let (n, v) = l.split_once(':').unwrap();
                (n.to_ascii_lowercase(), v.trim().to_owned())
            })
            .collect();
        (status, headers)
    }

    fn connection(headers: &[(String, String)]) -> Vec<&str> {
        headers
            .iter()
            .filter(|(n, _)| n == "connection")
            .map(|(_, v)| v.as_str())
            .collect()
    }

    /// Asks for `/last`: its answer, which must say it is the connection's last.
    async fn last(s: &mut TcpStream) -> Vec<u8> {
        s.write_all(get("/last").as_bytes()).await.unwrap();
        let (status, headers, body) = tokio::time::timeout(PATIENCE, response(s)).await.unwrap();
        assert_eq!(status, "HTTP/1.1 200 OK");
        assert_eq!(connection(&headers), ["close"]);
        body
    }

    /// The server closes the connection with nothing more to say, and the listener ends.
    async fn ends(mut s: TcpStream, serving: JoinHandle<()>) {
        let mut rest = Vec::new();
        tokio::time::timeout(PATIENCE, s.read_to_end(&mut rest))
            .await
            .expect("left open after its last answer")
            .unwrap();
        assert_eq!(rest, b"");
        tokio::time::timeout(PATIENCE, serving)
            .await
            .expect("shutdown hangs")
            .unwrap();
    }

    #[tokio::test]
    async fn a_response_made_once_shutdown_has_begun_closes_its_connection() {
        let (addr, _, serving) = listen(Bytes::from_static(b"ok")).await;
        let mut s = TcpStream::connect(addr).await.unwrap();
        s.write_all(get("/first").as_bytes()).await.unwrap();
        let (status, headers, body) = tokio::time::timeout(PATIENCE, response(&mut s))
            .await
            .unwrap();
        assert_eq!(status, "HTTP/1.1 200 OK");
        assert_eq!(connection(&headers), Vec::<&str>::new(), "kept alive");
        assert_eq!(body, b"ok");

        assert_eq!(last(&mut s).await, b"ok");
        ends(s, serving).await;
    }

    /// The request stops counting as in flight once hyper has taken the end of its answer's
    /// body; an answer larger than the two sockets can hold is then mostly still to be written,
    /// and must not be cut short with its connection.
    #[tokio::test]
    async fn the_last_answer_is_written_out_whole_before_its_connection_closes() {
        let (addr, _, serving) = listen(Bytes::from(vec![b'x'; LARGE])).await;
        let mut s = slow_reader(addr).await;
        let body = last(&mut s).await;
        assert_eq!(body.len(), LARGE);
        assert!(body.iter().all(|&b| b == b'x'));
        ends(s, serving).await;
    }

    /// An answer made before shutdown began, larger than the sockets hold: when the connection
    /// sees the shutdown, no request counts as in flight any more, but hyper still holds most
    /// of the answer. It is written out whole, then the connection closes.
    #[tokio::test]
    async fn an_answer_still_being_written_when_shutdown_begins_is_written_out_whole() {
        let (addr, stop, serving) = listen(Bytes::from(vec![b'x'; LARGE])).await;
        let mut s = slow_reader(addr).await;
        s.write_all(get("/large").as_bytes()).await.unwrap();
        // The head has arrived, so the answer was made and hyper has taken its whole body.
        let (status, headers) = tokio::time::timeout(PATIENCE, head(&mut s)).await.unwrap();
        assert_eq!(status, "HTTP/1.1 200 OK");
        assert_eq!(
            connection(&headers),
            Vec::<&str>::new(),
            "made before shutdown"
        );
        stop.send_replace(true);
        let mut body = vec![0; LARGE];
        tokio::time::timeout(PATIENCE, s.read_exact(&mut body))
            .await
            .unwrap()
            .expect("the connection ends inside the answer");
        assert!(body.iter().all(|&b| b == b'x'));
        ends(s, serving).await;
    }
}
