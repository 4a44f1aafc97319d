//! The conformance services driven the way the W3C Trace Context harness and the
//! interoperability suites drive them: the real binaries on `127.0.0.1:0`, a recording server
//! standing in for the harness, and the exact headers it receives checked against W3C Trace
//! Context (levels 1 and 2) and W3C Baggage.

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::body::Bytes;
use axum::http::{HeaderMap, Request, StatusCode, Uri};
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;

const TID: &str = "4bf92f3577b34da6a3ce929d0e0e4736";
const PID: &str = "00f067aa0ba902b7";

/// A service binary running on a free port; killed on drop.
struct Service {
    child: Child,
    addr: SocketAddr,
}

impl Service {
    fn start(exe: &str) -> Service {
        let mut child = Command::new(exe)
            .arg("0")
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("service starts");
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let addr = line
            .trim()
            .strip_prefix("listening on http://")
            .unwrap_or_else(|| panic!("unexpected first line {line:?}"))
            .parse()
            .unwrap();
        Service { child, addr }
    }

    fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }
}

impl Drop for Service {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[derive(Clone, Debug)]
struct Received {
    path: String,
    headers: HeaderMap,
    body: Bytes,
}

/// The harness's own server: records every request; `/status/N` answers N, others 200.
struct Harness {
    addr: SocketAddr,
    received: Arc<Mutex<Vec<Received>>>,
}

impl Harness {
    async fn start() -> Harness {
        let received = Arc::new(Mutex::new(Vec::new()));
        let r = received.clone();
        let app = Router::new().fallback(move |req: Request<axum::body::Body>| {
            let r = r.clone();
            async move {
                let (parts, body) = req.into_parts();
                let body = body.collect().await.unwrap().to_bytes();
                let path = parts.uri.path().to_owned();
                r.lock().unwrap().push(Received {
                    path: path.clone(),
                    headers: parts.headers,
                    body,
                });
                match path.strip_prefix("/status/") {
                    Some(code) => StatusCode::from_u16(code.parse().unwrap()).unwrap(),
                    None => StatusCode::OK,
                }
            }
        });
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await });
        Harness { addr, received }
    }

    fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    fn take(&self) -> Vec<Received> {
        std::mem::take(&mut *self.received.lock().unwrap())
    }
}

/// Sends a request with the given headers (repeated names are sent as repeated headers).
async fn send(method: &str, url: &str, headers: &[(&str, &str)], body: &str) -> StatusCode {
    let client = Client::builder(TokioExecutor::new()).build_http::<Full<Bytes>>();
    let mut req = Request::builder()
        .method(method)
        .uri(url.parse::<Uri>().unwrap());
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    let req = req.body(Full::new(Bytes::from(body.to_owned()))).unwrap();
    let res = client.request(req).await.unwrap();
    let status = res.status();
    res.into_body().collect().await.unwrap();
    status
}

fn values(h: &HeaderMap, name: &str) -> Vec<String> {
    h.get_all(name)
        .iter()
        .map(|v| v.to_str().unwrap().to_owned())
        .collect()
}

