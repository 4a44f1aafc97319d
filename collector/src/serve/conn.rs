//! One connection's clock. The socket wrapper ([`Tracked`]) notes when bytes move and when a
//! new HTTP/1.1 request head starts; the request guard ([`InFlight`]) notes when requests start
//! and end; [`drive`] serves the connection and closes it when one of these rules says so:
//!
//! | state | closed after | how |
//! |---|---|---|
//! | HTTP/1.1, part of a request head received | `header_read` from its first byte | at once |
//! | no request in flight | `keep_alive` since the last one ended (or since accept) | HTTP/1.1 at once, HTTP/2 with GOAWAY |
//! | a request in flight, no byte moved either way | `stall` | at once |
//! | evicted (the listener is full) or shutting down | — | idle: as above; busy: after the current requests (HTTP/1.1: `Connection: close`, the answer written out whole) |
//! | cut (the listener is full and its request body arrives too slowly) | — | at once |
//!
//! A connection closed with GOAWAY that does not finish within `header_read` is cut. For the
//! listener's choice of a body to cut, [`Receiving`] guards note when a connection's request
//! bodies began arriving and how many bytes they have brought.
//!
//! [`drive`] sees a shutdown or an eviction only between two polls of the connection, while
//! hyper may read the rest of a request and answer it within one poll; so the answer asks
//! itself whether it is the last ([`InFlight::answer_is_last`]) and says `Connection: close`.
//! A request stops counting as in flight once hyper has taken the end of its answer, which may
//! still sit in hyper's write buffer: an HTTP/1.1 connection whose last answer is decided, or
//! whose socket was full at its last write, is therefore left to hyper, which writes out what
//! it holds and ends the connection, and cut only at a stall.

use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU8, AtomicU64, AtomicUsize, Ordering};

use tokio::sync::{Notify, watch};
use tokio::time::Instant;

use super::Timeouts;

mod socket;

pub(crate) use self::socket::{Io, Tracked};

/// Not known yet (fewer than three bytes read).
const PROTO_UNKNOWN: u8 = 0;
const PROTO_H1: u8 = 1;
const PROTO_H2: u8 = 2;

/// What a listener shares with its connections.
#[derive(Debug)]
pub(crate) struct ListenerShared {
    /// Times are nanoseconds since this instant.
    base: Instant,
    /// Set while the accept loop waits for a free connection slot.
    pub(crate) pressure: AtomicBool,
    /// Notified when a connection goes idle under pressure: a candidate to close.
    pub(crate) went_idle: Notify,
    /// The collector's shutdown signal, read where a connection's own task has not seen it yet.
    shutdown: watch::Receiver<bool>,
}

impl ListenerShared {
    pub(crate) fn new(shutdown: watch::Receiver<bool>) -> Self {
        ListenerShared {
            base: Instant::now(),
            pressure: AtomicBool::new(false),
            went_idle: Notify::new(),
            shutdown,
        }
    }

    /// Whether shutdown has begun (the signal is true, or its sender is gone).
    fn stopping(&self) -> bool {
        *self.shutdown.borrow() || self.shutdown.has_changed().is_err()
    }

    /// Now, in nanoseconds since the listener started.
    pub(crate) fn now(&self) -> u64 {
        self.nanos(Instant::now())
    }

    fn nanos(&self, t: Instant) -> u64 {
        u64::try_from(t.saturating_duration_since(self.base).as_nanos()).unwrap_or(u64::MAX)
    }

    fn instant(&self, nanos: u64) -> Instant {
        self.base + std::time::Duration::from_nanos(nanos)
    }
}

/// The state of one connection, updated by its socket, its requests and its listener.
#[derive(Debug)]
pub(crate) struct ConnShared {
    listener: Arc<ListenerShared>,
    /// Requests whose response has not ended.
    in_flight: AtomicUsize,
    /// When the last request ended, or the connection was accepted.
    idle_since: AtomicU64,
    /// When the first byte of an HTTP/1.1 request head arrived while idle; 0 when none.
    head_started: AtomicU64,
    /// When a byte last moved either way.
    last_io: AtomicU64,
    proto: AtomicU8,
    /// Asked to close by the listener (it needs the slot).
    evict: AtomicBool,
    /// Asked by the listener to close at once, busy or not.
    cut: AtomicBool,
    /// An HTTP/1.1 answer said `Connection: close`: hyper ends the connection once it is
    /// written.
    last_answer: AtomicBool,
    /// The socket's last write or flush would have blocked: hyper, which writes until its
    /// buffer is empty or the socket is full, still holds bytes to send.
    write_blocked: AtomicBool,
    /// Request bodies still arriving.
    receiving: AtomicUsize,
    /// When the current run of arriving bodies began.
    receiving_since: AtomicU64,
    /// Body bytes received during the current run.
    received: AtomicU64,
    wake: Notify,
}

