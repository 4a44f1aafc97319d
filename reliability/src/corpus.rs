//! The hostile OTLP corpus: every case is a body, the listener and encoding it goes to, and
//! the answers a sound collector may give (HTTP statuses, or `grpc-status` codes). Cases are
//! built one at a time as the iterator is read, so the corpus never sits in memory whole.
//!
//! | family | what |
//! |---|---|
//! | amplification | a big resource shared by thousands of scopes, thousands of resources |
//! | overflow | counts at `u32::MAX` with more dropped on top, extreme integers, times and enums, out-of-range JSON numbers |
//! | nesting | `AnyValue` arrays and key-value lists nested past the decoders' limits, a huge flat array |
//! | malformed | garbage, truncations, wrong content types and encodings, invalid UTF-8, bad ids, bad gRPC frames |
//! | mutation | random mutations of a well-formed request, in every encoding |
//! | bomb | gzip bombs (one member, many members, nested) over HTTP and gRPC |

use bytes::Bytes;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::{
    AnyValue, ArrayValue, InstrumentationScope, any_value,
};
use opentelemetry_proto::tonic::resource::v1::Resource;
use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans, Span, Status, span};
use serde::Serialize;

use crate::hostile::{deep_json, deep_protobuf, gzip_bomb, mutate, rich_request};
use crate::net::grpc_frame;
use crate::payload::{self, JSON, PROTOBUF, Rng, attr, attr_value};

/// A family of attacks, for the tally.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Family {
    /// Requests that cost the collector far more than their size.
    Amplification,
    /// Numbers at and past their types' ends.
    Overflow,
    /// Values nested deeper than decoders recurse.
    Nesting,
    /// Bodies that are not valid requests.
    Malformed,
    /// Random mutations of valid requests.
    Mutation,
    /// Small bodies that decompress to huge ones.
    Bomb,
}

impl Family {
    /// Every family, in the order above.
    pub const ALL: [Family; 6] = [
        Family::Amplification,
        Family::Overflow,
        Family::Nesting,
        Family::Malformed,
        Family::Mutation,
        Family::Bomb,
    ];
}

/// Where a case is sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transport {
    /// `POST /v1/traces` on the OTLP/HTTP listener.
    Http {
        /// `Content-Type`.
        content_type: &'static str,
        /// `Content-Encoding`, if any.
        encoding: Option<&'static str>,
    },
    /// `TraceService/Export` on the gRPC listener; the body is already framed.
    Grpc {
        /// Whether `grpc-encoding: gzip` is declared.
        gzip: bool,
    },
}

impl Transport {
    const PROTOBUF: Transport = Transport::Http {
        content_type: PROTOBUF,
        encoding: None,
    };
    const JSON: Transport = Transport::Http {
        content_type: JSON,
        encoding: None,
    };
    const PROTOBUF_GZIP: Transport = Transport::Http {
        content_type: PROTOBUF,
        encoding: Some("gzip"),
    };
    const JSON_GZIP: Transport = Transport::Http {
        content_type: JSON,
        encoding: Some("gzip"),
    };
    const GRPC: Transport = Transport::Grpc { gzip: false };

    /// A short name: `protobuf`, `json+gzip`, `grpc`, ...
    pub fn label(&self) -> &'static str {
        match *self {
            Transport::Http {
                content_type: PROTOBUF,
                encoding: None,
            } => "protobuf",
            Transport::Http {
                content_type: PROTOBUF,
                encoding: Some(_),
            } => "protobuf+gzip",
            Transport::Http {
                content_type: JSON,
                encoding: None,
            } => "json",
            Transport::Http {
                content_type: JSON,
                encoding: Some(_),
            } => "json+gzip",
            Transport::Http { .. } => "http-other",
            Transport::Grpc { gzip: false } => "grpc",
            Transport::Grpc { gzip: true } => "grpc+gzip",
        }
    }
}

/// What to verify through the API once a case is stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Check {
    /// The span's dropped counts of attributes, events and links saturate at `u32::MAX`.
    Saturated {
        /// The span's trace, as lowercase hex.
        trace_id: String,
    },
}

/// One hostile request.
#[derive(Debug, Clone)]
pub struct Case {
    /// `family/what`.
    pub name: String,
    /// The family.
    pub family: Family,
    /// Where it goes.
    pub transport: Transport,
    /// The bytes sent.
    pub body: Bytes,
    /// The answers a sound collector may give: HTTP statuses, or gRPC codes.
    pub expect: &'static [u32],
    /// What to verify afterwards.
    pub check: Option<Check>,
}

