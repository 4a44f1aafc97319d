//! HTTP as the server and client layers trace it: the protocol settings and the outcome.

use http::Response;
use tracing::Span;
use tracing::field::Value;

use crate::attrs::{
    client_status_is_error, protocol_version, record_error, server_status_is_error,
};
use crate::body::BodyEnd;
use crate::error::ErrorRef;
use crate::hook::Outcome;
use crate::known_field::{KnownField, record_known};
use crate::server::DefaultRequestInfo;

/// The HTTP protocol for [`ServerLayer`](crate::ServerLayer) and
/// [`ClientLayer`](crate::ClientLayer): [`HttpServerLayer`](crate::HttpServerLayer) and
/// [`HttpClientLayer`](crate::HttpClientLayer) are those layers with it.
///
/// Its settings are server-side ones, changed through the server layer
/// ([`request_info`](crate::ServerLayer::request_info),
/// [`scheme`](crate::ServerLayer::scheme), [`record_query`](crate::ServerLayer::record_query));
/// the client needs none. `I` is the [`RequestInfo`](crate::RequestInfo) hook.
#[derive(Clone, Debug)]
pub struct Http<I = DefaultRequestInfo> {
    pub(crate) info: I,
    pub(crate) scheme: &'static str,
    pub(crate) record_query: bool,
    pub(crate) record_client_port: bool,
}

impl Http {
    /// The defaults: route and peer from [`DefaultRequestInfo`], `url.scheme` `http` when the
    /// request URI has none, no `url.query`, no `client.port`.
    pub fn new() -> Self {
        Http {
            info: DefaultRequestInfo,
            scheme: "http",
            record_query: false,
            record_client_port: false,
        }
    }
}

impl Default for Http {
    fn default() -> Self {
        Http::new()
    }
}

/// Which side of the call a span describes; it decides which statuses are errors.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Side {
    Server,
    Client,
}

/// How an HTTP request ended, recorded on its span: `http.response.status_code` (5xx marks a
/// server span failed, 4xx and 5xx a client span), `network.protocol.version` on client spans
/// (the version the response came with), and for failures `error.type`
/// ([`ErrorRef::error_type`]) and the error message. On an unsampled span (never exported) the
/// status code (and a client's protocol version) is recorded only for a failure.
#[derive(Clone, Copy, Debug)]
pub struct HttpOutcome {
    side: Side,
    /// Whether a status code that is not a failure is recorded.
    every_status: bool,
}

impl HttpOutcome {
    pub(crate) const fn new(side: Side) -> Self {
        HttpOutcome {
            side,
            every_status: true,
        }
    }

    /// Records failures only: no `http.response.status_code` for a response that succeeded.
    pub(crate) const fn failures_only(side: Side) -> Self {
        HttpOutcome {
            side,
            every_status: false,
        }
    }
}

/// The fields a response records, one set for each side's span (each its own call site).
struct ResponseFields {
    status_code: KnownField,
    otel_status_code: KnownField,
    error_type: KnownField,
    protocol_version: KnownField,
}

impl ResponseFields {
    const fn new() -> Self {
        ResponseFields {
            status_code: KnownField::new("http.response.status_code"),
            otel_status_code: KnownField::new("otel.status_code"),
            error_type: KnownField::new("error.type"),
            protocol_version: KnownField::new("network.protocol.version"),
        }
    }
}

static SERVER_RESPONSE: ResponseFields = ResponseFields::new();
static CLIENT_RESPONSE: ResponseFields = ResponseFields::new();

impl Outcome for HttpOutcome {
    fn on_response<B>(&mut self, span: &Span, response: &Response<B>) -> bool {
        let status = response.status();
        let failed = match self.side {
            Side::Server => server_status_is_error(status),
            Side::Client => client_status_is_error(status),
        };
        if !failed && !self.every_status {
            return true;
        }
        let fields = match self.side {
            Side::Server => &SERVER_RESPONSE,
            Side::Client => &CLIENT_RESPONSE,
        };
        let code = status.as_u16();
        let version = match self.side {
            Side::Client => protocol_version(response.version()),
            Side::Server => None,
        };
        if !failed && version.is_none() {
            fields.status_code.record(span, code);
            return true;
        }
        // More than one value: one `record` for all of them.
        record_known(
            span,
            [
                (&fields.status_code, Some(&code as &dyn Value)),
                (
                    &fields.otel_status_code,
                    failed.then_some(&"error" as &dyn Value),
                ),
                (
                    &fields.error_type,
                    failed.then_some(&status.as_str() as &dyn Value),
                ),
                (
                    &fields.protocol_version,
                    version.as_ref().map(|v| v as &dyn Value),
                ),
            ],
        );
        true
    }

    fn on_error(self, span: &Span, error: ErrorRef<'_>) {
        record_error(span, &error.error_type(), error);
    }

    fn on_end(self, span: &Span, end: BodyEnd<'_>) {
        match end {
            BodyEnd::Error(error) => record_error(span, &error.error_type(), error),
            BodyEnd::Dropped if self.side == Side::Server => {
                tracing::debug!(
                    target: "tracewire_tower::server",
                    parent: span,
                    "response body dropped before its end"
                );
            }
            _ => {}
        }
    }

    fn on_cancel(self, _span: &Span) {
        // The caller went away before the response: the span ends, not as an error (the
        // HTTP conventions do not count a cancellation as one).
    }
}
