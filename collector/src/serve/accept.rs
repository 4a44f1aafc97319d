//! A listener's accept loop: the connection cap, TLS handshakes, and the shutdown deadline.
//!
//! At most `max_connections` connections are served at once. When one more arrives, the
//! connection idle the longest is closed to make room (an idle socket costs its owner nothing
//! to reopen, while a new client would otherwise wait), provided it has been idle for at least
//! [`IDLE_GRACE`]: a connection just accepted, or just answered, may have its next request on
//! the way, and closing it then resets a client that did nothing wrong. When none is, the
//! connection whose
//! request bodies have been arriving for at least [`SLOW_BODY_GRACE`] at the lowest rate below
//! [`SLOW_BODY_RATE`] is cut: bodies dripped a byte at a time never stall and would otherwise
//! hold every slot until the body read timeout. When there is neither, the newcomer waits until
//! a connection ends, and the kernel's backlog holds the rest. File descriptors in use stay at
//! most `max_connections + 1` per listener.

use std::collections::HashMap;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use http::{Request, Response};
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio::task::{Id, JoinSet};
use tokio_rustls::TlsAcceptor;

use super::body::RequestBody;
use super::conn::{ConnShared, Io, ListenerShared, Tracked, drive};
use super::service::{EdgeCtx, EdgeService};
use super::{Edge, EdgeBody, HostPolicy, Timeouts};

/// The largest HTTP/1.1 read buffer, so the most a connection's request head can hold.
const MAX_H1_BUFFER: usize = 64 << 10;
/// How long to wait after an accept error that is not about one connection (out of file
/// descriptors, say) before trying again.
const ACCEPT_BACKOFF: Duration = Duration::from_millis(50);
/// At the cap, a request body must have been arriving this long before it may be cut.
pub(crate) const SLOW_BODY_GRACE: Duration = Duration::from_secs(1);
/// At the cap, a request body arriving at fewer bytes per second than this may be cut (16 KiB/s:
/// far below any client on a working network, far above a body dripped to hold a slot).
pub(crate) const SLOW_BODY_RATE: u64 = 16 << 10;
/// At the cap, a connection must have been idle this long before it is closed to make room.
pub(crate) const IDLE_GRACE: Duration = Duration::from_millis(100);
/// How often a full listener looks again for a connection to close.
const PRESSURE_TICK: Duration = Duration::from_millis(250);

/// Which listener: what it speaks, and which checks apply.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ListenerKind {
    /// OTLP/HTTP: HTTP/1.1 and HTTP/2.
    OtlpHttp,
    /// OTLP/gRPC: HTTP/2 only; `Host` is not checked (no browser speaks it).
    OtlpGrpc,
    /// The JSON API and the UI: HTTP/1.1 and HTTP/2, the UI's security headers, and the
    /// token's sign-in cookie.
    Api,
}

impl ListenerKind {
    /// The name used in errors and warnings.
    pub(crate) fn name(self) -> &'static str {
        match self {
            ListenerKind::OtlpHttp => "otlp-http",
            ListenerKind::OtlpGrpc => "otlp-grpc",
            ListenerKind::Api => "api",
        }
    }

    fn alpn(self) -> &'static [&'static [u8]] {
        match self {
            ListenerKind::OtlpGrpc => &[b"h2"],
            _ => &[b"h2", b"http/1.1"],
        }
    }
}

/// A bound listener, ready to serve.
pub(crate) struct Listener {
    tcp: TcpListener,
    tls: Option<TlsAcceptor>,
    ctx: Arc<EdgeCtx>,
    max_connections: usize,
    builder: auto::Builder<TokioExecutor>,
}

impl std::fmt::Debug for Listener {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Listener")
            .field("kind", &self.ctx.kind)
            .field("addr", &self.local_addr())
            .field("tls", &self.tls.is_some())
            .field("max_connections", &self.max_connections)
            .finish_non_exhaustive()
    }
}

/// Resolves once `shutdown` is true (or its sender is gone).
async fn stopped(shutdown: &mut watch::Receiver<bool>) {
    let _ = shutdown.wait_for(|s| *s).await;
}

