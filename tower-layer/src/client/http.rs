//! The HTTP client span's attributes.

use http::request::Parts;
use tracing::Span;
use tracing::field::{Empty, Value};

use super::ClientProtocol;
use crate::attrs::{method_name, server_address, span_method, url_full};
use crate::http::{Http, HttpOutcome, Side};
use crate::known_field::{KnownField, record_known};

/// The client span's fields recorded after it is created.
static SERVER_ADDRESS: KnownField = KnownField::new("server.address");
static SERVER_PORT: KnownField = KnownField::new("server.port");
static URL_FULL: KnownField = KnownField::new("url.full");

impl<I> ClientProtocol for Http<I> {
    type Outcome = HttpOutcome;

    fn make_span(&self, parts: &Parts) -> Span {
        let method = method_name(&parts.method);
        tracing::info_span!(
            target: "tracewire_tower::client",
            "HTTP client request",
            otel.name = span_method(&parts.method),
            otel.kind = "client",
            otel.status_code = Empty,
            otel.status_message = Empty,
            http.request.method = method,
            http.request.method_original = (method == "_OTHER").then(|| parts.method.as_str()),
            // Parsed from the URI or `Host` only for sampled spans (`record_sampled`).
            server.address = Empty,
            server.port = Empty,
            url.full = Empty,
            http.response.status_code = Empty,
            network.protocol.version = Empty,
            error.type = Empty,
        )
    }

    fn record_sampled(&self, span: &Span, parts: &Parts) {
        let scheme = parts.uri.scheme_str().unwrap_or("http");
        let (address, port) = server_address(&parts.uri, &parts.headers, scheme);
        let url = url_full(&parts.uri);
        record_known(
            span,
            [
                (&SERVER_ADDRESS, address.as_ref().map(|a| a as &dyn Value)),
                (&SERVER_PORT, port.as_ref().map(|p| p as &dyn Value)),
                (&URL_FULL, Some(&url.as_str() as &dyn Value)),
            ],
        );
    }

    fn outcome(&self, _parts: &Parts) -> HttpOutcome {
        HttpOutcome::new(Side::Client)
    }

    fn outcome_unsampled(&self, _parts: &Parts) -> HttpOutcome {
        HttpOutcome::failures_only(Side::Client)
    }
}
