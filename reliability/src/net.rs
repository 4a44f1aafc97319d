//! Clients for the collector's listeners: OTLP/HTTP posts and API reads over an HTTP/1.1
//! keep-alive connection, and OTLP/gRPC calls with raw message bytes over HTTP/2 (so hostile
//! frames can be sent as they are). Every call has a time limit and every answer body a size
//! limit.

use std::future::Future;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use bytes::{BufMut, Bytes, BytesMut};
use http::{HeaderMap, Method, Request, StatusCode, header};
use http_body_util::{BodyExt, Full, Limited};
use hyper::client::conn::{http1, http2};
use hyper_util::rt::{TokioExecutor, TokioIo};
use tokio::net::TcpStream;
use tokio::sync::watch;
use tokio::time::error::Elapsed;

use crate::BoxError;

/// The most bytes of an answer read; the rest is an error.
const MAX_ANSWER: usize = 64 << 20;
/// The OTLP/gRPC method.
pub const GRPC_EXPORT: &str = "/opentelemetry.proto.collector.trace.v1.TraceService/Export";

/// An answer read whole.
#[derive(Debug, Clone)]
pub struct Answer {
    /// The status.
    pub status: StatusCode,
    /// The headers.
    pub headers: HeaderMap,
    /// The body.
    pub body: Bytes,
    /// From the request's first byte to the body's last.
    pub elapsed: Duration,
}

impl Answer {
    /// The body as JSON (`null` when it is not JSON).
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).unwrap_or(serde_json::Value::Null)
    }
}

/// Connects with a time limit, no Nagle delay.
async fn connect(addr: SocketAddr, limit: Duration) -> Result<TcpStream, BoxError> {
    let stream = tokio::time::timeout(limit, TcpStream::connect(addr))
        .await
        .map_err(|_| format!("connecting to {addr} timed out"))??;
    stream.set_nodelay(true)?;
    Ok(stream)
}

/// A kept-alive connection: its request sender, and what tells that its connection task ended.
#[derive(Debug)]
struct Kept<S> {
    send: S,
    /// Its sender lives in the connection task: `changed` fails once the task has ended.
    ended: watch::Receiver<()>,
}

impl<S> Kept<S> {
    /// Runs `conn` (the connection, from a hyper handshake) in a task of its own.
    fn spawn<C>(send: S, conn: C) -> Self
    where
        C: Future + Send + 'static,
    {
        let (alive, ended) = watch::channel(());
        tokio::spawn(async move {
            let _ = conn.await;
            drop(alive);
        });
        Kept { send, ended }
    }
}

/// Awaits `answer`, the response to a request just queued on the connection in `kept`.
///
/// hyper fails a queued request when its connection ends, except one queued at the very
/// moment the connection ends: that one is failed only when the connection's last request
/// sender is dropped, so a client that keeps its sender while it waits would wait until its
/// time limit. When the connection ends first, the sender is dropped here (the next call
/// reconnects) and the answer — the failure, or a response that came in just before — is
/// awaited.
async fn answer_or_closed<S, F: Future>(answer: F, kept: &mut Option<Kept<S>>) -> F::Output {
    let Some(mut ended) = kept.as_ref().map(|k| k.ended.clone()) else {
        return answer.await;
    };
    tokio::pin!(answer);
    tokio::select! {
        biased;
        out = &mut answer => out,
        _ = ended.changed() => {
            *kept = None;
            answer.await
        }
    }
}

/// An HTTP/1.1 client holding one keep-alive connection, reconnecting when it is closed.
#[derive(Debug)]
pub struct Http1 {
    addr: SocketAddr,
    limit: Duration,
    sender: Option<Kept<http1::SendRequest<Full<Bytes>>>>,
}

impl Http1 {
    /// A client for `addr`; every call (connection included) takes at most `limit`.
    pub fn new(addr: SocketAddr, limit: Duration) -> Self {
        Http1 {
            addr,
            limit,
            sender: None,
        }
    }

    /// Sends `req` (its `Host` set to the address) and reads the whole answer.
    pub async fn send(&mut self, req: Request<Full<Bytes>>) -> Result<Answer, BoxError> {
        let start = Instant::now();
        let out = tokio::time::timeout(self.limit, self.send_inner(req)).await;
        let (status, headers, body) = settle(out, &mut self.sender, || {
            format!("no answer from {} within {:?}", self.addr, self.limit)
        })?;
        Ok(Answer {
            status,
            headers,
            body,
            elapsed: start.elapsed(),
        })
    }

