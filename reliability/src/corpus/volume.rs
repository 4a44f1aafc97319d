//! The families that attack by volume: amplification (a big resource shared by thousands of
//! scopes, thousands of resources) and overflow (counts at `u32::MAX`, extreme numbers).

use bytes::Bytes;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::{InstrumentationScope, any_value};
use opentelemetry_proto::tonic::resource::v1::Resource;
use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans, Span, Status, span};

use crate::net::grpc_frame;
use crate::payload::{self, Rng, attr, attr_value};

use super::*;

/// A resource of `kib` one-KiB attributes.
fn big_resource(kib: usize) -> Resource {
    let mut r = payload::resource("reliability-amplify");
    r.attributes
        .extend((0..kib).map(|i| attr(format!("r.{i}"), "x".repeat(1024))));
    r
}

/// One resource shared by `scopes` scopes; the first `with_spans` scopes hold one span each,
/// the rest are empty.
pub(super) fn shared_resource(
    rng: &mut Rng,
    kib: usize,
    scopes: usize,
    with_spans: usize,
) -> ExportTraceServiceRequest {
    let trace = rng.trace_id();
    let scope_spans = (0..scopes)
        .map(|i| ScopeSpans {
            scope: (i < with_spans).then(|| InstrumentationScope {
                name: format!("s{i}"),
                ..InstrumentationScope::default()
            }),
            spans: if i < with_spans {
                vec![Span {
                    trace_id: trace.clone(),
                    span_id: rng.span_id(),
                    name: "a".into(),
                    start_time_unix_nano: 1,
                    end_time_unix_nano: 2,
                    ..Span::default()
                }]
            } else {
                Vec::new()
            },
            ..ScopeSpans::default()
        })
        .collect();
    ExportTraceServiceRequest {
        resource_spans: vec![ResourceSpans {
            resource: Some(big_resource(kib)),
            scope_spans,
            ..ResourceSpans::default()
        }],
    }
}

pub(super) fn amplification(rng: &mut Rng) -> Vec<Case> {
    use Family::Amplification as A;
    let at_limit = shared_resource(rng, 64, 4096, 4096);
    let many_resources = ExportTraceServiceRequest {
        resource_spans: (0..4096)
            .map(|i| {
                let trace = rng.trace_id();
                let mut r =
                    payload::request(big_resource(0), vec![payload::span(rng, &trace, &[], "r")])
                        .resource_spans
                        .remove(0);
                if let Some(res) = r.resource.as_mut() {
                    res.attributes.push(attr("pad", format!("{i:0>480}")));
                }
                r
            })
            .collect(),
    };
    vec![
        case(
            "amplification/64KiB-resource-x4096-scopes",
            A,
            Transport::PROTOBUF,
            payload::protobuf(&at_limit),
            OK,
        ),
        case(
            "amplification/64KiB-resource-x4096-scopes",
            A,
            Transport::JSON,
            payload::json(&at_limit),
            OK,
        ),
        case(
            "amplification/64KiB-resource-x4096-scopes",
            A,
            Transport::GRPC,
            grpc_frame(&payload::protobuf(&at_limit), false),
            GRPC_OK,
        ),
        case(
            "amplification/64KiB-resource-x5000-scopes",
            A,
            Transport::PROTOBUF,
            payload::protobuf(&shared_resource(rng, 64, 5000, 5000)),
            BAD,
        ),
        case(
            "amplification/1MiB-resource-x4096-scopes",
            A,
            Transport::PROTOBUF_GZIP,
            payload::gzip(&payload::protobuf(&shared_resource(rng, 1024, 4096, 4096))),
            OK,
        ),
        case(
            "amplification/1MiB-resource-x90000-scopes",
            A,
            Transport::PROTOBUF,
            payload::protobuf(&shared_resource(rng, 1024, 90_000, 1)),
            BAD,
        ),
        case(
            "amplification/1MiB-resource-x90000-scopes",
            A,
            Transport::GRPC,
            grpc_frame(
                &payload::protobuf(&shared_resource(rng, 1024, 90_000, 1)),
                false,
            ),
            GRPC_BAD,
        ),
        case(
            "amplification/4096-resources",
            A,
            Transport::PROTOBUF,
            payload::protobuf(&many_resources),
            OK,
        ),
    ]
}