impl Listener {
    pub(crate) fn new(kind: ListenerKind, tcp: TcpListener, edge: &Edge) -> Self {
        let cfg = &edge.cfg;
        let loopback = tcp.local_addr().is_ok_and(|a| a.ip().is_loopback());
        let hosts = (loopback && kind != ListenerKind::OtlpGrpc)
            .then(|| HostPolicy::new(&cfg.allowed_hosts));
        let mut builder = auto::Builder::new(TokioExecutor::new());
        if kind == ListenerKind::OtlpGrpc {
            builder = builder.http2_only();
        }
        // The connection's own clock (see `conn`) times heads, idleness and stalls; hyper's
        // header timer would also count the keep-alive wait, so it is off.
        builder
            .http1()
            .timer(TokioTimer::new())
            .header_read_timeout(None)
            .max_buf_size(MAX_H1_BUFFER);
        builder.http2().timer(TokioTimer::new());
        Listener {
            tls: cfg.tls.as_ref().map(|t| t.acceptor(kind.alpn())),
            ctx: Arc::new(EdgeCtx {
                kind,
                timeouts: cfg.timeouts,
                budget: edge.budget.clone(),
                auth: edge.auth.clone(),
                hosts,
                tls: cfg.tls.is_some(),
            }),
            max_connections: cfg.max_connections.max(1),
            tcp,
            builder,
        }
    }

    pub(crate) fn kind(&self) -> ListenerKind {
        self.ctx.kind
    }

    pub(crate) fn local_addr(&self) -> Option<SocketAddr> {
        self.tcp.local_addr().ok()
    }

    /// Serves `inner` until `shutdown` turns true, then gives in-flight requests the shutdown
    /// deadline and cuts what remains.
    pub(crate) async fn serve<S, B>(self, inner: S, mut shutdown: watch::Receiver<bool>)
    where
        S: tower::Service<Request<RequestBody>, Response = Response<B>, Error = Infallible>
            + Clone
            + Send
            + 'static,
        S::Future: Send + 'static,
        B: EdgeBody,
    {
        let Listener {
            tcp,
            tls,
            ctx,
            max_connections,
            builder,
        } = self;
        let builder = Arc::new(builder);
        let shared = Arc::new(ListenerShared::new(shutdown.clone()));
        let mut conns = JoinSet::new();
        let mut live: HashMap<Id, Arc<ConnShared>> = HashMap::new();
        let http2_only = ctx.kind == ListenerKind::OtlpGrpc;
        'accept: loop {
            let stream = tokio::select! {
                biased;
                _ = stopped(&mut shutdown) => break,
                Some(done) = conns.join_next_with_id() => {
                    forget(&mut live, done);
                    continue;
                }
                r = tcp.accept() => match r {
                    Ok((stream, _)) => stream,
                    Err(e) => {
                        if !is_per_connection(&e) {
                            tokio::time::sleep(ACCEPT_BACKOFF).await;
                        }
                        continue;
                    }
                },
            };
            if conns.len() >= max_connections {
                shared.pressure.store(true, Ordering::Release);
                loop {
                    make_room(&live, shared.now());
                    tokio::select! {
                        biased;
                        _ = stopped(&mut shutdown) => break 'accept,
                        Some(done) = conns.join_next_with_id() => {
                            forget(&mut live, done);
                            if conns.len() < max_connections {
                                break;
                            }
                        }
                        _ = shared.went_idle.notified() => {}
                        // Bodies age into being cut without waking anyone.
                        _ = tokio::time::sleep(PRESSURE_TICK) => {}
                    }
                }
                shared.pressure.store(false, Ordering::Release);
            }
            let conn = Arc::new(ConnShared::new(shared.clone(), http2_only));
            let service = EdgeService {
                inner: inner.clone(),
                ctx: ctx.clone(),
                conn: conn.clone(),
            };
            let task = {
                let (conn, tls, builder) = (conn.clone(), tls.clone(), builder.clone());
                let (timeouts, mut shutdown) = (ctx.timeouts, shutdown.clone());
                async move {
                    let Some(io) = open(stream, tls, &conn, &timeouts, &mut shutdown).await else {
                        return;
                    };
                    let served = builder.serve_connection(TokioIo::new(io), service);
                    tokio::pin!(served);
                    drive(served, &conn, &timeouts, &mut shutdown).await;
                }
            };
            let handle = conns.spawn(task);
            live.insert(handle.id(), conn);
        }
        drop(tcp);
        // Every connection saw the signal: idle ones are closed, busy ones finish. Cut what is
        // left at the deadline.
        let deadline = tokio::time::sleep(ctx.timeouts.shutdown);
        tokio::pin!(deadline);
        loop {
            tokio::select! {
                _ = &mut deadline => {
                    conns.shutdown().await;
                    break;
                }
                done = conns.join_next() => if done.is_none() {
                    break;
                },
            }
        }
    }
}

fn forget(live: &mut HashMap<Id, Arc<ConnShared>>, done: Result<(Id, ()), tokio::task::JoinError>) {
    let id = match done {
        Ok((id, ())) => id,
        Err(e) => e.id(),
    };
    live.remove(&id);
}