/// The one `traceparent` the harness received, split into its four fields.
fn traceparent(r: &Received) -> [String; 4] {
    let tps = values(&r.headers, "traceparent");
    assert_eq!(tps.len(), 1, "exactly one traceparent: {tps:?}");
    let parts: Vec<&str> = tps[0].split('-').collect();
    assert_eq!(parts.len(), 4, "{}", tps[0]);
    assert_eq!(parts[0], "00");
    assert_eq!(parts[1].len(), 32);
    assert_eq!(parts[2].len(), 16);
    assert_eq!(parts[3].len(), 2);
    assert!(
        tps[0]
            .bytes()
            .all(|b| b == b'-' || b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
    );
    assert_ne!(parts[1], "0".repeat(32));
    assert_ne!(parts[2], "0".repeat(16));
    [0, 1, 2, 3].map(|i| parts[i].to_owned())
}

/// One `POST /test` with one callback to the harness; returns what the harness received.
async fn w3c_case(svc: &Service, harness: &Harness, headers: &[(&str, &str)]) -> Received {
    let body = format!(
        r#"[{{"url": "{}", "arguments": [1, "x"]}}]"#,
        harness.url("/cb")
    );
    let status = send("POST", &svc.url("/test"), headers, &body).await;
    assert_eq!(status, StatusCode::OK);
    let mut got = harness.take();
    assert_eq!(got.len(), 1, "{got:?}");
    got.remove(0)
}

#[tokio::test]
async fn w3c_test_service_trace_context() {
    let svc = Service::start(env!("CARGO_BIN_EXE_w3c-test-service"));
    let harness = Harness::start().await;
    assert_eq!(
        send("GET", &svc.url("/health"), &[], "").await,
        StatusCode::OK
    );

    // Valid, sampled and unsampled: same trace, a new parent id, the sampled bit kept.
    for flags in ["00", "01", "02", "03"] {
        let tp = format!("00-{TID}-{PID}-{flags}");
        let r = w3c_case(&svc, &harness, &[("traceparent", &tp)]).await;
        let [_, trace, parent, out_flags] = traceparent(&r);
        assert_eq!(trace, TID);
        assert_ne!(parent, PID);
        assert_eq!(out_flags, flags, "inbound {tp}");
        assert!(values(&r.headers, "tracestate").is_empty());
        assert_eq!(values(&r.headers, "content-type"), ["application/json"]);
        assert_eq!(r.body, r#"[1,"x"]"#);
    }

    // No traceparent: a fresh, valid, random, sampled trace.
    let r = w3c_case(&svc, &harness, &[("tracestate", "foo=1")]).await;
    let [_, trace, _, flags] = traceparent(&r);
    assert_ne!(trace, TID);
    assert_eq!(flags, "03");
    assert!(values(&r.headers, "tracestate").is_empty());

    // Invalid traceparents restart the trace and drop the tracestate.
    let invalid = [
        format!("ff-{TID}-{PID}-01"),
        format!("00-{TID}-{PID}-01-extra"),
        format!("00-{}-{PID}-01", TID.to_uppercase()),
        format!("00-{}-{PID}-01", "0".repeat(32)),
        format!("00-{TID}-{}-01", "0".repeat(16)),
        format!("00-{TID}-{PID}-0g"),
        format!("00-{TID}-{PID}"),
        format!("00_{TID}_{PID}_01"),
        format!("0-{TID}-{PID}-01"),
        format!("00-{}-{PID}-01", &TID[..31]),
        format!("cc-{TID}-{PID}-01.what-the-future-will-not-be-like"),
        format!("00-{TID}-{PID}-01{}", "-x".repeat(400)),
    ];
    for tp in &invalid {
        let r = w3c_case(
            &svc,
            &harness,
            &[("traceparent", tp), ("tracestate", "foo=1")],
        )
        .await;
        let [_, trace, _, flags] = traceparent(&r);
        assert_ne!(trace, TID, "{tp}");
        assert_eq!(flags, "03", "{tp}");
        assert!(values(&r.headers, "tracestate").is_empty(), "{tp}");
    }

    // Two different traceparent headers: restart.
    let r = w3c_case(
        &svc,
        &harness,
        &[
            ("traceparent", &format!("00-{TID}-{PID}-01")),
            ("traceparent", &format!("00-{}-{PID}-01", "1".repeat(32))),
        ],
    )
    .await;
    let [_, trace, _, _] = traceparent(&r);
    assert!(trace != TID && trace != "1".repeat(32));

    // A higher version is parsed by its version-00 prefix; we answer with version 00.
    let r = w3c_case(
        &svc,
        &harness,
        &[
            (
                "traceparent",
                &format!("cc-{TID}-{PID}-01-what-the-future-will-be-like"),
            ),
            ("tracestate", "foo=bar"),
        ],
    )
    .await;
    let [version, trace, _, flags] = traceparent(&r);
    assert_eq!(
        (version.as_str(), trace.as_str(), flags.as_str()),
        ("00", TID, "01")
    );
    assert_eq!(values(&r.headers, "tracestate"), ["foo=bar"]);
}

#[tokio::test]
async fn w3c_test_service_tracestate() {
    let svc = Service::start(env!("CARGO_BIN_EXE_w3c-test-service"));
    let harness = Harness::start().await;
    let tp = format!("00-{TID}-{PID}-00");

    // Repeated headers are combined, in order, into one.
    let r = w3c_case(
        &svc,
        &harness,
        &[
            ("traceparent", &tp),
            ("tracestate", "foo=1, bar=2"),
            ("tracestate", "baz=3"),
        ],
    )
    .await;
    assert_eq!(traceparent(&r)[1], TID);
    assert_eq!(values(&r.headers, "tracestate"), ["foo=1,bar=2,baz=3"]);

    // Bad keys, bad values: the tracestate is dropped, the trace goes on.
    for ts in ["FOO=1", "foo=a=b", "foo", "foo=1,,,=2", "@a=1"] {
        let r = w3c_case(&svc, &harness, &[("traceparent", &tp), ("tracestate", ts)]).await;
        assert_eq!(traceparent(&r)[1], TID, "{ts}");
        assert!(values(&r.headers, "tracestate").is_empty(), "{ts}");
    }

    // The current key grammar ('@' anywhere after the first character) and duplicated keys
    // (the first value stays) keep the tracestate.
    for (ts, kept) in [
        ("foo=1,foo=2", "foo=1"),
        ("a@b@c=1", "a@b@c=1"),
        ("foo@=1,bar=2", "foo@=1,bar=2"),
    ] {
        let r = w3c_case(&svc, &harness, &[("traceparent", &tp), ("tracestate", ts)]).await;
        assert_eq!(traceparent(&r)[1], TID, "{ts}");
        assert_eq!(values(&r.headers, "tracestate"), [kept], "{ts}");
    }

    // Multi-tenant keys and empty members are fine.
    let r = w3c_case(
        &svc,
        &harness,
        &[
            ("traceparent", &tp),
            ("tracestate", "t@sys=1,,rojo=00f067aa0ba902b7"),
        ],
    )
    .await;
    assert_eq!(
        values(&r.headers, "tracestate"),
        ["t@sys=1,rojo=00f067aa0ba902b7"]
    );

    // 32 members pass; 33 are over the limit and dropped.
    let members = |n: usize| {
        (1..=n)
            .map(|i| format!("bar{i:02}={i:02}"))
            .collect::<Vec<_>>()
            .join(",")
    };
    let r = w3c_case(
        &svc,
        &harness,
        &[("traceparent", &tp), ("tracestate", &members(32))],
    )
    .await;
    assert_eq!(values(&r.headers, "tracestate"), [members(32)]);
    let r = w3c_case(
        &svc,
        &harness,
        &[("traceparent", &tp), ("tracestate", &members(33))],
    )
    .await;
    assert_eq!(traceparent(&r)[1], TID);
    assert!(values(&r.headers, "tracestate").is_empty());
}

#[tokio::test]
async fn w3c_test_service_calls_in_order_with_distinct_spans() {
    let svc = Service::start(env!("CARGO_BIN_EXE_w3c-test-service"));
    let harness = Harness::start().await;
    let body = format!(
        r#"[{{"url": "{0}", "arguments": {{"a": 1}}}},
            {{"url": "{1}", "ignored": true}},
            {{"url": "http://127.0.0.1:1/unreachable", "arguments": []}},
            {{"url": "{2}", "arguments": [[]]}}]"#,
        harness.url("/one"),
        harness.url("/status/500"),
        harness.url("/three"),
    );
    let tp = format!("00-{TID}-{PID}-01");
    let status = send(
        "POST",
        &svc.url("/test"),
        &[
            ("traceparent", &tp),
            ("tracestate", "k=v"),
            ("baggage", "b=1"),
        ],
        &body,
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let got = harness.take();
    let paths: Vec<&str> = got.iter().map(|r| r.path.as_str()).collect();
    assert_eq!(paths, ["/one", "/status/500", "/three"]);
    let bodies: Vec<&[u8]> = got.iter().map(|r| &r.body[..]).collect();
    assert_eq!(bodies, [&b"{\"a\":1}"[..], b"[]", b"[[]]"]);
    let mut parents: Vec<String> = got
        .iter()
        .map(|r| {
            let [_, trace, parent, _] = traceparent(r);
            assert_eq!(trace, TID);
            assert_eq!(values(&r.headers, "tracestate"), ["k=v"]);
            assert_eq!(values(&r.headers, "baggage"), ["b=1"]);
            parent
        })
        .collect();
    parents.sort();
    parents.dedup();
    assert_eq!(parents.len(), 3, "a distinct client span per call");
}

/// `http://hop/hop?next=<url>`, percent-encoded.
fn hop_url(hop: &Service, next: &str) -> String {
    let mut enc = String::new();
    for b in next.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
            enc.push(b as char);
        } else {
            enc.push_str(&format!("%{b:02X}"));
        }
    }
    hop.url(&format!("/hop?next={enc}"))
}