/// A span whose sender already dropped `u32::MAX` attributes, events and links, carrying more
/// of each than any cap keeps.
pub(super) fn saturating_span(rng: &mut Rng) -> (Case, String) {
    let trace = rng.trace_id();
    let mut s = payload::span(rng, &trace, &[], "overflow");
    s.attributes = (0..300).map(|i| attr(format!("a.{i}"), "v")).collect();
    s.dropped_attributes_count = u32::MAX;
    s.events = (0..300)
        .map(|i| span::Event {
            time_unix_nano: s.start_time_unix_nano,
            name: format!("e{i}"),
            attributes: vec![attr("k", "v")],
            dropped_attributes_count: u32::MAX,
        })
        .collect();
    s.dropped_events_count = u32::MAX;
    s.links = (0..300)
        .map(|_| span::Link {
            trace_id: rng.trace_id(),
            span_id: rng.span_id(),
            dropped_attributes_count: u32::MAX,
            ..span::Link::default()
        })
        .collect();
    s.dropped_links_count = u32::MAX;
    let mut resource = payload::resource("reliability-overflow");
    resource
        .attributes
        .extend((0..300).map(|i| attr(format!("r.{i}"), "v")));
    resource.dropped_attributes_count = u32::MAX;
    let body = payload::protobuf(&payload::request(resource, vec![s]));
    let id = hex(&trace);
    let mut c = case(
        "overflow/dropped-counts-at-u32-max",
        Family::Overflow,
        Transport::PROTOBUF,
        body,
        OK,
    );
    c.check = Some(Check::Saturated {
        trace_id: id.clone(),
    });
    (c, id)
}

pub(super) fn overflow(rng: &mut Rng) -> Vec<Case> {
    use Family::Overflow as O;
    let (saturating, _) = saturating_span(rng);
    let trace = rng.trace_id();
    let mut extreme = payload::span(rng, &trace, &[], &"n".repeat(64 << 10));
    extreme.start_time_unix_nano = u64::MAX;
    extreme.end_time_unix_nano = 0;
    extreme.kind = i32::MAX;
    extreme.flags = u32::MAX;
    extreme.status = Some(Status {
        code: -1,
        message: "m".repeat(64 << 10),
    });
    extreme.attributes = vec![
        attr_value("min", any_value::Value::IntValue(i64::MIN)),
        attr_value("max", any_value::Value::IntValue(i64::MAX)),
        attr_value("nan", any_value::Value::DoubleValue(f64::NAN)),
        attr_value("inf", any_value::Value::DoubleValue(f64::NEG_INFINITY)),
        attr("", ""),
        attr("long", "v".repeat(1 << 20)),
    ];
    let mut backwards = payload::span(rng, &trace, &[], "zero-to-max");
    backwards.start_time_unix_nano = 0;
    backwards.end_time_unix_nano = u64::MAX;
    let extreme = payload::request(
        payload::resource("reliability-overflow"),
        vec![extreme, backwards],
    );
    let (json_trace, json_span) = (hex(&rng.trace_id()), hex(&rng.span_id()));
    let json_with = |field: &str, value: &str| {
        Bytes::from(format!(
            "{{\"resourceSpans\":[{{\"scopeSpans\":[{{\"spans\":[{{\"traceId\":\"{json_trace}\",\"spanId\":\"{json_span}\",\
             \"name\":\"j\",\"startTimeUnixNano\":\"1\",\"endTimeUnixNano\":\"2\",{field}:{value}}}]}}]}}]}}",
        ))
    };
    vec![
        saturating,
        case(
            "overflow/extreme-ints-times-enums",
            O,
            Transport::PROTOBUF,
            payload::protobuf(&extreme),
            OK,
        ),
        case(
            "overflow/extreme-ints-times-enums",
            O,
            Transport::JSON,
            payload::json(&extreme),
            OK,
        ),
        case(
            "overflow/json-int-past-i64",
            O,
            Transport::JSON,
            json_with(
                "\"attributes\"",
                "[{\"key\":\"k\",\"value\":{\"intValue\":\"99999999999999999999999\"}}]",
            ),
            BAD,
        ),
        case(
            "overflow/json-count-past-u32",
            O,
            Transport::JSON,
            json_with("\"droppedAttributesCount\"", "4294967296"),
            BAD,
        ),
        case(
            "overflow/json-time-past-u64",
            O,
            Transport::JSON,
            json_with("\"kind\"", "1,\"endTimeUnixNano\":\"18446744073709551616\""),
            BAD,
        ),
    ]
}
