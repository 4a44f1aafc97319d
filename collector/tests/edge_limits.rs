//! The collector's network edge under slow, idle and greedy clients: header, body, keep-alive
//! and stall timeouts, the per-listener connection cap, the budget of request bytes in flight,
//! and the shutdown deadline. Timeouts are set to a few hundred milliseconds; waits are bounded
//! and only run out when a limit is missing.

mod common;

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use bytes::Bytes;
use common::*;
use http_body_util::BodyExt;
use http_body_util::channel::{Channel, Sender};
use hyper_util::rt::{TokioExecutor, TokioIo};
use prost::Message;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tonic::Code;

const PB: &str = "application/x-protobuf";
const EXPORT: &str = "/opentelemetry.proto.collector.trace.v1.TraceService/Export";
/// How long a test waits for something that must happen; only reached when it does not.
const PATIENCE: Duration = Duration::from_secs(10);

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

/// Reads until the server closes the connection; `None` when it is still open after `within`.
async fn until_closed(s: &mut TcpStream, within: Duration) -> Option<Vec<u8>> {
    let mut out = Vec::new();
    let read_all = async {
        let mut buf = [0u8; 8192];
        loop {
            match s.read(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(n) => out.extend_from_slice(&buf[..n]),
            }
        }
    };
    tokio::time::timeout(within, read_all).await.ok()?;
    Some(out)
}

/// Reads one `Content-Length` response off a kept-alive connection.
async fn one_response(s: &mut TcpStream) -> HttpResponse {
    let mut raw = Vec::new();
    let mut buf = [0u8; 8192];
    loop {
        let n = tokio::time::timeout(PATIENCE, s.read(&mut buf))
            .await
            .expect("no response")
            .unwrap();
        assert!(n > 0, "closed before a response");
        raw.extend_from_slice(&buf[..n]);
        if let Some(end) = raw.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = parse_response(&raw[..end + 4]);
            let len: usize = head
                .header("content-length")
                .map_or(0, |v| v.parse().unwrap());
            if raw.len() >= end + 4 + len {
                return parse_response(&raw);
            }
        }
    }
}

/// A request head for `POST /v1/traces` declaring `len` body bytes.
fn post_head(len: usize) -> String {
    format!(
        "POST /v1/traces HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: {PB}\r\nContent-Length: {len}\r\n\r\n"
    )
}

fn small_request() -> Vec<u8> {
    request("edge", vec![span(7, 1, 0, "root")]).encode_to_vec()
}

/// A valid request of more than `min` bytes.
fn request_over(min: usize) -> Vec<u8> {
    let mut spans = Vec::new();
    for i in 1.. {
        let mut s = span(9, i, 0, "bulk");
        s.attributes.push(kv("pad", common::s(&"x".repeat(200))));
        spans.push(s);
        let body = request("edge", spans.clone()).encode_to_vec();
        if body.len() > min {
            return body;
        }
    }
    unreachable!()
}

async fn post(addr: SocketAddr, body: Vec<u8>) -> HttpResponse {
    http_async(addr, "POST", "/v1/traces", &[("Content-Type", PB)], &body).await
}

/// Waits until `f` holds.
async fn eventually(what: &str, mut f: impl FnMut() -> bool) {
    let start = Instant::now();
    while !f() {
        assert!(start.elapsed() < PATIENCE, "never: {what}");
        tokio::time::sleep(ms(5)).await;
    }
}

/// Open file descriptors of this process (the collector runs in it).
fn open_fds() -> usize {
    std::fs::read_dir("/proc/self/fd").unwrap().count()
}

/// A raw HTTP/2 client: gRPC with a body the test writes frame by frame.
async fn h2_export(
    addr: SocketAddr,
) -> (
    Sender<Bytes>,
    tokio::task::JoinHandle<http::Response<Bytes>>,
) {
    let io = TokioIo::new(TcpStream::connect(addr).await.unwrap());
    let (mut send, conn) = hyper::client::conn::http2::handshake(TokioExecutor::new(), io)
        .await
        .unwrap();
    tokio::spawn(conn);
    let (tx, body) = Channel::<Bytes>::new(4);
    let req = http::Request::post(format!("http://{addr}{EXPORT}"))
        .header("content-type", "application/grpc")
        .header("te", "trailers")
        .body(body)
        .unwrap();
    let task = tokio::spawn(async move {
        let resp = send.send_request(req).await.unwrap();
        let (mut parts, body) = resp.into_parts();
        let collected = body.collect().await.unwrap();
        if let Some(trailers) = collected.trailers() {
            parts.headers.extend(trailers.clone());
        }
        http::Response::from_parts(parts, collected.to_bytes())
    });
    (tx, task)
}