/// Asks the connection idle the longest to close or, with none idle, cuts the one whose body
/// arrives the slowest (see the module docs); nothing while one asked before is still closing.
/// `now` is the listener's clock.
fn make_room(live: &HashMap<Id, Arc<ConnShared>>, now: u64) {
    if live.values().any(|c| c.closing()) {
        return;
    }
    if let Some(c) = live
        .values()
        .filter_map(|c| Some((c.idle_since()?, c)))
        .filter(|(since, _)| idle_long_enough(*since, now))
        .min_by_key(|(since, _)| *since)
        .map(|(_, c)| c)
    {
        c.evict();
        return;
    }
    if let Some(c) = live
        .values()
        .filter_map(|c| {
            let (age, bytes) = c.arriving(now)?;
            let rate = slow_rate(age, bytes)?;
            Some((rate, c))
        })
        .min_by_key(|(rate, _)| *rate)
        .map(|(_, c)| c)
    {
        c.cut();
    }
}

/// Whether a connection idle since `since` (the listener's clock, like `now`) may be closed to
/// make room: idle for at least [`IDLE_GRACE`].
fn idle_long_enough(since: u64, now: u64) -> bool {
    u128::from(now.saturating_sub(since)) >= IDLE_GRACE.as_nanos()
}

/// The arrival rate in bytes per second of a body `age` old that brought `bytes`, when it may
/// be cut: at least [`SLOW_BODY_GRACE`] old and slower than [`SLOW_BODY_RATE`].
fn slow_rate(age: Duration, bytes: u64) -> Option<u64> {
    if age < SLOW_BODY_GRACE {
        return None;
    }
    let rate = u128::from(bytes) * 1_000_000_000 / age.as_nanos().max(1);
    let rate = u64::try_from(rate).unwrap_or(u64::MAX);
    (rate < SLOW_BODY_RATE).then_some(rate)
}

/// Errors about the one connection being accepted (the next accept may well succeed).
fn is_per_connection(e: &std::io::Error) -> bool {
    use std::io::ErrorKind::*;
    matches!(
        e.kind(),
        ConnectionAborted | ConnectionReset | ConnectionRefused | Interrupted | WouldBlock
    )
}

/// The connection's byte stream, after the TLS handshake when there is one; `None` when the
/// handshake fails, outlasts the header read timeout, or is cut for room or by shutdown.
async fn open(
    stream: TcpStream,
    tls: Option<TlsAcceptor>,
    conn: &Arc<ConnShared>,
    timeouts: &Timeouts,
    shutdown: &mut watch::Receiver<bool>,
) -> Option<Tracked> {
    let _ = stream.set_nodelay(true);
    let io = match tls {
        None => Io::Plain(stream),
        Some(acceptor) => {
            // A handshake counts against the header read timeout; a listener that needs the
            // slot or shuts down ends it.
            let handshake = tokio::time::timeout(timeouts.header_read, acceptor.accept(stream));
            let evicted = async {
                while !conn.evicted() {
                    conn.woken().await;
                }
            };
            tokio::select! {
                r = handshake => match r {
                    Ok(Ok(tls)) => Io::Tls(Box::new(tls)),
                    _ => return None,
                },
                _ = evicted => return None,
                _ = stopped(shutdown) => return None,
            }
        }
    };
    Some(Tracked::new(io, conn.clone()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_bodies_past_the_grace_and_under_the_rate_may_be_cut() {
        let s = Duration::from_secs;
        // Too young, however slow.
        assert_eq!(slow_rate(Duration::from_millis(999), 0), None);
        assert_eq!(slow_rate(s(1), 0), Some(0));
        assert_eq!(slow_rate(s(4), 100), Some(25));
        // 16 KiB/s exactly is fast enough.
        assert_eq!(
            slow_rate(s(2), 2 * SLOW_BODY_RATE - 1),
            Some(SLOW_BODY_RATE - 1)
        );
        assert_eq!(slow_rate(s(2), 2 * SLOW_BODY_RATE), None);
        assert_eq!(slow_rate(s(1), u64::MAX), None);
    }

    #[test]
    fn only_connections_idle_past_the_grace_may_be_closed_for_room() {
        let ms = 1_000_000;
        assert!(!idle_long_enough(5_000 * ms, 5_000 * ms), "just accepted");
        assert!(!idle_long_enough(5_000 * ms, 5_099 * ms));
        assert!(idle_long_enough(5_000 * ms, 5_100 * ms));
        // A clock that went backwards (it cannot) is not idle time.
        assert!(!idle_long_enough(5_000 * ms, 4_000 * ms));
    }
}
