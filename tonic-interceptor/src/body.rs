//! Body wrappers: [`ResponseBody`] ends the RPC's span when the response stream ends (reading
//! the status from the trailers), fails or is dropped; [`RequestBody`] counts the messages the
//! request carries. Both keep the span open for exactly as long as the RPC runs.

use std::fmt;
use std::pin::Pin;
use std::task::{Context as TaskContext, Poll};
use std::time::Instant;

use bytes::Bytes;
use http_body::{Body, Frame, SizeHint};
use pin_project_lite::pin_project;
use tracewire::Context;
use tracing::Span;

use crate::rpc::{self, GrpcStatus, Side};

pub(crate) const MESSAGES_SENT: &str = "rpc.grpc.messages_sent";
pub(crate) const MESSAGES_RECEIVED: &str = "rpc.grpc.messages_received";

/// Counts gRPC messages in a byte stream: each message is a 5-byte prefix (a compressed-flag
/// byte and a 4-byte big-endian length) followed by that many bytes. Messages may span frames
/// and a frame may hold several messages.
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct MessageCounter {
    count: u64,
    /// Payload bytes of the current message still to skip.
    remaining: u64,
    /// Prefix bytes seen of the next message (0..5).
    prefix_pos: u8,
    len: u32,
}

impl MessageCounter {
    pub(crate) fn feed(&mut self, mut data: &[u8]) {
        while !data.is_empty() {
            if self.remaining > 0 {
                let n = data
                    .len()
                    .min(usize::try_from(self.remaining).unwrap_or(usize::MAX));
                data = &data[n..];
                self.remaining -= n as u64;
                continue;
            }
            let byte = data[0];
            data = &data[1..];
            if self.prefix_pos > 0 {
                self.len = (self.len << 8) | u32::from(byte);
            }
            self.prefix_pos += 1;
            if self.prefix_pos == 5 {
                self.count += 1;
                self.remaining = u64::from(self.len);
                self.prefix_pos = 0;
                self.len = 0;
            }
        }
    }

    pub(crate) fn count(&self) -> u64 {
        self.count
    }
}

/// The RPC's span and everything needed to record its outcome once. Dropped unfinished, it
/// records a cancellation (or DEADLINE_EXCEEDED once the `grpc-timeout` has passed).
pub(crate) struct Tracker {
    pub(crate) span: Span,
    /// The context to put in scope while the inner service runs, when the span cannot carry it
    /// (disabled, filtered out, or not known to the tracewire layer).
    pub(crate) ambient: Option<Context>,
    side: Side,
    legacy: bool,
    deadline: Option<Instant>,
    /// Counts response messages; `None` when the span records nothing.
    messages: Option<MessageCounter>,
    done: bool,
}

impl fmt::Debug for Tracker {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Tracker")
            .field("span", &self.span)
            .field("side", &self.side)
            .field("done", &self.done)
            .finish_non_exhaustive()
    }
}

impl Tracker {
    pub(crate) fn new(
        span: Span,
        ambient: Option<Context>,
        side: Side,
        legacy: bool,
        deadline: Option<Instant>,
    ) -> Self {
        let messages = (!span.is_disabled()).then(MessageCounter::default);
        Tracker {
            span,
            ambient,
            side,
            legacy,
            deadline,
            messages,
            done: false,
        }
    }

    /// Runs `f` (a poll of the inner future or body) inside the span and, if needed, the
    /// ambient context.
    pub(crate) fn in_scope<R>(&self, f: impl FnOnce() -> R) -> R {
        let _entered = self.span.enter();
        match &self.ambient {
            Some(cx) => tracewire::scope(cx.clone(), f),
            None => f(),
        }
    }

    pub(crate) fn is_done(&self) -> bool {
        self.done
    }

    fn feed(&mut self, data: &[u8]) {
        if let Some(m) = &mut self.messages {
            m.feed(data);
        }
    }

    fn record_messages(&self) {
        if let Some(m) = &self.messages {
            let field = match self.side {
                Side::Server => MESSAGES_SENT,
                Side::Client => MESSAGES_RECEIVED,
            };
            self.span.record(field, m.count());
        }
    }

