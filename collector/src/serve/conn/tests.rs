use super::socket::sniff;
use super::*;
use std::time::Duration;

fn timeouts() -> Timeouts {
    Timeouts {
        header_read: Duration::from_secs(1),
        body_read: Duration::from_secs(2),
        keep_alive: Duration::from_secs(10),
        stall: Duration::from_secs(5),
        shutdown: Duration::from_secs(3),
    }
}

/// A connection of a listener whose shutdown signal's sender is gone (the clock tests pass
/// `stop` to [`decide`] themselves).
fn conn(h2: bool) -> Arc<ConnShared> {
    Arc::new(ConnShared::new(
        Arc::new(ListenerShared::new(watch::channel(false).1)),
        h2,
    ))
}

fn at(c: &ConnShared, secs: u64) -> Instant {
    c.listener.base + Duration::from_secs(secs)
}

#[tokio::test]
async fn idle_then_head_then_busy_then_idle_again() {
    let t = timeouts();
    let c = conn(false);
    let mut cl = Closing::default();
    let accept = c.idle_since.load(Ordering::Acquire);
    let base = c.listener.instant(accept);
    // Idle since accept: the keep-alive deadline.
    assert_eq!(
        decide(&c, &t, false, &mut cl, base),
        Next::WaitUntil(base + t.keep_alive)
    );
    assert_eq!(
        decide(&c, &t, false, &mut cl, base + t.keep_alive),
        Next::Cut
    );
    // A head starts at 2 s: the header deadline replaces it.
    c.on_read(c.listener.nanos(at(&c, 2)));
    assert_eq!(
        decide(&c, &t, false, &mut cl, at(&c, 2)),
        Next::WaitUntil(at(&c, 3))
    );
    assert_eq!(decide(&c, &t, false, &mut cl, at(&c, 3)), Next::Cut);
    // The request starts: only a stall counts, from the last byte moved.
    let req = InFlight::new(&c);
    assert_eq!(
        decide(&c, &t, false, &mut cl, at(&c, 3)),
        Next::WaitUntil(at(&c, 7))
    );
    // Bytes read while busy start no head.
    c.on_read(c.listener.nanos(at(&c, 4)));
    assert_eq!(c.head_started.load(Ordering::Acquire), 0);
    assert_eq!(
        decide(&c, &t, false, &mut cl, at(&c, 4)),
        Next::WaitUntil(at(&c, 9))
    );
    assert_eq!(decide(&c, &t, false, &mut cl, at(&c, 9)), Next::Cut);
    drop(req);
    let idle = c.listener.instant(c.idle_since.load(Ordering::Acquire));
    assert_eq!(
        decide(&c, &t, false, &mut cl, idle),
        Next::WaitUntil(idle + t.keep_alive)
    );
}

#[tokio::test]
async fn stopping_cuts_idle_http1_and_finishes_http2_or_busy() {
    let t = timeouts();
    let now = Instant::now();
    let h1 = conn(false);
    assert_eq!(
        decide(&h1, &t, true, &mut Closing::default(), now),
        Next::Cut
    );
    let busy = conn(false);
    let req = InFlight::new(&busy);
    let mut cl = Closing::default();
    assert_eq!(decide(&busy, &t, true, &mut cl, now), Next::Finish);
    cl.asked = true;
    let stall = busy.listener.instant(busy.last_io.load(Ordering::Acquire)) + t.stall;
    assert_eq!(
        decide(&busy, &t, true, &mut cl, now),
        Next::WaitUntil(stall)
    );
    // Its answer taken, the request no longer counts, but hyper may still be writing the answer
    // out before it ends the connection: only a stall cuts it.
    drop(req);
    assert_eq!(
        decide(&busy, &t, true, &mut cl, now),
        Next::WaitUntil(stall)
    );
    assert_eq!(decide(&busy, &t, true, &mut cl, stall), Next::Cut);
    // Likewise an answer that said it was the last before the connection's task saw the
    // shutdown (the listener of `conn` is shutting down: its signal's sender is gone).
    let answered = conn(false);
    let req = InFlight::new(&answered);
    assert!(req.answer_is_last());
    drop(req);
    let mut cl = Closing::default();
    assert_eq!(decide(&answered, &t, true, &mut cl, now), Next::Finish);
    cl.asked = true;
    assert!(matches!(
        decide(&answered, &t, true, &mut cl, now),
        Next::WaitUntil(at) if at > now
    ));
    // Likewise an answer made before, still on its way out (the socket was full).
    let writing = conn(false);
    writing.write_blocked(true);
    let mut cl = Closing::default();
    assert_eq!(decide(&writing, &t, true, &mut cl, now), Next::Finish);
    writing.write_blocked(false);
    assert_eq!(
        decide(&writing, &t, true, &mut Closing::default(), now),
        Next::Cut
    );

    let h2 = conn(true);
    h2.evict();
    let mut cl = Closing::default();
    assert_eq!(decide(&h2, &t, false, &mut cl, now), Next::Finish);
    cl.asked = true;
    // An idle HTTP/2 connection gets `header_read` to finish its GOAWAY, then is cut.
    assert_eq!(
        decide(&h2, &t, false, &mut cl, now),
        Next::WaitUntil(now + t.header_read)
    );
    assert_eq!(
        decide(&h2, &t, false, &mut cl, now + t.header_read),
        Next::Cut
    );
    // HTTP/2 bytes while idle start no header clock.
    h2.on_read(h2.listener.now());
    assert_eq!(h2.head_started.load(Ordering::Acquire), 0);
}

#[tokio::test]
async fn a_request_is_the_last_on_its_connection_once_shutdown_or_eviction_has_begun() {
    let (stop, stopped) = watch::channel(false);
    let listener = Arc::new(ListenerShared::new(stopped));
    let c = Arc::new(ConnShared::new(listener.clone(), false));
    let req = InFlight::new(&c);
    assert!(!req.answer_is_last());
    // Evicted while busy: this request is its last.
    c.evict();
    assert!(req.answer_is_last());
    // Shutdown: read from the signal itself, whether or not the connection's task saw it.
    let other = Arc::new(ConnShared::new(listener.clone(), true));
    let req = InFlight::new(&other);
    assert!(!req.answer_is_last());
    stop.send_replace(true);
    assert!(req.answer_is_last());
    // A sender gone is a shutdown too, as for the listener's accept loop.
    let (stop, stopped) = watch::channel(false);
    let c = Arc::new(ConnShared::new(
        Arc::new(ListenerShared::new(stopped)),
        false,
    ));
    let req = InFlight::new(&c);
    drop(stop);
    assert!(req.answer_is_last());
}

#[test]
fn the_preface_marks_http2() {
    for (bytes, proto) in [
        (&b"PRI * HTTP/2.0"[..], PROTO_H2),
        (b"POST /v1/traces", PROTO_H1),
        (b"PUT /", PROTO_H1),
        (b"GET /", PROTO_H1),
    ] {
        // Byte by byte and all at once.
        for chunk in [1, bytes.len()] {
            let p = AtomicU8::new(PROTO_UNKNOWN);
            let mut matched = Some(0);
            for part in bytes.chunks(chunk) {
                sniff(&mut matched, &p, part);
            }
            assert_eq!(p.load(Ordering::Acquire), proto, "{bytes:?}");
            assert_eq!(matched, None);
        }
    }
    let p = AtomicU8::new(PROTO_UNKNOWN);
    let mut matched = Some(0);
    sniff(&mut matched, &p, b"PR");
    assert_eq!(
        (p.load(Ordering::Acquire), matched),
        (PROTO_UNKNOWN, Some(2))
    );
}
