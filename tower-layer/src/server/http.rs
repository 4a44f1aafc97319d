//! The HTTP server span: its attributes, and the settings only HTTP servers have.

use http::request::Parts;
use tracewire::limits::untrusted;
use tracing::Span;
use tracing::field::{Empty, Value};

use super::{DefaultSpanName, RequestInfo, ServerLayer, ServerProtocol};
use crate::attrs::{PeerIp, method_name, protocol_version, redact_query, server_address};
use crate::http::{Http, HttpOutcome, Side};
use crate::known_field::{KnownField, record_known};

/// The server span's fields recorded after it is created.
static OTEL_NAME: KnownField = KnownField::new("otel.name");
static SERVER_ADDRESS: KnownField = KnownField::new("server.address");
static SERVER_PORT: KnownField = KnownField::new("server.port");
static URL_QUERY: KnownField = KnownField::new("url.query");

impl<I: RequestInfo> ServerProtocol for Http<I> {
    type DefaultSpanName = DefaultSpanName;
    type Outcome = HttpOutcome;
    const REQUEST_HEADER_PREFIX: &'static str = "http.request.header.";
    const RESPONSE_HEADER_PREFIX: &'static str = "http.response.header.";

    fn name_key<'a>(&self, parts: &'a Parts) -> Option<&'a str> {
        self.info.route(parts)
    }

    fn make_span(&self, parts: &Parts, route: Option<&str>) -> Span {
        let method = method_name(&parts.method);
        let scheme = parts.uri.scheme_str().unwrap_or(self.scheme);
        let peer = self.info.peer_address(parts);
        tracing::info_span!(
            target: "tracewire_tower::server",
            "HTTP request",
            otel.name = Empty,
            otel.kind = "server",
            otel.status_code = Empty,
            otel.status_message = Empty,
            http.request.method = method,
            http.request.method_original =
                (method == "_OTHER").then(|| untrusted(parts.method.as_str())),
            url.path = untrusted(parts.uri.path()),
            url.scheme = scheme,
            url.query = Empty,
            // Parsed from the URI or `Host` only for sampled spans (`record_sampled`).
            server.address = Empty,
            server.port = Empty,
            client.address = peer.map(|p| display(PeerIp(p.ip()))),
            // Opt-in in the semantic conventions (v1.44.0): only when asked for.
            client.port = peer.filter(|_| self.record_client_port).map(|p| p.port()),
            network.peer.address = peer.map(|p| display(PeerIp(p.ip()))),
            network.peer.port = peer.map(|p| p.port()),
            network.protocol.version = protocol_version(parts.version),
            user_agent.original = parts
                .headers
                .get(http::header::USER_AGENT)
                .and_then(|v| v.to_str().ok())
                .map(untrusted),
            http.route = route,
            http.response.status_code = Empty,
            error.type = Empty,
        )
    }

    fn record_sampled(&self, span: &Span, parts: &Parts) {
        self.record_server(span, parts, None);
    }

    fn record_name_and_sampled(&self, span: &Span, parts: &Parts, name: &str) {
        self.record_server(span, parts, Some(name));
    }

    fn outcome(&self, _parts: &Parts) -> HttpOutcome {
        HttpOutcome::new(Side::Server)
    }

    fn outcome_unsampled(&self, _parts: &Parts) -> HttpOutcome {
        HttpOutcome::failures_only(Side::Server)
    }
}

impl<I> Http<I> {
    /// What a recording server span gets after creation, in one `record` call: its name when
    /// given, `server.address` and `server.port`; then `url.query` if asked for.
    fn record_server(&self, span: &Span, parts: &Parts, name: Option<&str>) {
        let scheme = parts.uri.scheme_str().unwrap_or(self.scheme);
        let (address, port) = server_address(&parts.uri, &parts.headers, scheme);
        // The `Host` header is the client's choice too.
        let address = address.map(untrusted);
        record_known(
            span,
            [
                (&OTEL_NAME, name.as_ref().map(|n| n as &dyn Value)),
                (&SERVER_ADDRESS, address.as_ref().map(|a| a as &dyn Value)),
                (&SERVER_PORT, port.as_ref().map(|p| p as &dyn Value)),
            ],
        );
        if self.record_query
            && let Some(query) = parts.uri.query()
        {
            URL_QUERY.record(span, untrusted(&redact_query(query)));
        }
    }
}

impl<I, N, F, T> ServerLayer<Http<I>, N, F, T> {
    /// The `url.scheme` recorded when the request URI has none (servers see origin-form
    /// URIs): `"http"` by default; set `"https"` behind TLS.
    pub fn scheme(mut self, scheme: &'static str) -> Self {
        self.protocol.scheme = scheme;
        self
    }

    /// Records the query string as `url.query`, with the values of credential-like keys
    /// replaced by `REDACTED` ([`redact_query`](crate::redact_query)). Off by default.
    pub fn record_query(mut self, yes: bool) -> Self {
        self.protocol.record_query = yes;
        self
    }

    /// Records the peer's port as `client.port` next to `client.address`. Off by default: the
    /// semantic conventions (v1.44.0) make it opt-in on HTTP server spans (an ephemeral port
    /// per connection, of little use for queries); `network.peer.port` is recorded either way.
    pub fn record_client_port(mut self, yes: bool) -> Self {
        self.protocol.record_client_port = yes;
        self
    }

    /// Replaces the request-info hook (route template and peer address).
    pub fn request_info<I2>(self, info: I2) -> ServerLayer<Http<I2>, N, F, T> {
        let Http {
            scheme,
            record_query,
            record_client_port,
            ..
        } = self.protocol;
        ServerLayer {
            config: self.config,
            protocol: Http {
                info,
                scheme,
                record_query,
                record_client_port,
            },
            name: self.name,
            filter: self.filter,
            trust: self.trust,
        }
    }
}