impl ConnShared {
    pub(crate) fn new(listener: Arc<ListenerShared>, http2_only: bool) -> Self {
        let now = listener.now();
        ConnShared {
            listener,
            in_flight: AtomicUsize::new(0),
            idle_since: AtomicU64::new(now),
            head_started: AtomicU64::new(0),
            last_io: AtomicU64::new(now),
            proto: AtomicU8::new(if http2_only { PROTO_H2 } else { PROTO_UNKNOWN }),
            evict: AtomicBool::new(false),
            cut: AtomicBool::new(false),
            last_answer: AtomicBool::new(false),
            write_blocked: AtomicBool::new(false),
            receiving: AtomicUsize::new(0),
            receiving_since: AtomicU64::new(0),
            received: AtomicU64::new(0),
            wake: Notify::new(),
        }
    }

    /// Idle (no request in flight) and not asked to close yet: since when, for eviction.
    pub(crate) fn idle_since(&self) -> Option<u64> {
        (self.in_flight.load(Ordering::Acquire) == 0 && !self.evict.load(Ordering::Acquire))
            .then(|| self.idle_since.load(Ordering::Acquire))
    }

    /// Asked to close and about to free its slot: evicted and idle, or cut.
    pub(crate) fn closing(&self) -> bool {
        self.cut.load(Ordering::Acquire)
            || (self.evict.load(Ordering::Acquire) && self.in_flight.load(Ordering::Acquire) == 0)
    }

    /// Asks the connection to close at once, requests in flight or not.
    pub(crate) fn cut(&self) {
        self.cut.store(true, Ordering::Release);
        self.wake.notify_one();
    }

    /// Counts a request body as arriving until the guard is dropped.
    pub(crate) fn receiving(self: &Arc<Self>) -> Receiving {
        if self.receiving.fetch_add(1, Ordering::AcqRel) == 0 {
            self.received.store(0, Ordering::Release);
            self.receiving_since
                .store(self.listener.now(), Ordering::Release);
        }
        Receiving(self.clone())
    }

    /// While request bodies arrive (and the connection is not cut): for how long, and the
    /// bytes they brought meanwhile.
    pub(crate) fn arriving(&self, now: u64) -> Option<(std::time::Duration, u64)> {
        if self.receiving.load(Ordering::Acquire) == 0 || self.cut.load(Ordering::Acquire) {
            return None;
        }
        let since = self.receiving_since.load(Ordering::Acquire);
        Some((
            std::time::Duration::from_nanos(now.saturating_sub(since)),
            self.received.load(Ordering::Acquire),
        ))
    }

    /// Asks the connection to close: at once when idle, after its requests otherwise.
    pub(crate) fn evict(&self) {
        self.evict.store(true, Ordering::Release);
        self.wake.notify_one();
    }

    pub(crate) fn evicted(&self) -> bool {
        self.evict.load(Ordering::Acquire)
    }

    pub(crate) async fn woken(&self) {
        self.wake.notified().await
    }

    fn write_blocked(&self, blocked: bool) {
        self.write_blocked.store(blocked, Ordering::Release);
    }

    fn is_h2(&self) -> bool {
        self.proto.load(Ordering::Acquire) == PROTO_H2
    }

    fn on_read(&self, now: u64) {
        self.last_io.store(now, Ordering::Release);
        if self.in_flight.load(Ordering::Acquire) == 0
            && !self.is_h2()
            && self.head_started.load(Ordering::Acquire) == 0
        {
            // `now` is never 0 after accept; `max(1)` keeps 0 meaning "none".
            self.head_started.store(now.max(1), Ordering::Release);
            self.wake.notify_one();
        }
    }
}

/// Counts one request body as arriving, and the bytes it brings, until it ends (or is
/// dropped).
#[derive(Debug)]
pub(crate) struct Receiving(Arc<ConnShared>);

impl Receiving {
    pub(crate) fn received(&self, n: usize) {
        self.0.received.fetch_add(n as u64, Ordering::AcqRel);
    }
}

impl Drop for Receiving {
    fn drop(&mut self) {
        self.0.receiving.fetch_sub(1, Ordering::AcqRel);
    }
}

/// Counts one request as in flight until its response ends (or is dropped).
#[derive(Debug)]
pub(crate) struct InFlight(Arc<ConnShared>);

impl InFlight {
    pub(crate) fn new(conn: &Arc<ConnShared>) -> Self {
        conn.in_flight.fetch_add(1, Ordering::AcqRel);
        conn.head_started.store(0, Ordering::Release);
        InFlight(conn.clone())
    }