    /// Records the final status.
    pub(crate) fn finish_status(&mut self, status: &GrpcStatus<'_>) {
        self.finish_code(status.code, status.message.as_deref());
    }

    pub(crate) fn finish_code(&mut self, code: i32, message: Option<&str>) {
        if std::mem::replace(&mut self.done, true) || self.span.is_disabled() {
            return;
        }
        self.record_messages();
        let name = rpc::code_name(code);
        self.span.record("rpc.status_code", &*name);
        if self.legacy {
            self.span.record("rpc.grpc.status_code", i64::from(code));
        }
        if self.side.is_error(code) {
            self.span.record("error.type", &*name);
            self.span.record("otel.status_code", "error");
            self.span
                .record("otel.status_message", message.unwrap_or(&name));
        }
    }

    /// Records a failure that carries no gRPC status (a transport or service error). Once the
    /// `grpc-timeout` has passed it is DEADLINE_EXCEEDED (a client-side timeout).
    pub(crate) fn finish_error(&mut self, error: &dyn fmt::Display) {
        if self.deadline.is_some_and(|d| Instant::now() >= d) {
            let message = error.to_string();
            return self.finish_code(rpc::DEADLINE_EXCEEDED, Some(&message));
        }
        if std::mem::replace(&mut self.done, true) || self.span.is_disabled() {
            return;
        }
        self.record_messages();
        self.span.record("error.type", "_OTHER");
        self.span.record("otel.status_code", "error");
        self.span
            .record("otel.status_message", tracing::field::display(error));
    }

    /// Records the outcome of a body error: its gRPC code when the error is a `tonic::Status`.
    fn finish_body_error<E: fmt::Display + 'static>(&mut self, error: &E) {
        match (error as &dyn std::any::Any).downcast_ref::<tonic::Status>() {
            Some(status) => {
                let message = (!status.message().is_empty()).then(|| status.message());
                self.finish_code(status.code() as i32, message);
            }
            None => self.finish_error(error),
        }
    }

    /// Inspects the response head: a trailers-only response (`grpc-status` in the headers) ends
    /// the RPC now; so does a non-200 HTTP status on the client, mapped as gRPC clients do.
    pub(crate) fn on_response_head(&mut self, head: &http::Response<impl Sized>) {
        if let Some(status) = rpc::status_from_headers(head.headers()) {
            self.finish_status(&status);
        } else if self.side == Side::Client && head.status() != http::StatusCode::OK {
            let code = rpc::code_from_http(head.status());
            self.finish_code(code, None);
        }
    }
}

impl Drop for Tracker {
    fn drop(&mut self) {
        if !self.done {
            let code = match self.deadline {
                Some(d) if Instant::now() >= d => rpc::DEADLINE_EXCEEDED,
                _ => rpc::CANCELLED,
            };
            self.finish_code(code, None);
        }
    }
}

pin_project! {
    /// The response body of a traced RPC. It reads the final status from the trailers and ends
    /// the span at end of stream, on error, or when dropped early (cancellation).
    ///
    /// On the server, the inner body is polled inside the span and the request's context, so
    /// work a streaming handler does while producing messages stays in the trace.
    pub struct ResponseBody<B> {
        #[pin]
        inner: B,
        tracker: Option<Tracker>,
    }
}

impl<B> ResponseBody<B> {
    pub(crate) fn new(inner: B, tracker: Tracker) -> Self {
        ResponseBody {
            inner,
            tracker: (!tracker.is_done()).then_some(tracker),
        }
    }
}

impl<B: fmt::Debug> fmt::Debug for ResponseBody<B> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ResponseBody")
            .field("inner", &self.inner)
            .field("tracker", &self.tracker)
            .finish()
    }
}