#[tokio::test]
async fn hop_service_chained_to_itself_keeps_the_context() {
    let hop = Service::start(env!("CARGO_BIN_EXE_hop-service"));
    let harness = Harness::start().await;
    let url = hop_url(&hop, &hop_url(&hop, &harness.url("/end")));
    let baggage = "userId=alice,serverNode=DF%2028,isProduction=false;p=1,check=%E2%9C%93";
    for flags in ["00", "01"] {
        let tp = format!("00-{TID}-{PID}-{flags}");
        let status = send(
            "GET",
            &url,
            &[
                ("traceparent", &tp),
                ("tracestate", "congo=t61rcWkgMzE,rojo=00f067aa0ba902b7"),
                ("baggage", baggage),
            ],
            "",
        )
        .await;
        assert_eq!(status, StatusCode::OK);
        let got = harness.take();
        assert_eq!(got.len(), 1, "exactly one call reaches the end");
        let [_, trace, parent, out_flags] = traceparent(&got[0]);
        assert_eq!(trace, TID);
        assert_ne!(parent, PID);
        assert_eq!(out_flags, flags);
        assert_eq!(
            values(&got[0].headers, "tracestate"),
            ["congo=t61rcWkgMzE,rojo=00f067aa0ba902b7"]
        );
        assert_eq!(values(&got[0].headers, "baggage"), [baggage]);
    }

    // Nothing inbound: a fresh valid trace.
    assert_eq!(send("GET", &url, &[], "").await, StatusCode::OK);
    let got = harness.take();
    let [_, trace, _, flags] = traceparent(&got[0]);
    assert_ne!(trace, TID);
    assert_eq!(flags, "03");
    assert!(values(&got[0].headers, "baggage").is_empty());
}