    /// Whether the HTTP/1.1 answer to this request is the connection's last: the collector
    /// is shutting down or the listener asked for the connection's slot. Read when the answer is
    /// made, as the connection's own task may not have seen the request to close yet; when it
    /// is the last, the connection is no longer cut once idle but left to hyper to write the
    /// answer out and end.
    pub(crate) fn answer_is_last(&self) -> bool {
        let last = self.0.listener.stopping() || self.0.evicted();
        if last {
            self.0.last_answer.store(true, Ordering::Release);
        }
        last
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        let c = &self.0;
        c.idle_since.store(c.listener.now(), Ordering::Release);
        if c.in_flight.fetch_sub(1, Ordering::AcqRel) == 1 {
            c.head_started.store(0, Ordering::Release);
            c.wake.notify_one();
            if c.listener.pressure.load(Ordering::Acquire) {
                c.listener.went_idle.notify_one();
            }
        }
    }
}

/// A served connection that can be asked to finish gracefully.
pub(crate) trait Graceful: Future {
    fn graceful_shutdown(self: Pin<&mut Self>);
}

impl<I, S, E, B> Graceful for hyper_util::server::conn::auto::Connection<'_, I, S, E>
where
    S: hyper::service::Service<http::Request<hyper::body::Incoming>, Response = http::Response<B>>,
    S::Future: 'static,
    S::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
    B: http_body::Body + 'static,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
    I: hyper::rt::Read + hyper::rt::Write + Unpin + 'static,
    E: hyper_util::server::conn::auto::HttpServerConnExec<S::Future, B>,
{
    fn graceful_shutdown(self: Pin<&mut Self>) {
        hyper_util::server::conn::auto::Connection::graceful_shutdown(self)
    }
}

/// What the clock says to do next.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Next {
    /// Nothing until this instant (or a wake-up).
    WaitUntil(Instant),
    /// Ask the connection to finish (GOAWAY / no keep-alive), then keep serving.
    Finish,
    /// Close now.
    Cut,
}

/// The connection's own view of its closing.
#[derive(Debug, Default)]
struct Closing {
    /// `graceful_shutdown` was called.
    asked: bool,
    /// An idle connection asked to finish is cut at this instant.
    cut_at: Option<Instant>,
}

fn decide(c: &ConnShared, t: &Timeouts, stop: bool, closing: &mut Closing, now: Instant) -> Next {
    let l = &c.listener;
    if c.cut.load(Ordering::Acquire) {
        return Next::Cut;
    }
    let idle = c.in_flight.load(Ordering::Acquire) == 0;
    let h2 = c.is_h2();
    // HTTP/1.1 with its last answer decided (asked to finish while busy, or an answer said
    // `Connection: close`): hyper writes that answer out, its tail may still be buffered when
    // the request stops counting as in flight, and then ends the connection itself.
    let ending = !h2 && (closing.asked || c.last_answer.load(Ordering::Acquire));
    if (stop || c.evicted()) && !closing.asked {
        // An answer made before may still be on its way out: hyper writes it before it closes.
        let writing = c.write_blocked.load(Ordering::Acquire);
        return if idle && !h2 && !ending && !writing {
            Next::Cut
        } else {
            Next::Finish
        };
    }
    if !idle || ending {
        // Busy or ending: only a stall ends it early (a finishing connection ends with its
        // requests).
        let at = l.instant(c.last_io.load(Ordering::Acquire)) + t.stall;
        return if now >= at {
            Next::Cut
        } else {
            Next::WaitUntil(at)
        };
    }
    if closing.asked {
        let at = *closing.cut_at.get_or_insert(now + t.header_read);
        return if now >= at {
            Next::Cut
        } else {
            Next::WaitUntil(at)
        };
    }
    let head = c.head_started.load(Ordering::Acquire);
    if head != 0 && !h2 {
        let at = l.instant(head) + t.header_read;
        return if now >= at {
            Next::Cut
        } else {
            Next::WaitUntil(at)
        };
    }
    let at = l.instant(c.idle_since.load(Ordering::Acquire)) + t.keep_alive;
    match (now >= at, h2) {
        (false, _) => Next::WaitUntil(at),
        (true, true) => Next::Finish,
        (true, false) => Next::Cut,
    }
}

/// Serves `conn` until it ends or the clock closes it.
pub(crate) async fn drive<C: Graceful>(
    conn: Pin<&mut C>,
    shared: &ConnShared,
    timeouts: &Timeouts,
    shutdown: &mut watch::Receiver<bool>,
) {
    let mut conn = conn;
    let mut closing = Closing::default();
    let mut stop = *shutdown.borrow();
    let sleep = tokio::time::sleep(timeouts.keep_alive);
    tokio::pin!(sleep);
    loop {
        match decide(shared, timeouts, stop, &mut closing, Instant::now()) {
            Next::Cut => return,
            Next::Finish => {
                conn.as_mut().graceful_shutdown();
                closing.asked = true;
                continue;
            }
            Next::WaitUntil(at) => sleep.as_mut().reset(at),
        }
        tokio::select! {
            _ = conn.as_mut() => return,
            _ = shared.woken() => {}
            _ = sleep.as_mut() => {}
            r = shutdown.changed(), if !stop => stop = r.is_err() || *shutdown.borrow(),
        }
    }
}

#[cfg(test)]
mod tests;