    async fn send_inner(
        &mut self,
        mut req: Request<Full<Bytes>>,
    ) -> Result<(StatusCode, HeaderMap, Bytes), BoxError> {
        req.headers_mut().insert(
            header::HOST,
            self.addr
                .to_string()
                .parse()
                .expect("an address is a valid Host"),
        );
        let reused = self.sender.as_ref().is_some_and(|k| !k.send.is_closed());
        let again = reused.then(|| copy(&req));
        let answer = self.connection().await?.send_request(req);
        let res = match answer_or_closed(answer, &mut self.sender).await {
            Ok(res) => res,
            // The collector closed the kept-alive connection as the request went out (it was
            // idle, and the listener needed the slot): once more on a new connection, as HTTP
            // clients do for a request the server never saw.
            Err(e) if e.is_canceled() || e.is_incomplete_message() || e.is_closed() => {
                let Some(again) = again else {
                    return Err(e.into());
                };
                self.sender = None;
                let answer = self.connection().await?.send_request(again);
                answer_or_closed(answer, &mut self.sender).await?
            }
            Err(e) => return Err(e.into()),
        };
        let (parts, body) = res.into_parts();
        let body = Limited::new(body, MAX_ANSWER)
            .collect()
            .await
            .map_err(|e| format!("reading the answer: {e}"))?
            .to_bytes();
        if parts
            .headers
            .get(header::CONNECTION)
            .is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"close"))
        {
            self.sender = None;
        }
        Ok((parts.status, parts.headers, body))
    }

    /// The kept-alive connection, opened anew when there is none, ready for a request.
    async fn connection(&mut self) -> Result<&mut http1::SendRequest<Full<Bytes>>, BoxError> {
        if self.sender.as_ref().is_none_or(|k| k.send.is_closed()) {
            let io = TokioIo::new(connect(self.addr, self.limit).await?);
            let (sender, conn) = http1::handshake(io).await?;
            self.sender = Some(Kept::spawn(sender, conn));
        }
        let kept = self.sender.as_mut().ok_or("no connection")?;
        kept.send.ready().await?;
        Ok(&mut kept.send)
    }

    /// `GET path`.
    pub async fn get(&mut self, path: &str) -> Result<Answer, BoxError> {
        let req = Request::get(path).body(Full::default())?;
        self.send(req).await
    }

    /// `POST /v1/traces` with `body` as `content_type`, declared gzip-encoded if `gzip`.
    pub async fn post_otlp(
        &mut self,
        content_type: &str,
        gzip: bool,
        body: Bytes,
    ) -> Result<Answer, BoxError> {
        let mut req = Request::builder()
            .method(Method::POST)
            .uri("/v1/traces")
            .header(header::CONTENT_TYPE, content_type);
        if gzip {
            req = req.header(header::CONTENT_ENCODING, "gzip");
        }
        self.send(req.body(Full::new(body))?).await
    }
}

/// A gRPC call's outcome.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GrpcAnswer {
    /// The HTTP status.
    pub http: StatusCode,
    /// `grpc-status` (from the trailers, or the headers of a trailers-only answer).
    pub code: Option<u32>,
    /// `grpc-message`.
    pub message: String,
}

/// A copy of `req` (its body is shared bytes), to send again.
fn copy(req: &Request<Full<Bytes>>) -> Request<Full<Bytes>> {
    let mut out = Request::new(req.body().clone());
    *out.method_mut() = req.method().clone();
    *out.uri_mut() = req.uri().clone();
    *out.version_mut() = req.version();
    *out.headers_mut() = req.headers().clone();
    out
}

/// An OTLP/gRPC client over one HTTP/2 connection, reconnecting when it is closed.
#[derive(Debug)]
pub struct Grpc {
    addr: SocketAddr,
    limit: Duration,
    sender: Option<Kept<http2::SendRequest<Full<Bytes>>>>,
}

/// The outcome of a call bounded by a timeout: a failure or a timeout (described by
/// `timed_out`) drops the connection, so the next call opens a fresh one.
fn settle<T, S>(
    out: Result<Result<T, BoxError>, Elapsed>,
    sender: &mut Option<S>,
    timed_out: impl FnOnce() -> String,
) -> Result<T, BoxError> {
    let out = out.unwrap_or_else(|_| Err(timed_out().into()));
    if out.is_err() {
        *sender = None;
    }
    out
}