/// A gRPC message prefix declaring `len` bytes, uncompressed.
fn grpc_prefix(len: u32) -> Bytes {
    let mut b = vec![0u8];
    b.extend_from_slice(&len.to_be_bytes());
    Bytes::from(b)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_half_sent_head_is_closed_after_the_header_timeout() {
    let h = start_with(|b| b.header_read_timeout(ms(200))).await;
    for addr in [h.otlp_http_addr().unwrap(), h.api_addr().unwrap()] {
        let mut s = TcpStream::connect(addr).await.unwrap();
        let start = Instant::now();
        s.write_all(b"POST /v1/traces HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Ty")
            .await
            .unwrap();
        let answer = until_closed(&mut s, PATIENCE)
            .await
            .expect("a half-sent head is held open");
        assert!(start.elapsed() >= ms(200), "closed before the timeout");
        assert_eq!(
            String::from_utf8_lossy(&answer),
            "",
            "no answer to an unfinished head"
        );
    }
    // Complete requests are still served.
    assert_eq!(
        post(h.otlp_http_addr().unwrap(), small_request())
            .await
            .status,
        200
    );
    h.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idle_connections_close_after_the_keep_alive_timeout() {
    let h = start_with(|b| b.header_read_timeout(ms(100)).keep_alive_timeout(ms(600))).await;
    let api = h.api_addr().unwrap();
    // Each instant is taken before what starts the server's clock (accept, the request).
    // A connection that never sends a byte.
    let opened = Instant::now();
    let mut silent = TcpStream::connect(api).await.unwrap();
    // A kept-alive connection after one request: it outlives the header timeout.
    let mut kept = TcpStream::connect(api).await.unwrap();
    let answered = Instant::now();
    kept.write_all(b"GET /api/services HTTP/1.1\r\nHost: localhost\r\n\r\n")
        .await
        .unwrap();
    assert_eq!(one_response(&mut kept).await.status, 200);
    assert_eq!(
        until_closed(&mut kept, ms(300)).await,
        None,
        "closed while idle for less than the keep-alive timeout"
    );
    let rest = until_closed(&mut kept, PATIENCE)
        .await
        .expect("an idle kept-alive connection is held open");
    assert!(rest.is_empty());
    assert!(answered.elapsed() >= ms(600));
    until_closed(&mut silent, PATIENCE)
        .await
        .expect("a silent connection is held open");
    assert!(opened.elapsed() >= ms(600));
    h.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_body_is_cut_at_the_body_timeout_over_http_and_grpc() {
    let h = start_with(|b| b.body_read_timeout(ms(400))).await;
    // HTTP: one byte every 20 ms, so the connection is never stalled, only slow.
    let s = TcpStream::connect(h.otlp_http_addr().unwrap())
        .await
        .unwrap();
    let (mut rd, mut wr) = s.into_split();
    wr.write_all(post_head(1000).as_bytes()).await.unwrap();
    let drip = tokio::spawn(async move {
        for _ in 0..999 {
            if wr.write_all(b"x").await.is_err() {
                return;
            }
            tokio::time::sleep(ms(20)).await;
        }
    });
    let mut raw = Vec::new();
    tokio::time::timeout(PATIENCE, rd.read_to_end(&mut raw))
        .await
        .expect("a slow body is read forever")
        .ok();
    drip.abort();
    let r = parse_response(&raw);
    assert_eq!(r.status, 408);
    assert_eq!(r.header("connection"), Some("close"));
    assert_eq!(
        rpc_status(&r.body),
        (4, "request body not received within 400 ms".to_owned())
    );

    // gRPC: the message is declared and never finished.
    let (mut tx, resp) = h2_export(h.otlp_grpc_addr().unwrap()).await;
    tx.send_data(grpc_prefix(1000)).await.unwrap();
    tx.send_data(Bytes::from_static(b"\x0a")).await.unwrap();
    let resp = tokio::time::timeout(PATIENCE, resp)
        .await
        .expect("a slow gRPC body is read forever")
        .unwrap();
    assert_eq!(resp.headers()["grpc-status"], "4");
    assert_eq!(
        resp.headers()["grpc-message"],
        "request%20body%20not%20received%20within%20400%20ms"
    );
    drop(tx);
    eventually("the budget is given back", || h.bytes_in_flight() == 0).await;
    h.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_request_that_stops_moving_is_cut_at_the_stall_timeout() {
    let h = start_with(|b| b.stall_timeout(ms(300))).await;
    let mut s = TcpStream::connect(h.otlp_http_addr().unwrap())
        .await
        .unwrap();
    // Before the last bytes are written: the server's clock starts when it reads them.
    let start = Instant::now();
    s.write_all(post_head(1000).as_bytes()).await.unwrap();
    s.write_all(&[0u8; 10]).await.unwrap();
    let answer = until_closed(&mut s, PATIENCE)
        .await
        .expect("a stalled request is held forever");
    assert!(start.elapsed() >= ms(300));
    assert_eq!(String::from_utf8_lossy(&answer), "");
    eventually("the budget is given back", || h.bytes_in_flight() == 0).await;
    h.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idle_sockets_beyond_the_cap_hold_no_descriptors_and_lock_out_no_one() {
    const CAP: usize = 8;
    const IDLE: usize = 300;
    let h = start_with(|b| b.max_connections(CAP)).await;
    let (http, api) = (h.otlp_http_addr().unwrap(), h.api_addr().unwrap());
    let before = open_fds();
    let mut idle = Vec::new();
    for _ in 0..IDLE {
        idle.push(TcpStream::connect(http).await.unwrap());
        idle.push(TcpStream::connect(api).await.unwrap());
    }
    // This process holds the clients' sockets; the collector may hold at most CAP + 1 per
    // listener (the newcomer waiting for a slot).
    let bound = before + 2 * IDLE + 2 * (CAP + 1) + 8;
    eventually(
        "the collector closes idle connections beyond its cap",
        || open_fds() <= bound,
    )
    .await;
    // A new client is served at once, on both listeners.
    let r = tokio::time::timeout(PATIENCE, post(http, small_request()))
        .await
        .expect("the OTLP receiver is unreachable");
    assert_eq!(r.status, 200);
    let (status, _) = tokio::time::timeout(PATIENCE, get_json(api, "/api/services"))
        .await
        .expect("the API is unreachable");
    assert_eq!(status, 200);
    drop(idle);
    h.shutdown().await;
}

/// Two connections that each declare a 100-byte body and send one byte of it, once the
/// collector holds both bytes.
async fn two_bodies_of_one_byte(h: &tracewire_collector::CollectorHandle) -> Vec<TcpStream> {
    let http = h.otlp_http_addr().unwrap();
    let mut busy = Vec::new();
    for _ in 0..2 {
        let mut s = TcpStream::connect(http).await.unwrap();
        s.write_all(post_head(100).as_bytes()).await.unwrap();
        s.write_all(b"x").await.unwrap();
        busy.push(s);
    }
    eventually("both requests are reading their bodies", || {
        h.bytes_in_flight() == 2
    })
    .await;
    busy
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn at_the_cap_with_every_connection_busy_a_newcomer_waits_for_a_slot() {
    let h = start_with(|b| b.max_connections(2).body_read_timeout(ms(500))).await;
    let http = h.otlp_http_addr().unwrap();
    // Before the busy requests: their body deadlines fall 500 ms after this at the earliest.
    let start = Instant::now();
    let busy = two_bodies_of_one_byte(&h).await;
    let r = tokio::time::timeout(PATIENCE, post(http, small_request()))
        .await
        .expect("the newcomer was never served");
    assert_eq!(r.status, 200);
    // Served once a busy connection ended (at its body timeout), not refused.
    assert!(start.elapsed() >= ms(500), "{:?}", start.elapsed());
    for mut s in busy {
        let raw = until_closed(&mut s, PATIENCE).await.unwrap();
        assert_eq!(parse_response(&raw).status, 408);
    }
    h.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn at_the_cap_a_body_that_trickles_in_is_cut_to_make_room() {
    // The default body read timeout (30 s): without the cut, the newcomer would wait for it.
    let h = start_with(|b| b.max_connections(2)).await;
    let http = h.otlp_http_addr().unwrap();
    let mut busy = two_bodies_of_one_byte(&h).await;
    let r = tokio::time::timeout(PATIENCE, post(http, small_request()))
        .await
        .expect("the newcomer was never served");
    assert_eq!(r.status, 200);
    // One trickling body was cut without an answer; the other is still being received.
    let mut closed = 0;
    for s in &mut busy {
        if let Some(raw) = until_closed(s, ms(200)).await {
            assert_eq!(raw, b"", "a cut connection gets no answer");
            closed += 1;
        }
    }
    assert_eq!(closed, 1);
    assert_eq!(h.bytes_in_flight(), 1);
    h.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_bytes_in_flight_budget_answers_429_and_recovers() {
    const BUDGET: usize = 64 << 10;
    let h = start_with(|b| b.max_request_bytes(BUDGET).max_in_flight_bytes(BUDGET)).await;
    let http = h.otlp_http_addr().unwrap();
    // A client declares 60,001 bytes and sends all but the last: what arrived is held.
    let mut holder = TcpStream::connect(http).await.unwrap();
    holder
        .write_all(post_head(60_001).as_bytes())
        .await
        .unwrap();
    holder.write_all(&[0u8; 60_000]).await.unwrap();
    eventually("the bytes received are held", || {
        h.bytes_in_flight() == 60_000
    })
    .await;

    let big = request_over(BUDGET - 60_000);
    let message =
        "the collector is already holding its budget of 65536 bytes of request data; retry later";
    let r = post(http, big.clone()).await;
    assert_eq!(r.status, 429);
    assert_eq!(r.header("retry-after"), Some("1"));
    assert_eq!(rpc_status(&r.body), (8, message.to_owned()));
    // gRPC (no declared length: frames are counted as they arrive).
    let decoded =
        opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest::decode(
            &big[..],
        )
        .unwrap();
    let mut grpc = grpc_client(&h).await;
    let err = grpc.export(decoded.clone()).await.unwrap_err();
    assert_eq!(
        (err.code(), err.message()),
        (Code::ResourceExhausted, message)
    );
    // What fits still goes through.
    assert_eq!(post(http, small_request()).await.status, 200);
    assert_eq!(h.bytes_in_flight(), 60_000);

    // The holder goes away: its bytes are given back, and the big request fits.
    drop(holder);
    eventually("the budget is given back", || h.bytes_in_flight() == 0).await;
    assert_eq!(post(http, big).await.status, 200);
    grpc.export(decoded).await.unwrap();
    assert_eq!(h.bytes_in_flight(), 0);
    h.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_closes_idle_connections_at_once_and_cuts_the_rest_at_its_deadline() {
    let h = start_with(|b| b.shutdown_timeout(ms(400))).await;
    let (http, api) = (h.otlp_http_addr().unwrap(), h.api_addr().unwrap());
    // Idle: silent sockets on every listener, a kept-alive HTTP/1.1 connection, a gRPC channel.
    let mut silent = Vec::new();
    for a in [http, api, h.otlp_grpc_addr().unwrap()] {
        silent.push(TcpStream::connect(a).await.unwrap());
    }
    let mut kept = TcpStream::connect(api).await.unwrap();
    kept.write_all(b"GET /api/services HTTP/1.1\r\nHost: localhost\r\n\r\n")
        .await
        .unwrap();
    assert_eq!(one_response(&mut kept).await.status, 200);
    let mut grpc = grpc_client(&h).await;
    grpc.export(request("edge", vec![span(3, 1, 0, "r")]))
        .await
        .unwrap();
    // In flight: a body that never finishes.
    let mut stuck = TcpStream::connect(http).await.unwrap();
    stuck.write_all(post_head(100).as_bytes()).await.unwrap();
    stuck.write_all(&[0u8; 99]).await.unwrap();
    eventually("the request is in flight", || h.bytes_in_flight() == 99).await;

    let start = Instant::now();
    tokio::time::timeout(PATIENCE, h.shutdown())
        .await
        .expect("shutdown hangs");
    assert!(
        start.elapsed() >= ms(400),
        "the in-flight request got its deadline"
    );
    for s in silent.iter_mut().chain([&mut kept, &mut stuck]) {
        until_closed(s, PATIENCE)
            .await
            .expect("left open after shutdown");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_in_flight_request_finishes_during_shutdown() {
    let h = builder().spawn().await.unwrap();
    let http = h.otlp_http_addr().unwrap();
    let mut idle = TcpStream::connect(http).await.unwrap();
    let body = small_request();
    let mut s = TcpStream::connect(http).await.unwrap();
    s.write_all(post_head(body.len()).as_bytes()).await.unwrap();
    s.write_all(&body[..5]).await.unwrap();
    eventually("the request is in flight", || h.bytes_in_flight() == 5).await;
    let shutdown = tokio::spawn(h.shutdown());
    // Idle connections go at once, which also says shutdown has begun.
    until_closed(&mut idle, PATIENCE)
        .await
        .expect("an idle connection outlives shutdown");
    s.write_all(&body[5..]).await.unwrap();
    let mut raw = Vec::new();
    tokio::time::timeout(PATIENCE, s.read_to_end(&mut raw))
        .await
        .unwrap()
        .unwrap();
    let r = parse_response(&raw);
    assert_eq!(r.status, 200);
    assert_eq!(r.header("connection"), Some("close"));
    tokio::time::timeout(PATIENCE, shutdown)
        .await
        .expect("shutdown hangs")
        .unwrap();
}
