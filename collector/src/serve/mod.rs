//! The network edge: how every listener (OTLP/HTTP, OTLP/gRPC, the API and UI) accepts, limits,
//! secures and shuts down connections.
//!
//! Each listener runs its own accept loop over hyper-util's server builder (HTTP/1.1 and h2c on
//! the HTTP listeners, HTTP/2 only on gRPC; TLS through tokio-rustls when configured) and drives
//! every connection itself, so the same limits hold on all three:
//!
//! - `accept`: the accept loop, the per-listener connection cap (closing the connection idle the
//!   longest to make room) and the shutdown deadline;
//! - `conn`: one connection's clock: header, keep-alive and stall deadlines;
//! - `service`: what every request passes through: `Host` and token checks, the request-body
//!   wrapper, the in-flight count and the UI's security headers;
//! - `body`: the request-body wrapper: the body read deadline and the budget of bytes in flight;
//! - `auth`, `tls`: the bearer token, the loopback `Host` policy and the TLS configuration.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http_body::Body;

pub(crate) mod accept;
mod auth;
mod body;
mod builder;
mod conn;
mod service;
mod tls;

pub(crate) use self::accept::{Listener, ListenerKind};
pub(crate) use self::auth::{AuthToken, HostPolicy};
pub(crate) use self::body::{Budget, RequestBodyError};
pub use self::tls::{ServerTls, TlsError, TlsInput};

type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// A response body a listener can send: bytes, with an error that can be boxed.
pub(crate) trait EdgeBody:
    Body<Data = Bytes, Error: Into<BoxError>> + Send + 'static
{
}

impl<B> EdgeBody for B where B: Body<Data = Bytes, Error: Into<BoxError>> + Send + 'static {}

/// Default for [`CollectorBuilder::header_read_timeout`](crate::CollectorBuilder::header_read_timeout).
pub(crate) const DEFAULT_HEADER_READ_TIMEOUT: Duration = Duration::from_secs(10);
/// Default for [`CollectorBuilder::body_read_timeout`](crate::CollectorBuilder::body_read_timeout).
pub(crate) const DEFAULT_BODY_READ_TIMEOUT: Duration = Duration::from_secs(30);
/// Default for [`CollectorBuilder::keep_alive_timeout`](crate::CollectorBuilder::keep_alive_timeout).
pub(crate) const DEFAULT_KEEP_ALIVE_TIMEOUT: Duration = Duration::from_secs(60);
/// Default for [`CollectorBuilder::stall_timeout`](crate::CollectorBuilder::stall_timeout).
pub(crate) const DEFAULT_STALL_TIMEOUT: Duration = Duration::from_secs(30);
/// Default for [`CollectorBuilder::shutdown_timeout`](crate::CollectorBuilder::shutdown_timeout).
pub(crate) const DEFAULT_SHUTDOWN_TIMEOUT: Duration = Duration::from_secs(5);
/// Default for [`CollectorBuilder::max_connections`](crate::CollectorBuilder::max_connections).
pub(crate) const DEFAULT_MAX_CONNECTIONS: usize = 256;
/// Default for [`CollectorBuilder::max_in_flight_bytes`](crate::CollectorBuilder::max_in_flight_bytes).
pub(crate) const DEFAULT_MAX_IN_FLIGHT_BYTES: usize = 64 << 20;

/// The shortest timeout accepted: a zero timeout would cut every connection at once.
const MIN_TIMEOUT: Duration = Duration::from_millis(1);

/// The timing rules of a listener's connections.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Timeouts {
    /// A TLS handshake, and an HTTP/1.1 request head from its first byte, must complete within
    /// this.
    pub(crate) header_read: Duration,
    /// A request body must arrive whole within this, counted from its head.
    pub(crate) body_read: Duration,
    /// A connection with no request in flight is closed after this.
    pub(crate) keep_alive: Duration,
    /// A connection with a request in flight that moves no byte either way is closed after this.
    pub(crate) stall: Duration,
    /// On shutdown, in-flight requests get this long before their connections are cut.
    pub(crate) shutdown: Duration,
}

impl Default for Timeouts {
    fn default() -> Self {
        Timeouts {
            header_read: DEFAULT_HEADER_READ_TIMEOUT,
            body_read: DEFAULT_BODY_READ_TIMEOUT,
            keep_alive: DEFAULT_KEEP_ALIVE_TIMEOUT,
            stall: DEFAULT_STALL_TIMEOUT,
            shutdown: DEFAULT_SHUTDOWN_TIMEOUT,
        }
    }
}

/// Everything the builder knows about the edge; shared by the listeners it starts.
#[derive(Debug, Clone)]
pub(crate) struct EdgeConfig {
    pub(crate) timeouts: Timeouts,
    /// Connections served at once per listener.
    pub(crate) max_connections: usize,
    /// Request body bytes held at once, over every listener.
    pub(crate) max_in_flight_bytes: usize,
    pub(crate) tls: Option<ServerTls>,
    pub(crate) auth_token: Option<Secret>,
    /// Extra `Host` names answered on loopback binds.
    pub(crate) allowed_hosts: Vec<String>,
}

/// A configured token, kept out of `Debug` output.
#[derive(Clone)]
pub(crate) struct Secret(pub(crate) String);

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret(..)")
    }
}

/// The settings resolved when a collector starts, shared by its listeners.
#[derive(Debug)]
pub(crate) struct Edge {
    pub(crate) cfg: EdgeConfig,
    pub(crate) auth: Option<Arc<AuthToken>>,
    /// One budget of request bytes for every listener.
    pub(crate) budget: Budget,
}

impl Default for EdgeConfig {
    fn default() -> Self {
        EdgeConfig {
            timeouts: Timeouts::default(),
            max_connections: DEFAULT_MAX_CONNECTIONS,
            max_in_flight_bytes: DEFAULT_MAX_IN_FLIGHT_BYTES,
            tls: None,
            auth_token: None,
            allowed_hosts: Vec::new(),
        }
    }
}

fn clamp_timeout(d: Duration) -> Duration {
    d.max(MIN_TIMEOUT)
}

/// Binds one listener (`None`: disabled).
pub(crate) async fn bind(
    kind: ListenerKind,
    addr: Option<std::net::SocketAddr>,
    edge: &Edge,
) -> Result<Option<Listener>, crate::CollectorError> {
    let Some(addr) = addr else {
        return Ok(None);
    };
    let tcp = tokio::net::TcpListener::bind(addr)
        .await
        .map_err(|source| crate::CollectorError::Bind {
            what: kind.name(),
            addr,
            source,
        })?;
    Ok(Some(Listener::new(kind, tcp, edge)))
}

/// One warning per listener bound beyond loopback, also logged with `tracing`.
pub(crate) fn warnings(listeners: [&Option<Listener>; 3], edge: &Edge) -> Vec<String> {
    let (token, tls) = (edge.auth.is_some(), edge.cfg.tls.is_some());
    let exposure = match (token, tls) {
        (false, _) => "anyone who can reach it can read traces and send spans (set an auth token)",
        (true, false) => "the token and the traces cross the network in clear text (set up TLS)",
        (true, true) => "clients need the token",
    };
    let mut out = Vec::new();
    for l in listeners.into_iter().flatten() {
        let Some(addr) = l.local_addr().filter(|a| !a.ip().is_loopback()) else {
            continue;
        };
        let name = l.kind().name();
        tracing::warn!(listener = name, %addr, token, tls, "listener binds beyond loopback: {exposure}");
        out.push(format!(
            "the {name} listener binds {addr}, beyond loopback: {exposure}"
        ));
    }
    out
}