impl<B> Body for ResponseBody<B>
where
    B: Body<Data = Bytes>,
    B::Error: fmt::Display + 'static,
{
    type Data = Bytes;
    type Error = B::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut TaskContext<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, B::Error>>> {
        let this = self.project();
        let Some(tracker) = this.tracker.as_mut() else {
            return this.inner.poll_frame(cx);
        };
        let inner = this.inner;
        let res = tracker.in_scope(|| inner.poll_frame(cx));
        match &res {
            Poll::Pending => {}
            Poll::Ready(Some(Ok(frame))) => {
                if let Some(data) = frame.data_ref() {
                    tracker.feed(data);
                } else if let Some(trailers) = frame.trailers_ref() {
                    match rpc::status_from_headers(trailers) {
                        Some(status) => tracker.finish_status(&status),
                        None => tracker.finish_code(rpc::UNKNOWN, None),
                    }
                }
            }
            Poll::Ready(Some(Err(e))) => tracker.finish_body_error(e),
            // A clean end without a `grpc-status` is a protocol error: gRPC clients report
            // UNKNOWN.
            Poll::Ready(None) => tracker.finish_code(rpc::UNKNOWN, None),
        }
        if tracker.is_done() {
            // End the span now rather than when the body is dropped.
            *this.tracker = None;
        }
        res
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

/// Records how many messages the request carried when its body ends or is dropped.
struct RequestCounter {
    span: Span,
    field: &'static str,
    messages: MessageCounter,
}

impl Drop for RequestCounter {
    fn drop(&mut self) {
        self.span.record(self.field, self.messages.count());
    }
}

pin_project! {
    /// The request body of a traced RPC: the inner body, counting the gRPC messages it carries
    /// (`rpc.grpc.messages_received` on the server, `rpc.grpc.messages_sent` on the client).
    pub struct RequestBody<B> {
        #[pin]
        inner: B,
        counter: Option<RequestCounter>,
    }
}

impl<B> RequestBody<B> {
    pub(crate) fn new(inner: B, span: &Span, side: Side) -> Self {
        let field = match side {
            Side::Server => MESSAGES_RECEIVED,
            Side::Client => MESSAGES_SENT,
        };
        let counter = (!span.is_disabled()).then(|| RequestCounter {
            span: span.clone(),
            field,
            messages: MessageCounter::default(),
        });
        RequestBody { inner, counter }
    }

    /// The wrapped body.
    pub fn get_ref(&self) -> &B {
        &self.inner
    }

    /// The wrapped body, mutably.
    pub fn get_mut(&mut self) -> &mut B {
        &mut self.inner
    }
}

impl<B: fmt::Debug> fmt::Debug for RequestBody<B> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RequestBody")
            .field("inner", &self.inner)
            .field("counting", &self.counter.is_some())
            .finish()
    }
}

impl<B> Body for RequestBody<B>
where
    B: Body<Data = Bytes>,
{
    type Data = Bytes;
    type Error = B::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut TaskContext<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, B::Error>>> {
        let this = self.project();
        let res = this.inner.poll_frame(cx);
        if let Some(counter) = this.counter.as_mut() {
            match &res {
                Poll::Ready(Some(Ok(frame))) => {
                    if let Some(data) = frame.data_ref() {
                        counter.messages.feed(data);
                    } else {
                        *this.counter = None;
                    }
                }
                Poll::Ready(_) => *this.counter = None,
                Poll::Pending => {}
            }
        }
        res
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frame(len: u32, payload_byte: u8) -> Vec<u8> {
        let mut v = vec![0];
        v.extend_from_slice(&len.to_be_bytes());
        v.extend(std::iter::repeat_n(payload_byte, len as usize));
        v
    }

    #[test]
    fn counts_messages_across_and_within_frames() {
        let mut stream = Vec::new();
        for len in [3, 0, 70_000, 1] {
            stream.extend(frame(len, 0xff));
        }
        // Whole stream at once.
        let mut c = MessageCounter::default();
        c.feed(&stream);
        assert_eq!(c.count(), 4);
        // Every split into chunks of 1..=7 bytes gives the same count.
        for chunk in 1..=7 {
            let mut c = MessageCounter::default();
            for part in stream.chunks(chunk) {
                c.feed(part);
            }
            assert_eq!(c.count(), 4, "chunk size {chunk}");
        }
        // A prefix cut short is not a message yet.
        let mut c = MessageCounter::default();
        c.feed(&frame(2, 1)[..4]);
        assert_eq!(c.count(), 0);
    }
}