/// How big the corpus is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Plan {
    /// Random mutations, over all encodings.
    pub mutations: usize,
    /// Decompressed size of each gzip bomb.
    pub bomb_bytes: usize,
}

const OK: &[u32] = &[200];
const BAD: &[u32] = &[400];
const GRPC_OK: &[u32] = &[0];
const GRPC_BAD: &[u32] = &[3];
/// A gRPC body the framing layer refuses: `INVALID_ARGUMENT`, `OUT_OF_RANGE` (a length past
/// the message cap), `UNIMPLEMENTED` or `INTERNAL` (tonic's answers to a broken frame or an
/// undeclared compression).
const GRPC_BROKEN: &[u32] = &[3, 11, 12, 13];

fn case(
    name: impl Into<String>,
    family: Family,
    transport: Transport,
    body: Bytes,
    expect: &'static [u32],
) -> Case {
    Case {
        name: name.into(),
        family,
        transport,
        body,
        expect,
        check: None,
    }
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// A resource of `kib` one-KiB attributes.
fn big_resource(kib: usize) -> Resource {
    let mut r = payload::resource("reliability-amplify");
    r.attributes
        .extend((0..kib).map(|i| attr(format!("r.{i}"), "x".repeat(1024))));
    r
}

/// One resource shared by `scopes` scopes; the first `with_spans` scopes hold one span each,
/// the rest are empty.
fn shared_resource(
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

fn amplification(rng: &mut Rng) -> Vec<Case> {
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
fn saturating_span(rng: &mut Rng) -> (Case, String) {
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

fn overflow(rng: &mut Rng) -> Vec<Case> {
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

fn nesting(rng: &mut Rng) -> Vec<Case> {
    use Family::Nesting as N;
    let trace = rng.trace_id();
    let mut wide = payload::span(rng, &trace, &[], "wide");
    wide.attributes = vec![attr_value(
        "wide",
        any_value::Value::ArrayValue(ArrayValue {
            values: vec![AnyValue::default(); 500_000],
        }),
    )];
    let wide = payload::request(payload::resource("reliability-nesting"), vec![wide]);
    let deep = deep_protobuf(rng, 100_000);
    vec![
        case(
            "nesting/depth-32",
            N,
            Transport::PROTOBUF,
            deep_protobuf(rng, 32),
            OK,
        ),
        case(
            "nesting/depth-32",
            N,
            Transport::JSON,
            deep_json(rng, 32),
            OK,
        ),
        case(
            "nesting/depth-100000",
            N,
            Transport::PROTOBUF,
            deep.clone(),
            BAD,
        ),
        case(
            "nesting/depth-100000",
            N,
            Transport::PROTOBUF_GZIP,
            payload::gzip(&deep),
            BAD,
        ),
        case(
            "nesting/depth-100000",
            N,
            Transport::GRPC,
            grpc_frame(&deep, false),
            GRPC_BAD,
        ),
        case(
            "nesting/depth-50000",
            N,
            Transport::JSON,
            deep_json(rng, 50_000),
            BAD,
        ),
        // 1 MB of empty values: decoded, each is a whole `AnyValue`. Either stored within the
        // decode budget or refused by it; nothing else.
        case(
            "nesting/flat-array-of-500000",
            N,
            Transport::PROTOBUF,
            payload::protobuf(&wide),
            &[200, 400],
        ),
    ]
}

fn malformed(rng: &mut Rng) -> Vec<Case> {
    use Family::Malformed as M;
    let garbage: Bytes = (0..65_536).map(|_| rng.next_u64() as u8).collect();
    let good = payload::protobuf(&rich_request(rng, 8));
    let good_json = payload::json(&rich_request(rng, 8));
    let gz = payload::gzip(&good);
    let trace = rng.trace_id();
    let mut bad_utf8 = payload::protobuf(&payload::request(
        payload::resource("reliability-malformed"),
        vec![payload::span(rng, &trace, &[], "NAME-HERE")],
    ))
    .to_vec();
    if let Some(at) = bad_utf8.windows(9).position(|w| w == b"NAME-HERE") {
        bad_utf8[at] = 0xff;
    }
    let bad_ids = payload::request(
        payload::resource("reliability-malformed"),
        vec![
            Span {
                trace_id: vec![1, 2, 3],
                span_id: rng.span_id(),
                name: "short-trace-id".into(),
                ..Span::default()
            },
            Span {
                trace_id: rng.trace_id(),
                span_id: vec![0; 8],
                name: "zero-span-id".into(),
                ..Span::default()
            },
        ],
    );
    let mut long_prefix = grpc_frame(&good, false).to_vec();
    long_prefix[1..5].copy_from_slice(&u32::MAX.to_be_bytes());
    let other = |content_type, encoding| Transport::Http {
        content_type,
        encoding,
    };
    vec![
        case(
            "malformed/garbage",
            M,
            Transport::PROTOBUF,
            garbage.clone(),
            BAD,
        ),
        case(
            "malformed/garbage",
            M,
            Transport::JSON,
            garbage.clone(),
            BAD,
        ),
        case(
            "malformed/garbage",
            M,
            Transport::GRPC,
            grpc_frame(&garbage, false),
            GRPC_BAD,
        ),
        case(
            "malformed/empty-request",
            M,
            Transport::PROTOBUF,
            Bytes::new(),
            OK,
        ),
        case(
            "malformed/truncated",
            M,
            Transport::PROTOBUF,
            good.slice(..good.len() / 2),
            BAD,
        ),
        case(
            "malformed/truncated",
            M,
            Transport::JSON,
            good_json.slice(..good_json.len() / 2),
            BAD,
        ),
        case(
            "malformed/trailing-garbage",
            M,
            Transport::JSON,
            Bytes::from([&good_json[..], b"}]garbage"].concat()),
            BAD,
        ),
        case(
            "malformed/invalid-utf8-name",
            M,
            Transport::PROTOBUF,
            Bytes::from(bad_utf8),
            BAD,
        ),
        case(
            "malformed/bad-ids",
            M,
            Transport::PROTOBUF,
            payload::protobuf(&bad_ids),
            OK,
        ),
        case(
            "malformed/text-plain",
            M,
            other("text/plain", None),
            good.clone(),
            &[415],
        ),
        case(
            "malformed/brotli",
            M,
            other(PROTOBUF, Some("br")),
            good.clone(),
            &[415],
        ),
        case(
            "malformed/not-gzip",
            M,
            Transport::PROTOBUF_GZIP,
            good.clone(),
            BAD,
        ),
        case(
            "malformed/truncated-gzip",
            M,
            Transport::PROTOBUF_GZIP,
            gz.slice(..gz.len() / 2),
            BAD,
        ),
        case(
            "malformed/length-prefix-past-body",
            M,
            Transport::GRPC,
            Bytes::from(long_prefix),
            GRPC_BROKEN,
        ),
        case(
            "malformed/compressed-flag-undeclared",
            M,
            Transport::GRPC,
            grpc_frame(&good, true),
            GRPC_BROKEN,
        ),
        case(
            "malformed/half-a-prefix",
            M,
            Transport::GRPC,
            Bytes::from_static(&[0, 0, 0]),
            GRPC_BROKEN,
        ),
    ]
}

fn bombs(bytes: usize) -> Vec<Case> {
    use Family::Bomb as B;
    let bomb = gzip_bomb(bytes);
    let member = gzip_bomb((bytes / 64).max(1 << 20));
    let many: Vec<u8> = std::iter::repeat_n(&member[..], 64)
        .flatten()
        .copied()
        .collect();
    let nested = payload::gzip(&gzip_bomb(bytes));
    vec![
        case(
            "bomb/gzip",
            B,
            Transport::PROTOBUF_GZIP,
            bomb.clone(),
            &[413],
        ),
        case("bomb/gzip", B, Transport::JSON_GZIP, bomb.clone(), &[413]),
        case(
            "bomb/gzip-64-members",
            B,
            Transport::PROTOBUF_GZIP,
            Bytes::from(many),
            &[413],
        ),
        // One layer inflates to the inner bomb (small, not a request): refused as undecodable.
        case(
            "bomb/gzip-in-gzip",
            B,
            Transport::PROTOBUF_GZIP,
            nested,
            BAD,
        ),
        case(
            "bomb/gzip",
            B,
            Transport::Grpc { gzip: true },
            grpc_frame(&bomb, true),
            // RESOURCE_EXHAUSTED or OUT_OF_RANGE: past the message size cap.
            &[8, 11],
        ),
    ]
}

/// Random mutations of well-formed requests: half protobuf, a quarter JSON, and the rest split
/// between gzip (mutated before or after compression) and gRPC.
fn mutations(rng: &mut Rng, n: usize) -> impl Iterator<Item = Case> + use<> {
    let mut rng = rng.clone();
    let base = payload::protobuf(&rich_request(&mut rng, 16));
    let base_json = payload::json(&rich_request(&mut rng, 16));
    let base_gz = payload::gzip(&base);
    const ANY: &[u32] = &[200, 400];
    const GRPC_ANY: &[u32] = &[0, 3, 13];
    (0..n).map(move |i| {
        let (transport, body, expect) = match i % 8 {
            0..=3 => (Transport::PROTOBUF, mutate(&mut rng, &base), ANY),
            4 | 5 => (Transport::JSON, mutate(&mut rng, &base_json), ANY),
            6 if i % 16 == 6 => (Transport::PROTOBUF_GZIP, mutate(&mut rng, &base_gz), ANY),
            6 => (
                Transport::PROTOBUF_GZIP,
                payload::gzip(&mutate(&mut rng, &base)),
                ANY,
            ),
            _ => (
                Transport::GRPC,
                grpc_frame(&mutate(&mut rng, &base), false),
                GRPC_ANY,
            ),
        };
        case(
            format!("mutation/{}", transport.label()),
            Family::Mutation,
            transport,
            body,
            expect,
        )
    })
}

/// The whole corpus for `plan`, reproducible from `seed`.
pub fn cases(plan: Plan, seed: u64) -> impl Iterator<Item = Case> {
    let mut rng = Rng::new(seed);
    type Build = fn(&mut Rng, &Plan) -> Vec<Case>;
    let groups: [Build; 5] = [
        |r, _| amplification(r),
        |r, _| overflow(r),
        |r, _| nesting(r),
        |r, _| malformed(r),
        |_, p| bombs(p.bomb_bytes),
    ];
    let tail = mutations(&mut rng, plan.mutations);
    groups
        .into_iter()
        .flat_map(move |build| build(&mut rng, &plan))
        .chain(tail)
}

#[cfg(test)]
mod tests {
    use prost::Message;

    use super::*;

    #[test]
    fn the_quick_corpus_has_every_family_and_fits_the_request_cap() {
        let plan = Plan {
            mutations: 16,
            bomb_bytes: 8 << 20,
        };
        let all: Vec<Case> = cases(plan, 1).collect();
        for f in Family::ALL {
            assert!(all.iter().any(|c| c.family == f), "{f:?}");
        }
        assert_eq!(
            all.iter().filter(|c| c.family == Family::Mutation).count(),
            16
        );
        for c in &all {
            assert!(
                c.body.len() < 4 << 20,
                "{} is {} bytes",
                c.name,
                c.body.len()
            );
            assert!(!c.expect.is_empty());
        }
    }

    #[test]
    fn cases_meant_to_be_stored_are_valid_requests() {
        let mut rng = Rng::new(2);
        let mut groups = amplification(&mut rng);
        groups.extend(overflow(&mut rng));
        for c in groups
            .iter()
            .filter(|c| c.expect == OK && c.transport == Transport::PROTOBUF)
        {
            assert!(
                ExportTraceServiceRequest::decode(c.body.clone()).is_ok(),
                "{}",
                c.name
            );
        }
        let (c, id) = saturating_span(&mut rng);
        assert_eq!(
            c.check,
            Some(Check::Saturated {
                trace_id: id.clone()
            })
        );
        let req = ExportTraceServiceRequest::decode(c.body).unwrap();
        let s = &req.resource_spans[0].scope_spans[0].spans[0];
        assert_eq!(
            (s.dropped_attributes_count, s.attributes.len()),
            (u32::MAX, 300)
        );
        assert_eq!(hex(&s.trace_id), id);
    }

    #[test]
    fn the_amplifying_requests_have_the_sizes_of_the_report() {
        let mut rng = Rng::new(3);
        let small = payload::protobuf(&shared_resource(&mut rng, 64, 5000, 5000));
        assert!((300_000..400_000).contains(&small.len()), "{}", small.len());
        let huge = payload::protobuf(&shared_resource(&mut rng, 1024, 90_000, 1));
        assert!((1_000_000..4 << 20).contains(&huge.len()), "{}", huge.len());
    }
}
