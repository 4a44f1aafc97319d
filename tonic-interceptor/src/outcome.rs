//! How an RPC ended: the final status, read from the response head, the trailers, an error,
//! or the call being dropped.

use std::time::Instant;

use http::Response;
use tracewire_tower::attrs::record_error;
use tracewire_tower::{BodyEnd, ErrorRef, Outcome};
use tracing::Span;

use crate::status::{self, Side, code_from_http, code_name, status_from_headers};

/// How an RPC ended, recorded on its span: `rpc.response.status_code` (and with
/// `rpc/dup` the integer `rpc.grpc.status_code`); for an error code (every code but OK on the
/// client; UNKNOWN, DEADLINE_EXCEEDED, UNIMPLEMENTED, INTERNAL, UNAVAILABLE and DATA_LOSS on the
/// server) `error.type` is the code's name and the status message the `grpc-message`.
///
/// The status comes from the trailers, or from the head of a trailers-only response; a client
/// maps a non-200 HTTP status as gRPC clients do; a stream that ends without a status is
/// UNKNOWN; a call dropped before its end is CANCELLED, or DEADLINE_EXCEEDED once its
/// `grpc-timeout` has passed. An error without a gRPC status records the error's kind
/// ([`ErrorRef::error_type`]).
#[derive(Clone, Copy, Debug)]
pub struct GrpcOutcome {
    side: Side,
    legacy: bool,
    deadline: Option<Instant>,
}

impl GrpcOutcome {
    pub(crate) fn new(side: Side, legacy: bool, deadline: Option<Instant>) -> Self {
        GrpcOutcome {
            side,
            legacy,
            deadline,
        }
    }

    fn past_deadline(&self) -> bool {
        self.deadline.is_some_and(|d| Instant::now() >= d)
    }

    fn finish(&self, span: &Span, code: i32, message: Option<&str>) {
        let name = code_name(code);
        span.record("rpc.response.status_code", &*name);
        if self.legacy {
            span.record("rpc.grpc.status_code", i64::from(code));
        }
        if self.side.is_error(code) {
            record_error(span, &name, message.unwrap_or(&name));
        }
    }

    fn failed(&self, span: &Span, error: ErrorRef<'_>) {
        if let Some(status) = error.downcast_ref::<tonic::Status>() {
            let message = (!status.message().is_empty()).then(|| status.message());
            self.finish(span, status.code() as i32, message);
        } else if self.past_deadline() {
            // A client-side timeout.
            self.finish(span, status::DEADLINE_EXCEEDED, Some(&error.to_string()));
        } else {
            record_error(span, &error.error_type(), error);
        }
    }

    fn cancelled(&self, span: &Span) {
        let code = if self.past_deadline() {
            status::DEADLINE_EXCEEDED
        } else {
            status::CANCELLED
        };
        self.finish(span, code, None);
    }
}

impl Outcome for GrpcOutcome {
    fn on_response<B>(&mut self, span: &Span, response: &Response<B>) -> bool {
        if let Some(status) = status_from_headers(response.headers()) {
            // Trailers-only: the status came with the head; the RPC is over.
            self.finish(span, status.code, status.message.as_deref());
            return false;
        }
        if self.side == Side::Client && response.status() != http::StatusCode::OK {
            self.finish(span, code_from_http(response.status()), None);
            return false;
        }
        true
    }

    fn on_error(self, span: &Span, error: ErrorRef<'_>) {
        self.failed(span, error);
    }

    fn on_end(self, span: &Span, end: BodyEnd<'_>) {
        match end {
            BodyEnd::Complete {
                trailers: Some(trailers),
            } => match status_from_headers(trailers) {
                Some(status) => self.finish(span, status.code, status.message.as_deref()),
                None => self.finish(span, status::UNKNOWN, None),
            },
            // A stream that ends without a status is a protocol error: gRPC clients say UNKNOWN.
            BodyEnd::Complete { trailers: None } => self.finish(span, status::UNKNOWN, None),
            BodyEnd::Error(error) => self.failed(span, error),
            // Dropped before its end: the call was cancelled.
            _ => self.cancelled(span),
        }
    }

    fn on_cancel(self, span: &Span) {
        self.cancelled(span);
    }
}