/// A gRPC length-prefixed message: the compressed flag, the length, the bytes.
pub fn grpc_frame(message: &[u8], compressed: bool) -> Bytes {
    let mut b = BytesMut::with_capacity(5 + message.len());
    b.put_u8(u8::from(compressed));
    b.put_u32(u32::try_from(message.len()).unwrap_or(u32::MAX));
    b.put_slice(message);
    b.freeze()
}

impl Grpc {
    /// A client for `addr`; every call takes at most `limit`.
    pub fn new(addr: SocketAddr, limit: Duration) -> Self {
        Grpc {
            addr,
            limit,
            sender: None,
        }
    }

    /// Calls `TraceService/Export` with `body` as the request stream's bytes (framed by the
    /// caller, see [`grpc_frame`]), declaring `grpc-encoding: gzip` if `gzip`.
    pub async fn export(&mut self, body: Bytes, gzip: bool) -> Result<GrpcAnswer, BoxError> {
        let out = tokio::time::timeout(self.limit, self.export_inner(body, gzip)).await;
        settle(out, &mut self.sender, || {
            format!("no gRPC answer from {} within {:?}", self.addr, self.limit)
        })
    }

    async fn export_inner(&mut self, body: Bytes, gzip: bool) -> Result<GrpcAnswer, BoxError> {
        if self.sender.as_ref().is_none_or(|k| k.send.is_closed()) {
            let io = TokioIo::new(connect(self.addr, self.limit).await?);
            let (sender, conn) = http2::handshake(TokioExecutor::new(), io).await?;
            self.sender = Some(Kept::spawn(sender, conn));
        }
        let kept = self.sender.as_mut().ok_or("no connection")?;
        kept.send.ready().await?;
        let mut req = Request::builder()
            .method(Method::POST)
            .uri(format!("http://{}{GRPC_EXPORT}", self.addr))
            .header(header::CONTENT_TYPE, "application/grpc")
            .header("te", "trailers");
        if gzip {
            req = req.header("grpc-encoding", "gzip");
        }
        let answer = kept.send.send_request(req.body(Full::new(body))?);
        let res = answer_or_closed(answer, &mut self.sender).await?;
        let (parts, body) = res.into_parts();
        let collected = Limited::new(body, MAX_ANSWER)
            .collect()
            .await
            .map_err(|e| format!("reading the gRPC answer: {e}"))?;
        let trailers = collected.trailers().cloned().unwrap_or_default();
        let read = |name: &str| {
            trailers
                .get(name)
                .or_else(|| parts.headers.get(name))
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned)
        };
        Ok(GrpcAnswer {
            http: parts.status,
            code: read("grpc-status").and_then(|c| c.parse().ok()),
            message: read("grpc-message").unwrap_or_default(),
        })
    }
}

/// Reads one number from the collector's `/api/stats` (`data.<field>`).
pub fn stat(stats: &serde_json::Value, field: &str) -> u64 {
    stats["data"][field].as_u64().unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use tokio::sync::oneshot;

    use super::*;

    #[tokio::test]
    async fn an_answer_held_by_the_sender_comes_once_the_connection_ends() {
        // The answer's sender lives in the kept connection's sender, as hyper's does for a
        // request queued just as its connection ended.
        let (answer_tx, answer) = oneshot::channel::<()>();
        let (close, closed) = oneshot::channel::<()>();
        let mut kept = Some(Kept::spawn(answer_tx, async move {
            let _ = closed.await;
        }));
        let waiting =
            tokio::spawn(
                async move { (answer_or_closed(answer, &mut kept).await, kept.is_none()) },
            );
        tokio::time::sleep(Duration::from_millis(50)).await;
        assert!(
            !waiting.is_finished(),
            "answered while the connection is up"
        );
        drop(close);
        let (out, dropped) = tokio::time::timeout(Duration::from_secs(10), waiting)
            .await
            .expect("answered once the connection ended")
            .unwrap();
        assert!(out.is_err(), "the sender was dropped, not used");
        assert!(dropped, "the ended connection is not kept");
    }

    #[tokio::test]
    async fn an_answer_that_comes_first_keeps_the_connection() {
        let (answer_tx, answer) = oneshot::channel::<u8>();
        let mut kept = Some(Kept::spawn((), std::future::pending::<()>()));
        answer_tx.send(7).unwrap();
        assert_eq!(answer_or_closed(answer, &mut kept).await, Ok(7));
        assert!(kept.is_some());
        // And with no connection kept, the answer is simply awaited.
        let (answer_tx, answer) = oneshot::channel::<u8>();
        answer_tx.send(8).unwrap();
        assert_eq!(answer_or_closed(answer, &mut None::<Kept<()>>).await, Ok(8));
    }
}
