//! Exporter → receiver round trips over OTLP/HTTP protobuf, OTLP/HTTP JSON and OTLP/gRPC, with
//! exact checks of what arrives.

mod common;

use std::time::Duration;

use common::{Captured, Receiver, batch, resource};
use tracewire::export::{Pipeline, SpanExporter};
use tracewire_otlp::convert::to_request;
use tracewire_otlp::proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use tracewire_otlp::proto::tonic::common::v1::any_value::Value as AnyValue;
use tracewire_otlp::{Compression, OtlpExporter, OtlpExporterBuilder, Protocol, RetryPolicy};

/// Checks the received message field by field (independently of `to_request`), then that it
/// equals `to_request` exactly.
fn assert_exact(req: &ExportTraceServiceRequest) {
    assert_eq!(req.resource_spans.len(), 1);
    let rs = &req.resource_spans[0];
    let attrs: Vec<(String, Option<AnyValue>)> = rs
        .resource
        .as_ref()
        .unwrap()
        .attributes
        .iter()
        .map(|kv| (kv.key.clone(), kv.value.clone().and_then(|v| v.value)))
        .collect();
    assert_eq!(
        attrs[0],
        (
            "service.name".into(),
            Some(AnyValue::StringValue("checkout".into()))
        )
    );
    assert!(attrs.contains(&("host.cpus".into(), Some(AnyValue::IntValue(8)))));
    assert!(attrs.contains(&(
        "deployment.environment.name".into(),
        Some(AnyValue::StringValue("test".into()))
    )));
    assert_eq!(rs.scope_spans.len(), 1);
    let scope = rs.scope_spans[0].scope.as_ref().unwrap();
    assert_eq!(scope.name, "tracewire");
    assert_eq!(scope.version, env!("CARGO_PKG_VERSION"));
    let spans = &rs.scope_spans[0].spans;
    assert_eq!(spans.len(), 2);

    let s = &spans[0];
    assert_eq!(
        s.trace_id,
        0x4bf92f3577b34da6a3ce929d0e0e4736u128.to_be_bytes()
    );
    assert_eq!(s.span_id, 0x00f067aa0ba902b7u64.to_be_bytes());
    assert_eq!(s.parent_span_id, 0x1111111111111111u64.to_be_bytes());
    assert_eq!(s.trace_state, "rojo=00f067aa0ba902b7,congo=t61rcWkgMzE");
    // W3C sampled + random, parent known to be remote.
    assert_eq!(s.flags, 0x03 | 0x100 | 0x200);
    assert_eq!(s.name, "GET /rides/{id}");
    assert_eq!(s.kind, 2);
    assert_eq!(s.start_time_unix_nano, 1_760_000_000_000_000_001);
    assert_eq!(s.end_time_unix_nano, 1_760_000_000_250_000_001);
    let attrs: Vec<(&str, Option<&AnyValue>)> = s
        .attributes
        .iter()
        .map(|kv| {
            (
                kv.key.as_str(),
                kv.value.as_ref().and_then(|v| v.value.as_ref()),
            )
        })
        .collect();
    assert_eq!(
        attrs,
        [
            (
                "http.request.method",
                Some(&AnyValue::StringValue("GET".into()))
            ),
            ("http.response.status_code", Some(&AnyValue::IntValue(503))),
            ("retry", Some(&AnyValue::BoolValue(false))),
            ("load", Some(&AnyValue::DoubleValue(0.75))),
            (
                "code.namespace",
                Some(&AnyValue::StringValue("gateway::routes".into()))
            ),
        ]
    );
    assert_eq!(s.dropped_attributes_count, 2);
    assert_eq!(s.events.len(), 1);
    assert_eq!(s.events[0].name, "upstream failed");
    assert_eq!(s.events[0].time_unix_nano, 1_760_000_000_100_000_000);
    assert_eq!(s.events[0].attributes[0].key, "error.type");
    assert_eq!(s.dropped_events_count, 4);
    assert_eq!(s.links.len(), 1);
    assert_eq!(s.links[0].trace_id, 0xabcdefu128.to_be_bytes());
    assert_eq!(s.links[0].span_id, 0x42u64.to_be_bytes());
    assert_eq!(s.links[0].trace_state, "vendor=x");
    assert_eq!(s.links[0].flags, 0x01 | 0x100 | 0x200);
    assert_eq!(s.links[0].attributes[0].key, "link.reason");
    let st = s.status.as_ref().unwrap();
    assert_eq!((st.code, st.message.as_str()), (2, "upstream unavailable"));

    let c = &spans[1];
    assert_eq!(c.parent_span_id, 0x00f067aa0ba902b7u64.to_be_bytes());
    assert_eq!(c.flags, 0x01 | 0x100);
    assert_eq!(c.kind, 3);
    assert!(c.trace_state.is_empty());
    assert!(c.attributes.is_empty() && c.events.is_empty() && c.links.is_empty());
    let st = c.status.as_ref().unwrap();
    assert_eq!((st.code, st.message.as_str()), (1, ""));

    assert_eq!(*req, to_request(&batch(), &resource()));
}

fn export_once(exporter: &mut OtlpExporter) {
    exporter.export(&batch(), &resource()).unwrap();
    let s = exporter.stats_handle().snapshot();
    assert_eq!(
        (s.requests, s.retries, s.exported_spans, s.failed_batches),
        (1, 0, 2, 0)
    );
    assert!(s.bytes_sent > 0);
}

