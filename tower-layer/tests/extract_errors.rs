//! A malformed, oversized or hostile inbound trace header never fails a request: it starts a
//! fresh root and is counted once in `tracewire::diagnostics`.
//!
//! The counter is process-wide, so this file holds a single test: no other test in this
//! process can bump it between the readings, and the counts are exact.

use std::convert::Infallible;

use http::{Request, Response};
use tower::{Layer, ServiceExt, service_fn};
use tracewire::diagnostics::extract_errors;
use tracewire::testing::Recorder;
use tracewire_tower::HttpServerLayer;

const TRACE_ID: &str = "4bf92f3577b34da6a3ce929d0e0e4736";
const SAMPLED: &str = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";

/// Serves one request, returning the trace id of its server span.
async fn serve(headers: &[(&'static str, &str)]) -> String {
    let recorder = Recorder::new();
    let _guard = recorder.set_default();
    let mut req = Request::new(String::new());
    for (name, value) in headers {
        req.headers_mut().append(*name, value.parse().unwrap());
    }
    let svc = service_fn(|_req: Request<String>| async {
        Ok::<_, Infallible>(Response::new(String::new()))
    });
    let res = HttpServerLayer::new()
        .layer(svc)
        .oneshot(req)
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    drop(res);
    recorder.span("GET").trace_id().to_string()
}

#[tokio::test]
async fn bad_headers_start_a_fresh_root_and_are_counted_once() {
    let long = format!("{SAMPLED}{}", "-x".repeat(600));
    let bad: [&[(&'static str, &str)]; 6] = [
        &[("traceparent", "garbage")],
        &[(
            "traceparent",
            "00-00000000000000000000000000000000-00f067aa0ba902b7-01",
        )],
        &[(
            "traceparent",
            "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
        )],
        &[(
            "traceparent",
            "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01",
        )],
        &[
            ("traceparent", SAMPLED),
            (
                "traceparent",
                "00-11111111111111111111111111111111-00f067aa0ba902b7-01",
            ),
        ],
        &[("traceparent", &long)],
    ];
    for headers in bad {
        let before = extract_errors();
        let trace_id = serve(headers).await;
        assert_ne!(trace_id, TRACE_ID, "{headers:?}");
        assert_eq!(extract_errors(), before + 1, "{headers:?}");
    }
    let good: [&[(&'static str, &str)]; 3] = [
        &[],
        &[("traceparent", SAMPLED)],
        &[("traceparent", SAMPLED), ("baggage", "user=alice")],
    ];
    for headers in good {
        let before = extract_errors();
        let trace_id = serve(headers).await;
        assert_eq!(trace_id == TRACE_ID, !headers.is_empty(), "{headers:?}");
        assert_eq!(extract_errors(), before, "{headers:?}");
    }
}
