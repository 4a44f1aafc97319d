//! Who may talk to the collector: loopback `Host` names only on loopback binds (DNS rebinding),
//! the bearer token on every listener, the UI's sign-in cookie and security headers, and the
//! start-up warning for listeners beyond loopback.

mod common;

use std::net::SocketAddr;

use common::*;
use prost::Message;
use tonic::Code;
use tonic::metadata::MetadataValue;
use tracewire_collector::{Collector, CollectorError};

const PB: &str = "application/x-protobuf";
const CSP: &str = "default-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'";

fn body() -> Vec<u8> {
    request("access", vec![span(5, 1, 0, "root")]).encode_to_vec()
}

/// A `GET` with these headers (`Host` among them).
async fn get(addr: SocketAddr, path: &str, headers: &[(&str, &str)]) -> HttpResponse {
    http_async(addr, "GET", path, headers, b"").await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn loopback_listeners_answer_only_loopback_host_names() {
    let h = start_with(|b| b.allow_host("collector.test")).await;
    let (http, api) = (h.otlp_http_addr().unwrap(), h.api_addr().unwrap());
    let port = api.port().to_string();
    for host in [
        "localhost".to_owned(),
        format!("localhost:{port}"),
        format!("127.0.0.1:{port}"),
        format!("[::1]:{port}"),
        "collector.test".to_owned(),
    ] {
        let r = get(api, "/api/services", &[("Host", &host)]).await;
        assert_eq!(r.status, 200, "{host}");
    }
    // A page that rebinds its own name to 127.0.0.1 still sends its own name.
    let r = get(api, "/api/services", &[("Host", "rebind.example:16686")]).await;
    assert_eq!(r.status, 421);
    assert_eq!(
        r.text(),
        "host `rebind.example:16686` is not served here: this collector listens on loopback and \
         answers only localhost, 127.0.0.1 and [::1] (add names with --allow-host)\n"
    );
    assert_eq!(r.header("content-security-policy"), Some(CSP));
    let r = http_async(
        http,
        "POST",
        "/v1/traces",
        &[("Host", "rebind.example"), ("Content-Type", PB)],
        &body(),
    )
    .await;
    assert_eq!(
        r.status, 421,
        "spans cannot be injected through a rebound name"
    );
    h.flush().await;
    assert!(h.services().is_empty());
    // gRPC is not reachable from a page; its authority is not checked.
    let mut grpc = grpc_client(&h).await;
    grpc.export(request("grpc", vec![span(6, 1, 0, "r")]))
        .await
        .unwrap();
    h.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn beyond_loopback_every_host_is_answered_and_start_up_warns() {
    let any = SocketAddr::from(([0, 0, 0, 0], 0));
    let h = Collector::builder()
        .otlp_http_addr(None)
        .otlp_grpc_addr(None)
        .api_addr(any)
        .spawn()
        .await
        .unwrap();
    let port = h.api_addr().unwrap().port();
    assert_eq!(
        h.warnings(),
        [format!(
            "the api listener binds 0.0.0.0:{port}, beyond loopback: anyone who can reach it can \
             read traces and send spans (set an auth token)"
        )]
    );
    let api = SocketAddr::from(([127, 0, 0, 1], port));
    let r = get(api, "/api/services", &[("Host", "collector.example.com")]).await;
    assert_eq!(r.status, 200);
    h.shutdown().await;

    let h = Collector::builder()
        .otlp_http_addr(None)
        .otlp_grpc_addr(None)
        .api_addr(any)
        .auth_token("t0ken")
        .spawn()
        .await
        .unwrap();
    assert!(
        h.warnings()[0].ends_with(
            "beyond loopback: the token and the traces cross the network in clear text (set up TLS)"
        ),
        "{:?}",
        h.warnings()
    );
    h.shutdown().await;
    let h = builder().spawn().await.unwrap();
    assert!(h.warnings().is_empty());
    h.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_token_is_required_on_every_listener() {
    const TOKEN: &str = "s3cr3t-t0ken";
    let h = start_with(|b| b.auth_token(TOKEN)).await;
    let (http, api) = (h.otlp_http_addr().unwrap(), h.api_addr().unwrap());
    let bearer = format!("Bearer {TOKEN}");
    let unauthorized = "missing or wrong bearer token: send `authorization: Bearer <token>`\n";

    // OTLP/HTTP.
    for auth in [None, Some("Bearer wrong"), Some("Basic czNjcjN0LXQwa2Vu")] {
        let mut headers = vec![("Host", "localhost"), ("Content-Type", PB)];
        headers.extend(auth.map(|a| ("Authorization", a)));
        let r = http_async(http, "POST", "/v1/traces", &headers, &body()).await;
        assert_eq!(r.status, 401, "{auth:?}");
        assert_eq!(
            r.header("www-authenticate"),
            Some("Bearer realm=\"tracewire-collector\"")
        );
        assert_eq!(r.text(), unauthorized);
    }
    let r = http_async(
        http,
        "POST",
        "/v1/traces",
        &[
            ("Host", "localhost"),
            ("Content-Type", PB),
            ("Authorization", &bearer),
        ],
        &body(),
    )
    .await;
    assert_eq!(r.status, 200);

    // OTLP/gRPC.
    let mut grpc = grpc_client(&h).await;
    let err = grpc
        .export(request("grpc", vec![span(8, 1, 0, "r")]))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::Unauthenticated);
    assert_eq!(
        err.message(),
        "missing or wrong bearer token: send `authorization: Bearer <token>`"
    );
    let mut req = tonic::Request::new(request("grpc", vec![span(8, 1, 0, "r")]));
    req.metadata_mut()
        .insert("authorization", MetadataValue::try_from(&bearer).unwrap());
    grpc.export(req).await.unwrap();

    // The API and the UI.
    for path in [
        "/api/services",
        "/ui/",
        "/ui/assets/app.js",
        "/api/analysis/dependencies",
    ] {
        let r = get(api, path, &[("Host", "localhost")]).await;
        assert_eq!(r.status, 401, "{path}");
        assert_eq!(r.header("content-security-policy"), Some(CSP));
        let r = get(
            api,
            path,
            &[("Host", "localhost"), ("Authorization", &bearer)],
        )
        .await;
        assert_eq!(r.status, 200, "{path}");
    }
    h.flush().await;
    assert_eq!(h.services(), ["access", "grpc"]);
    h.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_browser_signs_in_once_and_then_carries_a_cookie() {
    let h = start_with(|b| b.auth_token("abc123")).await;
    let api = h.api_addr().unwrap();
    let r = get(api, "/ui/?service=x&token=abc123", &[("Host", "localhost")]).await;
    assert_eq!(r.status, 303);
    assert_eq!(r.header("location"), Some("/ui/?service=x"));
    assert_eq!(
        r.header("set-cookie"),
        Some("tracewire_token=abc123; Path=/; HttpOnly; SameSite=Strict")
    );
    let cookie = [("Host", "localhost"), ("Cookie", "tracewire_token=abc123")];
    for path in [
        "/ui/?service=x",
        "/api/analysis/dependencies",
        "/ui/assets/app.css",
    ] {
        assert_eq!(
            http_async(api, "GET", path, &cookie, b"").await.status,
            200,
            "{path}"
        );
    }
    // A wrong token signs no one in; the cookie means nothing to the receivers.
    let r = get(api, "/ui/?token=abc124", &[("Host", "localhost")]).await;
    assert_eq!(r.status, 401);
    let r = http_async(
        h.otlp_http_addr().unwrap(),
        "POST",
        "/v1/traces",
        &[
            ("Host", "localhost"),
            ("Content-Type", PB),
            ("Cookie", "tracewire_token=abc123"),
        ],
        &body(),
    )
    .await;
    assert_eq!(r.status, 401);
    h.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ui_and_api_answers_carry_the_security_headers() {
    let h = builder().spawn().await.unwrap();
    let api = h.api_addr().unwrap();
    for path in [
        "/ui/",
        "/ui/trace/00000000000000000000000000000abc",
        "/ui/assets/app.js",
        "/ui/assets/app.css",
        "/api/services",
        "/api/analysis/dependencies",
        "/no/such/page",
    ] {
        let r = get(api, path, &[("Host", "localhost")]).await;
        assert_eq!(r.header("content-security-policy"), Some(CSP), "{path}");
        assert_eq!(
            r.header("x-content-type-options"),
            Some("nosniff"),
            "{path}"
        );
    }
    // The page loads its script and style from files, never inline (the policy forbids it).
    let page = get(api, "/ui/", &[("Host", "localhost")]).await.text();
    assert!(
        page.contains("<script src=\"/ui/assets/app.js\"></script>"),
        "{page}"
    );
    assert!(
        !page.contains("<style") && !page.contains(" style="),
        "{page}"
    );
    let inline_handler = page.match_indices(" on").any(|(at, _)| {
        let rest = &page[at + 3..];
        let name_len = rest.bytes().take_while(u8::is_ascii_alphabetic).count();
        name_len > 0 && rest[name_len..].starts_with('=')
    });
    assert!(!inline_handler, "{page}");
    h.shutdown().await;
}

#[tokio::test]
async fn bad_settings_are_refused_at_start() {
    let e = builder().auth_token("has space").spawn().await.unwrap_err();
    assert!(matches!(e, CollectorError::InvalidAuthToken));
    assert_eq!(
        e.to_string(),
        "the auth token must be a b64token: letters, digits and -._~+/ with optional trailing ="
    );
    let e = builder()
        .max_request_bytes(4 << 20)
        .max_in_flight_bytes(1 << 20)
        .spawn()
        .await
        .unwrap_err();
    assert_eq!(
        e.to_string(),
        "the budget of request bytes in flight (1048576) is smaller than the largest request \
         (4194304)"
    );
}
