//! The edge's settings on [`CollectorBuilder`].

use std::sync::Arc;
use std::time::Duration;

use super::{AuthToken, Budget, Edge, ServerTls, clamp_timeout};
use crate::{CollectorBuilder, CollectorError};

/// Connection limits, timeouts, TLS and access control. They apply to every listener.
impl CollectorBuilder {
    /// How long a client has to send a request head, from its first byte, and to finish a TLS
    /// handshake, from accept (default 10 s). A half-sent head is closed without an answer.
    pub fn header_read_timeout(mut self, d: Duration) -> Self {
        self.edge.timeouts.header_read = clamp_timeout(d);
        self
    }

    /// How long a client has to send a whole request body, from its head (default 30 s).
    /// A body still arriving then is cut: 408 on HTTP, `DEADLINE_EXCEEDED` on gRPC.
    pub fn body_read_timeout(mut self, d: Duration) -> Self {
        self.edge.timeouts.body_read = clamp_timeout(d);
        self
    }

    /// How long a connection may stay open with no request in flight, after its last request
    /// or since it was opened (default 60 s). HTTP/2 connections get a GOAWAY.
    pub fn keep_alive_timeout(mut self, d: Duration) -> Self {
        self.edge.timeouts.keep_alive = clamp_timeout(d);
        self
    }

    /// How long a connection with a request in flight may move no byte in either direction
    /// before it is cut, as when a client stops reading its response (default 30 s).
    pub fn stall_timeout(mut self, d: Duration) -> Self {
        self.edge.timeouts.stall = clamp_timeout(d);
        self
    }

    /// On shutdown, how long in-flight requests may take to finish before their connections
    /// are cut (default 5 s). Idle connections are closed at once.
    pub fn shutdown_timeout(mut self, d: Duration) -> Self {
        self.edge.timeouts.shutdown = d;
        self
    }

    /// The most connections each listener serves at once (default 256, so that three
    /// listeners stay under the common limit of 1,024 open files). At the cap the connection
    /// idle the longest (for 100 ms at least: a connection just accepted or just answered may
    /// have its request on the way) is closed to make room; when none is, a connection whose request
    /// body has been arriving for at least a second at under 16 KiB/s is cut (the slowest
    /// first); when there is none, new connections wait.
    pub fn max_connections(mut self, n: usize) -> Self {
        self.edge.max_connections = n.max(1);
        self
    }

    /// The most request-body bytes held at once across every listener (default 64 MiB). A
    /// request that would pass it is answered 429 (`Retry-After: 1`) or `RESOURCE_EXHAUSTED`;
    /// a request holds its bytes until it is answered or dropped. Must be at least
    /// [`CollectorBuilder::max_request_bytes`].
    pub fn max_in_flight_bytes(mut self, n: usize) -> Self {
        self.edge.max_in_flight_bytes = n;
        self
    }

    /// Serves every listener over TLS (https, grpcs); see [`ServerTls`].
    pub fn tls(mut self, tls: ServerTls) -> Self {
        self.edge.tls = Some(tls);
        self
    }

    /// Requires a bearer token on every listener: `Authorization: Bearer <token>` on HTTP,
    /// `authorization` metadata on gRPC; otherwise 401 / `UNAUTHENTICATED`. The token is an
    /// RFC 6750 `b64token` (letters, digits, `-._~+/`, trailing `=`); anything else makes
    /// [`CollectorBuilder::spawn`] fail. A browser signs in to the UI once with
    /// `/ui/?token=<token>`, which sets an `HttpOnly`, `SameSite=Strict` cookie.
    pub fn auth_token(mut self, token: impl Into<String>) -> Self {
        self.edge.auth_token = Some(super::Secret(token.into()));
        self
    }

    /// A further `Host` name answered by listeners bound to loopback, which otherwise answer
    /// only `localhost`, `127.0.0.1` (any `127.0.0.0/8` address) and `[::1]`, with any port,
    /// so that a web page cannot reach them by rebinding its own name to 127.0.0.1 (421
    /// otherwise). Listeners bound elsewhere answer every name.
    pub fn allow_host(mut self, name: impl Into<String>) -> Self {
        self.edge.allowed_hosts.push(name.into());
        self
    }

    /// Checks the edge settings and resolves them; called by `spawn`.
    pub(crate) fn edge(&self) -> Result<Edge, CollectorError> {
        let cfg = self.edge.clone();
        if cfg.max_in_flight_bytes < self.max_request_bytes {
            return Err(CollectorError::InFlightBudgetTooSmall {
                max_in_flight_bytes: cfg.max_in_flight_bytes,
                max_request_bytes: self.max_request_bytes,
            });
        }
        let auth = match &cfg.auth_token {
            None => None,
            Some(t) => Some(Arc::new(
                AuthToken::new(&t.0).ok_or(CollectorError::InvalidAuthToken)?,
            )),
        };
        Ok(Edge {
            budget: Budget::new(cfg.max_in_flight_bytes),
            auth,
            cfg,
        })
    }
}
