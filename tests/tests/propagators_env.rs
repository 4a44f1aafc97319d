//! `OTEL_PROPAGATORS` reaches the layers: after the set-up, server and client layers built
//! with their defaults extract and inject the formats the variable names. Its own test process,
//! since the set-up installs the global subscriber and the process-wide formats.

use std::convert::Infallible;
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use http::{HeaderMap, Request, Response};
use http_body_util::{BodyExt, Full};
use tower::{Layer, ServiceExt, service_fn};
use tracewire::propagation::Propagators;
use tracewire_tower::{HttpClientLayer, HttpServerLayer};

const B3_TRACE: &str = "80f198ee56343ba864fe8b2a57d3eff7";

#[tokio::test]
async fn the_layers_use_the_formats_otel_propagators_names() {
    let _guard = tracewire_otlp::setup()
        .env_lookup(|var| match var {
            "OTEL_PROPAGATORS" => Some("b3multi,baggage".to_owned()),
            "OTEL_TRACES_EXPORTER" => Some("none".to_owned()),
            _ => None,
        })
        .install()
        .unwrap();
    assert_eq!(
        Propagators::global().fields(),
        [
            "x-b3-traceid",
            "x-b3-spanid",
            "x-b3-parentspanid",
            "x-b3-sampled",
            "x-b3-flags",
            "baggage"
        ]
    );

    // A server layer built with its defaults continues a B3 caller's trace, and a client layer
    // built with its defaults, called from the handler, sends B3 headers, not `traceparent`.
    let sent = Arc::new(Mutex::new(HeaderMap::new()));
    let s = sent.clone();
    let downstream = HttpClientLayer::new().layer(service_fn(move |req: Request<Full<Bytes>>| {
        *s.lock().unwrap() = req.headers().clone();
        async { Ok::<_, Infallible>(Response::new(Full::new(Bytes::new()))) }
    }));
    let server = HttpServerLayer::new().layer(service_fn(move |_req: Request<Full<Bytes>>| {
        let downstream = downstream.clone();
        async move {
            let trace_id = tracewire::current().trace_id().unwrap().to_string();
            downstream
                .oneshot(Request::new(Full::new(Bytes::new())))
                .await
                .unwrap();
            Ok::<_, Infallible>(Response::new(Full::new(Bytes::from(trace_id))))
        }
    }));
    let request = Request::builder()
        .uri("/rides")
        .header("x-b3-traceid", B3_TRACE)
        .header("x-b3-spanid", "e457b5a2e4d86bd1")
        .header("x-b3-sampled", "1")
        .header(
            "traceparent",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
        )
        .body(Full::new(Bytes::new()))
        .unwrap();
    let response = server.oneshot(request).await.unwrap();
    let body = response.into_body().collect().await.unwrap().to_bytes();
    assert_eq!(
        body, B3_TRACE,
        "the B3 context was continued, not traceparent's"
    );
    let sent = sent.lock().unwrap();
    assert_eq!(sent["x-b3-traceid"], B3_TRACE);
    assert_eq!(sent["x-b3-sampled"], "1");
    assert!(sent.get("traceparent").is_none(), "{sent:?}");
}
