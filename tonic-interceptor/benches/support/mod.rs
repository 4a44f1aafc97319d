//! What both gRPC benches build: a unary gRPC request and response (one 16-byte message,
//! `grpc-status: 0` trailers), a server handler and a client "channel" that read the whole
//! request body, and a sink that drops finished spans.

use std::convert::Infallible;
use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::{BufMut, Bytes, BytesMut};
use http::HeaderMap;
use http_body::{Body, Frame};
use tower::{Service, ServiceExt, service_fn};
use tracewire::SpanData;
use tracewire::export::SpanSink;

pub(crate) const TRACEPARENT: &str = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";

pub(crate) struct Discard;

impl SpanSink for Discard {
    fn on_end(&self, span: SpanData) {
        std::hint::black_box(span);
    }
}

/// A unary gRPC body: one message, then `grpc-status: 0` trailers.
pub(crate) struct Unary {
    message: Option<Bytes>,
    trailers: Option<HeaderMap>,
}

impl Unary {
    pub(crate) fn new(with_trailers: bool) -> Self {
        let mut b = BytesMut::with_capacity(5 + 16);
        b.put_u8(0);
        b.put_u32(16);
        b.put_slice(&[7; 16]);
        let trailers = with_trailers.then(|| {
            let mut h = HeaderMap::new();
            h.insert("grpc-status", http::HeaderValue::from_static("0"));
            h
        });
        Unary {
            message: Some(b.freeze()),
            trailers,
        }
    }
}

impl Body for Unary {
    type Data = Bytes;
    type Error = tonic::Status;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, tonic::Status>>> {
        Poll::Ready(if let Some(m) = self.message.take() {
            Some(Ok(Frame::data(m)))
        } else {
            self.trailers.take().map(|t| Ok(Frame::trailers(t)))
        })
    }

    fn is_end_stream(&self) -> bool {
        self.message.is_none() && self.trailers.is_none()
    }
}

pub(crate) fn request<B>(body: B) -> http::Request<B> {
    http::Request::builder()
        .method("POST")
        .uri("/echo.Echo/UnaryEcho")
        .header("content-type", "application/grpc")
        .header("te", "trailers")
        .header("traceparent", TRACEPARENT)
        .body(body)
        .unwrap()
}

pub(crate) fn response() -> http::Response<Unary> {
    http::Response::builder()
        .header("content-type", "application/grpc")
        .body(Unary::new(true))
        .unwrap()
}

pub(crate) async fn drain<B: Body + Unpin>(mut body: B) {
    while let Some(frame) = std::future::poll_fn(|cx| Pin::new(&mut body).poll_frame(cx)).await {
        std::hint::black_box(frame.ok());
    }
}

/// A server handler: reads the request body, answers with one message and trailers.
pub(crate) fn handler<B: Body<Data = Bytes> + Unpin + Send>()
-> impl Service<http::Request<B>, Response = http::Response<Unary>, Error = Infallible> + Clone {
    service_fn(|req: http::Request<B>| async move {
        drain(req.into_body()).await;
        Ok::<_, Infallible>(response())
    })
}

/// A client "channel": reads the request body, answers like a server.
pub(crate) fn channel()
-> impl Service<http::Request<tonic::body::Body>, Response = http::Response<Unary>, Error = Infallible>
+ Clone {
    service_fn(|req: http::Request<tonic::body::Body>| async move {
        drain(req.into_body()).await;
        Ok::<_, Infallible>(response())
    })
}

/// Calls `svc` (a clone) with `req` on `rt` and drains the response body.
pub(crate) fn call<S, Req, B>(rt: &tokio::runtime::Runtime, svc: &S, req: Req) -> impl Sized
where
    S: Service<Req, Response = http::Response<B>> + Clone,
    S::Error: std::fmt::Debug,
    B: Body + Unpin,
{
    let svc = svc.clone();
    rt.block_on(async move {
        let resp = svc.oneshot(req).await.unwrap();
        drain(resp.into_body()).await;
    })
}