/// Exports the sample batch once over `protocol` to a fresh receiver, with the builder
/// `configure`d, and returns the one request it received and the exporter.
fn exported(
    protocol: Protocol,
    configure: impl FnOnce(OtlpExporterBuilder) -> OtlpExporterBuilder,
) -> (Captured, OtlpExporter) {
    let (rx, url) = common::receiver_for(protocol, vec![]);
    let builder = OtlpExporter::builder().protocol(protocol).endpoint(url);
    let mut e = configure(builder).build().unwrap();
    export_once(&mut e);
    let mut seen = rx.seen();
    assert_eq!(seen.len(), 1);
    let r = seen.remove(0);
    assert_exact(&r.request);
    (r, e)
}

#[test]
fn http_protobuf() {
    let (r, e) = exported(Protocol::HttpProtobuf, |b| b.header("x-tenant", "acme"));
    assert_eq!(r.path, "/v1/traces");
    assert_eq!(r.headers["content-type"], "application/x-protobuf");
    assert_eq!(r.headers["x-tenant"], "acme");
    assert!(
        r.headers["user-agent"]
            .to_str()
            .unwrap()
            .starts_with("tracewire-otlp/")
    );
    assert!(r.headers.get("content-encoding").is_none());
    assert_eq!(e.stats_handle().snapshot().bytes_sent, r.body.len() as u64);
}

#[test]
fn http_protobuf_gzip() {
    let (r, _) = exported(Protocol::HttpProtobuf, |b| b.compression(Compression::Gzip));
    assert_eq!(r.headers["content-encoding"], "gzip");
    assert_eq!(&r.body[..2], [0x1f, 0x8b], "gzip magic");
}

#[test]
fn http_json() {
    let (r, _) = exported(Protocol::HttpJson, |b| b);
    assert_eq!(r.headers["content-type"], "application/json");
    let (r, _) = exported(Protocol::HttpJson, |b| b.compression(Compression::Gzip));
    assert_eq!(r.headers["content-encoding"], "gzip");
}

#[test]
fn grpc() {
    let (r, _) = exported(Protocol::Grpc, |b| b.header("x-tenant", "acme"));
    assert_eq!(r.headers["x-tenant"], "acme");
    assert!(r.headers.get("grpc-encoding").is_none());
}

#[test]
fn grpc_gzip() {
    let (r, _) = exported(Protocol::Grpc, |b| b.compression(Compression::Gzip));
    assert_eq!(r.headers["grpc-encoding"], "gzip");
}

#[test]
fn configured_from_env_variables() {
    let rx = Receiver::http(vec![]);
    let base = format!("http://{}/", rx.addr);
    let mut e = OtlpExporter::builder()
        .from_env_lookup(|var| match var {
            "OTEL_EXPORTER_OTLP_ENDPOINT" => Some(base.clone()),
            "OTEL_EXPORTER_OTLP_PROTOCOL" => Some("grpc".to_owned()),
            "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL" => Some("http/json".to_owned()),
            "OTEL_EXPORTER_OTLP_HEADERS" => Some("api-key=s3cr%3Dt,team=rides".to_owned()),
            "OTEL_EXPORTER_OTLP_COMPRESSION" => Some("gzip".to_owned()),
            "OTEL_EXPORTER_OTLP_TIMEOUT" => Some("5000".to_owned()),
            _ => None,
        })
        .build()
        .unwrap();
    assert_eq!(e.protocol(), Protocol::HttpJson);
    assert_eq!(e.timeout(), Duration::from_secs(5));
    export_once(&mut e);
    let r = &rx.seen()[0];
    assert_eq!(r.path, "/v1/traces");
    assert_eq!(r.headers["api-key"], "s3cr=t");
    assert_eq!(r.headers["team"], "rides");
    assert_eq!(r.headers["content-type"], "application/json");
    assert_eq!(r.headers["content-encoding"], "gzip");
    assert_exact(&r.request);
}

#[test]
fn through_the_pipeline() {
    for protocol in [Protocol::HttpProtobuf, Protocol::Grpc] {
        let (rx, url) = common::receiver_for(protocol, vec![]);
        let exporter = OtlpExporter::builder()
            .protocol(protocol)
            .endpoint(url)
            .retry(RetryPolicy::none())
            .build()
            .unwrap();
        let stats = exporter.stats_handle();
        let pipeline = Pipeline::builder()
            .resource(resource())
            .max_batch(2)
            .exporter(exporter)
            .build();
        for span in common::spans(5) {
            assert!(pipeline.submit(span));
        }
        pipeline.flush(Duration::from_secs(30)).unwrap();
        let seen = rx.seen();
        let names: Vec<String> = seen
            .iter()
            .flat_map(|c| c.request.resource_spans[0].scope_spans[0].spans.iter())
            .map(|s| s.name.clone())
            .collect();
        assert_eq!(
            names,
            ["span-0", "span-1", "span-2", "span-3", "span-4"],
            "{protocol}"
        );
        assert_eq!(seen.len(), 3);
        assert_eq!(stats.snapshot().exported_spans, 5);
        assert_eq!(pipeline.stats().exported, 5);
        pipeline.shutdown(Duration::from_secs(30)).unwrap();
    }
}