#[tokio::test]
async fn hop_service_status_and_concurrency() {
    let hop = Service::start(env!("CARGO_BIN_EXE_hop-service"));
    let harness = Harness::start().await;
    assert_eq!(
        send("GET", &hop.url("/hop"), &[], "").await,
        StatusCode::BAD_REQUEST
    );
    assert_eq!(
        send("GET", &hop_url(&hop, "/relative"), &[], "").await,
        StatusCode::BAD_REQUEST
    );
    assert_eq!(
        send("GET", &hop_url(&hop, &harness.url("/status/500")), &[], "").await,
        StatusCode::BAD_GATEWAY
    );
    assert_eq!(
        send("GET", &hop_url(&hop, &harness.url("/status/204")), &[], "").await,
        StatusCode::OK
    );
    assert_eq!(
        send("GET", &hop_url(&hop, "http://127.0.0.1:1/"), &[], "").await,
        StatusCode::BAD_GATEWAY
    );
    harness.take();

    // Concurrent chained requests each keep their own trace.
    let url = hop_url(&hop, &hop_url(&hop, &harness.url("/end")));
    let mut tasks = Vec::new();
    for i in 0..16u32 {
        let url = url.clone();
        tasks.push(tokio::spawn(async move {
            let tid = format!("{:032x}", 0xabc0_0000u128 + u128::from(i) + 1);
            let tp = format!("00-{tid}-{PID}-01");
            let baggage = format!("req={i}");
            let status = send(
                "GET",
                &url,
                &[("traceparent", &tp), ("baggage", &baggage)],
                "",
            )
            .await;
            assert_eq!(status, StatusCode::OK);
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    let got = harness.take();
    assert_eq!(got.len(), 16);
    for r in &got {
        let [_, trace, _, _] = traceparent(r);
        let i = u128::from_str_radix(&trace, 16).unwrap() - 0xabc0_0000 - 1;
        assert_eq!(values(&r.headers, "baggage"), [format!("req={i}")]);
    }
}
